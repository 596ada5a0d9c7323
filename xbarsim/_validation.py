"""Input checks shared by every layer; each raises ConfigError naming the parameter and the value."""

from __future__ import annotations

from typing import Any

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim.errors import ConfigError

__all__ = ["as_float_array", "check_shape", "check_choice", "readonly", "short_repr"]


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
    if isinstance(value, (str, bytes)) or value is None:
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.") from exc
    if np.isnan(arr).any() or (not allow_inf and np.isinf(arr).any()):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ConfigError(f"`{name}` must be a {what}; got {bad!r} (it must be finite).")
    if min_value is not None and (arr < min_value).any():
        bad = arr[arr < min_value].ravel()[0]
        raise ConfigError(f"`{name}` must be a {what}; got {bad!r}.")
    return arr


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
