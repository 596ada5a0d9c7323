"""The drolet-code transfer model: the +-400 uS frame, empirical disturbance in column-major order, exact scalar bias."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.devices import drolet_disturbance_samples, drolet_disturbance_stats
from xbarsim.errors import ConfigError
from xbarsim.evaluation import DroletCodePerturbation, drolet_fill_order

QUIET = dict(offset_mean=0.0, offset_std=0.0, a_prog=0.0, b_prog=0.0, failure_rate_lrs=0.0, failure_rate_hrs=0.0,
             disturbance=False)


def test_frame_maps_zero_to_minus_400_and_the_largest_magnitude_to_plus_400_uS():
    model = DroletCodePerturbation(**QUIET)
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    gp, gn = model.frame(w)
    # by hand: n = max(w, 0) with n[0] = max|w| = 2 -> [2, 0, 0.5, 0]: 0 -> -400 uS, 2 -> +400 uS, 400 uS per unit
    np.testing.assert_allclose(gp * 1e6, [[0.0, -400.0], [-200.0, -400.0]])
    np.testing.assert_allclose(gn * 1e6, [[-400.0, 400.0], [-400.0, -400.0]])


def test_without_noise_the_transfer_returns_the_weights_in_both_paths_and_keeps_a_scalar_bias():
    model = DroletCodePerturbation(**QUIET)
    rng = np.random.default_rng(0)
    mixed = rng.normal(size=(2, 8))
    same_sign = np.abs(rng.normal(size=(8,)))
    np.testing.assert_allclose(model.perturb_matrix(mixed, rng), mixed, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.perturb_matrix(same_sign, rng), same_sign, rtol=0, atol=1e-12)
    full = DroletCodePerturbation()
    w, b = full.perturb_network([mixed, rng.normal(size=(8, 1))], [rng.normal(size=8), np.array([0.3])], rng)
    assert b is not None and b[1].tolist() == [0.3]
    assert not np.allclose(b[0], 0) and w[0].shape == (2, 8)


def test_fill_order_is_column_major_over_the_out_in_matrix():
    # our (n_in, n_out) = (2, 8): W.T is (8, 2), visited out-index fastest -> row-major here, n from 16 down
    np.testing.assert_array_equal(drolet_fill_order((2, 8)), np.arange(16, 0, -1).reshape(2, 8))
    np.testing.assert_array_equal(drolet_fill_order((8,)), np.arange(8, 0, -1))
    with pytest.raises(ConfigError, match="8-row"):
        drolet_fill_order((3, 9))


def test_disturbance_draws_come_from_the_measured_samples_of_each_n_and_outliers_become_60_uS():
    stats = dict(zip(drolet_disturbance_stats().n_subsequent.tolist(), drolet_disturbance_stats().std_dg.tolist()))
    # one sample per n: n uS, except n = 3 which lies beyond 4 sigma
    samples = {n: np.array([n * 1e-6]) for n in range(1, 60)}
    samples[3] = np.array([10 * stats[3]])
    model = DroletCodePerturbation(**{**QUIET, "disturbance": True}, samples=samples)
    w = np.array([[1.0, -1.0, 0.5, 2.0]])  # (1, 4): n = 4, 3, 2, 1
    # G+ and G- get the same disturbance per device (one draw each from a one-value pool): it cancels ...
    np.testing.assert_allclose(model.perturb_matrix(w, np.random.default_rng(1)), w, atol=1e-12)
    # ... so check the per-device draws themselves
    d = model._disturb((1, 4), np.random.default_rng(1))
    np.testing.assert_allclose(d * 1e6, [[4.0, 60.0, 2.0, 0.0]])
    real = drolet_disturbance_samples()
    assert set(real) >= set(range(1, 17)) and real[1].size == 1259


def test_model_statistics_follow_the_authors_offset_and_failure_rates():
    model = DroletCodePerturbation(disturbance=False)
    rng = np.random.default_rng(2)
    draws = np.array([model.perturb_matrix(np.array([[1.0, -1.0, 0.0, 0.5]] * 2), rng) for _ in range(4000)])
    # weight 0 maps to -400 uS on both devices: offset and imprecision cancel on average
    assert abs(np.median(draws[:, :, 2])) < 0.01
    # about 1 % of devices fail, so about 2 % of weights move by more than a quarter of the range
    moved = np.mean(np.abs(draws[:, :, 2]) > 0.25)
    assert 0.01 < moved < 0.03, moved


def test_monte_carlo_runs_the_drolet_code_model_and_records_it():
    from xbarsim.evaluation import monte_carlo
    from xbarsim.networks import load_half_moons, train_moons

    data = load_half_moons()
    net = train_moons(data, seed=0).network
    res = monte_carlo(net, data, DroletCodePerturbation(), transfers=20, seed=3)
    assert res.model["model"] == "drolet-code"
    assert res.correct.shape == (20, 200)
    assert 0.0 <= res.robust_fraction <= 1.0


def test_bias_vectors_keep_disturbance_draws_beyond_4_sigma():
    # their sample_adj_effect_offsets replaces draws beyond 4 sigma by 60 uS for the weights only
    # (hardaware_linear.py l. 518-522, 534-537); the 1-D bias branch (l. 561-563) keeps every draw
    stats = dict(zip(drolet_disturbance_stats().n_subsequent.tolist(), drolet_disturbance_stats().std_dg.tolist()))
    samples = {n: np.array([n * 1e-6]) for n in range(1, 60)}
    samples[2] = np.array([10 * stats[2]])
    model = DroletCodePerturbation(**{**QUIET, "disturbance": True}, samples=samples)
    np.testing.assert_allclose(model._disturb((4,), np.random.default_rng(1)) * 1e6,
                               [4.0, 3.0, 10 * stats[2] * 1e6, 0.0])
    np.testing.assert_allclose(model._disturb((1, 4), np.random.default_rng(1)) * 1e6, [[4.0, 3.0, 60.0, 0.0]])
    # end to end on a same-sign bias (one column): range 0.3 over 400 uS
    b = np.array([0.4, 0.3, 0.2, 0.1])
    shift = np.array([4e-6, 3e-6, 10 * stats[2], 0.0]) * 0.3 / 400e-6
    np.testing.assert_allclose(model.perturb_matrix(b, np.random.default_rng(1)), b + shift, atol=1e-12)


def test_a_constant_matrix_is_transferred_with_the_zero_range_scale_and_a_scalar_bias_stays_exact():
    # sklearn's MinMaxScaler maps a zero data range with scale 1: every entry at 100 uS, 400 uS per
    # weight unit (their single-column path: w_forward's first branch, weight_sampler_sc); a -10 % offset
    # (their G -= o G / 100) puts the device at 110 uS, i.e. +0.025
    model = DroletCodePerturbation(**{**QUIET, "offset_mean": -10.0})
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(model.perturb_matrix(np.zeros(8), rng), np.full(8, 0.025), atol=1e-12)
    np.testing.assert_allclose(model.perturb_matrix(np.full((2, 8), -0.3), rng), np.full((2, 8), -0.275),
                               atol=1e-12)
    assert model.perturb_matrix(np.array([0.3]), rng).tolist() == [0.3]


def test_double_column_tuning_imprecision_is_drawn_at_the_conductance_before_the_offset():
    # the Update_TC branch's weight_sampler_dc (6f5115e, hardaware_linear.py l. 228-246) takes
    # sigma = (a G + b) / 100 G before adding the offset (their main branch adds it first): with a
    # deterministic -10 % offset and a 1 % imprecision each device ends at 0.9 G + 0.01 G z
    model = DroletCodePerturbation(**{**QUIET, "offset_mean": -10.0, "b_prog": 1.0})
    w = np.array([[1.0, -1.0]])  # frame: G+ = (+400, -400) uS, G- = (-400, +400) uS; 800 uS per weight unit
    rng = np.random.default_rng(4)
    rng.standard_normal((2, 2))  # the two offset draws (zero spread)
    zp, zn = rng.standard_normal((1, 2)), rng.standard_normal((1, 2))
    gp, gn = np.array([[400.0, -400.0]]), np.array([[-400.0, 400.0]])
    expected = (gp * (0.9 + 0.01 * zp) - gn * (0.9 + 0.01 * zn)) / 800
    np.testing.assert_allclose(model.perturb_matrix(w, np.random.default_rng(4)), expected, rtol=0, atol=1e-12)


def test_bad_settings_weights_and_generators_are_refused_with_their_names():
    w = np.array([[1.0, -1.0], [0.5, 0.2]])
    rng = np.random.default_rng(0)
    # before: a negative standard deviation raised numpy's "scale < 0" ValueError at the first draw, a reversed
    # HRS range drew from it without a word, `samples` and `rng` of the wrong type raised AttributeError
    for kw, name in (({"offset_std": -0.1}, "offset_std"), ({"failure_lrs_std": -1e-6}, "failure_lrs_std"),
                     ({"failure_hrs_low": 200e-6}, "failure_hrs_low"), ({"samples": 5}, "samples")):
        with pytest.raises(ConfigError, match=f"`{name}`"):
            DroletCodePerturbation(**kw)
    with pytest.raises(ConfigError, match="`rng`"):
        DroletCodePerturbation().perturb_matrix(w, 0)
    # before: a NaN or inf weight came back as a matrix of NaN in both paths
    for bad in (np.array([[1.0, np.nan], [0.5, 0.2]]), np.array([[1.0, -np.inf], [0.5, 0.2]]),
                np.array([[1.0, np.inf], [0.5, 0.2]])):
        with pytest.raises(ConfigError, match="`w`"):
            DroletCodePerturbation().perturb_matrix(bad, rng)
