"""A whole grid is checked before the first trial, a failed trial makes the exit status non-zero
(issue 13 item 8), and --quick reports say what actually ran (item 9), for every shipped config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import xbarsim as xb
from xbarsim.cli import main
from xbarsim.experiments import load_experiment, load_sweep
from xbarsim.experiments.report import markdown, protocol_text, quick_differences

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "examples" / "configs").glob("*.toml"))


def _sweep_toml(tmp: Path, grid: str, fixed: str = "size = 3") -> Path:
    path = tmp / "s.toml"
    path.write_text(f'name = "g"\ntrial = "circuit"\ntrials = 1\n[grid]\n{grid}\n[fixed]\n{fixed}\n')
    return path


@pytest.mark.parametrize(("grid", "fixed", "key", "value"), [
    ("segment_ohm = [1.0, -1.0, 2.0]", "size = 3", "segment_ohm", "-1.0"),
    ("size = [3, 0]", "batch = 1", "size", "0"),
    ("v_read = [0.3]\ng_max = [1e-4, 1e-7]", "g_min = 1e-6", "g_min", "1e-06"),
    ("device = ['ohmic', 'tanh']", "size = 3", "device", "'tanh'"),
])
def test_every_grid_point_is_checked_before_the_first_trial(tmp_path, capsys, grid, fixed, key, value):
    cfg = _sweep_toml(tmp_path, grid, fixed)
    with pytest.raises(xb.ConfigError) as info:
        load_sweep(cfg)
    assert key in str(info.value) and value in str(info.value) and "grid point" in str(info.value)
    out = tmp_path / "out"
    assert main(["sweep", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and key in err
    assert not out.exists()  # refused before anything was created


def test_a_sweep_with_failed_trials_exits_1(tmp_path, capsys):
    # legal values, but sinh cells at 5 V with a = 400 /V overflow in the solve: the trials fail
    cfg = _sweep_toml(tmp_path, "sinh_a = [2.07, 400.0]", "size = 2\ndevice = 'sinh'\nv_read = 5.0")
    out = tmp_path / "out"
    rc = main(["sweep", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"])
    text = capsys.readouterr().out
    doc = json.loads((out / "summary.json").read_text())
    assert doc["n_failed"] >= 1, doc
    assert rc == 1 and "failed" in text
    assert main(["sweep", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet", "--resume"]) == 1
    assert main(["sweep", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet",
                 "--retry-failed"]) == 2  # --retry-failed needs --resume, said in the flags a user types
    err = capsys.readouterr().err
    assert "`--retry-failed` re-runs failed trials of a stored sweep; it needs --resume." in err
    assert "(--resume)" not in err and "retry_failed" not in err


# ----------------------------------------------------------------------------- --quick
@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_has_a_valid_quick_variant_and_says_so(path):
    text = path.read_text()
    assert re.search(r"^\[quick\]", text, re.M), f"{path.name} has no [quick] table"
    if re.search(r'^kind\s*=', text, re.M):
        full, quick = load_experiment(path), load_experiment(path, quick=True)
        assert quick.quick_changes, "the [quick] table changes nothing"
        proto = protocol_text(quick)
        if quick.kind == "sweep":
            assert f"{quick.cycles} cycle(s) per grid point" in proto
            for key, values in quick.grid.items():
                assert key in proto
        else:
            assert f"{quick.transfers} transfers" in proto and f"{full.transfers} transfers" not in proto
        for setting, q, f in quick.quick_changes:  # every change is named, with the full run's value
            assert setting in proto
        assert "QUICK" in proto and "QUICK" not in protocol_text(full)
        report = markdown(quick, [], ["network"], ["accuracy"],
                          [{"label": "paper", "metric": "accuracy", "point": {}, "paper": 0.9, "ours_mean": 0.8,
                            "ours_std": 0.0, "n": 1, "note": ""}], {"n": 0.9}, 1.0)
        for diff in quick_differences(quick):
            assert f"quick run: {diff}" in report
        assert "Full-run description" in report or not quick.description
    else:
        full, quick = load_sweep(path), load_sweep(path, quick=True)
        assert quick.name == f"{full.name}-quick" and quick.n_trials < full.n_trials


MC = """
name = "q-mc"
kind = "monte-carlo"
description = "Drolet-like: 1000 transfers."
dataset = "half-moons"
transfers = 40
models = ["statistical"]
networks = [{ name = "regular", recipe = "moons", epochs = 20 }]
hardware = { preset = "tio2_passive", bias = "crossbar" }
[[reference]]
label = "paper robust fraction"
metric = "robust_fraction"
point = { network = "regular", model = "statistical" }
value = 0.185
note = "the paper trains for 200 epochs"
[quick]
transfers = 5
"""


def test_a_quick_monte_carlo_report_states_its_transfers_and_the_differences_beside_the_paper(tmp_path, capsys):
    cfg = tmp_path / "mc.toml"
    cfg.write_text(MC)
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--quick", "--out", str(out), "--quiet"]) == 0
    report = (out / "report.md").read_text()
    assert "What ran: 5 transfers per network and model" in report
    assert "transfers 5 (full run: 40)" in report
    row = next(line for line in report.splitlines() if line.startswith("| paper robust fraction"))
    assert "the paper trains for 200 epochs" in row and "quick run: transfers 5 instead of 40" in row
    doc = json.loads((out / "results.json").read_text())
    assert doc["quick_changes"] == [{"setting": "transfers", "quick": 5, "full": 40}]
    assert doc["rows"][0]["n"] == 5


def test_the_report_states_the_hardware_it_simulated(tmp_path):
    """report.md says which hardware ran (before: only the grid, and the config text under provenance):
    the preset and backend always, every other [hardware] field away from its default, the variants'
    and read-outs' changes, in the config's own spelling."""
    from experiment_helpers import lea_experiment

    from xbarsim.experiments import load_experiment
    from xbarsim.experiments.report import hardware_text

    path = tmp_path / "e.toml"
    path.write_text(lea_experiment("hw", 1, 'variant = ["lea", "committee"]')
                    .replace("[grid]", '[readouts]\nideal = { backend = "ideal" }\n[grid]'))
    text = hardware_text(load_experiment(path))
    assert text == ("Hardware (`[hardware]`): preset rram_1t1r_nist; backend sparse; fault_rate 0.05; device ohmic; "
                    "segment_ohm 1; strict false. Variants: lea = strategy lea; committee = strategy committee. "
                    "Read-outs of the same transfers: ideal = backend ideal.")


def test_the_hardware_line_leaves_out_a_value_the_grid_replaces(tmp_path):
    """[hardware] fault_rate = 0.05 under a grid of fault_rate 0 and 0.2: the report's hardware line said
    'fault_rate 0.05', a rate no trial ran with (the grid's values are in the 'What ran' line)."""
    from experiment_helpers import lea_experiment

    from xbarsim.experiments import load_experiment
    from xbarsim.experiments.report import hardware_text, protocol_text

    path = tmp_path / "e.toml"
    path.write_text(lea_experiment("hw", 1, 'fault_rate = [0.0, 0.2]\nsegment_ohm = [0.5, 5.0]'))
    config = load_experiment(path)
    assert config.hardware.fault_rate == 0.05 and config.hardware.segment_ohm == 1.0
    assert hardware_text(config).startswith("Hardware (`[hardware]`): preset rram_1t1r_nist; backend sparse; device ohmic; "
                                            "strict false.")
    assert "fault_rate [0, 0.2]; segment_ohm [0.5, 5]" in protocol_text(config)


def test_the_footnote_explains_a_readout_whose_name_is_not_an_identifier(tmp_path):
    """exp4_circuit's read-outs `ohmic-1ohm` and `sinh-1ohm` become the columns `accuracy_ohmic_1ohm` and
    `accuracy_sinh_1ohm`; the footnote looked for `accuracy_ohmic-1ohm` and explained neither (found by
    the diff review)."""
    from experiment_helpers import lea_experiment

    from xbarsim.experiments import load_experiment
    from xbarsim.experiments.report import markdown

    path = tmp_path / "e.toml"
    path.write_text(lea_experiment("fn", 1, "alpha = [1]")
                    .replace("[grid]", '[readouts]\nohmic-1ohm = { backend = "sparse", device = "ohmic" }\n[grid]'))
    config = load_experiment(path)
    text = markdown(config, [], ["alpha"], ["accuracy", "mapping_error", "accuracy_ohmic_1ohm"], [], {"t": 0.9}, 1.0)
    assert "`accuracy_ohmic_1ohm`: the same transfers (chip, conductances) read again through the read-out" in text
