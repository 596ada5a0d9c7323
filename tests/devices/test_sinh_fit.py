"""The sinh fit: exact recovery on synthetic data, a sensible nonlinearity on the measured LEA sweeps."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.devices import (
    LEA_POSITIVE_WINDOW,
    LEA_SINH_A,
    LeaIVFit,
    Sinh,
    fit_lea_iv,
    fit_sinh,
    lea_iv_curves,
)
from xbarsim.errors import ConfigError


@pytest.fixture(scope="module")
def lea_fit() -> LeaIVFit:
    return fit_lea_iv()


@pytest.mark.parametrize(("g", "a"), [(1e-4, 0.5), (4e-4, 2.0), (2e-5, 5.0)])
def test_recovers_exact_parameters(g: float, a: float) -> None:
    v = np.linspace(-0.8, 0.8, 41)
    fit = fit_sinh(v, Sinh(a=a).current(v, g))
    assert fit.g == pytest.approx(g, rel=1e-7)
    assert fit.a == pytest.approx(a, rel=1e-7)
    assert fit.offset == 0.0
    assert fit.residual_rms < 1e-12 * g
    assert (fit.v_min, fit.v_max, fit.n_points) == (-0.8, 0.8, 41)
    assert fit.model() == Sinh(a=fit.a)


def test_recovers_parameters_from_noisy_data_within_stderr(rng: np.random.Generator) -> None:
    g, a, offset = 4e-4, 2.0, 5e-6
    v = np.linspace(0.0, 0.6, 60)
    i = Sinh(a=a).current(v, g) + offset + rng.normal(0.0, 1e-6, v.size)
    fit = fit_sinh(v, i, fit_offset=True)
    assert abs(fit.a - a) < 4 * fit.a_stderr
    assert abs(fit.g - g) < 4 * fit.g_stderr
    assert fit.offset == pytest.approx(offset, abs=2e-6)
    assert fit.residual_rms == pytest.approx(1e-6, rel=0.3)
    np.testing.assert_allclose(fit.current(v), Sinh(a=fit.a).current(v, fit.g) + fit.offset)


def test_linear_data_gives_zero_nonlinearity() -> None:
    v = np.linspace(-1, 1, 21)
    fit = fit_sinh(v, 3e-4 * v)
    assert fit.a == pytest.approx(0.0, abs=1e-4)
    assert fit.g == pytest.approx(3e-4, rel=1e-8)


def test_voltage_window_selects_points() -> None:
    v = np.linspace(-1, 1, 201)
    i = Sinh(a=1.5).current(v, 1e-4)
    i[np.abs(v) > 0.5] = 0.0  # garbage outside the window must not matter
    fit = fit_sinh(v, i, v_range=(-0.5, 0.5))
    assert fit.a == pytest.approx(1.5, rel=1e-6)
    assert -0.5 <= fit.v_min and fit.v_max <= 0.5 and fit.n_points == 101


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"v": [0.0, 0.1, 0.2], "i": [0.0, 1.0]}, "`v` and `i`"),
        ({"v": [0.0, 0.1], "i": [0.0, 1.0]}, "`v`"),
        ({"v": [0.0, np.nan, 0.2, 0.3], "i": [0, 1, 2, 3]}, "`v`"),
        ({"v": [0.0, 0.1, 0.2, 0.3], "i": [0, 1, 2, 3], "v_range": (0.3, 0.1)}, "`v_range`"),
        # not a pair: numpy's 'too many values to unpack' ValueError / 'iteration over a 0-d array' TypeError
        ({"v": [0.0, 0.1, 0.2, 0.3], "i": [0, 1, 2, 3], "v_range": (0.0, 0.2, 0.3)}, r"`v_range` must be a pair"),
        ({"v": [0.0, 0.1, 0.2, 0.3], "i": [0, 1, 2, 3], "v_range": 0.3}, r"`v_range` must be a pair"),
        # a flag that is not a bool: 'no' is truthy and fitted an offset without a word
        ({"v": [0.0, 0.1, 0.2, 0.3], "i": [0, 1, 2, 3], "fit_offset": "no"}, r"`fit_offset` must be True or False"),
        ({"v": [0.0, 0.1, 0.2, 0.3], "i": [0, 1, 2, 3], "fit_offset": None}, r"`fit_offset` must be True or False"),
    ],
)
def test_bad_input_is_a_config_error(kwargs: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        fit_sinh(**kwargs)


def test_lea_fit_covers_every_sweep(lea_fit: LeaIVFit) -> None:
    assert len(lea_fit.cycles) == 38
    assert [c.cycle for c in lea_fit.cycles if c.polarity == "positive"] == list(range(1, 20))
    for c in lea_fit.cycles:
        if c.polarity == "positive":
            assert 0.0 <= c.fit.v_min and c.fit.v_max <= 0.5
            assert c.fit.n_points >= 35
        else:
            assert -1.0 <= c.fit.v_min and c.fit.v_max <= 0.0


def test_lea_window_is_before_switching() -> None:
    """Every positive sweep's current peaks (RESET onset) well above the window's upper edge."""
    peaks = []
    for curve in lea_iv_curves("positive"):
        k = curve.turning_index
        peaks.append(curve.voltage[: k + 1][np.argmax(curve.current[: k + 1])])
    assert min(peaks) > LEA_POSITIVE_WINDOW[1] + 0.2


def test_lea_fit_gives_a_sensible_nonlinearity(lea_fit: LeaIVFit) -> None:
    pos = lea_fit.positive
    assert pos.n_cycles == 19
    # the documented result (Sinh docstring, fit_lea_iv Notes, LEA_SINH_A)
    assert pos.a_median == pytest.approx(2.07, abs=0.01)
    assert pos.a_q25 == pytest.approx(1.98, abs=0.01) and pos.a_q75 == pytest.approx(2.15, abs=0.01)
    assert 0.05 < pos.a_std < 0.3
    assert LEA_SINH_A == pytest.approx(pos.a_median, abs=0.01)
    # the low-resistance state: a few hundred uS, as the sweep's I/V says
    assert 350e-6 < pos.g_median < 450e-6
    assert 2e-6 < pos.offset_median < 9e-6
    for c in lea_fit.cycles:
        if c.polarity == "positive":
            assert 1.5 < c.fit.a < 2.6
            assert c.fit.a_stderr < 0.2
            assert c.fit.residual_rms < 3e-6  # a few instrument steps, against currents up to 250 uA
    np.testing.assert_array_equal(lea_fit.a, [c.fit.a for c in lea_fit.cycles if c.polarity == "positive"])


def test_lea_negative_sweeps_are_high_resistance(lea_fit: LeaIVFit) -> None:
    neg = lea_fit.negative
    assert neg.n_cycles == 19
    assert neg.g_median < 2e-6  # HRS, under the selector: not used for the presets
