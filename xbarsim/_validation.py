"""Input checks shared by every layer; each raises ConfigError naming the parameter and the value."""

from __future__ import annotations

from typing import Any

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim.errors import ConfigError

__all__ = ["MAX_ELEMENTS", "as_float_array", "check_shape", "check_choice", "check_int", "check_size", "readonly", "short_repr"]

#: Largest array (number of elements) any public entry point accepts: 10^8 cells (a 10,000 x 10,000
#: crossbar) is already ~10 GB of solver state; beyond it a request is refused before allocating.
MAX_ELEMENTS = 10**8


def check_size(shape: tuple[int, ...], name: str) -> None:
    """Raise ConfigError if an array of ``shape`` would exceed :data:`MAX_ELEMENTS`."""
    total = 1
    for dim in shape:
        total *= int(dim)
    if total > MAX_ELEMENTS:
        raise ConfigError(f"`{name}` of shape {tuple(shape)} has {total:.3g} elements, more than the "
                          f"{MAX_ELEMENTS:.0e} this toolkit accepts.")


def short_repr(value: Any) -> str:
    """A repr of ``value`` short enough for an error message."""
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"array({value.tolist()!r})"
        bad = value[~np.isfinite(value)] if value.dtype.kind == "f" else value.ravel()[:0]
        extra = f", first non-finite {bad.ravel()[0]!r}" if bad.size else ""
        return f"array of shape {value.shape}{extra}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_float_array(
    value: Any,
    name: str,
    *,
    what: str,
    min_value: float | None = None,
    allow_inf: bool = False,
) -> FloatArray:
    """Convert ``value`` to a finite float64 array or raise ConfigError.

    ``what`` is a phrase such as "non-negative resistance in ohm" used in the message
    "`name` must be a <what>; got <value>.".
    """
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, type):
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    if isinstance(value, np.ndarray):
        check_size(value.shape, name)
    try:
        is_complex = np.iscomplexobj(value)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.") from exc
    if is_complex:
        raise ConfigError(f"`{name}` must be a {what} (real numbers); got a complex value.")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.") from exc
    if arr.dtype.kind != "f":  # pragma: no cover - np.array(..., float64) guarantees it
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    if np.isnan(arr).any() or (not allow_inf and np.isinf(arr).any()):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ConfigError(f"`{name}` must be a {what}; got {bad!r} (it must be finite).")
    if min_value is not None and (arr < min_value).any():
        bad = arr[arr < min_value].ravel()[0]
        raise ConfigError(f"`{name}` must be a {what}; got {bad!r}.")
    return arr


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    """``value`` as a Python int in ``[lo, hi]`` (bools refused), or ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise ConfigError(f"`{name}` must be an int in [{lo}, {hi}]; got {value!r:.80}.")
    return int(value)


def check_shape(arr: np.ndarray, shapes: tuple[tuple[int, ...], ...], name: str) -> None:
    """Raise ConfigError unless ``arr.shape`` is one of ``shapes``."""
    if arr.shape not in shapes:
        allowed = " or ".join(str(s) for s in shapes)
        raise ConfigError(f"`{name}` must have shape {allowed}; got shape {arr.shape}.")


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"`{name}` must be one of {', '.join(map(repr, choices))}; got {short_repr(value)}.")


def readonly(arr: np.ndarray) -> np.ndarray:
    """Return a read-only copy of ``arr``."""
    out = np.array(arr, copy=True)
    out.setflags(write=False)
    return out
