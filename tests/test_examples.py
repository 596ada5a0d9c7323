"""Smoke-run the numbered example scripts headless, each in a fresh working directory."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xbarsim.provenance import read_csv_provenance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of an example's CSV, after checking its first line is the provenance record."""
    prov = read_csv_provenance(path)
    assert prov is not None and prov["command"] and prov["xbarsim"], path.read_text()[:200]
    with path.open(newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("# provenance: ")))


def _config_provenance(path: Path, config: Path) -> dict:
    """The CSV's provenance record, after checking it names the config file the example reads (its
    SHA-256 and text) and the config's seed, which the example's transfers use."""
    import hashlib

    from xbarsim.experiments import load_experiment

    prov = read_csv_provenance(path)
    assert prov is not None
    assert prov["config_path"] == str(config) and prov["config_text"] == config.read_text()
    assert prov["config_sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
    assert prov["seed"] == load_experiment(config).seed and prov["partial"] is False
    return prov


def _png_provenance(path: Path) -> dict:
    """The provenance record in a PNG's ``xbarsim:provenance`` text chunk."""
    from PIL import Image

    with Image.open(path) as img:
        text = img.info.get("xbarsim:provenance")
    assert text, f"{path.name} has no provenance chunk"
    return json.loads(text)


#: 03_bias_schemes.py is smoke-run by tests/cli/test_bias_cli.py.
SCRIPTS = ["01_ir_drop.py", "02_nonlinear_write.py", "04_lea_mapping.py"]
#: Experiment examples run in their quick variant; 06 (MNIST, ~1 min) and 08 (circuit, ~3 min) only
#: have their configs loaded by tests/evaluation/test_evaluate_config.py, to keep CI short.
EXPERIMENTS = ["05_drolet_transfers.py", "07_continual_learning.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_and_writes_its_figure(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    pngs = list((tmp_path / "results" / "examples").glob("*.png"))
    assert pngs, f"{script} wrote no PNG under results/examples"
    assert all(p.stat().st_size > 10_000 for p in pngs)
    for png in pngs:  # each figure carries the run's provenance record (before: examples 01-04 had none)
        assert _png_provenance(png)["command"], png.name
    for table in (tmp_path / "results" / "examples").glob("*.csv"):
        assert _csv_rows(table), f"{table.name} has no rows"


def test_ir_drop_example_writes_one_provenance_record_with_its_seed(tmp_path, monkeypatch):
    """Example 01's CSV and figure carry the same record, with the seed the arrays were drawn from (the CSV's
    had seed None and a later 'started'), and the CSV's errors are recomputed from the same arrays."""
    import runpy

    import numpy as np

    import xbarsim as xb

    monkeypatch.chdir(tmp_path)
    module = runpy.run_path(str(EXAMPLES / "01_ir_drop.py"), run_name="example")
    png = module["main"](size=8, seed=3)
    table = tmp_path / "results" / "examples" / "01_ir_drop.csv"
    prov = read_csv_provenance(table)
    assert prov is not None and prov["seed"] == 3 and prov == _png_provenance(tmp_path / png)
    rng = np.random.default_rng(3)
    g, v = rng.uniform(1e-6, 1e-4, (8, 8)), rng.uniform(0.0, 0.3, (32, 8))
    for row in _csv_rows(table):
        cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(float(row["segment_ohm"])))
        ideal = v @ g
        err = np.abs(xb.solve(cb, xb.BiasScheme.read(v)).output_currents - ideal) / ideal
        assert np.isclose(float(row["mean_rel_error"]), err.mean(), rtol=1e-9, atol=1e-15)
        assert np.isclose(float(row["max_rel_error"]), err.max(), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_figure_refuses_a_planted_symlink(script, tmp_path):
    """The examples' figures are written atomically through xbarsim's writer: a symlink where the figure
    goes is refused and what it points at is untouched (``fig.savefig`` wrote through it)."""
    out = tmp_path / "results" / "examples"
    out.mkdir(parents=True)
    target = tmp_path / "elsewhere.png"
    target.write_text("keep")
    os.symlink(target, out / script.replace(".py", ".png"))
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode != 0 and "symlink" in proc.stderr, proc.stderr[-2000:]
    assert target.read_text() == "keep"


@pytest.mark.parametrize("script", EXPERIMENTS)
def test_experiment_example_writes_its_report_and_plots(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(out), "--quiet"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = (out / "report.md").read_text()
    assert "| paper |" in report or "paper" in report
    assert (out / "results.csv").stat().st_size > 100
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


def test_drolet_gap_ablation_runs_and_writes_its_csv(tmp_path):
    out = tmp_path / "gap.csv"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "09_drolet_gap.py"), "--transfers", "3", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    lines = out.read_text().splitlines()
    assert read_csv_provenance(out)["command"]
    _config_provenance(out, EXAMPLES / "configs" / "exp1_drolet.toml")  # (before: no config, seed None)
    assert lines[1].startswith("hardware,network,transfers,robust_fraction") and len(lines) == 2 + 6 * 2


def test_cnn_example_trains_exports_and_reads_back(tmp_path):
    """Example 10 (short training): both .onnx files and the .npz are written and load back."""
    out = tmp_path / "models"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "10_digits_cnn_onnx.py"), "--out", str(out), "--epochs", "2",
                           "--ternary-epochs", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    from xbarsim.networks import load_npz, load_onnx

    data = load_npz(out / "digits_1000.npz")
    assert data.x_test.shape == (1000, 64) and data.x_train.shape == (697, 64)
    real, tern = load_onnx(out / "digits_cnn.onnx"), load_onnx(out / "digits_cnn_ternary.onnx")
    assert not real.is_ternary and tern.is_ternary
    assert "digits_cnn_ternary.onnx: numpy test accuracy" in proc.stdout


def test_lea_wage_trace_runs_and_writes_one_row_per_variant(tmp_path):
    out = tmp_path / "trace.csv"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "11_lea_wage_trace.py"), "--dataset", "digits-wage",
                           "--cycles", "2", "--points", "100", "--epochs", "2", "--batch-size", "64", "--hidden", "16",
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    lines = out.read_text().splitlines()
    assert lines[1].startswith("variant,density_layer1,") and len(lines) == 2 + 4
    assert "| paper (Fig. 4b) | 94.5 | - | 43.4 | 81.0 | 89.6 |" in proc.stdout
    # every printed cell recomputed from the per-cycle accuracies stored in the CSV
    import numpy as np

    rows = _csv_rows(out)
    for r in rows:
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"| {r['variant']} |"))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert cells[1] == f"{100 * float(r['software']):.1f}"
        assert cells[2] == f"{100 * float(r['density_layer1']):.0f} %"
        for cell, alpha in zip(cells[3:], (1, 3, 6)):
            acc = 100 * np.array([float(x) for x in r[f"alpha{alpha}_cycles"].split(";")])
            assert len(acc) == 2 and cell == f"{acc.mean():.1f} ± {acc.std():.1f}"


def test_drolet_seeds_example_prints_the_mean_and_std_of_its_csv_rows(tmp_path):
    import numpy as np

    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / "13_drolet_seeds.py"), "--quick", "--recipes",
                           "regular,aware-code", "--out", str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = _csv_rows(tmp_path / "13_drolet_seeds.csv")
    header = next(ln for ln in proc.stdout.splitlines() if ln.startswith("| recipe |"))
    assert header.endswith("|") and header.count("|") == 7  # a markdown header of the 6 columns (before: a note after it)
    assert [(r["recipe"], r["seed"]) for r in rows] == [("regular", "0"), ("regular", "1"), ("aware-code", "0"),
                                                        ("aware-code", "1")]
    for recipe in ("regular", "aware-code"):
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"| {recipe} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        sel = [r for r in rows if r["recipe"] == recipe]
        assert cells[1] == ", ".join(f"{100 * float(r['software']):.1f}" for r in sel)
        for cell, key in zip(cells[2:], ("robust_code", "robust10_code", "robust_physical", "robust10_physical")):
            v = 100 * np.array([float(r[key]) for r in sel])
            assert cell == f"{v.mean():.1f} ± {v.std():.1f}"
            assert all(0.0 <= float(r[key]) <= 1.0 for r in sel)


def test_fig5_trace_example_prints_its_csv_rows(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / "12_fig5_trace.py"), "--cycles", "1", "--only",
                           "chip model (as configured),no programming error", "--out", str(tmp_path / "t.csv")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = _csv_rows(tmp_path / "t.csv")
    _config_provenance(tmp_path / "t.csv", EXAMPLES / "configs" / "exp3b_fig5_chip.toml")
    assert [(r["change"], r["alpha_beta"]) for r in rows] == [
        ("chip model (as configured)", "1,1"), ("chip model (as configured)", "4,4"),
        ("no programming error", "1,1"), ("no programming error", "4,4")]
    for r in rows:
        layers = [float(r[f"mapping_error_l{i}"]) for i in (1, 2, 3)]
        assert abs(float(r["mapping_error"]) - sum(layers) / 3) < 1e-9
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"| {r['change']} | ({r['alpha_beta']})"))
        assert f"{float(r['mapping_error']):.1f} ± " in line and f"{float(r['accuracy']):.1%}" in line
    # without programming error the mapping error is the read noise's alone: smaller
    assert float(rows[2]["mapping_error"]) < float(rows[0]["mapping_error"])


def test_fig5_trace_splits_per_cycle_errors_into_floor_and_scale(tmp_path):
    """The floor/scale split of the paper's per-cycle errors, on constructed cycles with a known answer."""
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("fig5_trace", EXAMPLES / "12_fig5_trace.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    z = rng.standard_normal(4000)
    err = np.sqrt(12.0 ** 2 + (100 * 0.05 * z) ** 2)  # one fixed matrix, a 5 % scale jitter
    floor, sigma, ratios = mod.cycle_floor(err)
    assert abs(floor - 12.0) < 0.01
    assert abs(sigma - 5.0) < 0.25 and np.all(np.abs(ratios - 5.0) < 0.5)
    # fresh device errors every cycle scatter around the mean: the excess is not half-normal
    fresh = 14.0 + 1.0 * rng.standard_normal(4000)
    _, s2, r2 = mod.cycle_floor(fresh)
    assert r2[-1] / r2[0] < 0.5 * (ratios[-1] / ratios[0])
    # the command prints one row per greedy file, with the columns' numbers
    cols = np.column_stack([np.full(50, 60.0), np.full(50, 50.0), np.full(50, 55.0), err[:50], err[50:100],
                            err[100:150], (err[:50] + err[50:100] + err[100:150]) / 3])
    name = "networkmlp_yinyang_daffodil_hw_weightencodingsimple_xbmappinggreedy_alpha4_beta4_samplingiters-1_accs_errors.txt"
    np.savetxt(tmp_path / name, cols)
    proc = subprocess.run([sys.executable, str(EXAMPLES / "12_fig5_trace.py"), "--paper-cycles", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(ln for ln in proc.stdout.splitlines() if ln.startswith("| simple | (4, 4) | 50 |"))
    f1, s1, _ = mod.cycle_floor(err[:50])
    assert f"L1: {err[:50].mean():.1f}, {f1:.1f}, {s1:.1f}" in row


def _load_example(script: str, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, EXAMPLES / script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_channel_scales_example_reads_a_layer_scale_network_as_evaluate_does():
    """With one scale per layer, the example's accuracy (programmed codes times scales, numpy forward) and
    mapping error equal evaluate()'s for the same transfers, with ideal converters and no read noise."""
    import dataclasses

    from xbarsim.evaluation import evaluate
    from xbarsim.experiments import load_experiment, train_network
    from xbarsim.experiments.networks import cached_dataset
    from xbarsim.networks.ptq import ternarize_reconstruct

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    config = load_experiment(ex.CONFIG)
    hw = config.hardware.replace(**config.variants["chip"]).replace(read_noise=False, dac_bits=None, adc_bits=None,
                                                                    alpha=2, beta=1)
    data = cached_dataset(config.dataset)
    base = next(s for s in config.networks if s.name == "ewc-ternary")
    net = ternarize_reconstruct(train_network(dataclasses.replace(base, quantization="none", seed=0, epochs=3),
                                              data, hw), data.x_train)
    codes, scales, biases = ex.layer_scales(net)
    runs = ex.hardware_runs(codes, scales, biases, hw, data.tasks, [5, 6])
    for row, seed in zip(runs, (5, 6)):
        res = evaluate(net, data, hw, seed=seed)
        assert list(row[:2]) == [t.hardware for t in res.tasks]
        assert abs(row[2] - sum(res.mapping_errors) / 3) < 1e-9


def test_channel_ternarization_recovers_a_channel_ternary_network():
    import numpy as np

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    rng = np.random.default_rng(1)
    codes = [rng.integers(-1, 2, size=(4, 6)).astype(float), rng.integers(-1, 2, size=(6, 3)).astype(float)]
    for c in codes:
        c[0] = 1.0  # no all-zero column
    scales = [rng.uniform(0.2, 2.0, 6), rng.uniform(0.2, 2.0, 3)]
    biases = [rng.normal(size=6), rng.normal(size=3)]
    x = rng.normal(size=(200, 4))
    got_codes, got_scales, got_biases = ex.ternarize_channels([c * s for c, s in zip(codes, scales)], biases, x)
    for c, s, b, gc, gs, gb in zip(codes, scales, biases, got_codes, got_scales, got_biases):
        assert np.array_equal(gc, c)
        np.testing.assert_allclose(gs, s, rtol=1e-9)
        np.testing.assert_allclose(gb, b, atol=1e-9)
    # a layer's single scale cannot reproduce it: the per-layer fit of the same network differs
    assert not np.allclose(scales[0], scales[0].mean())


def test_channel_scales_example_prints_its_csv_rows(tmp_path):
    import numpy as np

    from xbarsim.networks import MLP

    rng = np.random.default_rng(0)
    npz = tmp_path / "torch_net.npz"
    np.savez(npz, **{"fc1.weight": rng.normal(size=(12, 4)), "fc1.bias": rng.normal(size=12),
                     "fc2.weight": rng.normal(size=(6, 12)), "fc2.bias": rng.normal(size=6),
                     "fc3.weight": rng.normal(size=(3, 6)), "fc3.bias": rng.normal(size=3)})
    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    net = ex.float_npz(npz)
    assert isinstance(net, MLP) and net.weights[0].shape == (4, 12) and net.hidden_activation == "tanh"
    out = tmp_path / "c.csv"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "14_fig5_channel_scales.py"), "--seeds", "0", "--float-npz",
                           str(npz), "--cycles", "2", "--out", str(out)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = _csv_rows(out)
    _config_provenance(out, EXAMPLES / "configs" / "exp3b_fig5_chip.toml")
    assert [(r["network"], r["scales"], r["alpha_beta"]) for r in rows] == [
        (n, s, ab) for n in ("ours seed 0", "torch_net") for s in ("layer", "channel") for ab in ("1,1", "4,4")]
    for r in rows:
        line = next(ln for ln in proc.stdout.splitlines()
                    if ln.startswith(f"| {r['network']} | {r['scales']} | ({r['alpha_beta']}) |"))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert cells[3] == f"{float(r['accuracy']):.1%} ± {float(r['accuracy_std']):.1%}"
        assert cells[4] == f"{float(r['task1']):.1%} / {float(r['task2']):.1%}"
        assert abs(float(r["accuracy"]) - (float(r["task1"]) + float(r["task2"])) / 2) < 1e-12
        assert cells[7] == f"{float(r['mapping_error']):.1f} %"
    for kind in ("layer", "channel"):
        for ab in ("1,1", "4,4"):
            acc = [float(r["accuracy"]) for r in rows if r["scales"] == kind and r["alpha_beta"] == ab]
            assert (f"mean over networks, {kind} scales, ({ab}): {np.mean(acc):.1%} (range {min(acc):.1%} - "
                    f"{max(acc):.1%}, 2 networks)") in proc.stdout


def test_channel_scales_example_on_exact_devices_gives_the_software_accuracy():
    """Without programming and read noise the programmed codes are the codes (greedy placement avoids the
    stuck devices): mapping error 0 and the accuracy of codes times channel scales in software."""
    import dataclasses

    import numpy as np

    from xbarsim.experiments import load_experiment, train_network
    from xbarsim.experiments.networks import cached_dataset

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    config = load_experiment(ex.CONFIG)
    hw = config.hardware.replace(**config.variants["chip"]).replace(alpha=4, beta=4, programming_noise=False,
                                                                    read_noise=False)
    data = cached_dataset(config.dataset)
    base = next(s for s in config.networks if s.name == "ewc-ternary")
    net = train_network(dataclasses.replace(base, quantization="none", seed=0, epochs=3), data, hw)
    codes, scales, biases = ex.ternarize_channels(net.weights, net.biases, data.x_train)
    assert any(np.ptp(s) > 0.1 * s.mean() for s in scales)  # the channels' scales differ
    from xbarsim.networks import MLP

    ternary = MLP(weights=tuple(c * s for c, s in zip(codes, scales)), biases=tuple(biases), hidden_activation="tanh")
    software = [np.mean(ternary.predict(t.x_test) == t.y_test) for t in data.tasks]
    for row in ex.hardware_runs(codes, scales, biases, hw, data.tasks, [1, 2]):
        assert list(row[:2]) == software and row[2] < 1e-9


def test_channel_scales_rows_are_recomputed_from_the_transfers_in_any_order():
    """A row of example 14 from per-transfer records (accuracy of each task, mapping error), shuffled:
    each cell recomputed transfer by transfer."""
    import numpy as np

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    runs = np.array([[0.70, 0.50, 20.0], [0.60, 0.40, 22.0], [0.80, 0.70, 18.0], [0.65, 0.55, 21.0]])
    shuffled = runs[[2, 0, 3, 1]]
    row = ex.transfer_summary(shuffled)
    per_transfer = [(a + b) / 2 for a, b, _ in runs.tolist()]  # 0.60, 0.50, 0.75, 0.60
    mean = sum(per_transfer) / 4
    assert abs(row["accuracy"] - mean) < 1e-12 and abs(mean - 0.6125) < 1e-12
    assert abs(row["accuracy_std"] - (sum((v - mean) ** 2 for v in per_transfer) / 4) ** 0.5) < 1e-12
    assert abs(row["task1"] - 0.6875) < 1e-12 and abs(row["task2"] - 0.5375) < 1e-12
    assert abs(row["mapping_error"] - 20.25) < 1e-12


def _fig5_chip(ex, **changes):
    from xbarsim.experiments import load_experiment
    from xbarsim.experiments.networks import cached_dataset

    config = load_experiment(ex.CONFIG)
    return config, config.hardware.replace(**config.variants["chip"]).replace(**changes), cached_dataset(config.dataset)


def test_joint_pair_reads_one_programming_both_ways():
    """--joint: the (4, 4) half of a record is the transfer hardware_runs reads at (4, 4); the (1, 1) half is
    copy 0 of that programming, greedy's first choice: the first layer's first block sits where a (1, 1)
    mapping puts it (later blocks may not, when another copy took that position)."""
    import dataclasses

    import numpy as np

    from xbarsim.evaluation.evaluate import transfer
    from xbarsim.experiments import train_network

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    config, hw, data = _fig5_chip(ex)
    base = next(s for s in config.networks if s.name == "ewc-ternary")
    net = train_network(dataclasses.replace(base, seed=0, epochs=3), data, hw)
    codes, scales, biases = ex.layer_scales(net)
    joint = ex.joint_runs(codes, scales, biases, hw, data.tasks, [7, 8])
    many = ex.hardware_runs(codes, scales, biases, hw.replace(alpha=4, beta=4), data.tasks, [7, 8])
    np.testing.assert_array_equal(joint[:, 3:], many)
    assert (joint[:, 2] > 1.5 * joint[:, 5]).all()  # one copy: about twice the error of four averaged
    code_net = ex.MLP(weights=tuple(codes), biases=tuple(biases), hidden_activation="tanh", gammas=(1.0,) * 3)
    one = transfer(code_net, hw.replace(alpha=1, beta=1), np.random.default_rng(7)).members[0].layers[0]
    four = transfer(code_net, hw.replace(alpha=4, beta=4), np.random.default_rng(7)).members[0].layers[0]
    first = [(b.spec, b.kernel, b.row, b.col) for b in one.placement.blocks][0]
    assert first == [(b.spec, b.kernel, b.row, b.col) for b in four.placement.blocks if b.copy == 0][0]


def test_joint_pair_on_exact_devices_is_the_software_network():
    import dataclasses

    import numpy as np

    from xbarsim.experiments import train_network

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    config, hw, data = _fig5_chip(ex, programming_noise=False, read_noise=False)
    base = next(s for s in config.networks if s.name == "ewc-ternary")
    net = train_network(dataclasses.replace(base, quantization="none", seed=0, epochs=3), data, hw)
    codes, scales, biases = ex.ternarize_channels(net.weights, net.biases, data.x_train)
    software = [np.mean(ex.tanh_mlp([c * s for c, s in zip(codes, scales)], biases).predict(t.x_test) == t.y_test)
                for t in data.tasks]
    for row in ex.joint_runs(codes, scales, biases, hw, data.tasks, [1, 2]):
        assert list(row[[0, 1]]) == software and list(row[[3, 4]]) == software
        assert row[2] < 1e-9 and row[5] < 1e-9


def test_joint_summary_is_recomputed_from_shuffled_records():
    import numpy as np

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    # (1, 1) task 1, task 2, error, (4, 4) task 1, task 2, error
    runs = np.array([[0.60, 0.52, 20.0, 0.72, 0.70, 10.0],   # one 0.56, many 0.71: both windows, drop 0.15
                     [0.70, 0.60, 18.0, 0.70, 0.66, 9.0],    # one 0.65, many 0.68: neither, drop 0.03
                     [0.58, 0.56, 22.0, 0.62, 0.60, 11.0],   # one 0.57, many 0.61: one window, drop 0.04
                     [0.50, 0.48, 19.0, 0.70, 0.68, 10.0]])  # one 0.49, many 0.69: many window, drop 0.20
    row = ex.joint_summary(runs[[3, 1, 0, 2]])
    one, many = [0.56, 0.65, 0.57, 0.49], [0.71, 0.68, 0.61, 0.69]
    drop = [m - o for o, m in zip(one, many)]
    assert row["transfers"] == 4
    assert abs(row["one_copy"] - 0.5675) < 1e-12 and abs(row["many_copies"] - 0.6725) < 1e-12
    assert abs(row["one_copy_std"] - np.sqrt(np.mean((np.array(one) - 0.5675) ** 2))) < 1e-12
    assert abs(row["drop"] - 0.105) < 1e-12 and abs(row["drop_std"] - np.std(drop)) < 1e-12
    assert abs(row["correlation"] - np.corrcoef(one, many)[0, 1]) < 1e-12
    assert row["one_copy_mapping_error"] == 19.75 and row["many_copies_mapping_error"] == 10.0
    assert row["drop_at_least_paper"] == 0.5           # 0.15 and 0.20 >= 0.137
    assert row["in_one_copy_window"] == 0.5            # 0.56, 0.57 within 0.03 of 0.566
    assert row["in_many_copies_window"] == 0.5         # 0.71, 0.69 within 0.02 of 0.703
    assert row["in_both_windows"] == 0.25


def test_joint_pair_prints_its_csv_rows(tmp_path):
    import numpy as np

    ex = _load_example("14_fig5_channel_scales.py", "fig5_channel_scales")
    out = tmp_path / "j.csv"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "14_fig5_channel_scales.py"), "--joint", "--seeds", "0",
                           "--cycles", "3", "--out", str(out)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows, records = _csv_rows(out), _csv_rows(tmp_path / "j_transfers.csv")
    assert _config_provenance(out, EXAMPLES / "configs" / "exp3b_fig5_chip.toml") == read_csv_provenance(
        tmp_path / "j_transfers.csv")
    assert [r["network"] for r in rows] == ["ewc-ternary (layer)", "ewc-ptq (layer)", "ours seed 0 (channel)"]
    for r in rows:
        mine = [rec for rec in records if rec["network"] == r["network"]]
        assert len(mine) == 3
        keys = ["one_task1", "one_task2", "one_mapping_error", "many_task1", "many_task2", "many_mapping_error"]
        again = ex.joint_summary(np.array([[float(rec[k]) for k in keys] for rec in mine[::-1]]))
        for k, v in again.items():
            assert abs(float(r[k]) - v) < 1e-12, k
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"| {r['network']} |"))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert cells[1] == f"{again['one_copy']:.1%} ± {again['one_copy_std']:.1%}"
        assert cells[2] == f"{again['many_copies']:.1%} ± {again['many_copies_std']:.1%}"
        assert cells[3] == f"{again['one_copy_mapping_error']:.1f} / {again['many_copies_mapping_error']:.1f} %"
        assert cells[4] == f"{again['correlation']:.2f}"
        assert cells[5] == f"{again['drop']:.1%} ± {again['drop_std']:.1%}"
        assert cells[6:] == [f"{again[k]:.0%}" for k in ("drop_at_least_paper", "in_one_copy_window",
                                                         "in_many_copies_window", "in_both_windows")]


@pytest.mark.parametrize("args", [
    ["09_drolet_gap.py", "--transfers", "0"], ["11_lea_wage_trace.py", "--cycles", "0"],
    ["11_lea_wage_trace.py", "--dataset", "nope"], ["12_fig5_trace.py", "--only", "nope"],
    ["12_fig5_trace.py", "--cycles", "0"], ["13_drolet_seeds.py", "--seeds", "0"],
    ["14_fig5_channel_scales.py", "--seeds", "x"], ["14_fig5_channel_scales.py", "--float-npz", "missing.npz"]])
def test_example_refuses_a_bad_option_with_a_usage_error(args, tmp_path):
    """A bad option is a usage error (exit 2, no traceback; before: tracebacks, and a table of nan for 13)."""
    proc = subprocess.run([sys.executable, str(EXAMPLES / args[0]), *args[1:]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"{args[0]}: error: " in proc.stderr and not list(tmp_path.rglob("*.csv"))


def test_an_experiment_example_exits_1_when_trials_failed(tmp_path, monkeypatch, capsys):
    """Examples 05-08 end as `xbarsim evaluate` does: status 1 when any trial failed (before: 0)."""
    import dataclasses

    import xbarsim.experiments.run as run_mod

    real = run_mod.run_experiment

    def one_failed(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), n_failed=1)

    monkeypatch.setattr(run_mod, "run_experiment", one_failed)
    script = str(Path(__file__).resolve().parents[1] / "examples" / "06_lea_fault_tolerance.py")
    with pytest.raises(SystemExit) as exc:
        run_mod.run_example(script, "make_run.toml", "doc", ["--out", str(tmp_path / "o"), "--quiet"])
    assert exc.value.code == 1
    assert "1 trial(s) failed" in capsys.readouterr().err
    assert (tmp_path / "o" / "report.md").is_file()   # the report of what finished is written first
