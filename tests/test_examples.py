"""Smoke-run the numbered example scripts headless, each in a fresh working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: 03_bias_schemes.py is smoke-run by tests/analysis; the evaluation examples by tests/evaluation.
SCRIPTS = ["01_ir_drop.py", "02_nonlinear_write.py", "04_lea_mapping.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_and_writes_its_figure(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    pngs = list((tmp_path / "results" / "examples").glob("*.png"))
    assert pngs, f"{script} wrote no PNG under results/examples"
    assert all(p.stat().st_size > 10_000 for p in pngs)
