"""Dynamic (state) models of one cross-point device: ``dw/dt = f(v, w)`` and ``I = G(w) h(v)``.

A dynamic device carries an internal state ``w`` in ``[0, 1]`` (0: fully OFF, conductance
``g_off``; 1: fully ON, ``g_on``) that moves only while the voltage across it is beyond a
threshold. The static I-V law ``h`` is the one of :mod:`xbarsim.devices.models` (ohmic or sinh),
scaled by the state's small-signal conductance ``G(w)``, so a DC read of a dynamic array is the
static circuit with ``conductance = G(w)``.

Every quantity here is vectorised over arrays of cells; the time stepping lives in
``xbarsim.solver.transient`` and uses the partial derivatives returned by ``rate_partials`` and
``current_partials``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, check_choice
from xbarsim.devices.models import DeviceModel, Ohmic, Sinh
from xbarsim.errors import ConfigError

__all__ = [
    "DynamicDevice",
    "Vteam",
    "WindowName",
    "Interpolation",
    "IVLaw",
    "tio2_vteam",
    "lea_vteam",
    "TIO2_VTEAM_SOURCE",
]

#: Window functions of the state equation (see :class:`Vteam`).
WindowName = Literal["none", "linear", "biolek"]
#: How ``G(w)`` runs between ``g_off`` and ``g_on``.
Interpolation = Literal["linear", "exponential"]
#: The static I-V law scaled by ``G(w)``.
IVLaw = Literal["ohmic", "sinh"]


@runtime_checkable
class DynamicDevice(Protocol):
    """What a device with an internal state must provide. This docstring is the implementer's checklist.

    * ``name``: short identifier (SPICE comments, reports).
    * ``static_law``: the :class:`~xbarsim.devices.models.DeviceModel` with which a DC solve at
      conductances ``conductance(w)`` gives exactly ``current(v, w)``.
    * ``conductance(w)`` (S) and its inverse ``state(g)``; ``state`` raises ``ConfigError`` (naming
      ``g``) for conductances outside ``[g_off, g_on]``.
    * ``rate_partials(v, w) -> (f, df/dv, df/dw)``: ``dw/dt`` in 1/s and its partial derivatives,
      vectorised, finite, ``f == 0`` below threshold.
    * ``current_partials(v, w) -> (I, dI/dv, dI/dw)``: cell current (A) and its derivatives;
      ``current(v, w)`` the current alone.
    * ``project(w)``: the state after a step, kept inside ``[0, 1]`` (a window without a smooth
      edge clips here; smooth windows only remove rounding).
    * ``spice_cell(name, node_p, node_n, node_w)``: SPICE lines of one cell: the state as the
      voltage of node ``node_w`` on a 1 F capacitor charged by a B-source ``I = f(v, w)``, the cell
      current as a B-source, in exactly the arithmetic of ``rate_partials``/``current_partials``.
    """

    @property
    def name(self) -> str:
        """Short identifier."""
        ...

    @property
    def static_law(self) -> DeviceModel:
        """The static I-V law at a frozen state."""
        ...

    def conductance(self, w: FloatArray) -> FloatArray:
        """Siemens, ``G(w)``."""
        ...

    def state(self, g: FloatArray) -> FloatArray:
        """The state of conductance ``g`` (S); ConfigError outside the window."""
        ...

    def rate_partials(self, v: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(dw/dt, d/dv, d/dw)`` in 1/s, 1/(V s), 1/s."""
        ...

    def current_partials(self, v: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(I, dI/dv, dI/dw)`` in A, S, A."""
        ...

    def current(self, v: FloatArray, w: FloatArray) -> FloatArray:
        """Ampere, the cell current (the first item of ``current_partials``)."""
        ...

    def project(self, w: FloatArray) -> FloatArray:
        """The state kept inside ``[0, 1]``."""
        ...

    def spice_cell(self, name: str, node_p: str, node_n: str, node_w: str) -> list[str]:
        """SPICE lines of one cell (see the class docstring)."""
        ...


def _positive(value: float, name: str, what: str) -> float:
    arr = as_float_array(value, name, what=what, min_value=0.0)
    if arr.ndim != 0 or float(arr) <= 0.0:
        raise ConfigError(f"`{name}` must be a {what} (a scalar > 0); got {value!r}.")
    return float(arr)


def _f(x: float) -> str:
    """A double as SPICE text that round-trips exactly."""
    return f"{x:.17g}"


@dataclass(frozen=True, kw_only=True)
class Vteam:
    """Threshold-type dynamic model in the style of VTEAM (Kvatinsky et al., IEEE TCAS-II 62, 2015).

    The state ``w`` (dimensionless, 0 = OFF, 1 = ON) moves only beyond two thresholds::

        dw/dt = + k_set   (v/v_set   - 1)^alpha_set   F_set(w)     if v/v_set   > 1
        dw/dt = - k_reset (v/v_reset - 1)^alpha_reset F_reset(w)   if v/v_reset > 1
        dw/dt = 0                                                   otherwise

    ``v_set`` and ``v_reset`` carry the polarity: a device that SETs on positive pulses has
    ``v_set > 0 > v_reset``; one that SETs on negative pulses (the LEA 1T1R cell) the reverse.

    Windows ``F`` (both are 1 in the middle of the range and keep ``w`` in ``[0, 1]``):

    * ``"none"``: ``F = 1``; the state is clipped to ``[0, 1]`` after each step. Under a constant
      voltage ``w(t) = clip(w0 +- k s^alpha t)``.
    * ``"linear"``: ``F_set = 1 - w``, ``F_reset = w``. Under a constant voltage above the SET
      threshold ``w(t) = 1 - (1 - w0) exp(-r t)`` with ``r = k_set (v/v_set - 1)^alpha_set``.
    * ``"biolek"``: ``F_set = 1 - w^(2p)``, ``F_reset = 1 - (1 - w)^(2p)`` (Biolek et al. 2009,
      direction-dependent so a device at a bound can leave it).

    Conductance: ``"linear"`` ``G = g_off + (g_on - g_off) w`` or ``"exponential"``
    ``G = g_off (g_on/g_off)^w``. Current ``I = G(w) v`` (``iv="ohmic"``) or
    ``I = G(w) sinh(a v) / a`` (``iv="sinh"``, the law of :class:`~xbarsim.devices.models.Sinh`).

    Attributes
    ----------
    g_on, g_off : float
        Siemens, conductance at ``w = 1`` and ``w = 0``; ``g_on > g_off > 0``.
    v_set, v_reset : float
        Volt, signed thresholds of opposite signs.
    k_set, k_reset : float
        1/s, rate constants (> 0).
    alpha_set, alpha_reset : float
        Exponents (>= 1, so that the rate is differentiable at the threshold).
    window : {"none", "linear", "biolek"}
        Window function.
    p : int
        Biolek exponent (>= 1); ignored by the other windows.
    interpolation : {"linear", "exponential"}
        ``G(w)``.
    iv : {"ohmic", "sinh"}
        Static law scaled by ``G(w)``.
    a : float
        1/V, sinh nonlinearity (used when ``iv == "sinh"``).
    """

    g_on: float
    g_off: float
    v_set: float
    v_reset: float
    k_set: float
    k_reset: float
    alpha_set: float = 1.0
    alpha_reset: float = 1.0
    window: WindowName = "linear"
    p: int = 1
    interpolation: Interpolation = "linear"
    iv: IVLaw = "ohmic"
    a: float = 2.07

    def __post_init__(self) -> None:
        for name in ("g_on", "g_off"):
            object.__setattr__(self, name, _positive(getattr(self, name), name, "positive conductance in siemens"))
        if not self.g_on > self.g_off:
            raise ConfigError(f"`g_on` must exceed `g_off`; got g_on={self.g_on!r} S <= g_off={self.g_off!r} S.")
        for name in ("v_set", "v_reset"):
            v = as_float_array(getattr(self, name), name, what="non-zero threshold voltage in volt")
            if v.ndim != 0 or float(v) == 0.0:
                raise ConfigError(f"`{name}` must be a non-zero threshold voltage in volt (a scalar); got {getattr(self, name)!r}.")
            object.__setattr__(self, name, float(v))
        if np.sign(self.v_set) == np.sign(self.v_reset):
            raise ConfigError(f"`v_reset` must have the opposite sign of `v_set`; got v_set={self.v_set!r} V, v_reset={self.v_reset!r} V.")
        for name in ("k_set", "k_reset"):
            object.__setattr__(self, name, _positive(getattr(self, name), name, "positive rate constant in 1/s"))
        for name in ("alpha_set", "alpha_reset"):
            al = as_float_array(getattr(self, name), name, what="exponent >= 1")
            if al.ndim != 0 or float(al) < 1.0:
                raise ConfigError(f"`{name}` must be an exponent >= 1 (a scalar); got {getattr(self, name)!r}.")
            object.__setattr__(self, name, float(al))
        check_choice(self.window, get_args(WindowName), "window")
        check_choice(self.interpolation, get_args(Interpolation), "interpolation")
        check_choice(self.iv, get_args(IVLaw), "iv")
        if isinstance(self.p, bool) or not isinstance(self.p, int | np.integer) or self.p < 1:
            raise ConfigError(f"`p` must be a positive int (the Biolek window exponent); got {self.p!r}.")
        object.__setattr__(self, "p", int(self.p))
        object.__setattr__(self, "a", _positive(self.a, "a", "positive nonlinearity in 1/V"))

    # ----------------------------------------------------------------- identity
    @property
    def name(self) -> str:
        """``"vteam-<window>-<interpolation>-<iv>"``."""
        return f"vteam-{self.window}-{self.interpolation}-{self.iv}"

    @property
    def static_law(self) -> DeviceModel:
        """:class:`Ohmic` or :class:`Sinh` with this model's ``a``."""
        return Sinh(a=self.a) if self.iv == "sinh" else Ohmic()

    @property
    def state_affine(self) -> bool:
        """Whether ``dw/dt`` is affine in ``w`` (linear and no window): one Newton step solves a state update."""
        return self.window in ("linear", "none")

    # ----------------------------------------------------------------- conductance
    def conductance(self, w: FloatArray) -> FloatArray:
        """Siemens, ``G(w)``."""
        w = np.asarray(w, dtype=np.float64)
        if self.interpolation == "linear":
            return self.g_off + (self.g_on - self.g_off) * w
        if self.interpolation == "exponential":
            return self.g_off * np.exp(np.log(self.g_on / self.g_off) * w)
        raise ConfigError(f"`interpolation` must be one of {get_args(Interpolation)}; got {self.interpolation!r}.")

    def dconductance(self, w: FloatArray) -> FloatArray:
        """Siemens, ``dG/dw``."""
        w = np.asarray(w, dtype=np.float64)
        if self.interpolation == "linear":
            return np.full_like(w, self.g_on - self.g_off)
        if self.interpolation == "exponential":
            return np.log(self.g_on / self.g_off) * self.conductance(w)
        raise ConfigError(f"`interpolation` must be one of {get_args(Interpolation)}; got {self.interpolation!r}.")

    def state(self, g: FloatArray) -> FloatArray:
        """The state ``w`` of conductance ``g`` (S). Raises ConfigError outside ``[g_off, g_on]``."""
        arr = as_float_array(g, "g", what="conductance in siemens")
        tol = 1e-12 * self.g_on
        bad = (arr < self.g_off - tol) | (arr > self.g_on + tol)
        if bad.any():
            raise ConfigError(f"`g` must lie in the device window [{self.g_off:g}, {self.g_on:g}] S; "
                              f"got {float(arr[bad].ravel()[0])!r} S (an out-of-window state).")
        arr = np.clip(arr, self.g_off, self.g_on)
        if self.interpolation == "linear":
            return (arr - self.g_off) / (self.g_on - self.g_off)
        return np.log(arr / self.g_off) / np.log(self.g_on / self.g_off)

    # ----------------------------------------------------------------- state equation
    def _windows(self, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``F_set, dF_set/dw, F_reset, dF_reset/dw``."""
        one = np.ones_like(w)
        if self.window == "none":
            return one, 0 * one, one, 0 * one
        if self.window == "linear":
            return 1.0 - w, -one, w.copy(), one
        if self.window == "biolek":
            p = self.p
            u = 1.0 - w
            return (1.0 - (w * w) ** p, -2 * p * w ** (2 * p - 1),
                    1.0 - (u * u) ** p, 2 * p * u ** (2 * p - 1))
        raise ConfigError(f"`window` must be one of {get_args(WindowName)}; got {self.window!r}.")

    def _drive(self, v: FloatArray, vth: float, k: float, alpha: float) -> tuple[FloatArray, FloatArray]:
        """``k max(v/vth - 1, 0)^alpha`` and its derivative in ``v``."""
        s = np.maximum(v / vth - 1.0, 0.0)
        sa1 = s ** (alpha - 1.0) if alpha != 1.0 else np.where(s > 0, 1.0, 0.0)  # one power for both
        return k * sa1 * s, (k * alpha / vth) * sa1

    def rate_partials(self, v: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``dw/dt`` (1/s) and its partial derivatives in ``v`` and ``w``, broadcast."""
        v, w = np.broadcast_arrays(np.asarray(v, dtype=np.float64), np.asarray(w, dtype=np.float64))
        rs, drs = self._drive(v, self.v_set, self.k_set, self.alpha_set)
        rr, drr = self._drive(v, self.v_reset, self.k_reset, self.alpha_reset)
        fs, dfs, fr, dfr = self._windows(w)
        return rs * fs - rr * fr, drs * fs - drr * fr, rs * dfs - rr * dfr

    def rate(self, v: FloatArray, w: FloatArray) -> FloatArray:
        """``dw/dt`` in 1/s."""
        return self.rate_partials(v, w)[0]

    def current_partials(self, v: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Cell current (A), ``dI/dv`` (S) and ``dI/dw`` (A)."""
        v = np.asarray(v, dtype=np.float64)
        g, dg = self.conductance(w), self.dconductance(w)
        if self.iv == "sinh":
            h, dh = np.sinh(self.a * v) / self.a, np.cosh(self.a * v)
        else:
            h, dh = v, np.ones_like(v)
        return g * h, g * dh, dg * h

    def current(self, v: FloatArray, w: FloatArray) -> FloatArray:
        """Ampere, ``G(w) h(v)``."""
        return self.current_partials(v, w)[0]

    def project(self, w: FloatArray) -> FloatArray:
        """``w`` clipped to ``[0, 1]``."""
        return np.clip(w, 0.0, 1.0)

    # ----------------------------------------------------------------- SPICE
    def spice_cell(self, name: str, node_p: str, node_n: str, node_w: str) -> list[str]:
        """Three lines: the cell current ``B<name>``, the state rate ``Bw<name>`` and ``Cw<name>`` (1 F).

        The ``"none"`` window has no smooth SPICE form of the clipping; it is written with
        ``F = 1`` inside ``[0, 1]`` and 0 beyond the bound it is moving to (a ternary), which
        ngspice integrates with chatter at the bound, so ngspice cross-checks use the smooth windows.
        """
        v = f"(V({node_p})-V({node_n}))"
        w = f"V({node_w})"
        if self.interpolation == "linear":
            g = f"({_f(self.g_off)}+{_f(self.g_on - self.g_off)}*{w})"
        else:
            g = f"({_f(self.g_off)}*exp({_f(np.log(self.g_on / self.g_off))}*{w}))"
        h = f"sinh({_f(self.a)}*{v})/{_f(self.a)}" if self.iv == "sinh" else v
        if self.window == "none":
            fs, fr = f"({w}<1?1:0)", f"({w}>0?1:0)"
        elif self.window == "linear":
            fs, fr = f"(1-{w})", w
        else:
            fs, fr = f"(1-pow({w}*{w},{self.p}))", f"(1-pow((1-{w})*(1-{w}),{self.p}))"
        rs = f"{_f(self.k_set)}*pow(max({v}/{_f(self.v_set)}-1,0),{_f(self.alpha_set)})"
        rr = f"{_f(self.k_reset)}*pow(max({v}/{_f(self.v_reset)}-1,0),{_f(self.alpha_reset)})"
        return [
            f"B{name} {node_p} {node_n} I={g}*{h}",
            f"Bw{name} 0 {node_w} I={rs}*{fs}-{rr}*{fr}",
            f"Cw{name} {node_w} 0 1",
        ]


#: Where the TiO2 dynamic preset's numbers come from (see :func:`tio2_vteam`).
TIO2_VTEAM_SOURCE = (
    "Drolet et al., HRS-LRS-failure-data headers (SET from +1.1 V, RESET from -1.1 V in 20 mV steps, ~1 us "
    "pulses, 1 % tolerance, 100-500 uS); rates by xbarsim.devices.dynamic_fit.calibrate_tio2"
)


def tio2_vteam(*, iv: IVLaw = "sinh") -> Vteam:
    """Dynamic model of Drolet's passive TiO2 devices (window 100-500 uS, SET > 0, RESET < 0).

    Calibrated by :func:`xbarsim.devices.dynamic_fit.calibrate_tio2` (which reproduces these numbers)
    to the programming conditions in the headers of Drolet's HRS-LRS failure data: ISPP ramps from
    +1.1 V (SET) and -1.1 V (RESET) in 20 mV steps of ~1 us pulses (100 ns of edges assumed), 1 %
    verify tolerance. Fitted: ``k_set`` and ``k_reset``, so that a full SET (100 -> 495 uS) and a full
    RESET (500 -> 101 uS) of an isolated device take 25 ramp pulses each. Assumed, not measured:
    the 25 pulses and the thresholds ``+0.8 V`` / ``-0.6 V`` (both from the statistical law fitted
    to Drolet's disturbance data, :func:`xbarsim.analysis.switching.drolet_tio2_law`), exponents 3,
    a linear window, ``G(w)`` exponential in ``w`` (Drolet publishes no switching trajectory), and
    the sinh I-V with ``a = 2.07 /V`` fitted on the LEA device (the static preset's stand-in).
    Valid for ~1 us pulses of 1.1-1.6 V; the thresholds make V/2 RESET pulses beyond 1.2 V disturb
    half-selected cells, which is where the disturbance of :func:`program_array_transient` comes from.
    """
    return Vteam(g_on=500e-6, g_off=100e-6, v_set=0.8, v_reset=-0.6, k_set=_TIO2_K_SET, k_reset=_TIO2_K_RESET,
                 alpha_set=3.0, alpha_reset=3.0, window="linear", interpolation="exponential", iv=iv)


# 1/s, from xbarsim.devices.dynamic_fit.calibrate_tio2() (see tio2_vteam's docstring)
_TIO2_K_SET = 537904.6830636805
_TIO2_K_RESET = 95974.3336699485


def lea_vteam() -> Vteam:
    """Dynamic model of the LEA chip's 1T1R device (SET on negative, RESET on positive voltage).

    Fitted by :func:`xbarsim.devices.dynamic_fit.fit_lea_sweeps` to each of the 19 measured
    quasi-static I-V cycles of one device (Yousuf et al., arXiv:2404.15621, Fig. 3c): these are the
    per-cycle medians of ``g_on``, ``g_off``, ``v_set``, ``v_reset``, ``k_set``, ``k_reset``,
    ``alpha_set`` and ``alpha_reset``. Per-cycle fit error (rms current error over a sweep, as a
    fraction of its largest current): SET 4.0-6.4 % (median 4.8 %), RESET 2.2-5.5 % (median 3.4 %).
    Assumed: 1 ms per sample of the sweeps (the data carry no time base: ``k`` scales with it), the
    sinh I-V with ``a = 2.07 /V`` of the static fit, the linear window, exponential ``G(w)``, and a
    current compliance at each sweep's largest current (the transistor of the 1T1R cell, which is
    not modelled otherwise). Poorly determined: ``v_set`` trades off against ``k_set`` (quartiles
    -0.75..-0.33 V), and both exponents sit at their lower bound 1.
    """
    return Vteam(g_on=0.0004086574641751816, g_off=8.297482755815716e-06, v_set=-0.4284411046365611,
                 v_reset=0.5193164895905408, k_set=1.3257024890667588, k_reset=19.722167424501468,
                 alpha_set=1.0, alpha_reset=1.0, window="linear", interpolation="exponential", iv="sinh", a=2.07)
