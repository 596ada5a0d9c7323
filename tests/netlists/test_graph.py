"""The networkx view of a netlist: node and edge counts derived from the array layout, connectivity."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import pytest

import xbarsim as xb

M, N = 3, 4


def _graph(lines: xb.LineResistance, bias: xb.BiasScheme, g: np.ndarray | None = None) -> nx.MultiGraph:
    g = np.full((M, N), 1e-4) if g is None else g
    return xb.to_graph(xb.build_netlist(xb.Crossbar(conductance=g, lines=lines), bias))


READ = xb.BiasScheme.read(np.array([1.0, 0.5, -0.5]))


def test_resistive_read_counts():
    """Every resistance non-zero, nothing merged: 2MN grid nodes, M driver and N sense nodes, ground;
    M(N-1) + (M-1)N segments, M drivers, N sense resistors, MN cells and M+N sources."""
    graph = _graph(xb.LineResistance.uniform(1.0, driver=10.0, sense=20.0), READ)
    assert graph.number_of_nodes() == 2 * M * N + M + N + 1
    kinds = Counter(kind for _, _, kind in graph.edges(data="kind"))
    assert kinds == {"row_segment": M * (N - 1), "col_segment": (M - 1) * N, "row_driver": M, "col_sense": N,
                     "cell": M * N, "source": M + N}
    assert nx.is_connected(graph)


def test_ideal_wires_merge_each_line_into_one_node():
    """Zero resistance everywhere: each row with its driver is one node, each column with its sense
    node is one node; only cells and sources remain as edges."""
    graph = _graph(xb.LineResistance(), READ)
    assert graph.number_of_nodes() == M + N + 1
    kinds = Counter(kind for _, _, kind in graph.edges(data="kind"))
    assert kinds == {"cell": M * N, "source": M + N}
    # the graph is the complete bipartite graph rows x columns, plus ground joined to all
    simple = nx.Graph(graph)
    simple.remove_node("0")
    assert nx.is_bipartite(simple)
    assert simple.number_of_edges() == M * N


def test_ideal_row_wires_only():
    graph = _graph(xb.LineResistance(row_segment=0.0, col_segment=1.0, row_driver=1.0, col_sense=1.0), READ)
    assert graph.number_of_nodes() == M + M * N + M + N + 1
    kinds = Counter(kind for _, _, kind in graph.edges(data="kind"))
    assert kinds["row_segment"] == 0 and kinds["col_segment"] == (M - 1) * N


def test_edges_join_the_named_nodes_with_their_values():
    rng = np.random.default_rng(7)
    lines = xb.LineResistance(row_segment=rng.uniform(1, 2, (M, N - 1)), col_segment=rng.uniform(1, 2, (M - 1, N)),
                              row_driver=rng.uniform(5, 6, M), col_sense=rng.uniform(7, 8, N))
    g = rng.uniform(1e-5, 1e-4, (M, N))
    graph = _graph(lines, READ, g)
    by_name = {data["name"]: (a, b, data) for a, b, data in graph.edges(data=True)}
    a, b, data = by_name["Rrow1_2"]
    assert {a, b} == {"r1_2", "r1_3"} and data["value"] == lines.row_segment[1, 2]
    a, b, data = by_name["Rcol1_3"]
    assert {a, b} == {"c1_3", "c2_3"} and data["value"] == lines.col_segment[1, 3]
    a, b, data = by_name["Rdrv_l2"]
    assert {a, b} == {"drv_l2", "r2_0"} and data["value"] == lines.row_driver[2]
    a, b, data = by_name["Rsns_b0"]
    assert {a, b} == {"sns_b0", "c2_0"} and data["value"] == lines.col_sense[0]
    a, b, data = by_name["cell2_1"]
    assert {a, b} == {"r2_1", "c2_1"} and data["value"] == g[2, 1]
    a, b, data = by_name["Vdrv_l2"]
    assert {a, b} == {"drv_l2", "0"} and data["value"] == -0.5
    a, b, data = by_name["Vsns_b3"]
    assert {a, b} == {"sns_b3", "0"} and data["value"] == 0.0


def test_open_cells_are_not_edges_and_disconnect_a_floating_column():
    g = np.full((M, N), 1e-4)
    g[:, 2] = 0.0
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(1.0),
                         col_bottom=xb.LineDrive(voltage=0.0, driven=np.array([True, True, False, True])))
    graph = _graph(xb.LineResistance.uniform(1.0), bias, g)
    assert sum(kind == "cell" for _, _, kind in graph.edges(data="kind")) == M * N - M
    grounded = nx.node_connected_component(graph, "0")
    assert set(graph.nodes) - grounded == {f"c{i}_2" for i in range(M)}
    assert nx.number_connected_components(graph) == 2


@pytest.mark.parametrize(("scheme", "n_sources"), [("v/2", M + N), ("v/3", M + N), ("grounded", M + N),
                                                  ("floating", 2)])
def test_write_schemes_drive_the_expected_line_ends(scheme, n_sources):
    graph = _graph(xb.LineResistance.uniform(1.0, driver=2.0, sense=3.0), xb.BiasScheme.write(1, 2, 2.0, scheme))
    sources = {data["name"]: (a, b, data) for a, b, data in graph.edges(data=True) if data["kind"] == "source"}
    assert len(sources) == n_sources
    assert sources["Vdrv_l1"][2]["value"] == 2.0 and sources["Vsns_b2"][2]["value"] == 0.0
    assert nx.is_connected(graph)


def test_ground_is_the_common_reference_of_all_sources():
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(1.0), row_right=xb.LineDrive.at(0.0),
                         col_bottom=xb.LineDrive.at(0.0), col_top=xb.LineDrive.at(0.0))
    graph = _graph(xb.LineResistance.uniform(1.0, driver=1.0, sense=1.0), bias)
    assert graph.degree("0") == 2 * M + 2 * N
    assert {data["end"] for _, _, data in graph.edges("0", data=True)} == {"row_left", "row_right", "col_bottom",
                                                                           "col_top"}
