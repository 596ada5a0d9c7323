"""Bad input to the circuit model raises ConfigError naming the parameter and the value; valid edge
values (zero conductance, zero resistance) are accepted."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.errors import CircuitError, ConfigError, XbarError

SHAPE = (3, 4)
G = np.full(SHAPE, 1e-4)


def test_error_hierarchy():
    assert issubclass(ConfigError, XbarError) and issubclass(ConfigError, ValueError)
    assert issubclass(CircuitError, XbarError) and issubclass(CircuitError, ValueError)
    assert issubclass(xb.BackendUnavailableError, xb.BackendError)
    assert issubclass(xb.BackendUnavailableError, ImportError)
    assert issubclass(xb.BackendError, RuntimeError)
    assert issubclass(xb.ConvergenceError, RuntimeError)


# ----------------------------------------------------------------------------- conductance
@pytest.mark.parametrize(
    ("value", "shown"),
    [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "inf"), (-1e-6, "-1e-06")],
    ids=["nan", "inf", "-inf", "negative"],
)
def test_bad_conductance_value(value, shown):
    g = G.copy()
    g[1, 2] = value
    with pytest.raises(ConfigError, match="`conductance`") as info:
        xb.Crossbar(conductance=g)
    assert shown in str(info.value)


@pytest.mark.parametrize("g", [np.ones(3), np.ones((2, 2, 2)), np.zeros((0, 3)), np.zeros((3, 0)), 1e-4],
                         ids=["1-D", "3-D", "no-rows", "no-cols", "scalar"])
def test_bad_conductance_shape(g):
    with pytest.raises(ConfigError, match="`conductance`.*shape"):
        xb.Crossbar(conductance=g)


@pytest.mark.parametrize("g", ["abc", None, [[1e-4, "x"]]], ids=["str", "None", "mixed"])
def test_non_numeric_conductance(g):
    with pytest.raises(ConfigError, match="`conductance`"):
        xb.Crossbar(conductance=g)


def test_zero_conductance_is_an_open_cell():
    g = G.copy()
    g[0, :] = 0.0
    cb = xb.Crossbar(conductance=g)
    assert cb.conductance[0, 0] == 0.0
    xb.Crossbar(conductance=np.zeros(SHAPE))  # an all-open array is still a valid crossbar


def test_crossbar_is_frozen_and_copies_its_input():
    g = G.copy()
    cb = xb.Crossbar(conductance=g)
    g[0, 0] = 1.0
    assert cb.conductance[0, 0] == 1e-4
    with pytest.raises(ValueError, match="read-only"):
        cb.conductance[0, 0] = 2.0
    assert cb.shape == SHAPE


# ----------------------------------------------------------------------------- line resistance
@pytest.mark.parametrize("field", ["row_segment", "col_segment", "row_driver", "col_sense"])
@pytest.mark.parametrize(("value", "shown"), [(np.nan, "nan"), (-2.5, "-2.5"), (np.inf, "inf")],
                         ids=["nan", "negative", "inf"])
def test_bad_resistance_value(field, value, shown):
    with pytest.raises(ConfigError, match=f"`{field}`") as info:
        xb.LineResistance(**{field: value})
    assert shown in str(info.value)
    arr = np.full({"row_segment": (3, 3), "col_segment": (2, 4), "row_driver": (3,), "col_sense": (4,)}[field], 1.0)
    arr.flat[-1] = value
    with pytest.raises(ConfigError, match=f"`{field}`"):
        xb.LineResistance(**{field: arr})


@pytest.mark.parametrize(
    ("field", "bad_shape"),
    [("row_segment", (3, 4)), ("row_segment", (4, 3)), ("col_segment", (3, 4)), ("col_segment", (2, 3)),
     ("row_driver", (4,)), ("row_driver", (3, 1)), ("col_sense", (3,)), ("col_sense", (1, 4))],
)
def test_wrong_resistance_shape_for_the_crossbar(field, bad_shape):
    lines = xb.LineResistance(**{field: np.ones(bad_shape)})
    with pytest.raises(ConfigError, match=f"`{field}`") as info:
        xb.Crossbar(conductance=G, lines=lines)
    assert str(bad_shape) in str(info.value)


def test_resistance_of_more_than_two_dimensions():
    with pytest.raises(ConfigError, match="`row_segment`"):
        xb.LineResistance(row_segment=np.ones((3, 3, 1)))


def test_lines_must_be_a_line_resistance():
    with pytest.raises(ConfigError, match="`lines`"):
        xb.Crossbar(conductance=G, lines=1.0)


def test_zero_resistance_is_an_ideal_wire_and_scalars_broadcast():
    cb = xb.Crossbar(conductance=G, lines=xb.LineResistance.uniform(0.0, driver=0.0, sense=0.0))
    assert cb.lines.row_segment.shape == (3, 3) and not cb.lines.row_segment.any()
    cb = xb.Crossbar(conductance=G, lines=xb.LineResistance.uniform(2.0, driver=5.0, sense=7.0))
    assert cb.lines.row_segment.shape == (3, 3) and np.all(cb.lines.row_segment == 2.0)
    assert cb.lines.col_segment.shape == (2, 4) and np.all(cb.lines.col_segment == 2.0)
    assert np.array_equal(cb.lines.row_driver, np.full(3, 5.0))
    assert np.array_equal(cb.lines.col_sense, np.full(4, 7.0))


def test_one_row_and_one_column_arrays_take_empty_segment_arrays():
    xb.Crossbar(conductance=np.ones((1, 4)), lines=xb.LineResistance(row_segment=np.ones((1, 3)),
                                                                     col_segment=np.ones((0, 4))))
    xb.Crossbar(conductance=np.ones((4, 1)), lines=xb.LineResistance(col_segment=np.ones((3, 1))))


# ----------------------------------------------------------------------------- bias schemes
@pytest.mark.parametrize("v", [[1.0, np.nan, 0.0], [np.inf, 0.0, 0.0]], ids=["nan", "inf"])
def test_read_voltage_must_be_finite(v):
    with pytest.raises(ConfigError, match="`v`"):
        xb.BiasScheme.read(v)


@pytest.mark.parametrize("v", [1.0, np.ones((2, 2, 3)), np.ones((2, 0))], ids=["scalar", "3-D", "empty"])
def test_read_voltage_shape(v):
    with pytest.raises(ConfigError, match="`v`.*shape"):
        xb.BiasScheme.read(v)


@pytest.mark.parametrize("n_volts", [2, 4])
def test_read_voltage_count_must_match_the_rows(n_volts):
    with pytest.raises(ConfigError, match="voltage") as info:
        xb.build_netlist(xb.Crossbar(conductance=G), xb.BiasScheme.read(np.ones(n_volts)))
    assert f"({n_volts},)" in str(info.value)


def test_unknown_write_scheme():
    with pytest.raises(ConfigError, match="`scheme`") as info:
        xb.BiasScheme.write(0, 0, 1.0, "v/4")
    assert "'v/4'" in str(info.value)
    for name in ("v/2", "v/3", "floating", "grounded"):
        assert name in str(info.value)


@pytest.mark.parametrize(("row", "col", "name"), [(-1, 0, "row"), (0, -2, "col"), (1.0, 0, "row"), (0, True, "col"),
                                                  ("0", 0, "row")])
def test_write_selection_must_be_a_line_index(row, col, name):
    with pytest.raises(ConfigError, match=f"`{name}`"):
        xb.BiasScheme.write(row, col, 1.0, "v/2")


@pytest.mark.parametrize(("row", "col"), [(3, 0), (0, 4), (7, 9)])
def test_write_selection_out_of_range_with_shape(row, col):
    with pytest.raises(ConfigError, match=r"`row`.*`col`") as info:
        xb.BiasScheme.write(row, col, 1.0, "v/3", shape=SHAPE)
    assert f"({row}, {col})" in str(info.value)


@pytest.mark.parametrize(("row", "col", "name", "value"), [(3, 0, "row", 3), (0, 4, "col", 4)])
def test_write_selection_out_of_range_found_when_the_netlist_is_built(row, col, name, value):
    bias = xb.BiasScheme.write(row, col, 1.0, "v/2")  # no shape given: checked against the crossbar
    with pytest.raises(ConfigError, match=name) as info:
        xb.build_netlist(xb.Crossbar(conductance=G), bias)
    assert f"got {value}" in str(info.value)


@pytest.mark.parametrize("v_write", [np.nan, np.inf, [1.0, 2.0]], ids=["nan", "inf", "array"])
def test_write_voltage(v_write):
    with pytest.raises(ConfigError, match="`v_write`"):
        xb.BiasScheme.write(0, 0, v_write, "v/2")


def test_line_drive_validation():
    with pytest.raises(ConfigError, match="`driven`"):
        xb.LineDrive(voltage=1.0, driven=np.array([1, 0, 1]))
    with pytest.raises(ConfigError, match="`voltage`"):
        xb.LineDrive(voltage=np.ones((2, 2, 2)), driven=True)
    with pytest.raises(ConfigError, match="`voltage`"):
        xb.LineDrive(voltage=np.nan, driven=True)
    with pytest.raises(ConfigError, match="`select`"):
        xb.LineDrive(select=1.5)
    with pytest.raises(ConfigError, match="`select_voltage`"):
        xb.LineDrive(select=0, select_voltage=np.nan)
    with pytest.raises(ConfigError, match="driven") as info:
        xb.build_netlist(xb.Crossbar(conductance=G), xb.BiasScheme(row_left=xb.LineDrive(voltage=1.0,
                                                                   driven=np.array([True, False]))))
    assert "(3,)" in str(info.value)


def test_batched_ends_must_share_a_batch_size():
    with pytest.raises(ConfigError, match="batch"):
        xb.BiasScheme(row_left=xb.LineDrive.at(np.ones((2, 3))), col_bottom=xb.LineDrive.at(np.zeros((3, 4))))


def test_bias_ends_must_be_line_drives():
    with pytest.raises(ConfigError, match="`row_right`"):
        xb.BiasScheme(row_right=1.0)


def test_build_netlist_argument_types():
    with pytest.raises(ConfigError, match="`crossbar`"):
        xb.build_netlist(G, xb.BiasScheme.read(np.ones(3)))
    with pytest.raises(ConfigError, match="`bias`"):
        xb.build_netlist(xb.Crossbar(conductance=G), np.ones(3))


@pytest.mark.parametrize("fn", [xb.to_spice, xb.to_graph, xb.solve_netlist])
def test_functions_of_a_netlist_name_a_crossbar_given_instead(fn):
    # before: AttributeError "'Crossbar' object has no attribute 'batch_size'" (or 'node_names')
    with pytest.raises(ConfigError, match="`netlist` must be a Netlist .*got Crossbar"):
        fn(xb.Crossbar(conductance=G))


def test_transient_to_spice_names_a_netlist_given_instead():
    netlist = xb.build_netlist(xb.Crossbar(conductance=G), xb.BiasScheme.read(np.ones(3)))
    with pytest.raises(ConfigError, match="`circuit` must be a TransientCircuit .*got Netlist"):
        xb.transient_to_spice(netlist, step=1e-9, stop=1e-8, method="be")


@pytest.mark.parametrize(("kw", "shown"), [({"step": 0.0}, "`step` .*got 0.0"), ({"step": -1e-9}, "`step` .*got -1e-09"),
                                           ({"step": np.nan}, "`step` .*got nan"), ({"stop": 0.0}, "`stop` .*got 0.0"),
                                           ({"step": "1n"}, "`step` .*got '1n'")])
def test_transient_to_spice_refuses_a_step_or_stop_ngspice_refuses(kw, shown):
    # before: the deck was written (".tran 0 1e-08 0 0") and ngspice -b failed on it ("Error on line
    # 28"); a string gave "Unknown format code 'g'"
    from xbarsim.devices import tio2_vteam

    tc = xb.build_transient(xb.Crossbar(conductance=np.full((2, 2), 2e-4)), xb.BiasScheme.write(0, 0, 1.0), tio2_vteam(),
                            xb.Pulse(amplitude=1.0, rise=1e-9, width=1e-8, fall=1e-9))
    with pytest.raises(ConfigError, match=shown):
        xb.transient_to_spice(tc, **{"step": 1e-9, "stop": 1.2e-8, "method": "be", **kw})


def test_transient_to_spice_refuses_a_title_with_a_line_break():
    # before: the title's second line was read by ngspice as a circuit line
    from xbarsim.devices import tio2_vteam

    tc = xb.build_transient(xb.Crossbar(conductance=np.full((2, 2), 2e-4)), xb.BiasScheme.write(0, 0, 1.0), tio2_vteam(),
                            xb.Pulse(amplitude=1.0, rise=1e-9, width=1e-8, fall=1e-9))
    with pytest.raises(ConfigError, match="`title` must be one line"):
        xb.transient_to_spice(tc, step=1e-9, stop=1.2e-8, method="be", title="t\n.end")
    assert xb.transient_to_spice(tc, step=1e-9, stop=1.2e-8, method="be", title="t \u00fc").startswith("t \u00fc\n")


def test_ideal_currents_is_v_times_g_and_checks_its_voltages():
    g = np.arange(1.0, 13.0).reshape(SHAPE) * 1e-6
    cb = xb.Crossbar(conductance=g)
    v = np.array([[0.1, -0.2, 0.3], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(cb.ideal_currents(v), v @ g)
    np.testing.assert_array_equal(cb.ideal_currents(v[0]), v[0] @ g)
    # before: numpy's "matmul: Input operand 1 has a mismatch in its core dimension 0" for a wrong
    # length, silent NaN currents for a NaN voltage, and a (2, 2, 3) array accepted as batches of batches
    with pytest.raises(ConfigError, match=r"`v` must have shape \(3,\) or \(B, 3\).*got shape \(4,\)"):
        cb.ideal_currents(np.ones(4))
    with pytest.raises(ConfigError, match=r"`v` must have shape .*got shape \(2, 2, 3\)"):
        cb.ideal_currents(np.ones((2, 2, 3)))
    with pytest.raises(ConfigError, match="`v` must be a finite voltage in volt; got nan"):
        cb.ideal_currents([0.1, np.nan, 0.3])


# ----------------------------------------------------------------------------- shorts
def test_ideal_wires_shorting_two_row_sources_at_different_voltages():
    bias = xb.BiasScheme(row_left=xb.LineDrive.at([1.0, 1.0, 1.0]), row_right=xb.LineDrive.at([1.0, 0.5, 1.0]),
                         col_bottom=xb.LineDrive.at(0.0))
    with pytest.raises(CircuitError, match="short") as info:
        xb.build_netlist(xb.Crossbar(conductance=G), bias)
    assert "row_left[1]" in str(info.value) and "row_right[1]" in str(info.value)


def test_ideal_wires_shorting_two_column_sources_at_different_voltages():
    lines = xb.LineResistance(row_segment=1.0, row_driver=1.0)  # columns ideal end to end
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(1.0), col_bottom=xb.LineDrive.at(0.0),
                         col_top=xb.LineDrive(voltage=[0.0, 0.0, 0.2, 0.0], driven=True))
    with pytest.raises(CircuitError, match="short") as info:
        xb.build_netlist(xb.Crossbar(conductance=G, lines=lines), bias)
    assert "col_bottom[2]" in str(info.value) and "col_top[2]" in str(info.value)


def test_a_short_in_one_batch_entry_is_a_short():
    v = np.ones((2, 3))
    v_right = v.copy()
    v_right[1, 0] = 0.0
    bias = xb.BiasScheme(row_left=xb.LineDrive.at(v), row_right=xb.LineDrive.at(v_right),
                         col_bottom=xb.LineDrive.at(0.0))
    with pytest.raises(CircuitError, match="short"):
        xb.build_netlist(xb.Crossbar(conductance=G), bias)


def test_sources_shorted_at_the_same_voltage_are_fine():
    bias = xb.BiasScheme(row_left=xb.LineDrive.at([1.0, 0.5, 0.2]), row_right=xb.LineDrive.at([1.0, 0.5, 0.2]),
                         col_bottom=xb.LineDrive.at(0.0))
    sol = xb.solve(xb.Crossbar(conductance=G), bias)
    np.testing.assert_allclose(sol.output_currents, np.array([1.0, 0.5, 0.2]) @ G, rtol=1e-13)
    # the two ideal sources of a row share its current; together they deliver the row's cell currents
    np.testing.assert_allclose(sol.input_currents, np.array([1.0, 0.5, 0.2]) * G.sum(axis=1), rtol=1e-13)


def test_resistive_drivers_at_both_ends_are_not_a_short():
    lines = xb.LineResistance(row_driver=10.0)
    bias = xb.BiasScheme(row_left=xb.LineDrive.at([1.0, 0.0, 0.0]), row_right=xb.LineDrive.at([0.0, 0.0, 0.0]),
                         col_bottom=xb.LineDrive.at(0.0))
    sol = xb.solve(xb.Crossbar(conductance=G, lines=lines), bias)
    # row 0 is an ideal wire between two 10 ohm drivers at 1 V and 0 V, loaded by its cells to 0 V
    g_row = G[0].sum()
    v_row = (1.0 / 10.0) / (2 / 10.0 + g_row)
    np.testing.assert_allclose(sol.row_voltages[0], v_row, rtol=1e-13)
