"""Provenance of a result file: what made it, from which config, when, with which seed.

One record, built once per run by :func:`collect` and written by every writer of result files:

* JSON: a top-level ``"provenance"`` object (:func:`provenance_json`);
* CSV: one first line ``# provenance: {...}`` (JSON on one line; :func:`csv_header`; ``numpy.loadtxt``
  skips it by default, ``pandas.read_csv(..., skiprows=1)`` or :func:`xbarsim.experiments.read_csv`
  read the rows after it, and :func:`read_csv_provenance` reads it back; not ``comment="#"``, which
  would also cut every cell holding a ``#``, such as an error message in ``trials.csv``);
* Markdown: a closing ``## Provenance`` section with the config text (:func:`markdown_section`);
* PNG: ``tEXt`` chunks ``Software`` and ``xbarsim:provenance`` (:func:`png_metadata`, for
  matplotlib's ``savefig(metadata=...)``);
* SPICE decks: ``*`` comment lines (:func:`spice_comment`).

Fields: ``xbarsim`` (version), ``git_commit`` (and ``git_dirty``: a tracked file changed, or an
untracked, not ignored file inside the package) when the package runs from a git checkout,
``python``, ``numpy``, ``scipy``, ``dask`` and ``ngspice`` versions (None where not installed or,
for ngspice, not used), ``config_path``, ``config_sha256`` and ``config_text``, ``seed``,
``command`` (the command line) and ``started`` (ISO 8601, UTC). Nothing here imports dask or
PySpice: versions come from the installed package metadata and ``ngspice --version``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "FIELDS",
    "collect",
    "ngspice_version",
    "version",
    "csv_header",
    "markdown_section",
    "png_metadata",
    "provenance_json",
    "read_csv_provenance",
    "spice_comment",
    "stamp_png",
]

#: Every key of a provenance record, in the order written.
FIELDS: tuple[str, ...] = (
    "xbarsim", "git_commit", "git_dirty", "python", "numpy", "scipy", "dask", "ngspice",
    "config_path", "config_sha256", "config_text", "seed", "command", "started", "partial",
)

_CSV_PREFIX = "# provenance: "


def version() -> str:
    """The version of the xbarsim package that runs (``xbarsim.__version__``)."""
    return str(sys.modules["xbarsim"].__version__)


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(package_dir: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout holding ``package_dir``, or (None, None) outside one.

    Dirty: a tracked file differs from the commit (staged or not), or an untracked file that git
    does not ignore sits inside the package (a new module that ran but is in no commit). Untracked
    files elsewhere in the checkout (notes, scripts, outputs outside ``results/``) do not count: the
    commit still names the code that ran, and counting them would mark every later run dirty.
    """
    root = package_dir.parent
    if not (root / ".git").exists() or shutil.which("git") is None:
        return None, None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
        new = subprocess.run(["git", "-C", str(root), "ls-files", "--others", "--exclude-standard", "-z", "--",
                              package_dir.name], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(changed.strip() or new)


def ngspice_version() -> str | None:
    """The version line of the ``ngspice`` on PATH (``"ngspice-42"``), or None without one."""
    exe = shutil.which("ngspice")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        for word in line.replace("*", " ").split():
            if word.lower().startswith("ngspice-"):
                return word
    return None


def collect(*, config: str | os.PathLike[str] | None = None, seed: int | None = None,
            command: Sequence[str] | None = None, ngspice: bool = False, partial: bool = False) -> dict[str, Any]:
    """The provenance record of a run that starts now.

    Parameters
    ----------
    config : path, optional
        The config file the run reads; its text and SHA-256 are recorded (None: no config file).
    seed : int, optional
        The run's master seed.
    command : sequence of str, optional
        The command line (default ``sys.argv``; the ``xbarsim`` command passes its own).
    ngspice : bool
        The run uses ngspice: its version is recorded.
    partial : bool
        The results are those of an interrupted run.
    """
    import numpy
    import scipy

    package_dir = Path(__file__).resolve().parent
    commit, dirty = _git(package_dir)
    text = sha = path = None
    if config is not None:
        p = Path(config)
        path = str(p)
        try:
            raw = p.read_bytes()
        except OSError:
            raw = None
        if raw is not None:
            sha = hashlib.sha256(raw).hexdigest()
            text = raw.decode("utf-8", errors="replace")
    argv = list(sys.argv if command is None else command)
    return {
        "xbarsim": version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "dask": _dist_version("dask"),
        "ngspice": ngspice_version() if ngspice else None,
        "config_path": path,
        "config_sha256": sha,
        "config_text": text,
        "seed": None if seed is None else int(seed),
        "command": shlex.join(argv),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "partial": bool(partial),
    }


def provenance_json(prov: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the JSON object written under ``"provenance"`` (every field, in order)."""
    return {k: prov.get(k) for k in FIELDS}


def csv_header(prov: Mapping[str, Any]) -> str:
    """The first line of a CSV result file: ``# provenance: {...}`` and a newline."""
    return _CSV_PREFIX + json.dumps(provenance_json(prov), separators=(",", ":")) + "\n"


def read_csv_provenance(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The provenance record of a CSV written with :func:`csv_header`, or None if it has none."""
    with Path(path).open(encoding="utf-8") as fh:
        first = fh.readline()
    if not first.startswith(_CSV_PREFIX):
        return None
    return dict(json.loads(first[len(_CSV_PREFIX):]))


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return _one_line(value).replace("|", "\\|")  # a line break would end the table


def _ticks(text: str, least: int) -> str:
    """A run of backticks longer than any in ``text`` (and at least ``least``): a code span or fence
    that ``text`` cannot close."""
    runs = [len(r) for r in re.findall("`+", text)]
    return "`" * max(least, max(runs, default=0) + 1)


def markdown_section(prov: Mapping[str, Any]) -> str:
    """A ``## Provenance`` section: a two-column table of the fields and the config text."""
    lines = ["## Provenance", "", "| field | value |", "|---|---|"]
    for k in FIELDS:
        if k != "config_text":
            lines.append(f"| {k} | {_cell(prov.get(k))} |")
    text = prov.get("config_text")
    if text:
        fence = _ticks(text, 3)
        path = _one_line(prov.get("config_path"))
        code = f"`{path}`" if "`" not in path else f"{_ticks(path, 1)} {path} {_ticks(path, 1)}"
        lines += ["", f"Config {code}:", "", f"{fence}toml", text.rstrip("\n"), fence]
    return "\n".join(lines) + "\n"


def png_metadata(prov: Mapping[str, Any]) -> dict[str, str]:
    """``savefig(metadata=...)`` for a PNG: ``Software`` and the record as JSON in ``xbarsim:provenance``."""
    return {"Software": f"xbarsim {prov.get('xbarsim')}",
            "xbarsim:provenance": json.dumps(provenance_json(prov), separators=(",", ":"))}


def stamp_png(path: str | os.PathLike[str], prov: Mapping[str, Any], *,
              out: str | os.PathLike[str] | None = None) -> Path:
    """Add the :func:`png_metadata` text chunks to a PNG another function wrote; the pixels and the
    resolution (``pHYs``, the size a document gives the figure) are kept (Pillow, which matplotlib
    depends on, is imported here only). Returns ``path``.

    The stamped image is written to ``out``: a temporary file that the caller moves over ``path``
    (``xbarsim.sweeps.replace_from(path, lambda tmp: stamp_png(path, prov, out=tmp))``), so that a
    failure part way (a full disk) leaves the figure as it was. By default ``path`` is rewritten in
    place, which such a failure leaves truncated.
    """
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in png_metadata(prov).items():
        info.add_text(key, value)
    p = Path(path)
    with Image.open(p) as img:
        img.load()
        dpi = img.info.get("dpi")
        img.save(p if out is None else Path(out), format="PNG", pnginfo=info, **({"dpi": dpi} if dpi is not None else {}))
    return p


def _one_line(value: Any) -> str:
    """``str(value)``, or where it holds a line break (a quoted argument, a file name), the JSON string
    of it: escaped, so that a SPICE comment stays one line and the break is not read as a circuit line."""
    text = str(value)
    return json.dumps(text) if "\n" in text or "\r" in text or len(text.splitlines()) > 1 else text


def spice_comment(prov: Mapping[str, Any]) -> str:
    """SPICE comment lines (``* ...``) with the record's fields except the config text, one line each
    (a value with a line break is written as its JSON string)."""
    return "".join(f"* {k}: {_one_line(prov.get(k))}\n" for k in FIELDS if k != "config_text")
