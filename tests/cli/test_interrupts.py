"""Ctrl-C and SIGTERM of a real ``xbarsim evaluate`` on a Dask LocalCluster: one line, workers gone
within 2 s, a partial report, exit 130/143; then ``--resume`` completes the run. The same for a Monte
Carlo experiment (transfers in the process). And a closed pipe. In process: a SIGTERM while a finished
run's report is written, and a signal while the local cluster starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from experiment_helpers import lea_experiment, monte_carlo_experiment

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


def _signal_when(cmd: list[str], ready, sig: int, expect_workers: bool) -> tuple[int, str, float]:
    """Start ``cmd`` in its own process group, wait until ``ready()`` (within 240 s), send ``sig`` to the
    whole group (like Ctrl-C on a terminal) and wait for the end. With ``expect_workers`` the command has
    worker processes, which must be gone within 2 s of the signal; without, it must have none. Returns
    (exit status, stderr, seconds from the signal to the end)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            start_new_session=True)  # its own process group, as a terminal's Ctrl-C reaches
    try:
        deadline = time.monotonic() + 240
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "not ready within 240 s"
            time.sleep(0.05)
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if "resource_tracker" not in " ".join(p.cmdline())]  # the tracker ends with the driver
        assert bool(workers) == expect_workers, f"worker processes: {workers}"
        t0 = time.monotonic()
        os.killpg(proc.pid, sig)
        gone, alive = psutil.wait_procs(workers, timeout=2.0)
        assert not alive, f"workers still running 2 s after the signal: {alive}"
        _, stderr = proc.communicate(timeout=120)
        elapsed = time.monotonic() - t0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    return proc.returncode, stderr, elapsed


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_of_evaluate_on_a_local_cluster_then_resume(tmp_path, sig):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "out"
    store = out / "trials.sqlite"
    cmd = [sys.executable, "-m", "xbarsim.cli", "evaluate", str(cfg), "--out", str(out), "--workers", "2"]
    _, stderr, elapsed = _signal_when(cmd, lambda: _count(store) >= 4, sig, expect_workers=True)
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


MC_TRANSFERS = 12
MC_CONFIG = monte_carlo_experiment("mc-interrupt", MC_TRANSFERS, '["statistical", "hardware"]', epochs=5,
                                   top="seed = 7\nthreshold = 0.9",
                                   hardware='programming = "sequence"\nwrite_scheme = "v/2"\nbackend = "sparse"')


def _robust_fraction(store: Path, threshold: float) -> tuple[int, float]:
    """(ok transfers, robust fraction) recomputed from the raw rows of a transfer store."""
    from xbarsim.evaluation import unpack_correct

    with ResultStore(store, readonly=True) as db:
        recs = [r for r in db.records() if r.ok]
    n_points = 200  # the half-moons test split
    correct = np.array([unpack_correct(r.results["correct"], n_points) for r in recs], dtype=float)
    return len(recs), float(np.mean(correct.mean(axis=0) >= threshold))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_of_a_monte_carlo_experiment_then_resume(tmp_path, sig):
    """A real ``xbarsim evaluate`` of a Monte Carlo config (its transfers run in the process, no
    workers), stopped by a real signal during the hardware transfers: one line, exit 130/143, a
    partial report of the transfers stored (its numbers recomputed from the stores), then
    ``--resume`` runs the missing transfers only, each stored once."""
    cfg = tmp_path / "mc.toml"
    cfg.write_text(MC_CONFIG)
    out = tmp_path / "out"
    stores = {m: out / f"transfers_regular_{m}.sqlite" for m in ("statistical", "hardware")}
    total = 2 * MC_TRANSFERS
    cmd = [sys.executable, "-m", "xbarsim.cli", "evaluate", str(cfg), "--out", str(out)]
    # the transfers run in the process: no worker processes
    _, stderr, elapsed = _signal_when(cmd, lambda: _count(stores["hardware"]) >= 2, sig, expect_workers=False)
    last = stderr.strip().splitlines()[-1]
    what = "interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)"
    assert [ln for ln in stderr.splitlines() if ln.startswith("xbarsim evaluate:")] == [last]  # one line
    stored = {m: _count(p) for m, p in stores.items()}
    done = sum(stored.values())
    assert stored["statistical"] == MC_TRANSFERS and 2 <= stored["hardware"] < MC_TRANSFERS
    assert last == (f"xbarsim evaluate: {what}; {done} of {total} transfers stored, partial report in "
                    f"{out / 'report.md'}; rerun with --resume to continue"), stderr
    assert elapsed < 60
    # the partial report: written, marked partial, its numbers those of the stored transfers
    report = (out / "report.md").read_text()
    assert "(partial results)" in report and f"{done} of {total} transfers had finished" in report
    doc = json.loads((out / "results.json").read_text())
    assert doc["partial"] is True and doc["provenance"]["partial"] is True and doc["n_stored"] == done
    for row in doc["rows"]:
        n, robust = _robust_fraction(stores[row["model"]], 0.9)
        assert row["n"] == n == stored[row["model"]] and row["robust_fraction_mean"] == pytest.approx(robust, abs=1e-15)
    assert {r["model"] for r in doc["rows"]} == {"statistical", "hardware"}
    res = load_results(out)
    assert res.partial and res.provenance["partial"] is True
    assert (out / "point_accuracy_histogram.png").exists()

    resumed = subprocess.run([*cmd, "--resume", "--quiet"], capture_output=True, text=True, env=_env(), timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    for store in stores.values():
        with ResultStore(store, readonly=True) as db:
            keys = [r.key for r in db.records()]
        assert len(keys) == len(set(keys)) == MC_TRANSFERS
    final = json.loads((out / "results.json").read_text())
    assert final["partial"] is False and final["provenance"]["partial"] is False
    assert "(partial results)" not in (out / "report.md").read_text()
    for row in final["rows"]:
        n, robust = _robust_fraction(stores[row["model"]], 0.9)
        assert row["n"] == n == MC_TRANSFERS and row["robust_fraction_mean"] == pytest.approx(robust, abs=1e-15)


def _png_provenance(path: Path) -> dict:
    from PIL import Image

    with Image.open(path) as img:
        return json.loads(img.text["xbarsim:provenance"])


SWEEP_WRITE = """
name = "sigterm-write"
trial = "circuit"
trials = 2
seed = 5
[grid]
segment_ohm = [2.0, 0.5]
size = [4]
[fixed]
device = "ohmic"
"""


@pytest.mark.parametrize("command", ["evaluate-sweep", "evaluate-monte-carlo", "sweep"])
def test_sigterm_while_a_finished_runs_report_is_written_waits_for_it(tmp_path, monkeypatch, capsys, command):
    """A SIGTERM that arrives while the report of a finished run is written waits for the write, as
    Ctrl-C does: the report is complete (report.md, every figure with its provenance), the one line
    says so, and the exit status is 143. Before, the CLI's SIGTERM handler raised in the middle of
    the write: no report.md (or no plots), figures without provenance, and a line saying to resume."""
    import xbarsim.experiments.run as run_module
    from xbarsim.cli import main

    name = "aggregate_sweep" if command == "sweep" else "stamp_pngs"
    original = getattr(run_module, name)

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to this (the main) thread at once
        return original(*args, **kwargs)

    monkeypatch.setattr(run_module, name, signalled)
    cfg = tmp_path / "run.toml"
    out = tmp_path / "out"
    if command == "sweep":
        cfg.write_text(SWEEP_WRITE)
        argv = ["sweep", str(cfg), "--scheduler", "serial"]
    elif command == "evaluate-sweep":
        cfg.write_text(lea_experiment("sigterm-write", 1, 'alpha = [1, 2]\nvariant = ["lea"]'))
        argv = ["evaluate", str(cfg), "--scheduler", "serial"]
    else:
        cfg.write_text(monte_carlo_experiment("sigterm-write", 3, '["statistical"]', epochs=5))
        argv = ["evaluate", str(cfg)]
    status = main([*argv, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert status == 128 + signal.SIGTERM, err
    what = "the sweep had finished; its aggregate is complete in" if command == "sweep" else \
        "the run had finished; its report is complete in"
    assert err.strip().splitlines() == [f"xbarsim {argv[0]}: terminated (SIGTERM); {what} "
                                        f"{out if command == 'sweep' else out / 'report.md'}"], err
    pngs = sorted(out.glob("*.png"))
    assert pngs and all(_png_provenance(p)["partial"] is False for p in pngs)
    if command == "sweep":
        assert json.loads((out / "summary.json").read_text())["partial"] is False
    else:
        report = (out / "report.md").read_text()
        assert "## Provenance" in report and "(partial results)" not in report
        assert json.loads((out / "results.json").read_text())["partial"] is False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_local_cluster_starts_stops_the_run_once_it_has_started(tmp_path, monkeypatch, capsys,
                                                                                    sig):
    """Ctrl-C or SIGTERM while the embedded Dask cluster starts: the run stops as soon as the cluster is
    up, with the one line and exit 130/143, and that cluster is closed. Before, SIGINT was ignored
    during the start (the Ctrl-C was lost and the sweep ran to its end, exit 0), and a SIGTERM raised
    in the middle of the start, leaving the started cluster open (closed at exit with a traceback)."""
    import distributed

    from xbarsim.cli import main

    real = distributed.LocalCluster
    started = []

    def starting(*args, **kwargs):
        cluster = real(*args, **kwargs)
        started.append((cluster, [psutil.Process(n.process.pid) for n in cluster.workers.values()]))
        os.kill(os.getpid(), sig)  # arrives before the constructor has returned to the runner
        return cluster

    monkeypatch.setattr(distributed, "LocalCluster", starting)
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SWEEP_WRITE)
    out = tmp_path / "out"
    status = main(["sweep", str(cfg), "--workers", "1", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    from distributed.core import Status

    assert len(started) == 1
    cluster, workers = started[0]
    assert len(workers) == 1
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert cluster.status == Status.closed and not alive
    assert status == 128 + sig, err
    what = "interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)"
    assert err.strip().splitlines() == [f"xbarsim sweep: {what}; 0 of 4 trials stored, partial aggregate in {out}; "
                                        "rerun with --resume to continue"], err
