"""Pieces shared by the analysis modules: selections, scheme biases, voltage statistics, backends.

Biases are built here for *batches* of operating points (several write amplitudes, several schemes,
unit excitations of every line end) so that one factorization (linear devices) or one batched
Newton solve (nonlinear devices) serves all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim._typing import BoolArray, FloatArray
from xbarsim._validation import as_float_array, check_callable, check_choice, short_repr
from xbarsim.errors import ConfigError
from xbarsim.netlists.bias import WRITE_SCHEMES, BiasScheme, LineDrive
from xbarsim.netlists.crossbar import Crossbar

__all__ = [
    "VoltageStats",
    "check_crossbar",
    "check_cell",
    "check_line_progress",
    "far_corner",
    "near_corner",
    "scalar_voltage",
    "positive_voltage",
    "scheme_levels",
    "selection_bias",
    "voltage_stats",
]

#: Fraction of the write voltage put on unselected rows and unselected columns by each driven scheme
#: (``None``: the lines float). See :meth:`xbarsim.netlists.BiasScheme.write`.
_LEVELS: dict[str, tuple[float, float] | None] = {
    "v/2": (0.5, 0.5),
    "v/3": (1.0 / 3.0, 2.0 / 3.0),
    "grounded": (0.0, 0.0),
    "floating": None,
}


@dataclass(frozen=True, kw_only=True)
class VoltageStats:
    """Distribution of the voltage across a group of cells.

    Attributes
    ----------
    count : int
        Number of cells in the group (0 for an empty group: every other field is then 0).
    mean, std : float
        Volt, mean and standard deviation of the cell voltages (row minus column).
    min, max : float
        Volt, the most negative and the most positive cell voltage.
    worst : float
        Volt, the largest magnitude ``max |V|`` (the disturb-relevant number).
    """

    count: int
    mean: float
    std: float
    min: float
    max: float
    worst: float


def voltage_stats(values: FloatArray) -> VoltageStats:
    """:class:`VoltageStats` of an array of cell voltages (volt)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return VoltageStats(count=0, mean=0.0, std=0.0, min=0.0, max=0.0, worst=0.0)
    return VoltageStats(count=int(v.size), mean=float(v.mean()), std=float(v.std()), min=float(v.min()),
                        max=float(v.max()), worst=float(np.abs(v).max()))


def check_crossbar(crossbar: Any) -> Crossbar:
    """``crossbar`` itself if it is a :class:`Crossbar`, else ConfigError."""
    if not isinstance(crossbar, Crossbar):
        raise ConfigError(f"`crossbar` must be a Crossbar; got {type(crossbar).__name__}.")
    return crossbar


def check_cell(row: Any, col: Any, shape: tuple[int, int]) -> tuple[int, int]:
    """``(row, col)`` as ints after checking that the cell lies inside an ``M x N`` array."""
    m, n = shape
    for name, idx in (("row", row), ("col", col)):
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise ConfigError(f"`{name}` must be a line index (int); got {short_repr(idx)}.")
    if not (0 <= int(row) < m and 0 <= int(col) < n):
        raise ConfigError(f"cell (`row`, `col`) = ({int(row)}, {int(col)}) is outside the {m}x{n} array.")
    return int(row), int(col)


def check_line_progress(progress: Any) -> Any:
    """``progress`` if it is None or callable (the analysis functions call it with one line of text),
    else ConfigError: before any work, not as a TypeError once the first line is due."""
    return check_callable(progress, "progress", "taking one line of text")


def far_corner(shape: tuple[int, int]) -> tuple[int, int]:
    """The cell farthest from the drivers: row 0 (top, far from the columns' bottom drivers) and
    column ``N - 1`` (far from the rows' left drivers)."""
    return 0, shape[1] - 1


def near_corner(shape: tuple[int, int]) -> tuple[int, int]:
    """The cell nearest to the drivers: row ``M - 1`` and column 0."""
    return shape[0] - 1, 0


def scalar_voltage(value: Any, name: str) -> float:
    """A finite scalar voltage in volt."""
    if isinstance(value, bool):
        raise ConfigError(f"`{name}` must be a finite voltage in volt; got {value!r}.")
    arr = as_float_array(value, name, what="finite voltage in volt")
    if arr.ndim != 0:
        raise ConfigError(f"`{name}` must be a scalar voltage in volt; got shape {arr.shape}.")
    return float(arr)


def positive_voltage(value: Any, name: str) -> float:
    """A finite, strictly positive scalar voltage in volt."""
    v = scalar_voltage(value, name)
    if v <= 0.0:
        raise ConfigError(f"`{name}` must be a positive voltage in volt; got {v!r}.")
    return v


def scheme_levels(scheme: Any) -> tuple[float, float] | None:
    """Unselected row and column levels of a write scheme as fractions of the write voltage
    (``None`` for ``"floating"``); ConfigError for an unknown scheme."""
    check_choice(scheme, WRITE_SCHEMES, "scheme")
    return _LEVELS[scheme]


def selection_bias(
    shape: tuple[int, int],
    row: int,
    col: int,
    amplitudes: FloatArray,
    levels: tuple[FloatArray, FloatArray] | None,
) -> BiasScheme:
    """A batched bias that selects cell ``(row, col)`` at every amplitude.

    The selected row is driven from its left end at ``amplitudes[b]`` (volt), the selected column
    held at 0 V at its bottom end. Unselected rows sit at ``levels[0][b]`` and unselected columns
    at ``levels[1][b]`` (volt, one value per batch entry), from the same ends; ``levels=None``
    leaves every unselected line floating. The result always carries a batch axis.
    """
    m, n = shape
    amp = np.atleast_1d(np.asarray(amplitudes, dtype=np.float64))
    b = amp.size
    if levels is None:
        rows = np.zeros((b, m))
        rows[:, row] = amp
        r_mask: BoolArray = np.zeros(m, dtype=bool)
        r_mask[row] = True
        c_mask: BoolArray = np.zeros(n, dtype=bool)
        c_mask[col] = True
        return BiasScheme(row_left=LineDrive(voltage=rows, driven=r_mask),
                          col_bottom=LineDrive(voltage=np.zeros((b, n)), driven=c_mask))
    lr = np.broadcast_to(np.asarray(levels[0], dtype=np.float64), (b,))
    lc = np.broadcast_to(np.asarray(levels[1], dtype=np.float64), (b,))
    rows = np.repeat(lr[:, None], m, axis=1)
    rows[:, row] = amp
    cols = np.repeat(lc[:, None], n, axis=1)
    cols[:, col] = 0.0
    return BiasScheme(row_left=LineDrive(voltage=rows, driven=True), col_bottom=LineDrive(voltage=cols, driven=True))
