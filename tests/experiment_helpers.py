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
