"""Floating islands: the CircuitError names each island, found on the graph view."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.errors import CircuitError
from xbarsim.solver import topology


def _one_island() -> tuple[xb.Netlist, list[set[str]]]:
    """A 4x4 array with resistive wires, rows 0-2 driven at the left, columns 1 and 3 undriven; column
    1's cells are all open (an island of its own); column 3 and row 3 hang on driven lines."""
    g = np.full((4, 4), 1e-4)
    g[:, 1] = 0.0
    g[:3, 3] = 0.0
    bias = xb.BiasScheme(row_left=xb.LineDrive(voltage=1.0, driven=[True, True, True, False]),
                         col_bottom=xb.LineDrive(voltage=0.0, driven=[True, False, True, False]))
    net = xb.build_netlist(xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0, driver=1.0, sense=1.0)),
                           bias)
    col1 = {f"c{i}_1" for i in range(4)}
    # row 3 is undriven but its cells to columns 0 and 2 (driven) conduct: it is not floating. Column 3
    # hangs on row 3 through cell (3, 3): connected to a source, so not floating either.
    return net, [col1]


def test_islands_by_hand():
    net, expected = _one_island()
    islands = topology.floating_islands(net)
    assert [set(i) for i in islands] == expected


def test_two_separate_islands_are_named_with_their_lines():
    g = np.full((4, 4), 1e-4)
    g[:, 1] = 0.0  # column 1: no conducting cell
    g[:, 3] = 0.0
    g[2, 3] = 1e-4  # column 3 (undriven) touches only row 2 (undriven) ...
    g[2, [0, 2]] = 0.0  # ... whose cells to the driven columns are open: row 2 and column 3 form one island
    bias = xb.BiasScheme(row_left=xb.LineDrive(voltage=1.0, driven=[True, True, False, True]),
                         col_bottom=xb.LineDrive(voltage=0.0, driven=[True, False, True, False]))
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0))
    net = xb.build_netlist(cb, bias)
    islands = topology.floating_islands(net)
    assert [set(i) for i in islands] == [  # ordered by their first node: row nodes come before column nodes
        {f"r2_{j}" for j in range(4)} | {f"c{i}_3" for i in range(4)},
        {f"c{i}_1" for i in range(4)},
    ]
    for backend, nodes in (("sparse", 12), ("ideal", 3)):  # the ideal backend's lines are one node each
        with pytest.raises(CircuitError, match="floating") as info:
            xb.solve(cb, bias, backend)
        msg = str(info.value)
        assert f"{nodes} node(s) in 2 island(s)" in msg, msg
        assert "island 1 (row 2, column 3)" in msg and "island 2 (column 1)" in msg, msg


def test_graph_and_sparse_grouping_agree(monkeypatch, rng):
    """Beyond GRAPH_MAX_NODES the islands come from scipy's labels: the same islands as the graph's."""
    for _ in range(20):
        g = rng.uniform(1e-6, 1e-4, (5, 6)) * (rng.random((5, 6)) < 0.35)
        bias = xb.BiasScheme(row_left=xb.LineDrive(voltage=1.0, driven=rng.random(5) < 0.5),
                             col_bottom=xb.LineDrive(voltage=0.0, driven=rng.random(6) < 0.5))
        net = xb.build_netlist(xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0)), bias)
        by_graph = sorted(map(sorted, topology.floating_islands(net)))
        monkeypatch.setattr(topology, "GRAPH_MAX_NODES", 0)
        by_labels = sorted(map(sorted, topology.floating_islands(net)))
        monkeypatch.undo()
        assert by_graph == by_labels
        assert sum(map(len, by_graph)) == topology.floating_nodes(net).size


def test_solvable_circuit_has_no_islands():
    net = xb.build_netlist(xb.Crossbar(conductance=np.full((3, 3), 1e-4)), xb.BiasScheme.read([1.0, 0.0, 0.5]))
    assert topology.floating_islands(net) == []
    topology.check_floating(net)
