"""The grid-native path (:mod:`xbarsim.solver.gridpath`): no netlist, the same answer as the general
netlist path on every scheme it accepts, a KCL residual computed from the grid's own arrays, and
refusal (or the general path from ``solve``) for everything else."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from xbartest import assert_same_solution, random_crossbar, random_lines

import xbarsim as xb
from xbarsim.solver import api as solver_api
from xbarsim.solver.gridpath import (
    GridPathUnsupported,
    _GridFields,
    _Sources,
    grid_kcl_residual,
    grid_path_reason,
    solve_grid_native,
)
from xbarsim.solver.solution import FIELDS, _node_fields

DIRECT = xb.SparseBackend(xb.SparseOptions(method="direct"))


def _schemes(m: int, n: int, rng: np.random.Generator) -> dict[str, xb.BiasScheme]:
    both = xb.LineDrive(voltage=rng.uniform(0, 0.3, m), driven=True)
    ground = xb.LineDrive(voltage=0.0, driven=True)
    return {
        "read": xb.BiasScheme.read(rng.uniform(0.0, 0.3, m)),
        "read-batch": xb.BiasScheme.read(rng.uniform(-0.3, 0.3, (3, m))),
        "both-ends": xb.BiasScheme(row_left=both, row_right=both, col_bottom=ground, col_top=ground),
        "right-top": xb.BiasScheme(row_right=xb.LineDrive.at(rng.uniform(0, 0.3, m)), col_top=ground),
        "v/2": xb.BiasScheme.write(m // 2, n - 1, 1.0, "v/2"),
        "v/3": xb.BiasScheme.write(m - 1, 0, -1.2, "v/3"),
        "grounded": xb.BiasScheme.write(0, n // 2, 1.0, "grounded"),
        "floating": xb.BiasScheme.write(1, 2, 1.0, "floating"),
        "equal": xb.BiasScheme(row_left=xb.LineDrive.at(0.2), col_bottom=xb.LineDrive.at(0.2)),
    }


def _crossbar(rng: np.random.Generator, m: int, n: int) -> xb.Crossbar:
    """Non-uniform segments, drivers and senses; every cell conducting (a floating scheme's lines
    then hang on the cells)."""
    return random_crossbar(rng, m, n, lines=random_lines(rng, m, n, r_range=(0.5, 5.0), end_range=(1.0, 20.0)))


def _native(cb: xb.Crossbar, bias: xb.BiasScheme, rtol: float = 1e-13) -> xb.Solution:
    sol = solve_grid_native(cb, bias, rtol=rtol)
    assert isinstance(sol._source, _GridFields)
    return sol


@pytest.mark.parametrize("shape", [(20, 30), (33, 17), (26, 26)])
@pytest.mark.parametrize("scheme", ["read", "read-batch", "both-ends", "right-top", "v/2", "v/3", "grounded",
                                    "floating", "equal"])
def test_grid_native_path_equals_the_general_path(rng, shape, scheme):
    m, n = shape
    cb = _crossbar(rng, m, n)
    bias = _schemes(m, n, rng)[scheme]
    assert grid_path_reason(cb, bias) is None
    netlist = xb.build_netlist(cb, bias)
    ref = xb.solve_netlist(netlist, DIRECT)
    sol = _native(cb, bias, rtol=1e-15)
    for name in FIELDS[:-1]:
        assert np.shape(getattr(sol, name)) == np.shape(getattr(ref, name)), name
    assert_same_solution(ref, sol, netlist, rtol=1e-12)
    # voltages to 1e-12 of the largest, or to the conditioning floor of assert_same_solution where
    # that is larger (a floating scheme's lines hang on 10 uS cells: kappa ~ 1e6)
    g_all = np.concatenate([1.0 / netlist.resistor_values, netlist.conductance.ravel()])
    floor = max(1e-12, np.finfo(float).eps * g_all.max() / g_all.min())
    scale = np.abs(ref.node_voltages).max()
    np.testing.assert_allclose(sol.node_voltages, ref.node_voltages, rtol=0, atol=floor * scale)
    assert sol.kcl_residual < 1e-13
    if scheme == "equal":  # every source at 0.2 V: exactly 0.2 V everywhere, no current
        assert np.all(sol.node_voltages == 0.2) and np.all(sol.cell_currents == 0.0)


def test_default_tolerance_agrees_within_conditioning(rng):
    cb = _crossbar(rng, 40, 35)
    for bias in _schemes(40, 35, rng).values():
        netlist = xb.build_netlist(cb, bias)
        sol = _native(cb, bias)
        assert_same_solution(xb.solve_netlist(netlist, DIRECT), sol, netlist, rtol=1e-11)
        assert sol.kcl_residual < 1e-12


def test_solve_takes_the_grid_path_without_building_a_netlist(rng, monkeypatch):
    cb = _crossbar(rng, 40, 30)
    bias = xb.BiasScheme.read(rng.uniform(0, 0.3, 40))
    ref = xb.solve(cb, bias, DIRECT)

    def no_netlist(*args: object) -> None:
        raise AssertionError("build_netlist called")

    monkeypatch.setattr(solver_api, "build_netlist", no_netlist)
    for backend in ("sparse", xb.SparseBackend(), xb.SparseBackend(xb.SparseOptions(method="iterative"))):
        sol = xb.solve(cb, bias, backend)
        assert isinstance(sol._source, _GridFields)
        assert sol.method == "iterative" and sol.iterations > 0 and sol.backend == "sparse"
        np.testing.assert_allclose(sol.output_currents, ref.output_currents, rtol=1e-11, atol=0)
        assert sol.kcl_residual < 1e-12
        assert set(sol.timings) >= {"assemble", "factor", "solve", "postprocess", "total"}


def test_lazy_fields_select_and_pickle(rng):
    cb = _crossbar(rng, 30, 25)
    bias = xb.BiasScheme.read(rng.uniform(-0.3, 0.3, (4, 30)))
    sol = _native(cb, bias, rtol=1e-15)
    assert not sol._values  # nothing computed before it is asked for
    netlist = xb.build_netlist(cb, bias)
    ref = xb.solve_netlist(netlist, DIRECT)
    one = sol.select(2)
    assert not one.batched and one.shape == (30, 25)
    assert_same_solution(ref.select(2), one, xb.build_netlist(cb, xb.BiasScheme.read(bias.row_left.voltage[2])),
                         rtol=1e-12)
    some = sol.select([3, 0])
    np.testing.assert_array_equal(some.cell_currents, sol.cell_currents[[3, 0]])
    back = pickle.loads(pickle.dumps(sol))
    for name in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(back, name)), np.asarray(getattr(sol, name)))


def test_kcl_residual_from_the_grid_equals_the_netlist_definition(rng):
    """On voltages that do not solve KCL (perturbed), both computations give the same residual."""
    for scheme, bias in _schemes(21, 24, rng).items():
        cb = _crossbar(rng, 21, 24)
        netlist = xb.build_netlist(cb, bias)
        v = np.array(xb.solve_netlist(netlist, DIRECT).node_voltages).reshape(netlist.batch_size, -1)
        v[:, :-netlist.source_node.size] *= 1 + 1e-6 * rng.standard_normal(v[:, :-netlist.source_node.size].shape)
        ref = _node_fields(netlist, v)[0]["kcl_residual"]
        mn = 21 * 24
        vr, vc = v[:, :mn].reshape(-1, 21, 24), v[:, mn:2 * mn].reshape(-1, 21, 24)
        src = _Sources(cb, bias)
        icell = cb.device.current(vr - vc, cb.conductance)
        got = grid_kcl_residual(cb, src, vr, vc, v[:, 2 * mn:], icell)
        assert got == pytest.approx(ref, rel=1e-9), scheme
        assert ref > 1e-9


@pytest.mark.parametrize("case", ["sinh", "zero-segment", "zero-driver", "big-batch", "open-floating", "small",
                                  "spread", "nothing-driven"])
def test_refused_cases_name_the_reason_and_solve_takes_the_general_path(rng, case):
    m, n = 30, 20
    cb = _crossbar(rng, m, n)
    bias = xb.BiasScheme.read(rng.uniform(0, 0.3, m))
    if case == "sinh":
        cb = xb.Crossbar(conductance=cb.conductance, lines=cb.lines, device=xb.Sinh(a=2.0))
    elif case == "zero-segment":
        r = np.array(cb.lines.row_segment)
        r[3, 4] = 0.0
        cb = xb.Crossbar(conductance=cb.conductance, lines=xb.LineResistance(
            row_segment=r, col_segment=cb.lines.col_segment, row_driver=cb.lines.row_driver,
            col_sense=cb.lines.col_sense))
    elif case == "zero-driver":
        cb = xb.Crossbar(conductance=cb.conductance, lines=xb.LineResistance(
            row_segment=cb.lines.row_segment, col_segment=cb.lines.col_segment, row_driver=0.0,
            col_sense=cb.lines.col_sense))
    elif case == "big-batch":
        bias = xb.BiasScheme.read(rng.uniform(0, 0.3, (40, m)))
    elif case == "open-floating":
        g = np.array(cb.conductance)
        g[5, 5] = 0.0
        cb = xb.Crossbar(conductance=g, lines=cb.lines)
        bias = xb.BiasScheme.write(1, 2, 1.0, "floating")
    elif case == "small":
        cb = _crossbar(rng, 10, 12)
        bias = xb.BiasScheme.read(rng.uniform(0, 0.3, 10))
    elif case == "spread":
        g = np.array(cb.conductance)
        g[0, 0] = 1e-12
        cb = xb.Crossbar(conductance=g, lines=cb.lines)
    elif case == "nothing-driven":
        bias = xb.BiasScheme()
    reason = grid_path_reason(cb, bias)
    assert reason
    with pytest.raises(GridPathUnsupported, match="grid-native path does not cover") as info:
        solve_grid_native(cb, bias)
    assert isinstance(info.value, xb.ConfigError)
    if case == "nothing-driven":
        with pytest.raises(xb.CircuitError):
            xb.solve(cb, bias)
        return
    sol = xb.solve(cb, bias)
    assert not isinstance(sol._source, _GridFields)
    netlist = xb.build_netlist(cb, bias)
    assert_same_solution(xb.solve_netlist(netlist, DIRECT), sol, netlist, rtol=1e-10)


def test_cg_failure_on_the_grid_falls_back_to_the_general_path(rng):
    cb = _crossbar(rng, 30, 30)
    bias = xb.BiasScheme.read(rng.uniform(0, 0.3, 30))
    one_step = xb.SparseBackend(xb.SparseOptions(method="iterative", maxiter=1))
    with pytest.raises(GridPathUnsupported, match="did not reach"):
        solve_grid_native(cb, bias, maxiter=1)
    sol = xb.solve(cb, bias, one_step)
    assert sol.method == "iterative->direct"


def test_direct_option_keeps_the_general_path(rng):
    cb = _crossbar(rng, 30, 30)
    sol = xb.solve(cb, xb.BiasScheme.read(rng.uniform(0, 0.3, 30)), DIRECT)
    assert sol.method == "direct" and not isinstance(sol._source, _GridFields)


# ------------------------------------------------------------------ the coarse correction across lines
@pytest.mark.parametrize("shape,k", [((20, 30), 8), ((33, 17), 4), ((9, 40), 8), ((16, 16), 20)])
def test_coarse_operator_is_the_galerkin_product_of_the_wire_laplacian(rng, shape, k):
    """``A_c`` assembled from the tensor structure equals ``Q^T L Q`` formed with sparse matrices, and
    the correction applies ``Q A_c^{-1} Q^T``."""
    import scipy.sparse as sp

    from xbarsim.solver._coarse import CoarseGrid, hat_interpolation

    m, n = shape
    mn = m * n
    gr, gc = rng.uniform(0.1, 2, (m, n - 1)), rng.uniform(0.1, 2, (m - 1, n))
    attach = np.concatenate([np.arange(m) * n, mn + (m - 1) * n + np.arange(n), [n - 1]])
    sg = rng.uniform(0.5, 1, attach.size)
    cg = CoarseGrid(gr, gc, attach, sg, k)
    q = sp.kron(hat_interpolation(m, k)[0], hat_interpolation(n, k)[0]).tocsr()
    idx = np.arange(mn).reshape(m, n)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    lap = sp.coo_matrix((np.concatenate([gr.ravel(), gc.ravel()]), (a, b)), shape=(mn, mn)).tocsr()
    lap = lap + lap.T
    diag = np.asarray(lap.sum(axis=1)).ravel() + np.bincount(np.where(attach < mn, attach, attach - mn),
                                                               weights=sg, minlength=mn)
    ref = (q.T @ (sp.diags(diag) - lap) @ q).toarray()
    np.testing.assert_allclose(cg.a_c.toarray(), ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    r = rng.standard_normal((2, mn))
    out = np.zeros((2, mn))
    cg.add_to(r, out, block=5)
    want = (q @ np.linalg.solve(ref, q.T @ r.T)).T
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("scheme", ["read", "read-batch", "v/3", "floating", "both-ends"])
def test_coarse_preconditioned_cg_converges_to_the_same_answer(rng, scheme):
    cb = _crossbar(rng, 41, 37)
    bias = _schemes(41, 37, rng)[scheme]
    plain = solve_grid_native(cb, bias, rtol=1e-15, coarse=False)
    with_coarse = solve_grid_native(cb, bias, rtol=1e-15, coarse=True)
    netlist = xb.build_netlist(cb, bias)
    assert_same_solution(xb.solve_netlist(netlist, DIRECT), with_coarse, netlist, rtol=1e-12)
    assert_same_solution(plain, with_coarse, netlist, rtol=1e-12)
    assert with_coarse.kcl_residual < 1e-13


@pytest.mark.parametrize("scheme", ["read", "read-batch", "v/2", "floating", "right-top"])
def test_large_array_code_path_on_small_arrays(rng, monkeypatch, scheme):
    """Arrays of 2^16 cells and more transpose in slabs, update in chunks and keep one scratch array;
    forced here on small arrays, the answer is the same."""
    from xbarsim.solver import gridpath

    monkeypatch.setattr(gridpath, "_SLAB_MIN", 0)
    monkeypatch.setattr(gridpath, "_SLAB", 3)
    cb = _crossbar(rng, 29, 23)
    bias = _schemes(29, 23, rng)[scheme]
    netlist = xb.build_netlist(cb, bias)
    for coarse in (False, True):
        sol = solve_grid_native(cb, bias, rtol=1e-15, coarse=coarse)
        assert_same_solution(xb.solve_netlist(netlist, DIRECT), sol, netlist, rtol=1e-12)
        assert sol.kcl_residual < 1e-13


def test_a_large_array_equals_the_general_path(rng):
    """At 260x256 the general path's CG (same tolerance) is the reference: SuperLU's answer is off by
    1e-11 relative in the power of a V/3 write here (its KCL residual is 3x CG's), within conditioning."""
    cb = _crossbar(rng, 260, 256)
    tight = xb.SparseOptions(method="iterative", rtol=1e-15)
    for bias in (xb.BiasScheme.read(rng.uniform(0, 0.3, 260)), xb.BiasScheme.write(100, 7, 1.0, "v/3")):
        netlist = xb.build_netlist(cb, bias)
        sol = xb.solve(cb, bias, xb.SparseBackend(tight))
        assert isinstance(sol._source, _GridFields)
        assert_same_solution(xb.solve_netlist(netlist, xb.SparseBackend(tight)), sol, netlist, rtol=1e-12)
        assert_same_solution(xb.solve_netlist(netlist, DIRECT), sol, netlist, rtol=1e-10)
        assert sol.kcl_residual < 1e-12


@pytest.mark.parametrize("shape", [(1, 700), (700, 1), (2, 400), (400, 3)])
@pytest.mark.parametrize("coarse", [False, True])
def test_thin_arrays(rng, shape, coarse):
    m, n = shape
    cb = _crossbar(rng, m, n)
    for bias in (xb.BiasScheme.read(rng.uniform(0, 0.3, m)), xb.BiasScheme.write(m - 1, n // 2, 1.0, "floating"),
                 xb.BiasScheme.write(0, n - 1, 1.0, "v/3")):
        netlist = xb.build_netlist(cb, bias)
        sol = solve_grid_native(cb, bias, coarse=coarse)
        assert_same_solution(xb.solve_netlist(netlist, DIRECT), sol, netlist, rtol=1e-11)
        assert sol.kcl_residual < 1e-12


def test_line_factorizations_kept_per_crossbar_and_driven_ends(rng):
    """Small arrays keep their line factorizations with the (immutable) crossbar, one per set of driven
    ends (at most four); alternating biases and repeats give the same answers as fresh solves."""
    from xbarsim.solver import gridpath

    cb = _crossbar(rng, 30, 28)
    schemes = _schemes(30, 28, rng)
    order = ["read", "v/3", "read-batch", "floating", "both-ends", "right-top", "read", "v/3"]
    for name in order:
        bias = schemes[name]
        netlist = xb.build_netlist(cb, bias)
        assert_same_solution(xb.solve_netlist(netlist, DIRECT), _native(cb, bias), netlist, rtol=1e-11)
    assert len(gridpath._summary(cb).factors) == gridpath._MAX_FACTORS
    twin = xb.Crossbar(conductance=cb.conductance, lines=cb.lines)  # a new object: its own cache
    assert not gridpath._summary(twin).factors
