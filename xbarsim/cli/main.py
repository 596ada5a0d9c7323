"""The one parser, the one error handler and the one ``main`` of the ``xbarsim`` command."""


from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from xbarsim.cli import bias, circuit, evaluate, sweep
from xbarsim.errors import XbarError

__all__ = ["build_parser", "main", "run_command"]


def build_parser() -> argparse.ArgumentParser:
    """The ``xbarsim`` argument parser with every command."""
    parser = argparse.ArgumentParser(prog="xbarsim", description="Circuit-level simulation of memristor crossbars.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (circuit, bias, evaluate, sweep):
        module.add_parser(sub)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """Run the command of parsed ``args``: the one error handler of the CLI; returns the exit status."""
    try:
        return int(args.func(args))
    except (XbarError, OSError) as exc:  # OSError: an output path that cannot be written, a full disk
        print(f"xbarsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = getattr(args, "interrupt_hint", "")
        print(f"xbarsim {args.command}: interrupted{'; ' + hint if hint else ''}", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xbarsim`` command (and ``python -m xbarsim.cli``)."""
    return run_command(build_parser().parse_args(argv))
