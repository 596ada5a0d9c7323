"""Newton on the cell voltages of read-scheme crossbars, batched across tiles and input vectors.

Notes
-----
In the read scheme every row wire is driven from one end (its left end, through the driver
resistance) and every column wire is held at the sense voltage (0 V) at one end (its bottom end,
through the sense resistance); the other ends float. Each wire is then a path fed from one end:
given the cell currents ``c`` (ampere, row node into column node), the node voltages follow by
prefix sums, with no linear solve. On row ``i`` the segment after node ``(i, j)`` carries the
currents of the cells to its right, so with ``T[i, j] = sum_{k >= j} c[i, k]``

``V_r[i, j] = v_i - sum_{k <= j} rr[i, k] T[i, k]``,  ``rr[i, 0]`` the driver, ``rr[i, k]`` the
segment between nodes ``k-1`` and ``k``;

on column ``j`` the segment below node ``(i, j)`` carries the cells above it, so with
``H[i, j] = sum_{k <= i} c[k, j]``

``V_c[i, j] = sum_{k >= i} rc[k, j] H[k, j]``,  ``rc[M-1, j]`` the sense, ``rc[k, j]`` the segment
between rows ``k`` and ``k+1``.

Both maps are linear, ``V_r - V_c = v - Z c`` with ``Z`` the symmetric positive semi-definite
resistance matrix of the wire trees seen from the cells, so KCL at every node holds by
construction and the circuit reduces to ``MN`` equations in the cell voltages ``u``:

``r(u) = u + Z I(u) - v = 0``.

Newton's step ``(1 + Z D) d = -r`` (``D = diag(dI/dV)``) is solved in the symmetric form
``(1 + S Z S) y = -S r``, ``S = D^(1/2)``, ``d = -r - Z S y`` (exact for open cells, ``D = 0``),
by conjugate gradients without a preconditioner: the eigenvalues of ``1 + S Z S`` lie in
``[1, 1 + rho]`` with ``rho`` about ``g R N^2``, so CG converges in a handful of iterations on
tiles and arrays of practical wire resistance (3-4 per step on 25x25 tiles with 1 ohm segments).
CG accumulates ``Z S y`` from its own products ``Z S p``, so a step costs no extra product with
``Z``. Every operator is a product with ``Z`` or an element-wise operation over an array
``(M, N, E)`` with all batch entries ``E`` (tiles times input vectors) last, in chunks of entries
whose arrays stay in cache. ``Z`` is applied as two batched products with the per-line dense
matrices on lines of up to 32 nodes, and by prefix sums (one numpy call per node of a line, over
whole ``(N, E)`` or ``(M, E)`` slices) on longer lines.

Newton starts from the linear circuit (cells at their programmed conductance): from ``u = 0``,
where the first step is that circuit, or from ``resp @ v`` with the unit responses of
:func:`linear_responses` (one linear solve per row of a tile, then one product per batch of
inputs). It limits every cell-voltage update to ``max_step`` volts and halves steps that do not
reduce the residual (in entries not yet within ``tol``), as
:func:`xbarsim.solver.newton.newton_solve` does. It stops when, per batch entry,
``max |D| max |r| <= tol max |I(u)|``: the largest KCL mismatch a cell can leave, ``D r``, is at
most ``tol`` times the largest cell current of the entry. The forcing term of each step is
``max(err 1e-2, 0.3 tol / err)`` (clipped to ``[1e-13, 1e-3]``): as accurate as the residual it
corrects, and no more accurate than the stopping rule needs. A step whose forcing term is at least
``1e-6`` (on practical arrays: every step, 5e-5 then 1e-6 from the linear start) runs its CG in float32
(``S``, the right-hand side and ``Z``; ``Z S y`` back in float64): CG on ``1 + S Z S`` (condition
``1 + rho``) reaches such a tolerance in single precision, and the residual ``u + Z I(u) - v``, the
step and the stopping rule stay in float64, so the solution is that of an all-float64 Newton (a step
that leaves float32's range is redone in float64).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim.devices.models import DeviceModel, Sinh
from xbarsim.errors import ConfigError, ConvergenceError
from xbarsim.netlists.lines import LineResistance
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver._grid import GridLayout
from xbarsim.solver.newton import NewtonOptions, largest_finite

__all__ = ["ReadTrees", "read_newton", "tile_read_currents", "linear_responses", "grid_read_newton"]


@dataclass(frozen=True, eq=False)
class ReadTrees:
    """The wire resistances of the read scheme in the prefix-sum layout of the module notes (ohm),
    each ``(M, N, 1)`` so that it broadcasts over the batch axis.

    ``rr[i, 0]`` is row ``i``'s driver, ``rr[i, j]`` the row segment between columns ``j-1`` and
    ``j``; ``rc[M-1, j]`` is column ``j``'s sense, ``rc[i, j]`` the column segment between rows ``i``
    and ``i+1``.
    """

    rr: FloatArray
    rc: FloatArray
    #: ohm, ``(M, N, N)``: row ``i``'s part of ``Z`` (``L diag(rr[i]) L^T``, ``L`` lower triangular ones)
    z_row: FloatArray | None = None
    #: ohm, ``(N, M, M)``: column ``j``'s part of ``Z`` (``L^T diag(rc[:, j]) L``)
    z_col: FloatArray | None = None

    #: Largest line length for which :meth:`apply` multiplies by the dense per-line matrices (two
    #: batched matrix products, ``2 (M + N)`` flops per cell, in cache) rather than running prefix
    #: sums (a few passes per cell but one numpy call per node of a line).
    DENSE_MAX = 32

    @classmethod
    def from_lines(cls, lines: LineResistance, m: int, n: int) -> ReadTrees:
        full = lines.broadcast(m, n)
        rr = np.empty((m, n, 1))
        rr[:, 0, 0] = np.asarray(full.row_driver, dtype=np.float64)
        rr[:, 1:, 0] = np.asarray(full.row_segment, dtype=np.float64)
        rc = np.empty((m, n, 1))
        rc[-1, :, 0] = np.asarray(full.col_sense, dtype=np.float64)
        rc[:-1, :, 0] = np.asarray(full.col_segment, dtype=np.float64)
        z_row = z_col = None
        if max(m, n) <= cls.DENSE_MAX:
            # V_r drop at node j from the current of cell k: sum of rr[i, l] for l <= min(j, k)
            z_row = np.cumsum(rr[:, :, 0], axis=1)[:, np.minimum.outer(np.arange(n), np.arange(n))]
            # V_c at node i from the current of cell k: sum of rc[l, j] for l >= max(i, k)
            tail = np.cumsum(rc[::-1, :, 0], axis=0)[::-1]  # (M, N): sum over l >= i
            z_col = np.ascontiguousarray(tail[np.maximum.outer(np.arange(m), np.arange(m))].transpose(2, 0, 1))
        return cls(rr=rr, rc=rc, z_row=z_row, z_col=z_col)

    @cached_property
    def single(self) -> ReadTrees:
        """The same wires in float32 (for the inner CG of Newton's early steps, module notes)."""
        def f32(a: FloatArray | None) -> FloatArray | None:
            return None if a is None else np.ascontiguousarray(a, dtype=np.float32)
        return ReadTrees(rr=f32(self.rr), rc=f32(self.rc), z_row=f32(self.z_row),  # type: ignore[arg-type]
                         z_col=f32(self.z_col))

    def apply(self, c: FloatArray, out: FloatArray | None = None, work: FloatArray | None = None) -> FloatArray:
        """``Z c``: volt, ``v - (V_r - V_c)`` for cell currents ``c`` ``(M, N, E)`` (the row drop plus
        the column voltage); ``out``/``work``: scratch arrays of the same shape."""
        z = np.empty_like(c) if out is None else out
        if self.z_row is not None and self.z_col is not None:
            np.matmul(self.z_row, c, out=z)
            w = np.empty_like(c) if work is None else work
            wt = np.reshape(w, (c.shape[1], c.shape[0], c.shape[2]), copy=False)  # (N, M, E) scratch
            np.matmul(self.z_col, c.transpose(1, 0, 2), out=wt)
            z += wt.transpose(1, 0, 2)
            return z
        return self._prefix_apply(c, z, work)

    def _prefix_apply(self, c: FloatArray, z: FloatArray, work: FloatArray | None) -> FloatArray:
        """:meth:`apply` by prefix sums: the column voltages plus the row drops.

        The prefix sums are loops over the lines' nodes, each step one add over whole ``(N, E)``
        or ``(M, E)`` slices (numpy's ``cumsum`` along a non-last axis walks every run of ``E``
        separately and is several times slower)."""
        self._col_voltage(c, z)
        z += self._row_drop(c, np.empty_like(c) if work is None else work)
        return z

    def _row_drop(self, c: FloatArray, t: FloatArray) -> FloatArray:
        """Volt, the drop along the rows into ``t``: T = suffix sums of ``c`` along the row, then
        prefix sums of ``rr T``."""
        n = c.shape[1]
        t[:, n - 1] = c[:, n - 1]
        for j in range(n - 2, -1, -1):
            np.add(t[:, j + 1], c[:, j], out=t[:, j])
        t *= self.rr
        for j in range(1, n):
            t[:, j] += t[:, j - 1]
        return t

    def _col_voltage(self, c: FloatArray, h: FloatArray) -> FloatArray:
        """Volt, ``V_c`` into ``h``: H = prefix sums of ``c`` down the column, then suffix sums of
        ``rc H``."""
        m = c.shape[0]
        h[0] = c[0]
        for i in range(1, m):
            np.add(h[i - 1], c[i], out=h[i])
        h *= self.rc
        for i in range(m - 2, -1, -1):
            h[i] += h[i + 1]
        return h

    def row_voltage(self, c: FloatArray, v: FloatArray) -> FloatArray:
        """Volt, ``V_r`` ``(M, N, E)`` for cell currents ``c`` and row driver voltages ``v`` ``(M, E)``."""
        t = self._row_drop(c, np.empty_like(c))
        np.subtract(v[:, None, :], t, out=t)
        return t

    def col_voltage(self, c: FloatArray) -> FloatArray:
        """Volt, ``V_c`` ``(M, N, E)`` for cell currents ``c``."""
        return self._col_voltage(c, np.empty_like(c))

def _dot(x: FloatArray, y: FloatArray) -> FloatArray:
    """Inner products over the cells, one per batch entry: ``(M, N, E) -> (E,)``."""
    e = x.shape[-1]
    return np.einsum("ij,ij->j", x.reshape(-1, e), y.reshape(-1, e))


def _cg(trees: ReadTrees, s: FloatArray, b: FloatArray, rtol: float,
        maxiter: int) -> tuple[FloatArray, int, bool]:
    """CG on ``(1 + S Z S) y = b`` for every batch entry (last axis) at once; stops when every
    entry's residual norm is at most ``rtol`` times its ``||b||``. Returns ``Z S y`` (what the
    Newton step needs: ``d = -r - Z S y``), accumulated from the products ``Z S p`` of the
    iterations, so that no product with ``Z`` is spent on ``y`` itself. ``trees``, ``s`` and ``b``
    share one dtype (float64, or float32 with ``trees.single``), in which CG runs."""
    zsy = np.zeros_like(b)
    r = b.copy()
    rr = _dot(r, r)
    target = rtol * rtol * rr
    active = rr > target
    if not active.any():
        return zsy, 0, True
    p = r.copy()
    work, zsp, ap, scratch = np.empty_like(b), np.empty_like(b), np.empty_like(b), np.empty_like(b)
    for it in range(1, maxiter + 1):
        np.multiply(s, p, out=work)
        trees.apply(work, out=zsp, work=scratch)
        np.multiply(zsp, s, out=ap)
        ap += p
        pap = _dot(p, ap)
        alpha = np.divide(rr, pap, out=np.zeros_like(rr), where=active & (pap > 0))
        np.multiply(zsp, alpha, out=work)
        zsy += work
        np.multiply(ap, alpha, out=work)
        r -= work
        rr_new = _dot(r, r)
        active = rr_new > target
        if not active.any():
            return zsy, it, True
        beta = np.divide(rr_new, rr, out=np.zeros_like(rr), where=active & (rr > 0))
        p *= beta
        p += r
        rr = rr_new
    return zsy, maxiter, False


class _Law:
    """Cell currents and ``dI/dV`` of ``device`` at cell voltages ``u`` for conductances ``g``, both
    from one call. For :class:`~xbarsim.devices.models.Sinh` from one exponential:
    ``sinh x = (e - 1/e) / 2`` and ``cosh x = (e + 1/e) / 2`` with ``e = exp(x)`` (at small ``x`` the
    difference loses relative accuracy but keeps an absolute error of a few ``1e-16 g / a``,
    negligible next to the cell currents of the array)."""

    def __init__(self, device: DeviceModel, g: FloatArray) -> None:
        self.device = device
        self.g = g
        self.sinh = isinstance(device, Sinh)
        if self.sinh:
            self.a = float(device.a)  # type: ignore[attr-defined]
            self.g_half = g * 0.5
            self.g_half_a = g * (0.5 / self.a)

    def __call__(self, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        if self.sinh:
            ep = np.multiply(u, self.a)
            np.exp(ep, out=ep)
            em = np.reciprocal(ep)
            c = np.subtract(ep, em)
            c *= self.g_half_a
            ep += em
            ep *= self.g_half
            return c, ep
        return (np.asarray(self.device.current(u, self.g), dtype=np.float64),
                np.asarray(self.device.conductance(u, self.g), dtype=np.float64))


def _error(r: FloatArray, d: FloatArray, c: FloatArray) -> FloatArray:
    """Per entry, ``max |D r| / max |I|`` bounded from above by reductions only (no temporaries):
    the largest KCL mismatch of a cell against the largest cell current."""
    mx = np.maximum(r.max(axis=(0, 1)), -r.min(axis=(0, 1))) * d.max(axis=(0, 1))
    sc = np.maximum(c.max(axis=(0, 1)), -c.min(axis=(0, 1)))
    return np.where(sc > 0, mx / np.where(sc > 0, sc, 1.0), mx)


def linear_responses(g: FloatArray, trees: ReadTrees, rtol: float = 1e-10, maxiter: int = 300) -> FloatArray:
    """Volt, the cell voltages ``(K, M*N, M)`` of the linear circuits (cells at their conductances
    ``g`` ``(K, M, N)``, cells row-major) for 1 V on each row driver in turn, all others and the
    columns at 0 V.

    The cell voltages of the linear read of any input ``v`` are then ``resp[k] @ v``: Newton's start
    for every input vector of a tile from one product, instead of one linear solve per vector."""
    k_tiles, m, n = g.shape
    ent = k_tiles * m
    flat = np.empty((ent, m, n))  # entry k M + i: tile k, row i driven
    chunk = _chunk_entries(m, n)
    for e0 in range(0, ent, chunk):
        e1 = min(e0 + chunk, ent)
        idx = np.arange(e0, e1)
        gk = np.ascontiguousarray(np.moveaxis(g[idx // m], 0, -1))
        s = np.sqrt(gk)
        vb = np.zeros((m, n, e1 - e0))
        vb[idx % m, :, np.arange(e1 - e0)] = 1.0
        u, _, ok = _cg(trees, s, s * vb, rtol, maxiter)  # Z S y
        if not ok:
            raise ConvergenceError(f"CG of the linear read did not reach {rtol:g} in {maxiter} iterations",
                                   iterations=maxiter, residual=float("nan"))
        np.subtract(vb, u, out=u)
        flat[e0:e1] = np.moveaxis(u, -1, 0)
    return flat.reshape(k_tiles, m, m * n).transpose(0, 2, 1)


#: Unit responses of the last few conductance sets (a read-out asks for the same tiles once per
#: input chunk): key -> responses, oldest first.
_RESPONSES: dict[bytes, FloatArray] = {}
_RESPONSES_KEPT = 2
_RESPONSES_LOCK = threading.Lock()


def _cached_responses(g: FloatArray, trees: ReadTrees, maxiter: int) -> FloatArray:
    """:func:`linear_responses`, reused while the conductances and wires are the same (keyed by a
    digest of their bytes, so a changed array is never mistaken for the old one)."""
    h = hashlib.blake2b(digest_size=20)
    for a in (np.asarray(g.shape, dtype=np.int64), g, trees.rr, trees.rc, np.asarray([maxiter])):
        h.update(np.ascontiguousarray(a).tobytes())
    key = h.digest()
    with _RESPONSES_LOCK:
        resp = _RESPONSES.get(key)
    if resp is None:
        resp = linear_responses(g, trees, maxiter=maxiter)
        resp.flags.writeable = False
        with _RESPONSES_LOCK:  # read-outs may run in threads (a sweep's workers)
            _RESPONSES[key] = resp
            while len(_RESPONSES) > _RESPONSES_KEPT:
                del _RESPONSES[next(iter(_RESPONSES))]
    return resp


def read_newton(g: FloatArray, trees: ReadTrees, device: DeviceModel, v: FloatArray,
                options: NewtonOptions, start: FloatArray | None = None,
                v_col: FloatArray | None = None) -> tuple[FloatArray, int, int]:
    """Cell voltages of read-scheme crossbars with nonlinear cells (module notes).

    Parameters
    ----------
    g : ndarray, shape (M, N, E) or (M, N, 1)
        Siemens, every entry's programmed conductances (or one set shared by all entries).
    trees : ReadTrees
        The wires, shared by all entries.
    device : DeviceModel
        The cells' I-V law.
    v : ndarray, shape (M, E)
        Volt, the row drivers' voltages of every entry (the columns are sensed at 0 V).
    options : NewtonOptions
        ``tol``, ``maxiter``, ``max_step`` and ``cg_maxiter`` as in the general Newton.
    start : ndarray, shape (M, N, E), optional
        Volt, the cell voltages of the linear circuit (cells at ``g``) if known (see
        :func:`linear_responses`); otherwise the first step solves it.
    v_col : ndarray, shape (N, E), optional
        Volt, the voltages at which the columns are held (default 0 V).

    Returns
    -------
    u : ndarray, shape (M, N, E)
        Volt, the cell voltages (row node minus column node).
    iterations : int
        Newton iterations (the largest over the entries; the linear start not counted).
    cg_iterations : int
        Inner CG iterations in all.

    Raises
    ------
    ConvergenceError
        If Newton does not reach ``tol`` within ``maxiter`` iterations, an inner CG does not converge,
        or the device currents overflow.
    """
    u, _, iterations, cg = _read_newton(g, trees, device, v, options, start, v_col)
    return u, iterations, cg


def _read_newton(g: FloatArray, trees: ReadTrees, device: DeviceModel, v: FloatArray,
                 options: NewtonOptions, start: FloatArray | None,
                 v_col: FloatArray | None) -> tuple[FloatArray, FloatArray, int, int]:
    """:func:`read_newton`, also returning the cell currents at the solution (ampere, ``(M, N, E)``)."""
    m, n, e = v.shape[0], trees.rr.shape[1], v.shape[1]
    vb = np.broadcast_to(v[:, None, :], (m, n, e)) if v_col is None else v[:, None, :] - v_col[None, :, :]
    u = np.zeros((m, n, e))
    r = -np.array(vb)  # r(0) = -v
    d = np.array(np.broadcast_to(g, (m, n, e)))  # dI/dV at 0 V: the linear circuit
    err = np.full(e, np.inf)
    fnorm = np.sqrt(_dot(r, r))
    cg_total = 0
    law = _Law(device, g)
    z = np.empty_like(u)
    work = np.empty_like(u)
    first = 0
    if start is not None:
        u = start
        with np.errstate(over="ignore", invalid="ignore"):
            c_new, d = law(u)
            r = trees.apply(c_new, out=np.empty_like(u), work=work)
            r += u
            r -= vb
            fnorm = np.sqrt(_dot(r, r))
            err = _error(r, d, c_new)
        if np.isfinite(err).all() and (err <= options.tol).all():
            return u, c_new, 0, 0
        first = 1
    for it in range(first, options.maxiter + 1):
        # d or r non-finite <=> fnorm or err non-finite (err: max|r| max d / max|I|; no pass over the arrays)
        if not (np.isfinite(fnorm).all() and (it == 0 or np.isfinite(err).all())):
            raise ConvergenceError(
                f"Newton diverged: device currents overflowed at iteration {it} "
                f"(largest cell voltage {largest_finite(u)})", iterations=it, residual=float("inf"))
        # inexact Newton (forcing term): a step needs to be only as accurate as the residual it
        # corrects (err 1e-2), and no more accurate than the stopping rule asks for (0.3 tol/err:
        # the step's error eta err then sits below tol); the linear start to 1e-4 (it lies about
        # 1e-3 from the nonlinear solution on practical arrays)
        if it == 0:
            eta = 1e-4
        else:
            worst = float(np.nanmax(err))
            eta = float(np.clip(max(worst * 1e-2, _ETA_SAFETY * options.tol / worst), 1e-13, 1e-3))
        s = np.sqrt(d)
        ok = False
        if eta >= _SINGLE_ETA:  # CG in float32: half the memory traffic, twice the flops of a product
            with np.errstate(over="ignore", invalid="ignore"):
                b32 = np.multiply(s, r, dtype=np.float32)
                np.negative(b32, out=b32)
                step32, it_cg, ok = _cg(trees.single, s.astype(np.float32), b32, eta, options.cg_maxiter)
                ok = ok and bool(np.isfinite(step32).all())  # beyond float32's range: redo in float64
            if ok:
                step = step32.astype(np.float64)
            cg_total += it_cg
        if not ok:
            step, it_cg, ok = _cg(trees, s, -(s * r), eta, options.cg_maxiter)  # Z S y
            cg_total += it_cg
        if not ok:
            raise ConvergenceError(f"inner CG of the read-scheme Newton did not reach {eta:g} in "
                                   f"{options.cg_maxiter} iterations", iterations=it, residual=float(np.nanmax(err)))
        step += r
        np.negative(step, out=step)
        if it > 0:  # voltage limiting (the linear start is exact for the linear circuit)
            big = np.abs(step).max(axis=(0, 1))
            step *= np.minimum(1.0, options.max_step / np.maximum(big, 1e-300))
        lam = np.ones(e)
        for _ in range(30):
            u_new = u + (step if it == 0 else lam * step)
            with np.errstate(over="ignore", invalid="ignore"):
                c_new, d_new = law(u_new)
                r_new = trees.apply(c_new, out=z, work=work)
                r_new += u_new
                r_new -= vb
                fn = np.sqrt(_dot(r_new, r_new))
                err = _error(r_new, d_new, c_new)
            # entries already within tol keep their step (their residual is rounding)
            bad = ~np.isfinite(fn) | (fn > fnorm * (1 - 1e-4 * lam)) & ~(err <= options.tol)
            if it == 0 or not bad.any():
                break
            lam = np.where(bad, lam / 2, lam)
        u, r, d, fnorm = u_new, r_new, d_new, fn
        if np.isfinite(err).all() and (err <= options.tol).all():
            return u, c_new, it, cg_total
    raise ConvergenceError(
        f"Newton did not converge in {options.maxiter} iterations: KCL residual {float(np.nanmax(err)):.3e} "
        f"> tol {options.tol:g}. Try smaller voltages, a larger maxiter or a milder device nonlinearity.",
        iterations=options.maxiter, residual=float(np.nanmax(err)))


#: Safety factor of the forcing term's ``tol / err`` bound (module notes).
_ETA_SAFETY = 0.3
#: Newton steps whose forcing term is at least this run their inner CG in float32 (module notes):
#: about 17 float32 rounding units, which CG on ``1 + S Z S`` (condition number ``1 + rho``) reaches.
_SINGLE_ETA = 1e-6

#: Batch entries x cells per Newton chunk: about 320 kB per float64 array (160 kB in the float32 CG),
#: so that a chunk's arrays stay in cache; 64 entries on 25x25 tiles. (80 and more made the per-line
#: products cross OpenBLAS's threading threshold: twice the CPU time on a loaded 2-core machine,
#: none of it gained back on such small products.) ...
_CHUNK_CELLS = 40_000
#: ... but, where ``Z`` is applied by prefix sums, at least this many entries, which amortise the
#: numpy calls per node of a line.
_MIN_CHUNK_PREFIX = 128


def _chunk_entries(m: int, n: int) -> int:
    """Batch entries per Newton chunk on ``m x n`` arrays (the constants above)."""
    least = 8 if max(m, n) <= ReadTrees.DENSE_MAX else _MIN_CHUNK_PREFIX
    return max(least, _CHUNK_CELLS // (m * n))


def tile_read_currents(conductance: FloatArray, lines: LineResistance, device: DeviceModel, v: FloatArray,
                       options: NewtonOptions | None = None) -> FloatArray:
    """Ampere, the output (sense) currents ``(K, B, N)`` of reading ``K`` crossbars that share
    ``lines`` and ``device``, crossbar ``k`` with row voltages ``v[k]`` ``(B, M)`` (volt) and every
    column sensed at 0 V, as :func:`~xbarsim.solver.solve` with ``BiasScheme.read`` and the sparse
    backend gives them. All tiles and input vectors are solved by one batched Newton
    (:func:`read_newton`), in chunks of about ``_CHUNK_CELLS`` cell voltages.

    Parameters
    ----------
    conductance : ndarray, shape (K, M, N)
        Siemens, the programmed conductances of every crossbar (0 for open cells).
    lines : LineResistance
        The wires, shared by every crossbar (any resistances >= 0, ideal included).
    device : DeviceModel
        The cells' I-V law (linear or not).
    v : ndarray, shape (K, B, M)
        Volt, the row voltages of each crossbar's input vectors.
    options : NewtonOptions, optional
        Newton's options (default ``NewtonOptions()``).
    """
    opts = NewtonOptions() if options is None else options
    g = np.asarray(conductance, dtype=np.float64)
    vv = np.asarray(v, dtype=np.float64)
    if g.ndim != 3 or vv.ndim != 3 or vv.shape[0] != g.shape[0] or vv.shape[2] != g.shape[1]:
        raise ConfigError(f"`conductance` (K, M, N) and `v` (K, B, M) do not match: shapes {g.shape} and {vv.shape}.")
    k_tiles, m, n = g.shape
    bsz = vv.shape[1]
    trees = ReadTrees.from_lines(lines, m, n)
    # entries tile-major (entry e = k B + b); an all-zero input reads 0 A (every node at 0 V)
    ent = k_tiles * bsz
    v_ent = vv.reshape(ent, m)
    out = np.zeros((ent, n))
    live = np.flatnonzero(np.any(v_ent != 0.0, axis=1))
    if not np.all(np.asarray(device.current(np.zeros(1), np.ones(1))) == 0.0):
        live = np.arange(ent)  # pragma: no cover - every passive law conducts nothing at 0 V
    tiles = live // bsz
    # Newton's start: the linear read, from each tile's unit responses when it has more inputs than rows
    resp = _cached_responses(g, trees, opts.cg_maxiter) if bsz >= m else None
    chunk = _chunk_entries(m, n)  # chunks whose arrays stay in cache
    g_shared = np.ascontiguousarray(g[0][:, :, None]) if k_tiles == 1 else None
    for c0 in range(0, live.size, chunk):
        sel = live[c0:c0 + chunk]
        tk = tiles[c0:c0 + chunk]
        gk = g_shared if g_shared is not None else np.ascontiguousarray(np.moveaxis(g[tk], 0, -1))
        vk = np.ascontiguousarray(v_ent[sel].T)
        start = None
        if resp is not None:
            start = np.empty((m, n, sel.size))
            edges = np.flatnonzero(np.diff(tk)) + 1
            for a, b in zip(np.concatenate([[0], edges]), np.concatenate([edges, [sel.size]])):
                np.matmul(resp[tk[a]], vk[:, a:b], out=start.reshape(m * n, -1)[:, a:b])
        _, c, _, _ = _read_newton(gk, trees, device, vk, opts, start, None)
        out[sel] = c.sum(axis=0).T
    return out.reshape(k_tiles, bsz, n)


#: :func:`grid_read_newton` takes batches of at least this many operating points (a single solve
#: stays on :func:`~xbarsim.solver.newton.grid_newton`, whose reduced-system CG needs fewer
#: iterations on large arrays) ...
GRID_READ_MIN_BATCH = 8
#: ... on arrays of at most this many rows and columns: ``rho``, and with it the CG iterations of
#: the cell-voltage system, grows with the square of the line length.
GRID_READ_MAX_LINE = 128


def grid_read_newton(netlist: Netlist, layout: GridLayout, options: NewtonOptions) -> tuple[FloatArray, int] | None:
    """Node voltages ``(B, n_nodes)`` and Newton iterations of a grid-layout netlist with nonlinear
    cells in the read scheme (every row driven at its left end, every column held at its bottom end,
    nothing else), by :func:`read_newton` batched over the operating points; ``None`` when the netlist
    is not such a read, or the batch is too small or the array too large for this path to pay
    (:data:`GRID_READ_MIN_BATCH`, :data:`GRID_READ_MAX_LINE`).

    Newton starts from the linear read (the unit responses of :func:`linear_responses` when the
    columns are held at 0 V and there are more operating points than rows).
    """
    m, n = layout.m, layout.n
    mn = m * n
    bsz = netlist.batch_size
    if bsz < GRID_READ_MIN_BATCH or max(m, n) > GRID_READ_MAX_LINE or layout.src_attach.size != m + n:
        return None
    row_end = np.arange(m) * n
    col_end = mn + (m - 1) * n + np.arange(n)
    where = np.full(2 * mn, -1, dtype=np.int64)
    where[layout.src_attach] = np.arange(m + n)
    src_row, src_col = where[row_end], where[col_end]
    if (src_row < 0).any() or (src_col < 0).any() or np.unique(layout.src_attach).size != m + n:
        return None
    lines = LineResistance(row_segment=1.0 / layout.g_row_seg, col_segment=1.0 / layout.g_col_seg,
                           row_driver=1.0 / layout.src_g[src_row], col_sense=1.0 / layout.src_g[src_col])
    trees = ReadTrees.from_lines(lines, m, n)
    vf = np.asarray(netlist.source_voltage, dtype=np.float64)
    v_row = np.ascontiguousarray(vf[:, src_row].T)  # (M, B)
    v_col = np.ascontiguousarray(vf[:, src_col].T)  # (N, B)
    g = np.ascontiguousarray(np.asarray(netlist.conductance, dtype=np.float64)[:, :, None])
    resp = linear_responses(g.transpose(2, 0, 1), trees, maxiter=options.cg_maxiter)[0] \
        if bsz >= m and not v_col.any() else None
    out = np.empty((bsz, netlist.n_nodes))
    chunk = _chunk_entries(m, n)
    iters = 0
    for b0 in range(0, bsz, chunk):
        b1 = min(b0 + chunk, bsz)
        start = None if resp is None else (resp @ v_row[:, b0:b1]).reshape(m, n, b1 - b0)
        _, c, it, _ = _read_newton(g, trees, netlist.device, v_row[:, b0:b1], options, start, v_col[:, b0:b1])
        iters = max(iters, it)
        # node voltages from the tree sums: V_r = v - row drop, V_c = w + column rise
        v_r = trees.row_voltage(c, v_row[:, b0:b1])
        v_c = trees.col_voltage(c)
        v_c += v_col[None, :, b0:b1]
        np.copyto(out[b0:b1, :mn].reshape(b1 - b0, m, n), np.moveaxis(v_r, -1, 0))
        np.copyto(out[b0:b1, mn:2 * mn].reshape(b1 - b0, m, n), np.moveaxis(v_c, -1, 0))
    out[:, 2 * mn:] = vf
    return out, iters
