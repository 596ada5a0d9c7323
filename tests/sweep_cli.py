"""Test harness of the ``sweep`` command: the real ``xbarsim`` parser and error handler, with the test
trial kind ``"marked"`` (``sweep_helpers``) added to the kinds the command knows, so that a CLI run
can log which process ran which trial.

Usage: ``python tests/sweep_cli.py sweep CONFIG [options]``.
"""

from __future__ import annotations

import sys

from sweep_helpers import TEST_TRIALS

from xbarsim.cli import build_parser, run_command


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.trials = TEST_TRIALS
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
