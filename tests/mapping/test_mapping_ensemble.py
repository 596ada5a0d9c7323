"""Layer ensemble averaging: exact without faults, better with alpha, lowest-deviation copies, RME, baselines."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim.devices import rram_1t1r_nist
from xbarsim.errors import ConfigError

from mapping_helpers import exact_preset, stuck_on_only, ternary

TERNARY = mp.Encoding(scheme="ternary")


@pytest.mark.parametrize("encoding", ["simple", "rme"])
@pytest.mark.parametrize("placement", ["random", "greedy"])
def test_without_faults_and_noise_lea_of_any_alpha_equals_plain_mapping(rng, encoding, placement):
    chip = mp.Chip.sample(n_kernels=8, kernel_shape=(16, 16), preset=exact_preset(), rng=rng)
    w = ternary(rng, (12, 5))
    x = rng.uniform(-1.0, 1.0, (7, 12))
    plain = mp.map_layer(w, chip, rng, encoding=TERNARY, ensemble=mp.EnsembleConfig.plain())
    np.testing.assert_array_equal(plain.effective_weights(), w)
    assert plain.mapping_error() == 0.0
    y_plain = mp.run_layer(plain, x)
    np.testing.assert_allclose(y_plain, x @ w, rtol=1e-12, atol=1e-12)
    for alpha in (1, 2, 3, 5):
        for beta in sorted({1, max(1, alpha // 2), alpha}):
            cfg = mp.EnsembleConfig.lea(alpha, beta, encoding=encoding, placement=placement)
            lea = mp.map_layer(w, chip, rng, encoding=TERNARY, ensemble=cfg)
            np.testing.assert_array_equal(lea.effective_weights(), plain.effective_weights())
            assert lea.mapping_error() == 0.0
            for averaging in ("analog", "digital"):
                y = mp.run_layer(lea, x, mp.InferenceConfig(averaging=averaging))
                np.testing.assert_allclose(y, y_plain, rtol=1e-12, atol=1e-12)


def _mean_error(cfg_for_alpha, alpha: int, seeds: range) -> float:
    preset = dataclasses.replace(rram_1t1r_nist(), faults=stuck_on_only(0.1))
    errors = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        chip = mp.Chip.sample(n_kernels=4, kernel_shape=(16, 32), preset=preset, rng=rng)
        w = ternary(np.random.default_rng(7), (8, 4))
        layer = mp.map_layer(w, chip, rng, encoding=TERNARY, ensemble=cfg_for_alpha(alpha))
        errors.append(layer.mapping_error())
    return float(np.mean(errors))


def test_with_faults_lea_error_falls_with_alpha_while_a_fault_blind_copy_does_not_improve():
    """10 % stuck-ON devices at 500 uS (the paper's fault model), write and read noise of the LEA chip.
    LEA keeps, per output, the copy of lowest read-back deviation; the blind control uses copy 0."""
    seeds = range(10)
    lea = [_mean_error(lambda a: mp.EnsembleConfig.lea(a, 1, placement="random"), a, seeds) for a in (1, 2, 4, 6)]
    blind = [_mean_error(lambda a: mp.EnsembleConfig.blind(a), a, seeds) for a in (1, 2, 4, 6)]
    assert all(b < a for a, b in zip(lea, lea[1:])), lea
    assert lea[-1] < 0.5 * lea[0], lea
    assert lea[0] == pytest.approx(blind[0])  # alpha = 1: the same mapping
    assert min(blind[1:]) > 0.8 * blind[0], blind
    greedy = [_mean_error(lambda a: mp.EnsembleConfig.lea(a, 1), a, seeds) for a in (1, 4)]
    assert greedy[1] <= greedy[0] and greedy[0] < 0.5 * blind[0]


def test_beta_of_alpha_keeps_the_copies_with_the_lowest_deviation():
    """Constructed: 3 copies of a 2x2 differential layer (blocks G+ | G-), beta = 2."""
    mw = mp.map_weights(np.array([[1.0, -1.0], [0.0, 1.0]]), g_min=133e-6, g_max=233e-6)
    layout = mp.tile_layer(mw, (8, 8))
    target = np.broadcast_to(layout.channel_matrix(mw.conductance), (3, 2, 4)).copy()
    read = target.copy()
    read[0, 1, 0] += 300e-6   # copy 0: output 0 (G+ column 0) off by 300 uS
    read[2, 0, 2] -= 50e-6    # copy 2: output 0 (G- column 2) off by 50 uS
    read[2, 1, 3] += 400e-6   # copy 2: output 1 (G- column 3) off by 400 uS
    read[1, 0, 1] += 10e-6    # copy 1: output 1 off by 10 uS
    dev = mp.copy_deviation(target, read, layout)
    np.testing.assert_allclose(dev * 1e6, [[300, 0], [0, 10], [50, 400]], atol=1e-9)
    kept = mp.select_copies(dev, 2)
    np.testing.assert_array_equal(kept, [[False, True], [True, True], [True, False]])
    np.testing.assert_array_equal(mp.select_copies(dev, 2, "first"), [[True, True], [True, True], [False, False]])
    np.testing.assert_array_equal(mp.select_copies(dev, 1), [[False, True], [True, False], [False, False]])


def test_map_layer_keeps_per_output_the_lowest_deviation_copies(rng):
    chip = mp.Chip.sample(n_kernels=6, kernel_shape=(12, 12), preset=rram_1t1r_nist(stuck_rate=0.1), rng=rng)
    layer = mp.map_layer(ternary(rng, (6, 4)), chip, rng, encoding=TERNARY,
                         ensemble=mp.EnsembleConfig.lea(5, 2, placement="random"))
    assert layer.kept.sum(axis=0).tolist() == [2] * 4
    for j in range(4):
        kept_dev = layer.deviation[layer.kept[:, j], j]
        other_dev = layer.deviation[~layer.kept[:, j], j]
        assert kept_dev.max() <= other_dev.min()
    np.testing.assert_allclose(layer.deviation, mp.copy_deviation(layer.target, layer.read_back, layer.layout),
                               rtol=0.5, atol=60e-6)  # final read-back: fresh read noise only


def _one_weight_layout(alpha: int):
    mw = mp.map_weights(np.array([[1.0]]), g_min=133e-6, g_max=233e-6, encoding=TERNARY)
    layout = mp.tile_layer(mw, (4, 4))
    target = np.broadcast_to(layout.channel_matrix(mw.conductance), (alpha, 1, 2)).copy()
    return mw, layout, target


def test_rme_cancels_a_stuck_on_device_with_the_range_of_its_partners():
    """The issue's example: W = +gamma (G+ = 233, G- = 133 uS); copy 0's G+ is stuck at 500 uS, 267 uS
    above the window. Three kept copies give five healthy partners with 100 uS of range each."""
    mw, layout, target = _one_weight_layout(3)
    value = target.copy()
    value[0, 0, 0] = 500e-6
    stuck = np.zeros(target.shape, bool)
    stuck[0, 0, 0] = True
    kept = np.ones((3, 1), bool)
    new, comp = mp.rme_targets(target, value, stuck, kept, layout, g_min=133e-6, g_max=233e-6)
    assert comp.stuck_error[0, 0] == pytest.approx(267e-6)
    assert abs(comp.residual[0, 0]) < 1e-12 and comp.fraction == pytest.approx(1.0)
    assert new[0, 0, 0] == target[0, 0, 0]                      # the stuck device keeps its target
    realised = np.where(stuck, value, new)
    w_hat = layout.weights(realised).mean(axis=0)
    assert w_hat[0, 0] == pytest.approx(1.0, abs=1e-9)
    assert (new >= 133e-6 - 1e-15).all() and (new <= 233e-6 + 1e-15).all()
    # on the two levels only: 267 uS -> -300 uS of partners, residual -33 uS
    new_l, comp_l = mp.rme_targets(target, value, stuck, kept, layout, g_min=133e-6, g_max=233e-6,
                                   levels=(133e-6, 233e-6))
    assert np.isin(np.round(new_l * 1e6, 9), [133.0, 233.0]).all()
    assert comp_l.residual[0, 0] == pytest.approx(-33e-6)
    assert comp_l.fraction == pytest.approx(1 - 33 / 267)


def test_rme_cannot_go_beyond_the_window_and_says_so():
    """W = +gamma with a stuck-OFF G+: every partner already sits at its window edge."""
    mw, layout, target = _one_weight_layout(2)
    value = target.copy()
    value[1, 0, 0] = 10e-6
    stuck = np.zeros(target.shape, bool)
    stuck[1, 0, 0] = True
    new, comp = mp.rme_targets(target, value, stuck, np.ones((2, 1), bool), layout, g_min=133e-6, g_max=233e-6)
    np.testing.assert_array_equal(new, target)
    assert comp.residual[0, 0] == pytest.approx(comp.stuck_error[0, 0]) and comp.fraction == pytest.approx(0.0)


def test_rme_lowers_the_mapping_error_of_the_kept_copies(rng):
    preset = dataclasses.replace(rram_1t1r_nist(), faults=stuck_on_only(0.08))
    errs = {"simple": [], "rme": []}
    fractions = []
    for seed in range(4):
        for enc in ("simple", "rme"):
            r = np.random.default_rng(seed)
            chip = mp.Chip.sample(n_kernels=4, kernel_shape=(16, 32), preset=preset, rng=r)
            layer = mp.map_layer(ternary(np.random.default_rng(3), (10, 4)), chip, r, encoding=TERNARY,
                                 ensemble=mp.EnsembleConfig.lea(4, 4, encoding=enc, placement="random",
                                                                 ))
            errs[enc].append(layer.mapping_error())
            if enc == "rme":
                assert layer.compensation is not None
                fractions.append(layer.compensation.fraction)
    assert np.mean(errs["rme"]) < 0.7 * np.mean(errs["simple"]), errs
    assert min(fractions) > 0.5


def test_mao_and_committee_use_the_same_devices_as_lea(rng):
    chip = mp.Chip.sample(n_kernels=8, kernel_shape=(16, 16), preset=rram_1t1r_nist(stuck_rate=0.05), rng=rng)
    weights = [ternary(rng, (6, 5)), ternary(rng, (5, 3))]
    alpha = 3
    per_net = sum(2 * w.shape[0] * w.shape[1] for w in weights)
    lea = mp.map_network(weights, chip, rng, encoding=TERNARY, ensemble=mp.EnsembleConfig.lea(alpha, 2))
    mao = mp.map_network(weights, chip, rng, encoding=TERNARY, ensemble=mp.EnsembleConfig.mao(alpha))
    committee = mp.map_committee(weights, chip, rng, members=alpha, encoding=TERNARY)
    assert lea.n_devices == mao.n_devices == sum(net.n_devices for net in committee) == alpha * per_net
    assert all(layer.beta == alpha and layer.kept.all() for layer in mao.layers)
    occ = np.zeros(chip.shape, int)
    for net in committee:
        assert all(layer.chip is committee[-1].chip for layer in net.layers)
        occ += net.occupancy()
    assert occ.max() == 1 and occ.sum() == alpha * per_net
    assert lea.layers[0].chip is lea.chip and len(lea.mapping_errors) == 2


def test_analog_and_digital_averaging_agree_with_ideal_converters_and_differ_with_a_coarse_adc(rng):
    chip = mp.Chip.sample(n_kernels=4, kernel_shape=(16, 16), preset=rram_1t1r_nist(stuck_rate=0.05), rng=rng)
    layer = mp.map_layer(ternary(rng, (10, 4)), chip, rng, encoding=TERNARY, ensemble=mp.EnsembleConfig.lea(3, 2))
    x = rng.uniform(0, 1, (20, 10))
    ya = mp.run_layer(layer, x, mp.InferenceConfig(averaging="analog"))
    yd = mp.run_layer(layer, x, mp.InferenceConfig(averaging="digital"))
    np.testing.assert_allclose(ya, yd, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ya, x @ layer.effective_weights(layer.programmed()), rtol=1e-12, atol=1e-12)
    coarse = mp.ADC(bits=3)
    ya3 = mp.run_layer(layer, x, mp.InferenceConfig(averaging="analog", adc=coarse))
    yd3 = mp.run_layer(layer, x, mp.InferenceConfig(averaging="digital", adc=coarse))
    assert not np.allclose(ya3, yd3)
    assert np.abs(ya3 - ya).max() < 0.5 * np.abs(ya).max()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: mp.EnsembleConfig(alpha=2, beta=3), r"`beta` must be at most `alpha` = 2.*What fits: beta in 1\.\.2"),
        (lambda: mp.EnsembleConfig.lea(4, 5), r"What fits: beta in 1\.\.4"),
        (lambda: mp.select_copies(np.zeros((2, 3)), 3), r"What fits: beta in 1\.\.2"),
        (lambda: mp.EnsembleConfig(alpha=0), "`alpha` must be an integer >= 1"),
        (lambda: mp.EnsembleConfig(encoding="fancy"), "`encoding` must be one of 'simple', 'rme'"),
        (lambda: mp.Encoding(scheme="ternary", gamma=-0.5), "`gamma` must be a positive weight magnitude; got -0.5"),
    ],
)
def test_invalid_ensemble_requests(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_rme_on_levels_needs_levels(rng):
    preset = dataclasses.replace(rram_1t1r_nist(stuck_rate=0.0), levels=None)
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(8, 8), preset=preset, rng=rng)
    with pytest.raises(ConfigError, match="rme_levels='continuous'"):
        mp.map_layer(np.ones((3, 2)), chip, rng,
                     ensemble=mp.EnsembleConfig(alpha=2, encoding="rme", rme_levels="levels"))


def _one_weight_layout_step(alpha: int, step: float):
    mw = mp.map_weights(np.array([[1.0]]), g_min=133e-6, g_max=233e-6,
                        encoding=mp.Encoding(scheme="ternary", step=step))
    layout = mp.tile_layer(mw, (4, 4))
    target = np.broadcast_to(layout.channel_matrix(mw.conductance), (alpha, 1, 2)).copy()
    return mw, layout, target


def test_a_lower_ternary_step_leaves_room_to_compensate_a_weight_that_reads_low():
    """W = +gamma, two copies. Copy 1's G+ is stuck at 143 uS. At step 1 (G+ = 233 uS) it is 90 uS
    low and no healthy partner can raise the weight (the test above). At step 0.5 (G+ = 183, G- =
    133 uS, 50 uS per gamma) it is 40 uS low and copy 0's G+ has 50 uS of room up: it goes to 223 uS
    and the weight is exact. Stuck at 10 uS (173 uS low) the room runs out: 123 uS remain."""
    _, layout, target = _one_weight_layout_step(2, 1.0)
    value = target.copy()
    value[1, 0, 0] = 143e-6
    stuck = np.zeros(target.shape, bool)
    stuck[1, 0, 0] = True
    kept = np.ones((2, 1), bool)
    _, comp = mp.rme_targets(target, value, stuck, kept, layout, g_min=133e-6, g_max=233e-6)
    assert comp.stuck_error[0, 0] == pytest.approx(-90e-6) and comp.residual[0, 0] == pytest.approx(-90e-6)

    mw, layout, target = _one_weight_layout_step(2, 0.5)
    np.testing.assert_allclose(target * 1e6, [[[183, 133]], [[183, 133]]], atol=1e-9)
    value = target.copy()
    value[1, 0, 0] = 143e-6
    new, comp = mp.rme_targets(target, value, stuck, kept, layout, g_min=133e-6, g_max=233e-6)
    assert comp.stuck_error[0, 0] == pytest.approx(-40e-6) and abs(comp.residual[0, 0]) < 1e-12
    np.testing.assert_allclose(new * 1e6, [[[223, 133]], [[183, 133]]], atol=1e-6)
    realised = np.where(stuck, value, new)
    assert layout.weights(realised).mean(axis=0)[0, 0] == pytest.approx(1.0, abs=1e-9)
    assert mw.g_scale == pytest.approx(50e-6)

    value[1, 0, 0] = 10e-6
    new, comp = mp.rme_targets(target, value, stuck, kept, layout, g_min=133e-6, g_max=233e-6)
    assert comp.stuck_error[0, 0] == pytest.approx(-173e-6) and comp.residual[0, 0] == pytest.approx(-123e-6)
    np.testing.assert_allclose(new * 1e6, [[[233, 133]], [[183, 133]]], atol=1e-6)


def test_a_lower_ternary_step_maps_and_reads_out_exactly_without_faults_and_noise(rng):
    chip = mp.Chip.sample(n_kernels=8, kernel_shape=(16, 16), preset=exact_preset(), rng=rng)
    w = ternary(rng, (12, 5))
    x = rng.uniform(-1.0, 1.0, (7, 12))
    enc = mp.Encoding(scheme="ternary", step=0.7)
    for cfg in (mp.EnsembleConfig.plain(), mp.EnsembleConfig.lea_rme_all(3, rme_levels="continuous")):
        layer = mp.map_layer(w, chip, rng, encoding=enc, ensemble=cfg)
        assert layer.layout.g_scale == pytest.approx(70e-6)
        np.testing.assert_allclose(layer.effective_weights(), w, atol=1e-12)
        np.testing.assert_allclose(mp.run_layer(layer, x), x @ w, rtol=1e-12, atol=1e-12)


def test_copy_deviation_names_a_read_back_of_another_shape_or_a_nan_read():
    """Before: a read-back of one copy for a target of three was broadcast without a word (every copy
    compared with copy 0's read: copies 1 and 2, never read, took copy 0's deviation), a stack of another channel count
    or a single channel matrix ended in numpy's broadcast / matmul ValueError, and a NaN read gave NaN
    deviations that select_copies then refused as its own `deviation`."""
    mw = mp.map_weights(np.array([[1.0, -1.0], [0.0, 1.0]]), g_min=133e-6, g_max=233e-6)
    layout = mp.tile_layer(mw, (8, 8))
    target = np.broadcast_to(layout.channel_matrix(mw.conductance), (3, 2, 4)).copy()
    with pytest.raises(ConfigError, match=r"`read` must have the shape of `target` \(3, 2, 4\); got shape \(1, 2, 4\)"):
        mp.copy_deviation(target, target[:1], layout)
    with pytest.raises(ConfigError, match=r"`target` must have shape \(alpha, 2, 4\).*got shape \(3, 2, 3\)"):
        mp.copy_deviation(target[:, :, :3], target[:, :, :3], layout)
    with pytest.raises(ConfigError, match=r"`target` must have shape \(alpha, 2, 4\).*got shape \(2, 4\)"):
        mp.copy_deviation(target[0], target[0], layout)
    read = target.copy()
    read[1, 0, 0] = np.nan
    with pytest.raises(ConfigError, match=r"`read` must be .*got nan"):
        mp.copy_deviation(target, read, layout)
    with pytest.raises(ConfigError, match="`layout` must be a LayerLayout"):
        mp.copy_deviation(target, target, mw)


def test_rme_targets_names_bad_stacks_a_nan_read_and_a_reversed_window():
    """Before: a single channel matrix ended in an unpacking ValueError, a NaN read of a stuck device
    gave a NaN stuck error and residual without a word, and on levels g_min > g_max clipped every
    re-chosen target to g_max (a 500 uS stuck G+ left 167 uS where the window in order leaves -33 uS)."""
    _, layout, target = _one_weight_layout(2)
    stuck = np.zeros(target.shape, bool)
    stuck[0, 0, 0] = True
    kept = np.ones((2, 1), bool)
    with pytest.raises(ConfigError, match=r"`target` must have shape \(alpha, 1, 2\).*got shape \(1, 2\)"):
        mp.rme_targets(target[0], target[0], stuck[0], kept[:1], layout, g_min=133e-6, g_max=233e-6)
    value = target.copy()
    value[0, 0, 0] = np.nan
    with pytest.raises(ConfigError, match=r"`value` must be .*got nan"):
        mp.rme_targets(target, value, stuck, kept, layout, g_min=133e-6, g_max=233e-6)
    value[0, 0, 0] = 500e-6
    with pytest.raises(ConfigError, match=r"`g_min` and `g_max` must .*0 <= g_min < g_max"):
        mp.rme_targets(target, value, stuck, kept, layout, g_min=233e-6, g_max=133e-6, levels=(133e-6, 233e-6))


def test_map_network_names_a_ragged_occupied_mask(rng):
    """Before: numpy's 'inhomogeneous shape' ValueError; map_layer (through place_layer) named it."""
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(4, 4), preset=exact_preset(), rng=rng)
    with pytest.raises(ConfigError, match=r"`occupied` must be a \(K, R, C\) array of bool"):
        mp.map_network([np.ones((2, 2))], chip, rng, occupied=[[True], [True, False]])
