"""Config checks found by review: settings a run would ignore, or refuse only after training, are
ConfigErrors at load time that name the key, the value and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from xbarsim.errors import ConfigError
from xbarsim.experiments import load_experiment

SWEEP = """
name = "tiny"
kind = "sweep"
dataset = "digits"
[[networks]]
name = "t"
recipe = "ternary"
[hardware]
strict = false
strategy = "lea"
[grid]
alpha = [1, 2]
"""

MONTE_CARLO = """
name = "mc"
kind = "monte-carlo"
dataset = "half-moons"
transfers = 3
models = ["statistical"]
[[networks]]
name = "regular"
recipe = "moons"
[hardware]
preset = "tio2_passive"
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


def test_max_points_of_a_monte_carlo_experiment_is_refused_not_ignored(tmp_path):
    # the Monte Carlo run evaluates the whole split whatever max_points says, while the report printed
    # "first 20 points": a setting that does nothing is an error naming it
    path = _write(tmp_path, MONTE_CARLO.replace('transfers = 3', 'transfers = 3\nmax_points = 20'))
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    text = str(err.value)
    assert "max_points" in text and "20" in text and "monte-carlo" in text and str(path) in text
    # also when only the quick variant sets it
    path = _write(tmp_path, MONTE_CARLO + "[quick]\nmax_points = 20\n")
    load_experiment(path)
    with pytest.raises(ConfigError, match="max_points"):
        load_experiment(path, quick=True)


def test_a_grid_value_listed_twice_is_refused_at_load_time_naming_key_value_and_file(tmp_path):
    # before: accepted by load_experiment, refused only after the networks were trained, without the file
    path = _write(tmp_path, SWEEP.replace("alpha = [1, 2]", "alpha = [1, 2, 1]"))
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    text = str(err.value)
    assert "grid.alpha" in text and "1" in text and "twice" in text and str(path) in text


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_reference_value_that_is_not_finite_is_refused(tmp_path, value):
    # before: accepted; report.md printed "nan %" and "+nan" and results.json held a bare NaN (not JSON)
    ref = f'[[reference]]\nlabel = "r"\npoint = {{ alpha = 1 }}\nvalue = {value}\n'
    path = _write(tmp_path, SWEEP + ref)
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    text = str(err.value)
    assert "[[reference]] #1" in text and value.lstrip("-") in text and str(path) in text
    over = f'[[reference]]\nlabel = "r"\nover = "alpha"\nat = [1, 2]\nvalues = [0.5, {value}]\n'
    with pytest.raises(ConfigError, match="finite"):
        load_experiment(_write(tmp_path, SWEEP + over))


def test_a_recipe_that_does_not_fit_the_dataset_names_the_network_recipe_dataset_and_file(tmp_path):
    # before: "`y` must hold labels in 0..1; got 0..9." with nothing saying which network, recipe or file
    from xbarsim.experiments import run_experiment

    path = _write(tmp_path, SWEEP.replace('recipe = "ternary"', 'recipe = "moons"\nepochs = 1')
                  .replace('strategy = "lea"\n', "").replace("alpha = [1, 2]", "fault_rate = [0.0]"))
    config = load_experiment(path)
    with pytest.raises(ConfigError) as err:
        run_experiment(config, out=tmp_path / "out", scheduler="serial")
    text = str(err.value)
    assert str(path) in text and "'t'" in text and "moons" in text and "digits" in text and "0..9" in text
