"""``solve``, ``transfer_matrix`` and ``crosscheck``: the solver layer's front door."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim.errors import ConfigError, GridPathUnsupported
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.netlist import Netlist, build_netlist
from xbarsim.solver.accuracy import needs_check, warn_if_inaccurate, warn_if_transfer_inaccurate
from xbarsim.solver.base import Backend
from xbarsim.solver.ideal import IdealBackend
from xbarsim.solver.gridpath import grid_path_reason, grid_work_bytes, solve_grid_native
from xbarsim.solver.memory import available_bytes, check_work_memory
from xbarsim.solver.checks import Difference, compare
from xbarsim.solver.ngspice import NgspiceBackend
from xbarsim.solver.solution import Solution
from xbarsim.solver.sparse import SparseBackend, SparseOptions

__all__ = ["BACKENDS", "get_backend", "solve", "solve_netlist", "transfer_matrix", "crosscheck", "CrossCheck"]

_log = logging.getLogger(__name__)

#: Registry of backend names to their classes; each is constructed with its own options object (or
#: None for its defaults), so options pass through the registry: ``get_backend("ngspice", NgspiceOptions(...))``.
BACKENDS: dict[str, Callable[[Any], Backend]] = {"ideal": IdealBackend, "sparse": SparseBackend, "ngspice": NgspiceBackend}


def get_backend(backend: str | Backend, options: Any = None) -> Backend:
    """A backend object from a registry name (with its options object, or None for the defaults) or an
    object implementing :class:`Backend` (then ``options`` must be None)."""
    if isinstance(backend, str):
        try:
            cls = BACKENDS[backend]
        except KeyError:
            raise ConfigError(
                f"`backend` must be one of {', '.join(map(repr, BACKENDS))} or a Backend object; got {backend!r}."
            ) from None
        return cls(options)
    if options is not None:
        raise ConfigError("`options` apply to a backend given by name; a Backend object carries its own.")
    if isinstance(backend, Backend):
        return backend
    raise ConfigError(
        f"`backend` must be one of {', '.join(map(repr, BACKENDS))} or a Backend object; got {type(backend).__name__}."
    )


def solve_netlist(netlist: Netlist, backend: str | Backend = "sparse") -> Solution:
    """Solve an already built netlist.

    Warns :class:`~xbarsim.errors.AccuracyWarning` when the estimated forward error exceeds 1e-6
    (:func:`~xbarsim.solver.accuracy.warn_if_inaccurate`; ill-conditioned circuits).
    """
    if not isinstance(netlist, Netlist):
        raise ConfigError(f"`netlist` must be a Netlist (from build_netlist(crossbar, bias)); got {type(netlist).__name__}.")
    be = get_backend(backend)
    unknowns = netlist.n_nodes - np.unique(netlist.source_node).size
    check_work_memory(netlist.shape, netlist.batch_size, netlist,
                      factored=_factors(be, unknowns, netlist.batch_size, netlist.device.linear))
    sol = be.solve(netlist)
    _check_accuracy(be, netlist, sol)
    return sol


def _factors(backend: str | Backend, unknowns: int, batch: int, linear: bool) -> bool:
    """Whether the sparse backend solves these linear operating points by a factorization (the direct
    and port-matrix paths), whose LU the memory check counts (:func:`~xbarsim.solver.memory.work_bytes`)."""
    be = SparseBackend() if isinstance(backend, str) and backend == "sparse" else backend
    return linear and isinstance(be, SparseBackend) and be._method(unknowns, batch) == "direct"


def _check_accuracy(be: Backend, netlist: Netlist, sol: Solution) -> None:
    """The forward-error warning, for backends that solve the netlist itself (see :class:`Backend`)."""
    if getattr(be, "exact", True):
        warn_if_inaccurate(netlist, sol, stacklevel=4)


def solve(crossbar: Crossbar, bias: BiasScheme, backend: str | Backend = "sparse") -> Solution:
    """Operating point(s) of ``crossbar`` under ``bias``.

    Parameters
    ----------
    crossbar : Crossbar
        Conductances (S), wires (ohm) and device law.
    bias : BiasScheme
        What every line end sees; a batched bias ``(B, ...)`` is solved with one factorization.
    backend : str or Backend
        ``"sparse"`` (default), ``"ngspice"``, ``"ideal"`` (0 ohm wires, linear cells), or a
        backend object such as
        ``SparseBackend(SparseOptions(method="iterative"))``.

    Returns
    -------
    Solution
        See :class:`~xbarsim.solver.Solution` for fields, shapes and sign conventions.

    Notes
    -----
    With the sparse backend (method ``"auto"`` or ``"iterative"``), a linear crossbar with no ideal
    wire of more than 1024 nodes and at most 32 operating points is solved from its own arrays,
    without building the netlist (:mod:`xbarsim.solver.gridpath`: about 12 arrays of the array's
    size at the peak, 8192x8192 in about 6 GiB); everything else builds the netlist.
    """
    if isinstance(crossbar, Crossbar) and isinstance(bias, BiasScheme):  # build_netlist names bad types
        sol = _solve_on_grid(crossbar, bias, backend)
        if sol is not None:
            return sol
        m, n = crossbar.shape
        batch = bias.batch_size or 1
        # before anything of the batch's size exists (unknowns: their bound before ideal wires merge)
        check_work_memory(crossbar.shape, batch, factored=_factors(backend, 2 * m * n, batch, crossbar.device.linear))
    return solve_netlist(build_netlist(crossbar, bias), backend)


_DEFAULT_SPARSE = SparseOptions()


def _solve_on_grid(crossbar: Crossbar, bias: BiasScheme, backend: str | Backend) -> Solution | None:
    """The grid-native path (:mod:`xbarsim.solver.gridpath`: no netlist is built) when the sparse
    backend would take CG on the grid anyway and the path covers the case; else None."""
    if isinstance(backend, str):
        if backend != "sparse":
            return None
        options = _DEFAULT_SPARSE
    elif type(backend) is SparseBackend:
        options = backend.options
    else:
        return None
    if options.method == "direct":
        return None
    m, n = crossbar.shape
    if options.method == "auto" and 2 * m * n <= 1024:
        return None  # the general path solves these directly (and checks their forward error)
    batch = bias.batch_size or 1
    need = grid_work_bytes(crossbar.shape, batch)
    avail = None
    if need > 2**28:  # (reading /proc costs more than a small solve)
        if grid_path_reason(crossbar, bias) is not None:
            return None
        avail = available_bytes()
    if avail is not None and need > avail:
        raise ConfigError(
            f"solving a {m}x{n} array ({batch} operating point(s)) needs about {need / 2**30:.1f} GiB of work "
            f"arrays, more than the {avail / 2**30:.1f} GiB of memory available.")
    try:
        return solve_grid_native(crossbar, bias, options.rtol, options.maxiter)
    except GridPathUnsupported as exc:  # not covered, or CG did not converge (the general path goes direct)
        _log.debug("%s; taking the general path", exc)
        return None


def transfer_matrix(crossbar: Crossbar, options: SparseOptions | None = None) -> FloatArray:
    """The read-scheme transfer matrix ``T`` (M, N), siemens: ``output_currents == v @ T``.

    Includes every wire, driver and sense resistance, exactly (linear devices only). With ideal
    wires ``T == G``. The fast path for pushing thousands of input vectors through one array.
    Warns :class:`~xbarsim.errors.AccuracyWarning` where :func:`solve` would (circuits of at most
    1024 nodes or whose conductances span more than 1e8) and ``T``'s estimated error exceeds 1e-6
    (:func:`~xbarsim.solver.accuracy.warn_if_transfer_inaccurate`).
    """
    if not isinstance(crossbar, Crossbar):
        raise ConfigError(f"`crossbar` must be a Crossbar; got {type(crossbar).__name__}.")
    m, _ = crossbar.shape
    netlist = build_netlist(crossbar, BiasScheme.read(np.zeros(m)))
    T = SparseBackend(options).transfer_matrix(netlist)
    if needs_check(netlist):  # as solve checks its operating points
        warn_if_transfer_inaccurate(netlist, T, stacklevel=3)
    return T


@dataclass(frozen=True, kw_only=True)
class CrossCheck:
    """Result of :func:`crosscheck`: per-field differences and the KCL residual of each backend."""

    backends: tuple[str, str]
    differences: dict[str, Difference]
    kcl_residuals: tuple[float, float]
    solutions: tuple[Solution, Solution]

    @property
    def max_abs(self) -> float:
        return max(d.abs for d in self.differences.values())

    @property
    def max_rel(self) -> float:
        return max(d.rel for d in self.differences.values())

    def report(self) -> str:
        """A small text table."""
        a, b = self.backends
        lines = [f"{'field':<16} {'max abs diff':>14} {'max rel diff':>14}"]
        lines += [f"{k:<16} {d.abs:>14.3e} {d.rel:>14.3e}" for k, d in self.differences.items()]
        lines.append(f"KCL residual: {a} {self.kcl_residuals[0]:.2e}, {b} {self.kcl_residuals[1]:.2e}")
        return "\n".join(lines)


def crosscheck(crossbar: Crossbar, bias: BiasScheme, backends: Sequence[str | Backend] = ("sparse", "ngspice")) -> CrossCheck:
    """Solve the same netlist with two backends and compare every field."""
    if len(backends) != 2:
        raise ConfigError(f"`backends` must name exactly two backends; got {len(backends)}.")
    netlist = build_netlist(crossbar, bias)
    b1, b2 = (get_backend(b) for b in backends)
    s1, s2 = b1.solve(netlist), b2.solve(netlist)
    _check_accuracy(b1, netlist, s1)  # two backends agreeing on an ill-conditioned circuit prove nothing
    return CrossCheck(backends=(s1.backend, s2.backend), differences=compare(s1, s2),
                      kcl_residuals=(s1.kcl_residual, s2.kcl_residual), solutions=(s1, s2))
