"""Programming a whole array cell by cell with write-verify, and the half-select disturbance it causes.

:func:`program_array` is the contract the mapping layer builds on: targets in, a programmed
:class:`~xbarsim.netlists.Crossbar` out, together with the pulses spent per cell and what every
cell drifted after it was programmed. Each pulse's effect comes from the circuit: the cell voltages
of the whole array are solved for the selected cell under the chosen bias scheme (wires, drivers,
the device's I-V law and the current conductance pattern included) and fed to the
:class:`~xbarsim.analysis.switching.SwitchingLaw`, which moves the selected cell and disturbs
half-selected cells above their threshold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, BoolArray, FloatArray, IntArray, WriteSchemeName
from xbarsim._validation import as_float_array, check_rng, conductance_array, readonly, short_repr
from xbarsim.analysis._common import check_line_progress, scheme_levels, selection_bias
from xbarsim.analysis.disturbance import DisturbanceCurve, disturbance_curve
from xbarsim.analysis.switching import DROLET_SCHEDULE, PulseSchedule, SwitchingLaw, drolet_tio2_law
from xbarsim.devices.faults import FaultMap
from xbarsim.devices.models import DeviceModel
from xbarsim.devices.presets import DevicePreset
from xbarsim.errors import ConfigError
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance
from xbarsim.solver.api import get_backend, solve
from xbarsim.solver.base import Backend

__all__ = ["ProgrammingResult", "program_array", "programming_order"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, eq=False)
class ProgrammingResult:
    """A whole array programmed cell by cell with write-verify.

    Attributes
    ----------
    conductance : ndarray, shape (M, N)
        Siemens, the final conductances once every cell was programmed (disturbance and stuck
        devices included).
    target : ndarray, shape (M, N)
        Siemens, the targets aimed at: the requested ones clipped (and quantized) by the preset.
    initial : ndarray, shape (M, N)
        Siemens, the conductances before programming (stuck devices at their stuck value).
    programmed : ndarray, shape (M, N)
        Siemens, each cell's conductance right after its own write-verify finished (the initial
        value for cells that were not written).
    disturbance : ndarray, shape (M, N)
        Siemens, ``conductance - programmed``: what each cell drifted while the cells after it
        were programmed (0 for the last one; the whole drift for cells that were not written).
    pulses : ndarray of int, shape (M, N)
        Write pulses spent on each cell.
    verified : ndarray of bool, shape (M, N)
        Cells whose verify read came within tolerance before ``max_pulses`` (stuck devices
        usually do not).
    order : ndarray of int, shape (K, 2)
        ``(row, col)`` of the cells in programming order (``K = M * N`` unless only a subset was
        written).
    faults : FaultMap
        The stuck devices of this array.
    max_disturb_voltage : ndarray, shape (M, N)
        Volt, the largest ``|V|`` each cell saw during pulses on *other* cells.
    trajectory : ndarray, shape (K, n_track)
        Siemens, ``trajectory[p, n - 1]``: change of the ``p``-th programmed cell after ``n`` more
        cells were programmed (NaN past the end).
    crossbar : Crossbar
        The programmed array: ``conductance``, the wires and the preset's device law.
    scheme : str
        The programming bias scheme.
    law : SwitchingLaw
        The switching law used.
    schedule : PulseSchedule
        The ISPP settings used.
    tolerance : float
        Fraction, the relative verify tolerance.
    max_pulses : int
        Pulse budget per cell.
    n_solves : int
        Circuit solves performed (each possibly batched over pulse amplitudes); 0 with ideal wires.
    backend : str
        Backend that solved the circuits, or ``"none (ideal wires)"`` when no solve was needed.
    elapsed : float
        Seconds of wall time.
    """

    __repr__ = compact_repr

    conductance: FloatArray
    target: FloatArray
    initial: FloatArray
    programmed: FloatArray
    disturbance: FloatArray
    pulses: IntArray
    verified: BoolArray
    order: IntArray
    faults: FaultMap
    max_disturb_voltage: FloatArray
    trajectory: FloatArray
    crossbar: Crossbar
    scheme: str
    law: SwitchingLaw
    schedule: PulseSchedule
    tolerance: float
    max_pulses: int
    n_solves: int
    backend: str
    elapsed: float

    def __post_init__(self) -> None:
        for name in ("conductance", "target", "initial", "programmed", "disturbance", "pulses", "verified", "order",
                     "max_disturb_voltage", "trajectory"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    @property
    def shape(self) -> tuple[int, int]:
        """``(M, N)``."""
        return (int(self.conductance.shape[0]), int(self.conductance.shape[1]))

    @property
    def curve(self) -> DisturbanceCurve:
        """Disturbance versus the number of cells programmed afterwards (from :attr:`trajectory`)."""
        return disturbance_curve(self.trajectory)

    @property
    def relative_error(self) -> FloatArray:
        """Dimensionless, ``(conductance - target) / target`` per cell."""
        return (self.conductance - self.target) / self.target

    @property
    def success_rate(self) -> float:
        """Fraction of the written cells (those in :attr:`order`) verified within tolerance; cells left
        out of a subset order took no pulse and do not count."""
        return float(self.verified[self.order[:, 0], self.order[:, 1]].mean())

    @property
    def total_pulses(self) -> int:
        """All pulses spent on the array."""
        return int(self.pulses.sum())


def programming_order(shape: tuple[int, int], order: Any, rng: np.random.Generator | None = None) -> IntArray:
    """``(K, 2)`` cells in programming order (``K = M * N`` unless a subset is given).

    Parameters
    ----------
    shape : (int, int)
        ``(M, N)``.
    order : {"row-major", "column-major", "random"} or array_like of int
        ``"row-major"`` programs row 0 left to right, then row 1, ...; ``"random"`` a random
        permutation drawn from ``rng``; an array lists distinct flat (C order) cell indices: all
        ``M * N`` of them (a permutation) or a subset, in which case only those cells are written.
    rng : numpy.random.Generator, optional
        Needed for ``"random"``.
    """
    m, n = shape
    if isinstance(order, str):
        if order == "row-major":
            flat = np.arange(m * n)
        elif order == "column-major":
            flat = np.arange(m * n).reshape(m, n).T.ravel()
        elif order == "random":
            if rng is None:
                raise ConfigError("`order='random'` needs `rng`.")
            flat = check_rng(rng).permutation(m * n)
        else:
            raise ConfigError(f"`order` must be 'row-major', 'column-major', 'random' or an array of distinct flat "
                              f"cell indices in [0, {m * n - 1}]; got {order!r}.")
    else:
        flat = np.asarray(order)
        if (flat.ndim != 1 or flat.dtype.kind not in "iu" or not 1 <= flat.size <= m * n
                or np.unique(flat).size != flat.size or flat.min() < 0 or flat.max() >= m * n):
            raise ConfigError(f"`order` must be an array of distinct flat cell indices (C order) in [0, {m * n - 1}]; "
                              f"got {short_repr(order)}.")
    return np.stack(np.unravel_index(flat.astype(np.int64), (m, n)), axis=1).astype(np.int64)


def _is_odd(device: DeviceModel) -> bool:
    v = np.linspace(0.05, 3.0, 7)
    g = np.full(v.shape, 1e-4)
    return bool(np.allclose(device.current(-v, g), -np.asarray(device.current(v, g)), rtol=1e-12, atol=0.0))


class _PulseVoltages:
    """Cell voltages of the whole array for any pulse amplitude on one selected cell.

    Linear devices: one solve at 1 V, scaled (exact). Nonlinear devices: one batched solve at
    ``n_amplitudes`` amplitudes spanning the schedule (both polarities unless the I-V law is odd,
    where ``V(-a) = -V(a)`` exactly), then the per-volt voltages are interpolated linearly in the
    amplitude (exact at the grid points).
    """

    def __init__(self, crossbar: Crossbar, row: int, col: int, scheme: str, schedule: PulseSchedule,
                 n_amplitudes: int, odd: bool, backend: Backend) -> None:
        levels = scheme_levels(scheme)
        if crossbar.device.linear:
            grid = np.array([1.0])
        else:
            pos = np.linspace(schedule.v_min, schedule.v_max, n_amplitudes) if n_amplitudes > 1 else np.array([schedule.v_max])
            grid = pos if odd else np.concatenate([-pos[::-1], pos])
        lv = None if levels is None else (levels[0] * grid, levels[1] * grid)
        sol = solve(crossbar, selection_bias(crossbar.shape, row, col, grid, lv), backend)
        self.backend = sol.backend
        self.per_volt = np.asarray(sol.cell_voltages) / grid[:, None, None]  # (K, M, N)
        self.grid = grid
        self.linear = crossbar.device.linear
        self.odd = odd
        self._cache: dict[float, FloatArray] = {}

    def __call__(self, amplitude: float) -> FloatArray:
        hit = self._cache.get(amplitude)
        if hit is not None:
            return hit
        if self.linear:
            out = amplitude * self.per_volt[0]
        else:
            x = abs(amplitude) if self.odd else amplitude
            g = self.grid
            if g.size == 1:
                u = self.per_volt[0]
            else:
                k = int(np.clip(np.searchsorted(g, x) - 1, 0, g.size - 2))
                w = float(np.clip((x - g[k]) / (g[k + 1] - g[k]), 0.0, 1.0))
                u = (1.0 - w) * self.per_volt[k] + w * self.per_volt[k + 1]
            out = amplitude * u
        self._cache[amplitude] = out
        return out


class _IdealVoltages:
    """Cell voltages with ideal wires: row level minus column level, exact and conductance-free."""

    def __init__(self, shape: tuple[int, int], row: int, col: int, levels: tuple[float, float]) -> None:
        r = np.full(shape[0], levels[0])
        r[row] = 1.0
        c = np.full(shape[1], levels[1])
        c[col] = 0.0
        self.per_volt = r[:, None] - c[None, :]
        self._cache: dict[float, FloatArray] = {}

    def __call__(self, amplitude: float) -> FloatArray:
        hit = self._cache.get(amplitude)
        if hit is None:
            hit = self._cache[amplitude] = amplitude * self.per_volt
        return hit


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"`{name}` must be an int >= {minimum}; got {short_repr(value)}.")
    return int(value)


def program_array(
    target_g: ArrayLike,
    *,
    preset: DevicePreset,
    rng: np.random.Generator,
    scheme: WriteSchemeName = "v/2",
    lines: LineResistance | None = None,
    backend: str | Backend = "sparse",
    tolerance: float = 0.01,
    max_pulses: int = 100,
    law: SwitchingLaw | None = None,
    schedule: PulseSchedule | None = None,
    order: Any = "row-major",
    initial: ArrayLike | None = None,
    faults: bool | FaultMap = True,
    n_track: int = 64,
    resolve_rtol: float = 0.5,
    n_amplitudes: int = 3,
    voltages: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> ProgrammingResult:
    """Program an array cell by cell with write-verify under a bias scheme.

    For each cell in ``order``: read it (with the preset's read noise, if any); while the read is
    outside ``target * (1 +- tolerance)`` and fewer than ``max_pulses`` pulses were spent, apply the
    next ISPP pulse of the needed polarity (:class:`PulseSchedule`) and update *every* cell of the
    array with the :class:`SwitchingLaw` at the cell voltage that pulse produces. Half-selected
    cells above their threshold therefore drift, and the drift of each cell is tracked while the
    cells after it are programmed.

    Parameters
    ----------
    target_g : array_like, shape (M, N)
        Siemens, target conductances; clipped (and quantized) by ``preset.targets``.
    preset : DevicePreset
        Window ``[g_min, g_max]``, device I-V law, read noise and fault model. Its statistical
        programming error is *not* applied: the write-verify simulated here replaces it.
    rng : numpy.random.Generator
        All randomness. Draw order: initial state (when ``initial`` is None), fault map (when
        ``faults`` is True), per-device thresholds, the order (when ``"random"``), then per pulse
        the cycle-to-cycle factors and per verify the read noise.
    scheme : {"v/2", "v/3", "grounded", "floating"}
        Bias of the unselected lines during each pulse.
    lines : LineResistance, optional
        Ohm, the wires; default ideal wires.
    backend : str or Backend
        ``"sparse"`` (default) or ``"ngspice"`` (slow: only for tiny arrays) or a backend object.
    tolerance : float
        Fraction in (0, 1), the relative verify tolerance (Drolet et al.: 0.01).
    max_pulses : int
        Pulse budget per cell (>= 1).
    law : SwitchingLaw, optional
        Default :func:`~xbarsim.analysis.switching.drolet_tio2_law`. Its rates are fractions of the
        preset's window, so it scales to any preset.
    schedule : PulseSchedule, optional
        Default :data:`~xbarsim.analysis.switching.DROLET_SCHEDULE` (1.1-2.1 V SET, 1.1-2.4 V RESET,
        20 mV steps).
    order : {"row-major", "column-major", "random"} or array_like of int
        Programming order (:func:`programming_order`). An array of fewer than ``M * N`` flat indices
        writes only those cells: the others take no pulse (``pulses`` 0, ``verified`` False, their
        ``programmed`` value is their initial one) but are still disturbed by the writes.
    initial : float or array_like, optional
        Siemens, the state before programming; default uniform in the preset window (an array that
        has been used before).
    faults : bool or FaultMap
        ``True`` samples the preset's fault model, ``False`` none; or a given map. Stuck devices keep
        their stuck value; write-verify still spends up to ``max_pulses`` pulses on them (the
        programmer cannot tell), disturbing their lines.
    n_track : int
        How many subsequent programmings each cell's drift is tracked for (columns of
        ``trajectory``).
    resolve_rtol : float
        Re-solve the circuit for the selected cell once its conductance moved by more than this
        fraction since the last solve (see Notes).
    n_amplitudes : int
        Nonlinear devices: pulse amplitudes solved per solve, interpolated in between.
    voltages : {"auto", "circuit", "ideal"}
        Where the cell voltages of a pulse come from. ``"circuit"``: solved on ``backend`` as
        described in the Notes. ``"ideal"``: every line at its driver's voltage (the scheme's
        levels; exact for ideal wires, which then hold every line at one potential whatever the
        conductances; not defined for ``"floating"``). ``"auto"`` (default): ``"ideal"`` when every
        wire, driver and sense resistance is zero and the scheme drives every line, else ``"circuit"``.
    progress : callable, optional
        Called with a line of text after every row of cells.

    Returns
    -------
    ProgrammingResult

    Notes
    -----
    Approximation (speed): the cell voltages of a pulse are computed from a circuit solved with the
    conductances at the start of the selected cell's programming (linear devices: one solve, exact
    in the amplitude; nonlinear devices: one batched solve over ``n_amplitudes`` amplitudes spanning
    the schedule, interpolated linearly in between: about 3 mV off at 16 x 16 with 2 ohm wires and
    sinh devices). During the cell's own pulses only its own conductance changes much, and the
    circuit is solved again whenever it moved by more than ``resolve_rtol``; the small drift of
    half-selected cells during those pulses does not trigger a solve. So an ``M x N`` array costs
    one or two solves per cell, not one per pulse: with 1 ohm wires and sinh devices about 1000
    solves and 20 s for 25 x 25, 45 s for 32 x 32. With ideal wires and a driven scheme no solve is
    needed at all (``voltages="auto"``): about 0.1 s for 8 x 8, 1.5 s for 32 x 32.
    ``voltages="ideal"`` forces that fast path with wires too, ignoring their IR drop.
    """
    t0 = time.perf_counter()
    if not isinstance(preset, DevicePreset):
        raise ConfigError(f"`preset` must be a DevicePreset; got {type(preset).__name__}.")
    check_rng(rng)
    scheme_levels(scheme)
    target = preset.targets(target_g)
    if target.ndim != 2 or min(target.shape) < 1:
        raise ConfigError(f"`target_g` must be a 2-D array (M, N); got shape {target.shape}.")
    shape = (int(target.shape[0]), int(target.shape[1]))
    m, n = shape
    tol = float(as_float_array(tolerance, "tolerance", what="relative tolerance in (0, 1)", min_value=0.0))
    if not 0.0 < tol < 1.0:
        raise ConfigError(f"`tolerance` must be a relative tolerance in (0, 1); got {tolerance!r}.")
    budget = _int(max_pulses, "max_pulses", 1)
    track = _int(n_track, "n_track", 1)
    n_amp = _int(n_amplitudes, "n_amplitudes", 1)
    rr = float(as_float_array(resolve_rtol, "resolve_rtol", what="positive fraction", min_value=0.0))
    if rr <= 0:
        raise ConfigError(f"`resolve_rtol` must be a positive fraction; got {resolve_rtol!r}.")
    lw = drolet_tio2_law() if law is None else law
    if not isinstance(lw, SwitchingLaw):
        raise ConfigError(f"`law` must be a SwitchingLaw; got {type(lw).__name__}.")
    sched = DROLET_SCHEDULE if schedule is None else schedule
    if not isinstance(sched, PulseSchedule):
        raise ConfigError(f"`schedule` must be a PulseSchedule; got {type(sched).__name__}.")
    ln = LineResistance() if lines is None else lines
    if not isinstance(ln, LineResistance):
        raise ConfigError(f"`lines` must be a LineResistance; got {type(ln).__name__}.")
    be = get_backend(backend)
    check_line_progress(progress)
    g_min, g_max = preset.g_min, preset.g_max
    levels = scheme_levels(scheme)
    ideal_wires = all(not np.any(np.asarray(getattr(ln, f))) for f in ("row_segment", "col_segment", "row_driver",
                                                                        "col_sense"))
    if voltages == "auto":
        mode = "ideal" if ideal_wires and levels is not None else "circuit"
    elif voltages == "circuit":
        mode = "circuit"
    elif voltages == "ideal":
        if levels is None:
            raise ConfigError("`voltages='ideal'` is not defined for the 'floating' scheme (floating lines take "
                              "the potential the circuit gives them); use 'circuit'.")
        mode = "ideal"
    else:
        raise ConfigError(f"`voltages` must be 'auto', 'circuit' or 'ideal'; got {short_repr(voltages)}.")

    if initial is None:
        g = rng.uniform(g_min, g_max, shape)
    else:
        g = np.array(np.broadcast_to(conductance_array(initial, "initial"), shape), dtype=np.float64)
    if isinstance(faults, FaultMap):
        fmap = faults
        if fmap.shape != shape:
            raise ConfigError(f"`faults` must have the array's shape {shape}; got {fmap.shape}.")
    elif faults is True:
        fmap = preset.faults.sample(shape, rng)
    elif faults is False:
        fmap = FaultMap.none(shape)
    else:
        raise ConfigError(f"`faults` must be True, False or a FaultMap; got {short_repr(faults)}.")
    stuck = np.asarray(fmap.stuck)
    stuck_value = np.asarray(fmap.stuck_value)
    g = np.where(stuck, stuck_value, g)
    initial_g = g.copy()
    v_set_i, v_reset_i = lw.sample_thresholds(shape, rng)
    cells = programming_order(shape, order, rng)
    odd = _is_odd(preset.device)

    k_cells = int(cells.shape[0])
    programmed = g.copy()
    pulses = np.zeros(shape, dtype=np.int64)
    verified = np.zeros(shape, dtype=bool)
    max_v = np.zeros(shape)
    traj = np.full((k_cells, track), np.nan)
    n_solves = 0
    name = be.name

    def read(i: int, j: int) -> float:
        return float(np.asarray(preset.read(np.array([g[i, j]]), rng))[0])

    for pos, (i, j) in enumerate(cells):
        i, j = int(i), int(j)
        t = target[i, j]
        lo_ok, hi_ok = t * (1.0 - tol), t * (1.0 + tol)
        value = read(i, j)
        pulse_v: _PulseVoltages | _IdealVoltages | None = None
        g_solved = np.nan
        polarity, count = 0, 0
        while not (lo_ok <= value <= hi_ok):
            if pulses[i, j] >= budget:
                break
            if pulse_v is None:
                if mode == "ideal":
                    pulse_v = _IdealVoltages(shape, i, j, levels)  # type: ignore[arg-type]
                    g_solved = np.inf
                else:
                    pulse_v = _PulseVoltages(Crossbar(conductance=g, lines=ln, device=preset.device), i, j, scheme,
                                             sched, n_amp, odd, be)
                    name = pulse_v.backend
                    g_solved = g[i, j]
                    n_solves += 1
            elif abs(g[i, j] - g_solved) > rr * g_solved:
                pulse_v = _PulseVoltages(Crossbar(conductance=g, lines=ln, device=preset.device), i, j, scheme,
                                         sched, n_amp, odd, be)
                g_solved = g[i, j]
                n_solves += 1
            want = 1 if value < t else -1
            count = count + 1 if want == polarity else 0
            polarity = want
            v = pulse_v(sched.amplitude(polarity, count))
            g = lw.apply(v, g, g_min=g_min, g_max=g_max, v_set=v_set_i, v_reset=v_reset_i, rng=rng)
            g[stuck] = stuck_value[stuck]
            av = np.abs(v)
            av[i, j] = 0.0
            np.maximum(max_v, av, out=max_v)
            pulses[i, j] += 1
            value = read(i, j)
        verified[i, j] = lo_ok <= value <= hi_ok
        programmed[i, j] = g[i, j]
        if pos:
            first = max(0, pos - track)
            p = np.arange(first, pos)
            rows, cols = cells[p, 0], cells[p, 1]
            traj[p, pos - p - 1] = g[rows, cols] - programmed[rows, cols]
        if progress is not None and (pos + 1) % n == 0:
            progress(f"programmed {pos + 1}/{k_cells} cells, {int(pulses.sum())} pulses, {n_solves} solves")
    cb_final = Crossbar(conductance=g, lines=ln, device=preset.device)
    return ProgrammingResult(
        conductance=g, target=target, initial=initial_g, programmed=programmed, disturbance=g - programmed,
        pulses=pulses, verified=verified, order=cells, faults=fmap, max_disturb_voltage=max_v, trajectory=traj,
        crossbar=cb_final, scheme=scheme, law=lw, schedule=sched, tolerance=tol, max_pulses=budget,
        n_solves=n_solves, backend=name if mode == "circuit" else "none (ideal wires)",
        elapsed=time.perf_counter() - t0,
    )
