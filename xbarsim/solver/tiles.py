"""Many crossbars of one layout at once: the transfer matrices of every tile of a chip in bulk.

Notes
-----
The tiles of a chip share their shape and wires; only the cell conductances differ. Their nodal
matrices therefore share one sparsity pattern, and every stored entry is an affine function of the
cell conductances, ``data = base + Q g`` (``Q`` holds the +-1 stamps of the cells). The pattern,
the nested-dissection order and the index arithmetic are worked out once, from one template
netlist; the values of all tiles are one sparse-dense product. The tiles' bordered matrices
(unknowns first, fixed nodes last, as in :meth:`~xbarsim.solver.SparseBackend.transfer_matrix`)
are placed on the diagonal of one block-diagonal matrix and factored by one SuperLU call, with no
pivoting; the LU of a block-diagonal matrix is the block-diagonal of the tiles' LUs, so each
tile's Schur complement onto its sources is the product of its own trailing blocks of ``L`` and
``U``. Tiles are factored in chunks of bounded size, so memory stays proportional to the chunk.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from xbarsim._typing import ArrayLike, FloatArray
from xbarsim._validation import as_float_array, short_repr
from xbarsim.devices.models import DeviceModel, Ohmic
from xbarsim.errors import CircuitError, ConfigError
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance
from xbarsim.netlists.netlist import build_netlist
from xbarsim.solver._tridiag import pttrf, pttrs
from xbarsim.solver.accuracy import SPREAD_CHECK, transfer_matrix_error, warn_if_transfer_inaccurate
from xbarsim.solver.nodal import _ordering, _splu, assemble

__all__ = ["transfer_matrices"]

#: Unknowns factored per SuperLU call (bounds the memory of the factors).
_CHUNK_UNKNOWNS = 250_000
#: Entries of the dense (K, N, M, M) blocks per line sweep (bounds its memory, 8 bytes each).
_CHUNK_ENTRIES = 4_000_000


def transfer_matrices(conductance: ArrayLike, lines: LineResistance, device: DeviceModel | None = None) -> FloatArray:
    """Read-scheme transfer matrices of ``K`` crossbars that share ``lines``: ``(K, M, N)``, siemens.

    ``T[k]`` equals :func:`~xbarsim.solver.transfer_matrix` of the crossbar with conductances
    ``conductance[k]`` (``(K, M, N)``, siemens) and ``lines`` (tested to 1e-12), so that the output
    currents of tile ``k`` are ``v @ T[k]``. ``device`` must be linear (default ohmic).
    """
    if not isinstance(lines, LineResistance):
        raise ConfigError(f"`lines` must be a LineResistance; got {type(lines).__name__}.")
    dev = Ohmic() if device is None else device
    if isinstance(dev, type) or not isinstance(dev, DeviceModel):
        raise ConfigError(f"`device` must be a DeviceModel instance or None; got {short_repr(dev)}.")
    if not dev.linear:
        raise ConfigError(f"a transfer matrix needs linear devices; got {dev.name!r}")
    g = as_float_array(conductance, "conductance", what="array of non-negative conductances in siemens", min_value=0.0)
    if g.ndim != 3 or 0 in g.shape:
        raise ConfigError(f"`conductance` must have shape (K, M, N) with K, M, N >= 1; got shape {g.shape}.")
    k_tiles, m, n = g.shape
    lb = lines.broadcast(m, n)
    r_row, r_col, r_drv, r_sns = (np.asarray(x, dtype=np.float64) for x in
                                  (lb.row_segment, lb.col_segment, lb.row_driver, lb.col_sense))
    ends_ok = all(bool((x > 0).all() or (x == 0).all()) for x in (r_drv, r_sns))
    # floating-point exceptions are checked, not warned (as in SparseBackend.solve): a non-finite
    # result is the ConfigError below, not a RuntimeWarning from inside the sweep
    with np.errstate(all="ignore"):
        if bool((r_row > 0).all() and (r_col > 0).all()) and ends_ok:
            out = np.empty((k_tiles, m, n))
            chunk = max(1, _CHUNK_ENTRIES // (m * n * m))
            for k0 in range(0, k_tiles, chunk):
                try:
                    out[k0:k0 + chunk] = _line_sweep(g[k0:k0 + chunk], r_row, r_col, r_drv, r_sns)
                except np.linalg.LinAlgError as exc:  # a block singular in floating point (1e300 ohm drivers)
                    raise CircuitError(f"the nodal matrix is numerically singular ({exc}): conductances or wire "
                                       "resistances this extreme (or this far apart) cannot be solved in double "
                                       "precision.") from exc
        else:
            out = _bordered_lu(g, lines, dev)
    if not np.isfinite(out).all():
        raise ConfigError("the transfer matrices overflow double precision: conductances or wire resistances "
                          "are too extreme")
    _check_accuracy(g, lines, dev, (r_row, r_col, r_drv, r_sns), out)
    return out


def _check_accuracy(g: FloatArray, lines: LineResistance, dev: DeviceModel, wires: tuple[FloatArray, ...],
                    out: FloatArray) -> None:
    """AccuracyWarning when the tiles' element conductances span more than
    :data:`~xbarsim.solver.accuracy.SPREAD_CHECK` and the transfer matrix of the tile with the smallest
    or the one with the largest cell conductance is further than 1e-6 from exact arithmetic
    (:func:`~xbarsim.solver.accuracy.transfer_matrix_error`). The screen keeps ordinary chips free of
    the extra solves; the tiles share their wires, so those two bracket the conditioning."""
    with np.errstate(over="ignore"):  # a subnormal resistance is an infinite conductance: a wide span
        g_wire = np.concatenate([1.0 / x[x > 0] for x in wires])
    live = g > 0
    if not live.any():
        return
    g_min = np.where(live, g, np.inf).reshape(g.shape[0], -1).min(axis=1)
    g_max = g.reshape(g.shape[0], -1).max(axis=1)
    lo, hi = float(g_min.min()), float(g_max.max())
    if g_wire.size:
        lo, hi = min(lo, float(g_wire.min())), max(hi, float(g_wire.max()))
    with np.errstate(over="ignore"):
        if not hi / lo > SPREAD_CHECK:
            return
    m = g.shape[1]
    template = build_netlist(Crossbar(conductance=np.ones(g.shape[1:]), lines=lines, device=dev),
                             BiasScheme.read(np.zeros(m)))
    worst, net = -1.0, template
    for k in dict.fromkeys((int(np.argmin(g_min)), int(np.argmax(g_max)))):
        net_k = replace(template, conductance=g[k])
        bound = transfer_matrix_error(net_k, out[k])
        if not bound <= worst:
            worst, net = bound, net_k
    warn_if_transfer_inaccurate(net, out[0], stacklevel=4, bound=worst)


def _line_sweep(g: FloatArray, r_row: FloatArray, r_col: FloatArray, r_drv: FloatArray,
                r_sns: FloatArray) -> FloatArray:
    """Transfer matrices ``(K, M, N)`` of tiles whose segments are all resistive, by block elimination
    along the rows; drivers and senses all resistive or all ideal (0 ohm).

    Each column line ``j`` is a tridiagonal ``C_j`` (column segments, cells, sense at row ``M-1``;
    with an ideal sense, node ``M-1`` is ground and ``C_j`` covers the others) tied to the row nodes
    ``(:, j)`` by the cells; eliminating it leaves the dense ``M x M`` block
    ``D_j = diag(row terms) - G_j C_j^{-1} G_j`` on the row nodes of column ``j``, and the sense
    current is ``w_j . x_j`` with ``w_j`` from ``e^T C_j^{-1} G_j`` (plus the cell straight into an
    ideal sense). Consecutive blocks couple through the row segments only (``-E_j``, diagonal),
    so the row-node system is block tridiagonal; block Gaussian elimination from the drivers to the
    far end, ``S_j = D_j - E_{j-1} S_{j-1}^{-1} E_{j-1}``, and back substitution give the row-node
    voltages ``X_j`` for unit voltage on every driver at once (ideal drivers: ``X_0 = I`` is fixed
    and the sweep starts at column 1). Every ``S_j`` is a Schur complement of an SPD matrix, so the
    elimination needs no pivoting. Batched over the tiles with dense LAPACK calls: ``O(K N M^3)``.
    """
    k, m, n = g.shape
    ideal_drv, ideal_sns = bool((r_drv == 0).all()), bool((r_sns == 0).all())
    g_row, g_col = 1.0 / r_row, 1.0 / r_col
    gt = np.ascontiguousarray(g.transpose(0, 2, 1))  # (K, N, M): column j, rows i
    mc = m - 1 if ideal_sns else m  # unknown nodes per column line
    d = np.zeros((k, n, m, m))
    w = np.zeros((k, n, m))
    if mc:
        # column lines: every C_j of every tile stacked end to end as one tridiagonal matrix (no
        # coupling between lines), inverted by one LAPACK pttrf/pttrs with unit right-hand sides
        gc = gt[:, :, :mc]
        cdiag = gc.copy()
        cdiag[:, :, :m - 1] += g_col.T[:, :mc]
        cdiag[:, :, 1:] += g_col.T[:, :mc - 1]
        if not ideal_sns:
            cdiag[:, :, -1] += 1.0 / r_sns
        coff = np.zeros((k, n, mc))
        coff[:, :, :mc - 1] = -g_col.T[:, :mc - 1]
        fac = pttrf(cdiag.ravel(), coff.ravel()[:-1])
        unit = np.array(np.broadcast_to(np.eye(mc), (k * n, mc, mc)).reshape(k * n * mc, mc), order="F")
        cinv = pttrs(*fac, unit, overwrite=True).reshape(k, n, mc, mc)
        d[:, :, :mc, :mc] = -cinv * gc[..., :, None] * gc[..., None, :]  # -G C^-1 G
        # current into the sense per unit row-node voltage: through the last resistor of the line
        g_last = g_col[m - 2] if ideal_sns else 1.0 / r_sns
        w[:, :, :mc] = g_last[None, :, None] * cinv[:, :, mc - 1, :] * gc
    if ideal_sns:
        w[:, :, m - 1] = gt[:, :, m - 1]  # the bottom cell feeds the grounded sense node directly
    rdiag = gt.copy()
    rdiag[:, :-1] += g_row.T
    rdiag[:, 1:] += g_row.T
    if not ideal_drv:
        rdiag[:, 0] += 1.0 / r_drv
    ii = np.arange(m)
    d[:, :, ii, ii] += rdiag
    out = np.empty((k, m, n))
    j0 = 1 if ideal_drv else 0
    if ideal_drv:
        out[:, :, 0] = w[:, 0]  # X_0 = I: row nodes of column 0 held at the driver voltages
        if n == 1:
            return out
    # forward elimination along the rows (right-hand sides: unit voltage behind each driver)
    f = np.empty((n, k, m, m))  # S_j^{-1}
    y = np.empty((n, k, m, m))
    y[j0] = np.broadcast_to(np.diag(g_row[:, 0] if ideal_drv else 1.0 / r_drv), (k, m, m))
    for j in range(j0, n):
        if j > j0:
            e = g_row[:, j - 1]
            s = d[:, j] - e[:, None] * f[j - 1] * e[None, :]
            y[j] = e[:, None] * (f[j - 1] @ y[j - 1])
        else:
            s = d[:, j]
        f[j] = np.linalg.inv(s)
    x = f[n - 1] @ y[n - 1]
    out[:, :, n - 1] = np.matmul(w[:, n - 1, None, :], x)[:, 0]
    for j in range(n - 2, j0 - 1, -1):
        x = f[j] @ (y[j] + g_row[:, j][:, None] * x)
        out[:, :, j] = np.matmul(w[:, j, None, :], x)[:, 0]
    return out


def _bordered_lu(g: FloatArray, lines: LineResistance, dev: DeviceModel) -> FloatArray:
    """Transfer matrices of tiles of any line layout (ideal wires merged): one SuperLU of the
    block-diagonal bordered matrices (module notes)."""
    k_tiles, m, n = g.shape
    # template: every cell live, so the pattern holds every cell of every tile (open cells are 0 S)
    template = build_netlist(Crossbar(conductance=np.ones((m, n)), lines=lines, device=dev),
                             BiasScheme.read(np.zeros(m)))
    asm = assemble(template, template.conductance)
    nu, nf = asm.unknown.size, asm.fixed.size
    fpos = np.searchsorted(asm.fixed, template.source_node)
    is_row = template.source_end < 2
    r_idx = np.empty(m, dtype=np.int64)
    r_idx[template.source_line[is_row]] = fpos[is_row]
    s_idx = np.empty(n, dtype=np.int64)
    s_idx[template.source_line[~is_row]] = fpos[~is_row]
    if nu == 0:  # every node a source node: T is the (fixed) cell couplings, -L_ff[s, r]
        out = np.empty((k_tiles, m, n))
        for k in range(k_tiles):
            lff = assemble(template, g[k]).Lff.toarray()
            out[k] = -lff[np.ix_(s_idx, r_idx)].T
        return out

    # ---- positions in the bordered order: unknowns by nested dissection, then fixed nodes
    perm = _ordering(template, asm.unknown, "nested-dissection")
    assert perm is not None
    nb = nu + nf
    where = np.full(template.n_nodes, -1, dtype=np.int64)
    where[asm.unknown[perm]] = np.arange(nu)
    where[asm.fixed] = nu + np.arange(nf)
    # every element: resistors (fixed conductance), then cells (tile conductance)
    n_res = template.resistor_values.size
    pa = where[np.concatenate([template.resistor_nodes[:, 0], template.row_node.ravel()])]
    pb = where[np.concatenate([template.resistor_nodes[:, 1], template.col_node.ravel()])]
    elem_g = np.concatenate([1.0 / template.resistor_values, np.zeros(m * n)])
    cell = np.concatenate([np.full(n_res, -1), np.arange(m * n)])
    rows = np.concatenate([pa, pb, pa, pb])
    cols = np.concatenate([pa, pb, pb, pa])
    sign = np.concatenate([np.ones(2 * pa.size), -np.ones(2 * pa.size)])
    e4 = np.tile(np.arange(pa.size), 4)
    # the shift lam on the fixed block (see SparseBackend.transfer_matrix), from the largest diagonal
    lam = float(np.bincount(np.concatenate([pa, pb]), weights=np.concatenate([elem_g, elem_g]), minlength=nb).max())
    lam += 2.0 * float(g.max(initial=0.0)) * max(m, n)
    rows = np.concatenate([rows, nu + np.arange(nf)])
    cols = np.concatenate([cols, nu + np.arange(nf)])
    key = cols * nb + rows  # CSC order: by column, then row
    keys, slot = np.unique(key, return_inverse=True)
    slot = slot.ravel()
    nnz = keys.size
    indices = keys % nb
    indptr = np.searchsorted(keys // nb, np.arange(nb + 1))
    n_tr = sign.size
    base = np.bincount(slot[:n_tr], weights=sign * elem_g[e4], minlength=nnz)
    base += np.bincount(slot[n_tr:], weights=np.full(nf, lam), minlength=nnz)
    is_cell = cell[e4] >= 0
    q = sp.csr_matrix((sign[is_cell], (slot[:n_tr][is_cell], cell[e4][is_cell])), shape=(nnz, m * n))
    fixed_local = nu + np.arange(nf)

    out = np.empty((k_tiles, m, n))
    chunk = max(1, _CHUNK_UNKNOWNS // nb)
    for k0 in range(0, k_tiles, chunk):
        kk = min(chunk, k_tiles - k0)
        data = base[None, :] + (q @ g[k0:k0 + kk].reshape(kk, m * n).T).T  # (kk, nnz)
        big_indptr = np.concatenate([(indptr[:-1][None, :] + nnz * np.arange(kk)[:, None]).ravel(), [kk * nnz]])
        big_indices = (indices[None, :] + nb * np.arange(kk)[:, None]).ravel()
        full = sp.csc_matrix((data.ravel(), big_indices, big_indptr), shape=(kk * nb, kk * nb))
        lu = _splu(full, "NATURAL")
        ident = np.arange(kk * nb)
        if not (np.array_equal(lu.perm_r, ident) and np.array_equal(lu.perm_c, ident)):
            raise CircuitError("the nodal matrix lost its positive pivots in double precision (SuperLU pivoted; the "
                               "transfer matrices would be wrong): conductances or wire resistances this extreme (or "
                               "this far apart) cannot be solved in double precision.")
        fall = (fixed_local[None, :] + nb * np.arange(kk)[:, None]).ravel()
        prod = (lu.L[fall][:, fall] @ lu.U[fall][:, fall]).tocoo()
        schur = np.zeros((kk, nf, nf))
        schur[prod.row // nf, prod.row % nf, prod.col % nf] = prod.data
        # -S_f[s, r]^T; the shift lam sits on the diagonal of S_f only, which T does not use
        out[k0:k0 + kk] = -schur[:, s_idx][:, :, r_idx].transpose(0, 2, 1)
    return out
