"""Every number a sweep plot draws, recomputed independently from the raw SQLite rows; what is and is
not plotted (bookkeeping metrics); axis order, integer ticks, markers for categorical x; the x axis
named by ``plot_x``, which leaves the stored spec (and so ``--resume``) unchanged."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import numpy as np
import pytest
from experiment_helpers import run_sweep_cli, spy_errorbars, stored_trials
from matplotlib.axes import Axes


CONFIG = """
name = "plots"
trial = "circuit"
trials = 3
seed = 5
[grid]
size = [8, 2, 4]
device = ["sinh", "ohmic"]
[fixed]
segment_ohm = 2.0
"""


@pytest.fixture()
def drawn(tmp_path, monkeypatch):
    calls: list[dict] = []
    original = Axes.errorbar

    def spy(self, x, y, yerr=None, **kw):
        calls.append({"ax": self, "x": np.asarray(x, float), "y": np.asarray(y, float),
                      "yerr": np.asarray(yerr, float), "label": kw.get("label"), "ls": kw.get("ls")})
        return original(self, x, y, yerr=yerr, **kw)

    monkeypatch.setattr(Axes, "errorbar", spy)
    return calls, run_sweep_cli(tmp_path, CONFIG)[1]


def test_plotted_numbers_equal_an_independent_recomputation(drawn):
    calls, out = drawn
    con = sqlite3.connect(out / "trials.sqlite")
    raw = [(json.loads(p), json.loads(r)) for p, r in con.execute("select params, results from trials")]
    con.close()
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for params, results in raw:
        groups[(params["size"], params["device"])].append(results)
    plotted = {p.name for p in out.glob("plot_*.png")}
    assert "plot_cells.png" not in plotted and "plot_iterations.png" not in plotted  # bookkeeping
    assert "plot_solve_time_s.png" not in plotted and "plot_ir_error_mean.png" in plotted
    assert "plot_kcl_residual.png" not in plotted  # the solver's self-check, rounding noise: not a result
    by_metric = defaultdict(list)
    for c in calls:
        by_metric[c["ax"].get_ylabel()].append(c)
    checked = 0
    for c in calls:
        metric = {"IR-drop error, mean over outputs (relative)": "ir_error_mean",
                  "IR-drop error, worst output (relative)": "ir_error_max",
                  "mean output current (A)": "output_current_mean_A",
                  "KCL residual (relative)": "kcl_residual"}[c["ax"].get_ylabel()]
        device = c["label"].removeprefix("device=")
        sizes = [2, 4, 8]  # sorted positions of the numeric x axis
        assert c["ax"].get_xlabel() == "array size n (n x n cells)"  # the first grid key of the config
        for k, size in enumerate(sizes):
            vals = np.array([r[metric] for r in groups[(size, device)]])
            assert c["y"][k] == pytest.approx(vals.mean(), rel=1e-12, abs=1e-300)
            assert c["yerr"][k] == pytest.approx(vals.std(), rel=1e-9, abs=1e-300)
            assert abs(c["x"][k] - size) < 0.5  # offset sideways by at most a fraction of the spacing
            checked += 1
    assert checked == len(plotted) * 2 * 3
    ticks = calls[0]["ax"].get_xticks()
    assert sorted(ticks) == [2.0, 4.0, 8.0]  # integer sizes: the values themselves, no ticks at 1.5


def test_a_categorical_x_axis_is_not_joined_by_lines(tmp_path, monkeypatch):
    calls = []
    original = Axes.errorbar

    def spy(self, x, y, yerr=None, **kw):
        calls.append(kw.get("ls"))
        return original(self, x, y, yerr=yerr, **kw)

    monkeypatch.setattr(Axes, "errorbar", spy)
    run_sweep_cli(tmp_path, CONFIG.replace('size = [8, 2, 4]\ndevice = ["sinh", "ohmic"]',
                                           'device = ["sinh", "ohmic"]\nsize = [8, 2, 4]'))
    assert calls and set(calls) == {"none"}


PLOT_X = """
name = "plot-x"
trial = "circuit"
trials = 2
seed = 3
plot_x = "segment_ohm"
[grid]
size = [4, 2]
segment_ohm = [5.0, 0.5, 2.0]
[fixed]
device = "ohmic"
"""


def test_plot_x_names_the_x_axis_of_the_sweep_plots(tmp_path, monkeypatch):
    """``plot_x = "segment_ohm"``: every plot has the wire resistance on x (not ``size``, the first grid
    key) and one series per size; every drawn point is recomputed from the raw SQLite rows."""
    calls = spy_errorbars(monkeypatch)
    out = run_sweep_cli(tmp_path, PLOT_X)[1]
    groups = stored_trials(out, "size", "segment_ohm")
    assert calls and {c["ax"].get_xlabel() for c in calls} == {"wire segment resistance (ohm)"}
    metric_of = {"IR-drop error, mean over outputs (relative)": "ir_error_mean",
                 "IR-drop error, worst output (relative)": "ir_error_max",
                 "mean output current (A)": "output_current_mean_A", "KCL residual (relative)": "kcl_residual"}
    checked = 0
    for c in calls:
        metric = metric_of[c["ax"].get_ylabel()]
        assert c["ax"].get_title().startswith(c["ax"].get_ylabel().split(" (")[0] + " vs segment_ohm")
        size = int(c["label"].removeprefix("size="))
        for k, seg in enumerate([0.5, 2.0, 5.0]):  # sorted positions on the numeric x axis
            vals = np.array([r[metric] for r in groups[(size, seg)]])
            assert len(vals) == 2
            assert c["y"][k] == pytest.approx(vals.mean(), rel=1e-12, abs=1e-300)
            assert c["yerr"][k] == pytest.approx(vals.std(), rel=1e-9, abs=1e-300)
            assert abs(c["x"][k] / seg - 1) < 0.1  # log axis: offset sideways by a few percent
            checked += 1
    assert checked == len(list(out.glob("plot_*.png"))) * 2 * 3 > 0


def test_plot_x_is_not_part_of_the_stored_spec_so_resume_matches(tmp_path):
    """A store interrupted under a config without ``plot_x`` resumes under the same config with
    ``plot_x`` (and the spec fingerprint is the same either way); every trial is stored once."""
    from xbarsim.errors import RunInterrupted
    from xbarsim.experiments import TRIALS, run_sweep_config
    from xbarsim.sweeps import ResultStore, SweepSpec, load_sweep_config

    plain_toml = tmp_path / "plain.toml"
    plain_toml.write_text(PLOT_X.replace('plot_x = "segment_ohm"\n', ""))
    with_x = tmp_path / "with_x.toml"
    with_x.write_text(PLOT_X)
    plain, named = load_sweep_config(plain_toml), load_sweep_config(with_x)
    assert named.plot_x == "segment_ohm" and plain.plot_x is None
    assert plain.to_dict() == named.to_dict() and "plot_x" not in named.to_dict() and plain == named
    assert SweepSpec.from_dict(named.to_dict()).plot_x is None

    calls = []

    def stop_after_five(params, rng):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(1)
        return TRIALS["circuit"](params, rng)

    out = tmp_path / "out"
    with pytest.raises(RunInterrupted, match="5 of 12 trials stored"):
        run_sweep_config(plain, out=out, scheduler="serial", trials={"circuit": stop_after_five})
    from xbarsim.cli import main

    assert main(["sweep", str(with_x), "--resume", "--scheduler", "serial", "--out", str(out), "--quiet"]) == 0
    with ResultStore(out / "trials.sqlite", readonly=True) as db:
        keys = [r.key for r in db.records()]
        assert db.spec_dict() == plain.to_dict()
    assert len(keys) == len(set(keys)) == 12
    doc = json.loads((out / "summary.json").read_text())
    assert doc["partial"] is False and all(p["n_ok"] == 2 for p in doc["points"])


def test_an_unknown_plot_x_is_an_error_naming_it_and_the_grid_keys(tmp_path):
    from xbarsim.errors import ConfigError
    from xbarsim.sweeps import SweepSpec, load_sweep_config

    bad = tmp_path / "bad.toml"
    bad.write_text(PLOT_X.replace('plot_x = "segment_ohm"', 'plot_x = "segment"'))
    with pytest.raises(ConfigError) as exc:
        load_sweep_config(bad)
    text = str(exc.value)
    assert str(bad) in text and "`plot_x`" in text and "'segment'" in text
    assert "'size', 'segment_ohm'" in text
    with pytest.raises(ConfigError, match="`plot_x` must name a grid key .none: the grid is empty.; got 'size'"):
        SweepSpec(name="s", trial="circuit", plot_x="size")
    with pytest.raises(ConfigError, match="`plot_x`.*got 3"):
        SweepSpec(name="s", trial="circuit", grid={"size": [2]}, plot_x=3)


def test_one_trial_per_point_draws_no_error_bars_and_says_so(tmp_path, monkeypatch):
    calls = spy_errorbars(monkeypatch)
    run_sweep_cli(tmp_path, PLOT_X.replace("trials = 2", "trials = 1"))
    assert calls and all(c["yerr"] is None for c in calls)
    for c in calls:
        legend = c["ax"].figure.legends[0].get_title().get_text()
        assert legend == "points: one trial per point (no error bars); series offset sideways"


def _flaky(params, rng):
    """A trial kind that fails at x = 2 for most draws: points with fewer successful trials than `trials`."""
    v = float(rng.random())
    if params["x"] == 2 and v < 0.7:
        raise ValueError("flaky")
    return {"y": params["x"] + v}


def test_the_caption_counts_the_trials_each_point_s_mean_is_over(tmp_path, monkeypatch):
    # before: "over 4 trials per point" (the spec's `trials`) while points with failed trials had 1 or 2
    from xbarsim.experiments import run_sweep_config
    from xbarsim.sweeps import SweepSpec

    calls = spy_errorbars(monkeypatch)
    spec = SweepSpec(name="fl", trial="flaky", grid={"x": [1, 2], "z": [0, 1]}, trials=4, seed=1)
    out = tmp_path / "out"
    run_sweep_config(spec, out=out, scheduler="serial", trials={"flaky": _flaky})
    counts = sorted({len(v) for v in stored_trials(out, "x", "z").values()})
    assert len(counts) > 1  # the seed gives points of different counts
    legend = calls[0]["ax"].figure.legends[0].get_title().get_text()
    assert f"over {counts[0]}-{counts[-1]} trials per point" in legend, legend


@pytest.mark.parametrize(("plot_x", "grid", "xlabel"), [
    # before: "array size n (n x n cells)" under ticks [3] and [2,5]
    ("size", 'size = [3, [2, 5]]\nv_read = [0.1, 0.3]', "array size [rows, columns]"),
    ("v_read", 'size = [3, 4]\nv_read = [0.1, 0.3]', "largest read voltage v_read (V)"),  # before: "v_read"
    ("sinh_a", 'sinh_a = [1.0, 3.0]\nsize = [3, 4]', "sinh nonlinearity a (1/V)"),  # before: "sinh_a"
])
def test_the_x_axis_states_what_the_values_are_and_their_unit(tmp_path, monkeypatch, plot_x, grid, xlabel):
    calls = spy_errorbars(monkeypatch)
    run_sweep_cli(tmp_path, f'name = "lab"\ntrial = "circuit"\ntrials = 2\nplot_x = "{plot_x}"\n[grid]\n{grid}\n'
                            '[fixed]\ndevice = "sinh"\nbatch = 3\n')
    assert calls and {c["ax"].get_xlabel() for c in calls} == {xlabel}
    # the IR error is over every column of every input vector of a trial (batch = 3), not 'of the columns'
    assert {c["ax"].get_ylabel() for c in calls} >= {"IR-drop error, mean over outputs (relative)",
                                                       "IR-drop error, worst output (relative)"}
