"""Programming one cell: analytic cell voltages with ideal wires, IR-drop fall-off, superposition map."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import (
    DEFAULT_DISTURB_THRESHOLD,
    analyze_write,
    compare_write_schemes,
    diagonal_cells,
    far_corner,
    selected_voltage_map,
    terminal_responses,
)
from xbarsim.devices import Sinh

SCHEMES = ("v/2", "v/3", "floating", "grounded")
M, N, V = 5, 4, 1.6
ROW, COL = 2, 1


def ideal_crossbar(rng: np.random.Generator, g: np.ndarray | None = None) -> xb.Crossbar:
    return xb.Crossbar(conductance=rng.uniform(1e-4, 5e-4, (M, N)) if g is None else g)


def regions(cv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells on the selected row, on the selected column, and the rest (selected cell excluded)."""
    rows, cols = np.arange(M) != ROW, np.arange(N) != COL
    return cv[ROW, cols], cv[rows, COL], cv[np.ix_(rows, cols)]


@pytest.mark.parametrize(
    ("scheme", "row_half", "col_half", "rest"),
    [("v/2", V / 2, V / 2, 0.0), ("v/3", V / 3, V / 3, -V / 3), ("grounded", V, 0.0, 0.0)],
)
def test_driven_schemes_exact_with_ideal_wires(rng: np.random.Generator, scheme: str, row_half: float,
                                               col_half: float, rest: float) -> None:
    res = analyze_write(ideal_crossbar(rng), ROW, COL, V, scheme)  # type: ignore[arg-type]
    r, c, u = regions(np.asarray(res.cell_voltages))
    assert res.selected_voltage == pytest.approx(V, abs=1e-12)
    np.testing.assert_allclose(r, row_half, atol=1e-12)
    np.testing.assert_allclose(c, col_half, atol=1e-12)
    np.testing.assert_allclose(u, rest, atol=1e-12)
    assert res.half_selected_row.worst == pytest.approx(abs(row_half), abs=1e-12)
    assert res.unselected.count == (M - 1) * (N - 1)


def test_floating_scheme_exact_with_ideal_wires_and_uniform_cells() -> None:
    # Unselected rows float at a = V (N-1)/(M+N-1), unselected columns at b = V N/(M+N-1) (KCL on
    # each floating line of a uniform array), so half-selected cells see V (M-1)/(M+N-1) on the row,
    # V (N-1)/(M+N-1) on the column, and the rest -V/(M+N-1).
    g = np.full((M, N), 2e-4)
    res = analyze_write(xb.Crossbar(conductance=g), ROW, COL, V, "floating")
    r, c, u = regions(np.asarray(res.cell_voltages))
    k = M + N - 1
    np.testing.assert_allclose(r, V * (M - 1) / k, rtol=1e-12)
    np.testing.assert_allclose(c, V * (N - 1) / k, rtol=1e-12)
    np.testing.assert_allclose(u, -V / k, rtol=1e-12)
    assert res.selected_voltage == pytest.approx(V, rel=1e-12)
    assert res.power == pytest.approx(res.row_driver_current * V, rel=1e-12)


def test_driver_current_power_and_disturbed_cells(rng: np.random.Generator) -> None:
    cb = ideal_crossbar(rng)
    res = analyze_write(cb, ROW, COL, V, "v/2", threshold=0.7)
    g = np.asarray(cb.conductance)
    # the selected row carries its cells' currents: V on the selected cell, V/2 on the others
    expected = V * g[ROW, COL] + V / 2 * (g[ROW].sum() - g[ROW, COL])
    assert res.row_driver_current == pytest.approx(expected, rel=1e-12)
    assert res.selected_current == pytest.approx(V * g[ROW, COL], rel=1e-12)
    cells_power = float((np.asarray(res.cell_voltages) * np.asarray(res.cell_currents)).sum())
    assert res.power == pytest.approx(cells_power, rel=1e-12)
    # V/2 = 0.8 V > 0.7 V on the M + N - 2 half-selected cells only
    assert res.n_disturbed == M + N - 2
    assert not res.disturbed[ROW, COL]
    assert analyze_write(cb, ROW, COL, V, "v/2").threshold == DEFAULT_DISTURB_THRESHOLD


def test_reset_pulse_is_the_mirror_image(rng: np.random.Generator) -> None:
    cb = xb.Crossbar(conductance=rng.uniform(1e-4, 5e-4, (M, N)), lines=xb.LineResistance.uniform(2.0),
                     device=Sinh(a=2.07))
    up = analyze_write(cb, ROW, COL, V, "v/3")
    down = analyze_write(cb, ROW, COL, -V, "v/3")
    np.testing.assert_allclose(down.cell_voltages, -np.asarray(up.cell_voltages), atol=1e-12)


def test_compare_batches_schemes_like_single_solves(rng: np.random.Generator) -> None:
    cb = xb.Crossbar(conductance=rng.uniform(1e-4, 5e-4, (6, 6)), lines=xb.LineResistance.uniform(1.5, driver=3.0),
                     device=Sinh(a=2.07))
    cmp = compare_write_schemes(cb, 1.8)
    assert cmp.schemes == SCHEMES
    assert (cmp["v/2"].row, cmp["v/2"].col) == far_corner(cb.shape)
    for s in SCHEMES:
        single = analyze_write(cb, 0, 5, 1.8, s)  # type: ignore[arg-type]
        np.testing.assert_allclose(cmp[s].cell_voltages, single.cell_voltages, rtol=1e-9, atol=1e-12)
        assert cmp[s].power == pytest.approx(single.power, rel=1e-9)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("lines", [xb.LineResistance.uniform(2.0), xb.LineResistance.uniform(1.0, driver=5.0, sense=5.0),
                                   xb.LineResistance(row_segment=1.0, col_segment=3.0)], ids=["seg", "seg+ends", "aniso"])
def test_selected_voltage_falls_monotonically_toward_far_corner(scheme: str, lines: xb.LineResistance) -> None:
    cb = xb.Crossbar(conductance=np.full((8, 8), 3e-4), lines=lines)
    v = np.asarray(selected_voltage_map(cb, 1.5, scheme).voltage)  # type: ignore[arg-type]
    assert (np.diff(v, axis=1) < 0).all()  # farther from the rows' left drivers
    assert (np.diff(v, axis=0) > 0).all()  # closer to the columns' bottom drivers
    assert v[0, -1] == v.min() and v[-1, 0] == v.max()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_nonlinear_profile_falls_monotonically(scheme: str) -> None:
    cb = xb.Crossbar(conductance=np.full((8, 8), 3e-4), lines=xb.LineResistance.uniform(2.0), device=Sinh(a=2.07))
    mp = selected_voltage_map(cb, 1.5, scheme, cells=diagonal_cells((8, 8), 8))  # type: ignore[arg-type]
    cells, v = mp.profile()
    assert cells.tolist() == [[7 - k, k] for k in range(8)]
    assert (np.diff(v) < 0).all()
    assert np.isnan(np.asarray(mp.voltage)).sum() == 64 - 8


@pytest.mark.parametrize("scheme", SCHEMES)
def test_superposition_map_equals_explicit_solves(rng: np.random.Generator, scheme: str) -> None:
    m, n = 5, 4
    lines = xb.LineResistance(row_segment=rng.uniform(0.5, 5, (m, n - 1)), col_segment=rng.uniform(0.5, 5, (m - 1, n)),
                              row_driver=rng.uniform(1, 10, m), col_sense=rng.uniform(1, 10, n))
    cb = xb.Crossbar(conductance=rng.uniform(1e-5, 5e-4, (m, n)), lines=lines)
    resp = terminal_responses(cb, chunk=3)
    mp = selected_voltage_map(cb, 1.3, scheme, responses=resp)  # type: ignore[arg-type]
    assert mp.method == "superposition"
    explicit = np.array([[xb.solve(cb, xb.BiasScheme.write(i, j, 1.3, scheme)).cell_voltages[i, j]  # type: ignore[arg-type]
                          for j in range(n)] for i in range(m)])
    np.testing.assert_allclose(mp.voltage, explicit, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(resp.admittance).sum(axis=1), 0.0, atol=1e-12)


def test_floating_map_with_an_open_row_and_column_equals_explicit_solves(rng: np.random.Generator) -> None:
    """Found in review: with a row (or column) of open cells the floating-scheme map was off by 5e-5 of
    the write voltage (one pseudo-inverse formula over a disconnected port admittance). The explicit
    solve of such a selection is singular (the open line floats), so it pins the open lines at 0 V
    (they have no cell, so no current flows) and compares; a row and a column that no cell joins see
    the full write voltage."""
    m, n, v = 5, 4, 1.3
    g = rng.uniform(1e-5, 5e-4, (m, n))
    g[2, :] = 0.0
    g[:, 1] = 0.0
    lines = xb.LineResistance.uniform(2.0, driver=5.0, sense=3.0)
    cb = xb.Crossbar(conductance=g, lines=lines)
    mp = selected_voltage_map(cb, v, "floating")
    for i in range(m):
        for j in range(n):
            if i == 2 or j == 1:
                assert mp.voltage[i, j] == v
                continue
            rows, cols = np.zeros(m), np.zeros(n)
            rows[i] = v
            r_on, c_on = np.arange(m) == i, np.arange(n) == j
            r_on[2], c_on[1] = True, True
            bias = xb.BiasScheme(row_left=xb.LineDrive(voltage=rows, driven=r_on),
                                 col_bottom=xb.LineDrive(voltage=cols, driven=c_on))
            explicit = xb.solve(cb, bias).cell_voltages[i, j]
            np.testing.assert_allclose(mp.voltage[i, j], explicit, rtol=1e-12, atol=0)


def test_ideal_wires_map_is_flat(rng: np.random.Generator) -> None:
    mp = selected_voltage_map(ideal_crossbar(rng), V, "floating")
    np.testing.assert_allclose(mp.voltage, V, rtol=1e-12)
    np.testing.assert_allclose(mp.fraction, 1.0, rtol=1e-12)


def test_profile_of_selected_cells_keeps_every_selection_and_the_centre():
    """9 selections on the diagonal give 9 profile points, the centre cell included (it is not on the
    max(M, N)-point diagonal the full-map profile uses)."""
    from xbarsim.analysis.write import diagonal_cells, selected_voltage_map

    n = 16
    cb = xb.Crossbar(conductance=np.full((n, n), 1e-4), lines=xb.LineResistance.uniform(1.0), device=xb.Sinh(a=2.0))
    cells = diagonal_cells((n, n), 9)
    cells_p, volts = selected_voltage_map(cb, 2.0, "v/2", cells=cells).profile()
    assert len(cells) == len(cells_p) == 9 and (8, 8) in {tuple(map(int, c)) for c in cells_p}
    assert sorted(map(tuple, cells_p.tolist())) == sorted(map(tuple, cells.tolist()))
    assert tuple(cells_p[0]) == (n - 1, 0) and tuple(cells_p[-1]) == (0, n - 1) and np.isfinite(volts).all()
