"""Dynamic device models: validation, G(w) round trips, derivatives against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.devices import DynamicDevice, Ohmic, Sinh, Vteam, tio2_vteam
from xbarsim.errors import ConfigError

BASE = dict(g_on=1e-4, g_off=1e-5, v_set=1.0, v_reset=-1.2, k_set=1e6, k_reset=1e6)


@pytest.mark.parametrize("kw, match", [
    (dict(g_on=1e-6), "`g_on` must exceed"), (dict(g_off=-1.0), "`g_off`"), (dict(v_set=0.0), "`v_set`"),
    (dict(v_reset=0.5), "opposite sign"), (dict(k_set=0.0), "`k_set`"), (dict(alpha_reset=0.5), "`alpha_reset`"),
    (dict(window="joglekar"), "`window`"), (dict(interpolation="cubic"), "`interpolation`"), (dict(iv="diode"), "`iv`"),
    (dict(p=0), "`p`"), (dict(a=-1.0), "`a`"), (dict(k_reset=float("nan")), "`k_reset`"),
])
def test_bad_parameters_raise_config_error_naming_them(kw, match):
    with pytest.raises(ConfigError, match=match):
        Vteam(**{**BASE, **kw})


@pytest.mark.parametrize("interp", ["linear", "exponential"])
def test_conductance_state_round_trip_and_window(interp):
    m = Vteam(**BASE, interpolation=interp)
    w = np.linspace(0, 1, 11)
    np.testing.assert_allclose(m.state(m.conductance(w)), w, atol=1e-12)
    assert m.conductance(0.0) == pytest.approx(1e-5) and m.conductance(1.0) == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match="out-of-window"):
        m.state(np.array([5e-5, 2e-4]))


@pytest.mark.parametrize("window", ["none", "linear", "biolek"])
@pytest.mark.parametrize("iv", ["ohmic", "sinh"])
def test_partials_match_finite_differences(window, iv):
    m = Vteam(**BASE, window=window, iv=iv, interpolation="exponential", alpha_set=2.5, alpha_reset=3.0, p=2)
    rng = np.random.default_rng(1)
    v = rng.uniform(-2, 2, 200)
    v = v[(np.abs(v - 1.0) > 1e-3) & (np.abs(v + 1.2) > 1e-3)]
    w = rng.uniform(0.05, 0.95, v.size)
    f, fv, fw = m.rate_partials(v, w)
    i, iv_, iw = m.current_partials(v, w)
    h = 1e-7
    np.testing.assert_allclose(fv, (m.rate(v + h, w) - m.rate(v - h, w)) / (2 * h), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(fw, (m.rate(v, w + h) - m.rate(v, w - h)) / (2 * h), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(iv_, (m.current(v + h, w) - m.current(v - h, w)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(iw, (m.current(v, w + h) - m.current(v, w - h)) / (2 * h), rtol=1e-6)
    # thresholds: nothing moves in between, SET moves up, RESET down
    assert np.all(f[(v < 1.0) & (v > -1.2)] == 0)
    assert np.all(f[v > 1.0] > 0) and np.all(f[v < -1.2] < 0)


def test_static_law_gives_the_same_current():
    for iv, law in (("ohmic", Ohmic), ("sinh", Sinh)):
        m = Vteam(**BASE, iv=iv)
        assert isinstance(m, DynamicDevice) and isinstance(m.static_law, law)
        v, w = np.linspace(-1, 1, 7), np.linspace(0, 1, 7)
        np.testing.assert_allclose(m.static_law.current(v, m.conductance(w)), m.current(v, w), rtol=1e-14)


def test_spice_cell_lines():
    lines = Vteam(**BASE, window="biolek", p=3).spice_cell("cell0_1", "r0_1", "c0_1", "w0_1")
    assert lines[0].startswith("Bcell0_1 r0_1 c0_1 I=") and lines[1].startswith("Bwcell0_1 0 w0_1 I=")
    assert lines[2] == "Cwcell0_1 w0_1 0 1" and "pow(V(w0_1)*V(w0_1),3)" in lines[1]


def test_tio2_preset_window_and_polarity():
    from xbarsim.devices.dynamic import TIO2_ALPHA, TIO2_V_RESET, TIO2_V_SET

    m = tio2_vteam()
    assert (m.g_off, m.g_on) == (100e-6, 500e-6) and (m.v_set, m.v_reset) == (TIO2_V_SET, TIO2_V_RESET)
    assert m.v_set > 0 > m.v_reset and m.alpha_set == m.alpha_reset == TIO2_ALPHA and m.cell_shape is None
    # both thresholds at or below half the ramps' 1.1 V start; RESET the lower one (the measured drift is
    # negative)
    assert 0.4 < -m.v_reset < m.v_set < 0.55
    with pytest.raises(ConfigError, match="`rng` is needed"):
        tio2_vteam(shape=(2, 2))


def test_tio2_preset_is_what_the_calibration_gives():
    """Drolet's programming conditions: from 1.1 V in 20 mV steps of 1.04 us pulses with 0.5 us edges,
    a full SET and a full RESET of the median device take 25 pulses."""
    from xbarsim.devices.dynamic_fit import DROLET_EDGES, DROLET_WIDTH, calibrate_tio2

    m = tio2_vteam()
    cal = calibrate_tio2(alpha=m.alpha_set, v_set=m.v_set, v_reset=m.v_reset)
    assert m.k_set == pytest.approx(cal.model.k_set, rel=1e-12) and m.k_reset == pytest.approx(cal.model.k_reset, rel=1e-12)
    assert (cal.set_pulses, cal.reset_pulses) == (25, 25)
    assert (DROLET_WIDTH, DROLET_EDGES) == (1.04e-6, 1.0e-6)  # header of dead_xbar_P464EC_HD.csv
    # independent check of the closed form: integrate both ramps numerically, pulse by pulse, from
    # the header's timing (rise 0.5 us, flat 1.04 us, fall 0.5 us)
    t = np.linspace(0, 2.04e-6, 204001)
    for sign, vth, k, w0, goal in ((1, m.v_set, m.k_set, 0.0, 0.99 * 500e-6), (-1, m.v_reset, m.k_reset, 1.0, 1.01 * 100e-6)):
        w = w0
        for a in sign * (1.1 + 0.02 * np.arange(25)):
            v = np.interp(t, [0, 5e-7, 1.54e-6, 2.04e-6], [0, a, a, 0])
            r = k * np.maximum(v / vth - 1, 0) ** m.alpha_set
            w = 1 - (1 - w) * np.exp(-np.trapezoid(r, t)) if sign > 0 else w * np.exp(-np.trapezoid(r, t))
        assert m.conductance(w) == pytest.approx(goal, rel=1e-4)


def test_tio2_array_preset_spreads_the_thresholds():
    from xbarsim.devices.dynamic import TIO2_SIGMA_RESET, TIO2_SIGMA_SET
    from xbarsim.devices.dynamic_fit import ispp_pulses

    m = tio2_vteam(shape=(30, 30), rng=np.random.default_rng(0))
    z = np.random.default_rng(0).standard_normal((2, 30, 30))
    np.testing.assert_allclose(m.v_set, tio2_vteam().v_set + TIO2_SIGMA_SET * z[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(m.v_reset, tio2_vteam().v_reset - TIO2_SIGMA_RESET * z[1], rtol=0, atol=1e-15)
    # the spread keeps the programming conditions: the full swings of the 5 % and 95 % threshold cells
    # take 18-33 pulses (SET 18-33, RESET 24-27 for this draw; 25 for the median)
    kw = dict(v_start=1.1, v_step=0.02, v_max=2.4, width=1.04e-6, edges=1e-6)
    counts = []
    for q in (5, 95):
        cq = m.cell(0, 0).__class__(**{**{f: getattr(tio2_vteam(), f) for f in ("g_on", "g_off", "k_set", "k_reset",
                                                                              "alpha_set", "alpha_reset", "window",
                                                                              "interpolation", "iv")},
                                       "v_set": float(np.percentile(m.v_set, q)),
                                       "v_reset": float(np.percentile(m.v_reset, 100 - q))})
        counts += [ispp_pulses(cq, g_from=100e-6, g_to=500e-6, **kw), ispp_pulses(cq, g_from=500e-6, g_to=100e-6, **kw)]
    assert max(counts[:2]) <= 25 <= min(counts[2:]) and 17 <= min(counts) and max(counts) <= 34, counts
    assert counts[0] < counts[2] and counts[1] < counts[3]  # lower thresholds switch in fewer pulses


def test_lea_fit_per_cycle_errors_and_preset():
    from xbarsim.devices import lea_iv_curves, lea_vteam
    from xbarsim.devices.dynamic_fit import fit_lea_sweeps, sweep_current

    fits = fit_lea_sweeps()
    assert [f.cycle for f in fits] == list(range(1, 20))
    assert max(f.rms_set for f in fits) < 0.07 and max(f.rms_reset for f in fits) < 0.06
    m = lea_vteam()
    assert m.v_set < 0 < m.v_reset
    for name in ("g_on", "k_reset", "v_reset"):
        assert getattr(m, name) == pytest.approx(float(np.median([getattr(f.model, name) for f in fits])), rel=1e-6)
    # independent recomputation of one cycle's error, and the dynamics matter: a frozen-state model
    # (no switching) is far worse on the same sweep
    neg = lea_iv_curves("negative")[9]
    scale = np.abs(neg.current).max()
    cur, w = sweep_current(fits[9].model, neg.voltage, 0.0, compliance=scale)
    assert np.sqrt(np.mean(((cur - neg.current) / scale) ** 2)) == pytest.approx(fits[9].rms_set, rel=1e-9)
    assert w[-1] > 0.2  # the state rose on the negative (SET) sweep
    frozen = Vteam(g_on=m.g_on, g_off=m.g_off, v_set=-5.0, v_reset=5.0, k_set=1e-9, k_reset=1e-9, iv="sinh")
    cur0, _ = sweep_current(frozen, neg.voltage, 0.0, compliance=scale)
    assert np.sqrt(np.mean(((cur0 - neg.current) / scale) ** 2)) > 3 * fits[9].rms_set


_RAMP = dict(g_from=100e-6, g_to=500e-6, v_start=1.1, v_step=0.02, v_max=2.4, width=1.04e-6, edges=1e-6)


@pytest.mark.parametrize(("change", "name"), [
    ({"g_to": 900e-6}, "`g_to`"),        # before: 1000 (max_pulses), a target no ramp reaches
    ({"g_from": 1e-3}, "`g_from`"),      # before: `g`, model.state's argument
    ({"v_start": -1.1}, "`v_start`"),    # before: 136 pulses of a ramp through zero
    ({"v_max": 1.0}, "`v_max`"),         # below v_start
    ({"width": float("nan")}, "`width`"),
    ({"max_pulses": 0}, "`max_pulses`"),  # before: 0
])
def test_ispp_pulses_refuses_what_it_cannot_count(change, name):
    from xbarsim.devices.dynamic_fit import ispp_pulses

    with pytest.raises(ConfigError, match=name):
        ispp_pulses(tio2_vteam(), **{**_RAMP, **change})


def test_pulse_drive_refuses_nan_and_a_zero_threshold():
    from xbarsim.devices.dynamic_fit import pulse_drive

    assert pulse_drive(1.5, 0.5, 2.0, 1e-6, 0.0) == pytest.approx(1e-6 * 2.0**2)  # flat top only: width s^alpha
    with pytest.raises(ConfigError, match="`amplitude`"):
        pulse_drive(float("nan"), 0.5, 2.0, 1e-6, 1e-6)  # before: nan
    with pytest.raises(ConfigError, match="`vth`"):
        pulse_drive(1.0, 0.0, 2.0, 1e-6, 1e-6)  # before: ZeroDivisionError


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"v_set": 1.5, "n_pulses": 5}, "`v_set`"),  # before: `k_set` ... got inf
    ({"n_pulses": 0}, "`n_pulses`"),              # before: `k_set` ... got inf
    ({"width": float("nan")}, "`width`"),         # before: `k_set` ... got nan
])
def test_calibrate_tio2_names_what_makes_the_ramp_useless(kwargs, name):
    from xbarsim.devices.dynamic_fit import calibrate_tio2

    with pytest.raises(ConfigError, match=name):
        calibrate_tio2(**kwargs)
