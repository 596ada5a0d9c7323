"""The report of an experiment: ``results.csv``, ``report.md`` (ours beside the papers' numbers)."""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xbarsim.provenance as provenance
from xbarsim.evaluation import Hardware
from xbarsim.experiments.config import ExperimentConfig, Reference, metric_name
from xbarsim.sweeps import replace_from
from xbarsim.sweeps.files import write_csv

__all__ = ["ExperimentReport", "ConsoleProgress", "compare", "markdown", "write_csv", "write_json", "stamp_pngs",
           "protocol_text", "hardware_text", "quick_differences", "standard_error"]

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
        ``<metric>_mean`` / ``<metric>_std`` (and ``<metric>_n`` for a metric that some trials did not
        report: the trials its mean is over).
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
    n_failed : int
        Trials (sweeps) that failed; the CLI exits with status 1 when there are any.
    """

    name: str
    out: Path
    rows: tuple[dict[str, Any], ...]
    comparisons: tuple[dict[str, Any], ...]
    files: tuple[Path, ...]
    elapsed_s: float
    software: Mapping[str, float]
    table: str
    n_failed: int = 0

    def __repr__(self) -> str:
        """One line: name, folder, rows, files, wall time (the rows and the report stay out)."""
        soft = ", ".join(f"{k} {100 * v:.1f} %" for k, v in self.software.items())
        return (f"ExperimentReport({self.name!r}, out={str(self.out)!r}, {len(self.rows)} rows, "
                f"{len(self.comparisons)} comparisons, {len(self.files)} files, {self.elapsed_s:.1f} s, "
                f"software {soft})")

    def report(self) -> str:
        """The Markdown report (the text of ``report.md``)."""
        return self.table


class ConsoleProgress:
    """A :data:`~xbarsim._typing.ProgressCallback` that draws tqdm bars on stderr: one bar per label,
    a new label closes the previous bar. Used by the CLI and the example scripts; the library itself
    draws nothing. Call :meth:`close` at the end (or use it as a context manager)."""

    def __init__(self) -> None:
        self._label: str | None = None
        self._bar: Any = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if label != self._label or self._bar is None:
            self.close()
            from tqdm import tqdm

            self._label = label
            self._bar = tqdm(total=total, initial=done, desc=label, file=sys.stderr, dynamic_ncols=True,
                             mininterval=0.5, unit="step")
        else:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._label = None, None

    def __enter__(self) -> ConsoleProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def compare(rows: Sequence[Mapping[str, Any]], refs: Sequence[Reference], *,
            columns: Sequence[str]) -> list[dict[str, Any]]:
    """One comparison per reference and matching result row.

    A reference's point names only some columns (a paper table knows nothing of our ``network``
    dimension, say); when several rows match it, each gets its own comparison, its point extended
    by the ``columns`` (the table's point columns) on which those rows differ, so that no row is
    picked silently."""
    out = []
    for r in refs:
        hits = [row for row in rows if _match(row, r.point) and row.get(f"{r.metric}_mean") is not None]
        if not hits:
            if r.from_table:
                continue
            # why ours is n/a (before: n/a alone, also for a misspelled metric the run never has)
            key = f"{r.metric}_mean"
            if not any(key in row for row in rows):
                known = sorted({k[:-5] for row in rows for k in row if k.endswith("_mean")})
                why = f"this run has no metric {r.metric!r} (its metrics: {', '.join(known) or 'none'})"
            elif any(_match(row, r.point) for row in rows):
                why = "no successful trial at this point"
            else:
                why = "this run has no row at this point"
            out.append({"label": r.label, "metric": r.metric, "point": dict(r.point), "paper": r.value,
                        "note": f"{r.note}; {why}" if r.note else why, "ours_mean": None, "ours_std": None,
                        "n": None})
            continue
        extra = [k for k in columns if k not in r.point
                 and len({json.dumps(h.get(k), sort_keys=True, default=str) for h in hits}) > 1]
        for hit in hits:
            point = {**r.point, **{k: hit.get(k) for k in extra}}
            out.append({"label": r.label, "metric": r.metric, "point": point, "paper": r.value, "note": r.note,
                        "ours_mean": hit[f"{r.metric}_mean"], "ours_std": hit.get(f"{r.metric}_std"),
                        "n": hit.get(f"{r.metric}_n", hit.get("n"))})  # over the trials that report it
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


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if v is None:
        return "unset"
    return _cell(v)


def protocol_text(config: ExperimentConfig) -> str:
    """What ran, from the config itself (not its description): trials per point and the grid, or the
    transfers, the evaluated points; for a quick variant, every setting it changed."""
    if config.kind == "sweep":
        parts = [f"{config.cycles} cycle(s) per grid point"]
        parts += [f"{k} {_value(list(v))}" for k, v in config.grid.items()]
    else:
        parts = [f"{config.transfers} transfers per network and model (models {', '.join(config.models)})",
                 f"robust threshold {config.threshold:g}"]
    points = f"first {config.max_points} points of the {config.split} split" if config.max_points is not None \
        else f"the whole {config.split} split"
    text = f"What ran: {'; '.join(parts)}; {points}."
    if config.quick:
        changed = "; ".join(f"{k} {_value(q)} (full run: {_value(f)})" for k, q, f in config.quick_changes)
        text += f" This is the QUICK variant; it differs from the full run in: {changed or 'nothing'}."
    return text


def hardware_text(config: ExperimentConfig) -> str:
    """The simulated hardware, from the config itself: the preset and backend, every other
    ``[hardware]`` field set away from its default, then what the variants and read-outs change (the
    grid's keys are in :func:`protocol_text`, and a ``[hardware]`` value the grid replaces at every
    point is left out: ``segment_ohm 1`` beside a grid of 0.5 and 5 ohm said a resistance no trial had)."""
    def show(v: Any) -> str:  # as the TOML config writes it
        return ("true" if v else "false") if isinstance(v, bool) else _value(v)

    base = config.hardware.to_dict()
    default = Hardware().to_dict()
    fields = [f"preset {show(base['preset'])}", f"backend {show(base['backend'])}"]
    fields += [f"{k} {show(v)}" for k, v in base.items()
               if k not in ("preset", "backend") and k not in config.grid and v != default.get(k)]
    text = f"Hardware (`[hardware]`): {'; '.join(fields)}."
    for title, table in (("Variants", config.variants), ("Read-outs of the same transfers", config.readouts)):
        if table:
            text += f" {title}: " + "; ".join(
                f"{name} = " + (", ".join(f"{k} {show(v)}" for k, v in over.items()) or "as configured")
                for name, over in table.items()) + "."
    return text


def quick_differences(config: ExperimentConfig) -> list[str]:
    """The ways a quick run's protocol differs from the full run's at any one point (grid values
    that were left out change no point, so they are not listed)."""
    return [f"{k} {_value(q)} instead of {_value(f)}" for k, q, f in config.quick_changes if not k.startswith("grid.")]


def markdown(config: ExperimentConfig, rows: Sequence[Mapping[str, Any]], cols: Sequence[str],
              metrics: Sequence[str], comparisons: Sequence[Mapping[str, Any]], software: Mapping[str, float],
              elapsed: float, extra: str = "", prov: Mapping[str, Any] | None = None) -> str:
    lines = [f"# {config.name}" + (" (partial results)" if prov is not None and prov.get("partial") else ""), ""]
    if config.description:
        if config.quick:
            lines += ["Full-run description (this report is of the quick variant, see below): "
                      + config.description.strip(), ""]
        else:
            lines += [config.description.strip(), ""]
    lines.append(f"Config `{config.source}`{' (quick variant)' if config.quick else ''}; dataset `{config.dataset}` "
                 f"({config.split} split{'' if config.max_points is None else f', first {config.max_points} points'}); "
                 f"seed {config.seed}; wall time {elapsed:.1f} s.")
    lines.append("")
    lines.append(protocol_text(config))
    lines.append("")
    lines.append(hardware_text(config))
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
    if config.kind == "sweep":
        note = ("`n`: successful trials (cycles) of the point; a cell is their mean ± one standard deviation "
                "(ddof 0); `mapping_error` is 100·‖Ŵ−W‖/‖W‖ % of each layer, averaged over the layers (the LEA "
                "paper's; per layer: `mapping_error_l<i>` in results.csv).")
        # a column a reader cannot decode from its name alone is explained here, as a caption would
        read = [f"`accuracy_{metric_name(r)}`" for r in config.readouts if f"accuracy_{metric_name(r)}" in metrics]
        if read:
            note += (f" {', '.join(read)}: the same transfers (chip, conductances) read again through the read-out "
                     "of that name in [readouts].")
        if "energy_pj" in metrics:
            note += (" `energy_pj`: the arrays' read energy per inference in picojoule (cells and wires for "
                     "`read_time` per read; converters and drivers excluded).")
        lines += ["", note]
    else:
        lines += ["", "`n`: transfers; `accuracy` is the mean ± one standard deviation (ddof 0) of the test accuracy "
                  "over them; the other columns are single numbers over all `n` transfers."]
    if comparisons:
        quick = quick_differences(config)
        lines += ["", "## Ours beside the paper", "",
                  "| reference | point | metric | ours | paper | ours - paper | SE of ours | protocol differences |",
                  "|---|---|---|---:|---:|---:|---:|---|"]
        for c in comparisons:
            pt = ", ".join(f"{k}={_cell(v)}" for k, v in c["point"].items())
            diff = None if c["ours_mean"] is None else c["ours_mean"] - c["paper"]
            diffs = "; ".join([*([c["note"]] if c.get("note") else []), *(f"quick run: {d}" for d in quick)])
            se = standard_error(c.get("ours_std"), c.get("n"))
            lines.append(f"| {_md(c['label'])} | {_md(pt)} | {c['metric']} | "
                         f"{_fmt(c['metric'], c['ours_mean'], c['ours_std'])} "
                         f"| {_fmt(c['metric'], c['paper'])} | {_fmt_diff(c['metric'], diff)} "
                         f"| {_fmt_se(c['metric'], se)} | {_md(diffs) or 'none stated'} |")
        lines += ["", "`ours - paper` and `SE of ours` are in percentage points for accuracies, robust fractions "
                  "and mapping errors. `SE of ours`: the standard error of our mean, std / sqrt(n - 1) with the "
                  "table's ddof-0 std over n trials (n/a below 2, and for a number with no spread over trials, "
                  "such as a robust fraction over all transfers). A difference of less than about two SE is not "
                  "resolved by this run; the paper's own number has an error of its own."]
        if quick:
            lines += ["", "The comparison is with a QUICK run: " + "; ".join(quick) + ". Its numbers are not the "
                      "paper's protocol; run without --quick to compare like with like."]
    if extra:
        lines += ["", extra]
    if prov is not None:
        lines += ["", provenance.markdown_section(prov).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """``text`` as one Markdown table cell: a line break (a TOML multi-line ``note``) would end the row
    and a ``|`` start a new column."""
    return " ".join(text.split()).replace("|", "\\|")


def standard_error(std: float | None, n: int | None) -> float | None:
    """The standard error of a mean over ``n`` trials whose ddof-0 standard deviation is ``std``:
    ``std / sqrt(n - 1)`` (the sample std over ``sqrt(n)``); None when ``n < 2`` or either is missing."""
    if std is None or n is None or int(n) < 2:
        return None
    return float(std) / math.sqrt(int(n) - 1)


def _fmt_se(metric: str, se: float | None) -> str:
    """The standard error in the unit of :func:`_fmt_diff` (points for percent metrics)."""
    if se is None:
        return "n/a"
    if metric.startswith("mapping_error"):
        return f"{se:.1f}"
    if any(metric.startswith(m) for m in ("accuracy", "software_accuracy", "robust_fraction", "mean_accuracy")):
        return f"{100 * se:.1f}"
    return f"{se:.2g}"


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


def write_json(path: Path, doc: Mapping[str, Any], prov: Mapping[str, Any]) -> Path:
    """``doc`` as indented JSON with its ``"provenance"`` object.

    Strict JSON: a NaN or infinite number anywhere in ``doc`` raises :class:`ValueError` naming the file
    and where the value sits (``rows[2].accuracy_std``) instead of writing ``NaN``, which JSON readers
    other than Python's refuse.
    """
    _check_finite(doc, path.name)
    text = json.dumps({**doc, "provenance": provenance.provenance_json(prov)}, indent=2, allow_nan=False) + "\n"
    return replace_from(path, lambda tmp: tmp.write_text(text))


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}: a report value must be a finite number (or None where it is undefined)")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")


def stamp_pngs(paths: Sequence[Path], prov: Mapping[str, Any]) -> list[Path]:
    """Add the provenance text chunks to PNG files written by the plot functions (pixels kept), each
    written beside and moved into place: a failure part way leaves the figure as it was."""
    return [replace_from(p, functools.partial(_stamped, p, prov)) for p in paths]


def _stamped(path: Path, prov: Mapping[str, Any], tmp: Path) -> None:
    provenance.stamp_png(path, prov, out=tmp)
