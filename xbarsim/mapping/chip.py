"""A chip: a pool of equally sized kernels (arrays), each with its own faults and device preset.

The :class:`Chip` is the simulated hardware: the true stuck devices, every device's systematic
programming offset, the wires, and the present conductance of every device. Nothing in the mapping
flow looks at the true faults: it learns them as the LEA paper does, by :func:`characterize`
(read every device after SET-all and after RESET-all and apply thresholds).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, BoolArray, FloatArray, IntArray
from xbarsim._validation import as_float_array, check_choice, check_rng, readonly, short_repr
from xbarsim.devices.faults import (
    LEA_STUCK_OFF_AT_OR_BELOW,
    LEA_STUCK_ON_ABOVE,
    FaultMap,
)
from xbarsim.devices.measured import LEA_KERNELS, lea_kernel_map
from xbarsim.devices.presets import DevicePreset, rram_1t1r_nist
from xbarsim.errors import ConfigError
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance

__all__ = ["Chip", "Thresholds", "Characterization", "characterize", "lea_chip", "preset_groups"]


#: The LEA chip's window, to which the LEA thresholds belong (`rram_1t1r_nist`).
_LEA_G_MIN = 133e-6
_LEA_G_MAX = 233e-6


def _kernel_shape(value: object) -> tuple[int, int]:
    if (not isinstance(value, tuple) or len(value) != 2
            or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in value)):
        raise ConfigError(f"`kernel_shape` must be a (rows, columns) tuple of positive ints; got {short_repr(value)}.")
    return (int(value[0]), int(value[1]))


def preset_groups(presets: Sequence[DevicePreset]) -> list[tuple[DevicePreset, IntArray]]:
    """The distinct presets (by identity) and the kernel indices that use each, in first-use order."""
    out: list[tuple[DevicePreset, list[int]]] = []
    for k, p in enumerate(presets):
        for q, ks in out:
            if q is p:
                ks.append(k)
                break
        else:
            out.append((p, [k]))
    return [(p, np.array(ks, dtype=np.int64)) for p, ks in out]


@dataclass(frozen=True, kw_only=True, eq=False)
class Chip:
    """A pool of ``K`` kernels of ``R x C`` devices.

    Attributes
    ----------
    presets : tuple of DevicePreset, length K
        The device preset of every kernel. All must share the window ``[g_min, g_max]`` and the
        levels (a layer is encoded once for the whole chip); device laws and noise may differ.
    faults : FaultMap, shape (K, R, C)
        The true stuck devices (ground truth of the simulation; the mapping flow only sees what
        :func:`characterize` finds).
    conductance : ndarray, shape (K, R, C)
        Siemens, present small-signal conductance of every device. A sampled or programmed chip
        holds each stuck device's stuck value here; this is not enforced, since a read view
        (:func:`~xbarsim.mapping.read_chip`) holds noisy reads of them. Replacing ``faults`` does
        not update it: pass ``conductance=faults.apply(chip.conductance)`` with new faults.
    offsets : ndarray, shape (K, R, C)
        Fraction, each device's systematic programming offset
        (:meth:`~xbarsim.devices.ProgrammingError.sample_offset`), kept across re-programming.
    lines : LineResistance
        Ohm, the wires of every kernel (scalars, or arrays of the shapes stated for an ``R x C``
        crossbar). Default ideal wires.
    """

    __repr__ = compact_repr

    presets: tuple[DevicePreset, ...]
    faults: FaultMap
    conductance: FloatArray
    offsets: FloatArray
    lines: LineResistance = field(default_factory=LineResistance)

    def __post_init__(self) -> None:
        presets = tuple(self.presets) if isinstance(self.presets, (list, tuple)) else None
        if not presets or not all(isinstance(p, DevicePreset) for p in presets):
            raise ConfigError(f"`presets` must be a non-empty tuple of DevicePreset, one per kernel; got {short_repr(self.presets)}.")
        p0 = presets[0]
        for k, p in enumerate(presets):
            if p.window_spread is not None:  # before: accepted and ignored by every chip step
                raise ConfigError(f"kernel {k}'s preset {p.name!r} has a `window_spread`, which the chip flow does not "
                                  "model (one window [g_min, g_max] for all devices); use a preset without it "
                                  "(DevicePreset.sample_conductance models it for one array).")
            if (p.g_min, p.g_max, p.levels) != (p0.g_min, p0.g_max, p0.levels):
                raise ConfigError(
                    f"every kernel's preset must share the window and levels of kernel 0 "
                    f"([{p0.g_min}, {p0.g_max}] S, levels {p0.levels}); kernel {k} has "
                    f"[{p.g_min}, {p.g_max}] S, levels {p.levels}."
                )
        if not isinstance(self.faults, FaultMap):
            raise ConfigError(f"`faults` must be a FaultMap of shape (K, R, C); got {type(self.faults).__name__}.")
        shape = self.faults.shape
        if len(shape) != 3 or shape[0] != len(presets) or shape[1] < 1 or shape[2] < 1:
            raise ConfigError(f"`faults` must have shape (K, R, C) with K = {len(presets)} kernels; got shape {shape}.")
        g = as_float_array(self.conductance, "conductance", what="array of non-negative conductances in siemens", min_value=0.0)
        off = as_float_array(self.offsets, "offsets", what="array of relative programming offsets (fractions)")
        for name, arr in (("conductance", g), ("offsets", off)):
            if arr.shape != shape:
                raise ConfigError(f"`{name}` must have the shape of the fault map {shape}; got shape {arr.shape}.")
        if not isinstance(self.lines, LineResistance):
            raise ConfigError(f"`lines` must be a LineResistance; got {type(self.lines).__name__}.")
        object.__setattr__(self, "presets", presets)
        object.__setattr__(self, "conductance", readonly(g))
        object.__setattr__(self, "offsets", readonly(off))
        object.__setattr__(self, "lines", self.lines.broadcast(shape[1], shape[2]))

    # -- geometry -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(K, R, C)``."""
        s = self.faults.shape
        return (s[0], s[1], s[2])

    @property
    def n_kernels(self) -> int:
        """``K``."""
        return self.shape[0]

    @property
    def kernel_shape(self) -> tuple[int, int]:
        """``(R, C)``: rows (inputs) by columns (outputs) of one kernel."""
        return (self.shape[1], self.shape[2])

    @property
    def n_devices(self) -> int:
        """``K R C``."""
        k, r, c = self.shape
        return k * r * c

    # -- device window --------------------------------------------------------------------------
    @property
    def g_min(self) -> float:
        """Siemens, the window's lower edge (G_OFF)."""
        return self.presets[0].g_min

    @property
    def g_max(self) -> float:
        """Siemens, the window's upper edge (G_ON)."""
        return self.presets[0].g_max

    @property
    def levels(self) -> tuple[float, ...] | None:
        """Siemens, the programmable levels, ``None`` for analog devices."""
        return self.presets[0].levels

    @property
    def read_voltage(self) -> float:
        """Volt, the read voltage of kernel 0's preset."""
        return self.presets[0].read_voltage

    def crossbar(self, k: int) -> Crossbar:
        """Kernel ``k`` as a :class:`~xbarsim.netlists.Crossbar` (present conductances, wires, device law)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) < self.n_kernels:
            raise ConfigError(f"`k` must be a kernel index in [0, {self.n_kernels - 1}]; got {short_repr(k)}.")
        return Crossbar(conductance=self.conductance[int(k)], lines=self.lines, device=self.presets[int(k)].device)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def sample(
        cls,
        *,
        n_kernels: int,
        kernel_shape: tuple[int, int],
        preset: DevicePreset,
        rng: np.random.Generator,
        lines: LineResistance | None = None,
    ) -> Chip:
        """A chip whose faults are drawn from ``preset.faults``, all devices reset.

        Parameters
        ----------
        n_kernels : int
            ``K`` >= 1.
        kernel_shape : (int, int)
            ``(R, C)``, e.g. ``(25, 25)`` for the LEA chip or ``(64, 64)`` tiles.
        preset : DevicePreset
            Device of every kernel.
        rng : numpy.random.Generator
            Draw order: fault map, offsets, initial (reset) state.
        lines : LineResistance, optional
            Ohm, the wires of every kernel; default ideal.
        """
        if isinstance(n_kernels, bool) or not isinstance(n_kernels, (int, np.integer)) or n_kernels < 1:
            raise ConfigError(f"`n_kernels` must be a positive int; got {short_repr(n_kernels)}.")
        if not isinstance(preset, DevicePreset):
            raise ConfigError(f"`preset` must be a DevicePreset; got {type(preset).__name__}.")
        r, c = _kernel_shape(kernel_shape)
        check_rng(rng)
        shape = (int(n_kernels), r, c)
        faults = preset.faults.sample(shape, rng)
        return cls._assemble((preset,) * int(n_kernels), faults, rng, lines)

    @classmethod
    def from_measured(
        cls,
        maps: Sequence[ArrayLike] | ArrayLike,
        *,
        preset: DevicePreset,
        rng: np.random.Generator,
        stuck_on_above: float = LEA_STUCK_ON_ABOVE,
        stuck_off_at_or_below: float = LEA_STUCK_OFF_AT_OR_BELOW,
        lines: LineResistance | None = None,
    ) -> Chip:
        """A chip whose true faults are those of measured conductance maps.

        Parameters
        ----------
        maps : array_like, shape (K, R, C)
            Siemens, one measured (read-back) map per kernel, e.g.
            :func:`xbarsim.devices.lea_kernel_map`. A device above ``stuck_on_above`` or at or below
            ``stuck_off_at_or_below`` is stuck at its measured value (:meth:`FaultMap.from_measured`).
        preset : DevicePreset
            Device of every kernel (programming error, read noise, device law).
        rng : numpy.random.Generator
            Draw order: offsets, initial (reset) state.
        stuck_on_above, stuck_off_at_or_below : float
            Siemens, thresholds; default the LEA paper's 400 uS and 10 uS.
        lines : LineResistance, optional
            Ohm, the wires; default ideal.
        """
        if not isinstance(preset, DevicePreset):
            raise ConfigError(f"`preset` must be a DevicePreset; got {type(preset).__name__}.")
        g = as_float_array(maps, "maps", what="array of measured conductances in siemens")
        if g.ndim != 3:
            raise ConfigError(f"`maps` must have shape (K, R, C); got shape {g.shape}.")
        faults = FaultMap.from_measured(g, stuck_on_above=stuck_on_above, stuck_off_at_or_below=stuck_off_at_or_below)
        return cls._assemble((preset,) * g.shape[0], faults, check_rng(rng), lines)

    @classmethod
    def _assemble(cls, presets: tuple[DevicePreset, ...], faults: FaultMap, rng: np.random.Generator,
                  lines: LineResistance | None) -> Chip:
        shape = faults.shape
        offsets = np.zeros(shape)
        state = np.zeros(shape)
        groups = preset_groups(presets)
        for p, ks in groups:
            offsets[ks] = p.programming.sample_offset((ks.size, *shape[1:]), rng)
        for p, ks in groups:
            state[ks] = p.programming.sample(np.full((ks.size, *shape[1:]), p.g_min), rng, offset=offsets[ks])
        return cls(presets=presets, faults=faults, conductance=faults.apply(state), offsets=offsets,
                   lines=LineResistance() if lines is None else lines)


def lea_chip(
    rng: np.random.Generator,
    *,
    measured: bool = True,
    n_kernels: int = 32,
    preset: DevicePreset | None = None,
    lines: LineResistance | None = None,
    unmeasured: str = "sampled",
) -> Chip:
    """The LEA chip: 32 kernels of 25 x 25 1T1R devices (Yousuf et al., arXiv:2404.15621).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draw order: sampled fault maps (kernels without a shipped map), offsets, initial state.
    measured : bool
        Kernels whose read-back maps are shipped (:data:`xbarsim.devices.LEA_KERNELS`, 13 of 32)
        take their true faults from those maps (400 uS / 10 uS thresholds); the others, or all
        kernels when ``False``, are sampled from the preset's fault model.
    n_kernels : int
        Number of kernels, default 32 as on the hardware.
    preset : DevicePreset, optional
        Default :func:`xbarsim.devices.rram_1t1r_nist` (5 % stuck devices).
    lines : LineResistance, optional
        Ohm, the wires; default ideal.
    unmeasured : {"sampled", "measured"}
        With ``measured``: the kernels without a shipped map get scattered faults from the
        preset's fault model (``"sampled"``), or each gets the fault map of one of the measured
        kernels drawn at random (``"measured"``: their dead columns and clusters, the chip's own
        fault statistics), drawn after the sampled maps so the rest of the draw order holds.
    """
    p = rram_1t1r_nist() if preset is None else preset
    if not isinstance(measured, (bool, np.bool_)):
        raise ConfigError(f"`measured` must be True or False; got {short_repr(measured)}.")
    check_choice(unmeasured, ("sampled", "measured"), "unmeasured")
    if not isinstance(p, DevicePreset):
        raise ConfigError(f"`preset` must be a DevicePreset; got {type(p).__name__}.")
    if isinstance(n_kernels, bool) or not isinstance(n_kernels, (int, np.integer)) or n_kernels < 1:
        raise ConfigError(f"`n_kernels` must be a positive int; got {short_repr(n_kernels)}.")
    check_rng(rng)
    shape = (int(n_kernels), 25, 25)
    sampled = p.faults.sample(shape, rng)
    on, off, val = np.array(sampled.stuck_on), np.array(sampled.stuck_off), np.array(sampled.stuck_value)
    if measured:
        maps = {k: FaultMap.from_measured(lea_kernel_map(k), stuck_on_above=LEA_STUCK_ON_ABOVE,
                                          stuck_off_at_or_below=LEA_STUCK_OFF_AT_OR_BELOW) for k in LEA_KERNELS}
        for k, fm in maps.items():
            if k < shape[0]:
                on[k], off[k], val[k] = fm.stuck_on, fm.stuck_off, fm.stuck_value
        if unmeasured == "measured":
            known = sorted(maps)
            for k in range(shape[0]):
                if k not in maps:
                    fm = maps[known[int(rng.integers(len(known)))]]
                    on[k], off[k], val[k] = fm.stuck_on, fm.stuck_off, fm.stuck_value
    faults = FaultMap(stuck_on=on, stuck_off=off, stuck_value=val)
    return Chip._assemble((p,) * shape[0], faults, rng, lines)


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """Characterization thresholds (siemens).

    Attributes
    ----------
    stuck_on_above : float
        A device reading above this after SET-all or RESET-all is stuck-ON. LEA: 400 uS.
    stuck_off_at_or_below : float
        A device reading at or below this after SET-all or RESET-all is stuck-OFF (the LEA
        mapping code calls these "shorts"; on the measured chip they are mostly whole dead
        columns). LEA: 10 uS.
    min_switching : float
        A device that is neither but whose SET and RESET reads differ by less than this is
        non-switching (stuck somewhere in between). LEA mapping code: 10 uS.
    """

    stuck_on_above: float = LEA_STUCK_ON_ABOVE
    stuck_off_at_or_below: float = LEA_STUCK_OFF_AT_OR_BELOW
    min_switching: float = 10e-6

    def __post_init__(self) -> None:
        for name in ("stuck_on_above", "stuck_off_at_or_below", "min_switching"):
            v = as_float_array(getattr(self, name), name, what="conductance threshold in siemens")
            if v.ndim:
                raise ConfigError(f"`{name}` must be a scalar conductance in siemens; got {short_repr(getattr(self, name))}.")
            object.__setattr__(self, name, float(v))
            if not (np.isfinite(v) and v >= 0):
                raise ConfigError(f"`{name}` must be a finite, non-negative conductance in siemens; got {short_repr(v.item())}.")
        if not self.stuck_off_at_or_below < self.stuck_on_above:
            raise ConfigError(
                f"`stuck_off_at_or_below` must be below `stuck_on_above`; got {self.stuck_off_at_or_below} S "
                f"and {self.stuck_on_above} S."
            )

    @classmethod
    def for_window(cls, g_min: float, g_max: float) -> Thresholds:
        """The LEA thresholds carried over to another conductance window.

        The LEA code's values sit outside the chip's 133-233 uS window: stuck-ON above
        ``400/233 g_max``, stuck-OFF at or below ``10/133 g_min``, non-switching when the SET
        and RESET reads differ by less than a tenth of the window. For the LEA window this returns
        the LEA values; for TiO2's 100-500 uS window it gives 858 uS, 7.5 uS and 40 uS, where the
        LEA's fixed 400 uS would call every SET device stuck-ON.
        """
        lo = as_float_array(g_min, "g_min", what="conductance in siemens")
        hi = as_float_array(g_max, "g_max", what="conductance in siemens")
        if lo.ndim or hi.ndim or not (0 < float(lo) < float(hi) < np.inf):
            raise ConfigError(f"`g_min` and `g_max` must be scalars with 0 < g_min < g_max; got "
                              f"{short_repr(g_min)} and {short_repr(g_max)}.")
        if float(lo) == _LEA_G_MIN and float(hi) == _LEA_G_MAX:
            return cls()
        return cls(stuck_on_above=LEA_STUCK_ON_ABOVE * (float(hi) / _LEA_G_MAX),
                   stuck_off_at_or_below=LEA_STUCK_OFF_AT_OR_BELOW * (float(lo) / _LEA_G_MIN),
                   min_switching=0.1 * (float(hi) - float(lo)))

    def misclassifies(self, g_min: float, g_max: float) -> bool:
        """True if a healthy device programmed to ``g_min`` or ``g_max`` would be called stuck."""
        return not (self.stuck_off_at_or_below < g_min and g_max < self.stuck_on_above
                    and self.min_switching < g_max - g_min)


@dataclass(frozen=True, kw_only=True, eq=False)
class Characterization:
    """What :func:`characterize` learned about a chip.

    Attributes
    ----------
    set_read, reset_read : ndarray, shape (K, R, C)
        Siemens, each device read after SET-all and after RESET-all.
    stuck_on, stuck_off, non_switching : ndarray of bool, shape (K, R, C)
        Classification by :class:`Thresholds` (disjoint).
    thresholds : Thresholds
        The thresholds used.
    chip : Chip
        The chip after the characterization (every device RESET).
    """

    __repr__ = compact_repr

    set_read: FloatArray
    reset_read: FloatArray
    stuck_on: BoolArray
    stuck_off: BoolArray
    non_switching: BoolArray
    thresholds: Thresholds
    chip: Chip

    def __post_init__(self) -> None:
        for name in ("set_read", "reset_read"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=np.float64)))
        for name in ("stuck_on", "stuck_off", "non_switching"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=bool)))

    @property
    def rejected(self) -> BoolArray:
        """Devices greedy placement refuses in a block: stuck-OFF ("shorts") and non-switching."""
        return readonly(self.stuck_off | self.non_switching)

    @property
    def stuck(self) -> BoolArray:
        """Every device found defective (stuck-ON, stuck-OFF or non-switching)."""
        return readonly(self.stuck_on | self.stuck_off | self.non_switching)

    @property
    def faults(self) -> FaultMap:
        """The known faults as a ``(K, R, C)`` fault map: non-switching devices count as stuck-ON when
        their mean read is above mid-window, else stuck-OFF; stuck values are the mean reads."""
        value = np.maximum(0.5 * (self.set_read + self.reset_read), 0.0)
        mid = 0.5 * (self.chip.g_min + self.chip.g_max)
        on = self.stuck_on | (self.non_switching & (value > mid))
        off = self.stuck_off | (self.non_switching & (value <= mid))
        return FaultMap(stuck_on=on, stuck_off=off, stuck_value=value)

    def summary(self) -> dict[str, float]:
        """Fractions of devices per class."""
        n = self.stuck_on.size
        return {"stuck_on": float(self.stuck_on.sum()) / n, "stuck_off": float(self.stuck_off.sum()) / n,
                "non_switching": float(self.non_switching.sum()) / n}


def characterize(chip: Chip, rng: np.random.Generator, *, thresholds: Thresholds | None = None) -> Characterization:
    """Find a chip's defective devices as the LEA paper does: SET-all, read, RESET-all, read, threshold.

    Parameters
    ----------
    chip : Chip
        The chip.
    rng : numpy.random.Generator
        Draw order: SET programming error, SET reads, RESET programming error, RESET reads (per
        distinct preset, in kernel order).
    thresholds : Thresholds, optional
        Default: the LEA values (400 uS, 10 uS, 10 uS) when they fit every preset's window, else
        the LEA values carried over to the chip's window (:meth:`Thresholds.for_window`).
        Thresholds that would call a healthy device stuck warn.

    Returns
    -------
    Characterization
        The reads, the classes, and the chip with every device RESET.

    Notes
    -----
    SET-all and RESET-all are one programming attempt each towards ``g_max`` and ``g_min`` (no
    verify), drawn from the preset's programming-error model; stuck devices keep their value.
    A device is stuck-ON if either read is above ``stuck_on_above``, stuck-OFF if either is at or
    below ``stuck_off_at_or_below``, and non-switching if neither but ``set - reset`` is below
    ``min_switching``.
    """
    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    check_rng(rng)
    if thresholds is not None and not isinstance(thresholds, Thresholds):
        raise ConfigError(f"`thresholds` must be Thresholds; got {type(thresholds).__name__}.")
    th = thresholds
    if th is None:
        th = Thresholds()
        if th.misclassifies(chip.g_min, chip.g_max):
            th = Thresholds.for_window(chip.g_min, chip.g_max)
    elif th.misclassifies(chip.g_min, chip.g_max):
        warnings.warn(
            f"The characterization thresholds (stuck-ON above {th.stuck_on_above * 1e6:g} uS, stuck-OFF at or "
            f"below {th.stuck_off_at_or_below * 1e6:g} uS, switching at least {th.min_switching * 1e6:g} uS) "
            f"would call healthy devices of the chip's {chip.g_min * 1e6:g}-{chip.g_max * 1e6:g} uS window stuck.",
            UserWarning, stacklevel=2,
        )
    shape = chip.shape
    reads: dict[str, FloatArray] = {}
    states: dict[str, FloatArray] = {}
    for name in ("set", "reset"):
        g = np.zeros(shape)
        r = np.zeros(shape)
        for p, ks in preset_groups(chip.presets):
            target = np.full((ks.size, *shape[1:]), p.g_max if name == "set" else p.g_min)
            g[ks] = p.programming.sample(target, rng, offset=chip.offsets[ks])
            g[ks] = np.where(chip.faults.stuck[ks], chip.faults.stuck_value[ks], g[ks])
            r[ks] = p.read(g[ks], rng)
        reads[name], states[name] = r, g
    s, z = reads["set"], reads["reset"]
    on = (s > th.stuck_on_above) | (z > th.stuck_on_above)
    off = ~on & ((s <= th.stuck_off_at_or_below) | (z <= th.stuck_off_at_or_below))
    non = ~on & ~off & (s - z < th.min_switching)
    return Characterization(set_read=s, reset_read=z, stuck_on=on, stuck_off=off, non_switching=non,
                            thresholds=th, chip=replace(chip, conductance=states["reset"]))
