"""Shared pieces of the experiment and sweep CLI tests: a small LEA-vs-committee experiment config on
the digits data set (a ternary network trained for 2 epochs), and running ``xbarsim sweep`` serially."""

from __future__ import annotations

from pathlib import Path

from xbarsim.cli import main


def lea_experiment(name: str, cycles: int, grid: str, extra: str = "", top: str = "") -> str:
    """TOML of a sweep experiment: ``cycles`` per point, ``grid`` (the [grid] table body), ``extra``
    appended (e.g. [[reference]] tables), ``top`` top-level keys (e.g. ``max_points = 200``)."""
    return f"""
name = "{name}"
kind = "sweep"
dataset = "digits"
cycles = {cycles}
{top.strip()}
[[networks]]
name = "t"
recipe = "ternary"
epochs = 2
[hardware]
fault_rate = 0.05
strict = false
backend = "sparse"
device = "ohmic"
segment_ohm = 1.0
[variants]
lea = {{ strategy = "lea" }}
committee = {{ strategy = "committee" }}
[grid]
{grid.strip()}
{extra.strip()}
"""


def run_sweep_cli(folder: Path, config: str, name: str = "sweep.toml") -> tuple[Path, Path]:
    """Write ``config`` into ``folder`` and run ``xbarsim sweep`` on it serially into ``folder/out``;
    returns (config path, output folder)."""
    conf = folder / name
    conf.write_text(config)
    out = folder / "out"
    assert main(["sweep", str(conf), "--scheduler", "serial", "--out", str(out), "--quiet"]) == 0
    return conf, out


def monte_carlo_experiment(name: str, transfers: int, models: str, hardware: str = "", top: str = "",
                           epochs: int = 20) -> str:
    """TOML of a Monte Carlo experiment on half moons (one "regular" network, ``epochs`` of training):
    ``models`` the TOML list, ``hardware`` extra [hardware] lines, ``top`` extra top-level keys."""
    return f"""
name = "{name}"
kind = "monte-carlo"
dataset = "half-moons"
transfers = {transfers}
models = {models}
{top.strip()}
[[networks]]
name = "regular"
recipe = "moons"
epochs = {epochs}
[hardware]
preset = "tio2_passive"
bias = "crossbar"
{hardware.strip()}
"""


def spy_errorbars(monkeypatch) -> list[dict]:
    """Record every ``Axes.errorbar`` call (axes, x, y, yerr as arrays or None, label, ls), drawing as usual."""
    import numpy as np
    from matplotlib.axes import Axes

    calls: list[dict] = []
    original = Axes.errorbar

    def spy(self, x, y, yerr=None, **kw):
        calls.append({"ax": self, "x": np.asarray(x, float), "y": np.asarray(y, float),
                      "yerr": None if yerr is None else np.asarray(yerr, float), "label": kw.get("label"),
                      "ls": kw.get("ls")})
        return original(self, x, y, yerr=yerr, **kw)

    monkeypatch.setattr(Axes, "errorbar", spy)
    return calls


def stored_trials(out: Path, *keys: str) -> dict[tuple, list[dict]]:
    """The ok trials' results in ``out/trials.sqlite``, read with plain sqlite3 (independent of the
    store class), grouped by the values of the parameters ``keys``."""
    import json
    import sqlite3
    from collections import defaultdict

    con = sqlite3.connect(out / "trials.sqlite")
    try:
        raw = [(json.loads(p), json.loads(r)) for p, r, s in con.execute("select params, results, status from trials")
               if s == "ok"]
    finally:
        con.close()
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for params, results in raw:
        groups[tuple(params[k] for k in keys)].append(results)
    return groups
