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

import dataclasses
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, check_choice, readonly
from xbarsim.devices.models import DeviceModel, Ohmic, Sinh, check_sinh_a
from xbarsim.errors import ConfigError

__all__ = [
    "DynamicDevice",
    "Vteam",
    "with_threshold_spread",
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
    * ``spice_cell(name, node_p, node_n, node_w, cell=(i, j))``: SPICE lines of cell ``(i, j)``: the
      state as the voltage of node ``node_w`` on a 1 F capacitor charged by a B-source
      ``I = f(v, w)``, the cell current as a B-source, in exactly the arithmetic of
      ``rate_partials``/``current_partials`` for that cell.
    * ``cell_shape``: ``None`` when every cell has the same parameters, else the ``(M, N)`` shape of
      the array whose cells carry their own parameters. ``rate_partials``/``current_partials`` then
      take cell arrays whose trailing axes are ``(M, N)`` or whose last axis lists the ``M N`` cells
      in row-major (C) order, as the solvers do.
    """

    @property
    def name(self) -> str:
        """Short identifier."""
        ...

    @property
    def static_law(self) -> DeviceModel:
        """The static I-V law at a frozen state."""
        ...

    @property
    def cell_shape(self) -> tuple[int, int] | None:
        """``(M, N)`` when the cells carry their own parameters, else ``None``."""
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

    def spice_cell(self, name: str, node_p: str, node_n: str, node_w: str,
                   cell: tuple[int, int] | None = None) -> list[str]:
        """SPICE lines of cell ``cell`` (see the class docstring)."""
        ...


def _positive(value: float, name: str, what: str) -> float:
    arr = as_float_array(value, name, what=what, min_value=0.0)
    if arr.ndim != 0 or float(arr) <= 0.0:
        raise ConfigError(f"`{name}` must be a {what} (a scalar > 0); got {value!r}.")
    return float(arr)


def _f(x: float) -> str:
    """A double as SPICE text that round-trips exactly."""
    return f"{x:.17g}"


#: Parameters of :class:`Vteam` that may be given per cell.
_PER_CELL = ("v_set", "v_reset", "k_set", "k_reset")


def _brief(x: float | FloatArray) -> str:
    return f"{x!r}" if np.ndim(x) == 0 else f"array{np.shape(x)} (first {float(np.ravel(x)[0])!r})"


@dataclass(frozen=True, kw_only=True, eq=False)
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
    v_set, v_reset : float or ndarray of shape (M, N)
        Volt, signed thresholds of opposite signs; an ``(M, N)`` array gives every cell of an
        ``M x N`` array its own threshold (device-to-device variability, e.g. drawn by
        :func:`with_threshold_spread`), all of one sign.
    k_set, k_reset : float or ndarray of shape (M, N)
        1/s, rate constants (> 0), per cell like the thresholds.
    alpha_set, alpha_reset : float
        Exponents (>= 1: the rate is continuous at the threshold, and differentiable there for
        alpha > 1).
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
    v_set: float | FloatArray
    v_reset: float | FloatArray
    k_set: float | FloatArray
    k_reset: float | FloatArray
    alpha_set: float = 1.0
    alpha_reset: float = 1.0
    window: WindowName = "linear"
    p: int = 1
    interpolation: Interpolation = "linear"
    iv: IVLaw = "ohmic"
    a: float = 2.07

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vteam):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) and np.shape(getattr(self, f)) == np.shape(getattr(other, f))
                   for f in _FIELDS)

    def __hash__(self) -> int:
        return hash(tuple((np.shape(v), np.asarray(v).tobytes()) if isinstance(v, np.ndarray) else v
                          for v in (getattr(self, f) for f in _FIELDS)))

    def __post_init__(self) -> None:
        for name in ("g_on", "g_off"):
            object.__setattr__(self, name, _positive(getattr(self, name), name, "positive conductance in siemens"))
        if not self.g_on > self.g_off:
            raise ConfigError(f"`g_on` must exceed `g_off`; got g_on={self.g_on!r} S <= g_off={self.g_off!r} S.")
        shapes = {}
        for name in _PER_CELL:
            what = ("non-zero threshold voltage in volt" if name.startswith("v_")
                    else "positive rate constant in 1/s")
            arr = as_float_array(getattr(self, name), name, what=f"{what} (a scalar or an (M, N) array per cell)")
            if arr.ndim not in (0, 2) or arr.size == 0:
                raise ConfigError(f"`{name}` must be a scalar or an (M, N) array of per-cell values; got shape {arr.shape}.")
            if name.startswith("v_") and (arr == 0.0).any():
                raise ConfigError(f"`{name}` must be a non-zero threshold voltage in volt; got {getattr(self, name)!r}.")
            if name.startswith("k_") and (arr <= 0.0).any():
                bad = float(arr[arr <= 0.0].ravel()[0])
                raise ConfigError(f"`{name}` must be a positive rate constant in 1/s; got {bad!r}.")
            if arr.ndim == 2:
                shapes[name] = arr.shape
                object.__setattr__(self, name, readonly(arr))
            else:
                object.__setattr__(self, name, float(arr))
        if len(set(shapes.values())) > 1:
            raise ConfigError(f"per-cell parameters must share one (M, N) shape; got {shapes}.")
        sv, sr = np.sign(self.v_set), np.sign(self.v_reset)
        if np.ndim(sv) and np.unique(sv).size > 1:
            raise ConfigError("`v_set` must have one sign in every cell (the polarity of a SET); got both signs.")
        if np.ndim(sr) and np.unique(sr).size > 1:
            raise ConfigError("`v_reset` must have one sign in every cell (the polarity of a RESET); got both signs.")
        if np.ravel(sv)[0] == np.ravel(sr)[0]:
            raise ConfigError(f"`v_reset` must have the opposite sign of `v_set`; got v_set={_brief(self.v_set)} V, "
                              f"v_reset={_brief(self.v_reset)} V.")
        object.__setattr__(self, "_shape", next(iter(shapes.values()), None))
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
        object.__setattr__(self, "a", check_sinh_a(_positive(self.a, "a", "positive nonlinearity in 1/V")))

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
    def cell_shape(self) -> tuple[int, int] | None:
        """``(M, N)`` when thresholds or rates are given per cell, else ``None``."""
        shape: tuple[int, int] | None = self.__dict__["_shape"]
        return shape

    def cell(self, i: int, j: int) -> Vteam:
        """The model of cell ``(i, j)`` alone (scalar parameters); ``self`` when nothing is per cell."""
        shape = self.cell_shape
        if shape is None:
            return self
        for name, idx, size in (("i", i, shape[0]), ("j", j, shape[1])):
            if isinstance(idx, bool) or not isinstance(idx, int | np.integer) or not 0 <= idx < size:
                raise ConfigError(f"`{name}` must be a cell index in [0, {size}); got {idx!r}.")
        def at(v: float | FloatArray) -> float:
            return float(v[i, j]) if isinstance(v, np.ndarray) else float(v)

        return dataclasses.replace(self, v_set=at(self.v_set), v_reset=at(self.v_reset), k_set=at(self.k_set),
                                   k_reset=at(self.k_reset))

    def _per_cell(self, value: float | FloatArray, vshape: tuple[int, ...]) -> float | FloatArray:
        """A per-cell parameter laid out for cell arrays of shape ``vshape``: trailing ``(M, N)`` axes,
        or a last axis of the ``M N`` cells in C order (the solvers' layout)."""
        if not isinstance(value, np.ndarray):
            return value
        if vshape[-2:] == value.shape:
            return value
        if vshape and vshape[-1] == value.size:
            return value.ravel()
        raise ConfigError(f"cell arrays of shape {vshape} do not match the per-cell parameters of shape {value.shape} "
                          "(trailing (M, N) axes or a last axis of M*N cells expected).")

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

    def _drive(self, v: FloatArray, vth: float | FloatArray, k: float | FloatArray,
               alpha: float) -> tuple[FloatArray, FloatArray]:
        """``k max(v/vth - 1, 0)^alpha`` and its derivative in ``v``."""
        s = np.maximum(v / vth - 1.0, 0.0)
        sa1 = s ** (alpha - 1.0) if alpha != 1.0 else np.where(s > 0, 1.0, 0.0)  # one power for both
        return k * sa1 * s, (k * alpha / vth) * sa1

    def rate_partials(self, v: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``dw/dt`` (1/s) and its partial derivatives in ``v`` and ``w``, broadcast."""
        v, w = np.broadcast_arrays(np.asarray(v, dtype=np.float64), np.asarray(w, dtype=np.float64))
        sh = v.shape
        rs, drs = self._drive(v, self._per_cell(self.v_set, sh), self._per_cell(self.k_set, sh), self.alpha_set)
        rr, drr = self._drive(v, self._per_cell(self.v_reset, sh), self._per_cell(self.k_reset, sh), self.alpha_reset)
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
    def spice_cell(self, name: str, node_p: str, node_n: str, node_w: str,
                   cell: tuple[int, int] | None = None) -> list[str]:
        """Three lines: the cell current ``B<name>``, the state rate ``Bw<name>`` and ``Cw<name>`` (1 F).

        ``cell = (i, j)`` picks that cell's own parameters; it is required when parameters are given
        per cell (:attr:`cell_shape`) and ignored otherwise.

        The ``"none"`` window has no smooth SPICE form of the clipping; it is written with
        ``F = 1`` inside ``[0, 1]`` and 0 beyond the bound it is moving to (a ternary), which
        ngspice integrates with chatter at the bound, so ngspice cross-checks use the smooth windows.
        """
        if self.cell_shape is not None:
            if cell is None:
                raise ConfigError("`cell` must name the (i, j) cell of a model with per-cell parameters; got None.")
            return self.cell(*cell).spice_cell(name, node_p, node_n, node_w)
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
        ks, vs, kr, vr = (float(x) for x in (self.k_set, self.v_set, self.k_reset, self.v_reset))  # scalars here
        rs = f"{_f(ks)}*pow(max({v}/{_f(vs)}-1,0),{_f(self.alpha_set)})"
        rr = f"{_f(kr)}*pow(max({v}/{_f(vr)}-1,0),{_f(self.alpha_reset)})"
        return [
            f"B{name} {node_p} {node_n} I={g}*{h}",
            f"Bw{name} 0 {node_w} I={rs}*{fs}-{rr}*{fr}",
            f"Cw{name} {node_w} 0 1",
        ]


_FIELDS = tuple(f.name for f in dataclasses.fields(Vteam))


def with_threshold_spread(model: Vteam, shape: tuple[int, int], *, sigma_set: float, sigma_reset: float,
                          rng: np.random.Generator, floor: float = 0.05) -> Vteam:
    """``model`` with device-to-device threshold variability: every cell of an ``shape`` array its own thresholds.

    ``|v_set_ij| = |v_set| + sigma_set z`` and ``|v_reset_ij| = |v_reset| + sigma_reset z'`` with
    independent standard normal ``z, z'`` drawn from ``rng`` (``z`` for all cells in C order, then
    ``z'``), each magnitude at least ``floor`` volt, signs those of ``model``. Rates and every
    other parameter stay those of ``model`` (scalar thresholds required).

    Parameters
    ----------
    model : Vteam
        The median device.
    shape : (int, int)
        ``(M, N)`` of the array.
    sigma_set, sigma_reset : float
        Volt (>= 0), standard deviations of the threshold magnitudes.
    rng : numpy.random.Generator
    floor : float
        Volt (> 0), smallest threshold magnitude (the normal tail is clipped there).
    """
    from xbarsim._validation import check_rng, scalar

    if not isinstance(model, Vteam) or model.cell_shape is not None:
        raise ConfigError("`model` must be a Vteam with scalar thresholds (the median device); "
                          f"got {type(model).__name__}{' with per-cell parameters' if isinstance(model, Vteam) else ''}.")
    if (not isinstance(shape, tuple | list) or len(shape) != 2
            or not all(isinstance(x, int | np.integer) and not isinstance(x, bool) and x >= 1 for x in shape)):
        raise ConfigError(f"`shape` must be (M, N) with two positive ints; got {shape!r}.")
    ss = scalar(sigma_set, "sigma_set", what="non-negative voltage in volt", min_value=0.0)
    sr = scalar(sigma_reset, "sigma_reset", what="non-negative voltage in volt", min_value=0.0)
    fl = scalar(floor, "floor", what="positive voltage in volt", positive=True)
    check_rng(rng)
    m, n = (int(x) for x in shape)
    z = rng.standard_normal((2, m, n))
    vs = np.sign(model.v_set) * np.maximum(abs(model.v_set) + ss * z[0], fl)
    vr = np.sign(model.v_reset) * np.maximum(abs(model.v_reset) + sr * z[1], fl)
    return dataclasses.replace(model, v_set=vs, v_reset=vr)


#: Where the TiO2 dynamic preset's numbers come from (see :func:`tio2_vteam`).
TIO2_VTEAM_SOURCE = (
    "Drolet et al., HRS-LRS-failure-data headers (SET from +1.1 V, RESET from -1.1 V in 20 mV steps, 1.04 us "
    "pulses with 0.5 us edges, 1 % tolerance, 100-500 uS) and biasing-disturbance database; rates by "
    "xbarsim.devices.dynamic_fit.calibrate_tio2, exponent, thresholds and their spread by "
    "xbarsim.devices.dynamic_fit.fit_tio2_disturbance"
)

#: Fitted to Drolet's disturbance database (:func:`xbarsim.devices.dynamic_fit.fit_tio2_disturbance`,
#: rounded): rate exponent of both polarities, median thresholds (V) and their device-to-device
#: standard deviations (V).
TIO2_ALPHA = 2.97
TIO2_V_SET = 0.502
TIO2_V_RESET = -0.411
TIO2_SIGMA_SET = 0.044
TIO2_SIGMA_RESET = 0.005


def tio2_vteam(*, iv: IVLaw = "sinh", shape: tuple[int, int] | None = None,
               rng: np.random.Generator | None = None) -> Vteam:
    """Dynamic model of Drolet's passive TiO2 devices (window 100-500 uS, SET > 0, RESET < 0).

    Without ``shape`` the median device; with ``shape=(M, N)`` an array of devices whose thresholds
    are drawn per cell from ``rng`` with the fitted spread (:func:`with_threshold_spread`,
    :data:`TIO2_SIGMA_SET`, :data:`TIO2_SIGMA_RESET`).

    Two calibrations (``docs/transient.md``, "Calibration"):

    * Programming conditions (headers of Drolet's HRS-LRS failure data): ISPP ramps from +1.1 V (SET)
      and -1.1 V (RESET) in 20 mV steps of 1.04 us pulses with 0.5 us rise and fall, 1 % tolerance.
      Fitted in closed form (:func:`xbarsim.devices.dynamic_fit.calibrate_tio2`, which reproduces
      these numbers): ``k_set`` and ``k_reset``, so that a full SET (100 -> 495 uS) and a full RESET
      (500 -> 101 uS) of an isolated median device take 25 ramp pulses each.
    * Half-select disturbance (Drolet's measured database, mean, standard deviation and the 10/50/90 %
      percentiles for n = 1..35 cells programmed afterwards): fitted
      (:func:`xbarsim.devices.dynamic_fit.fit_tio2_disturbance`) the exponent ``alpha = 2.97`` of
      both polarities, the median thresholds ``+0.502 V`` / ``-0.411 V`` and their spreads 44 mV /
      5 mV, on 8 x 8 arrays under V/2 with the wires of ``bias-compare --transient`` and a verify
      aimed at the true target (``verify_target="array"``), subject to at least 97 % of the cells
      verifying within the 1 % tolerance (98.6 % do).

    Assumed, not measured: the 25 pulses for a full swing (from the statistical law,
    :func:`xbarsim.analysis.switching.drolet_tio2_law`), one exponent for both polarities, Gaussian
    thresholds, a linear window, ``G(w)`` exponential in ``w`` (Drolet publishes no switching
    trajectory), the sinh I-V with ``a = 2.07 /V`` fitted on the LEA device (the static preset's
    stand-in), and the wires (1 ohm segments, 10 ohm drivers and sense resistors; Drolet's are not
    published). Valid for ~1 us pulses of 1.1-2.4 V. Under V/2 (about 0.475 of the pulse on a
    half-selected cell with these wires) a half-selected median cell is beyond both thresholds from
    the first pulse of a ramp (1.1 V: 0.53 V) on, which is where the disturbance of
    :func:`program_array_transient` comes from; RESET, with its lower threshold and longer ramps,
    dominates, so it drifts negative, and SET ramps give the positive tail.
    """
    median = Vteam(g_on=500e-6, g_off=100e-6, v_set=TIO2_V_SET, v_reset=TIO2_V_RESET, k_set=_TIO2_K_SET,
                   k_reset=_TIO2_K_RESET, alpha_set=TIO2_ALPHA, alpha_reset=TIO2_ALPHA, window="linear",
                   interpolation="exponential", iv=iv)
    if shape is None:
        return median
    if rng is None:
        raise ConfigError("`rng` is needed with `shape` (the per-cell thresholds are drawn from it); got None.")
    return with_threshold_spread(median, shape, sigma_set=TIO2_SIGMA_SET, sigma_reset=TIO2_SIGMA_RESET, rng=rng)


# 1/s, from xbarsim.devices.dynamic_fit.calibrate_tio2(alpha=TIO2_ALPHA, v_set=TIO2_V_SET,
# v_reset=TIO2_V_RESET) (see tio2_vteam's docstring)
_TIO2_K_SET = 33954.982888655824
_TIO2_K_RESET = 13852.617486249414


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
