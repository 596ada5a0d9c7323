"""The append-only SQLite store of a sweep's trial results.

One file per sweep. The driver (the process running :func:`~xbarsim.sweeps.run_sweep`) is its
only writer and holds an exclusive lock file beside it while it runs; workers never touch it. Each
finished trial is one ``INSERT`` committed on its own, with ``journal_mode=WAL`` and
``synchronous=FULL``, so SQLite fsyncs the write-ahead log at every commit: a result the driver has
committed survives a SIGKILL of the driver (and a power cut). Rows are never updated or deleted
(triggers refuse it), except that ``--retry-failed`` (:meth:`ResultStore.retire_failed`) moves
failed rows into ``failed_attempts`` before running them again; the trial key is the primary key,
so no trial is stored twice. The writer lock is taken before the store is created or opened for
writing, and when the writer closes the store it checkpoints the write-ahead log into the main file
and leaves WAL mode, so ``trials.sqlite`` alone holds every result and can be read from read-only
media. Reading opens the file read-only by a URI-escaped path (``?``, ``#``, ``%`` in a folder
name are data, not URI syntax). A damaged file (garbage pages, a spec that is not JSON, another
schema) is a :class:`~xbarsim.errors.FileFormatError` naming it; a failure of the file system
(a full disk, an I/O error, a read-only file) is an ``OSError`` naming it, since the file is not
damaged and keeps what it holds.

Tables: ``meta(key, value)`` holds the sweep spec as JSON (a store belongs to exactly one spec);
``trials`` holds one row per trial: ``key``, ``point`` (grid point index), ``trial`` (index within
the point), ``params`` (JSON), ``results`` (JSON metrics), ``status`` (``ok``/``failed``),
``error_type``, ``error`` (message), ``warnings`` (JSON list), ``duration_s`` (seconds spent in the
trial function), ``worker`` (``host:pid``), ``finished_at`` (Unix time of the insert). Rows also
keep SQLite's ``rowid``, increasing in insertion order.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from xbarsim.errors import ConfigError, FileFormatError, SpecMismatchError
from xbarsim.sweeps.files import WriterLock, refuse_symlink

__all__ = ["ResultStore", "TrialRecord", "STORE_FORMAT", "describe_changes"]

#: Version of the table layout, stored in ``meta``.
STORE_FORMAT = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    point INTEGER NOT NULL,
    trial INTEGER NOT NULL,
    params TEXT NOT NULL,
    results TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error_type TEXT NOT NULL,
    error TEXT NOT NULL,
    warnings TEXT NOT NULL,
    duration_s REAL NOT NULL,
    worker TEXT NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS trials_append_only_update BEFORE UPDATE ON trials
BEGIN SELECT RAISE(ABORT, 'the trial store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS trials_append_only_delete BEFORE DELETE ON trials
BEGIN SELECT RAISE(ABORT, 'the trial store is append-only'); END;
"""

_FAILED_TABLE = """
CREATE TABLE IF NOT EXISTS failed_attempts AS SELECT * FROM trials WHERE 0;
DROP TRIGGER IF EXISTS trials_append_only_delete;
CREATE TRIGGER trials_append_only_delete BEFORE DELETE ON trials WHEN OLD.status <> 'failed'
BEGIN SELECT RAISE(ABORT, 'the trial store is append-only'); END;
"""

_COLUMNS = ("rowid", "key", "point", "trial", "params", "results", "status", "error_type", "error", "warnings",
            "duration_s", "worker", "finished_at")


@dataclass(frozen=True, kw_only=True)
class TrialRecord:
    """One stored trial.

    Attributes
    ----------
    key : str
        Deterministic trial key (see :func:`~xbarsim.sweeps.trial_key`).
    point, trial : int
        Index of the grid point (in the spec's product order) and of the trial within it.
    params : dict
        The parameters the trial function received (fixed and grid).
    results : dict
        Metrics returned by the trial function; empty when it failed.
    status : {"ok", "failed"}
    error_type, error : str
        Exception class name and message of a failed trial; empty when ok.
    warnings : tuple of str
        Warnings the trial emitted (``"Category: message"``).
    duration_s : float
        Seconds spent in the trial function.
    worker : str
        ``host:pid`` of the process that ran it.
    finished_at : float
        Unix time at which the driver stored it.
    row_id : int
        SQLite rowid (insertion order); 0 for a record not read from a store.
    """

    key: str
    point: int
    trial: int
    params: dict[str, Any]
    results: dict[str, Any]
    status: str
    error_type: str = ""
    error: str = ""
    warnings: tuple[str, ...] = field(default=())
    duration_s: float = 0.0
    worker: str = ""
    finished_at: float = 0.0
    row_id: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


_F = TypeVar("_F", bound=Callable[..., Any])

#: SQLite's primary result codes that mean the file system failed, not the file, with the errno they
#: are reported under: SQLITE_FULL (disk full), SQLITE_READONLY, SQLITE_PERM, SQLITE_IOERR, SQLITE_CANTOPEN.
_FILE_SYSTEM_ERRORS = {13: errno.ENOSPC, 8: errno.EROFS, 3: errno.EACCES, 10: errno.EIO, 14: errno.EIO}


def _file_system_error(path: Path, exc: sqlite3.DatabaseError, writing: bool) -> OSError | None:
    """An OSError naming the store when SQLite failed because of the file system (a full disk, an I/O
    error, a read-only or unreadable file), else None. Such a store is not damaged: what it holds is
    kept, and a writer says how to go on."""
    code = getattr(exc, "sqlite_errorcode", None)
    err = _FILE_SYSTEM_ERRORS.get(code & 0xFF) if isinstance(code, int) else None
    if err is None:
        return None
    if writing:
        return OSError(err, f"sweep store {path} cannot be written: {exc} (the file is not damaged and keeps the "
                            "trials stored so far; once this is fixed, pass resume=True (--resume) to run the rest)")
    return OSError(err, f"sweep store {path} cannot be read: {exc}")


def _damaged(method: _F) -> _F:
    """Turn what a damaged store raises while being read (SQLite errors, JSON that does not parse,
    rows of the wrong type) into one FileFormatError naming the file; a failure of the file system
    (disk full, I/O error) is an OSError naming it instead, not a damaged store."""

    @functools.wraps(method)
    def wrapper(self: ResultStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            failure = _file_system_error(self.path, exc, writing=not self.readonly)
            if failure is not None:
                raise failure from None
            raise FileFormatError(f"sweep store {self.path} is damaged or not a sweep store: {exc}") from None
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise FileFormatError(f"sweep store {self.path} holds a damaged record: {type(exc).__name__}: "
                                  f"{str(exc)[:200]}") from None

    return wrapper  # type: ignore[return-value]


def _changes(old: Any, new: Any, where: str = "") -> list[tuple[str, str, str]]:
    """Every leaf where two JSON specs differ, as ``("fixed.hardware.read_noise", "true", "false")`` (values
    as stored JSON, whole; ``(unset)`` for a key one of them lacks; :func:`describe_changes` cuts them for a
    message). A config user changes a key of a table; "differs in: fixed" alone named none of them."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, str, str]] = []
        for k in sorted(set(old) | set(new)):
            path = f"{where}.{k}" if where else str(k)
            if k not in old or k not in new:
                shown = [_dumps(d[k]) if k in d else "(unset)" for d in (old, new)]
                out.append((path, shown[0], shown[1]))
            else:
                out += _changes(old[k], new[k], path)
        return out
    a, b = _dumps(old), _dumps(new)
    return [] if a == b else [(where, a, b)]


def describe_changes(changes: Sequence[tuple[str, str, str]], limit: int = 6) -> str:
    """``"a: 1 -> 2; b: x -> y"`` for the first ``limit`` changes (values cut to 80 characters), and how
    many more there are."""
    shown = "; ".join(f"{k}: {a[:80]} -> {b[:80]}" for k, a, b in changes[:limit])
    return shown + (f"; and {len(changes) - limit} more" if len(changes) > limit else "")


def readonly_uri(path: str | os.PathLike[str]) -> str:
    """The ``file:`` URI that opens ``path`` read-only, with every character of the path escaped."""
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"


class ResultStore:
    """An open sweep store (SQLite file). Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path : str or Path
        The SQLite file; created with its parent folder unless ``readonly``.
    readonly : bool
        Open for reading only (e.g. to aggregate, or to watch a running sweep); no lock is taken.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise ConfigError(f"`store` must be the path of a SQLite file; got {path!r}.")
        self.path = Path(path)
        self.readonly = readonly
        self._lock: WriterLock | None = None
        try:
            if readonly:
                if not self.path.is_file():
                    raise ConfigError(f"sweep store {self.path} does not exist.")
                self._conn = sqlite3.connect(readonly_uri(self.path), uri=True, timeout=30.0)
            else:
                for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                    refuse_symlink(p)
                if self.path.exists() and not self.path.is_file():
                    raise ConfigError(f"sweep store {self.path} exists and is not a file.")
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # the lock comes first: a store held by another sweep is not touched at all
                self._lock = WriterLock(self.path.with_name(self.path.name + ".lock"), what=f"sweep store {self.path}",
                                        busy="another running sweep")
                self._lock.acquire()
                try:
                    self._conn = sqlite3.connect(self.path, timeout=30.0)
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute("PRAGMA synchronous=FULL")
                    self._conn.executescript(_SCHEMA)
                    self._conn.commit()
                except BaseException:
                    self._lock.release()
                    raise
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            failure = _file_system_error(self.path, exc, writing=not readonly)
            if failure is not None:
                raise failure from exc
            raise FileFormatError(f"sweep store {self.path} cannot be opened as a SQLite store: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"sweep store {self.path} cannot be created: {exc}") from exc

    def _check_schema(self) -> None:
        tables = {n for (n,) in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"meta", "trials"} <= tables:
            self._conn.close()
            if self._lock is not None:
                self._lock.release()
            raise FileFormatError(f"{self.path} is not a sweep store (or is still being created).")
        columns = [row[1] for row in self._conn.execute("PRAGMA table_info(trials)")]
        meta = [row[1] for row in self._conn.execute("PRAGMA table_info(meta)")]
        if columns != list(_COLUMNS[1:]) or meta != ["key", "value"]:
            self._conn.close()
            if self._lock is not None:
                self._lock.release()
            raise FileFormatError(f"sweep store {self.path} has another table layout than a sweep store of format "
                                  f"{STORE_FORMAT} (trials columns: {', '.join(columns)}).")

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and release the writer lock.

        A writer first checkpoints the write-ahead log into the main file and leaves WAL mode, so
        the store is one self-contained file (readable from read-only media); a later writer
        switches WAL mode on again.
        """
        if self._lock is not None and self._lock.held:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.DatabaseError:  # a reader still attached: the WAL stays, nothing is lost
                pass
        self._conn.close()
        self.release()

    def acquire(self) -> None:
        """Take the exclusive writer lock (``<store>.lock``); ConfigError if another process holds it.

        A store opened for writing holds it from the start (it is taken before the file is
        touched); this only re-takes it after :meth:`release`. The lock is an ``flock``, so the
        operating system releases it when the holder dies, even by SIGKILL.
        """
        if self.readonly or self._lock is None:
            raise ConfigError(f"sweep store {self.path} is open read-only.")
        self._lock.acquire()

    def release(self) -> None:
        """Release the writer lock if held."""
        if self._lock is not None:
            self._lock.release()

    # ------------------------------------------------------------------ spec
    @_damaged
    def spec_dict(self) -> dict[str, Any] | None:
        """The sweep spec this store belongs to (as :meth:`SweepSpec.to_dict`), or None if unbound."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()
        if row is None:
            return None
        spec = json.loads(row[0])
        if not isinstance(spec, dict):
            raise ValueError(f"the stored spec is a {type(spec).__name__}, not a table")
        return spec

    @_damaged
    def bind(self, spec: Mapping[str, Any]) -> None:
        """Record ``spec`` (a JSON-able dict) on a new store, or check that it is the stored one."""
        text = _dumps(dict(spec))
        stored = self._conn.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()
        if stored is None:
            with self._conn:
                self._conn.execute("INSERT INTO meta (key, value) VALUES ('spec', ?)", (text,))
                self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?)", (STORE_FORMAT,))
            return
        if stored[0] != text:
            old = self.spec_dict() or {}
            # compared as stored JSON text, not by Python equality, which takes 16 for 16.0 and 0 for false
            diff = sorted(k for k in set(old) | set(spec) if _dumps(old.get(k)) != _dumps(spec.get(k)))
            changes = _changes(old, json.loads(text))
            raise SpecMismatchError(
                f"sweep store {self.path} holds results of a different sweep spec (differs in: "
                f"{', '.join(diff)}); stored -> now: {describe_changes(changes)}; use another store path or the "
                "original spec.", path=str(self.path), changes=tuple(changes))

    # ------------------------------------------------------------------ rows
    @_damaged
    def insert(self, record: TrialRecord) -> bool:
        """Append one trial and commit (fsync). Returns False if its key was already stored."""
        if self.readonly:
            raise ConfigError(f"sweep store {self.path} is open read-only.")
        row = (
            record.key, record.point, record.trial, _dumps(record.params), _dumps(record.results), record.status,
            record.error_type, record.error, _dumps(list(record.warnings)), float(record.duration_s),
            record.worker, time.time(),
        )
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO trials (key, point, trial, params, results, status, error_type, error, warnings, "
            "duration_s, worker, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        self._conn.commit()
        return cur.rowcount == 1

    @_damaged
    def retire_failed(self) -> int:
        """Move every failed trial into the table ``failed_attempts`` (kept for the record), so that
        it runs again; returns how many. Successful trials are never touched."""
        if self.readonly:
            raise ConfigError(f"sweep store {self.path} is open read-only.")
        n = self.count("failed")
        self._conn.executescript("BEGIN;" + _FAILED_TABLE + "INSERT INTO failed_attempts SELECT * FROM trials "
                                 "WHERE status = 'failed'; DELETE FROM trials WHERE status = 'failed'; COMMIT;")
        return n

    @_damaged
    def keys(self) -> set[str]:
        """Keys of every stored trial."""
        return {k for (k,) in self._conn.execute("SELECT key FROM trials")}

    @_damaged
    def count(self, status: str | None = None) -> int:
        """Number of stored trials (with the given status, if any)."""
        if status is None:
            return int(self._conn.execute("SELECT count(*) FROM trials").fetchone()[0])
        return int(self._conn.execute("SELECT count(*) FROM trials WHERE status = ?", (status,)).fetchone()[0])

    def iter_records(self, order: str = "grid") -> Iterator[TrialRecord]:
        """Stored trials, ordered by grid point and trial index (``"grid"``) or insertion (``"insert"``)."""
        if order == "grid":
            sql_order = "point, trial"
        elif order == "insert":
            sql_order = "rowid"
        else:
            raise ConfigError(f"`order` must be 'grid' or 'insert'; got {order!r}.")
        cur = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM trials ORDER BY {sql_order}")
        for (rowid, key, point, trial, params, results, status, error_type, error, warnings, duration, worker,
             finished) in cur:
            yield TrialRecord(
                key=key, point=int(point), trial=int(trial), params=json.loads(params), results=json.loads(results),
                status=status, error_type=error_type, error=error, warnings=tuple(json.loads(warnings)),
                duration_s=float(duration), worker=worker, finished_at=float(finished), row_id=int(rowid),
            )

    @_damaged
    def records(self, order: str = "grid") -> list[TrialRecord]:
        """All stored trials as a list (see :meth:`iter_records`)."""
        return list(self.iter_records(order))
