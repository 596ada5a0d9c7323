"""Chips, characterization (SET-all / RESET-all reads with thresholds) and write-verify programming."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xbarsim.mapping as mp
from xbarsim.devices import LEA_KERNELS, FaultMap, ProgrammingError, lea_kernel_map, rram_1t1r_nist, tio2_passive
from xbarsim.errors import ConfigError

from mapping_helpers import exact_preset


def test_lea_chip_has_32_kernels_of_25x25_with_the_measured_faults(rng):
    chip = mp.lea_chip(rng)
    assert chip.shape == (32, 25, 25) and chip.kernel_shape == (25, 25)
    k = LEA_KERNELS[0]
    measured = lea_kernel_map(k)
    np.testing.assert_array_equal(chip.faults.stuck_on[k], measured > 400e-6)
    np.testing.assert_array_equal(chip.faults.stuck_off[k], measured <= 10e-6)
    assert chip.g_min == 133e-6 and chip.g_max == 233e-6 and chip.read_voltage == 0.3


def test_characterization_finds_every_stuck_device_of_the_lea_preset(rng):
    """Stuck-ON at 500 uS and stuck-OFF at 10 uS, read with +-10 uS noise, 16.66 uS write noise."""
    chip = mp.Chip.sample(n_kernels=4, kernel_shape=(25, 25), preset=rram_1t1r_nist(stuck_rate=0.1), rng=rng)
    char = mp.characterize(chip, rng)
    np.testing.assert_array_equal(char.stuck_on, chip.faults.stuck_on)
    np.testing.assert_array_equal(char.stuck_off | char.non_switching, chip.faults.stuck_off)
    known = char.faults
    np.testing.assert_array_equal(known.stuck, chip.faults.stuck)
    assert (char.chip.conductance[~chip.faults.stuck] < 200e-6).mean() > 0.9  # everything RESET afterwards


def test_characterization_of_a_measured_chip_recovers_its_thresholded_faults(rng):
    maps = np.stack([lea_kernel_map(k) for k in LEA_KERNELS[:3]])
    preset = dataclasses.replace(rram_1t1r_nist(), read_noise=None)
    chip = mp.Chip.from_measured(maps, preset=preset, rng=rng)
    char = mp.characterize(chip, rng)
    np.testing.assert_array_equal(char.stuck_on, maps > 400e-6)
    np.testing.assert_array_equal(char.stuck_off, maps <= 10e-6)


def test_non_switching_devices_are_found_by_the_window_threshold(rng):
    preset = exact_preset()
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(3, 3), preset=preset, rng=rng)
    on = np.zeros((1, 3, 3), bool)
    on[0, 1, 1] = True
    value = np.where(on, 180e-6, 0.0)  # stuck mid-window: neither above 400 uS nor below 10 uS
    faults = FaultMap(stuck_on=on, stuck_off=np.zeros_like(on), stuck_value=value)
    chip = dataclasses.replace(chip, faults=faults, conductance=faults.apply(chip.conductance))
    char = mp.characterize(chip, rng)
    assert char.non_switching[0, 1, 1] and char.non_switching.sum() == 1
    assert not char.stuck_on.any() and not char.stuck_off.any()
    assert char.faults.stuck_off[0, 1, 1] and char.faults.stuck_value[0, 1, 1] == pytest.approx(180e-6)


def test_write_verify_reaches_tolerance_and_stuck_devices_do_not_move(rng):
    preset = rram_1t1r_nist(stuck_rate=0.1)
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(16, 16), preset=preset, rng=rng)
    idx = np.arange(chip.n_devices)
    target = rng.choice([133e-6, 233e-6], idx.size)
    verify = mp.WriteVerify(tolerance=5e-6, max_iterations=50)
    new, rep = mp.write_verify(chip, idx, target, rng, verify=verify)
    stuck = chip.faults.stuck.ravel()
    g = new.conductance.ravel()
    np.testing.assert_array_equal(g[stuck], chip.faults.stuck_value.ravel()[stuck])
    healthy = ~stuck & rep.converged
    assert rep.converged[~stuck].mean() > 0.99
    # a converged write read within 5 uS with +-10 uS read noise: the device is within 15 uS
    assert np.abs(g[healthy] - target[healthy]).max() <= 15e-6 + 1e-12
    assert (rep.attempts[stuck] == 50).all() and rep.attempts[~stuck].min() >= 1
    # skipped devices are not pulsed and keep their state
    new2, rep2 = mp.write_verify(chip, idx, target, rng, verify=verify, skip=stuck)
    assert (rep2.attempts[stuck] == 0).all() and not rep2.converged[stuck].any()
    np.testing.assert_array_equal(new2.conductance.ravel()[stuck], chip.conductance.ravel()[stuck])


def test_write_verify_uses_the_devices_systematic_offset(rng):
    """TiO2's per-device offset N(-0.589 %, 0.339 %), alone: every write lands at target * (1 + offset)."""
    p = tio2_passive(stuck_rate=0.0)
    preset = dataclasses.replace(p, programming=ProgrammingError(offset_mean=p.programming.offset_mean,
                                                                 offset_std=p.programming.offset_std))
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(20, 20), preset=preset, rng=rng)
    idx = np.arange(chip.n_devices)
    new, _ = mp.write_verify(chip, idx, np.full(idx.size, 300e-6), rng, verify=mp.WriteVerify(max_iterations=1))
    rel = new.conductance.ravel() / 300e-6 - 1.0
    np.testing.assert_allclose(rel, chip.offsets.ravel(), rtol=0, atol=1e-12)
    assert chip.offsets.std() > 0.002


def test_read_devices_adds_fresh_noise_each_time(rng):
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(4, 4), preset=rram_1t1r_nist(stuck_rate=0.0), rng=rng)
    idx = np.arange(16)
    a, b = mp.read_devices(chip, idx, rng), mp.read_devices(chip, idx, rng)
    assert not np.array_equal(a, b)
    assert np.abs(a - chip.conductance.ravel()).max() <= 10e-6


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda chip, rng: mp.write_verify(chip, [0, 0], [1e-4, 1e-4], rng), "must not repeat"),
        (lambda chip, rng: mp.write_verify(chip, [99], [1e-4], rng), r"address devices in \[0, 15\]"),
        (lambda chip, rng: mp.write_verify(chip, [0], [1e-4], np.random), "numpy.random.Generator"),
        (lambda chip, rng: mp.WriteVerify(max_iterations=0), "`max_iterations` must be a positive int"),
        (lambda chip, rng: mp.Thresholds(stuck_on_above=5e-6), "must be below `stuck_on_above`"),
    ],
)
def test_invalid_programming_requests(rng, call, match):
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(4, 4), preset=exact_preset(), rng=rng)
    with pytest.raises(ConfigError, match=match):
        call(chip, rng)


def test_chip_refuses_kernels_with_different_windows(rng):
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(4, 4), preset=exact_preset(), rng=rng)
    other = tio2_passive()
    with pytest.raises(ConfigError, match="share the window and levels of kernel 0"):
        dataclasses.replace(chip, presets=(chip.presets[0], other))


def test_lea_thresholds_carry_over_to_the_tio2_window(rng):
    """LEA's fixed 400 uS stuck-ON threshold lies inside TiO2's 100-500 uS window; the default scales it."""
    th = mp.Thresholds.for_window(100e-6, 500e-6)
    assert th.stuck_on_above == pytest.approx(400e-6 * 500 / 233)
    assert th.stuck_off_at_or_below == pytest.approx(10e-6 * 100 / 133)
    assert th.min_switching == pytest.approx(40e-6)
    assert mp.Thresholds.for_window(133e-6, 233e-6) == mp.Thresholds()
    assert mp.Thresholds().misclassifies(100e-6, 500e-6) and not th.misclassifies(100e-6, 500e-6)
    preset = tio2_passive()
    chip = mp.Chip.sample(n_kernels=4, kernel_shape=(25, 25), preset=preset, rng=rng)
    char = mp.characterize(chip, rng)
    assert char.thresholds == th
    healthy = ~chip.faults.stuck
    assert not char.stuck[healthy].any()  # with the LEA's 400 uS, every SET device read as stuck-ON
    np.testing.assert_array_equal(char.faults.stuck_on, chip.faults.stuck_on)
    np.testing.assert_array_equal(char.faults.stuck_off, chip.faults.stuck_off)


def test_thresholds_inside_the_window_warn_and_bad_values_are_refused(rng):
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(4, 4), preset=tio2_passive(), rng=rng)
    with pytest.warns(UserWarning, match="would call healthy devices of the chip's 100-500 uS window stuck"):
        mp.characterize(chip, rng, thresholds=mp.Thresholds())
    with pytest.raises(ConfigError, match="stuck_on_above.*got -1.0"):
        mp.Thresholds(stuck_on_above=-1.0)
    with pytest.raises(ConfigError, match="g_min.*g_max"):
        mp.Thresholds.for_window(500e-6, 100e-6)


@pytest.mark.parametrize("skip", [[0.5, 0.0, 0.0, 0.0], ["no", "no", "no", "no"], [None, None, None, None], [1, 0, 0, 0]])
def test_write_verify_refuses_a_skip_mask_that_is_not_boolean(rng, skip):
    """A cast to bool took 0.5 and 'no' for True (None for False): healthy devices went unprogrammed."""
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(2, 2), preset=exact_preset(), rng=rng)
    with pytest.raises(ConfigError, match=r"`skip` must be a boolean array.*got dtype"):
        mp.write_verify(chip, np.arange(4), np.full(4, 200e-6), rng, skip=skip)


@pytest.mark.parametrize("measured", ["no", "false", 0, None])
def test_lea_chip_refuses_a_measured_flag_that_is_not_a_bool(rng, measured):
    """'no' and 'false' were truthy (the measured maps were used), 0 and None falsy."""
    with pytest.raises(ConfigError, match=r"`measured` must be True or False; got"):
        mp.lea_chip(rng, measured=measured, n_kernels=1)


@pytest.mark.parametrize("unmeasured", [np.array(["sampled", "measured"]), ["measured"], None])
def test_lea_chip_refuses_an_unmeasured_choice_that_is_not_a_name(rng, unmeasured):
    """An array of names raised numpy's 'truth value of an array ... is ambiguous' ValueError."""
    with pytest.raises(ConfigError, match=r"`unmeasured` must be one of 'sampled', 'measured'; got"):
        mp.lea_chip(rng, unmeasured=unmeasured, n_kernels=1)


def test_an_out_of_range_unsigned_index_is_quoted_as_given(rng):
    """uint64 2**63 + 5 was cast to int64 first and quoted as -9223372036854775803."""
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(2, 2), preset=exact_preset(), rng=rng)
    big = np.array([1, 2**63 + 5], dtype=np.uint64)
    with pytest.raises(ConfigError, match=r"address devices in \[0, 3\]; got 1\.\.9223372036854775813\."):
        mp.read_devices(chip, big, rng)


def test_a_preset_with_a_window_spread_is_refused_by_the_chip():
    """Before: Chip.sample took a preset with a device-to-device window spread and every chip step
    (sampling, write-verify, characterization) used the one window [g_min, g_max], ignoring it."""
    from xbarsim.devices import WindowSpread

    preset = dataclasses.replace(rram_1t1r_nist(), window_spread=WindowSpread(g_min_sigma=0.1, g_max_sigma=0.1))
    with pytest.raises(ConfigError, match=r"kernel 0's preset 'rram_1t1r_nist' has a `window_spread`"):
        mp.Chip.sample(n_kernels=2, kernel_shape=(3, 3), preset=preset, rng=np.random.default_rng(0))
