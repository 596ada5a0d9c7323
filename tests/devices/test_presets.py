"""Device presets: their numbers, sampled chips, reads, and Crossbar.from_preset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.devices import (
    LEA_SINH_A,
    ConstantConductance,
    DevicePreset,
    NormalConductance,
    ProgrammedArray,
    ReadNoise,
    Sinh,
    UniformConductance,
    WindowSpread,
    rram_1t1r_nist,
    tio2_passive,
)
from xbarsim.errors import ConfigError

PRESETS = {"tio2_passive": tio2_passive, "rram_1t1r_nist": rram_1t1r_nist}


@pytest.fixture(params=list(PRESETS), ids=list(PRESETS))
def preset(request: pytest.FixtureRequest) -> DevicePreset:
    return PRESETS[request.param]()


def test_presets_cite_their_sources(preset: DevicePreset) -> None:
    fn = PRESETS[preset.name]
    doc = fn.__doc__ or ""
    assert "arXiv:" in doc and "Validity" in doc and (".txt" in doc or ".csv" in doc)
    assert "arXiv:" in preset.citation
    assert isinstance(preset.device, Sinh) and preset.device.a == LEA_SINH_A


def test_tio2_numbers() -> None:
    p = tio2_passive()
    assert (p.g_min, p.g_max) == (100e-6, 500e-6)
    assert 1 / p.g_max == pytest.approx(2e3) and 1 / p.g_min == pytest.approx(10e3)
    assert p.levels is None and p.read_noise is None
    assert p.programming.rel_sigma(100e-6) == pytest.approx(0.006286)
    assert p.programming.rel_sigma(500e-6) == pytest.approx(0.00379)
    assert (p.programming.offset_mean, p.programming.offset_std, p.programming.abs_sigma) == (-0.00589, 0.00339, 0.0)
    assert p.faults.stuck_on_rate == p.faults.stuck_off_rate == 0.005
    assert p.faults.stuck_on_value == NormalConductance(mean=573e-6, std=99e-6)
    assert p.faults.stuck_off_value == UniformConductance(low=10e-6, high=100e-6)
    assert (p.read_voltage, p.kernel_shape) == (0.2, (8, 8))
    assert tio2_passive(stuck_rate=0.1).faults.rate == pytest.approx(0.1)


def test_rram_1t1r_nist_numbers() -> None:
    p = rram_1t1r_nist()
    assert p.levels == (133e-6, 233e-6)
    assert (p.g_min, p.g_max) == (133e-6, 233e-6)
    assert p.programming.abs_sigma == 16.66e-6 and p.programming.rel_sigma(200e-6) == 0.0
    assert p.read_noise == ReadNoise(kind="uniform", scale=10e-6)
    assert p.faults.stuck_on_value == ConstantConductance(value=500e-6)
    assert p.faults.stuck_off_value == ConstantConductance(value=10e-6)
    assert p.faults.stuck_on_rate == p.faults.stuck_off_rate == 0.025
    assert (p.read_voltage, p.kernel_shape) == (0.3, (25, 25))
    # a read at 0.3 V reports the chord conductance, 6.5 % above the small-signal g
    assert p.chord_conductance(233e-6) == pytest.approx(233e-6 * np.sinh(0.3 * LEA_SINH_A) / (0.3 * LEA_SINH_A))


def test_sample_conductance(preset: DevicePreset, rng: np.random.Generator) -> None:
    target = rng.uniform(0.0, 700e-6, (40, 50))
    out = preset.sample_conductance(target, rng)
    assert isinstance(out, ProgrammedArray)
    assert out.conductance.shape == out.target.shape == out.faults.shape == (40, 50)
    assert not out.conductance.flags.writeable
    assert np.all(out.target >= preset.g_min) and np.all(out.target <= preset.g_max)
    if preset.levels is not None:
        assert np.all(np.isin(out.target, preset.levels))
    assert np.all(out.conductance >= 0)
    np.testing.assert_array_equal(out.conductance[out.faults.stuck], out.faults.stuck_value[out.faults.stuck])
    assert out.faults.rate > 0


def test_same_seed_same_chip(preset: DevicePreset) -> None:
    target = np.linspace(preset.g_min, preset.g_max, 625).reshape(25, 25)
    a = preset.sample_conductance(target, np.random.default_rng(11))
    b = preset.sample_conductance(target, np.random.default_rng(11))
    c = preset.sample_conductance(target, np.random.default_rng(12))
    np.testing.assert_array_equal(a.conductance, b.conductance)
    np.testing.assert_array_equal(a.faults.stuck, b.faults.stuck)
    assert not np.array_equal(a.conductance, c.conductance)


def test_tio2_programmed_statistics(rng: np.random.Generator) -> None:
    p = dataclasses.replace(tio2_passive(), faults=dataclasses.replace(tio2_passive().faults, stuck_on_rate=0, stuck_off_rate=0))
    out = p.sample_conductance(np.full((200, 500), 300e-6), rng)
    rel = (out.conductance / 300e-6 - 1).ravel()
    s = np.hypot(0.00339, float(p.programming.rel_sigma(300e-6)))
    assert abs(rel.mean() + 0.00589) < 4 * s / np.sqrt(rel.size)
    assert abs(rel.std(ddof=1) - s) < 4 * s / np.sqrt(2 * rel.size)


def test_rram_programmed_and_read_statistics(rng: np.random.Generator) -> None:
    p = rram_1t1r_nist(stuck_rate=0.0)
    target = np.where(rng.random((200, 500)) < 0.5, 133e-6, 233e-6)
    out = p.sample_conductance(target + rng.uniform(-45e-6, 45e-6, target.shape), rng)  # snapped to the levels
    np.testing.assert_array_equal(out.target, target)
    err = (out.conductance - target).ravel()
    assert abs(err.mean()) < 4 * 16.66e-6 / np.sqrt(err.size)
    assert abs(err.std(ddof=1) - 16.66e-6) < 4 * 16.66e-6 / np.sqrt(2 * err.size)
    r1, r2 = p.read(out.conductance, rng), p.read(out.conductance, rng)
    noise = (r1 - out.conductance).ravel()
    assert np.all(np.abs(noise) <= 10e-6) and abs(noise.std() - 10e-6 / np.sqrt(3)) < 0.02 * 10e-6
    assert not np.array_equal(r1, r2)  # redrawn at every read


def test_rram_fault_rate(rng: np.random.Generator) -> None:
    fm = rram_1t1r_nist().sample_conductance(np.full((200, 500), 233e-6), rng).faults
    n = fm.stuck_on.size
    for count, p in ((fm.n_stuck_on, 0.025), (fm.n_stuck_off, 0.025)):
        assert abs(count - n * p) < 4 * np.sqrt(n * p * (1 - p))


def test_noiseless_read_is_a_copy(rng: np.random.Generator) -> None:
    g = np.full((2, 2), 2e-4)
    r = tio2_passive().read(g, rng)
    np.testing.assert_array_equal(r, g)
    assert r is not g


def test_reused_offsets_and_window_spread(rng: np.random.Generator) -> None:
    p = dataclasses.replace(tio2_passive(stuck_rate=0.0), window_spread=WindowSpread(g_min_sigma=0.1, g_max_sigma=0.1))
    target = np.full((100, 100), 500e-6)
    offset = p.programming.sample_offset(target.shape, rng)
    out = p.sample_conductance(target, rng, offset=offset)
    assert np.any(out.target < 500e-6) and np.any(out.target > 400e-6)  # each device's own g_max


def test_crossbar_from_preset(preset: DevicePreset) -> None:
    target = np.full((6, 7), preset.g_max)
    cb = xb.Crossbar.from_preset(preset, target, np.random.default_rng(5))
    assert isinstance(cb, xb.Crossbar)
    assert cb.shape == (6, 7) and cb.device == preset.device
    ref = preset.sample_conductance(target, np.random.default_rng(5))
    np.testing.assert_array_equal(cb.conductance, ref.conductance)
    lines = xb.LineResistance(row_segment=1.0, col_segment=1.0)
    cb2 = xb.Crossbar.from_preset(preset, target, np.random.default_rng(5), lines=lines)
    np.testing.assert_array_equal(cb2.conductance, cb.conductance)
    assert np.all(cb2.lines.row_segment == 1.0)
    with pytest.raises(ConfigError, match="preset"):
        xb.Crossbar.from_preset("tio2", target, np.random.default_rng(5))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"g_min": 600e-6}, "g_min"),
        ({"g_min": 500e-6}, "g_min"),
        ({"g_max": -1.0}, "g_max"),
        ({"levels": (50e-6, 200e-6)}, "levels"),
        ({"levels": (200e-6, 200e-6)}, "levels"),
        ({"read_voltage": 0.0}, "read_voltage"),
        ({"kernel_shape": (8,)}, "kernel_shape"),
        ({"device": "sinh"}, "device"),
        ({"programming": None}, "programming"),
        ({"read_noise": 10e-6}, "read_noise"),
        ({"faults": None}, "faults"),
        ({"window_spread": 0.1}, "window_spread"),
    ],
)
def test_invalid_preset_fields(change: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        dataclasses.replace(tio2_passive(), **change)


def test_invalid_preset_arguments(rng: np.random.Generator) -> None:
    with pytest.raises(ConfigError, match="stuck_rate"):
        tio2_passive(stuck_rate=2.0)
    with pytest.raises(ConfigError, match="stuck_rate"):
        rram_1t1r_nist(stuck_rate=-0.1)
    with pytest.raises(ConfigError, match="target_g"):
        tio2_passive().sample_conductance(np.array([-1e-4]), rng)
    with pytest.raises(ConfigError, match="rng"):
        tio2_passive().sample_conductance(np.ones(2) * 1e-4, 0)  # type: ignore[arg-type]
