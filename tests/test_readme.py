"""The README's API tour runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no API tour"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)  # noqa: S102 - our own README



def test_the_own_model_config_maps_a_real_valued_network_on_levels(tmp_path):
    """The README's "Evaluate your own model" config, taken literally with the shipped real-valued CNN
    (ideal backend and 200 points to keep it short). Before, it had no `levels`: the two-level preset
    zeroed most weights and even the fault-free point read chance (10 %, against 96 % software).
    Now there is no rounding warning; the fault-free point keeps what the preset's device noise leaves
    (about 63 %), and without that noise the mapping reads the software's labels."""
    import shutil
    import tomllib
    import warnings

    from xbarsim.evaluation import evaluate
    from xbarsim.experiments import load_experiment
    from xbarsim.networks import load_npz, load_onnx

    text = re.findall(r"```toml\n(.*?)```", README.read_text(), re.S)[0]
    models = README.parent / "examples" / "models"
    shutil.copy(models / "digits_cnn.onnx", tmp_path / "model.onnx")
    shutil.copy(models / "digits_1000.npz", tmp_path / "data.npz")
    (tmp_path / "my_model.toml").write_text(text)
    config = load_experiment(tmp_path / "my_model.toml")
    assert tomllib.loads(text)["hardware"]["levels"] == 16
    net = load_onnx(tmp_path / "model.onnx")
    data = load_npz(tmp_path / "data.npz", n_classes=10)
    hw = config.hardware_at({"fault_rate": 0.0}).replace(backend="ideal")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        res = evaluate(net, data, hw, seed=0, max_points=200)
        quiet = evaluate(net, data, hw.replace(programming_noise=False, read_noise=False), seed=0, max_points=200)
    with pytest.warns(UserWarning, match="two conductance levels"):
        two = evaluate(net, data, hw.replace(levels=None), seed=0, max_points=200)
    assert res.software_accuracy > 0.9 and two.hardware_accuracy < 0.3
    assert res.hardware_accuracy > two.hardware_accuracy + 0.3
    assert abs(quiet.hardware_accuracy - quiet.software_accuracy) <= 0.02
