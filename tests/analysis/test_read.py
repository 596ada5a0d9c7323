"""Reading one cell: analytic sensed and sneak currents with ideal wires, margins, nonlinearity."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import read_cell, read_cells, read_margin, read_margin_curve
from xbarsim.devices import Sinh

G_ON, G_OFF, VR = 5e-4, 1e-4, 0.3


def uniform(m: int, n: int, g_other: float, g_sel: float, sel: tuple[int, int]) -> xb.Crossbar:
    g = np.full((m, n), g_other)
    g[sel] = g_sel
    return xb.Crossbar(conductance=g)


def test_grounded_read_senses_only_the_selected_cell() -> None:
    rng = np.random.default_rng(1)
    cb = xb.Crossbar(conductance=rng.uniform(1e-5, 1e-3, (6, 7)))
    r = read_cell(cb, 2, 3, VR, "grounded")
    assert r.sensed_current == pytest.approx(VR * cb.conductance[2, 3], rel=1e-12)
    assert r.sneak_current == pytest.approx(0.0, abs=1e-18)
    assert r.ideal_current == pytest.approx(r.cell_current, rel=1e-12)


def test_floating_read_sneak_path_is_three_groups_in_series() -> None:
    m, n, sel = 6, 5, (1, 2)
    cb = uniform(m, n, G_ON, G_OFF, sel)
    r = read_cell(cb, *sel, VR, "floating")
    # row i -> (N-1) cells -> unselected columns -> (M-1)(N-1) cells -> unselected rows -> (M-1) cells -> column j
    g_sneak = 1.0 / (1 / ((n - 1) * G_ON) + 1 / ((m - 1) * (n - 1) * G_ON) + 1 / ((m - 1) * G_ON))
    assert r.cell_current == pytest.approx(VR * G_OFF, rel=1e-12)
    assert r.sneak_current == pytest.approx(VR * g_sneak, rel=1e-12)
    assert r.sneak_fraction == pytest.approx(g_sneak / (g_sneak + G_OFF), rel=1e-12)


@pytest.mark.parametrize(("scheme", "row_level"), [("v/2", VR / 2), ("v/3", VR / 3), ("biased", 0.05)])
def test_biased_reads_add_the_column_cells_at_the_row_bias(scheme: str, row_level: float) -> None:
    m, n, sel = 5, 4, (0, 3)
    cb = uniform(m, n, G_ON, G_OFF, sel)
    r = read_cell(cb, *sel, VR, scheme, v_bias=(0.05, 0.1))  # type: ignore[arg-type]
    assert r.sneak_current == pytest.approx((m - 1) * G_ON * row_level, rel=1e-12)
    assert r.sensed_current == pytest.approx(VR * G_OFF + (m - 1) * G_ON * row_level, rel=1e-12)


def test_read_cells_batches_like_single_reads() -> None:
    rng = np.random.default_rng(2)
    cb = xb.Crossbar(conductance=rng.uniform(1e-4, 5e-4, (6, 6)), lines=xb.LineResistance.uniform(2.0), device=Sinh(a=2.07))
    many = read_cells(cb, 0, 5, VR, ("floating", "grounded", "v/2", "v/3"))
    for r in many:
        one = read_cell(cb, 0, 5, VR, r.scheme)  # type: ignore[arg-type]
        assert r.sensed_current == pytest.approx(one.sensed_current, rel=1e-9)


def test_margin_definition_and_worst_patterns() -> None:
    rm = read_margin((6, 6), g_on=G_ON, g_off=G_OFF, v_read=VR, scheme="floating")
    assert rm.on.row == 0 and rm.on.col == 5  # far corner by default
    assert rm.margin == pytest.approx((rm.on.sensed_current - rm.off.sensed_current) / rm.on.sensed_current)
    assert rm.ideal_margin == pytest.approx(1 - G_OFF / G_ON)
    # worst = ON read among OFF cells, OFF read among ON cells: below both uniform patterns
    for pattern in ("all-on", "all-off"):
        other = read_margin((6, 6), g_on=G_ON, g_off=G_OFF, v_read=VR, scheme="floating", pattern=pattern)  # type: ignore[arg-type]
        assert rm.margin < other.margin
    grounded = read_margin((6, 6), g_on=G_ON, g_off=G_OFF, v_read=VR, scheme="grounded")
    assert grounded.margin == pytest.approx(grounded.ideal_margin, rel=1e-12)


def test_floating_margin_shrinks_with_size() -> None:
    curve = read_margin_curve([4, 8, 16, 32], g_on=G_ON, g_off=G_OFF, v_read=VR, schemes=("floating", "grounded"))
    assert (np.diff(curve.of("floating")) < 0).all()
    np.testing.assert_allclose(curve.of("grounded"), curve.ideal_margin, rtol=1e-12)
    assert curve.margin.shape == (2, 4)


@pytest.mark.parametrize("size", [8, 16])
def test_nonlinear_device_gives_a_larger_floating_margin(size: int) -> None:
    kw = dict(g_on=G_ON, g_off=G_OFF, v_read=1.0, scheme="floating", lines=xb.LineResistance.uniform(1.0))
    linear = read_margin((size, size), device=xb.Ohmic(), **kw)  # type: ignore[arg-type]
    nonlinear = read_margin((size, size), device=Sinh(a=2.07), **kw)  # type: ignore[arg-type]
    assert nonlinear.margin > linear.margin + 0.1
    # sneak cells sit at a fraction of V_read, where sinh conducts relatively less than at V_read
    assert nonlinear.off.sneak_fraction < linear.off.sneak_fraction


def test_wire_resistance_lowers_the_sensed_current() -> None:
    curve0 = read_margin_curve([16], g_on=G_ON, g_off=G_OFF, v_read=VR, schemes=("grounded",))
    curve5 = read_margin_curve([16], g_on=G_ON, g_off=G_OFF, v_read=VR, schemes=("grounded",),
                               lines=xb.LineResistance.uniform(5.0))
    assert curve5.sensed_on[0, 0] < curve0.sensed_on[0, 0]
    assert curve5.selected_voltage_on[0, 0] < VR


def test_a_repeated_scheme_is_one_row_of_the_curve() -> None:
    """read_cells answers once per distinct scheme; the curve had allocated a row per name given, so a
    repeated scheme left a row of uninitialised memory (e.g. 2.2e-308) labelled with that scheme."""
    twice = read_margin_curve([4, 6], g_on=G_ON, g_off=G_OFF, v_read=VR, schemes=("v/2", "grounded", "v/2"))
    once = read_margin_curve([4, 6], g_on=G_ON, g_off=G_OFF, v_read=VR, schemes=("v/2", "grounded"))
    assert twice.schemes == ("v/2", "grounded")
    for name in ("margin", "margin_abs", "sensed_on", "sensed_off", "sneak_on", "sneak_off", "selected_voltage_on",
                 "power_off"):
        np.testing.assert_array_equal(getattr(twice, name), getattr(once, name))
    for k, scheme in enumerate(twice.schemes):
        for j, n in enumerate(twice.sizes):
            rm = read_margin((int(n), int(n)), g_on=G_ON, g_off=G_OFF, v_read=VR, scheme=scheme)  # type: ignore[arg-type]
            assert twice.margin[k, j] == pytest.approx(rm.margin, rel=1e-12)
