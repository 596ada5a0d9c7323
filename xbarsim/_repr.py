"""Short ``repr`` and text tables for result objects (base layer: numpy only).

A dataclass's generated ``repr`` prints every array in full: 20-30 KB for one result of a 64x64
array. :func:`compact_repr` prints each field as a summary instead (arrays as ``float64[64, 64]``
with their range, nested results by class name, long tuples by length), and stays under
:data:`REPR_LIMIT` characters. A class opts in with ``__repr__ = compact_repr``; ``figures``
(a method returning a dict) puts its key numbers first. :func:`text_table` formats the rows of a
``.report()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["REPR_LIMIT", "compact_repr", "summarize", "text_table"]

#: Longest repr :func:`compact_repr` returns (characters).
REPR_LIMIT = 400


def _number(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.4g}"


def summarize(value: Any, width: int = 60) -> str:
    """A one-line summary of ``value`` at most about ``width`` characters long."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0 and value.dtype.kind in "fiub":  # a scalar field stored as an array
            return _number(value[()])
        head = f"{value.dtype}[{', '.join(map(str, value.shape))}]"
        if value.size and value.dtype.kind in "fiub":
            if value.size <= 4:
                return f"{head} {np.array2string(value.ravel(), precision=4, separator=', ')}"
            finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
            if finite.size:
                return f"{head} in [{_number(finite.min())}, {_number(finite.max())}]"
        return head
    if isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating)):
        return _number(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        text = repr(value)
        return text if len(text) <= width else f"{type(value).__name__}(...)"
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, np.ndarray) for v in value):
        shapes = ", ".join(f"{v.dtype}[{', '.join(map(str, v.shape))}]" for v in value[:4])
        return f"({shapes}{', ...' if len(value) > 4 else ''})"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(summarize(v, width // 2) for v in value[:4])
        if len(value) <= 4 and len(inner) <= width:
            return f"({inner}{',' if len(value) == 1 else ''})" if isinstance(value, tuple) else f"[{inner}]"
        kinds = sorted({type(v).__name__ for v in value})
        return f"<{len(value)} {'/'.join(kinds)}>"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k!s}: {summarize(v, 20)}" for k, v in list(value.items())[:4])
        return f"{{{inner}}}" if len(value) <= 4 and len(inner) <= width else f"<mapping of {len(value)}>"
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def compact_repr(obj: Any) -> str:
    """``ClassName(key figures, field=summary, ...)`` of a dataclass instance, at most :data:`REPR_LIMIT` long.

    ``obj.figures()``, when the class defines it, gives named key numbers printed first.
    """
    parts: list[str] = []
    figures = getattr(obj, "figures", None)
    if callable(figures):
        parts.extend(f"{k}={summarize(v, 40)}" for k, v in figures().items())
    for f in dataclasses.fields(obj):
        if f.repr:
            parts.append(f"{f.name}={summarize(getattr(obj, f.name))}")
    name = type(obj).__name__
    out = f"{name}("
    for k, part in enumerate(parts):
        tail = f", ... {len(parts) - k} more)"
        if len(out) + len(part) + len(tail) + 2 > REPR_LIMIT:
            return out + tail[2 if k == 0 else 0:]
        out += ("" if k == 0 else ", ") + part
    return out + ")"


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows under a header, columns right-aligned (numbers to 4 significant digits)."""
    cells = [[str(h) for h in header]] + [[c if isinstance(c, str) else _number(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
