"""Programming through the circuit in the time domain: write-verify pulse trains on dynamic devices.

Every write pulse is a transient analysis of the whole array (:func:`~xbarsim.solver.simulate_transient`)
under the chosen bias scheme, so the selected cell moves and every other cell is disturbed by the
voltage the circuit really puts across it, through the device dynamics; nothing is fitted to a
disturbance statistic. Every verify step is a DC read of the selected cell through the same array
(its wires and the present state of every cell). Slow: for arrays up to about 64 x 64.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim._typing import ArrayLike, FloatArray, IntArray, TransientLinearSolver, VerifyTarget, WriteSchemeName
from xbarsim._validation import as_float_array, check_choice, check_int, check_rng, readonly, scalar, short_repr
from xbarsim.analysis._common import check_cell, check_line_progress
from xbarsim.analysis.disturbance import DisturbanceCurve, disturbance_curve
from xbarsim.analysis.programming import programming_order
from xbarsim.analysis.switching import DROLET_SCHEDULE, PulseSchedule
from xbarsim.devices.dynamic import DynamicDevice
from xbarsim.errors import ConfigError
from xbarsim.netlists.bias import WRITE_SCHEMES, BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance
from xbarsim.netlists.transient import TransientCircuit, build_transient
from xbarsim.netlists.netlist import END_NAMES
from xbarsim.netlists.waveforms import PWL, Pulse
from xbarsim.solver.transient import TransientOptions, TransientWorkspace, operating_point, simulate_transient

__all__ = ["WriteVerifySettings", "CellProgramming", "TransientProgrammingResult", "write_verify_cell",
           "program_array_transient"]

_log = logging.getLogger(__name__)
#: Newton tolerance of pulses and reads: the componentwise KCL error 1e-7 is far below the 1 %
#: verify tolerance and saves about half the iterations of the default 1e-12.
_NEWTON_TOL = 1e-7


@dataclass(frozen=True, kw_only=True)
class WriteVerifySettings:
    """How each cell is written and verified (defaults: Drolet et al.'s procedure).

    Attributes
    ----------
    scheme : {"v/2", "v/3", "floating", "grounded"}
        Bias of the unselected lines during every write pulse.
    schedule : PulseSchedule
        ISPP amplitudes (SET from 1.1 V, RESET from -1.1 V in 20 mV steps by default). A SET pulse
        has the sign of the model's ``v_set``.
    width, rise, fall : float
        Second, pulse timing (1 us flat top, 50 ns edges by default).
    dt : float
        Second, largest integration step inside a pulse.
    method : {"be", "trap"}
        Integration rule.
    tolerance : float
        Relative verify tolerance on the read conductance (Drolet: 1 %).
    max_pulses : int
        Pulse budget per cell.
    v_read : float
        Volt, verify read voltage (Drolet: 0.2 V).
    read_scheme : {"v/2", "v/3", "floating", "grounded"}
        Bias of the unselected lines during a verify read; the selected column's current is sensed.
    linear_solver : {"woodbury", "gmres"}
        Linear solver of the transient and read Newton steps (:class:`~xbarsim.solver.TransientOptions`);
        ``"gmres"`` is the reference (slower, same results to the Newton tolerance).
    verify_target : {"array", "device"}
        What each verify read is compared with. ``"array"`` (default): the read that the same array
        gives with the selected cell at ``g_target`` and every other cell as it is when the cell's
        write-verify starts, the target current a controller calibrated on this array aims at, so the
        wires' IR drop in the read path does not bias the programmed conductance. ``"device"``:
        ``g_target`` itself, as if the read saw the device alone (reads through wires come out low,
        and the cell is programmed high by the read path's loss: 3-6 % at 32 x 32 with 1 ohm segments).
    """

    scheme: WriteSchemeName = "v/2"
    schedule: PulseSchedule = DROLET_SCHEDULE
    width: float = 1e-6
    rise: float = 5e-8
    fall: float = 5e-8
    dt: float = 1e-7
    method: str = "trap"
    tolerance: float = 0.01
    max_pulses: int = 40
    v_read: float = 0.2
    read_scheme: WriteSchemeName = "grounded"
    linear_solver: TransientLinearSolver = "woodbury"
    verify_target: VerifyTarget = "array"

    def __post_init__(self) -> None:
        check_choice(self.scheme, WRITE_SCHEMES, "scheme")
        check_choice(self.read_scheme, WRITE_SCHEMES, "read_scheme")
        check_choice(self.verify_target, ("array", "device"), "verify_target")
        if not isinstance(self.schedule, PulseSchedule):
            raise ConfigError(f"`schedule` must be a PulseSchedule; got {type(self.schedule).__name__}.")
        Pulse(amplitude=1.0, rise=self.rise, width=self.width, fall=self.fall)  # validates the timing
        TransientOptions(dt=self.dt, method=self.method, linear_solver=self.linear_solver)  # type: ignore[arg-type]
        tol = as_float_array(self.tolerance, "tolerance", what="relative tolerance in (0, 1)")
        if tol.ndim != 0 or not 0 < float(tol) < 1:
            raise ConfigError(f"`tolerance` must be a relative tolerance in (0, 1); got {self.tolerance!r}.")
        if isinstance(self.max_pulses, bool) or not isinstance(self.max_pulses, int) or self.max_pulses < 1:
            raise ConfigError(f"`max_pulses` must be a positive int; got {self.max_pulses!r}.")
        vr = as_float_array(self.v_read, "v_read", what="positive read voltage in volt")
        if vr.ndim != 0 or float(vr) <= 0:
            raise ConfigError(f"`v_read` must be a positive read voltage in volt; got {self.v_read!r}.")

    @property
    def pulse_duration(self) -> float:
        """Second, one pulse from start to end."""
        return self.rise + self.width + self.fall


@dataclass(frozen=True, kw_only=True, eq=False)
class CellProgramming:
    """Write-verify of one cell: the array state after it and what it cost.

    Attributes
    ----------
    state : ndarray, shape (M, N)
        Every cell's state after the last pulse.
    pulses : int
        Write pulses applied.
    verified : bool
        The last verify read was within tolerance of ``target_read``.
    read_g : ndarray, shape (pulses + 1,)
        Siemens, every verify read (before the first pulse and after each).
    target_read : float
        Siemens, the read the verify aims at (``g_target`` itself with ``verify_target="device"``).
    amplitudes : ndarray, shape (pulses,)
        Volt, signed amplitude of each pulse.
    energy : float
        Joule delivered by all sources over all pulses.
    """

    state: FloatArray
    pulses: int
    verified: bool
    read_g: FloatArray
    amplitudes: FloatArray
    energy: float
    target_read: float


_CONSTANT = PWL(times=np.array([0.0, 1.0]), values=np.array([1.0, 1.0]))


def _read(circuit: TransientCircuit, model: DynamicDevice, state: FloatArray, col: int,
          settings: WriteVerifySettings, workspace: TransientWorkspace) -> float:
    """Siemens, the selected cell's conductance as a verify read sees it: the current into the
    selected column's sense end over ``h(v_read)`` (the I-V law at unit conductance), from a DC
    solve of the whole array in its present state (``circuit``: :func:`_read_circuit`)."""
    op = operating_point(circuit, TransientOptions(newton_tol=_NEWTON_TOL, linear_solver=settings.linear_solver),
                         workspace=workspace, state0=state)
    net = circuit.netlist
    sense = np.flatnonzero((net.source_end == END_NAMES.index("col_bottom")) & (net.source_line == col))
    unit = float(model.static_law.current(np.array(settings.v_read), np.array(1.0)))
    return -float(op.source_current[0, sense].sum()) / unit


def _read_circuit(xb: Crossbar, model: DynamicDevice, state: FloatArray, row: int, col: int,
                  settings: WriteVerifySettings) -> TransientCircuit:
    """The verify read of cell ``(row, col)`` as a circuit (``v_read`` under ``read_scheme``)."""
    return build_transient(xb, BiasScheme.write(row, col, settings.v_read, settings.read_scheme), model, _CONSTANT,
                           state0=state)


def write_verify_cell(state: ArrayLike, row: int, col: int, g_target: float, *, model: DynamicDevice,
                      lines: LineResistance | None = None, settings: WriteVerifySettings | None = None,
                      workspace: TransientWorkspace | None = None) -> CellProgramming:
    """Write-verify cell ``(row, col)`` to ``g_target`` (S) with pulse trains through the circuit.

    Read; while the read is outside ``target (1 +- tolerance)`` and pulses remain, apply the next
    ISPP pulse of the needed polarity as a transient of the whole array (every cell's state moves
    by the dynamics at the voltage it sees), then read again. A change of polarity restarts the ramp.
    ``target`` is ``g_target`` as the array reads it (``settings.verify_target``). ``workspace`` keeps the assembled circuits between calls (pass one for a whole array).
    """
    cfg = _settings(settings)
    _check_model(model)
    wires = lines if lines is not None else LineResistance()
    w = as_float_array(state, "state", what="device state in [0, 1]").copy()
    if w.ndim != 2 or min(w.shape) < 1:
        raise ConfigError(f"`state` must be a 2-D array (M, N) of device states with M, N >= 1; got shape {w.shape}.")
    if ((w < 0.0) | (w > 1.0)).any():
        raise ConfigError(f"`state` must hold device states in [0, 1]; got {short_repr(float(w[(w < 0) | (w > 1)][0]))}.")
    row, col = check_cell(row, col, (int(w.shape[0]), int(w.shape[1])))
    g_lo, g_hi = float(model.conductance(np.array(0.0))), float(model.conductance(np.array(1.0)))
    g_target = scalar(g_target, "g_target", what="target conductance in siemens")
    if not g_lo <= g_target <= g_hi:
        raise ConfigError(f"`g_target` must lie in the device window [{g_lo:g}, {g_hi:g}] S; got {g_target!r}.")
    opts = TransientOptions(method=cfg.method, dt=cfg.dt, record_cells=False, newton_tol=_NEWTON_TOL,  # type: ignore[arg-type]
                            linear_solver=cfg.linear_solver)
    ws = workspace if workspace is not None else TransientWorkspace()
    sign_set = float(np.sign(np.ravel(getattr(model, "v_set", 1.0))[0]))  # per-cell thresholds share one sign
    sch = cfg.schedule
    xb = Crossbar(conductance=model.conductance(w), lines=wires, device=model.static_law)
    read_tc = _read_circuit(xb, model, w, row, col, cfg)
    # one pulse circuit at unit amplitude; each pulse scales it (the bias schemes are linear in it)
    pulse_tc = build_transient(xb, BiasScheme.write(row, col, 1.0, cfg.scheme), model,
                               Pulse(amplitude=1.0, rise=cfg.rise, width=cfg.width, fall=cfg.fall), state0=w)
    reads = [_read(read_tc, model, w, col, cfg, ws)]
    if cfg.verify_target == "array":
        g_t = model.conductance(w)
        g_t[row, col] = g_target
        w_t = w.copy()
        w_t[row, col] = np.asarray(model.state(g_t))[row, col]  # per cell, should parameters differ by cell
        target = _read(read_tc, model, w_t, col, cfg, ws)
    else:
        target = float(g_target)
    amps: list[float] = []
    energy = 0.0
    last_dir = 0
    k_ramp = 0
    while len(amps) < cfg.max_pulses:
        g = reads[-1]
        if abs(g - target) <= cfg.tolerance * target:
            break
        direction = 1 if g < target else -1
        k_ramp = k_ramp + 1 if direction == last_dir else 0
        last_dir = direction
        if direction > 0:
            mag = min(sch.v_set_start + k_ramp * sch.v_step, sch.v_set_max)
        else:
            mag = min(sch.v_reset_start + k_ramp * sch.v_step, sch.v_reset_max)
        amp = direction * sign_set * mag
        res = simulate_transient(pulse_tc, opts, workspace=ws, state0=w, scale=amp)
        w = np.array(res.final_state)
        energy += float(res.energy.sum())
        amps.append(amp)
        reads.append(_read(read_tc, model, w, col, cfg, ws))
    verified = abs(reads[-1] - target) <= cfg.tolerance * target
    return CellProgramming(state=readonly(w), pulses=len(amps), verified=bool(verified), read_g=readonly(np.array(reads)),
                           amplitudes=readonly(np.array(amps)), energy=energy, target_read=target)


def _settings(settings: Any) -> WriteVerifySettings:
    if settings is None:
        return WriteVerifySettings()
    if not isinstance(settings, WriteVerifySettings):
        raise ConfigError(f"`settings` must be a WriteVerifySettings or None; got {short_repr(settings)}.")
    return settings


def _check_model(model: Any) -> None:
    if not isinstance(model, DynamicDevice):
        raise ConfigError(f"`model` must be a DynamicDevice (e.g. xbarsim.devices.tio2_vteam()); got "
                          f"{type(model).__name__}.")


def _window_states(model: DynamicDevice, g: FloatArray, name: str) -> FloatArray:
    """The states of conductances ``g`` (S), or ConfigError naming ``name`` for one outside the window."""
    g_lo, g_hi = float(model.conductance(np.array(0.0))), float(model.conductance(np.array(1.0)))
    tol = 1e-12 * g_hi  # the rounding model.state tolerates
    bad = (g < g_lo - tol) | (g > g_hi + tol)
    if bad.any():
        raise ConfigError(f"`{name}` must lie in the device window [{g_lo:g}, {g_hi:g}] S; got "
                          f"{short_repr(float(g[bad].ravel()[0]))} S.")
    return np.array(model.state(g), dtype=np.float64)


@dataclass(frozen=True, kw_only=True, eq=False)
class TransientProgrammingResult:
    """A whole array programmed cell by cell through the circuit in the time domain.

    Attributes
    ----------
    conductance, target, initial, programmed : ndarray, shape (M, N)
        Siemens: final, aimed at, before programming, and each cell right after its own write-verify.
    disturbance : ndarray, shape (M, N)
        Siemens, ``conductance - programmed``.
    pulses : ndarray of int, shape (M, N)
    verified : ndarray of bool, shape (M, N)
    energy : ndarray, shape (M, N)
        Joule spent by all sources on the pulses of each cell.
    order : ndarray of int, shape (K, 2)
    trajectory : ndarray, shape (K, n_track)
        Siemens, change of the ``p``-th programmed cell after ``n`` more cells (NaN past the end).
    scheme : str
    programming_time : float
        Second of pulses applied (simulated time).
    wall_s : float
        Second of computation.
    """

    conductance: FloatArray
    target: FloatArray
    initial: FloatArray
    programmed: FloatArray
    disturbance: FloatArray
    pulses: IntArray
    verified: np.ndarray
    energy: FloatArray
    order: IntArray
    trajectory: FloatArray
    scheme: str
    programming_time: float
    wall_s: float

    def __post_init__(self) -> None:
        for name in ("conductance", "target", "initial", "programmed", "disturbance", "pulses", "verified",
                     "energy", "order", "trajectory"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    @property
    def curve(self) -> DisturbanceCurve:
        """Disturbance versus the number of cells programmed afterwards."""
        return disturbance_curve(self.trajectory)

    @property
    def relative_error(self) -> FloatArray:
        """``(conductance - target) / target`` of every cell."""
        return (self.conductance - self.target) / self.target


def program_array_transient(
    target_g: ArrayLike,
    *,
    model: DynamicDevice,
    lines: LineResistance | None = None,
    settings: WriteVerifySettings | None = None,
    initial: ArrayLike | None = None,
    rng: np.random.Generator | None = None,
    order: Any = "row-major",
    n_track: int = 64,
    progress: Callable[[str], None] | None = None,
) -> TransientProgrammingResult:
    """Program every cell (in ``order``) with :func:`write_verify_cell`; disturbance from the dynamics.

    Parameters
    ----------
    target_g : array_like, shape (M, N)
        Siemens, inside the model's window.
    model : DynamicDevice
        The cells' dynamics (e.g. :func:`xbarsim.devices.tio2_vteam`).
    lines : LineResistance, optional
        Ohm; default ideal wires.
    settings : WriteVerifySettings, optional
        Scheme, pulses, tolerance.
    initial : array_like, optional
        Siemens, conductances before programming; default uniform in the window drawn from ``rng``.
    rng : numpy.random.Generator, optional
        Draws the initial state (when ``initial`` is None) and a ``"random"`` order; nothing else is
        random, so a seed fixes the whole run.
    order : {"row-major", "column-major", "random"} or array_like of int
        See :func:`~xbarsim.analysis.programming.programming_order`.
    n_track : int
        Columns of ``trajectory``.
    progress : callable, optional
        Called with one line per programmed row.
    """
    cfg = _settings(settings)
    _check_model(model)
    tgt = as_float_array(target_g, "target_g", what="target conductance in siemens")
    if tgt.ndim != 2 or min(tgt.shape) < 1:
        raise ConfigError(f"`target_g` must have shape (M, N) with M, N >= 1; got {tgt.shape}.")
    _window_states(model, tgt, "target_g")
    shape = tgt.shape
    if rng is not None:
        check_rng(rng)
    check_line_progress(progress)
    if initial is None:
        if rng is None:
            raise ConfigError("`rng` is needed when `initial` is None (the initial state is drawn from it).")
        w = rng.uniform(0.0, 1.0, shape)
    else:
        g0 = as_float_array(initial, "initial", what="conductance in siemens")
        if g0.ndim > 2 or any(a not in (1, b) for a, b in zip(g0.shape[::-1], shape[::-1], strict=False)):
            raise ConfigError(f"`initial` must be a conductance or an array that broadcasts to the targets' shape "
                              f"{shape}; got shape {g0.shape}.")
        w = _window_states(model, np.array(np.broadcast_to(g0, shape)), "initial")
    track = check_int(n_track, "n_track", 1, 2**31 - 1)
    cells = programming_order(shape, order, rng)
    t0 = time.perf_counter()
    g_init = model.conductance(w)
    programmed = g_init.copy()
    pulses = np.zeros(shape, np.int64)
    verified = np.zeros(shape, bool)
    energy = np.zeros(shape)
    traj = np.full((len(cells), track), np.nan)
    ws = TransientWorkspace(max_entries=2)
    for k, (i, j) in enumerate(cells):
        cp = write_verify_cell(w, int(i), int(j), float(tgt[i, j]), model=model, lines=lines, settings=cfg, workspace=ws)
        w = np.array(cp.state)
        g_now = model.conductance(w)
        programmed[i, j] = g_now[i, j]
        pulses[i, j], verified[i, j], energy[i, j] = cp.pulses, cp.verified, cp.energy
        for p in range(max(0, k - track), k):
            pi, pj = cells[p]
            traj[p, k - p - 1] = g_now[pi, pj] - programmed[pi, pj]
        if progress is not None and (j == shape[1] - 1 or k == len(cells) - 1):
            progress(f"programmed {k + 1}/{len(cells)} cells, {int(pulses.sum())} pulses")
    g_final = model.conductance(w)
    return TransientProgrammingResult(
        conductance=g_final, target=tgt, initial=g_init, programmed=programmed, disturbance=g_final - programmed,
        pulses=pulses, verified=verified, energy=energy, order=cells, trajectory=traj, scheme=cfg.scheme,
        programming_time=float(pulses.sum()) * cfg.pulse_duration, wall_s=time.perf_counter() - t0)
