"""The regular crossbar grid: nodal operators by index arithmetic instead of general assembly.

Notes
-----
A netlist built with no ideal wire (every segment, driver and sense resistance positive) has a
fixed layout: node ``i*N + j`` is row node ``(i, j)``, ``M*N + i*N + j`` column node ``(i, j)``,
``2*M*N + s`` the node of source ``s``; the resistors are the row segments, then the column
segments (both row-major), then one driver/sense resistor per source, from the source node to a
grid node. :func:`grid_layout` recognises that layout by comparing the node arrays with it (no
trust in how the netlist was made), and returns ``None`` for anything else (merged nodes, a
hand-built netlist), which the general path then solves.

On the grid the nodal matrix of the non-fixed nodes (all grid nodes) is

``A = [[R, -G], [-G, C]]``

with ``R`` (``C``) one SPD tridiagonal matrix per row (column) wire, cell conductances and
driver (sense) conductances on its diagonal, and ``G = diag(g)`` the cell couplings. Eliminating
the column nodes, ``x_c = C^{-1} (b_c + G x_r)``, leaves the reduced (Schur complement) system

``S x_r = (R - G C^{-1} G) x_r = b_r + G C^{-1} b_c``

which CG solves preconditioned by ``R``. Block-Jacobi CG on the full two-block system needs about
twice the iterations of CG on ``S`` for the same accuracy (the spectrum of ``R^{-1} S`` is
``1 - mu^2`` where the full one is ``1 +- mu``), and an iteration on ``S`` costs one tridiagonal
solve of each kind, the same as one full block-Jacobi iteration. Convergence is still judged on
the componentwise backward error of the full system ``A x = b``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xbarsim._typing import FloatArray, IntArray
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver._tridiag import pttrf, pttrs

__all__ = ["GridLayout", "grid_layout", "GridSystem"]


@dataclass(frozen=True, eq=False)
class GridLayout:
    """Element arrays of a netlist in the regular grid layout (see the module notes), in siemens.

    ``g_row_seg`` (M, N-1) and ``g_col_seg`` (M-1, N) are segment conductances; ``src_g`` (S,) the
    driver/sense conductance of each source and ``src_attach`` (S,) the grid node it drives.
    """

    m: int
    n: int
    g_row_seg: FloatArray
    g_col_seg: FloatArray
    src_g: FloatArray
    src_attach: IntArray

    def at_nodes(self, x: FloatArray, sign: float) -> FloatArray:
        """Sum element quantities ``x`` (B, E), elements in the order of
        :func:`~xbarsim.solver.solution.element_arrays`, onto their first node plus ``sign`` times
        onto their second node; returns (B, n_nodes)."""
        m, n = self.m, self.n
        mn = m * n
        bsz = x.shape[0]
        k1 = m * (n - 1)
        k2 = k1 + (m - 1) * n
        s = self.src_g.size
        out = np.zeros((bsz, 2 * mn + s))
        row = np.reshape(out[:, :mn], (bsz, m, n), copy=False)  # views: the sums land in ``out``
        col = np.reshape(out[:, mn:2 * mn], (bsz, m, n), copy=False)
        xr = x[:, :k1].reshape(bsz, m, n - 1)
        row[:, :, :-1] += xr
        row[:, :, 1:] += sign * xr
        xc = x[:, k1:k2].reshape(bsz, m - 1, n)
        col[:, :-1, :] += xc
        col[:, 1:, :] += sign * xc
        cell = x[:, k2 + s:].reshape(bsz, m, n)
        row += cell
        col += sign * cell
        xs = x[:, k2:k2 + s]
        out[:, 2 * mn:] += xs
        if s:
            grid = out[:, :2 * mn]
            if np.unique(self.src_attach).size == s:
                grid[:, self.src_attach] += sign * xs
            else:
                np.add.at(grid.T, self.src_attach, sign * xs.T)  # a node driven from both ends
        return out


#: grid_layout results by netlist (a netlist is immutable; solver and Solution ask for it several times)
_LAYOUTS: weakref.WeakKeyDictionary[Netlist, GridLayout | None] = weakref.WeakKeyDictionary()


def grid_layout(netlist: Netlist) -> GridLayout | None:
    """The grid layout of ``netlist``, or ``None`` if it is not laid out that way (see the notes)."""
    try:
        return _LAYOUTS[netlist]
    except KeyError:
        pass
    layout = _grid_layout(netlist)
    _LAYOUTS[netlist] = layout
    return layout


def _grid_layout(netlist: Netlist) -> GridLayout | None:
    m, n = netlist.shape
    mn = m * n
    s = netlist.source_node.size
    k1, k2 = m * (n - 1), m * (n - 1) + (m - 1) * n
    rn = netlist.resistor_nodes
    if netlist.n_nodes != 2 * mn + s or rn.shape[0] != k2 + s:
        return None
    grid = np.arange(mn, dtype=np.int64).reshape(m, n)
    src = 2 * mn + np.arange(s, dtype=np.int64)
    attach = rn[k2:, 1]
    if not (np.array_equal(netlist.row_node, grid) and np.array_equal(netlist.col_node, grid + mn)
            and np.array_equal(netlist.source_node, src) and np.array_equal(rn[k2:, 0], src)
            and bool(((attach >= 0) & (attach < 2 * mn)).all())
            and np.array_equal(rn[:k1, 0], grid[:, :-1].ravel()) and np.array_equal(rn[:k1, 1], grid[:, 1:].ravel())
            and np.array_equal(rn[k1:k2, 0], grid[:-1].ravel() + mn)
            and np.array_equal(rn[k1:k2, 1], grid[1:].ravel() + mn)):
        return None
    g = 1.0 / netlist.resistor_values
    return GridLayout(m=m, n=n, g_row_seg=g[:k1].reshape(m, n - 1), g_col_seg=g[k1:k2].reshape(m - 1, n),
                      src_g=g[k2:], src_attach=np.asarray(attach, dtype=np.int64))


def _line_tridiagonal(cell_g: FloatArray, seg_g: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Diagonal (L, P) and off-diagonal (L*P - 1,) of the L lines of P nodes each, stacked end to end
    (zero coupling between lines): ``cell_g`` (L, P), ``seg_g`` (L, P-1) segment conductances."""
    d = cell_g.copy()
    d[:, :-1] += seg_g
    d[:, 1:] += seg_g
    lines, p = cell_g.shape
    e = np.zeros((lines, p))
    e[:, :-1] = -seg_g
    return d, e.ravel()[:-1]


def line_tridiagonals(layout: GridLayout, cell_g: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Diagonals and off-diagonals ``(d_row, e_row, d_col, e_col)`` of the row-wire and column-wire
    blocks of the grid's nodal matrix with cell conductances ``cell_g`` on the diagonal, ``(M, N)``
    or batched ``(B, M, N)`` (then the batch entries' lines are stacked end to end). Row nodes in
    row-major order, column nodes in column-major order; driver/sense conductances included."""
    m, n = layout.m, layout.n
    mn = m * n
    g = np.asarray(cell_g, dtype=np.float64)
    b = g.shape[0] if g.ndim == 3 else 1
    g3 = g.reshape(b, m, n)
    d_row, e_row = _line_tridiagonal(g3.reshape(b * m, n), np.tile(layout.g_row_seg, (b, 1)))
    d_col, e_col = _line_tridiagonal(np.swapaxes(g3, 1, 2).reshape(b * n, m), np.tile(layout.g_col_seg.T, (b, 1)))
    # driver/sense conductances on the diagonal of the node they attach to (grid numbering)
    src_diag = np.bincount(layout.src_attach, weights=layout.src_g, minlength=2 * mn)
    d_row = (d_row.reshape(b, m, n) + src_diag[:mn].reshape(m, n)).ravel()
    d_col = (d_col.reshape(b, n, m) + src_diag[mn:].reshape(m, n).T).ravel()
    return d_row, e_row, d_col, e_col


class GridSystem:
    """The nodal system of a grid-layout netlist (linear cells of conductance ``cell_g``, ``(M, N)``,
    or one system per batch entry with ``(B, M, N)``), with the reduced-system CG of the module notes. Vectors are (B, M*N), one batch entry per row: row nodes
    in row-major order (``i*N + j``), column nodes in column-major order (``j*M + i``), so that every
    wire is a contiguous run and each block is one tridiagonal matrix (LAPACK solves the transposed
    view in place, no copies)."""

    def __init__(self, layout: GridLayout, cell_g: FloatArray) -> None:
        m, n = layout.m, layout.n
        mn = m * n
        self.layout = layout
        self.m, self.n = m, n
        g = np.asarray(cell_g, dtype=np.float64)
        # cell_g (B, M, N): one system per batch entry (a Newton step's dI/dV), all stacked end to end
        self.batch = g.shape[0] if g.ndim == 3 else None
        d_row, e_row, d_col, e_col = line_tridiagonals(layout, g)
        self.g_mn = np.ascontiguousarray(g)
        self.g_nm = np.ascontiguousarray(np.swapaxes(g, -1, -2))
        self.fac_row = pttrf(d_row, e_row)
        self.fac_col = pttrf(d_col, e_col)
        # for tri_mv: one row per batch entry (the stacked off-diagonal is 0 between entries)
        self.d_row, self.e_row = _per_entry(d_row, e_row, self.batch)
        self.d_col, self.e_col = _per_entry(d_col, e_col, self.batch)

    # ---------------------------------------------------------------- layout changes
    def to_col(self, x: FloatArray, scale: FloatArray | None = None, out: FloatArray | None = None) -> FloatArray:
        """Row-major grid order to column-major grid order, (B, M*N), times ``scale`` (N, M) if given."""
        b = x.shape[0]
        out = np.empty((b, self.m * self.n)) if out is None else out
        xt = x.reshape(b, self.m, self.n).transpose(0, 2, 1)
        if scale is None:
            np.reshape(out, (b, self.n, self.m), copy=False)[...] = xt
        else:
            np.multiply(xt, scale, out=np.reshape(out, (b, self.n, self.m), copy=False))
        return out

    def to_row(self, y: FloatArray, scale: FloatArray | None = None, out: FloatArray | None = None) -> FloatArray:
        """Column-major grid order to row-major grid order, (B, M*N), times ``scale`` (M, N) if given."""
        b = y.shape[0]
        out = np.empty((b, self.m * self.n)) if out is None else out
        yt = y.reshape(b, self.n, self.m).transpose(0, 2, 1)
        if scale is None:
            np.reshape(out, (b, self.m, self.n), copy=False)[...] = yt
        else:
            np.multiply(yt, scale, out=np.reshape(out, (b, self.m, self.n), copy=False))
        return out

    # ---------------------------------------------------------------- operators
    def rhs(self, vf: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``b = -L_uf v_f`` split into the row part and the column part; ``vf`` (B, S)."""
        lay = self.layout
        mn = self.m * self.n
        b = np.zeros((vf.shape[0], 2 * mn))
        np.add.at(b.T, lay.src_attach, (lay.src_g * vf).T)
        return np.ascontiguousarray(b[:, :mn]), self.to_col(b[:, mn:])

    @staticmethod
    def tri_mv(d: FloatArray, e: FloatArray, x: FloatArray, out: FloatArray | None = None,
               work: FloatArray | None = None) -> FloatArray:
        """``T x`` for the tridiagonal ``T`` (diagonal ``d``, off-diagonal ``e``), rows of ``x``."""
        out = np.multiply(x, d, out=out)
        work = np.empty_like(x) if work is None else work
        np.multiply(x[:, 1:], e, out=work[:, 1:])
        out[:, :-1] += work[:, 1:]
        np.multiply(x[:, :-1], e, out=work[:, 1:])
        out[:, 1:] += work[:, 1:]
        return out

    def _solve(self, fac: tuple[FloatArray, FloatArray], rhs: FloatArray, overwrite: bool) -> FloatArray:
        x = rhs if overwrite else rhs.copy()
        if self.batch is None:  # one factor, every batch entry a right-hand side
            pttrs(*fac, x.T, overwrite=True)
        else:  # one factor per batch entry, stacked: the batch is one long right-hand side
            if x.shape[0] != self.batch or not x.flags.c_contiguous:
                raise ValueError("internal error: a batched grid system solves C-contiguous (B, M*N) arrays")
            pttrs(*fac, x.reshape(-1, 1), overwrite=True)
        return x

    def solve_row(self, rhs: FloatArray, overwrite: bool = False) -> FloatArray:
        return self._solve(self.fac_row, rhs, overwrite)

    def solve_col(self, rhs: FloatArray, overwrite: bool = False) -> FloatArray:
        return self._solve(self.fac_col, rhs, overwrite)

    def schur_mv(self, p: FloatArray, out: FloatArray | None = None, work: FloatArray | None = None,
                 work_col: FloatArray | None = None) -> FloatArray:
        """``S p = R p - G C^{-1} G p`` for row-node vectors ``p`` (B, M*N); ``work``/``work_col``:
        scratch arrays of the same shape."""
        work = np.empty_like(p) if work is None else work
        y = self.solve_col(self.to_col(p, self.g_nm, out=work_col), overwrite=True)
        out = self.tri_mv(self.d_row, self.e_row, p, out=out, work=work)
        out -= self.to_row(y, self.g_mn, out=work)
        return out

    def complete(self, x_row: FloatArray, b_col: FloatArray) -> FloatArray:
        """Column-node voltages (column-major order) from the row-node ones: ``C^{-1} (b_c + G x_r)``."""
        y = self.to_col(x_row, self.g_nm)
        y += b_col
        return self.solve_col(y, overwrite=True)

    def backward_error(self, x_row: FloatArray, x_col: FloatArray, b_row: FloatArray,
                       b_col: FloatArray) -> FloatArray:
        """Componentwise backward error of the full system per batch entry,
        ``max_k |b - A x|_k / (|A| |x| + |b|)_k`` (NaN if anything is not finite)."""
        gxc = self.to_row(x_col, self.g_mn)
        gxr = self.to_col(x_row, self.g_nm)
        r_row = b_row - self.tri_mv(self.d_row, self.e_row, x_row) + gxc
        r_col = b_col - self.tri_mv(self.d_col, self.e_col, x_col) + gxr
        den_row = self.tri_mv(self.d_row, np.abs(self.e_row), np.abs(x_row)) + np.abs(gxc) + np.abs(b_row)
        den_col = self.tri_mv(self.d_col, np.abs(self.e_col), np.abs(x_col)) + np.abs(gxr) + np.abs(b_col)
        return np.maximum(_ratio_max(r_row, den_row), _ratio_max(r_col, den_col))


def _per_entry(d: FloatArray, e: FloatArray, batch: int | None) -> tuple[FloatArray, FloatArray]:
    """Stacked tridiagonal (B*n,), (B*n - 1,) as (B, n), (B, n - 1); unchanged when not batched."""
    if batch is None:
        return d, e
    return d.reshape(batch, -1), np.append(e, 0.0).reshape(batch, -1)[:, :-1]


def _ratio_max(r: FloatArray, den: FloatArray) -> FloatArray:
    """Largest ``|r| / den`` per row (``|r|`` where ``den`` is 0); NaN propagates."""
    q = np.abs(r)
    np.divide(q, den, out=q, where=den > 0)
    return q.max(axis=1) if q.shape[1] else np.zeros(q.shape[0])


def _axpy(a: FloatArray, x: FloatArray, y: FloatArray, work: FloatArray) -> None:
    """``y += a[:, None] * x`` in place (rows are batch entries)."""
    # (numpy, not BLAS daxpy: a threaded BLAS level-1 call stalls for milliseconds on a busy machine)
    np.multiply(x, a[:, None], out=work)
    y += work


def _dot(x: FloatArray, y: FloatArray) -> FloatArray:
    return np.einsum("ij,ij->i", x, y)


def reduced_pcg(system: GridSystem, b: FloatArray, rtol: float, maxiter: int,
                check: Callable[[FloatArray], FloatArray], max_restarts: int = 6) -> tuple[FloatArray, int, bool]:
    """PCG on ``S x = b`` (rows of ``b`` are independent runs, unit-scaled), preconditioned by ``R``.

    The same iteration and stopping rule as :func:`xbarsim.solver.sparse.pcg_core`, with buffers
    allocated once and updated in place: ``check(X)`` gives the componentwise backward error of
    the full system for every row and decides convergence once the norm-wise targets are met.
    """
    X = np.zeros_like(b)
    R = b.copy()
    target = rtol * np.sqrt(_dot(b, b))
    active = target > 0
    if not active.any():
        return X, 0, True
    AP, W, WC = np.empty_like(b), np.empty_like(b), np.empty_like(b)
    restarts = 0
    Z = system.solve_row(R)
    P = Z.copy()
    rz = _dot(R, Z)
    for it in range(1, maxiter + 1):
        system.schur_mv(P, out=AP, work=W, work_col=WC)
        pap = _dot(P, AP)
        if not np.isfinite(pap).all():
            return X, it, False
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=active & (pap > 0))
        _axpy(alpha, P, X, W)
        _axpy(-alpha, AP, R, W)
        rnorm = np.sqrt(_dot(R, R))
        if not np.isfinite(rnorm).all():
            return X, it, False
        active = rnorm > target
        if not active.any():
            err = check(X)
            worse = ~(err <= rtol)
            if not worse.any():
                return X, it, True
            restarts += 1
            if restarts > max_restarts or not np.isfinite(err).all():
                return X, it, False  # stagnation at the attainable accuracy: the caller goes direct
            # tighten the norm-wise target of the rows that are not there yet and restart their
            # recurrences from the true residual (mixing it into the old directions breaks CG)
            shrink = np.divide(rtol, err, out=np.ones_like(err), where=worse)
            target = np.where(worse, target * np.maximum(shrink, 1e-3), target)
            R = b - system.schur_mv(X)
            R[~worse] = 0.0
            active = worse
            Z = system.solve_row(R)
            P = Z.copy()
            rz = _dot(R, Z)
            continue
        np.copyto(Z, R)
        system.solve_row(Z, overwrite=True)
        rz_new = _dot(R, Z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=active & (rz > 0))
        P *= beta[:, None]
        P += Z
        rz = rz_new
    return X, maxiter, False


def solve_grid(system: GridSystem, b_row: FloatArray, b_col: FloatArray, rtol: float,
               maxiter: int) -> tuple[FloatArray, FloatArray, int, bool]:
    """Solve the full grid system ``A x = b`` by CG on the reduced system (module notes).

    ``b_row``, ``b_col`` (B, M*N) in the orders of :class:`GridSystem`; returns the row-node and the
    column-node voltages in those orders, the iterations and whether CG converged to ``rtol``
    (componentwise backward error of the full system).
    """
    # CG is linear in b: scale each right-hand side to unit size so that inner products of tiny
    # (or huge) inputs neither underflow nor overflow, and scale the solution back at the end.
    colmax = np.maximum(np.abs(b_row).max(axis=1, initial=0.0), np.abs(b_col).max(axis=1, initial=0.0))
    scale = np.where(colmax > 0, colmax, 1.0)[:, None]
    b_row = b_row / scale
    b_col = b_col / scale
    b_red = system.to_row(system.solve_col(b_col), system.g_mn)
    b_red += b_row
    last: dict[str, FloatArray] = {}

    def check(x_row: FloatArray) -> FloatArray:
        x_col = system.complete(x_row, b_col)
        last["x_col"] = x_col
        return system.backward_error(x_row, x_col, b_row, b_col)

    x_row, it, ok = reduced_pcg(system, b_red, rtol, maxiter, check)
    x_col = last["x_col"] if ok and "x_col" in last else system.complete(x_row, b_col)
    x_row *= scale
    x_col *= scale
    return x_row, x_col, it, ok
