"""Networks are identified by content and training settings, never by path (issue 13 item 2), the
output folder is locked before anything is written (item 3) and can be moved (durability), and
damaged network files are typed errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.evaluation import network_fingerprint
from xbarsim.experiments import load_experiment, run_experiment
from xbarsim.experiments.networks import load_network
from xbarsim.experiments.trials import evaluate_trial
from xbarsim.networks import init_mlp, load_dataset
from xbarsim.sweeps import ResultStore
from xbartest import assert_refuses_planted_symlink

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
name = "ident"
kind = "sweep"
dataset = "digits"
cycles = {cycles}
max_points = 40
[[networks]]
name = "t"
{network}
[hardware]
kernel_shape = [25, 25]
fault_rate = 0.0
backend = "ideal"
strategy = "lea"
strict = false
[grid]
alpha = [1, 2]
"""
TERNARY = 'recipe = "ternary"\nhidden = 16\nepochs = {epochs}'
FILE = 'recipe = "file"\nfile = "net.npz"'


def _config(tmp: Path, network: str, cycles: int = 1, name: str = "c.toml") -> Path:
    path = tmp / name
    path.write_text(CONFIG.format(cycles=cycles, network=network))
    return path


def _run(cfg: Path, out: Path, **kw):
    return run_experiment(load_experiment(cfg), out=out, scheduler="serial", progress=None, **kw)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(net, path: Path) -> None:
    np.savez(path, **net.to_dict())


def test_a_resume_with_a_retrained_network_is_refused_naming_what_changed(tmp_path):
    out = tmp_path / "out"
    first = _run(_config(tmp_path, TERNARY.format(epochs=1)), out)
    npz, store = out / "networks" / "t.npz", out / "trials.sqlite"
    before = (_sha(npz), _sha(out / "networks" / "networks.json"), first.rows)
    changed = _config(tmp_path, TERNARY.format(epochs=2))
    for resume in (True, False):  # a finished run must not report its old results under the new config
        with pytest.raises(xb.ConfigError, match=r"network 't': epochs 1 -> 2") as info:
            _run(changed, out, resume=resume)
        assert "mix" in str(info.value)
    assert (_sha(npz), _sha(out / "networks" / "networks.json")) == before[:2]  # nothing retrained or rewritten
    with ResultStore(store, readonly=True) as db:
        spec = db.spec_dict()
        assert db.count() == 2
    stored = spec["fixed"]["networks"]["t"]
    assert stored["sha256"] == network_fingerprint(load_network(npz))
    assert stored["settings"]["spec"]["epochs"] == 1
    # the original config still resumes into the same numbers
    again = _run(_config(tmp_path, TERNARY.format(epochs=1)), out, resume=True)
    assert [r["accuracy_mean"] for r in again.rows] == [r["accuracy_mean"] for r in before[2]]


def test_a_replaced_file_network_is_never_served_from_the_stale_copy(tmp_path):
    source = tmp_path / "net.npz"
    old, new = init_mlp([64, 12, 10], rng=1), init_mlp([64, 12, 10], rng=2)
    _save(old, source)
    cfg = _config(tmp_path, FILE)
    out = tmp_path / "out"
    _run(cfg, out)
    assert network_fingerprint(load_network(out / "networks" / "t.npz")) == network_fingerprint(old)
    _save(new, source)
    with pytest.raises(xb.ConfigError, match="content of its source file"):
        _run(cfg, out, resume=True)
    assert network_fingerprint(load_network(out / "networks" / "t.npz")) == network_fingerprint(old)  # untouched
    (out / "trials.sqlite").unlink()  # a fresh run into the same folder uses the new file
    report = _run(cfg, out)
    assert network_fingerprint(load_network(out / "networks" / "t.npz")) == network_fingerprint(new)
    x, y = load_dataset("digits").split("test")
    # the baseline is on the evaluated points, the config's first 40 (max_points)
    assert report.software["t"] == pytest.approx(float(np.mean(new.predict(x[:40]) == y[:40])), abs=0)


def test_a_network_trained_on_a_user_dataset_is_not_reused_after_the_file_changed(tmp_path):
    """The settings named a user dataset by its file's stem only: a ternary network trained on
    data.npz was reused from networks/ after the user changed the file's training labels (software
    accuracy 0.65 on the new labels, where a fresh folder trains to 0.05), and --resume mixed trials
    of the two datasets."""
    d = load_dataset("digits")
    splits = {"x_train": d.x_train, "x_val": d.x_val, "x_test": d.x_test}

    def save(shift: int) -> None:
        np.savez(tmp_path / "data.npz", **splits, y_train=(d.y_train + shift) % 10, y_val=(d.y_val + shift) % 10,
                 y_test=d.y_test)

    save(0)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(cycles=1, network=TERNARY.format(epochs=1)).replace(
        'dataset = "digits"', "").replace("[hardware]", '[dataset]\nnpz = "data.npz"\n[hardware]'))
    out = tmp_path / "out"
    _run(cfg, out)
    first = network_fingerprint(load_network(out / "networks" / "t.npz"))
    save(1)
    with pytest.raises(xb.ConfigError, match="network 't': the content of its dataset file"):
        _run(cfg, out, resume=True)
    (out / "trials.sqlite").unlink()
    report = _run(cfg, out)
    again = network_fingerprint(load_network(out / "networks" / "t.npz"))
    fresh = _run(cfg, tmp_path / "fresh")
    assert again != first and again == network_fingerprint(load_network(tmp_path / "fresh" / "networks" / "t.npz"))
    assert report.software == fresh.software
    save(1)  # the same arrays written again: the same settings, the network is reused
    assert _run(cfg, out, resume=True).n_failed == 0
    assert network_fingerprint(load_network(out / "networks" / "t.npz")) == again


def test_an_output_folder_can_be_moved_and_resumed(tmp_path):
    cfg = _config(tmp_path, TERNARY.format(epochs=1))
    out = tmp_path / "first"
    _run(cfg, out)
    with ResultStore(out / "trials.sqlite", readonly=True) as db:
        text = json.dumps(db.spec_dict())
    assert str(tmp_path) not in text and str(out.resolve()) not in text  # no absolute path in the spec
    index = json.loads((out / "networks" / "networks.json").read_text())
    # what finds and checks a network holds no absolute path (the provenance records where the config was)
    assert str(tmp_path) not in json.dumps({n: {k: v for k, v in e.items() if k != "provenance"}
                                            for n, e in index.items()})
    assert index["t"]["provenance"]["config_path"] == str(cfg)
    moved = tmp_path / "elsewhere" / "second"
    moved.parent.mkdir()
    shutil.move(str(out), moved)
    assert not out.exists()
    (moved / "trials.sqlite").unlink()  # the trials must now load the network from the moved folder
    report = _run(cfg, moved, resume=True)
    assert report.n_failed == 0 and all(r["n"] == 1 for r in report.rows)


def test_a_network_file_replaced_during_a_run_fails_its_trials_instead_of_mixing(tmp_path):
    path = tmp_path / "n.npz"
    _save(init_mlp([64, 8, 10], rng=1), path)
    params = {"networks": {"t": {"file": "n.npz", "sha256": network_fingerprint(init_mlp([64, 8, 10], rng=2))}},
              "dataset": "digits", "hardware": {"backend": "ideal"}, "max_points": 5}
    with pytest.raises(xb.FileFormatError, match="another network"):
        evaluate_trial(params, np.random.default_rng(0), root=str(tmp_path))


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken", "npy", "npz-without-layers"])
def test_a_file_recipe_that_is_not_a_network_npz_is_a_file_format_error(tmp_path, content):
    source = tmp_path / "net.npz"
    if content == "npy":
        with source.open("wb") as fh:
            np.save(fh, np.zeros(3))
    elif content == "npz-without-layers":
        np.savez(source, something=np.zeros(3))
    else:
        source.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(xb.FileFormatError, match="net.npz") as info:
        _run(_config(tmp_path, FILE), tmp_path / "out")
    assert "\n" not in str(info.value)


def test_a_damaged_network_index_or_cache_is_handled(tmp_path):
    cfg = _config(tmp_path, TERNARY.format(epochs=1))
    out = tmp_path / "out"
    _run(cfg, out)
    index = out / "networks" / "networks.json"
    (out / "trials.sqlite").unlink()
    index.write_text("{ this is not json")
    with pytest.raises(xb.FileFormatError, match="networks.json"):
        _run(cfg, out)
    index.write_text("[1, 2, 3]")
    with pytest.raises(xb.FileFormatError, match="networks.json"):
        _run(cfg, out)
    index.unlink()
    _run(cfg, out)
    (out / "trials.sqlite").unlink()
    (out / "networks" / "t.npz").write_bytes(b"garbage")  # a damaged cached copy is trained again
    report = _run(cfg, out)
    assert report.n_failed == 0 and network_fingerprint(load_network(out / "networks" / "t.npz"))


SLOW = CONFIG.replace("max_points = 40", "max_points = 300")


def test_a_refused_concurrent_run_writes_nothing_into_the_busy_folder(tmp_path):
    """Two real ``xbarsim evaluate`` processes on one --out: the second (another network) is refused
    on the lock before it writes anything; the first finishes with its own network only."""
    slow = tmp_path / "slow.toml"
    slow.write_text(SLOW.format(cycles=12, network=TERNARY.format(epochs=1)))
    other = _config(tmp_path, TERNARY.format(epochs=3), name="other.toml")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "xbarsim.cli", "evaluate"]
    first = subprocess.Popen([*cmd, str(slow), "--out", str(out), "--scheduler", "serial", "--quiet"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        store = out / "trials.sqlite"
        while time.monotonic() < deadline and first.poll() is None:
            if store.exists():
                try:
                    with ResultStore(store, readonly=True) as db:
                        if db.count() >= 1:
                            break
                except xb.XbarError:
                    pass
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the second could start; make it slower"
        npz = out / "networks" / "t.npz"
        snapshot = {p.name: _sha(p) for p in sorted((out / "networks").iterdir())}
        second = subprocess.run([*cmd, str(other), "--out", str(out), "--scheduler", "serial", "--quiet"], env=env,
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 2, second.stderr
        assert "another running" in second.stderr and second.stderr.count("\n") == 1
        assert {p.name: _sha(p) for p in sorted((out / "networks").iterdir())} == snapshot
        out_text, err_text = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err_text
    digest = network_fingerprint(load_network(npz))
    with ResultStore(out / "trials.sqlite", readonly=True) as db:
        assert db.spec_dict()["fixed"]["networks"]["t"]["sha256"] == digest
        recs = db.records()
    assert len(recs) == 24 and all(r.ok for r in recs)
    software = {round(r.results["software_accuracy"], 12) for r in recs}
    assert len(software) == 1  # every trial evaluated the one network


@pytest.mark.parametrize("name", ["report.md", "results.json", "xbarsim.lock", "networks"])
def test_an_experiment_refuses_planted_symlinks_before_training(tmp_path, name):
    cfg = _config(tmp_path, TERNARY.format(epochs=1))
    out = assert_refuses_planted_symlink(tmp_path, name, lambda out: _run(cfg, out))
    assert sorted(p.name for p in out.iterdir()) == sorted({name, "xbarsim.lock"})  # nothing trained or written


def test_the_network_index_records_the_provenance_of_the_run_that_trained_each_network(tmp_path):
    """networks.json names each network file with its fingerprint and settings; it now also records
    the run that trained it (versions, config text and hash, seed, command), as every result file does.
    A second run that reuses the network keeps the first run's record."""
    cfg = _config(tmp_path, TERNARY.format(epochs=1))
    out = tmp_path / "out"
    _run(cfg, out)
    entry = json.loads((out / "networks" / "networks.json").read_text())["t"]
    prov = entry["provenance"]
    assert prov["config_sha256"] == _sha(cfg) and prov["config_text"] == cfg.read_text()
    assert prov["seed"] == load_experiment(cfg).seed and prov["xbarsim"] == xb.__version__
    assert prov["numpy"] == np.__version__ and prov["started"]
    assert entry["sha256"] == network_fingerprint(load_network(out / "networks" / "t.npz"))
    _run(cfg, out, resume=True)
    assert json.loads((out / "networks" / "networks.json").read_text())["t"]["provenance"] == prov
