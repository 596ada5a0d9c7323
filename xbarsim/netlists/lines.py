"""Wire (line) resistance of a crossbar: segments, drivers and sense resistances."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, readonly
from xbarsim.errors import ConfigError

__all__ = ["LineResistance"]

_WHAT = "non-negative resistance in ohm"


@dataclass(frozen=True, kw_only=True, eq=False)
class LineResistance:
    """Resistance of every wire segment and line end of an ``M x N`` crossbar, in ohm.

    Each field is a scalar (the same value everywhere) or an array of exactly the stated shape.
    Zero is an ideal wire: the two nodes are merged, never stamped as ``1/0``.

    Attributes
    ----------
    row_segment : float or ndarray, shape (M, N-1)
        Ohm. Between row nodes ``(i, j)`` and ``(i, j+1)``.
    col_segment : float or ndarray, shape (M-1, N)
        Ohm. Between column nodes ``(i, j)`` and ``(i+1, j)``.
    row_driver : float or ndarray, shape (M,)
        Ohm. Output resistance of row driver ``i``, in series between the driver and row node
        ``(i, 0)`` (left-end driver) or ``(i, N-1)`` (right-end driver).
    col_sense : float or ndarray, shape (N,)
        Ohm. Between column node ``(M-1, j)`` (bottom-end sense) or ``(0, j)`` (top-end sense) and the
        sense node of column ``j``.
    """

    __repr__ = compact_repr

    row_segment: FloatArray | float = 0.0
    col_segment: FloatArray | float = 0.0
    row_driver: FloatArray | float = 0.0
    col_sense: FloatArray | float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            arr = as_float_array(getattr(self, f.name), f.name, what=_WHAT, min_value=0.0)
            if arr.ndim > 2:
                raise ConfigError(f"`{f.name}` must be a scalar or an array of at most 2 dimensions; got shape {arr.shape}.")
            if arr.size == 0 and arr.ndim < 2:  # only a (M, 0) / (0, N) segment array of a 1-wide array is empty
                raise ConfigError(f"`{f.name}` must be a scalar or an array of resistances in ohm; got an empty "
                                  f"array of shape {arr.shape}.")
            object.__setattr__(self, f.name, readonly(arr))

    @classmethod
    def uniform(cls, segment: float = 0.0, *, driver: float = 0.0, sense: float = 0.0) -> LineResistance:
        """Same segment resistance on every row and column wire, one driver and one sense value (ohm)."""
        return cls(row_segment=segment, col_segment=segment, row_driver=driver, col_sense=sense)

    def expected_shapes(self, m: int, n: int) -> dict[str, tuple[int, ...]]:
        """Full array shape of each field for an ``m x n`` crossbar."""
        return {
            "row_segment": (m, n - 1),
            "col_segment": (m - 1, n),
            "row_driver": (m,),
            "col_sense": (n,),
        }

    def broadcast(self, m: int, n: int) -> LineResistance:
        """A copy whose four fields are full arrays for an ``m x n`` crossbar.

        Raises
        ------
        ConfigError
            If an array field has a shape other than the one stated for its field.
        """
        full: dict[str, Any] = {}
        for name, shape in self.expected_shapes(m, n).items():
            arr = np.asarray(getattr(self, name))
            if arr.ndim == 0:
                full[name] = np.full(shape, float(arr))
            elif arr.shape == shape:
                full[name] = arr
            else:
                raise ConfigError(
                    f"`{name}` must be a scalar or have shape {shape} for a {m}x{n} crossbar; got shape {arr.shape}."
                )
        return replace(self, **full)
