"""Resumable parameter sweeps on Dask: a side wing on the base layer that knows no circuits and no networks.

A :class:`SweepSpec` (from Python or a TOML file, :func:`load_sweep_config`) names a trial kind, a
parameter grid, fixed parameters, trials per grid point and a seed. :func:`run_sweep` takes the spec
and the trial FUNCTION that runs it (``(params, rng) -> metrics``, :data:`TrialFunction`), runs every
trial not yet stored on Dask (or serially), and stores each result durably in a :class:`ResultStore`
(SQLite, append-only, one writer). :func:`aggregate_sweep` writes the CSV, JSON and PNG aggregate
from the store alone. Nothing registers itself here: the experiments layer maps kind names to
functions (:data:`xbarsim.experiments.TRIALS`).
"""

from xbarsim.sweeps.spec import (
    MAX_SWEEP_TRIALS,
    SweepSpec,
    TrialFunction,
    TrialTask,
    canonical,
    check_plot_x,
    load_sweep_config,
    quick_error,
    trial_key,
    trial_seed,
)
from xbarsim.sweeps.files import WriterLock, refuse_symlink, replace_from, write_bytes, write_csv, write_text
from xbarsim.sweeps.store import ResultStore, TrialRecord, describe_changes
from xbarsim.sweeps.runner import SweepReport, check_scheduler, compact_error, execute_trial, run_sweep
from xbarsim.sweeps.aggregate import SweepAggregate, aggregate_sweep, summarize

__all__ = [
    "MAX_SWEEP_TRIALS",
    "ResultStore",
    "SweepAggregate",
    "SweepReport",
    "SweepSpec",
    "TrialFunction",
    "TrialRecord",
    "TrialTask",
    "WriterLock",
    "aggregate_sweep",
    "canonical",
    "check_scheduler",
    "check_plot_x",
    "compact_error",
    "describe_changes",
    "execute_trial",
    "load_sweep_config",
    "quick_error",
    "refuse_symlink",
    "replace_from",
    "run_sweep",
    "summarize",
    "trial_key",
    "trial_seed",
    "write_bytes",
    "write_csv",
    "write_text",
]
