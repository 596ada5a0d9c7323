"""The scipy.sparse nodal-analysis backend: factor once, solve many.

Notes
-----
Unknowns are the node voltages of every node not held by a source. With element conductances
``g_e`` between nodes ``a_e`` and ``b_e`` the nodal (Laplacian) matrix is ``L = D diag(g) D^T``.
Splitting nodes into unknown ``u`` and fixed ``f``, KCL at the unknown nodes reads
``L_uu x = -L_uf v_f``; ``L_uu`` is symmetric positive definite when every unknown node has a
conductive path to a fixed node (otherwise the circuit is singular and :class:`CircuitError`
names the floating nodes). Assembly is vectorised over elements; no Python loop per cell.

Direct path: SuperLU on the matrix permuted by a geometric nested dissection of the crossbar grid
(:mod:`xbarsim.solver.ordering`), no pivoting (SPD), one factorization reused for every right-hand
side of a batch. Iterative path: conjugate gradients on the whole batch at once, preconditioned
by the wire matrix (``L_uu`` without the cell couplings between row and column nodes, cell
conductances kept on the diagonal), whose factorization solves every row wire and column wire
exactly; when CG does not reach ``rtol`` within ``maxiter`` the direct path takes over.

Netlists in the regular grid layout (no ideal wire merged; :func:`~xbarsim.solver._grid.grid_layout`
checks the node arrays) take the iterative path without general assembly: the row-wire and
column-wire tridiagonals are built by index arithmetic and CG runs on the reduced system of the row
nodes (column nodes eliminated line by line), which needs about half the iterations
(:mod:`xbarsim.solver._grid`). The stopping rule and the direct fallback are the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xbarsim._typing import FloatArray, IntArray, Ordering, SolveMethod
from xbarsim._validation import check_choice, plain_scalars
from xbarsim.errors import CircuitError, ConfigError, ConvergenceError
from xbarsim.devices.models import DeviceModel
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance
from xbarsim.netlists.netlist import Netlist, build_netlist
from xbarsim.solver._grid import GridLayout, GridSystem, grid_layout, solve_grid
from xbarsim.solver._tridiag import pttrf, pttrs
from xbarsim.solver.newton import GridStepFailed, NewtonOptions, grid_newton, newton_solve
from xbarsim.solver.nodal import Assembled, _ordering, _splu, assemble
from xbarsim.solver.tile_newton import grid_read_newton, tile_read_currents
from xbarsim.solver.tiles import transfer_matrices
from xbarsim.solver.topology import check_floating_grid
from xbarsim.solver.solution import Solution, solution_from_ports, solution_from_voltages

__all__ = ["SparseOptions", "SparseBackend", "assemble", "Assembled"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SparseOptions:
    """Options of the sparse backend.

    Attributes
    ----------
    method : {"auto", "direct", "iterative"}
        What solves the linear system; see ``direct_max_unknowns`` for ``"auto"``.
    ordering : {"auto", "nested-dissection", "colamd", "mmd"}
        Fill-reducing ordering of the direct path; ``"auto"`` is nested dissection.
    rtol : float
        Iterative path: stop when the componentwise backward error of KCL,
        ``max_k |b - A x|_k / (|A| |x| + |b|)_k``, is at most ``rtol`` for every right-hand side.
    maxiter : int
        Iterative path: CG iteration limit before falling back to the direct path.
    newton : NewtonOptions
        Options of the nonlinear (Newton) solve, used when the device model is nonlinear.
    direct_max_unknowns : int
        ``"auto"`` never factors systems larger than this (memory); it takes the direct path for
        at most 1024 unknowns, or for batches of more than 32 right-hand sides, and CG otherwise.
    batch_ports : bool
        Answer batches of more than 32 operating points of linear cells (``method`` ``"auto"`` or
        ``"direct"``) through the port matrix (see :meth:`SparseBackend.transfer_matrix`): source
        currents are one matrix product; node voltages and the per-cell fields are solved on first
        access, for the batch entries asked for only (``method == "port-matrix"``).
    """

    method: SolveMethod = "auto"
    ordering: Ordering = "auto"
    rtol: float = 1e-13
    maxiter: int = 300
    direct_max_unknowns: int = 700_000
    newton: NewtonOptions = NewtonOptions()
    batch_ports: bool = True

    def __post_init__(self) -> None:
        plain_scalars(self)  # np.int64(5) is 5, np.float32(0.5) is 0.5
        check_choice(self.method, get_args(SolveMethod), "method")
        check_choice(self.ordering, get_args(Ordering), "ordering")
        if not (isinstance(self.rtol, float | int) and not isinstance(self.rtol, bool) and 0 < self.rtol < 1):
            raise ConfigError(f"`rtol` must be a relative tolerance in (0, 1); got {self.rtol!r}.")
        if not (isinstance(self.maxiter, int) and not isinstance(self.maxiter, bool) and self.maxiter >= 1):
            raise ConfigError(f"`maxiter` must be a positive int; got {self.maxiter!r}.")
        if not isinstance(self.newton, NewtonOptions):
            raise ConfigError(f"`newton` must be NewtonOptions; got {type(self.newton).__name__}.")
        if not (isinstance(self.direct_max_unknowns, int) and not isinstance(self.direct_max_unknowns, bool) and self.direct_max_unknowns >= 0):
            raise ConfigError(f"`direct_max_unknowns` must be a non-negative int; got {self.direct_max_unknowns!r}.")
        if not isinstance(self.batch_ports, bool):
            raise ConfigError(f"`batch_ports` must be True or False; got {self.batch_ports!r}.")


class _Factor:
    """A factorization of an SPD matrix under a symmetric permutation (no pivoting)."""

    def __init__(self, A: sp.csc_matrix, perm: IntArray | None, ordering: str = "nested-dissection") -> None:
        self.perm = perm
        if perm is not None:
            Ap = A[perm][:, perm].tocsc()
            spec = "NATURAL"
        else:
            Ap = A
            spec = "COLAMD" if ordering == "colamd" else "MMD_AT_PLUS_A"
        self.lu = _splu(Ap, spec)

    def solve(self, rhs: FloatArray) -> FloatArray:
        if self.perm is None:
            return np.asarray(self.lu.solve(rhs))
        out = np.empty_like(rhs)
        out[self.perm] = self.lu.solve(np.ascontiguousarray(rhs[self.perm]))
        return out


class _LinePreconditioner:
    """Exact solve of every row and column wire with cell conductances kept on the diagonal.

    The wire graph is a union of paths (each row and column wire) and :func:`assemble` numbers the
    unknowns line by line, so the matrix is one SPD tridiagonal matrix, factored by LAPACK
    ``pttrf`` in O(n) with no permutation.
    """

    def __init__(self, asm: Assembled) -> None:
        nu = asm.unknown.size
        d = asm.A.diagonal()
        e = np.zeros(max(nu - 1, 0))
        p, q, g = asm.wire_edges
        if not (np.abs(p - q) == 1).all():  # pragma: no cover - guaranteed by the line numbering
            raise CircuitError("internal error: the wire graph is not a union of paths in line order")
        e[np.minimum(p, q)] = -g
        self.d, self.e = pttrf(d, e)

    def solve(self, rhs: FloatArray) -> FloatArray:
        return pttrs(self.d, self.e, rhs)


def _pcg(A: sp.csr_matrix, B: FloatArray, precond: _LinePreconditioner, rtol: float,
         maxiter: int) -> tuple[FloatArray, int, bool]:
    """Preconditioned conjugate gradients on all columns of ``B`` at once (independent CG runs).

    Converged means a componentwise backward error ``max_k |b - A x|_k / (|A| |x| + |b|)_k <= rtol``
    on the true residual, the same measure as ``Solution.kcl_residual``. A norm-wise criterion alone
    is not enough here: wire conductances exceed cell conductances by 1e4-1e6, so a residual that is
    tiny next to ``||b||`` can still be large at a column node near the sense amplifier. CG runs on
    the cheap norm-wise test and tightens it until the componentwise test passes.
    """
    # CG is linear in b: scale each right-hand side to unit size so that inner products of tiny
    # (or huge) inputs neither underflow nor overflow, and scale the solution back at the end.
    colmax = np.abs(B).max(axis=0) if B.size else np.zeros(B.shape[1])
    colscale = np.where(colmax > 0, colmax, 1.0)
    Bs = B / colscale
    absA = abs(A)

    def check(X: FloatArray) -> tuple[FloatArray, FloatArray]:
        true_r = Bs - A @ X
        denom = absA @ np.abs(X) + np.abs(Bs)
        err = np.divide(np.abs(true_r), denom, out=np.zeros_like(true_r), where=denom > 0).max(axis=0)
        return err, true_r

    X, it, ok = pcg_core(lambda P: A @ P, precond.solve, Bs, rtol, maxiter, check)
    return X * colscale, it, ok


def pcg_core(matvec: Callable[[FloatArray], FloatArray], precond: Callable[[FloatArray], FloatArray],
             B: FloatArray, rtol: float, maxiter: int,
             check: Callable[[FloatArray], tuple[FloatArray, FloatArray]],
             max_restarts: int = 6) -> tuple[FloatArray, int, bool]:
    """Batched PCG on unit-scaled right-hand sides ``B`` (columns are independent CG runs).

    ``check(X)`` returns the componentwise backward error of every column and the true residual;
    it is called whenever every column has met its norm-wise target, and decides convergence.
    """
    X = np.zeros_like(B)
    R = B.copy()
    target = rtol * np.linalg.norm(B, axis=0)
    active = target > 0
    if not active.any():
        return X, 0, True
    restarts = 0
    Z = precond(R)
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    for it in range(1, maxiter + 1):
        AP = matvec(P)
        pap = np.einsum("ij,ij->j", P, AP)
        if not np.isfinite(pap).all():
            return X, it, False
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=active & (pap > 0))
        X += alpha * P
        R -= alpha * AP
        rnorm = np.linalg.norm(R, axis=0)
        if not np.isfinite(rnorm).all():
            return X, it, False
        active = rnorm > target
        if not active.any():
            err, true_r = check(X)
            worse = ~(err <= rtol)
            if not worse.any():
                return X, it, True
            restarts += 1
            if restarts > max_restarts or not np.isfinite(err).all():
                # stagnation at the attainable accuracy: let the direct path finish
                return X, it, False
            # tighten the norm-wise target of the columns that are not there yet and restart their
            # recurrences from the true residual (mixing it into the old directions breaks CG)
            shrink = np.divide(rtol, err, out=np.ones_like(err), where=worse)
            target = np.where(worse, target * np.maximum(shrink, 1e-3), target)
            R = np.where(worse, true_r, 0.0)
            active = worse
            Z = precond(R)
            P = Z.copy()
            rz = np.einsum("ij,ij->j", R, Z)
            continue
        Z = precond(R)
        rz_new = np.einsum("ij,ij->j", R, Z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=active & (rz > 0))
        P = Z + beta * P
        rz = rz_new
    return X, maxiter, False


class SparseBackend:
    """Exact nodal analysis with scipy.sparse (see the module notes)."""

    name = "sparse"

    def __init__(self, options: SparseOptions | None = None) -> None:
        if options is not None and not isinstance(options, SparseOptions):
            raise ConfigError(f"`options` must be SparseOptions; got {type(options).__name__}.")
        self.options = options or SparseOptions()

    def _method(self, n_unknown: int, batch: int) -> str:
        """``"auto"``: direct for small systems (exact, and factoring is cheap) and for large batches
        that amortise one factorization; CG otherwise (O(n) per iteration, 5-35 iterations)."""
        o = self.options
        if o.method != "auto":
            return o.method
        if n_unknown <= 1024:
            return "direct"
        if batch > 32 and n_unknown <= o.direct_max_unknowns:
            return "direct"
        return "iterative"

    def solve(self, netlist: Netlist) -> Solution:
        """Operating point(s) of ``netlist``; every batch entry shares one factorization (linear
        devices) or is solved by batched Newton (nonlinear devices)."""
        # Floating-point exceptions are checked, not warned: a non-finite result raises a typed
        # error in solution_from_voltages (inputs too extreme) instead of a RuntimeWarning.
        if not isinstance(netlist, Netlist):
            raise ConfigError(f"`netlist` must be a Netlist; got {type(netlist).__name__}.")
        with np.errstate(all="ignore"):
            return self._solve(netlist)

    def _solve(self, netlist: Netlist) -> Solution:
        t0 = time.perf_counter()
        vf = netlist.source_voltage[:, np.unique(netlist.source_node, return_index=True)[1]]
        if netlist.device.linear:
            # An operating point whose sources all sit at one voltage c has the exact solution x = c
            # (L 1 = 0, so A (x - c) = -C (v_f - c) = 0): solve relative to c there, so that no
            # rounding makes currents flow. Elsewhere voltages stay referenced to ground, where the
            # sense nodes sit.
            shift = np.where(np.ptp(vf, axis=1) == 0, vf[:, 0], 0.0) if vf.size else np.zeros(vf.shape[0])
            if self._use_ports(netlist):
                return self._solve_ports(netlist, vf, shift, t0)
            layout = grid_layout(netlist)
            cg_failed = False
            if layout is not None and self._method(2 * layout.m * layout.n, vf.shape[0]) == "iterative":
                grid = self._solve_grid(netlist, layout, vf - shift[:, None], t0)
                if grid is not None:
                    v, method, iters, timings = grid
                    v[:, :2 * layout.m * layout.n] += shift[:, None]
                    v[:, 2 * layout.m * layout.n:] = vf
                    return self._finish(netlist, v, method, iters, timings, t0)
                cg_failed = True
            asm = assemble(netlist, netlist.conductance)
            t1 = time.perf_counter()
            rhs = -(asm.C @ (vf - shift[:, None]).T) if asm.unknown.size else np.zeros((0, vf.shape[0]))
            x, method, iters, tf = self._solve_linear(netlist, asm, rhs, cg_failed=cg_failed)
            x = x + shift
        else:
            layout = grid_layout(netlist)
            if layout is not None:
                check_floating_grid(netlist, layout)
                t1 = time.perf_counter()
                try:
                    read = grid_read_newton(netlist, layout, self.options.newton)
                except ConvergenceError as exc:
                    # Newton on the cell voltages recovers its step as -r - Z S y, which cancels when
                    # the start is far from the solution (strong sinh: r ~ 1e4 V for a 0.05 V step), so
                    # the inexact inner CG can stall it where Newton on the node voltages converges
                    _log.info("read-scheme Newton failed (%s); taking the grid Newton", exc)
                    read = None
                if read is not None:  # a batch of reads: Newton on the cell voltages, all entries at once
                    t2 = time.perf_counter()
                    return self._finish(netlist, read[0], "newton", read[1], {"assemble": t1 - t0, "factor": 0.0,
                                                                              "solve": t2 - t1}, t0)
                try:
                    v, iters = grid_newton(netlist, layout, netlist.source_voltage, self.options.newton)
                except GridStepFailed as exc:
                    _log.info("grid Newton step failed (%s); taking the general path", exc)
                else:
                    t2 = time.perf_counter()
                    return self._finish(netlist, v, "newton", iters, {"assemble": t1 - t0, "factor": 0.0,
                                                                      "solve": t2 - t1}, t0)
            asm = assemble(netlist, netlist.conductance)
            t1 = time.perf_counter()
            res = newton_solve(netlist, asm.unknown, asm.fixed, vf.T, self.options.newton)
            x, method, iters, tf = res.x, "newton", res.iterations, 0.0
        t2 = time.perf_counter()
        v = np.empty((netlist.batch_size, netlist.n_nodes))
        v[:, asm.unknown] = x.T
        v[:, asm.fixed] = vf
        timings = {"assemble": t1 - t0, "factor": tf, "solve": t2 - t1 - tf}
        return self._finish(netlist, v, method, iters, timings, t0)

    def _finish(self, netlist: Netlist, v: FloatArray, method: str, iters: int, timings: dict[str, float],
                t0: float) -> Solution:
        t2 = time.perf_counter()
        sol = solution_from_voltages(netlist, v, backend=self.name, method=method, iterations=iters, timings=timings)
        t3 = time.perf_counter()
        return sol.with_timings({**timings, "postprocess": t3 - t2, "total": t3 - t0})

    def _solve_grid(self, netlist: Netlist, layout: GridLayout, vf: FloatArray,
                    t0: float) -> tuple[FloatArray, str, int, dict[str, float]] | None:
        """The iterative path on a grid-layout netlist (:mod:`xbarsim.solver._grid`): node voltages
        relative to the shift (sources not filled in), or None when CG did not converge (the caller
        then takes the general path, which falls back to the direct solver)."""
        m, n = layout.m, layout.n
        mn = m * n
        check_floating_grid(netlist, layout)
        t1 = time.perf_counter()
        system = GridSystem(layout, netlist.conductance)
        b_row, b_col = system.rhs(vf)
        t2 = time.perf_counter()
        x_row, x_col, iters, ok = solve_grid(system, b_row, b_col, self.options.rtol, self.options.maxiter)
        if not ok:
            _log.info("CG on the grid did not reach rtol=%g in %d iterations; taking the general path",
                      self.options.rtol, iters)
            return None
        t3 = time.perf_counter()
        v = np.empty((vf.shape[0], netlist.n_nodes))
        v[:, :mn] = x_row
        system.to_row(x_col, out=v[:, mn:2 * mn])
        return v, "iterative", iters, {"assemble": t1 - t0, "factor": t2 - t1, "solve": t3 - t2}

    def _factor(self, netlist: Netlist, asm: Assembled) -> _Factor:
        return _Factor(asm.A_csc, _ordering(netlist, asm.unknown, self.options.ordering), self.options.ordering)

    def _solve_linear(self, netlist: Netlist, asm: Assembled, rhs: FloatArray,
                      cg_failed: bool = False) -> tuple[FloatArray, str, int, float]:
        """Solve ``A x = rhs`` (columns are batch entries); returns x, method, iterations, factor time.
        ``cg_failed``: CG already failed on this system (on the grid path), go straight to direct."""
        nu = asm.unknown.size
        if nu == 0:
            return rhs, "direct", 0, 0.0
        method = self._method(nu, rhs.shape[1])
        tf0 = time.perf_counter()
        if cg_failed:
            method = "iterative->direct"
        elif method == "iterative":
            pre = _LinePreconditioner(asm)
            tf = time.perf_counter() - tf0
            x, iters, ok = _pcg(asm.A, rhs, pre, self.options.rtol, self.options.maxiter)
            if ok:
                return x, "iterative", iters, tf
            _log.info("CG did not reach rtol=%g in %d iterations; falling back to the direct path",
                      self.options.rtol, iters)
            method = "iterative->direct"
            tf0 = time.perf_counter()
        else:
            method = "direct"
        fac = self._factor(netlist, asm)
        tf = time.perf_counter() - tf0
        return fac.solve(rhs), method, 0, tf

    def read_matrices(self, conductance: FloatArray, lines: LineResistance, device: DeviceModel) -> FloatArray | None:
        """Read-scheme transfer matrices ``(K, M, N)`` (siemens) of ``K`` crossbars that share ``lines``
        and ``device`` (:func:`~xbarsim.solver.transfer_matrices`, every wire included), or None for
        nonlinear devices, which have none (the :class:`~xbarsim.solver.Backend` read capability)."""
        if not device.linear:
            return None
        return transfer_matrices(conductance, lines, device)

    def read_currents(self, conductance: FloatArray, lines: LineResistance, device: DeviceModel,
                      v: FloatArray) -> FloatArray:
        """Ampere, the output currents ``(K, B, N)`` of reading ``K`` crossbars that share ``lines`` and
        ``device``, crossbar ``k`` with row voltages ``v[k]`` ``(B, M)``: one Newton batched over every
        tile and input vector (:func:`~xbarsim.solver.tile_newton.tile_read_currents`), with this
        backend's Newton options (the :class:`~xbarsim.solver.Backend` read capability)."""
        try:
            return tile_read_currents(conductance, lines, device, v, self.options.newton)
        except ConvergenceError as exc:
            # one solve per crossbar instead (the node-voltage Newton, see _solve), so that the batched
            # read converges wherever the per-kernel loop does
            _log.info("batched read-scheme Newton failed (%s); solving each crossbar on its own", exc)
        g = np.asarray(conductance, dtype=np.float64)
        vv = np.asarray(v, dtype=np.float64)
        out = np.empty((g.shape[0], vv.shape[1], g.shape[2]))
        for k in range(g.shape[0]):
            netlist = build_netlist(Crossbar(conductance=g[k], lines=lines, device=device), BiasScheme.read(vv[k]))
            out[k] = np.asarray(self.solve(netlist).output_currents)
        return out

    def transfer_matrix(self, netlist: Netlist) -> FloatArray:
        """``T`` of shape (M, N) with ``output_currents == v @ T`` for a read-scheme netlist.

        Notes
        -----
        With the fixed nodes ``f`` (row drivers ``R`` and sense nodes ``S``) ordered after the
        unknowns, the current each source delivers is ``i_f = S_f v_f`` with the Schur complement
        ``S_f = L_ff - L_fu A^{-1} L_uf``, so ``T = -S_f[S, R]^T``. One LU of the whole nodal
        matrix ordered ``[unknowns by nested dissection, fixed nodes last]`` yields ``S_f`` as the
        product of its trailing blocks, with no right-hand sides at all. A shift ``lam I`` on the
        fixed block keeps the last pivots away from zero (the full Laplacian is singular) and is
        subtracted again; it only touches the diagonal of ``S_f``, which ``T`` does not use.
        """
        if not netlist.device.linear:
            raise ConfigError(f"a transfer matrix needs linear devices; got {netlist.device.name!r}")
        with np.errstate(all="ignore"):
            T = self._transfer_matrix(netlist)
        if not np.isfinite(T).all():
            raise ConfigError("the transfer matrix overflows double precision: conductances or wire resistances "
                              "are too extreme")
        return T

    def _transfer_matrix(self, netlist: Netlist) -> FloatArray:
        m, n = netlist.shape
        ports = _PortMatrix(netlist)
        fpos = ports.fpos
        is_row = netlist.source_end < 2
        if not (np.array_equal(np.sort(netlist.source_line[is_row]), np.arange(m))
                and np.array_equal(np.sort(netlist.source_line[~is_row]), np.arange(n))
                and np.unique(fpos).size == fpos.size):
            raise ConfigError("a transfer matrix needs the read scheme: every row driven and every column sensed once")
        r_idx = np.empty(m, dtype=np.int64)
        r_idx[netlist.source_line[is_row]] = fpos[is_row]
        s_idx = np.empty(n, dtype=np.int64)
        s_idx[netlist.source_line[~is_row]] = fpos[~is_row]
        return -ports.schur[np.ix_(s_idx, r_idx)].T

    # ---------------------------------------------------------------- batched linear solves
    def _use_ports(self, netlist: Netlist) -> bool:
        o = self.options
        return (o.batch_ports and netlist.device.linear and netlist.batch_size > 32 and o.method != "iterative"
                and netlist.source_node.size > 0 and netlist.n_nodes - netlist.source_node.size <= o.direct_max_unknowns)

    def _solve_ports(self, netlist: Netlist, vf: FloatArray, shift: FloatArray, t0: float) -> Solution:
        """A batch of linear operating points through the port matrix (``batch_ports``)."""
        ports = _PortMatrix(netlist)
        t1 = time.perf_counter()
        # every source current at once: i_f = S_f (v_f - c) (S_f 1 = 0, see _solve's shift)
        i_fixed = (vf - shift[:, None]) @ ports.schur.T
        share = np.bincount(netlist.source_node, minlength=netlist.n_nodes)[netlist.source_node]
        src = i_fixed[:, ports.fpos] / share
        t2 = time.perf_counter()
        sol = solution_from_ports(netlist, src, lambda idx: ports.node_voltages(vf[idx], shift[idx]),
                                  backend=self.name, method="port-matrix", iterations=0,
                                  timings={"assemble": ports.t_assemble, "factor": t1 - t0 - ports.t_assemble,
                                           "solve": t2 - t1})
        t3 = time.perf_counter()
        return sol.with_timings({**sol.timings, "postprocess": t3 - t2, "total": t3 - t0})


class _PortMatrix:
    """The Schur complement of the nodal matrix onto the fixed nodes, ``S_f = L_ff - L_fu A^{-1} L_uf``
    (siemens, ``(F, F)``; ``i_f = S_f v_f`` are the currents the fixed nodes deliver), and the
    factorization it came from, which also gives the node voltages of any fixed voltages.

    Notes
    -----
    One LU (no pivoting) of the whole nodal matrix ordered ``[unknowns by nested dissection, fixed
    nodes last]``, with ``lam I`` added to the fixed block so that its last pivots stay away from
    zero (the full Laplacian is singular): ``S_f + lam I`` is the product of the trailing blocks of
    ``L`` and ``U``. For node voltages, the same LU solves ``[[A, C], [C^T, L_ff + lam I]] [x; v_f]
    = [0; (S_f + lam I) v_f]``, whose solution has ``A x = -C v_f``: the unknowns, with no second
    factorization.
    """

    def __init__(self, netlist: Netlist) -> None:
        t0 = time.perf_counter()
        asm = assemble(netlist, netlist.conductance)
        self.t_assemble = time.perf_counter() - t0
        self.asm = asm
        self.fpos = np.searchsorted(asm.fixed, netlist.source_node)
        self.n_nodes = netlist.n_nodes
        nu, nf = asm.unknown.size, asm.fixed.size
        self.lu: spla.SuperLU | None = None
        self.lam = 0.0
        if nu == 0:
            self.perm = np.zeros(0, dtype=np.int64)
            self.schur = asm.Lff.toarray()  # no element reaches an unknown node
            return
        perm = _ordering(netlist, asm.unknown, "nested-dissection")
        assert perm is not None
        self.perm = perm
        a_p = asm.A[perm][:, perm]
        c_p = asm.C[perm]
        # L_ff: the elements between fixed nodes plus, on its diagonal, those to unknown nodes
        lff = asm.Lff + sp.diags(-np.asarray(asm.C.sum(axis=0)).ravel())
        lam = max(float(np.abs(lff.diagonal()).max(initial=0.0)), float(asm.A.diagonal().max()))
        full = sp.bmat([[a_p, c_p], [c_p.T, lff + lam * sp.eye(nf)]], format="csc")
        lu = _splu(full, "NATURAL")
        ident = np.arange(nu + nf)
        if not (np.array_equal(lu.perm_r, ident) and np.array_equal(lu.perm_c, ident)):
            raise CircuitError("the nodal matrix lost its positive pivots in double precision (SuperLU pivoted; the "
                               "port matrix would be wrong): conductances or wire resistances this extreme (or this "
                               "far apart) cannot be solved in double precision.")
        self.lu, self.lam = lu, lam
        self.schur = (lu.L[nu:, nu:] @ lu.U[nu:, nu:]).toarray() - lam * np.eye(nf)

    def node_voltages(self, vf: FloatArray, shift: FloatArray) -> FloatArray:
        """Every node voltage ``(B, n_nodes)`` for fixed-node voltages ``vf`` ``(B, F)`` solved relative
        to ``shift`` ``(B,)`` (see :meth:`SparseBackend._solve`)."""
        asm = self.asm
        nu, nf = asm.unknown.size, asm.fixed.size
        rel = vf - shift[:, None]
        v = np.empty((vf.shape[0], self.n_nodes))
        # computed on field access, after solve's errstate: a non-finite result is checked by the
        # Solution (a typed error), not warned here
        with np.errstate(all="ignore"):
            if self.lu is not None:
                rhs = np.zeros((nu + nf, vf.shape[0]))
                rhs[nu:] = self.schur @ rel.T + self.lam * rel.T
                x = np.empty((nu, vf.shape[0]))
                x[self.perm] = self.lu.solve(rhs)[:nu]
                v[:, asm.unknown] = x.T + shift[:, None]
        v[:, asm.fixed] = vf
        return v
