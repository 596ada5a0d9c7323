"""Transient analysis of a crossbar of dynamic cells: backward Euler or trapezoidal, Newton per step.

Notes
-----
Unknowns at each time point are the voltages ``x`` of the nodes not held by a source and the states
``w`` of the cells. With ``theta = 1`` (backward Euler) or ``1/2`` (trapezoidal) a step from
``t_n`` to ``t_n + h`` solves

``w = w_n + h theta f(u, w) + h (1 - theta) f(u_n, w_n)``                (every cell)
``A_w x + C_w v_f(t) + P^T I(u, w) + i_C = 0``                         (KCL, unknown nodes)

with ``u = P x + P_f v_f`` the cell voltages and ``i_C = C (x - x_n) / (theta h) - (1-theta)/theta
i_C,n`` the companion current of the line capacitance. The state equation is local to a cell, so
it is solved per cell for a given ``u`` (vectorised scalar Newton; one iteration for the linear
window) and eliminated: the cell then acts as a conductance ``dI/du + dI/dw dw/du`` with
``dw/du = h theta f_u / (1 - h theta f_w)``. What remains is the grid system with the DC
structure, solved by Newton with a sparse LU that is reused across iterations and steps while it
still contracts (a fresh factorization when the residual falls by less than 10x per iteration).
The effective conductance can be negative while a cell switches fast (the NDR of a RESET), so the
step uses LU, not the conjugate gradients of the DC path.

The trapezoidal rule takes a backward-Euler step first and after every waveform corner, as SPICE
does: it damps the rule's ringing at slope discontinuities, and it lets this solver replay
ngspice's accepted time points step for step (:func:`crosscheck_transient`). On such an explicit
grid the first two steps of the analysis are backward Euler too: ngspice checks the truncation error,
and may raise the order to 2, only from its second time point on (without this the replay differed
from ngspice by up to 1e-4 in the source currents with line capacitance, at the second time point).

A step whose Newton iteration fails is retried with a quarter of the step (``max_retries`` times)
before :class:`~xbarsim.errors.ConvergenceError` is raised. With ``adaptive=True`` the step is
also chosen by a local error estimate of the states, half the difference between the implicit
result and the explicit Euler prediction (the leading error term of backward Euler; conservative
for the trapezoidal rule).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xbarsim._typing import ArrayLike, FloatArray, IntArray, TransientLinearSolver
from xbarsim._validation import MAX_ELEMENTS, as_float_array, check_choice, plain_scalars, short_repr
from xbarsim.errors import ConfigError, ConvergenceError
from xbarsim.netlists.transient import IntegrationMethod, TransientCircuit, check_state

__all__ = ["TransientOptions", "TransientResult", "TransientWorkspace", "simulate_transient", "operating_point",
           "step_times", "transient_options"]


def _check_pos(value: object, name: str, what: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value <= 0:
        raise ConfigError(f"`{name}` must be a positive {what}; got {value!r}.")


@dataclass(frozen=True, kw_only=True)
class TransientOptions:
    """Settings of a transient analysis (the ngspice path reads the same ``method`` and ``dt``).

    Attributes
    ----------
    method : {"be", "trap"}
        Backward Euler or trapezoidal (backward Euler after each corner, see the module notes).
    dt : float
        Second, the largest step; with ``adaptive=False`` every interval between two waveform
        corners is cut into equal steps of at most ``dt``.
    stop : float or None
        Second, end of the analysis; default the last waveform corner.
    adaptive : bool
        Choose steps by the local error estimate of the states (bounded by ``dt`` and ``dt_min``).
    state_tol : float
        Local error per step allowed on any state (dimensionless) when adaptive.
    dt_min : float
        Second; no step is cut below it (Newton retries and the adaptive control stop there).
    newton_tol : float
        Componentwise KCL backward error at which a step's Newton iteration stops.
    maxiter : int
        Newton iterations per step attempt.
    max_retries : int
        Times a failing step is retried with a quarter of its length.
    max_step : float
        Volt, largest node-voltage change of one Newton iteration.
    linear_solver : {"woodbury", "gmres"}
        How each Newton step's linear system is solved. ``"woodbury"`` (default): a few LU
        factorizations of earlier Jacobians are kept, the nearest one is corrected exactly for the
        cells whose conductance moved by more than 5 % (at most 32; Woodbury identity, one LU solve
        per such cell, cached), and a fresh factorization is made only when more cells moved or
        Newton stops contracting. ``"gmres"``: the reference solver, GMRES preconditioned by the last LU.
        Both solve the same equations to ``newton_tol``.
    record_cells : bool
        Keep cell voltages and currents at every time point (``False``: states and sources only).
    """

    method: IntegrationMethod = "trap"
    dt: float = 1e-8
    stop: float | None = None
    adaptive: bool = False
    state_tol: float = 1e-3
    dt_min: float = 1e-15
    newton_tol: float = 1e-12
    maxiter: int = 40
    max_retries: int = 6
    max_step: float = 0.5
    linear_solver: TransientLinearSolver = "woodbury"
    record_cells: bool = True

    def __post_init__(self) -> None:
        plain_scalars(self)  # np.int64(5) is 5, np.float32(0.5) is 0.5
        check_choice(self.method, ("be", "trap"), "method")
        check_choice(self.linear_solver, ("woodbury", "gmres"), "linear_solver")
        for name, what in (("dt", "time step in seconds"), ("state_tol", "state tolerance"),
                           ("dt_min", "time step in seconds"), ("newton_tol", "tolerance"),
                           ("max_step", "voltage in volt")):
            _check_pos(getattr(self, name), name, what)
        _check_pos(self.stop, "stop", "time in seconds", allow_none=True)
        for name in ("maxiter", "max_retries"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < (1 if name == "maxiter" else 0):
                raise ConfigError(f"`{name}` must be a {'positive' if name == 'maxiter' else 'non-negative'} int; got {val!r}.")
        if self.dt_min > self.dt:
            raise ConfigError(f"`dt_min` must not exceed `dt`; got dt_min={self.dt_min!r} > dt={self.dt!r}.")


@dataclass(frozen=True, kw_only=True, eq=False)
class TransientResult:
    """What a transient analysis returns (every backend fills the same fields).

    Attributes
    ----------
    times : ndarray, shape (T,)
        Second, the accepted time points, ``times[0] == 0``.
    state : ndarray, shape (T, M, N)
        State of every cell at every time point.
    cell_voltage, cell_current : ndarray, shape (T, M, N) or (0, M, N)
        Volt and ampere of every cell (row minus column; row to column), empty when not recorded.
    source_voltage, source_current : ndarray, shape (T, S)
        Volt, and ampere delivered by each source into the circuit.
    energy : ndarray, shape (S,)
        Joule delivered by each source, ``int V I dt`` by the trapezoidal rule on ``times``.
    backend : str
        ``"sparse"`` or ``"ngspice"``.
    method : str
        ``"be"`` or ``"trap"``.
    steps, rejected, newton_iterations, factorizations : int
        Accepted steps, rejected attempts (Newton failure or error estimate), Newton iterations and
        LU factorizations (0 for ngspice).
    wall_s : float
        Second of wall-clock time.
    """

    times: FloatArray
    state: FloatArray
    cell_voltage: FloatArray
    cell_current: FloatArray
    source_voltage: FloatArray
    source_current: FloatArray
    energy: FloatArray = field(init=False)
    backend: str
    method: str
    steps: int
    rejected: int = 0
    newton_iterations: int = 0
    factorizations: int = 0
    wall_s: float = 0.0

    def __post_init__(self) -> None:
        p = self.source_voltage * self.source_current
        e = np.sum((p[1:] + p[:-1]) * np.diff(self.times)[:, None], axis=0) / 2 if len(self.times) > 1 else np.zeros(p.shape[1])
        object.__setattr__(self, "energy", e)
        for name in ("times", "state", "cell_voltage", "cell_current", "source_voltage", "source_current", "energy"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def final_state(self) -> FloatArray:
        """State of every cell at the last time point, (M, N)."""
        return self.state[-1]

    def index_at(self, t: float) -> int:
        """Index of the time point nearest to ``t`` (s)."""
        return int(np.argmin(np.abs(self.times - t)))


def step_times(circuit: TransientCircuit, options: TransientOptions) -> FloatArray:
    """The fixed time grid: every interval between corners cut into equal steps of at most ``dt``."""
    stop = options.stop if options.stop is not None else circuit.end_time
    if stop <= 0:
        raise ConfigError(f"`stop` must be a positive time in seconds; got {stop!r} (the waveforms end at 0 s).")
    bps = circuit.breakpoints
    knots = np.unique(np.concatenate([[0.0], bps[(bps > 0) & (bps < stop)], [stop]]))
    with np.errstate(over="ignore"):  # a subnormal `dt`: inf steps, refused below
        counts = [max(1.0, float(np.ceil((b - a) / options.dt * (1 - 1e-12)))) for a, b in zip(knots[:-1], knots[1:], strict=True)]
    # refused before allocating (a tiny `dt` otherwise ended in numpy's MemoryError, or in a run that never ends)
    if sum(counts) > MAX_ELEMENTS:
        raise ConfigError(f"`dt` = {options.dt!r} s cuts the {stop!r} s of the analysis into {sum(counts):.3g} steps, "
                          f"more than the {MAX_ELEMENTS:.0e} this toolkit accepts; raise `dt`.")
    parts = [np.zeros(1)]
    for a, b, k in zip(knots[:-1], knots[1:], (int(c) for c in counts), strict=True):
        parts.append(a + (b - a) * np.arange(1, k + 1) / k)
    return np.concatenate(parts)


#: GMRES iterations (each one LU solve with stale factors) before a Newton step refactors instead.
_KRYLOV_MAX = 12

#: Ampere; a KCL residual this small counts as converged whatever its relative size (ngspice's abstol
#: in the netlists this package writes), since near 0 V the relative error is pure rounding.
_ABSTOL = 1e-18


class _StepFailed(Exception):
    pass


#: A cell whose Newton conductance differs from a kept factorization's by more than this (relative)
#: is corrected exactly (Woodbury); the rest of the mismatch only slows Newton's contraction a little
#: (a 20 mV step of a V/2 ramp moves the half-selected cells' sinh conductance by ~2 %: left to Newton).
_WOODBURY_RTOL = 0.05
#: Most cells corrected on one factorization. The dense Woodbury algebra stays this small because
#: OpenBLAS threads larger solves and products, which on a loaded machine cost 10-100 ms instead of
#: microseconds (a 100 x 100 solve took 95 ms at load 15 on 2 cores).
_WOODBURY_MAX = 32
#: New Woodbury columns (one LU solve each) beyond which a fresh factorization is made instead
#: (a factorization costs about 80 solves at 32 x 32, 55 at 64 x 64).
_WOODBURY_NEW = 24
#: Cached Woodbury columns per factorization before the cache is emptied (memory bound).
_WOODBURY_COLS = 1024
#: LU factorizations kept per stepper (rise, flat top, fall and read Jacobians differ).
_WOODBURY_BASES = 4


class _Base:
    """One LU factorization of ``A_w + P^T diag(g) P + diag(cdt)`` and its cached Woodbury columns."""

    __slots__ = ("g", "cdt", "lu", "cols", "used", "last")

    def __init__(self, g: FloatArray, cdt: FloatArray, lu: spla.SuperLU, used: int) -> None:
        self.g, self.cdt, self.lu = g.copy(), cdt.copy(), lu
        self.cols: dict[int, FloatArray] = {}  # cell -> J0^{-1} p_cell (with a trailing zero)
        self.used = used
        self.last: tuple[IntArray, FloatArray, FloatArray] | None = None  # K, Z and P_K Z of the last call


class _Stepper:
    """The assembled grid system of one transient circuit and its Newton step (see the module notes)."""

    def __init__(self, circuit: TransientCircuit, options: TransientOptions) -> None:
        net = circuit.netlist
        self.circuit, self.options, self.model = circuit, options, circuit.model
        nn = net.n_nodes
        fixed = np.unique(net.source_node)
        is_fixed = np.zeros(nn, bool)
        is_fixed[fixed] = True
        unknown = np.flatnonzero(~is_fixed)
        self.fixed, self.unknown = fixed, unknown
        # one source per fixed node gives its voltage (sources shorted together agree: build_netlist)
        first: dict[int, int] = {}
        for s, node in enumerate(net.source_node):
            first.setdefault(int(node), s)
        self.fixed_src = np.array([first[int(k)] for k in fixed], dtype=np.int64)
        self.fixed_index_of_source = np.searchsorted(fixed, net.source_node)
        self.source_share = np.bincount(net.source_node, minlength=nn)[net.source_node].astype(np.float64)
        pos = np.full(nn, -1, np.int64)
        pos[unknown] = np.arange(unknown.size)
        fpos = np.full(nn, -1, np.int64)
        fpos[fixed] = np.arange(fixed.size)
        a, b = net.resistor_nodes[:, 0], net.resistor_nodes[:, 1]
        g = 1.0 / net.resistor_values
        full = sp.coo_matrix((np.concatenate([g, g, -g, -g]), (np.concatenate([a, b, a, b]), np.concatenate([a, b, b, a]))),
                             shape=(nn, nn)).tocsr()
        self.W_fixed = full[fixed].tocsr()                  # wire currents leaving the fixed nodes
        self.A_w = full[unknown][:, unknown].tocsc()
        self.C_w = full[unknown][:, fixed].tocsr()
        self.abs_A, self.abs_C = abs(self.A_w), abs(self.C_w)
        r, c = net.row_node.ravel(), net.col_node.ravel()
        ncell = r.size
        cells = np.arange(ncell)

        def incidence(index: IntArray, size: int) -> sp.csr_matrix:
            rows, cols, vals = [], [], []
            for nodes, sign in ((r, 1.0), (c, -1.0)):
                ok = index[nodes] >= 0
                rows.append(cells[ok])
                cols.append(index[nodes[ok]])
                vals.append(np.full(ok.sum(), sign))
            return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(ncell, size))

        self.r_node, self.c_node = r, c
        self.nn = nn
        self.affine = bool(getattr(circuit.model, "state_affine", False))
        self.P_u = incidence(pos, unknown.size)
        self.P_f = incidence(fpos, fixed.size)
        self.P_uT = self.P_u.T.tocsr()
        self.P_fT = self.P_f.T.tocsr()
        self.abs_PT = abs(self.P_uT)
        self.cap = circuit.node_capacitance[unknown]
        # capacitance on source-held nodes (a line end with a 0 ohm driver): its current comes from
        # the source, so it counts in the source current (ngspice counts it there too)
        self.cap_fixed = circuit.node_capacitance[fixed]
        self.has_cap_fixed = bool(self.cap_fixed.any())
        self.shape = net.shape
        self.use(circuit, options)
        self.lu = None
        self.lu_dc = None
        # Woodbury path: unknown-node index of each cell's row and column node (n_unknown: fixed)
        nu = unknown.size
        self.r_idx = np.where(pos[r] >= 0, pos[r], nu)
        self.c_idx = np.where(pos[c] >= 0, pos[c], nu)
        self.bases: list[_Base] = []
        self.woodbury_max = _WOODBURY_MAX
        self.last_base: _Base | None = None
        self.last_step: tuple[FloatArray, FloatArray] | None = None
        self.converged: tuple[FloatArray, FloatArray, FloatArray] | None = None
        self.damped = False  # the last Newton update was cut to ``max_step``
        self.last_dc: FloatArray | None = None
        self.force_factor = False
        self.uses = 0
        self.krylov = 0
        self.factorizations = 0
        self.iterations = 0

    # --------------------------------------------------------------- pieces
    def use(self, circuit: TransientCircuit, options: TransientOptions, scale: float = 1.0) -> None:
        """Take this circuit (same structure), options and source scale for the next analysis."""
        self.circuit, self.options, self.scale = circuit, options, scale
        self.knots = np.asarray(circuit.breakpoints)
        self.table = np.asarray(circuit._table()) * scale  # (K, S), every source at every corner
        self.table_fixed = self.table[:, self.fixed_src]

    def sources(self, t: float, table: FloatArray) -> FloatArray:
        """Volt, the rows of ``table`` (one per corner) interpolated at ``t`` (as
        :meth:`TransientCircuit.source_voltages`, times the scale)."""
        knots = self.knots
        if knots.size == 1:
            return table[0].copy()
        tt = min(max(t, 0.0), float(knots[-1]))
        k = min(max(int(np.searchsorted(knots, tt, side="right")) - 1, 0), knots.size - 2)
        lam = (tt - knots[k]) / (knots[k + 1] - knots[k])
        return table[k] * (1 - lam) + table[k + 1] * lam

    def vfixed(self, t: float) -> FloatArray:
        return self.sources(t, self.table_fixed)

    def cell_voltage(self, x: FloatArray, vf: FloatArray) -> FloatArray:
        v_all = np.empty(self.nn)
        v_all[self.unknown] = x
        v_all[self.fixed] = vf
        return v_all[self.r_node] - v_all[self.c_node]

    def solve_state(self, u: FloatArray, rhs: FloatArray, w_start: FloatArray,
                    ht: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per-cell solution of ``w - ht f(u, w) = rhs``, ``dw/du`` and ``f`` (vectorised scalar Newton;
        one iteration is exact when ``f`` is affine in ``w``, as for the linear and no windows)."""
        w = w_start.copy()
        for _ in range(50):
            f, fu, fw = self.model.rate_partials(u, w)
            den = 1.0 - ht * fw
            dw = (rhs - w + ht * f) / den
            w = w + dw
            if self.affine or np.all(np.abs(dw) <= 1e-15):
                break
        else:
            raise _StepFailed("state equation")
        wp = self.model.project(w)
        f, fu, fw = self.model.rate_partials(u, wp)
        dwdu = np.where(wp == w, ht * fu / (1.0 - ht * fw), 0.0)
        return wp, dwdu, f

    def step(self, x_n: FloatArray, w_n: FloatArray, f_n: FloatArray, ic_n: FloatArray, t1: float, h: float,
             theta: float, x_guess: FloatArray | None = None) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """One step to ``t1``; returns ``x, w, f(u, w), i_C`` or raises _StepFailed."""
        opts = self.options
        vf = self.vfixed(t1)
        ht = h * theta
        rhs_w = w_n + h * (1 - theta) * f_n
        cdt = self.cap / ht
        cfix = self.C_w @ vf
        x = x_n.copy() if x_guess is None else x_guess.copy()
        if x_guess is None and self.options.linear_solver == "woodbury":
            x = self.scaled_guess(vf, x)
        self.damped = False
        w = w_n
        prev = np.inf
        for it in range(opts.maxiter):
            u = self.cell_voltage(x, vf)
            w, dwdu, f = self.solve_state(u, rhs_w, w, ht)
            i_cell, di_du, di_dw = self.model.current_partials(u, w)
            ic = cdt * (x - x_n) - (1 - theta) / theta * ic_n
            F = self.A_w @ x + cfix + self.P_uT @ i_cell + ic
            scale = self.abs_A @ np.abs(x) + self.abs_C @ np.abs(vf) + self.abs_PT @ np.abs(i_cell) + np.abs(ic) + np.abs(cdt * x_n)
            with np.errstate(invalid="ignore", divide="ignore"):
                err = float(np.max(np.where(scale > 0, np.abs(F) / scale, np.abs(F)), initial=0.0))
            if np.max(np.abs(F), initial=0.0) <= _ABSTOL:  # all currents at the level of rounding at 0 V
                err = 0.0
            if not np.isfinite(err):
                raise _StepFailed("non-finite residual")
            if err <= opts.newton_tol:
                self.iterations += it
                if np.any(vf):
                    self.last_step = (vf, x)
                self.converged = (x, w, i_cell)
                return x, w, f, ic
            fnorm = float(np.max(np.abs(F), initial=0.0))
            if fnorm > 0.25 * prev:  # a stale factorization no longer contracts: factor J
                self.force_factor = True
            prev = fnorm
            geff = di_du + di_dw * dwdu
            try:
                dx = self.newton_dx(geff, cdt, F, "lu")
            except RuntimeError as exc:  # singular Jacobian
                raise _StepFailed(str(exc)) from exc
            big = float(np.max(np.abs(dx), initial=0.0))
            self.damped = big > opts.max_step
            if self.damped:
                dx *= opts.max_step / big
                prev = np.inf  # a damped step is not judged by its contraction
            x = x + dx
        self.iterations += opts.maxiter
        self.lu = None
        self.force_factor = True
        raise _StepFailed(f"Newton did not converge in {opts.maxiter} iterations (KCL error {err:.3g})")

    def scaled_guess(self, vf: FloatArray, x: FloatArray) -> FloatArray:
        """A Newton start for a step with no extrapolation (the first after a corner): when the
        sources are a multiple ``c`` of those at the last accepted step of this stepper (one pulse
        shape on one bias pattern), ``c`` times that step's node voltages (exact for ohmic cells);
        otherwise ``x``. Only the start changes: Newton still iterates to ``newton_tol``."""
        ref = self.last_step
        if ref is None or ref[0].shape != vf.shape:
            return x
        vr, xr = ref
        nr = float(vr @ vr)
        if nr == 0.0:
            return x
        c = float(vf @ vr) / nr
        vmax = float(np.max(np.abs(vf), initial=0.0))
        if np.max(np.abs(vf - c * vr), initial=0.0) > 1e-12 * max(vmax, 1e-300):
            return x
        guess = c * xr
        # a resistive circuit's node voltages lie within its sources' (maximum principle), so the
        # scaled guess does too when it is the exact one. Beyond that the reference step's node
        # voltages were not proportional to its sources: charge held by line capacitance at a step
        # whose sources were at rounding level (1e-15 V at the end of a fall), which c ~ 1e12 made
        # mega-volt guesses that overflowed the sinh cells and failed the step.
        if float(np.max(np.abs(guess), initial=0.0)) > vmax * (1.0 + 1e-6):
            return x
        return guess

    def newton_dx(self, geff: FloatArray, cdt: FloatArray, F: FloatArray, slot: str) -> FloatArray:
        """The Newton update ``-J^{-1} F`` by the linear solver the options name."""
        if self.options.linear_solver == "woodbury":
            return self.woodbury_dx(geff, cdt, F)
        return self.gmres_dx(geff, cdt, F, slot)

    def _factor(self, geff: FloatArray, cdt: FloatArray) -> _Base:
        J = (self.A_w + self.P_uT @ sp.diags(geff) @ self.P_u + sp.diags(cdt)).tocsc()
        base = _Base(geff, cdt, spla.splu(J, permc_spec="MMD_AT_PLUS_A"), self.uses)
        self.factorizations += 1
        if self.force_factor and self.last_base in self.bases:
            self.bases.remove(self.last_base)  # it no longer contracts here: replace it
        elif len(self.bases) >= _WOODBURY_BASES:
            self.bases.remove(min(self.bases, key=lambda b: b.used))
        self.bases.append(base)
        self.last_base = base
        return base

    def woodbury_dx(self, geff: FloatArray, cdt: FloatArray, F: FloatArray) -> FloatArray:
        """``-J^{-1} F`` from the kept factorization ``J0`` nearest to ``J``, exact in the cells ``K``
        whose conductance moved by more than ``_WOODBURY_RTOL``:
        ``(J0 + P_K^T D P_K)^{-1} = J0^{-1} - Z (I + D P_K Z)^{-1} D P_K J0^{-1}``, ``Z = J0^{-1} P_K^T``.

        The other cells' small mismatch makes this an inexact Newton step (linear contraction);
        the caller sets ``force_factor`` when an undamped step stops the residual falling fast, and
        this call then factors ``J`` itself.
        """
        self.uses += 1
        best, best_k, best_d = None, np.zeros(0, np.int64), np.zeros(0)
        if not self.force_factor:
            for b in self.bases:
                if b.cdt.shape != cdt.shape or not np.array_equal(b.cdt, cdt):
                    continue
                d = geff - b.g
                moved = np.flatnonzero(np.abs(d) > _WOODBURY_RTOL * np.abs(b.g))
                if moved.size <= self.woodbury_max and (best is None or moved.size < best_k.size):
                    best, best_k, best_d = b, moved, d
        if best is None:
            base = self._factor(geff, cdt)
            self.force_factor = False
            return -base.lu.solve(F)
        self.force_factor = False
        best.used = self.uses
        self.last_base = best
        y = -best.lu.solve(F)
        if best_k.size == 0:
            return y
        # the correction is exact for any superset of the moved cells: keep the last set while it
        # covers them (its columns and P_K Z stay), grow it while it is small
        if best.last is not None:
            last_k = best.last[0]
            mask = np.zeros(geff.size, bool)
            mask[last_k] = True
            if mask[best_k].all():
                best_k = last_k
            elif last_k.size + best_k.size <= self.woodbury_max:
                mask[best_k] = True
                best_k = np.flatnonzero(mask)
        ri, ci = self.r_idx[best_k], self.c_idx[best_k]
        if best.last is not None and best.last[0] is best_k:
            Z, pz = best.last[1], best.last[2]
        else:
            missing = [int(k) for k in best_k if int(k) not in best.cols]
            if missing:
                if len(best.cols) + len(missing) > _WOODBURY_COLS:
                    best.cols.clear()
                    missing = [int(k) for k in best_k]
                if len(missing) > _WOODBURY_NEW:
                    if self.damped:  # a voltage-limited step is no Newton step anyway: the chord suffices
                        return y
                    base = self._factor(geff, cdt)  # cheaper to factor J itself (kept beside ``best``)
                    return -base.lu.solve(F)
                nu = F.size
                e = np.zeros(nu + 1)
                for k in missing:  # one solve per column: SuperLU's multi-RHS solve is far slower
                    e[self.r_idx[k]] += 1.0
                    e[self.c_idx[k]] -= 1.0
                    best.cols[k] = np.append(best.lu.solve(e[:nu]), 0.0)
                    e[self.r_idx[k]] = e[self.c_idx[k]] = 0.0
            Z = np.stack([best.cols[int(k)] for k in best_k], axis=1)  # (n + 1, k)
            pz = Z[ri] - Z[ci]
            best.last = (best_k, Z, pz)
        yp = np.append(y, 0.0)
        py = yp[ri] - yp[ci]
        dk = best_d[best_k]
        # a sinh cell far beyond its operating range makes dk overflow: checked here, not warned
        with np.errstate(all="ignore"):
            small = np.eye(best_k.size) + dk[:, None] * pz
            try:
                coef: FloatArray | None = np.linalg.solve(small, dk * py)
            except np.linalg.LinAlgError:  # the corrected Jacobian is singular
                coef = None
            dx = None if coef is None else y - Z[:-1] @ coef
        if dx is None or not np.isfinite(dx).all():  # singular or beyond double range: factor J directly
            self.force_factor = True
            base = self._factor(geff, cdt)
            self.force_factor = False
            return -base.lu.solve(F)
        return dx

    def gmres_dx(self, geff: FloatArray, cdt: FloatArray, F: FloatArray, slot: str) -> FloatArray:
        """The Newton update ``-J^{-1} F`` with ``J = A_w + P^T diag(geff) P + diag(cdt)``.

        GMRES preconditioned by the LU factors of an earlier Jacobian (kept in ``slot``) first:
        between steps and pulses only the cells that switch change ``J`` noticeably, a low-rank
        change that GMRES resolves in a few iterations, each one LU solve. A fresh factorization
        only when GMRES needs more than ``_KRYLOV_MAX`` iterations.
        """
        n = F.size
        lu = getattr(self, slot)
        if lu is not None:
            jop = spla.LinearOperator((n, n), dtype=np.float64,
                                      matvec=lambda v: self.A_w @ v + self.P_uT @ (geff * (self.P_u @ v)) + cdt * v)
            pre = spla.LinearOperator((n, n), dtype=np.float64, matvec=lu.solve)
            count = [0]

            def tick(_: object) -> None:
                count[0] += 1

            dx, info = spla.gmres(jop, -F, rtol=1e-9, atol=0.0, restart=_KRYLOV_MAX, maxiter=1, M=pre,
                                  callback=tick, callback_type="pr_norm")
            self.krylov += count[0]
            if info == 0 and np.isfinite(dx).all():
                return np.asarray(dx)
        J = (self.A_w + self.P_uT @ sp.diags(geff) @ self.P_u + sp.diags(cdt)).tocsc()
        lu = spla.splu(J, permc_spec="MMD_AT_PLUS_A")
        setattr(self, slot, lu)
        self.factorizations += 1
        return -lu.solve(F)

    def initial(self, w0: FloatArray) -> FloatArray:
        """Node voltages at t = 0 (states frozen: a DC solve with the cells at G(w0)).

        Newton starts at 0 V, or (sources on, Woodbury path) at the last DC solution of this stepper,
        e.g. the previous verify read. Where the warm start does not converge it starts again at 0 V:
        a 3x3 V/2 programming run with ideal (0 ohm) drivers and sense ends stalled at a KCL error of 1
        from the previous read's solution, where a start at 0 V converges.
        """
        vf = self.vfixed(0.0)
        if self.options.linear_solver == "woodbury" and self.last_dc is not None and np.any(vf):
            x, err = self._dc_newton(self.last_dc.copy(), vf, w0)  # the last DC solution
            if x is not None:
                return x
            self.force_factor = True  # its factors belong to the stalled start
        x, err = self._dc_newton(np.zeros(self.unknown.size), vf, w0)
        if x is not None:
            return x
        raise ConvergenceError(f"the operating point at t = 0 did not converge (KCL error {err:.3g})",
                               iterations=self.options.maxiter * 2, residual=err)

    def _dc_newton(self, x: FloatArray, vf: FloatArray, w0: FloatArray) -> tuple[FloatArray | None, float]:
        """Damped Newton on the DC problem from ``x``: the converged node voltages (kept as the next
        warm start) and their KCL error, or None and the last error."""
        prev = np.inf
        self.damped = False
        err = np.inf
        for _ in range(self.options.maxiter * 2):
            u = self.cell_voltage(x, vf)
            i_cell, di_du, _ = self.model.current_partials(u, w0)
            F = self.A_w @ x + self.C_w @ vf + self.P_uT @ i_cell
            scale = self.abs_A @ np.abs(x) + self.abs_C @ np.abs(vf) + self.abs_PT @ np.abs(i_cell)
            with np.errstate(invalid="ignore", divide="ignore"):
                err = float(np.max(np.where(scale > 0, np.abs(F) / scale, np.abs(F)), initial=0.0))
            if err <= self.options.newton_tol or np.max(np.abs(F), initial=0.0) <= _ABSTOL:
                self.last_dc = x
                return x, err
            fnorm = float(np.max(np.abs(F), initial=0.0))
            if fnorm > 0.25 * prev:
                self.force_factor = True
            prev = fnorm
            # the factors of a transient step (capacitor and state terms) belong to another
            # Jacobian than this DC problem's; keep separate ones
            dx = self.newton_dx(di_du, np.zeros_like(x), F, "lu_dc")
            big = float(np.max(np.abs(dx), initial=0.0))
            self.damped = big > self.options.max_step
            if self.damped:
                prev = np.inf
            x = x + dx * min(1.0, self.options.max_step / max(big, 1e-300))
        return None, err

    def source_currents(self, x: FloatArray, vf: FloatArray, w: FloatArray, ic: FloatArray,
                        icf: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
        """Current each source delivers (A) and cell currents, from the node voltages (KCL at fixed
        nodes; ``icf`` the companion currents of the capacitance at the fixed nodes)."""
        net = self.circuit.netlist
        v_all = np.zeros(net.n_nodes)
        v_all[self.unknown] = x
        v_all[self.fixed] = vf
        done = self.converged
        if done is not None and done[0] is x and done[1] is w:  # the step's own cell currents
            i_cell = done[2]
        else:
            i_cell = self.model.current(self.cell_voltage(x, vf), w)
        out = self.W_fixed @ v_all + self.P_fT @ i_cell  # current leaving each fixed node
        if icf is not None:
            out = out + icf
        # sources shorted onto one node share its current equally (as the DC backends do)
        return out[self.fixed_index_of_source] / self.source_share, i_cell


class TransientWorkspace:
    """Assembled grid systems and LU factors kept between analyses of circuits of the same structure.

    Write-verify applies many pulses to one array under one scheme: the wires, the driven ends
    and the cells' model stay, only the amplitudes and the states change. Passing one workspace to
    every :func:`simulate_transient` and :func:`operating_point` call skips the assembly and reuses
    the last LU factors as long as Newton still contracts with them. Results are the same as
    without a workspace up to the Newton tolerance.

    Parameters
    ----------
    max_entries : int
        Structures kept (least recently used dropped first).
    """

    def __init__(self, max_entries: int = 4) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigError(f"`max_entries` must be a positive int; got {max_entries!r}.")
        self.max_entries = max_entries
        self._entries: dict[tuple[object, ...], _Stepper] = {}
        self._recent: list[tuple[TransientCircuit, _Stepper]] = []

    def _stepper(self, circuit: TransientCircuit, options: TransientOptions) -> _Stepper:
        net = circuit.netlist
        for known, hit in self._recent:  # the same circuit again (a pulse train, a verify read)
            if known is circuit:
                hit.use(circuit, options)
                return hit
        key = (circuit.model, net.shape, net.resistor_nodes.tobytes(), net.resistor_values.tobytes(),
               net.source_node.tobytes(), net.row_node.tobytes(), net.col_node.tobytes(),
               circuit.node_capacitance.tobytes())
        found = self._entries.pop(key, None)
        if found is None:
            st = _Stepper(circuit, options)
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
        else:
            st = found
        self._entries[key] = st
        st.use(circuit, options)
        self._recent = [(circuit, st), *self._recent[:self.max_entries - 1]]
        return st


def _start(circuit: TransientCircuit, options: TransientOptions, workspace: TransientWorkspace | None,
           state0: ArrayLike | None, scale: float) -> tuple[_Stepper, FloatArray]:
    """The stepper of ``circuit`` (from the workspace if given) set to ``scale``, and the start state."""
    if not isinstance(circuit, TransientCircuit):
        raise ConfigError(f"`circuit` must be a TransientCircuit; got {type(circuit).__name__}.")
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.floating) or not np.isfinite(scale):
        raise ConfigError(f"`scale` must be a finite number; got {scale!r}.")
    st = workspace._stepper(circuit, options) if workspace is not None else _Stepper(circuit, options)
    if scale != 1.0:
        st.use(circuit, options, float(scale))
    # check_state converts: a float conversion before it let booleans through and raised a bare ValueError for text
    w0 = circuit.state0 if state0 is None else check_state(state0, circuit.netlist.shape)
    return st, np.array(w0, dtype=np.float64).ravel()


def transient_options(options: TransientOptions | None) -> TransientOptions:
    """``options``, or the defaults for None; ConfigError naming ``options`` for anything else (a string
    given there once ended in AttributeError: 'str' object has no attribute 'stop')."""
    if options is None:
        return TransientOptions()
    if not isinstance(options, TransientOptions):
        raise ConfigError(f"`options` must be TransientOptions or None; got {type(options).__name__}.")
    return options


def operating_point(circuit: TransientCircuit, options: TransientOptions | None = None, *,
                    workspace: TransientWorkspace | None = None, state0: ArrayLike | None = None,
                    scale: float = 1.0) -> TransientResult:
    """The DC solution at ``t = 0`` with every state frozen at ``circuit.state0`` (a one-point result).

    This is a DC read of the array in its present state (e.g. a verify read): the waveforms' values
    at 0 s are the applied voltages. ``state0`` and ``scale`` as in :func:`simulate_transient`.
    """
    opts = transient_options(options)
    t0 = time.perf_counter()
    st, w = _start(circuit, opts, workspace, state0, scale)
    x = st.initial(w)
    vf = st.vfixed(0.0)
    si, icell = st.source_currents(x, vf, w, np.zeros_like(x))
    m, n = st.shape
    return TransientResult(times=np.zeros(1), state=w.reshape(1, m, n), cell_voltage=st.cell_voltage(x, vf).reshape(1, m, n),
                           cell_current=icell.reshape(1, m, n), source_voltage=vf[st.fixed_index_of_source][None, :],
                           source_current=si[None, :], backend="sparse", method=opts.method, steps=0,
                           wall_s=time.perf_counter() - t0)


def simulate_transient(circuit: TransientCircuit, options: TransientOptions | None = None, *,
                       times: FloatArray | None = None, workspace: TransientWorkspace | None = None,
                       state0: ArrayLike | None = None, scale: float = 1.0) -> TransientResult:
    """Transient analysis of ``circuit`` with the sparse backend.

    Parameters
    ----------
    circuit : TransientCircuit
        From :func:`~xbarsim.netlists.transient.build_transient`.
    options : TransientOptions, optional
        Method, step, tolerances.
    times : ndarray, optional
        Second, an explicit increasing time grid starting at 0 (e.g. ngspice's accepted points);
        overrides ``dt`` and ``adaptive``. A failing step is still retried on a finer sub-grid. With
        the trapezoidal rule the first two steps are backward Euler, as ngspice takes them.
    workspace : TransientWorkspace, optional
        Reuse assembled systems and LU factors across calls (see :class:`TransientWorkspace`).
    state0 : array_like (M, N), optional
        Start from these states in ``[0, 1]`` instead of ``circuit.state0`` (a pulse train on one
        circuit without rebuilding it).
    scale : float
        Every source's voltage times this factor (e.g. the amplitude of one pulse of a ramp on a
        circuit built with unit amplitude); 1 leaves the circuit as built.

    Raises
    ------
    ConvergenceError
        A step failed even after ``max_retries`` retries with a quarter of the step (names ``dt``).
    """
    opts = transient_options(options)
    t_start = time.perf_counter()
    st, w = _start(circuit, opts, workspace, state0, scale)
    it0, fac0 = st.iterations, st.factorizations
    bps = circuit.breakpoints
    if times is not None:
        # a NaN compares false with everything, so it passed the ordering check and ended the run at t = 0
        grid = as_float_array(times, "times", what="strictly increasing 1-D grid of finite times in seconds")
        if grid.ndim != 1 or grid.size < 2 or grid[0] != 0.0 or (np.diff(grid) <= 0).any():
            raise ConfigError("`times` must be a strictly increasing 1-D grid starting at 0 s with >= 2 points; "
                              f"got {short_repr(grid)}.")
    else:
        grid = step_times(circuit, opts)
    stop = float(grid[-1])
    x = st.initial(w)
    vf0 = st.vfixed(0.0)
    f = st.model.rate_partials(st.cell_voltage(x, vf0), w)[0]
    ic = np.zeros_like(x)
    rec_t, rec_w, rec_v, rec_i, rec_sv, rec_si = [], [], [], [], [], []

    icf = np.zeros(st.fixed.size)  # capacitor currents at the fixed nodes (0 at the operating point)

    def record(t: float, x: FloatArray, w: FloatArray, ic: FloatArray) -> None:
        vf = st.vfixed(t)
        si, icell = st.source_currents(x, vf, w, ic, icf if st.has_cap_fixed else None)
        rec_t.append(t)
        rec_w.append(w.copy())
        rec_sv.append(st.sources(t, st.table))
        rec_si.append(si)
        if opts.record_cells:
            rec_v.append(st.cell_voltage(x, vf))
            rec_i.append(icell)

    record(0.0, x, w, ic)
    rejected = 0
    t = 0.0
    k_grid = 1
    # the step just ended at a breakpoint (or t = 0): the next trapezoidal step is backward Euler
    after_corner = True
    n_steps = 0  # accepted (sub-)steps so far
    h_adapt = opts.dt
    x_prev, h_prev = x, 0.0
    while t < stop * (1 - 1e-15):
        if opts.adaptive and times is None:
            nxt_bp = bps[bps > t * (1 + 1e-12) + 1e-300]
            limit = min(nxt_bp[0] if nxt_bp.size else stop, stop)
            h = min(h_adapt, opts.dt, limit - t)
            t_target = t + h if limit - (t + h) > 1e-9 * h else limit
        else:
            t_target = float(grid[k_grid])
        h_total = t_target - t
        # sub-steps only when retries split a failing step; they end exactly on t_target
        h = h_total
        retries = 0
        while True:
            # ngspice integrates its first two time points with backward Euler (it checks the
            # truncation error, and may raise the order, only from the second point on): an explicit
            # grid (the replay of ngspice's points) does the same
            theta = 1.0 if (opts.method == "be" or after_corner or (times is not None and n_steps < 2)) else 0.5
            try:
                # linear extrapolation of the node voltages from the last step: exact for a
                # resistive circuit on a linear ramp, so Newton starts next to the answer
                guess = x + (x - x_prev) * (h / h_prev) if h_prev > 0 else None
                x1, w1, f1, ic1 = st.step(x, w, f, ic, t + h, h, theta, guess)
            except _StepFailed as exc:
                rejected += 1
                retries += 1
                if retries > opts.max_retries or h / 4 < opts.dt_min:
                    raise ConvergenceError(
                        f"the transient step at t = {t:.6g} s did not converge even with `dt` = {h:.3g} s "
                        f"after {retries - 1} retries ({exc}); lower `dt`, raise `maxiter` or soften the pulse edges",
                        iterations=opts.maxiter, residual=float("inf")) from exc
                h /= 4
                continue
            if opts.adaptive and times is None:
                est = float(np.max(np.abs(w1 - w - h * f), initial=0.0)) / 2
                if est > opts.state_tol and h > opts.dt_min * 4:
                    rejected += 1
                    h = max(opts.dt_min, h * max(0.2, 0.9 * np.sqrt(opts.state_tol / est)))
                    continue
                h_adapt = h * min(2.0, max(0.2, 0.9 * np.sqrt(opts.state_tol / max(est, 1e-300))))
            t_new = t + h
            if abs(t_new - t_target) <= 1e-12 * max(h_total, 1e-30):
                t_new = t_target
            j = np.searchsorted(bps, t_new)
            tol = 1e-9 * h
            after_corner = bool((j < bps.size and abs(bps[j] - t_new) <= tol) or (j > 0 and abs(bps[j - 1] - t_new) <= tol))
            # no extrapolation across a corner: the slope of the sources changes there
            x_prev, h_prev = (x, t_new - t) if not after_corner else (x1, 0.0)
            if st.has_cap_fixed:  # the same companion model as the unknown nodes' capacitance
                icf = st.cap_fixed * (st.vfixed(t + h) - st.vfixed(t)) / (theta * h) - (1 - theta) / theta * icf
            x, w, f, ic, t = x1, w1, f1, ic1, t_new
            n_steps += 1
            if t >= t_target or opts.adaptive and times is None:
                break
            # a retried step continues to t_target in sub-steps of the reduced length
            h = min(h, t_target - t)
        record(t, x, w, ic)
        if not (opts.adaptive and times is None):
            k_grid += 1
    m, n = st.shape
    tarr = np.array(rec_t)
    empty = np.zeros((0, m, n))
    return TransientResult(
        times=tarr, state=np.array(rec_w).reshape(-1, m, n),
        cell_voltage=np.array(rec_v).reshape(-1, m, n) if rec_v else empty,
        cell_current=np.array(rec_i).reshape(-1, m, n) if rec_i else empty,
        source_voltage=np.array(rec_sv), source_current=np.array(rec_si),
        backend="sparse", method=opts.method, steps=len(rec_t) - 1, rejected=rejected,
        newton_iterations=st.iterations - it0, factorizations=st.factorizations - fac0,
        wall_s=time.perf_counter() - t_start)
