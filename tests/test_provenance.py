"""The provenance record every result file carries: each field checked against an independent source."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import scipy

import xbarsim
from xbarsim import provenance

ROOT = Path(__file__).resolve().parents[1]


def test_every_field_is_recorded_from_its_source(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes("name = \"x\"\n# ünïcode\n".encode())
    before = datetime.now(timezone.utc).replace(microsecond=0)
    rec = provenance.collect(config=cfg, seed=17, command=["xbarsim", "evaluate", "a b.toml"], ngspice=False)
    assert list(rec) == list(provenance.FIELDS)
    assert rec["xbarsim"] == xbarsim.__version__
    assert rec["python"] == platform.python_version()
    assert rec["numpy"] == np.__version__ and rec["scipy"] == scipy.__version__
    assert rec["dask"] == metadata.version("dask")
    assert rec["ngspice"] is None  # not used
    assert rec["config_path"] == str(cfg)
    assert rec["config_sha256"] == hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert rec["config_text"] == cfg.read_text(encoding="utf-8")
    assert rec["seed"] == 17
    assert rec["command"] == "xbarsim evaluate 'a b.toml'"  # shell-quoted, so it can be pasted back
    started = datetime.fromisoformat(rec["started"])
    assert started.tzinfo is not None and before <= started <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert rec["partial"] is False


def test_git_commit_of_a_checkout():
    if not (ROOT / ".git").exists():
        pytest.skip("not run from a git checkout")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    rec = provenance.collect()
    if Path(xbarsim.__file__).resolve().parent.parent != ROOT:
        pytest.skip("xbarsim imported from elsewhere")
    assert rec["git_commit"] == head and re.fullmatch(r"[0-9a-f]{40}", head)
    changed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=all"],
                             capture_output=True, text=True).stdout.splitlines()
    # a tracked change anywhere, or a new (untracked, not ignored) file inside the package
    dirty = any(not line.startswith("?? ") or line[3:].lstrip('"').startswith("xbarsim/") for line in changed)
    assert rec["git_dirty"] is dirty


def _git_repo(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "-c",
                        "commit.gpgsign=false", *args], check=True, capture_output=True, timeout=60)

    git("init", "-q")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("X = 1\n")
    (root / ".gitignore").write_text("*.log\nresults/\n")
    git("add", "-A")
    git("commit", "-q", "-m", "init")


def test_git_dirty_counts_a_new_module_in_the_package(tmp_path):
    """Before: `git status --untracked-files=no` left out untracked files, so a results file made with
    an uncommitted new module of the package claimed a clean checkout. Untracked files outside the
    package, and ignored ones inside it, still leave it clean."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    root = tmp_path / "repo"
    root.mkdir()
    _git_repo(root)
    pkg = root / "pkg"
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert provenance._git(pkg) == (head, False)
    (root / "notes.txt").write_text("scratch\n")  # outside the package: does not change what ran
    (root / "results").mkdir()
    (root / "results" / "r.csv").write_text("a\n")  # ignored
    (pkg / "run.log").write_text("ignored\n")
    assert provenance._git(pkg) == (head, False)
    (pkg / "sub").mkdir()
    (pkg / "sub" / "new_model.py").write_text("Y = 2\n")  # a new module, in no commit
    assert provenance._git(pkg) == (head, True)
    (pkg / "sub" / "new_model.py").unlink()
    assert provenance._git(pkg) == (head, False)
    (pkg / "__init__.py").write_text("X = 2\n")  # a tracked change
    assert provenance._git(pkg) == (head, True)


def test_ngspice_version_when_used(ngspice_binary):
    out = subprocess.run([ngspice_binary, "--version"], capture_output=True, text=True).stdout
    rec = provenance.collect(ngspice=True)
    assert rec["ngspice"] is not None and rec["ngspice"] in out


def test_no_config_and_default_command():
    rec = provenance.collect()
    assert rec["config_path"] is rec["config_sha256"] is rec["config_text"] is rec["seed"] is None
    assert rec["command"]  # sys.argv of this process


def test_formats_round_trip(tmp_path):
    rec = provenance.collect(seed=3, command=["xbarsim", "sweep", "s.toml"])
    path = tmp_path / "t.csv"
    path.write_text(provenance.csv_header(rec) + "a,b\n1,2\n")
    assert provenance.read_csv_provenance(path) == provenance.provenance_json(rec)
    assert np.loadtxt(path, delimiter=",", skiprows=2).tolist() == [1.0, 2.0]  # the header line is a comment
    md = provenance.markdown_section({**rec, "config_text": "a = 1\n", "config_path": "c.toml"})
    assert md.startswith("## Provenance") and "| seed | 3 |" in md and "```toml\na = 1\n```" in md
    meta = provenance.png_metadata(rec)
    assert meta["Software"] == f"xbarsim {xbarsim.__version__}"
    assert json.loads(meta["xbarsim:provenance"]) == provenance.provenance_json(rec)
    assert all(line.startswith("* ") for line in provenance.spice_comment(rec).splitlines())


def test_stamp_png_keeps_pixels_and_resolution(tmp_path):
    """Before: the stamped PNG lost its pHYs chunk (matplotlib's dpi), so a document sized a 150-dpi
    figure as 72 dpi, twice as large as plotted."""
    from PIL import Image

    path = tmp_path / "f.png"
    Image.new("RGB", (30, 20), (10, 200, 30)).save(path, dpi=(150, 150))
    rec = provenance.collect(seed=5)
    provenance.stamp_png(path, rec)
    with Image.open(path) as img:
        assert img.size == (30, 20) and img.getpixel((3, 4)) == (10, 200, 30)
        assert tuple(round(d) for d in img.info["dpi"]) == (150, 150)
        assert json.loads(img.info["xbarsim:provenance"]) == provenance.provenance_json(rec)


def test_version_flag():
    out = subprocess.run([sys.executable, "-m", "xbarsim.cli", "--version"], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout == f"xbarsim {xbarsim.__version__}\n"


def test_spice_comment_stays_one_line_per_field_with_line_breaks(tmp_path, ngspice_binary):
    """Before: a command line with a newline in an argument (a file name) ended the `* command:` comment
    and its rest was read by ngspice as a circuit line: `ngspice -b` failed, or took it as an element."""
    cmd = ["xbarsim", "netlist", "--conductance-csv", "g\nRx r0_0 0 1.csv", "--out", "a\r\n\u2028b \u00fc \"q\".cir"]
    rec = provenance.collect(seed=1, command=cmd)
    text = provenance.spice_comment(rec)
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines[:-1]) == len(provenance.FIELDS) - 1
    assert all(line.startswith("* ") and len(line.splitlines()) == 1 for line in lines[:-1])
    line = next(x for x in lines if x.startswith("* command: "))
    assert json.loads(line[len("* command: "):]) == rec["command"]  # escaped, not lost
    assert "* seed: 1\n" in text and f"* xbarsim: {xbarsim.__version__}\n" in text  # plain values unchanged
    # the deck runs as it is, with the same currents as without the comment
    from xbarsim import BiasScheme, Crossbar, LineResistance, build_netlist, to_spice

    deck = to_spice(build_netlist(Crossbar(conductance=np.full((2, 2), 1e-5), lines=LineResistance.uniform(1.0)),
                                  BiasScheme.read(np.full(2, 0.3))))
    title, _, rest = deck.partition("\n")
    outs = []
    for k, d in enumerate((deck, title + "\n" + text + rest)):
        (tmp_path / f"{k}.cir").write_text(d, encoding="utf-8")
        run = subprocess.run([ngspice_binary, "-b", str(tmp_path / f"{k}.cir")], capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        outs.append(re.findall(r"(v\w+)#branch\s+(\S+)", run.stdout))
    assert outs[0] == outs[1] and len(outs[0]) == 4


def test_markdown_section_keeps_its_table_and_config_block_with_odd_characters():
    """Before: a newline in an argument ended the table (the rows after `command` were a paragraph), and
    a config holding ```` closed the fence early, so the rest of the config read as Markdown."""
    cmd = ["xbarsim", "evaluate", "a\nb|c \u00fc.toml", "--note", "x\r\ny"]
    rec = {**provenance.collect(seed=2, command=cmd), "config_path": "dir`x/c.toml",
           "config_text": 'name = "````"\nnote = """\n```\n"""\n'}
    lines = provenance.markdown_section(rec).split("\n")
    head = lines.index("|---|---|") + 1
    table = lines[head:lines.index("", head)]
    assert len(table) == len(provenance.FIELDS) - 1 and all(re.fullmatch(r"\| \w+ \| .* \|", r) for r in table)
    row = next(r for r in table if r.startswith("| command | "))
    assert json.loads(row[len("| command | "):-2].replace("\\|", "|")) == rec["command"]
    assert "| seed | 2 |" in table and "| partial | False |" in table
    # the fence is longer than any backtick run of the config, so it closes only after the whole text
    start = next(i for i, x in enumerate(lines) if x.endswith("toml") and x.startswith("```"))
    fence = lines[start][:-len("toml")]
    assert set(fence) == {"`"} and len(fence) == 5
    end = lines.index(fence, start + 1)
    assert "\n".join(lines[start + 1:end]) + "\n" == rec["config_text"]
    assert lines[start - 2] == "Config `` dir`x/c.toml ``:"  # a code span the path's backtick cannot close
    plain = provenance.markdown_section({**rec, "config_path": "c.toml", "config_text": "a = 1\n"})
    assert "Config `c.toml`:\n\n```toml\na = 1\n```" in plain  # as before where nothing needs escaping


def test_stamping_the_report_figures_never_leaves_a_truncated_png(tmp_path, monkeypatch):
    """``stamp_pngs`` (every PNG of ``xbarsim evaluate``) when the disk fills part way through the save:
    the figure stays the one the plot wrote, whole. Before, the PNG was rewritten in place and such a
    failure left a truncated file where a good one had been."""
    import errno

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from PIL import Image

    from xbarsim.experiments.report import stamp_pngs

    path = tmp_path / "accuracy_vs_alpha.png"
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    fig.savefig(path)
    before = path.read_bytes()
    real_save = Image.Image.save

    def full_disk(self, fp, *args, **kwargs):
        with open(fp, "wb") as fh:
            fh.write(before[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        stamp_pngs([path], provenance.collect(seed=1))
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    monkeypatch.setattr(Image.Image, "save", real_save)
    assert stamp_pngs([path], provenance.collect(seed=1)) == [path]
    with Image.open(path) as img:
        assert json.loads(img.text["xbarsim:provenance"])["seed"] == 1
