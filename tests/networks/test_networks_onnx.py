"""ONNX import: each operator alone and in small networks equals onnxruntime; bad files are refused."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_helpers import GraphBuilder, rel_diff, run_ort

from xbarsim.errors import ConfigError
from xbarsim.networks import ActivationLayer, Clip, Conv2d, Dense, LogSoftmax, Network, Pool2d, load_onnx


def _check(b: GraphBuilder, tmp_path: Path, *, batch: int = 5) -> Network:
    path = b.save(tmp_path / "m.onnx")
    net = load_onnx(path)
    x = np.random.default_rng(1).normal(size=(batch, *b.shape))
    ref = run_ort(path, x)
    ours = net.forward(x.astype(np.float32).astype(np.float64))
    assert ours.shape == ref.shape
    assert rel_diff(ours, ref) < 1e-5
    assert net.import_check is not None and net.import_check.max_rel < 1e-5
    assert net.import_check.runtime.startswith("onnxruntime")
    return net


def _dense_head(b: GraphBuilder, n_in: int, n_out: int = 3) -> GraphBuilder:
    return b.node("Gemm", b.rand(n_out, n_in), b.rand(n_out), transB=1)


# ----------------------------------------------------------------------------- one operator each
@pytest.mark.parametrize("op", ["Relu", "Tanh", "Sigmoid"])
def test_activation_alone(op: str, tmp_path: Path) -> None:
    b = GraphBuilder((6,))
    _dense_head(b, 6, 4).node(op)
    _check(b, tmp_path)


def test_gemm_alpha_beta_and_no_trans(tmp_path: Path) -> None:
    b = GraphBuilder((5,))
    b.node("Gemm", b.rand(5, 4), b.rand(1, 4), alpha=0.7, beta=1.3)
    net = _check(b, tmp_path)
    assert isinstance(net.layers[0], Dense)


def test_matmul_add_folds_into_one_dense(tmp_path: Path) -> None:
    b = GraphBuilder((5,))
    b.node("MatMul", b.rand(5, 4)).node("Add", b.rand(4))
    net = _check(b, tmp_path)
    assert len(net.layers) == 1 and net.layers[0].bias is not None


def test_softmax(tmp_path: Path) -> None:
    b = GraphBuilder((6,))
    _dense_head(b, 6, 4).node("Softmax", axis=1)
    _check(b, tmp_path)


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axis", [None, 1, -1])
def test_log_softmax_on_vectors(opset: int, axis: int | None, tmp_path: Path) -> None:
    """PyTorch's MNIST example ends in F.log_softmax: before opset 13 LogSoftmax flattens its input
    from ``axis`` (default 1), from 13 it works along ``axis`` (default -1); on vectors both are the
    log-probabilities over the outputs. Was refused as an unsupported operator."""
    b = GraphBuilder((6,), opset=opset)
    _dense_head(b, 6, 4).node("LogSoftmax", **({} if axis is None else {"axis": axis}))
    net = _check(b, tmp_path)
    assert isinstance(net.layers[-1], LogSoftmax)
    assert net.outputs_log_probabilities and not net.outputs_probabilities
    x = np.random.default_rng(3).normal(size=(30, 6)).astype(np.float32)
    ref = run_ort(tmp_path / "m.onnx", x)
    np.testing.assert_allclose(np.exp(ref).sum(axis=1), 1.0, rtol=1e-5)  # they are log-probabilities
    np.testing.assert_array_equal(net.predict(x), np.argmax(ref, axis=1))


def test_log_softmax_along_the_channels_of_images(tmp_path: Path) -> None:
    """From opset 13 along one axis of a (B, C, H, W) tensor, as Softmax."""
    b = GraphBuilder((3, 4, 4))
    b.node("Conv", b.rand(5, 3, 3, 3)).node("LogSoftmax", axis=1).node("Flatten")
    net = _check(b, tmp_path)
    assert not net.outputs_log_probabilities  # over the channels of each position, not over the outputs


def test_log_softmax_of_images_before_opset_13_refused(tmp_path: Path) -> None:
    b = GraphBuilder((3, 4, 4), opset=11)
    b.node("Conv", b.rand(5, 3, 3, 3)).node("LogSoftmax", axis=1).node("Flatten")
    _refused(b, tmp_path, "'LogSoftmax'", "node 'logsoftmax_2'", "before opset 13 flattens its input")


@pytest.mark.parametrize("opset", [10, 16])
@pytest.mark.parametrize("alpha", [None, 0.2, -0.5])
def test_leaky_relu(opset: int, alpha: float | None, tmp_path: Path) -> None:
    """LeakyRelu's ``alpha`` is the slope below 0; without it, 0.01 (ONNX's and PyTorch's default)."""
    b = GraphBuilder((6,), opset=opset)
    _dense_head(b, 6, 8).node("LeakyRelu", **({} if alpha is None else {"alpha": alpha}))
    _dense_head(b, 8, 3)
    net = _check(b, tmp_path)
    layer = net.layers[1]
    assert isinstance(layer, ActivationLayer) and layer.kind == "leaky-relu"
    assert layer.slope == pytest.approx(0.01 if alpha is None else alpha, rel=1e-7)  # alpha is stored as float32


def test_leaky_relu_default_alpha_is_one_hundredth(tmp_path: Path) -> None:
    b = GraphBuilder((6,))
    _dense_head(b, 6, 4).node("LeakyRelu")
    net = load_onnx(b.save(tmp_path / "m.onnx"))
    assert net.layers[1] == ActivationLayer(kind="leaky-relu", slope=0.01) == ActivationLayer(kind="leaky-relu")
    z = np.array([[-3.0, -0.5, 0.0, 2.0]])
    np.testing.assert_array_equal(Network(layers=(Dense(weight=np.eye(4)), net.layers[1]), input_shape=(4,)).forward(z),
                                  [[-0.03, -0.005, 0.0, 2.0]])


def _clip_graph(opset: int, low: float | None, high: float | None, form: str) -> GraphBuilder:
    """Gemm (outputs spread over about [-2, 2]) then Clip; ``form``: attributes (before opset 11),
    initializers or Constant nodes (from opset 11)."""
    b = GraphBuilder((6,), opset=opset)
    b.node("Gemm", b.rand(8, 6, scale=1.0), b.rand(8), transB=1)
    if form == "attributes":
        attrs = {k: v for k, v in (("min", low), ("max", high)) if v is not None}
        b.node("Clip", **attrs)
        return b
    names = []
    for k, v in enumerate((low, high)):
        if v is None:
            names.append("")
        elif form == "initializers":
            names.append(b.const(np.array(v)))
        else:
            b.nodes.append(helper.make_node("Constant", [], [f"bound{k}"], name=f"const_{k}",
                                            value=onnx.numpy_helper.from_array(np.array(v, np.float32))))
            names.append(f"bound{k}")
    while names and not names[-1]:  # trailing optional inputs are left out
        names.pop()
    b.node("Clip", *names)
    return b


@pytest.mark.parametrize("opset,form", [(10, "attributes"), (11, "constant nodes"), (13, "initializers"),
                                        (13, "constant nodes")])
@pytest.mark.parametrize("low,high", [(0.0, 6.0), (-0.3, 0.4), (-0.5, None), (None, 0.25), (None, None)])
def test_clip_with_constant_bounds(opset: int, form: str, low: float | None, high: float | None,
                                   tmp_path: Path) -> None:
    """ReLU6 (0, 6), two-sided, one-sided and unbounded Clips, bounds as attributes before opset 11
    and as optional inputs (initializers, Constant nodes) from 11. Was refused."""
    b = _clip_graph(opset, low, high, form)
    net = _check(b, tmp_path, batch=50)
    lo, hi = (None if v is None else float(np.float32(v)) for v in (low, high))  # ONNX holds them as float32
    assert net.layers[-1] == Clip(low=lo, high=hi)
    x = np.random.default_rng(4).normal(size=(50, 6)).astype(np.float32)
    out = net.forward(x)
    before = Network(layers=net.layers[:-1], input_shape=(6,)).forward(x)
    np.testing.assert_array_equal(out, np.clip(before, -np.inf if lo is None else lo, np.inf if hi is None else hi))
    if (low, high) == (-0.3, 0.4):  # the bounds are met: a test that would see them ignored
        assert (out == lo).any() and (out == hi).any() and ((out > lo) & (out < hi)).any()


def test_clip_with_an_infinite_bound_has_none_on_that_side(tmp_path: Path) -> None:
    b = _clip_graph(13, -np.inf, 0.5, "initializers")
    net = _check(b, tmp_path)
    assert net.layers[-1] == Clip(low=None, high=0.5)


@pytest.mark.parametrize("which", ["min", "max"])
@pytest.mark.parametrize("source", ["running", "earlier"])
def test_clip_bound_computed_at_run_time_refused(which: str, source: str, tmp_path: Path) -> None:
    """A bound that is the running tensor itself, or the output of an earlier node, is not a constant:
    refused naming the node, the input and the file."""
    b = GraphBuilder((6,))
    _dense_head(b, 6, 4)
    earlier = b.current
    b.node("Relu")
    bound = b.current if source == "running" else earlier
    b.node("Clip", *((bound,) if which == "min" else ("", bound)))
    _refused(b, tmp_path, "operator 'Clip' (node 'clip_3')", f"its {which} {bound!r} is computed at run time",
             "only constant bounds")


def test_clip_bound_of_several_values_refused(tmp_path: Path) -> None:
    b = GraphBuilder((6,))
    _dense_head(b, 6, 4).node("Clip", b.const(np.zeros(4)))
    _refused(b, tmp_path, "'Clip'", "its min 'c2' must be one float", "shape (4,)")


@pytest.mark.parametrize("stride,pads,dilation", [
    ((1, 1), (0, 0, 0, 0), (1, 1)),
    ((2, 1), (1, 2, 0, 1), (1, 1)),
    ((1, 2), (2, 2, 2, 2), (2, 1)),
    ((2, 2), (1, 1, 1, 1), (2, 2)),
])
def test_conv_stride_padding_dilation(stride, pads, dilation, tmp_path: Path) -> None:
    b = GraphBuilder((2, 9, 8))
    b.node("Conv", b.rand(3, 2, 3, 2), b.rand(3), strides=list(stride), pads=list(pads), dilations=list(dilation))
    b.node("Flatten")
    net = _check(b, tmp_path)
    assert isinstance(net.layers[0], Conv2d)


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad(mode: str, tmp_path: Path) -> None:
    b = GraphBuilder((1, 7, 6))
    b.node("Conv", b.rand(2, 1, 2, 3), strides=[2, 1], auto_pad=mode).node("Flatten")
    _check(b, tmp_path)


@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [3, 2], "strides": [1, 2], "pads": [1, 0, 1, 1]}),
    ("AveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
])
def test_pooling(op: str, attrs: dict, tmp_path: Path) -> None:
    b = GraphBuilder((2, 7, 8))
    b.node("Conv", b.rand(3, 2, 1, 1)).node(op, **attrs).node("Flatten")
    net = _check(b, tmp_path)
    assert isinstance(net.layers[1], Pool2d)


def test_global_average_pool_and_reshape(tmp_path: Path) -> None:
    b = GraphBuilder((3, 5, 4))
    b.node("Conv", b.rand(4, 3, 3, 3), b.rand(4), pads=[1, 1, 1, 1]).node("GlobalAveragePool")
    b.node("Reshape", b.const(np.array([-1, 4]), np.int64))
    _dense_head(b, 4)
    _check(b, tmp_path)


def test_reshape_with_zero_and_inferred_axis(tmp_path: Path) -> None:
    b = GraphBuilder((2, 3, 4))
    b.node("Reshape", b.const(np.array([0, 2, -1]), np.int64)).node("Reshape", b.const(np.array([0, -1]), np.int64))
    _dense_head(b, 24)
    _check(b, tmp_path)


def test_identity_dropout_and_constant_node(tmp_path: Path) -> None:
    b = GraphBuilder((6,))
    b.nodes.append(helper.make_node("Constant", [], ["shape"], name="cst",
                                    value=onnx.numpy_helper.from_array(np.array([0, 6], np.int64))))
    b.node("Identity").node("Dropout").node("Reshape", "shape")
    _dense_head(b, 6)
    _check(b, tmp_path)


def test_identity_of_an_initializer_is_a_constant_as_exporters_write_tied_weights(tmp_path: Path) -> None:
    # PyTorch writes a parameter used twice (tied weights) once and copies it through an Identity at
    # the top of the graph; the copy is a constant, not a layer of the chain
    b = GraphBuilder((6,))
    w = b.rand(4, 6)
    b.nodes.append(helper.make_node("Identity", [w], ["w_tied"], name="tie"))
    b.node("Gemm", w, b.rand(4), transB=1).node("Relu").node("Gemm", "w_tied")
    net = _check(b, tmp_path)
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "Activation", "Dense"]
    np.testing.assert_array_equal(net.layers[2].weight, net.layers[0].weight.T)


@pytest.mark.parametrize("after", ["Conv", "Gemm"])
def test_batchnorm_folded(after: str, tmp_path: Path) -> None:
    b = GraphBuilder((2, 6, 6) if after == "Conv" else (7,))
    c = 3
    if after == "Conv":
        b.node("Conv", b.rand(c, 2, 3, 3), b.rand(c), pads=[1, 1, 1, 1])
    else:
        b.node("Gemm", b.rand(c, 7), b.rand(c), transB=1)
    var = b.const(b.rng.uniform(0.5, 2.0, size=c))
    b.node("BatchNormalization", b.rand(c), b.rand(c), b.rand(c), var, epsilon=1e-3)
    if after == "Conv":
        b.node("Relu").node("Flatten")
    net = _check(b, tmp_path)
    assert sum(isinstance(layer, (Dense, Conv2d)) for layer in net.layers) == 1


# --------------------------------------------------------------------------- small networks
def test_conv_pool_dense_network(tmp_path: Path) -> None:
    b = GraphBuilder((1, 8, 8))
    b.node("Conv", b.rand(4, 1, 3, 3), b.rand(4), pads=[1, 1, 1, 1]).node("Relu")
    b.node("MaxPool", kernel_shape=[2, 2], strides=[2, 2])
    b.node("Conv", b.rand(6, 4, 3, 3), b.rand(6), strides=[2, 2], dilations=[1, 1]).node("Tanh")
    b.node("Flatten")
    b.node("Gemm", b.rand(8, 6), b.rand(8), transB=1).node("Sigmoid")
    b.node("MatMul", b.rand(8, 10)).node("Add", b.rand(10)).node("Softmax")
    net = _check(b, tmp_path, batch=7)
    assert net.n_layers == 4
    assert net.vectors_per_sample() == (64, 1, 1, 1)


def test_fixed_batch_graph_takes_any_batch(tmp_path: Path) -> None:
    b = GraphBuilder((1, 4, 4), batch=1)
    b.node("Conv", b.rand(2, 1, 2, 2)).node("Reshape", b.const(np.array([1, 18]), np.int64))
    _dense_head(b, 18)
    path = b.save(tmp_path / "fixed.onnx")
    net = load_onnx(path)
    x = np.random.default_rng(3).normal(size=(3, 1, 4, 4))
    ref = np.concatenate([run_ort(path, x[i:i + 1]) for i in range(3)])
    assert rel_diff(net.forward(x.astype(np.float32).astype(np.float64)), ref) < 1e-5


def test_flattened_inputs_accepted(tmp_path: Path) -> None:
    b = GraphBuilder((1, 3, 3))
    b.node("Conv", b.rand(2, 1, 2, 2)).node("Flatten")
    _dense_head(b, 8)
    net = load_onnx(b.save(tmp_path / "m.onnx"))
    x = np.random.default_rng(0).normal(size=(4, 1, 3, 3))
    np.testing.assert_array_equal(net.forward(x), net.forward(x.reshape(4, 9)))



@pytest.mark.parametrize("tail", ["Flatten", "Reshape"])
def test_sigmoid_unit_then_flatten_is_thresholded_at_one_half(tail: str, tmp_path: Path) -> None:
    """A binary classifier whose Sigmoid is followed by a Flatten / Reshape (as a fully convolutional
    head exports) outputs probabilities: label 1 is score > 0.5, as for a Sigmoid at the very end.
    Before, only a Sigmoid as the last layer counted, so every such sample was labelled 1 (score > 0)."""
    b = GraphBuilder((2, 4, 4))
    b.node("Conv", b.rand(1, 2, 4, 4), b.rand(1)).node("Sigmoid")
    if tail == "Flatten":
        b.node("Flatten")
    else:
        b.node("Reshape", b.const(np.array([-1, 1]), np.int64))
    net = _check(b, tmp_path, batch=40)
    assert net.output == "sigmoid"
    x = np.random.default_rng(2).normal(size=(40, 2, 4, 4)).astype(np.float32)
    ref = run_ort(tmp_path / "m.onnx", x)[:, 0]
    assert 0 < np.sum(ref > 0.5) < 40
    np.testing.assert_array_equal(net.predict(x), (ref > 0.5).astype(np.int64))

# ----------------------------------------------------------------------------- refusals
def _refused(b: GraphBuilder, tmp_path: Path, *words: str) -> str:
    path = b.save(tmp_path / "bad.onnx")
    with pytest.raises(ConfigError) as info:
        load_onnx(path)
    msg = str(info.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, msg
    return msg


def test_unsupported_operator_named(tmp_path: Path) -> None:
    b = GraphBuilder((4,))
    _dense_head(b, 4).node("Elu")
    _refused(b, tmp_path, "'Elu'", "node 'elu_2'", "not supported")


def test_grouped_conv_refused(tmp_path: Path) -> None:
    b = GraphBuilder((4, 5, 5))
    b.node("Conv", b.rand(4, 2, 3, 3), group=2).node("Flatten")
    _refused(b, tmp_path, "'Conv'", "node 'conv_1'", "group = 2")


def test_dynamic_spatial_axis_refused(tmp_path: Path) -> None:
    b = GraphBuilder((1, 5, 5))
    b.node("Conv", b.rand(2, 1, 3, 3)).node("Flatten")
    model = b.model()
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    path = tmp_path / "dyn.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ConfigError, match=r"axis 2 is dynamic \('H'\)") as info:
        load_onnx(path)
    assert str(path) in str(info.value)


def test_dynamic_batch_accepted(tmp_path: Path) -> None:
    b = GraphBuilder((3,), batch="batch_size")
    _dense_head(b, 3)
    net = _check(b, tmp_path, batch=11)
    assert net.forward(np.zeros((2, 3))).shape == (2, 3)


def test_shape_computed_at_run_time_refused(tmp_path: Path) -> None:
    b = GraphBuilder((2, 3))
    b.nodes.append(helper.make_node("Shape", ["x"], ["s"], name="shape_of_x"))
    b.node("Reshape", "s")
    _refused(b, tmp_path, "'Shape'", "node 'shape_of_x'", "run time")


def test_non_float_weights_refused(tmp_path: Path) -> None:
    b = GraphBuilder((4,))
    b.node("MatMul", b.const(np.ones((4, 3)), np.int32))
    path = b.save(tmp_path / "int.onnx")
    with pytest.raises(ConfigError, match="int32") as info:
        load_onnx(path, check=False)
    assert "'MatMul'" in str(info.value) and "matmul_1" in str(info.value) and str(path) in str(info.value)



def test_non_finite_weights_refused_naming_node_and_file(tmp_path: Path) -> None:
    """A diverged training exports NaN weights: refused naming the operator, node, initializer and
    file (before: a bare "`weight` must be a finite ... kernel; got nan" from Conv2d, naming neither)."""
    b = GraphBuilder((2, 5, 5))
    w = b.rng.normal(size=(3, 2, 3, 3))
    w[1, 0, 2, 2] = np.nan
    b.node("Conv", b.const(w)).node("Flatten")
    _refused(b, tmp_path, "'Conv'", "node 'conv_1'", "'c0'", "non-finite", "[1, 0, 2, 2]")


@pytest.mark.parametrize("var,eps", [(-2.0, 1e-5), (0.0, 0.0)])
def test_batchnorm_without_positive_variance_refused(var: float, eps: float, tmp_path: Path) -> None:
    """var + epsilon <= 0 divides by the square root of a non-positive number (onnxruntime gives NaN
    or inf): refused naming node, channel and file (before: a RuntimeWarning, then Conv2d's bare
    "`weight` must be finite ... got nan", which named neither the node nor the variance)."""
    b = GraphBuilder((2, 5, 5))
    b.node("Conv", b.rand(3, 2, 3, 3))
    ones = b.const(np.ones(3))
    b.node("BatchNormalization", ones, b.rand(3), b.rand(3), b.const(np.array([1.0, var, 1.0])), epsilon=eps)
    b.node("Flatten")
    _refused(b, tmp_path, "'BatchNormalization'", "node 'batchnormalization_2'", "var + epsilon", "channel 1")


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pooling_pads_as_large_as_the_kernel_refused(op: str, tmp_path: Path) -> None:
    """pads [2, 2, 2, 2] with a 2x2 kernel (onnxruntime refuses it: "Pad should be smaller than
    kernel"): without the check, windows of padding only gave -inf (max) or NaN (average)."""
    b = GraphBuilder((2, 5, 5))
    b.node("Conv", b.rand(2, 2, 1, 1)).node(op, kernel_shape=[2, 2], strides=[2, 2], pads=[2, 2, 2, 2])
    b.node("Flatten")
    path = b.save(tmp_path / "pad.onnx")
    with pytest.raises(ConfigError, match="smaller than its kernel") as info:
        load_onnx(path, check=False)
    assert f"'{op}'" in str(info.value) and f"node '{op.lower()}_2'" in str(info.value)
    assert str(path) in str(info.value)

def test_residual_add_refused(tmp_path: Path) -> None:
    b = GraphBuilder((4,))
    _dense_head(b, 4, 4).node("Relu")
    b.nodes.append(helper.make_node("Add", [b.current, "t0"], ["t9"], name="residual"))
    b.current = "t9"
    _refused(b, tmp_path, "'Add'", "node 'residual'")


def test_batchnorm_not_after_weighted_layer_refused(tmp_path: Path) -> None:
    b = GraphBuilder((2, 4, 4))
    ones = b.const(np.ones(2))
    b.node("BatchNormalization", ones, ones, ones, ones).node("Flatten")
    _refused(b, tmp_path, "'BatchNormalization'", "folded")


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    b = GraphBuilder((1, 4, 4))
    b.node("Conv", b.rand(2, 1, 2, 2)).node("Flatten")
    good = b.save(tmp_path / "good.onnx")
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ConfigError, match="not a readable ONNX model") as info:
        load_onnx(bad)
    assert str(bad) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_onnx(tmp_path / "nope.onnx")


def test_wrong_import_is_caught_by_the_runtime_check(tmp_path: Path) -> None:
    # A model that xbarsim reads correctly passes; a forged tolerance of 0 makes the check fire,
    # which shows the comparison really runs.
    b = GraphBuilder((3,))
    b.node("Gemm", b.rand(3, 3), b.rand(3), transB=1).node("Tanh")
    path = b.save(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="differs from onnxruntime"):
        load_onnx(path, rtol=0.0)


def test_float_input_required(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, ["N", 3])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="id")], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "int_in.onnx"
    onnx.save(m, str(path))
    with pytest.raises(ConfigError, match="only float inputs"):
        load_onnx(path)


def _mlp_of_type(path: Path, elem: int, dtype: type) -> Path:
    rng = np.random.default_rng(3)
    w1 = onnx.numpy_helper.from_array(rng.normal(size=(4, 6)).astype(dtype), "w1")
    w2 = onnx.numpy_helper.from_array(rng.normal(size=(6, 3)).astype(dtype), "w2")
    x = helper.make_tensor_value_info("x", elem, ["N", 4])
    y = helper.make_tensor_value_info("y", elem, ["N", 3])
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    graph = helper.make_graph(nodes, "g", [x], [y], [w1, w2])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def test_double_input_model_is_run_with_double_inputs(tmp_path: Path) -> None:
    # The import accepts float64 inputs; onnxruntime must then be fed float64, not float32 (it raised
    # its own InvalidArgument, untyped, both at import and for the software baseline).
    from xbarsim.networks import onnxruntime_forward
    path = _mlp_of_type(tmp_path / "f64.onnx", TensorProto.DOUBLE, np.float64)
    net = load_onnx(path)
    assert net.import_check is not None and net.import_check.max_rel < 1e-12
    x = np.random.default_rng(1).normal(size=(7, 4))
    assert rel_diff(net.forward(x), onnxruntime_forward(path, x, (4,))) < 1e-12


@pytest.mark.parametrize("x, words", [
    (np.zeros((3, 5)), r"`x` must have shape \(B, 4\) or \(B, 4\); got shape \(3, 5\)"),
    (np.zeros((3, 8)), r"got shape \(3, 8\)"),  # before: read as 6 samples of 4
    ([["a", "b", "c", "d"]], "`x` must be"),
    (np.array([[0.0, np.nan, 0.0, 0.0]]), "`x` must be"),
])
def test_onnxruntime_forward_checks_x_as_the_network_does(tmp_path: Path, x, words) -> None:
    """A mis-shaped or non-numeric x was numpy's reshape or conversion ValueError, and a (B, 2 n)
    array was silently read as 2 B samples; now the network's own input check, a ConfigError."""
    from xbarsim.networks import onnxruntime_forward
    path = _mlp_of_type(tmp_path / "f64.onnx", TensorProto.DOUBLE, np.float64)
    with pytest.raises(ConfigError, match=words):
        onnxruntime_forward(path, x, (4,))
    one = np.arange(4.0)  # one sample, flat, still accepted
    assert onnxruntime_forward(path, one, (4,)).shape[0] == 1



def test_model_onnxruntime_cannot_run_is_a_typed_error(tmp_path: Path) -> None:
    """A float64 CNN (``model.double()`` before export): onnxruntime's CPU provider has no double Conv.
    Its NotImplemented escaped load_onnx's check, and onnxruntime_forward (the software baseline of
    evaluate), untyped; now a ConfigError naming the file and onnxruntime's reason."""
    import onnxruntime as ort

    from xbarsim.networks import onnxruntime_forward
    rng = np.random.default_rng(0)
    w = onnx.numpy_helper.from_array(rng.normal(size=(2, 3, 3, 3)), "w")
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 3, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 32])
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["y"], name="flat")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = tmp_path / "f64_cnn.onnx"
    onnx.save(m, str(path))
    from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as OrtNotImplemented

    # the premise: this onnxruntime has no double Conv (its own typed error, not any Exception)
    with pytest.raises(OrtNotImplemented, match="NOT_IMPLEMENTED.*Conv"):
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(ConfigError, match="onnxruntime .* cannot run the model .*Conv") as info:
        load_onnx(path)
    assert str(path) in str(info.value) and "check=False" in str(info.value)
    net = load_onnx(path, check=False)
    assert net.import_check is None
    with pytest.raises(ConfigError, match="cannot run the model"):
        onnxruntime_forward(path, np.zeros((2, 3, 6, 6)), (3, 6, 6))

def test_float16_input_model_is_fed_float16(tmp_path: Path) -> None:
    # float16 arithmetic cannot meet the float32 tolerance: refused as a typed error that says so,
    # and accepted with a tolerance above float16 rounding.
    from xbarsim.networks import onnxruntime_forward
    path = _mlp_of_type(tmp_path / "f16.onnx", TensorProto.FLOAT16, np.float16)
    with pytest.raises(ConfigError, match="float16"):
        load_onnx(path)
    net = load_onnx(path, rtol=1e-2)
    assert net.import_check is not None and net.import_check.max_rel < 1e-2
    x = np.random.default_rng(1).random((5, 4))
    assert rel_diff(net.forward(x.astype(np.float16).astype(np.float64)), onnxruntime_forward(path, x, (4,))) < 1e-2


@pytest.mark.parametrize("shape", [(1, 1), (1,), (), (1, 3), (3,)])
def test_gemm_per_output_bias_shapes(shape: tuple[int, ...], tmp_path: Path) -> None:
    # Every C that broadcasts to (batch, n_out) the same for every sample is a bias, (1, 1) included.
    b = GraphBuilder((4,))
    b.node("Gemm", b.rand(4, 3), b.rand(*shape), beta=0.5)
    _check(b, tmp_path)


def test_gemm_per_sample_c_refused(tmp_path: Path) -> None:
    # C of shape (batch, 1) adds one value per *sample* (a fixed batch of 3 here), not per output;
    # it was read as a per-output bias because it holds 3 values, a wrong network without the check.
    b = GraphBuilder((4,), batch=3)
    b.node("Gemm", b.rand(4, 3), b.rand(3, 1))
    path = b.save(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="per sample"):
        load_onnx(path, check=False)


def test_external_data_model_is_read_beside_the_model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights saved as external data (``save_as_external_data``, as exporters do for large models)
    lie in a file named relative to the model's folder, where onnxruntime reads them. They were looked
    for relative to the working directory: from anywhere else the model was refused as 'not a
    readable ONNX model (... it is not regular file)', and a same-named file there would have been read."""
    from onnx.external_data_helper import convert_model_to_external_data

    from xbarsim.networks import onnxruntime_forward
    b = GraphBuilder((1, 6, 6))
    b.node("Conv", b.rand(3, 1, 3, 3), b.rand(3), pads=[1, 1, 1, 1]).node("Relu").node("Flatten")
    _dense_head(b, 108)
    model = b.model()
    folder = tmp_path / "model"
    folder.mkdir()
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    onnx.save(model, str(folder / "m.onnx"))
    assert (folder / "weights.bin").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    net = load_onnx(folder / "m.onnx")
    assert net.import_check is not None and net.import_check.max_rel < 1e-5
    x = np.random.default_rng(1).normal(size=(5, 1, 6, 6))
    ref = onnxruntime_forward(folder / "m.onnx", x, (1, 6, 6))
    assert rel_diff(net.forward(x.astype(np.float32).astype(np.float64)), ref) < 1e-5
    # a model whose weights pass protobuf's limit once loaded (the limit lowered to just above the .onnx
    # file's size here): the checker refuses such an in-memory model, so it checks the path (before:
    # checked after the external data was loaded, so a model over 2 GB was refused)
    small, data = (folder / "m.onnx").stat().st_size, (folder / "weights.bin").stat().st_size
    assert data > 1000
    monkeypatch.setattr(onnx.checker, "MAXIMUM_PROTOBUF", small + 200)
    assert load_onnx(folder / "m.onnx").import_check.max_rel < 1e-5
    (folder / "weights.bin").unlink()
    with pytest.raises(ConfigError, match="weights.bin") as info:
        load_onnx(folder / "m.onnx")
    assert str(folder / "m.onnx") in str(info.value)


@pytest.mark.parametrize("after", ["MatMul", "Conv"])
@pytest.mark.parametrize("check", [True, False])
def test_add_of_a_constant_with_more_axes_than_the_tensor_refused(after: str, check: bool, tmp_path: Path) -> None:
    """A one-value addend of shape (1, 1, 1) after a MatMul (or (1, 1, 1, 1, 1) after a Conv) is not a
    bias: broadcasting prepends its extra axis, so onnxruntime's output is (1, B, n). It was folded as
    a scalar bias: with the import check, numpy's untyped ValueError (operands could not be broadcast)
    escaped; without it, a network whose batch axis differs from the model's was returned."""
    if after == "MatMul":
        b = GraphBuilder((5,))
        b.node("MatMul", b.rand(5, 4)).node("Add", b.rand(1, 1, 1))
    else:
        b = GraphBuilder((2, 4, 4))
        b.node("Conv", b.rand(3, 2, 1, 1)).node("Add", b.rand(1, 1, 1, 1, 1)).node("Flatten")
    path = b.save(tmp_path / "rank.onnx")
    with pytest.raises(ConfigError, match="more axes than the tensor") as info:
        load_onnx(path, check=check)
    assert "'Add'" in str(info.value) and "node 'add_2'" in str(info.value) and str(path) in str(info.value)


def test_import_check_compares_output_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import check refuses an onnxruntime output whose shape differs from xbarsim's (before, the
    two were subtracted with numpy broadcasting: an untyped ValueError, or a comparison of
    broadcast copies, e.g. (4, 1) against (4, 3), that could pass)."""
    import xbarsim.networks.onnx_import as onnx_import
    b = GraphBuilder((5,))
    b.node("Gemm", b.rand(5, 3), b.rand(3))
    path = b.save(tmp_path / "m.onnx")
    real = onnx_import._run_session
    monkeypatch.setattr(onnx_import, "_run_session", lambda *a: real(*a)[:, :1])
    with pytest.raises(ConfigError, match=r"shape \(4, 1\).*\(4, 3\); the import is wrong") as info:
        load_onnx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("which,shape", [("var", (4,)), ("bias", (4,)), ("mean", (1,)), ("scale", (3, 1, 1))])
def test_batchnorm_parameters_of_the_wrong_shape_refused(which: str, shape: tuple[int, ...], tmp_path: Path) -> None:
    """Each of scale, bias, mean and var must hold one value per channel. A var (or bias) of 4 values
    after a 3-channel Conv raised numpy's untyped ValueError (operands could not be broadcast) while
    folding; a scale of shape (3, 1, 1) was reported as 'its scale has shape (3, 1, 3)' (the
    broadcast of scale / sqrt(var), not its own shape). Now a ConfigError naming the parameter,
    its initializer, its shape, the node and the file, with or without the runtime check."""
    b = GraphBuilder((2, 5, 5))
    b.node("Conv", b.rand(3, 2, 3, 3))
    params = {"scale": b.rand(3), "bias": b.rand(3), "mean": b.rand(3), "var": b.const(np.ones(3))}
    params[which] = b.const(np.ones(shape)) if which in ("var", "scale") else b.rand(*shape)
    b.node("BatchNormalization", params["scale"], params["bias"], params["mean"], params["var"]).node("Flatten")
    path = b.save(tmp_path / "bn.onnx")
    pattern = rf"its {which} '{params[which]}' has shape {re.escape(str(shape))}"
    with pytest.raises(ConfigError, match=pattern) as info:
        load_onnx(path, check=False)
    assert "'BatchNormalization'" in str(info.value) and "(3,)" in str(info.value) and str(path) in str(info.value)


def test_unnamed_node_is_named_by_position_and_output(tmp_path: Path) -> None:
    """Node names are optional in ONNX (onnx.helper, graph editors and some exporters leave them
    empty); a refusal then read "operator 'Elu' (node '')", which does not say which node.
    Now it gives the node's position in the graph and its output."""
    b = GraphBuilder((4,))
    _dense_head(b, 4).node("Elu")
    for node in b.nodes:
        node.name = ""
    _refused(b, tmp_path, "operator 'Elu' (node #1 of the graph, unnamed, output 't1')")


@pytest.mark.parametrize("shape,axis", [((2, 3, 4), -3), ((6,), -1)])
def test_flatten_with_the_negative_form_of_axis_1(shape: tuple[int, ...], axis: int, tmp_path: Path) -> None:
    """ONNX counts a negative axis from the last: Flatten axis -3 of a (B, C, H, W) tensor (-1 of a
    (B, n) one) is axis 1, keeping the batch. It was refused as 'axis -3 is not supported; only axis 1'."""
    b = GraphBuilder(shape)
    b.node("Flatten", axis=axis)
    _dense_head(b, int(np.prod(shape)))
    _check(b, tmp_path)


def test_flatten_of_another_axis_refused(tmp_path: Path) -> None:
    b = GraphBuilder((2, 3, 4))
    b.node("Flatten", axis=-2)
    _dense_head(b, 12)
    _refused(b, tmp_path, "'Flatten'", "axis -2 of a rank-4 tensor is not supported", "only axis 1 (or -3")


def test_inputs_that_differ_by_size_one_axes_are_accepted(tmp_path: Path) -> None:
    """(B, 4) for a (1, 4) model holds the same values in the same order (an image without its channel
    axis): the network and onnxruntime_forward take it, as reshape(-1, 1, 4) did before the input check."""
    from xbarsim.networks.layered import input_batch
    x = np.arange(12.0).reshape(3, 1, 4)
    np.testing.assert_array_equal(input_batch(x[:, 0, :], (1, 4)), x)
    np.testing.assert_array_equal(input_batch(x[:, :, :, None], (1, 4)), x)
    img = np.arange(12.0).reshape(3, 1, 2, 2)  # (B, H, W) images for a (1, H, W) model
    np.testing.assert_array_equal(input_batch(img[:, 0], (1, 2, 2)), img)
    with pytest.raises(ConfigError, match="`x` must have shape"):
        input_batch(np.zeros((3, 2, 2)), (1, 4))  # the same size in another layout
