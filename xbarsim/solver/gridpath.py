"""The grid-native path: a plain crossbar read or write solved from the crossbar's own arrays.

Notes
-----
:func:`~xbarsim.netlists.build_netlist` stores every node, resistor and source of an ``M x N``
array as index and value arrays (about 200 bytes per cell) before the sparse backend recognises the
regular grid in them (:mod:`xbarsim.solver._grid`). For a linear crossbar with no ideal wire that
grid is known up front: row node ``(i, j)``, column node ``(i, j)``, one source per driven line end
behind its driver or sense resistance. This module solves that circuit without building the
netlist, with the reduced-system CG of :mod:`xbarsim.solver._grid` (column nodes eliminated line by
line, preconditioned by the row wires, plus a coarse correction across lines from
:data:`COARSE_MIN_LINES` lines on, :mod:`xbarsim.solver._coarse`, which keeps the iteration count
at 18-19 up to 8192x8192), and with the memory of a few ``M*N`` arrays:

* the factors of the row-wire and the column-wire tridiagonals (4 arrays); products with the
  tridiagonals are taken from their factors (``T p = L (D (L^T p)))``), so the matrices themselves
  are not kept;
* the CG vectors ``x``, ``r``, ``p``, one array shared by ``S p`` and the preconditioned residual,
  and one scratch array, which also receives the column-node voltages (5 arrays);
* the right-hand side is never stored (it is non-zero at the driven ends only), large arrays are
  transposed in slabs and updated in chunks, and the componentwise backward error of the full
  system is computed line block by line block, so no other temporary of the array's size exists.

With the crossbar's own conductance and wire arrays (3 arrays) that is 12 arrays of ``8 M N`` bytes,
about 6 GiB at 8192x8192 (the general path: about 440 bytes per cell). The :class:`Solution` it
returns keeps the row-node and column-node voltages (2 arrays) and computes every other field
from them and the crossbar's arrays on first access, with the same node numbering as the netlist
(row nodes, column nodes, then one node per source, in :func:`build_netlist`'s source order).

A Crossbar is immutable, so what the solve derives from it alone (the coverage summary and, below
2^16 cells, the line factorizations per set of driven ends) is kept with the object: repeated reads
of one small array skip them.

What it covers: linear cells, every segment resistance positive, every driven end behind a positive
resistance, any bias scheme (read, write V/2, V/3, grounded, floating, both ends driven, batched up
to :data:`MAX_BATCH` operating points) whose circuit is provably non-singular (every line has a
driven end, or every cell conducts), and whose conductances span at most
:data:`~xbarsim.solver.accuracy.SPREAD_CHECK` (wider spans get the general path's forward-error
check). :func:`grid_path_reason` says why a case is not covered; :func:`solve_grid_native` refuses
it with :class:`GridPathUnsupported`, and :func:`~xbarsim.solver.solve` then takes the general path.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable

import numpy as np
from scipy.linalg import lapack

from xbarsim._typing import FloatArray, IntArray
from xbarsim.errors import BackendError, ConfigError, GridPathUnsupported
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.netlist import END_NAMES
from xbarsim.solver._coarse import CoarseGrid
from xbarsim.solver._tridiag import pttrf
from xbarsim.solver.accuracy import AUTO_CHECK_MAX_NODES, SPREAD_CHECK
from xbarsim.solver.solution import Solution

__all__ = ["GridPathUnsupported", "grid_path_reason", "solve_grid_native", "grid_work_bytes", "MAX_BATCH",
           "COARSE_MIN_LINES"]

_log = logging.getLogger(__name__)
_dpttrs = lapack.dpttrs

#: Larger batches of linear operating points go through the port matrix of the general path (one
#: factorization, one product), which is faster than a batched CG.
MAX_BATCH = 32
#: Arrays with at least this many rows or columns add the coarse correction across lines to the
#: preconditioner by default (:mod:`xbarsim.solver._coarse`).
COARSE_MIN_LINES = 2048
#: ... and at least this many in the other direction (a thin strip has no smooth 2-D modes to correct).
COARSE_MIN_WIDTH = 256


class _Sources:
    """The driven line ends of ``bias`` on an ``M x N`` array, in :func:`build_netlist`'s order."""

    def __init__(self, crossbar: Crossbar, bias: BiasScheme) -> None:
        m, n = crossbar.shape
        mn = m * n
        lines = crossbar.lines
        batch = bias.batch_size
        ends = ((bias.row_left, m, np.arange(m) * n, lines.row_driver),
                (bias.row_right, m, np.arange(m) * n + n - 1, lines.row_driver),
                (bias.col_bottom, n, mn + (m - 1) * n + np.arange(n), lines.col_sense),
                (bias.col_top, n, mn + np.arange(n), lines.col_sense))
        volts, end, line, attach, res = [], [], [], [], []
        for code, (drive, count, at, r_end) in enumerate(ends):
            v, mask = drive.resolve(count, END_NAMES[code], batch)
            idx = np.flatnonzero(mask)
            volts.append(v[:, idx])
            end.append(np.full(idx.size, code, np.int8))
            line.append(idx)
            attach.append(at[idx])
            res.append(np.asarray(r_end, dtype=np.float64)[idx])
        self.voltage: FloatArray = np.concatenate(volts, axis=1)  # (B, S)
        self.end: IntArray = np.concatenate(end)
        self.line: IntArray = np.concatenate(line).astype(np.int64)
        self.attach: IntArray = np.concatenate(attach).astype(np.int64)  # grid node (netlist numbering)
        self.resistance: FloatArray = np.concatenate(res)
        self.batched = batch is not None
        self.size = int(self.end.size)


def grid_path_reason(crossbar: Crossbar, bias: BiasScheme) -> str | None:
    """Why the grid-native path does not cover ``crossbar`` under ``bias`` (None when it does)."""
    return _check(crossbar, bias)[0]


def _check(crossbar: Crossbar, bias: BiasScheme) -> tuple[str | None, _Sources | None]:
    reason, src = _reason(crossbar, bias)
    return reason, (src if reason is None else None)


def _reason(crossbar: Crossbar, bias: BiasScheme) -> tuple[str | None, _Sources | None]:
    if not isinstance(crossbar, Crossbar) or not isinstance(bias, BiasScheme):
        return "it needs a Crossbar and a BiasScheme", None
    if not crossbar.device.linear:
        return f"the device {crossbar.device.name!r} is nonlinear (Newton runs on the general path)", None
    m, n = crossbar.shape
    summary = _summary(crossbar)
    for name, (lo, hi) in summary.segments.items():
        if not (lo > 0 and hi < np.inf):
            return f"`lines.{name}` has zero (ideal) or non-finite segments, whose nodes the netlist merges", None
    r_min = min([lo for lo, _ in summary.segments.values()], default=np.inf)
    r_max = max([hi for _, hi in summary.segments.values()], default=0.0)
    batch = bias.batch_size or 1
    if batch > MAX_BATCH:
        return f"a batch of {batch} operating points (more than {MAX_BATCH}) is faster through the port matrix", None
    if 4 * m * n <= AUTO_CHECK_MAX_NODES:  # (2 M N + sources <= 2 M N + 2 (M + N) <= 4 M N)
        return (f"the circuit has at most {AUTO_CHECK_MAX_NODES} nodes, whose solves get the general path's "
                "forward-error check"), None
    try:
        src = _Sources(crossbar, bias)
    except ConfigError as exc:
        return f"the bias does not fit the array ({exc})", None
    if src.size == 0:
        return "no line end is driven", None
    rs_min, rs_max = float(src.resistance.min()), float(src.resistance.max())
    if not (rs_min > 0 and rs_max < np.inf):
        return "a driven end has a zero (ideal) or non-finite driver or sense resistance", None
    if not bool(np.isfinite(src.voltage).all()):
        return "a source voltage is not finite", None
    if 2 * m * n + src.size <= AUTO_CHECK_MAX_NODES:
        return (f"the circuit has at most {AUTO_CHECK_MAX_NODES} nodes, whose solves get the general path's "
                "forward-error check"), None
    g_max, g_min, open_cells = summary.g_max, summary.g_min, summary.open_cells
    if not g_min == np.inf and open_cells:
        on_row = src.attach < m * n
        rows = np.zeros(m, dtype=bool)
        rows[src.attach[on_row] // n] = True
        cols = np.zeros(n, dtype=bool)
        cols[(src.attach[~on_row] - m * n) % n] = True
        if not (rows.all() and cols.all()):
            return "a line has no driven end and some cells are open (the general path checks for floating nodes)", None
    elif g_min == np.inf:
        return "every cell is open", None
    spread = max(g_max, 1.0 / min(r_min, rs_min)) / min(g_min, 1.0 / max(r_max, rs_max))
    if not spread <= SPREAD_CHECK:
        return (f"element conductances span more than {SPREAD_CHECK:g} (the general path estimates the forward "
                "error of such circuits)"), None
    return None, src


class _Summary:
    """What the coverage check needs of a crossbar, and its line factorizations (small arrays only),
    computed once per crossbar object (a Crossbar is immutable: its arrays are read-only)."""

    def __init__(self, crossbar: Crossbar) -> None:
        lines = crossbar.lines
        self.segments: dict[str, tuple[float, float]] = {}
        for name in ("row_segment", "col_segment"):
            r = np.asarray(getattr(lines, name))
            if r.size:
                self.segments[name] = (float(r.min()), float(r.max()))
        g = np.asarray(crossbar.conductance)
        self.g_max = float(g.max())
        self.g_min = float(np.min(g, where=g > 0, initial=np.inf))
        self.open_cells = bool(float(g.min()) == 0.0)
        self.factors: dict[bytes, _LineFactors] = {}


_SUMMARIES: weakref.WeakKeyDictionary[Crossbar, _Summary] = weakref.WeakKeyDictionary()
#: Line factorizations are kept with their crossbar up to this many cells (a few MB; larger arrays
#: would keep four arrays of their size alive), for up to _MAX_FACTORS sets of driven ends.
_CACHE_MAX_CELLS, _MAX_FACTORS = 1 << 16, 4


def _summary(crossbar: Crossbar) -> _Summary:
    try:
        return _SUMMARIES[crossbar]
    except KeyError:
        s = _SUMMARIES[crossbar] = _Summary(crossbar)
        return s


def _factors(crossbar: Crossbar, src: _Sources) -> _LineFactors:
    """The line factorizations of ``crossbar`` with the driven ends of ``src``, kept for small arrays."""
    m, n = crossbar.shape
    if m * n >= _CACHE_MAX_CELLS:
        return _LineFactors(crossbar, src)
    cache = _summary(crossbar).factors
    key = src.attach.tobytes() + src.resistance.tobytes()
    fac = cache.get(key)
    if fac is None:
        if len(cache) >= _MAX_FACTORS:
            cache.pop(next(iter(cache)))
        fac = cache[key] = _LineFactors(crossbar, src)
    return fac


def grid_work_bytes(shape: tuple[int, int], batch: int) -> int:
    """Peak bytes of the grid-native solve's own arrays (see the module notes): 5 arrays of the
    array's size per operating point (6 below 2^16 cells), the factors (4 arrays) shared, and the
    column-major copy of the conductances' products, with margin: 8 arrays per operating point."""
    m, n = shape
    return 8 * m * n * (4 + 8 * int(batch))


# ---------------------------------------------------------------------------------------- solver
class _LineFactors:
    """The row-wire (``R``) and column-wire (``C``) tridiagonals of the grid, factored (LAPACK
    ``pttrf``). Row vectors are row-major ``(B, M*N)`` (node ``i*N + j``), column vectors
    column-major (``j*M + i``), so that every line is a contiguous run."""

    def __init__(self, crossbar: Crossbar, src: _Sources) -> None:
        m, n = crossbar.shape
        mn = m * n
        self.m, self.n = m, n
        self._diag: dict[int, FloatArray] = {}
        g = np.ascontiguousarray(crossbar.conductance, dtype=np.float64)
        self.g = g
        lines = crossbar.lines
        on_row = src.attach < mn
        g_src = 1.0 / src.resistance
        # row wires: e[i*N + j] = -1/r(i, j) between (i, j) and (i, j+1), 0 between rows
        e = np.zeros(mn)
        e2 = e.reshape(m, n)
        np.divide(-1.0, lines.row_segment, out=e2[:, :-1])
        d = g.copy()
        np.add.at(d.reshape(-1), src.attach[on_row], g_src[on_row])  # driver conductances
        d[:, :-1] -= e2[:, :-1]
        d[:, 1:] -= e2[:, :-1]
        self.row = pttrf(d.reshape(-1), e[:-1])
        del d, e, e2
        # column wires, column-major: e[j*M + i] = -1/r(i, j) between (i, j) and (i+1, j)
        e = np.zeros(mn)
        e2 = e.reshape(n, m)
        np.divide(-1.0, np.asarray(lines.col_segment).T, out=e2[:, :-1])
        d = np.empty((n, m))
        d[...] = g.T
        a = src.attach[~on_row] - mn
        np.add.at(d.reshape(-1), (a % n) * m + a // n, g_src[~on_row])  # sense conductances
        d[:, :-1] -= e2[:, :-1]
        d[:, 1:] -= e2[:, :-1]
        self.col = pttrf(d.reshape(-1), e[:-1])

    @staticmethod
    def solve(fac: tuple[FloatArray, FloatArray], x: FloatArray) -> FloatArray:
        """``T^{-1} x`` in place, every row of ``x`` (B, K) a right-hand side (C-contiguous)."""
        d, e = fac
        if d.size == 1:
            x /= d[0]
            return x
        _, info = _dpttrs(d, e, x.T, overwrite_b=True)  # x.T is Fortran-contiguous: solved in place
        if info != 0:  # pragma: no cover - the factors come from pttrf
            raise BackendError(f"LAPACK dpttrs failed (info={info})")
        return x

    @staticmethod
    def matvec(fac: tuple[FloatArray, FloatArray], x: FloatArray, out: FloatArray, work: FloatArray) -> FloatArray:
        """``T x = L (D (L^T x))`` from the factors (``L`` unit lower bidiagonal, subdiagonal ``e``)."""
        d, e = fac
        np.copyto(out, x)
        if e.size:
            np.multiply(x[:, 1:], e, out=work[:, :-1])
            out[:, :-1] += work[:, :-1]
        out *= d
        if e.size:
            np.multiply(out[:, :-1], e, out=work[:, 1:])
            out[:, 1:] += work[:, 1:]
        return out

    def diagonal_of(self, fac: tuple[FloatArray, FloatArray]) -> FloatArray:
        """:meth:`diagonal` of ``self.row`` or ``self.col``, kept (one array each)."""
        key = id(fac[0])
        if key not in self._diag:
            self._diag[key] = self.diagonal(fac)
        return self._diag[key]

    @staticmethod
    def diagonal(fac: tuple[FloatArray, FloatArray]) -> FloatArray:
        """The diagonal of ``T``: ``d_k + e_{k-1}^2 d_{k-1}``."""
        d, e = fac
        out = d.copy()
        out[1:] += e * e * d[:-1]
        return out

    # layout changes, times the cell conductances. Large arrays are transposed in slabs of
    # _SLAB rows, which stay in cache (about 4x faster than numpy's whole-array transposing copy).
    def to_col(self, x: FloatArray, out: FloatArray, work: FloatArray | None) -> FloatArray:
        """``G x`` of a row-major vector, in column-major order (``work``: scratch, row-major, for
        small arrays)."""
        b, m, n = x.shape[0], self.m, self.n
        xr = x.reshape(b, m, n)
        oc = out.reshape(b, n, m)
        if work is not None and m * n < _SLAB_MIN:
            w = np.multiply(xr, self.g, out=work.reshape(b, m, n))
            oc[...] = w.transpose(0, 2, 1)
            return out
        for i0 in range(0, m, _SLAB):
            i1 = min(m, i0 + _SLAB)
            oc[:, :, i0:i1] = (xr[:, i0:i1] * self.g[i0:i1]).transpose(0, 2, 1)
        return out

    def to_row(self, y: FloatArray, out: FloatArray) -> FloatArray:
        """``G y`` of a column-major vector, in row-major order."""
        b, m, n = y.shape[0], self.m, self.n
        yc = y.reshape(b, n, m)
        o = out.reshape(b, m, n)
        if m * n < _SLAB_MIN:
            o[...] = yc.transpose(0, 2, 1)
            o *= self.g
            return out
        for j0 in range(0, n, _SLAB):  # contiguous slabs of y, strided slabs of out
            j1 = min(n, j0 + _SLAB)
            np.multiply(yc[:, j0:j1].transpose(0, 2, 1), self.g[:, j0:j1], out=o[:, :, j0:j1])
        return out


    def sub_to_row(self, y: FloatArray, out: FloatArray, work: FloatArray | None) -> FloatArray:
        """``out -= G y`` of a column-major vector ``y`` (``work``: scratch for small arrays)."""
        b, m, n = y.shape[0], self.m, self.n
        if work is not None and m * n < _SLAB_MIN:
            out -= self.to_row(y, work)
            return out
        yc = y.reshape(b, n, m)
        o = out.reshape(b, m, n)
        for j0 in range(0, n, _SLAB):
            j1 = min(n, j0 + _SLAB)
            o[:, :, j0:j1] -= yc[:, j0:j1].transpose(0, 2, 1) * self.g[:, j0:j1]
        return out


#: rows per slab of the blocked transposes, and the array size from which they are used
_SLAB, _SLAB_MIN = 16, 1 << 16


def _dot(x: FloatArray, y: FloatArray) -> FloatArray:
    # (einsum, not BLAS ddot: a threaded BLAS level-1 call stalls for milliseconds on a busy machine)
    return np.einsum("ij,ij->i", x, y)


class _Reduced:
    """CG on the reduced system ``S x = (R - G C^{-1} G) x = b`` (see :mod:`xbarsim.solver._grid`)
    with the buffers of the module notes: one scratch array (two for small arrays, which skip the
    slab loops); the right-hand side ``b`` is never stored (it is non-zero at the driven ends only)."""

    def __init__(self, fac: _LineFactors, src: _Sources, vf: FloatArray) -> None:
        self.fac = fac
        self.src = src
        b = vf.shape[0]
        m, n = fac.m, fac.n
        mn = m * n
        self.shape = (b, mn)
        self.small = mn < _SLAB_MIN
        self.w1 = np.empty(self.shape)  # column-major scratch
        self.w2 = np.empty(self.shape) if self.small else None  # row-major scratch (small arrays)
        # b = -L_uf v_f: the driver/sense conductance times the source voltage at each attach node,
        # as (positions, values) in the row-major row layer and the column-major column layer
        cur = vf / src.resistance  # (B, S)
        on_row = src.attach < mn
        a = src.attach[~on_row] - mn
        self.b_row = (src.attach[on_row], cur[:, on_row])
        self.b_col = ((a % n) * m + a // n, cur[:, ~on_row])

    @staticmethod
    def add_b(part: tuple[IntArray, FloatArray], out: FloatArray, lo: int = 0, hi: int | None = None) -> None:
        """``out += b`` for the entries ``lo <= k < hi`` of one layer (``out`` holds those entries)."""
        pos, val = part
        if hi is not None:
            keep = (pos >= lo) & (pos < hi)
            pos, val = pos[keep] - lo, val[:, keep]
        np.add.at(out.T, pos, val.T)

    def schur(self, p: FloatArray, out: FloatArray) -> FloatArray:
        """``S p = R p - G C^{-1} G p`` into ``out`` (uses the scratch arrays)."""
        f = self.fac
        f.matvec(f.row, p, out, self.w1)
        y = f.to_col(p, self.w1, self.w2)
        f.solve(f.col, y)
        return f.sub_to_row(y, out, self.w2)

    def reduced_rhs(self, out: FloatArray) -> FloatArray:
        """``b_r + G C^{-1} b_c`` into ``out`` (uses ``w1``)."""
        self.w1.fill(0.0)
        self.add_b(self.b_col, self.w1)
        self.fac.solve(self.fac.col, self.w1)
        self.fac.to_row(self.w1, out)
        self.add_b(self.b_row, out)
        return out

    def complete(self, x_row: FloatArray, out: FloatArray) -> FloatArray:
        """Column-node voltages (column-major) ``C^{-1} (b_c + G x_r)`` into ``out``."""
        f = self.fac
        f.to_col(x_row, out, self.w2)
        self.add_b(self.b_col, out)
        return f.solve(f.col, out)

    def backward_error(self, x_row: FloatArray, x_col: FloatArray, block: int = 1 << 20) -> FloatArray:
        """Componentwise backward error of the full system per batch entry,
        ``max_k |b - A x|_k / (|A| |x| + |b|)_k`` (NaN if anything is not finite), line block by
        line block (temporaries of about ``block`` entries)."""
        f = self.fac
        m, n = f.m, f.n
        bsz = x_row.shape[0]
        err = np.zeros(bsz)
        for fac, x, other, lines, length, part in ((f.row, x_row, x_col, m, n, self.b_row),
                                                   (f.col, x_col, x_row, n, m, self.b_col)):
            step = max(1, block // max(length * bsz, 1))
            for l0 in range(0, lines, step):
                l1 = min(lines, l0 + step)
                sl = slice(l0 * length, l1 * length)
                sub = (fac[0][sl], fac[1][l0 * length:l1 * length - 1])
                xs = x[:, sl]
                # G times the other layer's voltages at these lines' nodes
                o = other.reshape(bsz, length, lines)[:, :, l0:l1].transpose(0, 2, 1)
                gl = (f.g[l0:l1] if fac is f.row else f.g[:, l0:l1].T)
                go = (o * gl).reshape(bsz, -1)
                bs = np.zeros_like(xs)
                self.add_b(part, bs, l0 * length, l1 * length)
                ax = f.matvec(sub, xs, np.empty_like(xs), np.empty_like(xs))
                r = bs - ax + go
                dg = f.diagonal_of(fac) if step >= lines else _LineFactors.diagonal(sub)
                absax = 2.0 * dg * np.abs(xs) - f.matvec(sub, np.abs(xs), np.empty_like(xs), np.empty_like(xs))
                den = absax + np.abs(go) + np.abs(bs)
                q = np.abs(r)
                np.divide(q, den, out=q, where=den > 0)
                err = np.maximum(err, q.max(axis=1) if q.shape[1] else 0.0)
        return err

    def pcg(self, rtol: float, maxiter: int, max_restarts: int = 6,
            coarse: Callable[[FloatArray, FloatArray], None] | None = None) -> tuple[FloatArray, FloatArray, int, bool]:
        """PCG (the stopping rule of :func:`xbarsim.solver._grid.reduced_pcg`); returns the row-node
        and column-node voltages, the iterations and whether the backward error reached ``rtol``."""
        f = self.fac
        X = np.zeros(self.shape)
        R = self.reduced_rhs(np.empty(self.shape))
        # (a hundredth of the norm-wise target of reduced_pcg: its first componentwise check then usually
        # passes, where a failed check costs a restart)
        target = 0.01 * rtol * np.sqrt(_dot(R, R))
        active = target > 0
        if not active.any():
            return X, self.complete(X, self.w1).copy(), 0, True
        ZA = np.empty(self.shape)  # the preconditioned residual, then S p

        def precondition(r: FloatArray, out: FloatArray) -> FloatArray:
            np.copyto(out, r)
            f.solve(f.row, out)
            if coarse is not None:
                coarse(r, out)
            return out

        P = precondition(R, np.empty(self.shape))
        rz = _dot(R, P)
        restarts = 0
        it = 0
        for it in range(1, maxiter + 1):
            AP = self.schur(P, ZA)
            pap = _dot(P, AP)
            if not np.isfinite(pap).all():
                return X, self.complete(X, self.w1), it, False
            alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=active & (pap > 0))
            _axpy(alpha, P, X, self.w2)
            _axpy(-alpha, AP, R, self.w2)
            rnorm = np.sqrt(_dot(R, R))
            if not np.isfinite(rnorm).all():
                return X, self.complete(X, self.w1), it, False
            active = rnorm > target
            if not active.any():
                x_col = self.complete(X, self.w1)  # (w1 is free here; a restart overwrites it)
                err = self.backward_error(X, x_col)
                worse = ~(err <= rtol)
                if not worse.any():
                    return X, x_col, it, True
                del x_col
                restarts += 1
                if restarts > max_restarts or not np.isfinite(err).all():
                    return X, self.complete(X, self.w1), it, False
                shrink = np.divide(rtol, err, out=np.ones_like(err), where=worse)
                target = np.where(worse, target * np.maximum(shrink, 1e-3), target)
                # restart from the true residual b - S x
                self.reduced_rhs(R)
                R -= self.schur(X, ZA)
                R[~worse] = 0.0
                active = worse
                precondition(R, P)
                rz = _dot(R, P)
                continue
            Z = precondition(R, ZA)
            rz_new = _dot(R, Z)
            beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=active & (rz > 0))
            P *= beta[:, None]
            P += Z
            rz = rz_new
        return X, self.complete(X, self.w1), it, False


def _axpy(a: FloatArray, x: FloatArray, y: FloatArray, work: FloatArray | None) -> None:
    """``y += a[:, None] * x`` (rows are batch entries); without ``work``, in chunks of 2^16."""
    if work is not None:
        np.multiply(x, a[:, None], out=work)
        y += work
        return
    step = 1 << 16
    for k0 in range(0, x.shape[1], step):
        y[:, k0:k0 + step] += x[:, k0:k0 + step] * a[:, None]


def solve_grid_native(crossbar: Crossbar, bias: BiasScheme, rtol: float = 1e-13, maxiter: int = 300,
                      backend: str = "sparse", coarse: bool | None = None) -> Solution:
    """Operating point(s) of ``crossbar`` under ``bias`` by the grid-native path (module notes).

    ``coarse``: add the coarse correction across lines (:mod:`xbarsim.solver._coarse`) to the
    row-wire preconditioner; None: when the array has at least :data:`COARSE_MIN_LINES` rows or
    columns and :data:`COARSE_MIN_WIDTH` of the other (below that the plain preconditioner needs as
    few iterations, each cheaper).

    Raises
    ------
    GridPathUnsupported
        When :func:`grid_path_reason` names a reason (the general path covers it).
    ConvergenceError
        Never: when CG does not reach ``rtol`` this raises :class:`GridPathUnsupported` too, and
        :func:`~xbarsim.solver.solve` takes the general path (whose direct solver finishes).
    """
    t0 = time.perf_counter()
    reason, src = _check(crossbar, bias)
    if reason is not None or src is None:
        raise GridPathUnsupported(f"the grid-native path does not cover this solve: {reason}.")
    vf = src.voltage
    with np.errstate(all="ignore"):
        # an operating point whose sources all sit at one voltage c is solved relative to c (exactly
        # c everywhere; see SparseBackend._solve)
        shift = np.where(np.ptp(vf, axis=1) == 0, vf[:, 0], 0.0)
        rel = vf - shift[:, None]
        scale = np.abs(rel / src.resistance).max(axis=1)
        scale = np.where(scale > 0, scale, 1.0)
        fac = _factors(crossbar, src)
        t1 = time.perf_counter()
        use_coarse = (max(crossbar.shape) >= COARSE_MIN_LINES and min(crossbar.shape) >= COARSE_MIN_WIDTH
                      if coarse is None else bool(coarse))
        cg = _coarse_grid(crossbar, src) if use_coarse else None
        system = _Reduced(fac, src, rel / scale[:, None])
        x_row, x_col, iters, ok = system.pcg(rtol, maxiter, coarse=None if cg is None else cg.add_to)
        del system, cg
    t2 = time.perf_counter()
    if not ok:
        _log.info("CG on the grid did not reach rtol=%g in %d iterations; taking the general path", rtol, iters)
        raise GridPathUnsupported(f"CG on the grid did not reach rtol={rtol:g} in {iters} iterations")
    x_row *= scale[:, None]
    x_row += shift[:, None]
    x_col *= scale[:, None]
    x_col += shift[:, None]
    fields = _GridFields(crossbar, src, x_row, x_col, backend, None, None)
    fields.check_voltages()
    fields.ports()
    t3 = time.perf_counter()
    return Solution._deferred(fields, backend=backend, method="iterative", iterations=iters,
                              timings={"assemble": 0.0, "factor": t1 - t0, "solve": t2 - t1, "postprocess": t3 - t2,
                                       "total": t3 - t0})


def _coarse_grid(crossbar: Crossbar, src: _Sources) -> CoarseGrid:
    lines = crossbar.lines
    return CoarseGrid(1.0 / np.asarray(lines.row_segment), 1.0 / np.asarray(lines.col_segment), src.attach,
                      1.0 / src.resistance)


# ---------------------------------------------------------------------------------------- fields
class _GridFields:
    """The fields of a grid-native solution (the interface of ``solution._Fields``), computed from
    the row-node voltages ``x_row`` (B, M*N) row-major and the column-node voltages ``x_col``
    (B, M*N) column-major, for batch entries ``index``."""

    def __init__(self, crossbar: Crossbar, src: _Sources, x_row: FloatArray, x_col: FloatArray, backend: str,
                 index: IntArray | None, single: bool | None) -> None:
        self.crossbar = crossbar
        self.src = src
        self.x_row = x_row
        self.x_col = x_col
        self.backend = backend
        self.index = np.arange(x_row.shape[0]) if index is None else index
        self.single = (not src.batched) if single is None else single
        self._ports: dict[str, object] | None = None
        self._all = index is None

    @property
    def batched(self) -> bool:
        return not self.single

    @property
    def shape(self) -> tuple[int, int]:
        return self.crossbar.shape

    def subset(self, idx: IntArray, single: bool) -> _GridFields:
        return _GridFields(self.crossbar, self.src, self.x_row, self.x_col, self.backend, self.index[idx], single)

    def _rows(self, x: FloatArray) -> FloatArray:
        return x if self._all else x[self.index]

    def _squeeze(self, x: FloatArray) -> FloatArray:
        return x[0] if self.single else x

    def _fail(self, bad: list[str]) -> None:
        cb = self.crossbar
        vmax = float(np.abs(self.src.voltage).max(initial=0.0))
        gmax = max(float(cb.conductance.max(initial=0.0)), float((1.0 / self.src.resistance).max(initial=0.0)),
                   1.0 / float(np.asarray(cb.lines.row_segment).min(initial=np.inf)),
                   1.0 / float(np.asarray(cb.lines.col_segment).min(initial=np.inf)))
        if "node_voltages" in bad and vmax * gmax < 1e100:
            raise BackendError(f"backend {self.backend!r} returned non-finite node voltages")
        raise ConfigError(
            f"the operating point overflows double precision ({', '.join(bad)} not finite): the largest source "
            f"voltage is {vmax:.3g} V and the largest conductance {gmax:.3g} S. Use physical magnitudes."
        )

    def check_voltages(self) -> None:
        if not (np.isfinite(self.x_row).all() and np.isfinite(self.x_col).all()):
            self._fail(["node_voltages"])

    def _col_rowmajor(self, x_col: FloatArray) -> FloatArray:
        m, n = self.shape
        return np.ascontiguousarray(x_col.reshape(-1, n, m).transpose(0, 2, 1))

    def _attach_voltages(self, x_row: FloatArray, x_col: FloatArray) -> FloatArray:
        m, n = self.shape
        mn = m * n
        at = self.src.attach
        on_row = at < mn
        out = np.empty((x_row.shape[0], at.size))
        out[:, on_row] = x_row[:, at[on_row]]
        a = at[~on_row] - mn
        out[:, ~on_row] = x_col[:, (a % n) * m + a // n]
        return out

    def ports(self) -> dict[str, object]:
        """``source_currents``, ``input_currents``, ``output_currents``, ``power``."""
        if self._ports is not None:
            return self._ports
        m, n = self.shape
        src = self.src
        vf = src.voltage[self.index]
        with np.errstate(all="ignore"):
            cur = (vf - self._attach_voltages(self._rows(self.x_row), self._rows(self.x_col))) / src.resistance
            bsz = cur.shape[0]
            is_row = src.end < 2
            i_in = np.zeros((bsz, m))
            i_out = np.zeros((bsz, n))
            np.add.at(i_in.T, src.line[is_row], cur[:, is_row].T)
            np.add.at(i_out.T, src.line[~is_row], -cur[:, ~is_row].T)
            power = (vf * cur).sum(axis=1)
        out = {"source_currents": cur, "input_currents": i_in, "output_currents": i_out, "power": power}
        bad = [k for k, x in out.items() if not np.isfinite(x).all()]
        if bad:
            self._fail(bad)
        self._ports = {k: self._squeeze(x) for k, x in out.items()}
        self._ports["power"] = float(power[0]) if self.single else power
        return self._ports

    def nodes(self) -> dict[str, object]:
        """Every per-node and per-cell field and the KCL residual (the ports too)."""
        m, n = self.shape
        cb = self.crossbar
        src = self.src
        x_row = self._rows(self.x_row)
        bsz = x_row.shape[0]
        vr = x_row.reshape(bsz, m, n)
        vc = self._col_rowmajor(self._rows(self.x_col))
        vf = src.voltage[self.index]
        with np.errstate(all="ignore"):
            vcell = vr - vc
            icell = np.asarray(cb.device.current(vcell, cb.conductance), dtype=np.float64)
            if not np.isfinite(icell).all():
                self._fail(["cell_currents"])
            kcl = grid_kcl_residual(cb, src, vr, vc, vf, icell)
        node_v = np.concatenate([vr.reshape(bsz, -1), vc.reshape(bsz, -1), vf], axis=1)
        res: dict[str, object] = {"row_voltages": self._squeeze(vr), "col_voltages": self._squeeze(vc),
                                  "cell_voltages": self._squeeze(vcell), "cell_currents": self._squeeze(icell),
                                  "node_voltages": self._squeeze(node_v), "kcl_residual": kcl}
        res.update(self.ports())
        return res


def grid_kcl_residual(crossbar: Crossbar, src: _Sources, vr: FloatArray, vc: FloatArray, vf: FloatArray,
                      icell: FloatArray) -> float:
    """``Solution.kcl_residual`` (its definition, see :class:`Solution`) from the grid's arrays:
    row-node voltages ``vr`` and column-node voltages ``vc`` (B, M, N), source voltages ``vf``
    (B, S) and cell currents ``icell`` (B, M, N)."""
    m, n = crossbar.shape
    mn = m * n
    lines = crossbar.lines
    bsz = vr.shape[0]
    g_cell = np.asarray(crossbar.device.conductance(vr - vc, crossbar.conductance), dtype=np.float64)
    s_cell = np.abs(g_cell) * (np.abs(vr) + np.abs(vc)) + np.abs(icell)
    net = np.zeros((bsz, 2, m, n))   # current leaving each grid node: [row layer, column layer]
    scale = np.zeros((bsz, 2, m, n))
    net[:, 0] += icell
    net[:, 1] -= icell
    scale[:, 0] += s_cell
    scale[:, 1] += s_cell
    # row segments (i, j) -> (i, j+1), column segments (i, j) -> (i+1, j)
    r = np.asarray(lines.row_segment)
    i_seg = (vr[:, :, :-1] - vr[:, :, 1:]) / r
    s_seg = (np.abs(vr[:, :, :-1]) + np.abs(vr[:, :, 1:])) / r
    net[:, 0, :, :-1] += i_seg
    net[:, 0, :, 1:] -= i_seg
    scale[:, 0, :, :-1] += s_seg
    scale[:, 0, :, 1:] += s_seg
    r = np.asarray(lines.col_segment)
    i_seg = (vc[:, :-1] - vc[:, 1:]) / r
    s_seg = (np.abs(vc[:, :-1]) + np.abs(vc[:, 1:])) / r
    net[:, 1, :-1] += i_seg
    net[:, 1, 1:] -= i_seg
    scale[:, 1, :-1] += s_seg
    scale[:, 1, 1:] += s_seg
    del i_seg, s_seg
    # sources: from the source node to its attach node
    flat_net = net.reshape(bsz, 2 * mn)
    flat_scale = scale.reshape(bsz, 2 * mn)
    v_at = np.concatenate([vr.reshape(bsz, -1), vc.reshape(bsz, -1)], axis=1)[:, src.attach]
    i_src = (vf - v_at) / src.resistance
    s_src = (np.abs(vf) + np.abs(v_at)) / src.resistance
    np.add.at(flat_net.T, src.attach, -i_src.T)
    np.add.at(flat_scale.T, src.attach, s_src.T)
    smax = max(float(flat_scale.max(initial=0.0)), float(s_src.max(initial=0.0)))
    denom = np.maximum(flat_scale, 1e-20 * smax)
    q = np.abs(flat_net)
    ratio = np.where(denom > 0, q / denom, q)
    return float(ratio.max()) if ratio.size else 0.0
