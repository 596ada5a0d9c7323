"""The Fig. 5 chip model: measured fault maps for every kernel, per-layer G_norm from the characterization read."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim.devices import LEA_KERNELS, rram_1t1r_nist
from xbarsim.errors import ConfigError

from mapping_helpers import ternary

TERNARY = mp.Encoding(scheme="ternary", gamma=1.0)


def test_unmeasured_kernels_can_take_measured_fault_maps_instead_of_scattered_faults():
    measured = mp.lea_chip(np.random.default_rng(0), unmeasured="measured")
    sampled = mp.lea_chip(np.random.default_rng(0))
    maps = [measured.faults.stuck_on[k] | measured.faults.stuck_off[k] for k in LEA_KERNELS]
    for k in range(32):
        mine = measured.faults.stuck_on[k] | measured.faults.stuck_off[k]
        assert any(np.array_equal(mine, m) for m in maps), k
    other = [k for k in range(32) if k not in LEA_KERNELS]
    # the measured kernels agree; the others differ from the scattered ones
    for k in LEA_KERNELS:
        assert np.array_equal(measured.faults.stuck_on[k], sampled.faults.stuck_on[k])
    assert any(not np.array_equal(measured.faults.stuck_on[k], sampled.faults.stuck_on[k]) for k in other)
    with pytest.raises(ConfigError, match="unmeasured"):
        mp.lea_chip(np.random.default_rng(0), unmeasured="all")


def test_characterized_g_norm_is_the_mean_set_minus_reset_read_of_the_layers_devices():
    rng = np.random.default_rng(4)
    chip = mp.Chip.sample(n_kernels=6, kernel_shape=(16, 16), preset=rram_1t1r_nist(stuck_rate=0.1), rng=rng)
    char = mp.characterize(chip, rng)
    w = ternary(np.random.default_rng(1), (10, 4))
    cfg = mp.EnsembleConfig(alpha=2, placement="random", g_norm="characterized")
    layer = mp.map_layer(w, char.chip, rng, encoding=TERNARY, ensemble=cfg, characterization=char)
    occ = layer.placement.occupancy()
    step = char.set_read[occ].mean() - char.reset_read[occ].mean()
    nominal = mp.map_layer(w, char.chip, np.random.default_rng(9), encoding=TERNARY,
                           ensemble=mp.EnsembleConfig(alpha=2, placement="random"), characterization=char)
    assert nominal.layout.g_scale == pytest.approx(100e-6)  # (233 - 133) uS / gamma 1
    assert layer.layout.g_scale == pytest.approx(step, rel=1e-12)
    assert step < 100e-6  # stuck devices read the same after SET and RESET
    # decoding uses it: the weights are the read-back differences over the measured step
    q = layer.read_back
    w_hat = (q @ layer.layout.readout).mean(axis=0) / step
    np.testing.assert_allclose(layer.effective_weights(), w_hat, rtol=1e-10, atol=1e-12)
