"""The whole exception hierarchy of xbarsim.

Every error the library raises on purpose is a subclass of :class:`XbarError`, so a caller can catch
all of them at once; each also derives from the builtin it refines (``ValueError``, ``RuntimeError``,
``ImportError``) so generic handlers keep working. One warning class stands beside them:
:class:`AccuracyWarning` (a ``UserWarning``), for results that were computed but whose accuracy
cannot be guaranteed.
"""

from __future__ import annotations

__all__ = [
    "XbarError",
    "ConfigError",
    "FileFormatError",
    "SpecMismatchError",
    "CircuitError",
    "GridPathUnsupported",
    "ConvergenceError",
    "BackendError",
    "BackendUnavailableError",
    "AccuracyWarning",
    "RunInterrupted",
]


class XbarError(Exception):
    """Base class of every error raised by xbarsim."""


class ConfigError(XbarError, ValueError):
    """A parameter has a bad value, shape, type or unit range.

    The message names the parameter and the offending value.
    """


class FileFormatError(ConfigError):
    """A file the library reads (a sweep store, a network ``.npz``, an index, a TOML config) is damaged
    or is not the kind of file expected. The message names the file."""


class SpecMismatchError(ConfigError):
    """A sweep store holds the results of another sweep spec, so a run with this spec may not add to it.

    Attributes
    ----------
    path : str
        The store.
    changes : tuple of (str, str, str)
        Every differing setting as ``(dotted path in the spec, stored value, new value)``, values as
        whole stored JSON (``"(unset)"`` where one side lacks the key), so that a caller can name them in its
        own terms (an experiment says ``[hardware] fault_rate``, not ``fixed.hardware.fault_rate``).
    """

    def __init__(self, message: str, *, path: str, changes: tuple[tuple[str, str, str], ...]) -> None:
        super().__init__(message)
        self.path = path
        self.changes = changes


class CircuitError(XbarError, ValueError):
    """The circuit cannot be solved: floating nodes, shorted sources, no path to a driven node."""


class GridPathUnsupported(ConfigError):
    """The grid-native solver path (:mod:`xbarsim.solver.gridpath`) does not cover this crossbar and
    bias; the message says why. The general netlist path does (``solve`` takes it by itself)."""


class ConvergenceError(XbarError, RuntimeError):
    """A nonlinear solve did not converge.

    Attributes
    ----------
    iterations : int
        Newton iterations performed.
    residual : float
        Final KCL residual (relative) when the solver gave up.
    entries : tuple of int
        The batch entries (input vectors) that had not converged, where the solver knows them; empty
        for an unbatched solve. The other entries of the batch converged, or were not tried.
    """

    def __init__(self, message: str, *, iterations: int, residual: float, entries: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual
        self.entries = tuple(int(k) for k in entries)


class BackendError(XbarError, RuntimeError):
    """A solver backend failed. ``output`` holds what the backend printed, if anything."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message if not output else f"{message}\n--- backend output ---\n{output}")
        self.output = output


class BackendUnavailableError(BackendError, ImportError):
    """A backend's dependency (ngspice, PySpice) is missing; the message says how to install it."""


class AccuracyWarning(UserWarning):
    """A result may be inaccurate although it was computed without error.

    Raised as a warning (not an exception) when the estimated forward error of an operating point
    exceeds the accuracy target: the circuit's conditioning (resistances many orders of magnitude
    apart) leaves double precision too few correct digits, although the KCL residual is tiny.
    """


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (SIGINT) or SIGTERM after it stored what was finished.

    A ``KeyboardInterrupt`` (not an :class:`XbarError`), so that ``except XbarError`` never swallows
    an interrupt. The message says what was kept and how to continue, in one line.

    Attributes
    ----------
    done, total : int
        Finished and planned units of work (trials, transfers).
    written : tuple of str
        The partial result files written before stopping.
    signum : int or None
        The signal that arrived while the finished run's report was being written (held back until
        it was complete), so that the CLI exits 143 for a SIGTERM; None when the signal raised the
        interrupt itself.
    """

    def __init__(self, message: str, *, done: int = 0, total: int = 0, written: tuple[str, ...] = (),
                 signum: int | None = None) -> None:
        super().__init__(message)
        self.done = done
        self.total = total
        self.written = written
        self.signum = signum
