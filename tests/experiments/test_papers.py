"""The papers' tables load with the values of their sources, and a report cell sets ours beside the right one."""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.experiments import experiment_from_dict
from xbarsim.experiments.papers import PAPER_TABLES, load_paper_table, paper_cells
from xbarsim.experiments.report import compare, markdown, standard_error
from xbarsim.sweeps import TrialRecord, summarize


def _raw(name: str) -> list[dict[str, str]]:
    text = resources.files("xbarsim.experiments").joinpath("data", PAPER_TABLES[name][0]).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_tables_load_with_every_cell():
    fig4 = load_paper_table("lea-fig4b")
    assert len(fig4.rows) == 3 * 6 * 6 * 2  # methods x alpha x fault rates x metrics
    fig5 = load_paper_table("lea-fig5b")
    assert len(fig5.rows) == 40 and all(r["cycles"] == 100 for r in fig5.rows)
    assert [r["value"] for r in load_paper_table("drolet").rows] == [79.5, 18.5]
    with pytest.raises(ConfigError, match="lea-fig4b"):
        load_paper_table("fig4")


@pytest.mark.parametrize("method,alpha,fault,metric,value", [
    ("lea", 6, "0.20", "accuracy", 89.6030),        # the issue quotes 89.6
    ("lea", 1, "0.20", "accuracy", 43.3630),        # 43.4
    ("mao", 6, "0.20", "accuracy", 36.6960),        # 36.7
    ("committee", 6, "0.20", "accuracy", 78.5340),  # 78.5
    ("mao", 1, "0.00", "mapping_error", 27.3731),   # 27.4
    ("mao", 6, "0.00", "mapping_error", 67.4056),   # 67.4
])
def test_fig4b_cells_are_the_release_values(method, alpha, fault, metric, value):
    rows = [r for r in _raw("lea-fig4b") if (r["method"], r["alpha"], r["fault_rate"], r["metric"])
            == (method, str(alpha), fault, metric)]
    assert len(rows) == 1 and float(rows[0]["mean"]) == pytest.approx(value, abs=1e-4)
    cells = [c for c in paper_cells("lea-fig4b", metrics=[metric], columns={"method": "variant"})
             if c.point == {"variant": method, "alpha": alpha, "fault_rate": float(fault)}]
    expected = value / 100 if metric == "accuracy" else value
    assert len(cells) == 1 and cells[0].value == pytest.approx(expected, rel=1e-12)


def test_fig5b_joins_alpha_and_beta_into_our_grid_key():
    cells = paper_cells("lea-fig5b", metrics=["accuracy", "mapping_error"],
                        where={"encoding": "simple", "placement": "greedy"}, join={"alpha_beta": ["alpha", "beta"]},
                        fixed={"variant": "chip"})
    got = {(tuple(c.point["alpha_beta"]), c.metric): c.value for c in cells}
    assert got[((4, 4), "accuracy")] == pytest.approx(0.70294) and got[((1, 1), "accuracy")] == pytest.approx(0.56644)
    assert got[((4, 4), "mapping_error")] == pytest.approx(8.555) and got[((1, 1), "mapping_error")] == pytest.approx(15.525)
    assert all(c.point["variant"] == "chip" for c in cells)


@pytest.mark.parametrize("paper, match", [
    ({"table": "drolet", "metrics": ["robust"]}, "no row of table 'drolet' holds metric 'robust'; its metrics: "
                                                 "robust_fraction"),
    ({"table": "lea-fig4b", "metrics": ["acuracy"]}, "holds metric 'acuracy'; its metrics: accuracy, mapping_error"),
    ({"table": "lea-fig4b", "where": {"method": "LEA1"}}, "`where`: no row .* has method = 'LEA1'; its values: 'lea'"),
    ({"table": "lea-fig4b", "columns": {"method": "variant"}, "values": {"method": {"LEA1": "lea"}}},
     "`values`: no row .* has method = 'LEA1'"),
    ({"table": "lea-fig5b", "where": {"alpha": "2"}}, "`where`: no row .* has alpha = '2'; its values: 1, 2"),
    ({"table": "lea-fig4b", "metrics": ["mapping_error"], "where": {"metric": "accuracy"}},
     "no row of table 'lea-fig4b' kept by `where` holds metric 'mapping_error'"),
])
def test_a_paper_entry_that_selects_nothing_is_refused_naming_it(paper, match):
    """A [[paper]] entry whose metric, `where` value or `values` rename matches no row of its table
    gave no cells, so the report silently lacked the paper's numbers (a metric misspelled on the wide
    table lea-fig5b was already refused)."""
    data = {"name": "x", "kind": "sweep", "dataset": "digits", "networks": [{"name": "n", "recipe": "ternary"}],
            "paper": [{"table": "lea-fig4b", "columns": {"method": "variant"}}, paper]}
    with pytest.raises(ConfigError, match=f"^x.toml: \\[\\[paper\\]\\] #2: .*{match}"):
        experiment_from_dict(data, source="x.toml")
    assert len(experiment_from_dict({**data, "paper": data["paper"][:1]}, source="x.toml").references) == 108


def test_a_report_cell_sets_ours_beside_the_papers_number_with_the_difference():
    cfg = experiment_from_dict({
        "name": "t", "kind": "sweep", "dataset": "digits", "networks": [{"name": "n", "recipe": "ternary"}],
        "grid": {"alpha": [1, 6], "variant": ["lea", "mao"], "fault_rate": [0.2]},
        "variants": {"lea": {"strategy": "lea"}, "mao": {"strategy": "mao"}},
        "paper": [{"table": "lea-fig4b", "columns": {"method": "variant"}, "metrics": ["accuracy", "mapping_error"]}],
    })
    # our rows in non-sorted order; only four of the table's cells are covered
    rows = [
        {"alpha": 6, "variant": "mao", "fault_rate": 0.2, "n": 3, "accuracy_mean": 0.40, "accuracy_std": 0.02,
         "mapping_error_mean": 190.0, "mapping_error_std": 1.0},
        {"alpha": 1, "variant": "lea", "fault_rate": 0.2, "n": 3, "accuracy_mean": 0.30, "accuracy_std": 0.05,
         "mapping_error_mean": 193.0, "mapping_error_std": 2.0},
        {"alpha": 6, "variant": "lea", "fault_rate": 0.2, "n": 3, "accuracy_mean": 0.85, "accuracy_std": 0.01,
         "mapping_error_mean": 80.0, "mapping_error_std": 0.5},
    ]
    comps = compare(rows, cfg.references, columns=["variant", "alpha", "fault_rate"])
    assert len(comps) == 6  # 3 points x 2 metrics; the table's other 210 cells are not in this run
    lea6 = next(c for c in comps if c["point"] == {"variant": "lea", "alpha": 6, "fault_rate": 0.2}
                and c["metric"] == "accuracy")
    assert (lea6["ours_mean"], lea6["paper"]) == (0.85, pytest.approx(0.89603))
    text = markdown(cfg, rows, ["variant", "alpha", "fault_rate"], ["accuracy", "mapping_error"], comps, {"n": 0.9}, 1.0)
    line = next(ln for ln in text.splitlines() if "method lea, alpha 6, fault_rate 0.2" in ln and "| accuracy |" in ln)
    # SE of ours: the ddof-0 std 1.0 point over n = 3 cycles is a sample SE of 1.0 / sqrt(2)
    assert "85.0 ± 1.0 %" in line and "89.6 %" in line and "| 89.6 % | -4.6 | 0.7 | none stated |" in line
    mao6 = next(ln for ln in text.splitlines() if "method mao, alpha 6, fault_rate 0.2" in ln and "mapping_error" in ln)
    assert "190.0 ± 1.0 %" in mao6 and "184.8 %" in mao6 and "| 184.8 % | +5.2 | 0.7 | none stated |" in mao6


def test_the_standard_error_beside_a_paper_cell_is_that_of_the_raw_cycles():
    """The SE printed beside a paper cell is recomputed from the raw per-cycle accuracies (records in
    non-sorted order, two points interleaved): std with ddof 1 over sqrt(n)."""
    cfg = experiment_from_dict({
        "name": "t", "kind": "sweep", "dataset": "digits", "networks": [{"name": "n", "recipe": "ternary"}],
        "grid": {"alpha": [3, 1], "variant": ["lea"], "fault_rate": [0.2]},
        "variants": {"lea": {"strategy": "lea"}},
        "paper": [{"table": "lea-fig4b", "columns": {"method": "variant"}, "metrics": ["accuracy"]}],
    })
    a3 = [0.7529, 0.8304, 0.6008, 0.8634, 0.7758]  # alpha-3 cycles, one of them in the long low tail
    a1 = [0.5758, 0.3922, 0.5018]
    recs = []
    for i, (alpha, acc) in enumerate([(3, a3[4]), (1, a1[2]), (3, a3[0]), (3, a3[2]), (1, a1[0]), (3, a3[3]),
                                      (1, a1[1]), (3, a3[1])]):
        recs.append(TrialRecord(key=f"k{i}", point=0, trial=i, params={"alpha": alpha, "variant": "lea",
                                "fault_rate": 0.2}, results={"accuracy": acc}, status="ok"))
    rows = []
    for r in summarize(recs, cfg.points(), ["accuracy"]):
        rows.append({**r, "n": r["n_ok"]})
    comps = compare(rows, cfg.references, columns=["variant", "alpha", "fault_rate"])
    text = markdown(cfg, rows, ["variant", "alpha", "fault_rate"], ["accuracy"], comps, {"n": 0.9}, 1.0)
    for alpha, accs in ((3, a3), (1, a1)):
        se = np.std(accs, ddof=1) / np.sqrt(len(accs))
        comp = next(c for c in comps if c["point"]["alpha"] == alpha)
        assert standard_error(comp["ours_std"], comp["n"]) == pytest.approx(se, rel=1e-12)
        line = next(ln for ln in text.splitlines() if f"method lea, alpha {alpha}, fault_rate 0.2" in ln)
        diff = 100 * (np.mean(accs) - comp["paper"])
        assert f"| {diff:+.1f} | {100 * se:.1f} |" in line, line
    assert "std / sqrt(n - 1)" in text
    assert standard_error(0.05, 1) is None and standard_error(None, 5) is None


def test_the_standard_error_of_a_metric_some_cycles_left_out_is_over_the_cycles_that_report_it():
    """A metric that some successful cycles did not report is a mean over `<metric>_n` of them (the
    rows carry it since summarize counts them); its SE beside the paper's cell and the plot caption
    count those, not the point's `n`. Recomputed from the raw records, given in non-sorted order."""
    from xbarsim.experiments.plots import _cycles_caption

    cfg = experiment_from_dict({
        "name": "t", "kind": "sweep", "dataset": "digits", "networks": [{"name": "n", "recipe": "ternary"}],
        "grid": {"alpha": [1], "variant": ["mao"], "fault_rate": [0.0]},
        "variants": {"mao": {"strategy": "mao"}},
        "paper": [{"table": "lea-fig4b", "columns": {"method": "variant"}, "metrics": ["mapping_error"]}],
    })
    errs = {4: 31.0, 1: 25.0, 3: 28.5}  # trial -> mapping error; trials 0 and 2 reported none
    recs = [TrialRecord(key=f"k{i}", point=0, trial=i, params={"alpha": 1, "variant": "mao", "fault_rate": 0.0},
                        results={"accuracy": 0.9, **({"mapping_error": errs[i]} if i in errs else {})}, status="ok")
            for i in (4, 0, 1, 3, 2)]
    rows = [{**r, "n": r["n_ok"]} for r in summarize(recs, cfg.points(), ["accuracy", "mapping_error"])]
    assert rows[0]["n"] == 5 and rows[0]["mapping_error_n"] == 3
    (comp,) = compare(rows, cfg.references, columns=["variant", "alpha", "fault_rate"])
    se = np.std(list(errs.values()), ddof=1) / np.sqrt(len(errs))
    assert standard_error(comp["ours_std"], comp["n"]) == pytest.approx(se, rel=1e-12)  # before: n = 5
    assert "over 3 cycles per point" in _cycles_caption(rows, "mapping_error")  # before: over 5
    assert "over 5 cycles per point" in _cycles_caption(rows, "accuracy")


def test_a_paper_cell_matched_by_several_networks_is_compared_once_per_network():
    """A paper table has no `network` column: each network's row gets its own comparison, labelled with
    its network, never the first row alone. The rows are summarized from raw trial records given in
    non-sorted order, and every printed number is recomputed from those records here."""
    cfg = experiment_from_dict({
        "name": "t", "kind": "sweep", "dataset": "digits",
        "networks": [{"name": "a", "recipe": "ternary"}, {"name": "b", "recipe": "ternary", "seed": 1}],
        "grid": {"alpha": [6], "variant": ["mao"], "fault_rate": [0.2], "network": ["b", "a"]},
        "variants": {"mao": {"strategy": "mao"}},
        "paper": [{"table": "lea-fig4b", "columns": {"method": "variant"}, "metrics": ["accuracy"]}],
    })
    raw = {"a": [0.42, 0.38, 0.40], "b": [0.46, 0.54, 0.50]}
    order = [("b", 2), ("a", 1), ("b", 0), ("a", 2), ("a", 0), ("b", 1)]
    recs = [TrialRecord(key=f"k{i}", point=0, trial=k, params={"alpha": 6, "variant": "mao", "fault_rate": 0.2,
                        "network": net}, results={"accuracy": raw[net][k]}, status="ok")
            for i, (net, k) in enumerate(order)]
    rows = [{**r, "n": r["n_ok"]} for r in summarize(recs, cfg.points(), ["accuracy"])]
    cols = ["alpha", "variant", "fault_rate", "network"]
    comps = compare(rows, cfg.references, columns=cols)
    assert sorted((c["point"]["network"], c["ours_mean"]) for c in comps) == [
        ("a", pytest.approx(np.mean(raw["a"]), rel=1e-12)), ("b", pytest.approx(np.mean(raw["b"]), rel=1e-12))]
    assert all(c["paper"] == pytest.approx(0.36696) for c in comps)
    text = markdown(cfg, rows, cols, ["accuracy"], comps, {"a": 0.9, "b": 0.9}, 1.0)
    lines = [ln for ln in text.splitlines() if "method mao, alpha 6, fault_rate 0.2" in ln]
    assert len(lines) == 2
    for net in ("a", "b"):
        line = next(ln for ln in lines if f"network={net}" in ln)
        m, sd = 100 * np.mean(raw[net]), 100 * np.std(raw[net])
        se = 100 * np.std(raw[net], ddof=1) / np.sqrt(3)
        assert f"| {m:.1f} ± {sd:.1f} % | 36.7 % | {m - 36.696:+.1f} | {se:.1f} |" in line, line


def test_results_json_refuses_a_non_finite_value_and_names_where_it_sits(tmp_path):
    from xbarsim.experiments.report import write_json

    prov = {"command": "test", "partial": False}
    ok = write_json(tmp_path / "ok.json", {"rows": [{"accuracy_mean": 0.5, "accuracy_std": None}]}, prov)
    assert '"accuracy_std": null' in ok.read_text()
    for bad in (float("nan"), float("inf"), np.float64("-inf")):
        with pytest.raises(ValueError, match=r"results\.json\.rows\[1\]\.accuracy_std is .*finite"):
            write_json(tmp_path / "results.json", {"rows": [{"accuracy_std": 0.1}, {"accuracy_std": bad}]}, prov)
    assert not (tmp_path / "results.json").exists()


def test_a_multi_line_note_or_a_pipe_stays_in_its_comparison_cell():
    """A [[reference]] note written as a TOML multi-line string, or a label / note with a '|', is one
    cell of one table row (the line break ended the row, the '|' opened a tenth column)."""
    cfg = experiment_from_dict({
        "name": "t", "kind": "sweep", "dataset": "digits", "networks": [{"name": "n", "recipe": "ternary"}],
        "grid": {"alpha": [2, 1]}, "hardware": {"strategy": "lea"},
        "reference": [{"label": "Fig. 4 | LEA", "point": {"alpha": 2}, "value": 0.8,
                       "note": "paper: 100 cycles\nours: 3 | fewer"}],
    })
    rows = [{"alpha": 1, "n": 3, "accuracy_mean": 0.5, "accuracy_std": 0.1},
            {"alpha": 2, "n": 3, "accuracy_mean": 0.75, "accuracy_std": 0.02}]
    comps = compare(rows, cfg.references, columns=["alpha"])
    text = markdown(cfg, rows, ["alpha"], ["accuracy"], comps, {"n": 0.9}, 1.0)
    lines = [ln for ln in text.splitlines() if "Fig. 4" in ln]
    assert len(lines) == 1
    assert lines[0] == ("| Fig. 4 \\| LEA | alpha=2 | accuracy | 75.0 ± 2.0 % | 80.0 % | -5.0 | 1.4 | "
                        "paper: 100 cycles ours: 3 \\| fewer |")
    assert len(lines[0].replace("\\|", "").split("|")) == 10  # nine cells
    # the difference's unit is stated (it had none: -5.0 of what?)
    assert "`ours - paper` and `SE of ours` are in percentage points for accuracies" in text


def test_exp3c_compares_both_placements_with_the_release_values():
    """exp3c_fig5_placement.toml's [[paper]] block: the four (alpha, beta) x placement points its grid runs
    get the release's simple-encoding cells (recomputed here from the CSV rows)."""
    from pathlib import Path

    from xbarsim.experiments import load_experiment

    config = load_experiment(Path(__file__).resolve().parents[2] / "examples" / "configs" / "exp3c_fig5_placement.toml")
    ours = {(r.point["placement"], tuple(r.point["alpha_beta"]), r.metric): r.value for r in config.references
            if r.point["network"] == "ewc-ternary" and tuple(r.point["alpha_beta"]) in ((1, 1), (4, 4))}
    raw = {(r["placement"], (int(r["alpha"]), int(r["beta"]))): r for r in _raw("lea-fig5b") if r["encoding"] == "simple"}
    assert len(ours) == 8
    for (placement, ab, metric), value in ours.items():
        row = raw[(placement, ab)]
        expected = float(row["accuracy_mean"]) / 100 if metric == "accuracy" else float(row["mapping_error_mean"])
        assert value == pytest.approx(expected, rel=1e-12)
    assert ours[("random", (1, 1), "accuracy")] == pytest.approx(0.61565)
    assert ours[("greedy", (4, 4), "mapping_error")] == pytest.approx(8.555)


def test_a_reference_ours_is_missing_for_says_why():
    """Ours is n/a for a metric the run never reports (a misspelled 'acuracy'), for a point the run has
    no row at (a --quick grid) and for a point whose trials all failed; before, the note said nothing."""
    from xbarsim.experiments.config import Reference

    rows = [{"alpha": 1, "n": 3, "accuracy_mean": 0.5, "accuracy_std": 0.1},
            {"alpha": 2, "n": 0, "accuracy_mean": None, "accuracy_std": None}]
    refs = [Reference(label="typo", metric="acuracy", point={"alpha": 1}, value=0.8),
            Reference(label="quick", metric="accuracy", point={"alpha": 6}, value=0.9, note="paper: 10 cycles"),
            Reference(label="failed", metric="accuracy", point={"alpha": 2}, value=0.7)]
    comps = {c["label"]: c for c in compare(rows, refs, columns=["alpha"])}
    assert all(c["ours_mean"] is None for c in comps.values())
    assert comps["typo"]["note"] == "this run has no metric 'acuracy' (its metrics: accuracy)"
    assert comps["quick"]["note"] == "paper: 10 cycles; this run has no row at this point"
    assert comps["failed"]["note"] == "no successful trial at this point"
