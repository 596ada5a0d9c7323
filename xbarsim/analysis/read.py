"""Reading one cell: sensed current, its sneak-path part and the read margin versus array size.

The selected row is driven at ``v_read`` from its left end; the selected column is held at 0 V at its
bottom end by the sense amplifier (a virtual ground behind the column's sense resistance), and the
current flowing into it is the *sensed current*. Unselected lines are biased by the read scheme:

==============  =========================  =============================
scheme          unselected rows            unselected columns
==============  =========================  =============================
``"floating"``  floating                   floating
``"grounded"``  0 V                        0 V
``"v/2"``       ``v_read / 2``             ``v_read / 2``
``"v/3"``       ``v_read / 3``             ``2 v_read / 3``
``"biased"``    ``v_bias[0]``              ``v_bias[1]``
==============  =========================  =============================

The *sneak current* is the part of the sensed current that did not flow through the selected cell:
``sensed - cell``, i.e. the current the other cells of the selected column deliver into it.

Read margin
-----------
``margin = (I_on - I_off) / I_on`` with ``I_on`` (``I_off``) the sensed current when the selected
cell is ON (OFF). An isolated cell gives the ideal ``1 - I(g_off) / I(g_on)``; a margin at or below
0 means no fixed reference current can tell ON from OFF. The default worst-case pattern
(``pattern="worst"``, Flocke and Noll's, also the usual one for passive arrays) reads the ON cell
with every other cell OFF (least sneak current added to ``I_on``) and the OFF cell with every other
cell ON (most sneak current added to ``I_off``): the two extremes a single reference must separate.
``"all-on"`` reads both states with every other cell ON, ``"all-off"`` with every other cell OFF.
The selected cell defaults to the far corner ``(0, N - 1)``, the one with the worst IR drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from xbarsim._repr import compact_repr, text_table
from xbarsim._typing import FloatArray, IntArray
from xbarsim._validation import as_float_array, check_choice, check_size, readonly, short_repr
from xbarsim.analysis._common import (
    check_cell,
    check_crossbar,
    check_line_progress,
    far_corner,
    positive_voltage,
    selection_bias,
)
from xbarsim.devices.models import DeviceModel, Ohmic
from xbarsim.errors import ConfigError
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance
from xbarsim.solver.api import get_backend, solve
from xbarsim.solver.base import Backend

__all__ = [
    "ReadSchemeName",
    "ReadPattern",
    "READ_SCHEMES",
    "READ_PATTERNS",
    "ReadAnalysis",
    "ReadMargin",
    "ReadMarginCurve",
    "read_cell",
    "read_cells",
    "read_margin",
    "read_margin_curve",
]

#: How the unselected lines are biased during a read.
ReadSchemeName = Literal["floating", "grounded", "v/2", "v/3", "biased"]
#: Stored pattern of the other cells during the ON and OFF reads.
ReadPattern = Literal["worst", "all-on", "all-off"]
READ_SCHEMES: tuple[str, ...] = get_args(ReadSchemeName)
READ_PATTERNS: tuple[str, ...] = get_args(ReadPattern)


@dataclass(frozen=True, kw_only=True, eq=False)
class ReadAnalysis:
    """One read of cell ``(row, col)``.

    Attributes
    ----------
    scheme : str
        One of :data:`READ_SCHEMES`.
    row, col : int
        The selected cell.
    v_read : float
        Volt, the read voltage at the selected row's driver (> 0).
    v_bias : (float, float) or None
        Volt, the unselected row and column voltages; ``None`` when they float.
    sensed_current : float
        Ampere, the current flowing into the selected column's sense amplifier.
    cell_current : float
        Ampere, the current through the selected cell.
    sneak_current : float
        Ampere, ``sensed_current - cell_current``: what the rest of the selected column adds.
    ideal_current : float
        Ampere, the isolated cell's current at ``v_read`` with ideal wires, ``I(v_read, g)``.
    selected_voltage : float
        Volt, the voltage across the selected cell after IR drop.
    power : float
        Watt, the power delivered by all drivers.
    backend : str
        Backend that solved the circuit.
    """

    __repr__ = compact_repr

    scheme: str
    row: int
    col: int
    v_read: float
    v_bias: tuple[float, float] | None
    sensed_current: float
    cell_current: float
    sneak_current: float
    ideal_current: float
    selected_voltage: float
    power: float
    backend: str

    @property
    def sneak_fraction(self) -> float:
        """Dimensionless, ``sneak_current / sensed_current`` (0 when nothing is sensed)."""
        return self.sneak_current / self.sensed_current if self.sensed_current != 0 else 0.0


def _levels(scheme: str, v_read: float, v_bias: Any) -> tuple[float, float] | None:
    check_choice(scheme, READ_SCHEMES, "scheme")
    if scheme == "floating":
        return None
    elif scheme == "grounded":
        return (0.0, 0.0)
    elif scheme == "v/2":
        return (v_read / 2.0, v_read / 2.0)
    elif scheme == "v/3":
        return (v_read / 3.0, 2.0 * v_read / 3.0)
    elif scheme == "biased":
        if v_bias is None:
            raise ConfigError("the 'biased' read scheme needs `v_bias` = (unselected row V, unselected column V); got None.")
        arr = as_float_array(v_bias, "v_bias", what="pair of finite voltages in volt")
        if arr.shape == ():
            arr = np.array([float(arr), float(arr)])
        if arr.shape != (2,):
            raise ConfigError(f"`v_bias` must be a voltage or a (row, column) pair of voltages in volt; got {short_repr(v_bias)}.")
        return (float(arr[0]), float(arr[1]))
    else:  # pragma: no cover - check_choice guards this
        raise ConfigError(f"`scheme` must be one of {READ_SCHEMES}; got {scheme!r}.")


def read_cells(
    crossbar: Crossbar,
    row: int,
    col: int,
    v_read: float,
    schemes: Sequence[str] = ("floating", "grounded", "v/2", "v/3"),
    *,
    v_bias: Any = None,
    backend: str | Backend = "sparse",
) -> tuple[ReadAnalysis, ...]:
    """Read cell ``(row, col)`` under several schemes; the driven ones share one batched solve.

    Parameters are those of :func:`read_cell`; returns one :class:`ReadAnalysis` per scheme, in order.
    """
    cb = check_crossbar(crossbar)
    r, c = check_cell(row, col, cb.shape)
    v = positive_voltage(v_read, "v_read")
    names = (schemes,) if isinstance(schemes, str) else tuple(schemes)
    if not names:
        raise ConfigError("`schemes` must name at least one read scheme; got an empty sequence.")
    levels = {s: _levels(s, v, v_bias) for s in names}
    be = get_backend(backend)
    with np.errstate(over="ignore"):  # an overflowing read fails in the solve below, with a typed error
        ideal = float(np.asarray(cb.device.current(np.asarray(v), np.asarray(cb.conductance[r, c]))))
    out: dict[str, ReadAnalysis] = {}

    def make(s: str, cv: FloatArray, cc: FloatArray, i_out: FloatArray, power: float, name: str) -> ReadAnalysis:
        sensed = float(i_out[c])
        cell = float(cc[r, c])
        return ReadAnalysis(scheme=s, row=r, col=c, v_read=v, v_bias=levels[s], sensed_current=sensed,
                            cell_current=cell, sneak_current=sensed - cell, ideal_current=ideal,
                            selected_voltage=float(cv[r, c]), power=float(power), backend=name)

    driven = [s for s in dict.fromkeys(names) if levels[s] is not None]
    if driven:
        lv = np.array([levels[s] for s in driven], dtype=np.float64)
        sol = solve(cb, selection_bias(cb.shape, r, c, np.full(len(driven), v), (lv[:, 0], lv[:, 1])), be)
        for b, s in enumerate(driven):
            out[s] = make(s, np.asarray(sol.cell_voltages[b]), np.asarray(sol.cell_currents[b]),
                          np.asarray(sol.output_currents[b]), float(np.asarray(sol.power)[b]), sol.backend)
    if "floating" in names:
        sol = solve(cb, selection_bias(cb.shape, r, c, np.array([v]), None), be)
        out["floating"] = make("floating", np.asarray(sol.cell_voltages[0]), np.asarray(sol.cell_currents[0]),
                               np.asarray(sol.output_currents[0]), float(np.asarray(sol.power)[0]), sol.backend)
    return tuple(out[s] for s in dict.fromkeys(names))


def read_cell(
    crossbar: Crossbar,
    row: int,
    col: int,
    v_read: float,
    scheme: ReadSchemeName = "floating",
    *,
    v_bias: Any = None,
    backend: str | Backend = "sparse",
) -> ReadAnalysis:
    """Read cell ``(row, col)`` of a crossbar.

    Parameters
    ----------
    crossbar : Crossbar
        Conductances (S, the stored pattern), wires (ohm), device law.
    row, col : int
        The selected cell; ConfigError if outside the array.
    v_read : float
        Volt, the read voltage (> 0) at the selected row's driver.
    scheme : {"floating", "grounded", "v/2", "v/3", "biased"}
        Bias of the unselected lines (see the module docstring).
    v_bias : float or (float, float), optional
        Volt, unselected row and column voltages of the ``"biased"`` scheme (required there).
    backend : str or Backend
        Solver backend.

    Returns
    -------
    ReadAnalysis
    """
    return read_cells(crossbar, row, col, v_read, (scheme,), v_bias=v_bias, backend=backend)[0]


@dataclass(frozen=True, kw_only=True, eq=False)
class ReadMargin:
    """Read margin of one cell under one scheme and a worst-case stored pattern.

    Attributes
    ----------
    scheme : str
        Read scheme.
    pattern : str
        Stored pattern (see the module docstring).
    on, off : ReadAnalysis
        The reads with the selected cell ON and OFF.
    g_on, g_off : float
        Siemens, the ON and OFF conductances.
    margin : float
        Dimensionless, ``(I_on - I_off) / I_on`` of the sensed currents.
    margin_abs : float
        Ampere, ``I_on - I_off``.
    ideal_margin : float
        Dimensionless, ``1 - I(v_read, g_off) / I(v_read, g_on)`` of an isolated cell.
    """

    __repr__ = compact_repr

    scheme: str
    pattern: str
    on: ReadAnalysis
    off: ReadAnalysis
    g_on: float
    g_off: float
    margin: float
    margin_abs: float
    ideal_margin: float


def _pattern_g(shape: tuple[int, int], cell: tuple[int, int], selected_on: bool, pattern: str,
               g_on: float, g_off: float) -> FloatArray:
    if pattern == "worst":
        others = g_off if selected_on else g_on
    elif pattern == "all-on":
        others = g_on
    elif pattern == "all-off":
        others = g_off
    else:  # pragma: no cover - validated before
        raise ConfigError(f"`pattern` must be one of {READ_PATTERNS}; got {pattern!r}.")
    g = np.full(shape, others)
    g[cell] = g_on if selected_on else g_off
    return g


def _conductances(g_on: Any, g_off: Any) -> tuple[float, float]:
    on = as_float_array(g_on, "g_on", what="positive conductance in siemens", min_value=0.0)
    off = as_float_array(g_off, "g_off", what="positive conductance in siemens", min_value=0.0)
    if on.ndim or off.ndim or not 0.0 < float(off) < float(on):
        raise ConfigError(f"`g_off` and `g_on` must be scalar conductances with 0 < g_off < g_on (S); got {g_off!r}, {g_on!r}.")
    return float(on), float(off)


def _scalar_lines(lines: Any) -> LineResistance:
    if lines is None:
        return LineResistance()
    if not isinstance(lines, LineResistance):
        raise ConfigError(f"`lines` must be a LineResistance; got {type(lines).__name__}.")
    for name in ("row_segment", "col_segment", "row_driver", "col_sense"):
        if np.ndim(getattr(lines, name)) != 0:
            raise ConfigError(f"`lines.{name}` must be a scalar (one value for every array size); got an array.")
    return lines


def _margins(shape: tuple[int, int], cell: tuple[int, int] | None, *, g_on: float, g_off: float, v_read: float,
             schemes: tuple[str, ...], lines: LineResistance, device: DeviceModel, pattern: str, v_bias: Any,
             backend: Backend) -> list[ReadMargin]:
    if cell is not None and (not isinstance(cell, (tuple, list)) or len(cell) != 2):
        raise ConfigError(f"`cell` must be a (row, col) pair or None; got {short_repr(cell)}.")
    r, c = far_corner(shape) if cell is None else check_cell(cell[0], cell[1], shape)
    reads = {}
    for state in (True, False):
        cb = Crossbar(conductance=_pattern_g(shape, (r, c), state, pattern, g_on, g_off), lines=lines, device=device)
        reads[state] = read_cells(cb, r, c, v_read, schemes, v_bias=v_bias, backend=backend)
    with np.errstate(over="ignore"):  # (the reads above would have refused an overflowing v_read)
        i_on = float(np.asarray(device.current(np.asarray(v_read), np.asarray(g_on))))
        i_off = float(np.asarray(device.current(np.asarray(v_read), np.asarray(g_off))))
    out = []
    for on, off in zip(reads[True], reads[False], strict=True):
        d = on.sensed_current - off.sensed_current
        out.append(ReadMargin(scheme=on.scheme, pattern=pattern, on=on, off=off, g_on=g_on, g_off=g_off,
                              margin=d / on.sensed_current if on.sensed_current != 0 else float("-inf"),
                              margin_abs=d, ideal_margin=1.0 - i_off / i_on))
    return out


def read_margin(
    shape: tuple[int, int],
    *,
    g_on: float,
    g_off: float,
    v_read: float,
    scheme: ReadSchemeName = "floating",
    lines: LineResistance | None = None,
    device: DeviceModel | None = None,
    cell: tuple[int, int] | None = None,
    pattern: ReadPattern = "worst",
    v_bias: Any = None,
    backend: str | Backend = "sparse",
) -> ReadMargin:
    """Read margin of one cell of an ``M x N`` array under a worst-case stored pattern.

    Parameters
    ----------
    shape : (int, int)
        ``(M, N)``.
    g_on, g_off : float
        Siemens, ON and OFF conductances, ``0 < g_off < g_on``.
    v_read : float
        Volt (> 0).
    scheme : str
        Read scheme (:data:`READ_SCHEMES`).
    lines : LineResistance, optional
        Ohm, scalar fields only; default ideal wires.
    device : DeviceModel, optional
        Device law; default :class:`~xbarsim.devices.Ohmic`.
    cell : (int, int), optional
        The selected cell; default the far corner ``(0, N - 1)``.
    pattern : {"worst", "all-on", "all-off"}
        The stored pattern of the other cells (module docstring).
    v_bias : float or (float, float), optional
        Volt, for the ``"biased"`` scheme.
    backend : str or Backend
        Solver backend.

    Returns
    -------
    ReadMargin
    """
    shp = _shape(shape)
    on, off = _conductances(g_on, g_off)
    check_choice(pattern, READ_PATTERNS, "pattern")
    _levels(scheme, 1.0, v_bias)
    dev = Ohmic() if device is None else device
    if not isinstance(dev, DeviceModel):
        raise ConfigError(f"`device` must implement the DeviceModel protocol; got {type(dev).__name__}.")
    return _margins(shp, cell, g_on=on, g_off=off, v_read=positive_voltage(v_read, "v_read"), schemes=(scheme,),
                    lines=_scalar_lines(lines), device=dev, pattern=pattern, v_bias=v_bias,
                    backend=get_backend(backend))[0]


def _shape(shape: Any) -> tuple[int, int]:
    ok = (isinstance(shape, (tuple, list)) and len(shape) == 2
          and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in shape))
    if not ok:
        raise ConfigError(f"`shape` must be a (rows, columns) pair of positive ints; got {short_repr(shape)}.")
    return (int(shape[0]), int(shape[1]))


@dataclass(frozen=True, kw_only=True, eq=False)
class ReadMarginCurve:
    """Read margin of square ``n x n`` arrays versus ``n``, for several schemes.

    Attributes
    ----------
    schemes : tuple of str
        Read schemes (rows of every array below).
    sizes : ndarray of int, shape (K,)
        Array sizes ``n``.
    margin : ndarray, shape (S, K)
        Dimensionless ``(I_on - I_off) / I_on``.
    margin_abs : ndarray, shape (S, K)
        Ampere, ``I_on - I_off``.
    sensed_on, sensed_off : ndarray, shape (S, K)
        Ampere, the sensed currents of the ON and OFF reads.
    sneak_on, sneak_off : ndarray, shape (S, K)
        Ampere, their sneak-path parts.
    selected_voltage_on : ndarray, shape (S, K)
        Volt, the voltage across the selected (ON) cell after IR drop.
    power_off : ndarray, shape (S, K)
        Watt, driver power of the OFF read (the other cells as :attr:`pattern` stores them for
        it: all ON for ``"worst"`` and ``"all-on"``, all OFF for ``"all-off"``).
    ideal_margin : float
        Dimensionless, the isolated cell's margin.
    pattern : str
        Stored pattern.
    v_read : float
        Volt.
    g_on, g_off : float
        Siemens.
    device : str
        Name of the device law.
    segment : float
        Ohm, the row and column segment resistance (the row value if they differ).
    """

    __repr__ = compact_repr

    schemes: tuple[str, ...]
    sizes: IntArray
    margin: FloatArray
    margin_abs: FloatArray
    sensed_on: FloatArray
    sensed_off: FloatArray
    sneak_on: FloatArray
    sneak_off: FloatArray
    selected_voltage_on: FloatArray
    power_off: FloatArray
    ideal_margin: float
    pattern: str
    v_read: float
    g_on: float
    g_off: float
    device: str
    segment: float

    def __post_init__(self) -> None:
        for name in ("sizes", "margin", "margin_abs", "sensed_on", "sensed_off", "sneak_on", "sneak_off",
                     "selected_voltage_on", "power_off"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    def figures(self) -> dict[str, object]:
        """Key numbers for the repr: each scheme's margin at the largest size."""
        return {**{f"margin[{s}]@{int(self.sizes[-1])}": float(self.margin[k, -1]) for k, s in enumerate(self.schemes)}}

    def report(self) -> str:
        """A text table of the read margin (dimensionless) per array size and scheme."""
        head = (f"read margin (I_on - I_off) / I_on of the far-corner cell, {self.pattern} pattern, v_read "
                f"{self.v_read:g} V, g_on {self.g_on:.3g} S, g_off {self.g_off:.3g} S, {self.device} devices, "
                f"segments {self.segment:g} ohm; isolated cell {self.ideal_margin:.4g}")
        rows = [(int(n), *(float(self.margin[k, j]) for k in range(len(self.schemes)))) for j, n in enumerate(self.sizes)]
        return head + "\n" + text_table(("n", *self.schemes), rows)

    def of(self, scheme: str) -> FloatArray:
        """The margin row of one scheme, shape (K,)."""
        if scheme not in self.schemes:
            raise ConfigError(f"`scheme` must be one of {', '.join(map(repr, self.schemes))}; got {short_repr(scheme)}.")
        return self.margin[self.schemes.index(scheme)]


def read_margin_curve(
    sizes: Sequence[int],
    *,
    g_on: float,
    g_off: float,
    v_read: float,
    schemes: Sequence[str] = ("floating", "grounded", "v/2", "v/3"),
    lines: LineResistance | None = None,
    device: DeviceModel | None = None,
    pattern: ReadPattern = "worst",
    v_bias: Any = None,
    backend: str | Backend = "sparse",
    progress: Any = None,
) -> ReadMarginCurve:
    """Read margin of the far-corner cell of ``n x n`` arrays for every ``n`` in ``sizes``.

    Per size and stored pattern, the driven schemes share one batched solve and the floating
    scheme takes one more: four solves per size for the default schemes.

    Parameters
    ----------
    sizes : sequence of int
        Array sizes ``n >= 2`` (e.g. 8 to 256).
    g_on, g_off, v_read, lines, device, pattern, v_bias, backend
        As in :func:`read_margin`; ``lines`` must have scalar fields so that it fits every size.
    schemes : sequence of str
        Read schemes; a repeated one is computed and listed once.
    progress : callable, optional
        Called with one line of text per size (the CLI prints them).

    Returns
    -------
    ReadMarginCurve
    """
    sz = np.asarray(sizes)
    if sz.ndim != 1 or sz.size < 1 or sz.dtype.kind not in "iu" or (sz < 2).any():
        raise ConfigError(f"`sizes` must be a non-empty sequence of ints >= 2; got {short_repr(sizes)}.")
    for n in sz:  # before an n x n pattern is allocated (numpy's MemoryError otherwise)
        check_size((int(n), int(n)), "sizes")
    on, off = _conductances(g_on, g_off)
    v = positive_voltage(v_read, "v_read")
    check_choice(pattern, READ_PATTERNS, "pattern")
    # a repeated scheme is one row: read_cells answers once per distinct scheme
    names = tuple(dict.fromkeys((schemes,) if isinstance(schemes, str) else tuple(schemes)))
    if not names:
        raise ConfigError("`schemes` must name at least one read scheme; got an empty sequence.")
    for name in names:
        _levels(name, v, v_bias)
    ln = _scalar_lines(lines)
    dev = Ohmic() if device is None else device
    if not isinstance(dev, DeviceModel):
        raise ConfigError(f"`device` must implement the DeviceModel protocol; got {type(dev).__name__}.")
    be = get_backend(backend)
    check_line_progress(progress)
    shape_sk = (len(names), sz.size)
    fields = {k: np.empty(shape_sk) for k in ("margin", "margin_abs", "sensed_on", "sensed_off", "sneak_on",
                                              "sneak_off", "selected_voltage_on", "power_off")}
    ideal = 0.0
    for k, n in enumerate(sz):
        res = _margins((int(n), int(n)), None, g_on=on, g_off=off, v_read=v, schemes=names, lines=ln, device=dev,
                       pattern=pattern, v_bias=v_bias, backend=be)
        for s, rm in enumerate(res):
            fields["margin"][s, k] = rm.margin
            fields["margin_abs"][s, k] = rm.margin_abs
            fields["sensed_on"][s, k] = rm.on.sensed_current
            fields["sensed_off"][s, k] = rm.off.sensed_current
            fields["sneak_on"][s, k] = rm.on.sneak_current
            fields["sneak_off"][s, k] = rm.off.sneak_current
            fields["selected_voltage_on"][s, k] = rm.on.selected_voltage
            fields["power_off"][s, k] = rm.off.power
            ideal = rm.ideal_margin
        if progress is not None:
            progress(f"read margin {int(n)}x{int(n)}: " + ", ".join(f"{r.scheme} {r.margin:+.3f}" for r in res))
    return ReadMarginCurve(schemes=names, sizes=sz.astype(np.int64), ideal_margin=ideal, pattern=pattern, v_read=v,
                           g_on=on, g_off=off, device=dev.name, segment=float(np.asarray(ln.row_segment)), **fields)
