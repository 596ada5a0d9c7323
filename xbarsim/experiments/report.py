"""The report of an experiment: ``results.csv``, ``report.md`` (ours beside the papers' numbers)."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xbarsim.experiments.config import ExperimentConfig, Reference

__all__ = ["ExperimentReport", "compare", "markdown", "write_csv", "status_line"]

@dataclass(frozen=True, kw_only=True)
class ExperimentReport:
    """What :func:`run_experiment` wrote and found.

    Attributes
    ----------
    name : str
        Experiment name.
    out : Path
        Output folder.
    rows : tuple of dict
        One per grid point (sweep) or network x model (Monte Carlo): parameters, ``n``, and
        ``<metric>_mean`` / ``<metric>_std``.
    comparisons : tuple of dict
        One per reference: label, point, metric, ours (mean, std, n), paper.
    files : tuple of Path
        Everything written (CSV, JSON, Markdown, PNG).
    elapsed_s : float
        Wall clock of the run (training included).
    software : dict
        Network name -> software accuracy on the evaluated split.
    table : str
        The Markdown report (also in ``report.md``).
    """

    name: str
    out: Path
    rows: tuple[dict[str, Any], ...]
    comparisons: tuple[dict[str, Any], ...]
    files: tuple[Path, ...]
    elapsed_s: float
    software: Mapping[str, float]
    table: str


def status_line(text: str) -> None:
    """One progress line on stderr (only called when progress output is on)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _match(row: Mapping[str, Any], point: Mapping[str, Any]) -> bool:
    for k, v in point.items():
        if k not in row:
            return False
        a, b = row[k], v
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            if not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif json.dumps(a) != json.dumps(b):
            return False
    return True


def compare(rows: Sequence[Mapping[str, Any]], refs: Sequence[Reference]) -> list[dict[str, Any]]:
    out = []
    for r in refs:
        hit = next((row for row in rows if _match(row, r.point) and row.get(f"{r.metric}_mean") is not None), None)
        if hit is None and r.from_table:
            continue
        out.append({"label": r.label, "metric": r.metric, "point": dict(r.point), "paper": r.value,
                    "ours_mean": None if hit is None else hit[f"{r.metric}_mean"],
                    "ours_std": None if hit is None else hit.get(f"{r.metric}_std"),
                    "n": None if hit is None else hit.get("n")})
    return out


def _fmt(metric: str, v: float | None, std: float | None = None) -> str:
    if v is None:
        return "n/a"
    if metric.startswith("mapping_error"):
        s = f"{v:.1f} %"
        return s if std is None else f"{v:.1f} ± {std:.1f} %"
    if any(metric.startswith(m) for m in ("accuracy", "software_accuracy", "robust_fraction", "mean_accuracy")):
        return f"{100 * v:.1f} %" if std is None else f"{100 * v:.1f} ± {100 * std:.1f} %"
    return f"{v:.4g}" if std is None else f"{v:.4g} ± {std:.2g}"


def markdown(config: ExperimentConfig, rows: Sequence[Mapping[str, Any]], cols: Sequence[str],
              metrics: Sequence[str], comparisons: Sequence[Mapping[str, Any]], software: Mapping[str, float],
              elapsed: float, extra: str = "") -> str:
    lines = [f"# {config.name}", ""]
    if config.description:
        lines += [config.description.strip(), ""]
    lines.append(f"Config `{config.source}`{' (quick variant)' if config.quick else ''}; dataset `{config.dataset}` "
                 f"({config.split} split{'' if config.max_points is None else f', first {config.max_points} points'}); "
                 f"seed {config.seed}; wall time {elapsed:.1f} s.")
    lines.append("")
    lines.append("Software baseline: " + ", ".join(f"`{k}` {100 * v:.1f} %" for k, v in software.items()) + ".")
    lines.append("")
    head = [*cols, "n", *metrics]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(cols) + "---:|" + "---:|" * len(metrics))
    for row in rows:
        cells = [_cell(row.get(c)) for c in cols] + [str(row.get("n", ""))]
        cells += [_fmt(m, row.get(f"{m}_mean"), row.get(f"{m}_std")) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    if comparisons:
        lines += ["", "## Ours beside the paper", "", "| reference | point | metric | ours | paper | ours - paper |",
                  "|---|---|---|---:|---:|---:|"]
        for c in comparisons:
            pt = ", ".join(f"{k}={_cell(v)}" for k, v in c["point"].items())
            diff = None if c["ours_mean"] is None else c["ours_mean"] - c["paper"]
            lines.append(f"| {c['label']} | {pt} | {c['metric']} | {_fmt(c['metric'], c['ours_mean'], c['ours_std'])} "
                         f"| {_fmt(c['metric'], c['paper'])} | {_fmt_diff(c['metric'], diff)} |")
    if extra:
        lines += ["", extra]
    return "\n".join(lines) + "\n"


def _fmt_diff(metric: str, d: float | None) -> str:
    """A signed difference in points (percent metrics) or in the metric's unit."""
    if d is None:
        return "n/a"
    if metric.startswith("mapping_error"):
        return f"{d:+.1f}"
    if any(metric.startswith(m) for m in ("accuracy", "software_accuracy", "robust_fraction", "mean_accuracy")):
        return f"{100 * d:+.1f}"
    return f"{d:+.4g}"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return "" if v is None else str(v)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        for r in rows:
            w.writerow([json.dumps(r[k]) if isinstance(r.get(k), (list, dict)) else ("" if r.get(k) is None else r[k])
                        for k in keys])
    return path
