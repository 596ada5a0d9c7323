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

__all__ = ["pulse_drive", "ispp_pulses", "TiO2Calibration", "calibrate_tio2"]


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
    w = float(model.state(np.array(g_from)))
    up = g_to > g_from
    vth, k, alpha = (model.v_set, model.k_set, model.alpha_set) if up else (model.v_reset, model.k_reset, model.alpha_reset)
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
    kw = dict(v_start=v_start, v_step=v_step, v_max=10.0, width=width, edges=edges)
    return TiO2Calibration(model=model, set_pulses=ispp_pulses(model, g_from=g_off, g_to=g_on, **kw),
                           reset_pulses=ispp_pulses(model, g_from=g_on, g_to=g_off, **kw))
