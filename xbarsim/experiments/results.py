"""Reading a results folder back: trials, summaries and provenance as plain records and arrays.

:func:`load_results` reads what ``xbarsim evaluate`` or ``xbarsim sweep`` wrote into a folder: every
trial from ``trials.sqlite`` (or, without the store, ``trials.csv``), the per-point summaries
(``results.json`` rows of an experiment, else the ``points`` of ``summary.json``) and the provenance
record of the run that wrote them (:mod:`xbarsim.provenance`).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim.errors import ConfigError
from xbarsim.sweeps import ResultStore, SweepSpec

__all__ = ["Results", "load_results", "read_csv"]


@dataclass(frozen=True, kw_only=True)
class Results:
    """A results folder read back.

    Attributes
    ----------
    folder : Path
        The folder read.
    provenance : dict
        The record of the run that wrote it (see :mod:`xbarsim.provenance`); empty if none was written.
    trials : list of dict
        One record per stored trial: ``key``, ``point``, ``trial``, ``status``, ``error_type``,
        ``error``, ``duration_s``, ``worker``, every parameter the trial got and every metric it
        returned (flat; a metric never overwrites a parameter of the same name, it is then
        ``result.<name>``). A Monte Carlo experiment's transfers come from its
        ``transfers_<network>_<model>.sqlite`` stores, each record with the ``file`` of its store
        (the ``file`` of its summary row): the stores its ``results.json`` lists, so that the stores
        of models or networks an earlier config of the folder had are left out. A transfer that
        stored per-layer ``mapping_error_l<i>`` also gets their mean as ``mapping_error``, as a
        sweep trial stores it.
    summaries : list of dict
        One per grid point (or network x model of a Monte Carlo run): the parameters, counts and
        ``<metric>_mean`` / ``<metric>_std``.
    partial : bool
        The run was interrupted before every trial had finished (as its report says, or as its
        store shows: fewer trials than its spec, e.g. after the process was killed).
    """

    folder: Path
    provenance: dict[str, Any]
    trials: list[dict[str, Any]] = field(repr=False)
    summaries: list[dict[str, Any]] = field(repr=False)
    partial: bool

    def column(self, name: str, *, table: str = "trials") -> np.ndarray:
        """The values of ``name`` over ``trials`` (or ``summaries``) as an array; missing values are
        NaN for numeric columns. Raises ConfigError for a name no record has."""
        rows = self.trials if table == "trials" else self.summaries
        if not any(name in r for r in rows):
            raise ConfigError(f"no {table} record has a column {name!r}.")
        values = [r.get(name) for r in rows]
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            return np.array([np.nan if v is None else float(v) for v in values])
        return np.array(values, dtype=object)

    def __repr__(self) -> str:
        prov = self.provenance
        return (f"Results({str(self.folder)!r}, {len(self.trials)} trials, {len(self.summaries)} summaries"
                f"{', partial' if self.partial else ''}, xbarsim {prov.get('xbarsim')}, started {prov.get('started')})")


def read_csv(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A result CSV: its provenance record (``{}`` if it has none) and its rows as dicts of strings."""
    p = Path(path)
    prov: dict[str, Any] = {}
    with p.open(newline="", encoding="utf-8") as fh:
        lines = [line for line in fh]
    # comment lines are skipped before the header only: after it, a line starting with '#' can be the
    # continuation of a quoted multi-line cell (an error message in trials.csv)
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        if lines[start].startswith("# provenance: ") and not prov:
            prov = json.loads(lines[start][len("# provenance: "):])
        start += 1
    return prov, list(csv.DictReader(lines[start:]))


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable results JSON file ({exc}).") from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: a results JSON file must hold an object; got {type(doc).__name__}.")
    return dict(doc)


def _store_records(store: Path, extra: Mapping[str, Any]) -> list[dict[str, Any]]:
    with ResultStore(store, readonly=True) as db:
        recs = db.records()
    out = []
    for r in recs:
        row: dict[str, Any] = {"key": r.key, "point": r.point, "trial": r.trial, "status": r.status,
                               "error_type": r.error_type, "error": r.error, "duration_s": r.duration_s,
                               "worker": r.worker, **extra}
        for k, v in r.params.items():
            row.setdefault(k, v)
        for k, v in r.results.items():
            row[k if k not in row else f"result.{k}"] = v
        out.append(row)
    return out


def _transfer_stores(folder: Path, doc: Mapping[str, Any]) -> list[Path]:
    """The transfer stores of the Monte Carlo run that wrote ``doc`` (its ``stores``), or, for a folder
    without that list (no report, or an older xbarsim), every ``transfers_*.sqlite``. A folder can hold
    stores of models or networks a later config dropped: they are not that run's results."""
    stores = doc.get("stores")
    if isinstance(stores, list) and all(isinstance(s, str) for s in stores):
        return [folder / s for s in sorted(stores) if (folder / s).is_file()]
    return sorted(folder.glob("transfers_*.sqlite"))


def _trial_records(folder: Path, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    store = folder / "trials.sqlite"
    if store.is_file():
        return _store_records(store, {})
    # a Monte Carlo experiment: one store per network and model, named by its summary row's `file`
    transfers = _transfer_stores(folder, doc)
    if transfers:
        rows = [row for t in transfers for row in _store_records(t, {"file": t.name})]
        for row in rows:  # the layer mean, as a sweep trial stores it (the summary's mapping_error_mean is its mean)
            layers = [row[k] for k in sorted((k for k in row if k.startswith("mapping_error_l")), key=lambda k: int(k[15:]))]
            if layers and "mapping_error" not in row and all(isinstance(v, (int, float)) for v in layers):
                row["mapping_error"] = float(np.mean(layers))
        return rows
    csv_path = folder / "trials.csv"
    if csv_path.is_file():
        return [dict(r) for r in read_csv(csv_path)[1]]
    return []


def _incomplete_store(folder: Path, doc: Mapping[str, Any]) -> bool:
    """Whether a store of ``folder`` holds fewer trials than its spec has (a run killed before it
    wrote its report, or during a ``--retry-failed`` that had moved its failed trials aside)."""
    for store in [folder / "trials.sqlite", *_transfer_stores(folder, doc)]:
        if not store.is_file():
            continue
        with ResultStore(store, readonly=True) as db:
            spec, n = db.spec_dict(), db.count()
        if spec is not None and n < SweepSpec.from_dict(spec, source=str(store)).n_trials:
            return True
    return False


def load_results(folder: str | os.PathLike[str]) -> Results:
    """Read the results folder of an ``xbarsim evaluate`` or ``xbarsim sweep`` run.

    Raises
    ------
    ConfigError
        ``folder`` holds none of ``trials.sqlite``, ``trials.csv``, ``results.json`` and
        ``summary.json``, or one of them is damaged.
    """
    p = Path(folder)
    results = _read_json(p / "results.json")
    summary = _read_json(p / "summary.json")
    doc = results if results is not None else (summary or {})
    trials = _trial_records(p, doc)
    if results is None and summary is None and not trials:
        raise ConfigError(f"{p} holds no xbarsim results (no trials.sqlite, trials.csv, results.json or "
                          "summary.json).")
    summaries = list(doc.get("rows", doc.get("points", [])))
    prov = dict(doc.get("provenance") or {})
    if not prov and (p / "trials.csv").is_file():
        prov = read_csv(p / "trials.csv")[0]
    partial = bool(doc.get("partial", prov.get("partial", False))) or _incomplete_store(p, doc)
    return Results(folder=p, provenance=prov, trials=trials, summaries=summaries, partial=partial)
