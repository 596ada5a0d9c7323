"""The aggregate of a sweep, built from its store alone: CSV of all trials, per-point statistics, plots.

:func:`aggregate_sweep` reads the spec and the trials from the SQLite store written by
:func:`~xbarsim.sweeps.run_sweep` and writes into a folder:

* ``trials.csv`` -- one row per trial (grid parameters, status, error, duration, worker, metrics);
* ``summary.csv`` and ``summary.json`` -- per grid point: ``n_ok``, ``n_failed`` and the mean and
  standard deviation (ddof = 0) of every numeric metric over the successful trials;
* ``plot_<metric>.png`` -- each numeric metric (mean, with +-std bars) against the first grid
  parameter, one line per combination of the other grid parameters.

Nothing comes from the running process, so the aggregate of a resumed or interrupted sweep is the
same as that of an uninterrupted one.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim.errors import ConfigError
from xbarsim.sweeps.store import ResultStore, TrialRecord
from xbarsim.sweeps.spec import SweepSpec, canonical

__all__ = ["SweepAggregate", "aggregate_sweep", "summarize"]


@dataclass(frozen=True, kw_only=True)
class SweepAggregate:
    """Files written by :func:`aggregate_sweep` and the counts they hold."""

    trials_csv: Path
    summary_csv: Path
    summary_json: Path
    plots: tuple[Path, ...]
    n_trials: int
    n_ok: int
    n_failed: int
    n_missing: int


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def _numeric(records: list[TrialRecord]) -> list[str]:
    """Metrics that are numbers (int/float/bool) in every successful trial that reports them."""
    kinds: dict[str, bool] = {}
    for r in records:
        if not r.ok:
            continue
        for k, v in r.results.items():
            is_num = isinstance(v, (int, float)) and not isinstance(v, str)
            kinds[k] = kinds.get(k, True) and is_num
    return sorted(k for k, ok in kinds.items() if ok)


def summarize(records: Sequence[TrialRecord], points: Sequence[Mapping[str, Any]],
              metrics: Sequence[str], *, errors: bool = False) -> list[dict[str, Any]]:
    """One row per grid point: its values, ``n_ok``, ``n_failed`` and mean / std (ddof = 0) of
    ``duration_s`` and of every metric in ``metrics`` over the point's successful trials.

    A trial belongs to the point whose values its own stored parameters carry; the stored point
    index is never used, so the rows stay right whatever order the grid keys and values were given
    in. A statistic with no successful trial is None (never NaN). ``errors``: a point with failed
    trials also gets ``errors``, the sorted distinct ``"<type>: <message>"`` texts (200 characters).
    """
    groups: dict[str, list[TrialRecord]] = {}
    for r in records:
        groups.setdefault(_point_id(r.params, points[0] if points else {}), []).append(r)
    rows: list[dict[str, Any]] = []
    for point in points:
        recs = groups.get(_point_id(point, point), [])
        ok = [r for r in recs if r.ok]
        row: dict[str, Any] = {**point, "n_ok": len(ok), "n_failed": len(recs) - len(ok)}
        for m in ["duration_s", *metrics]:
            vals = [r.duration_s if m == "duration_s" else r.results[m] for r in ok
                    if m == "duration_s" or m in r.results]
            arr = np.asarray(vals, dtype=np.float64)
            row[f"{m}_mean"] = float(arr.mean()) if arr.size else None
            row[f"{m}_std"] = float(arr.std()) if arr.size else None
        if errors and len(recs) > len(ok):
            row["errors"] = sorted({f"{r.error_type}: {r.error[:200]}" for r in recs if not r.ok})
        rows.append(row)
    return rows


def _point_id(values: Mapping[str, Any], point: Mapping[str, Any]) -> str:
    """The grid values of ``values`` for the keys of ``point``, as canonical JSON."""
    return canonical({k: values.get(k) for k in point})


def aggregate_sweep(store: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                    plots: bool = True, spec: SweepSpec | None = None) -> SweepAggregate:
    """Write the CSV, JSON and PNG aggregate of the sweep in ``store`` into ``out_dir``.

    Parameters
    ----------
    store : str or Path
        The sweep's SQLite store.
    out_dir : str or Path
        Folder for the outputs (created).
    plots : bool
        Write the PNG plots (default True).
    spec : SweepSpec, optional
        The spec that wrote the store, when the caller has it: rows, columns and plots then follow its
        grid order (the store keeps the spec with sorted keys). It must equal the stored spec.
    """
    with ResultStore(store, readonly=True) as db:
        spec_data = db.spec_dict()
        if spec_data is None:
            raise ConfigError(f"sweep store {store} holds no sweep spec; it was not written by run_sweep.")
        records = db.records()
    stored = SweepSpec.from_dict(spec_data, source=str(store))
    if spec is None:
        spec = stored
    elif spec.to_dict() != stored.to_dict():
        raise ConfigError(f"sweep store {store} holds results of another sweep spec than the one given.")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output folder {out}: {exc}") from exc
    grid_names = list(spec.grid)
    metrics = _numeric(records)
    all_metrics = sorted({k for r in records for k in r.results})

    trials_csv = out / "trials.csv"
    with trials_csv.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["key", "point", "trial", *grid_names, "status", "error_type", "error", "duration_s", "worker",
                    *all_metrics])
        for r in records:
            w.writerow([r.key, r.point, r.trial, *(_cell(r.params.get(g)) for g in grid_names), r.status,
                        r.error_type, r.error, repr(r.duration_s), r.worker,
                        *(_cell(r.results.get(m, "")) for m in all_metrics)])

    rows = summarize(records, list(spec.points()), metrics)
    stat_cols = [f"{m}_{s}" for m in ["duration_s", *metrics] for s in ("mean", "std")]
    summary_csv = out / "summary.csv"
    with summary_csv.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*grid_names, "n_ok", "n_failed", *stat_cols])
        for row in rows:
            w.writerow([_cell(row[g]) for g in grid_names] + [row["n_ok"], row["n_failed"]]
                       + ["" if row[c] is None else repr(row[c]) for c in stat_cols])
    summary_json = out / "summary.json"
    n_ok = sum(r.ok for r in records)
    doc = {"sweep": spec.to_dict(), "n_trials": spec.n_trials, "n_stored": len(records), "n_ok": n_ok,
           "n_failed": len(records) - n_ok, "metrics": metrics, "points": rows}
    summary_json.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")

    pngs: list[Path] = []
    if plots:
        for m in metrics:
            pngs.append(_plot_metric(out, spec, rows, m))
    return SweepAggregate(trials_csv=trials_csv, summary_csv=summary_csv, summary_json=summary_json,
                          plots=tuple(pngs), n_trials=spec.n_trials, n_ok=n_ok, n_failed=len(records) - n_ok,
                          n_missing=spec.n_trials - len(records))


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _plot_metric(out: Path, spec: SweepSpec, rows: list[dict[str, Any]], metric: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(spec.grid)
    x_name = names[0] if names else None
    others = names[1:]
    x_values: list[Any] = list(spec.grid[x_name]) if x_name else [None]
    numeric_x = x_name is not None and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in x_values)
    position = {json.dumps(v): (float(v) if numeric_x else float(k)) for k, v in enumerate(x_values)}
    series: dict[str, list[tuple[float, float, float]]] = {}
    for row in rows:
        mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
        if mean is None:
            continue
        label = ", ".join(f"{o}={_label(row[o])}" for o in others) or metric
        x = position[json.dumps(row[x_name])] if x_name else 0.0
        series.setdefault(label, []).append((x, mean, std))
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    all_y: list[float] = []
    for label, pts in series.items():
        pts.sort()
        xs, ys, es = (np.array(v) for v in zip(*pts))
        all_y += list(ys)
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label)
    if not numeric_x:
        ax.set_xticks(range(len(x_values)), [_label(v) if x_name else "all" for v in x_values])
    ys = np.array(all_y)
    if ys.size and (ys > 0).all() and ys.max() / ys.min() > 1e3:
        ax.set_yscale("log")
    ax.set_xlabel(x_name or "")
    ax.set_ylabel(metric)
    ax.set_title(f"{spec.name}: {metric} (mean +- std over {spec.trials} trial(s))")
    if len(series) > 1 and len(series) <= 12:
        ax.legend(fontsize="small")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", metric)
    path = out / f"plot_{safe}.png"
    fig.savefig(path, dpi=100)
    return path
