"""Experiments: TOML configs of networks on hardware, their runs on the sweep engine or as Monte Carlo
transfers, and reports with the papers' numbers beside ours.

:func:`load_experiment` -> :class:`ExperimentConfig` -> :func:`run_experiment` (``xbarsim evaluate
CONFIG``) -> :class:`ExperimentReport` (``results.csv``, ``results.json``, ``report.md``, PNG plots).
The trial kinds a sweep config may name are one dict literal, :data:`TRIALS` (``"circuit"``,
``"busy"``, ``"sleep"``, ``"evaluate"``); :func:`run_sweep_config` runs a plain sweep config
(``xbarsim sweep CONFIG``) on :mod:`xbarsim.sweeps`.
"""

from xbarsim.experiments.config import (
    RECIPES,
    ExperimentConfig,
    NetworkSpec,
    Reference,
    experiment_from_dict,
    load_experiment,
)
from xbarsim.experiments.networks import train_network
from xbarsim.experiments.report import ExperimentReport
from xbarsim.experiments.trials import (
    EVALUATE_TRIAL_PARAMETERS,
    TRIAL_PARAMETERS,
    TRIALS,
    calibrate_busy,
    check_sweep,
    circuit_trial,
    evaluate_trial,
    load_sweep,
)
from xbarsim.experiments.run import run_example, run_experiment, run_sweep_config
from xbarsim.experiments.plots import (
    plot_accuracy_vs_alpha,
    plot_accuracy_vs_wire,
    plot_metric_lines,
    plot_point_histograms,
)

__all__ = [
    "EVALUATE_TRIAL_PARAMETERS",
    "ExperimentConfig",
    "ExperimentReport",
    "NetworkSpec",
    "RECIPES",
    "Reference",
    "TRIALS",
    "TRIAL_PARAMETERS",
    "calibrate_busy",
    "check_sweep",
    "circuit_trial",
    "evaluate_trial",
    "experiment_from_dict",
    "load_experiment",
    "load_sweep",
    "plot_accuracy_vs_alpha",
    "plot_accuracy_vs_wire",
    "plot_metric_lines",
    "plot_point_histograms",
    "run_example",
    "run_experiment",
    "run_sweep_config",
    "train_network",
]
