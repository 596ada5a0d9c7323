"""Newton batched across tiles and input vectors on read-scheme crossbars (issue 16, nonlinear tiles),
against one general solve per tile, an independent KCL check, and ngspice."""

from __future__ import annotations

import numpy as np
import pytest
from xbartest import assert_same_solution, random_crossbar, random_lines

import xbarsim as xb
from xbarsim.solver.newton import NewtonOptions
from xbarsim.solver._grid import grid_layout
from xbarsim.solver.tile_newton import ReadTrees, grid_read_newton, read_newton, tile_read_currents

SINH = xb.Sinh(a=2.07)
DIRECT = xb.SparseBackend(xb.SparseOptions(method="direct", batch_ports=False))


def _tiles(rng: np.random.Generator, k: int, m: int, n: int) -> np.ndarray:
    g = rng.uniform(1e-6, 4e-4, (k, m, n))
    g[rng.random((k, m, n)) < 0.1] = 0.0  # open cells
    return g


def _per_tile(g: np.ndarray, lines: xb.LineResistance, device: xb.DeviceModel, v: np.ndarray,
              backend: xb.Backend | str = "sparse") -> list[xb.Solution]:
    return [xb.solve(xb.Crossbar(conductance=g[k], lines=lines, device=device), xb.BiasScheme.read(v[k]), backend)
            for k in range(g.shape[0])]


def _kcl(lines: xb.LineResistance, g: np.ndarray, v: np.ndarray, v_row: np.ndarray, v_col: np.ndarray,
         device: xb.DeviceModel) -> float:
    """Largest KCL mismatch (ampere) at any row or column node, from the element laws alone:
    ``v_row``/``v_col`` (M, N), ``v`` (M,) the drivers, columns sensed at 0 V."""
    full = lines.broadcast(*g.shape)
    cell = device.current(v_row - v_col, g)
    out_r = cell.copy()
    seg = (v_row[:, :-1] - v_row[:, 1:]) / full.row_segment
    out_r[:, :-1] += seg
    out_r[:, 1:] -= seg
    inflow = (v - v_row[:, 0]) / full.row_driver
    out_r[:, 0] -= inflow
    out_c = -cell
    seg = (v_col[:-1] - v_col[1:]) / full.col_segment
    out_c[:-1] += seg
    out_c[1:] -= seg
    out_c[-1] += v_col[-1] / full.col_sense
    return float(max(np.abs(out_r).max(), np.abs(out_c).max()))


@pytest.mark.parametrize("shape", [(4, 7, 5), (3, 12, 9), (2, 1, 6), (2, 5, 1), (6, 25, 25)])
def test_batched_newton_equals_per_tile_newton(rng, shape):
    k, m, n = shape
    g = _tiles(rng, k, m, n)
    lines = random_lines(rng, m, n, r_range=(0.5, 5.0), end_range=(0.5, 5.0))  # non-uniform wires
    v = rng.uniform(-0.4, 0.4, (k, 6, m))
    v[:, 2] = 0.0  # an all-zero input
    v[:, :, 0] = 0.0  # an undriven row
    got = tile_read_currents(g, lines, SINH, v)
    assert got.shape == (k, 6, n)
    for kk, sol in enumerate(_per_tile(g, lines, SINH, v)):
        ref = np.asarray(sol.output_currents).reshape(6, n)
        np.testing.assert_allclose(got[kk], ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


@pytest.mark.parametrize("lines", [
    xb.LineResistance(row_segment=1.0, col_segment=2.0, row_driver=0.0, col_sense=0.0),
    xb.LineResistance(row_segment=0.0, col_segment=1.5, row_driver=3.0, col_sense=0.0),
    xb.LineResistance(row_segment=0.0, col_segment=0.0, row_driver=0.0, col_sense=0.0),
], ids=["ideal-ends", "ideal-rows", "ideal"])
def test_batched_newton_with_ideal_wires(rng, lines):
    """Ideal drivers, senses or segments merge nodes in the netlist; the tree sums need no change."""
    g = _tiles(rng, 3, 6, 4)
    v = rng.uniform(-0.3, 0.3, (3, 5, 6))
    got = tile_read_currents(g, lines, SINH, v)
    for kk, sol in enumerate(_per_tile(g, lines, SINH, v)):
        ref = np.asarray(sol.output_currents).reshape(5, 4)
        np.testing.assert_allclose(got[kk], ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    if not np.any(lines.row_segment) and not np.any(lines.col_segment):
        np.testing.assert_allclose(got, np.einsum("kbm,kmn->kbn", SINH.current(v, 1.0), g), rtol=1e-13)


def test_batched_newton_node_voltages_and_kcl(rng):
    """Node voltages from the tree sums equal the general solve's, and satisfy KCL element by element."""
    k, m, n, b = 3, 9, 7, 4
    g = _tiles(rng, k, m, n)
    lines = random_lines(rng, m, n, r_range=(0.5, 5.0), end_range=(0.5, 5.0))
    v = rng.uniform(-0.4, 0.4, (k, b, m))
    trees = ReadTrees.from_lines(lines, m, n)
    gk = np.repeat(np.moveaxis(g, 0, -1), b, axis=2)  # entries tile-major, as tile_read_currents stacks them
    vk = np.ascontiguousarray(v.reshape(k * b, m).T)
    u, iterations, cg = read_newton(gk, trees, SINH, vk, NewtonOptions())
    assert 1 <= iterations <= 6 and cg > 0
    c = SINH.current(u, gk)
    v_row, v_col = trees.row_voltage(c, vk), trees.col_voltage(c)
    np.testing.assert_allclose(v_row - v_col, u, rtol=0, atol=1e-14)
    for kk, sol in enumerate(_per_tile(g, lines, SINH, v, DIRECT)):
        netlist = xb.build_netlist(xb.Crossbar(conductance=g[kk], lines=lines, device=SINH), xb.BiasScheme.read(v[kk]))
        nv = np.asarray(sol.node_voltages)
        scale = np.abs(nv).max()
        for bb in range(b):
            e = kk * b + bb
            np.testing.assert_allclose(v_row[:, :, e], nv[bb][netlist.row_node], rtol=0, atol=1e-10 * scale)
            np.testing.assert_allclose(v_col[:, :, e], nv[bb][netlist.col_node], rtol=0, atol=1e-10 * scale)
            assert _kcl(lines, g[kk], v[kk, bb], v_row[:, :, e], v_col[:, :, e], SINH) < 1e-12 * np.abs(c).max()


def test_batched_newton_with_linear_cells_is_the_transfer_matrix(rng):
    g = _tiles(rng, 4, 8, 6)
    lines = random_lines(rng, 8, 6)
    v = rng.uniform(-0.3, 0.3, (4, 5, 8))
    got = tile_read_currents(g, lines, xb.Ohmic(), v)
    ref = np.einsum("kbm,kmn->kbn", v, xb.transfer_matrices(g, lines))
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-11 * np.abs(ref).max())


def test_batched_newton_agrees_with_ngspice(rng):
    m, n = 6, 5
    g = _tiles(rng, 1, m, n)
    lines = random_lines(rng, m, n, r_range=(0.5, 5.0), end_range=(0.5, 5.0))
    v = rng.uniform(-0.5, 0.5, (1, 3, m))
    got = tile_read_currents(g, lines, SINH, v)[0]
    spice = _per_tile(g, lines, SINH, v, "ngspice")[0]
    ref = np.asarray(spice.output_currents).reshape(3, n)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


def test_batched_newton_refuses_what_it_cannot_solve(rng):
    lines = xb.LineResistance.uniform(1.0)
    with pytest.raises(xb.ConfigError, match="conductance"):
        tile_read_currents(np.ones((2, 3, 3)) * 1e-4, lines, SINH, np.zeros((3, 4, 3)))
    with pytest.raises(xb.ConvergenceError):
        tile_read_currents(np.full((1, 4, 4), 1e-3), lines, SINH, np.full((1, 1, 4), 40.0),
                           NewtonOptions(maxiter=3))


def test_solve_of_a_sinh_read_batch_takes_the_cell_voltage_newton(rng):
    """``solve`` of a batch of reads on a grid-layout array: Newton on the cell voltages equals the
    reduced-grid Newton of each operating point on every field, with KCL at rounding."""
    m, n, b = 9, 7, 12
    cb = random_crossbar(rng, m, n, g_range=(1e-6, 4e-4), g_zero_fraction=0.1, r_range=(0.5, 5.0),
                         end_range=(0.5, 5.0))
    cb = xb.Crossbar(conductance=cb.conductance, lines=cb.lines, device=SINH)
    v = rng.uniform(-0.4, 0.4, (b, m))
    v[3] = 0.0
    sol = xb.solve(cb, xb.BiasScheme.read(v))
    assert sol.method == "newton" and 1 <= sol.iterations <= 4
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(v))
    for bb in (0, 3, 7, 11):
        one = xb.solve(cb, xb.BiasScheme.read(v[bb]))  # a single read: the reduced-grid Newton
        assert_same_solution(sol.select(bb), one, netlist, rtol=1e-10)
        assert sol.select(bb).kcl_residual < 1e-12


def test_solve_of_a_sinh_read_batch_agrees_with_ngspice(rng):
    cb = random_crossbar(rng, 6, 5, g_range=(1e-6, 4e-4), r_range=(0.5, 5.0), end_range=(0.5, 5.0))
    cb = xb.Crossbar(conductance=cb.conductance, lines=cb.lines, device=SINH)
    bias = xb.BiasScheme.read(rng.uniform(-0.5, 0.5, (8, 6)))
    netlist = xb.build_netlist(cb, bias)
    assert_same_solution(xb.solve_netlist(netlist, "sparse"), xb.solve_netlist(netlist, "ngspice"), netlist, rtol=1e-6)


def test_other_schemes_and_single_reads_keep_the_reduced_grid_newton(rng):
    """Only batched reads take the cell-voltage Newton; a write scheme gives None and solves as before."""
    cb = random_crossbar(rng, 6, 6, r_range=(0.5, 5.0), end_range=(0.5, 5.0))
    cb = xb.Crossbar(conductance=cb.conductance, lines=cb.lines, device=SINH)
    write = xb.build_netlist(cb, xb.BiasScheme.write(2, 3, 1.0, "v/2", shape=(6, 6)))
    layout = grid_layout(write)
    assert layout is not None and grid_read_newton(write, layout, NewtonOptions()) is None
    single = xb.build_netlist(cb, xb.BiasScheme.read(np.full(6, 0.2)))
    assert grid_read_newton(single, grid_layout(single), NewtonOptions()) is None  # type: ignore[arg-type]


def test_solve_of_a_sinh_read_batch_with_columns_held_off_ground(rng):
    """Columns held at their own voltages (no unit-response start): still equal to single solves."""
    from xbarsim.netlists.bias import LineDrive

    cb = random_crossbar(rng, 7, 6, g_range=(1e-6, 4e-4), r_range=(0.5, 5.0), end_range=(0.5, 5.0))
    cb = xb.Crossbar(conductance=cb.conductance, lines=cb.lines, device=SINH)
    v, w = rng.uniform(-0.3, 0.3, (10, 7)), rng.uniform(-0.2, 0.2, (10, 6))
    bias = xb.BiasScheme(row_left=LineDrive.at(v), col_bottom=LineDrive.at(w))
    netlist = xb.build_netlist(cb, bias)
    assert grid_read_newton(netlist, grid_layout(netlist), NewtonOptions()) is not None  # type: ignore[arg-type]
    sol = xb.solve(cb, bias)
    for bb in (0, 9):
        one = xb.solve(cb, xb.BiasScheme(row_left=LineDrive.at(v[bb]), col_bottom=LineDrive.at(w[bb])))
        assert_same_solution(sol.select(bb), one, netlist, rtol=1e-10)
        assert sol.select(bb).kcl_residual < 1e-12


@pytest.mark.parametrize("shape", [(25, 25), (9, 140)], ids=["dense-Z", "prefix-sum-Z"])
def test_float32_inner_cg_equals_float64_newton(rng, shape, monkeypatch):
    """Early Newton steps solve their CG in float32 (forcing term >= _SINGLE_ETA); the cell voltages
    still equal a Newton whose every CG runs in float64, and KCL holds at float64 rounding."""
    import xbarsim.solver.tile_newton as tn

    m, n = shape
    k, b = 2, 5
    g = _tiles(rng, k, m, n)
    lines = random_lines(rng, m, n, r_range=(0.5, 2.0), end_range=(0.5, 2.0))
    v = rng.uniform(-0.4, 0.4, (k, b, m))
    gk = np.repeat(np.moveaxis(g, 0, -1), b, axis=2)
    vk = np.ascontiguousarray(v.reshape(k * b, m).T)
    trees = ReadTrees.from_lines(lines, m, n)
    u32, it32, _ = read_newton(gk, trees, SINH, vk, NewtonOptions())
    assert "single" in trees.__dict__ and trees.single.rr.dtype == np.float32  # the float32 CG ran
    monkeypatch.setattr(tn, "_SINGLE_ETA", np.inf)
    trees64 = ReadTrees.from_lines(lines, m, n)
    u64, it64, _ = read_newton(gk, trees64, SINH, vk, NewtonOptions())
    assert "single" not in trees64.__dict__
    assert u32.dtype == np.float64 and it32 <= it64 + 1
    np.testing.assert_allclose(u32, u64, rtol=0, atol=1e-12 * np.abs(u64).max())
    c = SINH.current(u32, gk)
    for e in (0, k * b - 1):
        kk = e // b
        v_row, v_col = trees.row_voltage(c, vk)[:, :, e], trees.col_voltage(c)[:, :, e]
        # the recomputation itself rounds at a few 1e-17 A per node (volt-scale node voltages over 1 ohm)
        assert _kcl(lines, g[kk], vk[:, e], v_row, v_col, SINH) < 1e-11 * np.abs(c[:, :, e]).max()


def test_batched_newton_reports_overflowing_device_currents():
    """Cell voltages whose sinh overflows (a u > 710) are reported as divergence, not returned."""
    with pytest.raises(xb.ConvergenceError, match="overflowed"):
        tile_read_currents(np.full((1, 4, 4), 1e-3), xb.LineResistance.uniform(1.0), SINH,
                           np.full((1, 1, 4), 400.0))


def test_strong_sinh_read_batch_converges_where_single_reads_do():
    """a = 20 /V at 0.9 V: the linear start puts ~100 A through each cell, and the cell-voltage Newton
    stalls (its step -r - Z S y cancels at r ~ 1e4 V); the batch then takes the node-voltage Newton
    that every single read takes, instead of raising ConvergenceError (review found it)."""
    g = np.array([[6.83013347e-05, 8.50743960e-05, 6.47991907e-05, 4.12476974e-05, 5.21412412e-05, 5.97509083e-05]])
    lines = xb.LineResistance(row_segment=2.0, col_segment=2.0, row_driver=50.0, col_sense=50.0)
    dev = xb.Sinh(a=20.0)
    cb = xb.Crossbar(conductance=g, lines=lines, device=dev)
    v = np.linspace(-0.92279174, 0.8, 8)[:, None]
    v[3] = 0.0
    with pytest.raises(xb.ConvergenceError):  # the cell-voltage Newton alone
        read_newton(g[:, :, None], ReadTrees.from_lines(lines, 1, 6), dev, v[:1].T.copy(), NewtonOptions())
    sol = xb.solve(cb, xb.BiasScheme.read(v))
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(v))
    assert sol.kcl_residual < 1e-12
    for bb in range(8):
        assert_same_solution(sol.select(bb), xb.solve(cb, xb.BiasScheme.read(v[bb])), netlist, rtol=1e-10)
    got = xb.SparseBackend().read_currents(g[None], lines, dev, v[None])
    np.testing.assert_allclose(got[0], np.asarray(sol.output_currents), rtol=1e-10,
                               atol=1e-10 * np.abs(np.asarray(sol.output_currents)).max())
