"""Layered networks: dense and 2-D convolutional layers, activations, pooling, reshapes.

A :class:`Network` is a chain of layers applied to a batch in ONNX's layout: images are
``(batch, channels, height, width)`` (N, C, H, W), vectors ``(batch, features)``. Its weighted
layers (:class:`Dense`, :class:`Conv2d`) all present the same face to hardware, a matrix
``W`` of shape ``(n_in, n_out)`` and the product ``x @ W`` over a batch of vectors:

* a dense layer is that product on the batch itself;
* a convolution's kernel ``(C_out, C_in, kH, kW)`` becomes the matrix ``(C_in*kH*kW, C_out)``
  (:meth:`Conv2d.matrix`), and its inputs become the image patches (:func:`im2col`), one vector
  per sample and output position, ordered ``(batch, out_row, out_col)``.

So :meth:`Network.forward`'s hook ``layer_fn(index, vectors, W) -> vectors @ W`` is the same for
both kinds, and a simulated crossbar that computes a dense layer computes a convolution too
(its DAC/ADC then work per patch). Today's :class:`~xbarsim.networks.MLP` converts exactly with
:meth:`Network.from_mlp` (bit-identical forward pass).

Notes
-----
Convolution is cross-correlation, as in ONNX and PyTorch::

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * xp[n, c, i*sH + p*dH, j*sW + q*dW]

with ``xp`` the input zero-padded by ``(top, left, bottom, right)`` and output size
``floor((H + top + bottom - dH*(kH-1) - 1) / sH) + 1``. Only ``groups = 1`` is supported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from numpy.lib.stride_tricks import as_strided

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, FloatArray, IntArray
from xbarsim._validation import as_float_array, check_choice, check_size, readonly, scalar, short_repr
from xbarsim.errors import ConfigError
from xbarsim.networks.mlp import (
    TERNARY_DELTA,
    MLP,
    LayerFn,
    OutputKind,
    _sigmoid,
    accuracy_of,
    check_arrays,
    check_layer_fn,
    quantize_activation,
    _score_matrix,
    ternarize_matrix,
)

__all__ = [
    "PoolKind",
    "ActivationKind",
    "LEAKY_RELU_SLOPE",
    "Dense",
    "Conv2d",
    "Activation",
    "Softmax",
    "LogSoftmax",
    "Clip",
    "Pool2d",
    "GlobalAvgPool",
    "Flatten",
    "Reshape",
    "Layer",
    "ImportCheck",
    "Network",
    "im2col",
    "conv_output_size",
    "input_batch",
]

#: Pooling kinds.
PoolKind = Literal["max", "average"]
#: Element-wise nonlinearities of :class:`Activation`.
ActivationKind = Literal["relu", "tanh", "sigmoid", "identity", "wage-relu", "leaky-relu"]
#: Slope of ``"leaky-relu"`` for negative inputs when none is given (ONNX's LeakyRelu ``alpha`` and
#: PyTorch's ``negative_slope`` default).
LEAKY_RELU_SLOPE = 0.01


def _pair(value: Any, name: str, *, minimum: int) -> tuple[int, int]:
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
                                 for v in vals):
        raise ConfigError(f"`{name}` must be an int >= {minimum} or a pair of them; got {short_repr(value)}.")
    return int(vals[0]), int(vals[1])


def _pads(value: Any) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` from an int, a pair ``(rows, cols)`` or four ints (ONNX order)."""
    if isinstance(value, (tuple, list)) and len(value) == 4:
        vals = tuple(value)
    else:
        r, c = _pair(value, "padding", minimum=0)
        vals = (r, c, r, c)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in vals):
        raise ConfigError(f"`padding` must be ints >= 0 (one, a pair, or top, left, bottom, right); "
                          f"got {short_repr(value)}.")
    return tuple(int(v) for v in vals)  # type: ignore[return-value]


def conv_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis (floor rule)."""
    return (size + pad_begin + pad_end - dilation * (kernel - 1) - 1) // stride + 1


def _windows(x: FloatArray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
             ) -> FloatArray:
    """View ``(B, C, kH, kW, Ho, Wo)`` of the windows of an (already padded) ``(B, C, H, W)`` array."""
    b, c, h, w = x.shape
    kh, kw = kernel
    ho = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    sb, sc, sh, sw = x.strides
    return as_strided(x, shape=(b, c, kh, kw, ho, wo),
                      strides=(sb, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
                      writeable=False)


def _pad(x: FloatArray, pads: tuple[int, int, int, int], value: float) -> FloatArray:
    t, left, bottom, r = pads
    if not any(pads):
        return np.ascontiguousarray(x)
    return np.pad(x, ((0, 0), (0, 0), (t, bottom), (left, r)), constant_values=value)


def im2col(x: ArrayLike, kernel: tuple[int, int], *, stride: tuple[int, int] = (1, 1),
           padding: tuple[int, int, int, int] = (0, 0, 0, 0), dilation: tuple[int, int] = (1, 1)) -> FloatArray:
    """Image patches as vectors: ``(B*Ho*Wo, C*kH*kW)`` from images ``(B, C, H, W)``.

    Row ``(n*Ho + i)*Wo + j`` is the patch of sample ``n`` at output position ``(i, j)``; column
    ``(c*kH + p)*kW + q`` is input channel ``c`` at kernel offset ``(p, q)``, the order of
    :meth:`Conv2d.matrix`, so ``im2col(x) @ conv.matrix`` is the convolution without its bias.
    Padding is zeros.
    """
    # before: a kernel or stride of 0, a negative pad, text, and a window larger than the padded image (whose
    # "does not fit" came after as_strided's own ValueError) were numpy's errors or empty patches
    kernel, stride = _pair(kernel, "kernel", minimum=1), _pair(stride, "stride", minimum=1)
    dilation, padding = _pair(dilation, "dilation", minimum=1), _pads(padding)
    try:
        raw = None if isinstance(x, (str, bytes)) else np.asarray(x)
        arr = np.asarray(raw, dtype=np.float64) if raw is not None and raw.dtype.kind in "fiu" else None
    except (TypeError, ValueError):
        arr = None
    if arr is None:
        raise ConfigError(f"`x` must be numeric images (B, C, H, W); got {short_repr(x)}.")
    if arr.ndim != 4:
        raise ConfigError(f"`x` must be images (B, C, H, W); got shape {arr.shape}.")
    t, left, bottom, r = padding
    if (conv_output_size(arr.shape[2], kernel[0], stride[0], t, bottom, dilation[0]) < 1
            or conv_output_size(arr.shape[3], kernel[1], stride[1], left, r, dilation[1]) < 1):
        raise ConfigError(f"a {kernel} window (stride {stride}, dilation {dilation}, padding {padding}) does not fit "
                          f"images of {arr.shape[2]}x{arr.shape[3]}.")
    win = _windows(_pad(arr, padding, 0.0), kernel, stride, dilation)
    b, c, kh, kw, ho, wo = win.shape
    check_size((b * ho * wo, c * kh * kw), "patches")
    return np.ascontiguousarray(win.transpose(0, 4, 5, 1, 2, 3)).reshape(b * ho * wo, c * kh * kw)


# ------------------------------------------------------------------------------------- layers
@dataclass(frozen=True, kw_only=True, eq=False)
class Dense:
    """``z = x @ weight + bias`` on vectors ``(B, n_in)``.

    Attributes
    ----------
    weight : ndarray, shape (n_in, n_out)
        Dimensionless.
    bias : ndarray, shape (n_out,), or None
    """

    __repr__ = compact_repr

    weight: FloatArray
    bias: FloatArray | None = None

    def __post_init__(self) -> None:
        w = as_float_array(self.weight, "weight", what="finite (n_in, n_out) weight matrix")
        if w.ndim != 2 or 0 in w.shape:
            raise ConfigError(f"`weight` of a Dense layer must be a non-empty (n_in, n_out) matrix; got shape {w.shape}.")
        object.__setattr__(self, "weight", readonly(w))
        object.__setattr__(self, "bias", _check_bias(self.bias, w.shape[1]))

    @property
    def matrix(self) -> FloatArray:
        """The ``(n_in, n_out)`` matrix a crossbar holds."""
        return self.weight

    def with_matrix(self, matrix: FloatArray, bias: FloatArray | None) -> Dense:
        """The layer with another ``(n_in, n_out)`` matrix and bias."""
        return Dense(weight=matrix, bias=bias)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        if shape != (self.weight.shape[0],):
            raise ConfigError(f"a Dense layer with {self.weight.shape[0]} inputs cannot take per-sample shape {shape}.")
        return (self.weight.shape[1],)


def _check_bias(bias: Any, n: int) -> FloatArray | None:
    if bias is None:
        return None
    b = as_float_array(bias, "bias", what="finite bias vector")
    if b.shape != (n,):
        raise ConfigError(f"`bias` must have shape ({n},); got shape {b.shape}.")
    return readonly(b)


@dataclass(frozen=True, kw_only=True, eq=False)
class Conv2d:
    """2-D convolution (cross-correlation) of images ``(B, C_in, H, W)``, ``groups = 1``.

    Attributes
    ----------
    weight : ndarray, shape (C_out, C_in, kH, kW)
        The kernel, ONNX / PyTorch order.
    bias : ndarray, shape (C_out,), or None
    stride, dilation : (int, int)
        Along (rows, columns), >= 1.
    padding : (int, int, int, int)
        Zero padding ``(top, left, bottom, right)`` (ONNX's ``pads`` order), >= 0. An int or a
        pair ``(rows, cols)`` is accepted and expanded symmetrically.
    """

    __repr__ = compact_repr

    weight: FloatArray
    bias: FloatArray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        w = as_float_array(self.weight, "weight", what="finite (C_out, C_in, kH, kW) kernel")
        if w.ndim != 4 or 0 in w.shape:
            raise ConfigError(f"`weight` of a Conv2d layer must be a non-empty (C_out, C_in, kH, kW) kernel; "
                              f"got shape {w.shape}.")
        object.__setattr__(self, "weight", readonly(w))
        object.__setattr__(self, "bias", _check_bias(self.bias, w.shape[0]))
        object.__setattr__(self, "stride", _pair(self.stride, "stride", minimum=1))
        object.__setattr__(self, "dilation", _pair(self.dilation, "dilation", minimum=1))
        object.__setattr__(self, "padding", _pads(self.padding))

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weight.shape[2]), int(self.weight.shape[3])

    @property
    def matrix(self) -> FloatArray:
        """The ``(C_in*kH*kW, C_out)`` matrix a crossbar holds: row ``(c*kH + p)*kW + q``, column ``o``
        is ``weight[o, c, p, q]`` (the column order of :func:`im2col`)."""
        return np.ascontiguousarray(self.weight.reshape(self.weight.shape[0], -1).T)

    def with_matrix(self, matrix: FloatArray, bias: FloatArray | None) -> Conv2d:
        """The layer with another ``(C_in*kH*kW, C_out)`` matrix (inverse of :attr:`matrix`) and bias."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape != (int(np.prod(self.weight.shape[1:])), self.weight.shape[0]):
            raise ConfigError(f"a replacement matrix for this Conv2d must have shape "
                              f"{(int(np.prod(self.weight.shape[1:])), self.weight.shape[0])}; got {m.shape}.")
        return dataclasses.replace(self, weight=m.T.reshape(self.weight.shape), bias=bias)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        c_out, c_in, kh, kw = self.weight.shape
        if len(shape) != 3 or shape[0] != c_in:
            raise ConfigError(f"a Conv2d layer with {c_in} input channels cannot take per-sample shape {shape}; "
                              "it needs (C, H, W).")
        t, left, b, r = self.padding
        ho = conv_output_size(shape[1], kh, self.stride[0], t, b, self.dilation[0])
        wo = conv_output_size(shape[2], kw, self.stride[1], left, r, self.dilation[1])
        if ho < 1 or wo < 1:
            raise ConfigError(f"a {kh}x{kw} kernel (stride {self.stride}, dilation {self.dilation}, padding "
                              f"{self.padding}) does not fit {shape[1]}x{shape[2]} images.")
        return (c_out, ho, wo)


@dataclass(frozen=True, kw_only=True)
class Activation:
    """Element-wise nonlinearity: ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"identity"``,
    ``"wage-relu"`` (ReLU then WAGE's 8-bit activation quantizer, as :class:`MLP` has it) or
    ``"leaky-relu"`` (``x`` for ``x >= 0``, ``slope * x`` below).

    Attributes
    ----------
    kind : str
        See :data:`ActivationKind`.
    slope : float or None
        ``"leaky-relu"`` only (dimensionless, finite; ONNX's ``alpha``): default
        :data:`LEAKY_RELU_SLOPE`. None for every other kind, which has no parameter.
    """

    kind: ActivationKind
    slope: float | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, get_args(ActivationKind), "kind")
        if self.kind == "leaky-relu":
            slope = LEAKY_RELU_SLOPE if self.slope is None else self.slope
            object.__setattr__(self, "slope", scalar(slope, "slope", what="finite slope for negative inputs"))
        elif self.slope is not None:
            raise ConfigError(f"`slope` applies to kind 'leaky-relu' only; got slope {short_repr(self.slope)} for "
                              f"kind {self.kind!r}.")

    def __repr__(self) -> str:
        # the parameterless kinds print as before the slope existed
        tail = "" if self.slope is None else f", slope={self.slope!r}"
        return f"Activation(kind={self.kind!r}{tail})"

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        return shape


def _check_softmax_axis(layer: Softmax | LogSoftmax) -> None:
    axis = layer.axis
    # before: text or None was a TypeError of the range check, True or 1.0 passed it (== 1) and ended in
    # numpy's TypeError at forward
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ConfigError(f"`axis` of a {type(layer).__name__} must be an int (a non-batch axis; -1 is the last); "
                          f"got {short_repr(axis)}.")
    object.__setattr__(layer, "axis", int(axis))


def _softmax_axis_shape(layer: Softmax | LogSoftmax, shape: tuple[int, ...]) -> tuple[int, ...]:
    axis = layer.axis
    if not -(len(shape) + 1) <= axis <= len(shape) or axis == 0 or axis == -(len(shape) + 1):
        raise ConfigError(f"`axis` {axis} of a {type(layer).__name__} must name a non-batch axis of a tensor "
                          f"with per-sample shape {shape}.")
    return shape


@dataclass(frozen=True, kw_only=True)
class Softmax:
    """Softmax along ``axis`` of the full tensor (batch axis 0; -1 is the last axis)."""

    axis: int = -1

    def __post_init__(self) -> None:
        _check_softmax_axis(self)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        return _softmax_axis_shape(self, shape)


@dataclass(frozen=True, kw_only=True)
class LogSoftmax:
    """Log of the softmax along ``axis`` of the full tensor (batch axis 0; -1 is the last axis):
    ``z - log(sum(exp(z)))``, the log-probabilities (ONNX ``LogSoftmax``, PyTorch ``log_softmax``).

    A type of its own rather than a flag on :class:`Softmax`: its outputs are not probabilities,
    and every test of "ends in its own Softmax" (:attr:`Network.outputs_probabilities`) must not
    take them for probabilities.
    """

    axis: int = -1

    def __post_init__(self) -> None:
        _check_softmax_axis(self)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        return _softmax_axis_shape(self, shape)


@dataclass(frozen=True, kw_only=True)
class Clip:
    """Element-wise ``min(max(x, low), high)`` (ONNX ``Clip``; ReLU6 is ``low = 0, high = 6``).

    Attributes
    ----------
    low, high : float or None
        Finite bounds (dimensionless, the units of the activations); None: no bound on that side.
        When ``low > high`` every output is ``high``, as ONNX defines it.
    """

    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, scalar(value, name, what="finite bound or None"))

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        return shape


@dataclass(frozen=True, kw_only=True)
class Pool2d:
    """Max or average pooling of images ``(B, C, H, W)``.

    Attributes
    ----------
    kind : {"max", "average"}
    kernel, stride : (int, int)
        Window and step along (rows, columns); ``stride`` defaults to 1 as in ONNX.
    padding : (int, int, int, int)
        ``(top, left, bottom, right)``, each smaller than the kernel along its axis (so that every
        window holds an input); padded positions never win a max and, unless
        ``count_include_pad``, are left out of an average's count (ONNX's default).
    count_include_pad : bool
        Average pooling divides by the full window size.
    """

    kind: PoolKind
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    count_include_pad: bool = False

    def __post_init__(self) -> None:
        check_choice(self.kind, get_args(PoolKind), "kind")
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel", minimum=1))
        object.__setattr__(self, "stride", _pair(self.stride, "stride", minimum=1))
        object.__setattr__(self, "padding", _pads(self.padding))
        t, left, b, r = self.padding
        if max(t, b) >= self.kernel[0] or max(left, r) >= self.kernel[1]:
            # a window entirely in the padding has no value: its max is -inf, its average 0 / 0
            raise ConfigError(f"`padding` of a Pool2d must be smaller than its kernel {self.kernel} on every side "
                              f"(as ONNX requires); got {self.padding}.")
        if not isinstance(self.count_include_pad, bool):
            raise ConfigError(f"`count_include_pad` must be a bool; got {short_repr(self.count_include_pad)}.")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        if len(shape) != 3:
            raise ConfigError(f"a Pool2d layer needs images (C, H, W) per sample; got shape {shape}.")
        t, left, b, r = self.padding
        ho = conv_output_size(shape[1], self.kernel[0], self.stride[0], t, b)
        wo = conv_output_size(shape[2], self.kernel[1], self.stride[1], left, r)
        if ho < 1 or wo < 1:
            raise ConfigError(f"a {self.kernel} pooling window does not fit {shape[1]}x{shape[2]} images.")
        return (shape[0], ho, wo)

    def apply(self, x: FloatArray) -> FloatArray:
        """Pool images ``(B, C, H, W)``."""
        if np.ndim(x) != 4:  # before: an unpacking ValueError from inside the windowing
            raise ConfigError(f"a Pool2d pools (B, C, H, W) images; got an array of shape {np.shape(x)}.")
        if self.kind == "max":
            win = _windows(_pad(x, self.padding, -np.inf), self.kernel, self.stride, (1, 1))
            return np.asarray(win.max(axis=(2, 3)))
        elif self.kind == "average":
            total = _windows(_pad(x, self.padding, 0.0), self.kernel, self.stride, (1, 1)).sum(axis=(2, 3))
            if self.count_include_pad:
                return np.asarray(total / (self.kernel[0] * self.kernel[1]))
            ones = np.ones((1, 1) + x.shape[2:])
            count = _windows(_pad(ones, self.padding, 0.0), self.kernel, self.stride, (1, 1)).sum(axis=(2, 3))
            return np.asarray(total / count)
        else:  # pragma: no cover - validated
            raise ConfigError(f"`kind` must be one of {get_args(PoolKind)}; got {self.kind!r}.")


@dataclass(frozen=True, kw_only=True)
class GlobalAvgPool:
    """Mean over height and width: ``(B, C, H, W) -> (B, C, 1, 1)`` (ONNX keeps the unit axes)."""

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        if len(shape) != 3:
            raise ConfigError(f"GlobalAvgPool needs images (C, H, W) per sample; got shape {shape}.")
        return (shape[0], 1, 1)


@dataclass(frozen=True, kw_only=True)
class Flatten:
    """Each sample to one vector ``(B, prod(shape))``, row-major (ONNX ``Flatten`` with axis 1)."""

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        return (int(np.prod(shape)),)


@dataclass(frozen=True, kw_only=True)
class Reshape:
    """Each sample to ``shape`` (per sample, without the batch axis), row-major."""

    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        vals = tuple(self.shape) if isinstance(self.shape, (tuple, list)) else None
        if not vals or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in vals):
            raise ConfigError(f"`shape` of a Reshape must be positive ints (per sample); got {short_repr(self.shape)}.")
        object.__setattr__(self, "shape", tuple(int(v) for v in vals))

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape`` (ConfigError if it does not fit)."""
        if int(np.prod(shape)) != int(np.prod(self.shape)):
            raise ConfigError(f"cannot reshape per-sample shape {shape} to {self.shape}.")
        return self.shape


Layer = Dense | Conv2d | Activation | Softmax | LogSoftmax | Clip | Pool2d | GlobalAvgPool | Flatten | Reshape
_LAYER_TYPES = (Dense, Conv2d, Activation, Softmax, LogSoftmax, Clip, Pool2d, GlobalAvgPool, Flatten, Reshape)
_WEIGHTED = (Dense, Conv2d)


@dataclass(frozen=True, kw_only=True)
class ImportCheck:
    """How an imported network's forward pass compares with the runtime that defines it.

    Attributes
    ----------
    runtime : str
        E.g. ``"onnxruntime 1.20.1"``.
    samples : int
        Inputs compared.
    max_abs : float
        Largest absolute difference of any output.
    max_rel : float
        ``max_abs`` over the largest output magnitude of the runtime.
    """

    runtime: str
    samples: int
    max_abs: float
    max_rel: float


def _softmax(z: FloatArray, axis: int) -> FloatArray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return np.asarray(e / e.sum(axis=axis, keepdims=True))


def _log_softmax(z: FloatArray, axis: int) -> FloatArray:
    # shifted by the maximum, the largest exponent is 0: no overflow, and the sum is >= 1
    shifted = z - z.max(axis=axis, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True)))


@dataclass(frozen=True, kw_only=True, eq=False)
class Network:
    """A chain of layers on inputs of per-sample shape :attr:`input_shape`, classifying by its output.

    Attributes
    ----------
    layers : tuple of Layer
        Applied in order. Weighted layers (:class:`Dense`, :class:`Conv2d`) are numbered 0, 1, ...
        in that order; :attr:`weights` holds their matrices.
    input_shape : tuple of int
        Per sample: ``(C, H, W)`` for images (N, C, H, W layout), ``(n,)`` for vectors. Inputs may
        also come flattened, ``(B, prod(input_shape))``, as the datasets store them.
    output : {"softmax", "sigmoid"}
        How scores become labels: argmax over the outputs (``"softmax"``, also right when the
        network ends in a Softmax or LogSoftmax), or one output unit thresholded (``"sigmoid"``: score > 0, or
        > 0.5 when the last layer is a sigmoid).
    name : str
        Free text (the file a network was imported from).
    import_check : ImportCheck or None
        For an imported network, the measured difference to the defining runtime.
    onnx_path : str or None
        The ONNX file the network was imported from; evaluations take their software baseline from
        onnxruntime on it (when installed). Dropped by :meth:`with_weights`.

    Notes
    -----
    The output of the last layer must be a vector per sample ``(B, n_outputs)``.
    """

    __repr__ = compact_repr

    layers: tuple[Layer, ...]
    input_shape: tuple[int, ...]
    output: OutputKind = "softmax"
    name: str = ""
    import_check: ImportCheck | None = None
    onnx_path: str | None = None
    shapes: tuple[tuple[int, ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        layers = tuple(self.layers) if isinstance(self.layers, (tuple, list)) else None
        if not layers:
            raise ConfigError(f"`layers` must be a non-empty sequence of layers; got {short_repr(self.layers)}.")
        for i, layer in enumerate(layers):
            if not isinstance(layer, _LAYER_TYPES):
                raise ConfigError(f"`layers[{i}]` must be one of {', '.join(t.__name__ for t in _LAYER_TYPES)}; "
                                  f"got {type(layer).__name__}.")
        if not any(isinstance(layer, _WEIGHTED) for layer in layers):
            raise ConfigError("`layers` must hold at least one Dense or Conv2d layer.")
        object.__setattr__(self, "layers", layers)
        shape = self.input_shape
        if (not isinstance(shape, (tuple, list)) or not shape
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in shape)):
            raise ConfigError(f"`input_shape` must be positive ints (per sample); got {short_repr(shape)}.")
        shape = tuple(int(v) for v in shape)
        object.__setattr__(self, "input_shape", shape)
        shapes = [shape]
        for i, layer in enumerate(layers):
            try:
                shapes.append(layer.output_shape(shapes[-1]))
            except ConfigError as exc:
                raise ConfigError(f"`layers[{i}]` ({type(layer).__name__}): {exc}") from None
        if len(shapes[-1]) != 1:
            raise ConfigError(f"the network must end in a vector per sample (B, n_outputs); its output has "
                              f"per-sample shape {shapes[-1]} (add a Flatten).")
        object.__setattr__(self, "shapes", tuple(shapes))
        check_choice(self.output, ("softmax", "sigmoid"), "output")
        n_out = shapes[-1][0]
        if self.output == "sigmoid" and n_out != 1:
            raise ConfigError(f"`output` 'sigmoid' needs a single output unit; the network has {n_out}.")
        if self.output == "softmax" and n_out < 2:
            raise ConfigError("`output` 'softmax' needs at least 2 output units; use output='sigmoid' for one.")

    def figures(self) -> dict[str, object]:
        """Key numbers for the repr."""
        return {"weighted_layers": self.n_layers, "outputs": self.n_outputs}

    # -------------------------------------------------------------------------------- shape
    @property
    def weighted_layers(self) -> tuple[Dense | Conv2d, ...]:
        return tuple(layer for layer in self.layers if isinstance(layer, _WEIGHTED))

    @property
    def n_layers(self) -> int:
        """Number of weighted layers (each one matrix on the hardware)."""
        return len(self.weighted_layers)

    @property
    def weights(self) -> tuple[FloatArray, ...]:
        """The ``(n_in, n_out)`` matrix of every weighted layer (a convolution's :meth:`Conv2d.matrix`)."""
        return tuple(readonly(layer.matrix) for layer in self.weighted_layers)

    @property
    def biases(self) -> tuple[FloatArray, ...] | None:
        """Per weighted layer its bias (zeros where a layer has none), or None when no layer has one."""
        wl = self.weighted_layers
        if all(layer.bias is None for layer in wl):
            return None
        return tuple(layer.bias if layer.bias is not None else readonly(np.zeros(layer.matrix.shape[1]))
                     for layer in wl)

    @property
    def gammas(self) -> tuple[float, ...] | None:
        """Per weighted layer its ternary scale ``g`` when every layer's weights lie in ``{-g, 0, g}``
        (a ternary network, e.g. exported after ternary training); None for real-valued weights.
        The evaluator then uses the ternary encoding by default, as for a ternary MLP."""
        out = []
        for w in self.weights:
            mags = np.unique(np.abs(w[w != 0]))
            if mags.size > 1:
                return None
            out.append(float(mags[0]) if mags.size else 0.0)
        return tuple(out)

    @property
    def is_ternary(self) -> bool:
        """Whether :attr:`gammas` is set."""
        return self.gammas is not None

    def ternarized(self, *, delta: float = TERNARY_DELTA) -> Network:
        """Every weighted layer's matrix replaced by ``gamma_l * t`` (:func:`ternarize_matrix`), biases kept."""
        pairs = [ternarize_matrix(w, delta=delta) for w in self.weights]
        return self.with_weights([g * c.astype(np.float64) for c, g in pairs])

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_inputs, outputs of every weighted layer's matrix...)`` (channels for a convolution)."""
        return (self.n_inputs,) + tuple(int(w.shape[1]) for w in self.weights)

    @property
    def n_inputs(self) -> int:
        """Input values per sample, ``prod(input_shape)``."""
        return int(np.prod(self.input_shape))

    @property
    def n_outputs(self) -> int:
        return int(self.shapes[-1][0])

    @property
    def n_classes(self) -> int:
        return 2 if self.output == "sigmoid" else self.n_outputs

    @property
    def output_layer(self) -> Layer:
        """The last layer that computes the outputs: a Flatten or Reshape after it only moves them (an
        exported ``Sigmoid`` then ``Flatten`` still outputs probabilities)."""
        return next(layer for layer in reversed(self.layers) if not isinstance(layer, (Flatten, Reshape)))

    @property
    def outputs_probabilities(self) -> bool:
        """Whether the outputs already are the head's probabilities: a sigmoid unit's network ends in
        its own Sigmoid, a softmax network in its own Softmax over all of a sample's outputs (Flatten /
        Reshape after it aside; a Softmax over the channels of each pixel is not the head). False
        for a network ending in a LogSoftmax: see :attr:`outputs_log_probabilities`."""
        last = self.output_layer
        if self.output == "sigmoid":
            return isinstance(last, Activation) and last.kind == "sigmoid"
        return isinstance(last, Softmax) and self._normalizes_every_output()

    @property
    def outputs_log_probabilities(self) -> bool:
        """Whether the outputs are the log of the head's probabilities: a softmax network ending in its
        own LogSoftmax over all of a sample's outputs (Flatten / Reshape after it aside), as PyTorch's
        ``F.log_softmax`` exports. Its probabilities are ``exp`` of the outputs; its labels their
        argmax, as for logits."""
        return (self.output == "softmax" and isinstance(self.output_layer, LogSoftmax)
                and self._normalizes_every_output())

    def _normalizes_every_output(self) -> bool:
        """Whether the output layer, a Softmax or LogSoftmax, runs along an axis that holds all of a
        sample's values (every other axis of its input has length 1)."""
        k = max(i for i, layer in enumerate(self.layers) if not isinstance(layer, (Flatten, Reshape)))
        layer = self.layers[k]
        if not isinstance(layer, (Softmax, LogSoftmax)):  # pragma: no cover - callers check
            return False
        shape = self.shapes[k]  # its per-sample input
        axis = layer.axis - 1 if layer.axis > 0 else len(shape) + layer.axis  # per-sample index
        return shape[axis] == int(np.prod(shape))

    def vectors_per_sample(self) -> tuple[int, ...]:
        """Per weighted layer, the input vectors one sample pushes through its matrix (1 for dense
        layers, ``Ho * Wo`` patches for convolutions)."""
        out = []
        for layer, shape_out in zip(self.layers, self.shapes[1:]):
            if isinstance(layer, Dense):
                out.append(1)
            elif isinstance(layer, Conv2d):
                out.append(int(shape_out[1] * shape_out[2]))
        return tuple(out)

    # ------------------------------------------------------------------------------ variants
    def with_weights(self, weights: Sequence[ArrayLike],
                     biases: Sequence[ArrayLike] | None | Literal["keep"] = "keep") -> Network:
        """A copy with new weighted-layer matrices (shapes as :attr:`weights`) and biases (unless ``"keep"``)."""
        wl = self.weighted_layers
        if isinstance(weights, np.ndarray) or len(weights) != len(wl):
            raise ConfigError(f"`weights` must hold {len(wl)} matrices (one per weighted layer); "
                              f"got {short_repr(weights)}.")
        keep = isinstance(biases, str) and biases == "keep"
        if not keep and biases is not None and len(biases) != len(wl):  # type: ignore[arg-type]
            raise ConfigError(f"`biases` must hold {len(wl)} vectors or be None; got {short_repr(biases)}.")
        new: list[Layer] = []
        k = 0
        for layer in self.layers:
            if isinstance(layer, (Dense, Conv2d)):
                w = as_float_array(weights[k], f"weights[{k}]", what="finite weight matrix")
                if w.shape != layer.matrix.shape:
                    raise ConfigError(f"`weights[{k}]` must have shape {layer.matrix.shape}; got shape {w.shape}.")
                b: Any = layer.bias if keep else (None if biases is None else biases[k])  # type: ignore[index]
                new.append(layer.with_matrix(w, b))
                k += 1
            else:
                new.append(layer)
        return dataclasses.replace(self, layers=tuple(new), import_check=None, onnx_path=None)

    @classmethod
    def from_mlp(cls, mlp: MLP) -> Network:
        """The same network as layers: Dense, activation, ..., Dense (no activation after the last).

        Its :meth:`forward` equals ``mlp.forward`` bit for bit (same products, same order)."""
        if not isinstance(mlp, MLP):
            raise ConfigError(f"`mlp` must be an xbarsim.networks.MLP; got {type(mlp).__name__}.")
        layers: list[Layer] = []
        for i, w in enumerate(mlp.weights):
            layers.append(Dense(weight=w, bias=None if mlp.biases is None else mlp.biases[i]))
            if i < mlp.n_layers - 1:
                layers.append(Activation(kind=mlp.hidden_activation))
        return cls(layers=tuple(layers), input_shape=(mlp.n_inputs,), output=mlp.output)

    # ------------------------------------------------------------------------------ forward
    def check_inputs(self, x: ArrayLike) -> FloatArray:
        """Inputs as ``(B, *input_shape)``; accepts that, ``(B, prod(input_shape))``, or one sample."""
        return input_batch(x, self.input_shape)

    def forward(self, x: ArrayLike, *, weights: Sequence[ArrayLike] | None = None,
                layer_fn: LayerFn | None = None) -> FloatArray:
        """Output ``(B, n_outputs)`` of a batch.

        Parameters
        ----------
        x : array_like
            ``(B, *input_shape)`` or flattened ``(B, n_inputs)``.
        weights : sequence of array_like, optional
            Replacement matrices per weighted layer (biases kept).
        layer_fn : callable, optional
            ``layer_fn(index, vectors, W) -> vectors @ W`` for weighted layer ``index``: the batch
            itself for a dense layer, the :func:`im2col` patches ``(B*Ho*Wo, C*kH*kW)`` for a
            convolution. Returns the products without bias; the network adds the bias.
        """
        check_layer_fn(layer_fn)
        net = self if weights is None else self.with_weights(weights)
        a = net.check_inputs(x)
        k = 0
        for layer in net.layers:
            a = _apply(layer, a, k, layer_fn)
            if isinstance(layer, _WEIGHTED):
                k += 1
        return a

    def predict(self, x: ArrayLike, *, weights: Sequence[ArrayLike] | None = None,
                layer_fn: LayerFn | None = None) -> IntArray:
        """Predicted labels ``(B,)``."""
        return self.labels_from_scores(self.forward(x, weights=weights, layer_fn=layer_fn))

    def labels_from_scores(self, scores: ArrayLike) -> IntArray:
        """Argmax of the outputs; for one sigmoid unit, score above 0 (0.5 if the network ends in a sigmoid,
        Flatten / Reshape after it aside)."""
        s = _score_matrix(scores, self.n_outputs)
        if self.output == "sigmoid":
            return (s[:, 0] > (0.5 if self.outputs_probabilities else 0.0)).astype(np.int64)
        return np.argmax(s, axis=1).astype(np.int64)

    def accuracy(self, x: ArrayLike, y: ArrayLike, *, weights: Sequence[ArrayLike] | None = None,
                 layer_fn: LayerFn | None = None) -> float:
        """Fraction (0 to 1) of samples whose predicted label equals ``y`` (errors as :meth:`MLP.accuracy`)."""
        return accuracy_of(self.predict(x, weights=weights, layer_fn=layer_fn), y, self.n_classes)

    def to_dict(self) -> dict[str, np.ndarray]:
        """Every layer's kind, settings and arrays as a flat dict (for fingerprints and saving):
        ``"input_shape"``, ``"output"`` and per layer ``i`` ``"layers.i.kind"`` (its class name, or
        its ``kind`` for an Activation or Pool2d) and ``"layers.i.<field>"`` for each field that is
        not None. :meth:`from_dict` inverts it."""
        out: dict[str, np.ndarray] = {"input_shape": np.array(self.input_shape), "output": np.array(self.output)}
        for i, layer in enumerate(self.layers):
            out[f"layers.{i}.kind"] = np.array(type(layer).__name__)
            for f in dataclasses.fields(layer):  # type: ignore[arg-type]
                value = getattr(layer, f.name)
                if value is not None:
                    out[f"layers.{i}.{f.name}"] = np.array(value)
        return out

    @classmethod
    def from_dict(cls, arrays: Mapping[str, Any]) -> Network:
        """Rebuild a network written by :meth:`to_dict` (also accepts an ``NpzFile``): the same layers,
        so the same forward pass bit for bit. ``name``, ``import_check`` and ``onnx_path`` are not
        part of it.

        Raises
        ------
        ConfigError
            A key is missing or unknown, a layer kind is unknown, or a layer's settings are invalid.
        """
        check_arrays(arrays)
        keys = set(arrays.keys())
        for key in ("input_shape", "output", "layers.0.kind"):
            if key not in keys:
                raise ConfigError(f"`arrays` holds no {key!r}; it was not written by Network.to_dict().")
        # "layers.i.kind" is the class name, except for the layers whose own `kind` field overwrote it
        # (to_dict writes the fields after the name, and fingerprints depend on that order)
        types: dict[str, type] = {t.__name__: t for t in _LAYER_TYPES}
        types.update({k: Activation for k in get_args(ActivationKind)})
        types.update({k: Pool2d for k in get_args(PoolKind)})
        used = {"input_shape", "output"}
        layers: list[Layer] = []
        while f"layers.{len(layers)}.kind" in keys:
            i = len(layers)
            kind = str(np.asarray(arrays[f"layers.{i}.kind"]))
            if kind not in types:
                raise ConfigError(f"`layers.{i}.kind` must be one of {', '.join(types)}; got {kind!r}.")
            kwargs = {}
            for f in dataclasses.fields(types[kind]):
                key = f"layers.{i}.{f.name}"
                if key in keys:
                    kwargs[f.name] = _field_value(np.asarray(arrays[key]))
                    used.add(key)
            used.add(f"layers.{i}.kind")
            try:
                layers.append(types[kind](**kwargs))
            except (ConfigError, TypeError) as exc:  # TypeError: a required field is missing
                raise ConfigError(f"`layers.{i}` ({types[kind].__name__}): {exc}") from None
        unknown = sorted(keys - used)
        if unknown:
            raise ConfigError(f"`arrays` holds keys that no layer of this network has: {', '.join(unknown[:5])}.")
        shape = np.asarray(arrays["input_shape"])
        # the values as they are, for Network to check (before: int() truncated 3.5 to 3 and refused text in its
        # own ValueError)
        return cls(layers=tuple(layers), input_shape=tuple(v.item() for v in shape.reshape(-1)),
                   output=str(np.asarray(arrays["output"])))  # type: ignore[arg-type]


def input_batch(x: ArrayLike, shape: tuple[int, ...]) -> FloatArray:
    """Inputs ``x`` as a ``(B, *shape)`` float64 batch; accepts that, ``(B, prod(shape))``, or one
    sample (either form), and per-sample shapes that differ from ``shape`` by size-1 axes only
    (``(B, 28, 28)`` for a ``(1, 28, 28)`` network: the same values in the same order). ConfigError
    naming ``x`` for anything else (non-finite, non-numeric, or a size that is not whole samples)."""
    arr = as_float_array(x, "x", what=f"finite input array of per-sample shape {shape}")
    n = int(np.prod(shape))
    core = tuple(d for d in shape if d != 1)
    if arr.shape == shape or arr.shape == (n,):
        return arr.reshape((1,) + shape)
    if arr.ndim >= 1 and (arr.shape[1:] == shape or arr.shape[1:] == (n,)
                          or (arr.ndim >= 3 and tuple(d for d in arr.shape[1:] if d != 1) == core)):
        return arr.reshape((arr.shape[0],) + shape)
    raise ConfigError(f"`x` must have shape (B, {', '.join(map(str, shape))}) or (B, {n}); got shape {arr.shape}.")


def _field_value(arr: np.ndarray) -> Any:
    """A layer field from its :meth:`Network.to_dict` array: a scalar (kind, axis, slope, bound, flag)
    as its Python value, integers (stride, padding, kernel, shape) as a tuple, arrays (weights) as they are."""
    if arr.ndim == 0:
        return arr.item()
    if arr.dtype.kind in "iu":
        return tuple(int(v) for v in arr)
    return arr


def _apply(layer: Layer, a: FloatArray, index: int, layer_fn: LayerFn | None) -> FloatArray:
    if isinstance(layer, Dense):
        w = layer.weight
        z = a @ w if layer_fn is None else _hooked(layer_fn, index, a, w)
        return z if layer.bias is None else z + layer.bias
    elif isinstance(layer, Conv2d):
        patches = im2col(a, layer.kernel, stride=layer.stride, padding=layer.padding, dilation=layer.dilation)
        w = layer.matrix
        z = patches @ w if layer_fn is None else _hooked(layer_fn, index, patches, w)
        c_out, ho, wo = layer.output_shape(a.shape[1:])
        out = z.reshape(a.shape[0], ho, wo, c_out).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(out if layer.bias is None else out + layer.bias[None, :, None, None])
    elif isinstance(layer, Activation):
        if layer.kind == "relu":
            return np.maximum(a, 0.0)
        elif layer.kind == "tanh":
            return np.tanh(a)
        elif layer.kind == "sigmoid":
            return _sigmoid(a)
        elif layer.kind == "identity":
            return a
        elif layer.kind == "wage-relu":
            return quantize_activation(np.maximum(a, 0.0))
        elif layer.kind == "leaky-relu":
            slope = LEAKY_RELU_SLOPE if layer.slope is None else layer.slope  # set by __post_init__
            return np.where(a >= 0.0, a, a * slope)
        else:  # pragma: no cover - validated
            raise ConfigError(f"`kind` must be one of {get_args(ActivationKind)}; got {layer.kind!r}.")
    elif isinstance(layer, Softmax):
        return _softmax(a, layer.axis)
    elif isinstance(layer, LogSoftmax):
        return _log_softmax(a, layer.axis)
    elif isinstance(layer, Clip):
        out = a if layer.low is None else np.maximum(a, layer.low)
        return out if layer.high is None else np.minimum(out, layer.high)
    elif isinstance(layer, Pool2d):
        return layer.apply(a)
    elif isinstance(layer, GlobalAvgPool):
        return np.asarray(a.mean(axis=(2, 3), keepdims=True))
    elif isinstance(layer, Flatten):
        return a.reshape(a.shape[0], -1)
    elif isinstance(layer, Reshape):
        return a.reshape((a.shape[0],) + layer.shape)
    else:  # pragma: no cover - Network validates
        raise ConfigError(f"unknown layer type {type(layer).__name__}")


def _hooked(layer_fn: LayerFn, index: int, vectors: FloatArray, w: FloatArray) -> FloatArray:
    z = np.asarray(layer_fn(index, vectors, w), dtype=np.float64)
    if z.shape != (vectors.shape[0], w.shape[1]):
        raise ConfigError(f"`layer_fn` returned shape {z.shape} for layer {index}; "
                          f"expected {(vectors.shape[0], w.shape[1])}.")
    return z

