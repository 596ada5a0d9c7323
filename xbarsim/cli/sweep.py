"""The ``xbarsim sweep CONFIG`` subcommand: run a TOML-described sweep on Dask, resumably.

``add_parser(subparsers)`` registers it on the ``xbarsim`` command's subparsers. The command loads
the config (:func:`xbarsim.experiments.load_sweep`), runs it (:func:`xbarsim.experiments.run_sweep_config`)
with every result stored in ``OUT/trials.sqlite`` as it finishes, then writes the aggregate
(``trials.csv``, ``summary.csv``, ``summary.json``, ``plot_*.png``) from that store. An interrupted
run (Ctrl-C) exits with 130 and can be continued with ``--resume``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xbarsim.cli.options import add_run_options
from xbarsim.experiments import TRIALS, ConsoleProgress, load_sweep, run_sweep_config

__all__ = ["add_parser"]

#: Points with failed trials named on stdout, each with its first error (the rest: summary.json).
_MAX_FAILED_POINTS = 10


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on an ``argparse`` subparsers object and return its parser."""
    p = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep (TOML config) on Dask, storing every trial as it finishes",
        description=(
            "Run every trial of a sweep config on an embedded Dask LocalCluster (default), an existing "
            "Dask scheduler, or serially. Each result is committed to OUT/trials.sqlite as it finishes; "
            "--resume continues an interrupted sweep without rerunning finished trials. The aggregate "
            "(trials.csv, summary.csv/json, plot_*.png) is then written into OUT from the store."
        ),
    )
    p.add_argument("config", type=Path, help="sweep config (TOML): name, trial, trials, seed, plot_x (the plots' x axis, a grid key; default the "
                        "first), [grid], [fixed], [quick]")
    p.add_argument("--quick", action="store_true", help="apply the config's [quick] overrides (a small variant)")
    add_run_options(p, out_default="results/sweeps/<name>, with -quick appended for --quick; it holds the store "
                                   "and the aggregate",
                    resume_help="skip trials already in the store and run the rest")
    p.set_defaults(func=cmd_sweep, trials=TRIALS,
                   interrupt_hint="finished trials are in the store, rerun with --resume to continue")
    return p


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the ``sweep`` command; returns the exit status (1 when any trial failed). ``args.trials`` maps
    kind names to functions."""
    spec = load_sweep(args.config, args.trials, quick=args.quick)
    out: Path = args.out if args.out is not None else Path("results") / "sweeps" / spec.name
    with ConsoleProgress() as bars:
        report, agg = run_sweep_config(spec, out=out, scheduler=args.scheduler, workers=args.workers,
                                       resume=args.resume, progress=None if args.quiet else bars, trials=args.trials,
                                       config=args.config, command=getattr(args, "command_line", None),
                                       retry_failed=args.retry_failed, dashboard=args.dashboard)
    print(f"sweep {report.name}: {report.total} trials ({report.skipped} already stored, {report.completed} "
          f"completed, {report.failed} failed now) on {report.scheduler} with {report.n_workers} worker(s) "
          f"in {report.elapsed_s:.1f} s")
    if agg.n_failed:
        print(f"  {agg.n_failed} failed trial(s) in total: see error_type/error in {agg.trials_csv}")
        for row in agg.failed_points[:_MAX_FAILED_POINTS]:  # where and why, per point
            where = ", ".join(f"{k}={_value(row[k])}" for k in spec.grid) or "every trial"
            first = row["errors"][0].splitlines()[0]
            more = f" and {len(row['errors']) - 1} other error(s)" if len(row["errors"]) > 1 else ""
            print(f"    {where}: {row['n_failed']} of {row['n_ok'] + row['n_failed']} failed ({first}{more})")
        if len(agg.failed_points) > _MAX_FAILED_POINTS:
            print(f"    ... and {len(agg.failed_points) - _MAX_FAILED_POINTS} more point(s): see errors in "
                  f"{agg.summary_json.name}")
    print(f"  store {report.store}")
    print(f"  wrote {agg.trials_csv.name}, {agg.summary_csv.name}, {agg.summary_json.name} and "
          f"{len(agg.plots)} plot(s) in {out}")
    return 1 if agg.n_failed else 0
