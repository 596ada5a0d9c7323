"""Smoke tests of ``xbarsim evaluate CONFIG``: a sweep and a Monte Carlo run end to end, resume,
and library errors as one stderr line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

from xbarsim.cli import main

SWEEP = """
name = "cli-sweep"
kind = "sweep"
dataset = "digits"
cycles = 2
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
lea = { strategy = "lea" }
committee = { strategy = "committee" }
[grid]
alpha = [1, 2]
variant = ["lea", "committee"]
[[reference]]
label = "made-up reference"
point = { variant = "lea", alpha = 2 }
value = 0.5
"""

MONTE_CARLO = """
name = "cli-mc"
kind = "monte-carlo"
dataset = "half-moons"
transfers = 6
models = ["statistical", "hardware"]
[[networks]]
name = "regular"
recipe = "moons"
epochs = 20
[hardware]
preset = "tio2_passive"
bias = "crossbar"
"""


def test_sweep_config_runs_end_to_end_and_resumes(tmp_path, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SWEEP)
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "| alpha | variant |" in text and "made-up reference" in text
    for name in ("report.md", "results.csv", "results.json", "accuracy_vs_alpha.png", "trials.sqlite"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "results.json").read_text())
    assert doc["n_trials"] == 8 and doc["n_failed"] == 0 and len(doc["rows"]) == 4
    assert all(r["n"] == 2 for r in doc["rows"])
    # a second run without --resume refuses, with --resume it finds nothing to do
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resume" in err
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet",
                 "--resume"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert [r["accuracy_mean"] for r in again["rows"]] == [r["accuracy_mean"] for r in doc["rows"]]


def test_monte_carlo_config_runs_end_to_end(tmp_path, capsys):
    cfg = tmp_path / "mc.toml"
    cfg.write_text(MONTE_CARLO)
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--quiet"]) == 0
    assert "robust_fraction" in capsys.readouterr().out
    assert (out / "point_accuracy_histogram.png").is_file()
    lines = (out / "transfers_regular_hardware.jsonl").read_text().splitlines()
    assert len(lines) == 7  # header + 6 transfers


def test_library_errors_are_one_line_and_exit_2(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(SWEEP.replace("[hardware]", "[hardware]\nsegments = 1"))
    assert main(["evaluate", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'segments'" in err and str(cfg) in err
    assert main(["evaluate", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
