"""The backend protocol."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from xbarsim.netlists.netlist import Netlist
from xbarsim.solver.solution import Solution

__all__ = ["Backend"]


@runtime_checkable
class Backend(Protocol):
    """What a solver backend implements. This docstring is the implementer's checklist.

    * ``name``: the registry name (``"ideal"``, ``"sparse"``, ``"ngspice"``) reported in ``Solution.backend``.
    * Options come as one frozen options object given to the constructor; no ``**kwargs``.
    * ``solve(netlist)`` returns a :class:`Solution` for every batch entry of the netlist's sources,
      with the fields, shapes, units and sign conventions stated on :class:`Solution`. Build it with
      :func:`xbarsim.solver.solution.solution_from_voltages` from node voltages so that every
      backend derives currents the same way (a backend that measures source currents itself passes
      them in).
    * Never return NaN: an unsolvable circuit raises :class:`~xbarsim.errors.CircuitError`, a failed
      or missing simulator :class:`~xbarsim.errors.BackendError` /
      :class:`~xbarsim.errors.BackendUnavailableError`, a nonlinear solve that does not converge
      :class:`~xbarsim.errors.ConvergenceError`.
    * Report what ran in ``Solution.method``, ``iterations`` and ``timings`` (seconds).

    Optional capabilities (callers look for them with ``getattr``; a backend without one is simply
    solved input by input):

    * ``read_matrices(conductance, lines, device)``: the read-scheme transfer matrices ``T``
      ``(K, M, N)``, siemens, of ``K`` crossbars with conductances ``conductance`` ``(K, M, N)``
      that share ``lines`` and ``device``, such that reading crossbar ``k`` with row voltages ``v``
      (every column at 0 V) gives output currents ``v @ T[k]`` exactly as ``solve`` would; or
      ``None`` when this backend has none for ``device`` (nonlinear cells). The mapping read-out
      uses it to push any number of inputs through a tile with one matrix product.
    * ``read_currents(conductance, lines, device, v)``: the read-scheme output currents ``(K, B, N)``,
      ampere, of ``K`` crossbars with conductances ``conductance`` ``(K, M, N)`` that share ``lines``
      and ``device``, crossbar ``k`` read with row voltages ``v[k]`` ``(B, M)`` (every column at 0 V),
      as ``solve`` would give them, for any device law. The mapping read-out uses it for kernels
      without read matrices (nonlinear cells): all of them in one batched solve.
    * ``local_read_matrices = True`` (with ``read_matrices``): the matrices are the cells' own
      conductances, so a block of a matrix depends only on the cells of that block (no wires couple
      it to the rest of the array). The read-out then multiplies block by block, reading the
      matrices in place, instead of concatenating the blocks that share inputs into one product
      (which copies them). Absent means ``False``.
    * ``exact = False``: the backend solves a simplification of the netlist (the ideal backend
      shorts every wire), so ``solve``'s forward-error check against the netlist itself does not
      apply; such a backend checks the circuit it did solve. Absent means ``True``.
    """

    name: str

    def solve(self, netlist: Netlist) -> Solution: ...
