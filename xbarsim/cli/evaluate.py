"""The ``xbarsim evaluate CONFIG`` subcommand: run an experiment config (TOML) and print its report.

``add_parser(subparsers)`` registers it on the ``xbarsim`` command's subparsers. The command loads
the config (:func:`xbarsim.experiments.load_experiment`, ``--quick`` applies its ``[quick]``
overrides), trains or reuses its networks, runs the sweep on Dask (every trial stored as it
finishes) or the Monte Carlo transfers (one stored trial each), and writes ``results.csv``,
``results.json``, ``report.md``, PNG plots (a sweep also ``trials.csv`` and ``summary.csv``/``.json``) and
the trained ``networks/`` into ``--out`` (default ``results/<name>``). Ctrl-C
exits with 130 and ``--resume`` continues.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from xbarsim.cli.options import add_run_options
from xbarsim.experiments import ConsoleProgress, load_experiment, run_experiment

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``evaluate`` on an ``argparse`` subparsers object and return its parser."""
    p = subparsers.add_parser(
        "evaluate",
        help="run an evaluation experiment (TOML config): networks on simulated hardware vs software",
        description=(
            "Train (or reuse) the config's networks, transfer them onto simulated crossbar hardware and report "
            "the accuracy beside the software baseline and the papers' numbers. Writes OUT/report.md, "
            "OUT/results.csv, OUT/results.json and PNG plots (a sweep also OUT/trials.csv, OUT/summary.csv and "
            "OUT/summary.json); the trained networks are kept in OUT/networks/ (networks.json, *.npz). Sweeps run "
            "on Dask with every trial stored in OUT/trials.sqlite; Monte Carlo transfers in OUT/transfers_*.sqlite. "
            "--scheduler, --workers and --dashboard apply to sweeps: a Monte Carlo experiment runs its transfers "
            "in this process. Ctrl-C or SIGTERM stops the run, writes the report of what has finished (marked "
            "partial) and exits with 130 / 143; --resume continues the run."
        ),
    )
    p.add_argument("config", type=Path, help="experiment config (TOML), e.g. examples/configs/exp1_drolet.toml")
    p.add_argument("--quick", action="store_true", help="apply the config's [quick] overrides (a small variant)")
    add_run_options(p, out_default="results/<name>, with -quick appended for --quick",
                    resume_help="keep stored trials/transfers and run the rest")
    p.set_defaults(func=cmd_evaluate,
                   interrupt_hint="finished trials/transfers are stored, rerun with --resume to continue")
    return p


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run the ``evaluate`` command; returns the exit status (1 when any trial failed)."""
    config = load_experiment(args.config, quick=args.quick)
    if config.kind == "monte-carlo":
        ignored = [flag for flag, given in (("--scheduler", args.scheduler not in (None, "serial")),
                                            ("--workers", args.workers is not None),
                                            ("--dashboard", args.dashboard)) if given]
        if ignored:
            warnings.warn(f"{', '.join(ignored)} apply to sweeps; the Monte Carlo experiment {config.name!r} runs its "
                          "transfers in this process", stacklevel=2)
    with ConsoleProgress() as bars:
        report = run_experiment(config, out=args.out, resume=args.resume, scheduler=args.scheduler,
                                workers=args.workers, progress=None if args.quiet else bars,
                                command=getattr(args, "command_line", None),
                                retry_failed=args.retry_failed, dashboard=args.dashboard)
    print(report.table)
    print(f"wrote {len(report.files)} file(s) in {report.out} in {report.elapsed_s:.1f} s: "
          + ", ".join(p.name for p in report.files))
    if report.n_failed:
        print(f"xbarsim evaluate: {report.n_failed} trial(s) failed (see trials.csv); --resume --retry-failed "
              "runs them again", file=sys.stderr)
        return 1
    return 0
