"""A simple voltage-driven switching law, and the write pulses of incremental write-verify.

:class:`SwitchingLaw` says how much one programming pulse changes a cell's conductance given the
voltage that actually reaches the cell. The same law moves the selected cell towards its target and
disturbs half-selected cells whose voltage exceeds their threshold, which is how
:func:`xbarsim.analysis.programming.program_array` produces half-select disturbance.
:class:`PulseSchedule` is the incremental step pulse programming (ISPP) of the write-verify loop.
:func:`drolet_tio2_law` is the law calibrated to the measured disturbance of Drolet et al.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import check_rng, scalar
from xbarsim.errors import ConfigError

__all__ = ["SwitchingLaw", "PulseSchedule", "drolet_tio2_law", "DROLET_SCHEDULE"]


@dataclass(frozen=True, kw_only=True)
class SwitchingLaw:
    """Threshold-type switching: a pulse changes a cell only when its voltage exceeds a threshold.

    For one pulse of cell voltage ``V`` (volt, row minus column) on a cell of conductance ``G`` in a
    preset window ``[g_min, g_max]`` of width ``W = g_max - g_min``::

        V >  v_set_i :   dG = + W rate_set   (exp((V - v_set_i) / v_scale) - 1)   s_set(G)   * xi
        V < -v_reset_i:  dG = - W rate_reset (exp((-V - v_reset_i) / v_scale) - 1) s_reset(G) * xi
        otherwise:       dG = 0

    with the state factors ``s_set(G) = (g_hi - G) / (g_hi - g_lo)`` and
    ``s_reset(G) = (G - g_lo) / (g_hi - g_lo)`` (clipped to [0, 1]) that slow switching near the
    physical bounds ``g_lo = g_min - window_margin W`` (at least ``g_min / 10``) and
    ``g_hi = g_max + window_margin W``, and the cycle-to-cycle factor ``xi``, log-normal with unit
    mean and log-standard deviation ``c2c_sigma``, drawn per cell and pulse. Positive voltages SET
    (raise ``G``), negative ones RESET. ``G`` stays in ``[g_lo, g_hi]``.

    Each device has its own thresholds ``v_set_i = v_set + threshold_sigma z`` and
    ``v_reset_i = v_reset + threshold_sigma z'`` (standard normal, drawn once per array by
    :meth:`sample_thresholds`). A half-selected cell drifts when ``|V|`` exceeds its own threshold:
    with V/2 biasing that happens once the write-verify ramp of a neighbour passes twice the
    threshold, so devices that need long ramps disturb their lines, and low-threshold devices are
    disturbed most (the heavy tails of the measured disturbance).

    Attributes
    ----------
    v_set : float
        Volt (> 0), mean SET threshold.
    v_reset : float
        Volt (> 0), mean RESET threshold magnitude.
    rate_set : float
        Dimensionless (> 0), SET change per pulse as a fraction of the window at an overdrive of
        ``v_scale ln 2``.
    rate_reset : float
        Dimensionless (> 0), the same for RESET.
    v_scale : float
        Volt (> 0), the overdrive that multiplies the switching rate by ``e``: small values make
        switching steeply voltage dependent.
    c2c_sigma : float
        Dimensionless (>= 0), log-standard deviation of the cycle-to-cycle factor ``xi``.
    threshold_sigma : float
        Volt (>= 0), device-to-device standard deviation of both thresholds.
    window_margin : float
        Dimensionless (>= 0), how far beyond the preset window (fraction of ``W``) a device can go.

    Notes
    -----
    An exponential dependence of the switching rate on the overdrive is the usual compact picture of
    ionic switching (field-accelerated ion hopping); the threshold itself is the common
    simplification of VTEAM-type models. The law is applied once per pulse with the cell voltage
    solved for the circuit, so IR drop and the biasing scheme enter through ``V`` only.
    """

    v_set: float
    v_reset: float
    rate_set: float
    rate_reset: float
    v_scale: float = 0.25
    c2c_sigma: float = 0.3
    threshold_sigma: float = 0.0
    window_margin: float = 0.25

    def __post_init__(self) -> None:
        for name in ("v_set", "v_reset", "v_scale"):
            object.__setattr__(self, name, scalar(getattr(self, name), name, what="positive voltage in volt", positive=True))
        for name in ("rate_set", "rate_reset"):
            object.__setattr__(self, name, scalar(getattr(self, name), name, what="positive rate (fraction of the window per pulse)",
                                                  positive=True))
        for name, what in (("c2c_sigma", "non-negative log-standard deviation"),
                           ("threshold_sigma", "non-negative voltage in volt"),
                           ("window_margin", "non-negative fraction of the window")):
            object.__setattr__(self, name, scalar(getattr(self, name), name, what=what, min_value=0.0))

    @property
    def min_threshold(self) -> float:
        """Volt, ``min(v_set, v_reset)``: the voltage magnitude above which a typical device switches."""
        return min(self.v_set, self.v_reset)

    def bounds(self, g_min: float, g_max: float) -> tuple[float, float]:
        """Siemens, the physical bounds ``(g_lo, g_hi)`` for a preset window ``[g_min, g_max]``
        (``0 < g_min < g_max``, ConfigError otherwise)."""
        g_min, g_max = _window(g_min, g_max)
        w = g_max - g_min
        return max(g_min - self.window_margin * w, 0.1 * g_min), g_max + self.window_margin * w

    def sample_thresholds(self, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Volt, per-device ``(v_set_i, v_reset_i)`` of the given shape, each at least ``v_scale / 10``.

        Draws nothing when ``threshold_sigma == 0``.
        """
        check_rng(rng)
        if self.threshold_sigma == 0.0:
            return np.full(shape, self.v_set), np.full(shape, self.v_reset)
        floor = 0.1 * self.v_scale
        vs = np.maximum(self.v_set + self.threshold_sigma * rng.standard_normal(shape), floor)
        vr = np.maximum(self.v_reset + self.threshold_sigma * rng.standard_normal(shape), floor)
        return vs, vr

    def apply(
        self,
        v: FloatArray,
        g: FloatArray,
        *,
        g_min: float,
        g_max: float,
        v_set: FloatArray | float | None = None,
        v_reset: FloatArray | float | None = None,
        rng: np.random.Generator,
    ) -> FloatArray:
        """Siemens, the conductances after one pulse that puts ``v`` (volt) across cells of conductance ``g``.

        Parameters
        ----------
        v, g : ndarray
            Volt and siemens, same shape.
        g_min, g_max : float
            Siemens, the preset window.
        v_set, v_reset : ndarray or float, optional
            Volt, per-device thresholds (:meth:`sample_thresholds`); default the mean thresholds.
        rng : numpy.random.Generator
            Draws one log-normal factor per switching cell, in C order of the switching cells
            (nothing when no cell switches or ``c2c_sigma == 0``).

        Returns
        -------
        ndarray
            Siemens, the new conductances, within ``bounds(g_min, g_max)``.
        """
        g_min, g_max = _window(g_min, g_max)  # before: g_min > g_max clipped every cell to 0 S, NaN gave NaN
        vv = np.asarray(v, dtype=np.float64)
        gg = np.asarray(g, dtype=np.float64)
        vs = self.v_set if v_set is None else v_set
        vr = self.v_reset if v_reset is None else v_reset
        over_set = vv - vs
        over_reset = -vv - vr
        set_on = over_set > 0
        reset_on = over_reset > 0
        if not (set_on.any() or reset_on.any()):
            return gg.copy()
        lo, hi = self.bounds(g_min, g_max)
        w = g_max - g_min
        span = hi - lo
        dg = np.zeros(vv.shape if vv.shape == gg.shape else np.broadcast_shapes(vv.shape, gg.shape))
        if set_on.any():
            o = np.where(set_on, over_set, 0.0)
            dg += w * self.rate_set * np.expm1(o / self.v_scale) * np.clip((hi - gg) / span, 0.0, 1.0)
        if reset_on.any():
            o = np.where(reset_on, over_reset, 0.0)
            dg -= w * self.rate_reset * np.expm1(o / self.v_scale) * np.clip((gg - lo) / span, 0.0, 1.0)
        if self.c2c_sigma > 0:
            moving = dg != 0
            k = int(np.count_nonzero(moving))
            if k:
                s = self.c2c_sigma
                dg[moving] *= np.exp(s * check_rng(rng).standard_normal(k) - 0.5 * s * s)
        return np.clip(gg + dg, lo, hi)


def _window(g_min: Any, g_max: Any) -> tuple[float, float]:
    """``(g_min, g_max)`` as floats with ``0 < g_min < g_max`` finite, or ConfigError naming the bad one."""
    if (isinstance(g_min, float | np.floating) and isinstance(g_max, float | np.floating)
            and 0.0 < g_min < g_max < np.inf):  # the per-pulse call of program_array: no more to check
        return float(g_min), float(g_max)
    lo = scalar(g_min, "g_min", what="positive conductance in siemens", positive=True)
    hi = scalar(g_max, "g_max", what="positive conductance in siemens", positive=True)
    if not lo < hi:
        raise ConfigError(f"`g_max` must exceed `g_min` (the preset window); got g_min={lo!r} S, g_max={hi!r} S.")
    return lo, hi


@dataclass(frozen=True, kw_only=True)
class PulseSchedule:
    """Incremental step pulse programming (ISPP) of the write-verify loop.

    Each pulse is applied at the selected row's driver. A SET pulse (cell below target) starts at
    ``v_set_start`` and grows by ``v_step`` per consecutive SET pulse up to ``v_set_max``; RESET
    pulses (cell above target) are negative with magnitudes from ``v_reset_start`` to
    ``v_reset_max``. A change of polarity restarts the ramp (Drolet et al.'s procedure).

    Attributes
    ----------
    v_set_start, v_set_max : float
        Volt (> 0), first and largest SET amplitude.
    v_reset_start, v_reset_max : float
        Volt (> 0), first and largest RESET magnitude.
    v_step : float
        Volt (> 0), amplitude increment per pulse.
    """

    v_set_start: float = 1.1
    v_set_max: float = 2.1
    v_reset_start: float = 1.1
    v_reset_max: float = 2.4
    v_step: float = 0.02

    def __post_init__(self) -> None:
        for name in ("v_set_start", "v_set_max", "v_reset_start", "v_reset_max", "v_step"):
            object.__setattr__(self, name, scalar(getattr(self, name), name, what="positive voltage in volt", positive=True))
        if self.v_set_max < self.v_set_start:
            raise ConfigError(f"`v_set_max` must be >= `v_set_start`; got {self.v_set_max!r} V < {self.v_set_start!r} V.")
        if self.v_reset_max < self.v_reset_start:
            raise ConfigError(f"`v_reset_max` must be >= `v_reset_start`; got {self.v_reset_max!r} V < {self.v_reset_start!r} V.")

    @property
    def v_max(self) -> float:
        """Volt, the largest amplitude of either polarity."""
        return max(self.v_set_max, self.v_reset_max)

    @property
    def v_min(self) -> float:
        """Volt, the smallest amplitude of either polarity."""
        return min(self.v_set_start, self.v_reset_start)

    def amplitude(self, polarity: int, count: int) -> float:
        """Volt, signed amplitude of the ``count``-th (from 0) consecutive pulse of ``polarity`` (+1 SET, -1 RESET)."""
        if polarity > 0:
            return min(self.v_set_start + count * self.v_step, self.v_set_max)
        return -min(self.v_reset_start + count * self.v_step, self.v_reset_max)


#: The write-verify settings of Drolet et al.'s measured maps (header of ``dead_xbar_P464EC_HD.csv``):
#: SET from 1.1 V to 2.1 V, RESET from -1.1 V to -2.4 V, 20 mV steps.
DROLET_SCHEDULE = PulseSchedule()


def drolet_tio2_law() -> SwitchingLaw:
    """Switching law of passive TiO2 devices calibrated to Drolet et al.'s half-select disturbance.

    Source of the target: Drolet et al., arXiv:2305.18495 (2023), code release
    3it-inpaqt/Hardware-Aware-Article (MIT); the statistics shipped as
    :func:`xbarsim.devices.measured.drolet_disturbance_stats` (mean and standard deviation of the
    conductance change of a programmed device versus the number of devices programmed after it;
    mean about -11 uS and spread about 21 uS by n ~ 30).

    Calibration (:func:`xbarsim.analysis.calibration.calibrate_switching_law`, default grid over
    ``v_set``, ``v_reset``, ``threshold_sigma``; seed 0, 32 arrays per point): 8 x 8 arrays of
    :func:`~xbarsim.devices.presets.tio2_passive` devices (faults off), ideal wires, V/2 scheme,
    :data:`DROLET_SCHEDULE`, 1 % tolerance, targets and initial states uniform in 100-500 uS,
    row-major programming order; the mean and standard-deviation curves for ``n = 1..35`` fitted by
    weighted least squares (weights: the measured sample counts). Rates (0.004) and ``v_scale``
    (0.25 V) were set by hand so that ISPP from 1.1 V needs about 25 pulses per cell.

    Fit (:func:`~xbarsim.analysis.disturbance.compare_disturbance`, independent check with
    128 arrays, seed 100): weighted rms difference 1.2 uS on the mean and 1.2 uS on the standard
    deviation; shape correlation 0.93 (mean) and 0.97 (std). Simulated vs measured, mean / std in uS:
    n = 1: -1.2 / 6.1 vs -0.6 / 8.2; n = 10: -5.8 / 17.2 vs -6.0 / 15.6; n = 20: -7.1 / 19.6 vs
    -7.4 / 18.6; n = 30: -8.5 / 21.9 vs -11.2 / 21.6. As in the raw samples of the data the
    distribution is heavy-tailed (n = 10, 5-95 % range: -39..10 uS simulated, -29..11 uS measured),
    but more simulated cells do not move at all (65 % at n = 1 against 14 % within 0.5 uS measured:
    no read noise is modelled). The drift comes from RESET pulses above ``2 v_reset`` on
    neighbours, so it is negative on average. The order matters: with a random order the spread at n = 1 is only
    2.8 uS (rms std error 4.7 uS), and V/3 disturbs too little early on (rms std error 8.6 uS).
    The measured curve turns back towards zero beyond n ~ 35 (few, early-programmed samples); the
    law does not reproduce that and the comparison stops at n = 35.

    Validity: programming pulses of 1-2.4 V, 100-500 uS windows, arrays programmed with V/2-type
    schemes. Only the disturbance statistics were fitted; the thresholds are consistent with the
    1.1 V start of Drolet's ramps but were not measured directly.
    """
    return SwitchingLaw(
        v_set=0.80,
        v_reset=0.60,
        rate_set=4e-3,
        rate_reset=4e-3,
        v_scale=0.25,
        c2c_sigma=0.3,
        threshold_sigma=0.10,
        window_margin=0.25,
    )
