"""Nodal assembly shared by the sparse backend, the bulk transfer matrices and the ideal backend.

The nodal (Laplacian) matrix of a netlist split into unknown and fixed nodes, the line-by-line
numbering of the unknowns, the nested-dissection permutation of the direct path and SuperLU
without pivoting (see :mod:`xbarsim.solver.sparse` for the numerics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xbarsim._typing import BoolArray, FloatArray, IntArray
from xbarsim.errors import CircuitError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver.ordering import line_order, nested_dissection
from xbarsim.solver.solution import element_arrays
from xbarsim.solver.topology import check_floating

__all__ = ["Assembled", "assemble"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Assembled:
    """Nodal matrices of one netlist, nodes split into ``unknown`` and ``fixed``.

    ``A = L_uu`` (CSR; symmetric, so its arrays are also those of the CSC form), ``C = L_uf``,
    ``Lff = L_ff``. ``wire_edges`` are the unknown-unknown wire resistors ``(p, q, g)`` (positions in
    ``unknown``): together with ``A``'s diagonal they make the CG preconditioner.
    """

    unknown: IntArray
    fixed: IntArray
    A: sp.csr_matrix
    C: sp.csr_matrix
    Lff: sp.csr_matrix
    wire_edges: tuple[IntArray, IntArray, FloatArray]

    @property
    def A_csc(self) -> sp.csc_matrix:
        a = self.A
        return sp.csc_matrix((a.data, a.indices, a.indptr), shape=a.shape)


def assemble(netlist: Netlist, cell_g: FloatArray) -> Assembled:
    """Assemble the nodal matrices with cell conductances ``cell_g`` (``(M, N)``, siemens).

    Raises
    ------
    CircuitError
        If a set of nodes has no conductive path to any fixed node (names up to ten of them).
    """
    a, b = element_arrays(netlist)
    n_res = netlist.resistor_values.size
    g = np.concatenate([1.0 / netlist.resistor_values, np.asarray(cell_g, dtype=np.float64).ravel()])
    is_wire = np.zeros(g.size, dtype=bool)
    is_wire[:n_res] = True
    live = g > 0
    a, b, g, is_wire = a[live], b[live], g[live], is_wire[live]

    n = netlist.n_nodes
    fixed = np.unique(netlist.source_node)
    is_fixed = np.zeros(n, dtype=bool)
    is_fixed[fixed] = True
    unknown = _line_ordered_unknowns(netlist, is_fixed)
    nu, nf = unknown.size, fixed.size
    pos = np.empty(n, dtype=np.int64)
    pos[unknown] = np.arange(nu)
    pos[fixed] = np.arange(nf)
    pa, pb = pos[a], pos[b]
    ua, ub = ~is_fixed[a], ~is_fixed[b]

    # L_uu: diagonal from every element touching an unknown node, off-diagonals between unknowns
    diag = np.bincount(pa[ua], weights=g[ua], minlength=nu) + np.bincount(pb[ub], weights=g[ub], minlength=nu)
    both = ua & ub
    qa, qb, gb = pa[both], pb[both], g[both]
    rows = np.concatenate([np.arange(nu), qa, qb])
    cols = np.concatenate([np.arange(nu), qb, qa])
    A = sp.csr_matrix((np.concatenate([diag, -gb, -gb]), (rows, cols)), shape=(nu, nu))
    wire = is_wire[both]
    # L_uf: unknown-fixed couplings
    uf1, uf2 = ua & ~ub, ~ua & ub
    C = sp.csr_matrix((-np.concatenate([g[uf1], g[uf2]]),
                       (np.concatenate([pa[uf1], pb[uf2]]), np.concatenate([pb[uf1], pa[uf2]]))), shape=(nu, nf))
    ff = ~ua & ~ub
    fa, fb, gf = pa[ff], pb[ff], g[ff]
    Lff = sp.csr_matrix((np.concatenate([gf, gf, -gf, -gf]),
                         (np.concatenate([fa, fb, fa, fb]), np.concatenate([fa, fb, fb, fa]))), shape=(nf, nf))
    check_floating(netlist)
    return Assembled(unknown=unknown, fixed=fixed, A=A, C=C, Lff=Lff, wire_edges=(qa[wire], qb[wire], gb[wire]))


def _line_ordered_unknowns(netlist: Netlist, is_fixed: BoolArray) -> IntArray:
    """The non-fixed nodes, numbered line by line (each row wire, then each column wire).

    In this order the wire part of the nodal matrix is tridiagonal, so the CG preconditioner
    needs no permutation, and the direct path permutes from here by nested dissection.
    """
    m, n = netlist.shape
    mn = m * n
    pre = line_order(m, n)
    if netlist.n_nodes == 2 * mn + netlist.source_node.size:
        seq = pre  # nothing was merged: node k is pre-merge node k
    else:
        node = np.where(pre < mn, netlist.row_node.ravel()[pre % mn], netlist.col_node.ravel()[pre % mn])
        _, first = np.unique(node, return_index=True)
        seq = node[np.sort(first)]
    return seq[~is_fixed[seq]]


def _grid_permutation(netlist: Netlist, unknown: IntArray, pre: IntArray) -> IntArray:
    """Map an order of pre-merge grid nodes to a permutation of the unknowns (merged nodes take the
    place of their first member; fixed nodes are skipped)."""
    mn = netlist.shape[0] * netlist.shape[1]
    node = np.where(pre < mn, netlist.row_node.ravel()[pre % mn], netlist.col_node.ravel()[pre % mn])
    pos = np.full(netlist.n_nodes, -1, dtype=np.int64)
    pos[unknown] = np.arange(unknown.size)
    seq = pos[node]
    seq = seq[seq >= 0]
    _, first = np.unique(seq, return_index=True)
    return seq[np.sort(first)]


def _ordering(netlist: Netlist, unknown: IntArray, which: str) -> IntArray | None:
    """Permutation of the unknowns for the direct path (None: let SuperLU order)."""
    if which in ("colamd", "mmd"):
        return None
    return _grid_permutation(netlist, unknown, nested_dissection(*netlist.shape))


def _splu(A: sp.csc_matrix, spec: str) -> spla.SuperLU:
    """SuperLU without pivoting (the nodal matrix is SPD); a breakdown becomes a CircuitError."""
    try:
        return spla.splu(A, permc_spec=spec, diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    except RuntimeError as exc:  # "Factor is exactly singular": pivots lost to under/overflow
        d = np.abs(A.diagonal())
        raise CircuitError(
            f"the nodal matrix is numerically singular ({exc}); its diagonal spans {d.min():.3g} to {d.max():.3g} S. "
            "Conductances or wire resistances this extreme (or this far apart) cannot be solved in double precision."
        ) from exc
