"""Analytic oracles for the solvers: closed forms derived here, independently of the library."""

from __future__ import annotations

import numpy as np
import pytest
from xbartest import BACKEND_IDS, backend_for, random_crossbar

import xbarsim as xb

IDEAL = xb.LineResistance()  # every wire, driver and sense resistance zero


# ----------------------------------------------------------------------------- ideal wires: I = V @ G
@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize("batched", [False, True], ids=["single", "batch"])
def test_ideal_wires_give_the_matrix_vector_product(rng, backend_id, batched):
    m, n = 7, 5
    g = rng.uniform(1e-6, 1e-3, (m, n))
    g[2, 3] = 0.0  # an open cell is valid
    v = rng.uniform(-1.0, 1.0, (3, m) if batched else (m,))
    sol = xb.solve(xb.Crossbar(conductance=g, lines=IDEAL), xb.BiasScheme.read(v), backend=backend_for(backend_id))

    expected = v @ g
    assert sol.output_currents.shape == expected.shape
    np.testing.assert_allclose(sol.output_currents, expected, rtol=1e-13, atol=0)
    # every row node sits at its drive voltage, every column node at 0 V
    np.testing.assert_allclose(sol.row_voltages, np.broadcast_to(v[..., :, None], sol.row_voltages.shape), rtol=1e-13)
    np.testing.assert_allclose(sol.col_voltages, 0.0, atol=1e-15)
    np.testing.assert_allclose(sol.input_currents, v * g.sum(axis=1), rtol=1e-13)


# ----------------------------------------------------------------------------- one cell
@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize(
    ("r_driver", "g", "r_sense"),
    [(100.0, 1e-4, 50.0), (0.0, 1e-4, 50.0), (100.0, 1e-4, 0.0), (0.0, 1e-5, 0.0), (1e3, 2e-3, 1e3)],
)
def test_single_cell_is_a_series_circuit(backend_id, r_driver, g, r_sense):
    v = 0.7
    cb = xb.Crossbar(conductance=[[g]], lines=xb.LineResistance(row_driver=r_driver, col_sense=r_sense))
    sol = xb.solve(cb, xb.BiasScheme.read([v]), backend=backend_for(backend_id))

    i = v / (r_driver + 1.0 / g + r_sense)
    np.testing.assert_allclose(sol.output_currents, [i], rtol=1e-13)
    np.testing.assert_allclose(sol.input_currents, [i], rtol=1e-13)
    np.testing.assert_allclose(sol.cell_currents, [[i]], rtol=1e-13)
    np.testing.assert_allclose(sol.cell_voltages, [[i / g]], rtol=1e-13)
    np.testing.assert_allclose(sol.row_voltages, [[v - i * r_driver]], rtol=1e-13)
    np.testing.assert_allclose(sol.col_voltages, [[i * r_sense]], rtol=1e-12, atol=1e-18)
    assert sol.power == pytest.approx(v * i, rel=1e-13)


# ----------------------------------------------------------------------------- 1 x N ladder
def _ladder_by_recursion(v: float, r_driver: float, r: float, g: np.ndarray) -> np.ndarray:
    """Node voltages of a ladder: driver ``r_driver``, series ``r`` between rungs, rungs ``g`` to 0 V.

    Back to front, ``Z_j`` is the resistance seen into node ``j`` looking right:
    ``Z_{N-1} = 1/g_{N-1}``, ``Z_j = 1 / (g_j + 1 / (r + Z_{j+1}))``. Front to back, the divider
    ``v_{j+1} = v_j Z_{j+1} / (r + Z_{j+1})`` starts from ``v_0 = v Z_0 / (r_driver + Z_0)``.
    """
    n = g.size
    z = np.empty(n)
    z[-1] = 1.0 / g[-1]
    for j in range(n - 2, -1, -1):
        z[j] = 1.0 / (g[j] + 1.0 / (r + z[j + 1]))
    out = np.empty(n)
    out[0] = v * z[0] / (r_driver + z[0])
    for j in range(n - 1):
        out[j + 1] = out[j] * z[j + 1] / (r + z[j + 1])
    return out


def _uniform_ladder_closed_form(v: float, r_driver: float, r: float, g: float, n: int) -> np.ndarray:
    """Closed form for equal rungs ``g``.

    Inside the ladder KCL is ``v_{j+1} - (2 + r g) v_j + v_{j-1} = 0``, solved by
    ``v_j = K cosh(theta (N - j - 1/2))`` with ``cosh theta = 1 + r g / 2``; this also meets the open end,
    ``v_{N-2} = (1 + r g) v_{N-1}``, since ``cosh(3x)/cosh(x) = 2 cosh(2x) - 1``. The driver end,
    ``(v_{-1} - v_0) = r (v - v_0) / r_driver`` with ``v_{-1}`` from the same formula, fixes
    ``K = r v / (2 r_driver sinh(theta N) sinh(theta / 2) + r cosh(theta (N - 1/2)))``.
    """
    theta = np.arccosh(1.0 + r * g / 2.0)
    k = r * v / (2.0 * r_driver * np.sinh(theta * n) * np.sinh(theta / 2) + r * np.cosh(theta * (n - 0.5)))
    return k * np.cosh(theta * (n - np.arange(n) - 0.5))


def test_uniform_ladder_closed_form_matches_the_recursion():
    # the two oracles are derived differently; they must agree before either is trusted
    g = np.full(9, 3e-3)
    np.testing.assert_allclose(
        _uniform_ladder_closed_form(1.3, 40.0, 7.0, 3e-3, 9), _ladder_by_recursion(1.3, 40.0, 7.0, g), rtol=1e-13
    )


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize("n", [1, 2, 8, 16])
def test_one_row_uniform_ladder(backend_id, n):
    v, r_driver, r, g = 0.9, 25.0, 3.0, 2e-3  # r g large enough that the IR drop is visible
    cb = xb.Crossbar(conductance=np.full((1, n), g), lines=xb.LineResistance(row_segment=r, row_driver=r_driver))
    sol = xb.solve(cb, xb.BiasScheme.read([v]), backend=backend_for(backend_id))

    vr = _uniform_ladder_closed_form(v, r_driver, r, g, n)
    np.testing.assert_allclose(sol.row_voltages[0], vr, rtol=1e-12)
    np.testing.assert_allclose(sol.output_currents, g * vr, rtol=1e-12)
    np.testing.assert_allclose(sol.input_currents, [(v - vr[0]) / r_driver], rtol=1e-11)
    if n > 1:
        assert np.all(np.diff(sol.output_currents) < 0), "the IR drop must lower currents along the row"


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
def test_one_row_ladder_with_random_rungs(rng, backend_id):
    n = 12
    g = rng.uniform(1e-5, 5e-3, n)
    g[[3, 7]] = 0.0  # open cells are rungs that are not there
    v, r_driver, r = -1.1, 12.0, 4.5
    cb = xb.Crossbar(conductance=g[None, :], lines=xb.LineResistance.uniform(r, driver=r_driver))
    sol = xb.solve(cb, xb.BiasScheme.read([v]), backend=backend_for(backend_id))

    vr = _ladder_by_recursion(v, r_driver, r, g)
    np.testing.assert_allclose(sol.row_voltages[0], vr, rtol=1e-12)
    np.testing.assert_allclose(sol.output_currents, g * vr, rtol=1e-12, atol=0)


def test_one_column_against_hand_written_nodal_equations():
    """An M x 1 array with every row held at ``v`` (ideal drivers): the column is a ladder fed
    through each cell, ``g_k (v - c_k)``, and drained by the sense resistor at its bottom end.
    Its tridiagonal nodal matrix is written out here and solved densely."""
    m, r, r_sense, v = 6, 2.0, 30.0, 0.5
    g = np.linspace(1e-3, 3e-3, m)
    cb = xb.Crossbar(conductance=g[:, None], lines=xb.LineResistance(col_segment=r, col_sense=r_sense))
    sol = xb.solve(cb, xb.BiasScheme.read(np.full(m, v)))

    # dense nodal equations of the column written out by hand: unknowns c_0..c_{m-1}
    lap = np.zeros((m, m))
    for k in range(m - 1):
        lap[[k, k + 1], [k, k + 1]] += 1 / r
        lap[[k, k + 1], [k + 1, k]] -= 1 / r
    lap[np.arange(m), np.arange(m)] += g
    lap[m - 1, m - 1] += 1 / r_sense
    vc = np.linalg.solve(lap, g * v)
    np.testing.assert_allclose(sol.col_voltages[:, 0], vc, rtol=1e-12)
    np.testing.assert_allclose(sol.output_currents, [vc[-1] / r_sense], rtol=1e-12)


# ----------------------------------------------------------------------------- conservation, KCL, power
READ_CASES = [
    pytest.param(dict(m=6, n=9, zero_fraction=0.0), id="6x9"),
    pytest.param(dict(m=9, n=4, zero_fraction=0.3), id="9x4-some-ideal-wires"),
    pytest.param(dict(m=16, n=16, zero_fraction=0.1), id="16x16"),
]


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize("case", READ_CASES)
def test_read_driver_current_equals_sense_current(rng, backend_id, case):
    m, n = case["m"], case["n"]
    cb = random_crossbar(rng, m, n, g_zero_fraction=0.1, zero_fraction=case["zero_fraction"])
    v = rng.uniform(0.1, 1.0, (2, m))
    sol = xb.solve(cb, xb.BiasScheme.read(v), backend=backend_for(backend_id))

    total_in = sol.input_currents.sum(axis=-1)
    np.testing.assert_allclose(sol.output_currents.sum(axis=-1), total_in, rtol=1e-12)
    assert np.all(sol.output_currents > 0), "positive row voltages give positive output currents"
    # and every cell current ends up in some column: cells carry all of it
    np.testing.assert_allclose(sol.cell_currents.sum(axis=(-2, -1)), total_in, rtol=1e-12)


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize("case", READ_CASES)
def test_kcl_residual_is_at_machine_precision(rng, backend_id, case):
    m, n = case["m"], case["n"]
    cb = random_crossbar(rng, m, n, g_zero_fraction=0.1, zero_fraction=case["zero_fraction"])
    sol = xb.solve(cb, xb.BiasScheme.read(rng.uniform(-1.0, 1.0, m)), backend=backend_for(backend_id))
    assert sol.kcl_residual < 1e-12


def _kcl_residual_by_hand(cb: xb.Crossbar, sol: xb.Solution, v_rows: np.ndarray) -> float:
    """Largest net current at any row or column node of a read, relative to the input current.

    Written out from the array layout, not from the netlist, so it also checks that the voltages
    the solver reports sit on the right nodes.
    """
    lines = cb.lines
    vr, vc = sol.row_voltages, sol.col_voltages
    g = cb.conductance
    icell = g * (vr - vc)

    def through(dv: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.divide(dv, r, out=np.zeros_like(dv), where=r > 0)

    net_r = icell.copy()  # current leaving each row node
    i_seg = through(vr[:, :-1] - vr[:, 1:], lines.row_segment)
    net_r[:, :-1] += i_seg
    net_r[:, 1:] -= i_seg
    net_r[:, 0] -= through(v_rows - vr[:, 0], lines.row_driver)
    net_c = -icell  # current leaving each column node
    i_seg = through(vc[:-1, :] - vc[1:, :], lines.col_segment)
    net_c[:-1, :] += i_seg
    net_c[1:, :] -= i_seg
    net_c[-1, :] += through(vc[-1, :], lines.col_sense)
    # nodes merged into a source by an ideal wire carry the source's unknown current: skip them
    free_r = np.ones_like(vr, dtype=bool)
    free_r[:, 0] = lines.row_driver > 0
    free_c = np.ones_like(vc, dtype=bool)
    free_c[-1, :] = lines.col_sense > 0
    worst = max(np.abs(net_r[free_r]).max(initial=0.0), np.abs(net_c[free_c]).max(initial=0.0))
    return worst / np.abs(sol.input_currents).sum()


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
def test_kcl_by_hand_at_every_node(rng, make_crossbar, backend_id):
    m, n = 8, 11
    cb = make_crossbar(m, n)  # every resistance non-zero: no merged nodes
    v = rng.uniform(-1.0, 1.0, m)
    sol = xb.solve(cb, xb.BiasScheme.read(v), backend=backend_for(backend_id))
    assert _kcl_residual_by_hand(cb, sol, v) < 1e-9


def _power_by_hand(cb: xb.Crossbar, sol: xb.Solution, v_rows: np.ndarray) -> float:
    """Sum of I^2 R (= dV^2 / R) over every wire, driver and sense resistor, plus g V^2 over cells."""
    lines = cb.lines
    vr, vc = sol.row_voltages, sol.col_voltages

    def dissipated(dv: np.ndarray, r: np.ndarray) -> float:
        return float(np.divide(dv**2, r, out=np.zeros_like(dv), where=r > 0).sum())

    return (
        dissipated(vr[:, :-1] - vr[:, 1:], lines.row_segment)
        + dissipated(vc[:-1, :] - vc[1:, :], lines.col_segment)
        + dissipated(v_rows - vr[:, 0], lines.row_driver)
        + dissipated(vc[-1, :] - 0.0, lines.col_sense)
        + float((cb.conductance * (vr - vc) ** 2).sum())
    )


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize("zero_fraction", [0.0, 0.4])
def test_power_is_dissipation_in_wires_and_cells(rng, make_crossbar, backend_id, zero_fraction):
    m, n = 6, 7
    cb = make_crossbar(m, n, g_range=(1e-5, 1e-3), zero_fraction=zero_fraction)
    v = rng.uniform(-1.0, 1.0, m)
    sol = xb.solve(cb, xb.BiasScheme.read(v), backend=backend_for(backend_id))

    assert sol.power == pytest.approx(_power_by_hand(cb, sol, v), rel=1e-11)
    assert sol.power == pytest.approx(float(v @ sol.input_currents), rel=1e-11)
    assert sol.power > 0


def test_power_is_per_batch_entry(rng):
    m, n = 4, 5
    cb = random_crossbar(rng, m, n)
    v = rng.uniform(-1.0, 1.0, (3, m))
    batch = xb.solve(cb, xb.BiasScheme.read(v))
    assert np.shape(batch.power) == (3,)
    for b in range(3):
        single = xb.solve(cb, xb.BiasScheme.read(v[b]))
        assert batch.power[b] == pytest.approx(_power_by_hand(cb, single, v[b]), rel=1e-11)
        np.testing.assert_allclose(batch.output_currents[b], single.output_currents, rtol=1e-13)


# ----------------------------------------------------------------------------- transfer matrix
def test_transfer_matrix_with_ideal_wires_is_g(rng):
    g = rng.uniform(0.0, 1e-3, (5, 8))
    t = xb.transfer_matrix(xb.Crossbar(conductance=g, lines=IDEAL))
    np.testing.assert_allclose(t, g, rtol=1e-14, atol=0)


@pytest.mark.parametrize(("m", "n"), [(1, 1), (1, 6), (6, 1), (5, 9), (9, 5), (16, 16)])
@pytest.mark.parametrize("zero_fraction", [0.0, 0.3])
def test_transfer_matrix_agrees_with_solve_on_a_batch(rng, m, n, zero_fraction):
    cb = random_crossbar(rng, m, n, g_zero_fraction=0.1, zero_fraction=zero_fraction)
    v = rng.uniform(-1.0, 1.0, (7, m))
    t = xb.transfer_matrix(cb)
    assert t.shape == (m, n)
    sol = xb.solve(cb, xb.BiasScheme.read(v))
    np.testing.assert_allclose(v @ t, sol.output_currents, rtol=1e-11, atol=1e-13 * np.abs(sol.output_currents).max())


def test_transfer_matrix_columns_are_unit_input_responses(rng):
    """Row ``i`` of ``T`` is the output for a unit voltage on row ``i`` alone: checks orientation."""
    m, n = 3, 5
    cb = random_crossbar(rng, m, n, g_range=(1e-4, 1e-3))
    t = xb.transfer_matrix(cb)
    for i in range(m):
        np.testing.assert_allclose(t[i], xb.solve(cb, xb.BiasScheme.read(np.eye(m)[i])).output_currents, rtol=1e-11)


def test_transfer_matrix_with_wires_is_below_g(rng):
    """Wire resistance only ever loses current in a read with non-negative inputs."""
    cb = random_crossbar(rng, 8, 8, g_range=(1e-4, 1e-3), r_range=(1.0, 5.0))
    t = xb.transfer_matrix(cb)
    ones = np.ones(8)
    assert np.all(ones @ t < ones @ cb.conductance)


# ----------------------------------------------------------------------------- write schemes
def _ideal_write(m: int, n: int, g: np.ndarray | float, row: int, col: int, v: float, scheme: str, backend_id: str):
    g = np.broadcast_to(np.asarray(g, dtype=float), (m, n))
    bias = xb.BiasScheme.write(row, col, v, scheme, shape=(m, n))
    return xb.solve(xb.Crossbar(conductance=g, lines=IDEAL), bias, backend=backend_for(backend_id))


def _masks(m: int, n: int, row: int, col: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    on_row = np.zeros((m, n), bool)
    on_row[row, :] = True
    on_col = np.zeros((m, n), bool)
    on_col[:, col] = True
    selected = on_row & on_col
    return selected, on_row & ~selected, on_col & ~selected, ~on_row & ~on_col


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize("v", [2.0, -1.5])
@pytest.mark.parametrize(
    ("scheme", "half", "rest"),
    [("v/2", 0.5, 0.0), ("v/3", 1.0 / 3.0, -1.0 / 3.0)],
)
def test_write_scheme_cell_voltages_with_ideal_wires(rng, backend_id, v, scheme, half, rest):
    m, n, row, col = 5, 6, 3, 1
    sol = _ideal_write(m, n, rng.uniform(1e-6, 1e-4, (m, n)), row, col, v, scheme, backend_id)
    sel, half_row, half_col, other = _masks(m, n, row, col)
    cv = sol.cell_voltages
    np.testing.assert_allclose(cv[sel], v, rtol=1e-13)
    np.testing.assert_allclose(cv[half_row], half * v, rtol=1e-13)
    np.testing.assert_allclose(cv[half_col], half * v, rtol=1e-13)
    np.testing.assert_allclose(cv[other], rest * v, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
def test_grounded_write_puts_v_on_the_selected_row_only(rng, backend_id):
    m, n, row, col, v = 4, 7, 2, 5, 1.8
    sol = _ideal_write(m, n, rng.uniform(1e-6, 1e-4, (m, n)), row, col, v, "grounded", backend_id)
    expected = np.zeros((m, n))
    expected[row, :] = v
    np.testing.assert_allclose(sol.cell_voltages, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize(("m", "n"), [(2, 2), (4, 7), (8, 3)])
def test_floating_write_sneak_voltages_with_equal_cells(backend_id, m, n):
    """Floating unselected lines, ideal wires, equal cells: by symmetry every unselected row sits at
    ``x`` and every unselected column at ``y``. KCL, ``x + (N-1)(x - y) = 0`` and
    ``(y - v) + (M-1)(y - x) = 0``, gives ``y = v N / (M+N-1)`` and ``x = v (N-1) / (M+N-1)``."""
    row, col, v = m - 1, 0, 3.0
    sol = _ideal_write(m, n, 1e-5, row, col, v, "floating", backend_id)
    x, y = v * (n - 1) / (m + n - 1), v * n / (m + n - 1)
    sel, half_row, half_col, other = _masks(m, n, row, col)
    cv = sol.cell_voltages
    np.testing.assert_allclose(cv[sel], v, rtol=1e-12)
    np.testing.assert_allclose(cv[half_row], v - y, rtol=1e-12)
    np.testing.assert_allclose(cv[half_col], x, rtol=1e-12)
    np.testing.assert_allclose(cv[other], x - y, rtol=1e-12)
    # current into the selected cell plus the sneak path, all supplied by the selected row
    g = 1e-5
    assert sol.input_currents[row] == pytest.approx(g * v + g * (v - y) * (n - 1), rel=1e-12)


def test_write_scheme_with_wires_reduces_the_selected_cell_voltage(rng):
    m, n, row, col, v = 8, 8, 7, 7, 2.0  # far corner from both drivers: largest IR drop
    cb = random_crossbar(rng, m, n, g_range=(1e-4, 1e-3), r_range=(2.0, 5.0))
    for scheme in ("v/2", "v/3", "grounded", "floating"):
        sol = xb.solve(cb, xb.BiasScheme.write(row, col, v, scheme))
        assert 0 < sol.cell_voltages[row, col] < v, scheme


# ----------------------------------------------------------------------------- one sinh cell
@pytest.mark.parametrize("lines", [
    xb.LineResistance(row_segment=1.0, col_segment=1.0, row_driver=100.0, col_sense=50.0),
    xb.LineResistance(row_segment=0.0, col_segment=0.0, row_driver=100.0, col_sense=0.0),
], ids=["grid-newton", "general-newton"])
def test_single_sinh_cell_converges_within_exactly_maxiter_steps(lines):
    """``i = g sinh(a (v - i R)) / a`` with R the driver plus the sense resistance. Newton that needs
    k steps returns with ``maxiter=k``: the step taken at the limit was checked before raising
    (review found "did not converge in 4 iterations: KCL residual 6.7e-16 > tol 1e-12")."""
    from scipy.optimize import brentq

    from xbarsim.solver.newton import NewtonOptions

    g, a, v = 1e-4, 5.0, 1.0
    r = float(lines.row_driver) + float(lines.col_sense)
    exact = brentq(lambda i: i - g / a * np.sinh(a * (v - i * r)), 0.0, v / r, xtol=1e-22, rtol=4 * np.finfo(float).eps)
    cb = xb.Crossbar(conductance=np.array([[g]]), lines=lines, device=xb.Sinh(a=a))
    bias = xb.BiasScheme.read(np.array([v]))
    k = xb.solve(cb, bias).iterations
    assert k >= 2
    for maxiter in (k, k + 1):
        sol = xb.solve(cb, bias, xb.SparseBackend(xb.SparseOptions(newton=NewtonOptions(maxiter=maxiter))))
        assert sol.iterations == k and sol.kcl_residual < 1e-12
        np.testing.assert_allclose(sol.output_currents, [exact], rtol=1e-12)
    with pytest.raises(xb.ConvergenceError) as info:
        xb.solve(cb, bias, xb.SparseBackend(xb.SparseOptions(newton=NewtonOptions(maxiter=k - 1))))
    assert info.value.iterations == k - 1 and info.value.residual > 1e-12
