"""A badcrossbar-style picture of one operating point: every wire segment and every cell of a small
crossbar drawn in place and coloured by its current (or voltage).

Word lines run left to right (row ``i`` at height ``-i``), bit lines top to bottom; each cell is a
square between its row node and its column node. Row drivers sit at the left end of each row and
sense resistors at the bottom of each column (the ends a read and every write scheme drive; their
colour is the line's total input / output current). Signed quantities use a diverging colour map
centred on zero, with one colour bar for the wires and one for the cells, so that a 1 mA wire does
not wash out 1 uA cells. Meant for arrays up to :data:`MAX_PICTURE_SIDE` per side: beyond that the
segments are thinner than a pixel, and a heatmap of ``solution.cell_currents`` says more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import check_choice, short_repr
from xbarsim.errors import ConfigError
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.solver.solution import Solution

__all__ = ["MAX_PICTURE_SIDE", "PictureQuantity", "draw_crossbar", "segment_currents"]

#: Largest number of rows or columns :func:`draw_crossbar` draws.
MAX_PICTURE_SIDE = 32
#: What colours the picture.
PictureQuantity = Literal["current", "voltage"]


def _pick(x: Any, index: int | None, batched: bool) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    return a[index if index is not None else 0] if batched else a


def segment_currents(crossbar: Crossbar, row_voltages: FloatArray, col_voltages: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Ampere through every row segment ``(M, N-1)`` (positive left to right) and column segment
    ``(M-1, N)`` (positive top to bottom); an ideal (0 ohm) segment's current is not defined by its
    end voltages and is returned as NaN."""
    rs = np.asarray(crossbar.lines.row_segment, dtype=np.float64)
    cs = np.asarray(crossbar.lines.col_segment, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        i_row = np.where(rs > 0, (row_voltages[:, :-1] - row_voltages[:, 1:]) / rs, np.nan)
        i_col = np.where(cs > 0, (col_voltages[:-1, :] - col_voltages[1:, :]) / cs, np.nan)
    return i_row, i_col


def draw_crossbar(
    crossbar: Crossbar,
    solution: Solution,
    path: str | Path,
    *,
    quantity: PictureQuantity = "current",
    index: int | None = None,
    title: str | None = None,
) -> Path:
    """Draw ``crossbar`` at the operating point ``solution`` and write a PNG.

    Parameters
    ----------
    crossbar : Crossbar
        The array that was solved (its wire resistances give the segment currents).
    solution : Solution
        From :func:`xbarsim.solve` of that crossbar (any backend).
    path : str or Path
        PNG file to write (parent folders are created), atomically, with the provenance text chunks
        (:func:`xbarsim.provenance.png_metadata` of :func:`~xbarsim.provenance.collect`'s record).
    quantity : {"current", "voltage"}
        ``"current"``: segments by the current through them (A), cells by cell current (A), driver
        and sense stubs by each line's input / output current. ``"voltage"``: segments by the mean
        of their two node voltages (V), cells by the voltage across them (V).
    index : int, optional
        Batch entry of a batched solution (default 0).
    title : str, optional
        Figure title (default: what is drawn, the array size and the quantity).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        Arrays larger than :data:`MAX_PICTURE_SIDE` per side, a solution of another shape, a bad
        ``quantity`` or ``index``.
    """
    if not isinstance(crossbar, Crossbar):
        raise ConfigError(f"`crossbar` must be a Crossbar; got {type(crossbar).__name__}.")
    if not isinstance(solution, Solution):
        raise ConfigError(f"`solution` must be a Solution; got {type(solution).__name__}.")
    check_choice(quantity, ("current", "voltage"), "quantity")
    m, n = crossbar.shape
    if max(m, n) > MAX_PICTURE_SIDE:
        raise ConfigError(
            f"draw_crossbar draws arrays up to {MAX_PICTURE_SIDE}x{MAX_PICTURE_SIDE} (beyond that the wires are "
            f"thinner than a pixel); got a {m}x{n} crossbar. Plot a heatmap of solution.cell_currents instead."
        )
    cv = np.asarray(solution.cell_voltages)
    batched = cv.ndim == 3
    if cv.shape[-2:] != (m, n):
        raise ConfigError(f"`solution` is of a {cv.shape[-2]}x{cv.shape[-1]} array, the crossbar is {m}x{n}.")
    if index is not None:
        if not batched or isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < cv.shape[0]:
            raise ConfigError(f"`index` must be a batch index of a batched solution; got {short_repr(index)}.")
    vr, vc = _pick(solution.row_voltages, index, batched), _pick(solution.col_voltages, index, batched)
    if quantity == "current":
        i_row, i_col = segment_currents(crossbar, vr, vc)
        cells = _pick(solution.cell_currents, index, batched)
        ends_in, ends_out = _pick(solution.input_currents, index, batched), _pick(solution.output_currents, index, batched)
        unit, wire_label, cell_label = "A", "wire current", "cell current"
    else:
        i_row, i_col = (vr[:, :-1] + vr[:, 1:]) / 2, (vc[:-1, :] + vc[1:, :]) / 2
        cells = _pick(solution.cell_voltages, index, batched)
        ends_in, ends_out = vr[:, 0], vc[-1, :]
        unit, wire_label, cell_label = "V", "wire voltage", "voltage across cell"
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _render(out, m, n, i_row, i_col, cells, ends_in, ends_out, wire_label, cell_label,
            title or f"{m}x{n} crossbar: {quantity} in every wire segment and cell ({unit})", unit)
    return out


def _full_title(title: str, wire_values: FloatArray) -> str:
    """The figure title with its reading notes; "black: ideal 0 ohm wire" only where such a wire is drawn
    (a wire value that is not defined: the current through an ideal segment; before, every picture,
    also of voltages, which are defined on every wire, said so)."""
    # a write scheme drives the columns' bottom ends too (V/3: 0 and 2V/3): "sensed" was wrong there
    note = "\nrows driven at the left, columns end at the bottom (sensed in a read, driven in a write); stubs: each line's total"
    if not np.isfinite(np.asarray(wire_values, dtype=np.float64)).all():
        note += "; black: ideal 0 ohm wire"
    return title + note


def _render(out: Path, m: int, n: int, seg_row: FloatArray, seg_col: FloatArray, cells: FloatArray,
            ends_in: FloatArray, ends_out: FloatArray, wire_label: str, cell_label: str, title: str, unit: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    # geometry: row i's wire at y = -i, its cell nodes at x = j + 0.2; column j's wire at x = j + 0.5,
    # its cell nodes at y = -i - 0.3; cell (i, j) a square between the two, joined by thin leads
    xr, xc, yc = 0.2, 0.5, 0.3
    side = max(m, n)
    fig = Figure(figsize=(2.2 + 0.36 * n, 2.2 + 0.36 * m), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lw = max(1.2, 4.0 - side / 10)

    segs: list[tuple[tuple[float, float], tuple[float, float]]] = []
    vals: list[float] = []
    for i in range(m):
        segs += [((j + xr, -i), (j + 1 + xr, -i)) for j in range(n - 1)]
        vals += list(seg_row[i])
        segs.append(((-0.7, -i), (xr, -i)))  # driver stub
        vals.append(ends_in[i])
    for j in range(n):
        segs += [((j + xc, -i - yc), (j + xc, -i - 1 - yc)) for i in range(m - 1)]
        vals += list(seg_col[:, j])
        segs.append(((j + xc, -(m - 1) - yc), (j + xc, -(m - 1) - yc - 0.9)))  # sense stub
        vals.append(ends_out[j])
    wv = np.asarray(vals, dtype=np.float64)
    wlim = float(np.nanmax(np.abs(wv))) if np.isfinite(wv).any() else 1.0
    from matplotlib import colormaps

    # ideal (0 ohm) segments in black: their current is not defined by the voltages
    wires = LineCollection(segs, cmap=colormaps["coolwarm"].with_extremes(bad="black"), norm=Normalize(-(wlim or 1.0), wlim or 1.0), linewidths=lw,
                           capstyle="round", zorder=2)
    wires.set_array(np.ma.masked_invalid(wv))
    ax.add_collection(wires)

    size = 0.26
    cx = np.array([j + xr for i in range(m) for j in range(n)])
    cy = np.array([-i - yc for i in range(m) for j in range(n)])
    leads = [((x, y + yc), (x, y + size / 2)) for x, y in zip(cx, cy)]
    leads += [((x + size / 2, y), (x - xr + xc, y)) for x, y in zip(cx, cy)]
    ax.add_collection(LineCollection(leads, colors="0.35", linewidths=0.5, zorder=1))
    squares = [Rectangle((x - size / 2, y - size / 2), size, size) for x, y in zip(cx, cy)]
    cv = np.asarray(cells, dtype=np.float64).ravel()
    clim = float(np.abs(cv).max()) if cv.size else 1.0
    boxes = PatchCollection(squares, cmap="PiYG_r", norm=Normalize(-(clim or 1.0), clim or 1.0),
                            edgecolor="0.2", linewidth=0.4, zorder=3)
    boxes.set_array(cv)
    ax.add_collection(boxes)

    if side <= 16:  # line labels while they are readable
        for i in range(m):
            ax.text(-0.8, -i, f"row {i}", ha="right", va="center", fontsize=6)
        for j in range(n):
            ax.text(j + xc, -(m - 1) - yc - 1.0, f"col {j}", ha="center", va="top", fontsize=6, rotation=90)
    ax.set_xlim(-1.9 if side <= 16 else -0.9, n + 0.1)
    ax.set_ylim(-(m - 1) - yc - (1.8 if side <= 16 else 1.0), 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(_full_title(title, wv), fontsize=7)
    from matplotlib.ticker import EngFormatter, MaxNLocator

    for mappable, where, label, bins in ((wires, "right", wire_label, 5), (boxes, "bottom", cell_label, 3)):
        bar = fig.colorbar(mappable, ax=ax, location=where, shrink=0.8, pad=0.02, label=label,
                           format=EngFormatter(unit=unit, places=0))
        bar.locator = MaxNLocator(bins, symmetric=True)
        bar.update_ticks()
        bar.ax.tick_params(labelsize=7)
    import xbarsim.provenance as provenance
    from xbarsim._files import replace_from

    # whole or not at all, never through a symlink, with the provenance chunks (before: written in place, none)
    meta = provenance.png_metadata(provenance.collect())
    replace_from(out, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight", metadata=meta))
