"""Property tests: on random small circuits the sparse solver agrees with ngspice, and its direct and
iterative paths agree with each other; plus the structure of :func:`xbarsim.crosscheck`."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from xbartest import assert_same_solution, random_crossbar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xbarsim as xb
from xbarsim.errors import CircuitError

DIRECT = xb.SparseBackend(xb.SparseOptions(method="direct"))
ITERATIVE = xb.SparseBackend(xb.SparseOptions(method="iterative"))

# Circuits are small (<= 8x8); ngspice runs once per batch entry, a few ms each.
NGSPICE_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
SPARSE_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


# ----------------------------------------------------------------------------- strategies
def _log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0**e))


def _values(draw: st.DrawFn, shape: tuple[int, ...], lo: float, hi: float, p_zero: float) -> np.ndarray | float:
    """A scalar or a full array (each form is valid API), log-uniform in [lo, hi] with exact zeros."""
    zero_or = st.one_of(st.just(0.0), _log_uniform(lo, hi)) if p_zero > 0 else _log_uniform(lo, hi)
    if draw(st.booleans()):
        return draw(zero_or)
    size = int(np.prod(shape))
    vals = np.array(draw(st.lists(_log_uniform(lo, hi), min_size=size, max_size=size)), dtype=float)
    zeros = np.array(draw(st.lists(st.floats(0, 1), min_size=size, max_size=size)), dtype=float) < p_zero
    vals[zeros] = 0.0
    return vals.reshape(shape)


@st.composite
def crossbars(draw: st.DrawFn, max_size: int = 8) -> xb.Crossbar:
    """Random crossbars at typical values: cells 1 kohm-1 Mohm, segments 0.5-100 ohm, drivers and sense
    resistors 1 ohm-10 kohm, each possibly exactly zero (open cell, ideal wire).

    The spread of conductances bounds the condition number of the nodal matrix, and with it the
    digits any exact solver can deliver (about ``eps * max G / min g``): these ranges keep that below
    1e-9. Outside them two correct solvers differ by more (1e-7 S cells on 0.1 ohm wires: ~1e-8).
    """
    m = draw(st.integers(1, max_size))
    n = draw(st.integers(1, max_size))
    g = _values(draw, (m, n), 1e-6, 1e-3, p_zero=0.15)
    g = np.broadcast_to(g, (m, n)).copy()
    if not g.any():
        g[draw(st.integers(0, m - 1)), draw(st.integers(0, n - 1))] = 1e-5
    lines = xb.LineResistance(
        row_segment=_values(draw, (m, n - 1), 0.5, 100.0, p_zero=0.2),
        col_segment=_values(draw, (m - 1, n), 0.5, 100.0, p_zero=0.2),
        row_driver=_values(draw, (m,), 1.0, 1e4, p_zero=0.3),
        col_sense=_values(draw, (n,), 1.0, 1e4, p_zero=0.3),
    )
    return xb.Crossbar(conductance=g, lines=lines)


#: Voltages in volt: zero, or at least a millivolt (sub-normal inputs only test underflow).
VOLTS = st.one_of(st.just(0.0), st.floats(-2.0, -1e-3), st.floats(1e-3, 2.0))


def _line_drive(draw: st.DrawFn, n_lines: int, batch: int | None, default_driven: bool) -> xb.LineDrive:
    kind = draw(st.sampled_from(["driven", "floating", "mask"] if default_driven else ["floating", "floating", "mask", "driven"]))
    if kind == "floating":
        return xb.LineDrive.floating()
    shape = (n_lines,) if batch is None else (batch, n_lines)
    volts = np.array(draw(st.lists(VOLTS, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
    volts = volts.reshape(shape) if draw(st.booleans()) else float(volts.ravel()[0])
    if kind == "driven":
        return xb.LineDrive.at(volts)
    mask = np.array(draw(st.lists(st.booleans(), min_size=n_lines, max_size=n_lines)), dtype=bool)
    return xb.LineDrive(voltage=volts, driven=mask)


@st.composite
def biases(draw: st.DrawFn, shape: tuple[int, int]) -> xb.BiasScheme:
    m, n = shape
    kind = draw(st.sampled_from(["read", "write", "general"]))
    batch = draw(st.sampled_from([None, None, 2]))
    if kind == "read":
        v_shape = (m,) if batch is None else (batch, m)
        v = draw(st.lists(VOLTS, min_size=int(np.prod(v_shape)), max_size=int(np.prod(v_shape))))
        return xb.BiasScheme.read(np.reshape(v, v_shape))
    if kind == "write":
        return xb.BiasScheme.write(
            draw(st.integers(0, m - 1)),
            draw(st.integers(0, n - 1)),
            draw(VOLTS),
            draw(st.sampled_from(["v/2", "v/3", "floating", "grounded"])),
        )
    return xb.BiasScheme(
        row_left=_line_drive(draw, m, batch, default_driven=True),
        row_right=_line_drive(draw, m, batch, default_driven=False),
        col_bottom=_line_drive(draw, n, batch, default_driven=True),
        col_top=_line_drive(draw, n, batch, default_driven=False),
    )


@st.composite
def circuits(draw: st.DrawFn) -> tuple[xb.Crossbar, xb.BiasScheme]:
    cb = draw(crossbars())
    return cb, draw(biases(cb.shape))


def _solvable_netlist(cb: xb.Crossbar, bias: xb.BiasScheme) -> xb.Netlist | None:
    """The netlist, or None when the circuit is legitimately unsolvable (and the solver says so).

    Shorted sources are rejected by ``build_netlist``; floating nodes are found here from the graph
    view (a path to ground through conducting elements) and must make the sparse solver raise
    ``CircuitError`` naming one of them.
    """
    try:
        netlist = xb.build_netlist(cb, bias)
    except CircuitError as exc:
        assert "short" in str(exc)
        return None
    graph = xb.to_graph(netlist)
    floating = set(graph.nodes) - nx.node_connected_component(graph, "0")
    if floating:
        with pytest.raises(CircuitError) as info:
            xb.solve_netlist(netlist, DIRECT)
        assert any(name in str(info.value) for name in floating), (floating, str(info.value))
        return None
    return netlist


# ----------------------------------------------------------------------------- properties
@NGSPICE_SETTINGS
@given(circuits())
def test_sparse_and_ngspice_agree(circuit):
    netlist = _solvable_netlist(*circuit)
    if netlist is None:
        return
    sparse = xb.solve_netlist(netlist, DIRECT)
    spice = xb.solve_netlist(netlist, "ngspice")
    assert_same_solution(sparse, spice, netlist, rtol=1e-9)
    assert sparse.kcl_residual < 1e-12
    assert spice.kcl_residual < 1e-12


@SPARSE_SETTINGS
@given(circuits())
def test_direct_and_iterative_paths_agree(circuit):
    netlist = _solvable_netlist(*circuit)
    if netlist is None:
        return
    direct = xb.solve_netlist(netlist, DIRECT)
    iterative = xb.solve_netlist(netlist, ITERATIVE)
    assert direct.method == "direct"
    if netlist.n_nodes > np.unique(netlist.source_node).size:  # something left to solve for
        assert iterative.method.startswith("iterative")
    assert_same_solution(direct, iterative, netlist, rtol=1e-9)
    assert iterative.kcl_residual < 1e-12


@SPARSE_SETTINGS
@given(circuits(), st.sampled_from(["nested-dissection", "colamd", "mmd"]))
def test_orderings_agree(circuit, ordering):
    netlist = _solvable_netlist(*circuit)
    if netlist is None:
        return
    reference = xb.solve_netlist(netlist, DIRECT)
    other = xb.solve_netlist(netlist, xb.SparseBackend(xb.SparseOptions(method="direct", ordering=ordering)))
    assert_same_solution(reference, other, netlist, rtol=1e-10)


@SPARSE_SETTINGS
@given(circuits())
def test_a_batch_solves_like_its_entries(circuit):
    cb, bias = circuit
    netlist = _solvable_netlist(cb, bias)
    if netlist is None or not netlist.batched:
        return
    batch = xb.solve_netlist(netlist, DIRECT)
    for b in range(netlist.batch_size):
        one = xb.build_netlist(cb, _entry(bias, b))
        single = xb.solve_netlist(one, DIRECT)
        np.testing.assert_allclose(batch.output_currents[b], single.output_currents, rtol=1e-12,
                                   atol=1e-12 * np.abs(batch.output_currents).max())
        np.testing.assert_allclose(batch.node_voltages[b], single.node_voltages, rtol=1e-12, atol=1e-14)


def _entry(bias: xb.BiasScheme, b: int) -> xb.BiasScheme:
    def pick(end: xb.LineDrive) -> xb.LineDrive:
        v = np.asarray(end.voltage)
        return xb.LineDrive(voltage=v[b] if v.ndim == 2 else v, driven=end.driven, select=end.select,
                            select_voltage=end.select_voltage)

    return xb.BiasScheme(row_left=pick(bias.row_left), row_right=pick(bias.row_right),
                         col_bottom=pick(bias.col_bottom), col_top=pick(bias.col_top))


# ----------------------------------------------------------------------------- deterministic regressions
def test_iterative_path_on_a_small_array_with_ideal_ends():
    """One unknown node left after merging (ideal driver, resistive sense): the iterative path must cope
    with a 1x1 system."""
    cb = xb.Crossbar(conductance=[[1e-4]], lines=xb.LineResistance(row_driver=0.0, col_sense=50.0))
    sol = xb.solve(cb, xb.BiasScheme.read([0.5]), backend=ITERATIVE)
    assert sol.output_currents[0] == pytest.approx(0.5 / (1e4 + 50.0), rel=1e-12)


def test_iterative_path_with_low_resistance_wires(rng):
    """Wires of 0.1 ohm against 0.1-10 uS cells: conductances spread over 1e7; the iterative answer
    must still match the direct one to 1e-9 (its rtol is a backward error of 1e-13)."""
    cb = random_crossbar(rng, 8, 8, g_range=(1e-7, 1e-5), r_range=(0.1, 0.2), end_range=(0.1, 0.2))
    bias = xb.BiasScheme.read(rng.uniform(-1.0, 1.0, (4, 8)))
    netlist = xb.build_netlist(cb, bias)
    iterative = xb.solve_netlist(netlist, ITERATIVE)
    assert iterative.method == "iterative"
    assert_same_solution(xb.solve_netlist(netlist, DIRECT), iterative, netlist, rtol=1e-9)


# ----------------------------------------------------------------------------- crosscheck()
def test_crosscheck_report_structure(rng):
    cb = random_crossbar(rng, 6, 5)
    check = xb.crosscheck(cb, xb.BiasScheme.read(rng.uniform(-1.0, 1.0, 6)))
    assert isinstance(check, xb.CrossCheck)
    assert check.backends == ("sparse", "ngspice")
    expected_fields = {"output_currents", "input_currents", "row_voltages", "col_voltages", "cell_voltages",
                       "cell_currents", "node_voltages", "source_currents", "power"}
    assert set(check.differences) == expected_fields
    for name, diff in check.differences.items():
        a = np.asarray(getattr(check.solutions[0], name))
        b = np.asarray(getattr(check.solutions[1], name))
        assert diff.abs == pytest.approx(np.abs(a - b).max(), rel=1e-12, abs=0), name
        assert diff.rel == pytest.approx(diff.abs / max(np.abs(a).max(), np.abs(b).max()), rel=1e-12, abs=0), name
        assert diff.rel < 1e-9, name
    assert check.max_rel == max(d.rel for d in check.differences.values())
    assert check.max_abs == max(d.abs for d in check.differences.values())
    assert len(check.kcl_residuals) == 2 and max(check.kcl_residuals) < 1e-12
    assert check.kcl_residuals == (check.solutions[0].kcl_residual, check.solutions[1].kcl_residual)
    report = check.report()
    lines = report.splitlines()
    assert len(lines) == len(expected_fields) + 2
    for name in expected_fields:
        assert any(line.split()[0] == name for line in lines), name
    assert "KCL" in lines[-1] and "sparse" in lines[-1] and "ngspice" in lines[-1]


def test_relative_differences_do_not_depend_on_the_order_of_the_backends(rng):
    """Ideal against sparse (what the wires change): the ideal backend's column voltages are all 0 V,
    and each field's relative difference is scaled by the larger of the two solutions, so it is finite
    and the same in either order (before: abs / max|a| gave inf for `ideal sparse`, 1 for `sparse ideal`)."""
    cb = random_crossbar(rng, 5, 4, g_range=(1e-4, 1e-3), r_range=(5.0, 10.0))
    bias = xb.BiasScheme.read(rng.uniform(0.1, 1.0, 5))
    one = xb.crosscheck(cb, bias, backends=("ideal", "sparse"))
    other = xb.crosscheck(cb, bias, backends=("sparse", "ideal"))
    assert np.all(np.asarray(one.solutions[0].col_voltages) == 0)
    for name, diff in one.differences.items():
        a = np.asarray(getattr(one.solutions[0], name))
        b = np.asarray(getattr(one.solutions[1], name))
        assert diff.rel == pytest.approx(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max()), rel=1e-12)
        assert diff.rel == pytest.approx(other.differences[name].rel, rel=1e-12), name
    assert one.differences["col_voltages"].rel == pytest.approx(1.0, rel=1e-12)
    assert np.isfinite(one.max_rel) and one.max_rel == pytest.approx(other.max_rel, rel=1e-12)


def test_crosscheck_between_two_sparse_paths(rng):
    cb = random_crossbar(rng, 5, 7)
    check = xb.crosscheck(cb, xb.BiasScheme.read(rng.uniform(-1.0, 1.0, 5)), backends=(DIRECT, ITERATIVE))
    assert check.backends == ("sparse", "sparse")
    assert check.solutions[0].method == "direct"
    assert check.solutions[1].method.startswith("iterative")
    assert check.max_rel < 1e-9


def test_assert_agree_sees_a_real_difference(rng):
    """A backend that solves a different circuit must show up: the comparison is not vacuous."""
    cb = random_crossbar(rng, 4, 4, g_range=(1e-4, 1e-3), r_range=(5.0, 10.0))
    bias = xb.BiasScheme.read(np.ones(4))
    g = cb.conductance.copy()
    g[2, 1] *= 1.001  # one cell 0.1 % off: same topology, slightly different circuit
    right = xb.solve(cb, bias)
    wrong = xb.solve(xb.Crossbar(conductance=g, lines=cb.lines), bias)
    with pytest.raises(AssertionError, match="output_currents") as info:
        xb.assert_agree(right, wrong, rtol=1e-9)
    assert "row_voltages" in str(info.value) and "power" in str(info.value)
    xb.assert_agree(right, wrong, rtol=1e-3)  # the tolerance is honoured
    xb.assert_agree(right, wrong, rtol=0.0, atol=1e-3 * np.abs(right.output_currents).max(),
                    fields=("output_currents",))  # and so is atol


def test_assert_agree_compares_only_the_fields_asked_for(rng):
    """IR-drop studies compare a wired array with the ideal one: same outputs, different netlists
    (the ideal one merges nodes). Restricted to ``output_currents`` the comparison must work."""
    cb = random_crossbar(rng, 4, 4, g_range=(1e-4, 1e-3), r_range=(5.0, 10.0))
    bias = xb.BiasScheme.read(np.ones(4))
    wired = xb.solve(cb, bias)
    ideal = xb.solve(xb.Crossbar(conductance=cb.conductance), bias)
    with pytest.raises(AssertionError, match="output_currents"):
        xb.assert_agree(wired, ideal, rtol=1e-9, fields=("output_currents",))
    xb.assert_agree(wired, ideal, rtol=0.5, fields=("output_currents", "cell_voltages"))


def test_crosscheck_needs_two_backends(rng):
    with pytest.raises(xb.ConfigError, match="backends"):
        xb.crosscheck(random_crossbar(rng, 2, 2), xb.BiasScheme.read([1.0, 1.0]), backends=("sparse",))
