"""load_results: trials and summaries of a results folder as plain records, with the provenance; every
number checked against the raw store; provenance in every file an experiment writes."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from experiment_helpers import run_sweep_cli
from PIL import Image

from xbarsim.errors import ConfigError
from xbarsim.experiments import load_results, read_csv
from xbarsim.provenance import FIELDS
from xbarsim.sweeps import compact_error

CONFIG = """
name = "results-loader"
trial = "circuit"
trials = 3
seed = 5
[grid]
size = [4, 2]
segment_ohm = [1.0, 0.0]
[fixed]
device = "ohmic"
"""


@pytest.fixture(scope="module")
def sweep_out(tmp_path_factory):
    return run_sweep_cli(tmp_path_factory.mktemp("res"), CONFIG)


def test_load_results_matches_the_raw_store(sweep_out):
    conf, out = sweep_out
    res = load_results(out)
    con = sqlite3.connect(out / "trials.sqlite")
    raw = con.execute("select key, params, results from trials").fetchall()
    con.close()
    assert len(res.trials) == len(raw) == 12 and not res.partial
    by_key = {k: (json.loads(p), json.loads(r)) for k, p, r in raw}
    for t in res.trials:
        params, results = by_key[t["key"]]
        assert t["size"] == params["size"] and t["segment_ohm"] == params["segment_ohm"]
        assert t["ir_error_mean"] == results["ir_error_mean"]
    # the summaries recomputed from the raw records, grouped by their own parameter values
    assert len(res.summaries) == 4
    for row in res.summaries:
        vals = [r["ir_error_mean"] for p, r in by_key.values()
                if p["size"] == row["size"] and p["segment_ohm"] == row["segment_ohm"]]
        assert row["n_ok"] == 3 and row["ir_error_mean_mean"] == pytest.approx(np.mean(vals), rel=1e-14)
    col = res.column("ir_error_mean")
    assert col.shape == (12,) and np.isfinite(col).all()
    assert res.provenance["config_text"] == conf.read_text() and res.provenance["seed"] == 5
    assert len(repr(res)) < 300


def test_every_file_carries_the_provenance(sweep_out):
    conf, out = sweep_out
    doc = json.loads((out / "summary.json").read_text())
    assert list(doc["provenance"]) == list(FIELDS)
    for name in ("trials.csv", "summary.csv"):
        prov, rows = read_csv(out / name)
        assert prov == doc["provenance"] and rows
    pngs = sorted(out.glob("plot_*.png"))
    assert pngs
    for png in pngs:
        with Image.open(png) as img:
            assert json.loads(img.text["xbarsim:provenance"]) == doc["provenance"]
    assert doc["provenance"]["command"] == f"xbarsim sweep {conf} --scheduler serial --out {out} --quiet"


def test_load_results_of_an_empty_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="holds no xbarsim results"):
        load_results(tmp_path)


def test_a_repeated_error_line_is_stored_once():
    text = "ngspice failed:\n" + "\n".join(["Error: singular matrix at node r0_1"] * 70) + "\nend"
    short = compact_error(text)
    assert short.count("singular matrix") == 1 and "[repeated 70 times]" in short
    assert short.splitlines()[0] == "ngspice failed:" and short.splitlines()[-1] == "end"
    assert compact_error("one\ntwo") == "one\ntwo"


def test_experiment_report_repr_is_one_short_line(tmp_path):
    from xbarsim.experiments import ExperimentReport

    rows = tuple({"alpha": a, "accuracy_mean": 0.9, "errors": ["x" * 500]} for a in range(200))
    rep = ExperimentReport(name="big", out=tmp_path, rows=rows, comparisons=(), files=(tmp_path / "r.md",),
                           elapsed_s=12.34, software={"t": 0.936}, table="| a |\n" * 5000)
    text = repr(rep)
    assert "\n" not in text and len(text) < 300
    assert "200 rows" in text and "12.3 s" in text and "t 93.6 %" in text and rep.report() == rep.table


def test_load_results_of_a_monte_carlo_folder_has_every_transfer(tmp_path):
    """A Monte Carlo experiment stores its transfers in transfers_<network>_<model>.sqlite; load_results
    read only trials.sqlite / trials.csv and gave 0 trials for a folder holding 6 transfers. Every
    summary row is recomputed from the raw stores, grouped by the row's `file`."""
    from xbarsim.experiments import experiment_from_dict, run_experiment

    cfg = experiment_from_dict({"name": "mc", "kind": "monte-carlo", "dataset": "half-moons", "transfers": 3,
                                "networks": [{"name": "n", "recipe": "moons", "epochs": 5}],
                                "hardware": {"preset": "tio2_passive"}, "models": ["statistical", "hardware"]})
    run_experiment(cfg, out=tmp_path, scheduler="serial")
    res = load_results(tmp_path)
    assert len(res.trials) == 6 and len(res.summaries) == 2 and not res.partial
    for row in res.summaries:
        con = sqlite3.connect(tmp_path / row["file"])
        raw = {k: json.loads(r) for k, r in con.execute("select key, results from trials").fetchall()}
        con.close()
        mine = [t for t in res.trials if t["file"] == row["file"]]
        assert sorted(t["transfer"] for t in mine) == [0, 1, 2] and all(t["network"] == "n" for t in mine)
        assert [t["accuracy"] for t in mine] == [raw[t["key"]]["accuracy"] for t in mine]
        acc = np.array([raw[t["key"]]["accuracy"] for t in mine])
        assert row["n"] == 3 and row["accuracy_mean"] == pytest.approx(acc.mean(), rel=1e-12)
        assert row["accuracy_std"] == pytest.approx(acc.std(), rel=1e-12, abs=1e-15)
        # each hardware transfer has its layer-mean mapping error, as a sweep trial (before: only
        # mapping_error_l<i>, so .column("mapping_error") refused a Monte Carlo folder)
        layers = [[v for k, v in sorted(raw[t["key"]].items()) if k.startswith("mapping_error_l")] for t in mine]
        if row["model"] == "hardware":
            assert all(len(ls) == 2 for ls in layers)
            assert [t["mapping_error"] for t in mine] == pytest.approx([np.mean(ls) for ls in layers], rel=1e-15)
            assert row["mapping_error_mean"] == pytest.approx(np.mean(layers), rel=1e-12)
        else:
            assert all("mapping_error" not in t for t in mine) and row["mapping_error_mean"] is None
    hw = [t for t in res.trials if t["file"].endswith("_hardware.sqlite")]
    assert np.isfinite(res.column("mapping_error")[[res.trials.index(t) for t in hw]]).all()


def test_load_results_of_a_monte_carlo_folder_reads_the_stores_of_its_last_run(tmp_path, monkeypatch):
    """A Monte Carlo run interrupted during its hardware transfers, then run to the end in the same
    folder with ``models = ["statistical"]``: its report is complete, but load_results read every
    transfers_*.sqlite of the folder: it said partial (the dropped model's store is incomplete) and gave
    trials of a store no summary row covers. It reads the stores the run's results.json lists."""
    from xbarsim.errors import RunInterrupted
    from xbarsim.experiments import TransferTrial, experiment_from_dict, run_experiment

    base = {"name": "mc", "kind": "monte-carlo", "dataset": "half-moons", "transfers": 3,
            "networks": [{"name": "n", "recipe": "moons", "epochs": 5}], "hardware": {"preset": "tio2_passive"}}
    real = TransferTrial.__call__
    calls = []

    def stop_in_the_hardware_transfers(self, params, rng):
        calls.append(1)
        if len(calls) == 5:  # statistical 0-2, hardware 0, then Ctrl-C
            raise KeyboardInterrupt
        return real(self, params, rng)

    with monkeypatch.context() as m:
        m.setattr(TransferTrial, "__call__", stop_in_the_hardware_transfers)
        with pytest.raises(RunInterrupted, match="4 of 6 transfers stored"):
            run_experiment(experiment_from_dict({**base, "models": ["statistical", "hardware"]}), out=tmp_path)
    run_experiment(experiment_from_dict({**base, "models": ["statistical"]}), out=tmp_path, resume=True)
    assert (tmp_path / "transfers_n_hardware.sqlite").is_file()  # left from the first config
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["partial"] is False and doc["stores"] == ["transfers_n_statistical.sqlite"]
    res = load_results(tmp_path)
    assert not res.partial
    assert [r["file"] for r in res.summaries] == ["transfers_n_statistical.sqlite"]
    assert sorted((t["file"], t["transfer"]) for t in res.trials) == [("transfers_n_statistical.sqlite", k)
                                                                      for k in range(3)]
    acc = np.array([t["accuracy"] for t in sorted(res.trials, key=lambda t: t["transfer"])])
    assert res.summaries[0]["n"] == 3 and res.summaries[0]["accuracy_mean"] == pytest.approx(acc.mean(), rel=1e-12)


def test_a_folder_of_a_killed_run_is_partial(tmp_path):
    """A run killed before it wrote its report (OOM killer, power loss) leaves only its store:
    load_results read 2 of the spec's 4 trials and said partial = False."""
    import subprocess
    import sys

    code = f"""
import os
from xbarsim.sweeps import SweepSpec, run_sweep
spec = SweepSpec(name="k", trial="t", grid={{"a": [4, 1, 3, 2]}}, fixed={{}}, trials=1, seed=0)
def trial(params, rng):
    if params["a"] == 3:
        os._exit(9)
    return {{"v": float(params["a"])}}
run_sweep(spec, trial, store={str(tmp_path / "trials.sqlite")!r}, scheduler="serial")
"""
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    res = load_results(tmp_path)
    assert sorted(res.column("v")) == [1.0, 4.0] and res.partial


def test_read_csv_keeps_a_quoted_multi_line_cell_whose_line_starts_with_a_hash(tmp_path):
    """Comment lines are skipped before the header only (before: the '# line two' continuation of a
    quoted cell was dropped, and the next row was swallowed into the cell)."""
    p = tmp_path / "t.csv"
    p.write_text('# provenance: {"seed": 3}\na,error\n1,"line one\n# line two"\n2,ok\n', encoding="utf-8")
    prov, rows = read_csv(p)
    assert prov == {"seed": 3}
    assert rows == [{"a": "1", "error": "line one\n# line two"}, {"a": "2", "error": "ok"}]
