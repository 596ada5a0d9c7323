"""Connectivity checks every backend runs before solving: a singular circuit becomes a diagnosis."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from xbarsim._typing import IntArray
from xbarsim.errors import CircuitError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver._grid import GridLayout
from xbarsim.solver.solution import element_arrays

__all__ = ["floating_nodes", "check_floating", "check_floating_grid"]


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


def check_floating(netlist: Netlist) -> None:
    """Raise :class:`CircuitError` naming (up to ten) floating nodes, if there are any."""
    floating = floating_nodes(netlist)
    if floating.size:
        names = [netlist.node_name(int(k)) for k in floating[:10]]
        more = f" and {floating.size - 10} more" if floating.size > 10 else ""
        raise CircuitError(
            f"the circuit is singular: {floating.size} node(s) have no conductive path to a driven line end "
            f"(floating): {', '.join(names)}{more}. Drive a line end connected to them or give their cells "
            "a non-zero conductance."
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
