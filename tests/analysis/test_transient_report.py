"""bias-compare --transient: every number of the table recomputed from the raw per-cell records."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from xbarsim.analysis import WriteVerifySettings
from xbarsim.analysis.transient_report import transient_bias_report, write_transient_report
from xbarsim.cli import main
from xbarsim.errors import ConfigError


@pytest.fixture(scope="module")
def report():
    return transient_bias_report(3, schemes=("v/3", "v/2"), settings=WriteVerifySettings(dt=2.5e-7, max_pulses=8),
                                 seed=4, n_track=8)


def test_table_recomputed_from_raw_records(report):
    rows = {r["scheme"]: r for r in report.table()}
    assert list(rows) == ["v/3", "v/2"]  # the order asked for, not sorted
    for scheme, res in report.results.items():
        r = rows[scheme]
        g, tgt = np.asarray(res.conductance), np.asarray(res.target)
        err = np.abs(g - tgt) / tgt
        assert r["mean_abs_error_pct"] == pytest.approx(100 * err.mean())
        assert r["within_tolerance_pct"] == pytest.approx(100 * np.mean(err <= 0.01))
        assert r["pulses_total"] == int(np.sum(res.pulses)) and r["energy_J"] == pytest.approx(float(np.sum(res.energy)))
        assert r["programming_time_s"] == pytest.approx(np.sum(res.pulses) * 1.1e-6)
        # disturbance after n = 1 more cell: from the per-cell trajectory, cell by cell, in reverse order
        vals = [res.trajectory[p, 0] for p in reversed(range(res.trajectory.shape[0])) if np.isfinite(res.trajectory[p, 0])]
        assert r["dist_mean_uS_n1"] == pytest.approx(1e6 * np.mean(vals), abs=1e-9)
        assert r["dist_std_uS_n1"] == pytest.approx(1e6 * np.std(vals), abs=1e-9)
    # same targets and initial states for both schemes
    assert np.array_equal(report.results["v/3"].target, report.results["v/2"].target)
    assert np.array_equal(report.results["v/3"].initial, report.results["v/2"].initial)


def test_writer_and_report_text(report, tmp_path):
    paths = write_transient_report(report, tmp_path)
    assert [p.name for p in paths] == ["bias_compare_transient.csv", "bias_compare_transient.json", "disturbance_transient.png"]
    doc = json.loads(paths[1].read_text())
    assert doc["table"][1]["pulses_total"] == report.table()[1]["pulses_total"]
    assert "| v/2 |" in report.report() and "Drolet measured" in report.report()


def test_json_is_strict_where_the_array_is_too_small_for_a_count(report, tmp_path):
    # before: a 3x3 array never reaches n = 10 or 30, and the table's NaN went into the file as `NaN`
    paths = write_transient_report(report, tmp_path)

    def refuse(const: str) -> None:
        raise ValueError(f"non-standard JSON constant {const}")

    doc = json.loads(paths[1].read_text(), parse_constant=refuse)
    rows = {r["scheme"]: r for r in doc["table"]}
    assert rows["v/2"]["dist_mean_uS_n30"] is None and rows["v/2"]["dist_std_uS_n10"] is None
    assert rows["v/2"]["dist_mean_uS_n1"] == pytest.approx(report.table()[1]["dist_mean_uS_n1"])


def test_bad_arguments():
    with pytest.raises(ConfigError, match="`size`"):
        transient_bias_report(1)
    with pytest.raises(ConfigError, match="`schemes`"):
        transient_bias_report(3, schemes=("v/4",))
    # before: IndexError, and numpy's own ValueError/TypeError for the seeds, after nothing was checked
    with pytest.raises(ConfigError, match="`schemes`"):
        transient_bias_report(3, schemes=())
    for seed in (-1, 1.5, True, "a"):
        with pytest.raises(ConfigError, match="`seed`"):
            transient_bias_report(2, schemes=("v/2",), seed=seed)


def test_cli_flag(tmp_path, capsys):
    assert main(["bias-compare", "--transient", "--size", "2", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("| v/2 |") == 1 and (tmp_path / "bias_compare_transient.csv").exists()
    # the defaults: Drolet's pulse timing (1.04 us flat top, 0.5 us edges) on the calibrated per-cell TiO2 array
    doc = json.loads((tmp_path / "bias_compare_transient.json").read_text())
    assert "width=1.04e-06, rise=5e-07, fall=5e-07" in doc["settings"] and "v_set=array(" in doc["model"]
    # the static comparison's flags are refused, not ignored (before: --v-write 3 ran the defaults)
    for flags in (["--v-write", "3"], ["--preset", "rram_1t1r_nist"], ["--linear"], ["--sizes", "4", "8"]):
        assert main(["bias-compare", "--transient", "--size", "2", "--out", str(tmp_path / "x"), *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"`{flags[0]}` does not apply to `--transient`" in err
    assert not (tmp_path / "x").exists()



def test_default_model_is_the_calibrated_array(report):
    """Without a model the report draws the fitted TiO2 thresholds per cell, the same cells for every scheme."""
    from xbarsim.devices import tio2_vteam

    assert report.model == tio2_vteam(shape=(3, 3), rng=np.random.default_rng([4, 1]))
    assert report.model.cell_shape == (3, 3) and np.unique(report.model.v_set).size == 9


def test_every_file_carries_the_provenance(tmp_path):
    """Before: bias-compare --transient wrote its CSV, JSON and PNG without a provenance record."""
    from PIL import Image

    from xbarsim import provenance

    assert main(["bias-compare", "--transient", "--size", "2", "--out", str(tmp_path), "--quiet"]) == 0
    csv_prov = provenance.read_csv_provenance(tmp_path / "bias_compare_transient.csv")
    assert csv_prov is not None and list(csv_prov) == list(provenance.FIELDS)
    assert csv_prov["command"] == shlex.join(["xbarsim", "bias-compare", "--transient", "--size", "2", "--out", str(tmp_path), "--quiet"])
    assert csv_prov["seed"] == 0 and csv_prov["xbarsim"] == provenance.version() and csv_prov["partial"] is False
    doc = json.loads((tmp_path / "bias_compare_transient.json").read_text())
    assert doc["provenance"] == csv_prov and doc["seed"] == 0
    with Image.open(tmp_path / "disturbance_transient.png") as img:
        assert json.loads(img.text["xbarsim:provenance"]) == csv_prov
    # the table still reads as data after the provenance line
    rows = np.genfromtxt(tmp_path / "bias_compare_transient.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8", skip_header=1)
    assert rows.size == len(doc["table"])


def test_an_interrupt_mid_write_leaves_the_previous_csv_whole(report, tmp_path, monkeypatch):
    """Before: the CSV was opened in place and written row by row, so Ctrl-C at the first row left a
    truncated table (provenance line and header) where the previous run's table was."""
    import csv

    (tmp_path / "bias_compare_transient.csv").write_text("previous,table\n1,2\n")
    real = csv.writer

    class Interrupted:
        def __init__(self, *a, **k):
            self.real, self.rows = real(*a, **k), 0

        def writerow(self, row):
            self.rows += 1
            if self.rows == 2:
                raise KeyboardInterrupt
            return self.real.writerow(row)

        def writerows(self, rows):
            for row in rows:
                self.writerow(row)

    monkeypatch.setattr(csv, "writer", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_transient_report(report, tmp_path)
    assert (tmp_path / "bias_compare_transient.csv").read_text() == "previous,table\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bias_compare_transient.csv"]


def test_the_report_text_says_n_a_where_the_array_is_too_small_for_a_count(report):
    """A 3x3 array never reaches n = 10 or 30 later writes: the table printed "nan / nan" there."""
    text = report.report()
    assert "nan" not in text
    row = next(ln for ln in text.splitlines() if ln.startswith("| v/2 |"))
    t = report.table()[1]
    assert f"{t['dist_mean_uS_n1']:.2f} / {t['dist_std_uS_n1']:.2f} | n/a / n/a | n/a / n/a" in row


def test_ideal_driver_and_sense_ends_program_and_read():
    """0 ohm drivers and sense resistances: a verify read warm-started from the previous read's solution
    stalled at a KCL error of 1 (ConvergenceError) on a 3x3 V/2 run, where a start at 0 V converges
    (traced: 143rd operating point, cold start converges); the operating point now starts again at 0 V
    when the warm start does not converge. `bias-compare --transient` with --driver 0 --sense 0 failed so."""
    from xbarsim.netlists import LineResistance

    rep = transient_bias_report(3, schemes=("v/2",), lines=LineResistance.uniform(1.0), seed=0)
    (row,) = rep.table()
    assert row["scheme"] == "v/2" and row["pulses_per_cell"] > 0 and np.isfinite(row["mean_abs_error_pct"])
