"""Fixtures shared by the whole suite (defined in xbartest.py, registered here)."""

import os

from hypothesis import settings
from xbartest import make_crossbar, ngspice_binary, rng  # noqa: F401

# CI runs property tests derandomized: a red CI run must be reproducible, not a dice roll.
# Locally they explore new examples every run.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
