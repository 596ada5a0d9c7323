"""Writing a whole result file atomically, never through a symlink someone planted in the folder.

:func:`write_bytes` / :func:`write_text` / :func:`replace_from` write a whole file atomically
(a temporary file in the same folder, then ``os.replace``), so that an interrupt mid-write leaves
the previous file or none, never a truncated one. They refuse a destination that is a symlink
(``ConfigError`` naming it): ``os.replace`` would replace the link rather than write through it, but
a planted link says the folder is not what the user thinks, so nothing is written.
:func:`write_csv` writes dict rows with the provenance line first.

A base module, so that every layer that writes result files (the analysis reports, the sweeps,
the experiments, the CLI) uses this one writer; :mod:`xbarsim.sweeps` re-exports it.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xbarsim.errors import ConfigError
from xbarsim.provenance import csv_header

__all__ = ["refuse_symlink", "replace_from", "write_bytes", "write_text", "write_csv"]

_UMASK = os.umask(0o022)  # read once at import (os.umask can only be read by setting it)
os.umask(_UMASK)


def refuse_symlink(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path; ConfigError if it is a symlink (a link planted in an output folder)."""
    p = Path(path)
    if p.is_symlink():
        raise ConfigError(f"refusing to write through the symlink {p} (-> {os.readlink(p)}); remove it or choose "
                          "another output folder.")
    return p


def _cannot_write(exc: OSError, path: Path) -> OSError:
    """``exc`` (an error of the operating system) as the same kind of OSError naming the file being
    written: a failed ``write`` names no file ("[Errno 28] No space left on device"), a failed temporary
    file names the temporary name, not the result file."""
    return OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}")


def replace_from(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file beside it, which then replaces
    ``path``. A symlink at ``path`` is refused; the temporary file is removed on failure, and an error
    of the operating system (a full disk, a read-only folder) is an OSError of the same errno naming
    ``path``."""
    p = refuse_symlink(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp" + p.suffix, dir=p.parent)
    except OSError as exc:
        raise _cannot_write(exc, p) from exc
    os.fchmod(fd, 0o666 & ~_UMASK)  # an ordinary file's mode, not mkstemp's 0600
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, p)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise _cannot_write(exc, p) from exc
        raise
    return p


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, never through a symlink."""
    return replace_from(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, never through a symlink."""
    return write_bytes(path, text.encode("utf-8"))


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]],
              prov: Mapping[str, Any] | None = None) -> Path:
    """Write dict ``rows`` as CSV to ``path`` atomically, the provenance line first when ``prov`` is given.

    The columns are the keys in order of first appearance; a missing or None value is an empty cell,
    and lists and dicts are written as JSON. ``prov`` is a record of :func:`xbarsim.provenance.collect`
    (read back with :func:`xbarsim.provenance.read_csv_provenance`). The parent folder is created.
    """
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            if prov is not None:
                fh.write(csv_header(prov))
            w = csv.writer(fh)
            w.writerow(keys)
            for r in rows:
                w.writerow([json.dumps(r[k]) if isinstance(r.get(k), (list, dict))
                            else ("" if r.get(k) is None else r[k]) for k in keys])

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return replace_from(path, write)
