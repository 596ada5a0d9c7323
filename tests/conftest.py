"""Shared fixtures: a seeded random generator and a factory of random crossbars.

Tests that use hypothesis draw their circuits from strategies instead (function-scoped fixtures
do not mix with ``@given``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import numpy as np
import pytest

import xbarsim as xb

#: Backends every solver contract is checked against; ngspice is real, never mocked or skipped.
BACKEND_IDS = ("sparse-direct", "sparse-iterative", "ngspice")


def backend_for(backend_id: str) -> xb.Backend:
    """A backend object for one of :data:`BACKEND_IDS`."""
    if backend_id == "sparse-direct":
        return xb.SparseBackend(xb.SparseOptions(method="direct"))
    if backend_id == "sparse-iterative":
        return xb.SparseBackend(xb.SparseOptions(method="iterative"))
    if backend_id == "ngspice":
        return xb.NgspiceBackend()
    raise ValueError(backend_id)


@pytest.fixture(params=BACKEND_IDS)
def backend(request: pytest.FixtureRequest) -> xb.Backend:
    """Each backend in turn (the sparse backend once per solve path)."""
    return backend_for(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test, so every test is reproducible on its own."""
    return np.random.default_rng(20240603)


def random_lines(
    rng: np.random.Generator,
    m: int,
    n: int,
    *,
    r_range: tuple[float, float] = (0.5, 20.0),
    end_range: tuple[float, float] = (1.0, 100.0),
    zero_fraction: float = 0.0,
) -> xb.LineResistance:
    """Full-array line resistances (ohm), log-uniform in the ranges, a fraction set to exactly 0."""

    def draw(shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
        r = np.exp(rng.uniform(np.log(lo), np.log(hi), shape))
        r[rng.random(shape) < zero_fraction] = 0.0
        return r

    return xb.LineResistance(
        row_segment=draw((m, n - 1), *r_range),
        col_segment=draw((m - 1, n), *r_range),
        row_driver=draw((m,), *end_range),
        col_sense=draw((n,), *end_range),
    )


def random_crossbar(
    rng: np.random.Generator,
    m: int,
    n: int,
    *,
    g_range: tuple[float, float] = (1e-6, 1e-4),
    g_zero_fraction: float = 0.0,
    lines: xb.LineResistance | None = None,
    **line_kwargs: object,
) -> xb.Crossbar:
    """A random ``m x n`` crossbar: conductances uniform in ``g_range`` (S), optional open cells."""
    g = rng.uniform(*g_range, size=(m, n))
    g[rng.random((m, n)) < g_zero_fraction] = 0.0
    if lines is None:
        lines = random_lines(rng, m, n, **line_kwargs)  # type: ignore[arg-type]
    return xb.Crossbar(conductance=g, lines=lines)


@pytest.fixture
def make_crossbar(rng: np.random.Generator) -> Callable[..., xb.Crossbar]:
    """Factory ``make_crossbar(m, n, **kwargs)`` of random crossbars drawn from the seeded ``rng``."""

    def make(m: int, n: int, **kwargs: object) -> xb.Crossbar:
        return random_crossbar(rng, m, n, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def ngspice_binary() -> str:
    """Path of the ``ngspice`` executable. Missing ngspice is a failure, not a skip (STYLE.md section 6)."""
    path = shutil.which("ngspice")
    assert path is not None, "the ngspice binary is not on PATH; `make test` installs it"
    return path
