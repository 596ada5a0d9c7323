"""Invalid selections and options end in ConfigError naming the parameter."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import (
    analyze_write,
    bias_report,
    compare_write_schemes,
    diagonal_cells,
    read_cell,
    read_margin,
    read_margin_curve,
    selected_voltage_map,
    terminal_responses,
)
from xbarsim.devices import Sinh

CB = xb.Crossbar(conductance=np.full((4, 3), 2e-4), lines=xb.LineResistance.uniform(1.0))
MARGIN = dict(g_on=5e-4, g_off=1e-4, v_read=0.3)

CASES: dict[str, Callable[[], object]] = {
    "write cell row outside": lambda: analyze_write(CB, 4, 0, 1.0),
    "write cell col outside": lambda: analyze_write(CB, 0, 3, 1.0),
    "write negative index": lambda: analyze_write(CB, -1, 0, 1.0),
    "write float index": lambda: analyze_write(CB, 1.0, 0, 1.0),  # type: ignore[arg-type]
    "write unknown scheme": lambda: analyze_write(CB, 0, 0, 1.0, "v/4"),  # type: ignore[arg-type]
    "write zero voltage": lambda: analyze_write(CB, 0, 0, 0.0),
    "write nan voltage": lambda: analyze_write(CB, 0, 0, float("nan")),
    "write negative threshold": lambda: analyze_write(CB, 0, 0, 1.0, threshold=-0.5),
    "compare cell outside": lambda: compare_write_schemes(CB, 1.0, cell=(9, 9)),
    "compare unknown scheme": lambda: compare_write_schemes(CB, 1.0, schemes=("v/2", "half")),  # type: ignore[arg-type]
    "compare no scheme": lambda: compare_write_schemes(CB, 1.0, schemes=()),
    "compare missing scheme": lambda: compare_write_schemes(CB, 1.0, schemes=("v/2",))["v/3"],
    "map unknown scheme": lambda: selected_voltage_map(CB, 1.0, "read"),  # type: ignore[arg-type]
    "map cells outside": lambda: selected_voltage_map(
        xb.Crossbar(conductance=np.full((4, 3), 2e-4), device=Sinh(a=2.0)), 1.0, cells=[[5, 0]]),
    "map responses of another array": lambda: selected_voltage_map(
        CB, 1.0, responses=terminal_responses(xb.Crossbar(conductance=np.full((2, 2), 1e-4)))),
    "responses of a nonlinear array": lambda: terminal_responses(xb.Crossbar(conductance=np.ones((2, 2)),
                                                                              device=Sinh(a=2.0))),
    "diagonal with one point": lambda: diagonal_cells((4, 4), 1),
    "read cell outside": lambda: read_cell(CB, 0, 5, 0.3),
    "read unknown scheme": lambda: read_cell(CB, 0, 0, 0.3, "v/4"),  # type: ignore[arg-type]
    "read negative voltage": lambda: read_cell(CB, 0, 0, -0.3),
    "read zero voltage": lambda: read_cell(CB, 0, 0, 0.0),
    "biased read without v_bias": lambda: read_cell(CB, 0, 0, 0.3, "biased"),
    "biased read with three levels": lambda: read_cell(CB, 0, 0, 0.3, "biased", v_bias=(0.1, 0.1, 0.1)),
    "margin unknown pattern": lambda: read_margin((4, 4), pattern="checkerboard", **MARGIN),  # type: ignore[arg-type]
    "margin g_off above g_on": lambda: read_margin((4, 4), g_on=1e-4, g_off=5e-4, v_read=0.3),
    "margin cell outside": lambda: read_margin((4, 4), cell=(4, 0), **MARGIN),  # type: ignore[arg-type]
    "margin bad shape": lambda: read_margin((4,), **MARGIN),  # type: ignore[arg-type]
    "margin array lines": lambda: read_margin((2, 2), lines=xb.LineResistance(row_segment=np.ones((2, 1))),
                                              **MARGIN),  # type: ignore[arg-type]
    "curve size one": lambda: read_margin_curve([1, 4], **MARGIN),  # type: ignore[arg-type]
    "curve unknown scheme": lambda: read_margin_curve([4], schemes=("floating", "open"), **MARGIN),  # type: ignore[arg-type]
    "curve unknown backend": lambda: read_margin_curve([4], backend="spectre", **MARGIN),  # type: ignore[arg-type]
    "report size": lambda: bias_report(1),
    "report negative write voltage": lambda: bias_report(4, v_write=-2.0, sizes=[4]),
    "report negative segment": lambda: bias_report(4, sizes=[4], segments=[-1.0]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_error(case: str) -> None:
    with pytest.raises(xb.ConfigError):
        CASES[case]()


def test_message_names_the_cell() -> None:
    with pytest.raises(xb.ConfigError, match=r"\(4, 0\) is outside the 4x3 array"):
        analyze_write(CB, 4, 0, 1.0)


@pytest.mark.parametrize("points", [1, 2.5, True])
def test_report_profile_points_is_named(points: object) -> None:
    """Before: the far-corner write comparison ran first, then diagonal_cells refused with
    "`n_points` must be an int >= 2", a parameter bias_report does not have."""
    with pytest.raises(xb.ConfigError, match=r"`profile_points` must be an int >= 2; got "):
        bias_report(4, sizes=[4], profile_points=points)  # type: ignore[arg-type]


@pytest.mark.parametrize("call,name", [
    (lambda: bias_report(100_000), "size"),
    (lambda: bias_report(4, sizes=[4, 100_000]), "sizes"),
    (lambda: bias_report(4, sizes=[]), "sizes"),
    (lambda: read_margin_curve([8, 100_000], g_on=1e-4, g_off=1e-6, v_read=0.2), "sizes"),
])
def test_array_sizes_too_large_or_empty_are_refused_before_any_solve(call: Callable[[], object], name: str) -> None:
    """Before: an n x n pattern of 1e10 cells was allocated (numpy's MemoryError), and bias_report checked
    its `sizes` only at step 3, after the write solves."""
    with pytest.raises(xb.ConfigError, match=rf"`{name}`"):
        call()


@pytest.mark.parametrize("device", [xb.Ohmic(), Sinh(a=2.0)])
@pytest.mark.parametrize("chunk", [0, 2.5])
def test_map_chunk_is_named(device: object, chunk: object) -> None:
    """Before, with a nonlinear device (the linear path checks it in terminal_responses): chunk=0 failed with
    "range() arg 3 must not be zero" and chunk=2.5 was truncated to 2 without a word."""
    cb = xb.Crossbar(conductance=np.full((3, 3), 2e-4), lines=xb.LineResistance.uniform(1.0), device=device)  # type: ignore[arg-type]
    with pytest.raises(xb.ConfigError, match=rf"`chunk` must be a positive int; got {chunk}\."):
        selected_voltage_map(cb, 1.0, chunk=chunk)  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", [3, (0,), (0, 1, 2), "ab"])
def test_read_margin_cell_that_is_not_a_pair_is_named(cell: object) -> None:
    """Before: cell=3 raised TypeError ('int' object is not subscriptable), cell=(0,) IndexError, and
    cell=(0, 1, 2) read cell (0, 1) without a word."""
    with pytest.raises(xb.ConfigError, match=r"`cell` must be a \(row, col\) pair or None; got "):
        read_margin((4, 4), cell=cell, **MARGIN)  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "error"), [("svm-singular", xb.CircuitError), ("svm-overflow", xb.ConfigError),
                                             ("read-overflow", xb.XbarError)])
def test_extreme_analysis_inputs_give_typed_errors_not_numpy_ones(case, error):
    # found in review: selected_voltage_map raised numpy's LinAlgError for 1e-300 S cells and returned
    # inf (after an overflow warning) at 1e150 V; read_cell warned 'overflow encountered in sinh'
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # conductances outside 1e-15..1 S
        warnings.simplefilter("ignore", xb.AccuracyWarning)
        with pytest.raises(error):
            if case == "svm-singular":
                selected_voltage_map(xb.Crossbar(conductance=[[1e-300]], lines=xb.LineResistance(row_driver=5.0, col_sense=5.0)),
                                     1.0, "floating")
            elif case == "svm-overflow":
                selected_voltage_map(xb.Crossbar(conductance=[[1e-300]]), 1e150, "floating")
            else:
                read_cell(xb.Crossbar(conductance=[[1e-4]], device=xb.Sinh(a=2.0)), 0, 0, 1e150, "v/2")


def _transient_report(**kw: object) -> object:
    from xbarsim.analysis.transient_report import transient_bias_report

    return transient_bias_report(2, **kw)  # type: ignore[arg-type]


def _apply(g_min: object, g_max: object) -> object:
    from xbarsim.analysis import drolet_tio2_law

    return drolet_tio2_law().apply(np.full(2, 2.0), np.full(2, 2e-4), g_min=g_min, g_max=g_max,  # type: ignore[arg-type]
                                   rng=np.random.default_rng(0))


@pytest.mark.parametrize(("call", "name"), [
    # before: every cell clipped to 0 S (a reversed window), or NaN conductances
    (lambda: _apply(5e-4, 1e-4), "`g_max`"),
    (lambda: _apply(float("nan"), 5e-4), "`g_min`"),
    (lambda: _apply(1e-4, float("inf")), "`g_max`"),
    # before: TypeError (len of a float) and ValueError (float('a'))
    (lambda: xb.analysis.calibrate_switching_law(grid={"v_set": 0.8}, n_arrays=1), r"`grid\['v_set'\]`"),
    (lambda: xb.analysis.calibrate_switching_law(grid={"v_set": ["a"]}, n_arrays=1), r"`grid\['v_set'\]`"),
    (lambda: xb.analysis.calibrate_switching_law(grid=[("v_set", (0.8,))], n_arrays=1), "`grid`"),
    # before: TypeError "'int' object is not callable", after the work of the first step, size or row
    (lambda: xb.analysis.calibrate_switching_law(grid={"v_set": (0.8,)}, n_arrays=1, progress=5), "`progress`"),
    (lambda: read_margin_curve([2, 3], **MARGIN, progress=5), "`progress`"),
    (lambda: xb.analysis.program_array(np.full((2, 2), 2e-4), preset=xb.devices.tio2_passive(),
                                       rng=np.random.default_rng(0), progress=5), "`progress`"),
    (lambda: bias_report(2, sizes=(2,), segments=(0.0,), progress=5), "`progress`"),
    (lambda: _transient_report(progress=5), "`progress`"),
    # before: ValueError from float('a') and TypeError ('float' object is not iterable)
    (lambda: bias_report(2, sizes=(2,), segments=("a",)), "`segments`"),
    (lambda: bias_report(2, sizes=(2,), segments=1.0), "`segments`"),  # type: ignore[arg-type]
])
def test_analysis_inputs_are_refused_by_name_before_any_work(call, name):
    with pytest.raises(xb.errors.ConfigError, match=name):
        call()


def test_switching_law_window_of_numpy_and_int_bounds_is_accepted():
    from xbarsim.analysis import drolet_tio2_law

    law = drolet_tio2_law()
    # a preset window given as ints or numpy floats is the same window
    assert law.bounds(np.float64(1e-4), 5e-4) == law.bounds(1e-4, 5e-4)
    assert law.bounds(1, 5) == pytest.approx((0.1, 6.0))  # max(1 - 0.25 * 4, 0.1 * 1), 5 + 0.25 * 4
