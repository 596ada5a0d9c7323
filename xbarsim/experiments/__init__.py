"""Experiments: TOML configs of networks on hardware, their runs on the sweep engine or as Monte Carlo
transfers, and reports with the papers' numbers beside ours.

:func:`load_experiment` -> :class:`ExperimentConfig` -> :func:`run_experiment` (``xbarsim evaluate
CONFIG``) -> :class:`ExperimentReport` (``results.csv``, ``results.json``, ``report.md``, PNG plots).
The trial kinds a sweep config may name are one dict literal, :data:`TRIALS` (``"circuit"``,
``"busy"``, ``"sleep"``, ``"evaluate"``); :func:`run_sweep_config` runs a plain sweep config
(``xbarsim sweep CONFIG``) on :mod:`xbarsim.sweeps`. :func:`load_results` reads a results folder
back (trials, summaries, provenance).
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
from xbarsim.experiments.report import ConsoleProgress, ExperimentReport
from xbarsim.experiments.results import Results, load_results, read_csv
from xbarsim.experiments.trials import (
    EVALUATE_TRIAL_PARAMETERS,
    TRIAL_CHECKS,
    TRIAL_PARAMETERS,
    TRIALS,
    calibrate_busy,
    TransferTrial,
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
    "ConsoleProgress",
    "ExperimentConfig",
    "ExperimentReport",
    "NetworkSpec",
    "RECIPES",
    "Reference",
    "Results",
    "TRIALS",
    "TRIAL_CHECKS",
    "TRIAL_PARAMETERS",
    "TransferTrial",
    "calibrate_busy",
    "check_sweep",
    "circuit_trial",
    "evaluate_trial",
    "experiment_from_dict",
    "load_experiment",
    "load_results",
    "load_sweep",
    "plot_accuracy_vs_alpha",
    "plot_accuracy_vs_wire",
    "plot_metric_lines",
    "plot_point_histograms",
    "read_csv",
    "run_example",
    "run_experiment",
    "run_sweep_config",
    "train_network",
]
