"""Configs of the WAGE recipe and of committees of distinct networks, end to end through a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xbarsim.errors import ConfigError, FileFormatError
from xbarsim.experiments import NetworkSpec, evaluate_trial, experiment_from_dict, run_experiment


def test_wage_and_member_keys_are_validated():
    with pytest.raises(ConfigError, match="apply to recipe 'wage'"):
        NetworkSpec(name="t", recipe="ternary", batch_size=64)
    with pytest.raises(ConfigError, match="learning_rate"):
        NetworkSpec(name="t", recipe="wage", learning_rate=-1.0)
    with pytest.raises(ConfigError, match="members"):
        NetworkSpec(name="t", recipe="wage", members=0)


def test_a_committee_sweep_trains_distinct_members_and_maps_them(tmp_path):
    cfg = experiment_from_dict({
        "name": "cm", "kind": "sweep", "dataset": "digits-wage", "seed": 1, "cycles": 1,
        "networks": [{"name": "w", "recipe": "wage", "hidden": 16, "epochs": 3, "batch_size": 64, "members": 3}],
        "hardware": {"fault_rate": 0.0, "programming_noise": False, "read_noise": False, "dac_bits": None,
                     "adc_bits": None, "strict": False, "strategy": "committee", "committee_networks": "distinct"},
        "grid": {"alpha": [1, 3]},
    })
    rep = run_experiment(cfg, out=tmp_path, scheduler="serial")
    nets = sorted(p.name for p in (tmp_path / "networks").glob("*.npz"))
    assert nets == ["w.member1.npz", "w.member2.npz", "w.npz"]
    a = [np.load(tmp_path / "networks" / n)["layers.0.weight"] for n in nets]
    assert not np.array_equal(a[0], a[2]) and not np.array_equal(a[1], a[2])
    index = json.loads((tmp_path / "networks" / "networks.json").read_text())
    assert [index[k]["key"]["spec"]["seed"] for k in ("w", "w.member1", "w.member2")] == [0, 1, 2]
    by_alpha = {r["alpha"]: r for r in rep.rows}
    assert by_alpha[1]["n_devices_mean"] * 3 == by_alpha[3]["n_devices_mean"]
    # the trials name the members like the networks: relative to the output folder, with their content
    from xbarsim.evaluation import network_fingerprint
    from xbarsim.experiments.networks import load_network
    from xbarsim.sweeps import ResultStore

    with ResultStore(tmp_path / "trials.sqlite", readonly=True) as db:
        fixed = db.spec_dict()["fixed"]
    members = fixed["committee"]["w"]
    assert [m["file"] for m in members] == ["networks/w.member1.npz", "networks/w.member2.npz"]
    assert [m["sha256"] for m in members] == [network_fingerprint(load_network(tmp_path / m["file"]))
                                              for m in members]
    assert [m["settings"]["spec"]["seed"] for m in members] == [1, 2]
    # a member file replaced behind the run's back is refused, never silently mapped
    params = {k: v for k, v in fixed.items() if k != "network"} | {"network": "w", "alpha": 3}
    assert 0 <= evaluate_trial(params, np.random.default_rng(0), root=str(tmp_path))["accuracy"] <= 1
    (tmp_path / "networks" / "w.member2.npz").write_bytes((tmp_path / "networks" / "w.member1.npz").read_bytes())
    with pytest.raises(FileFormatError, match="another network"):
        evaluate_trial(params, np.random.default_rng(0), root=str(tmp_path))
    # alpha beyond the members trained is refused with the fix in the message
    params = {"networks": {"w": str(tmp_path / "networks" / "w.npz")}, "dataset": "digits-wage",
              "hardware": {"strategy": "committee", "committee_networks": "distinct", "alpha": 4, "strict": False}}
    with pytest.raises(ConfigError, match="members"):
        evaluate_trial(params, np.random.default_rng(0))


def test_a_distinct_committee_beyond_the_members_is_refused_before_any_training():
    """Before: the config loaded, the networks were trained and only the committee trials of alpha 3 failed
    (members 2); now the config names the grid point and the fix."""
    raw = {"name": "cm", "kind": "sweep", "dataset": "digits-wage", "cycles": 1,
           "networks": [{"name": "w", "recipe": "wage", "hidden": 16, "members": 2}],
           "hardware": {"strict": False, "strategy": "committee", "committee_networks": "distinct"},
           "grid": {"alpha": [1, 2, 3]}}
    with pytest.raises(ConfigError, match=r"grid point alpha=3: committee_networks 'distinct' at alpha = 3 needs 3 "
                                          r"trained members of network 'w'; it has 2 \(set `members` >= 3"):
        experiment_from_dict(raw)
    experiment_from_dict({**raw, "grid": {"alpha": [1, 2]}})
    experiment_from_dict({**raw, "hardware": {**raw["hardware"], "committee_networks": "same"}})


def test_a_monte_carlo_committee_maps_the_trained_members_and_equals_the_in_memory_run(tmp_path):
    from xbarsim.evaluation import monte_carlo, network_fingerprint
    from xbarsim.experiments.networks import load_network
    from xbarsim.networks import load_dataset

    raw = {
        "name": "cm-mc", "kind": "monte-carlo", "dataset": "digits-wage", "seed": 3, "transfers": 2,
        "models": ["hardware"],
        "networks": [{"name": "w", "recipe": "wage", "hidden": 16, "epochs": 2, "batch_size": 64, "members": 2}],
        "hardware": {"fault_rate": 0.05, "strict": False, "strategy": "committee", "committee_networks": "distinct",
                     "alpha": 2, "energy": False},
    }
    cfg = experiment_from_dict(raw)
    rep = run_experiment(cfg, out=tmp_path, scheduler="serial")
    nets = [load_network(tmp_path / "networks" / f) for f in ("w.npz", "w.member1.npz")]
    mem = monte_carlo(nets[0], load_dataset("digits-wage"), cfg.hardware, transfers=2, seed=3, committee=nets)
    assert rep.rows[0]["robust_fraction_mean"] == mem.robust_fraction
    assert rep.rows[0]["accuracy_mean"] == mem.mean_accuracy
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["summaries"]["w (hardware)"]["model"]["committee"] == [network_fingerprint(n) for n in nets]
    # too few members for alpha: refused before any transfer, naming the fix
    with pytest.raises(ConfigError, match="members"):
        run_experiment(experiment_from_dict({**raw, "hardware": {**raw["hardware"], "alpha": 3}}),
                       out=tmp_path / "b", scheduler="serial")


def test_fault_aware_wage_networks_train_through_the_hardwares_device_model(tmp_path):
    with pytest.raises(ConfigError, match="'moons', 'ternary' and 'wage'"):
        NetworkSpec(name="t", recipe="yinyang-ewc", training="hardware-aware")
    base = {"name": "w", "recipe": "wage", "hidden": 16, "epochs": 3, "batch_size": 64}
    cfg = experiment_from_dict({
        "name": "fa", "kind": "sweep", "dataset": "digits-wage", "seed": 1, "cycles": 1,
        "networks": [base, {**base, "name": "wf", "training": "hardware-aware", "aware_fault_rate": 0.2,
                            "aware_disturbance": "none"}],
        "hardware": {"fault_rate": 0.2, "strict": False, "strategy": "lea"},
        "grid": {"network": ["w", "wf"]},
    })
    run_experiment(cfg, out=tmp_path, scheduler="serial")
    w = np.load(tmp_path / "networks" / "w.npz")
    wf = np.load(tmp_path / "networks" / "wf.npz")
    # same seed, same batches: only the perturbed forward passes differ
    assert not np.array_equal(w["layers.0.weight"], wf["layers.0.weight"])
    index = json.loads((tmp_path / "networks" / "networks.json").read_text())
    assert index["wf"]["key"]["hardware"]["fault_rate"] == 0.2 and "hardware" not in index["w"]["key"]


def test_lr_decay_is_validated_naming_the_key_and_value():
    with pytest.raises(ConfigError, match=r"`lr_decay` applies to recipe 'wage'.*'ternary'"):
        NetworkSpec(name="t", recipe="ternary", lr_decay=0.95)
    for bad in (0.0, 1.5, -0.1, float("nan"), True, "0.9"):
        with pytest.raises(ConfigError, match=r"`lr_decay` must be a factor in \(0, 1\]"):
            NetworkSpec(name="t", recipe="wage", lr_decay=bad)
    assert NetworkSpec(name="t", recipe="wage", lr_decay=1).lr_decay == 1
    with pytest.raises(ConfigError, match=r"\[\[networks\]\] #1: `lr_decay` must be .*got 2"):
        experiment_from_dict({"name": "x", "kind": "sweep", "dataset": "digits-wage",
                              "networks": [{"name": "w", "recipe": "wage", "lr_decay": 2}],
                              "grid": {"alpha": [1]}})
    with pytest.raises(ConfigError, match="unknown key 'lr_decy'"):
        experiment_from_dict({"name": "x", "kind": "sweep", "dataset": "digits-wage",
                              "networks": [{"name": "w", "recipe": "wage", "lr_decy": 0.9}],
                              "grid": {"alpha": [1]}})


def test_lr_decay_reaches_train_wage_and_the_network_settings():
    from dataclasses import replace

    from xbarsim.evaluation import Hardware
    from xbarsim.experiments.networks import network_settings, train_network
    from xbarsim.networks import WAGE_CONFIG, load_dataset, train_wage

    data = load_dataset("digits-wage")
    spec = NetworkSpec(name="w", recipe="wage", hidden=16, epochs=3, batch_size=64, learning_rate=8.0, lr_decay=0.5)
    got = train_network(spec, data, Hardware())
    cfg = replace(WAGE_CONFIG, hidden=16, epochs=3, batch_size=64, learning_rate=8.0)
    want = train_wage(data, replace(cfg, lr_decay=0.5)).network
    constant = train_wage(data, cfg).network
    assert all(np.array_equal(a, b) for a, b in zip(got.weights, want.weights))
    assert not all(np.array_equal(a, b) for a, b in zip(got.weights, constant.weights))
    # unset, the key stays out of the cached networks' settings (caches made before it still match)
    base = {"name": "x", "kind": "sweep", "dataset": "digits-wage", "grid": {"alpha": [1]}}
    unset = network_settings(experiment_from_dict(base | {"networks": [{"name": "w", "recipe": "wage"}]}))
    decayed = network_settings(experiment_from_dict(base | {"networks": [{"name": "w", "recipe": "wage",
                                                                           "lr_decay": 0.95}]}))
    assert "lr_decay" not in unset["w"]["spec"] and decayed["w"]["spec"]["lr_decay"] == 0.95
