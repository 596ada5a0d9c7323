"""Calibrated device presets: one frozen :class:`DevicePreset` per published device, built by a function.

Each preset function cites its paper, figures and data files and states its range of validity. A
preset samples programmed arrays (:meth:`DevicePreset.sample_conductance`) and noisy reads
(:meth:`DevicePreset.read`); ``xbarsim.Crossbar.from_preset`` turns one into a crossbar in one call.
Variants are made with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import get_args

import numpy as np

from xbarsim._typing import ArrayLike, DeviceLawName, FloatArray
from xbarsim._validation import check_rng, conductance_array, fraction, readonly, scalar, short_repr
from xbarsim.devices.faults import (
    ConstantConductance,
    FaultMap,
    FaultModel,
    NormalConductance,
    UniformConductance,
)
from xbarsim.devices.models import DeviceModel, Ohmic, Sinh
from xbarsim.devices.variability import (
    ProgrammingError,
    ReadNoise,
    WindowSpread,
    clip_conductance,
    quantize,
)
from xbarsim.errors import ConfigError

__all__ = [
    "DevicePreset",
    "ProgrammedArray",
    "LEA_SINH_A",
    "PRESETS",
    "DEVICE_LAWS",
    "device_law",
    "tio2_passive",
    "rram_1t1r_nist",
]

#: 1/V, sinh nonlinearity fitted to the LEA I-V sweeps (median of 19 positive cycles, 0-0.5 V,
#: :func:`xbarsim.devices.fit.fit_lea_iv`); quartiles 1.98-2.15 /V.
LEA_SINH_A = 2.07


@dataclass(frozen=True, kw_only=True, eq=False)
class ProgrammedArray:
    """The result of programming an array from a preset.

    Attributes
    ----------
    conductance : ndarray
        Siemens, the programmed small-signal conductances, stuck devices included.
    target : ndarray
        Siemens, the targets actually aimed at: the requested ones clipped to the window and
        snapped to the preset's levels.
    faults : FaultMap
        The stuck devices of this array.
    """

    conductance: FloatArray
    target: FloatArray
    faults: FaultMap

    def __post_init__(self) -> None:
        object.__setattr__(self, "conductance", readonly(np.asarray(self.conductance, dtype=np.float64)))
        object.__setattr__(self, "target", readonly(np.asarray(self.target, dtype=np.float64)))


@dataclass(frozen=True, kw_only=True, eq=False)
class DevicePreset:
    """Everything needed to turn target conductances into a realistic programmed array.

    Attributes
    ----------
    name : str
        Short identifier.
    g_min, g_max : float
        Siemens, the programmable window, ``0 < g_min < g_max``.
    levels : tuple of float or None
        Siemens, the discrete conductance levels used, each inside the window; ``None`` for analog
        programming anywhere in the window.
    device : DeviceModel
        The I-V law of every cell.
    programming : ProgrammingError
        Error of each write.
    read_noise : ReadNoise or None
        Noise of each read; ``None`` for noiseless reads.
    faults : FaultModel
        Stuck-at fault statistics.
    read_voltage : float
        Volt, the read voltage at which the source measured its conductances (> 0).
    kernel_shape : (int, int) or None
        Rows x columns of the physical arrays the data come from.
    citation : str
        Where the numbers come from.
    window_spread : WindowSpread or None
        Device-to-device spread of the window; ``None`` (default) for one window for all.
    """

    name: str
    g_min: float
    g_max: float
    levels: tuple[float, ...] | None
    device: DeviceModel
    programming: ProgrammingError
    read_noise: ReadNoise | None
    faults: FaultModel
    read_voltage: float
    kernel_shape: tuple[int, int] | None
    citation: str
    window_spread: WindowSpread | None = None

    def __post_init__(self) -> None:
        lo = scalar(self.g_min, "g_min", what="positive conductance in siemens", positive=True)
        hi = scalar(self.g_max, "g_max", what="positive conductance in siemens", positive=True)
        if not lo < hi:
            raise ConfigError(f"`g_min` must be below `g_max`; got g_min={self.g_min!r} S, g_max={self.g_max!r} S.")
        object.__setattr__(self, "g_min", lo)
        object.__setattr__(self, "g_max", hi)
        if self.levels is not None:
            lv = conductance_array(self.levels, "levels")
            if lv.ndim != 1 or lv.size < 1 or np.unique(lv).size != lv.size:
                raise ConfigError(f"`levels` must be a non-empty tuple of distinct conductances in siemens; got {short_repr(self.levels)}.")
            if np.any(lv < lo) or np.any(lv > hi):
                raise ConfigError(f"`levels` must lie in [g_min, g_max] = [{lo!r}, {hi!r}] S; got {short_repr(self.levels)}.")
            object.__setattr__(self, "levels", tuple(float(x) for x in np.sort(lv)))
        if not isinstance(self.device, DeviceModel):
            raise ConfigError(f"`device` must implement the DeviceModel protocol; got {type(self.device).__name__}.")
        if not isinstance(self.programming, ProgrammingError):
            raise ConfigError(f"`programming` must be a ProgrammingError; got {type(self.programming).__name__}.")
        if self.read_noise is not None and not isinstance(self.read_noise, ReadNoise):
            raise ConfigError(f"`read_noise` must be a ReadNoise or None; got {type(self.read_noise).__name__}.")
        if not isinstance(self.faults, FaultModel):
            raise ConfigError(f"`faults` must be a FaultModel; got {type(self.faults).__name__}.")
        if self.window_spread is not None and not isinstance(self.window_spread, WindowSpread):
            raise ConfigError(f"`window_spread` must be a WindowSpread or None; got {type(self.window_spread).__name__}.")
        object.__setattr__(
            self, "read_voltage", scalar(self.read_voltage, "read_voltage", what="positive voltage in volt", positive=True)
        )
        if self.kernel_shape is not None:
            ks = self.kernel_shape
            if (
                not isinstance(ks, tuple)
                or len(ks) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in ks)
            ):
                raise ConfigError(f"`kernel_shape` must be a (rows, columns) tuple of positive ints or None; got {ks!r}.")
        if not isinstance(self.citation, str):
            raise ConfigError(f"`citation` must be a string; got {type(self.citation).__name__}.")

    def targets(self, target_g: ArrayLike) -> FloatArray:
        """Siemens, ``target_g`` clipped to ``[g_min, g_max]`` and snapped to the preset's levels, if any."""
        g = conductance_array(target_g, "target_g")
        if g.size == 0:
            raise ConfigError(f"`target_g` must hold at least one conductance in siemens; got an empty array of shape "
                              f"{g.shape}.")
        t = clip_conductance(g, self.g_min, self.g_max)
        return quantize(t, self.levels) if self.levels is not None else t

    def sample_conductance(
        self, target_g: ArrayLike, rng: np.random.Generator, *, offset: ArrayLike | None = None
    ) -> ProgrammedArray:
        """Program an array: clip (and quantize) the targets, add the programming error, apply faults.

        Parameters
        ----------
        target_g : array_like
            Siemens, desired conductances (any shape, typically ``(M, N)``).
        rng : numpy.random.Generator
            Source of all randomness; the same seed gives the same chip. Draw order: window spread
            (if any), programming error, fault map.
        offset : array_like, optional
            Fraction, per-device systematic programming offsets
            (:meth:`ProgrammingError.sample_offset`) to reuse across re-programmings of one chip.

        Returns
        -------
        ProgrammedArray
            ``.conductance`` (S), ``.target`` (S) and the freshly sampled ``.faults``.

        Notes
        -----
        With a window spread the targets are first clipped to each device's own window. The
        programmed values are not clipped back to the window (a write can overshoot it); they are
        only kept non-negative. Stuck devices take their stuck value whatever the target.
        """
        check_rng(rng)
        t = self.targets(target_g)
        if self.window_spread is not None:
            lo, hi = self.window_spread.sample(self.g_min, self.g_max, t.shape, rng)
            t = clip_conductance(t, lo, hi)
        g = self.programming.sample(t, rng, offset=offset)
        faults = self.faults.sample(t.shape, rng)
        return ProgrammedArray(conductance=faults.apply(g), target=t, faults=faults)

    def read(self, g: ArrayLike, rng: np.random.Generator) -> FloatArray:
        """Siemens, one noisy read of conductances ``g`` (S); noise redrawn at every call."""
        if self.read_noise is None:
            check_rng(rng)
            return np.array(conductance_array(g, "g", allow_negative=True), copy=True)
        return self.read_noise.read(g, rng)

    def chord_conductance(self, g: ArrayLike) -> FloatArray:
        """Siemens, what a read at :attr:`read_voltage` reports, ``I(V_read, g) / V_read``, for small-signal ``g``."""
        gg = conductance_array(g, "g")
        v = np.full(gg.shape, self.read_voltage)
        return np.asarray(self.device.current(v, gg)) / self.read_voltage


def tio2_passive(*, stuck_rate: float = 0.01) -> DevicePreset:
    """Passive (selector-less) TiO2 ReRAM crossbar of Drolet et al. 2023.

    Source: Drolet et al., "Hardware-aware training techniques for improving robustness of ex-situ
    neural network transfer onto passive TiO2 ReRAM crossbars", arXiv:2305.18495 (2023), and its
    code release 3it-inpaqt/Hardware-Aware-Article (MIT), ``hardaware_linear.py`` defaults.

    * Window 100-500 uS (HRS 10 kOhm, LRS 2 kOhm), analog (no levels), 8 x 8 arrays, read 0.2 V
      (header of the measured maps ``dead_xbar_*.csv``).
    * Programming (write-verify, 1 % tolerance): relative tuning imprecision
      ``sigma(G) = -6.24e-4 %/uS * G + 0.691 %`` (0.63 % at 100 uS, 0.38 % at 500 uS; paper Fig. 2)
      and a per-device systematic offset ``N(-0.589 %, 0.339 %)``; no absolute term.
    * Faults: ``stuck_rate`` in total (default 1 %), half stuck at LRS with
      ``G ~ N(573 uS, 99 uS)``, half stuck at HRS with ``G ~ U(10, 100) uS``.
    * No read noise is given by the source (``read_noise=None``).
    * Device law: :class:`~xbarsim.devices.models.Sinh` with ``a = 2.07 /V``
      (:data:`LEA_SINH_A`). Assumption: Drolet et al. publish no I-V curve, so this is the value
      fitted to the only measured I-V data shipped (the LEA chip, a 1T1R HfOx-type device, low-
      resistance state, 0-0.5 V; :func:`xbarsim.devices.fit.fit_lea_iv`). It is not a TiO2
      measurement, only the best measured stand-in at hand; replace it with
      ``dataclasses.replace(preset, device=Sinh(a=...))`` when a TiO2 fit is available.

    Validity: targets in 100-500 uS, read and half-select voltages up to about 0.5 V (the range of
    the sinh fit; Drolet's SET/RESET pulses start at +-1.1 V, outside it); statistics from 8 x 8
    arrays and one fabrication run. The half-select programming disturbance the paper also
    measured is shipped as data (:func:`xbarsim.devices.measured.drolet_disturbance_stats`) but is
    not part of this preset.

    Parameters
    ----------
    stuck_rate : float
        Fraction of stuck devices in [0, 1], split equally between stuck-ON and stuck-OFF.
    """
    rate = fraction(stuck_rate, "stuck_rate")
    return DevicePreset(
        name="tio2_passive",
        g_min=100e-6,
        g_max=500e-6,
        levels=None,
        device=Sinh(a=LEA_SINH_A),
        programming=ProgrammingError(
            rel_sigma_slope=-6.24e-4 * 1e-2 / 1e-6,  # %/uS -> fraction per siemens
            rel_sigma_intercept=0.691e-2,
            offset_mean=-0.589e-2,
            offset_std=0.339e-2,
        ),
        read_noise=None,
        faults=FaultModel(
            stuck_on_rate=rate / 2,
            stuck_off_rate=rate / 2,
            stuck_on_value=NormalConductance(mean=573e-6, std=99e-6),
            stuck_off_value=UniformConductance(low=10e-6, high=100e-6),
        ),
        read_voltage=0.2,
        kernel_shape=(8, 8),
        citation=(
            "Drolet et al., Hardware-aware training techniques for improving robustness of ex-situ neural "
            "network transfer onto passive TiO2 ReRAM crossbars, arXiv:2305.18495 (2023); code release "
            "3it-inpaqt/Hardware-Aware-Article (MIT). Sinh a = 2.07 /V fitted to LEA I-V data (assumption)."
        ),
    )


def rram_1t1r_nist(*, stuck_rate: float = 0.05) -> DevicePreset:
    """The 1T1R ReRAM chip of the Layer Ensemble Averaging paper (Yousuf et al.).

    Source: Yousuf et al., "Layer Ensemble Averaging for Improving Memristor-Based Artificial Neural
    Network Performance", arXiv:2404.15621 (Nat. Commun. 16, 1250, 2025), and its data release
    ADAM-Lab-GW/layer-ensemble-averaging (BSD-3-Clause). Chip: 32 kernels of 25 x 25 1T1R devices,
    read at 0.3 V.

    * Levels: only G_OFF = 133 uS and G_ON = 233 uS are used by the network (ternary weights as
      differential pairs); the window is [133, 233] uS. The chip was also programmed to 4 levels
      (133, 167, 200, 233 uS; Fig. 3b/d/e) -- use ``dataclasses.replace(preset, levels=...)``.
    * Write noise N(0, 16.66 uS) (absolute), read noise uniform +-10 uS redrawn at every read: the
      paper's simulation settings.
    * Faults: ``stuck_rate`` in total, half stuck-ON at 500 uS, half stuck-OFF at 10 uS (the
      paper's simulation values). Default 5 %: the shipped read-back maps of 13 kernels
      (``greedy_simple_alpha4_beta4_kernel*.txt``) have 2.5 % of devices above the 400 uS stuck-ON
      threshold and kernel 17 has 4.3 % above 300 uS (Fig. 3d); the 3.8 % at or below 10 uS are
      mostly whole dead columns, which a per-device model does not describe.
    * Device law: :class:`~xbarsim.devices.models.Sinh` with ``a = 2.07 /V`` fitted to this chip's
      own I-V sweeps (Fig. 3c, ``iv_positive_cycle{1..19}.txt``, 0-0.5 V, low-resistance state;
      :func:`xbarsim.devices.fit.fit_lea_iv`). The conductances quoted by the paper are reads at
      0.3 V; the chord conductance there exceeds the small-signal ``g`` by 6.5 %
      (:meth:`DevicePreset.chord_conductance`). The preset treats the quoted levels as
      small-signal ``g``.

    Validity: 133-233 uS, voltages up to about 0.5 V across a cell; statistics of one chip. The
    access transistor is not modelled: a cell is the memristor alone, which is how the paper's
    simulations treat it.

    Parameters
    ----------
    stuck_rate : float
        Fraction of stuck devices in [0, 1], split equally between stuck-ON and stuck-OFF.
    """
    rate = fraction(stuck_rate, "stuck_rate")
    return DevicePreset(
        name="rram_1t1r_nist",
        g_min=133e-6,
        g_max=233e-6,
        levels=(133e-6, 233e-6),
        device=Sinh(a=LEA_SINH_A),
        programming=ProgrammingError(abs_sigma=16.66e-6),
        read_noise=ReadNoise(kind="uniform", scale=10e-6),
        faults=FaultModel(
            stuck_on_rate=rate / 2,
            stuck_off_rate=rate / 2,
            stuck_on_value=ConstantConductance(value=500e-6),
            stuck_off_value=ConstantConductance(value=10e-6),
        ),
        read_voltage=0.3,
        kernel_shape=(25, 25),
        citation=(
            "Yousuf et al., Layer Ensemble Averaging for Improving Memristor-Based Artificial Neural Network "
            "Performance, arXiv:2404.15621 (Nat. Commun. 16, 1250, 2025); data release "
            "ADAM-Lab-GW/layer-ensemble-averaging (BSD-3-Clause)."
        ),
    )


#: Device presets by name: the one list every layer (Hardware's ``preset``, ``bias-compare --preset``)
#: reads. Each is a function of ``stuck_rate`` (and keyword options) returning a :class:`DevicePreset`.
PRESETS: Mapping[str, Callable[..., DevicePreset]] = MappingProxyType({
    "rram_1t1r_nist": rram_1t1r_nist,
    "tio2_passive": tio2_passive,
})

#: Cell I-V laws by name: the one list of the laws a config or a command line may name.
DEVICE_LAWS: tuple[DeviceLawName, ...] = get_args(DeviceLawName)


def device_law(name: str, *, sinh_a: float = LEA_SINH_A) -> DeviceModel:
    """The :class:`DeviceModel` of a law of :data:`DEVICE_LAWS`: ``"ohmic"``, or ``"sinh"`` with
    nonlinearity ``sinh_a`` (1/V; default the LEA fit, :data:`LEA_SINH_A`)."""
    if name == "ohmic":
        return Ohmic()
    if name == "sinh":
        return Sinh(a=sinh_a)
    raise ConfigError(f"`device` must be one of {', '.join(map(repr, DEVICE_LAWS))}; got {short_repr(name)}.")
