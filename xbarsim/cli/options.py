"""Options shared by the commands that run resumable work on the sweep engine (``evaluate``, ``sweep``)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_run_options"]


def add_run_options(p: argparse.ArgumentParser, *, out_default: str, resume_help: str) -> None:
    """``--out``, ``--resume``, ``--retry-failed``, ``--scheduler``, ``--workers``, ``--dashboard`` and
    ``--quiet`` on parser ``p``."""
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help=f"output folder (default: {out_default})")
    p.add_argument("--resume", action="store_true", help=resume_help)
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume: run the stored failed trials again (e.g. after installing ngspice)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local|serial",
                   help="'local' (default): embedded Dask LocalCluster; 'serial': in this process; or the address "
                        "of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local cluster (default: number of CPUs; evaluate: at most one "
                        "per trial)")
    p.add_argument("--dashboard", action="store_true",
                   help="local cluster: serve the Dask dashboard, on 127.0.0.1 only (off by default: it shows "
                        "worker logs and call stacks without a login)")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
