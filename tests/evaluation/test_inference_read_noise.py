"""`Hardware.inference_read_noise`: inference reads the devices with the read noise (one read per call)."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim.errors import ConfigError
from xbarsim.evaluation import Hardware, evaluate, transfer
from xbarsim.evaluation.hardware import build_chip, layer_encodings
from xbarsim.networks import MLP, Dataset

#: An exact chip: no faults, exact programming, ideal converters; only the reads are noisy.
EXACT = dict(fault_rate=0.0, programming_noise=False, dac_bits=None, adc_bits=None, encoding="ternary",
             energy=False)


def _ternary_net(rng: np.random.Generator, shape=(6, 3), gamma=0.5) -> MLP:
    codes = rng.integers(-1, 2, size=shape).astype(float)
    return MLP(weights=(gamma * codes,), hidden_activation="relu", gammas=(gamma,))


def _dataset(net: MLP, rng: np.random.Generator, n=40) -> Dataset:
    """Points labelled by the network itself: software accuracy 1."""
    x = rng.uniform(0.1, 1.0, (n, net.weights[0].shape[0]))
    y = net.predict(x)
    return Dataset(name="toy", x_train=x, y_train=y, x_val=x[:0], y_val=y[:0], x_test=x, y_test=y, n_classes=3)


def test_each_inference_adds_the_read_noise_variance_of_both_devices_of_every_weight():
    """Scores of one input over repeated calls: mean the exact product, variance sum_i x_i^2 2 a^2 / 3 / g_scale^2
    (a pair of U(+-a) reads per weight, the preset's U(+-10 uS)); the same input, read without the option,
    gives the exact product every time."""
    rng = np.random.default_rng(0)
    net = _ternary_net(rng)
    x = rng.uniform(0.2, 1.0, (1, 6))
    exact = x @ net.weights[0]
    noisy = transfer(net, Hardware(**EXACT, inference_read_noise=True), np.random.default_rng(1))
    g_scale = float(noisy.members[0].layers[0].layout.g_scale)
    draws = np.array([noisy.scores(x)[0] for _ in range(4000)])
    var = float(np.sum(x ** 2)) * 2 * (10e-6) ** 2 / 3 / g_scale ** 2
    np.testing.assert_allclose(draws.var(axis=0), var, rtol=0.1)
    se = np.sqrt(var / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - exact[0]) < 5 * se)
    quiet = transfer(net, Hardware(**EXACT), np.random.default_rng(1))
    for _ in range(3):
        np.testing.assert_allclose(quiet.scores(x), exact, rtol=1e-12, atol=1e-15)


def test_inference_reads_are_drawn_from_the_transfer_seed():
    rng = np.random.default_rng(2)
    net = _ternary_net(rng)
    data = _dataset(net, rng)
    hw = Hardware(**EXACT, inference_read_noise=True, read_noise_std=0.3e-6 * 100)
    a, b = evaluate(net, data, hw, seed=5), evaluate(net, data, hw, seed=5)
    assert np.array_equal(a.correct, b.correct) and a.hardware_accuracy == b.hardware_accuracy
    # without read noise there is nothing to draw: the option changes nothing
    off = Hardware(**EXACT, read_noise=False)
    on = off.replace(inference_read_noise=True)
    assert np.array_equal(evaluate(net, data, on, seed=5).correct, evaluate(net, data, off, seed=5).correct)


def test_a_readout_turns_the_inference_reads_on_for_the_same_transfer():
    rng = np.random.default_rng(3)
    net = _ternary_net(rng)
    data = _dataset(net, rng)
    hw = Hardware(**EXACT, read_noise_std=30e-6)
    plain = evaluate(net, data, hw, seed=7)
    both = evaluate(net, data, hw, seed=7, readouts={"noisy": {"inference_read_noise": True}})
    assert both.hardware_accuracy == plain.hardware_accuracy == plain.software_accuracy
    assert 0.0 <= both.readouts["noisy"] <= 1.0
    assert both.readouts["noisy"] != plain.hardware_accuracy  # 30 uS reads move some of the 40 points


def test_a_network_without_a_generator_refuses_inference_reads():
    rng = np.random.default_rng(4)
    net = _ternary_net(rng)
    h = transfer(net, Hardware(**EXACT, inference_read_noise=True), np.random.default_rng(1))
    import dataclasses

    with pytest.raises(ConfigError, match="inference_read_noise"):
        dataclasses.replace(h, read_rng=None).predict(rng.uniform(0, 1, (2, 6)))


def test_read_chip_reads_every_device_and_keeps_the_chip():
    w = [np.ones((4, 12)), np.ones((12, 6))]
    hw = Hardware(chip="lea", encoding="ternary")
    chip = build_chip(hw, w, layer_encodings(hw, w, [1.0, 1.0]), np.random.default_rng(2))
    before = np.array(chip.conductance, copy=True)
    read = mp.read_chip(chip, np.random.default_rng(3))
    residual = (read.conductance - chip.conductance).ravel()
    assert np.std(residual) == pytest.approx(10e-6 / np.sqrt(3), rel=0.02)
    assert np.abs(residual).max() <= 10e-6 and np.all(read.conductance >= 0)
    assert np.array_equal(chip.conductance, before)  # the chip itself is not changed
    assert read.faults is chip.faults and read.presets == chip.presets
    quiet = Hardware(chip="lea", encoding="ternary", read_noise=False)
    chip0 = build_chip(quiet, w, layer_encodings(quiet, w, [1.0, 1.0]), np.random.default_rng(2))
    assert np.array_equal(mp.read_chip(chip0, np.random.default_rng(3)).conductance, chip0.conductance)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_bad_inference_read_noise_names_the_key(bad):
    with pytest.raises(ConfigError, match="inference_read_noise"):
        Hardware(inference_read_noise=bad)


def test_a_committee_on_one_chip_is_read_once_per_call():
    """Members mapped on one chip see one read of it: the generator advances by exactly one chip read."""
    import copy

    rng = np.random.default_rng(5)
    net = _ternary_net(rng)
    h = transfer(net, Hardware(**EXACT, strategy="committee", alpha=3, inference_read_noise=True),
                 np.random.default_rng(1))
    assert len(h.members) == 3 and len({id(m.chip) for m in h.members}) == 1
    expected = copy.deepcopy(h.read_rng)
    mp.read_chip(h.members[0].chip, expected)
    h.predict(rng.uniform(0, 1, (2, 6)))
    assert h.read_rng.bit_generator.state == expected.bit_generator.state
