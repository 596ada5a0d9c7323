"""Connectivity checks every backend runs before solving: a singular circuit becomes a diagnosis."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from xbarsim._typing import IntArray
from xbarsim.errors import CircuitError
from xbarsim.netlists.graph import GROUND, to_graph
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver._grid import GridLayout
from xbarsim.solver.solution import element_arrays

__all__ = ["floating_nodes", "floating_islands", "check_floating", "check_floating_grid", "GRAPH_MAX_NODES"]


def floating_nodes(netlist: Netlist) -> IntArray:
    """Nodes with no conductive path to any source (open cells, ``g = 0``, conduct nothing)."""
    a, b = element_arrays(netlist)
    g = np.concatenate([1.0 / netlist.resistor_values, netlist.conductance.ravel()])
    live = g > 0
    n = netlist.n_nodes
    ground = n  # every source is referenced to ground: join the fixed nodes through it
    src = np.unique(netlist.source_node)
    rows = np.concatenate([a[live], src])
    cols = np.concatenate([b[live], np.full(src.size, ground)])
    adj = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n + 1, n + 1))
    _, labels = connected_components(adj, directed=False)
    return np.flatnonzero(labels[:n] != labels[ground])


#: Up to this many nodes, :func:`floating_islands` searches the graph view (:func:`~xbarsim.netlists.to_graph`);
#: larger netlists group the same islands from the sparse connectivity labels (building a networkx
#: graph of a million cells takes seconds, too long for an error message).
GRAPH_MAX_NODES = 100_000
#: Islands and nodes per island a CircuitError names.
_SHOW_ISLANDS, _SHOW_NODES = 5, 6


def _line_of(name: str) -> str:
    """The line a node name belongs to: ``r3_1``/``drv_l3`` -> ``row 3``; ``c0_2``/``sns_b2`` -> ``column 2``."""
    if name.startswith(("drv_l", "drv_r")):
        return f"row {name[5:]}"
    if name.startswith(("sns_b", "sns_t")):
        return f"column {name[5:]}"
    i, j = name[1:].split("_")
    return f"row {i}" if name[0] == "r" else f"column {j}"


def floating_islands(netlist: Netlist) -> list[list[str]]:
    """The floating nodes grouped into islands: sets of nodes joined by conducting elements to one
    another but not to any source. Each island is a list of node names (in node order); islands are
    ordered by their first node. Found on the graph view of the netlist (open cells conduct nothing),
    or, beyond :data:`GRAPH_MAX_NODES`, from the same connectivity by scipy.
    """
    floating = floating_nodes(netlist)
    if floating.size == 0:
        return []
    names = netlist.node_names() if netlist.n_nodes <= GRAPH_MAX_NODES else None
    if names is not None:
        import networkx as nx  # core dependency, imported where used (`import xbarsim` needs numpy and scipy only)

        order = {name: k for k, name in enumerate(names)}
        graph = to_graph(netlist)
        rest = graph.subgraph(set(graph.nodes) - nx.node_connected_component(graph, GROUND))
        islands = [sorted(island, key=order.__getitem__) for island in nx.connected_components(rest)]
        return sorted(islands, key=lambda island: order[island[0]])
    a, b = element_arrays(netlist)
    g = np.concatenate([1.0 / netlist.resistor_values, netlist.conductance.ravel()])
    is_float = np.zeros(netlist.n_nodes, dtype=bool)
    is_float[floating] = True
    inner = (g > 0) & is_float[a] & is_float[b]
    pos = np.full(netlist.n_nodes, -1, dtype=np.int64)
    pos[floating] = np.arange(floating.size)
    adj = sp.coo_matrix((np.ones(int(inner.sum())), (pos[a[inner]], pos[b[inner]])), shape=(floating.size,) * 2)
    _, labels = connected_components(adj, directed=False)
    groups: dict[int, list[str]] = {}
    for k, lab in zip(floating, labels):
        groups.setdefault(int(lab), []).append(netlist.node_name(int(k)))
    return list(groups.values())


def check_floating(netlist: Netlist) -> None:
    """Raise :class:`CircuitError` naming the floating islands (the lines each touches and up to six
    of its nodes; up to five islands), if there are any."""
    if not floating_nodes(netlist).size:
        return
    islands = floating_islands(netlist)
    count = sum(len(island) for island in islands)
    parts = []
    for k, island in enumerate(islands[:_SHOW_ISLANDS], 1):
        lines = list(dict.fromkeys(_line_of(name) for name in island))
        shown = ", ".join(island[:_SHOW_NODES]) + (f" and {len(island) - _SHOW_NODES} more" if len(island) > _SHOW_NODES else "")
        where = ", ".join(lines[:4]) + (f" and {len(lines) - 4} more lines" if len(lines) > 4 else "")
        parts.append(f"island {k} ({where}): {shown}")
    if len(islands) > _SHOW_ISLANDS:
        parts.append(f"and {len(islands) - _SHOW_ISLANDS} more islands")
    raise CircuitError(
        f"the circuit is singular: {count} node(s) in {len(islands)} island(s) have no conductive path to a "
        f"driven line end (floating): {'; '.join(parts)}. Drive a line end connected to them or give their "
        "cells a non-zero conductance."
    )


def check_floating_grid(netlist: Netlist, layout: GridLayout) -> None:
    """:func:`check_floating` for a grid-layout netlist, proved without a graph search where it can be.

    With every wire conductance positive and finite, every node of a row (column) wire is connected
    to the whole wire; if every row wire and every column wire has a driven end, no node floats
    whatever the cells. Otherwise the general check runs.
    """
    m, n = layout.m, layout.n
    mn = m * n
    wires_ok = all(bool((np.isfinite(g) & (g > 0)).all()) for g in (layout.g_row_seg, layout.g_col_seg, layout.src_g))
    if wires_ok:
        at = layout.src_attach
        on_row = at < mn
        rows = np.zeros(m, dtype=bool)
        rows[at[on_row] // n] = True
        cols = np.zeros(n, dtype=bool)
        cols[(at[~on_row] - mn) % n] = True
        if rows.all() and cols.all():
            return
    check_floating(netlist)
