"""SPICE text of a :class:`~xbarsim.netlists.netlist.Netlist`, runnable by ``ngspice -b`` as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from xbarsim.errors import ConfigError

if TYPE_CHECKING:
    from xbarsim.netlists.netlist import Netlist

__all__ = ["to_spice", "cell_element_name"]


def cell_element_name(i: int, j: int) -> str:
    """Name stem of the device element of cell ``(i, j)`` (the model adds the SPICE prefix letter)."""
    return f"cell{i}_{j}"


def to_spice(netlist: Netlist, index: int = 0, *, title: str | None = None) -> str:
    """SPICE text of one operating point (batch entry ``index``) with a ``.op`` analysis.

    Element names are deterministic and say what each element is: ``Rrow{i}_{j}`` (row segment
    between cells ``(i, j)`` and ``(i, j+1)``), ``Rcol{i}_{j}`` (column segment between ``(i, j)`` and
    ``(i+1, j)``), ``Rdrv_l{i}``/``Rdrv_r{i}`` (row drivers), ``Rsns_b{j}``/``Rsns_t{j}`` (sense
    resistors), ``?cell{i}_{j}`` (the device, prefix letter from the device model), ``Vdrv_l{i}`` etc.
    (sources to ground node ``0``). Open cells (``g == 0``) are omitted. Values are written with 17
    significant digits so that the text round-trips doubles exactly.
    """
    b = netlist.batch_size
    if not isinstance(index, (int, np.integer)) or not -b <= index < b:
        raise ConfigError(f"`index` must be a batch index in [0, {b - 1}]; got {index!r}.")
    m, n = netlist.shape
    names = netlist.node_names()
    out = [title or f"xbarsim crossbar {m}x{n} ({netlist.device.name} devices)"]
    out.append(f"* {netlist.n_nodes} nodes, {len(netlist.resistor_values)} resistors, {m * n} cells, "
               f"{len(netlist.source_node)} sources")
    rn = netlist.resistor_nodes
    rv = netlist.resistor_values
    out.extend(
        f"{netlist.resistor_name(k)} {names[rn[k, 0]]} {names[rn[k, 1]]} {rv[k]:.17g}" for k in range(rv.size)
    )
    g = netlist.conductance
    rows, cols = netlist.row_node, netlist.col_node
    for i in range(m):
        for j in range(n):
            out.extend(netlist.device.spice_element(cell_element_name(i, j), names[rows[i, j]], names[cols[i, j]], float(g[i, j])))
    seen: set[int] = set()
    volts = netlist.source_voltage[index]
    for s in range(netlist.source_node.size):
        node = int(netlist.source_node[s])
        if node in seen:  # a second source shorted to the same node by ideal wires (same voltage)
            out.append(f"* {netlist.source_name(s)} shares node {names[node]} with an earlier source")
            continue
        seen.add(node)
        out.append(f"{netlist.source_name(s)} {names[node]} 0 DC {volts[s]:.17g}")
    if not netlist.device.linear:
        # ngspice's default Newton tolerances (reltol 1e-3) leave ~1e-8 relative error on nonlinear
        # cells; tighten them so that ngspice is a reference for the sparse solver, not a bound.
        out.append(".options reltol=1e-12 vntol=1e-15 abstol=1e-18")
    out.append(".op")
    out.append(".end")
    return "\n".join(out) + "\n"
