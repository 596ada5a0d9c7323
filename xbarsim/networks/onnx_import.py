"""Import an ONNX model as a :class:`~xbarsim.networks.Network`, checked against onnxruntime.

Supported graphs are chains: every node takes the previous node's output as its one data input
and constants (initializers, ``Constant`` nodes, and ``Identity`` copies of them, which exporters
write for tied weights) for the rest. Supported operators:

* weighted: ``Conv`` (2-D, ``group = 1``, any stride / padding / dilation, ``auto_pad`` NOTSET,
  VALID, SAME_UPPER, SAME_LOWER), ``Gemm`` (``transA = 0``), ``MatMul`` with a constant matrix,
  and ``Add`` of a constant right after one of them (folded into its bias);
* ``BatchNormalization`` right after a Conv / Gemm / MatMul, folded into its weights and bias
  (``w' = w * g / sqrt(var + eps)``, ``b' = (b - mean) * g / sqrt(var + eps) + beta`` per output);
* ``Relu``, ``Tanh``, ``Sigmoid``, ``LeakyRelu`` (its ``alpha``), ``Clip`` with constant bounds
  (attributes before opset 11; from opset 11 inputs that are initializers or ``Constant`` nodes,
  either may be absent; e.g. ReLU6), ``Softmax`` and ``LogSoftmax`` (before opset 13 on vectors
  only, as both then flatten their input; from 13 along any non-batch axis), ``MaxPool``,
  ``AveragePool``, ``GlobalAveragePool``, ``Flatten`` (axis 1, or its negative form), ``Reshape``
  (constant shape), ``Identity`` and ``Dropout`` (inference: identity).

A network ending in ``LogSoftmax`` outputs log-probabilities
(:attr:`~xbarsim.networks.Network.outputs_log_probabilities`): its labels are their argmax, its
probabilities their ``exp``.

The first axis of the graph input is the batch: symbolic (``dynamic_axes`` of
``torch.onnx.export``) or fixed, the network takes any batch. Every other axis must be a fixed
number. Everything else -- other operators, grouped convolutions, shapes computed at run time
(``Shape``), symbolic non-batch axes, non-float weights, a ``Clip`` bound computed at run time,
branches -- raises ConfigError naming the operator, the node and the file.

Weights may be stored as external data (files named relative to the model's folder, as
``onnx.save(..., save_as_external_data=True)`` writes them). onnx is imported lazily;
onnxruntime (when installed) runs the model on a seeded probe batch at import and the
difference is kept in :attr:`Network.import_check`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim.errors import ConfigError
from xbarsim.networks.layered import (
    LEAKY_RELU_SLOPE,
    Activation,
    Clip,
    Conv2d,
    Dense,
    Flatten,
    GlobalAvgPool,
    ImportCheck,
    Layer,
    LogSoftmax,
    Network,
    Pool2d,
    Reshape,
    Softmax,
    input_batch,
)

__all__ = ["load_onnx", "onnxruntime_forward", "reference_scores", "SUPPORTED_OPERATORS", "IMPORT_RTOL"]

#: Operators :func:`load_onnx` understands.
SUPPORTED_OPERATORS: tuple[str, ...] = (
    "Conv", "Gemm", "MatMul", "Add", "BatchNormalization", "Relu", "Tanh", "Sigmoid", "LeakyRelu", "Clip",
    "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Identity",
    "Dropout", "Constant",
)
#: Largest relative difference (to the largest output magnitude) tolerated between xbarsim's forward
#: pass and onnxruntime's on the import probe; onnxruntime computes in float32.
IMPORT_RTOL = 1e-5

_ACTIVATIONS = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}
_FLOAT_TYPES = ("float16", "float32", "float64", "bfloat16")


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("reading ONNX models needs the `onnx` package: pip install 'xbarsim[onnx]'.") from exc
    return onnx


class _Graph:
    """What the walk over the nodes needs: constants, the file name for messages."""

    def __init__(self, path: str, onnx: Any, model: Any) -> None:
        self.path = path
        self.onnx = onnx
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)
        self.consts: dict[str, np.ndarray] = {}
        for init in model.graph.initializer:
            self.consts[init.name] = onnx.numpy_helper.to_array(init)
        # node names are optional (onnx.helper and graph editors leave them empty): an unnamed node is
        # named by its position in the graph and its output, which every node has and no two share
        self.positions = {node.output[0]: k for k, node in enumerate(model.graph.node) if node.output}

    def fail(self, node: Any, why: str) -> ConfigError:
        if node.name:
            label = repr(node.name)
        else:
            out = node.output[0] if node.output else ""
            label = f"#{self.positions.get(out, '?')} of the graph, unnamed, output {out!r}"
        return ConfigError(f"{self.path}: operator {node.op_type!r} (node {label}): {why}.")

    def attrs(self, node: Any) -> dict[str, Any]:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def const(self, node: Any, name: str, what: str, *, weight: bool) -> np.ndarray:
        if name not in self.consts:
            raise self.fail(node, f"its {what} {name!r} is computed at run time; only constant (initializer) "
                                  f"{what}s are supported")
        arr = self.consts[name]
        if weight:
            if arr.dtype.name not in _FLOAT_TYPES:
                raise self.fail(node, f"its {what} {name!r} holds {arr.dtype.name} values; only float weights "
                                      "(float16/32/64) are supported (quantized models are not)")
            out = np.asarray(arr, dtype=np.float64)
            if not np.isfinite(out).all():
                raise self.fail(node, f"its {what} {name!r} holds non-finite values (NaN or inf) at "
                                      f"{np.argwhere(~np.isfinite(out))[0].tolist()}")
            return out
        return arr


def _input_shape(graph: _Graph, model: Any) -> tuple[str, tuple[int, ...], int | None]:
    inputs = [i for i in model.graph.input if i.name not in graph.consts]
    if len(inputs) != 1:
        raise ConfigError(f"{graph.path}: the graph must have exactly one data input; it has "
                          f"{[i.name for i in inputs]}.")
    inp = inputs[0]
    ttype = inp.type.tensor_type
    if ttype.elem_type not in (graph.onnx.TensorProto.FLOAT, graph.onnx.TensorProto.DOUBLE,
                               graph.onnx.TensorProto.FLOAT16):
        raise ConfigError(f"{graph.path}: input {inp.name!r} has element type "
                          f"{graph.onnx.TensorProto.DataType.Name(ttype.elem_type)}; only float inputs are supported.")
    if not ttype.HasField("shape") or len(ttype.shape.dim) < 2:
        raise ConfigError(f"{graph.path}: input {inp.name!r} has no static shape (batch, ...); export it with a "
                          "fixed input shape (only the batch axis may be dynamic).")
    dims = list(ttype.shape.dim)
    batch = dims[0].dim_value if dims[0].HasField("dim_value") else None
    shape = []
    for k, d in enumerate(dims[1:], start=1):
        if not d.HasField("dim_value") or d.dim_value < 1:
            label = d.dim_param or "unknown"
            raise ConfigError(f"{graph.path}: input {inp.name!r} axis {k} is dynamic ({label!r}); only the batch "
                              "axis (0) may be dynamic: export with a fixed input size.")
        shape.append(int(d.dim_value))
    return inp.name, tuple(shape), batch


def _same_pads(size: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
               dilation: tuple[int, int], mode: str) -> list[int]:
    begin, end = [], []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small, big = total // 2, total - total // 2
        begin.append(small if mode == "SAME_UPPER" else big)
        end.append(big if mode == "SAME_UPPER" else small)
    return begin + end


def _window_attrs(graph: _Graph, node: Any, attrs: dict[str, Any], kernel: tuple[int, int],
                  size: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
    strides = tuple(attrs.get("strides", (1, 1)))
    dilations = tuple(attrs.get("dilations", (1, 1)))
    if len(strides) != 2 or len(dilations) != 2:
        raise graph.fail(node, "only 2-D windows are supported")
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad == "NOTSET":
        pads = list(attrs.get("pads", (0, 0, 0, 0)))
    elif auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pads(size[-2:], kernel, strides, dilations, auto_pad)  # type: ignore[arg-type]
    else:
        raise graph.fail(node, f"auto_pad {auto_pad!r} is not supported")
    if len(pads) != 4:
        raise graph.fail(node, f"pads {pads} must have 4 entries (2-D)")
    # ONNX pads: (x1_begin, x2_begin, x1_end, x2_end) = (top, left, bottom, right)
    return strides, dilations, tuple(int(p) for p in pads)  # type: ignore[return-value]


def _fold_scale(layer: Dense | Conv2d, scale: FloatArray, shift: FloatArray) -> Dense | Conv2d:
    """``layer`` followed by ``z * scale + shift`` per output, as one layer."""
    bias = np.zeros_like(shift) if layer.bias is None else layer.bias
    if isinstance(layer, Conv2d):
        return Conv2d(weight=layer.weight * scale[:, None, None, None], bias=bias * scale + shift,
                      stride=layer.stride, padding=layer.padding, dilation=layer.dilation)
    return Dense(weight=layer.weight * scale[None, :], bias=bias * scale + shift)


def _walk(graph: _Graph, model: Any, input_name: str, input_shape: tuple[int, ...],
          batch: int | None) -> tuple[list[Layer], str]:
    layers: list[Layer] = []
    shape = input_shape
    current = input_name
    fresh_weighted = False  # the current tensor is the output of the last weighted layer, before anything else
    for node in model.graph.node:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise graph.fail(node, f"operators of domain {node.domain!r} are not supported")
        attrs = graph.attrs(node)
        if op == "Constant":
            value = attrs.get("value")
            if value is None:
                raise graph.fail(node, "only the 'value' form of Constant is supported")
            graph.consts[node.output[0]] = graph.onnx.numpy_helper.to_array(value)
            continue
        if op == "Identity" and node.input and node.input[0] != current and node.input[0] in graph.consts:
            # exporters copy shared or tied parameters through an Identity: a constant, not a layer
            graph.consts[node.output[0]] = graph.consts[node.input[0]]
            continue
        if op == "Shape":
            raise graph.fail(node, "it computes a shape at run time, which cannot be resolved statically; export "
                                   "flattening with torch.flatten / nn.Flatten or a constant Reshape")
        if op not in SUPPORTED_OPERATORS:
            raise graph.fail(node, f"not supported; supported operators: {', '.join(SUPPORTED_OPERATORS)}")
        if not node.input or node.input[0] != current:
            used = [n for n in node.input if n == current]
            if op == "Add" and len(node.input) == 2 and node.input[1] == current and node.input[0] in graph.consts:
                pass
            elif not used:
                raise graph.fail(node, f"its data input {list(node.input)} is not the output of the previous node "
                                       f"({current!r}); only chains of layers are supported (no branches)")
            else:
                raise graph.fail(node, "the running tensor must be its first input")
        extra = [n for n in node.input[1:] if n == current]
        if extra and op not in ("Add", "Clip"):  # a Clip bound that is the running tensor: refused below
            raise graph.fail(node, "the running tensor appears twice among its inputs")
        new: Layer | None = None
        folded = False
        if op == "Conv":
            w = graph.const(node, node.input[1], "weight", weight=True)
            if w.ndim != 4:
                raise graph.fail(node, f"only 2-D convolutions are supported; its weight has shape {w.shape}")
            group = int(attrs.get("group", 1))
            if group != 1:
                raise graph.fail(node, f"grouped convolution (group = {group}) is not supported; only group = 1")
            kernel = tuple(attrs.get("kernel_shape", w.shape[2:]))
            if kernel != w.shape[2:]:
                raise graph.fail(node, f"kernel_shape {kernel} does not match its weight {w.shape}")
            strides, dilations, pads = _window_attrs(graph, node, attrs, w.shape[2:], shape)  # type: ignore[arg-type]
            b = graph.const(node, node.input[2], "bias", weight=True) if len(node.input) > 2 and node.input[2] \
                else None
            new = Conv2d(weight=w, bias=b, stride=strides, padding=pads, dilation=dilations)
        elif op in ("Gemm", "MatMul"):
            w = graph.const(node, node.input[1], "weight", weight=True)
            if w.ndim != 2:
                raise graph.fail(node, f"its weight must be a matrix; got shape {w.shape}")
            b = None
            if op == "Gemm":
                if int(attrs.get("transA", 0)):
                    raise graph.fail(node, "transA = 1 is not supported (the running tensor must be A)")
                if int(attrs.get("transB", 0)):
                    w = w.T
                w = w * float(attrs.get("alpha", 1.0))
                if len(node.input) > 2 and node.input[2]:
                    c = graph.const(node, node.input[2], "bias", weight=True) * float(attrs.get("beta", 1.0))
                    try:
                        # C broadcasts to (batch, n_out): a bias only when it is the same for every
                        # sample, i.e. its axis before the last (if any) has length 1
                        if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
                            raise ValueError
                        b = np.broadcast_to(c.reshape(-1), (w.shape[1],)).copy()
                    except ValueError:
                        raise graph.fail(node, f"its bias of shape {c.shape} does not broadcast to "
                                               f"({w.shape[1]},) per sample") from None
            new = Dense(weight=w, bias=b)
        elif op == "Add":
            other = node.input[1] if node.input[0] == current else node.input[0]
            c = graph.const(node, other, "addend", weight=True)
            last = layers[-1] if layers else None
            if not (fresh_weighted and isinstance(last, (Dense, Conv2d))):
                raise graph.fail(node, "only an Add of a constant right after Conv / Gemm / MatMul (a bias) is "
                                       "supported (no residual connections)")
            n_out = last.matrix.shape[1]
            if c.ndim > 1 + len(shape):
                # broadcasting prepends the extra axes to the result: (B, n) + (1, 1, 1) is (1, B, n)
                raise graph.fail(node, f"its constant of shape {c.shape} has more axes than the tensor it is added "
                                       f"to (batch and per-sample shape {shape}), which would move the batch axis")
            if c.size == 1:
                per = np.full(n_out, float(c.reshape(-1)[0]))
            elif isinstance(last, Dense) and c.size == n_out and (c.ndim == 1 or c.shape == (1, n_out)):
                per = c.reshape(-1)
            elif (isinstance(last, Conv2d) and c.size == n_out
                  and (c.shape == (n_out, 1, 1) or c.shape == (1, n_out, 1, 1))):
                per = c.reshape(-1)
            else:
                raise graph.fail(node, f"its constant of shape {c.shape} is not a per-output bias of {n_out} values")
            layers[-1] = _fold_scale(last, np.ones(n_out), per)
            folded = True
        elif op == "BatchNormalization":
            last = layers[-1] if layers else None
            if not (fresh_weighted and isinstance(last, (Dense, Conv2d))):
                raise graph.fail(node, "BatchNormalization is supported only right after Conv / Gemm / MatMul, where "
                                       "it is folded into the weights")
            if int(attrs.get("training_mode", 0)):
                raise graph.fail(node, "training_mode = 1 is not supported (export the model in eval mode)")
            gamma, beta, mean, var = (graph.const(node, n, what, weight=True)
                                      for n, what in zip(node.input[1:5], ("scale", "bias", "mean", "var")))
            n_out = last.matrix.shape[1]
            for name, what, arr in zip(node.input[1:5], ("scale", "bias", "mean", "var"), (gamma, beta, mean, var)):
                if arr.shape != (n_out,):
                    raise graph.fail(node, f"its {what} {name!r} has shape {arr.shape}; it needs one value per "
                                           f"channel of the layer before it, shape ({n_out},)")
            eps = float(attrs.get("epsilon", 1e-5))
            if not np.all(var + eps > 0):
                raise graph.fail(node, f"its var + epsilon is {float(np.min(var + eps))!r} (at channel "
                                       f"{int(np.argmin(var + eps))}); it must be positive, as the output is "
                                       "divided by its square root")
            scale = gamma / np.sqrt(var + eps)
            layers[-1] = _fold_scale(last, scale, beta - mean * scale)
            folded = True
        elif op in _ACTIVATIONS:
            new = Activation(kind=_ACTIVATIONS[op])  # type: ignore[arg-type]
        elif op == "LeakyRelu":
            new = Activation(kind="leaky-relu", slope=float(attrs.get("alpha", LEAKY_RELU_SLOPE)))
        elif op == "Clip":
            new = _clip(graph, node, attrs)
        elif op in ("Softmax", "LogSoftmax"):
            axis = int(attrs.get("axis", -1 if graph.opset >= 13 else 1))
            if graph.opset < 13 and len(shape) != 1:
                raise graph.fail(node, f"{op} before opset 13 flattens its input; only vectors are supported "
                                       f"(the input has per-sample shape {shape})")
            new = Softmax(axis=axis) if op == "Softmax" else LogSoftmax(axis=axis)
        elif op in ("MaxPool", "AveragePool"):
            if int(attrs.get("ceil_mode", 0)):
                raise graph.fail(node, "ceil_mode = 1 is not supported")
            if len(node.output) > 1 and node.output[1]:
                raise graph.fail(node, "the Indices output is not supported")
            kernel = tuple(attrs["kernel_shape"])
            if len(kernel) != 2:
                raise graph.fail(node, "only 2-D pooling is supported")
            strides, dilations, pads = _window_attrs(graph, node, attrs, kernel, shape)  # type: ignore[arg-type]
            if dilations != (1, 1):
                raise graph.fail(node, "dilated pooling is not supported")
            try:
                new = Pool2d(kind="max" if op == "MaxPool" else "average", kernel=kernel, stride=strides,
                             padding=pads, count_include_pad=bool(int(attrs.get("count_include_pad", 0))))
            except ConfigError as exc:
                raise graph.fail(node, str(exc).rstrip(".")) from None
        elif op == "GlobalAveragePool":
            new = GlobalAvgPool()
        elif op == "Flatten":
            axis = int(attrs.get("axis", 1))
            rank = 1 + len(shape)
            if (axis + rank if axis < 0 else axis) != 1:  # ONNX counts a negative axis from the last
                raise graph.fail(node, f"axis {axis} of a rank-{rank} tensor is not supported; only axis 1 (or "
                                       f"{1 - rank}: keep the batch)")
            new = Flatten()
        elif op == "Reshape":
            target = [int(v) for v in graph.const(node, node.input[1], "shape", weight=False).reshape(-1)]
            new = Reshape(shape=_resolve_reshape(graph, node, target, shape, batch, attrs))
        elif op in ("Identity", "Dropout"):
            if op == "Dropout" and len(node.input) > 2 and node.input[2]:
                mode = graph.consts.get(node.input[2])
                if mode is None or bool(np.asarray(mode)):
                    raise graph.fail(node, "training_mode must be a constant false")
        else:  # pragma: no cover - SUPPORTED_OPERATORS is checked above
            raise graph.fail(node, "not supported")
        if new is not None:
            try:
                shape = new.output_shape(shape)
            except ConfigError as exc:
                raise graph.fail(node, str(exc).rstrip(".")) from None
            layers.append(new)
            fresh_weighted = isinstance(new, (Dense, Conv2d))
        elif not folded and op not in ("Identity", "Dropout"):  # pragma: no cover
            raise graph.fail(node, "not supported")
        current = node.output[0]
    return layers, current


def _clip(graph: _Graph, node: Any, attrs: Mapping[str, Any]) -> Clip:
    """The Clip layer of ``node``: bounds from its attributes before opset 11, from its optional
    ``min`` / ``max`` inputs (constants only) from 11 on; an infinite bound on its own side is none."""
    bounds: list[float | None] = []
    for k, what in enumerate(("min", "max")):
        if graph.opset < 11:
            value = attrs.get(what)
        else:
            name = node.input[k + 1] if len(node.input) > k + 1 else ""
            if not name:  # an optional input left out (torch.clamp(min=0) writes max as "")
                value = None
            elif name not in graph.consts:
                raise graph.fail(node, f"its {what} {name!r} is computed at run time; only constant bounds "
                                       "(initializers or Constant nodes) are supported")
            else:
                arr = np.asarray(graph.consts[name])
                if arr.size != 1 or arr.dtype.kind != "f":
                    raise graph.fail(node, f"its {what} {name!r} must be one float; it holds {arr.dtype.name} "
                                           f"of shape {arr.shape}")
                value = float(arr.reshape(()))
        if value is not None and np.isinf(value) and (value < 0) == (what == "min"):
            value = None  # -inf as min, +inf as max: no bound
        bounds.append(None if value is None else float(value))
    try:
        return Clip(low=bounds[0], high=bounds[1])
    except ConfigError as exc:
        raise graph.fail(node, str(exc).rstrip(".")) from None


def _resolve_reshape(graph: _Graph, node: Any, target: list[int], shape: tuple[int, ...], batch: int | None,
                     attrs: Mapping[str, Any]) -> tuple[int, ...]:
    if int(attrs.get("allowzero", 0)) and 0 in target:
        raise graph.fail(node, "allowzero = 1 with a zero in the shape is not supported")
    if not target or not (target[0] in (0, -1) or (batch is not None and target[0] == batch)):
        raise graph.fail(node, f"shape {target} does not keep the batch axis first (0, -1 or the batch size)")
    rest = [shape[k - 1] if v == 0 and k - 1 < len(shape) else v for k, v in enumerate(target) if k > 0]
    size = int(np.prod(shape))
    if target[0] == -1 and -1 in rest:
        raise graph.fail(node, f"shape {target} has two inferred axes")
    if -1 in rest:
        known = int(np.prod([v for v in rest if v != -1]))
        if rest.count(-1) > 1 or known == 0 or size % known:
            raise graph.fail(node, f"shape {target} cannot be resolved for per-sample shape {shape}")
        rest = [size // known if v == -1 else v for v in rest]
    if target[0] == -1 and int(np.prod(rest)) != size:
        raise graph.fail(node, f"shape {target} would change the batch size (per-sample shape {shape})")
    if any(v < 1 for v in rest) or int(np.prod(rest)) != size:
        raise graph.fail(node, f"shape {target} cannot be resolved for per-sample shape {shape}")
    return tuple(rest)


def _read_model(path: Path, onnx: Any) -> Any:
    if not path.is_file():
        raise ConfigError(f"ONNX model file {str(path)!r} does not exist.")
    try:
        model = onnx.load_model_from_string(path.read_bytes())
        # checked by path, before the external data is loaded: the checker refuses an in-memory model
        # over protobuf's 2 GB limit, which external data exists to get around
        onnx.checker.check_model(str(path))
        # weights saved as external data (save_as_external_data) lie in files named relative to the
        # model's folder, where onnxruntime reads them too; without this, onnx looked for them relative
        # to the working directory
        onnx.external_data_helper.load_external_data_for_model(model, str(path.resolve().parent))
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ... : all mean an unreadable file
        raise ConfigError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {str(exc)[:200]}).") from None
    return model


def load_onnx(path: str | os.PathLike[str], *, check: bool = True, rtol: float = IMPORT_RTOL) -> Network:
    """An ONNX model as a :class:`Network` (see the module notes for what is supported).

    Parameters
    ----------
    path : path
        The ``.onnx`` file.
    check : bool
        When onnxruntime is installed, run both on a seeded probe batch (uniform in [0, 1)) and keep
        the difference in :attr:`Network.import_check`.
    rtol : float
        Largest accepted ``max|xbarsim - onnxruntime| / max|onnxruntime|`` on that probe.

    Raises
    ------
    ConfigError
        Naming the file (and the operator and node): unreadable or truncated file, unsupported
        operator or attribute, shapes that cannot be resolved, non-float weights, or a probe
        difference above ``rtol``.
    """
    onnx = _import_onnx()
    p = Path(path)
    model = _read_model(p, onnx)
    graph = _Graph(str(p), onnx, model)
    input_name, input_shape, batch = _input_shape(graph, model)
    layers, last = _walk(graph, model, input_name, input_shape, batch)
    outputs = [o.name for o in model.graph.output]
    if outputs != [last]:
        raise ConfigError(f"{p}: the graph outputs {outputs}, but the chain of supported nodes ends in {last!r}; "
                          "exactly one output, the last node's, is supported.")
    try:
        net = Network(layers=tuple(layers), input_shape=input_shape, name=str(p), onnx_path=str(p))
    except ConfigError as exc:
        if "needs at least 2 output units" not in str(exc):
            raise ConfigError(f"{p}: {exc}") from None
        net = Network(layers=tuple(layers), input_shape=input_shape, name=str(p), output="sigmoid", onnx_path=str(p))
    if check:
        rt = _runtime()
        if rt is not None:
            dtype = _INPUT_DTYPES.get(_input_elem_type(model, input_name), np.dtype(np.float32))
            probe = np.random.default_rng(0).random((batch or 4,) + input_shape).astype(dtype)
            ref = _run_session(rt, p, probe, batch)
            ours = net.forward(probe.astype(np.float64))
            if ref.shape != ours.shape:
                raise ConfigError(f"{p}: onnxruntime's output for a probe batch of {probe.shape[0]} has shape "
                                  f"{ref.shape} (flattened per sample), xbarsim's {ours.shape}; the import is wrong.")
            diff = float(np.abs(ours - ref).max())
            peak = float(np.abs(ref).max())
            rel = diff / peak if peak > 0 else diff
            chk = ImportCheck(runtime=f"onnxruntime {rt.__version__}", samples=probe.shape[0], max_abs=diff,
                              max_rel=rel)
            if not rel <= rtol:
                why = ("; the model computes in float16, whose rounding alone is about 1e-3: pass a larger `rtol` "
                       "if that is the difference" if dtype == np.float16 else "; the import is wrong")
                raise ConfigError(f"{p}: xbarsim's forward pass differs from onnxruntime's by {rel:.2e} (relative to "
                                  f"the largest output) on a probe batch, more than {rtol:.0e}{why}.")
            net = dataclasses.replace(net, import_check=chk)
    return net


#: numpy dtype of each float element type an input may have (ONNX TensorProto codes, onnxruntime names).
_INPUT_DTYPES: dict[int, np.dtype[Any]] = {
    1: np.dtype(np.float32), 11: np.dtype(np.float64), 10: np.dtype(np.float16)}
_RUNTIME_DTYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32), "tensor(double)": np.dtype(np.float64),
    "tensor(float16)": np.dtype(np.float16)}


def _input_elem_type(model: Any, name: str) -> int:
    return int(next(i for i in model.graph.input if i.name == name).type.tensor_type.elem_type)


def _runtime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def _run_session(rt: Any, path: Path, x: np.ndarray, batch: int | None) -> FloatArray:
    opts = rt.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = rt.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's Fail, NotImplemented, InvalidGraph, ... share no base but Exception
        raise _runtime_failed(rt, path, exc) from None
    name = sess.get_inputs()[0].name
    # feed the element type the graph declares (float32, float64 or float16): onnxruntime refuses others
    x = np.asarray(x, dtype=_RUNTIME_DTYPES.get(sess.get_inputs()[0].type, np.dtype(np.float32)))
    step = batch or max(1, x.shape[0])
    outs = []
    for start in range(0, x.shape[0], step):
        chunk = x[start:start + step]
        try:
            if batch is not None and chunk.shape[0] < batch:  # a fixed batch: pad the last chunk
                chunk = np.concatenate([chunk, np.zeros((batch - chunk.shape[0],) + chunk.shape[1:], chunk.dtype)])
                outs.append(np.asarray(sess.run(None, {name: chunk})[0])[: x.shape[0] - start])
            else:
                outs.append(np.asarray(sess.run(None, {name: chunk})[0]))
        except Exception as exc:
            raise _runtime_failed(rt, path, exc) from None
    out = np.concatenate(outs).astype(np.float64)
    return out.reshape(out.shape[0], -1)


def _runtime_failed(rt: Any, path: Path, exc: Exception) -> ConfigError:
    return ConfigError(f"{path}: onnxruntime {rt.__version__} cannot run the model ({type(exc).__name__}: "
                       f"{str(exc).strip()[:300]}); it is the reference for the import check and for the "
                       "software baseline of evaluations (load_onnx(..., check=False) skips the check only).")


def onnxruntime_forward(path: str | os.PathLike[str], x: Any, input_shape: tuple[int, ...]) -> FloatArray:
    """The model's output for ``x`` computed by onnxruntime (in the element type of the model's input,
    float32 for most models), as ``(B, n_outputs)`` float64.

    ``x`` may be flattened ``(B, prod(input_shape))``. Raises ConfigError if onnxruntime is missing.
    """
    rt = _runtime()
    if rt is None:
        raise ConfigError("onnxruntime is not installed: pip install 'xbarsim[onnx]'.")
    onnx = _import_onnx()
    p = Path(path)
    model = _read_model(p, onnx)
    name, shape, batch = _input_shape(_Graph(str(p), onnx, model), model)
    if tuple(shape) != tuple(input_shape):
        raise ConfigError(f"{p}: the model takes per-sample shape {shape}, not {tuple(input_shape)}.")
    dtype = _INPUT_DTYPES.get(_input_elem_type(model, name), np.dtype(np.float32))
    # the network's own input checks (before: numpy's reshape ValueError for a mis-shaped x, and a
    # (B, 2 n) array silently read as 2 B samples)
    arr = input_batch(x, tuple(int(d) for d in shape)).astype(dtype)
    return _run_session(rt, p, arr, batch)


def reference_scores(network: Any, x: Any) -> tuple[FloatArray, str]:
    """The software baseline's output scores for ``x`` and the runtime that computed them.

    For a :class:`Network` imported from ONNX (``onnx_path`` set) with onnxruntime installed:
    onnxruntime on the file, so the reported software accuracy is the real runtime's. Otherwise the
    network's own forward pass (``"xbarsim"``).
    """
    path = getattr(network, "onnx_path", None)
    rt = _runtime() if path else None
    if rt is None or path is None:
        return network.forward(x), "xbarsim"
    return onnxruntime_forward(str(path), x, network.input_shape), f"onnxruntime {rt.__version__}"
