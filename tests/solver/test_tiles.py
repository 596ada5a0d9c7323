"""Transfer matrices of many tiles in bulk (issue 16.3) against the per-tile ``transfer_matrix``."""

from __future__ import annotations

import numpy as np
import pytest
from xbartest import random_lines

import xbarsim as xb


def _per_tile(g: np.ndarray, lines: xb.LineResistance) -> np.ndarray:
    return np.stack([xb.transfer_matrix(xb.Crossbar(conductance=gk, lines=lines)) for gk in g])


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 1, 6), (4, 7, 1), (5, 7, 4), (6, 12, 9)])
def test_bulk_transfer_matrices_equal_the_per_tile_ones(rng, shape):
    k, m, n = shape
    g = rng.uniform(1e-6, 1e-4, shape)
    g[rng.random(shape) < 0.15] = 0.0  # open cells
    lines = random_lines(rng, m, n)  # non-uniform segments, drivers and senses
    ref = _per_tile(g, lines)
    got = xb.transfer_matrices(g, lines)
    assert got.shape == shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("lines", [
    xb.LineResistance(row_segment=0.0, col_segment=2.0, row_driver=1.0, col_sense=0.0),
    xb.LineResistance(row_segment=1.5, col_segment=0.0, row_driver=0.0, col_sense=3.0),
    xb.LineResistance(row_segment=0.0, col_segment=0.0, row_driver=0.0, col_sense=0.0),
], ids=["ideal-rows", "ideal-columns", "ideal"])
def test_bulk_transfer_matrices_with_ideal_wires(rng, lines):
    g = rng.uniform(1e-6, 1e-4, (5, 6, 4))
    g[0, 0, 0] = 0.0
    ref = _per_tile(g, lines)
    np.testing.assert_allclose(xb.transfer_matrices(g, lines), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    if lines.row_segment == 0 and lines.col_segment == 0:
        np.testing.assert_allclose(ref, g, rtol=1e-12)  # ideal wires: T == G


def test_bulk_transfer_matrices_read_through_the_circuit(rng):
    """Independent of transfer_matrix: the output currents of a full solve are v @ T[k]."""
    g = rng.uniform(1e-6, 1e-4, (3, 8, 5))
    lines = random_lines(rng, 8, 5)
    t = xb.transfer_matrices(g, lines)
    v = rng.uniform(-0.3, 0.3, (4, 8))
    for k in range(3):
        sol = xb.solve(xb.Crossbar(conductance=g[k], lines=lines), xb.BiasScheme.read(v),
                       xb.SparseBackend(xb.SparseOptions(method="direct", batch_ports=False)))
        np.testing.assert_allclose(v @ t[k], sol.output_currents, rtol=0, atol=1e-12 * np.abs(sol.output_currents).max())


def test_bulk_transfer_matrices_refuse_bad_input(rng):
    lines = xb.LineResistance(row_segment=1.0, col_segment=1.0, row_driver=1.0, col_sense=1.0)
    with pytest.raises(xb.ConfigError, match="conductance"):
        xb.transfer_matrices(np.ones((3, 3)), lines)
    with pytest.raises(xb.ConfigError, match="conductance"):
        xb.transfer_matrices(-np.ones((1, 3, 3)), lines)
    with pytest.raises(xb.ConfigError, match="linear"):
        xb.transfer_matrices(np.ones((1, 3, 3)) * 1e-5, lines, xb.Sinh(a=2.0))
    # before: AttributeError ("'float' object has no attribute 'broadcast'", "... no attribute 'linear'")
    with pytest.raises(xb.ConfigError, match="`lines` must be a LineResistance; got float"):
        xb.transfer_matrices(np.ones((1, 3, 3)) * 1e-5, 1.0)
    with pytest.raises(xb.ConfigError, match="`device` must be a DeviceModel instance or None; got 'ohmic'"):
        xb.transfer_matrices(np.ones((1, 3, 3)) * 1e-5, lines, "ohmic")


def test_bulk_transfer_matrices_in_chunks(rng, monkeypatch):
    from xbarsim.solver import tiles

    g = rng.uniform(1e-6, 1e-4, (7, 5, 4))
    for lines in (random_lines(rng, 5, 4), xb.LineResistance(row_segment=0.0, col_segment=1.0, row_driver=1.0,
                                                             col_sense=1.0)):
        ref = _per_tile(g, lines)
        monkeypatch.setattr(tiles, "_CHUNK_ENTRIES", 2 * 5 * 4 * 5)
        monkeypatch.setattr(tiles, "_CHUNK_UNKNOWNS", 100)
        np.testing.assert_allclose(xb.transfer_matrices(g, lines), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("drv, sns", [(0.0, 0.0), (0.0, 2.0), (3.0, 0.0)])
@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 1, 5), (3, 6, 1), (4, 7, 5)])
def test_bulk_transfer_matrices_with_ideal_drivers_or_senses(rng, drv, sns, shape):
    k, m, n = shape
    g = rng.uniform(1e-6, 1e-4, shape)
    g[rng.random(shape) < 0.15] = 0.0
    lines = xb.LineResistance(row_segment=rng.uniform(0.5, 3, (m, n - 1)), col_segment=rng.uniform(0.5, 3, (m - 1, n)),
                              row_driver=drv, col_sense=sns)
    ref = _per_tile(g, lines)
    np.testing.assert_allclose(xb.transfer_matrices(g, lines), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
