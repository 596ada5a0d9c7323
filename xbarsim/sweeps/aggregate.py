"""The aggregate of a sweep, built from its store alone: CSV of all trials, per-point statistics, plots.

:func:`aggregate_sweep` reads the spec and the trials from the SQLite store written by
:func:`~xbarsim.sweeps.run_sweep` and writes into a folder:

* ``trials.csv`` -- one row per trial (grid parameters, status, error, duration, worker, metrics);
* ``summary.csv`` and ``summary.json`` -- per grid point: ``n_ok``, ``n_failed`` and the mean and
  standard deviation (ddof = 0) of every numeric metric over the successful trials; a point with failed
  trials also has ``errors`` in ``summary.json`` (its distinct ``"<type>: <message>"`` texts);
* ``plot_<metric>.png`` -- each numeric result metric (mean, with +-std bars) against the grid
  parameter the config names in ``plot_x`` (default: the first grid parameter in the config's order),
  one series per combination of the other grid parameters;
  bookkeeping metrics (cells, iterations, timings, the KCL residual) and metrics constant over the
  grid are not plotted; with one trial per point there are no error bars.

Nothing comes from the running process, so the aggregate of a resumed or interrupted sweep is the
same as that of an uninterrupted one.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import xbarsim.provenance as _prov
from xbarsim.errors import ConfigError
from xbarsim.sweeps.files import replace_from, write_text
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
    #: The summary rows (grid values, ``n_ok``, ``n_failed``, ``errors``, statistics) of the points with
    #: failed trials, in grid order.
    failed_points: tuple[dict[str, Any], ...] = ()


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
    in. A statistic with no successful trial is None (never NaN). A metric that some successful trial
    did not report gets ``<metric>_n`` in every row, the trials its mean and std are over (before,
    nothing told such a mean from one over all ``n_ok`` trials). ``errors``: a point with failed
    trials also gets ``errors``, the sorted distinct ``"<type>: <message>"`` texts (200 characters).
    """
    clash = sorted(set(metrics) & (RESERVED_COLUMNS | set(points[0] if points else {})))
    if clash:
        raise ConfigError(f"metrics {clash} have the names of built-in or grid columns; rename them first "
                          "(aggregate_sweep writes them as 'result.<name>').")
    groups: dict[str, list[TrialRecord]] = {}
    for r in records:
        groups.setdefault(_point_id(r.params, points[0] if points else {}), []).append(r)
    rows: list[dict[str, Any]] = []
    for point in points:
        recs = groups.get(_point_id(point, point), [])
        # in trial order, not the order the workers finished in: the same trials give the same means to
        # the last bit (a mean on a rounding tie, 91.85 %, printed 91.9 or 91.8 with the summation order)
        ok = sorted((r for r in recs if r.ok), key=lambda r: (r.trial, r.key))
        row: dict[str, Any] = {**point, "n_ok": len(ok), "n_failed": len(recs) - len(ok)}
        for m, vals in [("duration_s", [r.duration_s for r in ok]),
                        *((m, [r.results[m] for r in ok if m in r.results]) for m in metrics)]:
            arr = np.asarray(vals, dtype=np.float64)
            row[f"{m}_mean"] = float(arr.mean()) if arr.size else None
            row[f"{m}_std"] = float(arr.std()) if arr.size else None
            row[f"{m}_n"] = arr.size
        if errors and len(recs) > len(ok):
            row["errors"] = sorted({f"{r.error_type}: {r.error[:200]}" for r in recs if not r.ok})
        rows.append(row)
    # the counts stay only for metrics that some successful trial left out
    for m in ["duration_s", *metrics]:
        if all(row[f"{m}_n"] == row["n_ok"] for row in rows):
            for row in rows:
                del row[f"{m}_n"]
    return rows


def stat_columns(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[str]:
    """The statistic columns of :func:`summarize`'s rows, in order: ``<metric>_mean``, ``_std`` and,
    for a metric that some trials did not report, ``_n``."""
    partial = set(rows[0]) if rows else set()
    return [f"{m}_{s}" for m in ["duration_s", *metrics] for s in ("mean", "std", "n")
            if s != "n" or f"{m}_n" in partial]


def _point_id(values: Mapping[str, Any], point: Mapping[str, Any]) -> str:
    """The grid values of ``values`` for the keys of ``point``, as canonical JSON."""
    return canonical({k: values.get(k) for k in point})


def aggregate_sweep(store: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                    plots: bool = True, spec: SweepSpec | None = None,
                    provenance: Mapping[str, Any] | None = None) -> SweepAggregate:
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
        grid order (the store keeps the spec with sorted keys), and the plots' x axis is its
        ``plot_x``. It must equal the stored spec (``plot_x`` is presentation, not compared).
    provenance : mapping, optional
        The run's provenance record (:func:`xbarsim.provenance.collect`), written into every file:
        the first line of each CSV, ``"provenance"`` in the JSON, PNG text chunks. Default: one
        collected now (versions and command line, no config); ``partial`` is set when trials are
        missing from the store.
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
    prov = dict(provenance) if provenance is not None else _prov.collect(seed=spec.seed)
    prov["partial"] = bool(prov.get("partial")) or len(records) < spec.n_trials
    grid_names = list(spec.grid)
    # a trial's own metric named like a built-in column or a grid key ("duration_s" of a sleep trial,
    # "iterations" of a busy one) gets its own column, "result.<name>", instead of a second one of the name
    rename = {k: f"result.{k}" for r in records for k in r.results if k in RESERVED_COLUMNS or k in spec.grid}
    if rename:
        records = [replace(r, results={rename.get(k, k): v for k, v in r.results.items()}) for r in records]
    metrics = _numeric(records)
    # likewise a grid key named like a built-in column (the sleep trial's `duration_s`) is `grid.<name>`
    grid_columns = [f"grid.{g}" if g in RESERVED_COLUMNS else g for g in grid_names]
    all_metrics = sorted({k for r in records for k in r.results})
    points = list(spec.points())
    # a trial's point index in this spec's grid order, found by its values: the stored index follows the
    # grid order of the run that stored it, and a config resumed with its grid keys reordered is the same spec
    number = {_point_id(p, p): i for i, p in enumerate(points)}
    point_of = {r.key: number.get(_point_id(r.params, points[0]), r.point) for r in records}
    records = sorted(records, key=lambda r: (point_of[r.key], r.trial))

    trials_csv = _write_csv(out / "trials.csv", [
        ["key", "point", "trial", *grid_columns, "status", "error_type", "error", "duration_s", "worker", *all_metrics],
        *([r.key, point_of[r.key], r.trial, *(_cell(r.params.get(g)) for g in grid_names), r.status, r.error_type,
           r.error, repr(r.duration_s), r.worker, *(_cell(r.results.get(m, "")) for m in all_metrics)]
          for r in records)],
        header=_prov.csv_header(prov))

    rows = summarize(records, points, metrics, errors=True)  # errors: summary.json only
    stat_cols = stat_columns(rows, metrics)
    summary_csv = _write_csv(out / "summary.csv", [
        [*grid_columns, "n_ok", "n_failed", *stat_cols],
        *([_cell(row[g]) for g in grid_names] + [row["n_ok"], row["n_failed"]]
          + ["" if row[c] is None else repr(row[c]) for c in stat_cols] for row in rows)],
        header=_prov.csv_header(prov))
    summary_json = out / "summary.json"
    n_ok = sum(r.ok for r in records)
    doc = {"sweep": spec.to_dict(), "n_trials": spec.n_trials, "n_stored": len(records), "n_ok": n_ok,
           "n_failed": len(records) - n_ok, "partial": prov["partial"], "metrics": metrics, "points": rows,
           "provenance": _prov.provenance_json(prov)}
    write_text(summary_json, json.dumps(doc, indent=2, allow_nan=False) + "\n")

    pngs: list[Path] = []
    if plots:
        for m in plotted_metrics(rows, metrics):
            pngs.append(_plot_metric(out, spec, rows, m, prov, spec.plot_x))
    return SweepAggregate(trials_csv=trials_csv, summary_csv=summary_csv, summary_json=summary_json,
                          plots=tuple(pngs), n_trials=spec.n_trials, n_ok=n_ok, n_failed=len(records) - n_ok,
                          n_missing=spec.n_trials - len(records),
                          failed_points=tuple(row for row in rows if row["n_failed"]))


def _write_csv(path: Path, rows: Any, header: str = "") -> Path:
    """Write ``rows`` as CSV into ``path`` atomically (never through a symlink), after ``header``
    (the provenance line)."""
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            fh.write(header)
            csv.writer(fh).writerows(rows)
    return replace_from(path, write)


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


#: Columns of trials.csv and summary.csv that are not a trial's metrics (``summary.json`` rows also
#: hold ``errors``); a metric of one of these names, or of a grid key, is written as ``result.<name>``,
#: and a grid key of one of these names as ``grid.<name>``.
RESERVED_COLUMNS = frozenset({"key", "point", "trial", "status", "error_type", "error", "duration_s", "worker",
                              "n_ok", "n_failed", "errors"})

#: Metrics that describe the run, not the result: never plotted. The KCL residual is the solver's
#: self-check (rounding noise near 1e-16, in summary.csv); drawn against a grid key it looks like a trend.
BOOKKEEPING_METRICS = frozenset({"cells", "iterations", "duration_s", "solve_time_s", "kcl_residual",
                                 "result.cells", "result.iterations", "result.duration_s"})

#: Axis labels with units of the metrics and parameters the shipped trial kinds use.
LABELS = {
    # over every column of every input vector of a trial (the circuit trial's `batch`)
    "ir_error_mean": "IR-drop error, mean over outputs (relative)",
    "ir_error_max": "IR-drop error, worst output (relative)",
    "output_current_mean_A": "mean output current (A)",
    "kcl_residual": "KCL residual (relative)",
    "segment_ohm": "wire segment resistance (ohm)",
    "driver_ohm": "driver resistance (ohm)",
    "sense_ohm": "sense resistance (ohm)",
    "size": "array size n (n x n cells)",
    "g_min": "g_min (S)",
    "g_max": "g_max (S)",
    "v_read": "largest read voltage v_read (V)",
    "sinh_a": "sinh nonlinearity a (1/V)",
    "batch": "input vectors per trial",
    "ngspice_timeout_s": "ngspice timeout (s)",
    "accuracy": "test accuracy (fraction)",
    "mapping_error": "mapping error, layer mean of 100·‖Ŵ−W‖/‖W‖ (%)",
}


def plotted_metrics(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[str]:
    """The metrics worth a plot: not bookkeeping (:data:`BOOKKEEPING_METRICS`) and not the same
    value at every point."""
    keep = []
    for m in metrics:
        means = {row[f"{m}_mean"] for row in rows if row.get(f"{m}_mean") is not None}
        if m not in BOOKKEEPING_METRICS and len(means) > 1:
            keep.append(m)
    return keep


def _plot_metric(out: Path, spec: SweepSpec, rows: list[dict[str, Any]], metric: str,
                 prov: Mapping[str, Any], x_name: str | None = None) -> Path:
    """``metric`` (mean, error bars one std) against ``x_name`` (default the first grid key in the
    config's order), one series per combination of the other grid keys, each with its own marker and
    offset sideways; a categorical x axis gets markers only (no joining lines)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(spec.grid)
    x_name = x_name if x_name is not None else (names[0] if names else None)
    others = [g for g in names if g != x_name]
    x_values: list[Any] = list(spec.grid[x_name]) if x_name else [None]
    numeric_x = x_name is not None and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in x_values)
    integer_x = numeric_x and all(isinstance(v, int) for v in x_values)
    position = {json.dumps(v): (float(v) if numeric_x else float(k)) for k, v in enumerate(x_values)}
    series: dict[str, list[tuple[float, float, float]]] = {}
    for row in rows:
        mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
        if mean is None:
            continue
        label = ", ".join(f"{o}={_label(row[o])}" for o in others) or metric
        x = position[json.dumps(row[x_name])] if x_name else 0.0
        series.setdefault(label, []).append((x, mean, std))
    fig = Figure(figsize=(6.8, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    distinct = np.unique(list(position.values()))
    log_x = numeric_x and distinct.size > 2 and distinct.min() > 0 and distinct.max() / distinct.min() > 50
    step = float(np.diff(distinct).min()) if distinct.size > 1 else 1.0
    all_y: list[float] = []
    for j, (label, pts) in enumerate(series.items()):
        pts.sort()
        xs, ys, es = (np.array(v) for v in zip(*pts))
        offset = (j - (len(series) - 1) / 2)
        xs = xs * (1.0 + 0.02 * offset) if log_x else xs + 0.06 * step * offset
        all_y += list(ys)
        ax.errorbar(xs, ys, yerr=es if spec.trials > 1 else None, marker="osD^vPX*"[j % 8],
                    ls=("-" if numeric_x else "none"), capsize=3, label=label, mfc="none" if j % 2 else None)
    if log_x:
        ax.set_xscale("log")
    if not numeric_x or integer_x:
        ax.set_xticks([position[json.dumps(v)] for v in x_values], [_label(v) if x_name else "all" for v in x_values])
        ax.minorticks_off()
    ys = np.array(all_y)
    if ys.size and (ys > 0).all() and ys.max() / ys.min() > 1e3:
        ax.set_yscale("log")
    x_label = LABELS.get(x_name or "", x_name or "")
    if x_name == "size" and not integer_x:  # a [rows, columns] pair among the sizes: not n x n
        x_label = "array size [rows, columns]"
    ax.set_xlabel(x_label)
    ax.set_ylabel(LABELS.get(metric, metric))
    what = LABELS.get(metric, metric).split(" (")[0]
    ax.set_title(f"{what} vs {x_name} (sweep {spec.name})", fontsize="medium")
    # the trials each drawn mean is over (before: the spec's `trials`, also where trials failed or were
    # still missing after an interrupt)
    ns = sorted({int(row.get(f"{metric}_n", row["n_ok"])) for row in rows if row[f"{metric}_mean"] is not None})
    count = "0" if not ns else str(ns[0]) if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
    caption = (f"points: mean; error bars: ± one standard deviation (ddof 0) over {count} trials per point"
               if spec.trials > 1 else "points: one trial per point (no error bars)")
    if len(series) > 1:
        caption += "; series offset sideways"
    handles, labels = ax.get_legend_handles_labels()
    if len(series) > 1 and len(series) <= 12:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(series), 3), fontsize="small",
                   frameon=False, title=caption, title_fontsize="x-small")
    else:
        fig.text(0.01, 0.005, caption, fontsize="x-small", color="0.3")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", metric)
    return replace_from(out / f"plot_{safe}.png",
                        lambda tmp: fig.savefig(tmp, dpi=100, format="png", bbox_inches="tight",
                                                metadata=_prov.png_metadata(prov)))
