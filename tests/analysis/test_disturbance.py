"""The switching/disturb law, disturbance curves, and the calibrated law against the measured data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import (
    DisturbanceCurve,
    PulseSchedule,
    SwitchingLaw,
    calibrate_switching_law,
    compare_disturbance,
    disturbance_curve,
    drolet_tio2_law,
    merge_curves,
    simulate_disturbance,
)
from xbarsim.devices import drolet_disturbance_stats

G_MIN, G_MAX = 100e-6, 500e-6


def law(**kw: float) -> SwitchingLaw:
    base = dict(v_set=0.8, v_reset=0.6, rate_set=4e-3, rate_reset=4e-3, v_scale=0.25, c2c_sigma=0.0)
    base.update(kw)
    return SwitchingLaw(**base)  # type: ignore[arg-type]


def test_below_threshold_nothing_moves(rng: np.random.Generator) -> None:
    g = rng.uniform(G_MIN, G_MAX, 100)
    v = rng.uniform(-0.6, 0.8, 100)
    out = law(c2c_sigma=0.3).apply(v, g, g_min=G_MIN, g_max=G_MAX, rng=rng)
    np.testing.assert_array_equal(out, g)


def test_polarity_magnitude_and_bounds(rng: np.random.Generator) -> None:
    lw = law()
    g = np.full(4, 300e-6)
    out = lw.apply(np.array([1.2, 1.5, -1.0, -1.3]), g, g_min=G_MIN, g_max=G_MAX, rng=rng)
    assert out[0] > 300e-6 and out[1] - 300e-6 > out[0] - 300e-6  # SET grows with overdrive
    assert out[2] < 300e-6 and out[3] < out[2]  # RESET
    lo, hi = lw.bounds(G_MIN, G_MAX)
    # exact law: W rate (exp(overdrive / v_scale) - 1) s(G)
    s_set = (hi - 300e-6) / (hi - lo)
    assert out[0] - 300e-6 == pytest.approx((G_MAX - G_MIN) * 4e-3 * np.expm1(0.4 / 0.25) * s_set, rel=1e-12)
    huge = lw.apply(np.array([5.0, -5.0]), np.full(2, 300e-6), g_min=G_MIN, g_max=G_MAX, rng=rng)
    assert huge[0] <= hi and huge[1] >= lo


def test_cycle_to_cycle_factor_has_unit_mean(rng: np.random.Generator) -> None:
    g = np.full(40_000, 300e-6)
    v = np.full(g.shape, 1.2)
    exact = law().apply(v, g, g_min=G_MIN, g_max=G_MAX, rng=rng) - g
    noisy = law(c2c_sigma=0.5).apply(v, g, g_min=G_MIN, g_max=G_MAX, rng=rng) - g
    assert noisy.mean() == pytest.approx(exact.mean(), rel=0.02)
    assert np.log(noisy / exact).std() == pytest.approx(0.5, rel=0.03)


def test_device_thresholds(rng: np.random.Generator) -> None:
    vs, vr = law(threshold_sigma=0.1).sample_thresholds((200, 200), rng)
    assert vs.mean() == pytest.approx(0.8, abs=0.003) and vs.std() == pytest.approx(0.1, rel=0.03)
    assert vr.mean() == pytest.approx(0.6, abs=0.003)
    same, _ = law().sample_thresholds((3, 3), rng)
    assert (same == 0.8).all()


@pytest.mark.parametrize("kw", [dict(v_set=-0.5), dict(rate_reset=0.0), dict(v_scale=0.0), dict(c2c_sigma=-1.0)])
def test_invalid_law_parameters(kw: dict[str, float]) -> None:
    with pytest.raises(xb.ConfigError):
        law(**kw)


@pytest.mark.parametrize("kw", [dict(v_set_start=-1.1), dict(v_step=0.0), dict(v_set_max=1.0), dict(v_reset_max=0.5)])
def test_negative_or_inverted_pulse_voltages_are_rejected(kw: dict[str, float]) -> None:
    with pytest.raises(xb.ConfigError):
        PulseSchedule(**kw)


def test_ispp_ramp() -> None:
    s = PulseSchedule()
    assert s.amplitude(1, 0) == 1.1 and s.amplitude(1, 10) == pytest.approx(1.3)
    assert s.amplitude(1, 1000) == 2.1 and s.amplitude(-1, 1000) == -2.4


def test_curve_pooling_is_exact(rng: np.random.Generator) -> None:
    a = rng.normal(-1e-6, 5e-6, (30, 10))
    b = rng.normal(-2e-6, 7e-6, (20, 10))
    a[25:, 6:] = np.nan
    both = np.concatenate([a, b])
    merged = merge_curves([disturbance_curve(a), disturbance_curve(b)])
    direct = disturbance_curve(both)
    np.testing.assert_allclose(merged.mean, np.nanmean(both, axis=0), rtol=1e-12)
    np.testing.assert_allclose(merged.std, np.nanstd(both, axis=0), rtol=1e-9)
    np.testing.assert_array_equal(merged.count, direct.count)


@pytest.mark.parametrize("make,match", [
    (lambda one: [np.zeros(3)], r"`curves\[0\]` must be a DisturbanceCurve; got array\(\[0.0, 0.0, 0.0\]\)"),
    (lambda one: [one, None], r"`curves\[1\]` must be a DisturbanceCurve; got None"),
    (lambda one: None, r"`curves` must be a list of DisturbanceCurve; got None"),
    (lambda one: one, r"`curves` must be a list of DisturbanceCurve; got DisturbanceCurve\("),
], ids=["arrays", "none-in-list", "none", "lone-curve"])
def test_merge_curves_refuses_what_is_not_a_list_of_curves(rng, make, match):
    """Before: a list of arrays or a None in the list raised AttributeError ('numpy.ndarray' object has
    no attribute 'n'), a lone curve TypeError; now a ConfigError naming the parameter and the value."""
    one = disturbance_curve(rng.normal(0.0, 1e-6, (4, 3)))
    with pytest.raises(xb.ConfigError, match=match):
        merge_curves(make(one))


def test_merge_curves_reads_a_generator_once(rng):
    """Before: a generator was used up by the first pass (the common length), so the sums were over
    nothing: every count 0 and every mean NaN, without an error."""
    a, b = (disturbance_curve(rng.normal(0.0, 1e-6, (n, 3))) for n in (4, 5))
    merged = merge_curves(c for c in (a, b))
    np.testing.assert_array_equal(merged.count, [9, 9, 9])
    np.testing.assert_allclose(merged.mean, merge_curves([a, b]).mean, rtol=0, atol=0)


@pytest.mark.parametrize("trajectory,match", [
    ([[1e-6, np.inf], [2e-6, 1e-6]], r"finite changes in siemens \(NaN where missing\); got inf at \[0, 1\]"),
    ([[1e-6, 2e-6], [-np.inf, np.nan]], r"got -inf at \[1, 0\]"),
    ("abc", r"`trajectory` must be a 2-D array of conductance changes in siemens"),
])
def test_disturbance_curve_refuses_infinite_or_non_numeric_changes(trajectory: object, match: str) -> None:
    """Before: an infinite change was counted as missing, like NaN (the first case gave count 1 and mean
    1e-6 at n = 2, without a word), and a string raised numpy's ValueError."""
    with pytest.raises(xb.ConfigError, match=match):
        disturbance_curve(np.asarray(trajectory) if not isinstance(trajectory, str) else trajectory)  # type: ignore[arg-type]


def test_comparison_with_itself_is_perfect() -> None:
    meas = drolet_disturbance_stats()
    k = 40
    cnt = meas.n_samples[:k]
    mean, std = meas.mean_dg[:k], meas.std_dg[:k]
    curve = DisturbanceCurve(n=meas.n_subsequent[:k], mean=mean, std=std, count=cnt, sum=mean * cnt,
                             sum_sq=(std**2 + mean**2) * cnt)
    cmp = compare_disturbance(curve)
    assert cmp.rms_mean < 1e-15 and cmp.rms_std < 1e-12
    assert cmp.corr_mean == pytest.approx(1.0) and cmp.n.tolist() == list(range(1, 36))
    assert "weighted rms" in cmp.table()


@pytest.mark.parametrize("kw,name", [
    (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"), (dict(seed=True), "seed"),
    (dict(shape=3), "shape"), (dict(shape=(2,)), "shape"), (dict(shape=(0, 2)), "shape"),
    (dict(shape=(2.0, 2)), "shape"), (dict(shape=(100_000, 100_000)), "shape"),
])
def test_simulate_disturbance_names_a_bad_seed_or_shape(kw: dict[str, object], name: str) -> None:
    """Before: seed=-1 raised numpy's ValueError 'expected non-negative integer', seed=1.5 its TypeError,
    shape=3 a TypeError ('int' object is not subscriptable) and shape=(0, 2) an error naming `target_g`; a shape of 1e10 cells reached numpy's allocation."""
    with pytest.raises(xb.ConfigError, match=rf"`{name}` (must be|of shape)"):
        simulate_disturbance(drolet_tio2_law(), n_arrays=1, **kw)  # type: ignore[arg-type]


def test_calibrated_law_reproduces_the_measured_shape() -> None:
    # Drolet et al.: mean drifts negative (about -11 uS by n ~ 30), spread grows (8 -> 21 uS)
    curve = simulate_disturbance(drolet_tio2_law(), n_arrays=8, seed=11)
    cmp = compare_disturbance(curve)
    m30, s1, s30 = cmp.at(30)["sim_mean"], cmp.at(1)["sim_std"], cmp.at(30)["sim_std"]
    assert -20e-6 < m30 < -4e-6
    assert s30 > 2 * s1 and 10e-6 < s30 < 35e-6
    assert np.corrcoef(cmp.n, cmp.sim_mean)[0, 1] < -0.8  # drifts steadily negative
    assert cmp.corr_mean > 0.7 and cmp.corr_std > 0.8
    assert cmp.rms_mean < 3e-6 and cmp.rms_std < 6e-6


def test_grid_calibration_picks_the_best_point() -> None:
    grid = {"v_reset": (0.6, 1.2)}  # 1.2 V: a V/2 half-select (<= 1.2 V) never disturbs
    cal = calibrate_switching_law(grid=grid, n_arrays=2, shape=(4, 4), n_max=10,
                                  start=replace(drolet_tio2_law(), threshold_sigma=0.0))
    assert len(cal.grid) == 2 and cal.params == ("v_reset",)
    assert cal.law.v_reset == 0.6
    assert cal.grid[1]["objective"] > cal.grid[0]["objective"]
    with pytest.raises(xb.ConfigError, match="grid"):
        calibrate_switching_law(grid={"speed": (1.0,)})
