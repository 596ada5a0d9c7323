"""A networkx view of a netlist, for connectivity checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xbarsim.errors import ConfigError
from xbarsim.netlists.netlist import END_NAMES, Netlist

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["to_graph", "GROUND"]

#: Name of the ground node in the graph view (SPICE node ``0``).
GROUND = "0"


def to_graph(netlist: Netlist) -> nx.MultiGraph:
    """A :class:`networkx.MultiGraph` with one node per circuit node (by name) plus ``"0"`` (ground).

    Edges carry ``kind`` (``"row_segment"``, ``"col_segment"``, ``"row_driver"``, ``"col_sense"``,
    ``"cell"`` or ``"source"``), ``name`` and ``value`` (ohm for resistors, siemens for cells, volt for
    sources, first batch entry). Open cells (``g == 0``) conduct nothing and are left out, so
    ``nx.node_connected_component(graph, "0")`` is exactly the set of nodes with a path to a source.
    """
    if not isinstance(netlist, Netlist):
        raise ConfigError(f"`netlist` must be a Netlist (from build_netlist(crossbar, bias)); got {type(netlist).__name__}.")
    import networkx as nx  # optional-weight import: `import xbarsim` needs only numpy and scipy

    kinds = ("row_segment", "col_segment", "row_driver", "col_sense")
    names = netlist.node_names()
    g = nx.MultiGraph()
    g.add_node(GROUND)
    g.add_nodes_from(names)
    for k, (a, b) in enumerate(netlist.resistor_nodes):
        g.add_edge(names[a], names[b], kind=kinds[netlist.resistor_kind[k]], name=netlist.resistor_name(k),
                   value=float(netlist.resistor_values[k]))
    m, n = netlist.shape
    for i in range(m):
        for j in range(n):
            gij = float(netlist.conductance[i, j])
            if gij > 0:
                g.add_edge(names[netlist.row_node[i, j]], names[netlist.col_node[i, j]], kind="cell",
                           name=f"cell{i}_{j}", value=gij)
    for s, node in enumerate(netlist.source_node):
        g.add_edge(names[node], GROUND, kind="source", name=netlist.source_name(s),
                   value=float(netlist.source_voltage[0, s]), end=END_NAMES[netlist.source_end[s]])
    return g
