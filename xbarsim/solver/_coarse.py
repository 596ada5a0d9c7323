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
    """The coarse grid spacing ``k``: at least 8, and at most about 256 coarse lines each way."""
    return max(8, -(-max(m, n) // 256))


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
        self.qxt = qx.T.tocsr()
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
        wy = qy[node // n].toarray() if ncy <= 4096 else None
        wx = qx[node % n].toarray() if ncx <= 4096 else None
        if wy is not None and wx is not None:
            w = (wy[:, :, None] * wx[:, None, :]).reshape(node.size, nc)  # (S, nc), 4 non-zeros per row
            wsp = sp.csr_matrix(w)
            d = (wsp.T @ sp.diags(src_g) @ wsp).tocoo()
            rows.append(d.row)
            cols.append(d.col)
            vals.append(d.data)
        else:  # pragma: no cover - more than 4096 coarse lines
            raise ValueError("coarse grid too large")
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nc, nc))

    def add_to(self, r: FloatArray, out: FloatArray, block: int = 256) -> None:
        """``out += Q A_c^{-1} Q^T r`` for row-node vectors ``r`` (B, M*N), row-major."""
        m, n = self.m, self.n
        for b in range(r.shape[0]):
            x = r[b].reshape(m, n)
            coarse = np.asarray(self.qxt @ np.asarray(self.qyt @ x).T).T  # (ncy, ncx) = Q_y^T x Q_x
            c = self.lu.solve(np.ascontiguousarray(coarse).reshape(-1)).reshape(coarse.shape)
            cx = np.asarray(self.qx @ c.T).T  # (ncy, N) = c Q_x^T
            o = out[b].reshape(m, n)
            for i0 in range(0, m, block):
                o[i0:i0 + block] += self.qy[i0:i0 + block] @ cx
