"""Fixtures shared by the whole suite (defined in xbartest.py, registered here)."""

from xbartest import make_crossbar, ngspice_binary, rng  # noqa: F401
