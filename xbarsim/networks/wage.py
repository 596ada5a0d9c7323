"""The LEA paper's network: a WAGE-trained ternary MLP, and the logit-margin check of its robustness.

Yousuf et al. (arXiv:2404.15621) train their 784-150-10 MNIST network with xbtorch's WAGE
quantization (Wu et al., ICLR 2018; xbtorch ``quant/wage_init.py``, ``quant/wage_qtorch.py``,
``patches/decorators.py``, ``examples/4 - train_simple_mlp.py``). What the recipe here takes from
that code (facts, re-implemented in numpy):

* ternary weights trained from scratch: a latent weight ``u`` per connection, clipped to ``+-0.5``,
  the forward weight ``round(2 u) / 2 / scale_l``, i.e. ``{0, +-0.5} / scale_l`` (2-bit fixed point
  with one fractional bit);
* fixed power-of-two layer scales from the fan-in: ``scale_l = max(1, 2**round(log2(Wm / L)))``
  with ``Wm = 0.75`` and ``L = sqrt(3 / fan_in)`` (16 for 784 inputs, 4 for 150: xbtorch's model
  patch calls ``wage_init_`` with ``factor=1``, not its default 2); latent weights start uniform in
  ``+-max(Wm, L)``;
* 8-bit activation quantizers (round to 1/128, clamp to ``+-127/128``, zero gradient where
  clamped) on the input (after normalizing with MNIST's 0.1307 / 0.3081:
  :func:`~xbarsim.networks.datasets.wage_inputs`) and after the ReLU (hidden activation
  ``"wage-relu"``);
* max-normalized SGD: each layer's gradient is divided by ``2**ceil(log2 max|g|)``, multiplied by
  ``lr / 2**(bits_g - 1)`` and rounded to ``2**-(bits_g - 1)`` (8-bit gradients);
* batch 4096, softmax cross-entropy, no biases.

Not taken: the 8-bit quantization of the back-propagated errors (only the update is quantized
here) and the learning-rate decay of the example script; the gradients' direction is what the
max-normalized update uses, and the review that led to this recipe reproduced the paper's
robustness without them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xbarsim._typing import ArrayLike, FloatArray
from xbarsim._validation import check_callable, check_int, short_repr
from xbarsim.errors import ConfigError
from xbarsim.networks.datasets import Dataset
from xbarsim.networks.mlp import MLP, _activation_slope, _data_loss, backprop, check_labels, quantize_activation
from xbarsim.networks.training import Perturbation, _apply_perturbation

__all__ = [
    "WageConfig",
    "WAGE_CONFIG",
    "WageEpoch",
    "WageResult",
    "wage_scale",
    "wage_weights",
    "wage_update",
    "wage_error",
    "train_wage",
    "logit_margin",
]

#: Largest latent weight of the 2-bit fixed-point weights (xbtorch's C(x, bits_W=2)).
_LATENT_LIMIT = 0.5


@dataclass(frozen=True, kw_only=True)
class WageConfig:
    """Settings of :func:`train_wage`.

    Attributes
    ----------
    hidden : int
        Hidden units (150 in the paper).
    epochs : int
        Passes over the training split (>= 1; the paper trains 20+).
    batch_size : int
        Mini-batch size (4096 in the paper).
    learning_rate : float
        The WAGE update scale ``lr`` (> 0, dimensionless): the largest update of a layer is
        ``lr / 2**(bits_grad - 1)`` before rounding (about 4.8 for the paper's network).
    bits_grad : int
        Word length of the quantized update (8).
    bits_activation : int
        Word length of the activation quantizer (8, the only one :func:`train_wage` supports: its
        ``"wage-relu"`` activation quantizes to 8 bits).
    seed : int
        Seeds the latent initialization and the shuffling.
    init_factor : float
        The ``factor`` of the fan-in limit ``L = sqrt(3 factor / fan_in)`` that sets the fixed layer
        scales and the initialization (> 0). xbtorch's ``wage_init_`` defaults to 2, but its model
        patch (``patches/model.py``, the code that trained the paper's network) calls it with 1,
        which gives scales 16 and 4 for the 784-150-10 network instead of 8 and 4. Default 1; it
        matters: at 20 % faults it moves LEA's alpha-1 accuracy by about 9 points (issue 15).
    lr_decay : float
        Factor applied to the learning rate after every epoch (in (0, 1]; 1 keeps it constant).
        xbtorch's example 4 multiplies it by 0.95 per epoch.
    quantize_errors : bool
        Quantize the back-propagated errors as WAGE does (xbtorch's ``WAGEQuantizer`` backward:
        at the output and after every hidden activation the error is divided by
        ``2**ceil(log2 max|e|)`` over the batch, rounded to ``2**-(bits_grad - 1)`` and clamped).
        Errors below about 1/256 of the batch's largest become zero, so confidently classified
        samples stop contributing.
    """

    hidden: int = 150
    epochs: int = 20
    batch_size: int = 4096
    learning_rate: float = 4.8
    bits_grad: int = 8
    bits_activation: int = 8
    seed: int = 0
    init_factor: float = 1.0
    lr_decay: float = 1.0
    quantize_errors: bool = False

    def __post_init__(self) -> None:
        check_int(self.hidden, "hidden", 1, 1_000_000)
        check_int(self.epochs, "epochs", 1, 1_000_000)
        check_int(self.batch_size, "batch_size", 1, 1_000_000_000)
        check_int(self.bits_grad, "bits_grad", 2, 24)
        check_int(self.bits_activation, "bits_activation", 2, 24)
        check_int(self.seed, "seed", 0, 2**63 - 1)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
            raise ConfigError(f"`learning_rate` must be a positive finite number; got {short_repr(lr)}.")
        f = self.init_factor
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not (math.isfinite(f) and f > 0):
            raise ConfigError(f"`init_factor` must be a positive finite number; got {short_repr(f)}.")
        if not isinstance(self.quantize_errors, bool):
            raise ConfigError(f"`quantize_errors` must be a bool; got {short_repr(self.quantize_errors)}.")
        d = self.lr_decay
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not (math.isfinite(d) and 0 < d <= 1):
            raise ConfigError(f"`lr_decay` must be a number in (0, 1]; got {short_repr(d)}.")


#: The paper's settings: 150 hidden units, 20 epochs, batch 4096, lr 4.8, 8-bit gradients/activations.
WAGE_CONFIG = WageConfig()


@dataclass(frozen=True)
class WageEpoch:
    """One epoch: index (1-based), mean training loss, training-batch and validation accuracy (fractions;
    validation ``nan`` when the split is empty)."""

    epoch: int
    loss: float
    train_accuracy: float
    val_accuracy: float


@dataclass(frozen=True, kw_only=True, eq=False)
class WageResult:
    """A trained WAGE network.

    Attributes
    ----------
    network : MLP
        Ternary (``gammas[l] = 0.5 / scales[l]``), hidden activation ``"wage-relu"``, no biases;
        feed it inputs in the WAGE format (:func:`~xbarsim.networks.datasets.wage_inputs`).
    latent : tuple of ndarray
        The latent weights (within ``+-0.5``) at the end of training.
    scales : tuple of float
        The fixed per-layer scales.
    history : tuple of WageEpoch
        Per-epoch record.
    test_accuracy : float
        Fraction of the test split classified correctly (``nan`` when the split is empty, as an
        epoch's validation accuracy: there is no fraction to report).
    """

    network: MLP
    latent: tuple[FloatArray, ...]
    scales: tuple[float, ...]
    history: tuple[WageEpoch, ...]
    test_accuracy: float


def _positive(value: object, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not (math.isfinite(value) and value > 0)):
        raise ConfigError(f"`{name}` must be a positive finite number; got {short_repr(value)}.")
    return float(value)


def wage_scale(fan_in: int, *, bits_weight: int = 2, factor: float = 2.0) -> float:
    """The fixed power-of-two scale of a layer with ``fan_in`` inputs (xbtorch ``scale_limit``).

    ``Wm = 1.5 / 2**(bits_weight - 1)``, ``L = sqrt(3 factor / fan_in)``,
    ``scale = max(1, 2**round(log2(Wm / L)))``: 8 for 784 inputs, 4 for 150.
    """
    n = check_int(fan_in, "fan_in", 1, 10**9)
    wm = 1.5 / 2 ** (check_int(bits_weight, "bits_weight", 2, 16) - 1)
    limit = math.sqrt(3.0 * _positive(factor, "factor") / n)
    return float(max(2.0 ** round(math.log2(wm / limit)), 1.0))


def wage_weights(latent: ArrayLike, scale: float) -> FloatArray:
    """Forward weights of a layer: ``clip(round(2 u) / 2, -0.5, 0.5) / scale``, i.e. ``{0, +-0.5} / scale``."""
    # before: a scale of 0 gave inf weights, NaN gave NaN, and a negative one flipped every sign, without a word
    s = _positive(scale, "scale")
    u = np.asarray(latent, dtype=np.float64)
    return np.clip(np.round(u * 2.0) / 2.0, -_LATENT_LIMIT, _LATENT_LIMIT) / s


def _ceil_log2(top: float) -> int:
    """``ceil(log2 top)`` of a positive finite float, exactly.

    ``math.ceil(math.log2(top))`` was one too small for maxima a few ulps above a power of two (``log2``
    rounds ``k + 3e-16`` down to ``k`` once ``|k| >= 8``), so the normalized maximum came out at
    ``1 + 2**-52`` instead of just above 0.5 and the update doubled; and ``2.0 ** k`` overflowed
    (OverflowError) for maxima above ``2**1023``. ``frexp`` gives the exponent without rounding.
    """
    mantissa, exponent = math.frexp(top)  # top = mantissa * 2**exponent, 0.5 <= mantissa < 1
    return exponent - 1 if mantissa == 0.5 else exponent


def wage_update(grad: ArrayLike, learning_rate: float, bits: int = 8) -> FloatArray:
    """WAGE's quantized update of one layer (xbtorch ``QG``): max-normalized, scaled, rounded.

    ``g / 2**ceil(log2 max|g|)`` lies within ``+-1``; times ``lr / 2**(bits - 1)`` and rounded to
    ``2**-(bits - 1)``. A zero gradient gives a zero update. The latent weight moves by minus this.
    """
    g = np.asarray(grad, dtype=np.float64)
    lr = _positive(learning_rate, "learning_rate")  # before: NaN gave a NaN update without an error
    step = 2.0 ** -(check_int(bits, "bits", 2, 24) - 1)
    if not np.isfinite(g).all():
        raise ConfigError(f"`grad` must be finite; got {short_repr(g)}.")
    top = float(np.abs(g).max(initial=0.0))
    if top == 0.0:
        return np.zeros_like(g)
    normed = np.ldexp(g, -_ceil_log2(top))
    return np.round(lr * step * normed / step) * step


def wage_error(err: ArrayLike, bits: int = 8) -> FloatArray:
    """WAGE's error quantizer (xbtorch ``WAGEQuantizer`` backward, QPyTorch ``shift`` hook):
    ``e / 2**ceil(log2 max|e|)`` rounded to ``2**-(bits - 1)`` and clamped to ``+-(1 - 2**-(bits - 1))``.
    An all-zero error stays zero."""
    e = np.asarray(err, dtype=np.float64)
    # as wage_update: a NaN or inf error would otherwise quantize to NaN or to the clamp without a word
    step = 2.0 ** -(check_int(bits, "bits", 2, 24) - 1)
    if not np.isfinite(e).all():
        raise ConfigError(f"`err` must be finite; got {short_repr(e)}.")
    top = float(np.abs(e).max(initial=0.0))
    if top == 0.0:
        return np.zeros_like(e)
    return np.clip(np.round(np.ldexp(e, -_ceil_log2(top)) / step) * step, -1.0 + step, 1.0 - step)


def _backprop_quantized(net: MLP, x: FloatArray, y: np.ndarray, weights: tuple[FloatArray, ...],
                        bits: int) -> tuple[float, list[FloatArray], list[FloatArray]]:
    """As :func:`~xbarsim.networks.mlp.backprop`, with the error quantized at the output and at
    every hidden activation's quantizer (before the clamp's zero gradient and the ReLU slope)."""
    zs, acts = net._trace(x, weights, None)
    loss, d = _data_loss(net.output, acts[-1], y)
    d = wage_error(d, bits)
    deltas = [d]
    for i in range(len(weights) - 1, 0, -1):
        d = wage_error(d @ weights[i].T, bits) * _activation_slope(net.hidden_activation, zs[i - 1], acts[i])
        deltas.append(d)
    deltas.reverse()
    return loss, acts[:-1], deltas


def _accuracy(net: MLP, x: FloatArray, y: np.ndarray) -> float:
    return float(np.mean(net.predict(x) == y)) if y.size else float("nan")


def train_wage(
    dataset: Dataset,
    config: WageConfig = WAGE_CONFIG,
    *,
    perturbation: Perturbation | None = None,
    progress: Callable[[WageEpoch], None] | None = None,
) -> WageResult:
    """Train the LEA paper's ternary ``n_features``-``hidden``-``n_classes`` network with WAGE.

    Parameters
    ----------
    dataset : Dataset
        Inputs already in the WAGE format (every feature a multiple of 1/128 within ``+-127/128``),
        e.g. ``wage_inputs(load_mnist())`` or ``load_dataset("mnist-wage")``.
    config : WageConfig
        Settings (:data:`WAGE_CONFIG`: the paper's).
    perturbation : callable, optional
        Fault-aware training: ``perturbation(weights, rng) -> weights`` (for example
        :func:`xbarsim.evaluation.device_perturbation` of the LEA preset with ``encoding="ternary"``)
        is drawn anew for every batch and the batch's forward and backward passes run at the
        perturbed ternary weights; the update goes to the latent weights unchanged
        (straight-through), as in :func:`~xbarsim.networks.train`. Its draws come from a stream of
        their own (``config.seed``'s second child), so the batch order and the initialization do not
        depend on it. The reported accuracies are those of the clean network.
    progress : callable, optional
        Called with each :class:`WageEpoch`.

    Returns
    -------
    WageResult

    Raises
    ------
    ConfigError
        Inputs not in the WAGE format, or a bad config.
    """
    if not isinstance(dataset, Dataset):
        raise ConfigError(f"`dataset` must be a Dataset; got {type(dataset).__name__}.")
    if not isinstance(config, WageConfig):
        raise ConfigError(f"`config` must be a WageConfig; got {type(config).__name__}.")
    check_callable(perturbation, "perturbation", "(weights, rng) -> weights")
    check_callable(progress, "progress", "(WageEpoch)")
    x, y = dataset.x_train, check_labels(dataset.y_train, dataset.x_train.shape[0], dataset.n_classes)
    # before the input check: data in the 8-bit format was refused as "not in the WAGE input format (features
    # quantized to 4 bits ...)", with wage_inputs (8 bits) as the remedy, for bits_activation = 4
    if config.bits_activation != 8:
        raise ConfigError(f"`bits_activation` other than 8 is not supported by the 'wage-relu' activation; "
                          f"got {config.bits_activation}.")
    if x.shape[0] == 0:  # before: ZeroDivisionError in the epoch loss
        raise ConfigError(f"`dataset` {dataset.name!r} has an empty training split; WAGE training needs samples.")
    if not np.array_equal(quantize_activation(x, config.bits_activation), x):
        raise ConfigError(
            f"`dataset` {dataset.name!r} is not in the WAGE input format (features quantized to "
            f"{config.bits_activation} bits within +-1); pass wage_inputs(dataset) or a '-wage' dataset."
        )
    rng = np.random.default_rng(config.seed)
    perturb_rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(2)[1])
    sizes = (dataset.n_features, config.hidden, dataset.n_classes)
    factor = float(config.init_factor)
    scales = tuple(wage_scale(n, factor=factor) for n in sizes[:-1])
    wm = 1.5 / 2.0
    latent = [rng.uniform(-max(wm, math.sqrt(3.0 * factor / n)), max(wm, math.sqrt(3.0 * factor / n)), size=(n, k))
              for n, k in zip(sizes[:-1], sizes[1:])]

    def network() -> MLP:
        ws = tuple(wage_weights(u, s) for u, s in zip(latent, scales))
        return MLP(weights=ws, biases=None, hidden_activation="wage-relu", output="softmax",
                   gammas=tuple(_LATENT_LIMIT / s for s in scales))

    history = []
    n = x.shape[0]
    lr = float(config.learning_rate)
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(n)
        losses, correct = [], 0
        for start in range(0, n, config.batch_size):
            idx = order[start:start + config.batch_size]
            net = network()
            w_eff = net.weights
            if perturbation is not None:
                w_eff = _apply_perturbation(perturbation, tuple(net.weights), perturb_rng)
            if config.quantize_errors:
                loss, acts, deltas = _backprop_quantized(net, x[idx], y[idx], tuple(w_eff), config.bits_grad)
            else:
                loss, acts, deltas = backprop(net, x[idx], y[idx], w_eff, None)
            losses.append(loss * idx.size)
            for layer, (a, d) in enumerate(zip(acts, deltas)):
                grad = a.T @ d / idx.size
                latent[layer] = np.clip(latent[layer] - wage_update(grad, lr, config.bits_grad),
                                        -_LATENT_LIMIT, _LATENT_LIMIT)
            correct += int(np.sum(np.argmax(net.forward(x[idx]), axis=1) == y[idx]))
        rec = WageEpoch(epoch=epoch, loss=float(sum(losses) / n), train_accuracy=correct / n,
                        val_accuracy=_accuracy(network(), dataset.x_val, dataset.y_val))
        history.append(rec)
        lr *= config.lr_decay
        if progress is not None:
            progress(rec)
    final = network()
    return WageResult(network=final, latent=tuple(np.array(u) for u in latent), scales=scales,
                      history=tuple(history), test_accuracy=_accuracy(final, dataset.x_test, dataset.y_test))


def logit_margin(network: MLP, x: ArrayLike) -> FloatArray:
    """Per sample: the gap between the two largest logits, in units of the logit error that faulty
    devices cause.

    Parameters
    ----------
    network : MLP
        A ternary network (``gammas`` set) with a softmax head.
    x : array_like, shape (batch, n_inputs)
        Inputs in the network's format.

    Returns
    -------
    ndarray, shape (batch,)
        ``(z_top1 - z_top2) / (gamma_L ||h||_2)`` per sample, where ``h`` is the sample's input to
        the last layer and ``gamma_L`` that layer's ternary step.

    Notes
    -----
    If every weight feeding a logit is off by one ternary step with an independent random sign
    (one faulty device per weight), the logit moves by ``gamma_L sum_i +-h_i``, whose standard
    deviation is ``gamma_L ||h||_2``: that is the unit. A stuck device on the LEA chip moves its
    weight by 1 to 3.7 steps and a fraction of the devices is stuck, so the unit is a scale, not a
    prediction. Scaling the last layer scales the gap and the unit alike, so networks trained
    differently compare. The issue that asked for this check quotes about 3.5 for WAGE networks
    and 1.8 for the earlier recipe without stating its formula; this is our formula.
    """
    if not isinstance(network, MLP) or network.gammas is None or network.output != "softmax":
        raise ConfigError("`network` must be a ternary MLP (gammas set) with a softmax head.")
    arr = network._check_inputs(x)
    _, acts = network._trace(arr, network.weights, network.biases)
    h, z = acts[-2], acts[-1]
    unit = network.gammas[-1] * np.sqrt(np.sum(h * h, axis=1))
    if np.any(unit == 0.0):
        raise ConfigError("some sample's input to the last layer is all zero (or the ternary step is 0); "
                          "its margin has no unit.")
    top2 = np.sort(z, axis=1)[:, -2:]
    return np.asarray((top2[:, 1] - top2[:, 0]) / unit)
