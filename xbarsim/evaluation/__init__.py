"""Inference through simulated hardware, accuracy against the software baseline, sweeps, reports.

Sweeps: :class:`SweepSpec` (or a TOML file, :func:`load_sweep_config`) -> :func:`run_sweep` on Dask
with every result stored durably in a :class:`ResultStore` -> :func:`aggregate_sweep` (CSV, JSON,
PNG). Trial kinds live in the plain dict :data:`TRIALS`.
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

__all__ = [
    "MAX_SWEEP_TRIALS",
    "ResultStore",
    "SweepAggregate",
    "SweepReport",
    "SweepSpec",
    "TRIALS",
    "TRIAL_PARAMETERS",
    "TrialFunction",
    "TrialRecord",
    "TrialTask",
    "aggregate_sweep",
    "calibrate_busy",
    "execute_trial",
    "load_sweep_config",
    "run_sweep",
    "trial_key",
    "trial_seed",
]
