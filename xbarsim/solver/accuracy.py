"""A forward-error estimate for any backend's operating point, and the warning it drives.

Notes
-----
``Solution.kcl_residual`` is the componentwise *backward* error ``omega``: the computed voltages
solve KCL exactly for elements perturbed by at most ``omega`` relatively. It is ~1e-16 for every
backward-stable solve, even when the answer is wrong: a row wire of 1e-9 ohm segments behind a
1e9 ohm driver makes the nodal matrix so ill-conditioned that a solve with a 2e-16 residual is 50 %
off. The forward error is what :func:`estimate_forward_error` bounds, the way LAPACK's xGERFS does:
with ``A`` the nodal matrix (the Jacobian, for nonlinear devices) of the unknown nodes and ``r``
the net current leaving each node at the computed voltages,

    |x - x_exact| <= |A^-1| (|r| + c eps (|A| |x| + |C| |v_f|))     (componentwise, to first order),

where the second term covers the rounding in computing ``r`` itself. The nodal matrix of a resistor
network is a symmetric M-matrix, so ``A^-1 >= 0`` entrywise and ``|A^-1| w = A^-1 w`` for the
non-negative ``w``: one extra solve per operating point gives the bound, no norm estimator needed
(``A^-1 w`` is itself computed in double precision; when that is inaccurate the bound is huge
anyway, which is what matters, except where a pivot of the LU is pure rounding noise or the solve
overflows: ``A^-1 w`` can then come out too small by any factor, so both mean "no bound", ``inf``). Currents derived from voltage differences across an element of
conductance ``g`` inherit ``g (|dx_a| + |dx_b|)`` plus the rounding of ``v_a - v_b``; this is how a
1e-9 ohm sense resistor turns a voltage error of 1e-17 V into a current error of 1e-8 A.
Checked against exact rational solves (``fractions.Fraction``) in ``tests/solver/test_accuracy.py``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from xbarsim._typing import BoolArray, FloatArray
from xbarsim.errors import AccuracyWarning, ConfigError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver.solution import Solution, element_arrays, solution_from_voltages
from xbarsim.solver.nodal import assemble

__all__ = ["ForwardError", "estimate_forward_error", "needs_check", "warn_if_inaccurate", "ACCURACY_TARGET",
           "AUTO_CHECK_MAX_NODES", "SPREAD_CHECK", "transfer_matrix_error", "warn_if_transfer_inaccurate"]

#: Relative forward error above which :func:`warn_if_inaccurate` warns (issue 13: within 1e-6 of exact arithmetic).
ACCURACY_TARGET = 1e-6
#: :func:`~xbarsim.solver.solve` estimates the forward error of every solve of at most this many
#: nodes (the estimate costs about one more direct solve: ~1 ms here), and of larger ones whose
#: element conductances span more than :data:`SPREAD_CHECK`. The screen is a heuristic: ordinary
#: arrays (cells 1e-6..1e-4 S, wires 0.1-100 ohm) span 1e5-1e7 and estimate ~1e-10; call
#: :func:`estimate_forward_error` directly to bound any solve.
AUTO_CHECK_MAX_NODES = 1024
SPREAD_CHECK = 1e8
#: Rounding of a computed residual, relative to the terms that cancel in it: (node degree + 1) eps,
#: with the degree of a grid node (4 elements) plus margin.
_ROUNDING = 8 * np.finfo(float).eps


@dataclass(frozen=True, kw_only=True)
class ForwardError:
    """First-order bounds on the relative forward error of a solution (dimensionless).

    Attributes
    ----------
    voltage : float
        ``max |dv| / max |v|`` over all nodes and batch entries.
    current : float
        Largest of the bounds on source currents and cell currents, each relative to the largest
        magnitude of its field (elements that carry no current by structure are left out).
    backward_error : float
        The solution's componentwise backward error (``kcl_residual``), for comparison: tiny for
        every backward-stable solve, whatever the forward error.
    """

    voltage: float
    current: float
    backward_error: float

    @property
    def bound(self) -> float:
        """The larger of the two relative bounds."""
        return max(self.voltage, self.current)

    def __repr__(self) -> str:
        return (f"ForwardError(bound={self.bound:.2e}, voltage={self.voltage:.2e}, current={self.current:.2e}, "
                f"backward_error={self.backward_error:.2e})")


def _at_nodes(a: np.ndarray, b: np.ndarray, x: FloatArray, nn: int, sign: float) -> FloatArray:
    """Element quantities ``x`` summed onto their first node plus ``sign`` times onto their second
    (``sign=-1`` for currents: net outflow of each node)."""
    return np.bincount(a, weights=x, minlength=nn) + sign * np.bincount(b, weights=x, minlength=nn)


def _element_currents(netlist: Netlist, v: FloatArray) -> FloatArray:
    """Current of every element (resistors, then cells) from its first to its second node."""
    rn = netlist.resistor_nodes
    vcell = v[netlist.row_node] - v[netlist.col_node]
    i_cell = np.asarray(netlist.device.current(vcell, netlist.conductance), dtype=np.float64)
    return np.concatenate([(v[rn[:, 0]] - v[rn[:, 1]]) / netlist.resistor_values, i_cell.ravel()])


def _element_g(netlist: Netlist, v: FloatArray) -> FloatArray:
    """Small-signal conductance of every element (resistors, then cells) at node voltages ``v``."""
    m, n = netlist.shape
    vcell = v[netlist.row_node] - v[netlist.col_node]
    g_cell = np.asarray(netlist.device.conductance(vcell, netlist.conductance), dtype=np.float64).reshape(m, n)
    return np.concatenate([1.0 / netlist.resistor_values, np.abs(g_cell).ravel()])


def estimate_forward_error(netlist: Netlist, solution: Solution) -> ForwardError:
    """Bound the relative forward error of ``solution`` (an operating point of ``netlist``).

    Parameters
    ----------
    netlist : Netlist
        The circuit that was solved (``build_netlist(crossbar, bias)``).
    solution : Solution
        Its operating point(s), from any backend.

    Returns
    -------
    ForwardError
        ``.bound`` estimates ``max|computed - exact| / max|exact|`` of the voltages and currents
        (see the module notes for the derivation). Below ~1e-12 for ordinary arrays; near or above 1
        when the circuit's conditioning makes double precision meaningless.
    """
    if not isinstance(netlist, Netlist):
        raise ConfigError(f"`netlist` must be a Netlist; got {type(netlist).__name__}.")
    if not isinstance(solution, Solution):
        raise ConfigError(f"`solution` must be a Solution; got {type(solution).__name__}.")
    v_all = np.asarray(solution.node_voltages, dtype=np.float64).reshape(-1, netlist.n_nodes)
    if v_all.shape[0] != netlist.batch_size:
        raise ConfigError(f"`solution` has {v_all.shape[0]} operating points, the netlist {netlist.batch_size}.")
    a, b = element_arrays(netlist)
    m, n = netlist.shape
    src = np.asarray(solution.source_currents, dtype=np.float64).reshape(v_all.shape[0], -1)
    icell = np.asarray(solution.cell_currents, dtype=np.float64).reshape(v_all.shape[0], m * n)
    nn = netlist.n_nodes
    dv_max = di_src = di_cell = 0.0
    idle = _idle_elements(netlist, a, b)
    factored: tuple[FloatArray, spla.SuperLU | None] | None = None
    unknown = np.zeros(0, dtype=np.int64)
    for k, v in enumerate(v_all):
        if factored is None or not netlist.device.linear:  # nonlinear: the Jacobian of this point
            g = _element_g(netlist, v)
            asm = assemble(netlist, g[netlist.resistor_values.size:].reshape(m, n))
            factored = (g, _factor(asm.A))
            unknown = asm.unknown
        g, lu = factored
        dx = np.zeros(netlist.n_nodes)
        with np.errstate(all="ignore"):
            if unknown.size:
                # x - x_exact = J^-1 F(x) to first order, with F the net current leaving each node
                # (exact for linear devices); F itself is computed with rounding of a few eps of the
                # terms that cancel in it (LAPACK's xGERFS bound, componentwise)
                r = np.abs(_at_nodes(a, b, _element_currents(netlist, v), nn, -1.0)) \
                    + _ROUNDING * _at_nodes(a, b, g * (np.abs(v[a]) + np.abs(v[b])), nn, 1.0)
                z = np.full(unknown.size, np.inf) if lu is None else np.asarray(lu.solve(r[unknown]))
                dx[unknown] = np.abs(z)
            dv_max = _worst(dv_max, dx)
            # current error bound of every element: voltage errors, plus the rounding of v_a - v_b
            de = g * (dx[a] + dx[b] + np.finfo(float).eps * (np.abs(v[a]) + np.abs(v[b])))
            de[idle] = 0.0
            node_err = _at_nodes(a, b, de, nn, 1.0)
            di_src = _worst(di_src, node_err[netlist.source_node])
            di_cell = _worst(di_cell, de[netlist.resistor_values.size:])
    rel = (lambda d, scale: d / scale if scale > 0 else (0.0 if d == 0 else float("inf")))
    v_scale = float(np.abs(v_all).max(initial=0.0))
    voltage = rel(dv_max, v_scale)
    # normwise over all currents: a cell carrying exactly 0 A beside sources carrying 1 A is not
    # "infinitely" wrong when its bound is 1e-17 A
    i_scale = max(float(np.abs(src).max(initial=0.0)), float(np.abs(icell).max(initial=0.0)))
    current = rel(max(di_src, di_cell), i_scale)
    return ForwardError(voltage=float(voltage), current=float(current), backward_error=float(solution.kcl_residual))


def _idle_elements(netlist: Netlist, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elements that carry exactly zero current in every operating point, by structure.

    A connected set of non-fixed nodes whose fixed neighbours all sit at one voltage (in every batch
    entry) floats at that voltage, so no element touching it carries current (a driven row whose
    cells are all open, every source at one voltage). A solver returns rounding noise there (1e-16 A),
    which has no relative error to speak of: these elements are left out of the current bounds.
    """
    nn = netlist.n_nodes
    g = np.concatenate([1.0 / netlist.resistor_values, netlist.conductance.ravel()])
    live = g > 0
    is_fixed = np.zeros(nn, dtype=bool)
    is_fixed[netlist.source_node] = True
    vnode = np.zeros((netlist.batch_size, nn))
    vnode[:, netlist.source_node] = netlist.source_voltage
    uu = live & ~is_fixed[a] & ~is_fixed[b]
    adj = sp.coo_matrix((np.ones(int(uu.sum())), (a[uu], b[uu])), shape=(nn, nn))
    _, comp = connected_components(adj, directed=False)
    # terminal voltages of each component: lowest and highest fixed neighbour, per batch entry
    lo = np.full((netlist.batch_size, nn), np.inf)
    hi = np.full((netlist.batch_size, nn), -np.inf)
    for u, f in ((a, b), (b, a)):
        sel = live & ~is_fixed[u] & is_fixed[f]
        np.minimum.at(lo.T, comp[u[sel]], vnode[:, f[sel]].T)
        np.maximum.at(hi.T, comp[u[sel]], vnode[:, f[sel]].T)
    quiet: BoolArray = np.asarray((hi <= lo).all(axis=0), dtype=bool)  # one terminal voltage (or none) in every batch entry
    idle = np.where(is_fixed[a], quiet[comp[b]] | is_fixed[b], quiet[comp[a]])
    both_fixed = is_fixed[a] & is_fixed[b]
    idle[both_fixed] = (vnode[:, a[both_fixed]] == vnode[:, b[both_fixed]]).all(axis=0)
    return idle | ~live


def _worst(acc: float, x: FloatArray) -> float:
    """The larger of ``acc`` and the largest entry of ``x``, with a NaN (from an overflow, ``inf * 0``)
    counted as ``inf``: Python's ``max(0.0, nan)`` is 0.0, which once turned "no digits" into a bound of 0."""
    worst = float(np.max(x, initial=0.0))
    return max(acc, worst) if worst == worst else float("inf")


def _factor(A: sp.csr_matrix) -> spla.SuperLU | None:
    """SuperLU of the nodal matrix (partial pivoting); None when it is singular in floating point, or
    when a pivot is at the rounding level of its row (:data:`_ROUNDING` of the row's largest entry).

    Such a pivot is what is left after cancellation: its value is rounding noise (1e284 where 0.2 S
    was exact, with 1e-300 ohm segments), so ``A^-1 w`` solved with it may come out too small by any
    factor, and with it the bound; the solve it checks carries no digits either.
    """
    if A.shape[0] == 0:
        return None
    try:
        with np.errstate(all="ignore"):
            lu = spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A")
    except RuntimeError:  # exactly singular in floating point: no accuracy at all
        return None
    # Pr A Pc = L U: row k of the permuted matrix is row i of A with perm_r[i] = k (Pc keeps row maxima)
    row_max = np.asarray(abs(A).max(axis=1).todense()).ravel()[np.argsort(lu.perm_r)]
    with np.errstate(all="ignore"):
        pivot = np.abs(lu.U.diagonal())
        if not (pivot > _ROUNDING * row_max).all():
            return None
    return lu


def needs_check(netlist: Netlist) -> bool:
    """Whether :func:`~xbarsim.solver.solve` estimates the forward error of this netlist by default."""
    if netlist.n_nodes <= AUTO_CHECK_MAX_NODES:
        return True
    with np.errstate(over="ignore"):  # a span beyond double range (1e300 / 1e-12) is inf: checked
        g = np.concatenate([1.0 / netlist.resistor_values, netlist.conductance.ravel()])
        g = g[g > 0]
        return bool(g.size) and float(g.max() / g.min()) > SPREAD_CHECK


def _worst_entry(netlist: Netlist, solution: Solution) -> tuple[Netlist, Solution]:
    """For a batch of linear reads, the entry with the largest drive voltage alone.

    The bound of a linear circuit is set by its matrix; the right-hand side only scales it. Checking
    one entry keeps a batch answered through the port matrix lazy (issue 16: its node voltages are
    computed only when asked for), at the cost of missing an entry whose error is larger only
    through cancellation in its own drive pattern.
    """
    if not (netlist.device.linear and solution.batched and solution.batch_size > 1):
        return netlist, solution
    sv = np.asarray(netlist.source_voltage, dtype=np.float64)
    k = int(np.argmax(np.abs(sv).max(axis=1, initial=0.0)))
    return replace(netlist, source_voltage=sv[k:k + 1]), solution.select([k])


def warn_if_inaccurate(netlist: Netlist, solution: Solution, *, stacklevel: int = 3) -> ForwardError | None:
    """Warn with :class:`~xbarsim.errors.AccuracyWarning` when the estimated forward error exceeds
    :data:`ACCURACY_TARGET`; returns the estimate (None when :func:`needs_check` skipped it)."""
    if not needs_check(netlist):
        return None
    netlist, solution = _worst_entry(netlist, solution)
    est = estimate_forward_error(netlist, solution)
    if not est.bound <= ACCURACY_TARGET:
        g = np.concatenate([1.0 / netlist.resistor_values, netlist.conductance.ravel()])
        g = g[g > 0]
        warnings.warn(
            f"accuracy cannot be guaranteed for this conditioning: the estimated relative forward error of "
            f"the {solution.backend} solution is {est.bound:.1e} (voltages {est.voltage:.1e}, currents "
            f"{est.current:.1e}) although its KCL residual is {solution.kcl_residual:.1e}; element "
            f"conductances span {g.min():.3g} to {g.max():.3g} S. Resistances this far apart (for example "
            "segments far below every neighbouring resistance) should be set to 0 (ideal wire).",
            AccuracyWarning, stacklevel=stacklevel)
    return est


def transfer_matrix_error(netlist: Netlist, transfer: FloatArray) -> float:
    """Relative error bound of the transfer matrix ``transfer`` (M, N) of the read-scheme ``netlist``.

    Every row is driven at 1 V and the circuit solved directly (LU with partial pivoting). The bound
    is the larger of the forward-error bound on that solve's output currents (the one of
    :func:`estimate_forward_error`, for the sense sources only: ``T`` is their response, and a
    1e-9 ohm driver that leaves the input currents uncertain does not touch it) and the relative
    difference between ``ones @ T`` and those output currents (the port-matrix arithmetic of ``T``
    itself). ``inf`` when the direct solve breaks down.
    """
    m, _ = netlist.shape
    volts = (netlist.source_end < 2).astype(np.float64)[None, :]  # rows at 1 V, sense nodes at 0 V
    net1 = replace(netlist, source_voltage=volts, batched=False)
    asm = assemble(net1, net1.conductance)
    vf = volts[0, np.unique(net1.source_node, return_index=True)[1]]
    v = np.empty(net1.n_nodes)
    v[asm.fixed] = vf
    a, b = element_arrays(net1)
    nn = net1.n_nodes
    with np.errstate(all="ignore"):
        lu = _factor(asm.A) if asm.unknown.size else None
        if asm.unknown.size:
            if lu is None:
                return float("inf")
            v[asm.unknown] = lu.solve(-(asm.C @ vf))
        if not np.isfinite(v).all():
            return float("inf")
        sol = solution_from_voltages(net1, v[None, :], backend="sparse", method="direct", iterations=0, timings={})
        g = _element_g(net1, v)
        dx = np.zeros(nn)
        if lu is not None:  # as in estimate_forward_error: x - x_exact = A^-1 F(x), F's rounding included
            r = np.abs(_at_nodes(a, b, _element_currents(net1, v), nn, -1.0)) \
                + _ROUNDING * _at_nodes(a, b, g * (np.abs(v[a]) + np.abs(v[b])), nn, 1.0)
            dx[asm.unknown] = np.abs(np.asarray(lu.solve(r[asm.unknown])))
        de = g * (dx[a] + dx[b] + np.finfo(float).eps * (np.abs(v[a]) + np.abs(v[b])))
        sense = net1.source_node[net1.source_end >= 2]
        bound = _worst(0.0, _at_nodes(a, b, de, nn, 1.0)[sense])
        i_out = np.asarray(sol.output_currents, dtype=np.float64)
        scale = float(np.abs(i_out).max(initial=0.0))
        diff = _worst(0.0, np.abs(np.ones(m) @ transfer - i_out))
    worst = max(bound, diff)
    return worst / scale if scale > 0 else (0.0 if worst == 0 else float("inf"))


def warn_if_transfer_inaccurate(netlist: Netlist, transfer: FloatArray, *, stacklevel: int = 3,
                                bound: float | None = None) -> float:
    """Warn with :class:`~xbarsim.errors.AccuracyWarning` when :func:`transfer_matrix_error` (or the
    ``bound`` already computed) exceeds :data:`ACCURACY_TARGET`; returns the bound. A transfer matrix
    of 1e-9 ohm row segments behind 1e9 ohm drivers was 99 % off without a word, where
    :func:`~xbarsim.solver.solve` warned."""
    if bound is None:
        bound = transfer_matrix_error(netlist, transfer)
    if not bound <= ACCURACY_TARGET:
        g = np.concatenate([1.0 / netlist.resistor_values, netlist.conductance.ravel()])
        g = g[g > 0]
        warnings.warn(
            f"accuracy cannot be guaranteed for this conditioning: the estimated relative error of the transfer "
            f"matrix is {bound:.1e}; element conductances span {g.min():.3g} to {g.max():.3g} S. Resistances this "
            "far apart (for example segments far below every neighbouring resistance) should be set to 0 "
            "(ideal wire).", AccuracyWarning, stacklevel=stacklevel)
    return bound
