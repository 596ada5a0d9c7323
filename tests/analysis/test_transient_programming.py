"""Programming through the circuit in the time domain: determinism, no disturbance below threshold,
verify reads against an independent DC solve."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import WriteVerifySettings, program_array_transient, write_verify_cell
from xbarsim.analysis.switching import PulseSchedule
from xbarsim.devices import tio2_vteam
from xbarsim.errors import ConfigError

WIRES = xb.LineResistance(row_segment=1.0, col_segment=1.5, row_driver=5.0, col_sense=5.0)


def test_whole_array_programming_is_deterministic_for_a_seed():
    m = tio2_vteam()
    tgt = np.random.default_rng(5).uniform(120e-6, 480e-6, (3, 3))
    cfg = WriteVerifySettings(max_pulses=6, dt=2.5e-7)
    runs = [program_array_transient(tgt, model=m, lines=WIRES, settings=cfg, rng=np.random.default_rng(11),
                                    order="random") for _ in range(2)]
    a, b = runs
    assert np.array_equal(a.conductance, b.conductance) and np.array_equal(a.pulses, b.pulses)
    assert np.array_equal(a.order, b.order) and np.array_equal(a.energy, b.energy)
    assert a.pulses.sum() > 0 and (a.energy > 0).all() == (a.pulses > 0).all()
    c = program_array_transient(tgt, model=m, lines=WIRES, settings=cfg, rng=np.random.default_rng(12), order="random")
    assert not np.array_equal(a.conductance, c.conductance)


def test_v3_with_ideal_wires_below_threshold_leaves_unselected_cells_unchanged():
    """V/3 puts +-V/3 on unselected cells: with at most 8 ramp pulses (<= 1.2 V here) that is <= 0.4 V, below
    both thresholds of the TiO2 preset (+0.502 / -0.411 V)."""
    m = tio2_vteam()
    cfg = WriteVerifySettings(scheme="v/3", max_pulses=8, dt=2.5e-7,
                              schedule=PulseSchedule(v_set_max=1.2, v_reset_max=1.2))
    tgt = np.random.default_rng(2).uniform(150e-6, 450e-6, (3, 4))
    res = program_array_transient(tgt, model=m, settings=cfg, rng=np.random.default_rng(3))
    assert res.pulses.sum() > 10
    assert np.array_equal(res.disturbance, np.zeros_like(res.disturbance))
    assert np.all(np.nan_to_num(res.trajectory) == 0)
    # the same run under V/2 disturbs (RESET pulses put more than 0.411 V on half-selected cells)
    cfg2 = WriteVerifySettings(scheme="v/2", max_pulses=8, dt=2.5e-7, schedule=PulseSchedule(v_set_max=1.2, v_reset_max=1.2))
    res2 = program_array_transient(tgt, model=m, settings=cfg2, rng=np.random.default_rng(3))
    assert np.abs(res2.disturbance).max() > 0


def test_verify_read_equals_an_independent_dc_solve():
    m = tio2_vteam()
    w = np.random.default_rng(0).uniform(0, 1, (4, 5))
    cp = write_verify_cell(w, 2, 3, float(m.conductance(w[2, 3])), model=m, lines=WIRES)
    crossbar = xb.Crossbar(conductance=m.conductance(w), lines=WIRES, device=m.static_law)
    sol = xb.solve(crossbar, xb.BiasScheme.write(2, 3, 0.2, "grounded"))
    unit = np.sinh(m.a * 0.2) / m.a
    assert cp.read_g[0] == pytest.approx(float(sol.output_currents[3]) / unit, rel=1e-8)


def test_write_verify_reaches_target_and_bad_targets_raise():
    m = tio2_vteam()
    w = np.full((4, 4), 0.2)
    cp = write_verify_cell(w, 1, 1, 300e-6, model=m, lines=WIRES, settings=WriteVerifySettings(dt=2.5e-7))
    assert cp.verified and abs(cp.read_g[-1] - 300e-6) <= 3e-6 and cp.pulses == cp.amplitudes.size
    assert np.all(cp.amplitudes[:2] > 0)  # SET pulses are positive for this device
    with pytest.raises(ConfigError, match="`g_target`"):
        write_verify_cell(w, 1, 1, 600e-6, model=m)
    with pytest.raises(ConfigError, match="`tolerance`"):
        WriteVerifySettings(tolerance=1.5)
    with pytest.raises(ConfigError, match="`width`"):
        WriteVerifySettings(width=-1e-6)
