"""Post-training ternarization by output reconstruction (the LEA paper's BRECQ step, Fig. 5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xbarsim.networks as nw
from xbarsim.errors import ConfigError


def _one_layer(w, b=None):
    return nw.MLP(weights=(np.asarray(w, float),), biases=None if b is None else (np.asarray(b, float),),
                  hidden_activation="tanh")


def _lstsq_scale_bias(a, codes, z):
    """Independent fit of z ~ gamma (a @ codes) + b_j by numpy's least squares."""
    u = a @ codes
    n, m = z.shape
    design = np.zeros((n * m, 1 + m))
    design[:, 0] = u.ravel()
    for j in range(m):
        design[j::m, 1 + j] = 1.0
    sol, *_ = np.linalg.lstsq(design, z.ravel(), rcond=None)
    return sol[0], sol[1:]


def test_an_exactly_ternary_layer_is_recovered_exactly():
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 2, size=(5, 4)).astype(float)
    codes[0] = [1, -1, 1, -1]  # no all-zero column
    net = _one_layer(0.37 * codes, b=[0.1, -0.2, 0.3, 0.0])
    x = rng.normal(size=(200, 5))
    q = nw.ternarize_reconstruct(net, x)
    np.testing.assert_allclose(q.weights[0], 0.37 * codes, atol=1e-12)
    np.testing.assert_allclose(q.biases[0], [0.1, -0.2, 0.3, 0.0], atol=1e-12)
    assert q.gammas[0] == pytest.approx(0.37, abs=1e-12)


def test_scale_and_bias_are_the_least_squares_fit_and_the_best_threshold_is_kept():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(6, 3))
    b = rng.normal(size=3)
    x = rng.normal(size=(300, 6))
    deltas = (0.2, 0.7, 1.2)
    q = nw.ternarize_reconstruct(_one_layer(w, b), x, deltas=deltas)
    z = x @ w + b
    errs = []
    for d in deltas:
        codes = np.sign(w) * (np.abs(w) > d * np.abs(w).mean())
        g, bb = _lstsq_scale_bias(x, codes, z)
        errs.append((float(np.sum((x @ (g * codes) + bb - z) ** 2)), codes, g, bb))
    best = min(errs, key=lambda e: e[0])
    np.testing.assert_allclose(q.weights[0], best[2] * best[1], atol=1e-10)
    np.testing.assert_allclose(q.biases[0], best[3], atol=1e-10)
    assert nw.reconstruction_error(x, q.weights[0] / q.gammas[0], q.gammas[0], q.biases[0], z) == \
        pytest.approx(best[0], rel=1e-10)


def test_adaptive_rounding_never_raises_the_reconstruction_error():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(8, 4))
    x = rng.normal(size=(400, 8)) + 0.3 * rng.normal(size=(400, 1))  # correlated inputs
    z = x @ w
    net = nw.MLP(weights=(w,), biases=None, hidden_activation="tanh")
    plain = nw.ternarize_reconstruct(net, x, sweeps=0)
    rounded = nw.ternarize_reconstruct(net, x, sweeps=5)
    e0 = nw.reconstruction_error(x, plain.weights[0] / plain.gammas[0], plain.gammas[0], None, z)
    e1 = nw.reconstruction_error(x, rounded.weights[0] / rounded.gammas[0], rounded.gammas[0], None, z)
    assert e1 <= e0 + 1e-9
    assert set(np.unique(rounded.weights[0] / rounded.gammas[0])) <= {-1.0, 0.0, 1.0}


def test_later_layers_are_fitted_on_the_ternarized_network_s_activations():
    rng = np.random.default_rng(3)
    net = nw.init_mlp((3, 5, 2), hidden_activation="tanh", bias=True, rng=4)
    x = rng.normal(size=(250, 3))
    q = nw.ternarize_reconstruct(net, x, deltas=(0.5,))
    # by hand: layer 2's target is the float network's logits, its input the ternary layer 1's output
    a_q = np.tanh(x @ q.weights[0] + q.biases[0])
    z = np.tanh(x @ net.weights[0] + net.biases[0]) @ net.weights[1] + net.biases[1]
    codes = np.sign(net.weights[1]) * (np.abs(net.weights[1]) > 0.5 * np.abs(net.weights[1]).mean())
    g, bb = _lstsq_scale_bias(a_q, codes, z)
    np.testing.assert_allclose(q.weights[1], g * codes, atol=1e-10)
    np.testing.assert_allclose(q.biases[1], bb, atol=1e-10)
    assert q.gammas is not None and len(q.gammas) == 2


def test_without_bias_refit_the_biases_are_kept():
    rng = np.random.default_rng(5)
    net = nw.init_mlp((4, 3), hidden_activation="tanh", bias=True, rng=1)
    net = dataclasses.replace(net, biases=(np.array([0.5, -0.5, 0.25]),))
    q = nw.ternarize_reconstruct(net, rng.normal(size=(50, 4)), refit_bias=False)
    np.testing.assert_array_equal(q.biases[0], [0.5, -0.5, 0.25])


@pytest.mark.parametrize("kwargs, match", [
    ({"x": np.zeros((10, 2))}, "x"),
    ({"x": np.zeros((1, 4))}, "x"),
    ({"deltas": ()}, "deltas"),
    ({"deltas": (-0.1,)}, "deltas"),
    ({"sweeps": -1}, "sweeps"),
    ({"deltas": 0.5}, "deltas"),              # before: TypeError "'float' object is not iterable"
    ({"deltas": (True,)}, "deltas"),          # before: taken as delta 1
    ({"deltas": ((0.5, 0.7),)}, "deltas"),
    ({"refit_bias": "no"}, "refit_bias"),     # before: truthy, the biases were re-fitted
    ({"refit_bias": None}, "refit_bias"),
])
def test_bad_arguments_are_refused_naming_the_parameter(kwargs, match):
    net = nw.init_mlp((4, 3), hidden_activation="tanh", bias=True, rng=1)
    args = {"x": np.random.default_rng(0).normal(size=(20, 4)), **kwargs}
    x = args.pop("x")
    with pytest.raises(ConfigError, match=match):
        nw.ternarize_reconstruct(net, x, **args)


def test_deltas_may_be_a_numpy_array():
    # before: numpy's "truth value of an array ... is ambiguous" ValueError from `not deltas`
    net = nw.init_mlp((4, 3), hidden_activation="tanh", bias=True, rng=1)
    x = np.random.default_rng(0).normal(size=(20, 4))
    a = nw.ternarize_reconstruct(net, x, deltas=np.array([0.3, 0.7]))
    b = nw.ternarize_reconstruct(net, x, deltas=(0.3, 0.7))
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    np.testing.assert_array_equal(a.biases[0], b.biases[0])
