"""The programming-sequence option: half-select disturbance from xbarsim.analysis.programming enters the mapping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim import LineResistance
from xbarsim.devices import tio2_passive
from xbarsim.errors import ConfigError

from mapping_helpers import ternary


def _chip(rng: np.random.Generator, lines: LineResistance | None = None) -> mp.Chip:
    preset = tio2_passive(stuck_rate=0.0)
    return mp.Chip.sample(n_kernels=2, kernel_shape=(6, 6), preset=preset, rng=rng, lines=lines)


def test_sequence_programming_maps_a_layer_and_reports_disturbance(rng):
    chip = _chip(rng, LineResistance.uniform(2.0))
    w = rng.uniform(-1, 1, (4, 2))
    seq = mp.SequenceProgramming(scheme="v/2", tolerance=0.02, max_pulses=60)
    layer = mp.map_layer(w, chip, rng, ensemble=mp.EnsembleConfig.lea(2, 1, placement="random"), programming=seq)
    rep = layer.programming
    assert rep.disturbance is not None and rep.disturbance.shape == rep.attempts.shape
    assert rep.n_pulses > 0 and rep.convergence_rate > 0.8
    assert layer.mapping_error() < 25.0
    # devices of the kernels outside the layer's blocks keep (about) their state
    occ = layer.placement.occupancy()
    before, after = chip.conductance[~occ], layer.chip.conductance[~occ]
    assert np.abs(after - before).max() < 0.25 * chip.g_max


def test_sequence_and_write_verify_agree_on_what_was_programmed(rng):
    """Same targets, ideal wires (no solves needed): both programming models land near the targets."""
    chip = _chip(rng)
    w = rng.uniform(-1, 1, (5, 3))
    wv = mp.map_layer(w, chip, rng, ensemble=mp.EnsembleConfig.plain())
    sq = mp.map_layer(w, chip, rng, ensemble=mp.EnsembleConfig.plain(),
                      programming=mp.SequenceProgramming(tolerance=0.01, max_pulses=200))
    assert wv.mapping_error() < 10.0 and sq.mapping_error() < 10.0


def test_sequence_programming_keeps_stuck_devices(rng):
    preset = dataclasses.replace(tio2_passive(stuck_rate=0.2))
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(6, 6), preset=preset, rng=rng)
    idx = np.arange(chip.n_devices)
    new, rep = mp.program_sequence(chip, idx, np.full(idx.size, 300e-6), rng, tolerance=0.02, max_pulses=50)
    stuck = chip.faults.stuck.ravel()
    np.testing.assert_array_equal(new.conductance.ravel()[stuck], chip.faults.stuck_value.ravel()[stuck])
    assert not rep.converged[stuck].any()


def test_sequence_tolerance_is_relative():
    with pytest.raises(ConfigError, match=r"`tolerance` must be a relative tolerance in \(0, 1\)"):
        mp.SequenceProgramming(tolerance=5e-6 * 1e6)


def test_ternary_layer_through_the_sequence(rng):
    preset = tio2_passive(stuck_rate=0.0)
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(8, 8), preset=preset, rng=rng)
    layer = mp.map_layer(ternary(rng, (4, 3)), chip, rng, encoding=mp.Encoding(scheme="ternary"),
                         ensemble=mp.EnsembleConfig.plain(), programming=mp.SequenceProgramming(tolerance=0.02))
    assert layer.mapping_error() < 10.0
