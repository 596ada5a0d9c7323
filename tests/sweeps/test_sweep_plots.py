"""Every number a sweep plot draws, recomputed independently from the raw SQLite rows; what is and is
not plotted (bookkeeping metrics); axis order, integer ticks, markers for categorical x."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import numpy as np
import pytest
from experiment_helpers import run_sweep_cli
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
    by_metric = defaultdict(list)
    for c in calls:
        by_metric[c["ax"].get_ylabel()].append(c)
    checked = 0
    for c in calls:
        metric = {"IR-drop error, mean of the columns (relative)": "ir_error_mean",
                  "IR-drop error, worst column (relative)": "ir_error_max",
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
