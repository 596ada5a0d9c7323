"""Stuck-at faults: sampled rates and values, application, and extraction from measured maps."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.devices import (
    LEA_KERNELS,
    LEA_STUCK_OFF_AT_OR_BELOW,
    LEA_STUCK_ON_ABOVE,
    LEA_STUCK_ON_ABOVE_PLOT,
    ConstantConductance,
    FaultMap,
    FaultModel,
    NormalConductance,
    UniformConductance,
    lea_kernel17_multibit,
    lea_kernel_map,
)
from xbarsim.errors import ConfigError

SHAPE = (200, 500)  # 1e5 devices
N = SHAPE[0] * SHAPE[1]

DROLET = FaultModel(
    stuck_on_rate=0.005,
    stuck_off_rate=0.005,
    stuck_on_value=NormalConductance(mean=573e-6, std=99e-6),
    stuck_off_value=UniformConductance(low=10e-6, high=100e-6),
)
LEA = FaultModel(
    stuck_on_rate=0.025,
    stuck_off_rate=0.025,
    stuck_on_value=ConstantConductance(value=500e-6),
    stuck_off_value=ConstantConductance(value=10e-6),
)


def within_binomial(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) < 4 * np.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("model", [DROLET, LEA], ids=["drolet", "lea"])
def test_fault_rates(model: FaultModel, rng: np.random.Generator) -> None:
    fm = model.sample(SHAPE, rng)
    assert fm.shape == SHAPE
    assert within_binomial(fm.n_stuck_on, N, model.stuck_on_rate)
    assert within_binomial(fm.n_stuck_off, N, model.stuck_off_rate)
    assert within_binomial(fm.n_stuck, N, model.rate)
    assert fm.rate == fm.n_stuck / N
    assert fm.stuck_on_rate + fm.stuck_off_rate == pytest.approx(fm.rate)
    assert not np.any(fm.stuck_on & fm.stuck_off)
    np.testing.assert_array_equal(fm.stuck, fm.stuck_on | fm.stuck_off)


def test_drolet_stuck_values(rng: np.random.Generator) -> None:
    # a larger stuck fraction for more samples of the value distributions
    model = FaultModel(
        stuck_on_rate=0.5,
        stuck_off_rate=0.5,
        stuck_on_value=DROLET.stuck_on_value,
        stuck_off_value=DROLET.stuck_off_value,
    )
    fm = model.sample(SHAPE, rng)
    assert fm.n_stuck == N
    on = fm.stuck_value[fm.stuck_on]
    off = fm.stuck_value[fm.stuck_off]
    assert abs(on.mean() - 573e-6) < 4 * 99e-6 / np.sqrt(on.size)
    assert abs(on.std(ddof=1) - 99e-6) < 4 * 99e-6 / np.sqrt(2 * on.size)
    assert off.min() >= 10e-6 and off.max() <= 100e-6
    u = UniformConductance(low=10e-6, high=100e-6)
    assert abs(off.mean() - u.mean) < 4 * u.std / np.sqrt(off.size)
    assert abs(off.std(ddof=1) - u.std) < 4 * 0.9 * u.std / np.sqrt(off.size)  # var of a uniform's sd ~0.8/n


def test_lea_stuck_values(rng: np.random.Generator) -> None:
    fm = LEA.sample((25, 25), rng)
    assert np.all(fm.stuck_value[fm.stuck_on] == 500e-6)
    assert np.all(fm.stuck_value[fm.stuck_off] == 10e-6)
    assert np.all(fm.stuck_value[~fm.stuck] == 0.0)


def test_apply_replaces_only_stuck_devices(rng: np.random.Generator) -> None:
    fm = DROLET.sample((50, 50), rng)
    g = rng.uniform(100e-6, 500e-6, (50, 50))
    out = fm.apply(g)
    np.testing.assert_array_equal(out[~fm.stuck], g[~fm.stuck])
    np.testing.assert_array_equal(out[fm.stuck], fm.stuck_value[fm.stuck])
    np.testing.assert_array_equal(FaultMap.none((50, 50)).apply(g), g)
    assert FaultMap.none((3, 3)).rate == 0.0


def test_same_seed_same_fault_map() -> None:
    a = DROLET.sample((8, 8, 100), np.random.default_rng(3))
    b = DROLET.sample((8, 8, 100), np.random.default_rng(3))
    np.testing.assert_array_equal(a.stuck_on, b.stuck_on)
    np.testing.assert_array_equal(a.stuck_off, b.stuck_off)
    np.testing.assert_array_equal(a.stuck_value, b.stuck_value)


def test_zero_and_full_rates(rng: np.random.Generator) -> None:
    none = FaultModel(stuck_on_rate=0, stuck_off_rate=0, stuck_on_value=LEA.stuck_on_value, stuck_off_value=LEA.stuck_off_value)
    assert none.sample((10, 10), rng).n_stuck == 0
    full = FaultModel(stuck_on_rate=1, stuck_off_rate=0, stuck_on_value=LEA.stuck_on_value, stuck_off_value=LEA.stuck_off_value)
    assert full.sample((10, 10), rng).n_stuck_on == 100


def test_measured_kernel17_has_the_papers_27_stuck_on_devices() -> None:
    """LEA paper Fig. 3d: 27 of the 625 devices of kernel 17 read above 300 uS (4.3 %)."""
    g = lea_kernel17_multibit()
    fm = FaultMap.from_measured(g, stuck_on_above=LEA_STUCK_ON_ABOVE_PLOT, stuck_off_at_or_below=LEA_STUCK_OFF_AT_OR_BELOW)
    assert fm.shape == (25, 25)
    assert fm.n_stuck_on == 27
    assert fm.stuck_on_rate == pytest.approx(0.043, abs=5e-4)
    assert fm.n_stuck_off == 0
    np.testing.assert_array_equal(fm.stuck_value[fm.stuck_on], g[fm.stuck_on])
    # the stricter 400 uS threshold of the mapping code drops one of them
    strict = FaultMap.from_measured(g, stuck_on_above=LEA_STUCK_ON_ABOVE, stuck_off_at_or_below=LEA_STUCK_OFF_AT_OR_BELOW)
    assert strict.n_stuck_on == 26
    assert np.all(fm.stuck_on[strict.stuck_on])


def test_measured_kernel_maps_fault_statistics() -> None:
    """Over the 13 shipped read-back maps: 2.5 % stuck-ON above 400 uS (the rram_1t1r_nist default)."""
    maps = [
        FaultMap.from_measured(lea_kernel_map(k), stuck_on_above=LEA_STUCK_ON_ABOVE, stuck_off_at_or_below=LEA_STUCK_OFF_AT_OR_BELOW)
        for k in LEA_KERNELS
    ]
    n = sum(m.stuck_on.size for m in maps)
    assert n == 13 * 625
    assert sum(m.n_stuck_on for m in maps) / n == pytest.approx(0.025, abs=1e-3)
    assert sum(m.n_stuck_off for m in maps) / n == pytest.approx(0.038, abs=1e-3)
    # stuck values are measured conductances clipped at 0 (near-zero reads can be slightly negative)
    assert all(np.all(m.stuck_value >= 0) for m in maps)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: FaultModel(stuck_on_rate=1.5, stuck_off_rate=0, stuck_on_value=LEA.stuck_on_value, stuck_off_value=LEA.stuck_off_value), "stuck_on_rate"),
        (lambda: FaultModel(stuck_on_rate=0, stuck_off_rate=-0.1, stuck_on_value=LEA.stuck_on_value, stuck_off_value=LEA.stuck_off_value), "stuck_off_rate"),
        (lambda: FaultModel(stuck_on_rate=0.6, stuck_off_rate=0.6, stuck_on_value=LEA.stuck_on_value, stuck_off_value=LEA.stuck_off_value), "stuck_on_rate \\+ stuck_off_rate"),
        (lambda: FaultModel(stuck_on_rate=0.1, stuck_off_rate=0.1, stuck_on_value=500e-6, stuck_off_value=LEA.stuck_off_value), "stuck_on_value"),
        (lambda: NormalConductance(mean=573e-6, std=-1e-6), "std"),
        (lambda: NormalConductance(mean=0.0, std=1e-6), "mean"),
        (lambda: UniformConductance(low=100e-6, high=10e-6), "high"),
        (lambda: ConstantConductance(value=-1e-6), "value"),
        (lambda: FaultMap(stuck_on=np.zeros((2, 2), bool), stuck_off=np.zeros((2, 3), bool), stuck_value=np.zeros((2, 2))), "stuck_off"),
        (lambda: FaultMap(stuck_on=np.zeros((2, 2), bool), stuck_off=np.zeros((2, 2), bool), stuck_value=np.zeros(4)), "stuck_value"),
        (lambda: FaultMap(stuck_on=np.zeros((2, 2)), stuck_off=np.zeros((2, 2), bool), stuck_value=np.zeros((2, 2))), "stuck_on"),
        (lambda: FaultMap(stuck_on=np.eye(2, dtype=bool), stuck_off=np.eye(2, dtype=bool), stuck_value=np.zeros((2, 2))), "overlap"),
        (lambda: FaultMap.none((2, 2)).apply(np.zeros((3, 3))), "`g`"),
        (lambda: FaultMap.from_measured(np.zeros((2, 2)), stuck_on_above=1e-5, stuck_off_at_or_below=1e-4), "stuck_off_at_or_below"),
        (lambda: LEA.sample((2, 2), None), "rng"),
        (lambda: LEA.sample("ab", np.random.default_rng(0)), "shape"),
    ],
)
def test_invalid_parameters_raise_config_error_naming_them(make, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        make()
