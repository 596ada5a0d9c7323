"""Independent checks usable on any backend's result: KCL residuals and agreement between solutions."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

import numpy as np

from xbarsim.errors import ConfigError
from xbarsim.solver.solution import Solution

__all__ = ["COMPARED_FIELDS", "Difference", "compare", "assert_agree"]

#: Fields compared by :func:`compare` and :func:`xbarsim.solver.crosscheck`.
COMPARED_FIELDS = ("output_currents", "input_currents", "row_voltages", "col_voltages", "cell_voltages",
                   "cell_currents", "node_voltages", "source_currents", "power")


@dataclass(frozen=True, kw_only=True)
class Difference:
    """Largest absolute difference (SI unit of the field) and the relative one,
    ``abs / max(max|a|, max|b|)``: the same whichever solution comes first (0 where both are zero)."""

    abs: float
    rel: float


def compare(a: Solution, b: Solution, fields: Sequence[str] = COMPARED_FIELDS) -> dict[str, Difference]:
    """Per-field differences between two solutions of the same netlist (``fields``: which ones)."""
    for label, sol in (("a", a), ("b", b)):
        if not isinstance(sol, Solution):
            raise ConfigError(f"`{label}` must be a Solution; got {type(sol).__name__}.")
    out: dict[str, Difference] = {}
    for name in fields:
        if name not in COMPARED_FIELDS:
            raise ConfigError(f"`fields` must name fields among {', '.join(COMPARED_FIELDS)}; got {name!r}.")
        x = np.asarray(getattr(a, name), dtype=float)
        y = np.asarray(getattr(b, name), dtype=float)
        if x.shape != y.shape:
            raise ConfigError(f"solutions differ in the shape of `{name}`: {x.shape} vs {y.shape}")
        d = float(np.abs(x - y).max()) if x.size else 0.0
        # both magnitudes: a field that is zero in one solution (the column voltages of the ideal
        # backend) made abs / max|a| infinite for one order of the backends and 1 for the other
        scale = max(float(np.abs(x).max()), float(np.abs(y).max())) if x.size else 0.0
        out[name] = Difference(abs=d, rel=d / scale if scale > 0 else (0.0 if d == 0 else np.inf))
    return out


def assert_agree(a: Solution, b: Solution, rtol: float = 1e-9, atol: float = 0.0, fields: Any = None) -> None:
    """Raise ``AssertionError`` unless every field agrees: ``max|a-b| <= atol + rtol * max|a|``.

    The tolerance is relative to the largest magnitude of each field, so tiny entries (the
    currents of open cells, say) are not held to an impossible relative accuracy.
    """
    for label, tol in (("rtol", rtol), ("atol", atol)):
        if isinstance(tol, bool) or not isinstance(tol, float | int) or not (tol >= 0 and np.isfinite(tol)):
            raise ConfigError(f"`{label}` must be a finite non-negative tolerance; got {tol!r}.")
    names = tuple(fields) if fields is not None else COMPARED_FIELDS
    diffs = compare(a, b, names)
    bad = []
    for name in names:
        scale = float(np.abs(np.asarray(getattr(a, name))).max()) if np.size(getattr(a, name)) else 0.0
        if diffs[name].abs > atol + rtol * scale:
            bad.append(f"{name}: max abs diff {diffs[name].abs:.3e} (rel {diffs[name].rel:.3e})")
    if bad:
        raise AssertionError(f"{a.backend} and {b.backend} disagree beyond rtol={rtol}, atol={atol}:\n  " + "\n  ".join(bad))
