"""Stuck-at faults: which devices ignore programming, and the conductance they are stuck at.

A :class:`FaultMap` is one chip's faults (masks plus stuck values); a :class:`FaultModel` samples
fault maps from rates and stuck-value distributions; :meth:`FaultMap.from_measured` extracts a
fault map from a measured conductance map with thresholds. Conductances in siemens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from xbarsim._typing import ArrayLike, BoolArray, FloatArray
from xbarsim._validation import check_rng, conductance_array, fraction, readonly, scalar, shape_tuple, short_repr
from xbarsim.errors import ConfigError

__all__ = [
    "ConstantConductance",
    "NormalConductance",
    "UniformConductance",
    "ConductanceDistribution",
    "FaultMap",
    "FaultModel",
    "LEA_STUCK_ON_ABOVE",
    "LEA_STUCK_ON_ABOVE_PLOT",
    "LEA_STUCK_OFF_AT_OR_BELOW",
]

#: Siemens, LEA stuck-ON threshold used by the paper's mapping code: a device reading above 400 uS.
LEA_STUCK_ON_ABOVE = 400e-6
#: Siemens, LEA stuck-ON threshold of the paper's plots (Fig. 3d: 27 of 625 devices of kernel 17).
LEA_STUCK_ON_ABOVE_PLOT = 300e-6
#: Siemens, LEA stuck-OFF threshold: a device reading at or below 10 uS.
LEA_STUCK_OFF_AT_OR_BELOW = 10e-6


@dataclass(frozen=True, kw_only=True)
class ConstantConductance:
    """Every stuck device at the same conductance.

    Attributes
    ----------
    value : float
        Siemens, >= 0.
    """

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", scalar(self.value, "value", what="non-negative conductance in siemens", min_value=0.0))

    @property
    def mean(self) -> float:
        """Siemens, the value."""
        return self.value

    @property
    def std(self) -> float:
        """Siemens, 0."""
        return 0.0

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """Siemens, ``n`` values (draws nothing from ``rng``)."""
        check_rng(rng)
        return np.full(shape_tuple(n, "n"), self.value)


@dataclass(frozen=True, kw_only=True)
class NormalConductance:
    """Stuck conductances ``N(mean, std)``, clipped at 0 S.

    Attributes
    ----------
    mean : float
        Siemens, > 0.
    std : float
        Siemens, >= 0. Clipping at 0 matters only when ``std`` is not small against ``mean``
        (Drolet's 573 +- 99 uS loses a fraction 4e-9).
    """

    mean: float
    std: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", scalar(self.mean, "mean", what="positive conductance in siemens", positive=True))
        object.__setattr__(self, "std", scalar(self.std, "std", what="non-negative standard deviation in siemens", min_value=0.0))

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """Siemens, ``n`` draws."""
        return np.maximum(check_rng(rng).normal(self.mean, self.std, shape_tuple(n, "n")), 0.0)


@dataclass(frozen=True, kw_only=True)
class UniformConductance:
    """Stuck conductances uniform in ``[low, high]``.

    Attributes
    ----------
    low, high : float
        Siemens, ``0 <= low <= high``.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        lo = scalar(self.low, "low", what="non-negative conductance in siemens", min_value=0.0)
        hi = scalar(self.high, "high", what="non-negative conductance in siemens", min_value=0.0)
        if hi < lo:
            raise ConfigError(f"`high` must be >= `low`; got low={self.low!r} S, high={self.high!r} S.")
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    @property
    def mean(self) -> float:
        """Siemens, ``(low + high) / 2``."""
        return 0.5 * (self.low + self.high)

    @property
    def std(self) -> float:
        """Siemens, ``(high - low) / sqrt(12)``."""
        return (self.high - self.low) / np.sqrt(12.0)

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """Siemens, ``n`` draws."""
        return check_rng(rng).uniform(self.low, self.high, shape_tuple(n, "n"))


#: The stuck-value distributions a :class:`FaultModel` accepts.
ConductanceDistribution = Union[ConstantConductance, NormalConductance, UniformConductance]
_DISTRIBUTIONS = (ConstantConductance, NormalConductance, UniformConductance)


def _mask(value: Any, name: str) -> BoolArray:
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        raise ConfigError(f"`{name}` must be a boolean array; got dtype {arr.dtype}.")
    return readonly(arr)


@dataclass(frozen=True, kw_only=True, eq=False)
class FaultMap:
    """The stuck devices of one array.

    Attributes
    ----------
    stuck_on : ndarray of bool
        Devices stuck in a high-conductance state (they ignore programming).
    stuck_off : ndarray of bool
        Devices stuck in a low-conductance state; never overlaps ``stuck_on``.
    stuck_value : ndarray
        Siemens, the conductance each stuck device has; entries of healthy devices are ignored
        (0 by convention). Same shape as the masks.
    """

    stuck_on: BoolArray
    stuck_off: BoolArray
    stuck_value: FloatArray

    def __post_init__(self) -> None:
        on = _mask(self.stuck_on, "stuck_on")
        off = _mask(self.stuck_off, "stuck_off")
        val = conductance_array(self.stuck_value, "stuck_value")
        if off.shape != on.shape:
            raise ConfigError(f"`stuck_off` must have the shape of `stuck_on` {on.shape}; got shape {off.shape}.")
        if val.shape != on.shape:
            raise ConfigError(f"`stuck_value` must have the shape of `stuck_on` {on.shape}; got shape {val.shape}.")
        if np.any(on & off):
            raise ConfigError("`stuck_on` and `stuck_off` must not overlap; got a device marked both.")
        object.__setattr__(self, "stuck_on", on)
        object.__setattr__(self, "stuck_off", off)
        object.__setattr__(self, "stuck_value", readonly(np.where(on | off, val, 0.0)))

    @classmethod
    def none(cls, shape: int | tuple[int, ...]) -> FaultMap:
        """A fault map without stuck devices."""
        shp = shape_tuple(shape, "shape")
        return cls(stuck_on=np.zeros(shp, bool), stuck_off=np.zeros(shp, bool), stuck_value=np.zeros(shp))

    @classmethod
    def from_measured(
        cls, g_map: ArrayLike, *, stuck_on_above: float, stuck_off_at_or_below: float
    ) -> FaultMap:
        """Extract the stuck devices of a measured conductance map by thresholds.

        Parameters
        ----------
        g_map : array_like
            Siemens, measured (read-back) conductances; may be slightly negative (read noise).
        stuck_on_above : float
            Siemens, a device reading strictly above this is stuck-ON. LEA:
            :data:`LEA_STUCK_ON_ABOVE` (400 uS); the paper's plots use
            :data:`LEA_STUCK_ON_ABOVE_PLOT` (300 uS).
        stuck_off_at_or_below : float
            Siemens, a device reading at or below this is stuck-OFF. LEA:
            :data:`LEA_STUCK_OFF_AT_OR_BELOW` (10 uS). Must be below ``stuck_on_above``.

        Returns
        -------
        FaultMap
            Stuck values are the measured conductances, clipped at 0 S.
        """
        g = conductance_array(g_map, "g_map", allow_negative=True)
        on_t = scalar(stuck_on_above, "stuck_on_above", what="conductance threshold in siemens")
        off_t = scalar(stuck_off_at_or_below, "stuck_off_at_or_below", what="conductance threshold in siemens")
        if not off_t < on_t:
            raise ConfigError(
                f"`stuck_off_at_or_below` must be below `stuck_on_above`; got {stuck_off_at_or_below!r} S "
                f"and {stuck_on_above!r} S."
            )
        on = g > on_t
        off = g <= off_t
        return cls(stuck_on=on, stuck_off=off, stuck_value=np.maximum(g, 0.0))

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the array."""
        return tuple(int(s) for s in self.stuck_on.shape)

    @property
    def stuck(self) -> BoolArray:
        """Devices stuck either way (read-only)."""
        return readonly(self.stuck_on | self.stuck_off)

    @property
    def n_stuck_on(self) -> int:
        """Number of stuck-ON devices."""
        return int(np.count_nonzero(self.stuck_on))

    @property
    def n_stuck_off(self) -> int:
        """Number of stuck-OFF devices."""
        return int(np.count_nonzero(self.stuck_off))

    @property
    def n_stuck(self) -> int:
        """Number of stuck devices."""
        return self.n_stuck_on + self.n_stuck_off

    @property
    def rate(self) -> float:
        """Fraction of devices that are stuck (0.0 for an empty array)."""
        return self.n_stuck / self.stuck_on.size if self.stuck_on.size else 0.0

    @property
    def stuck_on_rate(self) -> float:
        """Fraction of devices that are stuck-ON."""
        return self.n_stuck_on / self.stuck_on.size if self.stuck_on.size else 0.0

    @property
    def stuck_off_rate(self) -> float:
        """Fraction of devices that are stuck-OFF."""
        return self.n_stuck_off / self.stuck_on.size if self.stuck_on.size else 0.0

    def apply(self, g: ArrayLike) -> FloatArray:
        """Siemens, ``g`` with every stuck device replaced by its stuck value; ``g`` must have the map's shape."""
        gg = conductance_array(g, "g", allow_negative=True)
        if gg.shape != self.stuck_on.shape:
            raise ConfigError(f"`g` must have the fault map's shape {self.shape}; got shape {gg.shape}.")
        return np.where(self.stuck, self.stuck_value, gg)


@dataclass(frozen=True, kw_only=True)
class FaultModel:
    """Independent stuck-at faults: each device is stuck-ON with probability ``stuck_on_rate``,
    stuck-OFF with probability ``stuck_off_rate``, healthy otherwise.

    Attributes
    ----------
    stuck_on_rate : float
        Fraction in [0, 1].
    stuck_off_rate : float
        Fraction in [0, 1]; ``stuck_on_rate + stuck_off_rate <= 1``.
    stuck_on_value : ConstantConductance or NormalConductance or UniformConductance
        Siemens, distribution of the conductance of stuck-ON devices.
        LEA simulation: ``ConstantConductance(value=500e-6)``; Drolet:
        ``NormalConductance(mean=573e-6, std=99e-6)``.
    stuck_off_value : ConstantConductance or NormalConductance or UniformConductance
        Siemens, distribution for stuck-OFF devices. LEA simulation:
        ``ConstantConductance(value=10e-6)``; Drolet: ``UniformConductance(low=10e-6, high=100e-6)``.

    Notes
    -----
    Faults are drawn per device, independently; measured chips also show whole dead lines (most
    near-zero devices of the LEA kernel maps sit in a few columns), which this model does not
    represent: use :meth:`FaultMap.from_measured` on a measured map for those.
    """

    stuck_on_rate: float
    stuck_off_rate: float
    stuck_on_value: ConductanceDistribution
    stuck_off_value: ConductanceDistribution

    def __post_init__(self) -> None:
        on = fraction(self.stuck_on_rate, "stuck_on_rate")
        off = fraction(self.stuck_off_rate, "stuck_off_rate")
        if on + off > 1.0 + 1e-12:
            raise ConfigError(f"`stuck_on_rate + stuck_off_rate` must be at most 1; got {on} + {off}.")
        for name in ("stuck_on_value", "stuck_off_value"):
            if not isinstance(getattr(self, name), _DISTRIBUTIONS):
                raise ConfigError(
                    f"`{name}` must be a ConstantConductance, NormalConductance or UniformConductance; "
                    f"got {short_repr(getattr(self, name))}."
                )
        object.__setattr__(self, "stuck_on_rate", on)
        object.__setattr__(self, "stuck_off_rate", off)

    @property
    def rate(self) -> float:
        """Fraction of devices expected to be stuck either way."""
        return self.stuck_on_rate + self.stuck_off_rate

    def sample(self, shape: int | tuple[int, ...], rng: np.random.Generator) -> FaultMap:
        """A fault map of the given shape.

        Draw order: one uniform per device (which decides healthy / stuck-ON / stuck-OFF), then the
        stuck-ON values, then the stuck-OFF values, so the same generator state gives the same map.
        """
        shp = shape_tuple(shape, "shape")
        check_rng(rng)
        u = rng.random(shp)
        on = u < self.stuck_on_rate
        off = (u >= self.stuck_on_rate) & (u < self.stuck_on_rate + self.stuck_off_rate)
        value = np.zeros(shp)
        value[on] = self.stuck_on_value.sample(int(on.sum()), rng)
        value[off] = self.stuck_off_value.sample(int(off.sum()), rng)
        return FaultMap(stuck_on=on, stuck_off=off, stuck_value=value)
