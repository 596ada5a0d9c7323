"""Shared test helpers and fixtures: a seeded random generator and a factory of random crossbars.

Tests import the plain helpers (``random_crossbar``, ``backend_for``, ``assert_same_solution``)
with ``from xbartest import ...`` (``tests/`` is on ``pythonpath`` in pyproject.toml); a module name
of its own, because ``from xbartest import`` breaks as soon as a subfolder has a conftest.py too.
``tests/conftest.py`` re-exports the fixtures. Tests that use hypothesis draw their circuits from
strategies instead (function-scoped fixtures do not mix with ``@given``).
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from collections.abc import Callable
from pathlib import Path

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


CURRENT_FIELDS = ("output_currents", "input_currents", "cell_currents", "source_currents")
VOLTAGE_FIELDS = ("row_voltages", "col_voltages", "cell_voltages", "node_voltages")


def assert_same_solution(a: xb.Solution, b: xb.Solution, netlist: xb.Netlist, rtol: float = 1e-9) -> None:
    """``xb.assert_agree`` field by field, with absolute floors set by rounding and conditioning.

    ``assert_agree`` is relative to each field's largest entry, which fails for fields that are zero
    in exact arithmetic (the cell voltages of a line that floats at the potential of the lines it
    touches). Any backward-stable solver leaves an error of about ``eps kappa max|V|`` on node
    voltages, ``kappa = max G / min G`` over all elements (a floating column tied to its rows by 10 uS
    cells along 1 ohm segments: 1e5, and ~1e-12 V seen from every solver), so voltages get the floor
    ``max(1e-12, eps kappa) max|V|``. A current derived from node voltages through a conductance ``G``
    also loses ``eps |V| G`` to cancellation (a 0.5 ohm driver feeding 1 Mohm cells), so currents get
    ``64 eps max|V| max G`` plus the voltage floor times the largest cell conductance, and power that
    times ``max|V|``. At the values the tests draw, all floors stay below 1e-9 of the natural scale.
    """
    eps = np.finfo(float).eps
    v_max = float(np.abs(netlist.source_voltage).max(initial=0.0))
    g_cell = netlist.conductance[netlist.conductance > 0]
    g_all = np.concatenate([1.0 / netlist.resistor_values, g_cell])
    kappa = float(g_all.max() / g_all.min()) if g_all.size else 1.0
    atol_v = max(1e-12, eps * kappa) * v_max
    atol_i = 64 * eps * v_max * float(g_all.max(initial=0.0)) + atol_v * float(g_cell.max(initial=0.0))
    xb.assert_agree(a, b, rtol=rtol, atol=atol_v, fields=VOLTAGE_FIELDS)
    xb.assert_agree(a, b, rtol=rtol, atol=atol_i, fields=CURRENT_FIELDS)
    xb.assert_agree(a, b, rtol=rtol, atol=atol_i * v_max, fields=("power",))


def exact_operating_point(netlist: xb.Netlist, index: int = 0) -> tuple[list[Fraction], list[Fraction]]:
    """Node voltages and source currents of batch entry ``index`` in exact rational arithmetic.

    The element values are the doubles of the netlist taken exactly (``Fraction(float)``), so this is
    the answer a solver with no rounding at all would give for the same data. Sparse Gaussian
    elimination on the nodal equations of the unknown nodes (rows as dicts); only for small circuits.
    Linear (ohmic) devices only. Source current = current delivered into the circuit by each source.
    """
    assert netlist.device.linear
    from xbarsim.solver.solution import element_arrays  # the same element list every backend uses

    a, b = element_arrays(netlist)
    g = [1 / Fraction(float(r)) for r in netlist.resistor_values] + [Fraction(float(x)) for x in netlist.conductance.ravel()]
    fixed = {int(s): Fraction(float(v)) for s, v in zip(netlist.source_node, netlist.source_voltage[index])}
    unknown = [k for k in range(netlist.n_nodes) if k not in fixed]
    pos = {k: i for i, k in enumerate(unknown)}
    rows: list[dict[int, Fraction]] = [{} for _ in unknown]
    rhs = [Fraction(0)] * len(unknown)
    for ea, eb, ge in zip(a.tolist(), b.tolist(), g):
        if ge == 0:
            continue
        for p, q in ((ea, eb), (eb, ea)):
            if p in pos:
                r = rows[pos[p]]
                r[pos[p]] = r.get(pos[p], Fraction(0)) + ge
                if q in pos:
                    r[pos[q]] = r.get(pos[q], Fraction(0)) - ge
                else:
                    rhs[pos[p]] += ge * fixed[q]
    nu = len(unknown)
    for c in range(nu):  # SPD: no pivoting needed; eliminate column c from the rows that hold it
        pivot_row = rows[c]
        pivot = pivot_row[c]
        for r in range(c + 1, nu):
            f = rows[r].get(c)
            if f:
                f = f / pivot
                for k, val in pivot_row.items():
                    if k >= c:
                        rows[r][k] = rows[r].get(k, Fraction(0)) - f * val
                rhs[r] -= f * rhs[c]
    x = [Fraction(0)] * nu
    for c in reversed(range(nu)):
        s = rhs[c] - sum((val * x[k] for k, val in rows[c].items() if k > c), Fraction(0))
        x[c] = s / rows[c][c]
    v = [fixed[k] if k in fixed else x[pos[k]] for k in range(netlist.n_nodes)]
    net = [Fraction(0)] * netlist.n_nodes  # current leaving each node through the elements
    for ea, eb, ge in zip(a.tolist(), b.tolist(), g):
        i = ge * (v[ea] - v[eb])
        net[ea] += i
        net[eb] -= i
    share = np.bincount(netlist.source_node, minlength=netlist.n_nodes)
    src = [net[int(s)] / int(share[int(s)]) for s in netlist.source_node]
    return v, src


def assert_refuses_planted_symlink(tmp_path: Path, name: str, run: Callable[[Path], object]) -> Path:
    """Plant ``out/<name>`` as a symlink to a file outside, call ``run(out)``: it must raise a
    ConfigError naming the symlink, and leave the link and its target as they were. Returns ``out``."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(victim)
    with pytest.raises(xb.ConfigError, match="symlink"):
        run(out)
    assert victim.read_text() == "precious\n" and (out / name).is_symlink()
    return out


def central_differences(f: Callable[[list[np.ndarray]], float], params: list[np.ndarray],
                        h: float = 1e-6) -> list[np.ndarray]:
    """The gradient of ``f`` at ``params`` (a list of arrays) by central differences, entry by entry:
    the independent check of an analytic gradient."""
    out = [np.empty(p.shape) for p in params]
    for k, p in enumerate(params):
        for idx in np.ndindex(p.shape):
            up = [q.copy() for q in params]
            down = [q.copy() for q in params]
            up[k][idx] += h
            down[k][idx] -= h
            out[k][idx] = (f(up) - f(down)) / (2 * h)
    return out
