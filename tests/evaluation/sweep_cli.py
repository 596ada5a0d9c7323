"""Test harness of the ``sweep`` subcommand: an argparse parser built with ``xbarsim.cli_sweep.add_parser``.

Usage: ``python tests/evaluation/sweep_cli.py sweep CONFIG [options]``. It also registers the test
trial kind ``"marked"`` (``sweep_helpers``) so that a CLI run can log which process ran which trial.
"""

from __future__ import annotations

import argparse
import sys

import sweep_helpers  # noqa: F401  (registers TRIALS["marked"])

from xbarsim.cli_sweep import add_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xbarsim")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
