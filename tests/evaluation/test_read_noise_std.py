"""`Hardware.read_noise_std`: a measured read noise in place of the preset's simulation setting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.evaluation import Hardware
from xbarsim.evaluation.hardware import build_chip, build_preset, layer_encodings
from xbarsim.mapping.programming import read_devices


def test_read_noise_std_sets_the_standard_deviation_and_keeps_the_kind():
    default = build_preset(Hardware()).read_noise
    assert default is not None and default.kind == "uniform" and default.scale == pytest.approx(10e-6)
    noise = build_preset(Hardware(read_noise_std=1.5e-6)).read_noise
    assert noise is not None and noise.kind == "uniform"
    # recomputed from draws, not from the property: std 1.5 uS, half-width 1.5 sqrt(3) uS
    draws = noise.noise(200_000, np.random.default_rng(0))
    assert np.std(draws) == pytest.approx(1.5e-6, rel=0.01)
    half = 1.5e-6 * math.sqrt(3.0)
    assert np.abs(draws).max() <= half
    assert np.abs(draws).max() > 0.99 * half


def test_read_noise_false_wins_and_none_keeps_the_preset():
    assert build_preset(Hardware(read_noise=False, read_noise_std=1e-6)).read_noise is None
    assert build_preset(Hardware(read_noise_std=None)).read_noise == build_preset(Hardware()).read_noise
    zero = build_preset(Hardware(read_noise_std=0.0)).read_noise
    assert zero is not None and np.all(zero.noise(100, np.random.default_rng(1)) == 0.0)


def test_the_lea_chip_reads_with_the_chosen_noise():
    """The option reaches the chip's reads (characterization, verify and read-back use them)."""
    w = [np.ones((4, 12)), np.ones((12, 6))]
    for std in (1.5e-6, 10e-6 / math.sqrt(3.0)):
        hw = Hardware(chip="lea", encoding="ternary", read_noise_std=std)
        chip = build_chip(hw, w, layer_encodings(hw, w, [1.0, 1.0]), np.random.default_rng(2))
        idx = np.flatnonzero(~chip.faults.stuck.ravel())[:20_000]
        residual = read_devices(chip, idx, np.random.default_rng(3)) - chip.conductance.ravel()[idx]
        assert np.std(residual) == pytest.approx(std, rel=0.03)


@pytest.mark.parametrize("bad", [-1e-6, float("nan"), 2.0, "1e-6", True])
def test_bad_read_noise_std_names_the_key(bad):
    with pytest.raises(ConfigError, match="read_noise_std"):
        Hardware(read_noise_std=bad)
