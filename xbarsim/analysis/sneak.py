"""Sneak paths of a small array: every path from a selected cell's row to its column through other cells.

Notes
-----
The paths come from the graph view of the array (:func:`~xbarsim.netlists.to_graph`) with ideal
wires and no bias: each row and each column line is one node, each conducting cell (``g > 0``) an
edge between its row and its column. A sneak path of cell ``(i, j)`` is a simple path from row
``i`` to column ``j`` other than the cell itself. It alternates rows and columns, so it has an odd
number of cells; the three-cell path ``row i -> column b -> row a -> column j`` through cells
``(i, b)``, ``(a, b)``, ``(a, j)`` is the classic sneak path of a read with floating unselected
lines, and longer ones pass through more lines. The series conductance of a path is what it would
conduct alone; paths share cells, so their currents do not add (the circuit solve in
:func:`~xbarsim.analysis.read_cell` gives the actual sneak current). Wire resistance changes the
currents, not the paths. The number of paths grows like ``(M N)^((L-1)/2)`` with the length
``L``; enumeration is limited to arrays of :data:`MAX_SNEAK_SIDE` lines per side and
``max_paths`` paths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from xbarsim._validation import check_int
from xbarsim.analysis._common import check_cell, check_crossbar
from xbarsim.errors import ConfigError
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.graph import to_graph
from xbarsim.netlists.lines import LineResistance
from xbarsim.netlists.netlist import build_netlist

__all__ = ["MAX_SNEAK_SIDE", "SneakPath", "sneak_paths"]

#: Largest array side :func:`sneak_paths` enumerates.
MAX_SNEAK_SIDE = 16


@dataclass(frozen=True, kw_only=True)
class SneakPath:
    """One sneak path of a selected cell.

    Attributes
    ----------
    cells : tuple of (int, int)
        ``(row, col)`` of the path's cells in order, from the selected row to the selected column.
    conductance : float
        Siemens, the series conductance of the cells, ``1 / sum(1 / g)`` (what the path conducts alone).
    """

    cells: tuple[tuple[int, int], ...]
    conductance: float

    @property
    def length(self) -> int:
        """Number of cells."""
        return len(self.cells)


def sneak_paths(crossbar: Crossbar, row: int, col: int, max_length: int = 3,
                max_paths: int = 100_000) -> list[SneakPath]:
    """The sneak paths of cell ``(row, col)`` with at most ``max_length`` cells (see the module notes).

    Parameters
    ----------
    crossbar : Crossbar
        At most :data:`MAX_SNEAK_SIDE` rows and columns; its conductances (siemens) decide which
        cells conduct (``g > 0``).
    row, col : int
        The selected cell.
    max_length : int
        Longest path, in cells: an odd int >= 3 (3 is the classic sneak path).
    max_paths : int
        Refuse (ConfigError) rather than list more paths than this.

    Returns
    -------
    list of SneakPath
        Ordered by length, then by their cells.

    Raises
    ------
    ConfigError
        An array larger than 16x16, a cell outside it, an even or too small ``max_length``, or more
        than ``max_paths`` paths.
    """
    import networkx as nx  # core dependency, imported where used (`import xbarsim` needs numpy and scipy only)

    cb = check_crossbar(crossbar)
    m, n = cb.shape
    if max(m, n) > MAX_SNEAK_SIDE:
        raise ConfigError(f"sneak_paths enumerates arrays up to {MAX_SNEAK_SIDE}x{MAX_SNEAK_SIDE} (the number of "
                          f"paths grows exponentially with the array); got a {m}x{n} crossbar. Use read_cell for the "
                          "sneak current of a larger array.")
    r, c = check_cell(row, col, cb.shape)
    length = check_int(max_length, "max_length", 3, 2 * MAX_SNEAK_SIDE - 1)
    if length % 2 == 0:
        raise ConfigError(f"`max_length` must be odd (a path from a row to a column has an odd number of cells); "
                          f"got {length}.")
    limit = check_int(max_paths, "max_paths", 1, 10**7)
    g = np.asarray(cb.conductance)
    # ideal wires, nothing driven: one graph node per line, one edge per conducting cell
    net = build_netlist(replace(cb, lines=LineResistance()), BiasScheme())
    names = net.node_names()
    line = {names[net.row_node[i, 0]]: ("row", i) for i in range(m)}
    line.update({names[net.col_node[0, j]]: ("col", j) for j in range(n)})
    graph = to_graph(net)
    source, target = names[net.row_node[r, 0]], names[net.col_node[0, c]]
    paths = []
    for nodes in nx.all_simple_paths(graph, source, target, cutoff=length):
        if len(nodes) == 2:  # the selected cell itself
            continue
        ids = [line[x][1] for x in nodes]  # row, col, row, col, ...
        cells = tuple((ids[k], ids[k + 1]) if k % 2 == 0 else (ids[k + 1], ids[k]) for k in range(len(ids) - 1))
        paths.append(SneakPath(cells=cells, conductance=1.0 / sum(1.0 / float(g[a, b]) for a, b in cells)))
        if len(paths) > limit:
            raise ConfigError(f"cell ({r}, {c}) has more than `max_paths` = {limit} sneak paths of up to {length} "
                              "cells; lower `max_length` or raise `max_paths`.")
    return sorted(paths, key=lambda p: (p.length, p.cells))
