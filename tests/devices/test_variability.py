"""Programming error, read noise, levels and window spread: sampled statistics match their parameters."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.devices import (
    ProgrammingError,
    ReadNoise,
    WindowSpread,
    clip_conductance,
    conductance_levels,
    quantize,
)
from xbarsim.errors import ConfigError

N = 100_000

#: Drolet et al.'s programming statistics in SI units.
DROLET = ProgrammingError(
    rel_sigma_slope=-6.24, rel_sigma_intercept=6.91e-3, offset_mean=-5.89e-3, offset_std=3.39e-3
)


def assert_mean_std(x: np.ndarray, mean: float, std: float) -> None:
    """Sample mean and std within 4 standard errors of the parameters (normal-theory errors)."""
    n = x.size
    assert abs(x.mean() - mean) < 4 * std / np.sqrt(n), (x.mean(), mean)
    assert abs(x.std(ddof=1) - std) < 4 * std / np.sqrt(2 * (n - 1)), (x.std(ddof=1), std)


def test_drolet_relative_sigma_line() -> None:
    s = DROLET.rel_sigma(np.array([100e-6, 500e-6]))
    np.testing.assert_allclose(s, [0.691e-2 - 6.24e-4 * 1e-2 * 100, 0.691e-2 - 6.24e-4 * 1e-2 * 500], rtol=1e-12)
    np.testing.assert_allclose(s, [6.286e-3, 3.79e-3], rtol=1e-12)
    assert DROLET.rel_sigma(2e-3) == 0.0  # the line crosses zero at 1.1 mS and is clamped


@pytest.mark.parametrize("target", [100e-6, 300e-6, 500e-6])
def test_drolet_relative_error_statistics(target: float, rng: np.random.Generator) -> None:
    g = DROLET.sample(np.full(N, target), rng)
    rel = g / target - 1
    s = float(DROLET.rel_sigma(target))
    assert_mean_std(rel, -5.89e-3, np.hypot(3.39e-3, s))


def test_tuning_imprecision_alone(rng: np.random.Generator) -> None:
    pe = ProgrammingError(rel_sigma_slope=-6.24, rel_sigma_intercept=6.91e-3)
    for target in (100e-6, 500e-6):
        rel = pe.sample(np.full(N, target), rng) / target - 1
        assert_mean_std(rel, 0.0, float(pe.rel_sigma(target)))


def test_systematic_offset_is_kept_across_reprogramming(rng: np.random.Generator) -> None:
    target = np.full(N, 300e-6)
    offset = DROLET.sample_offset(N, rng)
    assert_mean_std(offset, -5.89e-3, 3.39e-3)
    first = DROLET.sample(target, rng, offset=offset) / target - 1
    second = DROLET.sample(target, rng, offset=offset) / target - 1
    # same device offsets: the difference of two writes holds only the tuning imprecision
    s = float(DROLET.rel_sigma(300e-6))
    assert_mean_std(second - first, 0.0, np.sqrt(2) * s)
    assert np.corrcoef(first, second)[0, 1] > 0.3


def test_absolute_write_noise(rng: np.random.Generator) -> None:
    pe = ProgrammingError(abs_sigma=16.66e-6)
    for target in (133e-6, 233e-6):
        g = pe.sample(np.full(N, target), rng)
        assert_mean_std(g - target, 0.0, 16.66e-6)


def test_programming_keeps_shape_and_clips_at_zero(rng: np.random.Generator) -> None:
    pe = ProgrammingError(abs_sigma=50e-6)
    g = pe.sample(np.zeros((3, 4, 5)), rng)
    assert g.shape == (3, 4, 5) and np.all(g >= 0) and np.any(g > 0)
    assert np.array_equal(ProgrammingError().sample([1e-4, 2e-4], rng), [1e-4, 2e-4])


def test_same_seed_same_programming() -> None:
    t = np.linspace(100e-6, 500e-6, 64).reshape(8, 8)
    a = DROLET.sample(t, np.random.default_rng(7))
    b = DROLET.sample(t, np.random.default_rng(7))
    c = DROLET.sample(t, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_uniform_read_noise(rng: np.random.Generator) -> None:
    rn = ReadNoise(kind="uniform", scale=10e-6)
    g = np.full(N, 200e-6)
    r1 = rn.read(g, rng)
    assert_mean_std(r1 - g, 0.0, 10e-6 / np.sqrt(3))
    assert rn.std == pytest.approx(10e-6 / np.sqrt(3))
    assert np.all(np.abs(r1 - g) <= 10e-6)
    assert (r1 - g).min() < -9.9e-6 and (r1 - g).max() > 9.9e-6
    # redrawn at every read: two reads are independent
    r2 = rn.sample(g, rng)
    assert abs(np.corrcoef(r1 - g, r2 - g)[0, 1]) < 4 / np.sqrt(N)


def test_gaussian_read_noise(rng: np.random.Generator) -> None:
    rn = ReadNoise(kind="gaussian", scale=3e-6)
    g = np.full((200, 500), 150e-6)
    r = rn.read(g, rng)
    assert r.shape == g.shape
    assert_mean_std((r - g).ravel(), 0.0, 3e-6)
    assert rn.std == 3e-6


def test_levels_and_quantize() -> None:
    lv = conductance_levels(4, 133e-6, 233e-6)
    np.testing.assert_allclose(lv, [133e-6, 166.333e-6, 199.667e-6, 233e-6], rtol=1e-5)
    g = np.array([[0.0, 140e-6, 160e-6], [190e-6, 230e-6, 1e-3]])
    q = quantize(g, lv)
    assert q.shape == g.shape
    np.testing.assert_array_equal(q, [[lv[0], lv[0], lv[1]], [lv[2], lv[3], lv[3]]])
    assert np.all(np.isin(quantize(np.random.default_rng(0).uniform(0, 5e-4, 1000), lv), lv))
    # order of the levels does not matter; one level maps everything onto it
    np.testing.assert_array_equal(quantize(g, lv[::-1]), q)
    np.testing.assert_array_equal(quantize(g, [1e-4]), np.full(g.shape, 1e-4))


def test_quantization_error_is_at_most_half_a_step(rng: np.random.Generator) -> None:
    lv = conductance_levels(8, 100e-6, 500e-6)
    g = rng.uniform(100e-6, 500e-6, 10_000)
    assert np.max(np.abs(quantize(g, lv) - g)) <= (lv[1] - lv[0]) / 2 * (1 + 1e-12)


def test_clip_conductance() -> None:
    g = np.array([0.0, 50e-6, 300e-6, 700e-6])
    np.testing.assert_array_equal(clip_conductance(g, 100e-6, 500e-6), [100e-6, 100e-6, 300e-6, 500e-6])
    lo = np.array([0.0, 60e-6, 310e-6, 100e-6])
    hi = np.array([10e-6, 70e-6, 400e-6, 600e-6])
    np.testing.assert_array_equal(clip_conductance(g, lo, hi), [0.0, 60e-6, 310e-6, 600e-6])


def test_window_spread(rng: np.random.Generator) -> None:
    ws = WindowSpread(g_min_sigma=0.05, g_max_sigma=0.1)
    lo, hi = ws.sample(100e-6, 500e-6, (200, 500), rng)
    assert lo.shape == hi.shape == (200, 500)
    assert np.all(hi >= lo) and np.all(lo > 0)
    assert_mean_std(np.log(lo / 100e-6).ravel(), 0.0, 0.05)
    assert_mean_std(np.log(hi / 500e-6).ravel(), 0.0, 0.1)
    # per-device clipping with the sampled windows
    g = clip_conductance(np.full(lo.shape, 1e-3), lo, hi)
    np.testing.assert_array_equal(g, hi)
    # no spread: every device has the nominal window
    lo0, hi0 = WindowSpread().sample(100e-6, 500e-6, 3, rng)
    np.testing.assert_array_equal(lo0, 100e-6)
    np.testing.assert_array_equal(hi0, 500e-6)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: ProgrammingError(abs_sigma=-1e-6), "abs_sigma"),
        (lambda: ProgrammingError(offset_std=-0.01), "offset_std"),
        (lambda: ProgrammingError(rel_sigma_intercept=-0.01), "rel_sigma_intercept"),
        (lambda: ProgrammingError(rel_sigma_slope=np.nan), "rel_sigma_slope"),
        (lambda: ProgrammingError(abs_sigma=[1e-6, 2e-6]), "abs_sigma"),
        (lambda: ReadNoise(kind="uniform", scale=-1e-6), "scale"),
        (lambda: ReadNoise(kind="poisson", scale=1e-6), "kind"),
        (lambda: WindowSpread(g_min_sigma=-0.1), "g_min_sigma"),
        (lambda: conductance_levels(1, 1e-4, 2e-4), "`n`"),
        (lambda: conductance_levels(10**12, 1e-4, 2e-4), "`n`"),   # was numpy's MemoryError (7.3 TiB)
        (lambda: conductance_levels(4, 2e-4, 1e-4), "g_min"),
        (lambda: conductance_levels(4, 2e-4, 2e-4), "g_min"),
        (lambda: clip_conductance([1e-4], 5e-4, 1e-4), "g_min"),
        (lambda: clip_conductance([1e-4], -1.0, 1e-4), "g_min"),
        (lambda: clip_conductance(np.ones(3), np.zeros(2), np.ones(2)), "broadcast"),
        (lambda: quantize([1e-4], [[1e-4, 2e-4]]), "levels"),
        (lambda: quantize([1e-4], [1e-4, 1e-4]), "levels"),
        (lambda: quantize([1e-4], [-1e-4, 1e-4]), "levels"),
        (lambda: WindowSpread().sample(5e-4, 1e-4, 3, np.random.default_rng(0)), "g_min"),
        (lambda: DROLET.sample([-1e-4], np.random.default_rng(0)), "target_g"),
        (lambda: DROLET.sample(np.ones(3) * 1e-4, np.random.default_rng(0), offset=np.zeros(2)), "offset"),
        (lambda: DROLET.sample([1e-4], 42), "rng"),
        (lambda: ReadNoise(kind="gaussian", scale=1e-6).read([1e-4], np.random.RandomState(0)), "rng"),
        (lambda: DROLET.sample_offset((2, -1), np.random.default_rng(0)), "shape"),
    ],
)
def test_invalid_parameters_raise_config_error_naming_them(make, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        make()
