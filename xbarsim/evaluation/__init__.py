"""A network on simulated hardware: inference through the crossbars, accuracy against the software baseline.

A :class:`Hardware` (chip, devices, mapping / LEA options, backend, converters; typed with the
option vocabularies of :mod:`xbarsim.mapping`) -> :func:`evaluate` (one transfer: hardware and
software accuracy, per task) or :func:`monte_carlo` (N transfers, per-point robustness, Drolet et
al.'s metric :func:`robust_fraction`, resumable). Hardware-aware training: :func:`device_perturbation`
builds the ``(weights, rng) -> weights`` callable from the device model.

Experiments (TOML configs, reports, plots) live one layer up in :mod:`xbarsim.experiments`; the
generic sweep engine is the side wing :mod:`xbarsim.sweeps`.
"""

from xbarsim.evaluation.hardware import (
    HARDWARE_FIELDS,
    Hardware,
    build_chip,
    build_preset,
    inference_config,
)
from xbarsim.evaluation.drolet_code import DroletCodePerturbation, drolet_fill_order
from xbarsim.evaluation.perturbation import (
    ConductanceSample,
    DevicePerturbation,
    DisturbanceModel,
    device_perturbation,
)
from xbarsim.evaluation.evaluate import (
    READOUT_FIELDS,
    EvaluationResult,
    HardwareNetwork,
    LayerEnergy,
    MonteCarloResult,
    TaskAccuracy,
    evaluate,
    evaluated_points,
    monte_carlo,
    monte_carlo_result,
    monte_carlo_setup,
    robust_fraction,
    network_fingerprint,
    transfer,
    transfer_outcome,
    transfer_seed,
    unpack_correct,
)

__all__ = [
    "ConductanceSample",
    "DevicePerturbation",
    "DisturbanceModel",
    "DroletCodePerturbation",
    "EvaluationResult",
    "HARDWARE_FIELDS",
    "Hardware",
    "HardwareNetwork",
    "LayerEnergy",
    "MonteCarloResult",
    "READOUT_FIELDS",
    "TaskAccuracy",
    "build_chip",
    "build_preset",
    "device_perturbation",
    "drolet_fill_order",
    "evaluate",
    "evaluated_points",
    "inference_config",
    "monte_carlo",
    "monte_carlo_result",
    "monte_carlo_setup",
    "network_fingerprint",
    "robust_fraction",
    "transfer",
    "transfer_outcome",
    "transfer_seed",
    "unpack_correct",
]
