"""Weights to conductances and back: differential pairs, a reference column, levels, ternary (LEA).

Convention: a layer computes ``y = x @ W`` with ``W`` of shape ``(inputs, outputs) = (m, n)``; inputs
drive the rows (word lines) of a crossbar and outputs are read on its columns (bit lines). An
encoding turns ``W`` into the conductances of one copy of the layer, ``conductance`` of shape
``(m, K)`` (siemens), plus a signed ``readout`` matrix ``(K, n)`` that says how column currents
combine into outputs. With ideal wires and ohmic devices, for input voltages ``v``,

``(v @ conductance) @ readout == v @ W * g_scale``,

and the inverse is exact: ``W == (conductance @ readout) / g_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, BoolArray, FloatArray, IntArray
from xbarsim._validation import as_float_array, check_choice, readonly, short_repr
from xbarsim.devices.variability import conductance_levels, quantize
from xbarsim.errors import ConfigError

__all__ = [
    "EncodingScheme",
    "ColumnLayout",
    "Encoding",
    "MappedWeights",
    "map_weights",
    "ternarize",
    "mapping_error",
]

#: How a signed weight becomes conductances.
EncodingScheme = Literal["differential", "reference", "ternary"]
#: Where the G+ and G- columns of a differential pair go.
ColumnLayout = Literal["blocks", "interleaved"]


def _positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ConfigError(f"`{name}` must be an integer >= {minimum}; got {short_repr(value)}.")
    return int(value)


def _positive_float(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"`{name}` must be a {what}; got {value!r}.")
    arr = as_float_array(value, name, what=what)
    if arr.ndim != 0 or float(arr) <= 0.0:
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    return float(arr)


@dataclass(frozen=True, kw_only=True)
class Encoding:
    """How the weights of a layer become conductances.

    Attributes
    ----------
    scheme : {"differential", "reference", "ternary"}
        ``"differential"``: each weight is a pair ``G+ - G-`` with the unused device of the pair at
        ``g_min``. ``"reference"``: one column per output around a mid-window conductance, minus a
        shared reference column at that conductance. ``"ternary"``: weights in ``{-gamma, 0, +gamma}``
        as in LEA (``+gamma``: ``G+ = G_ON, G- = G_OFF``; ``0``: both ``G_OFF``; ``-gamma``: swapped).
    layout : {"blocks", "interleaved"}
        Differential and ternary only: ``G+`` and ``G-`` columns in two separate ``m x n`` blocks
        (LEA's "block split") or interleaved column by column in one ``m x 2n`` block.
    levels : int or None
        Number of equally spaced conductance levels in ``[g_min, g_max]`` to quantize to (>= 2);
        ``None`` uses the device's own levels when it has any (passed to :func:`map_weights`),
        else analog conductances.
    w_max : float or None
        Weight magnitude mapped to the full window, or to the span of the levels (weights beyond
        it saturate); ``None`` uses ``max |W|``. Differential and reference schemes.
    gamma : float or None
        Ternary only: the weight magnitude ``gamma`` (> 0); ``None`` uses ``max |W|``.
    step : float or None
        Ternary only: ``G_ON - G_OFF`` as a fraction in (0, 1] of the swing from the lowest to
        the highest level (or ``g_min`` to ``g_max``); ``None`` is 1 (``G_ON`` at the top). Below
        1, ``+gamma`` is programmed as ``G+ = G_OFF + step (G_top - G_OFF)`` and decoded with the
        smaller ``g_scale``, so the healthy devices of a weight keep ``(1 - step)`` of the swing
        to move *up* by: room for compensating stuck devices (RME on continuous targets), which
        at ``step = 1`` cannot raise a ``+gamma`` weight that reads low at all. Without
        compensation a smaller step only makes every conductance error larger in weight units.
    """

    scheme: EncodingScheme = "differential"
    layout: ColumnLayout = "blocks"
    levels: int | None = None
    w_max: float | None = None
    gamma: float | None = None
    step: float | None = None

    def __post_init__(self) -> None:
        check_choice(self.scheme, get_args(EncodingScheme), "scheme")
        check_choice(self.layout, get_args(ColumnLayout), "layout")
        if self.levels is not None:
            object.__setattr__(self, "levels", _positive_int(self.levels, "levels", minimum=2))
        if self.w_max is not None:
            object.__setattr__(self, "w_max", _positive_float(self.w_max, "w_max", "positive weight magnitude"))
        if self.gamma is not None:
            object.__setattr__(self, "gamma", _positive_float(self.gamma, "gamma", "positive weight magnitude"))
        if self.step is not None:
            st = self.step
            if isinstance(st, bool) or not isinstance(st, (int, float, np.integer, np.floating)) or not 0 < st <= 1:
                raise ConfigError(f"`step` must be a fraction in (0, 1] of the conductance swing; got {short_repr(st)}.")
            if self.scheme != "ternary":
                raise ConfigError(f"`step` applies to the ternary scheme; got scheme {self.scheme!r} (step = {st!r}).")
            object.__setattr__(self, "step", float(st))


@dataclass(frozen=True, kw_only=True, eq=False)
class MappedWeights:
    """One copy of a layer as target conductances.

    Attributes
    ----------
    conductance : ndarray, shape (m, K)
        Siemens, target conductance of every device of the copy: rows are the layer's inputs,
        columns the physical bit lines (``K = 2n`` for differential pairs, ``n + 1`` with a
        reference column).
    readout : ndarray, shape (K, n)
        Dimensionless, entries in ``{-1, 0, +1}``: output ``j`` is ``sum_k I_k readout[k, j]``
        for column currents ``I``.
    part : ndarray of int, shape (K,)
        Which part each column belongs to (``part_names``); the parts are placed as separate blocks.
    reference : ndarray of bool, shape (K,)
        Reference columns (shared by every output of a block).
    part_names : tuple of str
        Names of the parts, e.g. ``("G+", "G-")``.
    g_scale : float
        Siemens per weight unit: ``W = (conductance @ readout) / g_scale``. For ternary weights
        ``g_scale = g_norm / gamma`` with ``g_norm = G_ON - G_OFF``.
    g_min, g_max : float
        Siemens, the programmable window used.
    levels : tuple of float or None
        Siemens, the conductance levels the targets sit on; ``None`` for analog targets.
    scheme : str
        The :class:`Encoding` scheme.
    layout : str
        The :class:`Encoding` layout.
    """

    __repr__ = compact_repr

    conductance: FloatArray
    readout: FloatArray
    part: IntArray
    reference: BoolArray
    part_names: tuple[str, ...]
    g_scale: float
    g_min: float
    g_max: float
    levels: tuple[float, ...] | None
    scheme: str
    layout: str

    def __post_init__(self) -> None:
        g = np.asarray(self.conductance, dtype=np.float64)
        r = np.asarray(self.readout, dtype=np.float64)
        if g.ndim != 2 or r.ndim != 2 or r.shape[0] != g.shape[1]:
            raise ConfigError(f"`readout` must have shape (K, n) with K = {g.shape[-1]} columns; got shape {r.shape}.")
        object.__setattr__(self, "conductance", readonly(g))
        object.__setattr__(self, "readout", readonly(r))
        object.__setattr__(self, "part", readonly(np.asarray(self.part, dtype=np.int64)))
        object.__setattr__(self, "reference", readonly(np.asarray(self.reference, dtype=bool)))

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``: the layer's inputs by outputs."""
        return (int(self.conductance.shape[0]), int(self.readout.shape[1]))

    @property
    def n_devices(self) -> int:
        """Devices of one copy."""
        return int(self.conductance.size)

    def weights(self, conductance: ArrayLike | None = None) -> FloatArray:
        """The weights encoded by ``conductance`` (default: the targets), shape ``(..., m, n)``.

        Parameters
        ----------
        conductance : array_like, shape (..., m, K), optional
            Siemens, e.g. read-back conductances of the devices of this copy.

        Returns
        -------
        ndarray
            ``(conductance @ readout) / g_scale``: the exact inverse of :func:`map_weights` (within
            quantization when levels are used).
        """
        g = self.conductance if conductance is None else as_float_array(
            conductance, "conductance", what="array of conductances in siemens")
        if g.shape[-2:] != self.conductance.shape:
            raise ConfigError(f"`conductance` must have shape (..., {self.conductance.shape[0]}, "
                              f"{self.conductance.shape[1]}); got shape {g.shape}.")
        return np.asarray(g @ self.readout) / self.g_scale


def _weights_array(weights: ArrayLike) -> FloatArray:
    w = as_float_array(weights, "weights", what="finite weight matrix of shape (inputs, outputs)")
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise ConfigError(f"`weights` must be a 2-D array of shape (inputs, outputs); got shape {w.shape}.")
    return w


def _pair_layout(gp: FloatArray, gn: FloatArray, layout: str) -> tuple[FloatArray, FloatArray, IntArray, tuple[str, ...]]:
    m, n = gp.shape
    eye = np.eye(n)
    if layout == "blocks":
        g = np.concatenate([gp, gn], axis=1)
        readout = np.concatenate([eye, -eye], axis=0)
        part = np.repeat(np.arange(2), n)
        names: tuple[str, ...] = ("G+", "G-")
    elif layout == "interleaved":
        g = np.empty((m, 2 * n))
        g[:, 0::2], g[:, 1::2] = gp, gn
        readout = np.zeros((2 * n, n))
        readout[0::2], readout[1::2] = eye, -eye
        part = np.zeros(2 * n, dtype=np.int64)
        names = ("G+/G-",)
    else:  # pragma: no cover - Encoding validates the layout
        raise ConfigError(f"`layout` must be 'blocks' or 'interleaved'; got {layout!r}.")
    return g, readout, part, names


def map_weights(
    weights: ArrayLike,
    *,
    g_min: float,
    g_max: float,
    encoding: Encoding | None = None,
    device_levels: tuple[float, ...] | None = None,
) -> MappedWeights:
    """Encode a weight matrix as the target conductances of one copy of the layer.

    Parameters
    ----------
    weights : array_like, shape (m, n)
        The layer's weights, ``y = x @ weights``.
    g_min, g_max : float
        Siemens, the programmable window, ``0 <= g_min < g_max``.
    encoding : Encoding, optional
        Scheme, layout and quantization; default differential pairs in two blocks.
    device_levels : tuple of float, optional
        Siemens, the levels the device can be programmed to (e.g. ``preset.levels``); used when
        ``encoding.levels`` is ``None``. Only the levels within ``[g_min, g_max]`` are used.

    Returns
    -------
    MappedWeights
        Targets, readout and scale; ``result.weights()`` recovers ``weights`` (within half a
        quantization step per device when levels are used).

    Notes
    -----
    Differential: with ``s = (g_max - g_min) / w_max``, ``G+ = g_min + s max(W, 0)`` and
    ``G- = g_min + s max(-W, 0)``, so ``G+ - G- = s W`` and ``g_scale = s``. Reference: with the
    reference ``g_ref`` at mid-window (snapped to the nearest level) and
    ``s = min(g_max - g_ref, g_ref - g_min) / w_max``, ``G = g_ref + s W`` against a reference
    column at ``g_ref``. With levels, ``g_min`` and ``g_max`` here are the lowest and highest level
    in the window (the window itself for ``encoding.levels``). Ternary (LEA): ``G_ON``/``G_OFF`` are the highest/lowest level (or
    ``g_max``/``g_min``; ``G_ON`` lowered to ``G_OFF + step (G_top - G_OFF)`` with ``encoding.step``)
    and ``g_scale = (G_ON - G_OFF) / gamma``.
    """
    enc = Encoding() if encoding is None else encoding
    if not isinstance(enc, Encoding):
        raise ConfigError(f"`encoding` must be an Encoding; got {type(enc).__name__}.")
    w = _weights_array(weights)
    lo = as_float_array(g_min, "g_min", what="non-negative conductance in siemens", min_value=0.0)
    hi = as_float_array(g_max, "g_max", what="non-negative conductance in siemens", min_value=0.0)
    if lo.ndim or hi.ndim or not float(lo) < float(hi):
        raise ConfigError(f"`g_min` must be below `g_max` (scalars, siemens); got g_min={g_min!r}, g_max={g_max!r}.")
    g_lo, g_hi = float(lo), float(hi)
    if enc.levels is not None:
        levels: tuple[float, ...] | None = tuple(float(x) for x in conductance_levels(enc.levels, g_lo, g_hi))
    elif device_levels is not None:
        lv = np.unique(as_float_array(device_levels, "device_levels", what="tuple of conductance levels in siemens"))
        if lv.ndim != 1 or lv.size < 2:
            raise ConfigError(f"`device_levels` must hold at least two distinct levels in siemens; got {short_repr(device_levels)}.")
        tol = 1e-9 * g_hi
        inside = (lv >= g_lo - tol) & (lv <= g_hi + tol)
        if np.count_nonzero(inside) < 2:
            # every target would snap to a level outside the window: all weights decode to zero
            raise ConfigError(f"`device_levels` must hold at least two levels within the window [g_min, g_max] = "
                              f"[{g_lo!r}, {g_hi!r}] S (siemens, not microsiemens); got {short_repr(device_levels)}.")
        # targets stay in the programmable window: G_ON / G_OFF are the window's highest / lowest level
        levels = tuple(float(x) for x in lv[inside])
    else:
        levels = None

    def finite_scale(scale: float, magnitude: float) -> float:
        if not np.isfinite(scale):
            raise ConfigError(f"the weight magnitude {magnitude!r} is too small to scale onto the window "
                              f"[{g_lo!r}, {g_hi!r}] S; give `w_max` (or `gamma`) explicitly.")
        return scale

    def snap(g: FloatArray) -> FloatArray:
        return quantize(g, levels) if levels is not None else g

    # the span the targets are scaled onto: the lowest to the highest level when there are levels (a
    # window beyond them is snapped back to the end levels: levels 150-225 uS in a 100-250 uS window
    # decoded every weight shrunk, w_max as half of it), else the window
    s_lo, s_hi = (levels[0], levels[-1]) if levels is not None else (g_lo, g_hi)
    m, n = w.shape
    w_abs_max = float(np.abs(w).max())
    if enc.scheme == "differential":
        w_max = enc.w_max if enc.w_max is not None else (w_abs_max if w_abs_max > 0 else 1.0)
        s = finite_scale((s_hi - s_lo) / w_max, w_max)
        wc = np.clip(w, -w_max, w_max)
        gp = snap(s_lo + s * np.maximum(wc, 0.0))
        gn = snap(s_lo + s * np.maximum(-wc, 0.0))
        g, readout, part, names = _pair_layout(gp, gn, enc.layout)
        reference = np.zeros(g.shape[1], dtype=bool)
        g_scale = s
    elif enc.scheme == "ternary":
        gamma = enc.gamma if enc.gamma is not None else (w_abs_max if w_abs_max > 0 else 1.0)
        tern = np.rint(w / gamma)
        bad = (np.abs(tern) > 1) | (np.abs(w - tern * gamma) > 1e-9 * gamma)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise ConfigError(
                f"`weights` must be ternary {{-gamma, 0, +gamma}} with gamma = {gamma!r} for the ternary scheme; "
                f"got {float(w[i, j])!r} at ({i}, {j}). Use ternarize() first, or scheme='differential'."
            )
        g_off = levels[0] if levels is not None else g_lo
        g_on = levels[-1] if levels is not None else g_hi
        if enc.step is not None and enc.step < 1.0:
            g_on = g_off + enc.step * (g_on - g_off)
        gp = np.where(tern > 0, g_on, g_off)
        gn = np.where(tern < 0, g_on, g_off)
        g, readout, part, names = _pair_layout(gp, gn, enc.layout)
        reference = np.zeros(g.shape[1], dtype=bool)
        g_scale = finite_scale((g_on - g_off) / gamma, gamma)
        levels = (g_off, g_on)
    elif enc.scheme == "reference":
        w_max = enc.w_max if enc.w_max is not None else (w_abs_max if w_abs_max > 0 else 1.0)
        g_ref = float(snap(np.array(0.5 * (s_lo + s_hi))))
        half = min(s_hi - g_ref, g_ref - s_lo)
        if half <= 0:
            raise ConfigError(
                f"the reference scheme needs a reference level strictly inside the window; the levels "
                f"{levels} put it at {g_ref!r} S. Use more levels or scheme='differential'."
            )
        s = finite_scale(half / w_max, w_max)
        gw = snap(g_ref + s * np.clip(w, -w_max, w_max))
        g = np.concatenate([gw, np.full((m, 1), g_ref)], axis=1)
        readout = np.concatenate([np.eye(n), -np.ones((1, n))], axis=0)
        part = np.zeros(n + 1, dtype=np.int64)
        reference = np.zeros(n + 1, dtype=bool)
        reference[n] = True
        names = ("G",)
        g_scale = s
    else:  # pragma: no cover - Encoding validates the scheme
        raise ConfigError(f"`scheme` must be one of {get_args(EncodingScheme)}; got {enc.scheme!r}.")
    return MappedWeights(
        conductance=g, readout=readout, part=part, reference=reference, part_names=names,
        g_scale=float(g_scale), g_min=g_lo, g_max=g_hi, levels=levels, scheme=enc.scheme, layout=enc.layout,
    )


def ternarize(weights: ArrayLike, *, threshold: float, gamma: float) -> FloatArray:
    """Ternary weights ``gamma * sign(W)`` where ``|W| > threshold``, else 0.

    Parameters
    ----------
    weights : array_like
        Real-valued weights.
    threshold : float
        Magnitude at or below which a weight becomes 0 (>= 0).
    gamma : float
        The ternary magnitude (> 0).
    """
    w = as_float_array(weights, "weights", what="finite weight array")
    t = as_float_array(threshold, "threshold", what="non-negative weight threshold", min_value=0.0)
    if t.ndim:
        raise ConfigError(f"`threshold` must be a scalar non-negative weight threshold; got {short_repr(threshold)}.")
    g = _positive_float(gamma, "gamma", "positive weight magnitude")
    return np.where(np.abs(w) > float(t), g * np.sign(w), 0.0)


def mapping_error(w_hat: ArrayLike, w: ArrayLike) -> float:
    """Percent, ``100 ||W_hat - W|| / ||W||`` (Frobenius norms), the LEA paper's mapping error.

    Parameters
    ----------
    w_hat : array_like
        Weights recovered from read-back conductances.
    w : array_like
        Target weights, same shape, not all zero.
    """
    a = as_float_array(w_hat, "w_hat", what="finite weight array")
    b = as_float_array(w, "w", what="finite weight array")
    if a.shape != b.shape:
        raise ConfigError(f"`w_hat` must have the shape of `w` {b.shape}; got shape {a.shape}.")
    norm = float(np.linalg.norm(b))
    if norm == 0.0:
        raise ConfigError("`w` must not be all zero: the relative mapping error is undefined.")
    return 100.0 * float(np.linalg.norm(a - b)) / norm
