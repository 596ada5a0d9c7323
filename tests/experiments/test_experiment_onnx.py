"""Experiment configs with the user's own model and data: `[network] onnx = ...`, `[dataset] npz = ...`,
paths relative to the config file, `xbarsim evaluate` end to end, and bad files refused."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xbarsim.cli import main
from xbarsim.errors import ConfigError
from xbarsim.experiments import load_experiment, run_experiment

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "configs" / "cnn_digits_onnx.toml"

CONFIG = """
name = "own-model"
kind = "sweep"
cycles = 1
max_points = 60
[dataset]
npz = "data/digits.npz"
[network]
onnx = "models/cnn.onnx"
[hardware]
preset = "rram_1t1r_nist"
kernel_shape = [25, 25]
strategy = "lea"
alpha = 2
strict = false
backend = "sparse"
device = "ohmic"
segment_ohm = 1.0
[grid]
fault_rate = [0.0, 0.05]
[readouts]
ideal = { backend = "ideal" }
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "models").mkdir()
    shutil.copy(MODELS / "digits_1000.npz", tmp_path / "data" / "digits.npz")
    shutil.copy(MODELS / "digits_cnn_ternary.onnx", tmp_path / "models" / "cnn.onnx")
    (tmp_path / "exp.toml").write_text(CONFIG)
    return tmp_path


def test_paths_are_relative_to_the_config_file(project: Path) -> None:
    cfg = load_experiment(project / "exp.toml")
    assert cfg.dataset_file == str((project / "data" / "digits.npz").resolve())
    assert cfg.dataset == "digits"
    (spec,) = cfg.networks
    assert spec.recipe == "onnx" and spec.name == "cnn" and spec.file == str((project / "models" / "cnn.onnx").resolve())


def test_the_shipped_example_config_loads() -> None:
    cfg = load_experiment(EXAMPLE)
    assert Path(cfg.dataset_file).is_file() and Path(cfg.networks[0].file).is_file()
    assert cfg.hardware.alpha == 3 and cfg.hardware.segment_ohm == 1.0 and cfg.hardware.strategy == "lea"


def test_xbarsim_evaluate_with_onnx_and_npz(project: Path, capsys) -> None:
    out = project / "out"
    assert main(["evaluate", str(project / "exp.toml"), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "energy_pj" in text and "Software baseline" in text
    doc = json.loads((out / "results.json").read_text())
    # the software baseline is onnxruntime's, recomputed here independently on the points the trials
    # evaluate (max_points = 60: the first 60 of the test split), not on the whole split
    import onnxruntime as ort

    data = np.load(project / "data" / "digits.npz")
    sess = ort.InferenceSession(str(project / "models" / "cnn.onnx"), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"input": data["x_test"].astype(np.float32)})[0]
    correct = logits.argmax(1) == data["y_test"]
    assert np.mean(correct[:60]) != np.mean(correct)  # the two baselines differ on this data
    assert doc["software_accuracy"]["cnn"] == pytest.approx(float(np.mean(correct[:60])), abs=1e-12)
    assert f"Software baseline: `cnn` {100 * np.mean(correct[:60]):.1f} %." in (out / "report.md").read_text()
    rows = {r["fault_rate"]: r for r in doc["rows"]}
    assert set(rows) == {0.0, 0.05}
    assert rows[0.0]["accuracy_mean"] > 0.7 and rows[0.0]["energy_pj_mean"] > 0
    # per-trial energy equals the sum of the per-layer energies
    with open(out / "trials.csv", newline="") as fh:
        records = list(csv.DictReader(line for line in fh if not line.startswith("#")))  # provenance comment
    assert len(records) == 2
    for rec in records:
        assert float(rec["software_accuracy"]) == pytest.approx(doc["software_accuracy"]["cnn"], abs=1e-12)
        layers = sum(float(rec[f"energy_l{i}_pj"]) for i in range(3))
        assert float(rec["energy_pj"]) == pytest.approx(layers, rel=1e-12)


def _bad_npz(project: Path, **arrays) -> Path:
    path = project / "data" / "digits.npz"
    np.savez(path, **arrays)
    return path


def test_labels_outside_the_network_classes_refused(project: Path) -> None:
    path = _bad_npz(project, x_test=np.zeros((4, 1, 8, 8)), y_test=np.array([0, 3, 12, 1]))
    cfg = load_experiment(project / "exp.toml")
    with pytest.raises(ConfigError) as info:
        run_experiment(cfg, out=project / "out", scheduler="serial", progress=False)
    msg = str(info.value)
    assert str(path) in msg and "'y_test'" in msg and "0..9" in msg


def test_input_shape_mismatch_refused(project: Path) -> None:
    _bad_npz(project, x_test=np.zeros((4, 1, 7, 7)), y_test=np.array([0, 3, 2, 1]))
    cfg = load_experiment(project / "exp.toml")
    with pytest.raises(ConfigError, match="takes 64 inputs per sample but dataset 'digits' has 49"):
        run_experiment(cfg, out=project / "out", scheduler="serial", progress=False)


def test_inputs_of_the_right_size_in_another_layout_refused(project: Path) -> None:
    """64 values per sample, but as 4 x 16 images: before, flattened and read as 8 x 8 without a word."""
    _bad_npz(project, x_test=np.zeros((4, 4, 16)), y_test=np.array([0, 3, 2, 1]))
    cfg = load_experiment(project / "exp.toml")
    with pytest.raises(ConfigError, match=r"per-sample input shape \(4, 16\), but network 'cnn' takes \(1, 8, 8\)"):
        run_experiment(cfg, out=project / "out", scheduler="serial", progress=False)


def test_missing_y_test_refused_naming_file_and_key(project: Path) -> None:
    path = _bad_npz(project, x_test=np.zeros((4, 1, 8, 8)))
    cfg = load_experiment(project / "exp.toml")
    with pytest.raises(ConfigError) as info:
        run_experiment(cfg, out=project / "out", scheduler="serial", progress=False)
    assert str(path) in str(info.value) and "'y_test'" in str(info.value)


@pytest.mark.parametrize("edit,words", [
    (("[network]\nonnx = \"models/cnn.onnx\"", "[network]\nmodel = \"models/cnn.onnx\""), "unknown key 'model'"),
    (("npz = \"data/digits.npz\"", "file = \"data/digits.npz\""), "unknown key 'file' in [dataset]"),
    (("[network]\nonnx = \"models/cnn.onnx\"", "[network]\nonnx = \"models/cnn.onnx\"\n[[networks]]\nname = \"x\"\n"
      "recipe = \"ternary\""), "not both"),
    # before: loaded, then refused after importing the model by a message calling the statistical models'
    # networks "dense" (an all-dense ONNX MLP is one) without naming `models` or what to write
    (("kind = \"sweep\"\ncycles = 1\nmax_points = 60",
      "kind = \"monte-carlo\"\nmodels = [\"hardware\", \"statistical\"]"),
     "`models` 'statistical' draw the device model on the weights of an xbarsim MLP; the ONNX network 'cnn' is "
     "imported as a layered network (even when every layer is dense), which only a Hardware transfer maps: use "
     "models = [\"hardware\"]"),
    # before: loaded and imported, then every committee trial failed, advising `members` for an ONNX network
    (("[grid]\nfault_rate = [0.0, 0.05]", "[variants]\nlea = { strategy = \"lea\" }\ncm = { strategy = \"committee\", "
      "committee_networks = \"distinct\" }\n[grid]\nfault_rate = [0.0, 0.05]\nvariant = [\"lea\", \"cm\"]"),
     "grid point fault_rate=0.0, variant='cm': committee_networks 'distinct' maps `alpha` distinct trained networks "
     "(a recipe network and its `members`); network 'cnn' is an ONNX file, which has none: use committee_networks = "
     "'same'"),
])
def test_config_errors_name_the_key_and_file(project: Path, edit, words) -> None:
    (project / "exp.toml").write_text(CONFIG.replace(*edit))
    with pytest.raises(ConfigError) as info:
        load_experiment(project / "exp.toml")
    assert words in str(info.value) and str(project / "exp.toml") in str(info.value)


def test_truncated_onnx_in_a_config_names_the_file(project: Path) -> None:
    model = project / "models" / "cnn.onnx"
    model.write_bytes(model.read_bytes()[:500])
    cfg = load_experiment(project / "exp.toml")
    with pytest.raises(ConfigError, match="not a readable ONNX model") as info:
        run_experiment(cfg, out=project / "out", scheduler="serial", progress=False)
    assert str(model.resolve()) in str(info.value)


@pytest.mark.parametrize("missing,words", [("models/cnn.onnx", "network 'cnn'"), ("data/digits.npz", "dataset")])
def test_a_missing_model_or_dataset_file_is_named_with_the_config(project: Path, missing: str, words: str) -> None:
    # before: only the resolved path ("ONNX model file '.../cnn.onnx' does not exist."), not which config
    (project / missing).unlink()
    with pytest.raises(ConfigError) as info:
        run_experiment(load_experiment(project / "exp.toml"), out=project / "out", scheduler="serial", progress=False)
    msg = str(info.value)
    assert msg.startswith(f"{project / 'exp.toml'}: {words}") and str(project / missing) in msg
    assert "does not exist" in msg or "No such file" in msg


REAL_VALUED = """
name = "own-real-model"
kind = "{kind}"
{size}
[dataset]
npz = "data/digits.npz"
[network]
onnx = "models/real.onnx"
[hardware]
preset = "rram_1t1r_nist"
kernel_shape = [25, 25]
fault_rate = 0.0
{levels}
"""


@pytest.mark.parametrize("kind,size,what,store", [
    ("sweep", "cycles = 2\nmax_points = 20\n[grid]\nfault_rate = [0.0, 0.01]", "trial", "trials.sqlite"),
    ("monte-carlo", "transfers = 2", "transfer", "transfers_*.sqlite"),
])
def test_trial_warnings_reach_the_report(project: Path, kind, size, what, store) -> None:
    """A real-valued CNN on the two-level LEA devices: every trial warned that most weights became 0,
    the sweep engine stored the warning with the trial, and report.md (the table a user copies) said
    nothing. Now a note names each distinct warning once with the number of trials that raised it."""
    shutil.copy(MODELS / "digits_cnn.onnx", project / "models" / "real.onnx")
    n = 4 if kind == "sweep" else 2
    for levels, warned in (("", True), ("levels = 16", False)):
        (project / "real.toml").write_text(REAL_VALUED.format(kind=kind, size=size, levels=levels))
        out = project / f"out-{kind}-{bool(levels)}"
        assert main(["evaluate", str(project / "real.toml"), "--out", str(out), "--scheduler", "serial",
                     "--quiet"]) == 0
        report = (out / "report.md").read_text()
        if not warned:
            assert "**Warnings**" not in report
            continue
        head = f"**Warnings** raised by {n} of {n} stored {what}(s) (each {what}'s are in `{store}`):\n"
        assert head in report
        (item,) = [line for line in report.splitlines() if line.startswith("- UserWarning: ")]
        assert "programs two conductance levels (133 and 233 uS)" in item and item.endswith(f"({n} {what}(s))")


def test_the_report_says_mapping_error_is_the_mean_of_the_layers(project: Path) -> None:
    """The footnote said `mapping_error` is 100·‖Ŵ−W‖/‖W‖ %, which a reader takes over the whole network;
    it is each layer's ratio averaged over the layers. Recomputed here from every stored trial's
    per-layer errors (the CNN has three layers), and the footnote and the plot label say so; the
    footnote also says what `accuracy_<read-out>` and `energy_pj` (unit, per inference) are."""
    from xbarsim.experiments import load_results
    from xbarsim.experiments.plots import MAPPING_ERROR_LABEL

    small = CONFIG.replace('backend = "sparse"', 'backend = "ideal"').replace("max_points = 60", "max_points = 10")
    (project / "exp.toml").write_text(small)
    out = project / "out"
    assert main(["evaluate", str(project / "exp.toml"), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    res = load_results(out)
    for t in res.trials:
        per_layer = [t[f"mapping_error_l{i}"] for i in range(3)]
        assert "mapping_error_l3" not in t and t["mapping_error"] == pytest.approx(np.mean(per_layer), rel=1e-12)
    report = (out / "report.md").read_text()
    assert "`mapping_error` is 100·‖Ŵ−W‖/‖W‖ % of each layer, averaged over the layers" in report
    assert MAPPING_ERROR_LABEL.startswith("mapping error, layer mean of 100·‖Ŵ−W‖/‖W‖")
    # the other columns a name does not explain: the read-out and the energy's unit and scope
    head = next(line for line in report.splitlines() if line.startswith("| fault_rate"))
    assert "accuracy_ideal" in head and "energy_pj" in head
    assert ("`accuracy_ideal`: the same transfers (chip, conductances) read again through the read-out of that name "
            "in [readouts]." in report)
    assert "`energy_pj`: the arrays' read energy per inference in picojoule" in report
