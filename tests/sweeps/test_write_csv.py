"""``xbarsim.sweeps.write_csv``: the one writer of dict rows as CSV, used by reports, examples and
benchmarks."""

from __future__ import annotations

import csv
import os

import pytest

from xbarsim import provenance
from xbarsim.errors import ConfigError
from xbarsim.sweeps import write_csv


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.reader(line for line in fh if not line.startswith("# provenance: ")))


def test_columns_in_first_appearance_order_none_empty_and_lists_as_json(tmp_path):
    out = write_csv(tmp_path / "sub" / "t.csv", [{"a": 1, "b": None}, {"b": [1, 2], "c": {"k": 0.5}}])
    assert out == tmp_path / "sub" / "t.csv"
    assert _rows(out) == [["a", "b", "c"], ["1", "", ""], ["", "[1, 2]", '{"k": 0.5}']]
    assert provenance.read_csv_provenance(out) is None


def test_the_provenance_line_comes_first_and_reads_back(tmp_path):
    prov = provenance.collect(seed=7, command=["prog", "--x", "1"])
    out = write_csv(tmp_path / "t.csv", [{"x": 0.25}], prov)
    assert out.read_text().splitlines()[0].startswith("# provenance: ")
    back = provenance.read_csv_provenance(out)
    assert back is not None and back["seed"] == 7 and back["command"] == "prog --x 1"
    assert _rows(out) == [["x"], ["0.25"]]


def test_a_planted_symlink_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "elsewhere.csv"
    target.write_text("keep\n")
    os.symlink(target, tmp_path / "t.csv")
    with pytest.raises(ConfigError, match="symlink"):
        write_csv(tmp_path / "t.csv", [{"x": 1}])
    assert target.read_text() == "keep\n"
