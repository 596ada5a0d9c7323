"""Sneak paths of a small array, against a brute-force enumeration written here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import MAX_SNEAK_SIDE, sneak_paths
from xbarsim.errors import ConfigError


def _brute(g: np.ndarray, r: int, c: int, max_length: int) -> dict[tuple, float]:
    """Every alternating row/column walk with distinct lines from row r to column c, by itertools."""
    m, n = g.shape
    out = {}
    for k in range(1, (max_length - 1) // 2 + 1):  # k intermediate columns and k intermediate rows
        for cols in itertools.permutations([j for j in range(n) if j != c], k):
            for rows in itertools.permutations([i for i in range(m) if i != r], k):
                rs, cs = (r, *rows), (*cols, c)
                cells = []
                for t in range(k):
                    cells += [(rs[t], cs[t]), (rs[t + 1], cs[t])]
                cells.append((rs[k], cs[k]))
                if all(g[a, b] > 0 for a, b in cells):
                    out[tuple(cells)] = 1.0 / sum(1.0 / g[a, b] for a, b in cells)
    return out


@pytest.mark.parametrize("max_length", [3, 5, 7])
def test_paths_match_brute_force(rng, max_length):
    g = rng.uniform(1e-6, 1e-4, (4, 5)) * (rng.random((4, 5)) < 0.75)
    g[1, 3] = 2e-5  # the selected cell conducts
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0))
    paths = sneak_paths(cb, 1, 3, max_length=max_length)
    expected = _brute(g, 1, 3, max_length)
    assert {p.cells for p in paths} == set(expected)
    assert len(paths) == len(expected)  # no duplicates
    for p in paths:
        assert p.length % 2 == 1 and 3 <= p.length <= max_length
        assert p.cells[0][0] == 1 and p.cells[-1][1] == 3
        assert p.conductance == pytest.approx(expected[p.cells], rel=1e-14)
    assert [(p.length, p.cells) for p in paths] == sorted((p.length, p.cells) for p in paths)


def test_full_array_counts_and_open_cells():
    """A fully conducting M x N array has (M-1)(N-1) three-cell paths; opening a cell removes those through it."""
    m, n = 5, 4
    g = np.full((m, n), 1e-5)
    paths = sneak_paths(xb.Crossbar(conductance=g), 0, 0)
    assert len(paths) == (m - 1) * (n - 1)
    assert all(p.conductance == pytest.approx(1e-5 / 3, rel=1e-14) for p in paths)
    g[2, 1] = 0.0
    paths = sneak_paths(xb.Crossbar(conductance=g), 0, 0)
    assert len(paths) == (m - 1) * (n - 1) - 1
    assert all((2, 1) not in p.cells for p in paths)
    five = sneak_paths(xb.Crossbar(conductance=np.full((m, n), 1e-5)), 0, 0, max_length=5)
    assert sum(p.length == 5 for p in five) == (m - 1) * (m - 2) * (n - 1) * (n - 2)


def test_refusals():
    big = xb.Crossbar(conductance=np.full((MAX_SNEAK_SIDE + 1, 4), 1e-5))
    with pytest.raises(ConfigError, match="up to 16x16"):
        sneak_paths(big, 0, 0)
    cb = xb.Crossbar(conductance=np.full((4, 4), 1e-5))
    with pytest.raises(ConfigError, match="outside the 4x4 array"):
        sneak_paths(cb, 4, 0)
    with pytest.raises(ConfigError, match="`max_length` must be odd"):
        sneak_paths(cb, 0, 0, max_length=4)
    with pytest.raises(ConfigError, match="`max_length`"):
        sneak_paths(cb, 0, 0, max_length=1)
    with pytest.raises(ConfigError, match="`max_paths` = 5"):
        sneak_paths(cb, 0, 0, max_paths=5)
    # 16 x 16 is allowed: (15 * 15) three-cell paths
    assert len(sneak_paths(xb.Crossbar(conductance=np.full((16, 16), 1e-5)), 3, 7)) == 225
