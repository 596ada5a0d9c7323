"""The one set of input checks shared by every layer; each raises ConfigError naming the parameter and the value.

Values in messages are written as a user writes them (``got -1.0``, not ``got np.float64(-1.0)``):
every check formats through :func:`short_repr`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim._typing import FloatArray, ProgressCallback
from xbarsim.errors import ConfigError

__all__ = [
    "MAX_ELEMENTS",
    "as_float_array",
    "as_rng",
    "check_callable",
    "plain_scalars",
    "check_choice",
    "check_int",
    "check_progress",
    "check_rng",
    "check_shape",
    "check_size",
    "conductance_array",
    "fraction",
    "read_toml",
    "readonly",
    "scalar",
    "shape_tuple",
    "short_repr",
]

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
    """``value`` as a user would write it, short enough for an error message: numpy scalars as plain
    numbers (``-1.0``, not ``np.float64(-1.0)``), small arrays as lists, large ones by shape."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"array({value.tolist()!r})"
        bad = value[~np.isfinite(value)] if value.dtype.kind == "f" else value.ravel()[:0]
        extra = f", first non-finite {short_repr(bad.ravel()[0])}" if bad.size else ""
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
    try:
        raw = np.asarray(value)  # one look at what it holds; no copy for an array
    except (TypeError, ValueError, OverflowError) as exc:  # ragged nested sequences
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.") from exc
    check_size(raw.shape, name)
    # a bool (or a boolean mask) is not a number of any unit: True would silently be 1 S, 1 V or 1 ohm
    if raw.dtype.kind == "b":
        raise ConfigError(f"`{name}` must be a {what}; got booleans ({short_repr(value)}), not numbers.")
    if raw.dtype.kind == "c":
        raise ConfigError(f"`{name}` must be a {what} (real numbers); got a complex value.")
    # text, bytes, dates and durations convert to floats too ("1.5" -> 1.5, a date -> days since 1970:
    # 2020-01-01 read as 18262 V), but none of them is a number of any unit
    if raw.dtype.kind in _NOT_NUMBERS:
        raise ConfigError(f"`{name}` must be a {what}; got {_NOT_NUMBERS[raw.dtype.kind]} ({short_repr(value)}), "
                          "not numbers.")
    if isinstance(value, (list, tuple)) and raw.dtype.kind in "iuf" and _holds_bool(value):
        # numpy makes [0.3, True] a float array [0.3, 1.0]: the True is only visible in the sequence
        raise ConfigError(f"`{name}` must be a {what}; got a boolean among its values ({short_repr(value)}), "
                          "not a number.")
    if raw.dtype.kind == "O":  # a mixed sequence: None would become nan, True 1.0, "2" 2.0
        for item in raw.flat:
            if item is None or isinstance(item, (bool, np.bool_, str, bytes, np.datetime64, np.timedelta64)):
                raise ConfigError(f"`{name}` must be a {what}; got {short_repr(item)} among its values, not a number.")
    try:
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.") from exc
    if arr.dtype.kind != "f":  # pragma: no cover - np.array(..., float64) guarantees it
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    if np.isnan(arr).any() or (not allow_inf and np.isinf(arr).any()):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(bad)} (it must be finite).")
    if min_value is not None and (arr < min_value).any():
        bad = arr[arr < min_value].ravel()[0]
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(bad)}.")
    return arr


def _holds_bool(seq: list[Any] | tuple[Any, ...]) -> bool:
    """Whether a (nested) list or tuple holds a bool anywhere."""
    stack: list[Any] = [seq]
    while stack:
        items = stack.pop()
        kinds = set(map(type, items))  # one C-speed pass per innermost list
        if bool in kinds or np.bool_ in kinds:
            return True
        if list in kinds or tuple in kinds:
            stack.extend(x for x in items if isinstance(x, (list, tuple)))
    return False


#: Array kinds that numpy converts to float64 but that hold no numbers (see :func:`as_float_array`).
_NOT_NUMBERS = {"U": "text", "S": "bytes", "V": "raw records", "M": "dates", "m": "durations"}


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    """``value`` as a Python int in ``[lo, hi]`` (bools refused), or ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise ConfigError(f"`{name}` must be an int in [{lo}, {hi}]; got {short_repr(value)}.")
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


def scalar(value: Any, name: str, *, what: str, min_value: float | None = None, positive: bool = False) -> float:
    """``value`` as a finite Python float, or ConfigError "`name` must be a <what>; got <value>."."""
    if isinstance(value, bool):
        raise ConfigError(f"`{name}` must be a {what}; got {value!r}.")
    arr = as_float_array(value, name, what=what, min_value=min_value)
    if arr.ndim != 0:
        raise ConfigError(f"`{name}` must be a {what} (a scalar); got {short_repr(value)}.")
    out = float(arr)
    if positive and out <= 0.0:
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    return out


def fraction(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1] (a rate or probability)."""
    out = scalar(value, name, what="fraction in [0, 1]", min_value=0.0)
    if out > 1.0:
        raise ConfigError(f"`{name}` must be a fraction in [0, 1]; got {short_repr(value)}.")
    return out


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """``rng`` itself if it is a numpy Generator; no hidden global random state is ever used."""
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"`{name}` must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)); got "
            f"{type(rng).__name__}."
        )
    return rng


def as_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A Generator from ``rng``: a Generator as it is, an int seed >= 0, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and int(rng) >= 0):
        return np.random.default_rng(None if rng is None else int(rng))
    raise ConfigError(f"`{name}` must be a numpy.random.Generator, an int seed >= 0 or None; got {short_repr(rng)}.")


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
        shape: tuple[int, ...] | None = (int(value),)
    elif isinstance(value, (tuple, list)) and all(is_size(x) for x in value):
        shape = tuple(int(x) for x in value)
    else:
        shape = None
    if shape is not None:
        check_size(shape, name)
        return shape
    raise ConfigError(f"`{name}` must be a shape (a tuple of non-negative ints); got {short_repr(value)}.")


def read_toml(path: Any, what: str) -> dict[str, Any]:
    """The table of the TOML file ``path``; ConfigError naming the file for anything unreadable.

    ``what`` names the kind of file in messages ("experiment config", "sweep config"). Unreadable,
    non-UTF-8, invalid and absurdly nested files (which make the parser recurse too deep) all give
    one typed error.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"`path` must be the path of a TOML file; got {short_repr(path)}.")
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {p}: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{p}: invalid TOML: nested too deeply.") from None


def plain_scalars(obj: Any) -> None:
    """Turn the numpy integer and floating scalars in the fields of the frozen dataclass ``obj`` into
    Python ints and floats, so that its checks and reprs take ``np.int64(5)`` as ``5`` (before:
    "must be a positive int; got np.int64(5)"). Numpy bools stay as they are, for the checks to refuse."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.integer):
            object.__setattr__(obj, f.name, int(value))
        elif isinstance(value, np.floating):
            object.__setattr__(obj, f.name, float(value))


def check_callable(value: Any, name: str, signature: str, *, none: bool = True) -> Any:
    """``value`` if it is callable (or None, where ``none``); else ConfigError naming ``name`` and the
    ``signature`` it is called with. Hooks are checked before any work: called late, a bad one was
    Python's "'int' object is not callable" at the first batch, layer or line."""
    if callable(value) or (none and value is None):
        return value
    raise ConfigError(f"`{name}` must be {'None or ' if none else ''}a callable {signature}; got {short_repr(value)}.")


def check_progress(progress: Any) -> ProgressCallback | None:
    """``progress`` if it is None or a callable ``(label, done, total)``; ConfigError otherwise."""
    return check_callable(progress, "progress", "(label, done, total)")  # type: ignore[no-any-return]
