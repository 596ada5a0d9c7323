"""``xbarsim bias-compare`` (through add_parser, as xbarsim/cli.py wires it) and the example script."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from xbarsim.cli import main
from xbarsim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def run_cli(argv: list[str]) -> int:
    return main(argv)


def test_bias_compare_writes_table_figures_and_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bc"
    code = run_cli(["bias-compare", "--size", "8", "--sizes", "4", "8", "--segments", "0", "2", "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    rows = [line for line in captured.out.splitlines() if line.startswith("| ")]
    assert len(rows) == 5 and [r.split("|")[1].strip() for r in rows[1:]] == ["v/2", "v/3", "floating", "grounded"]
    assert "[1/4]" in captured.err and "[4/4]" in captured.err  # progress lines
    for name in ("cell_voltages_v2.png", "cell_voltages_v3.png", "cell_voltages_floating.png",
                 "cell_voltages_grounded.png", "read_margin.png", "selected_voltage.png", "bias_compare.csv", "bias_compare.json"):
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "bias_compare.json").read_text())
    assert doc["size"] == 8 and doc["margin_curve"]["sizes"] == [4, 8] and len(doc["table"]) == 4
    assert (out / "bias_compare.csv").read_text().splitlines()[1].startswith("scheme,selected_V")


def _table(out: str) -> list[list[str]]:
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]


def test_bias_compare_table_is_its_csv_and_says_what_was_not_computed(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Every printed cell is the CSV's number in the header's unit; with --size outside --sizes the
    read margin and sneak share were never computed and print '-' (before: '+nan' and 'nan%')."""
    import csv

    base = ["bias-compare", "--linear", "--segments", "1", "--quiet"]
    assert run_cli([*base, "--size", "6", "--sizes", "4", "6", "--out", str(tmp_path / "in")]) == 0
    head, *body = _table(capsys.readouterr().out)
    with (tmp_path / "in" / "bias_compare.csv").open() as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert head[-2:] == ["read margin 6x6", "sneak share (OFF read)"] and len(body) == len(rows) == 4
    for cells, r in zip(body, rows):
        assert cells[0] == r["scheme"]
        assert cells[1] == f"{float(r['selected_V']):.3f}" and cells[2] == f"{float(r['selected_fraction']):.1%}"
        assert cells[6] == r["n_disturbed"]
        assert cells[7] == f"{1e3 * float(r['driver_current_A']):.2f}" and cells[8] == f"{1e3 * float(r['power_W']):.2f}"
        assert cells[9] == f"{float(r['read_margin']):+.3f}"
        assert cells[10] == f"{float(r['read_sneak_fraction_off']):.1%}"
    assert run_cli([*base, "--size", "6", "--sizes", "4", "8", "--out", str(tmp_path / "out")]) == 0
    head, *body = _table(capsys.readouterr().out)
    assert all(cells[9:] == ["-", "-"] for cells in body) and "nan" not in " ".join(sum(body, []))
    # the JSON is strict: a number that was not computed is null, never NaN
    def refuse(name: str) -> None:
        raise AssertionError(f"non-finite {name} in bias_compare.json")

    for folder in ("in", "out"):
        doc = json.loads((tmp_path / folder / "bias_compare.json").read_text(), parse_constant=refuse)
        assert len(doc["table"]) == 4


def test_bias_compare_quiet_and_ngspice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bias-compare", "--size", "4", "--sizes", "4", "--segments", "1", "--backend", "ngspice", "--linear",
                          "--quiet", "--out", str(tmp_path)])
    assert code == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "backend ngspice" in captured.out


@pytest.mark.parametrize("argv", [["--size", "1"], ["--sizes", "1", "4"], ["--segment", "-1"], ["--v-write", "0"],
                                  ["--v-read", "-0.2"], ["--threshold", "-1"],
                                  # 10^12 cells: refused by size before numpy tries to allocate 7 TiB
                                  ["--size", "1000000"], ["--sizes", "4", "1000000"]])
def test_library_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             argv: list[str]) -> None:
    code = run_cli(["bias-compare", "--size", "4", "--sizes", "4", "--segments", "1", "--quiet",
                    "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("xbarsim bias-compare: error: ") and err.count("\n") == 1


def test_example_runs_headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    module = runpy.run_path(str(ROOT / "examples" / "03_bias_schemes.py"), run_name="example")
    written = module["main"](size=8, sizes=(4, 8), n_arrays=2)
    assert len(written) == 4
    for p in written:
        assert (tmp_path / p).stat().st_size > 0
        with Image.open(tmp_path / p) as img:  # provenance chunks (before: none)
            assert json.loads(img.info["xbarsim:provenance"])["xbarsim"]
    assert "half-select disturbance" in capsys.readouterr().out


def test_example_refuses_a_planted_symlink_and_records_its_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Example 03's figures are written atomically through xbarsim's writer (``fig.savefig`` wrote through a
    planted symlink) and their record names seed 1, its disturbance runs' (it was None)."""
    from xbarsim.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    module = runpy.run_path(str(ROOT / "examples" / "03_bias_schemes.py"), run_name="example")
    (tmp_path / "results" / "examples").mkdir(parents=True)
    target = tmp_path / "elsewhere.png"
    target.write_text("keep")
    (tmp_path / "results" / "examples" / "03_bias_schemes_read.png").symlink_to(target)
    with pytest.raises(ConfigError, match="symlink"):
        module["main"](size=8, sizes=(4, 8), n_arrays=2)
    assert target.read_text() == "keep"
    with Image.open(tmp_path / "results" / "examples" / "03_bias_schemes_write.png") as img:
        assert json.loads(img.info["xbarsim:provenance"])["seed"] == 1


class _InterruptedWriter:
    """A csv writer that is interrupted (Ctrl-C) when it comes to the first data row."""

    def __init__(self, real: object) -> None:
        self.real, self.rows = real, 0

    def writerow(self, row: object) -> object:
        self.rows += 1
        if self.rows == 2:
            raise KeyboardInterrupt
        return self.real.writerow(row)  # type: ignore[attr-defined]

    def writerows(self, rows: object) -> None:
        for row in rows:  # type: ignore[attr-defined]
            self.writerow(row)


def test_an_interrupt_mid_write_leaves_the_previous_csv_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Before: bias_compare.csv was opened in place and written row by row, so Ctrl-C after the header
    left a truncated table (provenance line and header, no rows) where the previous run's table was."""
    import csv

    out = tmp_path / "bc"
    out.mkdir()
    (out / "bias_compare.csv").write_text("previous,table\n1,2\n")
    real = csv.writer
    monkeypatch.setattr(csv, "writer", lambda *a, **k: _InterruptedWriter(real(*a, **k)))
    code = run_cli(["bias-compare", "--size", "4", "--sizes", "4", "--segments", "1", "--quiet", "--out", str(out)])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert (out / "bias_compare.csv").read_text() == "previous,table\n1,2\n"
    assert sorted(p.name for p in out.iterdir()) == ["bias_compare.csv"]  # no temporary file left behind


def test_every_file_carries_the_provenance(tmp_path: Path) -> None:
    import shlex

    from PIL import Image

    from xbarsim import provenance

    argv = ["bias-compare", "--size", "4", "--sizes", "4", "--segments", "1", "--quiet", "--out", str(tmp_path)]
    assert run_cli(argv) == 0
    rec = provenance.read_csv_provenance(tmp_path / "bias_compare.csv")
    assert rec is not None and list(rec) == list(provenance.FIELDS)
    assert rec["command"] == shlex.join(["xbarsim", *argv]) and rec["xbarsim"] == provenance.version()
    assert json.loads((tmp_path / "bias_compare.json").read_text())["provenance"] == rec
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 6
    for png in pngs:
        with Image.open(png) as img:
            assert json.loads(img.text["xbarsim:provenance"]) == rec, png.name


@pytest.mark.parametrize("argv, flag", [
    (["--segment", "nan"], "`--segment` must be"),
    (["--segments", "-1"], "`--segments` must be"),
    (["--v-write", "0"], "`--v-write` must be"),
    (["--v-read", "-0.2"], "`--v-read` must be"),
])
def test_errors_name_the_flags_of_bias_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                               flag: str) -> None:
    # found in review: '--segment nan' was refused as "`--segment` / `--row-segment` must be ...", a flag
    # bias-compare does not have; --segments, --v-write and --v-read were named `segments`, `v_write`, `v_read`
    code = run_cli(["bias-compare", "--size", "4", "--sizes", "4", "--segments", "1", "--quiet",
                    "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and flag in err and "row-segment" not in err


def test_transient_gets_the_calibrated_arrays_10_ohm_ends_unless_told(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # before: --transient ran with the static comparison's 0 ohm drivers and sense resistances, whose read
    # operating point did not converge from --size 3 up (exit 2, "did not converge"), the help's --size 8 included
    assert run_cli(["bias-compare", "--transient", "--size", "3", "--out", str(tmp_path / "t"), "--quiet"]) == 0
    assert (tmp_path / "t" / "bias_compare_transient.json").exists()
    import xbarsim.analysis.transient_report as tr

    seen = []

    def fake(size: int, lines: Any, progress: Any) -> None:
        seen.append((float(np.max(lines.row_driver)), float(np.max(lines.col_sense))))
        raise ConfigError("stop here")

    monkeypatch.setattr(tr, "transient_bias_report", fake)
    for flags, ends in (([], (10.0, 10.0)), (["--driver", "0", "--sense", "2"], (0.0, 2.0))):
        assert run_cli(["bias-compare", "--transient", "--size", "2", "--out", str(tmp_path / "x"), *flags]) == 2
        assert seen[-1] == ends
    capsys.readouterr()
    # the static comparison keeps ideal ends
    out = tmp_path / "s"
    assert run_cli(["bias-compare", "--size", "4", "--sizes", "4", "--segments", "1", "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "bias_compare.json").read_text())
    assert doc["driver_ohm"] == 0.0 and doc["sense_ohm"] == 0.0
