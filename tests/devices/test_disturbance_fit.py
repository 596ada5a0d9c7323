"""The closed-form whole-array programming proxy (the TiO2 disturbance fit runs on it) against the
circuit, and the wire fractions it uses against the sparse transient."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import WriteVerifySettings, program_array_transient
from xbarsim.devices import tio2_vteam, with_threshold_spread
from xbarsim.devices.dynamic_fit import TIO2_V2_FRACTIONS, program_arrays_closed_form
from xbarsim.errors import ConfigError


def test_closed_form_programming_equals_the_circuit_with_ideal_wires():
    """Ideal wires put exactly (1, 1/2, 1/2, 0) of the pulse on the cells, so the proxy is the circuit
    up to the time discretisation of the transient (dt = 10 ns here)."""
    m = with_threshold_spread(tio2_vteam(), (2, 3), sigma_set=0.1, sigma_reset=0.1, rng=np.random.default_rng(1))
    rng = np.random.default_rng(2)
    tgt, ini = rng.uniform(100e-6, 500e-6, (2, 3)), rng.uniform(100e-6, 500e-6, (2, 3))
    r = program_array_transient(tgt, model=m, settings=WriteVerifySettings(max_pulses=8, dt=1e-8), initial=ini)
    p = program_arrays_closed_form(m, tgt[None], ini[None], max_pulses=8, width=1e-6, edges=1e-7)  # the settings' pulse
    assert np.array_equal(p.pulses[0], r.pulses) and r.pulses.sum() > 20
    np.testing.assert_allclose(p.conductance[0], r.conductance, rtol=3e-3)
    np.testing.assert_allclose(p.programmed[0], r.programmed, rtol=3e-3)
    moved = np.nanmax(np.abs(r.trajectory[:, :6]))
    assert moved > 5e-8  # half-selected cells with low thresholds were disturbed
    np.testing.assert_allclose(p.trajectory, r.trajectory[:, :6], rtol=0, atol=0.02 * moved)


def test_closed_form_programming_bookkeeping_and_errors():
    m = tio2_vteam()
    rng = np.random.default_rng(0)
    tgt, ini = rng.uniform(100e-6, 500e-6, (3, 2, 2)), rng.uniform(100e-6, 500e-6, (3, 2, 2))
    p = program_arrays_closed_form(m, tgt, ini)
    # independent bookkeeping: the disturbance of the first cell after all three others equals its
    # final minus its programmed conductance; verified cells are within 1 %
    np.testing.assert_allclose(p.trajectory[::4, 2], p.conductance[:, 0, 0] - p.programmed[:, 0, 0], rtol=0, atol=1e-18)
    ok = p.pulses < 40
    assert ok.all() and np.all(np.abs(p.programmed - tgt) <= 0.01 * tgt + 1e-18)
    assert np.isnan(p.trajectory[3::4]).all()  # the last cell has no later cells
    # one array alone gives the same as inside a batch (arrays do not interact)
    p1 = program_arrays_closed_form(m, tgt[1:2], ini[1:2])
    np.testing.assert_array_equal(p1.conductance[0], p.conductance[1])
    with pytest.raises(ConfigError, match="`target` must have shape"):
        program_arrays_closed_form(m, tgt[0], ini[0])
    with pytest.raises(ConfigError, match="`models` must be one Vteam or a list of 3"):
        program_arrays_closed_form([m, m], tgt, ini)
    with pytest.raises(ConfigError, match="per-cell shape"):
        program_arrays_closed_form(with_threshold_spread(m, (3, 3), sigma_set=0.1, sigma_reset=0.1,
                                                         rng=np.random.default_rng(0)), tgt, ini)


def test_wire_fractions_match_the_circuit():
    """The fractions of the pulse across selected and half-selected cells under V/2 with the report's
    wires (1 ohm segments, 10 ohm drivers and sense) on 8 x 8 TiO2 arrays, re-measured mid-pulse."""
    m = tio2_vteam()
    rng = np.random.default_rng(5)
    lines = xb.LineResistance.uniform(1.0, driver=10.0, sense=10.0)
    sel, half = [], []
    for (i, j), amp in (((0, 0), -1.3), ((3, 4), 1.7), ((7, 7), -1.5)):
        w = rng.uniform(0, 1, (8, 8))
        cb = xb.Crossbar(conductance=m.conductance(w), lines=lines, device=m.static_law)
        tc = xb.build_transient(cb, xb.BiasScheme.write(i, j, amp, "v/2"), m,
                                xb.Pulse(amplitude=1.0, rise=5e-8, width=2e-7, fall=5e-8), state0=w)
        res = xb.simulate_transient(tc, xb.TransientOptions(method="trap", dt=5e-8, record_cells=True))
        u = res.cell_voltage[int(np.argmin(np.abs(res.times - 1.5e-7)))] / amp
        sel.append(u[i, j])
        half += list(np.delete(u[i], j)) + list(np.delete(u[:, j], i))
    # the selected cell: 0.92-0.96 (lower for large SET pulses, whose sinh current drops more in the wires)
    assert abs(np.mean(sel) - TIO2_V2_FRACTIONS[0]) < 0.02 and abs(np.mean(half) - TIO2_V2_FRACTIONS[1]) < 0.01
    assert 0.45 < min(half) and max(half) < 0.5 and 0.9 < min(sel) and max(sel) < 0.97


def test_verify_read_gain_matches_the_circuit():
    """The verify read of write_verify_cell through the report's wires returns ~95 % of the true
    conductance; the proxy's TIO2_READ_GAIN is that mean."""
    from xbarsim.analysis import write_verify_cell
    from xbarsim.devices.dynamic_fit import TIO2_READ_GAIN

    m = tio2_vteam()
    rng = np.random.default_rng(6)
    lines = xb.LineResistance.uniform(1.0, driver=10.0, sense=10.0)
    gains = []
    for _ in range(3):
        w = rng.uniform(0, 1, (8, 8))
        for i, j in ((0, 0), (4, 3), (7, 7)):
            g = float(m.conductance(w[i, j]))
            # a target equal to the read value: no pulse, one read
            cp = write_verify_cell(w, i, j, float(np.clip(g * TIO2_READ_GAIN, 100e-6, 500e-6)), model=m, lines=lines,
                                   settings=WriteVerifySettings(max_pulses=1, tolerance=0.5))
            gains.append(cp.read_g[0] / g)
    assert 0.93 < min(gains) and max(gains) < 0.98 and abs(np.mean(gains) - TIO2_READ_GAIN) < 0.01


def _measured():
    """Drolet's database read straight from the shipped copies of its files (not via devices.measured)."""
    import csv
    import json
    from pathlib import Path

    import xbarsim.devices

    root = Path(xbarsim.devices.__file__).parent / "data"
    rows = list(csv.DictReader((root / "biasing_disturbance_stats.csv").read_text().splitlines()))
    samples = json.loads((root / "biasing_disturbance_samples_S.json").read_text())
    return rows, samples


def test_disturbance_misfit_recomputed_independently():
    """A small seeded run of the preset's parameters: every statistic and rms recomputed from the samples."""
    from xbarsim.devices.dynamic import TIO2_ALPHA, TIO2_SIGMA_RESET, TIO2_SIGMA_SET, TIO2_V_RESET, TIO2_V_SET
    from xbarsim.devices.dynamic_fit import tio2_disturbance_misfit

    fit = tio2_disturbance_misfit(TIO2_ALPHA, TIO2_V_SET, TIO2_V_RESET, TIO2_SIGMA_SET, TIO2_SIGMA_RESET, n_arrays=4, seed=3)
    assert fit.model.k_set == tio2_vteam().k_set and fit.trajectory.shape == (4 * 64, 35)
    rows, samples = _measured()
    cnt = np.array([float(r["n_samples"]) for r in rows[:35]])
    wts = cnt / cnt.sum()
    want = {"mean": [], "std": [], "p": []}
    for n in range(1, 36):
        x = fit.trajectory[:, n - 1]
        x = x[~np.isnan(x)]
        assert x.size == 4 * (64 - n)
        want["mean"].append(np.mean(x))
        want["std"].append(np.std(x))
        want["p"].append(np.percentile(x, [10, 50, 90]))
    np.testing.assert_allclose(fit.mean, want["mean"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(fit.std, want["std"], rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(fit.percentiles, np.array(want["p"]), rtol=1e-12, atol=1e-15)
    meas_mean = np.array([float(r["mu_deltaG_S"]) for r in rows[:35]])
    meas_std = np.array([float(r["sigma_deltaG_S"]) for r in rows[:35]])
    meas_p = np.array([np.percentile(samples[str(n)], [10, 50, 90]) for n in range(1, 36)])
    assert fit.rms_mean == pytest.approx(np.sqrt(np.sum(wts * (np.array(want["mean"]) - meas_mean) ** 2)), rel=1e-9)
    assert fit.rms_std == pytest.approx(np.sqrt(np.sum(wts * (np.array(want["std"]) - meas_std) ** 2)), rel=1e-9)
    for k in range(3):
        assert fit.rms_percentiles[k] == pytest.approx(np.sqrt(np.sum(wts * (np.array(want["p"])[:, k] - meas_p[:, k]) ** 2)), rel=1e-9)
    assert fit.misfit == pytest.approx(1e12 * (fit.rms_mean**2 + fit.rms_std**2 + sum(r * r for r in fit.rms_percentiles)))
    assert fit.cost == pytest.approx(fit.misfit + 1e4 * max(0.0, 0.97 - fit.verified))
    # the disturbance is negative on average and its spread grows with n, as measured
    assert fit.mean[29] < fit.mean[0] < 0 and fit.std[29] > 1.5 * fit.std[0] > 0


def test_fitted_preset_beats_the_assumed_thresholds_on_the_measured_disturbance():
    """The numbers of docs/transient.md (32 arrays, seed 0, verify aimed at the true target): the fitted preset against the assumed
    +0.8 / -0.6 V thresholds with exponent 3 of the previous calibration."""
    from xbarsim.devices.dynamic import TIO2_ALPHA, TIO2_SIGMA_RESET, TIO2_SIGMA_SET, TIO2_V_RESET, TIO2_V_SET
    from xbarsim.devices.dynamic_fit import tio2_disturbance_misfit

    fit = tio2_disturbance_misfit(TIO2_ALPHA, TIO2_V_SET, TIO2_V_RESET, TIO2_SIGMA_SET, TIO2_SIGMA_RESET)
    old = tio2_disturbance_misfit(3.0, 0.8, -0.6, 0.0, 0.0)
    got = 1e6 * np.array([fit.rms_mean, fit.rms_std, *fit.rms_percentiles])
    np.testing.assert_allclose(got, [1.75, 1.22, 1.97, 1.00, 1.80], atol=0.006)
    np.testing.assert_allclose(1e6 * np.array([old.rms_mean, old.rms_std]), [6.02, 14.79], atol=0.006)
    assert fit.verified == pytest.approx(0.986, abs=6e-4) and old.verified == 1.0 and fit.cost == fit.misfit
    assert fit.cost < old.cost / 50


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"n_max": 64}, "`n_max`"),  # before: numpy's IndexError (8 x 8 has no cell with 64 programmed after it)
    ({"n_max": 0}, "`n_max`"),   # before: IndexError
    ({"size": 2}, "`n_max`"),    # the default n_max 35 on 2 x 2: IndexError
    ({"v_set": -0.5, "v_reset": 0.4}, "`v_set`"),  # before: `models`
])
def test_disturbance_misfit_refuses_counts_it_cannot_compare(kwargs, name):
    from xbarsim.devices.dynamic_fit import tio2_disturbance_misfit

    args = {"alpha": 2.97, "v_set": 0.502, "v_reset": -0.411, "sigma_set": 0.04, "sigma_reset": 0.005, **kwargs}
    with pytest.raises(ConfigError, match=name):
        tio2_disturbance_misfit(**args, n_arrays=1)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"target": np.full((1, 2, 2), 9e-4)}, "`target`"),  # before: `g`, model.state's argument
    ({"initial": np.full((1, 2, 2), 5e-5)}, "`initial`"),
    ({"fractions": (1.0, np.nan, 0.5, 0.0)}, "`fractions`"),  # before: NaN conductances, no error
    ({"tolerance": -1.0}, "`tolerance`"),  # before: every cell spent max_pulses and 'did not verify'
    ({"max_pulses": 2.5}, "`max_pulses`"),  # before: TypeError from range()
])
def test_closed_form_programming_names_bad_inputs(kwargs, name):
    from xbarsim.devices import tio2_vteam
    from xbarsim.devices.dynamic_fit import program_arrays_closed_form

    args = {"target": np.full((1, 2, 2), 3e-4), "initial": np.full((1, 2, 2), 2e-4), **kwargs}
    with pytest.raises(ConfigError, match=name):
        program_arrays_closed_form(tio2_vteam(), args.pop("target"), args.pop("initial"), **args)
