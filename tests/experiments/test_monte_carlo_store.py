"""Monte Carlo experiments on the sweep store (issue 12; issue 13 item 4): every transfer is one stored
trial with its per-point correctness, a resumed run equals an uninterrupted one bit for bit, the
numbers equal the in-memory ``evaluation.monte_carlo``, and the store's writer lock refuses a second
writer before anything is written."""

from __future__ import annotations

import fcntl
import os

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.evaluation import monte_carlo, unpack_correct
from xbarsim.experiments import experiment_from_dict, run_experiment
from xbarsim.networks import load_half_moons
from xbarsim.sweeps import ResultStore

CONFIG = {
    "name": "mc-store", "kind": "monte-carlo", "dataset": "half-moons", "transfers": 5, "seed": 7,
    "models": ["statistical", "hardware"],
    "networks": [{"name": "regular", "recipe": "moons", "epochs": 5}],
    "hardware": {"preset": "tio2_passive", "bias": "crossbar"},
}


def _stored(path):
    with ResultStore(path, readonly=True) as db:
        return sorted(db.records(), key=lambda r: r.params["transfer"])


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mc") / "full"
    return out, run_experiment(experiment_from_dict(CONFIG), out=out)


def test_store_holds_every_transfer_and_matches_the_in_memory_run(full_run):
    out, report = full_run
    recs = _stored(out / "transfers_regular_hardware.sqlite")
    assert [r.params["transfer"] for r in recs] == [0, 1, 2, 3, 4] and all(r.ok for r in recs)
    net_path = out / "networks" / "regular.npz"
    from xbarsim.experiments.networks import load_network

    net = load_network(str(net_path))
    config = experiment_from_dict(CONFIG)
    mem = monte_carlo(net, load_half_moons(), config.hardware, transfers=5, seed=7)
    stored = np.array([unpack_correct(r.results["correct"], mem.correct.shape[1]) for r in recs])
    np.testing.assert_array_equal(stored, mem.correct)
    row = next(r for r in report.rows if r["model"] == "hardware")
    assert row["robust_fraction_mean"] == mem.robust_fraction
    assert row["accuracy_mean"] == pytest.approx(np.mean([r.results["accuracy"] for r in recs]), rel=1e-15)


def test_resume_after_an_interruption_is_bit_identical(full_run, tmp_path):
    out, report = full_run
    short = dict(CONFIG, transfers=2)
    part = tmp_path / "part"
    run_experiment(experiment_from_dict(short), out=part)  # "interrupted" after 2 transfers
    before = _stored(part / "transfers_regular_statistical.sqlite")
    with pytest.raises(ConfigError, match=r"holds results of another version of .*\(stored -> now: transfers: 2 -> 5\); "
                                          r"use another --out folder"):  # 5 transfers is another grid: not mixed
        run_experiment(experiment_from_dict(CONFIG), out=part, resume=True)
    # resuming the same spec recomputes nothing and the rows equal the uninterrupted run's
    again = run_experiment(experiment_from_dict(short), out=part, resume=True)
    after = _stored(part / "transfers_regular_statistical.sqlite")
    assert [(r.row_id, r.results) for r in after] == [(r.row_id, r.results) for r in before]
    full = _stored(out / "transfers_regular_statistical.sqlite")
    assert [r.results for r in after] == [r.results for r in full[:2]]
    assert [r["robust_fraction_mean"] for r in again.rows] == [
        r["robust_fraction_mean"] for r in run_experiment(experiment_from_dict(short), out=tmp_path / "p2").rows]


def test_a_second_writer_is_refused_by_the_store_lock(full_run, tmp_path):
    out = tmp_path / "busy"
    run_experiment(experiment_from_dict(dict(CONFIG, transfers=1)), out=out)
    store = out / "transfers_regular_statistical.sqlite"
    size = store.stat().st_size
    fd = os.open(str(store) + ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process holds the writer lock
        with pytest.raises(ConfigError, match="being written by another running sweep"):
            run_experiment(experiment_from_dict(dict(CONFIG, transfers=1)), out=out, resume=True)
    finally:
        os.close(fd)
    assert store.stat().st_size == size


def test_a_rerun_with_other_networks_is_refused_before_retraining(full_run, tmp_path):
    """Like a sweep's store: a Monte Carlo folder whose transfers were made with other networks is
    refused naming what changed, with or without --resume, before any training. Without --resume the
    check was skipped: the cached network (and its index) was retrained over, then the store refused
    the new spec, leaving the stored transfers without the network they were made with."""
    import hashlib
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(full_run[0], out)
    files = [out / "networks" / "regular.npz", out / "networks" / "networks.json"]
    before = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    changed = {**CONFIG, "networks": [{"name": "regular", "recipe": "moons", "epochs": 6}]}
    for resume in (False, True):
        with pytest.raises(ConfigError, match=r"network 'regular': epochs 5 -> 6") as info:
            run_experiment(experiment_from_dict(changed), out=out, resume=resume)
        assert "mix" in str(info.value)
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == before


def test_progress_counts_the_transfers_of_every_store_once(tmp_path):
    """Each network x model store reported its own 0..transfers to one progress label: the bar ran from
    0 to 5 and back to 0 for the next store (tqdm showed 1/5 with an ETA of minutes for a 20 s run).
    Now one count over all the stores, also when resumed."""
    calls: list[tuple[str, int, int]] = []
    config = experiment_from_dict(CONFIG)
    run_experiment(config, out=tmp_path / "p", progress=lambda label, done, total: calls.append((label, done, total)))
    mine = [(d, t) for label, d, t in calls if label == config.name]
    assert {t for _, t in mine} == {10}  # 5 transfers x 2 models
    assert [d for d, _ in mine] == sorted(d for d, _ in mine) and mine[-1][0] == 10
    calls.clear()
    run_experiment(experiment_from_dict(dict(CONFIG, transfers=5)), out=tmp_path / "p", resume=True,
                   progress=lambda label, done, total: calls.append((label, done, total)))
    assert [d for label, d, _ in calls if label == config.name] == [5, 10]
