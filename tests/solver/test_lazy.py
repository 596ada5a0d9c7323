"""Lazy ``Solution`` fields and batched linear solves through the port matrix (issue 16.1).

Every field is recomputed here independently from the node voltages (incidence matrix, element
laws), so a lazily computed field is checked against the eager definition, for single and batched
biases, linear and sinh cells; the port-matrix batch is checked against the factorised solve."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from xbartest import assert_same_solution, random_crossbar

import xbarsim as xb
from xbarsim.solver.solution import incidence

NO_PORTS = xb.SparseBackend(xb.SparseOptions(method="direct", batch_ports=False))
PORTS = xb.SparseBackend(xb.SparseOptions(method="direct"))


def eager_fields(netlist: xb.Netlist, v: np.ndarray) -> dict[str, object]:
    """Every field from node voltages ``v`` (B, n_nodes) by the definitions of the Solution docstring."""
    vr, vc = v[:, netlist.row_node], v[:, netlist.col_node]
    icell = netlist.device.current(vr - vc, netlist.conductance)
    a, b = netlist.resistor_nodes.T
    ires = (v[:, a] - v[:, b]) / netlist.resistor_values
    cur = np.concatenate([ires, icell.reshape(v.shape[0], -1)], axis=1)
    net = (incidence(netlist) @ cur.T).T
    share = np.bincount(netlist.source_node, minlength=netlist.n_nodes)[netlist.source_node]
    src = net[:, netlist.source_node] / share
    m, n = netlist.shape
    i_in, i_out = np.zeros((v.shape[0], m)), np.zeros((v.shape[0], n))
    for s in range(src.shape[1]):
        if netlist.source_end[s] < 2:
            i_in[:, netlist.source_line[s]] += src[:, s]
        else:
            i_out[:, netlist.source_line[s]] -= src[:, s]
    return {"row_voltages": vr, "col_voltages": vc, "cell_voltages": vr - vc, "cell_currents": icell,
            "node_voltages": v, "source_currents": src, "input_currents": i_in, "output_currents": i_out,
            "power": (netlist.source_voltage * src).sum(axis=1)}


def assert_fields(sol: xb.Solution, ref: dict[str, object], netlist: xb.Netlist, rtol: float = 1e-12) -> None:
    """Every field to ``rtol`` of its largest entry; currents recomputed from node voltages also
    carry the cancellation floor ``64 eps max|V| max G`` (a source current is a difference of two
    nearly equal voltages times a wire conductance, and the port matrix does not form it so)."""
    floor = 64 * np.finfo(float).eps * float(np.abs(netlist.source_voltage).max(initial=0.0)) * max(
        float((1 / netlist.resistor_values).max(initial=0.0)), float(netlist.conductance.max()))
    for name, x in ref.items():
        want = np.asarray(x) if netlist.batched else np.asarray(x)[0]
        got = np.asarray(getattr(sol, name))
        assert got.shape == want.shape, name
        scale = float(np.abs(want).max(initial=0.0))
        atol = rtol * scale + (floor * (1 if "current" in name else 0.3) if name != "node_voltages" else 0.0)
        assert float(np.abs(got - want).max(initial=0.0)) <= max(atol, 1e-300), name


def _biases(m: int, n: int, rng: np.random.Generator, batch: int | None) -> list[xb.BiasScheme]:
    shape = (m,) if batch is None else (batch, m)
    both = xb.LineDrive(voltage=rng.uniform(0, 0.3, shape), driven=True)
    return [xb.BiasScheme.read(rng.uniform(-0.3, 0.3, shape)),
            xb.BiasScheme(row_left=both, row_right=both, col_bottom=xb.LineDrive(voltage=0.0, driven=True),
                          col_top=xb.LineDrive(voltage=0.0, driven=True))]


@pytest.mark.parametrize("device", [xb.Ohmic(), xb.Sinh(a=2.07)], ids=["ohmic", "sinh"])
@pytest.mark.parametrize("batch", [None, 5, 40])
def test_lazy_fields_equal_their_eager_definition(rng, device, batch):
    cb = dataclasses.replace(random_crossbar(rng, 7, 5, g_zero_fraction=0.1), device=device)
    for bias in _biases(7, 5, rng, batch):
        netlist = xb.build_netlist(cb, bias)
        for backend in (PORTS, NO_PORTS, "sparse"):
            sol = xb.solve_netlist(netlist, backend)
            v = np.asarray(sol.node_voltages).reshape(netlist.batch_size, -1)
            assert_fields(sol, eager_fields(netlist, v), netlist)
            assert sol.kcl_residual < 1e-12


def test_ideal_wires_keep_lazy_fields_exact(rng):
    lines = xb.LineResistance(row_segment=0.0, col_segment=2.0, row_driver=1.0, col_sense=0.0)
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (6, 4)), lines=lines)
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(rng.uniform(0, 0.3, (40, 6))))
    sol = xb.solve_netlist(netlist, PORTS)
    assert sol.method == "port-matrix"
    assert_fields(sol, eager_fields(netlist, np.asarray(sol.node_voltages)), netlist)


def test_port_matrix_batch_equals_the_factorised_solve_on_every_field(rng):
    for m, n in [(1, 1), (9, 4), (17, 23)]:
        cb = random_crossbar(rng, m, n, g_zero_fraction=0.05)
        for bias in _biases(m, n, rng, 40):
            netlist = xb.build_netlist(cb, bias)
            ports = xb.solve_netlist(netlist, PORTS)
            ref = xb.solve_netlist(netlist, NO_PORTS)
            assert ports.method == "port-matrix" and ref.method == "direct"
            assert_same_solution(ref, ports, netlist, rtol=1e-12)
            assert ports.kcl_residual < 1e-12


def test_port_matrix_output_currents_equal_the_transfer_matrix(rng):
    cb = random_crossbar(rng, 12, 9)
    v = rng.uniform(0, 0.3, (50, 12))
    sol = xb.solve(cb, xb.BiasScheme.read(v))
    assert sol.method == "port-matrix"
    np.testing.assert_allclose(sol.output_currents, v @ xb.transfer_matrix(cb), rtol=0,
                               atol=1e-12 * np.abs(sol.output_currents).max())


def test_select_computes_only_the_entries_asked_for(rng):
    cb = random_crossbar(rng, 8, 6)
    v = rng.uniform(0, 0.3, (45, 8))
    sol = xb.solve(cb, xb.BiasScheme.read(v))
    calls: list[int] = []
    fields = sol._source
    inner = fields._voltages
    fields._voltages = lambda idx: (calls.append(idx.size), inner(idx))[1]
    one = sol.select(4)
    two = sol.select([-1, 2])
    assert not one.batched and two.batched and two.batch_size == 2
    for name in xb.Solution.FIELDS:
        getattr(one, name), getattr(two, name)
    assert sorted(calls) == [1, 2]  # the two selections, never the whole batch
    for name in xb.Solution.FIELDS[:-1]:  # the same numbers as the whole batch's entries
        whole = np.asarray(getattr(sol, name))
        np.testing.assert_allclose(getattr(one, name), whole[4], rtol=1e-13, atol=1e-13 * np.abs(whole).max())
        np.testing.assert_allclose(getattr(two, name), whole[[44, 2]], rtol=1e-13, atol=1e-13 * np.abs(whole).max())
    assert sorted(calls) == [1, 2, 45]
    with pytest.raises(xb.ConfigError, match="index"):
        sol.select(45)
    with pytest.raises(xb.ConfigError, match="batched"):
        one.select(0)


def test_solution_is_immutable_and_prints_short(rng):
    cb = random_crossbar(rng, 64, 64)
    sol = xb.solve(cb, xb.BiasScheme.read(rng.uniform(0, 0.3, (40, 64))))
    with pytest.raises(AttributeError, match="Solution is immutable; cannot set 'method'"):
        sol.method = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(sol.output_currents)[0] = 1.0
    text = repr(sol)
    assert len(text) < 200 and "64x64" in text and "batch=40" in text
    report = sol.select([0, 1]).report()
    for name in xb.Solution.FIELDS[:-1]:
        assert name in report
    assert len(report.splitlines()) == 13


def test_solution_pickles_and_copies_with_every_field(rng):
    import copy
    import pickle

    cb = random_crossbar(rng, 5, 4)
    sol = xb.solve(cb, xb.BiasScheme.read(rng.uniform(0, 0.3, (40, 5))))
    for other in (pickle.loads(pickle.dumps(sol)), copy.deepcopy(sol)):
        assert other.method == sol.method and other.batch_size == 40
        for name in xb.Solution.FIELDS:
            np.testing.assert_array_equal(getattr(other, name), getattr(sol, name))
        assert other.select(3).batched is False
