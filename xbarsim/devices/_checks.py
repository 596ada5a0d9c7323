"""Parameter checks shared by the device modules; each raises ConfigError naming the parameter."""

from __future__ import annotations

from typing import Any

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, check_size, short_repr
from xbarsim.errors import ConfigError

__all__ = ["scalar", "fraction", "check_rng", "conductance_array", "shape_tuple"]


def scalar(value: Any, name: str, *, what: str, min_value: float | None = None, positive: bool = False) -> float:
    """``value`` as a finite Python float, or ConfigError "`name` must be a <what>; got <value>."."""
    if isinstance(value, bool):
        raise ConfigError(f"`{name}` must be a {what}; got {value!r}.")
    arr = as_float_array(value, name, what=what, min_value=min_value)
    if arr.ndim != 0:
        raise ConfigError(f"`{name}` must be a {what} (a scalar); got {short_repr(value)}.")
    out = float(arr)
    if positive and out <= 0.0:
        raise ConfigError(f"`{name}` must be a {what}; got {value!r}.")
    return out


def fraction(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1] (a rate or probability)."""
    out = scalar(value, name, what="fraction in [0, 1]", min_value=0.0)
    if out > 1.0:
        raise ConfigError(f"`{name}` must be a fraction in [0, 1]; got {value!r}.")
    return out


def check_rng(rng: Any) -> np.random.Generator:
    """``rng`` itself if it is a numpy Generator; no hidden global random state is ever used."""
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"`rng` must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)); got {type(rng).__name__}."
        )
    return rng


def conductance_array(value: Any, name: str, *, allow_negative: bool = False) -> FloatArray:
    """``value`` as a finite float64 array of conductances in siemens (non-negative unless allowed)."""
    if allow_negative:
        return as_float_array(value, name, what="array of conductances in siemens")
    return as_float_array(value, name, what="array of non-negative conductances in siemens", min_value=0.0)


def shape_tuple(value: Any, name: str) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ints >= 0) as a shape tuple."""

    def is_size(x: Any) -> bool:
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and int(x) >= 0

    if is_size(value):
        shape: tuple[int, ...] = (int(value),)
    elif isinstance(value, (tuple, list)) and all(is_size(x) for x in value):
        shape = tuple(int(x) for x in value)
    else:
        shape = None  # type: ignore[assignment]
    if shape is not None:
        check_size(shape, name)
        return shape
    raise ConfigError(f"`{name}` must be a shape (a tuple of non-negative ints); got {short_repr(value)}.")
