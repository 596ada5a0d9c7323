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


def test_an_os_error_while_writing_names_the_result_file_and_keeps_the_old_one(tmp_path):
    """A full disk during a write ("[Errno 28] No space left on device", which names no file, was all a
    user read when the aggregate of a run could not be written) is an OSError of the same errno that
    names the file; the previous file stays whole and no temporary file is left behind. A temporary
    file that cannot be made names the result file, not the temporary name."""
    import errno

    from xbarsim.sweeps import replace_from, write_text

    target = write_text(tmp_path / "report.md", "the previous report\n")

    def full_disk(tmp):
        tmp.write_text("half a rep")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as info:
        replace_from(target, full_disk)
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == f"[Errno {errno.ENOSPC}] cannot write {target}: No space left on device"
    assert target.read_text() == "the previous report\n" and os.listdir(tmp_path) == ["report.md"]
    with pytest.raises(FileNotFoundError, match=f"cannot write {tmp_path / 'gone' / 'x.md'}: No such file"):
        write_text(tmp_path / "gone" / "x.md", "text")
