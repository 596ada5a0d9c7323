"""Weights -> conductances -> weights: every encoding round-trips (hypothesis), ternary follows LEA's table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xbarsim.mapping as mp
from xbarsim.errors import ConfigError

G_MIN, G_MAX = 133e-6, 233e-6

shapes = st.tuples(st.integers(1, 9), st.integers(1, 7))
finite = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64)


@st.composite
def weight_matrices(draw: st.DrawFn) -> np.ndarray:
    return draw(arrays(np.float64, draw(shapes), elements=finite))


@st.composite
def windows(draw: st.DrawFn) -> tuple[float, float]:
    lo = draw(st.floats(1e-6, 400e-6))
    return lo, lo + draw(st.floats(10e-6, 500e-6))


@settings(max_examples=60, deadline=None)
@given(w=weight_matrices(), window=windows(), scheme=st.sampled_from(["differential", "reference"]),
       layout=st.sampled_from(["blocks", "interleaved"]))
def test_analog_round_trip_is_exact(w, window, scheme, layout):
    mw = mp.map_weights(w, g_min=window[0], g_max=window[1], encoding=mp.Encoding(scheme=scheme, layout=layout))
    assert mw.shape == w.shape
    assert (mw.conductance >= window[0] - 1e-18).all() and (mw.conductance <= window[1] + 1e-18).all()
    scale = max(float(np.abs(w).max()), 1.0)
    np.testing.assert_allclose(mw.weights(), w, rtol=0, atol=1e-9 * scale)


@settings(max_examples=60, deadline=None)
@given(w=weight_matrices(), window=windows(), n=st.integers(2, 17),
       scheme=st.sampled_from(["differential", "reference"]), layout=st.sampled_from(["blocks", "interleaved"]))
def test_quantized_round_trip_is_within_half_a_step(w, window, n, scheme, layout):
    if scheme == "reference" and n == 2:
        with pytest.raises(ConfigError, match="reference level strictly inside the window"):
            mp.map_weights(w, g_min=window[0], g_max=window[1], encoding=mp.Encoding(scheme=scheme, levels=n))
        return
    mw = mp.map_weights(w, g_min=window[0], g_max=window[1], encoding=mp.Encoding(scheme=scheme, layout=layout, levels=n))
    levels = np.array(mw.levels)
    assert np.isin(mw.conductance, levels).all()
    step = float(np.diff(levels).max())
    bound = step / (2 * mw.g_scale) * (1 + 1e-9)
    assert np.abs(mw.weights() - w).max() <= bound + 1e-12


@settings(max_examples=40, deadline=None)
@given(w=weight_matrices(), kernel=st.tuples(st.integers(2, 6), st.integers(3, 6)),
       scheme=st.sampled_from(["differential", "reference"]), layout=st.sampled_from(["blocks", "interleaved"]))
def test_tiling_keeps_the_round_trip(w, kernel, scheme, layout):
    """Blocks that fit the kernel, partial sums over row chunks, one reference column per block."""
    mw = mp.map_weights(w, g_min=G_MIN, g_max=G_MAX, encoding=mp.Encoding(scheme=scheme, layout=layout))
    lay = mp.tile_layer(mw, kernel)
    for spec in lay.specs:
        assert spec.shape[0] <= kernel[0] and spec.shape[1] <= kernel[1]
    np.testing.assert_allclose(lay.weights(lay.channel_matrix(mw.conductance)), mw.weights(), rtol=0, atol=1e-12)
    per_copy = sum(s.shape[0] * s.shape[1] for s in lay.specs)
    n_refs = sum(int(np.count_nonzero(lay.reference[s.channels])) * s.shape[0] for s in lay.specs)
    assert per_copy - n_refs == w.size * (2 if scheme == "differential" else 1)


def test_ternary_follows_the_lea_table():
    gamma = 0.7
    w = gamma * np.array([[1.0, 0.0, -1.0]])
    mw = mp.map_weights(w, g_min=G_MIN, g_max=G_MAX, encoding=mp.Encoding(scheme="ternary", gamma=gamma))
    gp, gn = mw.conductance[:, :3], mw.conductance[:, 3:]
    np.testing.assert_array_equal(gp, [[G_MAX, G_MIN, G_MIN]])  # +gamma: G+ = G_ON, G- = G_OFF
    np.testing.assert_array_equal(gn, [[G_MIN, G_MIN, G_MAX]])  # 0: both OFF; -gamma: swapped
    assert mw.g_scale == pytest.approx((G_MAX - G_MIN) / gamma)  # weight = (G+ - G-) / g_norm * gamma
    np.testing.assert_allclose(mw.weights(), w, rtol=1e-12)
    inter = mp.map_weights(w, g_min=G_MIN, g_max=G_MAX, encoding=mp.Encoding(scheme="ternary", layout="interleaved"))
    np.testing.assert_array_equal(inter.conductance, [[G_MAX, G_MIN, G_MIN, G_MIN, G_MIN, G_MAX]])


def test_ternary_uses_the_device_levels_as_on_and_off():
    w = np.array([[1.0, -1.0]])
    mw = mp.map_weights(w, g_min=100e-6, g_max=500e-6, encoding=mp.Encoding(scheme="ternary"),
                        device_levels=(150e-6, 300e-6, 450e-6))
    assert mw.levels == (150e-6, 450e-6)
    np.testing.assert_allclose(mw.weights(), w, rtol=1e-12)


@pytest.mark.parametrize("scheme", ["differential", "ternary"])
def test_device_levels_outside_the_window_are_refused(scheme):
    # levels in microsiemens instead of siemens: every target snapped outside the window and the
    # layer decoded to all zeros without a word
    with pytest.raises(ConfigError, match=r"`device_levels` must hold at least two levels within the window"):
        mp.map_weights(np.array([[1.0, -1.0]]), g_min=100e-6, g_max=500e-6, encoding=mp.Encoding(scheme=scheme),
                       device_levels=(150.0, 300.0, 450.0))
    with pytest.raises(ConfigError, match="within the window"):   # one level inside is not a two-level device
        mp.map_weights(np.array([[1.0, -1.0]]), g_min=100e-6, g_max=500e-6, encoding=mp.Encoding(scheme=scheme),
                       device_levels=(300e-6, 900e-6))


@pytest.mark.parametrize("scheme", ["ternary", "differential", "reference"])
def test_device_levels_outside_the_window_are_not_used(scheme):
    """Levels 50 and 300 uS around the 133-233 uS window: ternary took G_OFF = 50 uS and G_ON = 300 uS
    (targets outside the window that write-verify clips to 133 / 233 uS, decoded with a 250 uS step,
    so +gamma read back as 0.4); the other schemes listed the outside levels among their own."""
    lv = (50e-6, 133e-6, 183e-6, 233e-6, 240e-6, 300e-6)
    mw = mp.map_weights(np.array([[1.0, -1.0, 0.0]]), g_min=133e-6, g_max=233e-6,
                        encoding=mp.Encoding(scheme=scheme), device_levels=lv)
    assert mw.levels == ((133e-6, 233e-6) if scheme == "ternary" else (133e-6, 183e-6, 233e-6))
    assert mw.conductance.min() >= 133e-6 and mw.conductance.max() <= 233e-6
    np.testing.assert_allclose(mw.weights(), [[1.0, -1.0, 0.0]], atol=1e-12)
    if scheme == "ternary":
        assert mw.g_scale == pytest.approx(100e-6)


@pytest.mark.parametrize("scheme", ["differential", "reference"])
def test_device_levels_inside_the_window_span_the_weights(scheme):
    """Levels 150-225 uS inside a 100-250 uS window: the differential and reference schemes scaled
    the weights onto the whole window and snapped the targets to the levels afterwards, so w_max
    (250 uS) read back as 225 uS against an unused device at 150 uS, not 100 uS: every weight
    decoded shrunk (w = 1 as 0.5) without a word, against map_weights' promise of half a
    quantization step. Ternary already took G_OFF / G_ON from the levels."""
    lv = (150e-6, 175e-6, 200e-6, 225e-6)
    w = np.linspace(-1.0, 1.0, 9)[None, :]
    mw = mp.map_weights(w, g_min=100e-6, g_max=250e-6, encoding=mp.Encoding(scheme=scheme), device_levels=lv)
    assert mw.levels == lv
    half_step = 0.5 * 25e-6 / mw.g_scale   # half a level step, in weight units
    assert np.abs(mw.weights() - w).max() <= half_step * (1 + 1e-9)
    np.testing.assert_allclose(mw.weights()[0, [0, -1]], [-1.0, 1.0], rtol=1e-12)   # +-w_max on the end levels


def test_ternarize_then_map():
    w = np.array([[0.9, -0.05, -0.4], [0.1, 0.3, 0.0]])
    t = mp.ternarize(w, threshold=0.2, gamma=0.5)
    np.testing.assert_array_equal(t, [[0.5, 0.0, -0.5], [0.0, 0.5, 0.0]])
    mp.map_weights(t, g_min=G_MIN, g_max=G_MAX, encoding=mp.Encoding(scheme="ternary", gamma=0.5))


def test_ternarize_refuses_a_threshold_that_is_not_a_scalar():
    """An array threshold reached ``float(t)`` and raised numpy's TypeError."""
    with pytest.raises(ConfigError, match=r"`threshold` must be a scalar non-negative weight threshold; got"):
        mp.ternarize(np.array([0.5, 0.15]), threshold=[0.1, 0.2], gamma=1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gamma": -1.0}, "`gamma` must be a positive weight magnitude; got -1.0"),
        ({"gamma": 0.0}, "`gamma` must be a positive weight magnitude"),
        ({"levels": 1}, "`levels` must be an integer >= 2"),
        ({"scheme": "binary"}, "`scheme` must be one of"),
        ({"layout": "diagonal"}, "`layout` must be one of"),
        ({"w_max": -2.0}, "`w_max` must be a positive weight magnitude"),
    ],
)
def test_invalid_encodings_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        mp.Encoding(**kwargs)


def test_non_ternary_weights_are_refused_by_the_ternary_scheme():
    with pytest.raises(ConfigError, match=r"must be ternary .* got 0\.5 at \(0, 1\)"):
        mp.map_weights([[1.0, 0.5]], g_min=G_MIN, g_max=G_MAX, encoding=mp.Encoding(scheme="ternary"))


def test_weights_too_small_to_scale_are_refused():
    with pytest.raises(ConfigError, match="too small to scale onto the window"):
        mp.map_weights([[1e-320]], g_min=G_MIN, g_max=G_MAX)
    mw = mp.map_weights([[1e-320]], g_min=G_MIN, g_max=G_MAX, encoding=mp.Encoding(w_max=1.0))
    assert mw.weights()[0, 0] == pytest.approx(0.0, abs=1e-15)


def test_mapping_error_is_the_relative_frobenius_norm_in_percent():
    w = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert mp.mapping_error(w, w) == 0.0
    assert mp.mapping_error(w + np.array([[0.5, 0.0], [0.0, 0.0]]), w) == pytest.approx(10.0)
    with pytest.raises(ConfigError, match="all zero"):
        mp.mapping_error(w, np.zeros_like(w))


def test_ternary_step_lowers_g_on_and_the_scale_by_hand():
    """step 0.6 of the 133-233 uS swing: +gamma is G+ = 193 uS, G- = 133 uS, decoded with 60 uS per gamma."""
    w = np.array([[0.5, 0.0, -0.5]])
    mw = mp.map_weights(w, g_min=133e-6, g_max=233e-6, encoding=mp.Encoding(scheme="ternary", step=0.6),
                        device_levels=(133e-6, 233e-6))
    np.testing.assert_allclose(mw.conductance * 1e6, [[193, 133, 133, 133, 133, 193]], atol=1e-9)
    assert mw.g_scale == pytest.approx(60e-6 / 0.5)
    assert mw.levels == pytest.approx((133e-6, 193e-6))
    np.testing.assert_allclose(mw.weights(), w, atol=1e-12)
    full = mp.map_weights(w, g_min=133e-6, g_max=233e-6, encoding=mp.Encoding(scheme="ternary", step=1.0))
    np.testing.assert_array_equal(full.conductance, mp.map_weights(w, g_min=133e-6, g_max=233e-6,
                                                                   encoding=mp.Encoding(scheme="ternary")).conductance)


@pytest.mark.parametrize("step", [0.0, 1.5, -0.2, float("nan"), True, "0.5"])
def test_ternary_step_outside_0_1_is_refused(step):
    with pytest.raises(ConfigError, match=r"`step` must be a fraction in \(0, 1\]"):
        mp.Encoding(scheme="ternary", step=step)


def test_ternary_step_needs_the_ternary_scheme():
    with pytest.raises(ConfigError, match="`step` applies to the ternary scheme; got scheme 'differential'"):
        mp.Encoding(scheme="differential", step=0.5)
