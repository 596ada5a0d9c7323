"""The hardware-aware training perturbation has the statistics of the device model."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.devices import drolet_disturbance_stats, rram_1t1r_nist, tio2_passive
from xbarsim.errors import ConfigError
from xbarsim.evaluation import DisturbanceModel, device_perturbation
from xbarsim.evaluation.perturbation import programming_order_after
from xbarsim.networks import TrainConfig, init_mlp, load_half_moons, train


def test_programming_offset_and_tuning_imprecision_match_drolet():
    pert = device_perturbation("tio2_passive", disturbance=None, faults=False)
    rng = np.random.default_rng(0)
    w = np.ones((400, 500))  # every G+ at 500 uS, every G- at 100 uS
    s = pert.sample_conductances(w, rng)
    assert s.target_pos == pytest.approx(500e-6) and s.target_neg == pytest.approx(100e-6)
    for g, t in ((s.pos, 500e-6), (s.neg, 100e-6)):
        rel = g / t - 1.0
        sigma_t = (-6.24e-4 * t * 1e6 + 0.691) / 100  # Drolet: -6.24e-4 %/uS * G + 0.691 %
        assert rel.mean() == pytest.approx(-0.589e-2, abs=2e-5)
        assert rel.std() == pytest.approx(np.hypot(0.339e-2, sigma_t), rel=0.01)
    np.testing.assert_allclose(s.weights, (s.pos - s.neg) / s.g_scale)
    np.testing.assert_allclose(pert([w], np.random.default_rng(1))[0].mean(), 1.0 - 0.00589, atol=2e-3)


def test_stuck_devices_substitute_at_the_preset_rates():
    preset = tio2_passive()
    pert = device_perturbation(preset, disturbance=None, programming=False)
    s = pert.sample_conductances(np.ones((500, 400)), np.random.default_rng(2))
    stuck = np.concatenate([s.stuck_pos.ravel(), s.stuck_neg.ravel()])
    g = np.concatenate([s.pos.ravel(), s.neg.ravel()])
    assert stuck.mean() == pytest.approx(0.01, abs=0.0006)
    healthy = np.concatenate([s.target_pos.ravel(), s.target_neg.ravel()])
    np.testing.assert_allclose(g[~stuck], healthy[~stuck])
    on = g[stuck] > 150e-6  # stuck-ON ~ N(573, 99) uS, stuck-OFF in [10, 100] uS
    assert on.mean() == pytest.approx(0.5, abs=0.03)
    assert g[stuck][on].mean() == pytest.approx(573e-6, rel=0.02)
    assert g[stuck][on].std() == pytest.approx(99e-6, rel=0.1)
    off = g[stuck][~on]
    assert off.min() >= 10e-6 and off.max() <= 100e-6 and off.mean() == pytest.approx(55e-6, rel=0.05)
    lea = device_perturbation(rram_1t1r_nist(), fault_rate=0.2, disturbance=None, programming=False,
                              encoding="ternary")
    s2 = lea.sample_conductances(np.ones((300, 300)), np.random.default_rng(3))
    assert np.concatenate([s2.stuck_pos, s2.stuck_neg]).mean() == pytest.approx(0.2, abs=0.005)
    assert set(np.unique(np.round(s2.pos[s2.stuck_pos] * 1e6))) == {10.0, 500.0}
    assert s2.g_scale == pytest.approx(100e-6)  # ternary: g_norm = 233 - 133 uS per gamma


def test_half_select_disturbance_follows_the_measured_statistics():
    model = DisturbanceModel.measured()
    st = drolet_disturbance_stats()
    pert = device_perturbation("tio2_passive", disturbance=model, programming=False, faults=False,
                               array_shape=(8, 8))
    s = pert.sample_conductances(np.ones((800, 800)), np.random.default_rng(4))
    after = programming_order_after((800, 800), (8, 8))
    dg = s.pos - s.target_pos
    assert np.all(dg[after == 0] == 0.0)  # the last device of each array is not disturbed
    for n in (1, 10, 30, 50):
        row = int(np.flatnonzero(st.n_subsequent == n)[0])
        assert dg[after == n].mean() == pytest.approx(st.mean_dg[row], abs=4 * st.std_dg[row] / 100)
        assert dg[after == n].std() == pytest.approx(st.std_dg[row], rel=0.05)
    assert model.n_max == int(st.n_subsequent[st.n_samples > 0].max())


def test_programming_order_counts_devices_after_each_one_per_array():
    after = programming_order_after((3, 5), (2, 4))
    np.testing.assert_array_equal(after, [[7, 6, 5, 4, 1], [3, 2, 1, 0, 0], [3, 2, 1, 0, 0]])


def test_the_perturbation_trains_through_networks_train():
    data = load_half_moons()
    net = init_mlp((2, 8, 1), hidden_activation="sigmoid", output="sigmoid", rng=0)
    pert = device_perturbation("tio2_passive")
    out = train(net, data, TrainConfig(epochs=3, learning_rate=0.1), perturbation=pert)
    assert out.network.layer_sizes == (2, 8, 1)
    zero = pert([np.zeros((2, 3))], np.random.default_rng(0))[0]
    np.testing.assert_array_equal(zero, 0.0)


def test_ternary_encoding_refuses_weights_that_are_not_ternary():
    """Before: encoding="ternary" coded real weights by a threshold at half the layer's peak without a
    word (a float network quietly became a different ternary one). Ternary weights, zeros included,
    map as before: sign(w) onto G_ON / G_OFF."""
    pert = device_perturbation(rram_1t1r_nist(), encoding="ternary", disturbance=None, programming=False,
                               faults=False, read_noise=False)
    with pytest.raises(ConfigError, match=r"'ternary'.*0\.3"):
        pert.sample_conductances(np.array([[0.5, -0.3], [0.0, 0.5]]), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="nan"):
        pert.sample_conductances(np.array([[0.5, np.nan]]), np.random.default_rng(0))
    s = pert.sample_conductances(np.array([[0.25, -0.25], [0.0, 0.25]]), np.random.default_rng(0))
    np.testing.assert_array_equal(s.pos * 1e6, [[233.0, 133.0], [133.0, 233.0]])
    np.testing.assert_array_equal(s.neg * 1e6, [[133.0, 233.0], [133.0, 133.0]])


def test_a_ternary_networks_real_biases_take_differential_pairs():
    """A ternarized network keeps real biases; with perturb_biases (the Monte Carlo 'statistical' model)
    they go on differential pairs. Before: through the ternary encoding, which now refuses them, so every
    transfer of such a network failed (and before that they were thresholded to ternary values)."""
    pert = device_perturbation(rram_1t1r_nist(), encoding="ternary", disturbance=None, programming=False,
                               faults=False, read_noise=False, perturb_biases=True)
    w = [np.array([[0.25, -0.25], [0.0, 0.25]])]
    b = [np.array([0.3, -0.05])]
    pw, pb = pert.perturb_network(w, b, np.random.default_rng(0))
    np.testing.assert_allclose(pw[0], w[0], rtol=0, atol=1e-15)  # exact devices: exact read-back
    np.testing.assert_allclose(pb[0], b[0], rtol=0, atol=1e-15)  # not thresholded to [0.3, 0]
    noisy = device_perturbation(rram_1t1r_nist(), encoding="ternary", disturbance=None, fault_rate=0.0,
                                perturb_biases=True)
    pw, pb = noisy.perturb_network(w, b, np.random.default_rng(1))
    assert pb[0].shape == (2,) and np.all(np.isfinite(pb[0])) and not np.array_equal(pb[0], b[0])


def test_a_preset_objects_fault_rate_and_non_finite_weights_are_refused_with_their_names():
    # before: with a DevicePreset, fault_rate '0.1' raised Python's "can't multiply sequence" TypeError, [0.1]
    # float()'s TypeError, and True was taken as a rate of 1.0 (every device stuck); a preset name refused all three
    for bad in ("0.1", [0.1], True, float("nan"), 1.5):
        with pytest.raises(ConfigError, match="`fault_rate`"):
            device_perturbation(tio2_passive(), fault_rate=bad)
    assert device_perturbation(tio2_passive(), fault_rate=0.1).preset.faults.rate == pytest.approx(0.1)
    # before: a NaN or inf weight was refused as a conductance, "`target_g` ... got nan", for either
    pert = device_perturbation("tio2_passive")
    for bad in (np.nan, np.inf):
        with pytest.raises(ConfigError, match=f"`w`.*{bad}"):
            pert.perturb_matrix(np.array([[1.0, bad], [0.5, 0.2]]), np.random.default_rng(0))


def test_disturbance_table_rows_are_whole_and_one_per_n():
    """A fractional n was truncated (1.5 read as row 1) and a repeated n silently kept its last row;
    both are refused, as are arrays of different lengths. Whole floats and invalid duplicates are fine."""
    from xbarsim.evaluation import DisturbanceModel

    ok = DisturbanceModel.from_table([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], [0.01, 0.02, 0.03])
    np.testing.assert_array_equal(ok.mean, [0.1, 0.2, 0.3])
    with pytest.raises(ConfigError, match=r"`n` must hold whole numbers.*got 1\.5"):
        DisturbanceModel.from_table([1, 1.5, 3], [0.1, 0.2, 0.3], [0.01, 0.02, 0.03])
    with pytest.raises(ConfigError, match="`n` holds 2 in 2 usable rows"):
        DisturbanceModel.from_table([1, 2, 2], [0.1, 0.2, 0.3], [0.01, 0.02, 0.03])
    # a duplicate that is not usable (invalid) is not a conflict
    kept = DisturbanceModel.from_table([1, 2, 2], [0.1, 0.2, 0.3], [0.01, 0.02, 0.03], valid=[True, True, False])
    np.testing.assert_array_equal(kept.mean, [0.1, 0.2])
    with pytest.raises(ConfigError, match="one length"):
        DisturbanceModel.from_table([1, 2], [0.1, 0.2, 0.3], [0.01, 0.02, 0.03])
    with pytest.raises(ConfigError, match=r"at most 100000000"):
        DisturbanceModel.from_table([1e12], [0.1], [0.01])
