"""The sweep store and its output folder under hostile or unlucky conditions (issue 13): planted
symlinks, URI characters in the folder name, read-only copies, damaged files, failed trials retried,
and the Dask dashboard kept off the network."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import xbarsim as xb
from xbarsim.experiments import TRIALS, run_sweep_config
from xbarsim.sweeps import ResultStore, SweepSpec, aggregate_sweep, run_sweep
from xbartest import assert_refuses_planted_symlink

SPEC = SweepSpec(name="safe", trial="circuit", grid={"segment_ohm": [0.0, 1.0]}, fixed={"size": 3}, trials=2, seed=3)


def _run(out: Path, **kw):
    return run_sweep_config(SPEC, out=out, scheduler="serial", progress=None, **kw)


# ----------------------------------------------------------------------------- symlinks
@pytest.mark.parametrize("name", ["xbarsim.lock", "trials.sqlite.lock", "trials.sqlite", "trials.sqlite-wal",
                                  "summary.csv", "summary.json", "trials.csv", "plot_ir_error_mean.png"])
def test_a_symlink_planted_in_the_output_folder_is_never_written_through(tmp_path, name):
    assert_refuses_planted_symlink(tmp_path, name, _run)


# ----------------------------------------------------------------------------- URI characters
@pytest.mark.parametrize("folder", ["a?b", "c#d", "e%20f", "g?mode=rw#h%"])
def test_uri_characters_in_the_output_folder_are_data(tmp_path, folder):
    parent = tmp_path / "p"
    parent.mkdir()
    out = parent / folder
    report, agg = _run(out)
    assert report.completed == 4 and agg.n_ok == 4
    assert sorted(p.name for p in parent.iterdir()) == [folder]  # no stray file beside it
    with ResultStore(out / "trials.sqlite", readonly=True) as db:
        assert db.count() == 4


# ----------------------------------------------------------------------------- durability
def test_a_finished_store_is_one_file_readable_from_a_read_only_copy(tmp_path):
    out = tmp_path / "out"
    _run(out)
    store = out / "trials.sqlite"
    header = store.read_bytes()[:100]
    assert header[18:20] == b"\x01\x01"  # rollback-journal format: no -wal/-shm needed to read it
    assert not Path(f"{store}-wal").exists() and not Path(f"{store}-shm").exists()
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy2(store, media / "trials.sqlite")  # the store file alone
    os.chmod(media / "trials.sqlite", 0o444)
    os.chmod(media, 0o555)
    try:
        with ResultStore(media / "trials.sqlite", readonly=True) as db:
            assert db.count() == 4 and db.count("ok") == 4
        agg = aggregate_sweep(media / "trials.sqlite", tmp_path / "agg", plots=False)
        assert agg.n_ok == 4
        assert sorted(p.name for p in media.iterdir()) == ["trials.sqlite"]
    finally:
        os.chmod(media, 0o755)
    # a resumed writer switches WAL on again and leaves the file self-contained once more
    again, _ = _run(out, resume=True)
    assert again.skipped == 4 and store.read_bytes()[18:20] == b"\x01\x01"


def _flaky_trial(params, rng):
    if Path(params["flag"]).exists():
        raise RuntimeError("the simulator is not installed yet")
    return {"draw": float(rng.random())}


def test_retry_failed_runs_the_failed_trials_again_and_keeps_their_record(tmp_path):
    flag = tmp_path / "broken"
    flag.write_text("")
    spec = SweepSpec(name="flaky", trial="flaky", grid={"k": [1, 2, 3]}, fixed={"flag": str(flag)}, seed=1)
    store = tmp_path / "s.sqlite"
    first = run_sweep(spec, _flaky_trial, store=store, scheduler="serial", progress=None)
    assert (first.completed, first.failed) == (0, 3)
    flag.unlink()
    plain = run_sweep(spec, _flaky_trial, store=store, scheduler="serial", progress=None, resume=True)
    assert (plain.skipped, plain.completed) == (3, 0)  # --resume alone keeps the failures
    with pytest.raises(xb.ConfigError, match="resume"):
        run_sweep(spec, _flaky_trial, store=store, scheduler="serial", progress=None, retry_failed=True)
    retried = run_sweep(spec, _flaky_trial, store=store, scheduler="serial", progress=None, resume=True,
                        retry_failed=True)
    assert (retried.skipped, retried.completed, retried.failed) == (0, 3, 0)
    with ResultStore(store, readonly=True) as db:
        assert db.count() == 3 and db.count("ok") == 3
    con = sqlite3.connect(store)
    try:
        assert con.execute("SELECT count(*) FROM failed_attempts WHERE status = 'failed'").fetchone()[0] == 3
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # successful rows stay untouchable
            con.execute("DELETE FROM trials")
    finally:
        con.close()
    reference = tmp_path / "ref.sqlite"
    run_sweep(spec, _flaky_trial, store=reference, scheduler="serial", progress=None)
    with ResultStore(store, readonly=True) as a, ResultStore(reference, readonly=True) as b:
        assert [r.results for r in a.records()] == [r.results for r in b.records()]


# ----------------------------------------------------------------------------- damaged stores
def _damage(store: Path, how: str) -> None:
    if how == "garbage-pages":
        data = bytearray(store.read_bytes())
        page = 4096 if len(data) > 8192 else 1024
        data[page:] = bytes((i * 37 + 11) % 256 for i in range(len(data) - page))
        store.write_bytes(bytes(data))
    elif how == "garbage-header":
        store.write_bytes(b"this is no database " * 300)
    elif how == "meta-not-json":
        con = sqlite3.connect(store)
        con.execute("UPDATE meta SET value = '{\"name\": broken' WHERE key = 'spec'")
        con.commit()
        con.close()
    elif how == "meta-not-a-table":
        con = sqlite3.connect(store)
        con.execute("UPDATE meta SET value = '[1, 2]' WHERE key = 'spec'")
        con.commit()
        con.close()
    elif how == "wrong-schema":
        store.unlink()
        con = sqlite3.connect(store)
        con.executescript("CREATE TABLE meta (key TEXT, value TEXT); CREATE TABLE trials (key TEXT, score REAL);")
        con.close()
    elif how == "results-not-json":
        con = sqlite3.connect(store)
        con.executescript("DROP TRIGGER trials_append_only_update; UPDATE trials SET results = 'nope';")
        con.close()
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["garbage-pages", "garbage-header", "meta-not-json", "meta-not-a-table",
                                 "wrong-schema", "results-not-json"])
def test_a_damaged_store_is_one_file_format_error_naming_it(tmp_path, how):
    out = tmp_path / "out"
    _run(out)
    store = out / "trials.sqlite"
    _damage(store, how)
    with pytest.raises(xb.FileFormatError, match="trials.sqlite") as info:
        aggregate_sweep(store, tmp_path / "agg", plots=False)
    assert "\n" not in str(info.value)
    with pytest.raises(xb.FileFormatError, match="trials.sqlite"):
        _run(out, resume=True)


def test_a_full_disk_is_an_os_error_naming_the_store_which_keeps_its_trials(tmp_path, monkeypatch, capsys):
    """A store that cannot grow (SQLite's SQLITE_FULL, here from ``max_page_count``, as from a full disk)
    in the middle of a sweep: one line naming the store, saying it is not damaged and how to go on
    (exit 2); the trials stored before it are kept, and ``--resume`` once there is room completes the
    sweep with the numbers of an uninterrupted run. Before, it was reported as a damaged store."""
    from xbarsim.cli import main

    spec = tmp_path / "full.toml"
    spec.write_text('name = "full"\ntrial = "circuit"\ntrials = 10\nseed = 3\n[grid]\nsegment_ohm = [0.0, 1.0, 2.0]\n'
                    "[fixed]\nsize = 3\n")
    real = sqlite3.connect

    def small_disk(*args, **kwargs):
        con = real(*args, **kwargs)
        con.execute("PRAGMA max_page_count = 5")  # the empty store's size: the first page split fails
        return con

    out, whole = tmp_path / "out", tmp_path / "whole"
    argv = ["sweep", str(spec), "--scheduler", "serial", "--quiet"]
    with monkeypatch.context() as m:
        m.setattr(sqlite3, "connect", small_disk)
        assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    store = out / "trials.sqlite"
    assert err.count("\n") == 1 and "damaged or not" not in err, err
    assert err.startswith(f"xbarsim sweep: error: [Errno 28] sweep store {store} cannot be written: database or disk "
                          "is full (the file is not damaged and keeps the trials stored so far; once this is fixed, "
                          "pass --resume to run the rest)"), err
    with ResultStore(store, readonly=True) as db:
        kept = db.count()
    assert 0 < kept < 30
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    assert main([*argv, "--out", str(whole)]) == 0

    def rows(folder):
        with ResultStore(folder / "trials.sqlite", readonly=True) as db:
            return {r.key: {k: v for k, v in r.results.items() if not k.endswith("time_s")} for r in db.records()}

    assert rows(out) == rows(whole) and len(rows(out)) == 30


# ----------------------------------------------------------------------------- the dashboard
def test_the_local_cluster_listens_on_loopback_only_and_serves_no_dashboard(tmp_path):
    import psutil  # required: distributed depends on it (it was importorskip, a skip CI would pass)

    spec = SweepSpec(name="dash", trial="sleep", grid={"duration_s": [0.4, 0.5, 0.6, 0.7]}, seed=0)
    me = psutil.Process()
    seen: list[tuple[str, int]] = []
    error: list[BaseException] = []

    def sweep() -> None:
        try:
            run_sweep(spec, TRIALS["sleep"], store=tmp_path / "d.sqlite", scheduler="local", n_workers=1,
                      progress=None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            error.append(exc)

    worker = threading.Thread(target=sweep)
    worker.start()
    deadline = time.monotonic() + 120
    while worker.is_alive() and time.monotonic() < deadline:
        for proc in [me, *me.children(recursive=True)]:
            try:
                conns = proc.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            seen += [(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
        time.sleep(0.1)
    worker.join(120)
    assert not error, error
    assert seen, "no listening socket was seen during the sweep"
    assert {ip for ip, _ in seen} <= {"127.0.0.1", "::1"}, sorted(set(seen))


def test_store_and_lock_are_taken_before_the_file_is_touched(tmp_path):
    store = tmp_path / "s.sqlite"
    with ResultStore(store):
        mtime = store.stat().st_mtime_ns
        with pytest.raises(xb.ConfigError, match="another running sweep"):
            ResultStore(store)
        assert store.stat().st_mtime_ns == mtime
