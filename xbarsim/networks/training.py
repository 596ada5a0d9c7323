"""Training of :class:`~xbarsim.networks.mlp.MLP` networks: Adam, L2, ternary and hardware-aware STE, EWC.

One loop, :func:`train`, covers the three trainings the experiments need:

* **software baseline**: mini-batch Adam on the cross-entropy of the network's head, optional L2;
* **hardware-aware training** (Drolet et al., arXiv:2305.18495, 2023): at every forward pass the
  weights are replaced by a draw of a perturbation callable ``(weights, rng) -> weights`` (built by
  the evaluation layer from a device model; :func:`gaussian_perturbation` is a purely statistical
  stand-in). Gradients are computed at the perturbed weights and applied to the clean weights
  (straight-through estimator);
* **ternary training** (``TrainConfig(quantization="ternary")``): the forward pass uses the
  ternarized weights and the gradient updates the latent real-valued weights (also a
  straight-through estimator, as in the LEA paper's binary/ternary training);
* **continual learning with EWC** (Kirkpatrick et al., PNAS 114, 3521, 2017): :func:`consolidate`
  freezes a task into an :class:`EWCPenalty` from the diagonal empirical Fisher information, and
  :func:`train_continual` trains the tasks of a multi-task :class:`Dataset` in sequence.

The module knows no hardware: it imports nothing from devices, netlists, solver or mapping.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, BoolArray, FloatArray
from xbarsim._validation import as_rng, check_callable, check_choice, readonly, short_repr
from xbarsim.errors import ConfigError
from xbarsim.networks.datasets import Dataset
from xbarsim.networks.mlp import MLP, TERNARY_DELTA, backprop, check_labels, ternarize, ternarize_matrix

__all__ = [
    "Perturbation",
    "Quantization",
    "QUANTIZATIONS",
    "TrainConfig",
    "EpochRecord",
    "TrainingHistory",
    "TrainResult",
    "EWCPenalty",
    "ContinualResult",
    "train",
    "fisher_diagonal",
    "consolidate",
    "train_continual",
    "gaussian_perturbation",
    "correct_under_perturbation",
]

logger = logging.getLogger(__name__)

#: Weight perturbation used by hardware-aware training: ``perturb(weights, rng) -> weights`` takes
#: the tuple of the network's ``(n_in, n_out)`` weight matrices (the effective ones: ternarized when
#: training ternary) and a generator, and returns one perturbed matrix of the same shape per
#: layer. It must not modify its input. Biases are not perturbed.
Perturbation = Callable[[tuple[FloatArray, ...], np.random.Generator], Sequence[ArrayLike]]

#: Weight quantization applied in the forward pass during training.
Quantization = Literal["none", "ternary"]
QUANTIZATIONS: tuple[str, ...] = ("none", "ternary")


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"`{name}` must be a positive integer; got {short_repr(value)}.")
    return int(value)


def _finite(value: object, name: str, what: str, *, low: float = 0.0, low_open: bool = False,
            high: float | None = None, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    v = float(value)
    bad = (not np.isfinite(v)) or v < low or (low_open and v == low)
    if high is not None:
        bad = bad or v > high or (high_open and v == high)
    if isinstance(value, bool) or bad:
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    return v


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of :func:`train` (flat and validated; maps one-to-one onto a TOML table).

    Attributes
    ----------
    epochs : int
        Passes over the training set.
    batch_size : int
        Samples per Adam step (the last batch of an epoch may be smaller).
    learning_rate : float
        Adam step size (> 0).
    beta1, beta2 : float
        Adam moment decay rates, in [0, 1).
    adam_eps : float
        Adam denominator floor (> 0).
    l2 : float
        L2 regularization strength ``c``: the objective gets ``c/2 * sum(W**2)`` over the weight
        matrices (biases are not regularized), i.e. ``c * W`` is added to the gradient (coupled
        weight decay, like ``torch.optim.Adam(weight_decay=c)``).
    quantization : {"none", "ternary"}
        ``"ternary"`` trains through :func:`~xbarsim.networks.mlp.ternarize` with a
        straight-through estimator; the returned network is then ternary.
    ternary_delta : float
        Threshold factor of the ternarization (dimensionless; see
        :func:`~xbarsim.networks.mlp.ternarize_matrix`).
    restore_best : bool
        Return the weights of the epoch with the highest validation accuracy (first one on ties)
        instead of the last epoch's. Needs a validation split.
    shuffle : bool
        Reshuffle the training set every epoch.
    seed : int
        Seed of every random draw of the run (batch order and perturbations).
    """

    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8
    l2: float = 0.0
    quantization: Quantization = "none"
    ternary_delta: float = TERNARY_DELTA
    restore_best: bool = False
    shuffle: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        _positive_int(self.epochs, "epochs")
        _positive_int(self.batch_size, "batch_size")
        _finite(self.learning_rate, "learning_rate", "positive step size", low_open=True)
        _finite(self.beta1, "beta1", "decay rate in [0, 1)", high=1.0, high_open=True)
        _finite(self.beta2, "beta2", "decay rate in [0, 1)", high=1.0, high_open=True)
        _finite(self.adam_eps, "adam_eps", "positive floor", low_open=True)
        _finite(self.l2, "l2", "non-negative regularization strength")
        check_choice(self.quantization, QUANTIZATIONS, "quantization")
        _finite(self.ternary_delta, "ternary_delta", "non-negative threshold factor")
        for name in ("restore_best", "shuffle"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"`{name}` must be a bool; got {short_repr(getattr(self, name))}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ConfigError(f"`seed` must be a non-negative integer; got {short_repr(self.seed)}.")


@dataclass(frozen=True, kw_only=True)
class EpochRecord:
    """What the progress callback of :func:`train` receives after each epoch.

    Attributes
    ----------
    epoch : int
        1-based epoch number.
    epochs : int
        Total number of epochs of the run.
    loss : float
        Training objective averaged over the epoch's batches, each weighted by its number of
        samples: the cross-entropy in nats per sample at the weights used in the forward pass
        (quantized, and perturbed when training hardware-aware), plus the L2 and EWC terms at the
        clean (latent) weights, as each batch's step saw them.
    train_accuracy : float
        Accuracy (0 to 1) on the whole training set after the epoch, at the unperturbed
        (quantized when training ternary) weights.
    val_accuracy : float
        The same on the validation split (NaN without one).
    elapsed_s : float
        Seconds since the start of training.
    """

    epoch: int
    epochs: int
    loss: float
    train_accuracy: float
    val_accuracy: float
    elapsed_s: float


@dataclass(frozen=True, kw_only=True, eq=False)
class TrainingHistory:
    """Per-epoch curves of one :func:`train` run (arrays of length ``epochs``, read-only).

    Attributes
    ----------
    loss, train_accuracy, val_accuracy : ndarray
        As in :class:`EpochRecord`.
    best_epoch : int
        1-based epoch with the highest validation accuracy (the last epoch without validation).
    elapsed_s : float
        Wall time of the run, seconds.
    """

    __repr__ = compact_repr

    loss: FloatArray
    train_accuracy: FloatArray
    val_accuracy: FloatArray
    best_epoch: int
    elapsed_s: float

    def __post_init__(self) -> None:
        for name in ("loss", "train_accuracy", "val_accuracy"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=np.float64)))


@dataclass(frozen=True, kw_only=True, eq=False)
class TrainResult:
    """Output of :func:`train`.

    Attributes
    ----------
    network : MLP
        The trained network as it is meant to be deployed: ternary (``gammas`` set) when trained
        with ``quantization="ternary"``.
    latent : MLP
        The real-valued weights the optimizer updated (identical to ``network`` without
        quantization); continue training from here.
    history : TrainingHistory
        Loss and accuracies per epoch.
    """

    __repr__ = compact_repr

    network: MLP
    latent: MLP
    history: TrainingHistory


@dataclass(frozen=True, kw_only=True, eq=False)
class EWCPenalty:
    """Elastic weight consolidation term ``strength/2 * sum F * (theta - theta*)**2``.

    Attributes
    ----------
    strength : float
        lambda, weight of the old task relative to the new one (the LEA code uses 4).
    anchor_weights, anchor_biases : tuple of ndarray
        theta*: the parameters after training the old task (``anchor_biases`` is None for a
        network without biases).
    fisher_weights, fisher_biases : tuple of ndarray
        Diagonal Fisher information F of each parameter, same shapes (1/unit-of-parameter^2).
    """

    __repr__ = compact_repr

    strength: float
    anchor_weights: tuple[FloatArray, ...]
    anchor_biases: tuple[FloatArray, ...] | None
    fisher_weights: tuple[FloatArray, ...]
    fisher_biases: tuple[FloatArray, ...] | None

    def __post_init__(self) -> None:
        _finite(self.strength, "strength", "non-negative EWC strength")
        if len(self.anchor_weights) != len(self.fisher_weights):
            raise ConfigError("`anchor_weights` and `fisher_weights` must have one array per layer each.")
        if (self.anchor_biases is None) != (self.fisher_biases is None):
            raise ConfigError("`anchor_biases` and `fisher_biases` must both be given or both be None.")
        for name in ("anchor_weights", "anchor_biases", "fisher_weights", "fisher_biases"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(readonly(np.asarray(a, dtype=np.float64)) for a in value))
        # numpy broadcast a (n_out,) Fisher against an (n_in, n_out) anchor: a wrong penalty without a word
        for kind in ("weights", "biases"):
            anchors, fishers = getattr(self, f"anchor_{kind}"), getattr(self, f"fisher_{kind}")
            if anchors is None or fishers is None:
                continue
            if len(anchors) != len(fishers):
                raise ConfigError(f"`anchor_{kind}` and `fisher_{kind}` must have one array per layer each; got "
                                  f"{len(anchors)} and {len(fishers)}.")
            for i, (a, f) in enumerate(zip(anchors, fishers)):
                if f.shape != a.shape:
                    raise ConfigError(f"`fisher_{kind}[{i}]` must have the shape of `anchor_{kind}[{i}]`, "
                                      f"{a.shape}; got shape {f.shape}.")
                if not np.isfinite(a).all():
                    raise ConfigError(f"`anchor_{kind}[{i}]` must be finite; got {short_repr(a)}.")
                if not (np.isfinite(f).all() and (f >= 0).all()):
                    raise ConfigError(f"`fisher_{kind}[{i}]` must be finite and non-negative (a diagonal Fisher "
                                      f"information); got {short_repr(f)}.")

    def value(self, weights: Sequence[FloatArray], biases: Sequence[FloatArray] | None) -> float:
        """The penalty at the given parameters."""
        total = sum(float((f * (w - a) ** 2).sum()) for f, w, a in zip(self.fisher_weights, weights, self.anchor_weights))
        if biases is not None and self.fisher_biases is not None and self.anchor_biases is not None:
            total += sum(float((f * (b - a) ** 2).sum()) for f, b, a in zip(self.fisher_biases, biases, self.anchor_biases))
        return 0.5 * self.strength * total


@dataclass(frozen=True, kw_only=True, eq=False)
class ContinualResult:
    """Output of :func:`train_continual`.

    Attributes
    ----------
    network : MLP
        The network after the last task.
    histories : tuple of TrainingHistory
        One per task, in training order.
    accuracy : ndarray, shape (n_tasks, n_tasks)
        ``accuracy[i, j]``: test accuracy on task ``j`` after training task ``i`` (read-only).
    penalties : tuple of EWCPenalty
        The consolidations made after each task but the last (empty when ``ewc_strength == 0``).
    """

    __repr__ = compact_repr

    network: MLP
    histories: tuple[TrainingHistory, ...]
    accuracy: FloatArray
    penalties: tuple[EWCPenalty, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "accuracy", readonly(np.asarray(self.accuracy, dtype=np.float64)))


# ----------------------------------------------------------------------------------- helpers
def _effective(weights: Sequence[FloatArray], config: TrainConfig) -> tuple[FloatArray, ...]:
    if config.quantization == "none":
        return tuple(weights)
    elif config.quantization == "ternary":
        out = []
        for w in weights:
            codes, gamma = ternarize_matrix(w, delta=config.ternary_delta)
            out.append(gamma * codes.astype(np.float64))
        return tuple(out)
    else:
        raise ConfigError(f"`quantization` must be one of {QUANTIZATIONS}; got {config.quantization!r}.")


def _apply_perturbation(
    perturbation: Perturbation, weights: tuple[FloatArray, ...], rng: np.random.Generator
) -> tuple[FloatArray, ...]:
    frozen = tuple(readonly(w) for w in weights)
    out = perturbation(frozen, rng)
    if len(out) != len(weights):
        raise ConfigError(f"the perturbation returned {len(out)} matrices for {len(weights)} layers.")
    result = []
    for i, (p, w) in enumerate(zip(out, weights)):
        arr = np.asarray(p, dtype=np.float64)
        if arr.shape != w.shape:
            raise ConfigError(f"the perturbation returned shape {arr.shape} for layer {i}; expected {w.shape}.")
        if not np.isfinite(arr).all():
            raise ConfigError(f"the perturbation returned non-finite weights for layer {i}.")
        result.append(arr)
    return tuple(result)


def _split_xy(x: ArrayLike, y: ArrayLike, network: MLP, name: str) -> tuple[FloatArray, np.ndarray]:
    xs = network._check_inputs(x)
    ys = check_labels(y, xs.shape[0], network.n_classes)
    if xs.shape[0] == 0:
        raise ConfigError(f"the {name} split is empty.")
    return xs, ys


class _Adam:
    """Adam (Kingma & Ba, arXiv:1412.6980) over a flat list of parameter arrays, updated in place."""

    def __init__(self, params: list[FloatArray], config: TrainConfig) -> None:
        self.params = params
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0
        self.lr, self.b1, self.b2, self.eps = config.learning_rate, config.beta1, config.beta2, config.adam_eps

    def step(self, grads: list[FloatArray]) -> None:
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def _apply_network_perturbation(
    perturb_network: Callable[..., Any], weights: tuple[FloatArray, ...], biases: Sequence[FloatArray],
    rng: np.random.Generator,
) -> tuple[tuple[FloatArray, ...], list[FloatArray]]:
    """Weights and biases through ``perturb_network``, checked like :func:`_apply_perturbation`."""
    frozen_b = tuple(readonly(np.array(b)) for b in biases)
    out_w, out_b = perturb_network(tuple(readonly(w) for w in weights), frozen_b, rng)
    ws = _apply_perturbation(lambda _w, _r: out_w, weights, rng)
    if out_b is None or len(out_b) != len(biases):
        raise ConfigError(f"the perturbation returned {0 if out_b is None else len(out_b)} biases for "
                          f"{len(biases)} layers.")
    bs = []
    for i, (p, b) in enumerate(zip(out_b, biases)):
        arr = np.asarray(p, dtype=np.float64)
        if arr.shape != b.shape or not np.isfinite(arr).all():
            raise ConfigError(f"the perturbation returned a bad bias for layer {i}: shape {arr.shape}, "
                              f"expected finite values of shape {b.shape}.")
        bs.append(arr)
    return ws, bs


def _check_mlp(network: Any) -> None:
    # a layered Network (load_onnx) has no _check_inputs: it raised AttributeError deep in the loop
    if not isinstance(network, MLP):
        raise ConfigError(f"`network` must be an xbarsim.networks.MLP (dense layers; a layered Network, e.g. from "
                          f"load_onnx, is trained where it was made); got {type(network).__name__}.")


def _check_network_and_dataset(network: Any, dataset: Any) -> None:
    _check_mlp(network)
    if not isinstance(dataset, Dataset):
        raise ConfigError(f"`dataset` must be an xbarsim.networks.Dataset; got {type(dataset).__name__}.")


# -------------------------------------------------------------------------------------- train
def train(
    network: MLP,
    dataset: Dataset,
    config: TrainConfig | None = None,
    *,
    perturbation: Perturbation | None = None,
    ewc: EWCPenalty | Sequence[EWCPenalty] = (),
    progress: Callable[[EpochRecord], None] | None = None,
    perturb_biases: bool = False,
) -> TrainResult:
    """Train ``network`` on ``dataset``'s training split with mini-batch Adam.

    Parameters
    ----------
    network : MLP
        Initial network (from :func:`~xbarsim.networks.mlp.init_mlp`, or a trained one to
        fine-tune; for a ternary network its current weights are the starting latent weights).
    dataset : Dataset
        Uses ``x_train, y_train`` for the updates and ``x_val, y_val`` (if non-empty) for the
        per-epoch validation accuracy and ``restore_best``.
    config : TrainConfig, optional
        Defaults to ``TrainConfig()``.
    perturbation : callable, optional
        Hardware-aware training: ``perturbation(weights, rng) -> weights`` is drawn anew at every
        forward pass (every batch) on the effective weights; the loss gradient at the perturbed
        weights updates the clean weights (straight-through estimator, Drolet et al. 2023).
    ewc : EWCPenalty or sequence of EWCPenalty
        Consolidated old tasks whose penalties are added to the objective.
    progress : callable, optional
        Called with an :class:`EpochRecord` after every epoch (e.g. to drive a progress bar).
        Progress is also logged at DEBUG level on ``xbarsim.networks.training``.
    perturb_biases : bool
        Hardware-aware training of a network with biases: perturb the biases too, as Drolet et
        al.'s layers do (their bias is a crossbar column like the weights). The perturbation must
        then have a method ``perturb_network(weights, biases, rng) -> (weights, biases)`` (see
        :class:`NetworkPerturbation`); the gradient at the perturbed biases updates the clean ones.

    Returns
    -------
    TrainResult
        The trained network, its latent weights and the per-epoch history.

    Notes
    -----
    The objective per batch is the mean cross-entropy of the head (softmax or binary), plus
    ``l2/2 sum W^2`` plus every EWC penalty. Gradients of the data term are exact backpropagation
    at the effective weights ``W_eff = perturb(quantize(W))``; the derivative of
    ``W -> W_eff`` is taken as the identity, so ``dL/dW := dL/dW_eff`` (straight-through), while
    the L2 and EWC gradients are evaluated at the clean ``W``. All randomness (batch order,
    perturbation draws) comes from ``numpy.random.default_rng(config.seed)``, so a run is
    reproducible from its seed.
    """
    _check_network_and_dataset(network, dataset)
    cfg = config if config is not None else TrainConfig()
    if not isinstance(cfg, TrainConfig):
        raise ConfigError(f"`config` must be a TrainConfig; got {short_repr(cfg)}.")
    check_callable(perturbation, "perturbation", "(weights, rng) -> weights")
    check_callable(progress, "progress", "(EpochRecord)")
    if not isinstance(perturb_biases, bool):
        raise ConfigError(f"`perturb_biases` must be true or false; got {short_repr(perturb_biases)}.")
    perturb_net = None
    if perturb_biases:
        perturb_net = getattr(perturbation, "perturb_network", None)
        if perturbation is None or not callable(perturb_net):
            raise ConfigError("`perturb_biases` needs a perturbation with a method perturb_network(weights, biases, "
                              f"rng) (e.g. xbarsim.evaluation.DevicePerturbation); got {short_repr(perturbation)}.")
        if network.biases is None:
            raise ConfigError("`perturb_biases` needs a network with biases; this one has none.")
    # before: ewc=[1] raised "'int' object has no attribute 'anchor_weights'", ewc=None "not iterable"
    if isinstance(ewc, EWCPenalty):
        penalties: tuple[EWCPenalty, ...] = (ewc,)
    elif isinstance(ewc, Sequence) and not isinstance(ewc, str) and all(isinstance(p, EWCPenalty) for p in ewc):
        penalties = tuple(ewc)
    else:
        raise ConfigError(f"`ewc` must be an EWCPenalty or a sequence of them; got {short_repr(ewc)}.")
    for p in penalties:
        if len(p.anchor_weights) != network.n_layers or any(
            a.shape != w.shape for a, w in zip(p.anchor_weights, network.weights)
        ):
            raise ConfigError("an EWC penalty does not match the network's layer shapes.")
        if (p.anchor_biases is None) != (network.biases is None):
            raise ConfigError("an EWC penalty and the network disagree on having biases.")
    x_train, y_train = _split_xy(dataset.x_train, dataset.y_train, network, "training")
    has_val = dataset.x_val.shape[0] > 0
    if has_val:
        x_val, y_val = _split_xy(dataset.x_val, dataset.y_val, network, "validation")
    elif cfg.restore_best:
        raise ConfigError("`restore_best` needs a validation split; the dataset has none.")

    shuffle_rng, perturb_rng = np.random.default_rng(cfg.seed).spawn(2)
    weights = [np.array(w, dtype=np.float64) for w in network.weights]
    biases = None if network.biases is None else [np.array(b, dtype=np.float64) for b in network.biases]
    params = weights + (biases or [])
    adam = _Adam(params, cfg)
    n = x_train.shape[0]
    n_layers = len(weights)

    def snapshot() -> tuple[list[FloatArray], list[FloatArray] | None]:
        return [w.copy() for w in weights], None if biases is None else [b.copy() for b in biases]

    def accuracy(ws: Sequence[FloatArray], x: FloatArray, y: np.ndarray) -> float:
        _, acts = network._trace(x, ws, biases)
        return float(np.mean(network.labels_from_scores(acts[-1]) == y))

    losses, train_acc, val_acc = [], [], []
    best: tuple[float, int, tuple[list[FloatArray], list[FloatArray] | None]] | None = None
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        order = shuffle_rng.permutation(n) if cfg.shuffle else np.arange(n)
        epoch_loss = 0.0
        for lo in range(0, n, cfg.batch_size):
            idx = order[lo : lo + cfg.batch_size]
            w_eff = _effective(weights, cfg)
            b_eff = biases
            if perturb_net is not None and biases is not None:
                w_eff, b_eff = _apply_network_perturbation(perturb_net, w_eff, biases, perturb_rng)
            elif perturbation is not None:
                w_eff = _apply_perturbation(perturbation, w_eff, perturb_rng)
            loss, acts, deltas = backprop(network, x_train[idx], y_train[idx], w_eff, b_eff)
            m = idx.size
            grads_w = [a.T @ d / m for a, d in zip(acts, deltas)]
            grads_b = [d.mean(axis=0) for d in deltas] if biases is not None else []
            if cfg.l2 > 0:
                loss += 0.5 * cfg.l2 * sum(float((w * w).sum()) for w in weights)
                for g, w in zip(grads_w, weights):
                    g += cfg.l2 * w
            for p in penalties:
                loss += p.value(weights, biases)
                for g, w, a, f in zip(grads_w, weights, p.anchor_weights, p.fisher_weights):
                    g += p.strength * f * (w - a)
                if biases is not None and p.fisher_biases is not None and p.anchor_biases is not None:
                    for g, b, a, f in zip(grads_b, biases, p.anchor_biases, p.fisher_biases):
                        g += p.strength * f * (b - a)
            adam.step(grads_w + grads_b)
            epoch_loss += loss * m
        # a diverged run otherwise surfaced as "`weights[0]` must be finite" when the result was built
        if not (np.isfinite(epoch_loss) and all(np.isfinite(p).all() for p in params)):
            raise ConfigError(
                f"training diverged in epoch {epoch} of {cfg.epochs}: the loss or the parameters became non-finite "
                f"(epoch loss {epoch_loss / n!r}); lower `learning_rate` (got {cfg.learning_rate!r}).")
        eval_w = _effective(weights, cfg)
        losses.append(epoch_loss / n)
        train_acc.append(accuracy(eval_w, x_train, y_train))
        val_acc.append(accuracy(eval_w, x_val, y_val) if has_val else float("nan"))
        if has_val and (best is None or val_acc[-1] > best[0]):
            best = (val_acc[-1], epoch, snapshot())
        record = EpochRecord(
            epoch=epoch,
            epochs=cfg.epochs,
            loss=losses[-1],
            train_accuracy=train_acc[-1],
            val_accuracy=val_acc[-1],
            elapsed_s=time.perf_counter() - start,
        )
        logger.debug(
            "epoch %d/%d loss %.4f train %.4f val %.4f", epoch, cfg.epochs, record.loss,
            record.train_accuracy, record.val_accuracy,
        )
        if progress is not None:
            progress(record)

    best_epoch = best[1] if best is not None else cfg.epochs
    if cfg.restore_best and best is not None:
        weights, biases = best[2]
    elapsed = time.perf_counter() - start
    logger.info(
        "trained %s on %s: %d epochs in %.2f s, best val accuracy %.4f at epoch %d",
        network.layer_sizes, dataset.name, cfg.epochs, elapsed, best[0] if best else float("nan"), best_epoch,
    )
    latent = dataclasses.replace(network, weights=tuple(weights), biases=None if biases is None else tuple(biases),
                                 gammas=None)
    final = ternarize(latent, delta=cfg.ternary_delta) if cfg.quantization == "ternary" else latent
    history = TrainingHistory(
        loss=np.array(losses), train_accuracy=np.array(train_acc), val_accuracy=np.array(val_acc),
        best_epoch=best_epoch, elapsed_s=elapsed,
    )
    return TrainResult(network=final, latent=latent, history=history)


# ----------------------------------------------------------------------------------------- EWC
def fisher_diagonal(
    network: MLP,
    x: ArrayLike,
    y: ArrayLike,
    *,
    n_samples: int | None = None,
    rng: np.random.Generator | int | None = 0,
) -> tuple[tuple[FloatArray, ...], tuple[FloatArray, ...] | None]:
    """Diagonal empirical Fisher information of the network's parameters on ``(x, y)``.

    Parameters
    ----------
    network : MLP
        The network after training the task.
    x, y : array_like
        Samples of the task (usually its training split).
    n_samples : int, optional
        Use a random subset of this many samples (the LEA code uses 100); all when None.
    rng : numpy.random.Generator or int
        Draws the subset.

    Returns
    -------
    fisher_weights : tuple of ndarray
        ``mean_n (d log p(y_n | x_n) / d W)**2`` per weight, shapes of ``network.weights``.
    fisher_biases : tuple of ndarray or None
        The same for the biases (None without biases).

    Notes
    -----
    The per-sample gradient of a dense layer is the outer product ``a_n d_n^T`` of the layer's
    input and its output delta, so the mean of its square is ``(A**2).T @ (D**2) / N``: exact
    per-sample squares without materialising one gradient per sample. "Empirical" means the
    log-likelihood is taken at the true labels, as in the LEA code (``estimate_fisher``).
    """
    _check_mlp(network)
    xs = network._check_inputs(x)
    ys = check_labels(y, xs.shape[0], network.n_classes)
    if n_samples is not None:
        k = _positive_int(n_samples, "n_samples")
        if k < xs.shape[0]:
            gen = as_rng(rng)
            pick = gen.choice(xs.shape[0], size=k, replace=False)
            xs, ys = xs[pick], ys[pick]
    if xs.shape[0] == 0:  # before: NaN Fisher arrays, which consolidate() then refused as a bad `fisher_weights[0]`
        raise ConfigError("`x` must hold at least one sample: the Fisher information is a mean over samples; got 0.")
    _, acts, deltas = backprop(network, xs, ys, network.weights, network.biases)
    n = xs.shape[0]
    fw = tuple((a * a).T @ (d * d) / n for a, d in zip(acts, deltas))
    fb = tuple((d * d).mean(axis=0) for d in deltas) if network.biases is not None else None
    return fw, fb


def consolidate(
    network: MLP,
    x: ArrayLike,
    y: ArrayLike,
    *,
    strength: float,
    n_samples: int | None = None,
    rng: np.random.Generator | int | None = 0,
    anchor: MLP | None = None,
) -> EWCPenalty:
    """Freeze the task ``(x, y)`` learned by ``network`` into an :class:`EWCPenalty`.

    ``strength`` is EWC's lambda; ``n_samples`` and ``rng`` as in :func:`fisher_diagonal`. The
    Fisher information is that of ``network`` (the network as it computes, e.g. ternary); the
    anchors are the parameters of ``anchor`` (default ``network``), which must be those the
    optimizer updates: for ternary training, the latent network
    (:attr:`TrainResult.latent`).
    """
    fw, fb = fisher_diagonal(network, x, y, n_samples=n_samples, rng=rng)
    ref = network if anchor is None else anchor
    if ref.layer_sizes != network.layer_sizes or (ref.biases is None) != (network.biases is None):
        raise ConfigError("`anchor` must have the same layers and biases as `network`.")
    return EWCPenalty(
        strength=strength,
        anchor_weights=ref.weights,
        anchor_biases=ref.biases,
        fisher_weights=fw,
        fisher_biases=fb,
    )


def train_continual(
    network: MLP,
    dataset: Dataset,
    config: TrainConfig | None = None,
    *,
    ewc_strength: float = 4.0,
    fisher_samples: int | None = 100,
    perturbation: Perturbation | None = None,
    progress: Callable[[int, EpochRecord], None] | None = None,
) -> ContinualResult:
    """Train the tasks of a multi-task dataset one after the other, with EWC between tasks.

    Parameters
    ----------
    network : MLP
        Initial network.
    dataset : Dataset
        A dataset with ``tasks`` (e.g. :func:`~xbarsim.networks.datasets.make_double_yinyang`).
    config : TrainConfig, optional
        Used for every task (task ``i`` trains with seed ``config.seed + i``; a fresh Adam state
        per task).
    ewc_strength : float
        EWC lambda (the LEA code's default is 4). ``0`` gives plain sequential fine-tuning, the
        baseline that forgets.
    fisher_samples : int or None
        Training samples per task used for the Fisher estimate (LEA: 5 batches of 20 = 100).
    perturbation : callable, optional
        Hardware-aware training on every task, as in :func:`train`.
    progress : callable, optional
        ``progress(task_index, record)`` after every epoch.

    Returns
    -------
    ContinualResult
        Final network, per-task histories, the task-by-task test accuracy matrix and the
        penalties.
    """
    _check_network_and_dataset(network, dataset)
    cfg = config if config is not None else TrainConfig()
    if not dataset.tasks:
        raise ConfigError(f"`dataset` {dataset.name!r} has no tasks; continual training needs a multi-task dataset.")
    strength = _finite(ewc_strength, "ewc_strength", "non-negative EWC strength")
    check_callable(perturbation, "perturbation", "(weights, rng) -> weights")
    check_callable(progress, "progress", "(task_index, EpochRecord)")  # train() sees only its wrapper
    if fisher_samples is not None:  # before: "`n_samples` must be ..." only after the first task had trained
        _positive_int(fisher_samples, "fisher_samples")
    penalties: list[EWCPenalty] = []
    histories = []
    acc = np.zeros((len(dataset.tasks), len(dataset.tasks)))
    net = network
    for i, task in enumerate(dataset.tasks):
        callback = None if progress is None else (lambda rec, _i=i: progress(_i, rec))
        result = train(net, task, dataclasses.replace(cfg, seed=cfg.seed + i), perturbation=perturbation,
                       ewc=tuple(penalties), progress=callback)
        # Continue from the latent weights so ternary training keeps its real-valued state.
        net = result.latent
        histories.append(result.history)
        for j, other in enumerate(dataset.tasks):
            acc[i, j] = result.network.accuracy(other.x_test, other.y_test)
        if strength > 0 and i < len(dataset.tasks) - 1:
            penalties.append(
                consolidate(result.network, task.x_train, task.y_train, strength=strength,
                            n_samples=fisher_samples, rng=np.random.default_rng([cfg.seed, i]), anchor=net)
            )
        logger.info("task %d/%d (%s): test accuracies %s", i + 1, len(dataset.tasks), task.name,
                    np.array2string(acc[i], precision=4))
    final = result.network
    return ContinualResult(network=final, histories=tuple(histories), accuracy=acc, penalties=tuple(penalties))


# ------------------------------------------------------------------------------ perturbations
def gaussian_perturbation(
    rel_sigma: float, *, mode: Literal["multiplicative", "additive"] = "multiplicative"
) -> Perturbation:
    """A purely statistical weight perturbation, for tests and hardware-free studies.

    Parameters
    ----------
    rel_sigma : float
        Relative standard deviation (dimensionless, >= 0).
    mode : {"multiplicative", "additive"}
        ``"multiplicative"``: ``w * (1 + rel_sigma * e)``, each weight off by a fraction of
        itself (like a relative programming error of a conductance). ``"additive"``:
        ``w + rel_sigma * max|W_l| * e``, noise scaled to each layer's largest weight (like an
        absolute conductance error on a window mapped to the largest weight). ``e ~ N(0, 1)``
        independent per weight and per draw.

    Returns
    -------
    callable
        ``perturb(weights, rng) -> weights`` (a :data:`Perturbation`).
    """
    sigma = _finite(rel_sigma, "rel_sigma", "non-negative relative standard deviation")
    check_choice(mode, ("multiplicative", "additive"), "mode")

    def perturb(weights: tuple[FloatArray, ...], rng: np.random.Generator) -> tuple[FloatArray, ...]:
        if mode == "multiplicative":
            return tuple(w * (1.0 + sigma * rng.standard_normal(w.shape)) for w in weights)
        elif mode == "additive":
            return tuple(w + sigma * float(np.abs(w).max()) * rng.standard_normal(w.shape) for w in weights)
        else:
            raise ConfigError(f"`mode` must be 'multiplicative' or 'additive'; got {mode!r}.")

    perturb.__doc__ = f"Gaussian {mode} weight perturbation, relative sigma {sigma:g}."
    return perturb


def correct_under_perturbation(
    network: MLP,
    x: ArrayLike,
    y: ArrayLike,
    perturbation: Perturbation,
    *,
    n_draws: int,
    rng: np.random.Generator | int | None = 0,
) -> BoolArray:
    """Which samples are classified correctly under each of ``n_draws`` perturbation draws.

    Parameters
    ----------
    network : MLP
        The network; the perturbation is applied to its weights (biases kept).
    x, y : array_like
        Samples and labels.
    perturbation : callable
        As in :func:`train`.
    n_draws : int
        Number of independent draws (simulated weight transfers).
    rng : numpy.random.Generator or int
        Source of the draws.

    Returns
    -------
    ndarray of bool, shape (n_draws, n_samples)
        ``out[k, i]``: sample ``i`` is correct under draw ``k``. ``out.mean(axis=0)`` is the
        per-point fraction of correct transfers used by Drolet et al.'s metric, ``out.mean(axis=1)``
        the accuracy of each transfer.
    """
    _check_mlp(network)
    check_callable(perturbation, "perturbation", "(weights, rng) -> weights", none=False)
    k = _positive_int(n_draws, "n_draws")
    gen = as_rng(rng)
    xs = network._check_inputs(x)
    ys = check_labels(y, xs.shape[0], network.n_classes)
    out = np.empty((k, xs.shape[0]), dtype=bool)
    for i in range(k):
        w = _apply_perturbation(perturbation, network.weights, gen)
        out[i] = network.predict(xs, weights=w) == ys
    return out
