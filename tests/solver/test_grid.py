"""The grid fast path of the sparse backend (:mod:`xbarsim.solver._grid`): it is taken exactly when the
netlist has the regular layout, agrees with the general direct path and with ngspice, keeps the
KCL check, and falls back where it must."""

from __future__ import annotations

import numpy as np
import pytest
from xbartest import assert_same_solution, random_crossbar, random_lines

import xbarsim as xb
from xbarsim.errors import CircuitError
from xbarsim.solver._grid import GridSystem, grid_layout, solve_grid
from xbarsim.solver.solution import element_arrays

DIRECT = xb.SparseBackend(xb.SparseOptions(method="direct"))
ITERATIVE = xb.SparseBackend(xb.SparseOptions(method="iterative"))


def _biases(m: int, n: int, rng: np.random.Generator) -> list[xb.BiasScheme]:
    both = xb.LineDrive(voltage=rng.uniform(0, 0.3, m), driven=True)
    return [
        xb.BiasScheme.read(rng.uniform(0.0, 0.3, m)),
        xb.BiasScheme.read(rng.uniform(-0.3, 0.3, (3, m))),
        xb.BiasScheme(row_left=both, row_right=both, col_bottom=xb.LineDrive(voltage=0.0, driven=True),
                      col_top=xb.LineDrive(voltage=0.0, driven=True)),
        xb.BiasScheme.write(m // 2, n - 1, 1.0, "v/3"),
        xb.BiasScheme.write(0, 0, 1.0, "floating"),
    ]


def _iterative_solutions(rng: np.random.Generator):
    for m, n in [(1, 1), (1, 7), (9, 1), (2, 3), (17, 12), (40, 33)]:
        cb = random_crossbar(rng, m, n, g_zero_fraction=0.1)
        for bias in _biases(m, n, rng):
            yield xb.build_netlist(cb, bias)


def test_grid_path_agrees_with_the_direct_path(rng):
    for netlist in _iterative_solutions(rng):
        assert grid_layout(netlist) is not None
        try:
            direct = xb.solve_netlist(netlist, DIRECT)
        except CircuitError as exc:  # a floating line (open cells under a floating scheme)
            with pytest.raises(CircuitError) as info:
                xb.solve_netlist(netlist, ITERATIVE)
            assert str(info.value) == str(exc)
            continue
        grid = xb.solve_netlist(netlist, ITERATIVE)
        assert grid.method == "iterative"
        # CG stops at a componentwise backward error of 1e-13; the forward error is that times the
        # conditioning, a few 1e-12 of the largest voltage here (currents also carry the cancellation
        # floor of assert_same_solution, ``64 eps |V| max G``)
        assert_same_solution(direct, grid, netlist, rtol=1e-11)
        np.testing.assert_allclose(grid.node_voltages, direct.node_voltages, rtol=0,
                                   atol=1e-11 * np.abs(direct.node_voltages).max())
        assert grid.kcl_residual < 1e-12


def test_grid_path_agrees_with_ngspice(rng):
    cb = random_crossbar(rng, 6, 5, g_zero_fraction=0.1)
    for bias in _biases(6, 5, rng)[:4]:
        netlist = xb.build_netlist(cb, bias)
        grid = xb.solve_netlist(netlist, ITERATIVE)
        spice = xb.solve_netlist(netlist, "ngspice")
        assert grid.method == "iterative"
        assert_same_solution(grid, spice, netlist, rtol=1e-9)


def test_default_solve_of_a_large_read_takes_the_grid_path(rng):
    cb = random_crossbar(rng, 40, 30, r_range=(1.0, 1.0), end_range=(1.0, 1.0))
    v = rng.uniform(0, 0.3, 40)
    sol = xb.solve(cb, xb.BiasScheme.read(v))
    assert sol.method == "iterative" and sol.iterations > 0
    ref = xb.solve(cb, xb.BiasScheme.read(v), DIRECT)
    np.testing.assert_allclose(sol.output_currents, ref.output_currents, rtol=1e-12, atol=0)
    assert set(sol.timings) >= {"assemble", "factor", "solve", "postprocess", "total"}


def test_ideal_wires_leave_the_grid_layout_and_still_solve(rng):
    cb = random_crossbar(rng, 12, 10, zero_fraction=0.3)
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(rng.uniform(0, 0.3, 12)))
    assert grid_layout(netlist) is None
    assert_same_solution(xb.solve_netlist(netlist, DIRECT), xb.solve_netlist(netlist, ITERATIVE), netlist, rtol=1e-10)


def test_grid_layout_rejects_a_renumbered_netlist(rng):
    netlist = xb.build_netlist(random_crossbar(rng, 3, 4), xb.BiasScheme.read(np.ones(3)))
    swapped = np.array(netlist.resistor_nodes)[:, ::-1]
    import dataclasses

    assert grid_layout(dataclasses.replace(netlist, resistor_nodes=swapped)) is None
    assert grid_layout(dataclasses.replace(netlist, row_node=np.array(netlist.col_node),
                                           col_node=np.array(netlist.row_node))) is None


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 1), (5, 7)])
def test_structured_node_sums_match_bincount(rng, shape):
    m, n = shape
    both = xb.LineDrive(voltage=0.1, driven=True)
    bias = xb.BiasScheme(row_left=both, row_right=both, col_bottom=xb.LineDrive(voltage=0.0, driven=True),
                         col_top=xb.LineDrive(voltage=0.0, driven=rng.random(n) < 0.5))
    netlist = xb.build_netlist(random_crossbar(rng, m, n), bias)
    layout = grid_layout(netlist)
    assert layout is not None
    a, b = element_arrays(netlist)
    x = rng.standard_normal((3, a.size))
    for sign in (1.0, -1.0):
        ref = np.stack([np.bincount(a, weights=xr, minlength=netlist.n_nodes)
                        + sign * np.bincount(b, weights=xr, minlength=netlist.n_nodes) for xr in x])
        np.testing.assert_allclose(layout.at_nodes(x, sign), ref, rtol=1e-13, atol=1e-13)


def test_grid_system_is_the_nodal_matrix(rng):
    """The reduced CG solves the same equations as the assembled nodal matrix."""
    from xbarsim.solver.sparse import assemble

    netlist = xb.build_netlist(random_crossbar(rng, 7, 5, g_zero_fraction=0.2),
                               xb.BiasScheme.write(3, 2, 1.0, "v/2"))
    layout = grid_layout(netlist)
    system = GridSystem(layout, netlist.conductance)
    b_row, b_col = system.rhs(netlist.source_voltage)
    x_row, x_col, _, ok = solve_grid(system, b_row, b_col, 1e-14, 100)
    assert ok
    asm = assemble(netlist, netlist.conductance)
    x = np.linalg.solve(asm.A.toarray(), -(asm.C @ netlist.source_voltage.T))[:, 0]
    v = np.empty(netlist.n_nodes)
    v[asm.unknown] = x
    mn = 7 * 5
    np.testing.assert_allclose(x_row[0], v[:mn], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(system.to_row(x_col)[0], v[mn:2 * mn], rtol=1e-12, atol=1e-15)


def test_cg_failure_falls_back_to_direct(rng):
    cb = random_crossbar(rng, 20, 20)
    bias = xb.BiasScheme.read(rng.uniform(0, 0.3, 20))
    one_step = xb.SparseBackend(xb.SparseOptions(method="iterative", maxiter=1))
    sol = xb.solve(cb, bias, one_step)
    assert sol.method == "iterative->direct"
    assert_same_solution(xb.solve(cb, bias, DIRECT), sol, xb.build_netlist(cb, bias), rtol=1e-12)


def test_floating_line_on_the_grid_path_is_named(rng):
    g = rng.uniform(1e-6, 1e-4, (4, 5))
    g[2, :] = 0.0  # row 2 touches nothing through its cells
    cb = xb.Crossbar(conductance=g, lines=random_lines(rng, 4, 5))
    undriven_row2 = np.ones(4, dtype=bool)
    undriven_row2[2] = False
    bias = xb.BiasScheme(row_left=xb.LineDrive(voltage=0.2, driven=undriven_row2),
                         col_bottom=xb.LineDrive(voltage=0.0, driven=True))
    netlist = xb.build_netlist(cb, bias)
    assert grid_layout(netlist) is not None
    with pytest.raises(CircuitError, match="r2_0"):
        xb.solve_netlist(netlist, ITERATIVE)


def test_grid_newton_equals_the_general_newton_path(rng, monkeypatch):
    """Newton on the reduced row-node system (grid layout) against Newton on all nodes (the general
    path, forced by making the layout unrecognised), on random non-uniform wires and every scheme."""
    import dataclasses

    from xbarsim.solver import sparse

    # both stop at a KCL backward error of 1e-14; their forward difference is that times the
    # conditioning (floating lines under the write schemes: ~1e-12 of the largest voltage)
    tight = xb.SparseBackend(xb.SparseOptions(newton=xb.solver.newton.NewtonOptions(tol=1e-14)))
    for m, n in [(1, 1), (1, 6), (7, 1), (9, 8), (20, 13)]:
        cb = dataclasses.replace(random_crossbar(rng, m, n, g_zero_fraction=0.1), device=xb.Sinh(a=2.07))
        for bias in _biases(m, n, rng):
            netlist = xb.build_netlist(cb, bias)
            try:
                general_v = None
                with monkeypatch.context() as mp:
                    mp.setattr(sparse, "grid_layout", lambda _netlist: None)
                    general = xb.solve_netlist(netlist, tight)
                general_v = np.asarray(general.node_voltages)
            except CircuitError:
                with pytest.raises(CircuitError):
                    xb.solve_netlist(netlist, "sparse")
                continue
            grid = xb.solve_netlist(netlist, tight)
            assert grid.method == general.method == "newton"
            np.testing.assert_allclose(grid.node_voltages, general_v, rtol=0, atol=1e-11 * np.abs(general_v).max())
            assert_same_solution(general, grid, netlist, rtol=1e-11)
            assert grid.kcl_residual <= 1e-14


def test_grid_newton_falls_back_when_a_step_does_not_converge(rng, monkeypatch):
    import dataclasses

    from xbarsim.solver import newton

    cb = dataclasses.replace(random_crossbar(rng, 6, 5), device=xb.Sinh(a=2.07))
    bias = xb.BiasScheme.read(rng.uniform(0, 0.3, (3, 6)))
    ref = xb.solve(cb, bias)

    def failing(*args, **kwargs):
        raise newton.GridStepFailed("forced")

    monkeypatch.setattr(newton, "solve_linearised", failing)
    sol = xb.solve(cb, bias)
    assert sol.method == "newton"
    np.testing.assert_allclose(sol.node_voltages, ref.node_voltages, rtol=0, atol=1e-12)
