"""Programming one cell: what the selected, half-selected and unselected cells see under each scheme.

* :func:`analyze_write` -- one selected cell under one scheme: the selected-cell voltage after IR
  drop, the voltage distribution of the half-selected and unselected cells, driver current and
  power, and the cells above a disturb threshold.
* :func:`compare_write_schemes` -- the same for several schemes; the driven schemes (``"v/2"``,
  ``"v/3"``, ``"grounded"``) share one batched solve.
* :func:`selected_voltage_map` -- the selected-cell voltage for *every* cell position. With linear
  devices it costs ``M + N`` unit solves sharing one factorization, whatever the array size (see
  the Notes there); with nonlinear devices it solves the requested selections in batches.

Conventions (those of :meth:`xbarsim.netlists.BiasScheme.write`): the selected row is driven at
``v_write`` from its left end and the selected column is held at 0 V at its bottom end, so the cell
farthest from the drivers is ``(0, N - 1)`` (:func:`~xbarsim.analysis.far_corner`) and the nearest
``(M - 1, 0)``. Cell voltage is row minus column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr, text_table
from xbarsim._typing import BoolArray, FloatArray, IntArray, WriteSchemeName
from xbarsim._validation import readonly, short_repr
from xbarsim.analysis._common import (
    VoltageStats,
    check_cell,
    check_crossbar,
    far_corner,
    positive_voltage,
    scalar_voltage,
    scheme_levels,
    selection_bias,
    voltage_stats,
)
from xbarsim.analysis.switching import drolet_tio2_law
from xbarsim.errors import CircuitError, ConfigError
from xbarsim.netlists.bias import BiasScheme, LineDrive
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.solver.api import get_backend, solve
from xbarsim.solver.base import Backend

__all__ = [
    "DEFAULT_DISTURB_THRESHOLD",
    "WriteAnalysis",
    "WriteComparison",
    "SelectedVoltageMap",
    "TerminalResponses",
    "analyze_write",
    "compare_write_schemes",
    "diagonal_cells",
    "selected_voltage_map",
    "terminal_responses",
]

#: Volt. Default disturb threshold: the lower (RESET) mean switching threshold of the calibrated
#: TiO2 switching law :func:`xbarsim.analysis.switching.drolet_tio2_law`. A typical cell whose
#: voltage magnitude exceeds it during a write pulse changes its state.
DEFAULT_DISTURB_THRESHOLD: float = drolet_tio2_law().min_threshold


@dataclass(frozen=True, kw_only=True, eq=False)
class WriteAnalysis:
    """One programming pulse on cell ``(row, col)`` under one scheme.

    Attributes
    ----------
    scheme : str
        ``"v/2"``, ``"v/3"``, ``"grounded"`` or ``"floating"``.
    row, col : int
        The selected cell.
    v_write : float
        Volt, the programming voltage applied at the selected row's driver (negative for RESET).
    threshold : float
        Volt, the disturb threshold: an unselected cell with ``|V| > threshold`` is counted as disturbed.
    cell_voltages : ndarray, shape (M, N)
        Volt, the voltage across every cell (row minus column).
    cell_currents : ndarray, shape (M, N)
        Ampere, the current through every cell, positive from row to column.
    selected_voltage : float
        Volt, the voltage that actually reaches the selected cell after IR drop.
    selected_current : float
        Ampere, the current through the selected cell.
    half_selected_row : VoltageStats
        Cells on the selected row (the other ``N - 1`` columns).
    half_selected_col : VoltageStats
        Cells on the selected column (the other ``M - 1`` rows).
    unselected : VoltageStats
        The ``(M - 1)(N - 1)`` cells that share no line with the selected cell.
    disturbed : ndarray of bool, shape (M, N)
        Cells other than the selected one with ``|V| > threshold``.
    row_driver_current : float
        Ampere, the current the selected row's driver delivers.
    col_sink_current : float
        Ampere, the current that flows out of the selected column into its 0 V driver.
    total_driver_current : float
        Ampere, the sum over every driven line end of the magnitude of its current: what the
        drivers must source or sink together.
    power : float
        Watt, the total power delivered by the drivers (dissipated in cells and wires).
    backend : str
        Backend that solved the circuit.
    kcl_residual : float
        The solution's KCL backward error (see :class:`xbarsim.solver.Solution`).
    """

    __repr__ = compact_repr

    scheme: str
    row: int
    col: int
    v_write: float
    threshold: float
    cell_voltages: FloatArray
    cell_currents: FloatArray
    selected_voltage: float
    selected_current: float
    half_selected_row: VoltageStats
    half_selected_col: VoltageStats
    unselected: VoltageStats
    disturbed: BoolArray
    row_driver_current: float
    col_sink_current: float
    total_driver_current: float
    power: float
    backend: str
    kcl_residual: float

    def __post_init__(self) -> None:
        for name in ("cell_voltages", "cell_currents", "disturbed"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    @property
    def shape(self) -> tuple[int, int]:
        """``(M, N)`` of the array."""
        return (int(self.cell_voltages.shape[0]), int(self.cell_voltages.shape[1]))

    @property
    def selected_fraction(self) -> float:
        """Dimensionless, ``selected_voltage / v_write`` (1 with ideal wires)."""
        return self.selected_voltage / self.v_write

    @property
    def half_selected(self) -> VoltageStats:
        """All half-selected cells (selected row and selected column) together."""
        return voltage_stats(self.cell_voltages[_half_mask(self.shape, self.row, self.col)])

    @property
    def n_disturbed(self) -> int:
        """Number of unselected or half-selected cells with ``|V| > threshold``."""
        return int(np.count_nonzero(self.disturbed))

    def summary(self) -> dict[str, float | int | str]:
        """The scalar metrics as a flat dict (SI units in the key names), for tables and JSON."""
        return {
            "scheme": self.scheme,
            "v_write_V": self.v_write,
            "selected_V": self.selected_voltage,
            "selected_fraction": self.selected_fraction,
            "half_selected_worst_V": self.half_selected.worst,
            "half_selected_mean_V": self.half_selected.mean,
            "unselected_worst_V": self.unselected.worst,
            "unselected_mean_V": self.unselected.mean,
            "n_disturbed": self.n_disturbed,
            "threshold_V": self.threshold,
            "row_driver_current_A": self.row_driver_current,
            "total_driver_current_A": self.total_driver_current,
            "power_W": self.power,
        }


@dataclass(frozen=True, kw_only=True, eq=False)
class WriteComparison:
    """:class:`WriteAnalysis` of the same selection under several schemes.

    Attributes
    ----------
    results : tuple of WriteAnalysis
        One per scheme, in the order asked for.
    """

    __repr__ = compact_repr

    results: tuple[WriteAnalysis, ...]

    def figures(self) -> dict[str, object]:
        """Key numbers for the repr: array shape, selected cell, and the fraction of the write
        voltage that reaches the selected cell under each scheme."""
        first = self.results[0]
        return {"shape": first.shape, "cell": (first.row, first.col), "v_write": first.v_write,
                **{f"selected_fraction[{r.scheme}]": r.selected_fraction for r in self.results}}

    def report(self) -> str:
        """A text table: one row per scheme (volt, ampere, watt)."""
        first = self.results[0]
        head = (f"write {first.v_write:g} V on cell ({first.row}, {first.col}) of a {first.shape[0]}x{first.shape[1]} "
                f"array; disturb threshold {first.threshold:g} V")
        rows = [(r.scheme, r.selected_voltage, r.selected_fraction, r.half_selected.worst, r.unselected.worst,
                 r.n_disturbed, r.total_driver_current, r.power) for r in self.results]
        return head + "\n" + text_table(
            ("scheme", "V_sel (V)", "V_sel/V_w", "max|V| half-sel (V)", "max|V| unsel (V)", "disturbed",
             "drivers (A)", "power (W)"), rows)

    @property
    def schemes(self) -> tuple[str, ...]:
        """The schemes, in order."""
        return tuple(r.scheme for r in self.results)

    def __getitem__(self, scheme: str) -> WriteAnalysis:
        for r in self.results:
            if r.scheme == scheme:
                return r
        raise ConfigError(f"`scheme` must be one of {', '.join(map(repr, self.schemes))}; got {short_repr(scheme)}.")


def _half_mask(shape: tuple[int, int], row: int, col: int) -> BoolArray:
    mask = np.zeros(shape, dtype=bool)
    mask[row, :] = True
    mask[:, col] = True
    mask[row, col] = False
    return mask


def _threshold(threshold: Any) -> float:
    if threshold is None:
        return DEFAULT_DISTURB_THRESHOLD
    return positive_voltage(threshold, "threshold")


def _schemes(schemes: Any) -> tuple[str, ...]:
    if isinstance(schemes, str):
        schemes = (schemes,)
    out = tuple(schemes)
    if not out:
        raise ConfigError("`schemes` must name at least one scheme; got an empty sequence.")
    for s in out:
        scheme_levels(s)
    return out


def _analysis(scheme: str, row: int, col: int, v_write: float, threshold: float, cv: FloatArray, cc: FloatArray,
              i_in: FloatArray, i_out: FloatArray, src: FloatArray, power: float, backend: str,
              kcl: float) -> WriteAnalysis:
    shape = (int(cv.shape[0]), int(cv.shape[1]))
    other_cols = np.arange(shape[1]) != col
    other_rows = np.arange(shape[0]) != row
    disturbed = np.abs(cv) > threshold
    disturbed[row, col] = False
    return WriteAnalysis(
        scheme=scheme, row=row, col=col, v_write=v_write, threshold=threshold,
        cell_voltages=cv, cell_currents=cc,
        selected_voltage=float(cv[row, col]), selected_current=float(cc[row, col]),
        half_selected_row=voltage_stats(cv[row, other_cols]),
        half_selected_col=voltage_stats(cv[other_rows, col]),
        unselected=voltage_stats(cv[np.ix_(other_rows, other_cols)]),
        disturbed=disturbed,
        row_driver_current=float(i_in[row]), col_sink_current=float(i_out[col]),
        total_driver_current=float(np.abs(src).sum()), power=float(power), backend=backend, kcl_residual=kcl,
    )


def analyze_write(
    crossbar: Crossbar,
    row: int,
    col: int,
    v_write: float,
    scheme: WriteSchemeName = "v/2",
    *,
    threshold: float | None = None,
    backend: str | Backend = "sparse",
) -> WriteAnalysis:
    """Solve one programming pulse on cell ``(row, col)`` and summarise what every cell sees.

    Parameters
    ----------
    crossbar : Crossbar
        Conductances (S, the stored pattern), wires (ohm) and device law.
    row, col : int
        The selected cell; ConfigError if outside the array.
    v_write : float
        Volt, the pulse amplitude at the selected row's driver; negative for a RESET pulse, not 0.
    scheme : {"v/2", "v/3", "grounded", "floating"}
        How the unselected lines are biased (:meth:`BiasScheme.write`).
    threshold : float, optional
        Volt (> 0), disturb threshold on ``|V|``; default :data:`DEFAULT_DISTURB_THRESHOLD`.
    backend : str or Backend
        ``"sparse"`` (default), ``"ngspice"`` or a backend object.

    Returns
    -------
    WriteAnalysis
    """
    cb = check_crossbar(crossbar)
    r, c = check_cell(row, col, cb.shape)
    v = _write_voltage(v_write)
    thr = _threshold(threshold)
    scheme_levels(scheme)
    sol = solve(cb, BiasScheme.write(r, c, v, scheme, shape=cb.shape), get_backend(backend))
    return _analysis(scheme, r, c, v, thr, np.asarray(sol.cell_voltages), np.asarray(sol.cell_currents),
                     np.asarray(sol.input_currents), np.asarray(sol.output_currents),
                     np.asarray(sol.source_currents), float(np.asarray(sol.power)), sol.backend, sol.kcl_residual)


def _write_voltage(v_write: Any) -> float:
    v = scalar_voltage(v_write, "v_write")
    if v == 0.0:
        raise ConfigError("`v_write` must be a non-zero voltage in volt (negative for RESET); got 0.0.")
    return v


def compare_write_schemes(
    crossbar: Crossbar,
    v_write: float,
    *,
    cell: tuple[int, int] | None = None,
    schemes: Sequence[str] = ("v/2", "v/3", "floating", "grounded"),
    threshold: float | None = None,
    backend: str | Backend = "sparse",
) -> WriteComparison:
    """:func:`analyze_write` of one selection under several schemes.

    The driven schemes (``"v/2"``, ``"v/3"``, ``"grounded"``) drive the same line ends and differ
    only in voltages, so they are solved as one batch (one factorization, or one batched Newton
    solve); ``"floating"`` has other sources and is solved on its own.

    Parameters
    ----------
    crossbar : Crossbar
        Conductances (S), wires (ohm), device law.
    v_write : float
        Volt, non-zero pulse amplitude.
    cell : (int, int), optional
        The selected cell; default the far corner ``(0, N - 1)``, where IR drop is worst.
    schemes : sequence of str
        Schemes to compare, in the order wanted.
    threshold : float, optional
        Volt, disturb threshold (default :data:`DEFAULT_DISTURB_THRESHOLD`).
    backend : str or Backend
        Solver backend.

    Returns
    -------
    WriteComparison
    """
    cb = check_crossbar(crossbar)
    r, c = far_corner(cb.shape) if cell is None else check_cell(*_pair(cell), cb.shape)
    v = _write_voltage(v_write)
    thr = _threshold(threshold)
    names = _schemes(schemes)
    be = get_backend(backend)
    out: dict[str, WriteAnalysis] = {}
    driven = [s for s in dict.fromkeys(names) if scheme_levels(s) is not None]
    if driven:
        lv = np.array([scheme_levels(s) for s in driven], dtype=np.float64) * v  # (B, 2)
        bias = selection_bias(cb.shape, r, c, np.full(len(driven), v), (lv[:, 0], lv[:, 1]))
        sol = solve(cb, bias, be)
        for b, s in enumerate(driven):
            out[s] = _analysis(s, r, c, v, thr, np.asarray(sol.cell_voltages[b]), np.asarray(sol.cell_currents[b]),
                               np.asarray(sol.input_currents[b]), np.asarray(sol.output_currents[b]),
                               np.asarray(sol.source_currents[b]), float(np.asarray(sol.power)[b]), sol.backend,
                               sol.kcl_residual)
    if "floating" in names:
        out["floating"] = analyze_write(cb, r, c, v, "floating", threshold=thr, backend=be)
    return WriteComparison(results=tuple(out[s] for s in dict.fromkeys(names)))


def _pair(cell: Any) -> tuple[Any, Any]:
    if not isinstance(cell, (tuple, list)) or len(cell) != 2:
        raise ConfigError(f"`cell` must be a (row, col) pair; got {short_repr(cell)}.")
    return cell[0], cell[1]


# --------------------------------------------------------------------------- superposition
@dataclass(frozen=True, kw_only=True, eq=False)
class TerminalResponses:
    """Linear response of a crossbar to each of its ``T = M + N`` line-end drivers.

    The reference circuit drives every row at its left end and every column at its bottom end
    (through the driver and sense resistances). Terminal ``t < M`` is row ``t``'s driver,
    terminal ``M + j`` column ``j``'s.

    Attributes
    ----------
    cell_voltages : ndarray, shape (T, M, N)
        Volt per volt: cell voltages when terminal ``t`` is at 1 V and every other at 0 V.
    admittance : ndarray, shape (T, T)
        Siemens: the port admittance matrix ``Y`` of the array seen from its terminals, ``i = Y v``
        with ``i`` the currents the drivers deliver (a Laplacian: rows sum to zero).
    backend : str
        Backend that produced the responses.
    """

    __repr__ = compact_repr

    cell_voltages: FloatArray
    admittance: FloatArray
    backend: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "cell_voltages", readonly(self.cell_voltages))
        object.__setattr__(self, "admittance", readonly(self.admittance))

    @property
    def shape(self) -> tuple[int, int]:
        """``(M, N)``."""
        return (int(self.cell_voltages.shape[1]), int(self.cell_voltages.shape[2]))


def terminal_responses(crossbar: Crossbar, *, backend: str | Backend = "sparse", chunk: int = 64) -> TerminalResponses:
    """Unit responses of a crossbar with linear devices to each of its ``M + N`` line-end drivers.

    Parameters
    ----------
    crossbar : Crossbar
        Must have a linear device law (superposition).
    backend : str or Backend
        Solver backend; each chunk of ``chunk`` unit excitations is one batched solve (one
        factorization on the sparse backend, one ngspice run per excitation on ngspice).
    chunk : int
        Excitations per batched solve (bounds memory: a batch holds ``chunk x 2MN`` node voltages).

    Returns
    -------
    TerminalResponses
        Holds ``(M + N) M N`` floats: 34 MB at 128 x 128, 270 MB at 256 x 256.
    """
    cb = check_crossbar(crossbar)
    if not cb.device.linear:
        raise ConfigError(
            f"terminal responses need a linear device law (superposition); got {cb.device.name!r}. "
            "Solve the selections explicitly instead."
        )
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ConfigError(f"`chunk` must be a positive int; got {short_repr(chunk)}.")
    m, n = cb.shape
    t_all = m + n
    be = get_backend(backend)
    d = np.empty((t_all, m, n))
    y = np.empty((t_all, t_all))
    name = ""
    for start in range(0, t_all, int(chunk)):
        idx = np.arange(start, min(start + int(chunk), t_all))
        e = np.zeros((idx.size, t_all))
        e[np.arange(idx.size), idx] = 1.0
        bias = BiasScheme(row_left=LineDrive(voltage=e[:, :m], driven=True),
                          col_bottom=LineDrive(voltage=e[:, m:], driven=True))
        sol = solve(cb, bias, be)
        name = sol.backend
        d[idx] = np.asarray(sol.cell_voltages)
        # currents delivered by each terminal: rows deliver input_currents, a column's source
        # delivers minus the current that flows into it (output_currents)
        y[:, idx] = np.concatenate([np.asarray(sol.input_currents), -np.asarray(sol.output_currents)], axis=1).T
    return TerminalResponses(cell_voltages=d, admittance=0.5 * (y + y.T), backend=name)


def _laplacian_pinv(y: FloatArray, labels: IntArray) -> FloatArray:
    """Moore-Penrose pseudo-inverse of a graph Laplacian whose connected components are ``labels``:
    per component ``(Y + a J)^-1 - J / a`` with ``J = 11^T / T``, exact when ``Y 1 = 0`` on it and
    well conditioned for ``a`` of the order of ``Y``; zero between components. (One formula over a
    disconnected ``Y`` is not its pseudo-inverse: a row of open cells moved the floating-scheme
    map by 5e-5 of the write voltage.)"""
    p = np.zeros_like(y)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if idx.size == 1:  # a line with no conducting cell: Y is 0 there (up to rounding), and so is Y^+
            continue
        sub = y[np.ix_(idx, idx)]
        a = float(np.abs(np.diag(sub)).mean()) or 1.0
        jj = np.full((idx.size, idx.size), 1.0 / idx.size)
        try:
            p[np.ix_(idx, idx)] = np.linalg.inv(sub + a * jj) - jj / a
        except np.linalg.LinAlgError as exc:  # admittances at the underflow limit (1e-300 S cells)
            raise CircuitError(f"the port admittance of the line ends is numerically singular ({exc}): conductances "
                               "or wire resistances this extreme cannot be solved in double precision.") from exc
    return p


def _terminal_components(linked: BoolArray) -> IntArray:
    """Connected component of each of the ``M + N`` terminals (rows, then columns), two terminals being
    joined by every cell that conducts (``linked``, (M, N))."""
    m, n = linked.shape
    labels = np.arange(m + n)
    rows, cols = np.nonzero(linked)
    cols = cols + m
    while True:  # hook each cell's larger label under its smaller one until nothing changes
        lo = np.minimum(labels[rows], labels[cols])
        new = labels.copy()
        np.minimum.at(new, rows, lo)
        np.minimum.at(new, cols, lo)
        new = new[new]
        if np.array_equal(new, labels):
            return labels
        labels = new


def _superposed_selected(resp: TerminalResponses, v_write: float, scheme: str, linked: BoolArray) -> FloatArray:
    """Selected-cell voltage for every selection, from the unit responses (volt, (M, N)); ``linked``
    marks the cells that conduct (``g > 0``), which join the terminals into components."""
    m, n = resp.shape
    d = resp.cell_voltages
    levels = scheme_levels(scheme)
    if levels is not None:
        fr, fc = levels
        s_rows = d[:m].sum(axis=0)
        s_cols = d[m:].sum(axis=0)
        own_row = np.einsum("iij->ij", d[:m])  # response of cell (i, j) to its own row driver
        own_col = np.einsum("jij->ij", d[m:])  # ... to its own column driver
        return v_write * (fr * s_rows + fc * s_cols + (1.0 - fr) * own_row - fc * own_col)
    # floating: only the selected row (a = i) and column (b = M + j) are driven; every other
    # terminal carries no current. With P = Y^+ the terminal voltages are I (P[:, a] - P[:, b]) + c,
    # the driven pair fixes I = v / (P_aa + P_bb - 2 P_ab), and the constant c puts no voltage on
    # any cell.
    # With several components (a line whose cells are all open), each one is solved on its own: the
    # components that hold neither driven line float and carry no current. A row and a column in
    # different components (an open selected cell with no path between them) sit at v and 0.
    labels = _terminal_components(linked)
    p = _laplacian_pinv(resp.admittance, labels)
    x = np.einsum("tij,ti->ij", d, p[:, :m])
    z = np.einsum("tij,tj->ij", d, p[:, m:])
    r_ab = np.diag(p)[:m, None] + np.diag(p)[None, m:] - 2.0 * p[:m, m:]
    joined = labels[:m, None] == labels[None, m:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(joined, v_write * (x - z) / np.where(joined, r_ab, 1.0), v_write)


@dataclass(frozen=True, kw_only=True, eq=False)
class SelectedVoltageMap:
    """The voltage reaching the selected cell, for every cell taken as the selected one.

    Attributes
    ----------
    scheme : str
        The write scheme.
    v_write : float
        Volt, the pulse amplitude at the driver.
    voltage : ndarray, shape (M, N)
        Volt. ``voltage[i, j]`` is the selected-cell voltage when cell ``(i, j)`` is programmed;
        NaN where it was not evaluated.
    method : str
        ``"superposition"`` (linear devices: every cell from ``M + N`` unit solves) or ``"direct"``
        (the evaluated selections were solved one by one or in batches).
    backend : str
        Backend that solved the circuits.
    """

    __repr__ = compact_repr

    scheme: str
    v_write: float
    voltage: FloatArray
    method: str
    backend: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "voltage", readonly(self.voltage))

    @property
    def fraction(self) -> FloatArray:
        """Dimensionless, ``voltage / v_write``."""
        return self.voltage / self.v_write

    @property
    def near_voltage(self) -> float:
        """Volt, the selected-cell voltage at the near corner ``(M - 1, 0)``."""
        return float(self.voltage[-1, 0])

    @property
    def far_voltage(self) -> float:
        """Volt, the selected-cell voltage at the far corner ``(0, N - 1)``."""
        return float(self.voltage[0, -1])

    def profile(self) -> tuple[IntArray, FloatArray]:
        """Evaluated cells on the diagonal from the near to the far corner and their voltages.

        Returns
        -------
        cells : ndarray of int, shape (K, 2)
            A full map: the ``max(M, N)`` cells of :func:`diagonal_cells`. A map evaluated at some
            cells only: exactly those cells (the centre included), ordered from the near to the far
            corner.
        voltage : ndarray, shape (K,)
            Volt.
        """
        m, n = self.voltage.shape
        finite = np.isfinite(self.voltage)
        if finite.all():
            cells = diagonal_cells((m, n), max(m, n))
        else:
            cells = np.argwhere(finite)
            along = cells[:, 1] / max(n - 1, 1) + (m - 1 - cells[:, 0]) / max(m - 1, 1)
            cells = cells[np.argsort(along, kind="stable")]
        return cells, self.voltage[cells[:, 0], cells[:, 1]]


def diagonal_cells(shape: tuple[int, int], n_points: int) -> IntArray:
    """``n_points`` distinct cells on the straight line from the near corner ``(M - 1, 0)`` to the far
    corner ``(0, N - 1)``, in that order, shape ``(K, 2)`` with ``K <= n_points``."""
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 2:
        raise ConfigError(f"`n_points` must be an int >= 2; got {short_repr(n_points)}.")
    m, n = shape
    s = np.linspace(0.0, 1.0, int(n_points))
    rows = np.rint((m - 1) * (1.0 - s)).astype(np.int64)
    cols = np.rint((n - 1) * s).astype(np.int64)
    cells = np.stack([rows, cols], axis=1)
    _, first = np.unique(cells, axis=0, return_index=True)
    return cells[np.sort(first)]


def selected_voltage_map(
    crossbar: Crossbar,
    v_write: float,
    scheme: WriteSchemeName = "v/2",
    *,
    cells: Any = None,
    backend: str | Backend = "sparse",
    chunk: int = 64,
    responses: TerminalResponses | None = None,
) -> SelectedVoltageMap:
    """Selected-cell voltage after IR drop for every cell position (or the listed ones).

    Parameters
    ----------
    crossbar : Crossbar
        Conductances (S, the stored pattern), wires, device law.
    v_write : float
        Volt, non-zero pulse amplitude at the selected row's driver.
    scheme : {"v/2", "v/3", "grounded", "floating"}
        The write scheme.
    cells : array_like of int, shape (K, 2), optional
        Selections to evaluate; default every cell. Linear devices always get every cell (it costs
        the same); nonlinear devices get only these (see Notes), e.g. :func:`diagonal_cells`.
    backend : str or Backend
        Solver backend.
    chunk : int
        Batch size of the batched solves.
    responses : TerminalResponses, optional
        Linear devices: the unit responses of this very crossbar from :func:`terminal_responses`,
        to reuse them across schemes and voltages (they do not depend on either).

    Returns
    -------
    SelectedVoltageMap

    Notes
    -----
    Linear devices: the circuit is linear in the ``T = M + N`` line-end voltages, so with the unit
    responses ``D_t`` (cell voltages for terminal ``t`` at 1 V, others at 0 V;
    :func:`terminal_responses`) the driven schemes give, for selection ``(i, j)`` with unselected
    rows at ``f_r v`` and columns at ``f_c v``,

    ``V_sel(i, j) = v [f_r S_R + f_c S_C + (1 - f_r) D_i - f_c D_{M+j}](i, j)``

    with ``S_R``, ``S_C`` the sums of the row and column responses. In the floating scheme the
    unselected ends carry no current; with the port admittance ``Y`` of the terminals and its
    pseudo-inverse ``P``, the terminal voltages are ``I (P e_a - P e_b)`` up to a constant that puts
    no voltage on any cell, and ``v = I (P_aa + P_bb - 2 P_ab)`` fixes ``I``. Either way all
    ``M N`` selections cost ``M + N`` solves sharing one factorization per chunk (a few seconds at 128 x 128)
    instead of ``M N`` solves; pass ``responses`` to share them between schemes. Nonlinear devices have no superposition: each selection is solved
    (driven schemes in batches of ``chunk`` sharing one batched Newton solve, floating one by
    one), so pass ``cells`` for large arrays.
    """
    cb = check_crossbar(crossbar)
    v = _write_voltage(v_write)
    levels = scheme_levels(scheme)
    be = get_backend(backend)
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ConfigError(f"`chunk` must be a positive int; got {short_repr(chunk)}.")
    m, n = cb.shape
    if cb.device.linear:
        if responses is None:
            resp = terminal_responses(cb, backend=be, chunk=chunk)
        elif isinstance(responses, TerminalResponses) and responses.shape == (m, n):
            resp = responses
        else:
            raise ConfigError(f"`responses` must be the TerminalResponses of this {m}x{n} crossbar; "
                              f"got {short_repr(responses)}.")
        with np.errstate(all="ignore"):
            voltage = _superposed_selected(resp, v, scheme, cb.conductance > 0)
        if not np.isfinite(voltage).all():
            raise ConfigError(f"the selected-cell voltages overflow double precision (v_write = {v:g} V): use physical "
                              "magnitudes.")
        return SelectedVoltageMap(scheme=scheme, v_write=v, voltage=voltage, method="superposition",
                                  backend=resp.backend)
    if cells is None:
        sel = np.stack(np.meshgrid(np.arange(m), np.arange(n), indexing="ij"), axis=-1).reshape(-1, 2)
    else:
        sel = _cells(cells, (m, n))
    out = np.full((m, n), np.nan)
    name = be.name
    if levels is None:
        for r, c in sel:
            sol = solve(cb, BiasScheme.write(int(r), int(c), v, "floating"), be)
            out[r, c] = float(np.asarray(sol.cell_voltages)[r, c])
            name = sol.backend
    else:
        for start in range(0, len(sel), int(chunk)):
            part = sel[start:start + int(chunk)]
            rows = np.full((len(part), m), levels[0] * v)
            rows[np.arange(len(part)), part[:, 0]] = v
            cols = np.full((len(part), n), levels[1] * v)
            cols[np.arange(len(part)), part[:, 1]] = 0.0
            bias = BiasScheme(row_left=LineDrive(voltage=rows, driven=True),
                              col_bottom=LineDrive(voltage=cols, driven=True))
            sol = solve(cb, bias, be)
            cv = np.asarray(sol.cell_voltages)
            out[part[:, 0], part[:, 1]] = cv[np.arange(len(part)), part[:, 0], part[:, 1]]
            name = sol.backend
    return SelectedVoltageMap(scheme=scheme, v_write=v, voltage=out, method="direct", backend=name)


def _cells(cells: Any, shape: tuple[int, int]) -> IntArray:
    arr = np.asarray(cells)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1 or arr.dtype.kind not in "iu":
        raise ConfigError(f"`cells` must be an integer array of (row, col) pairs, shape (K, 2); got {short_repr(cells)}.")
    for r, c in arr:
        check_cell(int(r), int(c), shape)
    return arr.astype(np.int64)
