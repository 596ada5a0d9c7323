"""A coarse correction across lines for the reduced grid CG (:mod:`xbarsim.solver.gridpath`).

Notes
-----
The row-wire preconditioner ``R`` of the reduced system ``S = R - G C^{-1} G`` solves every row
exactly but passes information between rows only through the cells and the column wires. The slow
modes of ``R^{-1} S`` are the smooth ones in which row and column nodes move together (no cell
current): there ``S`` acts like a 2-D Laplacian (row wires along ``x``, column wires along ``y``)
while ``R`` sees only the ``x`` part plus the cells, so ``R^{-1} S`` has eigenvalues near
``(k_x^2 + k_y^2) / (k_x^2 + g r)`` and CG needs iterations in proportion to the array size.

The correction adds ``Q A_c^{-1} Q^T`` to ``R^{-1}`` (a two-level additive Schwarz preconditioner,
symmetric positive definite, so CG stays CG). ``Q = Q_y (x) Q_x`` is bilinear interpolation from a
coarse grid with spacing ``k`` (coarse nodes at ``0, k, 2k, ...`` and the last line), applied to
the row nodes; ``A_c = Q^T L Q`` is the Galerkin product of the grid Laplacian ``L`` of the wires
alone (row segments along ``x``, column segments along ``y``, driver and sense conductances on the
diagonal) - the nodal matrix of the full two-layer system restricted to row voltages equal to
column voltages, where the cells carry nothing. It bounds the reduced system's coarse energy from
above and is exact for the smooth modes. ``A_c`` is assembled from the tensor structure in
``O(M N)`` operations (no ``M N`` sparse matrix) and factored once by SuperLU.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xbarsim._typing import FloatArray, IntArray

__all__ = ["CoarseGrid", "hat_interpolation", "coarse_spacing"]


def coarse_spacing(m: int, n: int) -> int:
    """The coarse grid spacing ``k``: at least 8, and at most about 128 coarse lines each way (the
    iteration count is flat in ``k`` from 8 to 64 on 1 ohm segments and 1-100 uS cells)."""
    return max(8, -(-max(m, n) // 128))


def hat_interpolation(n: int, k: int) -> tuple[sp.csr_matrix, IntArray]:
    """Linear interpolation ``(n, nc)`` from coarse nodes at ``0, k, 2k, ...`` and ``n - 1``, and the
    coarse nodes' positions."""
    pos = np.arange(0, n, k)
    if pos[-1] != n - 1:
        pos = np.append(pos, n - 1)
    if pos.size == 1:
        return sp.csr_matrix(np.ones((n, 1))), pos
    j = np.arange(n)
    p = np.clip(np.searchsorted(pos, j, side="right") - 1, 0, pos.size - 2)
    w = (j - pos[p]) / (pos[p + 1] - pos[p])
    q = sp.csr_matrix((np.concatenate([1 - w, w]), (np.concatenate([j, j]), np.concatenate([p, p + 1]))),
                      shape=(n, pos.size))
    q.eliminate_zeros()
    return q, pos


def _interval_sums(g: FloatArray, pos: IntArray) -> FloatArray:
    """Along the last axis of segment conductances ``g`` (..., n-1): the sum over the segments of each
    coarse interval divided by the interval's length squared (the 1-D Galerkin conductance of hat
    functions)."""
    h = np.diff(pos).astype(np.float64)
    return np.add.reduceat(g, pos[:-1], axis=-1) / (h * h)


def _two_entries(q: sp.csr_matrix, rows: IntArray) -> tuple[IntArray, FloatArray]:
    """Columns and values of rows ``rows`` of an interpolation matrix with 1 or 2 entries per row,
    as (len(rows), 2) arrays (a single entry padded with a zero weight)."""
    q = q.tocsr()
    start, count = q.indptr[rows], np.diff(q.indptr)[rows]
    col = np.stack([q.indices[start], q.indices[start + count - 1]], axis=1)
    val = np.stack([q.data[start], np.where(count > 1, q.data[start + count - 1], 0.0)], axis=1)
    return col.astype(np.int64), val


class CoarseGrid:
    """``Q A_c^{-1} Q^T`` of the module notes for an ``M x N`` grid.

    Parameters
    ----------
    g_row_seg, g_col_seg : ndarray (M, N-1), (M-1, N)
        Segment conductances (S).
    attach, src_g : ndarray (S,)
        Grid node (netlist numbering: row nodes ``i*N + j``, column nodes ``M*N + i*N + j``) and
        conductance of every driver and sense resistance.
    k : int
        Coarse spacing (:func:`coarse_spacing` if None).
    """

    def __init__(self, g_row_seg: FloatArray, g_col_seg: FloatArray, attach: IntArray, src_g: FloatArray,
                 k: int | None = None) -> None:
        m, n = g_row_seg.shape[0], g_col_seg.shape[1]
        self.m, self.n = m, n
        self.k = coarse_spacing(m, n) if k is None else k
        qy, py = hat_interpolation(m, self.k)
        qx, px = hat_interpolation(n, self.k)
        self.qy, self.qx = qy, qx
        self.qyt = qy.T.tocsr()
        # the x interpolation as (left coarse node, weight of the right one) per fine column
        self._ncx = px.size
        j = np.arange(n)
        if px.size > 1:
            self._xp = np.clip(np.searchsorted(px, j, side="right") - 1, 0, px.size - 2)
            self._xw = (j - px[self._xp]) / (px[self._xp + 1] - px[self._xp])
        else:
            self._xp, self._xw = np.zeros(n, dtype=np.int64), np.zeros(n)
        self._xstarts = px[:-1]
        self.a_c = self._galerkin(g_row_seg, g_col_seg, attach, src_g, qy, py, qx, px)
        self.lu = spla.splu(self.a_c.tocsc(), permc_spec="MMD_AT_PLUS_A")

    def _galerkin(self, g_row_seg: FloatArray, g_col_seg: FloatArray, attach: IntArray, src_g: FloatArray,
                  qy: sp.csr_matrix, py: IntArray, qx: sp.csr_matrix, px: IntArray) -> sp.csr_matrix:
        m, n = self.m, self.n
        ncy, ncx = py.size, px.size
        nc = ncy * ncx
        idx = np.arange(nc).reshape(ncy, ncx)
        rows: list[IntArray] = []
        cols: list[IntArray] = []
        vals: list[FloatArray] = []

        def edge(a: IntArray, b: IntArray, w: FloatArray) -> None:
            """``w (e_a - e_b)(e_a - e_b)^T`` for every entry."""
            a, b, w = a.ravel(), b.ravel(), w.ravel()
            rows.extend([a, b, a, b])
            cols.extend([a, b, b, a])
            vals.extend([w, w, -w, -w])

        def cross(a: IntArray, b: IntArray, c: IntArray, d: IntArray, w: FloatArray) -> None:
            """``w (e_a - e_b)(e_c - e_d)^T`` and its transpose."""
            a, b, c, d, w = a.ravel(), b.ravel(), c.ravel(), d.ravel(), w.ravel()
            for r, c_, s in ((a, c, 1.0), (b, d, 1.0), (a, d, -1.0), (b, c, -1.0)):
                rows.extend([r, c_])
                cols.extend([c_, r])
                vals.extend([s * w, s * w])

        if ncx > 1 and n > 1:
            # x part: per fine row i, a 1-D Laplacian on the coarse x nodes with conductances s[i];
            # rows combine with the weights Q_y[i, a] Q_y[i, b]
            s = _interval_sums(g_row_seg, px)  # (M, ncx-1)
            y2 = np.asarray(qy.multiply(qy).T @ s)  # (ncy, ncx-1)
            edge(idx[:, :-1], idx[:, 1:], y2)
            if ncy > 1:
                yo = np.asarray(qy[:, :-1].multiply(qy[:, 1:]).T @ s)  # (ncy-1, ncx-1)
                cross(idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:], yo)
        if ncy > 1 and m > 1:
            t = _interval_sums(g_col_seg.T, py).T  # (ncy-1, N)
            x2 = np.asarray((qx.multiply(qx).T @ t.T).T)  # (ncy-1, ncx)
            edge(idx[:-1, :], idx[1:, :], x2)
            if ncx > 1:
                xo = np.asarray((qx[:, :-1].multiply(qx[:, 1:]).T @ t.T).T)  # (ncy-1, ncx-1)
                cross(idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:], idx[1:, 1:], xo)
        # driver and sense conductances: g (Q_y[i] (x) Q_x[j])^T (Q_y[i] (x) Q_x[j]) at their node
        node = np.where(attach < m * n, attach, attach - m * n)
        # rows of Q_y and Q_x have 1 or 2 entries; pad them to 2 (zero weight) and take all pairs
        iy, vy = _two_entries(qy, node // n)
        ix, vx = _two_entries(qx, node % n)
        ci = (iy[:, :, None] * ncx + ix[:, None, :]).reshape(-1, 4)  # (S, 4) coarse nodes
        cv = (vy[:, :, None] * vx[:, None, :]).reshape(-1, 4)  # (S, 4) weights
        rows.append(np.repeat(ci, 4, axis=1).ravel())
        cols.append(np.tile(ci, (1, 4)).ravel())
        vals.append((np.repeat(cv, 4, axis=1) * np.tile(cv, (1, 4)) * src_g[:, None]).ravel())
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nc, nc))

    def add_to(self, r: FloatArray, out: FloatArray, block: int = 128) -> None:
        """``out += Q A_c^{-1} Q^T r`` for row-node vectors ``r`` (B, M*N), row-major. The ``x``
        direction (the long one) is applied block of rows by block of rows: the full intervals of
        ``k`` columns as a ``(rows, intervals, k)`` view with broadcast weights, the last (shorter)
        interval by gathers."""
        m, n = self.m, self.n
        k, ncx = self.k, self._ncx
        nf = min((n - 1) // k, ncx - 1)  # full intervals [p k, (p + 1) k)
        wl = np.arange(k) / k
        t0 = nf * k  # tail columns t0 .. n-1: the last interval
        tp, tw = self._xp[t0:], self._xw[t0:]
        tpr = np.minimum(tp + 1, ncx - 1)
        for b in range(r.shape[0]):
            x = r[b].reshape(m, n)
            y = np.zeros((m, ncx))  # Q_x^T along rows
            for i0 in range(0, m, block):
                xc = x[i0:i0 + block]
                yc = y[i0:i0 + block]
                if nf:
                    x3 = xc[:, :t0].reshape(xc.shape[0], nf, k)
                    yc[:, :nf] += x3 @ (1.0 - wl)
                    yc[:, 1:nf + 1] += x3 @ wl
                xt = xc[:, t0:]
                np.add.at(yc.T, tp, (xt * (1.0 - tw)).T)
                np.add.at(yc.T, tpr, (xt * tw).T)
            coarse = np.asarray(self.qyt @ y)  # (ncy, ncx)
            c = self.lu.solve(np.ascontiguousarray(coarse).reshape(-1)).reshape(coarse.shape)
            cy = np.asarray(self.qy @ c)  # (M, ncx)
            o = out[b].reshape(m, n)
            for i0 in range(0, m, block):
                cb = cy[i0:i0 + block]
                oc = o[i0:i0 + block]
                if nf:
                    o3 = oc[:, :t0].reshape(oc.shape[0], nf, k)
                    o3 += cb[:, :nf, None] * (1.0 - wl)
                    o3 += cb[:, 1:nf + 1, None] * wl
                oc[:, t0:] += cb[:, tp] * (1.0 - tw) + cb[:, tpr] * tw
