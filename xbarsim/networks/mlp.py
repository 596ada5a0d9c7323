"""Small multilayer perceptrons in numpy: forward pass with a hardware hook, losses, ternary weights.

Conventions (the same as the crossbar's ``I = V @ G``):

* a layer's weight matrix has shape ``(n_inputs, n_outputs)`` and computes ``z = x @ W + b``, so
  a layer maps onto a crossbar with its inputs on the rows (word lines) and its outputs on the
  columns (bit lines);
* inputs are batches ``(batch, n_inputs)``; scores (the last layer's pre-activations: logits for
  ``output="softmax"``, the log-odds for ``output="sigmoid"``) are ``(batch, n_outputs)``;
* biases are optional (``biases=None``): the 784-150-10 network of the LEA paper has none.

PyTorch's ``nn.Linear`` stores ``W_torch`` with shape ``(out, in)`` and computes
``x @ W_torch.T + b``; :meth:`MLP.from_torch_state_dict` therefore stores ``W = W_torch.T``, and
:meth:`MLP.to_torch_state_dict` transposes back.

Ternary networks hold weights that are exactly ``gamma_l * t`` with ``t`` in {-1, 0, +1} and one
scale ``gamma_l`` per layer (:func:`ternarize`); :meth:`MLP.ternary_codes` returns the integer codes
that a mapping layer turns into differential conductance pairs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, FloatArray, IntArray
from xbarsim._validation import as_float_array, as_rng, check_callable, check_choice, check_size, readonly, short_repr
from xbarsim.errors import ConfigError, FileFormatError

__all__ = [
    "Activation",
    "OutputKind",
    "ACTIVATIONS",
    "OUTPUT_KINDS",
    "LayerFn",
    "MLP",
    "init_mlp",
    "load_network",
    "ternarize",
    "ternarize_matrix",
    "TERNARY_DELTA",
    "quantize_activation",
    "activation_passes",
]

#: Hidden-layer nonlinearities.
Activation = Literal["relu", "tanh", "sigmoid", "identity", "wage-relu"]
#: Output head, which also fixes the loss: ``"softmax"`` -> softmax cross-entropy over
#: ``n_outputs`` classes; ``"sigmoid"`` -> binary cross-entropy on a single output unit.
OutputKind = Literal["softmax", "sigmoid"]

ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid", "identity", "wage-relu")
OUTPUT_KINDS: tuple[str, ...] = ("softmax", "sigmoid")

#: Default ternarization threshold factor: weights with ``|w| > TERNARY_DELTA * mean|W|`` become
#: +-gamma (Ternary Weight Networks, Li & Liu, arXiv:1605.04711, eq. 10: Delta ~= 0.7 E|W|).
TERNARY_DELTA = 0.7

#: Hardware hook of :meth:`MLP.forward`: ``layer_fn(index, x, W) -> x @ W`` for layer ``index``
#: (0-based), with ``x`` of shape ``(batch, n_in)`` and ``W`` of shape ``(n_in, n_out)``. It must
#: return the ``(batch, n_out)`` weighted sums *without* the bias; the network adds the bias and
#: applies the activation.
LayerFn = Callable[[int, FloatArray, FloatArray], ArrayLike]


def quantize_activation(x: ArrayLike, bits: int = 8) -> FloatArray:
    """WAGE's fixed-point activation quantizer: round to ``2**-(bits-1)``, clamp to ``+-(1 - 2**-(bits-1))``.

    Parameters
    ----------
    x : array_like
        Values, dimensionless.
    bits : int
        Word length including the sign (8 in the LEA paper's network: steps of 1/128, range
        ``+-127/128``).

    Returns
    -------
    ndarray
        Quantized values, same shape. Ties round to even (numpy's ``round``).

    Notes
    -----
    Wu et al., "Training and Inference with Integers in Deep Neural Networks" (WAGE, ICLR 2018),
    as used by xbtorch (``quant/wage_qtorch.py``: a symmetric fixed-point number with ``bits``
    bits, ``bits - 1`` of them fractional, clamped). In training the gradient passes the rounding
    unchanged and is zero where the value was clamped (:func:`activation_passes`).
    """
    step = 2.0 ** -(_check_bits(bits) - 1)
    top = 1.0 - step
    return np.clip(np.round(np.asarray(x, dtype=np.float64) / step) * step, -top, top)


def _check_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= int(bits) <= 24:
        raise ConfigError(f"`bits` must be an int in [2, 24]; got {short_repr(bits)}.")
    return int(bits)


def activation_passes(x: ArrayLike, bits: int = 8) -> FloatArray:
    """1.0 where :func:`quantize_activation` did not clamp ``x`` (gradient passes), 0.0 where it did."""
    # before: unchecked, so bits=1 (or True) gave a clamp at 0 and let no gradient through, and 1.5 was truncated
    top = 1.0 - 2.0 ** -(_check_bits(bits) - 1)
    arr = np.asarray(x, dtype=np.float64)
    return ((arr >= -top) & (arr <= top)).astype(np.float64)


def _sigmoid(z: FloatArray) -> FloatArray:
    # Two branches so that exp never overflows.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _activate(name: str, z: FloatArray) -> FloatArray:
    if name == "relu":
        return np.maximum(z, 0.0)
    elif name == "tanh":
        return np.tanh(z)
    elif name == "sigmoid":
        return _sigmoid(z)
    elif name == "identity":
        return z
    elif name == "wage-relu":
        return quantize_activation(np.maximum(z, 0.0))
    else:
        raise ConfigError(f"`hidden_activation` must be one of {ACTIVATIONS}; got {name!r}.")


def _activation_slope(name: str, z: FloatArray, a: FloatArray) -> FloatArray:
    """d activation / dz, from the pre-activation ``z`` and the activation ``a``."""
    if name == "relu":
        return (z > 0).astype(np.float64)
    elif name == "tanh":
        return 1.0 - a * a
    elif name == "sigmoid":
        return a * (1.0 - a)
    elif name == "identity":
        return np.ones_like(z)
    elif name == "wage-relu":
        # straight through the rounding, zero where ReLU cut or the quantizer clamped
        return (z > 0).astype(np.float64) * activation_passes(z)
    else:
        raise ConfigError(f"`hidden_activation` must be one of {ACTIVATIONS}; got {name!r}.")


def _log_softmax(z: FloatArray) -> FloatArray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def ternarize_matrix(w: ArrayLike, *, delta: float = TERNARY_DELTA) -> tuple[npt.NDArray[np.int8], float]:
    """Ternary codes and scale of one weight matrix (threshold rule of Ternary Weight Networks).

    Parameters
    ----------
    w : array_like
        Real weights of one layer, any shape.
    delta : float
        Threshold factor (dimensionless, >= 0): ``threshold = delta * mean(|w|)``.

    Returns
    -------
    codes : ndarray of int8, same shape as ``w``
        ``sign(w)`` where ``|w| > threshold``, else 0.
    gamma : float
        Scale of the layer: the mean of ``|w|`` over the entries above the threshold (0.0 when
        none is), so that ``gamma * codes`` approximates ``w``.

    Notes
    -----
    Li & Liu (Ternary Weight Networks, arXiv:1605.04711) minimise ``||w - gamma t||^2`` over
    ternary ``t`` and ``gamma``. For a given support ``I = {|w| > threshold}`` the optimum is
    ``gamma = mean_I |w|``; the optimal threshold has no closed form and they approximate it by
    ``0.7 E|w|`` for Gaussian or uniform weights, the default here.
    """
    arr = as_float_array(w, "w", what="finite weight array")
    # before: a string or None raised numpy's TypeError from isfinite, and True was taken as 1.0
    if (isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating))
            or not (np.isfinite(delta) and delta >= 0)):
        raise ConfigError(f"`delta` must be a finite non-negative threshold factor; got {short_repr(delta)}.")
    mag = np.abs(arr)
    threshold = delta * float(mag.mean()) if mag.size else 0.0
    keep = mag > threshold
    codes = (np.sign(arr) * keep).astype(np.int8)
    gamma = float(mag[keep].mean()) if keep.any() else 0.0
    return codes, gamma


@dataclass(frozen=True, kw_only=True, eq=False)
class MLP:
    """A feed-forward network of dense layers ``z_l = a_{l-1} @ W_l + b_l``.

    Attributes
    ----------
    weights : tuple of ndarray
        One ``(n_in, n_out)`` matrix per layer, dimensionless; consecutive shapes must chain.
    biases : tuple of ndarray or None
        One ``(n_out,)`` vector per layer, or ``None`` for a network without biases.
    hidden_activation : {"relu", "tanh", "sigmoid", "identity", "wage-relu"}
        Nonlinearity after every layer but the last. ``"wage-relu"``: ReLU followed by the 8-bit
        WAGE activation quantizer (:func:`quantize_activation`), the LEA paper's network.
    output : {"softmax", "sigmoid"}
        Output head. ``"softmax"``: the last layer's ``n_outputs`` scores are class logits
        (softmax cross-entropy). ``"sigmoid"``: one output unit whose score is the log-odds of
        class 1 (binary cross-entropy); requires ``n_outputs == 1``.
    gammas : tuple of float or None
        Per-layer ternary scales. When set, every weight of layer ``l`` is exactly one of
        ``-gammas[l], 0, +gammas[l]`` (checked); ``None`` for real-valued weights.

    Notes
    -----
    Arrays are copied and made read-only; derive variants with :meth:`with_weights` or
    ``dataclasses.replace``. Training (:func:`xbarsim.networks.train`) returns a new network.
    """

    __repr__ = compact_repr

    weights: tuple[FloatArray, ...]
    biases: tuple[FloatArray, ...] | None = None
    hidden_activation: Activation = "relu"
    output: OutputKind = "softmax"
    gammas: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.weights, np.ndarray) or len(self.weights) == 0:
            raise ConfigError(
                f"`weights` must be a non-empty sequence of (n_in, n_out) matrices; got {short_repr(self.weights)}."
            )
        ws: list[FloatArray] = []
        for i, w in enumerate(self.weights):
            arr = as_float_array(w, f"weights[{i}]", what="finite (n_in, n_out) weight matrix")
            if arr.ndim != 2 or 0 in arr.shape:
                raise ConfigError(f"`weights[{i}]` must be a non-empty 2-D (n_in, n_out) matrix; got shape {arr.shape}.")
            if ws and ws[-1].shape[1] != arr.shape[0]:
                raise ConfigError(
                    f"`weights[{i}]` has {arr.shape[0]} inputs but layer {i - 1} has {ws[-1].shape[1]} outputs; "
                    "shapes must chain as (n_in, n_out)."
                )
            ws.append(readonly(arr))
        object.__setattr__(self, "weights", tuple(ws))
        if self.biases is not None:
            if isinstance(self.biases, (str, bytes, np.ndarray)) or not isinstance(self.biases, Sequence):
                # before: len() of a number, a TypeError
                raise ConfigError(f"`biases` must be None or a sequence of one vector per layer ({len(ws)}); got "
                                  f"{short_repr(self.biases)}.")
            if len(self.biases) != len(ws):
                raise ConfigError(f"`biases` must have one vector per layer ({len(ws)}); got {len(self.biases)}.")
            bs = []
            for i, (b, w) in enumerate(zip(self.biases, ws)):
                arr = as_float_array(b, f"biases[{i}]", what="finite bias vector")
                if arr.shape != (w.shape[1],):
                    raise ConfigError(f"`biases[{i}]` must have shape ({w.shape[1]},); got shape {arr.shape}.")
                bs.append(readonly(arr))
            object.__setattr__(self, "biases", tuple(bs))
        check_choice(self.hidden_activation, ACTIVATIONS, "hidden_activation")
        check_choice(self.output, OUTPUT_KINDS, "output")
        if self.output == "sigmoid" and ws[-1].shape[1] != 1:
            raise ConfigError(
                f"`output` 'sigmoid' needs a single output unit; the last layer has {ws[-1].shape[1]} outputs."
            )
        if self.output == "softmax" and ws[-1].shape[1] < 2:
            raise ConfigError("`output` 'softmax' needs at least 2 output units; use output='sigmoid' for one.")
        if self.gammas is not None:
            gs = tuple(float(g) for g in self.gammas)
            if len(gs) != len(ws):
                raise ConfigError(f"`gammas` must have one scale per layer ({len(ws)}); got {len(gs)}.")
            for i, (g, w) in enumerate(zip(gs, ws)):
                if not (np.isfinite(g) and g >= 0):
                    raise ConfigError(f"`gammas[{i}]` must be a finite non-negative scale; got {g!r}.")
                mag = np.abs(w)
                if not np.all((mag == 0) | (mag == g)):
                    raise ConfigError(f"`weights[{i}]` is not ternary in {{-{g!r}, 0, {g!r}}} although `gammas` is set.")
            object.__setattr__(self, "gammas", gs)

    # ----------------------------------------------------------------------------------- shape
    @property
    def n_layers(self) -> int:
        """Number of dense layers."""
        return len(self.weights)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_inputs, hidden..., n_outputs)``, e.g. ``(784, 150, 10)``."""
        return (self.weights[0].shape[0],) + tuple(w.shape[1] for w in self.weights)

    @property
    def n_inputs(self) -> int:
        """Number of input features."""
        return int(self.weights[0].shape[0])

    @property
    def n_outputs(self) -> int:
        """Number of output units (1 for a sigmoid head)."""
        return int(self.weights[-1].shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes the network predicts (2 for a sigmoid head)."""
        return 2 if self.output == "sigmoid" else self.n_outputs

    @property
    def is_ternary(self) -> bool:
        """Whether the weights are ternary with per-layer scales :attr:`gammas`."""
        return self.gammas is not None

    # ------------------------------------------------------------------------------- variants
    def with_weights(
        self, weights: Sequence[ArrayLike], biases: Sequence[ArrayLike] | None | Literal["keep"] = "keep"
    ) -> MLP:
        """A copy with new weight matrices (and biases unless ``"keep"``); the ternary scales are dropped."""
        new_biases = self.biases if isinstance(biases, str) and biases == "keep" else biases
        return dataclasses.replace(self, weights=tuple(weights), biases=new_biases, gammas=None)  # type: ignore[arg-type]

    def ternary_codes(self) -> tuple[npt.NDArray[np.int8], ...]:
        """Integer codes in {-1, 0, +1} per layer, with ``weights[l] == gammas[l] * codes[l]``.

        Raises
        ------
        ConfigError
            If the network is not ternary (see :func:`ternarize`).
        """
        if self.gammas is None:
            raise ConfigError("the network is not ternary (`gammas` is None); call `ternarize(network)` first.")
        return tuple(
            (np.sign(w) * (g > 0)).astype(np.int8) for w, g in zip(self.weights, self.gammas)
        )

    # -------------------------------------------------------------------------------- forward
    def _check_inputs(self, x: ArrayLike) -> FloatArray:
        arr = as_float_array(x, "x", what="finite (batch, n_inputs) input array")
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.n_inputs:
            raise ConfigError(f"`x` must have shape (batch, {self.n_inputs}); got shape {arr.shape}.")
        return arr

    def _resolve_weights(self, weights: Sequence[ArrayLike] | None) -> tuple[FloatArray, ...]:
        if weights is None:
            return self.weights
        if len(weights) != self.n_layers:
            raise ConfigError(f"`weights` must hold {self.n_layers} matrices (one per layer); got {len(weights)}.")
        out = []
        for i, (w, ref) in enumerate(zip(weights, self.weights)):
            # as Network.with_weights: a NaN weight gave NaN scores and label 0 without a word
            arr = as_float_array(w, f"weights[{i}]", what="finite (n_in, n_out) weight matrix")
            if arr.shape != ref.shape:
                raise ConfigError(f"`weights[{i}]` must have shape {ref.shape}; got shape {arr.shape}.")
            out.append(arr)
        return tuple(out)

    def _trace(
        self,
        x: FloatArray,
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray] | None,
        layer_fn: LayerFn | None = None,
    ) -> tuple[list[FloatArray], list[FloatArray]]:
        """Pre-activations ``zs[l]`` and activations ``acts[l]`` (``acts[0] = x``; last act = scores)."""
        acts = [x]
        zs = []
        last = len(weights) - 1
        for i, w in enumerate(weights):
            if layer_fn is None:
                z = acts[-1] @ w
            else:
                z = np.asarray(layer_fn(i, acts[-1], w), dtype=np.float64)
                if z.shape != (acts[-1].shape[0], w.shape[1]):
                    raise ConfigError(
                        f"`layer_fn` returned shape {z.shape} for layer {i}; expected {(acts[-1].shape[0], w.shape[1])}."
                    )
            if biases is not None:
                z = z + biases[i]
            zs.append(z)
            acts.append(z if i == last else _activate(self.hidden_activation, z))
        return zs, acts

    def forward(
        self,
        x: ArrayLike,
        *,
        weights: Sequence[ArrayLike] | None = None,
        layer_fn: LayerFn | None = None,
    ) -> FloatArray:
        """Output scores of a batch: logits (softmax head) or log-odds (sigmoid head).

        Parameters
        ----------
        x : array_like, shape (batch, n_inputs) or (n_inputs,)
            Inputs, in the units of the dataset (features scaled to [0, 1] for the shipped sets).
        weights : sequence of array_like, optional
            Replacement weight matrices, one per layer with the same shapes as :attr:`weights`
            (e.g. weights read back from programmed conductances). Biases are kept.
        layer_fn : callable, optional
            ``layer_fn(index, x, W) -> x @ W``: computes layer ``index``'s weighted sums in place of
            the exact product, e.g. a circuit simulation of the crossbar holding ``W`` driven by
            ``x``. Receives the replacement weights when ``weights`` is also given. Must return
            ``(batch, n_out)`` without the bias; the network adds the bias and applies the
            nonlinearity. Scaling inputs to voltages and currents back to weighted sums is the
            callee's business.

        Returns
        -------
        ndarray, shape (batch, n_outputs)
            The last layer's pre-activations.
        """
        arr = self._check_inputs(x)
        check_layer_fn(layer_fn)
        _, acts = self._trace(arr, self._resolve_weights(weights), self.biases, layer_fn)
        return acts[-1]

    def predict_proba(
        self, x: ArrayLike, *, weights: Sequence[ArrayLike] | None = None, layer_fn: LayerFn | None = None
    ) -> FloatArray:
        """Class probabilities ``(batch, n_classes)`` (softmax, or ``[1 - p, p]`` for a sigmoid head)."""
        scores = self.forward(x, weights=weights, layer_fn=layer_fn)
        if self.output == "sigmoid":
            p = _sigmoid(scores[:, 0])
            return np.stack([1.0 - p, p], axis=1)
        return np.exp(_log_softmax(scores))

    def predict(
        self, x: ArrayLike, *, weights: Sequence[ArrayLike] | None = None, layer_fn: LayerFn | None = None
    ) -> IntArray:
        """Predicted labels ``(batch,)``: argmax of the logits, or ``score > 0`` for a sigmoid head."""
        return self.labels_from_scores(self.forward(x, weights=weights, layer_fn=layer_fn))

    def labels_from_scores(self, scores: ArrayLike) -> IntArray:
        """Labels from output scores as returned by :meth:`forward` (ties: lowest class index / class 0)."""
        s = _score_matrix(scores, self.n_outputs)
        if self.output == "sigmoid":
            return (s[:, 0] > 0).astype(np.int64)
        return np.argmax(s, axis=1).astype(np.int64)

    def accuracy(
        self,
        x: ArrayLike,
        y: ArrayLike,
        *,
        weights: Sequence[ArrayLike] | None = None,
        layer_fn: LayerFn | None = None,
    ) -> float:
        """Fraction (0 to 1) of samples whose predicted label equals ``y``.

        Raises
        ------
        ConfigError
            For no samples (the fraction is undefined), or labels that are not integers in
            ``0 .. n_classes - 1`` (such a label can never be predicted; a float label never equals one).
        """
        pred = self.predict(x, weights=weights, layer_fn=layer_fn)
        return accuracy_of(pred, y, self.n_classes)

    def loss(self, x: ArrayLike, y: ArrayLike, *, weights: Sequence[ArrayLike] | None = None) -> float:
        """Mean cross-entropy (nats per sample) of the network's head on ``(x, y)``.

        Raises
        ------
        ConfigError
            For no samples (the mean is undefined; before, NaN with numpy's "Mean of empty slice"), or
            labels as in :meth:`accuracy`.
        """
        scores = self.forward(x, weights=weights)
        labels = check_labels(y, scores.shape[0], self.n_classes)
        if scores.shape[0] == 0:
            raise ConfigError("`x` must hold at least one sample: the loss of no samples is undefined; got 0 samples.")
        return float(_data_loss(self.output, scores, labels)[0])

    # ---------------------------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, np.ndarray]:
        """The network as a flat dict of numpy arrays (savable with ``numpy.savez``, no pickle).

        Keys: ``"layers.{i}.weight"`` ``(n_in, n_out)``, ``"layers.{i}.bias"`` ``(n_out,)`` when the
        network has biases, ``"hidden_activation"`` and ``"output"`` as 0-d string arrays, and
        ``"gammas"`` ``(n_layers,)`` for a ternary network. :meth:`from_dict` inverts it exactly.
        """
        out: dict[str, np.ndarray] = {}
        for i, w in enumerate(self.weights):
            out[f"layers.{i}.weight"] = np.array(w)
            if self.biases is not None:
                out[f"layers.{i}.bias"] = np.array(self.biases[i])
        out["hidden_activation"] = np.array(self.hidden_activation)
        out["output"] = np.array(self.output)
        if self.gammas is not None:
            out["gammas"] = np.array(self.gammas, dtype=np.float64)
        return out

    @classmethod
    def from_dict(cls, arrays: Mapping[str, Any]) -> MLP:
        """Rebuild a network written by :meth:`to_dict` (also accepts an ``NpzFile``)."""
        check_arrays(arrays)
        n = 0
        while f"layers.{n}.weight" in arrays:
            n += 1
        if n == 0:
            raise ConfigError("`arrays` holds no 'layers.0.weight'; it was not written by MLP.to_dict().")
        known = {f"layers.{i}.{kind}" for i in range(n) for kind in ("weight", "bias")}
        known |= {"hidden_activation", "output", "gammas"}
        unknown = sorted(set(arrays) - known)
        if unknown:
            raise ConfigError(f"`arrays` has unknown key {unknown[0]!r}; expected {sorted(known)}.")
        has_bias = [f"layers.{i}.bias" in arrays for i in range(n)]
        if any(has_bias) and not all(has_bias):
            raise ConfigError("`arrays` has biases for some layers only; give all or none.")
        gammas = arrays.get("gammas")
        return cls(
            weights=tuple(np.asarray(arrays[f"layers.{i}.weight"]) for i in range(n)),
            biases=tuple(np.asarray(arrays[f"layers.{i}.bias"]) for i in range(n)) if all(has_bias) else None,
            hidden_activation=str(np.asarray(arrays.get("hidden_activation", "relu"))),  # type: ignore[arg-type]
            output=str(np.asarray(arrays.get("output", "softmax"))),  # type: ignore[arg-type]
            gammas=None if gammas is None else tuple(np.asarray(gammas, dtype=np.float64).tolist()),
        )

    @classmethod
    def from_torch_state_dict(
        cls,
        state: Mapping[str, Any],
        *,
        hidden_activation: Activation = "relu",
        output: OutputKind = "softmax",
    ) -> MLP:
        """Import the ``nn.Linear`` layers of a PyTorch ``state_dict`` (as arrays; torch is not imported).

        Parameters
        ----------
        state : mapping of str to array_like
            Entries ``"<name>.weight"`` of shape ``(out, in)`` and optional ``"<name>.bias"`` of
            shape ``(out,)``, in layer order (a ``state_dict`` is ordered). Values may be numpy
            arrays or CPU tensors (anything ``numpy.asarray`` accepts; call ``.detach().cpu()``
            first on GPU tensors). Other entries (buffers such as EWC means) are ignored.
        hidden_activation, output
            As in :class:`MLP`; a state dict does not record them.

        Notes
        -----
        ``nn.Linear`` computes ``x @ W_torch.T + b`` with ``W_torch`` of shape ``(out, in)``; this
        class computes ``x @ W + b`` with ``W`` of shape ``(in, out)``, so ``W = W_torch.T``.
        """
        names = [k[: -len(".weight")] for k in state if k.endswith(".weight") and np.ndim(state[k]) == 2]
        if not names:
            raise ConfigError("`state` holds no 2-D '<name>.weight' entry (nn.Linear layers).")
        weights = tuple(np.asarray(state[f"{n}.weight"], dtype=np.float64).T for n in names)
        has_bias = [f"{n}.bias" in state for n in names]
        if any(has_bias) and not all(has_bias):
            raise ConfigError("`state` has biases for some layers only; give all or none.")
        biases = tuple(np.asarray(state[f"{n}.bias"], dtype=np.float64) for n in names) if all(has_bias) else None
        return cls(weights=weights, biases=biases, hidden_activation=hidden_activation, output=output)

    def to_torch_state_dict(self, prefix: str = "layers") -> dict[str, np.ndarray]:
        """``{"<prefix>.{i}.weight": W.T (out, in), "<prefix>.{i}.bias": b}`` as numpy arrays.

        Load into PyTorch with ``{k: torch.from_numpy(v) for k, v in d.items()}``.
        """
        out: dict[str, np.ndarray] = {}
        for i, w in enumerate(self.weights):
            out[f"{prefix}.{i}.weight"] = np.array(w.T)
            if self.biases is not None:
                out[f"{prefix}.{i}.bias"] = np.array(self.biases[i])
        return out


# ------------------------------------------------------------------------------ loss and grads
def check_labels(y: ArrayLike, n: int, n_classes: int) -> IntArray:
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise ConfigError(f"`y` must have shape ({n},); got shape {arr.shape}.")
    # an infinite float equals its own rounding: it passed as a whole number, and the cast to int64 below
    # turned it (and 1e20, and a uint64 above 2**63) into -9223372036854775808 with a RuntimeWarning
    if arr.dtype.kind not in "iub" and not (
            arr.dtype.kind == "f" and np.isfinite(arr).all() and np.all(arr == np.round(arr))):
        raise ConfigError(f"`y` must hold integer class labels (finite whole numbers); got dtype {arr.dtype}"
                          + (f" with {short_repr(arr)}." if arr.dtype.kind == "f" else "."))
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):  # compared before the cast, which can wrap
        raise ConfigError(f"`y` must hold labels in 0..{n_classes - 1}; got {int(arr.min())}..{int(arr.max())}.")
    return arr.astype(np.int64)


def check_arrays(arrays: object) -> None:
    """ConfigError unless ``arrays`` is a mapping of names to arrays (a dict or an ``NpzFile``)."""
    if not (isinstance(arrays, Mapping) or (hasattr(arrays, "keys") and hasattr(arrays, "__getitem__"))):
        raise ConfigError(f"`arrays` must be a mapping of names to arrays (a dict or numpy.load's NpzFile), as "
                          f"to_dict() writes; got {short_repr(arrays)}.")


def check_layer_fn(layer_fn: object) -> None:
    """ConfigError unless ``layer_fn`` is None or callable (before: Python's "'int' object is not
    callable" at the first layer)."""
    check_callable(layer_fn, "layer_fn", "layer_fn(index, x, W) -> x @ W")


def _score_matrix(scores: ArrayLike, n_outputs: int) -> FloatArray:
    """``scores`` as a float64 ``(B, n_outputs)`` array, or ConfigError naming ``scores``.

    Before, 1-D scores were numpy's AxisError (IndexError for a sigmoid unit), text or ragged rows its
    ValueError, and scores with more columns than the network has outputs were labelled with classes
    it does not have. NaN scores are refused (argmax read the NaN's column as the label); infinite
    ones order as they are."""
    try:
        raw = None if isinstance(scores, (str, bytes)) else np.asarray(scores)
    except (TypeError, ValueError):
        raw = None
    if raw is None or raw.dtype.kind not in "fiu" or raw.ndim != 2 or raw.shape[1] != n_outputs:
        raise ConfigError(f"`scores` must be a numeric (B, {n_outputs}) array, one row of output scores per "
                          f"sample; got {short_repr(scores)}.")
    out = np.asarray(raw, dtype=np.float64)
    bad = np.flatnonzero(np.isnan(out).any(axis=1))
    if bad.size:  # before: argmax picked the NaN's column, a label counted right or wrong without a word
        raise ConfigError(f"`scores` hold NaN in {bad.size} of {out.shape[0]} rows (first: row {int(bad[0])}, "
                          f"{short_repr(out[bad[0]])}); no label can be read from them.")
    return out


def accuracy_of(pred: IntArray, y: ArrayLike, n_classes: int) -> float:
    """Fraction of ``pred`` equal to the labels ``y`` (checked by :func:`check_labels`); ConfigError
    for no samples rather than numpy's NaN mean of an empty array."""
    labels = check_labels(y, pred.shape[0], n_classes)
    if pred.size == 0:
        raise ConfigError("`x` must hold at least one sample: the accuracy of no samples is undefined; got 0 samples.")
    return float(np.mean(pred == labels))


def _data_loss(output: str, scores: FloatArray, y: IntArray) -> tuple[float, FloatArray]:
    """Mean cross-entropy and its per-sample gradient w.r.t. the scores (not divided by batch)."""
    if output == "softmax":
        logp = _log_softmax(scores)
        idx = np.arange(y.size)
        loss = -float(logp[idx, y].mean())
        d = np.exp(logp)
        d[idx, y] -= 1.0
        return loss, d
    elif output == "sigmoid":
        s = scores[:, 0]
        t = y.astype(np.float64)
        # log(1 + e^s) - t s, stable for either sign of s
        loss = float(np.mean(np.logaddexp(0.0, s) - t * s))
        return loss, (_sigmoid(s) - t)[:, None]
    else:
        raise ConfigError(f"`output` must be one of {OUTPUT_KINDS}; got {output!r}.")


def backprop(
    net: MLP,
    x: FloatArray,
    y: IntArray,
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray] | None,
) -> tuple[float, list[FloatArray], list[FloatArray]]:
    """Loss, layer inputs ``acts[l]`` and output deltas ``dz[l]`` (per sample, not averaged)."""
    zs, acts = net._trace(x, weights, biases)
    loss, d = _data_loss(net.output, acts[-1], y)
    deltas = [d]
    for i in range(len(weights) - 1, 0, -1):
        d = (d @ weights[i].T) * _activation_slope(net.hidden_activation, zs[i - 1], acts[i])
        deltas.append(d)
    deltas.reverse()
    return loss, acts[:-1], deltas


def init_mlp(
    layer_sizes: Sequence[int],
    *,
    hidden_activation: Activation = "relu",
    output: OutputKind = "softmax",
    bias: bool = True,
    rng: np.random.Generator | int | None = 0,
) -> MLP:
    """A randomly initialised network.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_inputs, hidden..., n_outputs)``, e.g. ``(2, 8, 1)`` or ``(784, 150, 10)``.
    hidden_activation, output
        As in :class:`MLP`.
    bias : bool
        Whether the layers have biases (initialised to zero).
    rng : numpy.random.Generator or int
        Generator, or seed for ``numpy.random.default_rng``.

    Notes
    -----
    Weights are drawn uniform in ``+-sqrt(6 / n_in)`` (He) for ReLU hidden layers and
    ``+-sqrt(6 / (n_in + n_out))`` (Glorot) otherwise, which keeps activations of order one.
    """
    bad = ConfigError(f"`layer_sizes` must hold at least two positive integers; got {short_repr(layer_sizes)}.")
    if isinstance(layer_sizes, str | bytes) or not isinstance(layer_sizes, Sequence | np.ndarray):
        raise bad
    if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in layer_sizes):
        raise bad
    sizes = tuple(int(s) for s in layer_sizes)
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise bad
    for k in range(len(sizes) - 1):
        check_size((sizes[k], sizes[k + 1]), f"layer_sizes[{k}:{k + 2}]")
    check_choice(hidden_activation, ACTIVATIONS, "hidden_activation")
    gen = as_rng(rng)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / n_in) if hidden_activation == "relu" else np.sqrt(6.0 / (n_in + n_out))
        weights.append(gen.uniform(-limit, limit, size=(n_in, n_out)))
    biases = tuple(np.zeros(s) for s in sizes[1:]) if bias else None
    return MLP(weights=tuple(weights), biases=biases, hidden_activation=hidden_activation, output=output)


def ternarize(network: MLP, *, delta: float = TERNARY_DELTA) -> MLP:
    """The network with each layer's weights replaced by ``gamma_l * t``, ``t`` in {-1, 0, +1}.

    Parameters
    ----------
    network : MLP
        Trained real-valued network (a ternary one is re-quantized from its current weights,
        which leaves it unchanged).
    delta : float
        Threshold factor of :func:`ternarize_matrix` (default 0.7, Ternary Weight Networks).

    Returns
    -------
    MLP
        Same architecture and biases (biases stay real-valued) with ``gammas`` set, one scale per
        layer. Ternary codes: :meth:`MLP.ternary_codes`.
    """
    pairs = [ternarize_matrix(w, delta=delta) for w in network.weights]
    return dataclasses.replace(
        network,
        weights=tuple(g * c.astype(np.float64) for c, g in pairs),
        gammas=tuple(g for _, g in pairs),
    )


def load_network(path: str | os.PathLike[str]) -> MLP:
    """Read a network from an ``.npz`` file written with ``numpy.savez(path, **net.to_dict())``.

    Raises
    ------
    ConfigError
        One line naming the file when it is missing or unreadable.
    FileFormatError
        (a ConfigError) One line naming the file when it is not a zip archive, truncated or damaged
        (bad CRC, corrupt compressed data), holds pickled objects, or does not hold an MLP.
    """
    import struct
    import zipfile
    import zlib

    name = os.fspath(path)
    try:
        # our own handle: np.load leaks the one it opens when the zip directory is damaged
        with open(name, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(f"it holds a single {type(data).__name__}, not an .npz archive of arrays")
            with data:
                arrays = {k: data[k] for k in data.files}
        return MLP.from_dict(arrays)
    except ConfigError as exc:
        raise FileFormatError(f"network file {name} does not hold an MLP: {exc}") from None
    except FileNotFoundError:
        raise ConfigError(f"network file {name} does not exist.") from None
    except IsADirectoryError:
        raise ConfigError(f"network file {name} is a folder.") from None
    except PermissionError as exc:
        raise ConfigError(f"cannot read network file {name}: {exc}") from None
    # what numpy's zip reader raises on a damaged archive (NotImplementedError: unknown compression)
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error, struct.error,
            NotImplementedError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise FileFormatError(f"network file {name} is damaged or not a network .npz ({type(exc).__name__}: "
                              f"{detail}).") from None
