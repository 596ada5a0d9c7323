"""The LEA paper's MAO (xbtorch encode_MAO, sum polling): two levels, copy-by-copy re-tuning, summed read-out."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim.errors import ConfigError

from mapping_helpers import exact_preset

TERNARY = mp.Encoding(scheme="ternary", gamma=1.0)
LO, HI = 133e-6, 233e-6
W = np.array([[1.0, 0.0], [-1.0, 1.0]])


def _layout_and_targets(alpha: int):
    mapped = mp.map_weights(W, g_min=LO, g_max=HI, encoding=TERNARY, device_levels=(LO, HI))
    layout = mp.tile_layer(mapped, (16, 16))
    target = np.broadcast_to(layout.channel_matrix(mapped.conductance), (alpha, 2, layout.n_channels)).copy()
    pos = [int(np.flatnonzero(layout.readout[:, j] == 1)[0]) for j in range(2)]
    neg = [int(np.flatnonzero(layout.readout[:, j] == -1)[0]) for j in range(2)]
    return layout, target, pos, neg


def test_mao_on_a_2x2_layer_with_one_stuck_device_matches_the_hand_computed_levels():
    """alpha = 2, g_norm 100 uS; G+ of copy 0 of weight (1, 1) stuck ON at 500 uS. By hand
    (G_k = D + sum G- - sum G+ + G_k for G+, G_k = sum G+ - sum G- + G_k - D for G-, rounded to
    {133, 233} uS, copies in order, healthy devices starting at 233 / 133 uS):
    w = +1: G+ (133, 233), G- (133, 133);  w = 0: G+ (133, 233), G- (233, 133);
    w = -1: G+ (133, 133), G- (233, 133);  w = +1 with G+_0 at 500: G+ (500, 133), G- (233, 233),
    so the sum carries 633 - 466 = 167 uS, i.e. 1.67 instead of 1."""
    layout, target, pos, neg = _layout_and_targets(2)
    value = target.copy()
    stuck = np.zeros(target.shape, dtype=bool)
    value[0, 1, pos[1]] = 500e-6
    stuck[0, 1, pos[1]] = True
    new = mp.mao_targets(target, value, stuck, layout, levels=(LO, HI))
    us = np.round(new * 1e6).astype(int)
    expected = {  # (row, col): (G+ per copy, G- per copy) in uS
        (0, 0): ((133, 233), (133, 133)),
        (0, 1): ((133, 233), (233, 133)),
        (1, 0): ((133, 133), (233, 133)),
        (1, 1): ((500, 133), (233, 233)),
    }
    for (i, j), (gp, gn) in expected.items():
        assert tuple(us[:, i, pos[j]]) == gp, (i, j)
        assert tuple(us[:, i, neg[j]]) == gn, (i, j)
    summed = (new[:, :, pos].sum(axis=0) - new[:, :, neg].sum(axis=0)) / layout.g_scale
    np.testing.assert_allclose(summed, [[1.0, 0.0], [-1.0, 1.67]], atol=1e-9)


@pytest.mark.parametrize("alpha", [1, 2, 3])
def test_mao_without_faults_sums_the_copies_currents_and_reads_the_weights_exactly(rng, alpha):
    chip = mp.Chip.sample(n_kernels=8, kernel_shape=(16, 16), preset=exact_preset(), rng=rng)
    layer = mp.map_layer(W, chip, rng, encoding=TERNARY, ensemble=mp.EnsembleConfig.mao(alpha))
    assert layer.config.divisor == 1
    copies = layer.copy_weights()
    # every device on one of the two levels; the copies differ but their sum is the weight
    np.testing.assert_allclose(np.sort(np.unique(np.round(layer.read_back * 1e6))), [133, 233])
    np.testing.assert_allclose(copies.sum(axis=0), W, atol=1e-12)
    np.testing.assert_allclose(layer.effective_weights(), W, atol=1e-12)
    assert layer.mapping_error() == pytest.approx(0.0, abs=1e-9)
    x = rng.uniform(-1.0, 1.0, (5, 2))
    for averaging in ("analog", "digital"):
        y = mp.run_layer(layer, x, mp.InferenceConfig(averaging=averaging))
        np.testing.assert_allclose(y, x @ W, rtol=1e-9, atol=1e-12)


def test_mao_mapping_error_rises_with_alpha_under_programming_noise():
    """Every device of every copy adds its write noise to the sum, so MAO's error grows with alpha
    (paper, 0 % faults: 27.4 % at alpha 1 -> 67.4 % at alpha 6), unlike LEA's average."""
    from xbarsim.devices import rram_1t1r_nist

    preset = rram_1t1r_nist(stuck_rate=0.0)
    w = np.random.default_rng(3).choice([-1.0, 0.0, 1.0], (20, 10))
    errs = {}
    for alpha in (1, 3, 6):
        e = []
        for seed in range(4):
            rng = np.random.default_rng(seed)
            chip = mp.Chip.sample(n_kernels=2 * alpha, kernel_shape=(32, 32), preset=preset, rng=rng)
            layer = mp.map_layer(w, chip, rng, encoding=TERNARY, ensemble=mp.EnsembleConfig.mao(alpha),
                                 programming=mp.WriteVerify(max_iterations=1))
            # independent recomputation of the summed weights from the read-back
            ro = layer.layout.readout
            summed = (layer.read_back @ ro).sum(axis=0) / layer.layout.g_scale
            np.testing.assert_allclose(layer.effective_weights(), summed, rtol=1e-12, atol=1e-12)
            e.append(100 * np.linalg.norm(summed - w) / np.linalg.norm(w))
        errs[alpha] = float(np.mean(e))
    assert errs[1] < errs[3] < errs[6], errs
    # 2 alpha independent device errors on a sum that stays at one weight: error ~ sqrt(alpha)
    # (paper: 67.4 / 27.4 = 2.46 for alpha 6 / 1), not ~ alpha (copies each carrying the weight)
    assert 2.0 < errs[6] / errs[1] < 3.0, errs


def test_mao_needs_every_copy_and_differential_pairs(rng):
    with pytest.raises(ConfigError, match="beta = alpha"):
        mp.EnsembleConfig(alpha=3, beta=2, encoding="mao", selection="first")
    with pytest.raises(ConfigError, match="selection 'first'"):
        mp.EnsembleConfig(alpha=3, encoding="mao", selection="deviation")
    chip = mp.Chip.sample(n_kernels=8, kernel_shape=(16, 16), preset=exact_preset(analog=True), rng=rng)
    with pytest.raises(ConfigError, match="differential pairs"):
        mp.map_layer(W, chip, rng, encoding=mp.Encoding(scheme="reference"), ensemble=mp.EnsembleConfig.mao(2))


def test_lea_rme_all_keeps_the_former_mao_averaging_every_copy():
    cfg = mp.EnsembleConfig.lea_rme_all(4)
    assert (cfg.encoding, cfg.effective_beta, cfg.selection, cfg.divisor) == ("rme", 4, "first", 4)


def test_mao_refuses_weights_its_two_levels_cannot_carry(rng):
    """Before: a real-valued layer on analog devices was mapped without a word, every weight rounded to
    -w_max, 0 or +w_max (here 0.3 -> 0 and 0.8 -> 1: the summed copies reach whole level steps only),
    and that ternarization was reported as MAO's mapping error. Now refused before anything is placed
    or programmed, naming the weight; ternary weights (any encoding) and layers the encoding already
    put on two device levels are accepted as before."""
    w = np.array([[1.0, 0.3], [-1.0, 0.8]])
    chip = mp.Chip.sample(n_kernels=8, kernel_shape=(16, 16), preset=exact_preset(analog=True), rng=rng)
    with pytest.raises(ConfigError, match=r"`encoding` 'mao' .*carries ternary weights only: each weight must be -1, "
                                          r"0 or \+1 steps .*; weight 0\.3 at \[0, 1\] encodes to 0\.3 steps, which "
                                          r"MAO would round to 0 without a word"):
        mp.map_layer(w, chip, rng, ensemble=mp.EnsembleConfig.mao(2))
    # the public re-tuning refuses the same targets
    mapped = mp.map_weights(w, g_min=LO, g_max=HI, encoding=mp.Encoding(scheme="differential"))
    layout = mp.tile_layer(mapped, (16, 16))
    target = np.broadcast_to(layout.channel_matrix(mapped.conductance), (2, 2, layout.n_channels)).copy()
    with pytest.raises(ConfigError, match=r"G\+ - G- at row 0, output 1 is 0\.3 steps"):
        mp.mao_targets(target, target, np.zeros(target.shape, dtype=bool), layout, levels=(LO, HI))
    # ternary weights in differential pairs on analog devices: exact, as with the ternary encoding
    layer = mp.map_layer(W, chip, rng, ensemble=mp.EnsembleConfig.mao(2))
    np.testing.assert_allclose(layer.effective_weights(), W, atol=1e-12)
    # real-valued weights on two-level devices: the encoding itself puts them on the levels (as for
    # any strategy), so MAO has nothing more to round
    two = mp.Chip.sample(n_kernels=8, kernel_shape=(16, 16), preset=exact_preset(), rng=rng)
    plain = mp.map_layer(w, two, np.random.default_rng(1), ensemble=mp.EnsembleConfig.plain())
    mao = mp.map_layer(w, two, np.random.default_rng(1), ensemble=mp.EnsembleConfig.mao(2))
    np.testing.assert_allclose(mao.effective_weights(), plain.effective_weights(), atol=1e-12)


def test_mao_targets_names_levels_that_are_not_a_pair_and_a_nan_read():
    """Before: three levels or one ended in an unpacking ValueError, None in a TypeError; a NaN read of
    a stuck device made the sums NaN, every later healthy device of that weight went to G_low (NaN is
    not above the midpoint) and the stuck one kept NaN as its target, without a word."""
    layout, target, pos, _ = _layout_and_targets(2)
    stuck = np.zeros(target.shape, dtype=bool)
    for levels in ((LO, 183e-6, HI), (LO,), None):
        with pytest.raises(ConfigError, match=r"`levels` must be .*\(low, high\)"):
            mp.mao_targets(target, target, stuck, layout, levels=levels)
    value = target.copy()
    value[0, 1, pos[1]] = np.nan
    stuck[0, 1, pos[1]] = True
    with pytest.raises(ConfigError, match=r"`value` must be .*got nan"):
        mp.mao_targets(target, value, stuck, layout, levels=(LO, HI))
    with pytest.raises(ConfigError, match=r"`target` must be .*got nan"):
        mp.mao_targets(value, target, stuck, layout, levels=(LO, HI))
