"""The ``xbarsim`` command: one parser, one error handler, one :func:`main`.

Commands, one module each: circuit (``netlist``, ``solve``, ``crosscheck``, ``demo``;
:mod:`xbarsim.cli.circuit`), ``bias-compare`` (:mod:`xbarsim.cli.bias`), ``evaluate``
(:mod:`xbarsim.cli.evaluate`) and ``sweep`` (:mod:`xbarsim.cli.sweep`). Each module's
``add_parser(subparsers)`` registers its commands; a command function takes the parsed arguments,
returns the exit status and lets library errors propagate to :func:`run_command`, where every
:class:`~xbarsim.errors.XbarError` (and an unwritable output path) ends as one line on stderr with
exit status 2, never a traceback, and Ctrl-C exits with 130.
"""

from xbarsim.cli.main import build_parser, main, run_command

__all__ = ["build_parser", "main", "run_command"]
