"""The ideal-wire backend: every wire segment, driver and sense resistance taken as 0 ohm.

Notes
-----
With every resistor of a netlist shorted, each row line and each column line is one node: the
voltage of its driven end(s), or floating. :func:`ideal_netlist` is that reduced circuit (the
lines as nodes, only the cells between them); the backend solves KCL for the floating lines only
and reports every node of the original netlist at the voltage of its line. Linear cells: one
SuperLU of the nodal matrix of the floating lines (at most ``M + N`` unknowns), shared by the
batch; device laws (``IdealOptions(cells="law")``): the batched Newton of the sparse backend on the
reduced circuit. A read with every line driven solves nothing: ``I = v @ G``.

The reduced circuit is what the solution describes: its currents, power and KCL residual are those
of the circuit with ideal wires (a shorted wire carries whatever current KCL asks of it at zero
voltage drop, so wire currents are not reported). Sources shorted onto one line share its current
equally, as the sparse backend does for ideal wires. On a crossbar built with
``LineResistance`` of zeros, the netlist already is its reduced circuit, and every field equals the
sparse backend's (tested to 1e-12).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import get_args

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from xbarsim._typing import FloatArray, IdealCells, IntArray
from xbarsim._validation import as_float_array, check_choice
from xbarsim.devices.models import DeviceModel, Ohmic
from xbarsim.errors import ConfigError
from xbarsim.netlists.lines import LineResistance
from xbarsim.netlists.netlist import Netlist, check_shorted_sources
from xbarsim.solver.accuracy import warn_if_inaccurate
from xbarsim.solver.newton import NewtonOptions, newton_solve
from xbarsim.solver.nodal import _splu, assemble
from xbarsim.solver.solution import Solution, solution_from_voltages

__all__ = ["IdealOptions", "IdealBackend", "ideal_netlist"]


@dataclass(frozen=True, kw_only=True)
class IdealOptions:
    """Options of the ideal backend.

    Attributes
    ----------
    cells : {"linear", "law"}
        ``"linear"`` (default): every cell a linear conductance at its programmed value, the
        textbook crossbar ``I = V G`` (for the sinh law, its slope at 0 V). This is what
        ``"ideal"`` means everywhere in xbarsim (the read-out's ideal product, its energy). ``"law"``:
        the cells follow the netlist's device law, so the backend is the sparse backend's circuit
        with every wire shorted.
    newton : NewtonOptions
        The nonlinear solve of floating lines under ``cells="law"``.
    """

    cells: IdealCells = "linear"
    newton: NewtonOptions = NewtonOptions()

    def __post_init__(self) -> None:
        check_choice(self.cells, get_args(IdealCells), "cells")
        if not isinstance(self.newton, NewtonOptions):
            raise ConfigError(f"`newton` must be NewtonOptions; got {type(self.newton).__name__}.")


def ideal_netlist(netlist: Netlist, device: DeviceModel | None = None) -> tuple[Netlist, IntArray]:
    """``netlist`` with every resistor shorted, and the node map.

    Returns the reduced netlist (no resistors; one node per set of nodes joined by resistors, i.e.
    per line; cells and sources unchanged; ``device`` replaces the cell law if given) and
    ``node_map`` ``(n_nodes,)``: node ``k`` of ``netlist`` is node ``node_map[k]`` of the reduced one.
    Reduced nodes are numbered in the order of their lowest original node, so a netlist without
    resistors maps onto itself.

    Raises
    ------
    CircuitError
        If shorting the wires connects two sources held at different voltages.
    """
    n = netlist.n_nodes
    res = netlist.resistor_nodes
    if res.shape[0] == 0:
        labels = np.arange(n, dtype=np.int64)
        reps = labels
    else:
        adj = sp.coo_matrix((np.ones(res.shape[0]), (res[:, 0], res[:, 1])), shape=(n, n))
        n_comp, comp = connected_components(adj, directed=False)
        first = np.full(n_comp, n, dtype=np.int64)
        np.minimum.at(first, comp, np.arange(n, dtype=np.int64))
        order = np.argsort(first, kind="stable")
        rank = np.empty(n_comp, dtype=np.int64)
        rank[order] = np.arange(n_comp)
        labels = rank[comp]
        reps = first[order]
    source_node = labels[netlist.source_node]
    check_shorted_sources(source_node, netlist.source_voltage, netlist.source_end, netlist.source_line)
    reduced = replace(
        netlist,
        n_nodes=int(reps.size),
        node_origin=netlist.node_origin[reps],
        row_node=labels[netlist.row_node],
        col_node=labels[netlist.col_node],
        resistor_nodes=np.zeros((0, 2), dtype=np.int64),
        resistor_values=np.zeros(0),
        resistor_kind=np.zeros(0, dtype=np.int8),
        resistor_index=np.zeros((0, 2), dtype=np.int64),
        source_node=source_node,
        device=netlist.device if device is None else device,
    )
    return reduced, labels


class IdealBackend:
    """Every wire, driver and sense resistance 0 ohm (see the module notes and :class:`IdealOptions`)."""

    name = "ideal"
    #: Solves a simplification of the netlist (the wires shorted), not the netlist itself: the
    #: forward-error check of ``solve`` / ``crosscheck``, which measures against the netlist, does
    #: not apply; this backend checks its own reduced circuit instead.
    exact = False
    #: Its read matrices are the conductances: a block's matrix is its own cells (see :class:`Backend`).
    local_read_matrices = True

    def __init__(self, options: IdealOptions | None = None) -> None:
        if options is not None and not isinstance(options, IdealOptions):
            raise ConfigError(f"`options` must be IdealOptions; got {type(options).__name__}.")
        self.options = options or IdealOptions()

    def _device(self, device: DeviceModel) -> DeviceModel:
        return device if self.options.cells == "law" or device.linear else Ohmic()

    def solve(self, netlist: Netlist) -> Solution:
        """Operating point(s) of ``netlist`` with ideal wires; one factorization for the whole batch."""
        if not isinstance(netlist, Netlist):
            raise ConfigError(f"`netlist` must be a Netlist; got {type(netlist).__name__}.")
        with np.errstate(all="ignore"):  # non-finite results raise typed errors in solution_from_voltages
            return self._solve(netlist)

    def _solve(self, netlist: Netlist) -> Solution:
        t0 = time.perf_counter()
        reduced, node_map = ideal_netlist(netlist, self._device(netlist.device))
        fixed, first = np.unique(reduced.source_node, return_index=True)
        vf = reduced.source_voltage[:, first]  # (B, F), in the order of `fixed`
        bsz = reduced.batch_size
        v = np.empty((bsz, reduced.n_nodes))
        v[:, fixed] = vf
        method, iterations = "product", 0
        t1 = t2 = time.perf_counter()
        if fixed.size < reduced.n_nodes:  # floating lines: KCL among the cells
            asm = assemble(reduced, reduced.conductance)  # CircuitError if a line has no path to a source
            t1 = time.perf_counter()
            if reduced.device.linear:
                # all sources at one voltage c: the exact answer is c everywhere (see SparseBackend)
                shift = np.where(np.ptp(vf, axis=1) == 0, vf[:, 0], 0.0) if vf.size else np.zeros(bsz)
                rhs = -(asm.C @ (vf - shift[:, None]).T)
                lu = _splu(asm.A_csc, "MMD_AT_PLUS_A")
                t2 = time.perf_counter()
                x = np.asarray(lu.solve(np.ascontiguousarray(rhs))).reshape(asm.unknown.size, bsz) + shift
                method = "direct"
            else:
                t2 = t1
                result = newton_solve(reduced, asm.unknown, asm.fixed, vf.T, self.options.newton)
                x, method, iterations = result.x, "newton", result.iterations
            v[:, asm.unknown] = x.T
        t3 = time.perf_counter()
        timings = {"assemble": t1 - t0, "factor": t2 - t1, "solve": t3 - t2}
        # the check measures the circuit that was solved: the reduced one
        warn_if_inaccurate(reduced, solution_from_voltages(reduced, v, backend=self.name, method=method,
                                                           iterations=iterations, timings=timings), stacklevel=5)
        sol = solution_from_voltages(reduced, v, backend=self.name, method=method, iterations=iterations,
                                     timings=timings, node_map=node_map)
        return sol.with_timings({**timings, "total": time.perf_counter() - t0})

    def read_matrices(self, conductance: FloatArray, lines: LineResistance, device: DeviceModel) -> FloatArray | None:
        """Read-scheme transfer matrices ``(K, M, N)`` (siemens) of ``K`` crossbars: with ideal wires
        and linear cells, the conductances themselves (``I = v @ G``); None for a device law that is
        followed (``cells="law"`` with nonlinear cells). ``lines`` do not matter (the
        :class:`~xbarsim.solver.Backend` read capability)."""
        if not self._device(device).linear:
            return None
        g = as_float_array(conductance, "conductance", what="array of non-negative conductances in siemens",
                           min_value=0.0)
        if g.ndim != 3:
            raise ConfigError(f"`conductance` must have shape (K, M, N); got shape {g.shape}.")
        return g.copy()
