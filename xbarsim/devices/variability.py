"""Device variability: programming error, read noise, conductance levels and window spread.

All conductances are in siemens; relative quantities are plain fractions (0.01 is 1 %). Every
sampler takes an explicit :class:`numpy.random.Generator`, so the same seed gives the same chip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from xbarsim._typing import ArrayLike, FloatArray
from xbarsim._validation import (
    as_float_array,
    check_choice,
    check_rng,
    check_size,
    conductance_array,
    scalar,
    shape_tuple,
    short_repr,
)
from xbarsim.errors import ConfigError

__all__ = [
    "ReadNoiseKind",
    "ProgrammingError",
    "ReadNoise",
    "WindowSpread",
    "clip_conductance",
    "conductance_levels",
    "quantize",
]

#: Distribution of the additive read noise.
ReadNoiseKind = Literal["uniform", "gaussian"]


@dataclass(frozen=True, kw_only=True)
class ProgrammingError:
    """How far a programmed conductance lands from its target; drawn once per programming.

    ``G = T (1 + o + s(T) z1) + abs_sigma z2`` for target ``T``, with independent standard normal
    ``z1, z2``, a per-device systematic offset ``o ~ N(offset_mean, offset_std)`` and the relative
    tuning imprecision ``s(T) = max(rel_sigma_slope * T + rel_sigma_intercept, 0)``. Results are
    clipped at 0 S (a conductance cannot be negative). All parameters default to 0 (exact
    programming).

    Attributes
    ----------
    rel_sigma_slope : float
        1/S, slope of the relative standard deviation versus target conductance. Drolet et al.'s
        -6.24e-4 %/uS is ``-6.24`` 1/S.
    rel_sigma_intercept : float
        Fraction, relative standard deviation at 0 S (>= 0). Drolet: 0.691 % is ``6.91e-3``.
    offset_mean : float
        Fraction, mean of the per-device systematic relative offset. Drolet: ``-5.89e-3``.
    offset_std : float
        Fraction (>= 0), standard deviation of that offset across devices. Drolet: ``3.39e-3``.
    abs_sigma : float
        Siemens (>= 0), standard deviation of an additive Gaussian error independent of the target.
        LEA write noise: ``16.66e-6``.

    Notes
    -----
    Drolet's numbers (arXiv:2305.18495, code release 3it-inpaqt/Hardware-Aware-Article) give
    ``s = 0.629 %`` at 100 uS and ``0.379 %`` at 500 uS; ``s`` would reach 0 at 1.1 mS, which is why
    it is clamped. The offset is "systematic" in that a device keeps it across re-programming:
    draw it once with :meth:`sample_offset` and pass it to :meth:`sample` for every write of the
    same chip; when not given it is drawn afresh.
    """

    rel_sigma_slope: float = 0.0
    rel_sigma_intercept: float = 0.0
    offset_mean: float = 0.0
    offset_std: float = 0.0
    abs_sigma: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "rel_sigma_slope", scalar(self.rel_sigma_slope, "rel_sigma_slope", what="relative-sigma slope in 1/S")
        )
        for name, what in (
            ("rel_sigma_intercept", "non-negative relative standard deviation (fraction)"),
            ("offset_std", "non-negative relative standard deviation (fraction)"),
            ("abs_sigma", "non-negative standard deviation in siemens"),
        ):
            object.__setattr__(self, name, scalar(getattr(self, name), name, what=what, min_value=0.0))
        object.__setattr__(self, "offset_mean", scalar(self.offset_mean, "offset_mean", what="relative offset (fraction)"))

    def rel_sigma(self, target_g: ArrayLike) -> FloatArray:
        """Fraction, the relative tuning standard deviation ``max(slope * T + intercept, 0)`` at targets ``T`` (S)."""
        t = conductance_array(target_g, "target_g")
        return np.maximum(self.rel_sigma_slope * t + self.rel_sigma_intercept, 0.0)

    def sample_offset(self, shape: int | tuple[int, ...], rng: np.random.Generator) -> FloatArray:
        """Fraction, per-device systematic offsets ``N(offset_mean, offset_std)`` of the given shape."""
        return check_rng(rng).normal(self.offset_mean, self.offset_std, shape_tuple(shape, "shape"))

    def sample(
        self, target_g: ArrayLike, rng: np.random.Generator, *, offset: ArrayLike | None = None
    ) -> FloatArray:
        """Programmed conductances (S) for targets ``target_g`` (S), same shape.

        Parameters
        ----------
        target_g : array_like
            Siemens, non-negative target conductances.
        rng : numpy.random.Generator
            Source of randomness. Draw order: offsets (unless given), then ``z1``, then ``z2``.
        offset : array_like, optional
            Fraction, per-device systematic offsets broadcastable to ``target_g`` (from
            :meth:`sample_offset`); drawn afresh when omitted.

        Returns
        -------
        ndarray
            Siemens, programmed conductances, clipped at 0.
        """
        t = conductance_array(target_g, "target_g")
        check_rng(rng)
        if offset is None:
            o = self.sample_offset(t.shape, rng)
        else:
            o = as_float_array(offset, "offset", what="array of relative offsets (fractions)")
            try:
                o = np.broadcast_to(o, t.shape)
            except ValueError:
                raise ConfigError(
                    f"`offset` must broadcast to the shape of `target_g` {t.shape}; got shape {o.shape}."
                ) from None
        z1 = rng.standard_normal(t.shape)
        z2 = rng.standard_normal(t.shape)
        g = t * (1.0 + o + self.rel_sigma(t) * z1) + self.abs_sigma * z2
        return np.maximum(g, 0.0)


@dataclass(frozen=True, kw_only=True)
class ReadNoise:
    """Additive read noise, redrawn independently at every read.

    Attributes
    ----------
    kind : {"uniform", "gaussian"}
        Distribution of the noise.
    scale : float
        Siemens (>= 0): the half-width for ``"uniform"`` (noise in ``[-scale, scale]``), the
        standard deviation for ``"gaussian"``. LEA: uniform, ``10e-6`` (+-10 uS).

    Notes
    -----
    Reads are not clipped: a nearly-open device can read slightly negative, as in the measured LEA
    maps (down to about -13 uS).
    """

    kind: ReadNoiseKind
    scale: float

    def __post_init__(self) -> None:
        check_choice(self.kind, ("uniform", "gaussian"), "kind")
        object.__setattr__(self, "scale", scalar(self.scale, "scale", what="non-negative noise scale in siemens", min_value=0.0))

    @property
    def std(self) -> float:
        """Siemens, standard deviation of the noise (``scale / sqrt(3)`` for uniform)."""
        if self.kind == "uniform":
            return self.scale / np.sqrt(3.0)
        elif self.kind == "gaussian":
            return self.scale
        else:  # pragma: no cover - __post_init__ rejects other kinds
            raise ConfigError(f"`kind` must be 'uniform' or 'gaussian'; got {self.kind!r}.")

    def noise(self, shape: int | tuple[int, ...], rng: np.random.Generator) -> FloatArray:
        """Siemens, one draw of the additive noise with the given shape."""
        shp = shape_tuple(shape, "shape")
        check_rng(rng)
        if self.kind == "uniform":
            return rng.uniform(-self.scale, self.scale, shp)
        elif self.kind == "gaussian":
            return rng.normal(0.0, self.scale, shp)
        else:  # pragma: no cover - __post_init__ rejects other kinds
            raise ConfigError(f"`kind` must be 'uniform' or 'gaussian'; got {self.kind!r}.")

    def sample(self, g: ArrayLike, rng: np.random.Generator) -> FloatArray:
        """Siemens, one noisy read ``g + noise`` of conductances ``g`` (S); same shape as ``g``."""
        gg = conductance_array(g, "g", allow_negative=True)
        return gg + self.noise(gg.shape, rng)

    def read(self, g: ArrayLike, rng: np.random.Generator) -> FloatArray:
        """Siemens, one noisy read of ``g``; the same as :meth:`sample`, named for the physics."""
        return self.sample(g, rng)


@dataclass(frozen=True, kw_only=True)
class WindowSpread:
    """Device-to-device spread of the conductance window ``[g_min, g_max]``.

    Each device gets ``g_min_i = g_min exp(g_min_sigma z_i)`` and
    ``g_max_i = max(g_max exp(g_max_sigma w_i), g_min_i)`` with independent standard normal ``z, w``:
    log-normal, median at the nominal bounds, always positive, and never an inverted window.

    Attributes
    ----------
    g_min_sigma : float
        Dimensionless (>= 0), log-standard deviation of the lower bound (about the relative spread
        when small).
    g_max_sigma : float
        Dimensionless (>= 0), log-standard deviation of the upper bound.
    """

    g_min_sigma: float = 0.0
    g_max_sigma: float = 0.0

    def __post_init__(self) -> None:
        for name in ("g_min_sigma", "g_max_sigma"):
            value = scalar(getattr(self, name), name, what="non-negative log-standard deviation", min_value=0.0)
            object.__setattr__(self, name, value)

    def sample(
        self, g_min: float, g_max: float, shape: int | tuple[int, ...], rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        """Siemens, per-device ``(g_min_i, g_max_i)`` arrays of the given shape around nominal bounds (S)."""
        lo = scalar(g_min, "g_min", what="positive conductance in siemens", positive=True)
        hi = scalar(g_max, "g_max", what="positive conductance in siemens", positive=True)
        if not lo < hi:
            raise ConfigError(f"`g_min` must be below `g_max`; got g_min={g_min!r} S, g_max={g_max!r} S.")
        shp = shape_tuple(shape, "shape")
        check_rng(rng)
        lo_i = lo * np.exp(self.g_min_sigma * rng.standard_normal(shp))
        hi_i = np.maximum(hi * np.exp(self.g_max_sigma * rng.standard_normal(shp)), lo_i)
        return lo_i, hi_i


def clip_conductance(g: ArrayLike, g_min: ArrayLike, g_max: ArrayLike) -> FloatArray:
    """Clip conductances to the window ``[g_min, g_max]``.

    Parameters
    ----------
    g : array_like
        Siemens.
    g_min, g_max : float or array_like
        Siemens, window bounds, scalars or per-device arrays broadcastable to ``g`` with
        ``0 <= g_min <= g_max`` everywhere (scalars need ``g_min < g_max``).

    Returns
    -------
    ndarray
        Siemens, ``min(max(g, g_min), g_max)`` with the broadcast shape.
    """
    gg = conductance_array(g, "g", allow_negative=True)
    lo = conductance_array(g_min, "g_min")
    hi = conductance_array(g_max, "g_max")
    if lo.ndim == 0 and hi.ndim == 0:
        if not float(lo) < float(hi):
            raise ConfigError(f"`g_min` must be below `g_max`; got g_min={float(lo)!r} S, g_max={float(hi)!r} S.")
    elif np.any(lo > hi):
        raise ConfigError("`g_min` must not exceed `g_max` for any device; got a device with g_min > g_max.")
    try:
        return np.clip(gg, lo, hi)
    except ValueError:
        raise ConfigError(
            f"`g_min` and `g_max` must broadcast to the shape of `g` {gg.shape}; got shapes {lo.shape} and {hi.shape}."
        ) from None


def conductance_levels(n: int, g_min: float, g_max: float) -> FloatArray:
    """Siemens, ``n`` equally spaced conductance levels from ``g_min`` to ``g_max`` inclusive.

    Parameters
    ----------
    n : int
        Number of levels, >= 2.
    g_min, g_max : float
        Siemens, ``0 <= g_min < g_max``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ConfigError(f"`n` must be an integer number of levels >= 2; got {n!r}.")
    check_size((int(n),), "n")  # before: numpy's MemoryError for Encoding(levels=10**12)
    lo = scalar(g_min, "g_min", what="non-negative conductance in siemens", min_value=0.0)
    hi = scalar(g_max, "g_max", what="non-negative conductance in siemens", min_value=0.0)
    if not lo < hi:
        raise ConfigError(f"`g_min` must be below `g_max`; got g_min={g_min!r} S, g_max={g_max!r} S.")
    return np.linspace(lo, hi, int(n))


def quantize(g: ArrayLike, levels: ArrayLike) -> FloatArray:
    """Snap every conductance to the nearest of the given levels (ties go to the lower level).

    Parameters
    ----------
    g : array_like
        Siemens.
    levels : array_like, shape (k,)
        Siemens, k >= 1 distinct non-negative levels, any order.

    Returns
    -------
    ndarray
        Siemens, same shape as ``g``, every entry one of ``levels``.
    """
    gg = conductance_array(g, "g", allow_negative=True)
    lv = np.unique(conductance_array(levels, "levels"))
    if lv.ndim != 1 or lv.size < 1 or np.ndim(levels) != 1 or lv.size != np.size(levels):
        raise ConfigError(f"`levels` must be a 1-D array of distinct conductances in siemens; got {short_repr(levels)}.")
    if lv.size == 1:
        return np.full(gg.shape, lv[0])
    idx = np.clip(np.searchsorted(lv, gg), 1, lv.size - 1)
    below, above = lv[idx - 1], lv[idx]
    return np.where(gg - below <= above - gg, below, above)
