"""Calibration of the dynamic (VTEAM-style) device models on measured programming conditions.

:func:`ispp_pulses` counts, in closed form, the pulses an incremental-step ramp needs to move one
isolated device (no wires) between two conductances; :func:`calibrate_tio2` chooses the rate
constants of Drolet's TiO2 devices so that this count equals the one their write-verify implies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim.devices.dynamic import Vteam
from xbarsim.errors import ConfigError

__all__ = ["pulse_drive", "ispp_pulses", "TiO2Calibration", "calibrate_tio2", "LEA_SAMPLE_TIME", "SweepCycleFit",
           "sweep_current", "fit_lea_sweeps"]


def pulse_drive(amplitude: float, vth: float, alpha: float, width: float, edges: float) -> float:
    """Second, ``int max(v(t)/vth - 1, 0)^alpha dt`` over one trapezoidal pulse of ``amplitude`` (V).

    Notes
    -----
    With ``s = amplitude/vth - 1 > 0`` the flat top gives ``width s^alpha``; each linear edge of
    total duration ``edges`` (rise + fall) gives ``edges * vth / amplitude * s^(alpha+1) / (alpha+1)``
    (substitute ``u = lambda amplitude / vth - 1`` in the integral over the edge fraction lambda).
    For the linear window the state then moves as ``1 - w1 = (1 - w0) exp(-k drive)`` (SET) or
    ``w1 = w0 exp(-k drive)`` (RESET), exactly.
    """
    s = amplitude / vth - 1.0
    if s <= 0:
        return 0.0
    return float(width * s**alpha + edges * vth / amplitude * s ** (alpha + 1) / (alpha + 1))


def ispp_pulses(model: Vteam, *, g_from: float, g_to: float, v_start: float, v_step: float, v_max: float,
                width: float, edges: float, max_pulses: int = 1000) -> int:
    """Pulses an ISPP ramp needs to bring an isolated ``model`` device from ``g_from`` to ``g_to`` (S).

    A SET ramp (``g_to > g_from``) has the sign of ``model.v_set``; RESET the other. The count ends
    at the first pulse after which the conductance is within 1 % of ``g_to`` (Drolet's tolerance).
    Linear window only (closed form, see :func:`pulse_drive`).
    """
    if model.window != "linear":
        raise ConfigError(f"`model.window` must be 'linear' for the closed-form pulse count; got {model.window!r}.")
    if model.cell_shape is not None:
        raise ConfigError("`model` must have scalar parameters (one device); pick one cell with `model.cell(i, j)`.")
    w = float(model.state(np.array(g_from)))
    up = g_to > g_from
    vth, k = (float(model.v_set), float(model.k_set)) if up else (float(model.v_reset), float(model.k_reset))
    alpha = model.alpha_set if up else model.alpha_reset
    for n in range(max_pulses):
        if abs(float(model.conductance(np.array(w))) - g_to) <= 0.01 * g_to:
            return n
        amp = min(v_start + n * v_step, v_max)
        d = k * pulse_drive(amp, abs(vth), alpha, width, edges)
        w = 1 - (1 - w) * np.exp(-d) if up else w * np.exp(-d)
    return max_pulses


@dataclass(frozen=True, kw_only=True)
class TiO2Calibration:
    """Result of :func:`calibrate_tio2`: the model and the pulse counts it gives."""

    model: Vteam
    set_pulses: int
    reset_pulses: int


def calibrate_tio2(*, n_pulses: int = 25, v_set: float = 0.8, v_reset: float = -0.6, alpha: float = 3.0,
                   width: float = 1e-6, edges: float = 1e-7, v_start: float = 1.1, v_step: float = 0.02,
                   g_off: float = 100e-6, g_on: float = 500e-6, iv: str = "sinh") -> TiO2Calibration:
    """Rate constants of Drolet's TiO2 devices from their programming conditions.

    Drolet et al.'s write-verify (headers of their HRS-LRS failure data): SET ramps from +1.1 V and
    RESET ramps from -1.1 V in 20 mV steps of ~1 us pulses, 1 % tolerance, window 100-500 uS.
    Fitted: ``k_set`` (``k_reset``) so that the ramp brings an isolated device from ``g_off`` to
    within 1 % of ``g_on`` (and back) in exactly ``n_pulses`` pulses: with the linear window the
    state after the ramp is in closed form (:func:`pulse_drive`), so
    ``k = -ln(1 - w_goal) / sum(drive_n)`` over the first ``n_pulses`` amplitudes. Assumed:
    ``n_pulses = 25`` (the pulse count of the statistical law calibrated on Drolet's disturbance
    data, :func:`xbarsim.analysis.switching.drolet_tio2_law`), its thresholds ``v_set = 0.8 V`` and
    ``v_reset = -0.6 V``, exponents 3, an exponential ``G(w)``, 100 ns of edges per pulse.
    """
    base = Vteam(g_on=g_on, g_off=g_off, v_set=v_set, v_reset=v_reset, k_set=1.0, k_reset=1.0,
                 alpha_set=alpha, alpha_reset=alpha, window="linear", interpolation="exponential", iv=iv)  # type: ignore[arg-type]
    w_set = float(base.state(np.array(0.99 * g_on)))       # SET done at 1 % below g_on
    w_reset = float(base.state(np.array(1.01 * g_off)))    # RESET done at 1 % above g_off
    amps = v_start + v_step * np.arange(n_pulses)
    drive_set = sum(pulse_drive(a, abs(v_set), alpha, width, edges) for a in amps)
    drive_reset = sum(pulse_drive(a, abs(v_reset), alpha, width, edges) for a in amps)
    # a hair above the exact value, so pulse n_pulses lands inside the tolerance (not on its edge)
    k_set = -np.log(1 - w_set) / drive_set * (1 + 1e-9)
    k_reset = np.log(1 / w_reset) / drive_reset * (1 + 1e-9)
    model = Vteam(g_on=g_on, g_off=g_off, v_set=v_set, v_reset=v_reset, k_set=float(k_set), k_reset=float(k_reset),
                  alpha_set=alpha, alpha_reset=alpha, window="linear", interpolation="exponential", iv=iv)  # type: ignore[arg-type]
    def count(g_from: float, g_to: float) -> int:
        return ispp_pulses(model, g_from=g_from, g_to=g_to, v_start=v_start, v_step=v_step, v_max=10.0,
                           width=width, edges=edges)

    return TiO2Calibration(model=model, set_pulses=count(g_off, g_on), reset_pulses=count(g_on, g_off))


#: Second per sample of the LEA quasi-static sweeps: not in the data (the files hold V and I only);
#: assumed, so the fitted rate constants are in units of this time base.
LEA_SAMPLE_TIME = 1e-3


@dataclass(frozen=True, kw_only=True)
class SweepCycleFit:
    """The dynamic model fitted to one SET (negative) + RESET (positive) sweep pair of the LEA device.

    Attributes
    ----------
    cycle : int
    model : Vteam
        The fitted model of this cycle.
    rms_set, rms_reset : float
        Root-mean-square current error over the negative (SET) and positive (RESET) sweep, as a
        fraction of that sweep's largest measured current.
    """

    cycle: int
    model: Vteam
    rms_set: float
    rms_reset: float


def sweep_current(model: Vteam, voltage: np.ndarray, w0: float, *, dt: float = LEA_SAMPLE_TIME,
                  compliance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Current (A) and state along a quasi-static sweep, each sample held ``dt`` seconds.

    The state moves exactly for a piecewise-constant voltage with the linear window
    (``1 - w`` or ``w`` decays by ``exp(-r dt)``); the current of a sample is computed with the
    state at its start. ``compliance`` (A) clips ``|I|`` as the 1T1R cell's transistor does.
    """
    if model.window != "linear":
        raise ConfigError(f"`model.window` must be 'linear' for the exact sweep update; got {model.window!r}.")
    v = np.asarray(voltage, dtype=np.float64)
    w = np.empty(v.size)
    wk = float(w0)
    rs, _ = model._drive(v, model.v_set, model.k_set, model.alpha_set)
    rr, _ = model._drive(v, model.v_reset, model.k_reset, model.alpha_reset)
    es, er = np.exp(-rs * dt), np.exp(-rr * dt)
    for k in range(v.size):
        w[k] = wk
        wk = 1.0 - (1.0 - wk) * es[k]
        wk = wk * er[k]
    cur = model.current(v, w)
    if compliance is not None:
        cur = np.clip(cur, -compliance, compliance)
    return cur, w


def fit_lea_sweeps(*, a: float = 2.07, dt: float = LEA_SAMPLE_TIME) -> tuple[SweepCycleFit, ...]:
    """Fit the VTEAM-style model to each of the 19 LEA I-V cycles (SET on the negative sweep, RESET on
    the positive one; :func:`xbarsim.devices.measured.lea_iv_curves`).

    Fitted per cycle (weighted least squares on the current, each sweep scaled by its largest
    current): ``g_on``, ``g_off``, ``v_set`` (< 0), ``v_reset`` (> 0), ``k_set``, ``k_reset``,
    ``alpha_set``, ``alpha_reset``. Assumed: the sinh I-V with ``a`` (the static fit's 2.07 /V),
    the linear window, exponential ``G(w)``, a negative sweep starting fully OFF and a positive one
    fully ON, ``dt`` seconds per sample (unknown; the rates scale with it), and a current
    compliance equal to the sweep's largest measured current (the 1T1R transistor).
    """
    from scipy.optimize import least_squares

    from xbarsim.devices.measured import lea_iv_curves

    neg = {c.cycle: c for c in lea_iv_curves("negative")}
    pos = {c.cycle: c for c in lea_iv_curves("positive")}
    out = []
    for cyc in sorted(neg):
        vn, i_n = neg[cyc].voltage, neg[cyc].current
        vp, i_p = pos[cyc].voltage, pos[cyc].current
        sn, sp_ = float(np.abs(i_n).max()), float(np.abs(i_p).max())

        def build(x: np.ndarray) -> Vteam:
            return Vteam(g_on=10 ** x[0], g_off=10 ** x[1], v_set=x[2], v_reset=x[3], k_set=10 ** x[4],
                         k_reset=10 ** x[5], alpha_set=x[6], alpha_reset=x[7], window="linear",
                         interpolation="exponential", iv="sinh", a=a)

        def resid(x: np.ndarray) -> np.ndarray:
            if x[0] <= x[1] + 1e-3:
                return np.full(vn.size + vp.size, 10.0)
            m = build(x)
            cn, _ = sweep_current(m, vn, 0.0, dt=dt, compliance=sn)
            cp, _ = sweep_current(m, vp, 1.0, dt=dt, compliance=sp_)
            return np.concatenate([(cn - i_n) / sn, (cp - i_p) / sp_])

        x0 = np.array([np.log10(4.4e-4), np.log10(1e-5), -1.0, 0.7, 2.0, 2.0, 2.0, 2.0])
        lo = [np.log10(5e-5), -7.0, -2.5, 0.2, -3.0, -3.0, 1.0, 1.0]
        hi = [np.log10(2e-3), np.log10(2e-4), -0.2, 1.5, 8.0, 8.0, 6.0, 6.0]
        sol = least_squares(resid, x0, bounds=(lo, hi), x_scale=[0.3, 0.3, 0.3, 0.3, 1.0, 1.0, 1.0, 1.0])
        r = resid(sol.x)
        out.append(SweepCycleFit(cycle=cyc, model=build(sol.x), rms_set=float(np.sqrt(np.mean(r[:vn.size] ** 2))),
                                 rms_reset=float(np.sqrt(np.mean(r[vn.size:] ** 2)))))
    return tuple(out)
