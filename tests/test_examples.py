"""Smoke-run the numbered example scripts headless, each in a fresh working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: 03_bias_schemes.py is smoke-run by tests/analysis.
SCRIPTS = ["01_ir_drop.py", "02_nonlinear_write.py", "04_lea_mapping.py"]
#: Experiment examples run in their quick variant; 06 (MNIST, ~1 min) and 08 (circuit, ~3 min) only
#: have their configs loaded by tests/evaluation/test_evaluate_config.py, to keep CI short.
EXPERIMENTS = ["05_drolet_transfers.py", "07_continual_learning.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_and_writes_its_figure(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    pngs = list((tmp_path / "results" / "examples").glob("*.png"))
    assert pngs, f"{script} wrote no PNG under results/examples"
    assert all(p.stat().st_size > 10_000 for p in pngs)


@pytest.mark.parametrize("script", EXPERIMENTS)
def test_experiment_example_writes_its_report_and_plots(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(out), "--quiet"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = (out / "report.md").read_text()
    assert "| paper |" in report or "paper" in report
    assert (out / "results.csv").stat().st_size > 100
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_drolet_gap_ablation_runs_and_writes_its_csv(tmp_path):
    out = tmp_path / "gap.csv"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "09_drolet_gap.py"), "--transfers", "3", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    lines = out.read_text().splitlines()
    assert lines[0].startswith("hardware,network,transfers,robust_fraction") and len(lines) == 1 + 6 * 2
