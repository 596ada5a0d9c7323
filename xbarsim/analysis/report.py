"""The bias-scheme comparison report: programming and reading under V/2, V/3, floating and grounded lines.

:func:`bias_report` runs, for one ``n x n`` array, device preset and wire resistance:

1. programming the far-corner cell under each scheme with the worst-case stored pattern (every other
   cell ON, the selected cell OFF: the most current through the wires, so the most IR drop and the
   largest sneak currents), :func:`~xbarsim.analysis.write.compare_write_schemes`;
2. the selected-cell voltage versus position (every cell for linear devices, by superposition;
   cells on the near-to-far diagonal for nonlinear ones), on the all-ON pattern;
3. the read margin of the far-corner cell under each scheme with the worst-case read patterns,
   versus array size (:func:`~xbarsim.analysis.read.read_margin_curve`), also with an ohmic device
   (the effect of the nonlinearity) and versus wire resistance at the report size.

Everything runs on the chosen backend (``"sparse"`` or ``"ngspice"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._validation import as_float_array, check_size, short_repr
from xbarsim.analysis._common import check_line_progress, positive_voltage
from xbarsim.analysis.read import ReadMarginCurve, read_margin_curve
from xbarsim.analysis.write import (
    SelectedVoltageMap,
    WriteComparison,
    compare_write_schemes,
    diagonal_cells,
    selected_voltage_map,
    terminal_responses,
)
from xbarsim.devices.models import Ohmic
from xbarsim.devices.presets import DevicePreset, tio2_passive
from xbarsim.errors import ConfigError
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance
from xbarsim.solver.api import get_backend
from xbarsim.solver.base import Backend

__all__ = ["BiasReport", "bias_report", "REPORT_SCHEMES"]

#: The four schemes compared, in table order.
REPORT_SCHEMES: tuple[str, ...] = ("v/2", "v/3", "floating", "grounded")


@dataclass(frozen=True, kw_only=True, eq=False)
class BiasReport:
    """Everything :func:`bias_report` computed.

    Attributes
    ----------
    size : int
        ``n`` of the ``n x n`` array.
    preset : str
        Device preset name.
    device : str
        Device law name.
    g_on, g_off : float
        Siemens, the ON and OFF conductances (the preset window).
    lines : LineResistance
        Ohm, the wires (scalar fields).
    v_write, v_read, threshold : float
        Volt.
    write : WriteComparison
        Programming the far-corner cell, worst-case pattern, every scheme.
    profiles : mapping of str to SelectedVoltageMap
        Selected-cell voltage versus position per scheme (all-ON pattern).
    margin_curve : ReadMarginCurve
        Read margin versus size, every scheme, preset device.
    margin_curve_linear : ReadMarginCurve
        The same with an ohmic device (isolates the effect of the nonlinearity).
    margin_vs_wire : mapping of str to tuple of float
        ``{"segments_ohm": [...], "<scheme>": [margin, ...]}``: read margin at the report size
        versus the wire segment resistance (ohm), preset device.
    backend : str
        Backend name.
    timings : mapping of str to float
        Seconds per part.
    """

    __repr__ = compact_repr

    size: int
    preset: str
    device: str
    g_on: float
    g_off: float
    lines: LineResistance
    v_write: float
    v_read: float
    threshold: float
    write: WriteComparison
    profiles: Mapping[str, SelectedVoltageMap]
    margin_curve: ReadMarginCurve
    margin_curve_linear: ReadMarginCurve
    margin_vs_wire: Mapping[str, tuple[float, ...]]
    backend: str
    timings: Mapping[str, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "profiles", MappingProxyType(dict(self.profiles)))
        object.__setattr__(self, "margin_vs_wire",
                           MappingProxyType({k: tuple(v) for k, v in self.margin_vs_wire.items()}))
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))

    def table(self) -> list[dict[str, Any]]:
        """One row per scheme: programming and read metrics (SI units in the key names; None where a
        metric was not computed, as the read margin when `size` is not among the curve's sizes)."""
        rows = []
        k = int(np.flatnonzero(self.margin_curve.sizes == self.size)[0]) if self.size in self.margin_curve.sizes else None
        for w in self.write.results:
            prof = self.profiles[w.scheme]
            _, pv = prof.profile()
            row: dict[str, Any] = {
                "scheme": w.scheme,
                "selected_V": w.selected_voltage,
                "selected_fraction": w.selected_fraction,
                "near_to_far_drop_V": float(pv[0] - pv[-1]) if pv.size else None,  # no profile: not computed
                "half_selected_worst_V": w.half_selected.worst,
                "unselected_worst_V": w.unselected.worst,
                "n_disturbed": w.n_disturbed,
                "driver_current_A": w.total_driver_current,
                "power_W": w.power,
            }
            if k is not None and w.scheme in self.margin_curve.schemes:
                s = self.margin_curve.schemes.index(w.scheme)
                row["read_margin"] = float(self.margin_curve.margin[s, k])
                off = float(self.margin_curve.sensed_off[s, k])
                row["read_sneak_fraction_off"] = float(self.margin_curve.sneak_off[s, k]) / off if off else 0.0
            rows.append(row)
        return rows

    def markdown(self) -> str:
        """The table as markdown, values in readable units; ``-`` for the read margin and sneak share
        when ``size`` is not among the margin curve's sizes (they are not computed then)."""
        cols = [("scheme", "scheme", "{}"), ("selected_V", "V_sel (V)", "{:.3f}"),
                ("selected_fraction", "V_sel/V_w", "{:.1%}"), ("near_to_far_drop_V", "near->far drop (V)", "{:.3f}"),
                ("half_selected_worst_V", "worst half-sel |V|", "{:.3f}"),
                ("unselected_worst_V", "worst unsel |V|", "{:.3f}"),
                ("n_disturbed", f"cells > {self.threshold:.2f} V", "{}"),
                ("driver_current_A", "driver current (mA)", "{:.2f}"), ("power_W", "power (mW)", "{:.2f}"),
                ("read_margin", f"read margin {self.size}x{self.size}", "{:+.3f}"),
                ("read_sneak_fraction_off", "sneak share (OFF read)", "{:.1%}")]
        scale = {"driver_current_A": 1e3, "power_W": 1e3}
        rows = self.table()
        head = "| " + " | ".join(c[1] for c in cols) + " |"
        sep = "|" + "|".join("---" for _ in cols) + "|"
        body = []
        for r in rows:
            cells = []
            for key, _, fmt in cols:
                v = r.get(key)
                if v is None:  # the read margin of a size the margin curve did not include
                    cells.append("-")
                elif isinstance(v, (str, int)):
                    cells.append(str(v))
                else:
                    cells.append(fmt.format(v * scale.get(key, 1.0)))
            body.append("| " + " | ".join(cells) + " |")
        return "\n".join([head, sep, *body])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (SI units)."""
        def curve(c: ReadMarginCurve) -> dict[str, Any]:
            return {"device": c.device, "pattern": c.pattern, "schemes": list(c.schemes), "sizes": c.sizes.tolist(),
                    "margin": c.margin.tolist(), "margin_abs_A": c.margin_abs.tolist(),
                    "sensed_on_A": c.sensed_on.tolist(), "sensed_off_A": c.sensed_off.tolist(),
                    "sneak_off_A": c.sneak_off.tolist(), "ideal_margin": c.ideal_margin}

        profiles = {}
        for s, p in self.profiles.items():
            cells, v = p.profile()
            profiles[s] = {"method": p.method, "cells": cells.tolist(), "selected_V": v.tolist()}
        return {
            "size": self.size, "preset": self.preset, "device": self.device, "g_on_S": self.g_on,
            "g_off_S": self.g_off, "segment_ohm": float(np.asarray(self.lines.row_segment)),
            "driver_ohm": float(np.asarray(self.lines.row_driver)), "sense_ohm": float(np.asarray(self.lines.col_sense)),
            "v_write_V": self.v_write, "v_read_V": self.v_read, "threshold_V": self.threshold,
            "backend": self.backend, "table": self.table(), "profiles": profiles,
            "margin_curve": curve(self.margin_curve), "margin_curve_linear": curve(self.margin_curve_linear),
            "margin_vs_wire": {k: list(v) for k, v in self.margin_vs_wire.items()},
            "timings_s": dict(self.timings),
        }


def bias_report(
    size: int = 128,
    *,
    preset: DevicePreset | None = None,
    lines: LineResistance | None = None,
    v_write: float = 2.0,
    v_read: float | None = None,
    threshold: float | None = None,
    sizes: Sequence[int] = (8, 16, 32, 64, 128, 256),
    segments: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 5.0),
    profile_points: int = 9,
    backend: str | Backend = "sparse",
    progress: Callable[[str], None] | None = None,
) -> BiasReport:
    """The full bias-scheme comparison of an ``size x size`` array (see the module docstring).

    Parameters
    ----------
    size : int
        ``n`` (>= 2).
    preset : DevicePreset, optional
        Default :func:`~xbarsim.devices.presets.tio2_passive`; ON = ``g_max``, OFF = ``g_min``.
    lines : LineResistance, optional
        Ohm, scalar fields; default 1 ohm segments, ideal drivers and sense.
    v_write : float
        Volt (> 0), the SET pulse amplitude.
    v_read : float, optional
        Volt (> 0); default the preset's read voltage.
    threshold : float, optional
        Volt, disturb threshold (default the lower threshold of the calibrated switching law).
    sizes : sequence of int
        Array sizes of the read-margin curves.
    segments : sequence of float
        Ohm, wire segment resistances of the margin-versus-wire sweep (at ``size``).
    profile_points : int
        Nonlinear devices: selections on the near-to-far diagonal per scheme (>= 2).
    backend : str or Backend
        ``"sparse"`` or ``"ngspice"`` (every solve of the report goes through it).
    progress : callable, optional
        Called with one line of text per step.

    Returns
    -------
    BiasReport
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise ConfigError(f"`size` must be an int >= 2; got {short_repr(size)}.")
    check_size((int(size), int(size)), "size")
    sz = np.asarray(sizes)
    if sz.ndim != 1 or sz.size < 1 or sz.dtype.kind not in "iu" or (sz < 2).any():
        raise ConfigError(f"`sizes` must be a non-empty sequence of ints >= 2; got {short_repr(sizes)}.")
    for n in sz:  # checked before the write solves, not at step 3
        check_size((int(n), int(n)), "sizes")
    if isinstance(profile_points, bool) or not isinstance(profile_points, (int, np.integer)) or profile_points < 2:
        raise ConfigError(f"`profile_points` must be an int >= 2; got {short_repr(profile_points)}.")
    pre = tio2_passive() if preset is None else preset
    if not isinstance(pre, DevicePreset):
        raise ConfigError(f"`preset` must be a DevicePreset; got {type(pre).__name__}.")
    ln = LineResistance.uniform(1.0) if lines is None else lines
    if not isinstance(ln, LineResistance):
        raise ConfigError(f"`lines` must be a LineResistance; got {type(ln).__name__}.")
    vw = positive_voltage(v_write, "v_write")
    vr = pre.read_voltage if v_read is None else positive_voltage(v_read, "v_read")
    # before: text raised float()'s ValueError, a scalar TypeError ('float' object is not iterable)
    seg_arr = as_float_array(segments, "segments", what="sequence of non-negative resistances in ohm", min_value=0.0)
    if seg_arr.ndim != 1:
        raise ConfigError(f"`segments` must be a sequence of non-negative resistances in ohm; got {short_repr(segments)}.")
    segs = [float(s) for s in seg_arr]
    be = get_backend(backend)
    say = check_line_progress(progress) or (lambda _msg: None)
    n = int(size)
    g_on, g_off = pre.g_max, pre.g_min
    timings: dict[str, float] = {}

    t = time.perf_counter()
    say(f"[1/4] programming the far-corner cell of a {n}x{n} array, 4 schemes, worst-case pattern")
    g = np.full((n, n), g_on)
    g[0, n - 1] = g_off
    cb = Crossbar(conductance=g, lines=ln, device=pre.device)
    write = compare_write_schemes(cb, vw, schemes=REPORT_SCHEMES, threshold=threshold, backend=be)
    timings["write"] = time.perf_counter() - t

    t = time.perf_counter()
    cb_on = replace(cb, conductance=np.full((n, n), g_on))
    profiles: dict[str, SelectedVoltageMap] = {}
    if cb_on.device.linear:
        say(f"[2/4] selected-cell voltage map (superposition of {2 * n} unit solves)")
        resp = terminal_responses(cb_on, backend=be)
        for s in REPORT_SCHEMES:
            profiles[s] = selected_voltage_map(cb_on, vw, s, backend=be, responses=resp)  # type: ignore[arg-type]
    else:
        cells = diagonal_cells((n, n), profile_points)
        say(f"[2/4] selected-cell voltage from near to far corner ({len(cells)} selections per scheme)")
        for s in REPORT_SCHEMES:
            profiles[s] = selected_voltage_map(cb_on, vw, s, cells=cells, backend=be)  # type: ignore[arg-type]
    timings["profile"] = time.perf_counter() - t

    t = time.perf_counter()
    say(f"[3/4] read margin versus size {list(sizes)} ({pre.device.name} and ohmic devices)")
    curve = read_margin_curve(sizes, g_on=g_on, g_off=g_off, v_read=vr, schemes=REPORT_SCHEMES,
                              lines=ln, device=pre.device, backend=be, progress=lambda m: say("      " + m))
    if pre.device.linear:
        linear = curve
    else:
        linear = read_margin_curve(sizes, g_on=g_on, g_off=g_off, v_read=vr, schemes=REPORT_SCHEMES,
                                   lines=ln, device=Ohmic(), backend=be)
    timings["read_margin"] = time.perf_counter() - t

    t = time.perf_counter()
    say(f"[4/4] read margin versus wire resistance at {n}x{n}: {segs} ohm")
    wire: dict[str, list[float]] = {"segments_ohm": segs}
    for s in REPORT_SCHEMES:
        wire[s] = []
    for seg in segs:
        lw = replace(ln, row_segment=seg, col_segment=seg)
        c = read_margin_curve([n], g_on=g_on, g_off=g_off, v_read=vr, schemes=REPORT_SCHEMES,
                              lines=lw, device=pre.device, backend=be)
        for k, s in enumerate(REPORT_SCHEMES):
            wire[s].append(float(c.margin[k, 0]))
    timings["read_vs_wire"] = time.perf_counter() - t
    timings["total"] = sum(timings.values())
    return BiasReport(size=n, preset=pre.name, device=pre.device.name, g_on=g_on, g_off=g_off, lines=ln, v_write=vw,
                      v_read=vr, threshold=write.results[0].threshold, write=write, profiles=profiles,
                      margin_curve=curve, margin_curve_linear=linear,
                      margin_vs_wire={k: tuple(v) for k, v in wire.items()}, backend=be.name,
                      timings=timings)
