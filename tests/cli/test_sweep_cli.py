"""The sweep CLI in subprocesses: SIGKILL of the driver in the middle of a sweep, then --resume; and a
library error from a real command line. The CLI runs through sweep_cli.py, a harness that builds an
the real ``xbarsim`` parser with a test trial kind added."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sweep_helpers import TEST_TRIALS, assert_same_metrics, executions, records, tag_of

from xbarsim.errors import ConfigError
from xbarsim.sweeps import ResultStore, SweepSpec, load_sweep_config, run_sweep

HARNESS = Path(__file__).resolve().parents[1] / "sweep_cli.py"


def _count(store: Path) -> int:
    try:
        with ResultStore(store, readonly=True) as db:
            return db.count()
    except ConfigError:  # not created yet
        return 0


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of the process group this test started (the killed driver's workers)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_sigkill_of_the_driver_then_resume_recomputes_nothing_and_loses_nothing(tmp_path):
    marker = tmp_path / "marker.log"
    conf = tmp_path / "sweep.toml"
    conf.write_text(
        'name = "driver-kill"\ntrial = "marked"\ntrials = 2\nseed = 31\n'
        "[grid]\nsegment_ohm = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]\n"
        f'[fixed]\nsize = 5\ndevice = "sinh"\ndelay_s = 0.3\nmarker_file = "{marker}"\n'
    )
    spec = load_sweep_config(conf)
    out = tmp_path / "out"
    store = out / "trials.sqlite"
    log = (tmp_path / "run1.out").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(HARNESS), "sweep", str(conf), "--workers", "2", "--out", str(out)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _count(store) < 4:
            assert proc.poll() is None, (tmp_path / "run1.out").read_text()
            assert time.monotonic() < deadline, "no results stored within 120 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the driver only
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        _kill_group(proc.pid)
        log.close()
    time.sleep(0.5)  # let the orphaned workers die before reading the marker
    before = records(store)
    starts_before = executions(marker, "start")
    assert 4 <= len(before) < spec.n_trials, len(before)

    resumed = subprocess.run(
        [sys.executable, str(HARNESS), "sweep", str(conf), "--resume", "--scheduler", "serial", "--out", str(out),
         "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    n_new = spec.n_trials - len(before)
    assert f"{spec.n_trials} trials ({len(before)} already stored, {n_new} completed, 0 failed now)" in resumed.stdout

    after = records(store)
    assert sorted(r.key for r in after) == sorted(t.key for t in spec.tasks())  # nothing lost, nothing twice
    kept = {r.key: r for r in after}
    for r in before:  # finished trials untouched: same row, duration, worker, metrics
        assert kept[r.key] == r
    assert min(r.row_id for r in after if r.key not in {b.key for b in before}) > max(r.row_id for r in before)
    starts_after = executions(marker, "start")
    for r in before:  # and never started again
        tag = tag_of(spec.seed, r.key)
        assert starts_after[tag] == starts_before[tag]
    # the final results equal those of an uninterrupted run with the same seed, bit for bit
    ref_spec = SweepSpec(name=spec.name, trial="marked", grid=dict(spec.grid),
                         fixed={**spec.fixed, "delay_s": 0.0, "marker_file": str(tmp_path / "ref.log")},
                         trials=spec.trials, seed=spec.seed)
    reference = tmp_path / "reference.sqlite"
    run_sweep(ref_spec, TEST_TRIALS[ref_spec.trial], store=reference, scheduler="serial", progress=False)
    assert_same_metrics(after, records(reference))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_ok"] == spec.n_trials and summary["n_failed"] == 0
    ref = records(reference)
    for p, row in enumerate(summary["points"]):
        assert row["ir_error_mean_mean"] == float(np.mean([r.results["ir_error_mean"] for r in ref if r.point == p]))


def test_cli_library_error_is_one_line_on_stderr_with_exit_2(tmp_path):
    conf = tmp_path / "bad.toml"
    conf.write_text('name = "x"\ntrial = "circuit"\n[grid]\nsegment_ohms = [1.0]\n')
    out = subprocess.run([sys.executable, str(HARNESS), "sweep", str(conf), "--scheduler", "serial"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("xbarsim sweep: error: ")
    assert "`grid.segment_ohms`" in out.stderr and str(conf) in out.stderr
