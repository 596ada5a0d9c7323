"""The benchmark scripts' result files: the provenance record of the run that wrote them, written atomically."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from xbarsim.provenance import read_csv_provenance

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})


def test_solver_benchmark_csv_carries_the_runs_provenance_and_its_ratios(tmp_path):
    """The solver benchmark's CSV starts with the provenance line (it had none: no versions, commit or seed
    beside timings meant to be compared across machines), and its time ratio is recomputed from the rows."""
    out = tmp_path / "bench.csv"
    proc = _run("solver.py", "--sizes", "4", "--vectors", "0", "--repeat", "1", "--ngspice-max", "0",
                "--badcrossbar-max", "0", "--seed", "3", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    prov = read_csv_provenance(out)
    assert prov is not None, out.read_text()[:200]
    assert prov["seed"] == 3 and "--seed 3" in prov["command"] and prov["partial"] is False and prov["xbarsim"]
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("# provenance: ")))
    best = {r["tool"]: float(r["best_s"]) for r in rows}
    assert set(best) == {"direct", "auto", "iterative"}
    assert rows[0]["tool"] == "direct" and rows[0]["time_ratio_to_default"]
    for r in rows:
        if r["time_ratio_to_default"]:
            assert abs(float(r["time_ratio_to_default"]) - best[r["tool"]] / best["auto"]) < 1e-5 * best[r["tool"]] / best["auto"]


def test_solver_benchmark_refuses_a_planted_symlink_and_leaves_its_target(tmp_path):
    """The CSV is written atomically through xbarsim's writer: a symlink at --out is refused (it was written
    through, replacing whatever the link pointed at)."""
    target = tmp_path / "elsewhere.csv"
    target.write_text("keep\n")
    os.symlink(target, tmp_path / "bench.csv")
    proc = _run("solver.py", "--sizes", "4", "--vectors", "0", "--repeat", "1", "--ngspice-max", "0",
                "--badcrossbar-max", "0", "--out", str(tmp_path / "bench.csv"), cwd=tmp_path)
    assert proc.returncode != 0 and "symlink" in proc.stderr
    assert target.read_text() == "keep\n"


def test_nonlinear_benchmark_csv_records_its_seed_and_ngspice(tmp_path, ngspice_binary):
    """The sinh benchmark's provenance names the seed of its random arrays and the ngspice it compared with
    (both were None), and its ngspice / xbarsim ratio is the ratio of the two timings in the row. A missing
    ngspice fails here (the ngspice_binary fixture), never skips: CI installs it."""
    import math

    out = tmp_path / "nl.csv"
    proc = _run("nonlinear.py", "--sizes", "4", "--ngspice-max", "4", "--repeat", "1", "--seed", "5",
                "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    prov = read_csv_provenance(out)
    assert prov is not None and prov["seed"] == 5 and prov["ngspice"] and prov["ngspice"].startswith("ngspice-")
    with out.open(newline="") as fh:
        (row,) = list(csv.DictReader(line for line in fh if not line.startswith("# provenance: ")))
    assert math.isclose(float(row["ratio"]), float(row["ngspice_ms"]) / float(row["sparse_ms"]), rel_tol=1e-12)
    assert float(row["max_rel_diff"]) < 1e-6


def test_inference_benchmark_csv_records_its_seed(tmp_path):
    """The inference benchmark's provenance names the transfers' seed (it was None) and its throughput is
    the row's samples over its inference time."""
    import math

    out = tmp_path / "inf.csv"
    proc = _run("inference.py", "--networks", "digits", "--samples", "10", "--sinh-samples", "0", "--seed", "2",
                "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    prov = read_csv_provenance(out)
    assert prov is not None and prov["seed"] == 2 and "--seed 2" in prov["command"]
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("# provenance: ")))
    assert [r["read"] for r in rows] == ["ideal product", "sparse, linear cells"]
    for r in rows:
        assert r["samples"] == "10"
        assert math.isclose(float(r["samples_per_s"]), 10 / float(r["inference_s"]), rel_tol=1e-12)
