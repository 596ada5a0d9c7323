"""The program_array contract the mapping layer relies on, and write-verify behaviour."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import ProgrammingResult, PulseSchedule, drolet_tio2_law, program_array, programming_order
from xbarsim.analysis.programming import program_array as program_array_direct
from xbarsim.devices import FaultMap, rram_1t1r_nist, tio2_passive


def targets(rng: np.random.Generator, shape: tuple[int, int] = (6, 5)) -> np.ndarray:
    return rng.uniform(100e-6, 500e-6, shape)


def test_contract_fields_and_crossbar(rng: np.random.Generator) -> None:
    assert program_array is program_array_direct
    preset = tio2_passive()
    t = targets(rng)
    lines = xb.LineResistance.uniform(0.0)
    res = program_array(t, preset=preset, rng=rng, scheme="v/2", lines=lines, backend="sparse",
                        tolerance=0.01, max_pulses=100, faults=False)
    assert isinstance(res, ProgrammingResult)
    for name in ("conductance", "target", "pulses", "disturbance", "programmed", "verified", "initial"):
        assert getattr(res, name).shape == t.shape, name
    assert res.pulses.dtype.kind == "i" and (res.pulses >= 0).all()
    assert isinstance(res.crossbar, xb.Crossbar)
    np.testing.assert_array_equal(res.crossbar.conductance, res.conductance)
    assert res.crossbar.device is preset.device
    np.testing.assert_array_equal(res.target, preset.targets(t))
    np.testing.assert_array_equal(res.disturbance, res.conductance - res.programmed)
    last = tuple(res.order[-1])
    assert res.disturbance[last] == 0.0
    # every cell ended its own write-verify inside the tolerance band (no read noise in this preset)
    assert res.verified.all()
    assert (np.abs(res.programmed - res.target) <= 0.01 * res.target * (1 + 1e-12)).all()
    assert not res.conductance.flags.writeable
    assert res.order.shape == (30, 2) and res.trajectory.shape == (30, 64)


def test_same_seed_same_chip() -> None:
    t = targets(np.random.default_rng(0))
    a = program_array(t, preset=tio2_passive(), rng=np.random.default_rng(5))
    b = program_array(t, preset=tio2_passive(), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.conductance, b.conductance)
    np.testing.assert_array_equal(a.pulses, b.pulses)
    np.testing.assert_array_equal(a.faults.stuck, b.faults.stuck)


def test_stuck_devices_keep_their_value_and_fail_verification(rng: np.random.Generator) -> None:
    shape = (4, 4)
    on = np.zeros(shape, bool)
    on[1, 2] = True
    fmap = FaultMap(stuck_on=on, stuck_off=np.zeros(shape, bool), stuck_value=np.where(on, 900e-6, 0.0))
    res = program_array(np.full(shape, 200e-6), preset=tio2_passive(), rng=rng, faults=fmap, max_pulses=150)
    assert res.conductance[1, 2] == 900e-6
    assert not res.verified[1, 2] and res.pulses[1, 2] == 150
    assert res.verified.sum() == 15


def test_half_selected_cells_drift_under_v2_but_not_below_threshold(rng: np.random.Generator) -> None:
    t = targets(rng, (6, 6))
    init = np.full((6, 6), 300e-6)
    law = replace(drolet_tio2_law(), threshold_sigma=0.0)
    hot = program_array(t, preset=tio2_passive(), rng=np.random.default_rng(1), faults=False, initial=init, law=law)
    assert np.abs(hot.disturbance).max() > 1e-6
    assert hot.max_disturb_voltage.max() > law.min_threshold
    # pulses that never reach twice the lowest threshold cannot disturb a V/2 half-selected cell
    top = 1.9 * law.min_threshold
    gentle = PulseSchedule(v_set_start=1.1, v_set_max=top, v_reset_start=1.1, v_reset_max=top, v_step=0.02)
    cold = program_array(t, preset=tio2_passive(), rng=np.random.default_rng(1), faults=False, initial=init,
                         schedule=gentle, law=law, max_pulses=300)
    assert cold.max_disturb_voltage.max() <= top / 2 + 1e-12
    assert (cold.disturbance == 0).all()
    assert cold.verified.all()


@pytest.mark.parametrize("scheme", ["v/2", "v/3", "floating", "grounded"])
def test_circuit_mode_with_wires_every_scheme(rng: np.random.Generator, scheme: str) -> None:
    res = program_array(targets(rng, (4, 4)), preset=tio2_passive(), rng=rng, scheme=scheme,  # type: ignore[arg-type]
                        lines=xb.LineResistance.uniform(2.0), faults=False, max_pulses=60)
    assert res.n_solves >= 16 and res.backend == "sparse"
    assert res.verified.mean() > 0.8


def test_ngspice_and_sparse_program_the_same_array() -> None:
    t = targets(np.random.default_rng(3), (3, 3))
    kw = dict(preset=tio2_passive(), scheme="v/2", lines=xb.LineResistance.uniform(2.0), faults=False, max_pulses=40)
    a = program_array(t, rng=np.random.default_rng(4), backend="sparse", **kw)  # type: ignore[arg-type]
    b = program_array(t, rng=np.random.default_rng(4), backend="ngspice", **kw)  # type: ignore[arg-type]
    assert b.backend == "ngspice"
    np.testing.assert_array_equal(a.pulses, b.pulses)
    np.testing.assert_allclose(a.conductance, b.conductance, rtol=1e-7)


def test_preset_with_read_noise_and_levels(rng: np.random.Generator) -> None:
    preset = rram_1t1r_nist(stuck_rate=0.0)
    res = program_array(rng.uniform(130e-6, 240e-6, (4, 4)), preset=preset, rng=rng, tolerance=0.05, max_pulses=50)
    assert set(np.unique(res.target)) <= {133e-6, 233e-6}
    assert res.crossbar.device is preset.device


def test_subset_of_cells(rng: np.random.Generator) -> None:
    init = rng.uniform(100e-6, 500e-6, (5, 5))
    order = np.array([24, 3, 12])
    res = program_array(np.full((5, 5), 250e-6), preset=tio2_passive(), rng=rng, order=order, initial=init,
                        faults=False)
    written = np.zeros(25, bool)
    written[order] = True
    written = written.reshape(5, 5)
    assert res.order.tolist() == [[4, 4], [0, 3], [2, 2]] and res.trajectory.shape == (3, 64)
    assert (res.pulses[~written] == 0).all() and not res.verified[~written].any()
    assert res.verified[written].all()
    np.testing.assert_array_equal(res.programmed[~written], init[~written])
    np.testing.assert_array_equal(res.disturbance, res.conductance - res.programmed)
    # the 22 cells left out took no pulse: they are not failures of write-verify (before: 3 / 25 = 0.12)
    assert res.success_rate == res.verified[written].mean() == 1.0


def test_orders() -> None:
    assert programming_order((2, 3), "row-major").tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    assert programming_order((2, 3), "column-major")[:2].tolist() == [[0, 0], [1, 0]]
    perm = programming_order((3, 3), "random", np.random.default_rng(0))
    assert sorted(map(tuple, perm.tolist())) == [(i, j) for i in range(3) for j in range(3)]
    assert programming_order((2, 2), np.array([3, 2, 1, 0]))[0].tolist() == [1, 1]


@pytest.mark.parametrize(
    "kwargs",
    [dict(scheme="v/4"), dict(tolerance=0.0), dict(tolerance=1.5), dict(max_pulses=0), dict(order="spiral"),
     dict(order=np.array([0, 0, 1, 2])), dict(order=np.array([0, 4])), dict(order=np.array([], dtype=int)),
     dict(order=np.array([0.0, 1.0])), dict(voltages="ideal", scheme="floating"), dict(voltages="exact"),
     dict(faults="yes"), dict(law="drolet"), dict(preset="tio2_passive")],
)
def test_invalid_options_raise_config_error(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = dict(preset=tio2_passive(), rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(xb.ConfigError):
        program_array(np.full((2, 2), 2e-4), **args)  # type: ignore[arg-type]


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(xb.ConfigError, match="rng"):
        program_array(np.full((2, 2), 2e-4), preset=tio2_passive(), rng=0)  # type: ignore[arg-type]
