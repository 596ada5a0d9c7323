"""A sweep with an inference-read read-out: its summary and report cells, recomputed from the trial records."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np

from xbarsim.cli import main

CONFIG = """
name = "reads"
kind = "sweep"
dataset = "digits"
seed = 3
cycles = 3
[[networks]]
name = "ternary"
recipe = "ternary"
hidden = 16
[hardware]
preset = "rram_1t1r_nist"
kernel_shape = [25, 25]
encoding = "ternary"
strategy = "lea"
strict = false
energy = false
read_noise_std = 20e-6
[readouts]
noisy = { inference_read_noise = true }
[grid]
fault_rate = [0.1]
alpha = [1, 3]
"""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def test_inference_read_columns_are_the_trial_records_mean_and_std(tmp_path: Path, capsys) -> None:
    (tmp_path / "exp.toml").write_text(CONFIG)
    out = tmp_path / "out"
    assert main(["evaluate", str(tmp_path / "exp.toml"), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    capsys.readouterr()
    trials = _rows(out / "trials.csv")
    random.Random(0).shuffle(trials)  # the recomputation must not depend on the records' order
    summary = {r["alpha"]: r for r in _rows(out / "summary.csv")}
    report = (out / "report.md").read_text()
    moved = 0
    for alpha in ("1", "3"):
        recs = [t for t in trials if t["alpha"] == alpha]
        assert len(recs) == 3
        noisy = np.array([float(t["accuracy_noisy"]) for t in recs])
        plain = np.array([float(t["accuracy"]) for t in recs])
        moved += int(np.sum(noisy != plain))
        assert abs(float(summary[alpha]["accuracy_noisy_mean"]) - np.mean(noisy)) < 1e-12
        assert abs(float(summary[alpha]["accuracy_noisy_std"]) - np.std(noisy)) < 1e-12
        row = next(ln for ln in report.splitlines() if ln.startswith(f"| 0.1 | {alpha} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[-1] == f"{100 * np.mean(noisy):.1f} ± {100 * np.std(noisy):.1f} %"
        assert cells[3] == f"{100 * np.mean(plain):.1f} ± {100 * np.std(plain):.1f} %"
    assert moved > 0  # 20 uS reads at inference change some transfers' accuracy
