"""How a circuit is SOLVED: backends behind one protocol, and the cross-checks."""

from xbarsim.solver.api import BACKENDS, CrossCheck, crosscheck, get_backend, solve, solve_netlist, transfer_matrix
from xbarsim.solver.accuracy import ForwardError, estimate_forward_error
from xbarsim.solver.base import Backend
from xbarsim.solver.checks import assert_agree, compare
from xbarsim.solver.ngspice import NgspiceBackend, NgspiceOptions
from xbarsim.solver.solution import Solution
from xbarsim.solver.sparse import SparseBackend, SparseOptions
from xbarsim.solver.tiles import transfer_matrices
from xbarsim.solver.ngspice_transient import TransientCrossCheck, crosscheck_transient, ngspice_transient
from xbarsim.solver.transient import TransientOptions, TransientResult, simulate_transient

__all__ = [
    "BACKENDS", "Backend", "CrossCheck", "ForwardError", "estimate_forward_error", "NgspiceBackend", "NgspiceOptions", "Solution", "SparseBackend",
    "SparseOptions", "assert_agree", "compare", "crosscheck", "get_backend", "solve", "solve_netlist",
    "transfer_matrix", "transfer_matrices",
    "TransientCrossCheck",
    "crosscheck_transient",
    "ngspice_transient",
    "TransientOptions",
    "TransientResult",
    "simulate_transient",
]
