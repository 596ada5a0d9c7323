"""Every analysis metric is the same whether the sparse solver or ngspice computed it (small arrays)."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import bias_report, compare_write_schemes, read_margin_curve, selected_voltage_map
from xbarsim.devices import Sinh, tio2_passive


def assert_close(a: object, b: object, what: str, rtol: float = 1e-7, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=atol,
                               err_msg=what)


def test_write_metrics_agree() -> None:
    rng = np.random.default_rng(7)
    cb = xb.Crossbar(conductance=rng.uniform(1e-4, 5e-4, (6, 5)), lines=xb.LineResistance.uniform(2.0, driver=3.0),
                     device=Sinh(a=2.07))
    sp = compare_write_schemes(cb, 1.8, cell=(1, 3))
    ng = compare_write_schemes(cb, 1.8, cell=(1, 3), backend="ngspice")
    for a, b in zip(sp.results, ng.results, strict=True):
        assert b.backend == "ngspice"
        assert_close(a.cell_voltages, b.cell_voltages, f"{a.scheme} cell voltages", atol=1e-9)
        for key, value in a.summary().items():
            if key != "scheme":
                assert_close(value, b.summary()[key], f"{a.scheme} {key}", rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("device", [xb.Ohmic(), Sinh(a=2.07)], ids=["ohmic", "sinh"])
def test_selected_voltage_maps_agree(device: xb.DeviceModel) -> None:
    rng = np.random.default_rng(8)
    cb = xb.Crossbar(conductance=rng.uniform(1e-4, 5e-4, (4, 4)), lines=xb.LineResistance.uniform(3.0), device=device)
    cells = np.array([[3, 0], [2, 1], [0, 3]])
    for scheme in ("v/3", "floating"):
        sp = selected_voltage_map(cb, 1.5, scheme, cells=cells)
        ng = selected_voltage_map(cb, 1.5, scheme, cells=cells, backend="ngspice")
        assert ng.backend == "ngspice" and sp.method == ng.method
        assert_close(sp.voltage, ng.voltage, f"{scheme} map", atol=1e-9)


def test_read_margins_agree() -> None:
    kw = dict(g_on=5e-4, g_off=1e-4, v_read=0.3, lines=xb.LineResistance.uniform(1.0), device=Sinh(a=2.07))
    sp = read_margin_curve([4, 8], **kw)  # type: ignore[arg-type]
    ng = read_margin_curve([4, 8], backend="ngspice", **kw)  # type: ignore[arg-type]
    for name in ("margin", "margin_abs", "sensed_on", "sensed_off", "sneak_on", "sneak_off", "selected_voltage_on",
                 "power_off"):
        assert_close(getattr(sp, name), getattr(ng, name), name, rtol=1e-6, atol=1e-13)


def test_whole_report_agrees() -> None:
    kw = dict(preset=tio2_passive(), lines=xb.LineResistance.uniform(1.0), sizes=[4, 6], segments=[0.0, 2.0],
              profile_points=4)
    sp = bias_report(6, **kw)  # type: ignore[arg-type]
    ng = bias_report(6, backend="ngspice", **kw)  # type: ignore[arg-type]
    assert ng.backend == "ngspice"
    for a, b in zip(sp.table(), ng.table(), strict=True):
        for key, value in a.items():
            if key != "scheme":
                assert_close(value, b[key], f"{a['scheme']} {key}", rtol=1e-6, atol=1e-9)
    for scheme in ("v/2", "floating"):
        assert_close(sp.margin_vs_wire[scheme], ng.margin_vs_wire[scheme], f"margin vs wire {scheme}", rtol=1e-6)
