"""Issue 14: a badcrossbar-style picture of a small array's operating point, written as PNG; the
segment currents it colours by satisfy KCL at every node; large arrays are refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.analysis import MAX_PICTURE_SIDE, draw_crossbar, segment_currents

PNG = b"\x89PNG\r\n\x1a\n"


def _circuit(rng, m=6, n=5, segment=3.0):
    cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (m, n)),
                     lines=xb.LineResistance.uniform(segment, driver=10.0, sense=10.0))
    return cb, xb.solve(cb, xb.BiasScheme.read(rng.uniform(0, 0.3, m)))


@pytest.mark.parametrize("quantity", ["current", "voltage"])
def test_writes_a_png(tmp_path, rng, quantity):
    cb, sol = _circuit(rng)
    out = draw_crossbar(cb, sol, tmp_path / "sub" / "xbar.png", quantity=quantity)
    data = out.read_bytes()
    assert data[:8] == PNG and len(data) > 10_000
    import matplotlib.image as mpimg

    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 300
    assert img[..., :3].std() > 0.05  # not a blank canvas


def test_a_batched_write_solution_and_an_index(tmp_path, rng):
    cb, _ = _circuit(rng, 4, 4)
    sol = xb.solve(cb, xb.BiasScheme.read(rng.uniform(0, 0.3, (3, 4))))
    assert draw_crossbar(cb, sol, tmp_path / "b.png", index=2).exists()
    with pytest.raises(xb.ConfigError, match="`index`"):
        draw_crossbar(cb, sol, tmp_path / "c.png", index=3)


def test_segment_currents_close_kcl_at_every_node(rng):
    """Independent check of the numbers the picture colours by: at row node (i, j) the current
    arriving from the left (driver for j = 0) leaves through the right segment and the cell; at
    column node (i, j) the cell's current and the segment from above leave downwards (sense at the
    bottom)."""
    cb, sol = _circuit(rng)
    i_row, i_col = segment_currents(cb, np.asarray(sol.row_voltages), np.asarray(sol.col_voltages))
    cell = np.asarray(sol.cell_currents)
    m, n = cb.shape
    left = np.concatenate([np.asarray(sol.input_currents)[:, None], i_row], axis=1)
    right = np.concatenate([i_row, np.zeros((m, 1))], axis=1)
    np.testing.assert_allclose(left - right - cell, 0, atol=1e-12 * np.abs(left).max())
    above = np.concatenate([np.zeros((1, n)), i_col], axis=0)
    below = np.concatenate([i_col, np.asarray(sol.output_currents)[None, :]], axis=0)
    np.testing.assert_allclose(above + cell - below, 0, atol=1e-12 * np.abs(below).max())


def test_ideal_segments_have_no_defined_current(rng):
    cb, sol = _circuit(rng, 3, 3, segment=0.0)
    i_row, i_col = segment_currents(cb, np.asarray(sol.row_voltages), np.asarray(sol.col_voltages))
    assert np.isnan(i_row).all() and np.isnan(i_col).all()


def test_large_arrays_are_refused_clearly(tmp_path, rng):
    side = MAX_PICTURE_SIDE + 1
    cb = xb.Crossbar(conductance=np.full((side, 4), 1e-5))
    sol = xb.solve(cb, xb.BiasScheme.read(np.full(side, 0.1)))
    with pytest.raises(xb.ConfigError, match=rf"up to {MAX_PICTURE_SIDE}x{MAX_PICTURE_SIDE}.*got a {side}x4 crossbar"):
        draw_crossbar(cb, sol, tmp_path / "big.png")
    assert not (tmp_path / "big.png").exists()
    other = xb.Crossbar(conductance=np.full((3, 3), 1e-5))
    small = xb.solve(other, xb.BiasScheme.read(np.full(3, 0.1)))
    four = xb.Crossbar(conductance=np.full((4, 4), 1e-5))
    with pytest.raises(xb.ConfigError, match="3x3 array, the crossbar is 4x4"):
        draw_crossbar(four, small, tmp_path / "x.png")
    with pytest.raises(xb.ConfigError, match="`quantity`"):
        draw_crossbar(other, small, tmp_path / "x.png", quantity="power")  # type: ignore[arg-type]


def test_the_black_wire_note_only_where_an_ideal_wire_is_drawn(rng):
    """'black: ideal 0 ohm wire' was in every picture's title, also of voltages (defined on every
    wire, never black) and of arrays without an ideal segment."""
    from xbarsim.analysis.picture import _full_title

    ideal, sol0 = _circuit(rng, 3, 3, segment=0.0)
    resistive, sol3 = _circuit(rng, 3, 3, segment=3.0)
    currents0 = np.concatenate([a.ravel() for a in segment_currents(
        ideal, np.asarray(sol0.row_voltages), np.asarray(sol0.col_voltages))])
    currents3 = np.concatenate([a.ravel() for a in segment_currents(
        resistive, np.asarray(sol3.row_voltages), np.asarray(sol3.col_voltages))])
    voltages0 = np.asarray(sol0.row_voltages).ravel()
    assert "black: ideal 0 ohm wire" in _full_title("t", currents0)
    assert "black" not in _full_title("t", currents3)
    assert "black" not in _full_title("t", voltages0)
    # the columns' bottom ends are sense nodes in a read, drivers in a write (V/3 drives them at 0 and
    # 2V/3): every title said 'columns sensed at the bottom', also of a write
    assert "columns sensed at the bottom" not in _full_title("t", currents3)
    assert "columns end at the bottom (sensed in a read, driven in a write)" in _full_title("t", currents3)


def test_the_png_carries_provenance_and_refuses_a_planted_symlink(tmp_path, rng):
    """A picture drawn from the library is a result file like the others: it carries the provenance text
    chunks (it had none unless the CLI stamped it afterwards) and is written atomically, so a symlink where
    it goes is refused and its target untouched (``savefig`` wrote through it)."""
    import json
    import os

    from PIL import Image

    cb, sol = _circuit(rng, 3, 3)
    out = draw_crossbar(cb, sol, tmp_path / "x.png")
    with Image.open(out) as img:
        prov = json.loads(img.info["xbarsim:provenance"])
    assert prov["xbarsim"] == xb.__version__ and prov["command"] and prov["partial"] is False
    target = tmp_path / "elsewhere.png"
    target.write_text("keep")
    os.symlink(target, tmp_path / "y.png")
    with pytest.raises(xb.ConfigError, match="symlink"):
        draw_crossbar(cb, sol, tmp_path / "y.png")
    assert target.read_text() == "keep" and sorted(os.listdir(tmp_path)) == ["elsewhere.png", "x.png", "y.png"]
