"""Sweeps in serial mode: spec and config validation, keys and seeds, the store, failures, resume,
aggregate, progress and the CLI in-process. The Dask paths are in test_sweep_dask.py and the
driver-kill test in test_sweep_cli.py."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sweep_helpers import assert_same_metrics, records
from sweep_cli import main as cli_main

import xbarsim as xb
from xbarsim.experiments import TRIALS, calibrate_busy, check_sweep, load_sweep
from xbarsim.sweeps import (
    ResultStore,
    SweepSpec,
    aggregate_sweep,
    load_sweep_config,
    run_sweep,
    trial_key,
    trial_seed,
)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "examples" / "configs").glob("sweep_*.toml"))


def small_circuit(**kw: object) -> SweepSpec:
    args: dict = dict(name="small", trial="circuit", grid={"segment_ohm": [0.0, 2.0], "size": [3, [2, 5]]},
                      fixed={"batch": 2}, trials=2, seed=11)
    args.update(kw)
    return SweepSpec(**args)


# ----------------------------------------------------------------------------- keys and seeds
def test_trial_keys_are_deterministic_and_independent_of_grid_order():
    assert trial_key({"size": 16, "segment_ohm": 1.0}, 3) == "segment_ohm=1.0,size=16#3"
    assert trial_key({"segment_ohm": 1.0, "size": 16}, 3) == trial_key({"size": 16, "segment_ohm": 1.0}, 3)
    assert trial_key({"device": "sinh", "size": [2, 5]}, 0) == 'device="sinh",size=[2,5]#0'
    a = SweepSpec(name="a", trial="sleep", grid={"duration_s": [0.0, 0.5]}, trials=3)
    keys = [t.key for t in a.tasks()]
    assert len(set(keys)) == a.n_trials == 6


def test_trial_seed_is_a_stable_function_of_seed_and_key():
    """SHA-256 based, so it does not change between processes or Python versions (unlike hash())."""
    ss = trial_seed(5, "segment_ohm=1.0,size=16#3")
    assert ss.entropy == 5 and len(ss.spawn_key) == 4
    first = np.random.Generator(np.random.PCG64(ss)).random()
    assert first == np.random.Generator(np.random.PCG64(trial_seed(5, "segment_ohm=1.0,size=16#3"))).random()
    assert first != np.random.Generator(np.random.PCG64(trial_seed(5, "segment_ohm=1.0,size=16#4"))).random()
    assert first != np.random.Generator(np.random.PCG64(trial_seed(6, "segment_ohm=1.0,size=16#3"))).random()
    assert ss.spawn_key == (1319662579, 2775501209, 45565594, 3182444964)


# ----------------------------------------------------------------------------- spec validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"trial": "nope"}, "`trial` must be one of"),
        ({"name": "bad name!"}, "`name`"),
        ({"grid": {"segment_ohm": []}}, "at least one value"),
        ({"grid": {"segment_ohm": [1.0, 1.0]}}, "twice"),
        ({"grid": {"segment_ohm": [float("nan")]}}, "finite"),
        ({"grid": {"segment_ohm": 1.0}}, "must be a list"),
        ({"grid": {"segmnt_ohm": [1.0]}}, "`grid.segmnt_ohm` is not a parameter of trial kind 'circuit'"),
        ({"fixed": {"segment_ohm": 1.0}}, "both `grid` and `fixed`"),
        ({"fixed": {"v_read": float("inf")}}, "finite"),
        ({"fixed": {"v_read": object()}}, "must be a number"),
        ({"trials": 0}, "`trials`"),
        ({"trials": True}, "`trials`"),
        ({"seed": -1}, "`seed`"),
        ({"grid": {"size": list(range(1000)), "segment_ohm": list(range(1000)), "g_max": list(range(2))}},
         "more than 1000000 trials"),
        ({"trials": 10**9}, "`trials`"),
    ],
)
def test_bad_specs_are_config_errors(kwargs, match):
    """Spec errors come from SweepSpec; an unknown kind or parameter from experiments.check_sweep."""
    with pytest.raises(xb.ConfigError, match=match):
        check_sweep(small_circuit(**kwargs))


def test_spec_round_trips_through_its_dict():
    spec = small_circuit()
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert spec.n_points == 4 and spec.n_trials == 8
    assert list(spec.points())[1] == {"segment_ohm": 0.0, "size": [2, 5]}


# ----------------------------------------------------------------------------- TOML configs
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_configs_load(path):
    spec = load_sweep_config(path)
    assert spec.n_trials >= 1 and spec.trial in TRIALS


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "x"\ntrial = "sleep"\ntrails = 3\n', "'trails'"),
        ('name = "x"\ntrial = "sleep"\n[grid]\nduration = [0.1]\n', "`grid.duration`"),
        ('name = "x"\ntrial = "sleep"\n[fixed]\ndurations_s = 0.1\n', "`fixed.durations_s`"),
        ('name = "x"\ntrial = "sleep"\n[extra]\na = 1\n', "'extra'"),
        ('trial = "sleep"\n', "missing key 'name'"),
    ],
)
def test_unknown_or_missing_toml_keys_name_the_key_and_the_file(tmp_path, text, key):
    path = tmp_path / "conf.toml"
    path.write_text(text)
    with pytest.raises(xb.ConfigError) as info:
        load_sweep(path)
    assert key in str(info.value) and str(path) in str(info.value)


def test_a_bad_quick_override_is_named_as_one(tmp_path):
    # before: "conf.toml: `trials` must be an int ...; got -1." while the top-level trials was 2
    path = tmp_path / "conf.toml"
    path.write_text('name = "x"\ntrial = "sleep"\ntrials = 2\n[grid]\nduration_s = [0.01]\n[quick]\ntrials = -1\n')
    assert load_sweep_config(path).trials == 2
    with pytest.raises(xb.ConfigError) as info:
        load_sweep_config(path, quick=True)
    assert str(info.value).startswith(f"{path}: with the [quick] overrides: `trials`")


def test_unreadable_and_invalid_toml_are_config_errors(tmp_path):
    with pytest.raises(xb.ConfigError, match="cannot read"):
        load_sweep_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(xb.ConfigError, match="invalid TOML") as info:
        load_sweep_config(bad)
    assert str(bad) in str(info.value)


# ----------------------------------------------------------------------------- running serially
def test_serial_sweep_stores_every_trial_once_and_resume_skips_them(tmp_path):
    spec = small_circuit()
    store = tmp_path / "s.sqlite"
    rep = run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial")
    assert (rep.total, rep.skipped, rep.completed, rep.failed) == (8, 0, 8, 0)
    recs = records(store)
    assert sorted(r.key for r in recs) == sorted(t.key for t in spec.tasks())
    assert all(r.ok and r.results["kcl_residual"] < 1e-9 for r in recs)
    r0 = recs[0]
    assert r0.params == {"batch": 2, "segment_ohm": 0.0, "size": 3} and r0.results["ir_error_max"] == 0.0
    assert recs[-1].results["ir_error_mean"] > 0  # 2 ohm wires bend the currents
    with pytest.raises(xb.ConfigError, match="already holds 8 trial"):
        run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial")
    again = run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial", resume=True)
    assert (again.skipped, again.completed) == (8, 0)
    assert [(r.row_id, r.duration_s) for r in records(store)] == [(r.row_id, r.duration_s) for r in recs]
    with pytest.raises(xb.ConfigError, match="different sweep spec"):
        run_sweep(small_circuit(seed=12), TRIALS["circuit"], store=store, scheduler="serial", resume=True)


@pytest.mark.parametrize("changed, named", [
    ({"grid": {"size": [3.0, 4]}}, "grid"),  # 3 -> 3.0 and 0 -> false: equal in Python, not in the store
    ({"fixed": {"flag": False}}, "fixed"),
])
def test_a_store_of_another_spec_is_refused_naming_what_differs_even_int_against_float(tmp_path, changed, named):
    # the difference was looked for by Python equality: the error said 'differs in: )', naming nothing
    store = tmp_path / "s.sqlite"
    spec = dict(name="typed", trial="draw", grid={"size": [3, 4]}, fixed={"flag": 0}, seed=1)
    run_sweep(SweepSpec(**spec), _draw_trial, store=store, scheduler="serial")
    with pytest.raises(xb.ConfigError, match=rf"differs in: {named}\)"):
        run_sweep(SweepSpec(**{**spec, **changed}), _draw_trial, store=store, scheduler="serial", resume=True)


def test_a_store_of_another_spec_names_each_changed_setting_with_both_values(tmp_path):
    """An experiment's settings sit in nested tables of the spec (``fixed.hardware``): resuming with
    ``read_noise`` changed said only "differs in: fixed", naming no key the user wrote. Each changed
    leaf is now named with its stored and its new value; keys one side lacks say so."""
    store = tmp_path / "s.sqlite"
    spec = dict(name="nested", trial="draw", grid={"size": [3, 4]}, seed=1,
                fixed={"hardware": {"read_noise": True, "adc_bits": 8}, "dataset": "digits"})
    run_sweep(SweepSpec(**spec), _draw_trial, store=store, scheduler="serial")
    changed = {**spec, "fixed": {"hardware": {"read_noise": False, "dac_bits": 6}, "dataset": "digits"}}
    with pytest.raises(xb.ConfigError) as info:
        run_sweep(SweepSpec(**changed), _draw_trial, store=store, scheduler="serial", resume=True)
    assert ("(differs in: fixed); stored -> now: fixed.hardware.adc_bits: 8 -> (unset); fixed.hardware.dac_bits: "
            "(unset) -> 6; fixed.hardware.read_noise: true -> false; use another store path") in str(info.value)


def test_a_spec_mismatch_carries_whole_values_and_its_message_cuts_them(tmp_path):
    """SpecMismatchError.changes hold whole JSON values (before: cut to 80 characters, so a Monte Carlo
    refusal of 1000 -> 500 transfers printed the same cut list on both sides); the message still cuts."""
    store = tmp_path / "s.sqlite"
    spec = dict(name="long", trial="draw", grid={"size": list(range(40))}, seed=1, trials=1)
    with ResultStore(store) as db:
        db.bind(SweepSpec(**spec).to_dict())
    with pytest.raises(xb.SpecMismatchError) as info:
        with ResultStore(store) as db:
            db.bind(SweepSpec(**{**spec, "grid": {"size": list(range(30))}}).to_dict())
    (path, old, new), = info.value.changes
    assert path == "grid.size" and json.loads(old) == list(range(40)) and json.loads(new) == list(range(30))
    assert f"grid.size: {old[:80]} -> {new[:80]};" in str(info.value) and len(old) > 80


def _draw_trial(params, rng):
    return {"draw": float(rng.random())}



def _appending_trial(params, rng):
    params["layers"].append(0)  # a trial that changes a list it was given
    return {"n_layers": len(params["layers"]), "draw": float(rng.random())}


def test_a_trial_that_changes_its_parameters_changes_no_other_trial_nor_the_spec(tmp_path):
    # serial mode passed every trial of a point the same list (the spec's own): the third trial counted 5 layers,
    # the store kept the changed lists and the spec's grid grew, where a Dask worker gets its own copy
    spec = SweepSpec(name="appending", trial="appending", grid={"layers": [[1, 2], [3]]}, trials=3, seed=2)
    before = json.loads(json.dumps(spec.to_dict()))
    run_sweep(spec, _appending_trial, store=tmp_path / "s.sqlite", scheduler="serial")
    recs = records(tmp_path / "s.sqlite")
    assert spec.to_dict() == before
    assert [(r.params["layers"], r.results["n_layers"]) for r in recs] == [([1, 2], 3)] * 3 + [([3], 2)] * 3
    aggregate_sweep(tmp_path / "s.sqlite", tmp_path, spec=spec, plots=False)  # refused the changed spec before

def _interrupting_trial(params, rng):
    if params.get("duration_s") == 0.003:
        raise KeyboardInterrupt  # a BaseException: stops the driver like Ctrl-C, nothing is stored for it
    return TRIALS["sleep"](params, rng)


def test_resume_after_an_interrupted_serial_sweep_runs_only_the_missing_trials(tmp_path):
    spec = SweepSpec(name="intr", trial="interrupting", grid={"duration_s": [0.001, 0.002, 0.003, 0.004]},
                     trials=2, seed=1)
    store = tmp_path / "s.sqlite"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, _interrupting_trial, store=store, scheduler="serial")
    before = records(store)
    assert len(before) == 4
    rep = run_sweep(spec, TRIALS["sleep"], store=store, scheduler="serial", resume=True)
    assert (rep.skipped, rep.completed) == (4, 4)
    after = records(store)
    assert len(after) == 8 and len({r.key for r in after}) == 8
    kept = {r.key: r for r in after}
    assert all(kept[r.key] == r for r in before)  # same row id, duration, results: not recomputed
    reference = tmp_path / "ref.sqlite"
    run_sweep(spec, TRIALS["sleep"], store=reference, scheduler="serial")
    assert_same_metrics(after, records(reference))


def _failing_trial(params, rng):
    mode = params["mode"]
    if mode == "xbar":
        raise xb.CircuitError("node r0_0 floats")
    if mode == "other":
        return {"x": 1 / 0}
    if mode == "nan":
        return {"x": float("nan")}
    if mode == "type":
        return {"x": [1, 2]}
    if mode == "warn":
        import warnings

        warnings.warn("careful", UserWarning, stacklevel=2)
    return {"x": float(rng.random()), "label": mode, "flag": True}


def test_failing_trials_are_recorded_with_type_and_message_and_the_sweep_goes_on(tmp_path):
    spec = SweepSpec(name="f", trial="failing", grid={"mode": ["ok", "xbar", "other", "nan", "type", "warn"]})
    rep = run_sweep(spec, _failing_trial, store=tmp_path / "s.sqlite", scheduler="serial")
    assert (rep.completed, rep.failed) == (2, 4)
    by_mode = {r.params["mode"]: r for r in records(tmp_path / "s.sqlite")}
    assert (by_mode["xbar"].error_type, by_mode["xbar"].error) == ("CircuitError", "node r0_0 floats")
    assert by_mode["other"].error_type == "ZeroDivisionError" and "division by zero" in by_mode["other"].error
    assert by_mode["nan"].error_type == "ValueError" and "not finite" in by_mode["nan"].error
    assert by_mode["type"].error_type == "TypeError"
    assert by_mode["ok"].results["flag"] is True and by_mode["ok"].results["label"] == "ok"
    # a warning inside a trial is recorded, not raised (pytest runs with -W error) nor printed
    assert by_mode["warn"].ok and by_mode["warn"].warnings == ("UserWarning: careful",)
    assert all(not r.results for r in by_mode.values() if not r.ok)


def test_circuit_trial_failures_are_typed(tmp_path):
    """Sinh(a=400) at 5 V: the sparse Newton solve diverges -> ConvergenceError; a bad parameter ->
    ConfigError; an absurd size fails before allocating."""
    spec = SweepSpec(name="c", trial="circuit", grid={"sinh_a": [400.0], "size": [2, 10**9, [3, 0]]},
                     fixed={"device": "sinh", "v_read": 5.0, "inputs": "constant"})
    run_sweep(spec, TRIALS[spec.trial], store=tmp_path / "s.sqlite", scheduler="serial")
    recs = records(tmp_path / "s.sqlite")
    assert [r.error_type for r in recs] == ["ConvergenceError", "ConfigError", "ConfigError"]
    assert "`size`" in recs[1].error and "`size`" in recs[2].error


def test_busy_and_sleep_trials_are_seeded(tmp_path):
    spec = SweepSpec(name="b", trial="busy", grid={"iterations": [10, 1000]}, trials=2, seed=3)
    run_sweep(spec, TRIALS[spec.trial], store=tmp_path / "a.sqlite", scheduler="serial")
    run_sweep(spec, TRIALS[spec.trial], store=tmp_path / "b.sqlite", scheduler="serial")
    a, b = records(tmp_path / "a.sqlite"), records(tmp_path / "b.sqlite")
    assert_same_metrics(a, b)
    assert len({r.results["checksum"] for r in a}) == 4
    assert calibrate_busy(0.01, probe_s=0.01) >= 1
    with pytest.raises(xb.ConfigError):
        calibrate_busy(-1.0)


# ----------------------------------------------------------------------------- the store
def test_store_is_append_only_and_single_writer(tmp_path):
    spec = SweepSpec(name="s", trial="sleep", grid={"duration_s": [0.0]})
    store = tmp_path / "s.sqlite"
    run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial")
    con = sqlite3.connect(store)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE trials SET status = 'failed'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM trials")
    con.close()
    holder = ResultStore(store)
    holder.acquire()
    try:
        with pytest.raises(xb.ConfigError, match="another running sweep"):
            run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial", resume=True)
    finally:
        holder.close()
    assert run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial", resume=True).skipped == 1
    not_sqlite = tmp_path / "junk.sqlite"
    not_sqlite.write_text("this is not a database" * 100)
    with pytest.raises(xb.ConfigError, match="cannot be opened"):
        run_sweep(spec, TRIALS[spec.trial], store=not_sqlite, scheduler="serial")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheduler": "serial", "n_workers": 2}, "`n_workers` applies"),
        ({"scheduler": "local", "n_workers": 0}, "`n_workers`"),
        ({"scheduler": "not an address"}, "`scheduler`"),
        ({"scheduler": 3}, "`scheduler`"),
        ({"resume": "yes"}, "`resume`"),
    ],
)
def test_bad_run_arguments_are_config_errors(tmp_path, kwargs, match):
    spec = SweepSpec(name="s", trial="sleep")
    with pytest.raises(xb.ConfigError, match=match):
        run_sweep(spec, TRIALS[spec.trial], store=tmp_path / "s.sqlite", **kwargs)


def test_unreachable_scheduler_is_a_config_error(tmp_path):
    import dask

    spec = SweepSpec(name="s", trial="sleep")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(xb.ConfigError, match="could not connect"):
            run_sweep(spec, TRIALS[spec.trial], store=tmp_path / "s.sqlite", scheduler="tcp://127.0.0.1:9")


# ----------------------------------------------------------------------------- aggregate and progress
def test_aggregate_is_built_from_the_store(tmp_path):
    spec = small_circuit()
    store = tmp_path / "s.sqlite"
    run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial")
    agg = aggregate_sweep(store, tmp_path / "out")
    assert (agg.n_trials, agg.n_ok, agg.n_failed, agg.n_missing) == (8, 8, 0, 0)
    assert {p.name for p in agg.plots} >= {"plot_ir_error_mean.png"}  # bookkeeping metrics are not plotted
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in agg.plots)
    doc = json.loads(agg.summary_json.read_text())
    recs = records(store)
    for p, row in enumerate(doc["points"]):
        vals = [r.results["ir_error_mean"] for r in recs if r.point == p]
        assert row["ir_error_mean_mean"] == pytest.approx(np.mean(vals), rel=1e-15)
        assert row["n_ok"] == 2
    lines = agg.trials_csv.read_text().splitlines()
    assert lines[0].startswith("# provenance: {")  # then the header and 8 trials
    assert len(lines) == 10 and lines[1].startswith("key,point,trial,segment_ohm,size,status")
    assert len(agg.summary_csv.read_text().splitlines()) == 6
    # a point whose trials all failed has no statistics (null in JSON, empty in CSV), not NaN
    fspec = SweepSpec(name="f", trial="failing", grid={"mode": ["ok", "xbar"]})
    run_sweep(fspec, _failing_trial, store=tmp_path / "f.sqlite", scheduler="serial")
    fagg = aggregate_sweep(tmp_path / "f.sqlite", tmp_path / "fout")
    fdoc = json.loads(fagg.summary_json.read_text())
    assert fdoc["points"][1]["x_mean"] is None and fdoc["n_failed"] == 1
    assert "NaN" not in fagg.summary_csv.read_text()
    with pytest.raises(xb.ConfigError, match="does not exist"):
        aggregate_sweep(tmp_path / "none.sqlite", tmp_path / "x")



def _stopping_at_a2(params, rng):
    if params["a"] == 2:
        raise KeyboardInterrupt
    return _draw_trial(params, rng)


def test_trials_csv_numbers_points_in_the_grid_order_of_the_spec_it_is_written_for(tmp_path):
    # a config resumed with its grid keys reordered is the same spec (same keys, seeds, stored text), but the
    # stored point index follows the order of the run that stored each trial: trials.csv said point 1 for
    # both a=1,b="y" (stored by the first order) and a=2,b="x" (by the second)
    store = tmp_path / "s.sqlite"
    first = SweepSpec(name="order", trial="draw", grid={"a": [1, 2], "b": ["x", "y"]}, seed=3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(first, _stopping_at_a2, store=store, scheduler="serial")
    second = SweepSpec(name="order", trial="draw", grid={"b": ["x", "y"], "a": [1, 2]}, seed=3)
    run_sweep(second, _draw_trial, store=store, scheduler="serial", resume=True)
    agg = aggregate_sweep(store, tmp_path / "out", spec=second, plots=False)
    rows = list(csv.DictReader(agg.trials_csv.read_text().splitlines()[1:]))
    assert [(r["point"], r["b"], r["a"]) for r in rows] == [
        (str(i), p["b"], str(p["a"])) for i, p in enumerate(second.points())]
    summary = list(csv.DictReader(agg.summary_csv.read_text().splitlines()[1:]))
    for i, row in enumerate(summary):  # the summary's rows are the same points, in the same order
        assert (row["b"], row["a"], row["draw_mean"]) == (rows[i]["b"], rows[i]["a"], rows[i]["draw"])

def test_progress_is_a_callback_and_the_engine_prints_nothing(tmp_path, capsys):
    spec = SweepSpec(name="p", trial="sleep", grid={"duration_s": [0.0, 0.001]}, trials=2)
    calls: list[tuple[str, int, int]] = []
    store = tmp_path / "a.sqlite"
    run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial", progress=lambda *a: calls.append(a))
    assert calls == [("p", k, 4) for k in range(5)]
    assert capsys.readouterr() == ("", "")
    calls.clear()
    run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial", resume=True, progress=lambda *a: calls.append(a))
    assert calls == [("p", 4, 4)]  # resumed work is counted, not redone
    with pytest.raises(xb.ConfigError, match="`progress`"):
        run_sweep(spec, TRIALS[spec.trial], store=tmp_path / "b.sqlite", scheduler="serial", progress=True)


def test_cli_progress_bar_on_stderr_and_quiet(tmp_path, capsys):
    conf = tmp_path / "p.toml"
    conf.write_text('name = "p"\ntrial = "sleep"\ntrials = 2\n[grid]\nduration_s = [0.0, 0.001]\n')
    assert cli_main(["sweep", str(conf), "--scheduler", "serial", "--out", str(tmp_path / "a")]) == 0
    assert "4/4" in capsys.readouterr().err  # tqdm's bar
    assert cli_main(["sweep", str(conf), "--scheduler", "serial", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- CLI in-process
def test_cli_sweep_serial_writes_store_and_aggregate(tmp_path, capsys):
    conf = tmp_path / "c.toml"
    conf.write_text('name = "cli"\ntrial = "circuit"\ntrials = 2\n[grid]\nsegment_ohm = [0.0, 1.0]\n'
                    '[fixed]\nsize = 4\n')
    out = tmp_path / "out"
    assert cli_main(["sweep", str(conf), "--scheduler", "serial", "--out", str(out), "--quiet"]) == 0
    stdout, stderr = capsys.readouterr()
    assert "4 trials (0 already stored, 4 completed, 0 failed now)" in stdout and stderr == ""
    assert {"trials.sqlite", "trials.csv", "summary.csv", "summary.json"} <= {p.name for p in out.iterdir()}
    assert cli_main(["sweep", str(conf), "--scheduler", "serial", "--out", str(out), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert cli_main(["sweep", str(conf), "--scheduler", "serial", "--out", str(out), "--resume"]) == 0
    assert "4 already stored, 0 completed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "conf_text", "match"),
    [
        ([], 'name = "x"\ntrial = "sleep"\nbogus = 1\n', "unknown key 'bogus'"),
        (["--workers", "0"], 'name = "x"\ntrial = "sleep"\n', "`--workers`"),
        (["--scheduler", "serial", "--workers", "2"], 'name = "x"\ntrial = "sleep"\n', "`--workers` applies"),
        ([], 'name = "x"\ntrial = "sleep"\n[grid]\nduration_s = []\n', "at least one value"),
        ([], "name = [\n", "invalid TOML"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, extra, conf_text, match):
    conf = tmp_path / "c.toml"
    conf.write_text(conf_text)
    assert cli_main(["sweep", str(conf), "--out", str(tmp_path / "o"), *extra]) == 2
    stdout, stderr = capsys.readouterr()
    assert stdout == "" and stderr.startswith("xbarsim sweep: error: ") and match in stderr
    assert "Traceback" not in stderr


def test_cli_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["sweep", "c.toml", "--workers", "many"])
    assert info.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def test_a_metric_named_like_a_built_in_column_gets_its_own_column(tmp_path):
    """The sleep trial reports `duration_s` (the seconds asked for), the name of the wall-time column and of
    its grid key: each is written once (`grid.duration_s`, `duration_s`, `result.duration_s`), and summary.csv holds the
    statistics of both, each recomputed from the trials (before: three `duration_s` columns in trials.csv,
    and two `duration_s_mean` columns in summary.csv, both the wall time)."""
    import csv

    spec = SweepSpec(name="s", trial="sleep", grid={"duration_s": [0.0, 0.02]}, trials=2)
    store = tmp_path / "s.sqlite"
    run_sweep(spec, TRIALS[spec.trial], store=store, scheduler="serial")
    agg = aggregate_sweep(store, tmp_path / "out")
    header = agg.trials_csv.read_text().splitlines()[1].split(",")
    assert len(header) == len(set(header))
    assert {"grid.duration_s", "duration_s", "result.duration_s"} <= set(header)  # grid key, wall time, metric
    with agg.trials_csv.open(newline="") as fh:
        trials = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    with agg.summary_csv.open(newline="") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    assert len(lines[0].split(",")) == len(set(lines[0].split(",")))
    summary = list(csv.DictReader(lines))
    recs = records(store)
    for row in summary:
        mine = [r for r in recs if r.params["duration_s"] == float(row["grid.duration_s"])]
        assert len(mine) == 2
        assert float(row["result.duration_s_mean"]) == pytest.approx(float(row["grid.duration_s"]), abs=0)
        assert float(row["duration_s_mean"]) == pytest.approx(np.mean([r.duration_s for r in mine]), rel=1e-12)
        assert float(row["draw_mean"]) == pytest.approx(
            np.mean([float(t["draw"]) for t in trials if float(t["grid.duration_s"]) == float(row["grid.duration_s"])]),
            rel=1e-12)
    from xbarsim.sweeps.aggregate import summarize

    with pytest.raises(xb.ConfigError, match="duration_s"):
        summarize(recs, list(spec.points()), ["duration_s"])
    # the trials in another order, the metric renamed as the aggregate does: the same summary.csv cells
    import dataclasses

    shuffled = [dataclasses.replace(r, results={("result." + k if k == "duration_s" else k): v
                                                for k, v in r.results.items()}) for r in recs[::-1]]
    shuffled = shuffled[1::2] + shuffled[0::2]
    again = summarize(shuffled, list(spec.points()), ["draw", "result.duration_s"])
    for row, new in zip(summary, again):
        for col in ("duration_s_mean", "draw_mean", "draw_std", "result.duration_s_mean"):
            assert float(row[col]) == pytest.approx(new[col], rel=1e-12, abs=1e-15), col


@pytest.mark.parametrize(("fixed", "named", "api"), [
    # before: "`a` must be a sinh nonlinearity ... (the device is ohmic: use Ohmic())"
    ({"device": "sinh", "sinh_a": 1e-300}, ["`sinh_a`", 'device = "ohmic"'], ["`a`", "Ohmic()"]),
    # before: "`timeout_s` needs mode='subprocess'"
    ({"backend": "ngspice", "ngspice_mode": "shared", "ngspice_timeout_s": 5.0},
     ["`ngspice_timeout_s`", 'ngspice_mode = "subprocess"'], ["`timeout_s`", "mode="]),
    # before: accepted, then every trial failed with "NgspiceOptions.max_cells=16384 ... Raise max_cells"
    ({"backend": "ngspice", "size": 129}, ["`size`", "129x129", 'backend = "sparse"'], ["max_cells"]),
])
def test_circuit_parameter_errors_name_the_config_keys_before_any_trial(fixed, named, api):
    with pytest.raises(xb.ConfigError) as info:
        check_sweep(SweepSpec(name="c", trial="circuit", fixed=fixed))
    msg = str(info.value)
    assert all(word in msg for word in named), msg
    assert not any(word in msg for word in api), msg


@pytest.mark.parametrize(("grid", "fixed", "named"), [
    ({}, {"sinh_a": 3.0}, ["`fixed.sinh_a`", 'device = "sinh"']),  # ohmic by default
    ({"sinh_a": [1.0, 3.0]}, {"device": "ohmic"}, ["`grid.sinh_a`", 'device = "sinh"']),
    ({}, {"backend": "ngspice", "solver_method": "iterative"}, ["`fixed.solver_method`", 'backend = "sparse"']),
    ({"ngspice_timeout_s": [1.0, 5.0]}, {}, ["`grid.ngspice_timeout_s`", 'backend = "ngspice"']),
])
def test_a_circuit_parameter_that_no_point_uses_is_refused(grid, fixed, named):
    """Before: accepted and ignored (a plot against sinh_a of ohmic cells was a flat line of repeats)."""
    with pytest.raises(xb.ConfigError) as info:
        check_sweep(SweepSpec(name="c", trial="circuit", grid=grid, fixed=fixed))
    assert all(word in str(info.value) for word in named), str(info.value)


def test_a_circuit_parameter_that_some_points_use_is_accepted():
    spec = SweepSpec(name="c", trial="circuit", grid={"device": ["ohmic", "sinh"], "backend": ["sparse", "ngspice"]},
                     fixed={"sinh_a": 3.0, "solver_method": "direct", "ngspice_timeout_s": 5.0,
                            "ngspice_mode": "subprocess"})
    assert check_sweep(spec) is TRIALS["circuit"]


def test_cli_sweep_with_failed_trials_reports_them_per_point(tmp_path, capsys):
    """Before: summary.json's rows held no `errors` (RESERVED_COLUMNS says they do) and stdout said only
    'N failed trial(s) in total', not at which point; the other point's aggregate stays complete."""
    conf = tmp_path / "c.toml"
    conf.write_text('name = "f"\ntrial = "circuit"\ntrials = 2\n[grid]\nsinh_a = [2.07, 400.0]\n'
                    '[fixed]\nsize = 2\ndevice = "sinh"\nv_read = 5.0\ninputs = "constant"\n')
    out = tmp_path / "out"
    assert cli_main(["sweep", str(conf), "--scheduler", "serial", "--out", str(out), "--quiet"]) == 1
    stdout = capsys.readouterr().out
    assert "2 failed trial(s) in total" in stdout
    assert "sinh_a=400.0: 2 of 2 failed (ConvergenceError: " in stdout and "sinh_a=2.07:" not in stdout
    ok, bad = json.loads((out / "summary.json").read_text())["points"]
    assert (ok["n_ok"], bad["n_failed"]) == (2, 2) and ok["ir_error_mean_mean"] is not None
    assert "errors" not in ok and [e.split(":")[0] for e in bad["errors"]] == ["ConvergenceError"]
