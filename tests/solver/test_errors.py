"""Solver-level errors: unknown backends, unsolvable circuits named, options validated, never NaN."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from xbartest import BACKEND_IDS, backend_for, random_crossbar

import xbarsim as xb
from xbarsim.errors import BackendUnavailableError, CircuitError, ConfigError

FLOAT_FIELDS = ("output_currents", "input_currents", "row_voltages", "col_voltages", "cell_voltages",
                "cell_currents", "node_voltages", "source_currents", "power")


# ----------------------------------------------------------------------------- backend selection
@pytest.mark.parametrize("name", ["spice", "SPARSE", "", "cholmod"])
def test_unknown_backend_name_lists_the_valid_ones(name):
    cb = xb.Crossbar(conductance=np.full((2, 2), 1e-4))
    with pytest.raises(ConfigError, match="`backend`") as info:
        xb.solve(cb, xb.BiasScheme.read([1.0, 1.0]), backend=name)
    assert "'sparse'" in str(info.value) and "'ngspice'" in str(info.value)
    assert repr(name) in str(info.value)


def test_backend_that_is_not_a_backend():
    cb = xb.Crossbar(conductance=np.full((2, 2), 1e-4))
    with pytest.raises(ConfigError, match="`backend`"):
        xb.solve(cb, xb.BiasScheme.read([1.0, 1.0]), backend=42)


def test_registry_names_and_custom_backend_objects():
    assert set(xb.BACKENDS) == {"ideal", "sparse", "ngspice"}
    ng = xb.solver.get_backend("ngspice", xb.NgspiceOptions(max_cells=4))
    assert ng.options.max_cells == 4
    with pytest.raises(xb.ConfigError, match="options"):
        xb.solver.get_backend(xb.SparseBackend(), xb.SparseOptions())

    class Recorder:
        """A minimal object implementing the protocol: delegates and records what it was given."""

        name = "recorder"

        def __init__(self) -> None:
            self.seen: list[xb.Netlist] = []

        def solve(self, netlist: xb.Netlist) -> xb.Solution:
            self.seen.append(netlist)
            return xb.SparseBackend().solve(netlist)

    rec = Recorder()
    assert isinstance(rec, xb.Backend)
    cb = xb.Crossbar(conductance=np.full((2, 3), 1e-4))
    sol = xb.solve(cb, xb.BiasScheme.read([1.0, 0.5]), backend=rec)
    assert len(rec.seen) == 1 and rec.seen[0].shape == (2, 3)
    np.testing.assert_allclose(sol.output_currents, np.array([1.0, 0.5]) @ cb.conductance, rtol=1e-13)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"method": "cg"}, "method"), ({"ordering": "amd"}, "ordering"), ({"rtol": 0.0}, "rtol"),
     ({"rtol": 1.5}, "rtol"), ({"maxiter": 0}, "maxiter"), ({"direct_max_unknowns": -1}, "direct_max_unknowns")],
)
def test_sparse_options_are_validated(kwargs, name):
    with pytest.raises(ConfigError, match=f"`{name}`"):
        xb.SparseOptions(**kwargs)


def test_backend_options_type():
    with pytest.raises(ConfigError, match="`options`"):
        xb.SparseBackend(xb.NgspiceOptions())
    with pytest.raises(ConfigError, match="`options`"):
        xb.NgspiceBackend(xb.SparseOptions())
    with pytest.raises(ConfigError, match="`max_cells`"):
        xb.NgspiceOptions(max_cells=0)


@pytest.mark.parametrize("backend", [xb.SparseBackend(), xb.NgspiceBackend(), xb.IdealBackend()],
                         ids=["sparse", "ngspice", "ideal"])
def test_backends_name_a_crossbar_given_instead_of_a_netlist(backend):
    # before: AttributeError from inside the sparse and ngspice backends
    with pytest.raises(ConfigError, match="`netlist` must be a Netlist; got Crossbar"):
        backend.solve(xb.Crossbar(conductance=np.full((2, 2), 1e-5)))


def test_ngspice_refuses_arrays_above_max_cells():
    cb = xb.Crossbar(conductance=np.full((4, 4), 1e-4))
    with pytest.raises(ConfigError, match="max_cells"):
        xb.solve(cb, xb.BiasScheme.read(np.ones(4)), backend=xb.NgspiceBackend(xb.NgspiceOptions(max_cells=15)))


def test_missing_pyspice_raises_backend_unavailable_with_install_hint():
    """In a fresh interpreter where PySpice cannot be imported (a real ImportError, not a mock of
    ngspice), the ngspice backend says what to install; the sparse backend is unaffected."""
    code = """
import sys
sys.modules["PySpice"] = None  # makes `import PySpice...` raise ImportError
import numpy as np, xbarsim as xb
cb = xb.Crossbar(conductance=np.full((2, 2), 1e-4))
bias = xb.BiasScheme.read([1.0, 1.0])
xb.solve(cb, bias)
try:
    xb.solve(cb, bias, backend="ngspice")
except xb.BackendUnavailableError as exc:
    assert isinstance(exc, ImportError)
    print("UNAVAILABLE:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    message = out.stdout.split("UNAVAILABLE:", 1)[-1]
    assert "UNAVAILABLE:" in out.stdout
    assert "apt-get install ngspice" in message and "PySpice" in message


def test_backend_unavailable_error_is_raised_as_import_error():
    with pytest.raises(ImportError):
        raise BackendUnavailableError("ngspice missing")


# ----------------------------------------------------------------------------- unsolvable circuits
def _floating_column() -> tuple[xb.Crossbar, xb.BiasScheme, set[str]]:
    """Column 1 has only open cells and its bottom end floats: c*_1 have no path to any source."""
    g = np.full((3, 3), 1e-4)
    g[:, 1] = 0.0
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0, driver=10.0, sense=10.0))
    bias = xb.BiasScheme(row_left=xb.LineDrive.at([1.0, 0.5, 0.2]),
                         col_bottom=xb.LineDrive(voltage=0.0, driven=np.array([True, False, True])))
    return cb, bias, {"c0_1", "c1_1", "c2_1"}


def _floating_write_row() -> tuple[xb.Crossbar, xb.BiasScheme, set[str]]:
    """Floating write scheme and an all-open unselected row: the row's nodes float."""
    g = np.full((4, 4), 1e-4)
    g[2, :] = 0.0
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0))
    return cb, xb.BiasScheme.write(0, 0, 2.0, "floating"), {f"r2_{j}" for j in range(4)}


def _floating_ideal_column() -> tuple[xb.Crossbar, xb.BiasScheme, set[str]]:
    """The same with ideal wires: the open column collapses into one node named after c0_1."""
    g = np.full((3, 3), 1e-4)
    g[:, 1] = 0.0
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(1.0), col_top=xb.LineDrive(voltage=0.0, driven=np.array([1, 0, 1],
                                                                                                    dtype=bool)))
    return xb.Crossbar(conductance=g), bias, {"c0_1"}


FLOATING = [_floating_column, _floating_write_row, _floating_ideal_column]


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
@pytest.mark.parametrize("case", FLOATING, ids=lambda f: f.__name__.strip("_"))
def test_floating_nodes_raise_circuit_error_naming_them(backend_id, case):
    """A singular circuit is a diagnosis, never NaN and never a solver crash, whatever the backend
    (the Backend protocol: "an unsolvable circuit raises CircuitError")."""
    cb, bias, floating = case()
    with pytest.raises(CircuitError, match="floating") as info:
        xb.solve(cb, bias, backend=backend_for(backend_id))
    named = {w.strip(",.") for w in str(info.value).split()}
    assert named & floating, str(info.value)
    assert not (named & {"r0_0", "c0_0"}), "only floating nodes are named"


def test_an_unbiased_array_floats_entirely():
    with pytest.raises(CircuitError, match="floating"):
        xb.solve(xb.Crossbar(conductance=np.full((2, 2), 1e-4)), xb.BiasScheme())


def test_many_floating_nodes_are_summarised():
    g = np.full((30, 3), 1e-4)
    g[:, 2] = 0.0
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0))
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(1.0), col_bottom=xb.LineDrive(voltage=0.0,
                                                                                driven=np.array([True, True, False])))
    with pytest.raises(CircuitError, match="30 node") as info:
        xb.solve(cb, bias)
    assert "more" in str(info.value) and len(str(info.value)) < 1000


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
def test_shorted_sources_raise_circuit_error_for_every_backend(backend_id):
    bias = xb.BiasScheme(row_left=xb.LineDrive.at([1.0, 1.0]), row_right=xb.LineDrive.at([1.0, 0.0]),
                         col_bottom=xb.LineDrive.at(0.0))
    with pytest.raises(CircuitError, match="short"):
        xb.solve(xb.Crossbar(conductance=np.full((2, 2), 1e-4)), bias, backend=backend_for(backend_id))


def test_transfer_matrix_needs_linear_devices():
    cb = xb.Crossbar(conductance=np.full((2, 2), 1e-4), device=xb.Sinh(a=2.0))
    with pytest.raises(ConfigError, match="linear"):
        xb.transfer_matrix(cb)


@pytest.mark.parametrize("bad", [None, np.full((2, 2), 1e-4)])
def test_transfer_matrix_names_a_crossbar_that_is_not_one(bad):
    # found in review: transfer_matrix(None) raised AttributeError: 'NoneType' object has no attribute 'shape'
    with pytest.raises(ConfigError, match="`crossbar` must be a Crossbar"):
        xb.transfer_matrix(bad)


# ----------------------------------------------------------------------------- valid edge values, no NaN
def _edge_cases(rng: np.random.Generator) -> list[tuple[str, xb.Crossbar, xb.BiasScheme]]:
    m, n = 5, 4
    g_open_row = rng.uniform(1e-6, 1e-4, (m, n))
    g_open_row[1, :] = 0.0
    return [
        ("all cells open", xb.Crossbar(conductance=np.zeros((m, n)), lines=xb.LineResistance.uniform(1.0, driver=5.0,
                                                                                                        sense=5.0)),
         xb.BiasScheme.read(np.ones(m))),
        ("all ideal", xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (m, n))), xb.BiasScheme.read(np.ones(m))),
        ("open row, resistive",
         xb.Crossbar(conductance=g_open_row, lines=xb.LineResistance.uniform(2.0, driver=3.0, sense=4.0)),
         xb.BiasScheme.read(rng.uniform(-1, 1, (2, m)))),
        ("mixed zeros", random_crossbar(rng, m, n, g_zero_fraction=0.3, zero_fraction=0.5),
         xb.BiasScheme.read(rng.uniform(-1, 1, m))),
        ("zero volts", random_crossbar(rng, m, n), xb.BiasScheme.read(np.zeros(m))),
        ("1x1 ideal", xb.Crossbar(conductance=[[1e-4]]), xb.BiasScheme.read([0.3])),
        ("v/3 write", random_crossbar(rng, m, n, zero_fraction=0.2), xb.BiasScheme.write(4, 0, -2.0, "v/3")),
        ("floating write", xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (m, n)),
                                       lines=xb.LineResistance.uniform(1.0)), xb.BiasScheme.write(2, 3, 2.0, "floating")),
        ("both ends driven", random_crossbar(rng, m, n),
         xb.BiasScheme(row_left=xb.LineDrive.at(1.0), row_right=xb.LineDrive.at(1.0),
                       col_bottom=xb.LineDrive.at(0.0), col_top=xb.LineDrive.at(0.0))),
    ]


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
def test_no_nan_in_any_result(rng, backend_id):
    for label, cb, bias in _edge_cases(rng):
        sol = xb.solve(cb, bias, backend=backend_for(backend_id))
        for name in FLOAT_FIELDS:
            assert np.all(np.isfinite(getattr(sol, name))), (label, name)
        assert np.isfinite(sol.kcl_residual) and sol.kcl_residual < 1e-12, (label, sol.kcl_residual)
        assert isinstance(sol.iterations, int) and sol.iterations >= 0
        assert sol.timings and all(t >= 0 for t in sol.timings.values())
        assert sol.backend == backend_for(backend_id).name


@pytest.mark.parametrize("backend_id", BACKEND_IDS)
def test_all_open_cells_carry_no_current(backend_id):
    cb = xb.Crossbar(conductance=np.zeros((3, 4)), lines=xb.LineResistance.uniform(1.0, driver=5.0, sense=5.0))
    sol = xb.solve(cb, xb.BiasScheme.read([1.0, -0.5, 0.25]), backend=backend_for(backend_id))
    assert not sol.output_currents.any() and not sol.cell_currents.any()
    np.testing.assert_allclose(sol.row_voltages, np.array([1.0, -0.5, 0.25])[:, None] * np.ones((3, 4)), rtol=1e-14)
    # a driver feeding only open cells carries nothing but rounding (eps V / R)
    np.testing.assert_allclose(sol.input_currents, 0.0, atol=1e-15)
    assert abs(sol.power) < 1e-15


def test_solution_fields_are_read_only(rng):
    sol = xb.solve(random_crossbar(rng, 2, 3), xb.BiasScheme.read([1.0, 1.0]))
    with pytest.raises(ValueError, match="read-only"):
        sol.output_currents[0] = 0.0
    with pytest.raises(AttributeError, match="Solution is immutable; cannot set 'output_currents'"):
        sol.output_currents = np.zeros(3)


@pytest.mark.parametrize("segment", [1.0, 0.0])  # the grid Newton and the general one (ideal wires merged)
def test_a_batch_that_does_not_converge_names_the_entries_that_failed(segment):
    # found in review: one of nine input vectors at 50 V failed the whole batch with the same message
    # whichever entry it was, so a caller could not tell which vector to look at
    cb = xb.Crossbar(conductance=np.full((3, 4), 1e-4), device=xb.Sinh(a=2.07),
                     lines=xb.LineResistance.uniform(segment, driver=10.0, sense=10.0))
    v = np.full((9, 3), 0.3)
    v[[2, 8]] = 50.0
    with pytest.raises(xb.ConvergenceError, match=r"Batch entries \[2, 8\] \(2 of 9\) did not converge") as info:
        xb.solve(cb, xb.BiasScheme.read(v))
    assert info.value.entries == (2, 8)
    v[[2, 8]] = 5000.0  # overflows at the first step
    with pytest.raises(xb.ConvergenceError, match=r"Batch entries \[2, 8\] \(2 of 9\) overflowed") as info:
        xb.solve(cb, xb.BiasScheme.read(v))
    assert info.value.entries == (2, 8)
    with pytest.raises(xb.ConvergenceError) as info:  # unbatched: nothing to name
        xb.solve(cb, xb.BiasScheme.read(v[2]))
    assert info.value.entries == () and "Batch" not in str(info.value)


def _extreme(m: int, n: int, g: float, seg: float, drv: float, device: xb.DeviceModel | None = None) -> xb.Crossbar:
    return xb.Crossbar(conductance=np.full((m, n), g), lines=xb.LineResistance.uniform(seg, driver=drv, sense=drv),
                       device=device or xb.Ohmic())


@pytest.mark.parametrize("case", ["nan-iterate", "span-overflow", "singular-line-sweep", "lazy-port-overflow"])
def test_extreme_legal_inputs_give_typed_errors_or_results_not_runtime_warnings(case):
    """Found in review by a scan of 5760 extreme legal inputs (1e-300..1e300 ohm and S, 1e150 V)
    with RuntimeWarning as an error: np.nanmax of an all-NaN Newton iterate ('All-NaN slice
    encountered') before the ConvergenceError, 1e300 / 1e-12 in the accuracy screen ('overflow in
    scalar divide'), numpy's LinAlgError out of transfer_matrices, and an overflow in the port
    matrix's node voltages computed on field access."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", xb.AccuracyWarning)
        warnings.simplefilter("ignore", UserWarning)  # conductances outside 1e-15..1 S
        try:
            if case == "nan-iterate":
                result = xb.solve(_extreme(1, 1, 1e-4, 0.0, 1e-300, xb.Sinh(a=2.0)), xb.BiasScheme.read([1e150]))
            elif case == "span-overflow":
                result = xb.solve(_extreme(24, 24, 1e-12, 1e-300, 0.0), xb.BiasScheme.read(np.full(24, 0.3)))
            elif case == "singular-line-sweep":
                result = xb.transfer_matrices(np.full((1, 1, 1), 1e-12),
                                              xb.LineResistance.uniform(0.0, driver=1e300, sense=1e300))
            else:
                result = xb.solve(_extreme(2, 3, 1e-300, 1e-300, 1e-300), xb.BiasScheme.read(np.full((40, 2), 1e150)))
                result.node_voltages
        except xb.XbarError:
            return
    # a result, then, must hold numbers (it was not looked at: a solution of NaNs passed)
    if isinstance(result, xb.Solution):
        for name in xb.Solution.FIELDS:
            assert np.all(np.isfinite(np.asarray(getattr(result, name), dtype=float))), (case, name)
    else:
        assert np.all(np.isfinite(result)), case


def test_solver_options_take_numpy_scalars_as_the_numbers_they_are():
    """maxiter=np.int64(5) was refused ("must be a positive int; got np.int64(5)") and a float32 time
    step as no time step, although tolerances took np.float64: a value from a numpy array or a
    config parsed with numpy is a number. They are stored as Python numbers; numpy bools stay refused."""
    from xbarsim.solver import TransientOptions
    from xbarsim.solver.newton import NewtonOptions
    from xbarsim.solver.ngspice import NgspiceOptions
    from xbarsim.solver.sparse import SparseOptions

    newton = NewtonOptions(maxiter=np.int64(5), max_step=np.float32(0.5), cg_maxiter=np.int32(10))
    assert (newton.maxiter, newton.max_step, newton.cg_maxiter) == (5, 0.5, 10)
    assert type(newton.maxiter) is int and type(newton.max_step) is float
    assert SparseOptions(maxiter=np.int64(7)).maxiter == 7
    assert NgspiceOptions(max_cells=np.uint16(100)).max_cells == 100
    tr = TransientOptions(maxiter=np.int64(5), dt=np.float32(2 ** -30), dt_min=np.float64(2 ** -40))
    assert (tr.maxiter, tr.dt) == (5, 2 ** -30) and type(tr.dt) is float
    for bad in (lambda: NewtonOptions(maxiter=np.bool_(True)), lambda: SparseOptions(maxiter=np.int64(0))):
        with pytest.raises(ConfigError, match="`maxiter` must be a positive int"):
            bad()
