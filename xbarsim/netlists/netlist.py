"""The solver-neutral netlist: a crossbar under a bias scheme, stored as arrays.

One Python object per circuit element does not scale to the 10^6 elements of a 1024x1024 array,
so the netlist is a struct of arrays: node bookkeeping, resistors (node pairs and ohms), device
cells (row node and column node of every cell, conductance and device law) and fixed-voltage
sources. Every backend consumes this same object, so any difference between backends is a
solver difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim._typing import FloatArray, IntArray
from xbarsim._validation import readonly
from xbarsim.devices.models import DeviceModel
from xbarsim.errors import CircuitError, ConfigError
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar

__all__ = [
    "Netlist",
    "build_netlist",
    "END_NAMES",
    "ROW_SEGMENT",
    "COL_SEGMENT",
    "ROW_DRIVER",
    "COL_SENSE",
]

#: Resistor kinds (``Netlist.resistor_kind``).
ROW_SEGMENT, COL_SEGMENT, ROW_DRIVER, COL_SENSE = 0, 1, 2, 3
#: Line ends, in the order of ``Netlist.source_end`` codes.
END_NAMES: tuple[str, str, str, str] = ("row_left", "row_right", "col_bottom", "col_top")
_END_TAG = ("drv_l", "drv_r", "sns_b", "sns_t")


@dataclass(frozen=True, kw_only=True, eq=False)
class Netlist:
    """A crossbar circuit as arrays. Build it with :func:`build_netlist`.

    Nodes are numbered ``0 .. n_nodes-1`` after ideal wires (zero resistance) have been merged.
    ``node_origin[k]`` is the pre-merge index of node ``k``'s representative, which gives its name:
    ``r{i}_{j}`` (row node), ``c{i}_{j}`` (column node), ``drv_l{i}``/``drv_r{i}`` (row driver
    output), ``sns_b{j}``/``sns_t{j}`` (sense node).

    Attributes
    ----------
    shape : (int, int)
        ``(M, N)`` of the crossbar.
    n_nodes : int
        Number of circuit nodes (ground excluded; every source is referenced to ground).
    node_origin : ndarray of int, shape (n_nodes,)
        Pre-merge index of each node's representative (see above).
    row_node, col_node : ndarray of int, shape (M, N)
        Node of row wire and column wire at cell ``(i, j)``; cell ``(i, j)`` connects them.
    resistor_nodes : ndarray of int, shape (K, 2)
        Node pair of each resistor; current is counted from the first to the second node.
    resistor_values : ndarray, shape (K,)
        Ohm, all strictly positive.
    resistor_kind : ndarray of int8, shape (K,)
        ``ROW_SEGMENT``, ``COL_SEGMENT``, ``ROW_DRIVER`` or ``COL_SENSE``.
    resistor_index : ndarray of int, shape (K, 2)
        ``(i, j)`` of a segment (between ``(i, j)`` and ``(i, j+1)`` or ``(i+1, j)``), or
        ``(end, line)`` of a driver/sense resistor with ``end`` indexing ``END_NAMES``.
    conductance : ndarray, shape (M, N)
        Siemens, programmed conductance of each cell.
    device : DeviceModel
        I-V law of the cells.
    source_node : ndarray of int, shape (S,)
        Node held by each voltage source (one per driven line end).
    source_voltage : ndarray, shape (B, S)
        Volt; ``B = 1`` for an unbatched bias.
    source_end : ndarray of int8, shape (S,)
        Which end (index into ``END_NAMES``) each source drives.
    source_line : ndarray of int, shape (S,)
        Row or column index of each source.
    batched : bool
        Whether the bias carried a batch dimension (results then keep it).
    """

    shape: tuple[int, int]
    n_nodes: int
    node_origin: IntArray
    row_node: IntArray
    col_node: IntArray
    resistor_nodes: IntArray
    resistor_values: FloatArray
    resistor_kind: IntArray
    resistor_index: IntArray
    conductance: FloatArray
    device: DeviceModel
    source_node: IntArray
    source_voltage: FloatArray
    source_end: IntArray
    source_line: IntArray
    batched: bool

    def __post_init__(self) -> None:
        for name in (
            "node_origin", "row_node", "col_node", "resistor_nodes", "resistor_values", "resistor_kind",
            "resistor_index", "conductance", "source_node", "source_voltage", "source_end", "source_line",
        ):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    # ----------------------------------------------------------------- derived views
    @property
    def batch_size(self) -> int:
        """Number of operating points ``B`` (1 when unbatched)."""
        return int(self.source_voltage.shape[0])

    @property
    def fixed_nodes(self) -> IntArray:
        """Sorted unique nodes held at a fixed voltage."""
        return np.unique(self.source_node)

    @property
    def fixed_voltage(self) -> FloatArray:
        """Voltage of each of ``fixed_nodes``, shape ``(B, F)``."""
        nodes, first = np.unique(self.source_node, return_index=True)
        return self.source_voltage[:, first]

    def node_name(self, k: int) -> str:
        """Name of node ``k`` (see the class docstring)."""
        m, n = self.shape
        o = int(self.node_origin[k])
        if o < m * n:
            return f"r{o // n}_{o % n}"
        if o < 2 * m * n:
            o -= m * n
            return f"c{o // n}_{o % n}"
        s = o - 2 * m * n
        return f"{_END_TAG[int(self.source_end[s])]}{int(self.source_line[s])}"

    def node_names(self) -> list[str]:
        """Names of all nodes, in node order."""
        return [self.node_name(k) for k in range(self.n_nodes)]

    def resistor_name(self, k: int) -> str:
        """Deterministic SPICE-style name of resistor ``k`` that says what it is."""
        kind = int(self.resistor_kind[k])
        a, b = (int(x) for x in self.resistor_index[k])
        if kind == ROW_SEGMENT:
            return f"Rrow{a}_{b}"
        if kind == COL_SEGMENT:
            return f"Rcol{a}_{b}"
        return f"R{_END_TAG[a]}{b}"

    def source_name(self, s: int) -> str:
        """Deterministic name of voltage source ``s``, e.g. ``Vdrv_l3`` or ``Vsns_b0``."""
        return f"V{_END_TAG[int(self.source_end[s])]}{int(self.source_line[s])}"


def _union_find(n: int, a: IntArray, b: IntArray) -> IntArray:
    """Component label (smallest member index) of each of ``n`` nodes joined by edges ``a``-``b``.

    Vectorised hooking and pointer jumping: each round hooks the larger root of every edge under
    the smaller one, then compresses paths; a handful of rounds suffice on wire-like graphs.
    """
    parent = np.arange(n, dtype=np.int64)
    if a.size == 0:
        return parent
    while True:
        pa, pb = parent[a], parent[b]
        lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
        pending = lo != hi
        if not pending.any():
            return parent
        np.minimum.at(parent, hi[pending], lo[pending])
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt


def build_netlist(crossbar: Crossbar, bias: BiasScheme) -> Netlist:
    """Turn a crossbar under a bias scheme into a solver-neutral :class:`Netlist`.

    Every driven line end gets a voltage source to ground behind the line's driver (rows) or sense
    (columns) resistance. Zero resistances are ideal wires: their two nodes are merged (never a
    ``1/0`` stamp). Floating ends get nothing.

    Raises
    ------
    ConfigError
        If the bias does not fit the crossbar (wrong number of lines, selection out of range).
    CircuitError
        If ideal wires short two sources held at different voltages.
    """
    if not isinstance(crossbar, Crossbar):
        raise ConfigError(f"`crossbar` must be a Crossbar; got {type(crossbar).__name__}.")
    if not isinstance(bias, BiasScheme):
        raise ConfigError(f"`bias` must be a BiasScheme; got {type(bias).__name__}.")
    m, n = crossbar.shape
    lines = crossbar.lines
    batch = bias.batch_size
    mn = m * n
    grid = np.arange(mn, dtype=np.int64).reshape(m, n)
    row0, col0 = grid, grid + mn

    # ---- driven ends: one source node per driven end, behind its driver/sense resistance
    ends = (
        (bias.row_left, m, row0[:, 0], np.asarray(lines.row_driver), ROW_DRIVER),
        (bias.row_right, m, row0[:, -1], np.asarray(lines.row_driver), ROW_DRIVER),
        (bias.col_bottom, n, col0[-1, :], np.asarray(lines.col_sense), COL_SENSE),
        (bias.col_top, n, col0[0, :], np.asarray(lines.col_sense), COL_SENSE),
    )
    src_v, src_end, src_line, src_attach, src_r = [], [], [], [], []
    for code, (drive, count, attach, r_end, _) in enumerate(ends):
        volts, mask = drive.resolve(count, END_NAMES[code], batch)
        idx = np.flatnonzero(mask)
        src_v.append(volts[:, idx])
        src_end.append(np.full(idx.size, code, np.int8))
        src_line.append(idx)
        src_attach.append(attach[idx])
        src_r.append(r_end[idx])
    source_voltage = np.concatenate(src_v, axis=1)
    source_end = np.concatenate(src_end)
    source_line = np.concatenate(src_line).astype(np.int64)
    n_src = source_end.size
    src_nodes0 = 2 * mn + np.arange(n_src, dtype=np.int64)

    # ---- every resistor (pre-merge node indices): row segments, column segments (both row-major),
    # then one driver/sense resistor per source. Filled in place: at 10^6 cells every temporary
    # array costs page faults.
    k1 = m * (n - 1)
    k2 = k1 + (m - 1) * n
    n_res = k2 + n_src
    nodes0 = np.empty((n_res, 2), dtype=np.int64)
    r_all = np.empty(n_res)
    kind_all = np.empty(n_res, dtype=np.int8)
    idx_all = np.empty((n_res, 2), dtype=np.int64)
    for (lo, hi, rows, cols, first, second, r_seg, kind) in (
        (0, k1, m, n - 1, row0[:, :-1], row0[:, 1:], lines.row_segment, ROW_SEGMENT),
        (k1, k2, m - 1, n, col0[:-1, :], col0[1:, :], lines.col_segment, COL_SEGMENT),
    ):
        np.reshape(nodes0[lo:hi, 0], (rows, cols), copy=False)[...] = first
        np.reshape(nodes0[lo:hi, 1], (rows, cols), copy=False)[...] = second
        np.reshape(r_all[lo:hi], (rows, cols), copy=False)[...] = r_seg
        kind_all[lo:hi] = kind
        np.reshape(idx_all[lo:hi, 0], (rows, cols), copy=False)[...] = np.arange(rows)[:, None]
        np.reshape(idx_all[lo:hi, 1], (rows, cols), copy=False)[...] = np.arange(cols)[None, :]
    nodes0[k2:, 0] = src_nodes0
    nodes0[k2:, 1] = np.concatenate(src_attach)
    r_all[k2:] = np.concatenate(src_r)
    kind_all[k2:] = np.where(source_end < 2, ROW_DRIVER, COL_SENSE)
    idx_all[k2:, 0] = source_end
    idx_all[k2:, 1] = source_line
    a0, b0 = nodes0[:, 0], nodes0[:, 1]

    # ---- merge ideal wires, renumber compactly (representative = smallest pre-merge index)
    n0 = 2 * mn + n_src
    ideal = r_all == 0.0
    if not ideal.any():  # nothing to merge: every node is its own representative
        roots = np.arange(n0, dtype=np.int64)
        return _netlist(crossbar, bias, roots, row0, col0, nodes0, r_all, kind_all, idx_all,
                        src_nodes0, source_voltage, source_end, source_line)
    labels = _union_find(n0, a0[ideal], b0[ideal])
    roots, compact = np.unique(labels, return_inverse=True)
    compact = compact.astype(np.int64)
    # a positive resistor whose ends were merged by ideal wires carries no current: drop it
    keep = ~ideal & (compact[a0] != compact[b0])
    source_node = compact[src_nodes0]

    # ---- sources shorted together by ideal wires must agree
    if n_src:
        order = np.argsort(source_node, kind="stable")
        sn = source_node[order]
        same = np.flatnonzero(sn[1:] == sn[:-1])
        for k in same:
            s1, s2 = order[k], order[k + 1]
            if not np.array_equal(source_voltage[:, s1], source_voltage[:, s2]):
                names = [f"{END_NAMES[source_end[s]]}[{source_line[s]}]" for s in (s1, s2)]
                raise CircuitError(
                    f"ideal (zero-resistance) wires connect the sources {names[0]} and {names[1]}, "
                    "which are held at different voltages: a short circuit."
                )

    return _netlist(crossbar, bias, roots.astype(np.int64), compact[row0], compact[col0],
                    np.stack([compact[a0[keep]], compact[b0[keep]]], axis=1), r_all[keep], kind_all[keep],
                    idx_all[keep], source_node, source_voltage, source_end, source_line)


def _netlist(crossbar: Crossbar, bias: BiasScheme, roots: IntArray, row_node: IntArray, col_node: IntArray,
             resistor_nodes: IntArray, resistor_values: FloatArray, resistor_kind: np.ndarray, resistor_index: IntArray,
             source_node: IntArray, source_voltage: FloatArray, source_end: np.ndarray, source_line: IntArray) -> Netlist:
    """The :class:`Netlist` of ``crossbar`` under ``bias`` from its (merged, compacted) arrays."""
    return Netlist(
        shape=crossbar.shape,
        n_nodes=int(roots.size),
        node_origin=roots,
        row_node=row_node,
        col_node=col_node,
        resistor_nodes=resistor_nodes,
        resistor_values=resistor_values,
        resistor_kind=resistor_kind,
        resistor_index=resistor_index,
        conductance=np.asarray(crossbar.conductance),
        device=crossbar.device,
        source_node=source_node,
        source_voltage=source_voltage,
        source_end=source_end,
        source_line=source_line,
        batched=bias.batch_size is not None,
    )
