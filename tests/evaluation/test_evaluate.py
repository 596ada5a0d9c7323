"""The evaluator: exact software reproduction on an ideal chip, LEA beating a single copy under
faults, committee machines, per-task accuracy, Drolet's robustness metric, resumable Monte Carlo."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.evaluation import (
    Hardware,
    MonteCarloResult,
    device_perturbation,
    evaluate,
    monte_carlo,
    robust_fraction,
    transfer,
)
from xbarsim.networks import Dataset, init_mlp, load_digits, load_half_moons, ternarize, train_moons, train_ternary

IDEAL = dict(fault_rate=0.0, programming_noise=False, read_noise=False, dac_bits=None, adc_bits=None)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits()


@pytest.fixture(scope="module")
def digits_net(digits):
    return train_ternary(digits, hidden=64, seed=0).network


@pytest.fixture(scope="module")
def moons() -> Dataset:
    return load_half_moons()


@pytest.fixture(scope="module")
def moons_net(moons):
    return train_moons(moons, seed=0).network


# ----------------------------------------------------------------------------- exactness
def test_ideal_chip_reproduces_the_software_accuracy_exactly(digits, digits_net):
    res = evaluate(digits_net, digits, Hardware(**IDEAL), seed=0)
    assert res.hardware_accuracy == res.software_accuracy
    np.testing.assert_array_equal(res.correct, res.software_correct)
    assert res.mapping_errors == pytest.approx((0.0, 0.0), abs=1e-9)
    assert res.software_accuracy > 0.9


@pytest.mark.parametrize("strategy,alpha", [("lea", 3), ("committee", 2), ("mao", 2)])
def test_ideal_chip_is_exact_for_every_strategy(digits, digits_net, strategy, alpha):
    res = evaluate(digits_net, digits, Hardware(**IDEAL, strategy=strategy, alpha=alpha), seed=1)
    np.testing.assert_array_equal(res.correct, res.software_correct)


@pytest.mark.parametrize("strategy,alpha", [("plain", 1), ("lea-rme-all", 3)])
def test_ideal_chip_is_exact_with_a_lower_ternary_step(digits, digits_net, strategy, alpha):
    hw = Hardware(**IDEAL, strategy=strategy, alpha=alpha, ternary_step=0.6, rme_levels="continuous")
    res = evaluate(digits_net, digits, hw, seed=1)
    np.testing.assert_array_equal(res.correct, res.software_correct)
    assert res.mapping_errors == pytest.approx((0.0, 0.0), abs=1e-9)


def test_ternary_step_is_validated_and_needs_the_ternary_encoding(moons, moons_net):
    from xbarsim.evaluation.hardware import layer_encodings

    for bad in (0.0, 1.01, float("nan"), True):
        with pytest.raises(ConfigError, match=r"`ternary_step` must be a fraction in \(0, 1\]"):
            Hardware(ternary_step=bad)
    with pytest.raises(ConfigError, match="`ternary_step` applies to the ternary encoding; got encoding 'differential'"):
        Hardware(ternary_step=0.5, encoding="differential")
    with pytest.raises(ConfigError, match="g_norm 'characterized'"):
        Hardware(ternary_step=0.5, g_norm="characterized")
    with pytest.raises(ConfigError, match="`ternary_step` \\(0.5\\) applies to the ternary encoding"):
        evaluate(moons_net, moons, Hardware(preset="tio2_passive", ternary_step=0.5, **IDEAL), seed=0)
    encs = layer_encodings(Hardware(ternary_step=0.8), [np.ones((2, 2))], [0.5])
    assert [e.step for e in encs] == [0.8]
    assert [e.step for e in layer_encodings(Hardware(), [np.ones((2, 2))], [0.5])] == [None]


def test_output_alpha_maps_more_copies_of_the_last_layer_only(digits, digits_net):
    """digits 64-64-10 ternary, alpha 2 and 5 copies of the output layer: 2 x 2 x 64 x 64 + 5 x 2 x 64 x 10
    = 16,384 + 6,400 devices, one 16 x 16 kernel block each of the 4 x 4 + 4 x 1 blocks per copy."""
    from xbarsim.evaluation.hardware import chip_kernels, layer_alphas, layer_encodings, layer_ensembles

    for strategy in ("lea", "lea-rme-all"):
        hw = Hardware(**IDEAL, strategy=strategy, alpha=2, output_alpha=5, kernel_shape=(16, 16),
                      rme_levels="continuous" if strategy == "lea-rme-all" else None)
        hwn = transfer(digits_net, hw, np.random.default_rng(0))
        assert [layer.alpha for layer in hwn.members[0].layers] == [2, 5]
        assert [layer.beta for layer in hwn.members[0].layers] == [2, 5]
        assert hwn.n_devices == 2 * 2 * 64 * 64 + 5 * 2 * 64 * 10
        assert chip_kernels(hw, list(digits_net.weights), layer_encodings(hw, digits_net.weights, digits_net.gammas)) \
            == 2 * 2 * (4 * 4) + 5 * 2 * (4 * 1)
        res = evaluate(digits_net, digits, hw, seed=1)
        np.testing.assert_array_equal(res.correct, res.software_correct)
        assert res.n_devices == hwn.n_devices
    assert layer_alphas(Hardware(strategy="lea", alpha=3), 2) == [3, 3]
    blind = layer_ensembles(Hardware(strategy="blind", alpha=3, beta=2, output_alpha=4), 2)
    assert [(c.alpha, c.effective_beta) for c in blind] == [(3, 2), (4, 2)]
    mao = layer_ensembles(Hardware(strategy="mao", alpha=3, output_alpha=4), 3)
    assert [(c.alpha, c.effective_beta, c.encoding) for c in mao] == [(3, 3, "mao"), (3, 3, "mao"), (4, 4, "mao")]


def test_blind_keeps_its_first_beta_output_copies_whatever_alpha_is():
    """Blind's default beta is 1 (its first copy); with output_alpha the output layer keeps min(beta,
    output_alpha) copies. Before, a beta equal to alpha (blind's default 1 at alpha 1, or beta = alpha)
    averaged every output copy, so alpha 1 kept 4 of 4 output copies where alpha 2 kept 1 of 4."""
    from xbarsim.evaluation.hardware import layer_ensembles

    def kept(**kw):
        return [(c.alpha, c.effective_beta) for c in layer_ensembles(Hardware(strategy="blind", **kw), 2)]

    assert kept(alpha=1, output_alpha=4) == [(1, 1), (4, 1)]
    assert kept(alpha=2, output_alpha=4) == [(2, 1), (4, 1)]
    assert kept(alpha=2, beta=2, output_alpha=4) == [(2, 2), (4, 2)]
    assert kept(alpha=3, beta=3, output_alpha=2) == [(3, 3), (2, 2)]


def test_output_alpha_is_validated():
    with pytest.raises(ConfigError, match=r"`output_alpha` must be an integer \[1, 256\] or None; got 0"):
        Hardware(strategy="lea", alpha=2, output_alpha=0)
    for strategy, alpha in (("plain", 1), ("committee", 2)):
        with pytest.raises(ConfigError, match=f"`output_alpha` \\(4\\) applies to .*got strategy '{strategy}'"):
            Hardware(strategy=strategy, alpha=alpha, output_alpha=4)
    with pytest.raises(ConfigError, match="`output_alpha` \\(4\\) needs `beta` unset"):
        Hardware(strategy="lea", alpha=3, beta=2, output_alpha=4)


def test_levels_are_refused_with_the_ternary_encoding(digits_net):
    from xbarsim.evaluation.hardware import layer_encodings

    # before: the ternary encodings were built without levels, which were ignored without a word
    with pytest.raises(ConfigError, match=r"`levels` \(4\) quantizes differential / reference targets"):
        Hardware(encoding="ternary", levels=4)
    with pytest.raises(ConfigError, match=r"`levels` \(4\) .* this ternary network is encoded 'ternary'"):
        layer_encodings(Hardware(levels=4), digits_net.weights, digits_net.gammas)
    encs = layer_encodings(Hardware(levels=4, encoding="differential"), digits_net.weights, digits_net.gammas)
    assert [e.levels for e in encs] == [4, 4]


@pytest.mark.parametrize("fields,match", [
    (dict(verify_tolerance=2e-6), r"`verify_tolerance` \(2e-06\) applies to programming 'write-verify'; `programming` "
                                  r"'single' programs each device with one write, no verify"),
    (dict(verify_tolerance=2e-6, programming="sequence"), r"`verify_tolerance` .* `programming` 'sequence' programs "
                                                          r"through the bias-scheme sequence"),
    (dict(max_writes=3), r"`max_writes` \(3\) applies to programming 'write-verify'; `programming` 'single'"),
    (dict(write_scheme="v/3", programming="write-verify"), r"`write_scheme` \('v/3'\) applies to programming "
                                                           r"'sequence' .*`programming` 'write-verify' does not use"),
    (dict(spare_kernels=0.5, n_kernels=40), r"`spare_kernels` \(0.5\) adds room to the automatic kernel count; "
                                            r"`n_kernels` = 40 is given"),
    (dict(spare_kernels=0.5, chip="lea"), r"`spare_kernels` \(0.5\) .* `chip` 'lea' has a fixed number of kernels"),
    (dict(committee_networks="distinct", strategy="lea", alpha=2), r"`committee_networks` \('distinct'\) applies "
                                                                   r"to strategy 'committee'; got strategy 'lea'"),
    (dict(rme_levels="continuous", strategy="mao", alpha=2), r"`rme_levels` \('continuous'\) sets the re-tuning "
                                                            r"targets of strategy 'lea-rme-all' and of 'lea' with rme; "
                                                            r"strategy 'mao' re-tunes on its two levels"),
])
def test_fields_that_would_do_nothing_are_refused_naming_both(fields, match):
    """Before: accepted and ignored (the single write took the default tolerance, the write-verify run
    no bias scheme, a given n_kernels no spare room, a LEA transfer one network, MAO its two levels)."""
    with pytest.raises(ConfigError, match=match):
        Hardware(**fields)
    with pytest.raises(ConfigError, match=r"c.toml: \[hardware\]: `"):
        Hardware.from_dict(fields, source="c.toml")


def test_fields_that_act_or_are_read_out_switches_are_accepted():
    """The counterparts that act, and no-op combinations kept on purpose: read-out fields that a paired
    re-read or a grid switches (wires and device law with the ideal backend, dac_x_max with per-vector
    scaling, ADC range and averaging with ideal converters), and settings the shipped configs and
    tests use (strict with random placement, read_noise_std without read noise, rme_levels with plain)."""
    for fields in (dict(verify_tolerance=2e-6, max_writes=3, programming="write-verify"),
                   dict(write_scheme="v/3", programming="sequence"), dict(spare_kernels=0.5),
                   dict(committee_networks="distinct", strategy="committee", alpha=2),
                   dict(max_writes=20, write_scheme="v/2", committee_networks="same", spare_kernels=0.0),
                   dict(backend="ideal", device="ohmic", segment_ohm=1.0), dict(dac_x_max=2.0),
                   dict(adc_bits=None, adc_range="full-scale", averaging="digital"),
                   dict(strict=False, placement="random"), dict(read_noise=False, read_noise_std=1e-6),
                   dict(rme_levels="continuous")):
        Hardware(**fields)


def test_stuck_on_share_needs_a_fault_rate():
    from xbarsim.evaluation import build_preset

    # without fault_rate the preset's rate and split were kept and the share ignored without a word
    with pytest.raises(ConfigError, match=r"`stuck_on_share` \(1.0\) splits the stuck devices of `fault_rate`"):
        Hardware(stuck_on_share=1.0)
    with pytest.raises(ConfigError, match="stuck_on_share"):
        Hardware.from_dict({"preset": "tio2_passive", "stuck_on_share": 0.25})
    faults = build_preset(Hardware(fault_rate=0.1, stuck_on_share=0.25)).faults
    assert (faults.stuck_on_rate, faults.stuck_off_rate) == pytest.approx((0.025, 0.075))


@pytest.mark.parametrize("bias", ["digital", "crossbar"])
def test_ideal_chip_is_exact_with_biases_and_real_weights(moons, moons_net, bias):
    hw = Hardware(preset="tio2_passive", bias=bias, **IDEAL)
    res = evaluate(moons_net, moons, hw, seed=0)
    np.testing.assert_array_equal(res.correct, res.software_correct)


def test_real_weights_on_a_two_level_preset_warn_with_the_share_rounded_to_zero():
    """The README's own-model config (rram_1t1r_nist, levels unset) on a real-valued network: the pairs
    of 133 / 233 uS devices hold -w_max, 0, +w_max only, so the ideal chip read 22 % where software read
    97 % (87 % of the weights became 0) and nothing said why. The warning counts exactly the weights the
    mapping zeroes; levels, a continuous preset and a ternary network lose nothing and stay silent."""
    import warnings

    from xbarsim.mapping import map_weights

    from xbarsim.evaluation import build_preset

    net = init_mlp([20, 8, 3], rng=3)
    w = net.weights
    hw = Hardware(**IDEAL)
    preset = build_preset(hw)
    zeroed = nonzero = 0
    for layer in w:
        mapped = map_weights(layer, g_min=preset.g_min, g_max=preset.g_max, device_levels=preset.levels)
        back = mapped.weights()
        assert set(np.round(np.unique(np.abs(back)) / np.abs(layer).max(), 9)) == {0.0, 1.0}  # ternary
        zeroed += int(np.count_nonzero((back == 0) & (layer != 0)))
        nonzero += int(np.count_nonzero(layer))
    assert 0 < zeroed < nonzero
    with pytest.warns(UserWarning, match=rf"preset 'rram_1t1r_nist' programs two conductance levels \(133 and 233 "
                                         rf"uS\).* layer\(s\) 0, 1 .*: {zeroed} of their {nonzero} non-zero weights"
                                         r".*Set `levels`"):
        transfer(net, hw, np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transfer(net, hw.replace(levels=16), np.random.default_rng(0))
        transfer(net, Hardware(**IDEAL, preset="tio2_passive"), np.random.default_rng(0))
        tern = ternarize(net)
        transfer(tern, hw.replace(encoding="differential"), np.random.default_rng(0))
    # a ternary network whose real biases go on the crossbar: the warning says the rounded rows are biases
    # (before: "the real-valued weights of layer(s) 0, 1", of a network whose weights are ternary)
    biased = dataclasses.replace(tern, biases=tuple(np.linspace(0.1, 0.3, b.size) for b in tern.biases))
    with pytest.warns(UserWarning, match=r"last row is the layer's real-valued bias, on the crossbar"):
        transfer(biased, hw.replace(encoding="differential", bias="crossbar"), np.random.default_rng(0))


def test_a_crossbar_bias_row_is_exact_with_fixed_dac_scaling_or_refused_where_the_dac_would_clip_it():
    """The bias row's input is the constant 1: fixed DAC scaling with dac_x_max 0.5 clipped it to 0.5
    and halved every bias on an ideal chip (scores 0.4 for 0.75 here), with every real input in range."""
    from xbarsim.networks import MLP

    net = MLP(weights=(np.array([[0.9, -0.3], [0.2, 0.5]]),), biases=(np.array([0.7, -0.4]),))
    x = np.array([[0.1, -0.2], [0.3, 0.05]])
    ideal = dict(preset="tio2_passive", bias="crossbar", dac_scaling="fixed", **IDEAL)
    hwn = transfer(net, Hardware(**ideal, dac_x_max=2.0), np.random.default_rng(0))
    np.testing.assert_allclose(hwn.scores(x), net.forward(x), rtol=1e-12, atol=1e-12)
    match = r"`dac_x_max` \(0.5\) is below 1 with `bias` 'crossbar' and `dac_scaling` 'fixed'"
    with pytest.raises(ConfigError, match=match):
        transfer(net, Hardware(**ideal, dac_x_max=0.5), np.random.default_rng(0))
    with pytest.raises(ConfigError, match=match):
        hwn.reread(dac_x_max=0.5)
    # digital biases are added after the read-out: nothing to clip
    digital = Hardware(**{**ideal, "bias": "digital"}, dac_x_max=0.5)
    np.testing.assert_allclose(transfer(net, digital, np.random.default_rng(0)).scores(x), net.forward(x),
                               rtol=1e-12, atol=1e-12)


def test_sparse_backend_with_ideal_wires_and_ohmic_cells_is_exact(moons, moons_net):
    hw = Hardware(preset="tio2_passive", backend="sparse", device="ohmic", **IDEAL)
    res = evaluate(moons_net, moons, hw, seed=0)
    np.testing.assert_array_equal(res.correct, res.software_correct)


def test_rereads_compare_readouts_on_the_same_transfer(moons, moons_net):
    hw = Hardware(preset="tio2_passive", fault_rate=0.02, dac_bits=None, adc_bits=None)
    res = evaluate(moons_net, moons, hw, seed=5, readouts={
        "circuit-ideal-wires": {"backend": "sparse", "device": "ohmic"},
        "circuit-sinh-wires": {"backend": "sparse", "device": "sinh", "segment_ohm": 2.0}})
    # ohmic cells and ideal wires through the solver: the same transfer, the same predictions
    assert res.readouts["circuit-ideal-wires"] == res.hardware_accuracy
    assert 0.0 <= res.readouts["circuit-sinh-wires"] <= 1.0
    net = transfer(moons_net, hw, np.random.default_rng(5))
    x = moons.x_test[:20]
    np.testing.assert_allclose(net.reread(backend="sparse", device="ohmic").scores(x), net.scores(x), rtol=1e-9)
    with pytest.raises(ConfigError, match="re-read"):
        net.reread(alpha=2)


def test_evaluate_needs_exactly_one_source_of_randomness(digits, digits_net):
    with pytest.raises(ConfigError, match="seed"):
        evaluate(digits_net, digits, Hardware(**IDEAL))
    with pytest.raises(ConfigError, match="not both"):
        evaluate(digits_net, digits, Hardware(**IDEAL), seed=0, rng=np.random.default_rng(0))


def test_same_seed_same_transfer(digits, digits_net):
    hw = Hardware(fault_rate=0.1, strategy="lea", alpha=2, strict=False)
    a = evaluate(digits_net, digits, hw, seed=7)
    b = evaluate(digits_net, digits, hw, seed=7)
    np.testing.assert_array_equal(a.correct, b.correct)
    assert a.mapping_errors == b.mapping_errors


# ----------------------------------------------------------------------------- faults
def test_lea_alpha_3_beats_alpha_1_with_faults_on_the_same_seeds(digits, digits_net):
    def mean_acc(alpha: int) -> float:
        hw = Hardware(fault_rate=0.1, strategy="lea", alpha=alpha, strict=False)
        return float(np.mean([evaluate(digits_net, digits, hw, seed=s).hardware_accuracy for s in range(3)]))

    one, three = mean_acc(1), mean_acc(3)
    assert three > one + 0.1, (one, three)


def test_mapping_error_falls_with_averaged_copies(digits, digits_net):
    errs = [evaluate(digits_net, digits, Hardware(fault_rate=0.0, strategy="lea", alpha=a), seed=0).mapping_error
            for a in (1, 4)]
    # write noise only: averaging 4 copies divides the error by about sqrt(4)
    assert errs[1] == pytest.approx(errs[0] / 2, rel=0.25)


def test_committee_averages_alpha_independent_networks(digits, digits_net):
    hw = Hardware(fault_rate=0.1, strategy="committee", alpha=3)
    hwnet = transfer(digits_net, hw, np.random.default_rng(0))
    assert len(hwnet.members) == 3
    x = digits.x_test[:50]
    single = [hwnet._member_scores(m, x) for m in hwnet.members]
    np.testing.assert_allclose(hwnet.scores(x), np.mean(single, axis=0))
    assert hwnet.n_devices == 3 * hwnet.members[0].n_devices
    p = transfer(digits_net, Hardware(fault_rate=0.1, strategy="committee", alpha=3,
                                      committee_output="probabilities"), np.random.default_rng(0)).predict_proba(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("committee_output", ["scores", "probabilities"])
def test_a_network_ending_in_its_own_sigmoid_or_softmax_is_not_squashed_twice(moons, moons_net, digits, digits_net,
                                                                              committee_output):
    # before: the hardware applied the output head again to the network's probabilities: sigmoid(p) > 0.5
    # for every p, so committee_output 'probabilities' predicted class 1 for every point of an ideal chip
    # (hardware accuracy 0.445 against software 0.965 on the half moons), and predict_proba was wrong
    from xbarsim.networks import ActivationLayer, Network, Softmax

    cases = [(Network(layers=(*Network.from_mlp(moons_net).layers, ActivationLayer(kind="sigmoid")), input_shape=(2,),
                      output="sigmoid"), moons, "tio2_passive"),
             (Network(layers=(*Network.from_mlp(digits_net).layers, Softmax()), input_shape=(64,)), digits,
              "rram_1t1r_nist")]
    for net, data, preset in cases:
        hw = Hardware(**IDEAL, preset=preset, strategy="committee", alpha=2, committee_output=committee_output)
        res = evaluate(net, data, hw, seed=0)
        np.testing.assert_array_equal(res.correct, res.software_correct)
        assert res.hardware_accuracy == res.software_accuracy > 0.9
        x = data.x_test[:20]
        p = transfer(net, hw, np.random.default_rng(0)).predict_proba(x)
        want = net.forward(x)
        if net.output == "sigmoid":
            want = np.hstack([1.0 - want, want])
        np.testing.assert_allclose(p, want, atol=1e-9)


def test_per_task_accuracy_on_a_multitask_dataset():
    rng = np.random.default_rng(0)
    tasks = []
    for k in range(2):
        x = rng.uniform(0, 1, (40, 4))
        y = (x[:, 0] > 0.5).astype(int) + k % 2 * (x[:, 1] > 0.5)
        y = np.clip(y, 0, 2)
        tasks.append(Dataset(name=f"t{k + 1}", x_train=x, y_train=y, x_val=x[:0], y_val=y[:0], x_test=x, y_test=y,
                             n_classes=3))
    whole = Dataset(name="two", x_train=np.vstack([t.x_train for t in tasks]),
                    y_train=np.concatenate([t.y_train for t in tasks]), x_val=tasks[0].x_val,
                    y_val=tasks[0].y_val, x_test=np.vstack([t.x_test for t in tasks]),
                    y_test=np.concatenate([t.y_test for t in tasks]), n_classes=3, tasks=tuple(tasks))
    net = ternarize(init_mlp((4, 6, 3), hidden_activation="tanh", rng=1))
    res = evaluate(net, whole, Hardware(**IDEAL), seed=0)
    assert [t.name for t in res.tasks] == ["t1", "t2"]
    for t, sl in zip(res.tasks, (slice(0, 40), slice(40, 80))):
        assert t.hardware == pytest.approx(res.correct[sl].mean())
        assert t.software == t.hardware
    half = evaluate(net, whole, Hardware(**IDEAL), seed=0, max_points=20)
    assert [t.n for t in half.tasks] == [10, 10]


def test_ngspice_is_refused_for_large_layers(digits, digits_net):
    with pytest.raises(ConfigError, match="ngspice"):
        evaluate(digits_net, digits, Hardware(backend="ngspice"), seed=0)


def test_ngspice_backend_agrees_with_the_sparse_solver_on_a_small_network(moons, moons_net):
    hw = Hardware(preset="tio2_passive", segment_ohm=1.0, bias="crossbar", dac_bits=None, adc_bits=None)
    net = transfer(moons_net, hw.replace(backend="sparse"), np.random.default_rng(0))
    sparse = net.scores(moons.x_test[:4])
    spice = type(net)(network=net.network, hardware=hw.replace(backend="ngspice"), members=net.members,
                      inference=__import__("xbarsim.evaluation", fromlist=["inference_config"]).inference_config(
                          hw.replace(backend="ngspice")), n_kernels=net.n_kernels)
    np.testing.assert_allclose(spice.scores(moons.x_test[:4]), sparse, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------------------- the 95 % metric
def test_robust_fraction_counts_a_constructed_example():
    n = 20
    correct = np.zeros((n, 5), dtype=bool)
    correct[:, 0] = True            # 20/20 -> counts
    correct[:19, 1] = True          # 19/20 = 95 % exactly -> counts
    correct[:18, 2] = True          # 18/20 = 90 % -> does not
    correct[1:, 3] = True           # 19/20 (another transfer wrong) -> counts
    assert robust_fraction(correct) == pytest.approx(3 / 5)
    assert robust_fraction(correct, 0.9) == pytest.approx(4 / 5)
    assert robust_fraction(correct, 1.0) == pytest.approx(1 / 5)
    res = MonteCarloResult(correct=correct, software_correct=np.ones(5, bool), mapping_errors=np.zeros((n, 1)))
    assert res.robust_fraction == pytest.approx(0.6)
    np.testing.assert_allclose(res.per_point, [1.0, 0.95, 0.9, 0.95, 0.0])
    counts, edges = res.histogram(10)
    assert counts.sum() == 5 and counts[-1] == 4 and counts[0] == 1
    with pytest.raises(ConfigError):
        robust_fraction(np.zeros((0, 3)))
    assert robust_fraction(correct.astype(int)) == pytest.approx(3 / 5)   # 0 / 1 integers are booleans
    for bad in (np.full((2, 3), 0.4), np.array([[1, 2], [1, 1]]), np.full((2, 2), np.nan), np.full((2, 2), "yes")):
        with pytest.raises(ConfigError, match="`correct` must hold booleans"):
            robust_fraction(bad)          # before: astype(bool) counted every non-zero value as correct



def test_robust_fraction_never_counts_a_point_no_transfer_classified():
    # before: ceil(t N - 1e-9) is 0 for a threshold below 1e-9 / N, so a point correct in none of the
    # transfers (0 of 5, below any positive threshold) counted as robust and the metric came out 1.0
    correct = np.zeros((5, 3), dtype=bool)
    correct[:, 0] = True
    correct[0, 1] = True              # 1 of 5
    for t in (1e-12, 1e-10, 0.01, 0.2):
        assert robust_fraction(correct, t) == pytest.approx(2 / 3)
        res = MonteCarloResult(correct=correct, software_correct=np.ones(3, bool), mapping_errors=np.zeros((5, 1)),
                               threshold=t)
        assert res.robust_fraction == pytest.approx(np.mean(correct.mean(axis=0) >= t))

def test_histogram_counts_equal_a_recount_of_the_per_point_records():
    # before: np.histogram's float edges (0.15000000000000002, 0.9500000000000001) put 3 of 20 and 19 of 20
    # correct transfers one bin low, so summary()["histogram_counts"] disagreed with robust_fraction
    from fractions import Fraction

    n = 20
    hits = np.random.default_rng(5).permutation(np.repeat(np.arange(n + 1), 3))    # every k / N, unsorted
    correct = np.arange(n)[:, None] < hits[None, :]
    res = MonteCarloResult(correct=correct, software_correct=np.ones(hits.size, bool), mapping_errors=np.zeros((n, 1)))
    np.testing.assert_array_equal(res.per_point, hits / n)
    for b in (20, 10, 7, 3, 1):
        counts, edges = res.histogram(b)
        exact = [Fraction(int(k), n) for k in hits]
        recount = [sum(1 for a in exact if Fraction(i, b) <= a < Fraction(i + 1, b) or (i == b - 1 and a == 1))
                   for i in range(b)]
        assert counts.tolist() == recount
        np.testing.assert_array_equal(edges, np.linspace(0.0, 1.0, b + 1))
    counts = res.summary()["histogram_counts"]
    assert counts == [3] * 19 + [6]                      # 19 and 20 of 20 in [0.95, 1]
    assert counts[-1] / hits.size == res.robust_fraction
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="`bins` must be a positive int"):
            res.histogram(bad)


# ----------------------------------------------------------------------------- Monte Carlo
def test_monte_carlo_transfers_are_independent_of_the_run_length(moons, moons_net):
    """Transfer k draws from SeedSequence(seed, spawn_key=(k,)) only: a shorter run is a prefix."""
    hw = Hardware(preset="tio2_passive", bias="crossbar")
    full = monte_carlo(moons_net, moons, hw, transfers=6, seed=3)
    first = monte_carlo(moons_net, moons, hw, transfers=3, seed=3)
    np.testing.assert_array_equal(first.correct, full.correct[:3])
    calls = []
    monte_carlo(moons_net, moons, hw, transfers=2, seed=3, progress=lambda *a: calls.append(a))
    assert calls == [("transfers", 1, 2), ("transfers", 2, 2)]


def test_monte_carlo_statistical_model_and_summary(moons, moons_net):
    pert = device_perturbation("tio2_passive", perturb_biases=True)
    res = monte_carlo(moons_net, moons, pert, transfers=40, seed=0)
    s = res.summary()
    assert s["transfers"] == 40 and s["points"] == 200
    assert 0.0 <= s["robust_fraction"] <= 1.0
    assert res.accuracy.shape == (40,) and res.per_point.shape == (200,)
    again = monte_carlo(moons_net, moons, pert, transfers=40, seed=0)
    np.testing.assert_array_equal(res.correct, again.correct)



@pytest.mark.parametrize("threshold", [95, 0.0, float("nan"), "0.95", True])
def test_monte_carlo_checks_its_threshold_before_the_first_transfer(moons, moons_net, threshold):
    # before: every transfer ran, then reading robust_fraction or summary() of the result raised (95, a
    # percentage) or float() turned "0.95" and True into thresholds
    calls = []
    with pytest.raises(ConfigError, match=r"`threshold` must be a fraction in \(0, 1\]"):
        monte_carlo(moons_net, moons, device_perturbation("tio2_passive"), transfers=3, seed=0, threshold=threshold,
                    progress=lambda *a: calls.append(a))
    assert calls == []
    with pytest.raises(ConfigError, match="`threshold` must be a fraction"):
        MonteCarloResult(correct=np.ones((2, 3), bool), software_correct=np.ones(3, bool),
                         mapping_errors=np.zeros((2, 1)), threshold=threshold)

@pytest.mark.parametrize("changes", [{}, {"strategy": "lea", "alpha": 2, "averaging": "digital", "strict": False},
                                     {"adc_bits": None, "dac_bits": None}])
@pytest.mark.parametrize("method", ["predict", "scores", "predict_proba", "predict_with_energy"])
def test_an_empty_batch_is_refused_naming_x(moons, moons_net, changes, method):
    # With quantizing ADCs the read-out raised IndexError (or a broadcast ValueError with digital
    # averaging); with ideal converters the energy per inference was 0 / 0 = NaN.
    hw = Hardware(preset="tio2_passive", kernel_shape=(8, 8), **changes)
    hn = transfer(moons_net, hw, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"`x` must hold at least one input; got shape \(0, 2\)"):
        getattr(hn, method)(np.zeros((0, 2)))


def test_an_all_zero_layer_is_refused_by_evaluate_before_any_work_naming_the_layer(moons, moons_net):
    # before: the whole inference ran, then "`w` must not be all zero" (an internal name) came out of the
    # mapping error; transfer and predict still map and read such a network
    import dataclasses

    from xbarsim.networks import MLP

    assert isinstance(moons_net, MLP)
    zero = dataclasses.replace(moons_net, weights=(moons_net.weights[0], np.zeros_like(moons_net.weights[1]),
                                                   *moons_net.weights[2:]))
    hw = Hardware(preset="tio2_passive", kernel_shape=(8, 8))
    with pytest.raises(ConfigError, match=r"layer 1 of `network` has all-zero weights"):
        evaluate(zero, moons, hw, seed=0)
    # before: monte_carlo mapped the first transfer, then raised the mapping error's "`w` must not be all zero"
    with pytest.raises(ConfigError, match=r"layer 1 of `network` has all-zero weights"):
        monte_carlo(zero, moons, hw, transfers=2, seed=0)
    pred = transfer(zero, hw, np.random.default_rng(0)).predict(moons.x_test)
    assert pred.shape == moons.y_test.shape
    # a crossbar bias row makes the mapped matrix non-zero: then the error is defined and evaluate runs
    assert zero.biases is not None and np.any(zero.biases[1])
    res = evaluate(zero, moons, dataclasses.replace(hw, bias="crossbar"), seed=0)
    assert np.isfinite(res.mapping_errors).all()


def test_labels_the_network_cannot_predict_are_refused_before_any_transfer(digits, digits_net):
    # classes numbered 1 .. 10 (a user's own data) against a network predicting 0 .. 9: label 10 was
    # counted wrong at every transfer without a word
    import dataclasses

    shifted = dataclasses.replace(digits, y_test=digits.y_test + 1, n_classes=11)
    for call in (lambda: evaluate(digits_net, shifted, Hardware(**IDEAL), seed=0),
                 lambda: monte_carlo(digits_net, shifted, Hardware(**IDEAL), transfers=1, seed=0)):
        with pytest.raises(ConfigError, match=r"label 10, but the network predicts 10 classes \(0 \.\. 9\)"):
            call()
    with pytest.raises(ConfigError, match="`readouts` must map names"):
        evaluate(digits_net, digits, Hardware(**IDEAL), seed=0, readouts=[1])   # before: TypeError from dict()


def test_a_monte_carlo_result_of_no_transfers_or_points_is_refused():
    # before: zero transfers gave NaN accuracies and a histogram that divided by zero
    for correct, soft in ((np.zeros((0, 3), bool), np.ones(3, bool)), (np.zeros((2, 0), bool), np.ones(0, bool)),
                          (np.zeros(3, bool), np.ones(3, bool))):
        with pytest.raises(ConfigError, match="`correct` must be a \\(transfers, points\\) array"):
            MonteCarloResult(correct=correct, software_correct=soft, mapping_errors=np.zeros((0, 1)))
    with pytest.raises(ConfigError, match="`software_correct` must have shape \\(3,\\)"):
        MonteCarloResult(correct=np.ones((2, 3), bool), software_correct=np.ones(4, bool),
                         mapping_errors=np.zeros((2, 1)))


# ----------------------------------------------------------------------------- LeakyRelu, Clip, LogSoftmax
def _log_softmax_net(mlp):
    from xbarsim.networks import LogSoftmax, Network

    return Network(layers=(*Network.from_mlp(mlp).layers, LogSoftmax()), input_shape=(mlp.n_inputs,))


def _softmax_by_hand(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_leaky_relu_clip_and_log_softmax_on_an_ideal_chip(digits, digits_net, tmp_path):
    """An exported network with LeakyRelu, Clip and LogSoftmax (refused at import before) on simulated
    hardware: on an ideal chip (ideal backend, no faults or noise, ideal converters) every point's
    hardware label equals its software (onnxruntime) label."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w0, w1 = digits_net.weights
    inits = [numpy_helper.from_array(np.asarray(w, np.float32), n) for w, n in ((w0, "w0"), (w1, "w1"))]
    inits += [numpy_helper.from_array(np.array(v, np.float32), n) for v, n in ((-0.05, "lo"), (2.0, "hi"))]
    nodes = [helper.make_node("MatMul", ["input", "w0"], ["z0"], name="fc0"),
             helper.make_node("LeakyRelu", ["z0"], ["a0"], name="leaky", alpha=0.05),
             helper.make_node("Clip", ["a0", "lo", "hi"], ["c0"], name="clip"),
             helper.make_node("MatMul", ["c0", "w1"], ["z1"], name="fc1"),
             helper.make_node("LogSoftmax", ["z1"], ["logp"], name="head")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("logp", TensorProto.FLOAT, ["N", 10])], inits)
    path = tmp_path / "leaky_clip_logsoftmax.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    from xbarsim.networks import Clip, load_onnx

    net = load_onnx(path)
    assert net.layers[1].kind == "leaky-relu" and isinstance(net.layers[2], Clip) and net.outputs_log_probabilities
    assert net.is_ternary
    x = digits.x_test
    hidden = np.maximum(x @ w0, 0.05 * (x @ w0))
    assert (hidden < -0.05).any() and (hidden > 2.0).any()  # both bounds clip on these points
    res = evaluate(net, digits, Hardware(**IDEAL, backend="ideal"), seed=0)
    assert res.software_runtime.startswith("onnxruntime")
    np.testing.assert_array_equal(res.correct, res.software_correct)
    assert res.hardware_accuracy == res.software_accuracy > 0.8
    assert max(res.mapping_errors) < 1e-9


@pytest.mark.parametrize("committee_output", ["scores", "probabilities"])
def test_a_network_ending_in_log_softmax_gives_exp_of_its_outputs_as_probabilities(digits, digits_net,
                                                                                   committee_output):
    """A LogSoftmax head outputs log-probabilities: on an ideal chip the hardware's probabilities are
    their exp (never the log values themselves), its labels their argmax."""
    net = _log_softmax_net(digits_net)
    hw = Hardware(**IDEAL, strategy="committee", alpha=2, committee_output=committee_output)
    hwnet = transfer(net, hw, np.random.default_rng(0))
    x = digits.x_test[:40]
    logp = net.forward(x)
    np.testing.assert_allclose(hwnet.predict_proba(x), np.exp(logp), atol=1e-9)
    np.testing.assert_array_equal(hwnet.predict(x), np.argmax(digits_net.forward(x), axis=1))
    res = evaluate(net, digits, hw, seed=0)
    np.testing.assert_array_equal(res.correct, res.software_correct)
    assert res.hardware_accuracy == res.software_accuracy > 0.9


def test_a_committee_of_log_softmax_networks_averages_their_probabilities(digits, digits_net):
    """committee_output 'probabilities' on a chip with faults (members differ): the committee's
    probabilities are the mean of exp(each member's log-probabilities), recomputed here from the
    members' hardware logits (the same transfer of the network without its LogSoftmax), not the
    mean of the log values, nor the softmax of the mean (committee_output 'scores')."""
    from xbarsim.networks import Network

    hw = Hardware(fault_rate=0.1, strategy="committee", alpha=3, committee_output="probabilities")
    net = transfer(_log_softmax_net(digits_net), hw, np.random.default_rng(0))
    logits = transfer(Network.from_mlp(digits_net), hw, np.random.default_rng(0))
    x = digits.x_test[:80]
    member_logits = [logits._member_scores(m, x) for m in logits.members]
    assert not np.allclose(member_logits[0], member_logits[1])  # the members differ
    want = np.mean([_softmax_by_hand(z) for z in member_logits], axis=0)
    np.testing.assert_allclose(net.predict_proba(x), want, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(net.predict(x), np.argmax(want, axis=1))
    geometric = _softmax_by_hand(np.mean(member_logits, axis=0))  # what averaging log-probabilities gives
    assert np.abs(want - geometric).max() > 1e-3
    scores = transfer(_log_softmax_net(digits_net), dataclasses.replace(hw, committee_output="scores"),
                      np.random.default_rng(0))
    np.testing.assert_allclose(scores.predict_proba(x), geometric, rtol=1e-9, atol=1e-12)


def test_a_softmax_over_each_pixels_channels_is_not_taken_for_class_probabilities():
    """A Softmax along the channels of (C, H, W), then Flatten, normalizes each pixel: its outputs sum
    to H * W per sample. They were returned as the class probabilities (rows summing to 36 here);
    now the head is applied as for logits, and the probabilities sum to 1."""
    from xbarsim.networks import Conv2d, Flatten, Network, Softmax

    rng = np.random.default_rng(11)
    net = Network(layers=(Conv2d(weight=rng.normal(size=(3, 1, 3, 3))), Softmax(axis=1), Flatten()),
                  input_shape=(1, 8, 8))
    x = rng.uniform(0, 1, (5, 64))
    out = net.forward(x)
    np.testing.assert_allclose(out.sum(axis=1), 36.0)
    p = transfer(net, Hardware(**IDEAL, preset="tio2_passive"), np.random.default_rng(0)).predict_proba(x)
    np.testing.assert_allclose(p, _softmax_by_hand(out), atol=1e-9)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def _table(text: str, header_start: str) -> dict[str, list[str]]:
    """Rows of the text table whose header starts with ``header_start``: first cell -> the other cells."""
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.strip().startswith(header_start))
    rows = {}
    for ln in lines[i + 2:]:
        if not ln.strip():
            break
        cells = [c for c in ln.strip().split("  ") if c.strip()]
        rows[cells[0].strip()] = [c.strip() for c in cells[1:]]
    return rows


def _pct(x: float) -> float:
    return float(f"{100 * x:.4g}")


def test_evaluation_and_monte_carlo_reports_recompute_from_the_raw_records(digits, digits_net):
    """`.report()` of one transfer and of a Monte Carlo run (a person wants a table, not a repr): every
    cell equals a recomputation from the per-point records and the per-layer figures, here."""
    hw = Hardware(kernel_shape=(25, 25), fault_rate=0.05, strict=False, energy=True, backend="ideal",
                  strategy="lea", alpha=2)
    res = evaluate(digits_net, digits, hw, seed=1, max_points=90, readouts={"adc4": {"adc_bits": 4}})
    acc = _table(res.report(), "points")
    hw_acc = float(np.mean(res.correct))
    sw_acc = float(np.mean(res.software_correct))
    assert acc["all points"][0] == "90"
    assert float(acc["all points"][1]) == _pct(hw_acc) and float(acc["all points"][2]) == _pct(sw_acc)
    assert float(acc["all points"][3]) == pytest.approx(100 * (hw_acc - sw_acc), abs=0.01)
    assert float(acc["read-out adc4"][1]) == _pct(res.readouts["adc4"])
    layers = _table(res.report(), "layer")
    for i, e in enumerate(res.energy):
        assert float(layers[str(i)][0]) == float(f"{res.mapping_errors[i]:.4g}")
        assert float(layers[str(i)][1]) == float(f"{1e12 * (e.cells + e.wires):.4g}")
    assert float(layers["all"][0]) == float(f"{np.mean(res.mapping_errors):.4g}")
    assert float(layers["all"][1]) == float(f"{1e12 * sum(e.cells + e.wires for e in res.energy):.4g}")

    mc = monte_carlo(digits_net, digits, hw, transfers=3, seed=2)
    text = mc.report()
    per = mc.correct.mean(axis=1)
    row = _table(text, "points")["all points"]
    assert [float(c) for c in row] == [_pct(per.mean()), _pct(per.std()), _pct(per.min()), _pct(per.max()),
                                       _pct(mc.software_correct.mean())]
    k = mc.correct.sum(axis=0)
    assert f"robust fraction (correct in at least 95 % of the transfers): {100 * np.mean(k >= 3):.1f} %" in text
    assert f"mapping error: {mc.mapping_errors.mean():.3g} %" in text


def test_the_report_of_a_transfer_at_the_preset_s_own_fault_rate(digits, digits_net):
    """Hardware's default fault_rate is None (the preset keeps its own rate): the report names the
    rate the chip was drawn at, the preset's (before: a TypeError formatting None, so `.report()` of
    a transfer on the default Hardware failed)."""
    from xbarsim.devices import PRESETS

    hw = Hardware(kernel_shape=(25, 25), strict=False, backend="ideal")
    assert hw.fault_rate is None
    text = evaluate(digits_net, digits, hw, seed=1, max_points=30).report()
    assert f"fault rate {PRESETS[hw.preset]().faults.rate:g} (the preset's)" in text, text
