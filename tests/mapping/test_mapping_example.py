"""Smoke run of examples/04_lea_mapping.py (headless, one chip per point, PNG written)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "04_lea_mapping.py"


def test_lea_example_runs_and_writes_its_figure(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("example_04_lea_mapping", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(tmp_path)
    path = module.main(seeds=1)
    assert (tmp_path / path).stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "| 5% | LEA (beta = 1) |" in out and "wrote results/examples/04_lea_mapping.png" in out
