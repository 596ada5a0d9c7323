"""Configs of the WAGE recipe and of committees of distinct networks, end to end through a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xbarsim.errors import ConfigError
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
    # alpha beyond the members trained is refused with the fix in the message
    params = {"networks": {"w": str(tmp_path / "networks" / "w.npz")}, "dataset": "digits-wage",
              "hardware": {"strategy": "committee", "committee_networks": "distinct", "alpha": 4, "strict": False}}
    with pytest.raises(ConfigError, match="members"):
        evaluate_trial(params, np.random.default_rng(0))
