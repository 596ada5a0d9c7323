"""The time-domain programming option of the mapping layer (slow mode, small kernels)."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim import LineResistance
from xbarsim.analysis import WriteVerifySettings
from xbarsim.devices import tio2_passive
from xbarsim.errors import ConfigError


def test_transient_programming_maps_a_layer(rng):
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(4, 4), preset=tio2_passive(stuck_rate=0.0), rng=rng,
                          lines=LineResistance.uniform(1.0))
    w = rng.uniform(-1, 1, (3, 2))
    prog = mp.TransientProgramming(settings=WriteVerifySettings(dt=2.5e-7, max_pulses=30, tolerance=0.02))
    layer = mp.map_layer(w, chip, rng, ensemble=mp.EnsembleConfig.plain(), programming=prog)
    rep = layer.programming
    assert rep.n_pulses > 0 and rep.disturbance is not None and rep.convergence_rate > 0.6
    assert layer.mapping_error() < 20.0
    # the devices the layer does not use were not written (no pulses), only disturbed a little
    occ = layer.placement.occupancy()
    assert np.abs(layer.chip.conductance[~occ] - chip.conductance[~occ]).max() < 0.1 * chip.g_max


@pytest.mark.parametrize("model", [3, "tio2"])
def test_transient_programming_refuses_a_model_that_is_not_a_dynamic_device(rng, model):
    # before: the window lookup ran first and raised AttributeError ('int' object has no attribute 'conductance')
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(2, 2), preset=tio2_passive(stuck_rate=0.0), rng=rng)
    with pytest.raises(ConfigError, match="`model` must be a DynamicDevice"):
        mp.program_transient(chip, np.array([0]), [200e-6], model=model)
