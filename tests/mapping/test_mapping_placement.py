"""Placement: blocks never overlap; greedy never takes a block with a short; requests that cannot fit say what fits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xbarsim.mapping as mp
from xbarsim.devices import FaultMap, rram_1t1r_nist
from xbarsim.errors import ConfigError

from mapping_helpers import exact_preset, ternary


def _layout(m: int, n: int, kernel: tuple[int, int]) -> mp.LayerLayout:
    w = np.ones((m, n))
    return mp.tile_layer(mp.map_weights(w, g_min=133e-6, g_max=233e-6), kernel)


def _with_faults(chip: mp.Chip, on: np.ndarray, off: np.ndarray) -> mp.Chip:
    value = np.where(on, 500e-6, np.where(off, 1e-6, 0.0))
    faults = FaultMap(stuck_on=on, stuck_off=off, stuck_value=value)
    return dataclasses.replace(chip, faults=faults, conductance=faults.apply(chip.conductance))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), alpha=st.integers(1, 4), beta_frac=st.floats(0.0, 1.0),
       short_rate=st.floats(0.0, 0.04), on_rate=st.floats(0.0, 0.1))
def test_greedy_never_selects_a_block_with_a_short(seed, alpha, beta_frac, short_rate, on_rate):
    """Shorts (devices reading at or below 10 uS, the LEA code's word) and non-switching devices are
    rejected; stuck-ON devices are tolerated but ranked."""
    rng = np.random.default_rng(seed)
    chip = mp.Chip.sample(n_kernels=6, kernel_shape=(12, 12), preset=exact_preset(), rng=rng)
    u = rng.random(chip.shape)
    chip = _with_faults(chip, on=u < on_rate, off=(u >= on_rate) & (u < on_rate + short_rate))
    char = mp.characterize(chip, rng)
    layout = _layout(5, 3, chip.kernel_shape)
    beta = 1 + int(beta_frac * (alpha - 1))
    try:
        placement = mp.place_layer(layout, alpha=alpha, beta=beta, chip_shape=chip.shape, method="greedy",
                                   characterization=char)
    except ConfigError as exc:  # too many shorts for this request: the error says what fits
        assert "alpha <=" in str(exc)
        return
    assert len(placement.blocks) == alpha * len(layout.specs)
    for b in placement.blocks:
        window = char.rejected[b.kernel, b.row:b.row + b.rows, b.col:b.col + b.cols]
        assert not window.any(), f"block {b} holds a short or non-switching device"
        assert not chip.faults.stuck_off[b.kernel, b.row:b.row + b.rows, b.col:b.col + b.cols].any()


def test_greedy_prefers_blocks_without_stuck_devices(rng):
    chip = mp.Chip.sample(n_kernels=1, kernel_shape=(4, 16), preset=exact_preset(), rng=rng)
    on = np.zeros(chip.shape, bool)
    on[0, 0, 0] = True
    on[0, 2, 4] = True  # clean 4x4 windows start at columns 5..12: room for two of them
    chip = _with_faults(chip, on=on, off=np.zeros_like(on))
    char = mp.characterize(chip, rng)
    layout = mp.tile_layer(mp.map_weights(np.ones((4, 2)), g_min=133e-6, g_max=233e-6,
                                          encoding=mp.Encoding(layout="interleaved")), chip.kernel_shape)
    placement = mp.place_layer(layout, alpha=2, beta=1, chip_shape=chip.shape, method="greedy",
                               characterization=char)
    assert [b.col for b in placement.blocks] == [5, 9]  # best first, ties by position; no overlap
    for b in placement.blocks:
        assert not char.stuck_on[0, :, b.col:b.col + b.cols].any()


def test_greedy_takes_blocks_that_complete_the_outputs_first(rng):
    """Every kernel has stuck devices; pass 1 takes a block only if it gives an output that still lacks
    one a defect-free copy, even over a block with fewer stuck devices overall."""
    chip = mp.Chip.sample(n_kernels=3, kernel_shape=(2, 3), preset=exact_preset(), rng=rng)
    on = np.zeros(chip.shape, bool)
    on[0, 0, 0] = True                 # kernel 0: output 0 defective, 1 stuck device
    on[1, 1, 0] = True                 # kernel 1: output 0 defective, 1 stuck device
    on[2, 0, 1] = on[2, 1, 1] = True   # kernel 2: output 1 defective, 2 stuck devices
    chip = _with_faults(chip, on=on, off=np.zeros_like(on))
    char = mp.characterize(chip, rng)
    # reference scheme: block columns (output 0, output 1, reference)
    mw = mp.map_weights(np.ones((2, 2)), g_min=133e-6, g_max=233e-6,
                        encoding=mp.Encoding(scheme="reference", levels=3))
    layout = mp.tile_layer(mw, chip.kernel_shape)
    placement = mp.place_layer(layout, alpha=2, beta=1, chip_shape=chip.shape, method="greedy",
                               characterization=char)
    assert [b.kernel for b in placement.blocks] == [0, 2]


def test_random_placement_packs_aligned_blocks_without_overlap(rng):
    chip_shape = (2, 64, 64)
    layout = _layout(64, 10, (64, 64))
    placement = mp.place_layer(layout, alpha=6, chip_shape=chip_shape, method="random", rng=rng)
    occ = np.zeros(chip_shape, int)
    for b in placement.blocks:
        occ[b.kernel, b.row:b.row + b.rows, b.col:b.col + b.cols] += 1
        assert b.col % 10 == 0
    assert occ.max() == 1 and occ.sum() == 6 * 2 * 64 * 10


def test_a_layer_that_does_not_fit_says_what_fits(rng):
    layout = _layout(20, 10, (25, 25))
    with pytest.raises(ConfigError, match=r"alpha = 4 copies need 8 blocks of 20x10.*What fits: alpha <= 2 copies"):
        mp.place_layer(layout, alpha=4, chip_shape=(2, 25, 25), method="random", rng=rng)


def test_a_layer_that_does_not_fit_through_map_layer(rng):
    chip = mp.Chip.sample(n_kernels=2, kernel_shape=(25, 25), preset=exact_preset(), rng=rng)
    with pytest.raises(ConfigError, match=r"does not fit.*What fits: alpha <= 2 copies of this layer"):
        mp.map_layer(ternary(rng, (20, 10)), chip, rng, ensemble=mp.EnsembleConfig.lea(4, 2))


def test_strict_greedy_reports_how_many_clean_blocks_exist(rng):
    chip = mp.Chip.sample(n_kernels=4, kernel_shape=(8, 8), preset=rram_1t1r_nist(stuck_rate=0.2), rng=rng)
    char = mp.characterize(chip, rng)
    layout = _layout(8, 4, (8, 8))
    with pytest.raises(ConfigError, match="hold no stuck-OFF or non-switching device.*strict=False"):
        mp.place_layer(layout, alpha=4, chip_shape=chip.shape, method="greedy", characterization=char)
    placement = mp.place_layer(layout, alpha=4, chip_shape=chip.shape, method="greedy", characterization=char,
                               strict=False)
    assert len(placement.blocks) == 8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "diagonal"}, r"`method` must be one of 'random', 'greedy'; got 'diagonal'"),
        ({"alpha": 0}, "`alpha` must be a positive int"),
        ({"alpha": 2, "beta": 3}, r"`beta` must be an int in \[1, alpha = 2\]"),
        ({"method": "greedy"}, "greedy placement needs `characterization`"),
        ({"chip_shape": (1, 9, 9)}, r"`chip_shape` must be \(K, 8, 8\)"),
        # before: 2.5 kernels placed on 2 without a word, -1 a numpy "negative dimensions" error, 5 a TypeError
        ({"chip_shape": (2.5, 8, 8)}, r"`chip_shape` must be a \(K, R, C\) tuple of positive ints; got \(2.5, 8, 8\)"),
        ({"chip_shape": (-1, 8, 8)}, r"`chip_shape` must be a \(K, R, C\) tuple of positive ints; got \(-1, 8, 8\)"),
        ({"chip_shape": 5}, r"`chip_shape` must be a \(K, R, C\) tuple of positive ints; got 5\."),
        # before: bool('no') placed strictly and bool(None) not, without a word; a ragged mask was numpy's ValueError
        ({"strict": "no"}, r"`strict` must be a bool; got 'no'"),
        ({"strict": None}, r"`strict` must be a bool; got None"),
        ({"occupied": [[True], [True, False]]}, r"`occupied` must be a \(K, R, C\) array of bool"),
    ],
)
def test_invalid_placement_requests(rng, kwargs, match):
    args = {"alpha": 1, "chip_shape": (2, 8, 8), "method": "random", "rng": rng, **kwargs}
    with pytest.raises(ConfigError, match=match):
        mp.place_layer(_layout(4, 2, (8, 8)), **args)


def test_unknown_placement_in_the_ensemble_config():
    with pytest.raises(ConfigError, match=r"`placement` must be one of 'random', 'greedy'; got 'spiral'"):
        mp.EnsembleConfig(alpha=2, placement="spiral")


def test_placements_refuse_overlapping_blocks():
    b = mp.Block(copy=0, spec=0, kernel=0, row=0, col=0, rows=2, cols=2)
    c = dataclasses.replace(b, copy=1, row=1, col=1)
    with pytest.raises(ConfigError, match="must not overlap"):
        mp.Placement(blocks=(b, c), alpha=2, method="given", chip_shape=(1, 4, 4))


def test_a_hand_built_placement_names_what_is_not_a_placement_of_the_layout():
    """Before: a block that is not a Block was an AttributeError, a (K, R) chip shape an unpacking
    ValueError; a copy numbered beyond alpha or a copy missing a block was accepted and device_index
    paired only the blocks present (a missing block's devices were left out of the copy without a word),
    and a spec beyond the layout's was an IndexError."""
    layout = _layout(2, 2, (2, 2))  # two 2x2 blocks per copy: G+ and G-
    blocks = tuple(mp.Block(copy=a, spec=s, kernel=2 * a + s, row=0, col=0, rows=2, cols=2)
                   for a in range(2) for s in range(2))
    full = mp.Placement(blocks=blocks, alpha=2, method="given", chip_shape=(4, 2, 2))
    assert full.device_index(layout)[0].size == 16
    with pytest.raises(ConfigError, match=r"`blocks` must be a tuple of Block; got 1"):
        mp.Placement(blocks=(1,), alpha=1, method="given", chip_shape=(4, 2, 2))
    with pytest.raises(ConfigError, match=r"`chip_shape` must be a \(K, R, C\) tuple of positive ints; got \(4, 2\)"):
        mp.Placement(blocks=(), alpha=1, method="given", chip_shape=(4, 2))
    with pytest.raises(ConfigError, match=r"`alpha` must be a positive int"):
        mp.Placement(blocks=blocks, alpha=0, method="given", chip_shape=(4, 2, 2))
    with pytest.raises(ConfigError, match=r"block .*copy=1.* belongs to copy 1 of alpha = 1"):
        mp.Placement(blocks=blocks, alpha=1, method="given", chip_shape=(4, 2, 2))
    with pytest.raises(ConfigError, match=r"copy 1 has no block for layout spec 1"):
        mp.Placement(blocks=blocks[:3], alpha=2, method="given", chip_shape=(4, 2, 2)).device_index(layout)
    extra = (*blocks, mp.Block(copy=0, spec=2, kernel=3, row=0, col=0, rows=1, cols=1))
    with pytest.raises(ConfigError, match=r"is of spec 2, but the layout has 2 specs"):
        mp.Placement(blocks=extra[:3] + extra[4:], alpha=2, method="given", chip_shape=(4, 2, 2)).device_index(layout)


def _stated_alpha(exc: pytest.ExceptionInfo[ConfigError]) -> int:
    import re

    found = re.search(r"What fits: alpha <= (\d+) copies", str(exc.value))
    assert found, str(exc.value)
    return int(found.group(1))


def test_the_stated_alpha_maps_when_blocks_have_two_shapes(rng):
    """Issue 13 item 7: a ternary 64x10 layer on 17 fault-free 25x25 kernels tiles into 22x10 and
    21x10 blocks; the message used to count one shape and say "alpha <= 8" where 5 is the maximum."""
    chip = mp.Chip.sample(n_kernels=17, kernel_shape=(25, 25), preset=exact_preset(), rng=rng)
    w = ternary(rng, (64, 10))
    for alpha in (6, 8, 12):
        with pytest.raises(ConfigError, match="does not fit") as info:
            mp.map_layer(w, chip, np.random.default_rng(1), ensemble=mp.EnsembleConfig.lea(alpha, 1))
        stated = _stated_alpha(info)
        assert stated == 5
        assert "2 shapes" in str(info.value) and "22x10" in str(info.value) and "21x10" in str(info.value)
    mp.map_layer(w, chip, np.random.default_rng(1), ensemble=mp.EnsembleConfig.lea(5, 1))  # maps


@pytest.mark.parametrize("method", ["random", "greedy"])
def test_the_stated_alpha_is_one_that_places(rng, method):
    chip = mp.Chip.sample(n_kernels=8, kernel_shape=(25, 25), preset=rram_1t1r_nist(stuck_rate=0.002), rng=rng)
    char = mp.characterize(chip, rng)
    layout = _layout(47, 6, chip.kernel_shape)
    gen = np.random.default_rng(7)
    kwargs = dict(chip_shape=chip.shape, method=method, characterization=char)
    with pytest.raises(ConfigError, match="does not fit") as info:
        mp.place_layer(layout, alpha=40, rng=gen, **kwargs)
    stated = _stated_alpha(info)
    assert stated >= 1
    placement = mp.place_layer(layout, alpha=stated, rng=np.random.default_rng(7), **kwargs)
    assert len(placement.blocks) == stated * len(layout.specs)
    with pytest.raises(ConfigError, match="does not fit"):
        mp.place_layer(layout, alpha=stated + 1, rng=np.random.default_rng(7), **kwargs)


def test_not_even_one_copy_says_so(rng):
    layout = _layout(30, 10, (25, 25))
    with pytest.raises(ConfigError, match="Not even one copy fits"):
        mp.place_layer(layout, alpha=2, chip_shape=(1, 25, 25), method="random", rng=rng,
                       occupied=np.ones((1, 25, 25), bool))


def test_block_capacity_counts_blocks_of_a_free_chip():
    assert mp.block_capacity(np.zeros((2, 4, 4), dtype=bool), (2, 2)) == 8
    assert mp.block_capacity(np.zeros((1, 4, 4), dtype=bool), (5, 1)) == 0


@pytest.mark.parametrize(
    ("occupied", "shape", "match"),
    [
        # a zero-width block never advanced the column cursor: the call never returned
        (np.zeros((1, 2, 2), dtype=bool), (0, 0), r"`shape` must be a \(rows, columns\) pair of positive ints"),
        (np.zeros((1, 2, 2), dtype=bool), (1, 0), r"got \(1, 0\)"),
        # a negative height counted empty slices: 8 "blocks" in a 2x2 kernel
        (np.zeros((1, 2, 2), dtype=bool), (-1, 1), r"got \(-1, 1\)"),
        (np.zeros((1, 2, 2), dtype=bool), 2, r"got 2\."),
        # IndexError: tuple index out of range
        (np.zeros((2, 2), dtype=bool), (1, 1), r"`occupied` must be a \(K, R, C\) array of bool; got shape \(2, 2\)"),
    ],
)
def test_block_capacity_refuses_bad_shapes(occupied, shape, match):
    with pytest.raises(ConfigError, match=match):
        mp.block_capacity(occupied, shape)


def test_the_block_count_in_a_does_not_fit_message_is_not_called_an_upper_bound(rng):
    """Two 4x4 kernels with one stuck-OFF corner device each hold four clean 3x2 blocks (two per kernel,
    side by side below or above the short), but the first-fit count finds three: the message said
    the chip "holds at most 3 such blocks". It now says what the count is."""
    on = np.zeros((2, 4, 4), bool)
    off = on.copy()
    off[0, 0, 0] = off[1, 3, 3] = True
    chip = _with_faults(mp.Chip.sample(n_kernels=2, kernel_shape=(4, 4), preset=exact_preset(), rng=rng), on, off)
    char = mp.characterize(chip, rng)
    assert mp.block_capacity(char.rejected, (3, 2)) == 3  # first fit; [0, 1:4, 0:2], [0, 1:4, 2:4] ... fit four
    clean = [mp.Block(copy=a, spec=0, kernel=k, row=r, col=c, rows=3, cols=2)
             for a, (k, r, c) in enumerate([(0, 1, 0), (0, 1, 2), (1, 0, 0), (1, 0, 2)])]
    placed = mp.Placement(blocks=tuple(clean), alpha=4, method="given", chip_shape=(2, 4, 4))
    assert not (placed.occupancy() & char.rejected).any()
    w = np.array([[1.0, -1.0], [0.0, 1.0], [-1.0, 0.0]])
    with pytest.raises(ConfigError, match="does not fit") as info:
        mp.map_layer(w, chip, rng, encoding=mp.Encoding(scheme="ternary"), ensemble=mp.EnsembleConfig.lea(2, 1),
                     characterization=char)
    assert "at most 3" not in str(info.value)
    assert "a first-fit count over the chip (2 kernels of 4x4, 32 free devices) finds room for 3 such blocks" \
        in str(info.value)
