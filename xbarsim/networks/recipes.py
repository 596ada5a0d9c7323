"""The trained networks of the experiments, with the settings the tests check.

Each recipe builds, trains and returns one of the papers' networks with hyper-parameters chosen
here (and verified by ``tests/networks``), so that the experiments and the tests use the same
networks. Everything is reproducible from ``seed``.

* :func:`train_moons` -- Drolet et al. 2023: 2-8-1 MLP, sigmoid everywhere, on half moons;
  regular or hardware-aware (pass a perturbation).
* :func:`train_ternary` -- LEA paper protocol: ``n_in``-hidden-``n_out`` ReLU MLP without biases,
  trained in floating point, then fine-tuned through the ternarization (straight-through
  estimator); for MNIST-5k (784-150-10) and digits (64-64-10).
* :func:`train_yinyang_ewc` -- LEA paper continual learning: 4-12-6-3 tanh MLP with biases on
  double Yin-Yang, EWC between the two tasks (lambda 4, Fisher on 100 samples, batch 20,
  Adam 1e-3, as the LEA code).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from xbarsim.errors import ConfigError
from xbarsim.networks.datasets import Dataset, load_half_moons, load_mnist5k, make_double_yinyang
from xbarsim.networks.mlp import init_mlp
from xbarsim.networks.training import (
    ContinualResult,
    EpochRecord,
    Perturbation,
    TrainConfig,
    TrainResult,
    train,
    train_continual,
)

__all__ = ["MOONS_CONFIG", "TERNARY_PRETRAIN_CONFIG", "TERNARY_FINETUNE_CONFIG", "YINYANG_CONFIG",
           "train_moons", "train_ternary", "train_yinyang_ewc"]

#: Half moons, 2-8-1 sigmoid: Adam 0.1, batch 32, 200 epochs (~1 s). Inputs in [0, 1] and
#: sigmoid units need large weights to bend the boundary, hence the large step.
MOONS_CONFIG = TrainConfig(epochs=200, batch_size=32, learning_rate=0.1)
#: Ternary recipe, stage 1 (floating point): Adam 1e-3, batch 32, 15 epochs.
TERNARY_PRETRAIN_CONFIG = TrainConfig(epochs=15, batch_size=32, learning_rate=1e-3)
#: Ternary recipe, stage 2 (ternary STE fine-tuning): Adam 1e-3, batch 32, 10 epochs, best
#: validation epoch kept.
TERNARY_FINETUNE_CONFIG = TrainConfig(epochs=10, batch_size=32, learning_rate=1e-3, quantization="ternary",
                                      restore_best=True)
#: Double Yin-Yang per task: Adam 1e-3, batch 20, 50 epochs (the LEA code's defaults).
YINYANG_CONFIG = TrainConfig(epochs=50, batch_size=20, learning_rate=1e-3)


def train_moons(
    dataset: Dataset | None = None,
    *,
    perturbation: Perturbation | None = None,
    config: TrainConfig = MOONS_CONFIG,
    seed: int = 0,
    progress: Callable[[EpochRecord], None] | None = None,
    perturb_biases: bool = False,
) -> TrainResult:
    """Drolet et al.'s 2-8-1 sigmoid MLP (with biases) on half moons.

    Parameters
    ----------
    dataset : Dataset, optional
        Defaults to :func:`~xbarsim.networks.datasets.load_half_moons` (the paper's split).
    perturbation : callable, optional
        Given: hardware-aware training with this perturbation (straight-through estimator).
    config : TrainConfig
        Training settings (``MOONS_CONFIG``; add ``l2`` for the paper's L2 regularization).
    seed : int
        Seeds the initialization and the training run (overrides ``config.seed``).
    progress : callable, optional
        Per-epoch callback, see :func:`~xbarsim.networks.training.train`.
    perturb_biases : bool
        Hardware-aware training perturbs the biases too (Drolet et al.'s layers do; see
        :func:`~xbarsim.networks.training.train`).

    Returns
    -------
    TrainResult
        About 97 % test accuracy on the paper's split with ``seed=0`` (tests require >= 95 %).
    """
    data = dataset if dataset is not None else load_half_moons()
    net = init_mlp((data.n_features, 8, 1), hidden_activation="sigmoid", output="sigmoid", rng=seed)
    return train(net, data, dataclasses.replace(config, seed=seed), perturbation=perturbation, progress=progress,
                 perturb_biases=perturb_biases)


def train_ternary(
    dataset: Dataset | None = None,
    *,
    hidden: int = 150,
    pretrain: TrainConfig = TERNARY_PRETRAIN_CONFIG,
    finetune: TrainConfig = TERNARY_FINETUNE_CONFIG,
    perturbation: Perturbation | None = None,
    seed: int = 0,
    progress: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """A ternary ``n_features``-``hidden``-``n_classes`` ReLU MLP without biases (LEA protocol).

    Parameters
    ----------
    dataset : Dataset, optional
        Defaults to :func:`~xbarsim.networks.datasets.load_mnist5k` (784-150-10).
    hidden : int
        Hidden units (150 for MNIST as in the paper; 64 suits digits).
    pretrain, finetune : TrainConfig
        Floating-point stage and ternary straight-through stage; ``finetune.quantization`` must
        be ``"ternary"``.
    perturbation : callable, optional
        Applied in the fine-tuning stage (fault- or noise-aware ternary training).
    seed : int
        Seeds initialization and both stages (overrides the configs' seeds).
    progress : callable, optional
        Per-epoch callback for both stages.

    Returns
    -------
    TrainResult
        ``network`` is ternary (``gammas`` set, one scale per layer); ``latent`` holds the
        real-valued weights. MNIST-5k, seed 0: about 93 % test accuracy (tests require >= 90 %).
    """
    if finetune.quantization != "ternary":
        raise ConfigError(f"`finetune.quantization` must be 'ternary'; got {finetune.quantization!r}.")
    data = dataset if dataset is not None else load_mnist5k()
    net = init_mlp((data.n_features, hidden, data.n_classes), hidden_activation="relu", bias=False, rng=seed)
    stage1 = train(net, data, dataclasses.replace(pretrain, seed=seed), progress=progress)
    return train(stage1.network, data, dataclasses.replace(finetune, seed=seed), perturbation=perturbation,
                 progress=progress)


def train_yinyang_ewc(
    dataset: Dataset | None = None,
    *,
    ewc_strength: float = 4.0,
    config: TrainConfig = YINYANG_CONFIG,
    fisher_samples: int | None = 100,
    seed: int = 0,
    progress: Callable[[int, EpochRecord], None] | None = None,
) -> ContinualResult:
    """LEA's 4-12-6-3 tanh MLP (with biases) trained on task 1 then task 2 of double Yin-Yang.

    Parameters
    ----------
    dataset : Dataset, optional
        Defaults to :func:`~xbarsim.networks.datasets.make_double_yinyang`.
    ewc_strength : float
        EWC lambda (LEA: 4); 0 gives plain sequential training.
    config : TrainConfig
        Per-task settings (``YINYANG_CONFIG``: the LEA code's batch 20, Adam 1e-3, 50 epochs).
    fisher_samples : int or None
        Samples for the Fisher estimate (LEA: 100).
    seed : int
        Seeds initialization and training (overrides ``config.seed``).
    progress : callable, optional
        ``progress(task_index, record)``.

    Returns
    -------
    ContinualResult
        ``accuracy[1]`` holds the test accuracies on both tasks after training task 2. Ternarize
        ``network`` with :func:`~xbarsim.networks.mlp.ternarize` for the paper's hardware runs.
    """
    data = dataset if dataset is not None else make_double_yinyang()
    net = init_mlp((data.n_features, 12, 6, data.n_classes), hidden_activation="tanh", bias=True, rng=seed)
    return train_continual(net, data, dataclasses.replace(config, seed=seed), ewc_strength=ewc_strength,
                           fisher_samples=fisher_samples, progress=progress)
