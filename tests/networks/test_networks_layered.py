"""Layered networks: conv-as-matrix against a direct convolution, MLP conversion, hooks, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from conv_oracle import direct_conv

from xbarsim.errors import ConfigError
from xbarsim.networks import (
    MLP,
    ActivationLayer,
    Clip,
    Conv2d,
    Dense,
    Flatten,
    GlobalAvgPool,
    LogSoftmax,
    Network,
    Pool2d,
    Reshape,
    Softmax,
    im2col,
    init_mlp,
    load_digits,
)


@pytest.mark.parametrize("seed", range(6))
def test_conv_as_matrix_equals_direct_convolution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c_in, c_out = rng.integers(1, 4, size=2)
    kh, kw = rng.integers(1, 4, size=2)
    stride = tuple(int(v) for v in rng.integers(1, 3, size=2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
    pads = tuple(int(v) for v in rng.integers(0, 3, size=4))
    x = rng.normal(size=(3, c_in, 9, 10))
    w = rng.normal(size=(c_out, c_in, kh, kw))
    b = rng.normal(size=c_out)
    conv = Conv2d(weight=w, bias=b, stride=stride, padding=pads, dilation=dilation)
    ref = direct_conv(x, w, b, stride, pads, dilation)
    net = Network(layers=(conv, Flatten()), input_shape=(int(c_in), 9, 10))
    np.testing.assert_allclose(net.forward(x), ref.reshape(3, -1), rtol=1e-12, atol=1e-12)
    # the matrix view: patches @ matrix, reshaped, is the convolution
    patches = im2col(x, conv.kernel, stride=stride, padding=pads, dilation=dilation)
    ho, wo = ref.shape[2:]
    assert patches.shape == (3 * ho * wo, c_in * kh * kw)
    z = (patches @ conv.matrix).reshape(3, ho, wo, c_out).transpose(0, 3, 1, 2) + b[None, :, None, None]
    np.testing.assert_allclose(z, ref, rtol=1e-12, atol=1e-12)


def test_pooling_against_loops() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 6))
    pool = Pool2d(kind="max", kernel=(3, 2), stride=(2, 2), padding=(1, 0, 1, 1))
    xp = np.full((2, 3, 9, 7), -np.inf)
    xp[:, :, 1:8, 0:6] = x
    ho, wo = pool.output_shape((3, 7, 6))[1:]
    ref = np.array([[[[xp[n, c, 2 * i:2 * i + 3, 2 * j:2 * j + 2].max() for j in range(wo)] for i in range(ho)]
                     for c in range(3)] for n in range(2)])
    np.testing.assert_array_equal(pool.apply(x), ref)
    avg = Pool2d(kind="average", kernel=(2, 2), stride=(2, 2), padding=(1, 1, 0, 0)).apply(x)
    assert avg[0, 0, 0, 0] == x[0, 0, 0, 0]  # padded positions are not counted
    assert avg[0, 0, 1, 1] == pytest.approx(x[0, 0, 1:3, 1:3].mean())



@pytest.mark.parametrize("kind", ["max", "average"])
@pytest.mark.parametrize("padding", [(2, 0, 0, 0), (0, 0, 0, 2), (1, 1, 2, 1)])
def test_pooling_padding_not_smaller_than_the_kernel_refused(kind: str, padding: tuple) -> None:
    """Padding as large as the kernel makes windows of padding only: their max was -inf and their
    average (count_include_pad false) 0 / 0 = NaN, returned without a word. ONNX requires pads < kernel."""
    with pytest.raises(ConfigError, match=r"`padding` of a Pool2d must be smaller than its kernel \(2, 2\)"):
        Pool2d(kind=kind, kernel=(2, 2), stride=(2, 2), padding=padding)
    Pool2d(kind=kind, kernel=(2, 2), padding=(1, 1, 1, 1))  # the largest padding allowed

@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "identity", "wage-relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_mlp_converts_bit_identically(act: str, bias: bool) -> None:
    mlp = init_mlp((64, 12, 7, 10), hidden_activation=act, bias=bias, rng=3)
    if bias:
        mlp = mlp.with_weights(mlp.weights, [np.random.default_rng(i).normal(size=w.shape[1])
                                             for i, w in enumerate(mlp.weights)])
    net = Network.from_mlp(mlp)
    x = load_digits().x_test[:50]
    np.testing.assert_array_equal(net.forward(x), mlp.forward(x))
    np.testing.assert_array_equal(net.predict(x), mlp.predict(x))
    assert net.n_layers == mlp.n_layers and net.output == mlp.output
    for a, b in zip(net.weights, mlp.weights):
        np.testing.assert_array_equal(a, b)

    def hook(i, a, w):
        return a @ w * (1.0 + 0.01 * i)

    np.testing.assert_array_equal(net.forward(x, layer_fn=hook), mlp.forward(x, layer_fn=hook))


def test_sigmoid_head_mlp_converts() -> None:
    mlp = init_mlp((2, 5, 1), output="sigmoid", rng=0)
    net = Network.from_mlp(mlp)
    x = np.random.default_rng(0).normal(size=(20, 2))
    np.testing.assert_array_equal(net.predict(x), mlp.predict(x))


def test_layer_fn_sees_patches_and_matrices() -> None:
    rng = np.random.default_rng(1)
    conv = Conv2d(weight=rng.normal(size=(4, 2, 3, 3)), padding=1)
    dense = Dense(weight=rng.normal(size=(4 * 5 * 5, 3)), bias=rng.normal(size=3))
    net = Network(layers=(conv, ActivationLayer(kind="relu"), Flatten(), dense), input_shape=(2, 5, 5))
    seen = []

    def hook(i, a, w):
        seen.append((i, a.shape, w.shape))
        return a @ w

    x = rng.normal(size=(6, 2, 5, 5))
    np.testing.assert_allclose(net.forward(x, layer_fn=hook), net.forward(x), rtol=0, atol=0)
    assert seen == [(0, (6 * 25, 18), (18, 4)), (1, (6, 100), (100, 3))]
    assert net.vectors_per_sample() == (25, 1)


def test_with_weights_round_trip_and_biases() -> None:
    rng = np.random.default_rng(2)
    conv = Conv2d(weight=rng.normal(size=(3, 1, 2, 2)), bias=None)
    dense = Dense(weight=rng.normal(size=(27, 4)), bias=rng.normal(size=4))
    net = Network(layers=(conv, Flatten(), dense), input_shape=(1, 4, 4))
    assert net.biases is not None and np.all(net.biases[0] == 0)
    same = net.with_weights(net.weights)
    x = rng.normal(size=(3, 16))
    np.testing.assert_array_equal(same.forward(x), net.forward(x))
    doubled = net.with_weights([2 * w for w in net.weights], biases=None)
    assert doubled.biases is None
    np.testing.assert_array_equal(doubled.layers[0].weight, 2 * conv.weight)
    with pytest.raises(ConfigError, match="shape"):
        net.with_weights([net.weights[1], net.weights[0]])


def test_shape_errors() -> None:
    with pytest.raises(ConfigError, match="input channels"):
        Network(layers=(Conv2d(weight=np.ones((2, 3, 1, 1))), Flatten()), input_shape=(1, 4, 4))
    with pytest.raises(ConfigError, match="add a Flatten"):
        Network(layers=(Conv2d(weight=np.ones((2, 1, 1, 1))),), input_shape=(1, 4, 4))
    with pytest.raises(ConfigError, match="at least one Dense or Conv2d"):
        Network(layers=(Flatten(),), input_shape=(3,))
    net = Network(layers=(Dense(weight=np.ones((3, 2))),), input_shape=(3,))
    with pytest.raises(ConfigError, match=r"shape \(B, 3\)"):
        net.forward(np.ones((2, 4)))


def test_ternary_values_are_recognised_and_ternarized_keeps_biases() -> None:
    rng = np.random.default_rng(4)
    conv = Conv2d(weight=rng.normal(size=(3, 1, 2, 2)), bias=rng.normal(size=3))
    net = Network(layers=(conv, Flatten(), Dense(weight=rng.normal(size=(27, 4)))), input_shape=(1, 4, 4))
    assert net.gammas is None and not net.is_ternary
    tern = net.ternarized(delta=0.7)
    assert tern.is_ternary
    for w, g in zip(tern.weights, tern.gammas):
        assert set(np.unique(np.abs(w))) <= {0.0, g} and g > 0
    np.testing.assert_array_equal(tern.layers[0].bias, conv.bias)
    # ternarizing a ternary network changes nothing
    again = tern.ternarized()
    for a, b in zip(again.weights, tern.weights):
        np.testing.assert_array_equal(a, b)
    # an MLP's ternary scales survive the conversion
    from xbarsim.networks import ternarize

    mlp = ternarize(init_mlp((6, 5, 3), rng=0))
    assert Network.from_mlp(mlp).gammas == pytest.approx(mlp.gammas, rel=0, abs=0)


# ----------------------------------------------------------------------------- LeakyRelu, Clip, LogSoftmax
def _every_layer_network() -> Network:
    """One network with every layer type, the new ones included (slope, one-sided bound, axis)."""
    rng = np.random.default_rng(7)
    layers = (
        Conv2d(weight=rng.normal(size=(3, 2, 2, 2)), bias=rng.normal(size=3), stride=(1, 2), padding=(1, 0, 1, 1),
               dilation=(1, 1)),
        ActivationLayer(kind="leaky-relu", slope=0.2),
        Pool2d(kind="average", kernel=(2, 2), stride=(1, 1), padding=(1, 0, 0, 1), count_include_pad=True),
        Clip(low=-0.5),
        Softmax(axis=1),
        GlobalAvgPool(),
        Reshape(shape=(3,)),
        Dense(weight=rng.normal(size=(3, 8)), bias=None),
        ActivationLayer(kind="tanh"),
        Clip(low=-0.25, high=0.5),
        Dense(weight=rng.normal(size=(8, 4)), bias=rng.normal(size=4)),
        Flatten(),
        LogSoftmax(),
    )
    return Network(layers=layers, input_shape=(2, 5, 6))


def test_new_layers_against_their_closed_forms() -> None:
    z = np.array([[-4.0, -0.3, 0.0, 0.25, 7.0]])
    eye = Dense(weight=np.eye(5))

    def through(layer):
        return Network(layers=(eye, layer), input_shape=(5,)).forward(z)

    np.testing.assert_array_equal(through(ActivationLayer(kind="leaky-relu", slope=0.1)), [[-0.4, -0.03, 0, 0.25, 7]])
    np.testing.assert_array_equal(through(ActivationLayer(kind="leaky-relu")), [[-0.04, -0.003, 0, 0.25, 7]])
    np.testing.assert_array_equal(through(Clip(low=0.0, high=6.0)), [[0, 0, 0, 0.25, 6]])  # ReLU6
    np.testing.assert_array_equal(through(Clip(high=0.0)), [[-4, -0.3, 0, 0, 0]])
    np.testing.assert_array_equal(through(Clip()), z)
    np.testing.assert_array_equal(through(Clip(low=1.0, high=0.5)), np.full((1, 5), 0.5))  # ONNX: max wins
    logp = through(LogSoftmax())
    np.testing.assert_allclose(logp, np.log(np.exp(z) / np.exp(z).sum()), rtol=1e-12)
    np.testing.assert_allclose(np.exp(logp), through(Softmax()), rtol=1e-12)
    # no overflow for large scores, where exp(z) / sum would be inf / inf
    big = Network(layers=(eye, LogSoftmax()), input_shape=(5,)).forward(z * 300)
    np.testing.assert_allclose(big, z * 300 - z.max() * 300, atol=1e-12)


def test_new_layers_check_their_settings() -> None:
    with pytest.raises(ConfigError, match="`slope` applies to kind 'leaky-relu' only"):
        ActivationLayer(kind="relu", slope=0.1)
    with pytest.raises(ConfigError, match="`slope` must be a finite slope"):
        ActivationLayer(kind="leaky-relu", slope=float("nan"))
    with pytest.raises(ConfigError, match="`high` must be a finite bound"):
        Clip(high=np.inf)
    with pytest.raises(ConfigError, match="`low` must be a finite bound"):
        Clip(low="0")
    with pytest.raises(ConfigError, match="`axis` 0 of a LogSoftmax must name a non-batch axis"):
        Network(layers=(Dense(weight=np.ones((3, 2))), LogSoftmax(axis=0)), input_shape=(3,))
    # the parameterless kinds print as they did
    assert repr(ActivationLayer(kind="relu")) == "Activation(kind='relu')"
    assert repr(ActivationLayer(kind="leaky-relu")) == "Activation(kind='leaky-relu', slope=0.01)"


@pytest.mark.parametrize("head", [Softmax, LogSoftmax])
@pytest.mark.parametrize("axis", ["1", True, 1.0, None, np.array([1])])
def test_softmax_axis_must_be_an_int(head, axis) -> None:
    # before: "1" and None were TypeErrors from the axis range check at Network(...), True and 1.0 passed
    # it (True == 1) and ended in numpy's TypeError at forward
    with pytest.raises(ConfigError, match=f"`axis` of a {head.__name__} must be an int"):
        head(axis=axis)
    assert head(axis=np.int64(-1)).axis == -1 and type(head(axis=np.int64(-1)).axis) is int


def test_log_softmax_network_outputs_log_probabilities_and_labels_their_argmax() -> None:
    rng = np.random.default_rng(8)
    dense = Dense(weight=rng.normal(size=(5, 4)), bias=rng.normal(size=4))
    logits = Network(layers=(dense,), input_shape=(5,))
    net = Network(layers=(dense, LogSoftmax()), input_shape=(5,))
    soft = Network(layers=(dense, Softmax()), input_shape=(5,))
    assert net.outputs_log_probabilities and not net.outputs_probabilities
    assert soft.outputs_probabilities and not soft.outputs_log_probabilities
    assert not logits.outputs_probabilities and not logits.outputs_log_probabilities
    x = rng.normal(size=(40, 5))
    z = logits.forward(x)
    np.testing.assert_allclose(np.exp(net.forward(x)), soft.forward(x), rtol=1e-13)
    np.testing.assert_array_equal(net.predict(x), np.argmax(z, axis=1))
    y = np.argmax(z, axis=1)
    assert net.accuracy(x, y) == 1.0


def test_a_softmax_over_the_channels_of_each_pixel_is_not_the_head() -> None:
    """A (Log)Softmax along the channels of (C, H, W) then Flatten normalizes each pixel, not the
    sample: its outputs do not sum to 1 and are not the head's probabilities. Before, any Softmax
    at the end counted, and the hardware took those outputs for class probabilities."""
    conv = Conv2d(weight=np.random.default_rng(9).normal(size=(3, 2, 1, 1)))
    for head in (Softmax(axis=1), LogSoftmax(axis=-3)):
        net = Network(layers=(conv, head, Flatten()), input_shape=(2, 2, 2))
        assert not net.outputs_probabilities and not net.outputs_log_probabilities
    # a per-sample axis that holds every value (the others of length 1) is the head
    one_pixel = Network(layers=(conv, Softmax(axis=1), Flatten()), input_shape=(2, 1, 1))
    assert one_pixel.outputs_probabilities
    assert Network(layers=(conv, LogSoftmax(axis=-3), Flatten()), input_shape=(2, 1, 1)).outputs_log_probabilities


def test_to_dict_round_trips_every_layer_through_npz(tmp_path) -> None:
    net = _every_layer_network()
    path = tmp_path / "net.npz"
    np.savez(path, **net.to_dict())
    with np.load(path, allow_pickle=False) as arrays:
        back = Network.from_dict(arrays)
    assert [type(a) for a in back.layers] == [type(b) for b in net.layers]
    for a, b in zip(back.layers, net.layers):
        if isinstance(a, (Dense, Conv2d)):
            np.testing.assert_array_equal(a.weight, b.weight)
            assert (a.bias is None) == (b.bias is None)
            assert [getattr(a, k) for k in ("stride", "padding", "dilation") if hasattr(a, k)] == \
                [getattr(b, k) for k in ("stride", "padding", "dilation") if hasattr(b, k)]
        else:
            assert a == b, (a, b)
    assert back.layers[1].slope == 0.2 and back.layers[3] == Clip(low=-0.5, high=None)
    assert back.input_shape == net.input_shape and back.output == net.output
    x = np.random.default_rng(10).normal(size=(4, 2, 5, 6))
    np.testing.assert_array_equal(back.forward(x), net.forward(x))
    assert back.outputs_log_probabilities


def test_to_dict_records_the_new_settings_and_leaves_old_layers_as_they_were() -> None:
    """The slope, the bounds and log-or-not are part of the dict (and so of the network's fingerprint);
    layers without them write the keys they wrote before, so stored fingerprints still match."""
    dense = Dense(weight=np.ones((3, 2)))
    d = Network(layers=(dense, ActivationLayer(kind="relu"), Dense(weight=np.ones((2, 2))), Softmax()),
                input_shape=(3,)).to_dict()
    assert sorted(k for k in d if k.startswith("layers.1.") or k.startswith("layers.3.")) == \
        ["layers.1.kind", "layers.3.axis", "layers.3.kind"]
    leaky = Network(layers=(dense, ActivationLayer(kind="leaky-relu", slope=0.3)), input_shape=(3,)).to_dict()
    assert str(leaky["layers.1.kind"]) == "leaky-relu" and float(leaky["layers.1.slope"]) == 0.3
    clip = Network(layers=(dense, Clip(high=6.0)), input_shape=(3,)).to_dict()
    assert str(clip["layers.1.kind"]) == "Clip" and float(clip["layers.1.high"]) == 6.0 and "layers.1.low" not in clip
    log = Network(layers=(dense, LogSoftmax()), input_shape=(3,)).to_dict()
    assert str(log["layers.1.kind"]) == "LogSoftmax"


def test_from_dict_refuses_what_to_dict_does_not_write() -> None:
    d = Network(layers=(Dense(weight=np.ones((3, 2))), ActivationLayer(kind="leaky-relu")), input_shape=(3,)).to_dict()
    Network.from_dict(d)
    with pytest.raises(ConfigError, match="no 'input_shape'"):
        Network.from_dict({k: v for k, v in d.items() if k != "input_shape"})
    with pytest.raises(ConfigError, match="keys that no layer of this network has: layers.1.low"):
        Network.from_dict({**d, "layers.1.low": np.array(0.0)})
    with pytest.raises(ConfigError, match="`layers.1.kind` must be one of .*; got 'elu'"):
        Network.from_dict({**d, "layers.1.kind": np.array("elu")})
    with pytest.raises(ConfigError, match=r"`layers.1` \(Activation\): `slope` must be a finite slope"):
        Network.from_dict({**d, "layers.1.slope": np.array(np.inf)})


@pytest.mark.parametrize("kind", ["network", "mlp", "sigmoid"])
@pytest.mark.parametrize("scores", [np.array([0.2, 0.9]), np.zeros((2, 3)), np.zeros((2, 2, 1)), "ab",
                                    [[0.1, 0.2], [0.3]], np.array([["a", "b"]])])
def test_labels_from_scores_names_scores_of_another_shape_or_kind(kind, scores) -> None:
    # before: numpy's AxisError (1-D), IndexError (a sigmoid unit's 1-D scores), ValueError (text, ragged rows);
    # (2, 3) scores of a 2-output network were labelled 2, a class it does not have
    mlp = MLP(weights=(np.ones((3, 2)),))
    net = {"network": Network.from_mlp(mlp), "mlp": mlp,
           "sigmoid": Network(layers=(Dense(weight=np.ones((3, 1))),), input_shape=(3,), output="sigmoid")}[kind]
    if kind == "sigmoid" and isinstance(scores, np.ndarray) and scores.shape == (2, 3):
        scores = np.zeros((2, 2))
    with pytest.raises(ConfigError, match="`scores` must be"):
        net.labels_from_scores(scores)


@pytest.mark.parametrize("kind", ["network", "mlp", "sigmoid"])
def test_labels_from_scores_refuses_nan_scores(kind) -> None:
    """A NaN score was read as a label by argmax (its column) or as class 0 by the sigmoid threshold,
    and counted right or wrong without a word."""
    mlp = MLP(weights=(np.ones((3, 2)),))
    net = {"network": Network.from_mlp(mlp), "mlp": mlp,
           "sigmoid": Network(layers=(Dense(weight=np.ones((3, 1))),), input_shape=(3,), output="sigmoid")}[kind]
    width = 1 if kind == "sigmoid" else 2
    scores = np.zeros((3, width))
    scores[2, 0] = np.nan
    with pytest.raises(ConfigError, match=r"`scores` hold NaN in 1 of 3 rows \(first: row 2"):
        net.labels_from_scores(scores)
    scores[2, 0] = np.inf  # infinite scores order as they are
    assert net.labels_from_scores(scores)[2] == (0 if width == 2 else 1)


@pytest.mark.parametrize("kwargs,words", [
    # before: as_strided's "negative dimensions are not allowed": the "does not fit" check came after it
    ({"kernel": (5, 5)}, "does not fit"),
    ({"kernel": (2, 2), "padding": (0, 0, 0, 0), "dilation": (3, 1)}, "does not fit"),
    ({"kernel": (0, 2)}, "`kernel`"),                    # before: (8, 0) patches without a word
    ({"kernel": (2, 2), "stride": (0, 1)}, "`stride`"),  # before: ZeroDivisionError
    ({"kernel": (2, 2), "padding": (-1, 0, 0, 0)}, "`padding`"),  # before: np.pad's ValueError
    ({"kernel": (2, 2), "x": [[[["a"]]]]}, "`x`"),       # before: float()'s ValueError
])
def test_im2col_names_settings_and_images_it_cannot_use(kwargs, words) -> None:
    x = kwargs.pop("x", np.zeros((1, 1, 3, 3)))
    kernel = kwargs.pop("kernel")
    with pytest.raises(ConfigError, match=words):
        im2col(x, kernel, **kwargs)


def test_from_dict_refuses_an_input_shape_that_is_not_whole_numbers() -> None:
    arrays = Network(layers=(Dense(weight=np.ones((3, 2))),), input_shape=(3,)).to_dict()
    # before: 3.5 was truncated to 3 without a word and text was int()'s ValueError
    for bad in (np.array([3.5]), np.array("ab")):
        with pytest.raises(ConfigError, match="`input_shape` must be positive ints"):
            Network.from_dict({**arrays, "input_shape": bad})


def test_hooks_arrays_and_pool_inputs_that_cannot_work_are_named() -> None:
    """A layer_fn that is not callable was Python's "'int' object is not callable" at the first layer;
    biases=5 was len()'s TypeError; from_dict of a list an AttributeError ('keys'); Pool2d.apply of
    3-D images an unpacking ValueError. Each now names the parameter."""
    mlp = MLP(weights=(np.ones((3, 2)),))
    net = Network.from_mlp(mlp)
    x = np.ones((2, 3))
    for model in (mlp, net):
        with pytest.raises(ConfigError, match="`layer_fn` must be None or a callable"):
            model.forward(x, layer_fn=5)
        with pytest.raises(ConfigError, match="`arrays` must be a mapping"):
            type(model).from_dict([1, 2])
    with pytest.raises(ConfigError, match="`biases` must be None or a sequence"):
        mlp.with_weights(mlp.weights, biases=5)
    with pytest.raises(ConfigError, match=r"pools \(B, C, H, W\) images; got an array of shape \(2, 4, 4\)"):
        Pool2d(kind="max", kernel=(2, 2)).apply(np.ones((2, 4, 4)))
    # what works still works: a callable hook, a dict, 4-D images
    np.testing.assert_array_equal(net.forward(x, layer_fn=lambda i, v, w: v @ w), net.forward(x))
    assert type(net).from_dict(net.to_dict()).n_outputs == 2
    assert Pool2d(kind="max", kernel=(2, 2)).apply(np.ones((2, 1, 4, 4))).shape == (2, 1, 3, 3)  # stride 1
