"""The one parser, the one error handler and the one ``main`` of the ``xbarsim`` command."""


from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from xbarsim.cli import bias, circuit, evaluate, sweep
from xbarsim.errors import RunInterrupted, XbarError
from xbarsim.provenance import version

__all__ = ["build_parser", "main", "run_command"]

DESCRIPTION = """\
Circuit-level simulation of memristor crossbars.

Circuit commands (netlist, solve, crosscheck, demo) build one crossbar and solve it; bias-compare
compares the programming schemes; evaluate runs an experiment config (networks on simulated
hardware); sweep runs a parameter sweep config. Run `xbarsim COMMAND --help` for a command's flags.

Every result file records its provenance (xbarsim version, git commit, library versions, config
hash and text, seed, command line, start time). Exit status: 0 success, 1 a check failed (crosscheck) or some trials failed, 2 bad input,
130 interrupted (Ctrl-C), 141 output pipe closed (`xbarsim solve | head`), 143 terminated (SIGTERM)."""


class _Formatter(argparse.HelpFormatter):
    """Descriptions wrapped paragraph by paragraph (blank lines kept), every flag's default shown
    unless the help already says it (``default`` in the text) or there is none (None, False)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
        return "\n\n".join(textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent)
                             for p in paragraphs)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        # identity, not ==: a default of 0 or 0.0 (a seed, a resistance) is shown; None and False are not
        if (action.option_strings and not any(default is d for d in (None, False, argparse.SUPPRESS))
                and "default" not in text):
            shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
            text += f" (default: {shown})"
        return text


class _CommandParser(argparse.ArgumentParser):
    """The parser of one command: the same help formatter as ``xbarsim --help``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(**kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The ``xbarsim`` argument parser with every command."""
    parser = argparse.ArgumentParser(prog="xbarsim", description=DESCRIPTION, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"xbarsim {version()}",
                        help="print the xbarsim version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser)
    for module in (circuit, bias, evaluate, sweep):
        module.add_parser(sub)
    return parser


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    print(f"xbarsim: warning: {message}", file=sys.stderr)


@contextmanager
def _sigterm_as_interrupt(received: dict[str, int]) -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread, so it stops a run the way Ctrl-C does
    (finished work stored, partial report written); ``received["signal"]`` records which came."""
    def on_signal(signum: int, _frame: Any) -> None:
        received["signal"] = signum
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, on_signal)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _quiet_closed_stdout() -> None:
    """After a closed pipe (``xbarsim solve | head``): point stdout at /dev/null so the interpreter's
    final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured)
        pass


#: Library wording of a parameter -> the flag a CLI user types (library errors name API parameters).
_FLAG_WORDS = (
    ("pass resume=True (--resume)", "pass --resume"),
    ("it needs resume=True (--resume)", "it needs --resume"),
    ("`retry_failed`", "`--retry-failed`"),
    ("resume=True", "--resume"),
    ("`n_workers`", "`--workers`"),
    ("(scheduler None or 'local')", "(--scheduler local, the default)"),
    ("`scheduler`", "`--scheduler`"),
    ("NgspiceOptions.max_cells=", "--max-cells "),
    ("Raise max_cells", "Raise --max-cells"),
)


#: The same for the circuit commands only, whose flags set these Crossbar / LineResistance fields (in
#: ``evaluate`` and ``sweep`` the same words are TOML keys the user did type).
_CIRCUIT_FLAG_WORDS = (
    ("`row_segment`", "`--segment` / `--row-segment`"),
    ("`col_segment`", "`--segment` / `--col-segment`"),
    ("`row_driver`", "`--driver`"),
    ("`col_sense`", "`--sense`"),
    ("`threshold`", "`--threshold`"),
    ("`v_write`", "`--v-write`"),
    ("cell (`row`, `col`)", "`--cell`"),
    ("`a` must be a sinh nonlinearity", "`--sinh-a` must be a sinh nonlinearity"),
    ("(the device is ohmic: use Ohmic())", "(the device is ohmic: use --device ohmic)"),
)
_CIRCUIT_COMMANDS = frozenset({"netlist", "solve", "crosscheck", "demo", "bias-compare"})
#: ``bias-compare`` has one ``--segment`` (no ``--row-segment`` / ``--col-segment``) and its own sweep
#: and voltage flags; applied before the circuit words.
_BIAS_FLAG_WORDS = (
    ("`row_segment`", "`--segment`"),
    ("`col_segment`", "`--segment`"),
    ("`segments`", "`--segments`"),
    ("`v_write`", "`--v-write`"),
    ("`v_read`", "`--v-read`"),
)


def _in_flags(message: str, command: str = "") -> str:
    """An error message with the API parameter names a CLI user cannot type replaced by the flags."""
    words = (_BIAS_FLAG_WORDS if command == "bias-compare" else ()) + _FLAG_WORDS + (
        _CIRCUIT_FLAG_WORDS if command in _CIRCUIT_COMMANDS else ())
    for api, flag in words:
        message = message.replace(api, flag)
    return message


def run_command(args: argparse.Namespace) -> int:
    """Run the command of parsed ``args``: the one error handler of the CLI; returns the exit status.

    An :class:`~xbarsim.errors.XbarError` or an unwritable output path is one line on stderr and
    exit 2; Ctrl-C (SIGINT) or SIGTERM is one line and exit 130 or 143 (what was finished is kept,
    see the command's help); a closed stdout pipe ends the command silently with exit 141.
    """
    received: dict[str, int] = {}
    try:
        with _sigterm_as_interrupt(received), warnings.catch_warnings():
            # a warning is a line for the user to read, never a traceback (nor an error, whatever the
            # interpreter's filters say)
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except BrokenPipeError:
        _quiet_closed_stdout()
        return 128 + signal.SIGPIPE
    except (XbarError, OSError) as exc:  # OSError: an output path that cannot be written, a full disk
        print(f"xbarsim {args.command}: error: {_in_flags(str(exc), args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # the signal that stopped the run: SIGTERM's handler records it; one held back while a finished
        # run's report was written comes with the RunInterrupted raised after the write
        held = exc.signum if isinstance(exc, RunInterrupted) else None
        signum = received.get("signal", held or signal.SIGINT)
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        text = str(exc) if isinstance(exc, RunInterrupted) else getattr(args, "interrupt_hint", "")
        print(f"xbarsim {args.command}: {what}{'; ' + text if text else ''}", file=sys.stderr)
        return 128 + signum


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xbarsim`` command (and ``python -m xbarsim.cli``)."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    args.command_line = ["xbarsim", *words]  # recorded in the provenance of every file written
    return run_command(args)
