"""A crossbar of dynamic devices driven by time-dependent sources: the input of a transient analysis.

:func:`build_transient` turns a crossbar, a bias scheme, a dynamic device model and waveforms into
a :class:`TransientCircuit`: the static :class:`~xbarsim.netlists.netlist.Netlist` (wires,
sources, cells at their initial conductance), the initial state of every cell, one PWL waveform
per source in volt, and optional node capacitances. :func:`transient_to_spice` writes it as
SPICE text with a ``.tran`` analysis that ``ngspice -b`` runs as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from xbarsim._typing import ArrayLike, FloatArray
from xbarsim._validation import as_float_array, readonly, scalar
from xbarsim.devices.dynamic import DynamicDevice
from xbarsim.errors import ConfigError
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.netlist import END_NAMES, Netlist, build_netlist, check_shorted_sources
from xbarsim.netlists.spice import cell_element_name, resistor_lines, spice_title
from xbarsim.netlists.waveforms import PWL, LineCapacitance, Pulse

__all__ = ["TransientCircuit", "build_transient", "transient_to_spice", "IntegrationMethod", "check_state"]

#: Time integration rule: backward Euler or trapezoidal.
IntegrationMethod = Literal["be", "trap"]


@dataclass(frozen=True, kw_only=True, eq=False)
class TransientCircuit:
    """A crossbar of dynamic cells under time-dependent sources. Build it with :func:`build_transient`.

    Attributes
    ----------
    netlist : Netlist
        Unbatched static netlist; its ``conductance`` is ``model.conductance(state0)`` and its
        ``source_voltage`` the DC bias the waveforms scale.
    model : DynamicDevice
        Device dynamics of every cell.
    state0 : ndarray, shape (M, N)
        Initial state of every cell, in ``[0, 1]``.
    waveforms : tuple of PWL
        Volt, the voltage of each source over time (one per ``netlist.source_node`` entry).
    node_capacitance : ndarray, shape (n_nodes,)
        Farad to ground at every node (zeros without line capacitance).
    """

    netlist: Netlist
    model: DynamicDevice
    state0: FloatArray
    waveforms: tuple[PWL, ...]
    node_capacitance: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "state0", readonly(self.state0))
        object.__setattr__(self, "node_capacitance", readonly(self.node_capacitance))

    @property
    def breakpoints(self) -> FloatArray:
        """Second, sorted union of every waveform's corners."""
        cached = self.__dict__.get("_breakpoints_cache")
        if cached is None:
            cached = readonly(np.unique(np.concatenate([w.breakpoints for w in self.waveforms] or [np.zeros(1)])))
            object.__setattr__(self, "_breakpoints_cache", cached)
        return cached

    @property
    def end_time(self) -> float:
        """Second, last corner of any waveform."""
        return float(self.breakpoints[-1])

    def source_voltages(self, t: FloatArray | float) -> FloatArray:
        """Volt, every source's voltage at time(s) ``t``: shape ``(S,)`` or ``(T, S)``."""
        knots = self.breakpoints
        table = self._table()
        tt = np.clip(np.asarray(t, dtype=np.float64), 0.0, knots[-1])
        k = np.clip(np.searchsorted(knots, tt, side="right") - 1, 0, max(knots.size - 2, 0))
        if knots.size == 1:
            return table[np.zeros(np.shape(tt), np.int64)]
        lam = ((tt - knots[k]) / (knots[k + 1] - knots[k]))[..., None]
        return table[k] * (1 - lam) + table[k + 1] * lam

    def _table(self) -> FloatArray:
        """Every waveform's value at every breakpoint, (K, S) (PWL waveforms are linear in between)."""
        cached = self.__dict__.get("_table_cache")
        if cached is None:
            knots = self.breakpoints
            cached = np.stack([w(knots) for w in self.waveforms], axis=1) if self.waveforms else np.zeros((knots.size, 0))
            object.__setattr__(self, "_table_cache", cached)
        return cached

    def with_state(self, state: FloatArray) -> TransientCircuit:
        """The same circuit started from another state (e.g. the end of a previous pulse)."""
        w = check_state(state, self.netlist.shape)
        g = self.model.conductance(w)
        return dataclasses.replace(self, netlist=dataclasses.replace(self.netlist, conductance=g), state0=w)


def check_state(state: ArrayLike, shape: tuple[int, int]) -> FloatArray:
    """``state`` as an (M, N) float array in ``[0, 1]``; ConfigError naming ``state0`` otherwise."""
    w = as_float_array(state, "state0", what="device state in [0, 1]")
    if w.shape != shape:
        raise ConfigError(f"`state0` must have the crossbar's shape {shape}; got {w.shape}.")
    bad = (w < 0.0) | (w > 1.0)
    if bad.any():
        raise ConfigError(f"`state0` must lie in the state window [0, 1]; got {float(w[bad].ravel()[0])!r} "
                          "(an out-of-window state).")
    return w


def build_transient(
    crossbar: Crossbar,
    bias: BiasScheme,
    model: DynamicDevice,
    waveform: PWL | Pulse,
    *,
    state0: FloatArray | None = None,
    overrides: Mapping[tuple[str, int], PWL | Pulse] | None = None,
    capacitance: LineCapacitance | None = None,
) -> TransientCircuit:
    """A transient circuit: every source's DC bias voltage times ``waveform``.

    Parameters
    ----------
    crossbar : Crossbar
        Wires and the initial conductances (``state0`` is ``model.state(conductance)`` unless given);
        its device law is replaced by ``model.static_law``.
    bias : BiasScheme
        Unbatched; which ends are driven and at what (peak) voltage.
    model : DynamicDevice
        The cells' dynamics.
    waveform : PWL or Pulse
        Dimensionless shape: source ``s`` is at ``V_s * waveform(t)``.
    state0 : ndarray (M, N), optional
        Initial states in ``[0, 1]``.
    overrides : mapping, optional
        ``{(end, line): waveform in volt}`` replacing the scaled waveform of single line ends
        (``end`` one of ``"row_left", "row_right", "col_bottom", "col_top"``; the end must be driven).
    capacitance : LineCapacitance, optional
        Farad, wire capacitance to ground.

    Raises
    ------
    ConfigError
        Batched bias, out-of-window states, an override of an undriven end, bad waveforms.
    CircuitError
        If ideal wires short two sources whose voltages differ at some time (an override of one of them).
    """
    if not isinstance(model, DynamicDevice):
        raise ConfigError(f"`model` must be a DynamicDevice (e.g. xbarsim.devices.Vteam); got {type(model).__name__}.")
    if bias.batch_size is not None:
        raise ConfigError(f"`bias` must be unbatched for a transient analysis; got a batch of {bias.batch_size}.")
    cells = getattr(model, "cell_shape", None)
    if cells is not None and tuple(cells) != crossbar.shape:
        raise ConfigError(f"`model` has per-cell parameters of shape {tuple(cells)}, which must match the crossbar's "
                          f"shape {crossbar.shape}.")
    w0 = model.state(crossbar.conductance) if state0 is None else check_state(state0, crossbar.shape)
    xb = dataclasses.replace(crossbar, conductance=model.conductance(w0), device=model.static_law)
    net = build_netlist(xb, bias)
    shape = _as_pwl(waveform, "waveform")
    waves = [shape.scaled(v) for v in net.source_voltage[0]]
    for key, wave in (overrides or {}).items():
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] in END_NAMES
                and isinstance(key[1], int | np.integer) and not isinstance(key[1], bool)):
            raise ConfigError(f"`overrides` keys must be (end, line) with end in {END_NAMES} and line an int; "
                              f"got {key!r}.")
        hit = np.flatnonzero((net.source_end == END_NAMES.index(key[0])) & (net.source_line == key[1]))
        if hit.size == 0:
            raise ConfigError(f"`overrides` names {key!r}, which is not a driven line end of this bias.")
        waves[int(hit[0])] = _as_pwl(wave, f"overrides[{key!r}]")
    if overrides and np.unique(net.source_node).size < net.source_node.size:
        # sources on one node (ideal wires) must agree at every time, as build_netlist checks their DC
        # voltages: both backends drive the node by its first source and would drop the other's waveform.
        # PWL waveforms are linear between corners, so agreeing at every corner is agreeing everywhere.
        knots = np.unique(np.concatenate([w.breakpoints for w in waves]))
        check_shorted_sources(net.source_node, np.stack([w(knots) for w in waves], axis=1), net.source_end,
                              net.source_line)
    m, n = crossbar.shape
    cap = np.zeros(net.n_nodes)
    if capacitance is not None:
        if not isinstance(capacitance, LineCapacitance):
            raise ConfigError(f"`capacitance` must be a LineCapacitance; got {type(capacitance).__name__}.")
        crow, ccol = capacitance.node_capacitance(m, n)
        np.add.at(cap, net.row_node.ravel(), crow.ravel())
        np.add.at(cap, net.col_node.ravel(), ccol.ravel())
    return TransientCircuit(netlist=net, model=model, state0=w0, waveforms=tuple(waves), node_capacitance=cap)


def _as_pwl(wave: PWL | Pulse, name: str) -> PWL:
    if isinstance(wave, Pulse):
        return wave.to_pwl()
    if isinstance(wave, PWL):
        return wave
    raise ConfigError(f"`{name}` must be a PWL or a Pulse; got {type(wave).__name__}.")


def transient_to_spice(circuit: TransientCircuit, *, step: float, stop: float, method: IntegrationMethod,
                       title: str | None = None) -> str:
    """SPICE text with ``.tran step stop 0 step`` that ``ngspice -b`` runs as it is.

    ``method="be"`` is ngspice's trapezoidal integrator limited to first order (``maxord=1``:
    backward Euler everywhere); ``"trap"`` is its trapezoidal rule, which takes a backward-Euler
    step first and after every breakpoint (waveform corner). The state of cell ``(i, j)`` is the
    voltage of node ``w{i}_{j}``, held at its initial value by ``.ic`` during the operating point.
    ``trtol`` is set high so that the step is bounded by ``step`` and the breakpoints rather than
    by ngspice's truncation-error estimate, and the Newton tolerances are tightened (``reltol=1e-10``:
    at 1e-12 ngspice's Newton fails on sinh cells and it cuts its step over and over), so ngspice
    solves the discretised equations to ~1e-11 and its accepted time points can be replayed by
    another solver.
    """
    if not isinstance(circuit, TransientCircuit):
        raise ConfigError(f"`circuit` must be a TransientCircuit (from build_transient); got {type(circuit).__name__}.")
    net = circuit.netlist
    m, n = net.shape
    if method not in ("be", "trap"):
        raise ConfigError(f"`method` must be 'be' or 'trap'; got {method!r}.")
    # ngspice refuses a .tran with a step or stop time <= 0 ("Error on line ..."): refuse it here
    step = scalar(step, "step", what="positive time in seconds", positive=True)
    stop = scalar(stop, "stop", what="positive time in seconds", positive=True)
    names = net.node_names()
    out = [spice_title(title, f"xbarsim transient {m}x{n} ({circuit.model.name} devices)")]
    out.append(f"* {net.n_nodes} nodes, {m * n} dynamic cells (state nodes w<i>_<j>), {net.source_node.size} sources")
    out.extend(resistor_lines(net, names))
    rows, cols = net.row_node, net.col_node
    for i in range(m):
        for j in range(n):
            out.extend(circuit.model.spice_cell(cell_element_name(i, j), names[rows[i, j]], names[cols[i, j]], f"w{i}_{j}",
                                                cell=(i, j)))
    seen: set[int] = set()
    for s in range(net.source_node.size):
        node = int(net.source_node[s])
        if node in seen:
            out.append(f"* {net.source_name(s)} shares node {names[node]} with an earlier source")
            continue
        seen.add(node)
        out.append(f"{net.source_name(s)} {names[node]} 0 {circuit.waveforms[s].spice()}")
    for k in np.flatnonzero(circuit.node_capacitance > 0):
        out.append(f"Cline_{names[k]} {names[k]} 0 {circuit.node_capacitance[k]:.17g}")
    w0 = circuit.state0
    out.extend(f".ic v(w{i}_{j})={w0[i, j]:.17g}" for i in range(m) for j in range(n))
    maxord = 1 if method == "be" else 2
    out.append(f".options reltol=1e-10 vntol=1e-15 abstol=1e-18 trtol=1e6 itl4=100 method=trap maxord={maxord}")
    out.append(f".tran {step:.17g} {stop:.17g} 0 {step:.17g}")
    # `ngspice -b` runs a .tran only with an output request; one state keeps the listing short
    out.append(".print tran v(w0_0)")
    out.append(".end")
    return "\n".join(out) + "\n"
