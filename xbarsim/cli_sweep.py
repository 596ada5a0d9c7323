"""The ``xbarsim sweep CONFIG`` subcommand: run a TOML-described sweep on Dask, resumably.

``add_parser(subparsers)`` registers it on the ``xbarsim`` command's subparsers. The command loads
the config (:func:`xbarsim.evaluation.load_sweep_config`), runs it (:func:`~xbarsim.evaluation.run_sweep`)
with every result stored in ``OUT/trials.sqlite`` as it finishes, then writes the aggregate
(``trials.csv``, ``summary.csv``, ``summary.json``, ``plot_*.png``) from that store. Library errors
end as one line on stderr and exit status 2; an interrupted run (Ctrl-C) exits with 130 and can be
continued with ``--resume``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xbarsim.errors import XbarError
from xbarsim.evaluation import aggregate_sweep, load_sweep_config, run_sweep

__all__ = ["add_parser", "cmd_sweep", "main"]

#: Name of the store inside the output folder.
STORE_NAME = "trials.sqlite"


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
    p.add_argument("config", type=Path, help="sweep config (TOML): name, trial, trials, seed, [grid], [fixed]")
    p.add_argument("--scheduler", default="local", metavar="ADDRESS|local|serial",
                   help="'local' (default): embedded LocalCluster; 'serial': in this process; or the address of "
                        "a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local cluster (default: number of CPUs)")
    p.add_argument("--resume", action="store_true", help="skip trials already in the store and run the rest")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder holding the store and the aggregate (default: results/sweeps/<name>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_sweep)
    return p


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the ``sweep`` subcommand; returns the exit status."""
    try:
        spec = load_sweep_config(args.config)
        out: Path = args.out if args.out is not None else Path("results") / "sweeps" / spec.name
        store = out / STORE_NAME
        report = run_sweep(spec, store=store, scheduler=args.scheduler, n_workers=args.workers,
                           resume=args.resume, progress=not args.no_progress)
        agg = aggregate_sweep(store, out)
    except XbarError as exc:
        print(f"xbarsim sweep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xbarsim sweep: interrupted; finished trials are in the store, rerun with --resume to continue",
              file=sys.stderr)
        return 130
    print(f"sweep {report.name}: {report.total} trials ({report.skipped} already stored, {report.completed} "
          f"completed, {report.failed} failed now) on {report.scheduler} with {report.n_workers} worker(s) "
          f"in {report.elapsed_s:.1f} s")
    if agg.n_failed:
        print(f"  {agg.n_failed} failed trial(s) in total: see error_type/error in {agg.trials_csv}")
    print(f"  store {store}")
    print(f"  wrote {agg.trials_csv.name}, {agg.summary_csv.name}, {agg.summary_json.name} and "
          f"{len(agg.plots)} plot(s) in {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """A stand-alone ``xbarsim``-style parser with only the ``sweep`` subcommand (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="xbarsim")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except XbarError as exc:  # pragma: no cover - cmd_sweep handles library errors itself
        print(f"xbarsim {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
