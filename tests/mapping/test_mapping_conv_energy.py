"""Convolutions on crossbars (patches through the tiles of the conv matrix) and the read energy of arrays."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conv_oracle import direct_conv
from mapping_helpers import exact_preset, stuck_on_only

import xbarsim.mapping as mp
from xbarsim import Crossbar, LineResistance, solve
from xbarsim.devices import Ohmic, Sinh
from xbarsim.errors import ConfigError
from xbarsim.netlists import BiasScheme
from xbarsim.networks import Conv2d, Flatten, Network


@pytest.mark.parametrize("backend", ["ideal", "sparse"])
def test_conv_through_tiles_equals_direct_convolution(rng, backend):
    """A 3x3 conv, 3 -> 5 channels, stride 2, padding, dilation, tiled over 12x12 kernels (27 rows:
    three row chunks), LEA alpha 2: the hardware result equals a direct convolution with the weights
    the devices hold (ideal wires, ohmic cells, ideal converters)."""
    conv = Conv2d(weight=rng.normal(size=(5, 3, 3, 3)), stride=(2, 1), padding=(1, 2, 0, 1), dilation=(1, 2))
    net = Network(layers=(conv, Flatten()), input_shape=(3, 9, 8))
    chip = mp.Chip.sample(n_kernels=12, kernel_shape=(12, 12), preset=exact_preset(analog=True), rng=rng)
    layer = mp.map_layer(conv.matrix, chip, rng, ensemble=mp.EnsembleConfig.lea(2, 2, placement="random"))
    assert len(layer.layout.specs) > 3  # really tiled
    x = rng.uniform(-1, 1, (4, 3, 9, 8))
    cfg = mp.InferenceConfig(backend=backend)
    y = net.forward(x, layer_fn=lambda i, a, w: mp.run_layer(layer, a, cfg))
    w_hat = layer.effective_weights(layer.programmed())
    kernel_hat = conv.with_matrix(w_hat, None).weight
    ref = direct_conv(x, kernel_hat, None, conv.stride, conv.padding, conv.dilation)
    np.testing.assert_allclose(y, ref.reshape(4, -1), rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    # and the mapping is close to the software kernel (analog levels, no noise): within 1 %
    assert np.abs(kernel_hat - conv.weight).max() < 0.01 * np.abs(conv.weight).max()


def test_dac_scales_every_patch_on_its_own(rng):
    """Per-vector DAC: each patch is one vector; a 1-bit DAC makes the result depend on each
    patch's own maximum, which the patch-by-patch oracle reproduces."""
    conv = Conv2d(weight=rng.normal(size=(2, 1, 2, 2)))
    net = Network(layers=(conv, Flatten()), input_shape=(1, 4, 4))
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(8, 8), preset=exact_preset(analog=True), rng=rng)
    layer = mp.map_layer(conv.matrix, chip, rng, ensemble=mp.EnsembleConfig.plain())
    cfg = mp.InferenceConfig(dac=mp.DAC(bits=1))
    x = rng.uniform(0, 1, (3, 1, 4, 4))
    y = net.forward(x, layer_fn=lambda i, a, w: mp.run_layer(layer, a, cfg)).reshape(3, 2, 3, 3)
    from xbarsim.networks import im2col

    patches = im2col(x, (2, 2))
    per = np.stack([mp.run_layer(layer, p[None, :], cfg)[0] for p in patches]).reshape(3, 3, 3, 2).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y, per, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------------ energy
def _wire_power_by_hand(sol, v, lines: LineResistance) -> np.ndarray:
    """Watt per batch entry in row/column segments, drivers (left row ends) and senses (bottom column ends)."""
    rv, cv = np.asarray(sol.row_voltages), np.asarray(sol.col_voltages)
    p = ((rv[:, :, :-1] - rv[:, :, 1:]) ** 2 / np.asarray(lines.row_segment)).sum(axis=(1, 2))
    p += ((cv[:, :-1, :] - cv[:, 1:, :]) ** 2 / np.asarray(lines.col_segment)).sum(axis=(1, 2))
    p += ((v - rv[:, :, 0]) ** 2 / np.asarray(lines.row_driver)).sum(axis=1)
    p += (cv[:, -1, :] ** 2 / np.asarray(lines.col_sense)).sum(axis=1)
    return p


@pytest.mark.parametrize("device", ["ohmic", "sinh"])
def test_single_array_energy_is_sum_of_v_times_i_times_read_time(rng, device):
    lines = LineResistance.uniform(1.5, driver=2.0, sense=3.0)
    g = rng.uniform(20e-6, 300e-6, (7, 5))
    xbar = Crossbar(conductance=g, lines=lines, device=Ohmic() if device == "ohmic" else Sinh(a=2.07))
    v = rng.uniform(-0.3, 0.3, (4, 7))
    t_read = 10e-9
    p = mp.crossbar_read_power(xbar, v, "sparse")
    sol = solve(xbar, BiasScheme.read(v), "sparse")
    cells = (np.asarray(sol.cell_voltages) * np.asarray(sol.cell_currents)).sum(axis=(1, 2))
    wires = _wire_power_by_hand(sol, v, lines)
    drivers = (v * np.asarray(sol.input_currents)).sum(axis=1)
    np.testing.assert_allclose(cells + wires, drivers, rtol=1e-9)  # Tellegen, by hand
    np.testing.assert_allclose(p.total * t_read, drivers * t_read, rtol=1e-9)
    np.testing.assert_allclose(p.cells * t_read, cells * t_read, rtol=1e-9)
    np.testing.assert_allclose(p.wires * t_read, wires * t_read, rtol=1e-7)


def test_ideal_backend_energy_is_v_squared_g(rng):
    g = rng.uniform(20e-6, 300e-6, (6, 4))
    v = rng.uniform(-0.3, 0.3, (3, 6))
    p = mp.crossbar_read_power(Crossbar(conductance=g), v, "ideal")
    np.testing.assert_allclose(p.cells, np.einsum("bi,ij->b", v ** 2, g), rtol=1e-13)
    assert np.all(p.wires == 0)
    # the sparse solver with ideal wires gives the same
    np.testing.assert_allclose(mp.crossbar_read_power(Crossbar(conductance=g), v, "sparse").total, p.total,
                               rtol=1e-10)


@pytest.mark.parametrize("device", ["ohmic", "sinh"])
def test_layer_energy_sums_every_read_of_every_kernel(rng, device):
    """Blocks stacked on one kernel (4 blocks of 14x3 fill two 28x3 kernels): the energy is the sum over kernels and
    row groups of separate solves, each read with the driven rows only."""
    preset = exact_preset(analog=True)
    preset = preset if device == "ohmic" else dataclasses.replace(preset, device=Sinh(a=2.07))
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(28, 3), preset=preset, rng=rng,
                          lines=LineResistance.uniform(1.0, driver=1.0, sense=1.0))
    layer = mp.map_layer(rng.uniform(-1, 1, (14, 3)), chip, rng, ensemble=mp.EnsembleConfig.lea(2, 2, placement="random"))
    x = rng.uniform(0, 1, (5, 14))
    cfg = mp.InferenceConfig(backend="sparse")
    e = mp.layer_read_energy(layer, x, cfg, read_time=10e-9)
    v, _, _ = mp.input_voltages(layer, x, cfg)
    by_hand = np.zeros(5)
    specs = layer.layout.specs
    seen = set()
    for b in layer.placement.blocks:
        s = specs[b.spec]
        key = (b.kernel, b.row, s.row_start, s.row_stop)
        if key in seen:
            continue
        seen.add(key)
        vk = np.zeros((5, 28))
        vk[:, b.row:b.row + s.row_stop - s.row_start] = v[:, s.row_start:s.row_stop]
        sol = solve(layer.chip.crossbar(b.kernel), BiasScheme.read(vk), "sparse")
        by_hand += (vk * np.asarray(sol.input_currents)).sum(axis=1) * 10e-9
    assert len(seen) > len(layer.placement.kernels)  # several reads on one kernel
    np.testing.assert_allclose(e.total, by_hand, rtol=1e-9)


def test_wire_losses_grow_with_wire_resistance_and_total_falls(rng):
    """More wire resistance: more power lost in the wires, and (Rayleigh monotonicity: the array's
    input admittance only decreases) less power drawn in total at the same read voltages."""
    g = rng.uniform(100e-6, 300e-6, (25, 25))
    v = np.full((1, 25), 0.3)
    wires, total = [], []
    for r in (0.0, 0.5, 1.0, 2.0, 5.0):
        p = mp.crossbar_read_power(Crossbar(conductance=g, lines=LineResistance.uniform(r)), v, "sparse")
        wires.append(float(p.wires[0]))
        total.append(float(p.total[0]))
    assert abs(wires[0]) < 1e-12 * total[0]
    assert all(b > a for a, b in zip(wires, wires[1:]))
    assert all(b < a for a, b in zip(total, total[1:]))


def test_energy_grows_with_stuck_on_devices(rng):
    """The same layer mapped on chips whose only faults are stuck-ON devices (500 uS): more faults,
    more read energy."""
    x = rng.uniform(0, 1, (20, 12))
    w = rng.uniform(-1, 1, (12, 4))
    energies = []
    for rate in (0.0, 0.1, 0.3):
        gen = np.random.default_rng(7)
        preset = dataclasses.replace(exact_preset(analog=True), faults=stuck_on_only(rate))
        chip = mp.Chip.sample(n_kernels=2, kernel_shape=(12, 12), preset=preset, rng=gen,
                              lines=LineResistance.uniform(1.0))
        layer = mp.map_layer(w, chip, gen, ensemble=mp.EnsembleConfig.plain())
        e = mp.layer_read_energy(layer, x, mp.InferenceConfig(backend="sparse"), read_time=10e-9)
        energies.append(float(e.total.mean()))
    assert energies[0] < energies[1] < energies[2]


@pytest.mark.parametrize("device", ["ohmic", "sinh"])
def test_read_power_agrees_with_ngspice(rng, device):
    from xbarsim import NgspiceBackend, NgspiceOptions

    xbar = Crossbar(conductance=rng.uniform(20e-6, 300e-6, (5, 4)), lines=LineResistance.uniform(2.0, driver=1.0),
                    device=Ohmic() if device == "ohmic" else Sinh(a=2.07))
    v = rng.uniform(-0.3, 0.3, (2, 5))
    sp = mp.crossbar_read_power(xbar, v, "sparse")
    ng = mp.crossbar_read_power(xbar, v, NgspiceBackend(NgspiceOptions()))
    np.testing.assert_allclose(ng.total, sp.total, rtol=1e-6)
    np.testing.assert_allclose(ng.cells, sp.cells, rtol=1e-6)


@pytest.mark.parametrize(
    ("v", "match"),
    [
        (np.full(6, 0.1), r"`v` must have shape \(B, 6\); got shape \(6,\)"),  # IndexError: too many indices
        (np.full((2, 5), 0.1), r"`v` must have shape \(B, 6\); got shape \(2, 5\)"),  # numpy matmul mismatch
        ([[0.1] * 6], None),  # a nested list: TypeError "list indices must be integers or slices"
        (np.full((2, 6), np.nan), r"`v` must be a finite \(B, 6\) array of row voltages in volt; got nan"),  # NaN out
    ],
)
@pytest.mark.parametrize("read", ["block_currents", "layer_read_power"])
def test_row_voltages_are_checked(rng, v, match, read):
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(8, 8), preset=exact_preset(), rng=rng)
    layer = mp.map_layer(rng.uniform(-1, 1, (6, 3)), chip, rng, ensemble=mp.EnsembleConfig.plain())
    fn = getattr(mp, read)
    if match is None:  # a list of voltages is accepted as the array it spells
        ref = fn(layer, np.array(v))
        got = fn(layer, v)
        if read == "block_currents":
            assert got.keys() == ref.keys() and all(np.array_equal(got[k], ref[k]) for k in ref)
        else:
            np.testing.assert_array_equal(got.total, ref.total)
        return
    with pytest.raises(ConfigError, match=match):
        fn(layer, v)
