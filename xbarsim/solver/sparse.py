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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import get_args

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from xbarsim._typing import FloatArray, IntArray, Ordering, SolveMethod
from xbarsim._validation import check_choice
from xbarsim.errors import CircuitError, ConfigError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver.ordering import nested_dissection
from xbarsim.solver.solution import Solution, element_arrays, solution_from_voltages

__all__ = ["SparseOptions", "SparseBackend", "assemble", "Assembled"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SparseOptions:
    """Options of the sparse backend.

    Attributes
    ----------
    method : {"auto", "direct", "iterative"}
        ``"auto"`` takes the direct path up to ``direct_max_unknowns`` unknown nodes, CG above.
    ordering : {"auto", "nested-dissection", "colamd", "mmd"}
        Fill-reducing ordering of the direct path; ``"auto"`` is nested dissection.
    rtol : float
        Iterative path: stop when ``||b - A x|| <= rtol ||b||`` for every right-hand side.
    maxiter : int
        Iterative path: CG iteration limit before falling back to the direct path.
    direct_max_unknowns : int
        Threshold of ``"auto"``.
    """

    method: SolveMethod = "auto"
    ordering: Ordering = "auto"
    rtol: float = 1e-12
    maxiter: int = 300
    direct_max_unknowns: int = 700_000

    def __post_init__(self) -> None:
        check_choice(self.method, get_args(SolveMethod), "method")
        check_choice(self.ordering, get_args(Ordering), "ordering")
        if not (isinstance(self.rtol, float | int) and 0 < self.rtol < 1):
            raise ConfigError(f"`rtol` must be a relative tolerance in (0, 1); got {self.rtol!r}.")
        if not (isinstance(self.maxiter, int) and self.maxiter >= 1):
            raise ConfigError(f"`maxiter` must be a positive int; got {self.maxiter!r}.")
        if not (isinstance(self.direct_max_unknowns, int) and self.direct_max_unknowns >= 0):
            raise ConfigError(f"`direct_max_unknowns` must be a non-negative int; got {self.direct_max_unknowns!r}.")


@dataclass(frozen=True, kw_only=True, eq=False)
class Assembled:
    """Nodal matrices of one netlist with node order ``unknown`` then ``fixed``.

    ``A = L_uu`` (CSC), ``C = L_uf`` (CSR), ``Lff = L_ff``; ``wire`` is ``A`` without the cell
    off-diagonals (the CG preconditioner).
    """

    unknown: IntArray
    fixed: IntArray
    A: sp.csc_matrix
    C: sp.csr_matrix
    Lff: sp.csr_matrix
    wire: sp.csc_matrix


def _stamp(pa: IntArray, pb: IntArray, g: FloatArray, size_a: int, size_b: int) -> sp.coo_matrix:
    return sp.coo_matrix((g, (pa, pb)), shape=(size_a, size_b))


def assemble(netlist: Netlist, cell_g: FloatArray) -> Assembled:
    """Assemble the nodal matrices with cell conductances ``cell_g`` (``(M, N)``, siemens).

    Raises
    ------
    CircuitError
        If a set of nodes has no conductive path to any fixed node (names up to ten of them).
    """
    a, b = element_arrays(netlist)
    g = np.concatenate([1.0 / netlist.resistor_values, np.asarray(cell_g, dtype=np.float64).ravel()])
    is_cell = np.zeros(g.size, dtype=bool)
    is_cell[netlist.resistor_values.size:] = True
    live = g > 0
    a, b, g, is_cell = a[live], b[live], g[live], is_cell[live]

    n = netlist.n_nodes
    fixed = np.unique(netlist.source_node)
    is_fixed = np.zeros(n, dtype=bool)
    is_fixed[fixed] = True
    unknown = np.flatnonzero(~is_fixed)
    nu, nf = unknown.size, fixed.size
    pos = np.empty(n, dtype=np.int64)
    pos[unknown] = np.arange(nu)
    pos[fixed] = np.arange(nf)
    ua, ub = ~is_fixed[a], ~is_fixed[b]

    # L_uu: diagonal from every element touching an unknown node, off-diagonals between unknowns
    both = ua & ub
    diag_rows = np.concatenate([pos[a[ua]], pos[b[ub]]])
    diag_vals = np.concatenate([g[ua], g[ub]])
    off_r = np.concatenate([pos[a[both]], pos[b[both]]])
    off_c = np.concatenate([pos[b[both]], pos[a[both]]])
    off_v = -np.concatenate([g[both], g[both]])
    A = _stamp(np.concatenate([diag_rows, off_r]), np.concatenate([diag_rows, off_c]),
               np.concatenate([diag_vals, off_v]), nu, nu).tocsc()
    wire_off = ~np.concatenate([is_cell[both], is_cell[both]])
    wire = _stamp(np.concatenate([diag_rows, off_r[wire_off]]), np.concatenate([diag_rows, off_c[wire_off]]),
                  np.concatenate([diag_vals, off_v[wire_off]]), nu, nu).tocsc()
    # L_uf: unknown-fixed couplings
    uf1, uf2 = ua & ~ub, ~ua & ub
    C = _stamp(np.concatenate([pos[a[uf1]], pos[b[uf2]]]), np.concatenate([pos[b[uf1]], pos[a[uf2]]]),
               -np.concatenate([g[uf1], g[uf2]]), nu, nf).tocsr()
    ff = ~ua & ~ub
    Lff = _stamp(np.concatenate([pos[a[ff]], pos[b[ff]], pos[a[ff]], pos[b[ff]]]),
                 np.concatenate([pos[a[ff]], pos[b[ff]], pos[b[ff]], pos[a[ff]]]),
                 np.concatenate([g[ff], g[ff], -g[ff], -g[ff]]), nf, nf).tocsr()
    _check_floating(netlist, unknown, A, C)
    return Assembled(unknown=unknown, fixed=fixed, A=A, C=C, Lff=Lff, wire=wire)


def _check_floating(netlist: Netlist, unknown: IntArray, A: sp.csc_matrix, C: sp.csr_matrix) -> None:
    if unknown.size == 0:
        return
    ncomp, labels = connected_components(A, directed=False)
    leak = -np.asarray(C.sum(axis=1)).ravel()  # conductance from each unknown node to fixed nodes
    comp_leak = np.bincount(labels, weights=leak, minlength=ncomp)
    floating = np.flatnonzero(comp_leak[labels] <= 0.0)
    if floating.size:
        names = [netlist.node_name(int(k)) for k in unknown[floating[:10]]]
        more = f" and {floating.size - 10} more" if floating.size > 10 else ""
        raise CircuitError(
            f"the circuit is singular: {floating.size} node(s) have no conductive path to a driven line end "
            f"(floating): {', '.join(names)}{more}. Drive a line end connected to them or give their cells "
            "a non-zero conductance."
        )


def _ordering(netlist: Netlist, unknown: IntArray, which: str) -> IntArray | None:
    """Permutation of the unknowns for the direct path (None: let SuperLU order)."""
    if which in ("colamd", "mmd"):
        return None
    m, n = netlist.shape
    pre = nested_dissection(m, n)
    mn = m * n
    node = np.where(pre < mn, netlist.row_node.ravel()[pre % mn], netlist.col_node.ravel()[pre % mn])
    pos = np.full(netlist.n_nodes, -1, dtype=np.int64)
    pos[unknown] = np.arange(unknown.size)
    seq = pos[node]
    seq = seq[seq >= 0]
    _, first = np.unique(seq, return_index=True)
    return seq[np.sort(first)]


class _Factor:
    """A factorization of an SPD matrix under a symmetric permutation."""

    def __init__(self, A: sp.csc_matrix, perm: IntArray | None, ordering: str) -> None:
        self.perm = perm
        if perm is not None:
            Ap = A[perm][:, perm].tocsc()
            spec = "NATURAL"
        else:
            Ap = A
            spec = "COLAMD" if ordering == "colamd" else "MMD_AT_PLUS_A"
        self.lu = spla.splu(Ap, permc_spec=spec, diag_pivot_thresh=0.0, options={"SymmetricMode": True})

    def solve(self, rhs: FloatArray) -> FloatArray:
        if self.perm is None:
            return np.asarray(self.lu.solve(rhs))
        out = np.empty_like(rhs)
        out[self.perm] = self.lu.solve(np.ascontiguousarray(rhs[self.perm]))
        return out


def _pcg(A: sp.csc_matrix, B: FloatArray, precond: _Factor, rtol: float, maxiter: int) -> tuple[FloatArray, int, bool]:
    """Block-preconditioned conjugate gradients on all columns of ``B`` at once (independent CG runs)."""
    X = np.zeros_like(B)
    R = B.copy()
    bnorm = np.linalg.norm(B, axis=0)
    target = rtol * bnorm
    active = bnorm > 0
    if not active.any():
        return X, 0, True
    Z = precond.solve(R)
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    for it in range(1, maxiter + 1):
        AP = A @ P
        pap = np.einsum("ij,ij->j", P, AP)
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=active & (pap > 0))
        X += alpha * P
        R -= alpha * AP
        rnorm = np.linalg.norm(R, axis=0)
        active = rnorm > target
        if not active.any():
            return X, it, True
        Z = precond.solve(R)
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

    def _method(self, n_unknown: int) -> str:
        o = self.options
        if o.method == "auto":
            return "direct" if n_unknown <= o.direct_max_unknowns else "iterative"
        return o.method

    def solve(self, netlist: Netlist) -> Solution:
        """Operating point(s) of ``netlist``; every batch entry shares one factorization."""
        if not netlist.device.linear:
            raise ConfigError(
                f"the sparse backend's linear path cannot solve nonlinear {netlist.device.name!r} devices yet"
            )
        t0 = time.perf_counter()
        asm = assemble(netlist, netlist.conductance)
        t1 = time.perf_counter()
        vf = netlist.source_voltage[:, np.unique(netlist.source_node, return_index=True)[1]]
        rhs = -(asm.C @ vf.T) if asm.unknown.size else np.zeros((0, vf.shape[0]))
        x, method, iters, tf = self._solve_linear(netlist, asm, rhs)
        t2 = time.perf_counter()
        v = np.empty((netlist.batch_size, netlist.n_nodes))
        v[:, asm.unknown] = x.T
        v[:, asm.fixed] = vf
        timings = {"assemble": t1 - t0, "factor": tf, "solve": t2 - t1 - tf}
        sol = solution_from_voltages(netlist, v, backend=self.name, method=method, iterations=iters, timings=timings)
        t3 = time.perf_counter()
        object.__setattr__(sol, "timings", {**timings, "postprocess": t3 - t2, "total": t3 - t0})
        return sol

    def _factor(self, netlist: Netlist, asm: Assembled) -> _Factor:
        return _Factor(asm.A, _ordering(netlist, asm.unknown, self.options.ordering), self.options.ordering)

    def _solve_linear(self, netlist: Netlist, asm: Assembled, rhs: FloatArray) -> tuple[FloatArray, str, int, float]:
        """Solve ``A x = rhs`` (columns are batch entries); returns x, method, iterations, factor time."""
        nu = asm.unknown.size
        if nu == 0:
            return rhs, "direct", 0, 0.0
        method = self._method(nu)
        tf0 = time.perf_counter()
        if method == "iterative":
            pre = _Factor(asm.wire, None, "mmd")
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

    def transfer_matrix(self, netlist: Netlist) -> FloatArray:
        """``T`` of shape (M, N) with ``output_currents == v @ T`` for a read-scheme netlist.

        From one factorization: with ``R`` the row-driver sources and ``S`` the sense sources,
        ``I_out = L_fu[S] A^{-1} L_uf[:, R] v - L_ff[S, R] v``; the solve uses whichever of the ``M``
        or ``N`` right-hand sides is fewer (``A`` is symmetric).
        """
        if not netlist.device.linear:
            raise ConfigError(f"a transfer matrix needs linear devices; got {netlist.device.name!r}")
        m, n = netlist.shape
        asm = assemble(netlist, netlist.conductance)
        fpos = np.searchsorted(asm.fixed, netlist.source_node)
        is_row = netlist.source_end < 2
        if not (np.array_equal(np.sort(netlist.source_line[is_row]), np.arange(m))
                and np.array_equal(np.sort(netlist.source_line[~is_row]), np.arange(n))
                and np.unique(fpos).size == fpos.size):
            raise ConfigError("a transfer matrix needs the read scheme: every row driven and every column sensed once")
        r_idx = np.empty(m, dtype=np.int64)
        r_idx[netlist.source_line[is_row]] = fpos[is_row]
        s_idx = np.empty(n, dtype=np.int64)
        s_idx[netlist.source_line[~is_row]] = fpos[~is_row]
        direct_term = asm.Lff[s_idx][:, r_idx].toarray().T  # (M, N)
        if asm.unknown.size == 0:
            return -direct_term
        CR = asm.C[:, r_idx].toarray()
        CS = asm.C[:, s_idx].toarray()
        fac = self._factor(netlist, asm)
        if m <= n:
            T = (CS.T @ fac.solve(CR)).T
        else:
            T = fac.solve(CS).T @ CR
            T = T.T
        return T - direct_term
