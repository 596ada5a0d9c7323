"""MLP: forward pass and hardware hook, gradients, dict / PyTorch round trips, ternary quantization."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xbartest import central_differences

import xbarsim.networks as nw
from xbarsim.errors import ConfigError
from xbarsim.networks.mlp import backprop


def _manual_forward(net: nw.MLP, x: np.ndarray) -> np.ndarray:
    act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
           "identity": lambda z: z,
           # ReLU, then multiples of 1/128 clamped at 127/128, written out independently
           "wage-relu": lambda z: np.minimum(np.floor(np.maximum(z, 0) * 128 + 0.5), 127) / 128}[net.hidden_activation]
    a = x
    for i, w in enumerate(net.weights):
        z = a @ w + (net.biases[i] if net.biases is not None else 0.0)
        a = z if i == net.n_layers - 1 else act(z)
    return a


@pytest.mark.parametrize("activation", nw.ACTIVATIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_matches_the_formula(activation: str, bias: bool, rng: np.random.Generator) -> None:
    net = nw.init_mlp((5, 7, 4, 3), hidden_activation=activation, bias=bias, rng=rng)  # type: ignore[arg-type]
    if bias:
        net = net.with_weights(net.weights, biases=[rng.normal(size=b.shape) for b in net.biases or ()])
    x = rng.uniform(size=(6, 5))
    np.testing.assert_allclose(net.forward(x), _manual_forward(net, x), rtol=1e-12, atol=1e-12)
    assert net.layer_sizes == (5, 7, 4, 3)
    np.testing.assert_array_equal(net.predict(x), np.argmax(net.forward(x), axis=1))
    np.testing.assert_allclose(net.predict_proba(x).sum(axis=1), 1.0)


def test_layer_fn_hook_replaces_each_product(rng: np.random.Generator) -> None:
    net = nw.init_mlp((4, 6, 3), rng=rng)
    x = rng.uniform(size=(5, 4))
    calls: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []

    def exact(index: int, a: np.ndarray, w: np.ndarray) -> np.ndarray:
        calls.append((index, a.shape, w.shape))
        return a @ w

    # An ideal "hardware" reproduces the software output exactly.
    np.testing.assert_array_equal(net.forward(x, layer_fn=exact), net.forward(x))
    assert calls == [(0, (5, 4), (4, 6)), (1, (5, 6), (6, 3))]

    # A hook that doubles layer 1's products equals doubling that layer's weights.
    doubled = [net.weights[0], 2 * net.weights[1]]
    np.testing.assert_allclose(
        net.forward(x, layer_fn=lambda i, a, w: (2.0 if i == 1 else 1.0) * (a @ w)),
        net.forward(x, weights=doubled),
        rtol=1e-12,
    )
    # The hook sees replacement weights when both are given.
    seen = []
    net.forward(x, weights=doubled, layer_fn=lambda i, a, w: seen.append(w) or a @ w)
    np.testing.assert_array_equal(seen[1], doubled[1])
    with pytest.raises(ConfigError, match="layer_fn"):
        net.forward(x, layer_fn=lambda i, a, w: np.zeros((1, 1)))
    with pytest.raises(ConfigError, match=r"weights\[1\]"):
        net.forward(x, weights=[net.weights[0], np.zeros((2, 2))])
    assert net.accuracy(x, net.predict(x), layer_fn=exact) == 1.0


@pytest.mark.parametrize(
    ("sizes", "activation", "output", "bias"),
    [
        ((3, 5, 4), "relu", "softmax", True),
        ((3, 5, 4, 2), "tanh", "softmax", False),
        ((2, 6, 1), "sigmoid", "sigmoid", True),
        ((3, 4, 1), "identity", "sigmoid", False),
    ],
)
def test_backprop_matches_finite_differences(sizes, activation, output, bias, rng: np.random.Generator) -> None:
    net = nw.init_mlp(sizes, hidden_activation=activation, output=output, bias=bias, rng=rng)
    if bias:
        net = net.with_weights(net.weights, biases=[0.3 * rng.normal(size=b.shape) for b in net.biases or ()])
    x = rng.uniform(-1, 1, size=(7, sizes[0]))
    # Keep ReLU pre-activations away from the kink so central differences are valid.
    y = rng.integers(0, net.n_classes, size=7)
    loss, acts, deltas = backprop(net, x, y, net.weights, net.biases)
    assert np.isclose(loss, net.loss(x, y))
    grads = [a.T @ d / x.shape[0] for a, d in zip(acts, deltas)]
    h = 1e-6
    for layer, g in enumerate(grads):
        for idx in [(0, 0), tuple(s - 1 for s in g.shape)]:
            w_plus = [w.copy() for w in net.weights]
            w_minus = [w.copy() for w in net.weights]
            w_plus[layer][idx] += h
            w_minus[layer][idx] -= h
            numeric = (net.loss(x, y, weights=w_plus) - net.loss(x, y, weights=w_minus)) / (2 * h)
            assert np.isclose(g[idx], numeric, rtol=1e-5, atol=1e-8), (layer, idx)
    if bias:
        for layer, d in enumerate(deltas):
            b_plus = [b.copy() for b in net.biases or ()]
            b_minus = [b.copy() for b in net.biases or ()]
            b_plus[layer][0] += h
            b_minus[layer][0] -= h
            numeric = (net.with_weights(net.weights, b_plus).loss(x, y)
                       - net.with_weights(net.weights, b_minus).loss(x, y)) / (2 * h)
            assert np.isclose(d.mean(axis=0)[0], numeric, rtol=1e-5, atol=1e-8)


def test_sigmoid_head_predicts_positive_scores(rng: np.random.Generator) -> None:
    net = nw.init_mlp((2, 8, 1), hidden_activation="sigmoid", output="sigmoid", rng=rng)
    x = rng.uniform(size=(50, 2))
    s = net.forward(x)[:, 0]
    np.testing.assert_array_equal(net.predict(x), (s > 0).astype(int))
    np.testing.assert_allclose(net.predict_proba(x)[:, 1], 1 / (1 + np.exp(-s)))
    assert net.n_classes == 2


def _assert_same_net(a: nw.MLP, b: nw.MLP) -> None:
    assert a.layer_sizes == b.layer_sizes
    assert (a.hidden_activation, a.output, a.gammas) == (b.hidden_activation, b.output, b.gammas)
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_array_equal(u, v)
    assert (a.biases is None) == (b.biases is None)
    for u, v in zip(a.biases or (), b.biases or ()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("ternary", [True, False])
def test_dict_round_trip(bias: bool, ternary: bool, rng: np.random.Generator) -> None:
    net = nw.init_mlp((6, 5, 3), hidden_activation="tanh", bias=bias, rng=rng)
    if ternary:
        net = nw.ternarize(net)
    d = net.to_dict()
    assert all(isinstance(v, np.ndarray) for v in d.values())
    _assert_same_net(nw.MLP.from_dict(d), net)
    # Through numpy's own container format, without pickle.
    buf = io.BytesIO()
    np.savez(buf, **d)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        _assert_same_net(nw.MLP.from_dict(npz), net)
    with pytest.raises(ConfigError, match="unknown key 'extra'"):
        nw.MLP.from_dict({**d, "extra": np.zeros(1)})


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_torch_state_dict_round_trip(sizes: list[int], bias: bool, seed: int) -> None:
    sizes[-1] = max(sizes[-1], 2)
    net = nw.init_mlp(sizes, bias=bias, rng=seed)
    state = net.to_torch_state_dict(prefix="fc")
    for i, w in enumerate(net.weights):
        assert state[f"fc.{i}.weight"].shape == (w.shape[1], w.shape[0])  # torch: (out, in)
    back = nw.MLP.from_torch_state_dict(state, hidden_activation="relu", output="softmax")
    _assert_same_net(back, net)


def test_torch_state_dict_import_transposes_and_ignores_buffers(rng: np.random.Generator) -> None:
    # The layout of LEA's NetMultiTask: fc1 (12, 4), fc2 (6, 12), fc3 (3, 6), plus EWC buffers.
    state = {
        "fc1.weight": rng.normal(size=(12, 4)), "fc1.bias": rng.normal(size=12),
        "fc2.weight": rng.normal(size=(6, 12)), "fc2.bias": rng.normal(size=6),
        "fc3.weight": rng.normal(size=(3, 6)), "fc3.bias": rng.normal(size=3),
        "fc1__weight_mean": rng.normal(size=(12, 4)), "fc1__weight_fisher": rng.normal(size=(12, 4)),
    }
    net = nw.MLP.from_torch_state_dict(state, hidden_activation="tanh")
    assert net.layer_sizes == (4, 12, 6, 3)
    x = rng.uniform(size=(5, 4))
    h = np.tanh(x @ state["fc1.weight"].T + state["fc1.bias"])
    h = np.tanh(h @ state["fc2.weight"].T + state["fc2.bias"])
    np.testing.assert_allclose(net.forward(x), h @ state["fc3.weight"].T + state["fc3.bias"], rtol=1e-12)
    with pytest.raises(ConfigError, match="biases for some layers"):
        nw.MLP.from_torch_state_dict({k: v for k, v in state.items() if k != "fc2.bias"})


def test_ternarize_matrix_follows_the_twn_rule() -> None:
    w = np.array([[0.9, -0.05, 0.3], [-0.6, 0.1, 0.0]])
    codes, gamma = nw.ternarize_matrix(w, delta=0.7)
    threshold = 0.7 * np.abs(w).mean()  # 0.7 * 0.325 = 0.2275
    assert codes.dtype == np.int8
    assert codes.tolist() == [[1, 0, 1], [-1, 0, 0]]
    assert gamma == pytest.approx((0.9 + 0.3 + 0.6) / 3)
    assert threshold == pytest.approx(0.2275)
    zero_codes, zero_gamma = nw.ternarize_matrix(np.zeros((2, 2)))
    assert zero_gamma == 0.0 and not zero_codes.any()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), delta=st.floats(0.0, 1.5), bias=st.booleans())
def test_ternary_weights_take_only_three_values(seed: int, delta: float, bias: bool) -> None:
    net = nw.init_mlp((7, 9, 4), bias=bias, rng=seed)
    tern = nw.ternarize(net, delta=delta)
    assert tern.is_ternary and tern.gammas is not None and len(tern.gammas) == 2
    codes = tern.ternary_codes()
    for w, g, c, w0 in zip(tern.weights, tern.gammas, codes, net.weights):
        assert set(np.unique(w)).issubset({-g, 0.0, g})
        np.testing.assert_array_equal(w, g * c)
        expected_codes, expected_gamma = nw.ternarize_matrix(w0, delta=delta)
        assert g == expected_gamma
        np.testing.assert_array_equal(c, expected_codes)
    assert tern.biases is None if not bias else all(np.array_equal(a, b) for a, b in zip(tern.biases, net.biases))
    # Ternarizing twice changes nothing but the rounding of the mean (gamma is a fixed point of the rule).
    again = nw.ternarize(tern, delta=delta)
    for c, c2 in zip(tern.ternary_codes(), again.ternary_codes()):
        np.testing.assert_array_equal(c, c2)
    np.testing.assert_allclose(again.gammas, tern.gammas, rtol=1e-14)


def test_ternary_invariant_is_enforced(rng: np.random.Generator) -> None:
    net = nw.ternarize(nw.init_mlp((3, 4, 2), rng=rng))
    with pytest.raises(ConfigError, match="not ternary"):
        nw.MLP(weights=(net.weights[0] * 1.01, net.weights[1]), gammas=net.gammas)
    with pytest.raises(ConfigError, match="not ternary"):
        nw.init_mlp((3, 4, 2), rng=rng).ternary_codes()
    # Replacing weights (e.g. by hardware read-back) drops the ternary label.
    assert not net.with_weights(net.weights).is_ternary


def test_mlp_validation() -> None:
    with pytest.raises(ConfigError, match="chain"):
        nw.MLP(weights=(np.ones((2, 3)), np.ones((4, 2))))
    with pytest.raises(ConfigError, match="single output"):
        nw.MLP(weights=(np.ones((2, 3)),), output="sigmoid")
    with pytest.raises(ConfigError, match="hidden_activation"):
        nw.MLP(weights=(np.ones((2, 3)),), hidden_activation="gelu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"biases\[0\]"):
        nw.MLP(weights=(np.ones((2, 3)),), biases=(np.ones(2),))
    with pytest.raises(ConfigError, match="layer_sizes"):
        nw.init_mlp((3,))
    net = nw.init_mlp((3, 2))
    assert not net.weights[0].flags.writeable
    with pytest.raises(ConfigError, match="x"):
        net.forward(np.ones((2, 4)))
    with pytest.raises(ConfigError, match="labels in 0..1"):
        net.loss(np.ones((2, 3)), [0, 2])


@pytest.mark.parametrize("layered", [False, True])
def test_accuracy_checks_its_labels_and_refuses_no_samples(layered: bool, rng: np.random.Generator) -> None:
    # before: no samples gave numpy's NaN mean (the empty validation split of load_mnist()), and a label the
    # network cannot predict or a float label was silently counted wrong
    mlp = nw.init_mlp((3, 4, 2), rng=rng)
    net = nw.Network.from_mlp(mlp) if layered else mlp
    x = rng.uniform(size=(6, 3))
    y = rng.integers(0, 2, 6)
    assert net.accuracy(x, y) == np.mean(mlp.predict(x) == y)
    assert net.accuracy(x, y.astype(float)) == net.accuracy(x, y)          # whole-number floats are labels
    with pytest.raises(ConfigError, match="at least one sample"):
        net.accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ConfigError, match=r"`y` must hold labels in 0..1; got 0..5"):
        net.accuracy(x, np.array([0, 1, 5, 0, 1, 0]))
    with pytest.raises(ConfigError, match="`y` must hold integer class labels"):
        net.accuracy(x, np.full(6, 0.5))
    with pytest.raises(ConfigError, match=r"`y` must have shape \(6,\)"):
        net.accuracy(x, y[:5])


def test_replacement_weights_must_be_finite(rng: np.random.Generator) -> None:
    # before: forward(weights=) took NaN weights (e.g. a read-back decoded by 0) and returned NaN scores,
    # predict label 0 for every sample, without a word; Network.with_weights already refused them
    net = nw.init_mlp((2, 3, 2), rng=rng)
    x = rng.uniform(size=(4, 2))
    bad = [np.array(net.weights[0]), np.full((3, 2), np.nan)]
    for call in (net.forward, net.predict, net.predict_proba):
        with pytest.raises(ConfigError, match=r"`weights\[1\]` must be a finite .*got nan"):
            call(x, weights=bad)
    with pytest.raises(ConfigError, match=r"`weights\[1\]`"):
        net.accuracy(x, [0, 1, 0, 1], weights=[net.weights[0], "w"])
    np.testing.assert_array_equal(net.forward(x, weights=list(net.weights)), net.forward(x))


@pytest.mark.parametrize("delta", ["0.7", None, True, -0.1, float("nan")])
def test_ternarize_refuses_a_delta_that_is_not_a_non_negative_number(delta: object) -> None:
    # before: "0.7" and None raised numpy's TypeError ("ufunc 'isfinite' not supported"), True was taken as 1.0
    net = nw.init_mlp((2, 3, 2), rng=0)
    with pytest.raises(ConfigError, match="`delta` must be a finite non-negative threshold factor"):
        nw.ternarize(net, delta=delta)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="`delta`"):
        nw.ternarize_matrix(net.weights[0], delta=delta)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("bad,words", [
    (np.array([0.0, np.inf, 1.0]), r"integer class labels \(finite whole numbers\); got dtype float64 with .*inf"),
    (np.array([0.0, -1e20, 1.0]), r"labels in 0..1; got -100000000000000000000..1"),
    (np.array([0, 1, 2**63 + 5], dtype=np.uint64), r"labels in 0..1; got 0..9223372036854775813"),
])
def test_labels_are_checked_before_the_cast_to_int64(bad, words, rng: np.random.Generator) -> None:
    # before: inf was a "whole number" and, like -1e20 and a uint64 above 2**63, was cast to int64 with a
    # RuntimeWarning and reported as -9223372036854775808 (or ...803)
    net = nw.init_mlp((2, 3, 2), rng=rng)
    x = rng.uniform(size=(3, 2))
    for call in (lambda: net.accuracy(x, bad), lambda: net.loss(x, bad)):
        with pytest.raises(ConfigError, match=words):
            call()


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
@pytest.mark.parametrize("bias", [True, False])
def test_every_gradient_entry_matches_central_differences(activation, output, bias, rng: np.random.Generator) -> None:
    """Every weight and bias of a 3-5-4-k network, each hidden activation with each head (the ReLU kink is
    met with probability 0 on random inputs)."""
    net = nw.init_mlp((3, 5, 4, 3 if output == "softmax" else 1), hidden_activation=activation, output=output,
                      bias=bias, rng=rng)
    if bias:
        net = net.with_weights(net.weights, biases=[0.3 * rng.normal(size=b.shape) for b in net.biases or ()])
    x = rng.uniform(-1, 1, size=(6, 3))
    y = rng.integers(0, net.n_classes, size=6)
    _, acts, deltas = backprop(net, x, y, net.weights, net.biases)
    params = [np.array(w) for w in net.weights] + [np.array(b) for b in net.biases or ()]
    grads = [a.T @ d / 6 for a, d in zip(acts, deltas)] + ([d.mean(axis=0) for d in deltas] if bias else [])
    n = net.n_layers

    def loss(ps: list[np.ndarray]) -> float:
        return net.with_weights(ps[:n], ps[n:] if bias else None).loss(x, y)

    numeric = central_differences(loss, params)
    for k, p in enumerate(params):
        for idx in np.ndindex(p.shape):
            assert grads[k][idx] == pytest.approx(numeric[k][idx], rel=1e-5, abs=1e-8), (k, idx)
