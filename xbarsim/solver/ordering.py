"""Fill-reducing orderings for crossbar nodal matrices.

The nodal graph of a crossbar is two stacked ``M x N`` grids: row wires couple row nodes
horizontally, column wires couple column nodes vertically, and each cell couples row node
``(i, j)`` to column node ``(i, j)``. A geometric nested dissection on the ``(i, j)`` grid gives
separators of one line of nodes: cutting between grid columns only needs the *row* nodes of one
grid column (column wires are vertical and do not cross the cut), and cutting between grid rows
only needs the *column* nodes of one grid row. Computed from the shape alone, it costs a few
milliseconds and lets SuperLU with no ordering of its own approach CHOLMOD.
"""

from __future__ import annotations

import numpy as np

from xbarsim._typing import IntArray

__all__ = ["nested_dissection"]


def nested_dissection(m: int, n: int, *, leaf: int = 64) -> IntArray:
    """Elimination order of the ``2 M N`` pre-merge grid nodes (row node ``p = i N + j``, column node
    ``M N + p``), separators last.

    Parameters
    ----------
    m, n : int
        Crossbar shape.
    leaf : int
        Boxes with at most this many grid points are ordered naturally (row and column node of each
        point in turn).
    """
    grid = np.arange(m * n, dtype=np.int64).reshape(m, n)
    mn = m * n
    parts: list[IntArray] = []

    def interleave(rows: IntArray, cols: IntArray) -> IntArray:
        return np.stack([rows, cols], axis=-1).ravel()

    def rec(i0: int, i1: int, j0: int, j1: int) -> None:
        h, w = i1 - i0, j1 - j0
        if h <= 0 or w <= 0:
            return
        if h * w <= leaf or (h < 3 and w < 3):
            pts = grid[i0:i1, j0:j1].ravel()
            parts.append(interleave(pts, pts + mn))
            return
        if w >= h:
            jm = (j0 + j1) // 2
            rec(i0, i1, j0, jm)
            rec(i0, i1, jm + 1, j1)
            pts = grid[i0:i1, jm]
            parts.append(pts + mn)  # the column wire inside the cut: a path, no fill
            parts.append(pts)  # separator: row nodes of grid column jm
        else:
            im = (i0 + i1) // 2
            rec(i0, im, j0, j1)
            rec(im + 1, i1, j0, j1)
            pts = grid[im, j0:j1]
            parts.append(pts)  # the row wire inside the cut
            parts.append(pts + mn)  # separator: column nodes of grid row im

    rec(0, m, 0, n)
    return np.concatenate(parts)


def line_order(m: int, n: int) -> IntArray:
    """Pre-merge grid nodes line by line: each row wire left to right, then each column wire top to
    bottom. The wire matrix (cell couplings dropped) is tridiagonal per line in this order, so it
    factors with no fill at all."""
    grid = np.arange(m * n, dtype=np.int64).reshape(m, n)
    return np.concatenate([grid.ravel(), (grid + m * n).T.ravel()])
