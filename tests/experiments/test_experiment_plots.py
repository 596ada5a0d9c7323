"""Every number an experiment's plots draw, recomputed from the raw trial rows of its store; the
axes, captions and titles say what is drawn."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from experiment_helpers import lea_experiment, monte_carlo_experiment, spy_errorbars, stored_trials
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from xbarsim.cli import main
from xbarsim.experiments.plots import MAPPING_ERROR_LABEL

CONFIG = lea_experiment("plot-check", 3, 'variant = ["lea", "committee"]\nalpha = [1, 3, 2]', top="max_points = 200")


def test_accuracy_and_mapping_error_plots_draw_the_raw_trial_statistics(tmp_path, monkeypatch):
    calls: list[dict] = []
    texts: list[str] = []
    original, suptitle = Axes.errorbar, Figure.suptitle

    def spy(self, x, y, yerr=None, **kw):
        calls.append({"ax": self, "x": np.asarray(x, float), "y": np.asarray(y, float),
                      "yerr": np.asarray(yerr, float), "label": kw.get("label")})
        return original(self, x, y, yerr=yerr, **kw)

    def spy_title(self, t, **kw):
        texts.append(t)
        return suptitle(self, t, **kw)

    monkeypatch.setattr(Axes, "errorbar", spy)
    monkeypatch.setattr(Figure, "suptitle", spy_title)
    cfg = tmp_path / "e.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    con = sqlite3.connect(out / "trials.sqlite")
    raw = [(json.loads(p), json.loads(r)) for p, r, s in con.execute("select params, results, status from trials")
           if s == "ok"]
    con.close()
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for params, results in raw:
        groups[(params["variant"], params["alpha"])].append(results)
    assert all(len(v) == 3 for v in groups.values()) and len(groups) == 6
    seen = set()
    for c in calls:
        ylabel = c["ax"].get_ylabel()
        metric, scale = ("accuracy", 100.0) if ylabel == "test accuracy (%)" else ("mapping_error", 1.0)
        if metric == "mapping_error":
            assert ylabel == MAPPING_ERROR_LABEL
        variant = c["label"].removeprefix("variant=")
        for k, alpha in enumerate([1, 2, 3]):
            vals = np.array([r[metric] for r in groups[(variant, alpha)]])
            assert c["y"][k] == pytest.approx(scale * vals.mean(), rel=1e-12)
            assert c["yerr"][k] == pytest.approx(scale * vals.std(), rel=1e-9, abs=1e-12)
            assert abs(c["x"][k] - alpha) < 0.2  # offset sideways, less than the spacing
        assert sorted(c["ax"].get_xticks()) == [1.0, 2.0, 3.0]  # integer alpha ticks
        seen.add((metric, variant))
    assert seen == {(m, v) for m in ("accuracy", "mapping_error") for v in ("lea", "committee")}
    assert any(t.startswith("Test accuracy vs alpha") for t in texts)
    assert any(t.startswith("Weight mapping error vs alpha") for t in texts)
    legend_titles = [c["ax"].figure.legends[0].get_title().get_text() for c in calls]
    assert all("mean; error bars: ± one standard deviation (ddof 0) over 3 cycles per point" in t
               for t in legend_titles)


def _evaluate_spied(tmp_path, monkeypatch, name: str, grid: str, top: str) -> tuple[list[dict], Path]:
    """Run a small LEA experiment through the CLI with every errorbar call recorded: (calls, out folder)."""
    calls = spy_errorbars(monkeypatch)
    cfg = tmp_path / "e.toml"
    cfg.write_text(lea_experiment(name, 2, grid, top=top))
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    return calls, out


def test_readout_plot_labels_the_main_series_with_each_points_backend(tmp_path, monkeypatch):
    """A variant that reads with the ideal backend beside a read-out named "ideal": that variant's main
    series is "readout=ideal (configured)", the other's "readout=sparse" (before: both "readout=sparse",
    the [hardware] backend), and the read-out "ideal" its own series; each point the raw trials' mean."""
    calls = spy_errorbars(monkeypatch)
    cfg = tmp_path / "e.toml"
    cfg.write_text(lea_experiment("ro", 2, 'variant = ["lea_ideal", "lea"]\nalpha = [2, 1]', top="max_points = 60")
                   .replace('[grid]', 'lea_ideal = { strategy = "lea", backend = "ideal" }\n'
                                      '[readouts]\nfine = { adc_bits = 12 }\nideal = { adc_bits = 10 }\n[grid]'))
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    groups = stored_trials(out, "variant", "alpha")
    mine = {c["label"]: c for c in calls if c["ax"].get_ylabel() == "test accuracy (%)"}
    labels = {dict(p.split("=") for p in lab.split(", "))["variant"]: dict(p.split("=") for p in lab.split(", "))
              for lab in mine if not lab.endswith(("readout=fine", "readout=ideal"))}
    # a read-out named like a point's backend does not merge with its main series
    assert labels["lea"]["readout"] == "sparse" and labels["lea_ideal"]["readout"] == "ideal (configured)"
    assert len(mine) == 6
    for lab, c in mine.items():
        parts = dict(p.split("=") for p in lab.split(", "))
        key = {"fine": "accuracy_fine", "ideal": "accuracy_ideal"}.get(parts["readout"], "accuracy")
        for k, alpha in enumerate([1, 2]):
            vals = np.array([r[key] for r in groups[(parts["variant"], alpha)]])
            assert c["y"][k] == pytest.approx(100 * vals.mean(), rel=1e-12)


def test_plot_x_adds_the_accuracy_plot_against_the_named_grid_key(tmp_path, monkeypatch):
    """``plot_x = "fault_rate"`` beside an alpha grid: accuracy_vs_fault_rate.png has the fault rate on x,
    one line per (variant, alpha), every point the raw trials' mean and std."""
    calls, out = _evaluate_spied(tmp_path, monkeypatch, "plot-x", 'variant = ["lea"]\nalpha = [1, 2]\nfault_rate = [0.2, 0.0]',
                                 'plot_x = "fault_rate"\nmax_points = 150')
    assert (out / "accuracy_vs_fault_rate.png").exists() and (out / "accuracy_vs_alpha.png").exists()
    groups = stored_trials(out, "alpha", "fault_rate")
    mine = [c for c in calls if c["ax"].get_xlabel() == "fault_rate"]
    assert len(mine) == 2  # one line per alpha (variant has one value)
    for c in mine:
        alpha = int(dict(part.split("=") for part in c["label"].split(", "))["alpha"])
        for k, rate in enumerate([0.0, 0.2]):
            vals = np.array([r["accuracy"] for r in groups[(alpha, rate)]])
            assert len(vals) == 2
            assert c["y"][k] == pytest.approx(100 * vals.mean(), rel=1e-12)
            assert c["yerr"][k] == pytest.approx(100 * vals.std(), rel=1e-9, abs=1e-12)
            assert abs(c["x"][k] - rate) < 0.05


def test_plot_x_errors_name_the_key_and_the_grid(tmp_path):
    from xbarsim.errors import ConfigError
    from xbarsim.experiments import load_experiment

    cfg = tmp_path / "e.toml"
    for top, expected in (('plot_x = "fault"', "`plot_x` must name a grid key ('variant', 'alpha'); got 'fault'"),
                          ('plot_x = "variant"', "`plot_x` must name a grid key with numeric values")):
        cfg.write_text(lea_experiment("bad", 1, 'variant = ["lea"]\nalpha = [1, 2]', top=top))
        with pytest.raises(ConfigError) as exc:
            load_experiment(cfg)
        assert str(cfg) in str(exc.value) and expected in str(exc.value)


def test_point_histogram_puts_the_robust_points_right_of_the_threshold(tmp_path, monkeypatch):
    """20 transfers: a point right 19 times is at exactly 95 % and robust; its bar must lie right of
    the threshold line, so the bars there hold the robust fraction the panel title states
    (recomputed from the stored per-point correctness)."""
    from matplotlib.axes import Axes

    from xbarsim.evaluation import unpack_correct
    from xbarsim.sweeps import ResultStore

    bars = []
    original = Axes.bar

    def spy(self, x, height, width=0.8, **kw):
        bars.append((np.asarray(x, float), np.asarray(height, float), np.asarray(width, float)))
        return original(self, x, height, width=width, **kw)

    monkeypatch.setattr(Axes, "bar", spy)
    cfg = tmp_path / "mc.toml"
    cfg.write_text(monte_carlo_experiment("hist", 20, '["statistical"]', epochs=5))
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--quiet"]) == 0
    with ResultStore(out / "transfers_regular_statistical.sqlite", readonly=True) as db:
        correct = np.array([unpack_correct(r.results["correct"], 200) for r in db.records()])
    right = correct.sum(axis=0)  # transfers (of 20) that classify each point correctly
    assert (right == 19).any()  # points exactly at the threshold exist: the case that went wrong
    (x, height, width), = bars
    assert height.sum() == 200 and np.allclose(x[1:], (x + width)[:-1])
    robust = int((right >= 19).sum())
    assert height[x >= 0.95 - 1e-12].sum() == robust
    assert json.loads((out / "results.json").read_text())["rows"][0]["robust_fraction_mean"] == robust / 200


def test_a_column_with_one_value_is_named_once_in_the_legend_title_not_in_every_label(tmp_path, monkeypatch):
    """Four networks at one fault rate and one variant (exp2e): the labels name the network only; the
    fault rate and the variant are said once, above the caption. Each line still draws its own rows."""
    from xbarsim.experiments.plots import plot_metric_lines

    calls: list[dict] = []
    original = Axes.errorbar

    def spy(self, x, y, yerr=None, **kw):
        calls.append({"ax": self, "y": np.asarray(y, float), "yerr": np.asarray(yerr, float),
                      "label": kw.get("label")})
        return original(self, x, y, yerr=yerr, **kw)

    monkeypatch.setattr(Axes, "errorbar", spy)
    from xbarsim.sweeps import TrialRecord, summarize

    rng = np.random.default_rng(5)
    raw = {(s, a): list(rng.uniform(0.2, 0.6, 3)) for s in range(4) for a in (4, 5, 6)}
    recs = [TrialRecord(key=f"k{s}{a}{k}", point=0, trial=k, status="ok", results={"accuracy": v[k]},
                        params={"fault_rate": 0.2, "variant": "mao", "network": f"wage-s{s}", "alpha": a})
            for (s, a), v in raw.items() for k in range(3)]
    recs = [recs[i] for i in rng.permutation(len(recs))]  # stored in the order the workers finished
    points = [{"fault_rate": 0.2, "variant": "mao", "network": f"wage-s{s}", "alpha": a}
              for a in (6, 4, 5) for s in (2, 0, 3, 1)]
    rows = [{**r, "n": r["n_ok"]} for r in summarize(recs, points, ["accuracy"])]
    out = plot_metric_lines(rows, tmp_path / "a.png", x="alpha", metric="accuracy",
                            by=["fault_rate", "variant", "network"])
    assert out.exists()
    assert sorted(c["label"] for c in calls) == [f"network=wage-s{s}" for s in range(4)]
    for c in calls:
        s = int(c["label"].removeprefix("network=wage-s"))
        assert c["y"] == pytest.approx([100 * np.mean(raw[(s, a)]) for a in (4, 5, 6)], rel=1e-12)
        assert c["yerr"] == pytest.approx([100 * np.std(raw[(s, a)]) for a in (4, 5, 6)], rel=1e-9)
    title = calls[0]["ax"].figure.legends[0].get_title().get_text()
    assert title.startswith("every series: fault_rate=0.2, variant=mao\n")
    assert "over 3 cycles per point" in title


def test_readouts_without_a_grid_write_the_report(tmp_path):
    """A config with [readouts] and no [grid]: the report is written (the generic plot looked up the
    expanded rows' "readout" column in the config's grid: KeyError 'readout' after every trial ran,
    and no report.md)."""
    cfg = tmp_path / "e.toml"
    cfg.write_text(lea_experiment("readouts-only", 2, "", top="max_points = 50")
                   .replace("[grid]", '[readouts]\nideal = { backend = "ideal" }'))
    out = tmp_path / "out"
    assert main(["evaluate", str(cfg), "--out", str(out), "--scheduler", "serial", "--quiet"]) == 0
    text = (out / "report.md").read_text()
    assert "| network | n | accuracy | mapping_error | accuracy_ideal |" in text
    groups = stored_trials(out)
    vals = np.array([r["accuracy_ideal"] for r in groups[()]])
    assert len(vals) == 2
    assert json.loads((out / "results.json").read_text())["rows"][0]["accuracy_ideal_mean"] == pytest.approx(
        vals.mean(), rel=1e-12)


def test_alpha_beta_pairs_of_one_alpha_are_separate_series(tmp_path, monkeypatch):
    """grid.alpha_beta with two betas at alpha 2 (exp3_yinyang.toml's grid): each beta is its own
    series, every point the raw trials' mean and std (the pair's beta was dropped: both alpha = 2
    points were drawn in one series at the same x, joined by a vertical line, beta named nowhere)."""
    calls, out = _evaluate_spied(tmp_path, monkeypatch, "ab", 'variant = ["lea"]\nalpha_beta = [[2, 2], [1, 1], [2, 1]]',
                                 "max_points = 100")
    con = sqlite3.connect(out / "trials.sqlite")
    raw: dict[tuple, list[dict]] = defaultdict(list)
    for p, r, s in con.execute("select params, results, status from trials"):
        if s == "ok":
            raw[tuple(json.loads(p)["alpha_beta"])].append(json.loads(r))
    con.close()
    acc = [c for c in calls if c["ax"].get_ylabel() == "test accuracy (%)"]
    mapping = [c for c in calls if c["ax"].get_ylabel() == MAPPING_ERROR_LABEL]
    for drawn, metric, scale in ((acc, "accuracy", 100.0), (mapping, "mapping_error", 1.0)):
        assert sorted(c["label"] for c in drawn) == ["beta=1", "beta=2"]
        for c in drawn:
            beta = int(c["label"].removeprefix("beta="))
            alphas = [1, 2] if beta == 1 else [2]
            assert len(c["x"]) == len(alphas)
            for k, alpha in enumerate(alphas):
                vals = np.array([r[metric] for r in raw[(alpha, beta)]])
                assert len(vals) == 2
                assert abs(c["x"][k] - alpha) < 0.2
                assert c["y"][k] == pytest.approx(scale * vals.mean(), rel=1e-12)
                assert c["yerr"][k] == pytest.approx(scale * vals.std(), rel=1e-9, abs=1e-12)
    # both plots name the pair axis alike (before: "alpha (copies per weight, ...)" and "alpha_beta (copies
    # per weight)")
    assert {c["ax"].get_xlabel() for c in calls} == {"(alpha, beta): copies placed, copies kept per output"}


def test_the_default_accuracy_plot_is_against_the_first_numeric_grid_key(tmp_path, monkeypatch):
    """A grid of variant, then fault_rate, no alpha: accuracy_vs_fault_rate.png, as plot_x's documentation
    says (before: the first key, `variant`, was not numeric, and no accuracy plot was drawn); every point the
    raw trials' mean."""
    # the grid in non-sorted order: the points are matched to the trials by their values
    calls, out = _evaluate_spied(tmp_path, monkeypatch, "first-numeric",
                                 'variant = ["lea", "committee"]\nfault_rate = [0.2, 0.0]', "max_points = 100")
    assert (out / "accuracy_vs_fault_rate.png").exists()
    groups = stored_trials(out, "variant", "fault_rate")
    mine = [c for c in calls if c["ax"].get_xlabel() == "fault_rate"]
    assert sorted(c["label"] for c in mine) == ["variant=committee", "variant=lea"]
    for c in mine:
        variant = c["label"].split("=")[1]
        for k, rate in enumerate([0.0, 0.2]):
            vals = np.array([r["accuracy"] for r in groups[(variant, rate)]])
            assert c["y"][k] == pytest.approx(100 * vals.mean(), rel=1e-12)


def test_the_wire_axis_labels_every_resistance_of_the_grid(tmp_path, monkeypatch):
    """A grid of 0.5 and 5 ohm was drawn on a symmetric-log axis whose only labelled tick was 10^0:
    neither resistance of the sweep could be read off the figure. Now each value is a labelled tick."""
    from xbarsim.experiments.plots import plot_accuracy_vs_wire

    calls = spy_errorbars(monkeypatch)
    for grid in ([0.5, 5.0], [0.0, 0.5, 1.0, 2.0, 5.0, 10.0]):
        calls.clear()
        rows = [{"segment_ohm": s, "accuracy_mean": 0.9, "accuracy_std": 0.01, "n": 2} for s in grid]
        assert plot_accuracy_vs_wire(rows, tmp_path / "w.png", baseline=0.97).exists()
        ax = calls[0]["ax"]
        assert [float(t) for t in ax.get_xticks()] == grid
        assert [t.get_text() for t in ax.get_xticklabels()] == [f"{s:g}" for s in grid]


def test_the_wire_axis_shows_no_negative_resistance_and_no_point_on_its_edge(tmp_path, monkeypatch):
    """The symmetric-log wire axis autoscaled to about [-1, 20] ohm: ticks at -1 and -0.1 ohm, and the
    20 ohm markers cut in half by the right edge. Now it starts just left of 0 (inside the linear part)
    and ends a tenth of a decade past the largest resistance; rows in non-sorted order."""
    from xbarsim.experiments.plots import plot_accuracy_vs_wire

    axes: list[Axes] = []
    original = Axes.errorbar

    def spy(self, *args, **kw):
        axes.append(self)
        return original(self, *args, **kw)

    monkeypatch.setattr(Axes, "errorbar", spy)
    rows = [{"segment_ohm": s, "adc_bits": b, "accuracy_mean": a, "accuracy_std": 0.02, "n": 2}
            for s, b, a in ((20.0, 8, 0.6), (0.0, 4, 0.5), (5.0, 8, 0.7), (0.0, 8, 0.65), (20.0, 4, 0.45),
                            (5.0, 4, 0.55))]
    assert plot_accuracy_vs_wire(rows, tmp_path / "w.png", by=["adc_bits"], baseline=0.97).exists()
    (ax,) = set(axes)
    lo, hi = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert min(shown) == 0.0 and -0.1 < lo < 0.0
    assert hi == pytest.approx(20.0 * 10 ** 0.1)
    # all resistances above the linear part: a tenth of a decade on each side, not empty decades down to
    # 0 (the first version of this fix drew [2, 5, 20] ohm from -0.02, found by the diff review)
    axes.clear()
    positive = [dict(r, segment_ohm=2.0) if r["segment_ohm"] == 0.0 else r for r in rows]
    assert plot_accuracy_vs_wire(positive, tmp_path / "p.png", by=["adc_bits"], baseline=0.97).exists()
    (ax,) = set(axes)
    assert ax.get_xlim() == pytest.approx((2.0 / 10 ** 0.1, 20.0 * 10 ** 0.1))
