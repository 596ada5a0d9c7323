"""Biasing schemes: what each of the 2M row ends and 2N column ends of a crossbar sees.

Every line end is either *driven* at a voltage (through the line's driver or sense resistance) or
*floating*. A scheme is described without knowing the array size; it is resolved against the
crossbar's shape when the netlist is built, so one ``BiasScheme.read(v)`` serves any ``M x N``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np

from xbarsim._typing import BoolArray, FloatArray, WriteSchemeName
from xbarsim._validation import as_float_array, check_choice, readonly, short_repr
from xbarsim.errors import ConfigError

__all__ = ["LineDrive", "BiasScheme", "WRITE_SCHEMES"]

WRITE_SCHEMES: tuple[str, ...] = get_args(WriteSchemeName)


@dataclass(frozen=True, kw_only=True, eq=False)
class LineDrive:
    """The bias of one end (left, right, top or bottom) of a set of ``L`` lines.

    Attributes
    ----------
    voltage : float or ndarray, shape (L,) or (B, L)
        Volt. Voltage of the driven ends; a scalar applies to every line, a 2-D array is a batch of
        ``B`` operating points solved with one factorization. Ignored for floating ends.
    driven : bool or ndarray of bool, shape (L,)
        Which ends are driven (``True``) or left floating (``False``).
    select : int or None
        Optional index of one line that is driven at ``select_voltage`` whatever ``voltage`` and
        ``driven`` say (the selected line of a programming scheme).
    select_voltage : float
        Volt. Voltage of the selected line.
    """

    voltage: FloatArray | float = 0.0
    driven: BoolArray | bool = False
    select: int | None = None
    select_voltage: float = 0.0

    def __post_init__(self) -> None:
        v = as_float_array(self.voltage, "voltage", what="finite voltage in volt")
        if v.ndim > 2:
            raise ConfigError(f"`voltage` must be a scalar, (L,) or (B, L) array; got shape {v.shape}.")
        if v.ndim == 2 and v.shape[0] == 0:
            raise ConfigError(f"`voltage` is an empty batch (shape {v.shape}): give at least one operating point.")
        d = np.asarray(self.driven)
        if d.dtype != np.bool_ or d.ndim > 1:
            raise ConfigError(f"`driven` must be a bool or a 1-D bool array; got {short_repr(self.driven)}.")
        if self.select is not None and (isinstance(self.select, bool) or not isinstance(self.select, (int, np.integer))):
            raise ConfigError(f"`select` must be a line index (int) or None; got {short_repr(self.select)}.")
        sv = as_float_array(self.select_voltage, "select_voltage", what="finite voltage in volt")
        if sv.ndim != 0:
            raise ConfigError(f"`select_voltage` must be a scalar voltage in volt; got shape {sv.shape}.")
        object.__setattr__(self, "voltage", readonly(v))
        object.__setattr__(self, "driven", readonly(d))
        object.__setattr__(self, "select_voltage", float(sv))
        if self.select is not None:
            object.__setattr__(self, "select", int(self.select))

    @classmethod
    def floating(cls) -> LineDrive:
        """Every end floating."""
        return cls()

    @classmethod
    def at(cls, voltage: FloatArray | float) -> LineDrive:
        """Every end driven at ``voltage`` (V; scalar, (L,) or (B, L))."""
        return cls(voltage=voltage, driven=True)

    @property
    def batch_size(self) -> int | None:
        """``B`` if the voltages are batched, else ``None``."""
        v = np.asarray(self.voltage)
        return int(v.shape[0]) if v.ndim == 2 else None

    def resolve(self, n_lines: int, name: str, batch: int | None) -> tuple[FloatArray, BoolArray]:
        """Full arrays for ``n_lines`` lines: voltages ``(B, L)`` (``B = 1`` if unbatched) and mask ``(L,)``."""
        v = np.asarray(self.voltage, dtype=np.float64)
        d = np.asarray(self.driven)
        b = 1 if batch is None else batch
        if v.ndim >= 1 and v.shape[-1] != n_lines:
            raise ConfigError(f"`{name}.voltage` must have {n_lines} entries per operating point (one per line); got shape {v.shape}.")
        if d.ndim == 1 and d.shape[0] != n_lines:
            raise ConfigError(f"`{name}.driven` must have shape ({n_lines},); got shape {d.shape}.")
        volts = np.array(np.broadcast_to(v, (b, n_lines)), dtype=np.float64)
        mask = np.array(np.broadcast_to(d, (n_lines,)), dtype=bool)
        if self.select is not None:
            if not 0 <= self.select < n_lines:
                raise ConfigError(f"`{name}.select` must be a line index in [0, {n_lines - 1}]; got {self.select}.")
            volts[:, self.select] = self.select_voltage
            mask[self.select] = True
        volts[:, ~mask] = 0.0
        return volts, mask


@dataclass(frozen=True, kw_only=True, eq=False)
class BiasScheme:
    """What every line end of a crossbar sees.

    Row ends are ``row_left`` (at row node ``(i, 0)``) and ``row_right`` (at ``(i, N-1)``), each
    through the row's driver resistance. Column ends are ``col_bottom`` (at column node ``(M-1, j)``)
    and ``col_top`` (at ``(0, j)``), each through the column's sense resistance. A driven column end
    at 0 V is the virtual ground of a sense amplifier; the current flowing into it is the column's
    output current.

    Attributes
    ----------
    row_left, row_right, col_bottom, col_top : LineDrive
        Bias of each end; floating by default.
    """

    row_left: LineDrive = field(default_factory=LineDrive)
    row_right: LineDrive = field(default_factory=LineDrive)
    col_bottom: LineDrive = field(default_factory=LineDrive)
    col_top: LineDrive = field(default_factory=LineDrive)

    def __post_init__(self) -> None:
        sizes = {}
        for name in ("row_left", "row_right", "col_bottom", "col_top"):
            end = getattr(self, name)
            if not isinstance(end, LineDrive):
                raise ConfigError(f"`{name}` must be a LineDrive; got {type(end).__name__}.")
            if end.batch_size is not None:
                sizes[name] = end.batch_size
        if len(set(sizes.values())) > 1:
            raise ConfigError(f"batched voltages must share one batch size; got {sizes}.")

    @property
    def batch_size(self) -> int | None:
        """``B`` when any end carries a batch of voltages, else ``None``."""
        for end in (self.row_left, self.row_right, self.col_bottom, self.col_top):
            if end.batch_size is not None:
                return end.batch_size
        return None

    @classmethod
    def read(cls, v: Any) -> BiasScheme:
        """The read (inference) scheme.

        Rows are driven at their left end at ``v`` (volt, shape ``(M,)`` or a batch ``(B, M)``);
        columns are held at 0 V at their bottom end (the sense amplifiers' virtual ground); the
        right row ends and top column ends float.
        """
        arr = as_float_array(v, "v", what="finite voltage in volt")
        if arr.ndim not in (1, 2) or arr.shape[-1] < 1:
            raise ConfigError(f"`v` must have shape (M,) or (B, M); got shape {arr.shape}.")
        if arr.ndim == 2 and arr.shape[0] == 0:
            raise ConfigError(f"`v` is an empty batch (shape {arr.shape}): give at least one input vector.")
        return cls(row_left=LineDrive.at(arr), col_bottom=LineDrive.at(0.0))

    @classmethod
    def write(
        cls,
        row: int,
        col: int,
        v_write: float,
        scheme: WriteSchemeName = "v/2",
        *,
        shape: tuple[int, int] | None = None,
    ) -> BiasScheme:
        """A programming scheme that puts ``v_write`` across cell ``(row, col)``.

        The selected row is driven at ``v_write`` from its left end, the selected column held at 0 V at
        its bottom end. Unselected lines, from the same ends:

        ============  ====================  ======================
        scheme        unselected rows       unselected columns
        ============  ====================  ======================
        ``"v/2"``     ``v_write / 2``       ``v_write / 2``
        ``"v/3"``     ``v_write / 3``       ``2 v_write / 3``
        ``"grounded"``  0 V                 0 V
        ``"floating"``  floating            floating
        ============  ====================  ======================

        With ideal wires and linear devices, V/2 puts ``v_write/2`` on half-selected cells and 0 on
        the rest; V/3 puts ``v_write/3`` on half-selected cells and ``-v_write/3`` on the rest.
        ``v_write`` may be negative (a RESET pulse). Give ``shape=(M, N)`` to check the selection now;
        otherwise it is checked when the netlist is built.
        """
        check_choice(scheme, WRITE_SCHEMES, "scheme")
        for name, idx in (("row", row), ("col", col)):
            if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or idx < 0:
                raise ConfigError(f"`{name}` must be a non-negative line index (int); got {short_repr(idx)}.")
        vw = as_float_array(v_write, "v_write", what="finite voltage in volt")
        if vw.ndim != 0:
            raise ConfigError(f"`v_write` must be a scalar voltage in volt; got shape {vw.shape}.")
        v = float(vw)
        if shape is not None:
            if (not isinstance(shape, tuple | list) or len(shape) != 2
                    or not all(isinstance(x, int | np.integer) and not isinstance(x, bool) and x >= 1 for x in shape)):
                raise ConfigError(f"`shape` must be (M, N) with two positive ints; got {short_repr(shape)}.")
            m, n = (int(x) for x in shape)
            if not (row < m and col < n):
                raise ConfigError(f"cell (`row`, `col`) = ({row}, {col}) is outside the {m}x{n} array.")
        if scheme == "v/2":
            rows, cols = LineDrive.at(v / 2), LineDrive.at(v / 2)
        elif scheme == "v/3":
            rows, cols = LineDrive.at(v / 3), LineDrive.at(2 * v / 3)
        elif scheme == "grounded":
            rows, cols = LineDrive.at(0.0), LineDrive.at(0.0)
        elif scheme == "floating":
            rows, cols = LineDrive.floating(), LineDrive.floating()
        else:  # pragma: no cover - check_choice guards this
            raise ConfigError(f"`scheme` must be one of {WRITE_SCHEMES}; got {scheme!r}.")
        return cls(
            row_left=LineDrive(voltage=rows.voltage, driven=rows.driven, select=int(row), select_voltage=v),
            col_bottom=LineDrive(voltage=cols.voltage, driven=cols.driven, select=int(col), select_voltage=0.0),
        )
