"""One contract suite over every device model (DeviceModel protocol checklist), ngspice included."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.devices import DeviceModel, Ohmic, Sinh
from xbarsim.errors import ConfigError

NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


@dataclass(frozen=True)
class Case:
    model: DeviceModel
    symmetric: bool
    #: regex of the one SPICE line; named groups ``p``/``n`` are the nodes.
    pattern: str


CASES = {
    "ohmic": Case(Ohmic(), True, rf"^R(?P<name>\S+) (?P<p>\S+) (?P<n>\S+) (?P<r>{NUM})$"),
    **{
        f"sinh-a{a}": Case(
            Sinh(a=a),
            True,
            rf"^B(?P<name>\S+) (?P<p>\S+) (?P<n>\S+) I=(?P<k>{NUM})\*sinh\((?P<a>{NUM})\*\(V\((?P=p)\)-V\((?P=n)\)\)\)$",
        )
        for a in (0.3, 2.07, 6.0)
    },
}

G = np.array([0.0, 1e-6, 1e-4, 5e-4, 2e-3])
V = np.linspace(-1.2, 1.2, 25)


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def test_implements_protocol(case: Case) -> None:
    m = case.model
    assert isinstance(m, DeviceModel)
    assert isinstance(m.name, str) and m.name
    assert isinstance(m.linear, bool)
    assert dataclasses.is_dataclass(m)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "x"  # type: ignore[misc]


def test_linear_flag_means_exactly_ohmic(case: Case) -> None:
    vv, gg = np.meshgrid(V, G)
    i = case.model.current(vv, gg)
    if case.model.linear:
        np.testing.assert_array_equal(i, gg * vv)
    else:
        assert not np.allclose(i, gg * vv, rtol=1e-6)


def test_symmetry(case: Case) -> None:
    vv, gg = np.meshgrid(V, G)
    if case.symmetric:
        np.testing.assert_allclose(case.model.current(-vv, gg), -case.model.current(vv, gg), rtol=1e-14, atol=0)
        np.testing.assert_allclose(case.model.conductance(-vv, gg), case.model.conductance(vv, gg), rtol=1e-14)


def test_zero_current_at_zero_volts_and_zero_g(case: Case) -> None:
    assert np.all(case.model.current(np.zeros(3), G[2]) == 0)
    assert np.all(case.model.current(V, 0.0) == 0)


def test_small_signal_conductance_is_g(case: Case) -> None:
    np.testing.assert_allclose(case.model.conductance(0.0, G), G, rtol=1e-15, atol=0)
    # and the current's slope at 0 V (central difference) is g as well
    h = 1e-6
    slope = (case.model.current(h, G) - case.model.current(-h, G)) / (2 * h)
    np.testing.assert_allclose(slope, G, rtol=1e-9, atol=1e-20)


def test_derivative_matches_finite_differences(case: Case) -> None:
    vv, gg = np.meshgrid(V, G[1:])
    h = 1e-6
    fd = (case.model.current(vv + h, gg) - case.model.current(vv - h, gg)) / (2 * h)
    np.testing.assert_allclose(case.model.conductance(vv, gg), fd, rtol=1e-7)


def test_passive_and_monotone(case: Case) -> None:
    vv, gg = np.meshgrid(np.linspace(-3, 3, 61), G)
    assert np.all(case.model.conductance(vv, gg) >= 0)
    i = case.model.current(vv, gg)
    assert np.all(np.diff(i, axis=1) >= 0)
    assert np.all(i * vv >= 0)  # never delivers power


@settings(max_examples=60, deadline=None)
@given(
    v=st.floats(-2.0, 2.0, allow_nan=False),
    g=st.floats(1e-7, 1e-2, allow_nan=False),
    key=st.sampled_from(sorted(CASES)),
)
def test_property_derivative_and_sign(v: float, g: float, key: str) -> None:
    m = CASES[key].model
    h = 1e-5
    fd = (m.current(v + h, g) - m.current(v - h, g)) / (2 * h)
    assert m.conductance(v, g) >= g * (1 - 1e-12)  # dI/dV >= g > 0 for these laws
    assert np.isclose(m.conductance(v, g), fd, rtol=1e-6)


def test_broadcasting(case: Case) -> None:
    m = case.model
    v = np.linspace(-0.5, 0.5, 4).reshape(4, 1)
    g = np.array([[1e-5, 1e-4, 2e-4]])
    i = m.current(v, g)
    d = m.conductance(v, g)
    assert i.shape == d.shape == (4, 3)
    for r in range(4):
        for c in range(3):
            assert i[r, c] == pytest.approx(float(m.current(v[r, 0], g[0, c])), rel=1e-15)
            assert d[r, c] == pytest.approx(float(m.conductance(v[r, 0], g[0, c])), rel=1e-15)
    # batch of voltages against one conductance matrix, the solver's use
    vb = np.zeros((2, 4, 3))
    assert m.current(vb, g).shape == (2, 4, 3)
    assert m.conductance(vb, g).shape == (2, 4, 3)
    # scalars in, scalar-shaped out
    assert np.shape(m.current(0.1, 1e-4)) == ()


def test_spice_text_parses(case: Case) -> None:
    m = case.model
    assert m.spice_element("cell0_0", "r0_0", "c0_0", 0.0) == []
    g = 1.2345678901234567e-4
    lines = m.spice_element("cell2_3", "r2_3", "c2_3", g)
    assert len(lines) == 1
    match = re.match(case.pattern, lines[0])
    assert match is not None, lines[0]
    assert match["name"] == "cell2_3" and match["p"] == "r2_3" and match["n"] == "c2_3"
    if "r" in match.groupdict():
        assert float(match["r"]) == 1.0 / g
    else:
        assert isinstance(m, Sinh)
        assert float(match["a"]) == m.a
        assert float(match["k"]) == g / m.a


def _ngspice_one_cell(tmp_path: Path, ngspice: str, model: DeviceModel, g: float) -> tuple[np.ndarray, np.ndarray]:
    """DC-sweep one device across a voltage source in real ngspice; return (V, I into the device)."""
    lines = model.spice_element("cell0_0", "p", "0", g)
    cir = "\n".join(
        [
            "one cell",
            "V1 p 0 DC 0",
            *lines,
            ".dc V1 -1.2 1.2 0.3",
            ".end",
            "",
        ]
    )
    (tmp_path / "cell.cir").write_text(cir)
    proc = subprocess.run(
        [ngspice, "-b", "-r", "cell.raw", "cell.cir"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SPICE_ASCIIRAWFILE": "1"},  # full-precision ASCII raw file
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    raw = (tmp_path / "cell.raw").read_text().splitlines()
    names = []
    k = raw.index("Variables:") + 1
    while raw[k].startswith("\t"):
        names.append(raw[k].split()[1].lower())
        k += 1
    assert raw[k] == "Values:"
    values = np.array([float(tok) for line in raw[k + 1 :] for tok in line.split()[-1:] if line.strip()])
    values = values.reshape(-1, len(names))
    vp = values[:, names.index("v(p)")]
    # a source's branch current flows from + through the source, i.e. minus the device current
    return vp, -values[:, names.index("i(v1)")]


def test_ngspice_solves_the_same_law(case: Case, tmp_path: Path, ngspice_binary: str) -> None:
    g = 2.5e-4
    v, i = _ngspice_one_cell(tmp_path, ngspice_binary, case.model, g)
    assert v.size == 9 and v.min() < -1.1 and v.max() > 1.1
    expected = case.model.current(v, g)
    nonzero = np.abs(v) > 1e-12
    np.testing.assert_allclose(i[nonzero], expected[nonzero], rtol=1e-9, atol=0)
    assert np.all(np.abs(i[~nonzero]) < 1e-15)


def test_sinh_rejects_bad_a() -> None:
    for bad in (0.0, -1.0, float("nan"), float("inf"), "2", [1.0, 2.0]):
        with pytest.raises(ConfigError, match="`a`"):
            Sinh(a=bad)  # type: ignore[arg-type]


def test_sinh_refuses_an_a_whose_law_underflows() -> None:
    # found in review: Sinh(a=1e-320) read a 0.3 V, 100 uS cell as 5e-21 A (a v subnormal) instead of
    # the ohmic 3e-5 A it tends to, and ngspice's B-source gave 0 A from a = 1e-307 on; Vteam's a too
    from xbarsim.devices import Vteam

    for bad in (1e-320, 5e-324, 1e-200):
        with pytest.raises(ConfigError, match="`a` must be a sinh nonlinearity of at least 1e-150"):
            Sinh(a=bad)
        with pytest.raises(ConfigError, match="`a` must be a sinh nonlinearity"):
            Vteam(g_on=1e-3, g_off=1e-5, v_set=1.0, v_reset=-1.0, k_set=1.0, k_reset=1.0, iv="sinh", a=bad)
    np.testing.assert_allclose(Sinh(a=1e-150).current(np.array([0.3, -1e-9]), 1e-4), [3e-5, -1e-13], rtol=1e-15)


def test_sinh_tends_to_ohmic() -> None:
    v = np.linspace(-0.5, 0.5, 11)
    np.testing.assert_allclose(Sinh(a=1e-6).current(v, 1e-4), Ohmic().current(v, 1e-4), rtol=1e-11)
