"""SPICE text of a :class:`~xbarsim.netlists.netlist.Netlist`, runnable by ``ngspice -b`` as it is."""

from __future__ import annotations

import numpy as np

from xbarsim.errors import ConfigError
from xbarsim.netlists.netlist import Netlist

__all__ = ["to_spice", "cell_element_name", "resistor_lines", "spice_title"]


def cell_element_name(i: int, j: int) -> str:
    """Name stem of the device element of cell ``(i, j)`` (the model adds the SPICE prefix letter)."""
    return f"cell{i}_{j}"


def resistor_lines(netlist: Netlist, names: list[str]) -> list[str]:
    """One SPICE line per resistor (segments, drivers, sense resistors), ohm with 17 digits."""
    rn = netlist.resistor_nodes
    rv = netlist.resistor_values
    return [f"{netlist.resistor_name(k)} {names[rn[k, 0]]} {names[rn[k, 1]]} {rv[k]:.17g}" for k in range(rv.size)]


def spice_title(title: str | None, default: str) -> str:
    """The title line of a deck: ``title``, or ``default`` when it is None or empty.

    SPICE reads only the first line as the title: a line break in ``title`` would make the rest of it
    circuit lines (an element, ``.end``), so a ConfigError naming ``title`` refuses it.
    """
    if title is None or title == "":
        return default
    if not isinstance(title, str):
        raise ConfigError(f"`title` must be a str (the deck's first line) or None; got {title!r}.")
    if "\n" in title or "\r" in title or len(title.splitlines()) > 1:
        raise ConfigError(f"`title` must be one line (SPICE reads the next line as a circuit line); got {title!r}.")
    return title


def to_spice(netlist: Netlist, index: int | None = 0, *, title: str | None = None) -> str:
    """SPICE text of one operating point (batch entry ``index``) with a ``.op`` analysis, or of every
    operating point of the batch in one deck (``index=None``).

    ``index=None`` on a batch of ``B > 1`` writes the circuit at the first entry's voltages and a
    ``.control`` block that runs ``op`` once per entry (``alter`` sets each source's voltage) and
    prints every source's branch current after an ``echo xbarsim operating point {b}`` line, so
    ``ngspice -b deck.cir`` gives every input vector's currents (ngspice's branch current flows into
    the source's + terminal: the negative of the current it delivers). With one entry, ``index=None``
    is ``index=0``.

    Element names are deterministic and say what each element is: ``Rrow{i}_{j}`` (row segment
    between cells ``(i, j)`` and ``(i, j+1)``), ``Rcol{i}_{j}`` (column segment between ``(i, j)`` and
    ``(i+1, j)``), ``Rdrv_l{i}``/``Rdrv_r{i}`` (row drivers), ``Rsns_b{j}``/``Rsns_t{j}`` (sense
    resistors), ``?cell{i}_{j}`` (the device, prefix letter from the device model), ``Vdrv_l{i}`` etc.
    (sources to ground node ``0``). Open cells (``g == 0``) are omitted. Values are written with 17
    significant digits so that the text round-trips doubles exactly.
    """
    if not isinstance(netlist, Netlist):
        raise ConfigError(f"`netlist` must be a Netlist (from build_netlist(crossbar, bias)); got {type(netlist).__name__}.")
    b = netlist.batch_size
    if index is None:
        if b > 1:
            return _batch_deck(netlist, title)
        index = 0
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -b <= index < b:
        raise ConfigError(f"`index` must be a batch index in [0, {b - 1}] or None (every entry); got {index!r}.")
    m, n = netlist.shape
    names = netlist.node_names()
    out = [spice_title(title, f"xbarsim crossbar {m}x{n} ({netlist.device.name} devices)")]
    out.append(f"* {netlist.n_nodes} nodes, {len(netlist.resistor_values)} resistors, {m * n} cells, "
               f"{len(netlist.source_node)} sources")
    out.extend(resistor_lines(netlist, names))
    g = netlist.conductance
    rows, cols = netlist.row_node, netlist.col_node
    for i in range(m):
        for j in range(n):
            out.extend(netlist.device.spice_element(cell_element_name(i, j), names[rows[i, j]], names[cols[i, j]], float(g[i, j])))
    volts = netlist.source_voltage[index]
    distinct = set(_distinct_sources(netlist))  # once, not per source (quadratic in the sources before)
    for s in range(netlist.source_node.size):
        node = int(netlist.source_node[s])
        if s not in distinct:  # a second source shorted to the same node by ideal wires
            out.append(f"* {netlist.source_name(s)} shares node {names[node]} with an earlier source")
            continue
        out.append(f"{netlist.source_name(s)} {names[node]} 0 DC {volts[s]:.17g}")
    if not netlist.device.linear:
        # ngspice's default Newton tolerances (reltol 1e-3) leave ~1e-8 relative error on nonlinear
        # cells; tighten them so that ngspice is a reference for the sparse solver, not a bound.
        out.append(".options reltol=1e-12 vntol=1e-15 abstol=1e-18")
    out.append(".op")
    out.append(".end")
    return "\n".join(out) + "\n"


def _distinct_sources(netlist: Netlist) -> list[int]:
    """Indices of the sources written as elements: the first on each node (later ones shorted onto
    the same node by ideal wires hold the same voltage and are comments)."""
    _, first = np.unique(netlist.source_node, return_index=True)
    return sorted(int(k) for k in first)


def _batch_deck(netlist: Netlist, title: str | None) -> str:
    """Every operating point of a batch in one deck: a ``.control`` loop of ``alter`` + ``op``."""
    b = netlist.batch_size
    head = to_spice(netlist, index=0, title=title or (
        f"xbarsim crossbar {netlist.shape[0]}x{netlist.shape[1]} ({netlist.device.name} devices), "
        f"{b} operating points"))
    lines = head.rstrip("\n").split("\n")
    assert lines[-2:] == [".op", ".end"]
    lines = lines[:-2]  # the control block runs the analyses
    sources = _distinct_sources(netlist)
    names = [netlist.source_name(s) for s in sources]
    probe = "print " + " ".join(f"i({nm})" for nm in names)
    lines.append(f"* {b} operating points: ngspice -b runs each one and prints every source's branch current")
    lines.append(".control")
    lines.append("set numdgt=15")  # print 15 significant digits, not 6
    for k in range(b):
        if k:
            prev, now = netlist.source_voltage[k - 1], netlist.source_voltage[k]
            lines.extend(f"alter {nm} dc = {now[s]:.17g}" for s, nm in zip(sources, names) if now[s] != prev[s])
        lines.append("op")
        lines.append(f"echo xbarsim operating point {k}")
        lines.append(probe)
        lines.append("destroy all")
    lines.append("quit 0")  # without a dot analysis, ngspice -b would exit 1 ("no simulations run")
    lines.append(".endc")
    lines.append(".end")
    return "\n".join(lines) + "\n"
