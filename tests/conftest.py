"""Fixtures shared by the whole suite (defined in xbartest.py, registered here)."""

import os

from hypothesis import settings
from xbartest import make_crossbar, ngspice_binary, rng  # noqa: F401

# CI runs property tests derandomized: a red CI run must be reproducible, not a dice roll.
# Locally they explore new examples every run.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# A run started in the background by a non-interactive shell (`cmd &`, `nohup cmd &`) inherits SIGINT
# ignored (POSIX), and Python then installs no KeyboardInterrupt handler: the interrupt tests, which
# send SIGINT as a user's Ctrl-C does to a foreground run, failed for that reason alone (exit 0, workers
# left running). Restore Python's default, which the worker and CLI processes the tests start inherit
# as SIG_DFL.
import signal  # noqa: E402

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
