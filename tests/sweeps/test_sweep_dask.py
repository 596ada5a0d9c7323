"""Sweeps on real Dask clusters (distributed.LocalCluster with worker processes; nothing mocked):
serial equals Dask bit for bit, ngspice hangs and failures become failed trials, and a worker killed
with SIGKILL in the middle of a sweep loses no trial and duplicates none."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from sweep_helpers import assert_same_metrics, executions, marker_events, records, tag_of

from xbarsim.errors import ConfigError
from xbarsim.sweeps import ResultStore, SweepSpec, run_sweep
from sweep_helpers import TEST_TRIALS


@pytest.fixture(scope="module")
def cluster():
    """One two-process LocalCluster shared by the tests that do not kill workers (start-up ~4 s)."""
    from distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                     silence_logs=logging.ERROR)
    yield c
    c.close()


def test_serial_and_dask_give_bit_identical_results(tmp_path, cluster):
    spec = SweepSpec(
        name="same", trial="circuit",
        grid={"segment_ohm": [0.0, 1.0, 4.0], "device": ["ohmic", "sinh"], "solver_method": ["direct", "iterative"]},
        fixed={"size": [6, 5], "batch": 3}, trials=2, seed=99,
    )
    a, b = tmp_path / "serial.sqlite", tmp_path / "dask.sqlite"
    run_sweep(spec, TEST_TRIALS[spec.trial], store=a, scheduler="serial")
    rep = run_sweep(spec, TEST_TRIALS[spec.trial], store=b, scheduler=cluster.scheduler_address)
    assert (rep.completed, rep.failed, rep.n_workers) == (24, 0, 2)
    ra, rb = records(a), records(b)
    assert_same_metrics(ra, rb)
    assert len({r.worker for r in rb}) == 2  # both worker processes took part
    assert all(r.worker != ra[0].worker for r in rb)


def test_ngspice_hang_and_failure_are_failed_trials_and_the_sweep_continues(tmp_path, cluster):
    """A 1e-4 s timeout kills ngspice (subprocess mode) before it answers, standing in for a hang;
    sinh(400 V^-1 x 5 V) is out of ngspice's range and it gives up. Both are BackendError trials."""
    spec = SweepSpec(
        name="ngspice", trial="circuit",
        grid={"sinh_a": [2.07, 400.0], "ngspice_timeout_s": [1e-4, 60.0]},
        fixed={"size": 3, "device": "sinh", "v_read": 5.0, "inputs": "constant", "backend": "ngspice",
               "ngspice_mode": "subprocess"},
        trials=2, seed=4,
    )
    store = tmp_path / "s.sqlite"
    rep = run_sweep(spec, TEST_TRIALS[spec.trial], store=store, scheduler=cluster.scheduler_address)
    assert (rep.completed, rep.failed) == (2, 6)
    recs = records(store)
    assert len(recs) == 8
    for r in recs:
        a, timeout = r.params["sinh_a"], r.params["ngspice_timeout_s"]
        if timeout == 1e-4:
            assert r.error_type == "BackendError" and "did not finish within timeout_s=0.0001 s" in r.error
        elif a == 400.0:
            assert r.error_type == "BackendError" and "ngspice" in r.error and "out of range" in r.error
        else:
            assert r.ok and r.results["method"] == "ngspice" and r.results["kcl_residual"] < 1e-6


def test_killing_a_worker_mid_sweep_loses_and_duplicates_no_trial(tmp_path):
    """SIGKILL one of two worker processes while it runs a trial, after some results are stored.
    Dask reruns the lost task on a live worker; every trial ends in the store exactly once, with the
    same metrics as a serial run."""
    from distributed import Client, LocalCluster

    marker = tmp_path / "marker.log"
    spec = SweepSpec(name="kill", trial="marked", grid={"segment_ohm": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]},
                     fixed={"size": 5, "delay_s": 0.35, "marker_file": str(marker)}, trials=2, seed=5)
    store = tmp_path / "dask.sqlite"
    killed: dict[str, int] = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cl, Client(cl, set_as_default=False) as client:
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2

        def killer() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    with ResultStore(store, readonly=True) as db:
                        stored = db.count()
                except ConfigError:  # not created yet
                    stored = 0
                if stored >= 3:
                    open_since: dict[int, float] = {}
                    for ev, _tag, pid, t in marker_events(marker):
                        if ev == "start":
                            open_since[pid] = t
                        else:
                            open_since.pop(pid, None)
                    # a worker that started a trial less than 0.15 s ago is sure to be inside it
                    # (0.35 s of delay) when the signal lands
                    busy = [pid for pid, t in open_since.items() if pid in worker_pids and time.time() - t < 0.15]
                    if busy:
                        os.kill(busy[0], signal.SIGKILL)
                        killed["pid"], killed["stored"] = busy[0], stored
                        return
                time.sleep(0.02)

        errors: list[BaseException] = []

        def watch() -> None:
            try:
                killer()
            except BaseException as exc:  # surfaced by the assertion below, with its traceback
                errors.append(exc)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        rep = run_sweep(spec, TEST_TRIALS[spec.trial], store=store, scheduler=client)
        thread.join(timeout=5)
    if errors:
        raise errors[0]
    assert "pid" in killed, "the worker was never killed"
    assert killed["stored"] < spec.n_trials
    recs = records(store)
    assert sorted(r.key for r in recs) == sorted(t.key for t in spec.tasks())  # all present, none twice
    assert all(r.ok for r in recs) and rep.completed == spec.n_trials and rep.failed == 0
    assert killed["pid"] in {int(r.worker.rsplit(":", 1)[1]) for r in recs}  # it had finished trials before
    started = executions(marker, "start")
    rerun = [t for t, n in started.items() if n > 1]
    assert len(rerun) >= 1  # the trial it was running was started again elsewhere ...
    assert all(started[tag_of(spec.seed, r.key)] >= 1 for r in recs)
    ended = executions(marker, "end")
    assert all(n == 1 for n in ended.values())  # ... and every trial completed exactly once
    reference = tmp_path / "serial.sqlite"
    ref_spec = SweepSpec(name="kill", trial="marked", grid=dict(spec.grid),
                         fixed={**spec.fixed, "delay_s": 0.0, "marker_file": str(tmp_path / "m2.log")},
                         trials=2, seed=5)
    run_sweep(ref_spec, TEST_TRIALS[ref_spec.trial], store=reference, scheduler="serial")
    assert_same_metrics(recs, records(reference))


def test_default_scheduler_is_an_embedded_local_cluster(tmp_path):
    spec = SweepSpec(name="local", trial="busy", grid={"iterations": [1000, 2000]}, trials=2, seed=2)
    rep = run_sweep(spec, TEST_TRIALS[spec.trial], store=tmp_path / "a.sqlite", n_workers=2)
    assert rep.scheduler == "local" and rep.n_workers == 2 and rep.completed == 4
    run_sweep(spec, TEST_TRIALS[spec.trial], store=tmp_path / "b.sqlite", scheduler="serial")
    assert_same_metrics(records(tmp_path / "a.sqlite"), records(tmp_path / "b.sqlite"))
    assert Path(tmp_path / "a.sqlite").stat().st_size > 0


def test_the_embedded_cluster_keeps_large_arrays_on_the_heap_and_dask_quiet_unless_the_environment_says_otherwise(
        tmp_path, monkeypatch):
    """Dask's default MALLOC_TRIM_THRESHOLD_ of 64 KiB (mmap churn, docs/benchmarks.md) is replaced in the
    embedded cluster's workers, and their Dask loggers pass CRITICAL only (from the worker's start, not
    only while silence_logs holds); a value the user exported is kept."""
    import logging

    from xbarsim.sweeps.runner import WORKER_ALLOCATOR_ENV, WORKER_LOG_ENV

    def seen(store):
        return {(r.results["mmap_threshold"], r.results["trim_threshold"], r.results["log_level"])
                for r in records(store)}

    names = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "DASK_LOGGING__DISTRIBUTED")
    for name in names:  # a cluster started earlier in this process (Dask's nanny) may have set them
        monkeypatch.delenv(name, raising=False)
    spec = SweepSpec(name="env", trial="environ", grid={"k": [0, 1]}, trials=1, seed=3)
    run_sweep(spec, TEST_TRIALS[spec.trial], store=tmp_path / "a.sqlite", n_workers=1)
    assert seen(tmp_path / "a.sqlite") == {(256.0 * 2**20, 2.0**30, float(logging.CRITICAL))}
    assert not [name for name in names if name in os.environ]  # the driver's environment is as it was
    assert WORKER_ALLOCATOR_ENV["MALLOC_TRIM_THRESHOLD_"] == str(2**30)
    assert WORKER_LOG_ENV == {"DASK_LOGGING__DISTRIBUTED": "critical"}
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "123456")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "654321")
    monkeypatch.setenv("DASK_LOGGING__DISTRIBUTED", "warning")
    run_sweep(spec, TEST_TRIALS[spec.trial], store=tmp_path / "b.sqlite", n_workers=1)
    assert seen(tmp_path / "b.sqlite") == {(654321.0, 123456.0, float(logging.WARNING))}
    assert [os.environ[name] for name in names] == ["123456", "654321", "warning"]


class _Records(logging.Handler):
    """Every record that reaches it, at any level (not a StreamHandler: ``silence_logs`` leaves it be)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_interrupted_embedded_cluster_shuts_down_without_dask_log_records(tmp_path):
    """Ctrl-C in the driver (a KeyboardInterrupt from the progress callback): the workers are killed
    and the cluster closes, and none of Dask's shutdown records below CRITICAL reaches a handler (the
    scheduler's INFO traceback of a killed worker's stream came out on stderr after silence_logs had
    ended, at random). Dask's logger levels are as they were afterwards."""
    import distributed  # noqa: F401 - Dask sets its loggers' levels on import: read them after that

    dask_log = logging.getLogger("distributed")
    before = {name: logging.getLogger(name).level for name in ("distributed", "distributed.client")}
    seen = _Records()
    dask_log.addHandler(seen)
    stopped_at: list[float] = []

    def stop_after_two(name, done, total):
        if done >= 2:
            stopped_at.append(time.time())
            raise KeyboardInterrupt

    spec = SweepSpec(name="stop", trial="sleep", grid={"duration_s": [0.3]}, trials=16, seed=1)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(spec, TEST_TRIALS[spec.trial], store=tmp_path / "s.sqlite", n_workers=2,
                      progress=stop_after_two)
    finally:
        dask_log.removeHandler(seen)
    assert stopped_at and len(seen.records) > 0  # the handler saw the cluster start
    late = [(r.name, r.levelname, r.getMessage()[:80]) for r in seen.records if r.created >= stopped_at[0]]
    assert late == []
    assert {name: logging.getLogger(name).level for name in before} == before
    assert 2 <= len(records(tmp_path / "s.sqlite")) < 16


def test_evaluate_trials_run_on_dask_bit_identical_to_serial(tmp_path, cluster):
    """The "evaluate" trial kind (issue 7's evaluator as a sweep trial) on worker processes: every
    accuracy and mapping error equals the serial run's, trial for trial."""
    import numpy as np

    from xbarsim.networks import load_digits, train_ternary
    from xbarsim.networks.recipes import TERNARY_FINETUNE_CONFIG, TERNARY_PRETRAIN_CONFIG

    data = load_digits()
    net = train_ternary(data, hidden=16, seed=0, pretrain=TERNARY_PRETRAIN_CONFIG.__class__(epochs=3),
                        finetune=TERNARY_FINETUNE_CONFIG.__class__(epochs=1, quantization="ternary")).network
    path = tmp_path / "net.npz"
    np.savez(path, **net.to_dict())
    spec = SweepSpec(
        name="evaluate-dask", trial="evaluate",
        grid={"alpha": [1, 2], "strategy": ["lea", "committee"]},
        fixed={"networks": {"t": str(path)}, "dataset": "digits", "max_points": 60,
               "hardware": {"fault_rate": 0.05, "kernel_shape": [25, 25], "strict": False}},
        trials=2, seed=3,
    )
    a, b = tmp_path / "serial.sqlite", tmp_path / "dask.sqlite"
    run_sweep(spec, TEST_TRIALS[spec.trial], store=a, scheduler="serial")
    rep = run_sweep(spec, TEST_TRIALS[spec.trial], store=b, scheduler=cluster.scheduler_address)
    assert (rep.completed, rep.failed) == (8, 0)
    ra, rb = records(a), records(b)
    assert_same_metrics(ra, rb)
    accs = [r.results["accuracy"] for r in rb]
    assert all(0.0 <= x <= 1.0 for x in accs) and len(set(accs)) > 1
