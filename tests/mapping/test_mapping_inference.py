"""Inference of mapped layers: backends agree where physics says they must; converters quantize as stated."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim import LineResistance, NgspiceBackend, NgspiceOptions, SparseBackend
from xbarsim.devices import Sinh
from xbarsim.errors import ConfigError

from mapping_helpers import exact_preset, ternary


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> None:
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max()))


@pytest.mark.parametrize("alpha", [1, 3])
def test_sparse_with_ideal_wires_and_linear_devices_equals_ideal(rng, alpha):
    """Zero wire resistance, ohmic devices: the circuit solve is ``v @ G`` (other rows at 0 V)."""
    preset = exact_preset(stuck_rate=0.05)
    chip = mp.Chip.sample(n_kernels=4, kernel_shape=(12, 12), preset=preset, rng=rng)
    # a tiled layer: 15 inputs on 12-row kernels -> two row chunks, partial sums in the periphery
    layer = mp.map_layer(rng.uniform(-1, 1, (15, 4)), chip, rng,
                         ensemble=mp.EnsembleConfig.lea(alpha, 1, placement="random"))
    x = rng.uniform(-1.0, 1.0, (9, 15))
    y_ideal = mp.run_layer(layer, x)
    y_sparse = mp.run_layer(layer, x, mp.InferenceConfig(backend="sparse"))
    _close(y_sparse, y_ideal, 1e-12)
    np.testing.assert_allclose(y_ideal, x @ layer.effective_weights(layer.programmed()), rtol=1e-12, atol=1e-12)


def test_sparse_with_ideal_wires_and_sinh_devices_is_the_closed_form(rng):
    """Zero wires: every cell sees its row voltage, I = (sinh(a v) / a) @ G."""
    preset = dataclasses.replace(exact_preset(), device=Sinh(a=2.07))
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(8, 8), preset=preset, rng=rng)
    layer = mp.map_layer(ternary(rng, (6, 3)), chip, rng, encoding=mp.Encoding(scheme="ternary"),
                         ensemble=mp.EnsembleConfig.lea(2, 2, placement="random"))
    x = rng.uniform(0.0, 1.0, (5, 6))
    y = mp.run_layer(layer, x, mp.InferenceConfig(backend="sparse", dac=mp.DAC(scaling="fixed", v_read=0.5)))
    v = x * 0.5
    x_eff = np.sinh(2.07 * v) / 2.07 / 0.5
    _close(y, x_eff @ layer.effective_weights(layer.programmed()), 1e-9)


@pytest.mark.parametrize("device", ["ohmic", "sinh"])
def test_sparse_with_wire_resistance_matches_ngspice(rng, device):
    """A 4x3 layer, alpha = 2, on 6x8 kernels with 2 ohm segments, 1 ohm drivers and sense resistors."""
    preset = exact_preset(analog=True)
    preset = preset if device == "ohmic" else dataclasses.replace(preset, device=Sinh(a=2.07))
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(6, 8), preset=preset, rng=rng,
                          lines=LineResistance.uniform(2.0, driver=1.0, sense=1.0))
    layer = mp.map_layer(rng.uniform(-1, 1, (4, 3)), chip, rng, ensemble=mp.EnsembleConfig.lea(2, 1, placement="random"))
    x = rng.uniform(0.0, 1.0, (3, 4))
    y_sp = mp.run_layer(layer, x, mp.InferenceConfig(backend="sparse"))
    y_ng = mp.run_layer(layer, x, mp.InferenceConfig(backend=NgspiceBackend(NgspiceOptions())))
    _close(y_sp, y_ng, 1e-6)
    y_id = mp.run_layer(layer, x)
    assert np.abs(y_sp - y_id).max() > 1e-6 * np.abs(y_id).max()  # the wires do matter


def test_blocks_stacked_on_one_kernels_columns_are_read_one_row_group_at_a_time(rng):
    """Row chunks of a tall layer can share a kernel's columns; each is driven alone (others at 0 V)."""
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(20, 8), preset=exact_preset(analog=True), rng=rng)
    w = rng.uniform(-1, 1, (24, 2))  # two row chunks of 12 rows, G+ and G- blocks of 12x2 each
    layer = mp.map_layer(w, chip, rng, ensemble=mp.EnsembleConfig.plain())
    x = rng.uniform(-1, 1, (4, 24))
    _close(mp.run_layer(layer, x, mp.InferenceConfig(backend="sparse")), x @ w, 1e-12)


class _PerKernelSparse(SparseBackend):
    """The sparse backend without the batched ``read_currents`` capability: the read-out then solves
    every kernel and row group on its own (the path before nonlinear tiles were batched)."""

    read_currents = None


@pytest.mark.parametrize(("alpha", "adc_bits", "averaging", "batch"),
                         [(1, None, "analog", 3), (2, 8, "analog", 12), (3, 6, "digital", 5)])
def test_batched_nonlinear_tiles_equal_the_per_kernel_solves(rng, alpha, adc_bits, averaging, batch):
    """Sinh cells on wired kernels: one Newton batched over every kernel, row group and input equals one
    general solve per kernel and row group (row chunks stacked on shared kernels, several copies)."""
    preset = dataclasses.replace(exact_preset(analog=True), device=Sinh(a=2.07))
    m = 10
    lines = LineResistance(row_segment=rng.uniform(0.5, 3.0, (m, m - 1)), col_segment=rng.uniform(0.5, 3.0, (m - 1, m)),
                           row_driver=0.0, col_sense=rng.uniform(0.0, 2.0, m))
    chip = mp.Chip.sample(n_kernels=6, kernel_shape=(m, m), preset=preset, rng=rng, lines=lines)
    layer = mp.map_layer(rng.uniform(-1, 1, (17, 4)), chip, rng,
                         ensemble=mp.EnsembleConfig.lea(alpha, 1, placement="random"))
    x = rng.uniform(-1.0, 1.0, (12, 17))  # batches of 12 inputs >= 10 rows: Newton starts from unit responses
    x[2] = 0.0
    cfg = mp.InferenceConfig(backend="sparse", adc=mp.ADC(bits=adc_bits), averaging=averaging, batch_size=batch)
    old = dataclasses.replace(cfg, backend=_PerKernelSparse())
    blocks_new = mp.block_currents(layer, x * 0.3, cfg.backend, batch_size=batch)
    blocks_old = mp.block_currents(layer, x * 0.3, old.backend, batch_size=batch)
    assert blocks_new.keys() == blocks_old.keys()
    for key, ref in blocks_old.items():
        np.testing.assert_allclose(blocks_new[key], ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    y_new, y_old = mp.run_layer(layer, x, cfg), mp.run_layer(layer, x, old)
    if adc_bits is None:
        _close(y_new, y_old, 1e-10)
    else:  # quantized levels: equal but for a current within 1e-10 of a level boundary
        assert np.mean(np.isclose(y_new, y_old, rtol=1e-10, atol=1e-10 * np.abs(y_old).max())) > 0.97


def test_dac_and_adc_quantize_as_stated(rng):
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(16, 16), preset=exact_preset(analog=True), rng=rng)
    w = rng.uniform(-1, 1, (10, 3))
    layer = mp.map_layer(w, chip, rng, ensemble=mp.EnsembleConfig.plain())
    x = rng.uniform(-1, 1, (50, 10))
    exact = x @ w
    # a 1-bit DAC: inputs become sign(x) * round(|x| / max|x|) * max|x|
    y1 = mp.run_layer(layer, x, mp.InferenceConfig(dac=mp.DAC(bits=1)))
    s = np.abs(x).max(axis=1, keepdims=True)
    _close(y1, (np.sign(x) * np.rint(np.abs(x) / s) * s) @ w, 1e-12)
    errs = [np.abs(mp.run_layer(layer, x, mp.InferenceConfig(adc=mp.ADC(bits=b))) - exact).max() for b in (2, 4, 8, 12)]
    assert all(b < a for a, b in zip(errs, errs[1:])), errs
    fs = mp.run_layer(layer, x, mp.InferenceConfig(adc=mp.ADC(bits=8, range="full-scale")))
    assert np.abs(fs - exact).max() > errs[2]  # a fixed full-scale range wastes resolution
    y_fixed = mp.run_layer(layer, 2 * x, mp.InferenceConfig(dac=mp.DAC(scaling="fixed", x_max=1.0)))
    _close(y_fixed, np.clip(2 * x, -1, 1) @ w, 1e-12)  # fixed scaling saturates


def test_full_scale_adc_range_holds_the_summed_copies_of_mao(rng):
    """MAO sums its copies' currents into one conversion (divisor 1): with 32-bit converters the
    full-scale range must reproduce the ideal read-out, as it does for an average."""
    chip = mp.Chip.sample(n_kernels=3, kernel_shape=(4, 4), preset=exact_preset(), rng=rng)
    w = np.array([[1.0, -1.0]] * 4)
    layer = mp.map_layer(w, chip, rng, encoding=mp.Encoding(scheme="ternary"),
                         ensemble=mp.EnsembleConfig.mao(3))
    x = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.5, 0.2, 1.0]])  # every +1 column at one block's full scale
    ideal = mp.run_layer(layer, x)
    for averaging in ("analog", "digital"):
        cfg = mp.InferenceConfig(adc=mp.ADC(bits=32, range="full-scale"), averaging=averaging)
        _close(mp.run_layer(layer, x, cfg), ideal, 1e-8)
    _close(ideal, x @ w, 1e-12)


def test_single_vector_and_batch_agree(rng):
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(8, 8), preset=exact_preset(analog=True), rng=rng)
    layer = mp.map_layer(rng.uniform(-1, 1, (5, 2)), chip, rng, ensemble=mp.EnsembleConfig.plain())
    x = rng.uniform(-1, 1, 5)
    np.testing.assert_allclose(mp.run_layer(layer, x), mp.run_layer(layer, x[None])[0], rtol=1e-15)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: mp.InferenceConfig(backend="spice3"), "`backend` must be one of"),
        (lambda: mp.InferenceConfig(averaging="median"), "`averaging` must be one of 'analog', 'digital'"),
        (lambda: mp.DAC(bits=0), r"`bits` must be None \(ideal\) or an int in \[1, 32\]"),
        (lambda: mp.ADC(range=-1.0), "`range` must be 'per-vector', 'full-scale' or a positive current"),
        (lambda: mp.DAC(v_read=0.0), "`v_read` must be a positive voltage"),
    ],
)
def test_invalid_inference_configs(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_wrong_input_width_is_refused(rng):
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(8, 8), preset=exact_preset(), rng=rng)
    layer = mp.map_layer(np.ones((5, 2)), chip, rng, ensemble=mp.EnsembleConfig.plain())
    with pytest.raises(ConfigError, match=r"`x` must have shape \(5,\) or \(B, 5\); got shape \(3, 4\)"):
        mp.run_layer(layer, np.ones((3, 4)))


@pytest.mark.parametrize("call", [
    lambda layer: mp.run_layer(layer, np.ones((1, 5))),
    lambda layer: mp.input_voltages(layer, np.ones((1, 5)), mp.InferenceConfig()),
    lambda layer: mp.block_currents(layer, np.ones((1, 5))),
    lambda layer: mp.layer_read_power(layer, np.ones((1, 5))),
    lambda layer: mp.layer_read_energy(layer, np.ones((1, 5)), read_time=1e-6),
])
@pytest.mark.parametrize("layer", ["layer", None, np.ones((5, 2))])
def test_a_layer_that_is_not_a_mapped_layer_is_refused(call, layer):
    """A weight matrix, a name or None instead of a MappedLayer raised an AttributeError ('shape' or
    'chip') from inside the read-out."""
    with pytest.raises(ConfigError, match=r"`layer` must be a MappedLayer \(from xbarsim.mapping.map_layer\); got"):
        call(layer)


def test_a_large_batch_through_quantizing_adcs_equals_the_same_vectors_in_small_batches(rng):
    """With ADCs the ideal backend makes its block currents a slice of the batch at a time (about 1 M
    floats, here 2,777 vectors of 360 block columns); 6,000 vectors take three slices and must give what
    the same vectors give in batches of 500 (one slice each): per-vector converters make every vector's
    read its own."""
    preset = exact_preset(stuck_rate=0.05)
    chip = mp.Chip.sample(n_kernels=40, kernel_shape=(12, 12), preset=preset, rng=rng)
    layer = mp.map_layer(rng.uniform(-1, 1, (30, 20)), chip, rng,
                         ensemble=mp.EnsembleConfig.lea(3, 3, placement="random"))
    x = rng.uniform(-1.0, 1.0, (6000, 30))
    cfg = mp.InferenceConfig(adc=mp.ADC(bits=8), dac=mp.DAC(bits=8))
    big = mp.run_layer(layer, x, cfg)
    small = np.vstack([mp.run_layer(layer, x[i:i + 500], cfg) for i in range(0, 6000, 500)])
    _close(big, small, 1e-12)
    assert np.abs(big - x @ layer.effective_weights(layer.programmed())).max() > 0  # the converters did quantize


@pytest.mark.parametrize("adc", [mp.ADC(), mp.ADC(bits=4)])
def test_an_empty_batch_is_refused_naming_x(rng, adc):
    """Zero input vectors: with a quantizing ADC the read-out failed with an IndexError from its
    per-vector range; refused for every converter, naming `x`."""
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(8, 8), preset=exact_preset(), rng=rng)
    layer = mp.map_layer(np.ones((5, 2)), chip, rng, ensemble=mp.EnsembleConfig.plain())
    with pytest.raises(ConfigError, match=r"`x` is an empty batch \(shape \(0, 5\)\)"):
        mp.run_layer(layer, np.zeros((0, 5)), mp.InferenceConfig(adc=adc))


@pytest.mark.parametrize("dac", [mp.DAC(), mp.DAC(bits=4), mp.DAC(scaling="fixed", x_max=2.0)])
def test_input_voltages_refuses_non_finite_inputs_naming_x(rng, dac):
    """Before: a NaN input gave NaN row voltages (and its vector's per-vector scale silently 1.0), an
    infinite one a row of NaN; now a ConfigError naming `x` and the value, as run_layer gives."""
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(8, 8), preset=exact_preset(), rng=rng)
    layer = mp.map_layer(np.ones((5, 2)), chip, rng, ensemble=mp.EnsembleConfig.plain())
    cfg = mp.InferenceConfig(dac=dac)
    x = rng.uniform(-1.0, 1.0, (3, 5))
    v, scale, v_read = mp.input_voltages(layer, x, cfg)
    assert np.isfinite(v).all() and v.shape == (3, 5) and v_read > 0
    for bad in (np.nan, np.inf, -np.inf):
        xb = x.copy()
        xb[1, 2] = bad
        with pytest.raises(ConfigError, match=rf"`x` must be a finite \(B, 5\) input array; got {bad!r}"):
            mp.input_voltages(layer, xb, cfg)
    with pytest.raises(ConfigError, match=r"`x` must have shape \(B, 5\); got shape \(5,\)"):
        mp.input_voltages(layer, x[0], cfg)
    with pytest.raises(ConfigError, match="`config` must be an InferenceConfig; got DAC"):
        mp.input_voltages(layer, x, dac)  # type: ignore[arg-type]
