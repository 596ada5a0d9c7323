"""Ctrl-C and SIGTERM of a real ``xbarsim evaluate`` on a Dask LocalCluster: one line, workers gone
within 2 s, a partial report, exit 130/143; then ``--resume`` completes the run. And a closed pipe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from experiment_helpers import lea_experiment

from xbarsim.errors import ConfigError
from xbarsim.experiments import load_results
from xbarsim.sweeps import ResultStore

CONFIG = lea_experiment("interrupt-me", 12, 'alpha = [1, 2]\nvariant = ["lea", "committee"]')
N_TRIALS = 12 * 4


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _count(store: Path) -> int:
    try:
        with ResultStore(store, readonly=True) as db:
            return db.count()
    except ConfigError:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_of_evaluate_on_a_local_cluster_then_resume(tmp_path, sig):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "out"
    store = out / "trials.sqlite"
    cmd = [sys.executable, "-m", "xbarsim.cli", "evaluate", str(cfg), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            start_new_session=True)  # its own process group, as a terminal's Ctrl-C reaches
    try:
        deadline = time.monotonic() + 240
        while _count(store) < 4:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no trial stored within 240 s"
            time.sleep(0.05)
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if "resource_tracker" not in " ".join(p.cmdline())]  # the tracker ends with the driver
        assert workers, "a local cluster has worker processes"
        t0 = time.monotonic()
        os.killpg(proc.pid, sig)  # the whole group, like Ctrl-C on a terminal
        gone, alive = psutil.wait_procs(workers, timeout=2.0)
        assert not alive, f"workers still running 2 s after the signal: {alive}"
        stdout, stderr = proc.communicate(timeout=120)
        elapsed = time.monotonic() - t0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    what = "interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)"
    assert last.startswith(f"xbarsim evaluate: {what}; ") and "partial report in" in last, stderr
    assert [ln for ln in stderr.splitlines() if ln.startswith("xbarsim evaluate:")] == [last]  # one line
    assert elapsed < 60
    stored = _count(store)
    assert 4 <= stored < N_TRIALS and f"{stored} of {N_TRIALS} trials stored" in last
    # the partial report is written and says so, with the provenance marked partial
    report = (out / "report.md").read_text()
    assert "(partial results)" in report and f"{stored} of {N_TRIALS} trials had finished" in report
    doc = json.loads((out / "results.json").read_text())
    assert doc["partial"] is True and doc["provenance"]["partial"] is True and doc["n_stored"] == stored
    res = load_results(out)
    assert res.partial and len(res.trials) == stored
    assert sum(r["n"] + r["n_failed"] for r in res.summaries) == stored

    resumed = subprocess.run([*cmd, "--resume", "--quiet"], capture_output=True, text=True, env=_env(), timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    with ResultStore(store, readonly=True) as db:
        keys = [r.key for r in db.records()]
    assert len(keys) == len(set(keys)) == N_TRIALS
    final = load_results(out)
    assert not final.partial and final.provenance["partial"] is False
    assert "(partial results)" not in (out / "report.md").read_text()
    assert sum(r["n"] for r in final.summaries) == N_TRIALS


def test_solve_into_a_closed_pipe_exits_quietly(tmp_path):
    """``xbarsim solve ... | head -n 2``: no "Broken pipe" error, no traceback, exit 141 (128 + SIGPIPE).
    The JSON (currents of 400 input vectors) is far larger than a pipe's buffer, so the pipe is
    closed while it is written."""
    import numpy as np

    np.savetxt(tmp_path / "batch.csv", np.random.default_rng(0).uniform(0, 0.3, (400, 32)), delimiter=",")
    shell = (f"{sys.executable} -m xbarsim.cli solve --rows 32 --cols 32 --inputs batch.csv "
             "| head -n 2 >/dev/null; echo \"status ${PIPESTATUS[0]}\" >&2")
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=_env(), timeout=120,
                         cwd=tmp_path)
    assert out.stderr.strip().splitlines() == ["status 141"], out.stderr
