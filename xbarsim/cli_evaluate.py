"""The ``xbarsim evaluate CONFIG`` subcommand: run an experiment config (TOML) and print its report.

``add_parser(subparsers)`` registers it on the ``xbarsim`` command's subparsers. The command loads
the config (:func:`xbarsim.evaluation.load_experiment`, ``--quick`` applies its ``[quick]``
overrides), trains or reuses its networks, runs the sweep on Dask (every trial stored as it
finishes) or the Monte Carlo transfers (appended to JSON lines), and writes ``results.csv``,
``results.json``, ``report.md`` and PNG plots into ``--out`` (default ``results/<name>``). Library
errors end as one line on stderr and exit status 2; Ctrl-C exits with 130 and ``--resume``
continues.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xbarsim.errors import XbarError
from xbarsim.evaluation import load_experiment, run_experiment

__all__ = ["add_parser", "cmd_evaluate", "main", "run_example"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``evaluate`` on an ``argparse`` subparsers object and return its parser."""
    p = subparsers.add_parser(
        "evaluate",
        help="run an evaluation experiment (TOML config): networks on simulated hardware vs software",
        description=(
            "Train (or reuse) the config's networks, transfer them onto simulated crossbar hardware and report "
            "the accuracy beside the software baseline and the papers' numbers. Sweeps run on Dask with every "
            "trial stored in OUT/trials.sqlite; Monte Carlo transfers are appended to OUT/transfers_*.jsonl. "
            "--resume continues an interrupted run."
        ),
    )
    p.add_argument("config", type=Path, help="experiment config (TOML), e.g. examples/configs/exp1_drolet.toml")
    p.add_argument("--quick", action="store_true", help="apply the config's [quick] overrides (a small variant)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: results/<name>, with -quick appended for --quick)")
    p.add_argument("--resume", action="store_true", help="keep stored trials/transfers and run the rest")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local|serial",
                   help="sweeps: 'local' (default, embedded LocalCluster), 'serial', or a Dask scheduler address")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="sweeps: worker processes of the local cluster (default: number of CPUs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    p.set_defaults(func=cmd_evaluate)
    return p


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run the ``evaluate`` subcommand; returns the exit status."""
    try:
        config = load_experiment(args.config, quick=args.quick)
        report = run_experiment(config, out=args.out, resume=args.resume, scheduler=args.scheduler,
                                workers=args.workers, progress=not args.no_progress)
    except XbarError as exc:
        print(f"xbarsim evaluate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xbarsim evaluate: interrupted; finished trials/transfers are stored, rerun with --resume to continue",
              file=sys.stderr)
        return 130
    print(report.table)
    print(f"wrote {len(report.files)} file(s) in {report.out} in {report.elapsed_s:.1f} s: "
          + ", ".join(p.name for p in report.files))
    return 0


def run_example(config_path: Path, description: str, argv: Sequence[str] | None = None) -> Path:
    """The body of the experiment example scripts: run ``config_path`` (its quick variant unless
    ``--full``) into ``--out`` (default ``results/examples/<name>``), print the report."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--full", action="store_true", help="the full-size experiment instead of its quick variant")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    args = parser.parse_args(argv)
    config = load_experiment(config_path, quick=not args.full)
    out = args.out if args.out is not None else Path("results") / "examples" / config.name
    report = run_experiment(config, out=out, resume=args.resume, progress=not args.no_progress)
    print(report.table)
    print(f"wrote {', '.join(p.name for p in report.files)} in {report.out} ({report.elapsed_s:.0f} s)")
    return report.out


def main(argv: Sequence[str] | None = None) -> int:
    """A stand-alone ``xbarsim``-style parser with only the ``evaluate`` subcommand (tests, scripts)."""
    parser = argparse.ArgumentParser(prog="xbarsim")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
