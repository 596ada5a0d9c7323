"""The result of a solve: fixed fields, SI units, same shape whatever backend produced it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from xbarsim._typing import FloatArray
from xbarsim._validation import readonly
from xbarsim.errors import BackendError, ConfigError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver._grid import GridLayout, grid_layout

__all__ = ["Solution", "element_arrays", "incidence", "solution_from_voltages"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Solution:
    """Operating point(s) of a crossbar circuit.

    Shapes drop the leading batch axis ``B`` when the bias was not batched. Currents are in ampere,
    voltages in volt, power in watt.

    Attributes
    ----------
    output_currents : ndarray, shape (N,) or (B, N)
        Current flowing from each column's driven end(s) into its sense node (summed over both ends
        if both are driven); positive when row voltages are positive in a read.
    input_currents : ndarray, shape (M,) or (B, M)
        Current delivered by each row's driver(s) into the row.
    row_voltages, col_voltages : ndarray, shape (M, N) or (B, M, N)
        Voltage of row node / column node ``(i, j)`` with respect to ground.
    cell_voltages : ndarray, shape (M, N) or (B, M, N)
        Row minus column voltage across each cell.
    cell_currents : ndarray, shape (M, N) or (B, M, N)
        Current through each cell, positive from row to column.
    node_voltages : ndarray, shape (n_nodes,) or (B, n_nodes)
        Every netlist node (see :class:`~xbarsim.netlists.Netlist` for names).
    source_currents : ndarray, shape (S,) or (B, S)
        Current delivered into the circuit by each source (one per driven line end).
    power : float or ndarray, shape (B,)
        Total power delivered by the sources (= dissipated in wires and cells).
    kcl_residual : float
        KCL backward error: the largest, over non-fixed nodes and batch entries, of the node's net
        current divided by the sum of ``|g| (|v_a| + |v_b|)`` over the elements at that node (the
        terms that cancel; node scales floored at 1e-20 of the largest). Computed from the element laws, independent of how the backend solved;
        an exact solve gives a few machine epsilons.
    backend : str
        Name of the backend that produced the result.
    method : str
        What ran: ``"direct"``, ``"iterative"``, ``"newton"``, ``"ngspice"``, ...
    iterations : int
        CG iterations (largest over the batch) or Newton iterations; 0 for a direct linear solve.
    timings : Mapping[str, float]
        Seconds spent per phase (``"assemble"``, ``"factor"``, ``"solve"``, ``"total"``, ...).
    """

    output_currents: FloatArray
    input_currents: FloatArray
    row_voltages: FloatArray
    col_voltages: FloatArray
    cell_voltages: FloatArray
    cell_currents: FloatArray
    node_voltages: FloatArray
    source_currents: FloatArray
    power: FloatArray | float
    kcl_residual: float
    backend: str
    method: str
    iterations: int
    timings: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("output_currents", "input_currents", "row_voltages", "col_voltages", "cell_voltages",
                     "cell_currents", "node_voltages", "source_currents"):
            object.__setattr__(self, name, readonly(getattr(self, name)))
        if isinstance(self.power, np.ndarray):
            object.__setattr__(self, "power", readonly(self.power))
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))


def element_arrays(netlist: Netlist) -> tuple[np.ndarray, np.ndarray]:
    """Node pairs ``(E, 2)`` of all two-terminal elements: resistors first, then the ``M*N`` cells."""
    cells = np.stack([netlist.row_node.ravel(), netlist.col_node.ravel()], axis=1)
    nodes = np.concatenate([netlist.resistor_nodes, cells], axis=0)
    return nodes[:, 0], nodes[:, 1]


def incidence(netlist: Netlist) -> sp.csr_matrix:
    """Node-by-element incidence ``D`` (+1 at the first node, -1 at the second): ``D @ i`` is the net
    current leaving each node through the elements."""
    a, b = element_arrays(netlist)
    e = a.size
    cols = np.concatenate([np.arange(e), np.arange(e)])
    vals = np.concatenate([np.ones(e), -np.ones(e)])
    return sp.csr_matrix((vals, (np.concatenate([a, b]), cols)), shape=(netlist.n_nodes, e))


def _resistor_ends(netlist: Netlist, layout: GridLayout | None, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Voltages ``(B, K)`` at the first and the second node of every resistor."""
    if layout is None:
        return v[:, netlist.resistor_nodes[:, 0]], v[:, netlist.resistor_nodes[:, 1]]
    m, n = netlist.shape
    bsz = v.shape[0]
    row = v[:, :m * n].reshape(bsz, m, n)
    col = v[:, m * n:2 * m * n].reshape(bsz, m, n)
    va = np.concatenate([row[:, :, :-1].reshape(bsz, -1), col[:, :-1].reshape(bsz, -1), v[:, 2 * m * n:]], axis=1)
    vb = np.concatenate([row[:, :, 1:].reshape(bsz, -1), col[:, 1:].reshape(bsz, -1), v[:, layout.src_attach]], axis=1)
    return va, vb


def solution_from_voltages(
    netlist: Netlist,
    node_voltages: FloatArray,
    *,
    backend: str,
    method: str,
    iterations: int,
    timings: Mapping[str, float],
    source_currents: FloatArray | None = None,
) -> Solution:
    """Build a :class:`Solution` from node voltages ``(B, n_nodes)`` using the element laws.

    Source currents are obtained by KCL at the fixed nodes unless the backend measured them
    (``source_currents``, shape ``(B, S)``). Sources shorted onto one node by ideal wires share the
    node's current equally (the split between ideal sources in parallel is undetermined).
    """
    v = np.asarray(node_voltages, dtype=np.float64)
    with np.errstate(all="ignore"):
        sol = _build(netlist, v, backend=backend, method=method, iterations=iterations, timings=timings,
                     source_currents=source_currents)
    bad = [name for name in ("node_voltages", "cell_currents", "source_currents", "output_currents",
                             "input_currents", "power") if not np.isfinite(getattr(sol, name)).all()]
    if bad:
        vmax = float(np.abs(netlist.source_voltage).max(initial=0.0))
        gmax = max(float(netlist.conductance.max(initial=0.0)), float((1.0 / netlist.resistor_values).max(initial=0.0)))
        if not np.isfinite(sol.node_voltages).all() and vmax * gmax < 1e100:
            raise BackendError(f"backend {backend!r} returned non-finite node voltages")
        raise ConfigError(
            f"the operating point overflows double precision ({', '.join(bad)} not finite): the largest source "
            f"voltage is {vmax:.3g} V and the largest conductance {gmax:.3g} S. Use physical magnitudes."
        )
    return sol


def _build(
    netlist: Netlist,
    v: FloatArray,
    *,
    backend: str,
    method: str,
    iterations: int,
    timings: Mapping[str, float],
    source_currents: FloatArray | None,
) -> Solution:
    m, n = netlist.shape
    bsz = v.shape[0]
    layout = grid_layout(netlist)
    if layout is None:
        vr = v[:, netlist.row_node]
        vc = v[:, netlist.col_node]
    else:  # node k is grid node k: slices instead of gathers
        vr = v[:, :m * n].reshape(bsz, m, n)
        vc = v[:, m * n:2 * m * n].reshape(bsz, m, n)
    vcell = vr - vc
    icell = np.asarray(netlist.device.current(vcell, netlist.conductance), dtype=np.float64)
    va, vb = _resistor_ends(netlist, layout, v)
    ires = (va - vb) / netlist.resistor_values
    i_elem = np.concatenate([ires, icell.reshape(bsz, m * n)], axis=1)
    ends = element_arrays(netlist) if layout is None else None
    nn = netlist.n_nodes

    inc: dict[float, sp.csr_matrix] = {}

    def at_nodes(x: FloatArray, sign: float) -> FloatArray:
        """Sum element quantities ``x`` (B, E) onto their first node plus ``sign`` times onto the second."""
        if layout is not None:
            return layout.at_nodes(x, sign)
        assert ends is not None
        a, b = ends
        if x.shape[0] <= 4:  # bincount beats building a sparse matrix for a few rows
            return np.stack([np.bincount(a, weights=xb, minlength=nn) + sign * np.bincount(b, weights=xb, minlength=nn)
                             for xb in x])
        if sign not in inc:
            e = a.size
            inc[sign] = sp.csr_matrix((np.concatenate([np.ones(e), np.full(e, sign)]),
                                       (np.concatenate([a, b]), np.concatenate([np.arange(e), np.arange(e)]))),
                                      shape=(nn, e))
        return np.asarray((inc[sign] @ x.T).T)

    net = at_nodes(i_elem, -1.0)  # (B, n_nodes) current leaving each node
    # Componentwise backward error of KCL: each node's net current relative to the sum of the
    # |g| (|v_a| + |v_b|) terms that cancel in it. A backward-stable solve gives a few eps; a wrong
    # one gives O(1). (Normalising by the largest current instead would report ~1e-12 for exact
    # solutions, because wire conductances exceed cell conductances by 1e4-1e6.)
    g_cell = np.asarray(netlist.device.conductance(vcell, netlist.conductance), dtype=np.float64)
    s_res = (np.abs(va) + np.abs(vb)) / netlist.resistor_values
    s_cell = np.abs(g_cell) * (np.abs(vr) + np.abs(vc)) + np.abs(icell)
    scale = at_nodes(np.concatenate([s_res, s_cell.reshape(bsz, m * n)], axis=1), 1.0)
    unknown: np.ndarray | slice
    if layout is None:
        is_unknown = np.ones(netlist.n_nodes, dtype=bool)
        is_unknown[netlist.source_node] = False
        unknown = is_unknown
    else:  # the sources hold the nodes after the grid
        unknown = slice(0, 2 * m * n)
    # Node scales are floored at 1e-20 of the largest: a node whose terms are that much smaller than
    # the circuit's carries no physical information (and subnormal voltages would make it noise).
    denom = np.maximum(scale[:, unknown], 1e-20 * scale.max(initial=0.0))
    net_u = np.abs(net[:, unknown])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(denom > 0, net_u / denom, net_u)
    kcl = float(ratio.max()) if ratio.size else 0.0
    if source_currents is None:
        share = np.bincount(netlist.source_node, minlength=netlist.n_nodes)[netlist.source_node]
        src = net[:, netlist.source_node] / share
    else:
        src = np.asarray(source_currents, dtype=np.float64).reshape(bsz, -1)
    is_row = netlist.source_end < 2
    i_in = np.zeros((bsz, m))
    i_out = np.zeros((bsz, n))
    np.add.at(i_in, (slice(None), netlist.source_line[is_row]), src[:, is_row])
    np.add.at(i_out, (slice(None), netlist.source_line[~is_row]), -src[:, ~is_row])
    power = (netlist.source_voltage * src).sum(axis=1)
    squeeze = (lambda x: x[0]) if not netlist.batched else (lambda x: x)
    return Solution(
        output_currents=squeeze(i_out),
        input_currents=squeeze(i_in),
        row_voltages=squeeze(vr),
        col_voltages=squeeze(vc),
        cell_voltages=squeeze(vcell),
        cell_currents=squeeze(icell),
        node_voltages=squeeze(v),
        source_currents=squeeze(src),
        power=float(power[0]) if not netlist.batched else power,
        kcl_residual=kcl,
        backend=backend,
        method=method,
        iterations=iterations,
        timings=timings,
    )
