"""Convolutional networks (from ONNX) on simulated hardware: ideal chips reproduce software point by
point, energy per layer equals its recomputation, Monte Carlo runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim.errors import ConfigError
from xbarsim.evaluation import Hardware, evaluate, monte_carlo, transfer
from xbarsim.networks import im2col, load_npz, load_onnx

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


@pytest.fixture(scope="module")
def cnn():
    """Real-valued weights (for analog devices)."""
    return load_onnx(MODELS / "digits_cnn.onnx")


@pytest.fixture(scope="module")
def tern():
    """Ternary weights (for the LEA chip's binary devices)."""
    return load_onnx(MODELS / "digits_cnn_ternary.onnx")


@pytest.fixture(scope="module")
def digits():
    return load_npz(MODELS / "digits_1000.npz", n_classes=10)


IDEAL = dict(fault_rate=0.0, programming_noise=False, read_noise=False, dac_bits=None, adc_bits=None,
             kernel_shape=(25, 25))


@pytest.mark.parametrize("model,preset,strategy", [("real", "tio2_passive", "plain"),
                                                   ("ternary", "rram_1t1r_nist", "lea")])
@pytest.mark.parametrize("backend,points", [("ideal", 300), ("sparse", 40)])
def test_ideal_chip_reproduces_software_point_by_point(cnn, tern, digits, model, preset, strategy, backend, points):
    """No faults, no noise, ideal converters, 0 ohm wires and ohmic cells: the hardware labels equal
    the software (onnxruntime) labels on every point, for the ideal read-out and the sparse solver;
    real weights on analog devices (differential pairs), ternary weights on the LEA's binary devices."""
    net = cnn if model == "real" else tern
    hw = Hardware(**IDEAL, preset=preset, backend=backend, device="ohmic", strategy=strategy,
                  alpha=2 if strategy == "lea" else 1)
    res = evaluate(net, digits, hw, seed=3, max_points=points)
    assert res.software_runtime.startswith("onnxruntime")
    np.testing.assert_array_equal(res.correct, res.software_correct)
    assert res.hardware_accuracy == res.software_accuracy > 0.9
    assert max(res.mapping_errors) < 1e-9


def test_software_baseline_is_onnxruntime_and_matches_numpy(cnn, digits):
    hw = Hardware(**IDEAL)
    with pytest.warns(UserWarning, match="two conductance levels"):  # the real-valued CNN on 133 / 233 uS pairs
        res = evaluate(cnn, digits, hw, seed=0, max_points=200)
    ours = cnn.predict(digits.x_test[:200]) == digits.y_test[:200]
    np.testing.assert_array_equal(res.software_correct, ours)
    # the difference on the user's points, recomputed with onnxruntime directly
    import onnxruntime as ort

    sess = ort.InferenceSession(str(MODELS / "digits_cnn.onnx"), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"input": digits.x_test[:200].reshape(200, 1, 8, 8).astype(np.float32)})[0]
    diff = np.abs(cnn.forward(digits.x_test[:200]) - ref).max() / np.abs(ref).max()
    assert res.software_difference == pytest.approx(diff, rel=1e-9) and diff < 1e-5


@pytest.mark.parametrize("changes", [
    dict(strategy="plain"), dict(strategy="mao", alpha=2), dict(strategy="committee", alpha=2),
    dict(strategy="blind", alpha=2), dict(programming="write-verify"), dict(bias="crossbar"),
    dict(strategy="lea", alpha=2, placement="random", rme=True),
])
def test_every_strategy_and_option_runs_on_a_conv_network(cnn, tern, digits, changes):
    """Real-valued CNN on analog TiO2 devices (1 % stuck, noise, 8-bit converters): every strategy and
    programming/bias option maps and reads the conv layers; MAO, whose two levels carry ternary
    weights only, the ternary CNN."""
    hw = Hardware(preset="tio2_passive", kernel_shape=(25, 25), strict=False, **changes)
    res = evaluate(tern if hw.strategy == "mao" else cnn, digits, hw, seed=2, max_points=40)
    assert 0.0 <= res.hardware_accuracy <= 1.0 and len(res.mapping_errors) == 3
    assert all(np.isfinite(res.mapping_errors)) and res.energy_per_inference > 0


def test_mao_refuses_a_real_valued_conv_network(cnn, digits):
    """Before: MAO re-tuned every device of the real-valued CNN onto two levels, which ternarized each
    layer at half its largest weight without a word (and reported that as MAO's mapping error)."""
    hw = Hardware(preset="tio2_passive", kernel_shape=(25, 25), strict=False, strategy="mao", alpha=2)
    with pytest.raises(ConfigError, match=r"`encoding` 'mao' .* carries ternary weights only: .* weight \S+ at "
                                          r"\[\d+, \d+\] encodes to \S+ steps, .*strategy 'lea-rme-all'"):
        evaluate(cnn, digits, hw, seed=2, max_points=40)


def test_energy_per_layer_equals_its_recomputation(tern, digits):
    """Conv 1 reads 64 patches per image, conv 2 16, the dense layer 1; each layer's energy per
    inference equals layer_read_energy on those vectors, recomputed here from the mapped layers."""
    hw = Hardware(**IDEAL, backend="sparse", device="ohmic", segment_ohm=1.0, strategy="lea", alpha=2)
    n = 12
    cnn = tern
    res = evaluate(cnn, digits, hw, seed=5, max_points=n)
    assert [e.kind for e in res.energy] == ["conv", "conv", "dense"]
    assert [e.vectors for e in res.energy] == [64.0, 16.0, 1.0]
    hwnet = transfer(cnn, hw, np.random.default_rng(5))
    cfg = hwnet.inference
    x = digits.x_test[:n].reshape(n, 1, 8, 8)
    # inputs of each weighted layer, from the hardware's own forward pass
    inputs = []

    def grab(i, a, w):
        inputs.append(a)
        return mp.run_layer(hwnet.members[0].layers[i], a, cfg)

    cnn.forward(x, layer_fn=grab)
    assert inputs[0].shape == (n * 64, 9)
    np.testing.assert_array_equal(inputs[0], im2col(x, (3, 3), padding=(1, 1, 1, 1)))
    for i, e in enumerate(res.energy):
        by_hand = mp.layer_read_energy(hwnet.members[0].layers[i], inputs[i], cfg, read_time=hw.read_time)
        assert e.energy == pytest.approx(float(by_hand.total.sum()) / n, rel=1e-9)
        assert e.wires == pytest.approx(float(by_hand.wires.sum()) / n, rel=1e-9)
        assert e.n_devices == hwnet.members[0].layers[i].n_devices
        assert e.n_arrays == len(hwnet.members[0].layers[i].placement.kernels)
        assert e.wires > 0
    assert res.energy_per_inference == pytest.approx(sum(e.energy for e in res.energy))


def test_energy_can_be_switched_off(cnn, digits):
    res = evaluate(cnn, digits, Hardware(**IDEAL, energy=False, levels=16), seed=0, max_points=5)
    assert res.energy == () and res.energy_per_inference is None


def test_monte_carlo_takes_a_conv_network(tern, digits, tmp_path):
    hw = Hardware(strategy="lea", alpha=2, kernel_shape=(25, 25), fault_rate=0.0)
    cnn = tern
    res = monte_carlo(cnn, digits, hw, transfers=2, seed=1)
    assert res.correct.shape == (2, 1000)
    assert 0.85 < res.mean_accuracy <= 1.0  # programming and read noise, 8-bit converters, no faults
    again = monte_carlo(cnn, digits, hw, transfers=2, seed=1)  # transfer k draws from (seed, k) only
    np.testing.assert_array_equal(again.correct, res.correct)


def test_channels_last_images_for_a_channels_first_network_refused(tmp_path):
    """(n, H, W, C) images have the size of the network's (C, H, W) input; flattened, they were
    evaluated scrambled. The same images stored channels first are evaluated."""
    from xbarsim.networks import Conv2d, Flatten, GlobalAvgPool, Network

    rng = np.random.default_rng(2)
    net = Network(layers=(Conv2d(weight=rng.normal(size=(3, 2, 3, 3))), GlobalAvgPool(), Flatten()),
                  input_shape=(2, 5, 5))
    nchw = rng.random((6, 2, 5, 5))
    y = np.arange(6) % 3
    np.savez(tmp_path / "last.npz", x_test=nchw.transpose(0, 2, 3, 1), y_test=y)
    np.savez(tmp_path / "first.npz", x_test=nchw, y_test=y)
    hw = Hardware(**IDEAL, preset="tio2_passive", backend="ideal")
    with pytest.raises(ConfigError, match=r"shape \(5, 5, 2\), but `network` takes \(2, 5, 5\)"):
        evaluate(net, load_npz(tmp_path / "last.npz"), hw, seed=0)
    res = evaluate(net, load_npz(tmp_path / "first.npz"), hw, seed=0)
    assert res.hardware_accuracy == res.software_accuracy
