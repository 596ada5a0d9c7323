"""Damped Newton on the nodal equations of a crossbar with nonlinear devices.

Notes
-----
With unknown node voltages ``x`` (one column per batch entry), fixed voltages ``v_f`` and cell
voltages ``u = P_u x + P_f v_f`` (``P`` maps nodes to row-minus-column voltages of the cells),
KCL at the unknown nodes reads

``F(x) = A_w x + C_w v_f + P_u^T I(u) = 0``

with ``A_w``, ``C_w`` the wire (resistor) parts of the nodal matrix. The Jacobian
``J = A_w + P_u^T diag(dI/dV(u)) P_u`` is symmetric positive definite for passive devices
(``dI/dV > 0``), so each Newton step is solved by the same conjugate-gradient machinery as the
linear path, matrix-free and batched: ``J_b p`` for all batch entries is one sparse product plus
an element-wise scaling, and the exact wire preconditioner is refactored per entry with the new
diagonal (LAPACK ``pttrf``, O(n)). Iteration starts from the solution of the circuit linearised
at 0 V (cells at their programmed conductance), limits every node update to ``max_step`` volts and
halves steps that do not reduce the residual. It stops when the componentwise KCL backward error
(the measure of ``Solution.kcl_residual``) is at most ``tol``; otherwise it raises
:class:`~xbarsim.errors.ConvergenceError` rather than return a wrong answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xbarsim._typing import BoolArray, FloatArray, IntArray
from xbarsim._validation import plain_scalars
from xbarsim.errors import ConfigError, ConvergenceError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver._grid import GridLayout, GridSystem, line_tridiagonals, solve_grid
from xbarsim.solver._tridiag import pttrf, pttrs

__all__ = ["NewtonOptions", "NewtonResult", "newton_solve", "grid_newton", "solve_linearised", "GridStepFailed",
           "largest_finite"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class NewtonOptions:
    """Options of the nonlinear solve.

    Attributes
    ----------
    tol : float
        Componentwise KCL backward error at which Newton stops.
    maxiter : int
        Newton iteration limit; past it, ConvergenceError.
    max_step : float
        Volt. Largest change of any node voltage in one Newton step (voltage limiting).
    cg_maxiter : int
        Inner CG iteration limit before the step is solved directly.
    """

    tol: float = 1e-12
    maxiter: int = 60
    max_step: float = 0.5
    cg_maxiter: int = 300

    def __post_init__(self) -> None:
        plain_scalars(self)  # np.int64(5) is 5, np.float32(0.5) is 0.5
        if not (isinstance(self.tol, float | int) and not isinstance(self.tol, bool) and 0 < self.tol < 1):
            raise ConfigError(f"`tol` must be in (0, 1); got {self.tol!r}.")
        if not (isinstance(self.maxiter, int) and not isinstance(self.maxiter, bool) and self.maxiter >= 1):
            raise ConfigError(f"`maxiter` must be a positive int; got {self.maxiter!r}.")
        if not (isinstance(self.max_step, float | int) and not isinstance(self.max_step, bool) and self.max_step > 0 and np.isfinite(self.max_step)):
            raise ConfigError(f"`max_step` must be a positive voltage in volt; got {self.max_step!r}.")
        if not (isinstance(self.cg_maxiter, int) and not isinstance(self.cg_maxiter, bool) and self.cg_maxiter >= 1):
            raise ConfigError(f"`cg_maxiter` must be a positive int; got {self.cg_maxiter!r}.")


@dataclass(frozen=True, kw_only=True, eq=False)
class NewtonResult:
    x: FloatArray  # (n_unknown, B)
    iterations: int
    residual: float
    cg_iterations: int


class _System:
    """The pieces of F and J for one netlist (see the module notes)."""

    def __init__(self, netlist: Netlist, unknown: IntArray, fixed: IntArray) -> None:
        n = netlist.n_nodes
        nu, nf = unknown.size, fixed.size
        is_fixed = np.zeros(n, dtype=bool)
        is_fixed[fixed] = True
        pos = np.empty(n, dtype=np.int64)
        pos[unknown] = np.arange(nu)
        pos[fixed] = np.arange(nf)
        # wires
        a, b = netlist.resistor_nodes[:, 0], netlist.resistor_nodes[:, 1]
        g = 1.0 / netlist.resistor_values
        ua, ub = ~is_fixed[a], ~is_fixed[b]
        diag = np.bincount(pos[a[ua]], weights=g[ua], minlength=nu) + np.bincount(pos[b[ub]], weights=g[ub], minlength=nu)
        both = ua & ub
        qa, qb, gb = pos[a[both]], pos[b[both]], g[both]
        self.A_w = sp.csr_matrix((np.concatenate([diag, -gb, -gb]),
                                  (np.concatenate([np.arange(nu), qa, qb]), np.concatenate([np.arange(nu), qb, qa]))),
                                 shape=(nu, nu))
        self.abs_A_w = abs(self.A_w)
        uf1, uf2 = ua & ~ub, ~ua & ub
        self.C_w = sp.csr_matrix((-np.concatenate([g[uf1], g[uf2]]),
                                  (np.concatenate([pos[a[uf1]], pos[b[uf2]]]), np.concatenate([pos[b[uf1]], pos[a[uf2]]]))),
                                 shape=(nu, nf))
        self.abs_C_w = abs(self.C_w)
        # cells (open cells conduct nothing in every model: left out)
        gc = np.asarray(netlist.conductance, dtype=np.float64).ravel()
        live = gc > 0
        self.g = gc[live]
        rn, cn = netlist.row_node.ravel()[live], netlist.col_node.ravel()[live]
        k = np.arange(self.g.size)
        ru, cu = ~is_fixed[rn], ~is_fixed[cn]
        self.P_u = sp.csr_matrix((np.concatenate([np.ones(ru.sum()), -np.ones(cu.sum())]),
                                  (np.concatenate([k[ru], k[cu]]), np.concatenate([pos[rn[ru]], pos[cn[cu]]]))),
                                 shape=(self.g.size, nu))
        self.P_f = sp.csr_matrix((np.concatenate([np.ones((~ru).sum()), -np.ones((~cu).sum())]),
                                  (np.concatenate([k[~ru], k[~cu]]), np.concatenate([pos[rn[~ru]], pos[cn[~cu]]]))),
                                 shape=(self.g.size, nf))
        self.P_uT = self.P_u.T.tocsr()
        self.abs_P_uT = abs(self.P_uT)
        self.device = netlist.device
        # preconditioner: unknowns come numbered line by line (see sparse.assemble), so the wire
        # off-diagonals sit on the first off-diagonal; only the diagonal changes per Jacobian
        if not (np.abs(qa - qb) == 1).all():  # pragma: no cover - guaranteed by the numbering
            raise ConfigError("internal error: unknowns are not numbered line by line")
        self.e = np.zeros(max(nu - 1, 0))
        self.e[np.minimum(qa, qb)] = -gb
        self.diag_w = diag

    def cell_voltages(self, X: FloatArray, Vf: FloatArray) -> FloatArray:
        return self.P_u @ X + self.P_f @ Vf

    def residual(self, X: FloatArray, Vf: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """F(X), the componentwise error per column, and the cell voltages."""
        U = self.cell_voltages(X, Vf)
        icell = self.device.current(U, self.g[:, None])
        F = self.A_w @ X + self.C_w @ Vf + self.P_uT @ icell
        gd = self.device.conductance(U, self.g[:, None])
        absU = abs(self.P_u) @ np.abs(X) + abs(self.P_f) @ np.abs(Vf)
        scale = self.abs_A_w @ np.abs(X) + self.abs_C_w @ np.abs(Vf) + self.abs_P_uT @ (gd * absU + np.abs(icell))
        with np.errstate(invalid="ignore", divide="ignore"):
            err = np.where(scale > 0, np.abs(F) / scale, np.abs(F))
        return F, err.max(axis=0) if err.size else np.zeros(X.shape[1]), U

    def jacobian_diag(self, gd: FloatArray) -> FloatArray:
        return self.diag_w[:, None] + (self.P_uT.multiply(self.P_uT)) @ gd

    def solve_step(self, gd: FloatArray, R: FloatArray, rtol: float, maxiter: int) -> tuple[FloatArray, int]:
        """Solve ``J_b p_b = R_b`` for every column ``b`` (CG, exact wire preconditioner per column)."""
        nu, bsz = R.shape
        if nu == 0:
            return R, 0
        dJ = self.jacobian_diag(gd)
        # one tridiagonal system for the whole batch: the columns' systems stacked end to end with
        # zero coupling between them, so a single LAPACK call factors (and solves) them all
        e_all = np.tile(np.append(self.e, 0.0), bsz)[:-1]
        d_fac, e_fac = pttrf(np.ascontiguousarray(dJ.T).ravel(), e_all)

        def precond(Rm: FloatArray) -> FloatArray:
            return pttrs(d_fac, e_fac, np.ascontiguousarray(Rm.T).ravel()).reshape(bsz, nu).T

        def matvec(P: FloatArray) -> FloatArray:
            return self.A_w @ P + self.P_uT @ (gd * (self.P_u @ P))

        X = np.zeros_like(R)
        Rr = R.copy()
        target = rtol * np.linalg.norm(R, axis=0)
        active = target > 0
        if not active.any():
            return X, 0
        Z = precond(Rr)
        P = Z.copy()
        rz = np.einsum("ij,ij->j", Rr, Z)
        for it in range(1, maxiter + 1):
            AP = matvec(P)
            pap = np.einsum("ij,ij->j", P, AP)
            alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=active & (pap > 0))
            X += alpha * P
            Rr -= alpha * AP
            active = np.linalg.norm(Rr, axis=0) > target
            if not active.any():
                return X, it
            Z = precond(Rr)
            rz_new = np.einsum("ij,ij->j", Rr, Z)
            beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=active & (rz > 0))
            P = Z + beta * P
            rz = rz_new
        # CG stalled (very resistive wires): solve each Jacobian directly
        _log.info("inner CG did not converge in %d iterations; solving the Newton step directly", maxiter)
        for b in range(bsz):
            J = (self.A_w + self.P_uT @ sp.diags(gd[:, b]) @ self.P_u).tocsc()
            X[:, b] = spla.spsolve(J, R[:, b])
        return X, maxiter


def newton_solve(netlist: Netlist, unknown: IntArray, fixed: IntArray, Vf: FloatArray,
                 options: NewtonOptions) -> NewtonResult:
    """Solve the nonlinear nodal equations for all batch entries; ``Vf`` is ``(F, B)``.

    ``unknown`` must be numbered line by line, as :func:`xbarsim.solver.sparse.assemble` does.
    """
    sysm = _System(netlist, unknown, fixed)
    # Large batches are solved in chunks whose working set stays in cache; every chunk is still
    # batched (one LAPACK call, one sparse product per CG iteration for all its columns).
    chunk = max(1, min(Vf.shape[1], 2_000_000 // max(unknown.size, 1), 256))
    parts = [_newton_chunk(sysm, Vf[:, k:k + chunk], options, k, Vf.shape[1]) for k in range(0, Vf.shape[1], chunk)]
    return NewtonResult(x=np.concatenate([p.x for p in parts], axis=1),
                        iterations=max(p.iterations for p in parts),
                        residual=max(p.residual for p in parts),
                        cg_iterations=sum(p.cg_iterations for p in parts))


def largest_finite(u: FloatArray) -> str:
    """``"12.3 V"``: the largest finite ``|u|`` of the cell voltages, for a divergence message (``np.nanmax``
    of an all-NaN iterate warned 'All-NaN slice encountered' before the ConvergenceError); "no finite
    value" when there is none."""
    a = np.abs(np.asarray(u, dtype=np.float64))
    a = a[np.isfinite(a)]
    return f"{float(a.max()):.3g} V" if a.size else "no finite value"


def _failed_entries(bad: BoolArray | np.bool_, offset: int, total: int,
                    what: str = "did not converge") -> tuple[str, tuple[int, ...]]:
    """Message tail and indices naming the batch entries ``offset + flatnonzero(bad)`` of ``total``
    that failed (nothing for an unbatched solve), so that a caller can tell which input vectors to
    look at; entries of later chunks were not tried."""
    if total <= 1:
        return "", ()
    bad = np.atleast_1d(bad)
    idx = tuple(offset + int(k) for k in np.flatnonzero(bad))
    shown = ", ".join(map(str, idx[:8])) + (", ..." if len(idx) > 8 else "")
    later = total - (offset + bad.size)
    tail = f"; entries from {offset + bad.size} on were not tried" if later > 0 else ""
    return f" Batch entries [{shown}] ({len(idx)} of {total}) {what}{tail}.", idx


def _newton_chunk(sysm: _System, Vf: FloatArray, options: NewtonOptions, offset: int = 0,
                  total: int = 1) -> NewtonResult:
    bsz = Vf.shape[1]
    unknown_size = sysm.A_w.shape[0]
    X = np.zeros((unknown_size, bsz))
    cg_total = 0
    # start: circuit linearised at 0 V (cells at g), one linear solve
    g0 = np.repeat(sysm.g[:, None], bsz, axis=1)
    F0 = sysm.A_w @ X + sysm.C_w @ Vf + sysm.P_uT @ (g0 * sysm.cell_voltages(X, Vf))
    step, it_cg = sysm.solve_step(g0, -F0, 1e-14, options.cg_maxiter)
    X = X + step
    cg_total += it_cg
    with np.errstate(over="ignore", invalid="ignore"):
        F, err, U = sysm.residual(X, Vf)
    for it in range(1, options.maxiter + 1):
        if np.isfinite(err).all() and (err <= options.tol).all():
            return NewtonResult(x=X, iterations=it - 1, residual=float(err.max()), cg_iterations=cg_total)
        with np.errstate(over="ignore", invalid="ignore"):
            gd = sysm.device.conductance(U, sysm.g[:, None])
        if not np.isfinite(gd).all() or not np.isfinite(F).all():
            note, idx = _failed_entries(~(np.isfinite(gd).all(axis=0) & np.isfinite(F).all(axis=0)), offset, total,
                                         "overflowed (the others may not have converged yet)")
            raise ConvergenceError(
                f"Newton diverged: device currents overflowed at iteration {it} "
                f"(largest cell voltage {largest_finite(U)}).{note}",
                iterations=it, residual=float("inf"), entries=idx)
        # inexact Newton: a step only needs to be as accurate as the residual it corrects (forcing
        # term), so early steps take few CG iterations; quadratic convergence is kept near the end
        eta = float(np.clip(np.nanmax(err) * 1e-2, 1e-13, 1e-3))
        step, it_cg = sysm.solve_step(gd, -F, eta, options.cg_maxiter)
        cg_total += it_cg
        # voltage limiting: no node moves more than max_step in one iteration
        big = np.abs(step).max(axis=0)
        step *= np.minimum(1.0, options.max_step / np.maximum(big, 1e-300))
        # damping: halve the step of columns whose residual grew
        lam = np.ones(bsz)
        fnorm = np.linalg.norm(F, axis=0)
        for _ in range(30):
            Xn = X + lam * step
            with np.errstate(over="ignore", invalid="ignore"):
                Fn, errn, Un = sysm.residual(Xn, Vf)
            fn = np.linalg.norm(Fn, axis=0)
            bad = ~np.isfinite(fn) | (fn > fnorm * (1 - 1e-4 * lam)) & (errn > options.tol)
            if not bad.any():
                break
            lam = np.where(bad, lam / 2, lam)
        X, F, err, U = Xn, Fn, errn, Un
    if np.isfinite(err).all() and (err <= options.tol).all():  # the last allowed step converged
        return NewtonResult(x=X, iterations=options.maxiter, residual=float(err.max()), cg_iterations=cg_total)
    note, idx = _failed_entries(~(err <= options.tol), offset, total)
    raise ConvergenceError(
        f"Newton did not converge in {options.maxiter} iterations: KCL residual {float(np.nanmax(err)):.3e} "
        f"> tol {options.tol:g}. Try smaller voltages, a larger maxiter or a milder device nonlinearity.{note}",
        iterations=options.maxiter, residual=float(np.nanmax(err)), entries=idx)


# ------------------------------------------------------------------------ Newton on the reduced grid
class GridStepFailed(Exception):
    """Inner CG of a grid Newton step did not converge; the caller takes the general path."""


def solve_linearised(layout: GridLayout, cell_g: FloatArray, b_row: FloatArray, b_col: FloatArray,
                     rtol: float, maxiter: int) -> tuple[FloatArray, FloatArray, int, bool]:
    """Solve the grid's nodal system with per-cell conductances ``cell_g`` for a batch, by CG on the
    row-node Schur complement (:mod:`xbarsim.solver._grid`).

    This is the linear solve inside every Newton step (``cell_g`` = the cells' ``dI/dV`` at the
    present iterate) and inside an implicit time step (``cell_g`` = the companion conductances),
    so it is the one function both reuse.

    Parameters
    ----------
    layout : GridLayout
        Wires of a grid-layout netlist (:func:`~xbarsim.solver._grid.grid_layout`).
    cell_g : ndarray, shape (B, M, N) or (M, N)
        Siemens, the small-signal conductance of every cell, per batch entry (non-negative).
    b_row, b_col : ndarray, shape (B, M*N)
        Right-hand sides (ampere) at the row nodes (row-major) and the column nodes (column-major,
        node ``(i, j)`` at ``j*M + i``), as :meth:`GridSystem.rhs` lays them out.
    rtol : float
        Componentwise backward error of the full (row and column node) system at which CG stops.
    maxiter : int
        CG iteration limit.

    Returns
    -------
    x_row, x_col : ndarray, shape (B, M*N)
        Node voltages (volt) in the layouts of ``b_row`` and ``b_col``.
    iterations : int
    converged : bool
    """
    return solve_grid(GridSystem(layout, cell_g), b_row, b_col, rtol, maxiter)


def grid_newton(netlist: Netlist, layout: GridLayout, vf: FloatArray, options: NewtonOptions) -> tuple[FloatArray, int]:
    """Node voltages ``(B, n_nodes)`` and Newton iterations of a grid-layout netlist with nonlinear
    cells, source voltages ``vf`` ``(B, S)`` (in source order).

    The same damped Newton as :func:`newton_solve` (start linearised at 0 V, voltage limiting,
    residual-halving line search, componentwise KCL stop at ``options.tol``), with each step solved
    by :func:`solve_linearised` on the row-node Schur complement instead of CG on all 2MN nodes.
    Raises :class:`GridStepFailed` if an inner CG does not converge (the caller then takes the
    general path, which falls back to direct step solves).
    """
    mn = layout.m * layout.n
    chunk = max(1, min(vf.shape[0], _GRID_CHUNK_ENTRIES // max(2 * mn, 1), 256))
    v = np.empty((vf.shape[0], netlist.n_nodes))
    iters = 0
    for k in range(0, vf.shape[0], chunk):
        sl = slice(k, k + chunk)
        x_r, x_c, it = _grid_newton_chunk(netlist, layout, vf[sl], options, k, vf.shape[0])
        iters = max(iters, it)
        v[sl, :mn] = x_r
        v[sl, mn:2 * mn] = np.swapaxes(x_c.reshape(-1, layout.n, layout.m), 1, 2).reshape(-1, mn)
        v[sl, 2 * mn:] = vf[sl]
    return v, iters


#: Batch entries x unknowns per Newton chunk: small enough that a chunk's vectors stay in cache.
_GRID_CHUNK_ENTRIES = 50_000


class _GridResidual:
    """KCL residual of the grid at row/column node voltages, and its componentwise scale."""

    def __init__(self, netlist: Netlist, layout: GridLayout, system: GridSystem, vf: FloatArray) -> None:
        m, n = layout.m, layout.n
        self.m, self.n = m, n
        d_row, e_row, d_col, e_col = line_tridiagonals(layout, np.zeros((m, n)))  # wires only
        self.wires = (d_row, e_row, d_col, e_col)
        self.abs_e = (np.abs(e_row), np.abs(e_col))
        self.system = system
        self.b_row, self.b_col = system.rhs(vf)
        self.g = np.asarray(netlist.conductance, dtype=np.float64)
        self.device = netlist.device

    def __call__(self, x_r: FloatArray, x_c: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``F_row``, ``F_col`` (B, M*N), the componentwise error per batch entry, the cell voltages."""
        sysm, (d_row, e_row, d_col, e_col) = self.system, self.wires
        bsz = x_r.shape[0]
        x_c_rm = sysm.to_row(x_c)
        u = (x_r - x_c_rm).reshape(bsz, self.m, self.n)
        icell = np.asarray(self.device.current(u, self.g), dtype=np.float64).reshape(bsz, -1)
        gd = np.asarray(self.device.conductance(u, self.g), dtype=np.float64).reshape(bsz, -1)
        f_r = GridSystem.tri_mv(d_row, e_row, x_r) - self.b_row + icell
        f_c = GridSystem.tri_mv(d_col, e_col, x_c) - self.b_col - sysm.to_col(icell)
        cell_scale = gd * (np.abs(x_r) + np.abs(x_c_rm)) + np.abs(icell)
        s_r = GridSystem.tri_mv(d_row, self.abs_e[0], np.abs(x_r)) + np.abs(self.b_row) + cell_scale
        s_c = GridSystem.tri_mv(d_col, self.abs_e[1], np.abs(x_c)) + np.abs(self.b_col) + sysm.to_col(cell_scale)
        with np.errstate(invalid="ignore", divide="ignore"):
            err = np.maximum(np.where(s_r > 0, np.abs(f_r) / s_r, np.abs(f_r)).max(axis=1, initial=0.0),
                             np.where(s_c > 0, np.abs(f_c) / s_c, np.abs(f_c)).max(axis=1, initial=0.0))
        return f_r, f_c, err, u


def _grid_newton_chunk(netlist: Netlist, layout: GridLayout, vf: FloatArray, options: NewtonOptions,
                       offset: int = 0, total: int = 1) -> tuple[FloatArray, FloatArray, int]:
    bsz = vf.shape[0]
    system = GridSystem(layout, netlist.conductance)  # cells at g: the circuit linearised at 0 V
    res = _GridResidual(netlist, layout, system, vf)
    x_r, x_c, _, _ = solve_grid(system, res.b_row, res.b_col, 1e-8, options.cg_maxiter)
    with np.errstate(over="ignore", invalid="ignore"):
        f_r, f_c, err, u = res(x_r, x_c)
    for it in range(1, options.maxiter + 1):
        if np.isfinite(err).all() and (err <= options.tol).all():
            return x_r, x_c, it - 1
        with np.errstate(over="ignore", invalid="ignore"):
            gd = np.asarray(netlist.device.conductance(u, res.g), dtype=np.float64)
        if not np.isfinite(gd).all() or not (np.isfinite(f_r).all() and np.isfinite(f_c).all()):
            finite = np.isfinite(gd).reshape(bsz, -1).all(axis=1) & np.isfinite(f_r).all(axis=1) \
                & np.isfinite(f_c).all(axis=1)
            note, idx = _failed_entries(~finite, offset, total, "overflowed (the others may not have converged yet)")
            raise ConvergenceError(
                f"Newton diverged: device currents overflowed at iteration {it} "
                f"(largest cell voltage {largest_finite(u)}).{note}",
                iterations=it, residual=float("inf"), entries=idx)
        eta = float(np.clip(np.nanmax(err) * 1e-2, 1e-12, 1e-3))
        p_r, p_c, _, ok = solve_linearised(layout, gd, -f_r, -f_c, eta, options.cg_maxiter)
        if not ok:
            raise GridStepFailed(f"inner CG did not reach {eta:g} in {options.cg_maxiter} iterations")
        big = np.maximum(np.abs(p_r).max(axis=1), np.abs(p_c).max(axis=1))
        lim = np.minimum(1.0, options.max_step / np.maximum(big, 1e-300))[:, None]
        p_r *= lim
        p_c *= lim
        lam = np.ones((bsz, 1))
        fnorm = np.sqrt((f_r ** 2).sum(axis=1) + (f_c ** 2).sum(axis=1))
        for _ in range(30):
            xr_n, xc_n = x_r + lam * p_r, x_c + lam * p_c
            with np.errstate(over="ignore", invalid="ignore"):
                fr_n, fc_n, err_n, u_n = res(xr_n, xc_n)
                fn = np.sqrt((fr_n ** 2).sum(axis=1) + (fc_n ** 2).sum(axis=1))
            bad = ~np.isfinite(fn) | (fn > fnorm * (1 - 1e-4 * lam[:, 0])) & (err_n > options.tol)
            if not bad.any():
                break
            lam = np.where(bad[:, None], lam / 2, lam)
        x_r, x_c, f_r, f_c, err, u = xr_n, xc_n, fr_n, fc_n, err_n, u_n
    if np.isfinite(err).all() and (err <= options.tol).all():  # the last allowed step converged
        return x_r, x_c, options.maxiter
    note, idx = _failed_entries(~(err <= options.tol), offset, total)
    raise ConvergenceError(
        f"Newton did not converge in {options.maxiter} iterations: KCL residual {float(np.nanmax(err)):.3e} "
        f"> tol {options.tol:g}. Try smaller voltages, a larger maxiter or a milder device nonlinearity.{note}",
        iterations=options.maxiter, residual=float(np.nanmax(err)), entries=idx)
