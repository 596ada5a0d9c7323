"""Programming devices of a chip: write-verify per device, read-back with read noise.

Devices are addressed by flat indices into the chip's ``(K, R, C)`` arrays
(``numpy.ravel_multi_index((k, r, c), chip.shape)``), so one call programs any set of blocks at once,
vectorised over devices (one numpy pass per verify iteration, not one Python step per device).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, BoolArray, FloatArray, IntArray, WriteSchemeName
from xbarsim._validation import as_float_array, check_rng, readonly, short_repr
from xbarsim.devices.faults import FaultMap
from xbarsim.errors import ConfigError
from xbarsim.mapping.chip import Chip, preset_groups

__all__ = ["WriteVerify", "ProgrammingReport", "write_verify", "read_devices", "read_chip", "program_sequence",
           "program_transient"]


@dataclass(frozen=True, kw_only=True)
class WriteVerify:
    """Write-verify settings.

    Attributes
    ----------
    tolerance : float or None
        Siemens: a write is accepted when the verify read (read noise included) lands within this of
        the target clipped to the window, ``|read - target| <= tolerance`` (so ``0`` accepts only an
        exact read).
        ``None`` (default) is 5 % of the preset's window ``g_max - g_min`` (5 uS for the LEA chip,
        20 uS for the TiO2 preset).
    max_iterations : int
        Write attempts per device before giving up (>= 1); ``1`` is a single write without retry.
    """

    tolerance: float | None = None
    max_iterations: int = 20

    def __post_init__(self) -> None:
        if self.tolerance is not None:
            t = as_float_array(self.tolerance, "tolerance", what="non-negative conductance in siemens", min_value=0.0)
            if t.ndim:
                raise ConfigError(f"`tolerance` must be a scalar conductance in siemens; got {short_repr(self.tolerance)}.")
            object.__setattr__(self, "tolerance", float(t))
        mi = self.max_iterations
        if isinstance(mi, bool) or not isinstance(mi, (int, np.integer)) or mi < 1:
            raise ConfigError(f"`max_iterations` must be a positive int; got {short_repr(mi)}.")

    def tolerance_for(self, g_min: float, g_max: float) -> float:
        """Siemens, the tolerance that applies to a window ``[g_min, g_max]``."""
        return 0.05 * (g_max - g_min) if self.tolerance is None else float(self.tolerance)


@dataclass(frozen=True, kw_only=True, eq=False)
class ProgrammingReport:
    """What programming a set of devices did.

    Attributes
    ----------
    attempts : ndarray of int, shape (D,)
        Write pulses (attempts) each device received.
    converged : ndarray of bool, shape (D,)
        Devices whose last verify read was within tolerance. :func:`write_verify` counts a truly
        stuck device whose stuck value read within tolerance; :func:`program_sequence` and
        :func:`program_transient` never count a truly stuck device.
    skipped : ndarray of bool, shape (D,)
        Devices known to be stuck and therefore not pulsed.
    disturbance : ndarray or None, shape (D,)
        Siemens, conductance change each device suffered after its own programming from later
        writes (half-select disturbance); ``None`` for plain write-verify.
    """

    __repr__ = compact_repr

    attempts: IntArray
    converged: BoolArray
    skipped: BoolArray
    disturbance: FloatArray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "attempts", readonly(np.asarray(self.attempts, dtype=np.int64)))
        object.__setattr__(self, "converged", readonly(np.asarray(self.converged, dtype=bool)))
        object.__setattr__(self, "skipped", readonly(np.asarray(self.skipped, dtype=bool)))
        if self.disturbance is not None:
            object.__setattr__(self, "disturbance", readonly(np.asarray(self.disturbance, dtype=np.float64)))

    @property
    def n_pulses(self) -> int:
        """Total write pulses."""
        return int(self.attempts.sum())

    @property
    def convergence_rate(self) -> float:
        """Fraction of pulsed devices that converged (1.0 when none was pulsed)."""
        pulsed = ~self.skipped
        return float(self.converged[pulsed].mean()) if pulsed.any() else 1.0

    @staticmethod
    def concatenate(reports: list[ProgrammingReport]) -> ProgrammingReport:
        """One report for several programming passes over disjoint or repeated devices, in order."""
        dist = [r.disturbance for r in reports]
        return ProgrammingReport(
            attempts=np.concatenate([r.attempts for r in reports]),
            converged=np.concatenate([r.converged for r in reports]),
            skipped=np.concatenate([r.skipped for r in reports]),
            disturbance=None if any(d is None for d in dist) else np.concatenate([d for d in dist if d is not None]),
        )


def _index(chip: Chip, index: ArrayLike) -> IntArray:
    idx = np.asarray(index)
    if idx.dtype.kind not in "iu" or idx.ndim != 1:
        raise ConfigError(f"`index` must be a 1-D integer array of flat device indices; got {short_repr(index)}.")
    # range check before the cast: an unsigned index of 2**63 or more would wrap to a negative one
    if idx.size and (idx.min() < 0 or idx.max() >= chip.n_devices):
        raise ConfigError(f"`index` must address devices in [0, {chip.n_devices - 1}]; got {int(idx.min())}..{int(idx.max())}.")
    idx = idx.astype(np.int64)
    if idx.size and np.bincount(idx, minlength=1).max() > 1:
        raise ConfigError("`index` must not repeat a device.")
    return idx


def _kernel_groups(chip: Chip, idx: IntArray) -> list[tuple[Any, IntArray]]:
    """(preset, positions in ``idx``) for every distinct preset among the addressed devices."""
    kernel = idx // (chip.shape[1] * chip.shape[2])
    out = []
    for p, ks in preset_groups(chip.presets):
        pos = np.flatnonzero(np.isin(kernel, ks))
        if pos.size:
            out.append((p, pos))
    return out


def write_verify(
    chip: Chip,
    index: ArrayLike,
    target: ArrayLike,
    rng: np.random.Generator,
    *,
    verify: WriteVerify | None = None,
    skip: ArrayLike | None = None,
) -> tuple[Chip, ProgrammingReport]:
    """Program devices to targets by write-verify.

    Parameters
    ----------
    chip : Chip
        The chip before programming.
    index : array_like of int, shape (D,)
        Flat indices of the devices into the chip's ``(K, R, C)`` arrays, no repeats.
    target : array_like, shape (D,)
        Siemens, target conductances (clipped to the window; not snapped to levels here).
    rng : numpy.random.Generator
        Draw order per verify iteration and distinct preset: programming error of the devices
        still being written, then their verify reads, in the order of ``index`` (so reordering
        ``index`` changes the draws).
    verify : WriteVerify, optional
        Tolerance and attempt limit.
    skip : array_like of bool, shape (D,), optional
        Devices known to be stuck (e.g. from :func:`~xbarsim.mapping.characterize`): never pulsed.

    Returns
    -------
    (Chip, ProgrammingReport)
        The chip with the new conductances, and per-device attempts and convergence.

    Notes
    -----
    Each attempt is a fresh draw of the preset's programming-error model around the target, with
    the device's own systematic offset (``chip.offsets``); the verify read adds the preset's read
    noise. There is no read before the first write: every device not skipped takes at least one
    write, one already at its target included. A truly stuck device does not move whatever is
    written; it converges only if its stuck value happens to read within tolerance of the target,
    and its writes are counted in ``attempts`` unless ``skip`` marks it.
    """
    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    check_rng(rng)
    vf = WriteVerify() if verify is None else verify
    if not isinstance(vf, WriteVerify):
        raise ConfigError(f"`verify` must be a WriteVerify; got {type(vf).__name__}.")
    idx = _index(chip, index)
    t = as_float_array(target, "target", what="array of conductances in siemens", min_value=0.0)
    if t.shape != idx.shape:
        raise ConfigError(f"`target` must have shape {idx.shape} (one per index); got shape {t.shape}.")
    sk = np.zeros(idx.size, dtype=bool) if skip is None else np.asarray(skip)
    if sk.dtype != np.bool_:
        # a cast would take 0.5, 'no' or NaN for True and None for False, and skip healthy devices
        raise ConfigError(f"`skip` must be a boolean array (True for a device known to be stuck); got dtype "
                          f"{sk.dtype} ({short_repr(skip)}).")
    if sk.shape != idx.shape:
        raise ConfigError(f"`skip` must have shape {idx.shape}; got shape {sk.shape}.")
    g_all = np.array(chip.conductance).ravel()
    stuck_all = chip.faults.stuck.ravel()
    value_all = chip.faults.stuck_value.ravel()
    off_all = chip.offsets.ravel()
    g = g_all[idx].copy()
    attempts = np.zeros(idx.size, dtype=np.int64)
    converged = np.zeros(idx.size, dtype=bool)
    for p, pos in _kernel_groups(chip, idx):
        tol = vf.tolerance_for(p.g_min, p.g_max)
        tt = np.clip(t[pos], p.g_min, p.g_max)
        stuck = stuck_all[idx[pos]]
        todo = ~sk[pos]
        gg = g[pos]
        at = attempts[pos]
        for _ in range(vf.max_iterations):
            if not todo.any():
                break
            w = np.flatnonzero(todo)
            new = p.programming.sample(tt[w], rng, offset=off_all[idx[pos][w]])
            gg[w] = np.where(stuck[w], value_all[idx[pos][w]], new)
            at[w] += 1
            ok = np.abs(p.read(gg[w], rng) - tt[w]) <= tol
            todo[w[ok]] = False
        g[pos] = gg
        attempts[pos] = at
        converged[pos] = ~todo & ~sk[pos]
    g_all[idx] = g
    new_chip = replace(chip, conductance=g_all.reshape(chip.shape))
    return new_chip, ProgrammingReport(attempts=attempts, converged=converged, skipped=sk)


def read_devices(chip: Chip, index: ArrayLike, rng: np.random.Generator) -> FloatArray:
    """Siemens, one read (with the preset's read noise) of the devices at flat ``index``."""
    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    check_rng(rng)
    idx = _index(chip, index)
    g = chip.conductance.ravel()[idx]
    out = np.empty(idx.size)
    for p, pos in _kernel_groups(chip, idx):
        out[pos] = p.read(g[pos], rng)
    return out


def read_chip(chip: Chip, rng: np.random.Generator) -> Chip:
    """The chip as one read pass sees it: every device's conductance replaced by one read of it.

    Each kernel's preset draws its read noise (:meth:`~xbarsim.devices.DevicePreset.read`), one
    independent draw per device, stuck devices included; a read below zero reports 0 S. Faults,
    offsets and presets are kept. Without read noise the conductances are returned unchanged.
    Inference with ``Hardware.inference_read_noise`` runs on one such read per call.
    """
    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    check_rng(rng)
    g = np.array(chip.conductance, dtype=np.float64, copy=True)
    for p, ks in preset_groups(chip.presets):
        g[ks] = np.maximum(p.read(g[ks], rng), 0.0)
    return replace(chip, conductance=g)


def program_sequence(
    chip: Chip,
    index: ArrayLike,
    target: ArrayLike,
    rng: np.random.Generator,
    *,
    scheme: WriteSchemeName = "v/2",
    backend: str = "sparse",
    tolerance: float | None = None,
    max_pulses: int | None = None,
) -> tuple[Chip, ProgrammingReport]:
    """Program devices through the bias-scheme programming sequence, so half-select disturbance enters.

    Every kernel that holds addressed devices is programmed as a whole array by
    :func:`xbarsim.analysis.programming.program_array`: ISPP pulses under ``scheme`` with the
    chip's wires and device law, write-verify per cell, and every pulse moving the half-selected
    cells above their threshold. It starts from the kernel's present state and keeps the chip's
    true stuck devices.

    Parameters
    ----------
    chip : Chip
        The chip before programming.
    index : array_like of int, shape (D,)
        Flat device indices (see :func:`write_verify`).
    target : array_like, shape (D,)
        Siemens, targets (``program_array`` clips them to the window and snaps them to the
        preset's levels, if any).
    rng : numpy.random.Generator
        Passed to ``program_array`` kernel by kernel, in kernel order.
    scheme : {"v/2", "v/3", "grounded", "floating"}
        Programming bias scheme.
    backend : str
        Solver backend of the programming simulation.
    tolerance : float, optional
        Fraction in (0, 1), the relative verify tolerance (``program_array``'s default 0.01 when
        omitted).
    max_pulses : int, optional
        Pulse limit per device (``program_array``'s default when omitted).

    Returns
    -------
    (Chip, ProgrammingReport)
        ``attempts`` are the ISPP pulses per device, ``converged`` its verify outcome and
        ``disturbance`` (siemens) the drift each device suffered after its own write-verify.

    Notes
    -----
    Every device of a kernel goes through ``program_array``: the kernel's other devices are given
    their present conductance as target and programmed *first*, so that the addressed devices,
    programmed last in row-major order, are disturbed only by one another's pulses (a device
    already at its target within tolerance takes no pulse; with read noise it may take a few; one
    outside the window is pulsed into it, as are the healthy devices of a freshly sampled chip below
    ``g_min``: 49 % for ``rram_1t1r_nist``, 79 % for ``tio2_passive``, seed 0). Pulses on the
    kernel's other devices are not in the report.
    ``program_array`` can now program a subset of cells (an ``order`` of fewer than ``M * N``
    cells), which would spare the other devices those few pulses; switching to it changes the
    numbers of experiment 1 (``programming = "sequence"``), so it waits for a re-run of that
    experiment.
    """
    from xbarsim.analysis.programming import program_array  # lazy: the analysis layer is optional here

    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    check_rng(rng)
    _, kr, kc = chip.shape
    kwargs: dict[str, Any] = {}
    if tolerance is not None:
        kwargs["tolerance"] = tolerance
    if max_pulses is not None:
        kwargs["max_pulses"] = max_pulses
    fm = chip.faults

    def run(k: int, rs: IntArray, cs: IntArray, t_sel: FloatArray) -> tuple[FloatArray, Any]:
        kt = np.array(chip.conductance[k])
        kt[rs, cs] = t_sel
        addressed = np.zeros(kr * kc, dtype=bool)
        addressed[rs * kc + cs] = True
        order = np.concatenate([np.flatnonzero(~addressed), np.flatnonzero(addressed)])
        faults = FaultMap(stuck_on=fm.stuck_on[k], stuck_off=fm.stuck_off[k], stuck_value=fm.stuck_value[k])
        res = program_array(kt, preset=chip.presets[k], rng=rng, scheme=scheme, lines=chip.lines,
                            backend=backend, order=order, initial=chip.conductance[k], faults=faults, **kwargs)
        return np.asarray(res.conductance, dtype=np.float64), res

    return _program_kernels(chip, index, target, run)


def _program_kernels(chip: Chip, index: ArrayLike, target: ArrayLike,
                     run: Any) -> tuple[Chip, ProgrammingReport]:
    """Program the addressed devices kernel by kernel with ``run(k, rows, cols, targets) -> (G_k, result)``
    (a result with per-cell ``pulses``, ``verified`` and ``disturbance``) and collect the report."""
    idx = _index(chip, index)
    t = as_float_array(target, "target", what="array of conductances in siemens", min_value=0.0)
    if t.shape != idx.shape:
        raise ConfigError(f"`target` must have shape {idx.shape} (one per index); got shape {t.shape}.")
    kernels, rows, cols = np.unravel_index(idx, chip.shape)
    g_new = np.array(chip.conductance)
    attempts = np.zeros(idx.size, dtype=np.int64)
    converged = np.zeros(idx.size, dtype=bool)
    disturbance = np.zeros(idx.size)
    fm = chip.faults
    for k in np.unique(kernels):
        sel = np.flatnonzero(kernels == k)
        rs, cs = rows[sel], cols[sel]
        g_new[k], res = run(int(k), rs, cs, t[sel])
        attempts[sel] = np.asarray(res.pulses)[rs, cs]
        converged[sel] = np.asarray(res.verified)[rs, cs] & ~fm.stuck[k][rs, cs]
        disturbance[sel] = np.asarray(res.disturbance)[rs, cs]
    report = ProgrammingReport(attempts=attempts, converged=converged, skipped=np.zeros(idx.size, dtype=bool),
                               disturbance=disturbance)
    return replace(chip, conductance=g_new), report


def program_transient(
    chip: Chip,
    index: ArrayLike,
    target: ArrayLike,
    *,
    model: Any = None,
    settings: Any = None,
) -> tuple[Chip, ProgrammingReport]:
    """Program devices through the circuit in the time domain (slow; for small kernels).

    Every kernel that holds addressed devices is programmed by
    :func:`xbarsim.analysis.transient_programming.program_array_transient`: write-verify pulse
    trains on a dynamic device ``model`` (default :func:`xbarsim.devices.tio2_vteam`) under
    ``settings`` (a :class:`~xbarsim.analysis.WriteVerifySettings`), each pulse a transient of the
    whole kernel with the chip's wires, so half-select disturbance comes from the device dynamics.
    Only the addressed devices are written, in row-major order; the others are disturbed. Nothing is
    random: the kernel's present conductances are the initial states.

    Limits: the chip's conductances are clipped into the model's window to give the initial
    states (a stuck device outside it starts at the window edge); stuck devices are put back at
    their stuck value afterwards but take part in the pulses as ordinary cells.
    """
    from xbarsim.analysis.transient_programming import WriteVerifySettings, program_array_transient
    from xbarsim.devices.dynamic import DynamicDevice, tio2_vteam

    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    mdl = tio2_vteam() if model is None else model
    if not isinstance(mdl, DynamicDevice):  # before the window lookup below (AttributeError for a non-model)
        raise ConfigError(f"`model` must be a DynamicDevice (e.g. xbarsim.devices.tio2_vteam()); got "
                          f"{type(mdl).__name__}.")
    cfg = WriteVerifySettings() if settings is None else settings
    g_lo, g_hi = float(mdl.conductance(np.array(0.0))), float(mdl.conductance(np.array(1.0)))
    kc = chip.shape[2]
    fm = chip.faults

    def run(k: int, rs: IntArray, cs: IntArray, t_sel: FloatArray) -> tuple[FloatArray, Any]:
        start = np.clip(np.array(chip.conductance[k]), g_lo, g_hi)
        kt = start.copy()
        kt[rs, cs] = np.clip(t_sel, g_lo, g_hi)
        res = program_array_transient(kt, model=mdl, lines=chip.lines, settings=cfg, initial=start,
                                      order=np.sort(rs * kc + cs))
        g_k = np.asarray(res.conductance, dtype=np.float64).copy()
        g_k[fm.stuck[k]] = fm.stuck_value[k][fm.stuck[k]]
        return g_k, res

    return _program_kernels(chip, index, target, run)
