"""The ideal backend: every wire shorted, equal to the sparse backend on a crossbar of 0 ohm wires."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.devices import Sinh
from xbarsim.errors import CircuitError, ConfigError
from xbarsim.solver.checks import COMPARED_FIELDS

WIRES = xb.LineResistance.uniform(2.0, driver=1.0, sense=3.0)
ZERO = xb.LineResistance.uniform(0.0)  # every segment, driver and sense 0 ohm: merged by build_netlist


def _bias(kind: str, m: int, rng: np.random.Generator) -> xb.BiasScheme:
    if kind == "read":
        return xb.BiasScheme.read(rng.uniform(-1.0, 1.0, m))
    if kind == "read-batch":
        return xb.BiasScheme.read(rng.uniform(-1.0, 1.0, (5, m)))
    if kind == "read-ports":  # > 32 operating points: the sparse backend answers through its port matrix
        return xb.BiasScheme.read(rng.uniform(-1.0, 1.0, (40, m)))
    return xb.BiasScheme.write(2, 1, 1.3, kind)


BIASES = ["read", "read-batch", "read-ports", "v/2", "v/3", "floating", "grounded"]


def _agree(ideal: xb.Solution, sparse: xb.Solution, fields=COMPARED_FIELDS) -> None:
    xb.assert_agree(sparse, ideal, rtol=1e-12, atol=1e-300, fields=fields)


@pytest.mark.parametrize("kind", BIASES)
@pytest.mark.parametrize("device", ["ohmic", "sinh"])
def test_ideal_backend_equals_sparse_on_zero_ohm_wires(rng, kind, device):
    """The ideal backend on a crossbar WITH wires equals the sparse backend on the same crossbar with
    0 ohm wires, field by field; on the 0 ohm crossbar itself, every field including the node voltages."""
    m, n = 6, 5
    g = rng.uniform(1e-6, 1e-4, (m, n))
    g[3, 2] = 0.0  # an open cell
    law = xb.Ohmic() if device == "ohmic" else Sinh(a=2.07)
    bias = _bias(kind, m, rng)
    zero = xb.Crossbar(conductance=g, lines=ZERO, device=law)
    wired = xb.Crossbar(conductance=g, lines=WIRES, device=law)
    ref = xb.solve(zero, bias, "sparse")
    backend = xb.IdealBackend(xb.IdealOptions(cells="law"))
    on_zero = xb.solve(zero, bias, backend)
    _agree(on_zero, ref)
    assert on_zero.kcl_residual < 1e-12
    on_wires = xb.solve(wired, bias, backend)
    # only the floating write scheme leaves lines floating; every other scheme drives every line
    assert on_wires.method == ("product" if kind != "floating" else ("newton" if device == "sinh" else "direct"))
    _agree(on_wires, ref, fields=[f for f in COMPARED_FIELDS if f != "node_voltages"])
    assert on_wires.kcl_residual < 1e-12
    # every node of the wired netlist sits at its line's voltage
    net = xb.build_netlist(wired, bias)
    nv = np.asarray(on_wires.node_voltages).reshape(-1, net.n_nodes)
    rv = np.asarray(on_wires.row_voltages).reshape(-1, m, n)
    cv = np.asarray(on_wires.col_voltages).reshape(-1, m, n)
    np.testing.assert_array_equal(nv[:, net.row_node], np.broadcast_to(rv[:, :, :1], rv.shape))
    np.testing.assert_array_equal(nv[:, net.col_node], np.broadcast_to(cv[:, :1, :], cv.shape))
    if device == "sinh":  # the default ("linear" cells) is the sparse backend on ohmic cells
        lin = xb.solve(wired, bias, "ideal")
        _agree(lin, xb.solve(xb.Crossbar(conductance=g, lines=ZERO), bias, "sparse"),
               fields=[f for f in COMPARED_FIELDS if f != "node_voltages"])


def test_floating_column_sits_at_the_conductance_weighted_mean_of_the_rows(rng):
    """Closed form: a column with no driven end is at u = sum_i g_i v_i / sum_i g_i (KCL), whatever the wires."""
    m, n = 4, 3
    g = rng.uniform(1e-6, 1e-4, (m, n))
    v = rng.uniform(-1.0, 1.0, m)
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(v), col_bottom=xb.LineDrive(voltage=0.0, driven=[True, False, True]))
    sol = xb.solve(xb.Crossbar(conductance=g, lines=WIRES), bias, "ideal")
    u = g[:, 1] @ v / g[:, 1].sum()
    np.testing.assert_allclose(sol.col_voltages[:, 1], u, rtol=1e-14)
    np.testing.assert_allclose(sol.cell_currents[:, 1], g[:, 1] * (v - u), rtol=1e-12, atol=1e-22)
    np.testing.assert_allclose(sol.output_currents, [v @ g[:, 0], 0.0, v @ g[:, 2]], rtol=1e-13, atol=1e-22)
    np.testing.assert_allclose(sol.input_currents, v * g[:, [0, 2]].sum(axis=1) + g[:, 1] * (v - u), rtol=1e-12)
    # power: what the sources deliver equals what the cells dissipate (the wires dissipate nothing)
    np.testing.assert_allclose(sol.power, float((sol.cell_voltages * sol.cell_currents).sum()), rtol=1e-12)


def test_read_with_every_line_driven_is_the_product_without_a_solve(rng):
    g = rng.uniform(1e-6, 1e-4, (8, 7))
    v = rng.uniform(-1.0, 1.0, (3, 8))
    sol = xb.solve(xb.Crossbar(conductance=g, lines=WIRES, device=Sinh(a=2.07)), xb.BiasScheme.read(v), "ideal")
    assert sol.method == "product"
    np.testing.assert_allclose(sol.output_currents, v @ g, rtol=1e-13)
    law = xb.solve(xb.Crossbar(conductance=g, lines=WIRES, device=Sinh(a=2.07)), xb.BiasScheme.read(v),
                   xb.IdealBackend(xb.IdealOptions(cells="law")))
    np.testing.assert_allclose(law.output_currents, (np.sinh(2.07 * v) / 2.07) @ g, rtol=1e-13)
    sel = sol.select(1)  # the node map follows a selection
    np.testing.assert_array_equal(sel.node_voltages, np.asarray(sol.node_voltages)[1])


def test_ideal_backend_diagnoses_islands_and_shorts():
    g = np.full((3, 3), 1e-5)
    g[:, 2] = 0.0  # column 2 touches no conducting cell
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(1.0), col_bottom=xb.LineDrive(voltage=0.0, driven=[True, True, False]))
    with pytest.raises(CircuitError, match="floating"):
        xb.solve(xb.Crossbar(conductance=g, lines=WIRES), bias, "ideal")
    # both ends of row 0 driven at different voltages: fine through wires, a short without them
    both = xb.BiasScheme(row_left=xb.LineDrive.at([1.0, 0.0, 0.0]), row_right=xb.LineDrive.at([0.5, 0.0, 0.0]),
                         col_bottom=xb.LineDrive.at(0.0))
    xb.solve(xb.Crossbar(conductance=np.full((3, 3), 1e-5), lines=WIRES), both, "sparse")
    with pytest.raises(CircuitError, match=r"row_left\[0\] and row_right\[0\]"):
        xb.solve(xb.Crossbar(conductance=np.full((3, 3), 1e-5), lines=WIRES), both, "ideal")


def test_ideal_solution_is_not_checked_against_the_wired_netlist():
    """Wires that make the nodal matrix ill-conditioned warn for the sparse backend; the ideal backend
    solves the circuit without them, which is well conditioned (tests run with warnings as errors)."""
    lines = xb.LineResistance.uniform(1e-9, driver=1e9, sense=1.0)
    cb = xb.Crossbar(conductance=np.full((3, 3), 1e-4), lines=lines)
    with pytest.warns(xb.errors.AccuracyWarning):
        xb.solve(cb, xb.BiasScheme.read([1.0, 0.5, 0.2]), "sparse")
    sol = xb.solve(cb, xb.BiasScheme.read([1.0, 0.5, 0.2]), "ideal")
    np.testing.assert_allclose(sol.output_currents, np.array([1.0, 0.5, 0.2]) @ cb.conductance, rtol=1e-14)


def test_registry_and_read_matrices(rng):
    assert isinstance(xb.solver.get_backend("ideal"), xb.IdealBackend)
    be = xb.solver.get_backend("ideal", xb.IdealOptions(cells="law"))
    assert be.options.cells == "law"
    with pytest.raises(ConfigError, match="`options` must be IdealOptions"):
        xb.solver.get_backend("ideal", xb.SparseOptions())
    with pytest.raises(ConfigError, match="`cells`"):
        xb.IdealOptions(cells="exact")
    g = rng.uniform(1e-6, 1e-4, (3, 4, 5))
    lines = xb.LineResistance.uniform(1.0)
    np.testing.assert_array_equal(xb.IdealBackend().read_matrices(g, lines, Sinh(a=2.0)), g)
    assert be.read_matrices(g, lines, Sinh(a=2.0)) is None
    np.testing.assert_array_equal(be.read_matrices(g, lines, xb.Ohmic()), g)
    assert xb.SparseBackend().read_matrices(g, lines, Sinh(a=2.0)) is None
    sparse_t = xb.SparseBackend().read_matrices(g, lines, xb.Ohmic())
    for k in range(3):  # each against a read of that crossbar
        v = rng.uniform(-1, 1, (2, 4))
        sol = xb.solve(xb.Crossbar(conductance=g[k], lines=lines), xb.BiasScheme.read(v), "sparse")
        np.testing.assert_allclose(v @ sparse_t[k], sol.output_currents, rtol=1e-12)
