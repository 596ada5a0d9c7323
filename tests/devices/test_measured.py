"""The measured data shipped as package data load with the right shapes and units."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest

from xbarsim.devices import (
    DROLET_FAILURE_MAPS,
    LEA_KERNELS,
    drolet_disturbance_samples,
    drolet_disturbance_stats,
    drolet_failure_maps,
    lea_iv_curves,
    lea_kernel17_multibit,
    lea_kernel_map,
)
from xbarsim.errors import ConfigError

DATA = resources.files("xbarsim.devices") / "data"


def test_every_shipped_file_is_documented_and_every_documented_file_is_shipped() -> None:
    names = {p.name for p in DATA.iterdir() if p.is_file()}
    assert "README.md" in names
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for required in ("BSD-3-Clause", "MIT License", "arXiv:2404.15621", "arXiv:2305.18495", "1e-12 S"):
        assert required in readme
    assert len([n for n in names if n.startswith("iv_")]) == 38
    assert len([n for n in names if re.fullmatch(r"greedy_simple_alpha4_beta4_kernel\d+\.txt", n)]) == len(LEA_KERNELS)
    assert len([n for n in names if n.startswith("dead_xbar_")]) == len(DROLET_FAILURE_MAPS)
    for stem in ("conductance_map_multibit_k17.txt", "biasing_disturbance_stats.csv", "greedy_simple_alpha4_beta4_offsets.txt"):
        assert stem in names and stem in readme
    # nothing bigger than the library needs
    assert sum((DATA / n).stat().st_size for n in names) < 2_000_000  # type: ignore[attr-defined]


@pytest.mark.parametrize("k", LEA_KERNELS)
def test_lea_kernel_maps(k: int) -> None:
    g = lea_kernel_map(k)
    assert g.shape == (25, 25)
    assert not g.flags.writeable
    # siemens: the bulk sits at G_OFF/G_ON (133/233 uS), stuck devices far outside
    assert 120e-6 < np.median(g) < 160e-6
    assert g.max() < 2e-3 and g.min() > -20e-6


def test_lea_kernel17_multibit_is_converted_to_siemens() -> None:
    g = lea_kernel17_multibit()
    assert g.shape == (25, 25)
    assert 140e-6 < np.median(g) < 170e-6  # 4 levels 133-233 uS
    assert 70e-6 < g.min() and g.max() < 1.5e-3
    assert int(np.sum(g > 300e-6)) == 27


def test_lea_iv_curves() -> None:
    curves = lea_iv_curves()
    assert len(curves) == 38
    assert [c.polarity for c in curves[:19]] == ["positive"] * 19
    assert [c.cycle for c in curves[19:]] == list(range(1, 20))
    for c in curves:
        assert c.voltage.shape == c.current.shape and c.voltage.size > 100
        k = c.turning_index
        if c.polarity == "positive":
            assert 0.9 < c.voltage[k] < 1.2 and np.all(np.diff(c.voltage[: k + 1]) > 0)
        else:
            assert -2.5 < c.voltage[k] < -2.2
        assert np.max(np.abs(c.current)) < 1e-3  # ampere
    assert len(lea_iv_curves("negative")) == 19
    with pytest.raises(ConfigError, match="polarity"):
        lea_iv_curves("both")  # type: ignore[arg-type]


def test_drolet_failure_maps() -> None:
    maps = drolet_failure_maps()
    assert [m.name for m in maps] == list(DROLET_FAILURE_MAPS)
    for m in maps:
        assert m.resistance.shape == (8, 8)
        assert m.read_voltage == 0.2
        assert m.settings["tolerance"] == 0.01 and m.settings["Vset"] == 1.1 and m.settings["Vreset"] == -1.1
        assert 0.5e-6 < m.settings["PulseWidth"] < 3e-6
        np.testing.assert_allclose(m.conductance * m.resistance, 1.0)
        assert m.resistance.min() > 100  # ohm
    first = maps[0]
    assert first.resistance[0, 0] == pytest.approx(304.368125)
    assert first.resistance[-1, -1] == pytest.approx(668.803223)
    # failed devices read hundreds of kOhm to MOhm
    assert np.sum(first.resistance > 1e5) > 5


def test_drolet_disturbance_stats() -> None:
    s = drolet_disturbance_stats()
    assert s.n_subsequent[0] == 1 and np.all(np.diff(s.n_subsequent) == 1)
    assert s.mean_dg.shape == s.std_dg.shape == s.n_samples.shape
    assert s.n_samples[0] == 1259
    ok = s.n_samples > 0
    assert np.all(np.isnan(s.mean_dg[~ok]))
    i30 = int(np.flatnonzero(s.n_subsequent == 30)[0])
    assert -13e-6 < s.mean_dg[i30] < -9e-6 and 18e-6 < s.std_dg[i30] < 24e-6


def test_drolet_samples_and_table_agree_only_from_n_45_as_in_the_release() -> None:
    """The authors' delta_dicts.pkl (our samples) and mu_/sigma_delta_dicts.pkl (our table) have equal
    counts for every n but equal moments only at n = 43 and from 45 on; the docstrings say so."""
    s, samples = drolet_disturbance_stats(), drolet_disturbance_samples()
    for n, mean, std, count in zip(s.n_subsequent, s.mean_dg, s.std_dg, s.n_samples):
        if count == 0:
            continue
        x = samples[int(n)]
        assert x.size == count
        same = np.isclose(x.mean(), mean, rtol=1e-9, atol=0) and np.isclose(x.std(), std, rtol=1e-9, atol=0)
        assert same == (n >= 45 or n == 43), n
    x30 = samples[30]
    assert x30.mean() == pytest.approx(-7.698e-6, abs=1e-9) and x30.std() == pytest.approx(18.460e-6, abs=1e-9)


def test_bad_kernel_index() -> None:
    for bad in (1, 99, -1, "17", 17.0, True):
        with pytest.raises(ConfigError, match="`k`"):
            lea_kernel_map(bad)  # type: ignore[arg-type]


_FAILURE_MAP = (DATA / "dead_xbar_P464EC_HD.csv").read_text(encoding="utf-8")
_KERNEL_MAP = (DATA / "greedy_simple_alpha4_beta4_kernel0.txt").read_text(encoding="utf-8")
_STATS = (DATA / "biasing_disturbance_stats.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("parse", "name", "text"),
    [
        ("failure_map", "dead_xbar_P464EC_HD.csv", _FAILURE_MAP[: len(_FAILURE_MAP) // 2]),  # 22 of 64 values
        ("failure_map", "dead_xbar_P464EC_HD.csv", _FAILURE_MAP.replace("304.368125", "abc")),
        ("failure_map", "dead_xbar_P464EC_HD.csv", ""),
        ("failure_map", "dead_xbar_P464EC_HD.csv", _FAILURE_MAP.replace("n_rows", "rows")),
        ("matrix", "greedy_simple_alpha4_beta4_kernel0.txt", _KERNEL_MAP.replace("1.371202034429173130e-04", "x")),
        ("matrix", "greedy_simple_alpha4_beta4_kernel0.txt", "\n".join(_KERNEL_MAP.splitlines()[:24])),  # 24 rows
        ("matrix", "greedy_simple_alpha4_beta4_kernel0.txt", _KERNEL_MAP.replace("1.371202034429173130e-04 ", "", 1)),
        ("matrix", "greedy_simple_alpha4_beta4_kernel0.txt", ""),
        ("stats", "biasing_disturbance_stats.csv", _STATS.replace("1,-6.265096024808778e-07,", "1,")),
        ("stats", "biasing_disturbance_stats.csv", _STATS.splitlines()[0]),
        ("samples", "biasing_disturbance_samples_S.json", '{"1": [1e-6, '),
        ("samples", "biasing_disturbance_samples_S.json", '{"one": [1e-6]}'),
    ],
)
def test_a_damaged_data_file_raises_file_format_error_naming_it(parse: str, name: str, text: str) -> None:
    """A damaged copy of a shipped file (the parsers take the text, so the package data stay untouched)
    raises FileFormatError naming the file, not a bare ValueError / IndexError / KeyError from numpy or json."""
    from xbarsim.devices import measured
    from xbarsim.errors import FileFormatError

    with pytest.raises(FileFormatError, match=re.escape(name)):
        if parse == "failure_map":
            measured._parse_failure_map("P464EC_HD", text)
        elif parse == "matrix":
            measured._parse_matrix(name, text, shape=(25, 25))
        elif parse == "stats":
            measured._parse_disturbance_stats(text)
        else:
            measured._parse_disturbance_samples(text)
