"""Inference through simulated hardware, accuracy against the software baseline, sweeps, reports.

Evaluation: a :class:`Hardware` (chip, devices, mapping / LEA options, backend, converters) ->
:func:`evaluate` (one transfer: hardware and software accuracy, per task) or :func:`monte_carlo`
(N transfers, per-point robustness, Drolet et al.'s metric :func:`robust_fraction`, resumable
JSON-lines output). Hardware-aware training: :func:`device_perturbation` builds the
``(weights, rng) -> weights`` callable from the device model. Experiments: TOML configs
(:func:`load_experiment`) run by :func:`run_experiment` (``xbarsim evaluate CONFIG``).

Sweeps: :class:`SweepSpec` (or a TOML file, :func:`load_sweep_config`) -> :func:`run_sweep` on Dask
with every result stored durably in a :class:`ResultStore` -> :func:`aggregate_sweep` (CSV, JSON,
PNG). Trial kinds live in the plain dict :data:`TRIALS` (``"evaluate"`` among them).
"""

from xbarsim.evaluation.store import ResultStore, TrialRecord
from xbarsim.evaluation.sweep import (
    MAX_SWEEP_TRIALS,
    SweepReport,
    SweepSpec,
    TrialTask,
    execute_trial,
    load_sweep_config,
    run_sweep,
    trial_key,
    trial_seed,
)
from xbarsim.evaluation.sweep_report import SweepAggregate, aggregate_sweep
from xbarsim.evaluation.trials import TRIAL_PARAMETERS, TRIALS, TrialFunction, calibrate_busy
from xbarsim.evaluation.hardware import (
    HARDWARE_FIELDS,
    PRESETS,
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
    MonteCarloResult,
    TaskAccuracy,
    evaluate,
    monte_carlo,
    robust_fraction,
    transfer,
    transfer_seed,
)
from xbarsim.evaluation.experiments import (
    ExperimentConfig,
    ExperimentReport,
    NetworkSpec,
    Reference,
    evaluate_trial,
    experiment_from_dict,
    load_experiment,
    run_experiment,
)
from xbarsim.evaluation.plots import plot_accuracy_vs_alpha, plot_accuracy_vs_wire, plot_point_histograms

__all__ = [
    "ConductanceSample",
    "DevicePerturbation",
    "DisturbanceModel",
    "DroletCodePerturbation",
    "EvaluationResult",
    "ExperimentConfig",
    "ExperimentReport",
    "HARDWARE_FIELDS",
    "Hardware",
    "HardwareNetwork",
    "MAX_SWEEP_TRIALS",
    "MonteCarloResult",
    "NetworkSpec",
    "PRESETS",
    "READOUT_FIELDS",
    "Reference",
    "ResultStore",
    "SweepAggregate",
    "SweepReport",
    "SweepSpec",
    "TRIALS",
    "TRIAL_PARAMETERS",
    "TaskAccuracy",
    "TrialFunction",
    "TrialRecord",
    "TrialTask",
    "aggregate_sweep",
    "build_chip",
    "build_preset",
    "calibrate_busy",
    "device_perturbation",
    "drolet_fill_order",
    "evaluate",
    "evaluate_trial",
    "execute_trial",
    "experiment_from_dict",
    "inference_config",
    "load_experiment",
    "load_sweep_config",
    "monte_carlo",
    "plot_accuracy_vs_alpha",
    "plot_accuracy_vs_wire",
    "plot_point_histograms",
    "robust_fraction",
    "run_experiment",
    "run_sweep",
    "transfer",
    "transfer_seed",
    "trial_key",
    "trial_seed",
]
