"""PNG plots of evaluation results: accuracy versus alpha per fault rate, per-point accuracy
histograms of Monte Carlo transfers, accuracy versus wire resistance.

Every function takes plain rows (dicts of grid values and ``<metric>_mean`` / ``<metric>_std``, as
in the ``points`` of a sweep's ``summary.json``) or :class:`~xbarsim.evaluation.MonteCarloResult`
objects, writes one PNG with matplotlib's Agg canvas (no pyplot state, headless) and returns its
path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim.experiments.config import ExperimentConfig, metric_name
from xbarsim.sweeps import replace_from

__all__ = [
    "plot_accuracy_vs_alpha",
    "plot_point_histograms",
    "plot_accuracy_vs_wire",
    "plot_metric_lines",
    "sweep_plots",
]


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _series(rows: Sequence[Mapping[str, Any]], x: str, metric: str, by: Sequence[str]
            ) -> dict[str, list[tuple[float, float, float]]]:
    out: dict[str, list[tuple[float, float, float]]] = {}
    for row in rows:
        mean = row.get(f"{metric}_mean")
        if mean is None or row.get(x) is None:
            continue
        std = row.get(f"{metric}_std") or 0.0
        parts = [f"{b}={_label(row[b])}" for b in by if b in row]
        xv = row[x]
        if isinstance(xv, (list, tuple)):  # an [alpha, beta] pair: alpha on x, beta tells the series apart
            parts.append(f"beta={_label(xv[1])}" if x == "alpha_beta" else f"{x}[1:]={_label(list(xv[1:]))}")
            xv = xv[0]
        label = ", ".join(parts) or metric
        out.setdefault(label, []).append((float(xv), float(mean), float(std)))
    for pts in out.values():
        pts.sort()
    return out


#: Marker and line style cycle: series that coincide stay distinguishable.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINES = ("-", "--", "-.", ":")

#: Linear range of a symmetric-log x axis (wire resistance in ohm: 0 sits beside 1, 10, 100).
_LINTHRESH = 0.1

#: The y axis label of the mapping error: what the quantity is.
MAPPING_ERROR_LABEL = "mapping error, layer mean of 100·‖Ŵ−W‖/‖W‖ (%)"


def _cycles_caption(rows: Sequence[Mapping[str, Any]], metric: str, what: str = "cycles") -> str:
    """``"error bars: mean ± std (ddof 0) over 5 cycles"`` from the rows' ``<metric>_n``, else ``n`` (a range
    if they differ): a metric that some cycles did not report is a mean over fewer than ``n``."""
    ns = sorted({int(r.get(f"{metric}_n", r.get("n"))) for r in rows  # type: ignore[arg-type]
                 if r.get(f"{metric}_n", r.get("n")) is not None and r.get(f"{metric}_mean") is not None})
    if not ns:
        return ""
    count = str(ns[0]) if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
    return f"points: mean; error bars: ± one standard deviation (ddof 0) over {count} {what} per point"


def plot_metric_lines(rows: Sequence[Mapping[str, Any]], out: str | os.PathLike[str], *, x: str, metric: str,
                      panels: str | None = None, by: Sequence[str] = (), baseline: float | None = None,
                      title: str = "", xlabel: str | None = None, ylabel: str | None = None,
                      percent: bool = True, logx: bool = False, caption: str | None = None,
                      metadata: Mapping[str, str] | None = None) -> Path:
    """``metric`` (mean +- std) versus ``x``, one panel per value of ``panels`` (all panels share one y
    range), one line per combination of ``by`` with its own marker and line style; a dotted horizontal
    line at ``baseline`` (e.g. the software accuracy). Integer x values get integer ticks (the values
    themselves). The legend sits below the panels, never on the data; ``caption`` (default: what the
    error bars are, from the rows' ``n``) is printed under the figure."""
    keys = [None] if panels is None else list(dict.fromkeys(_label(r[panels]) for r in rows if panels in r))
    # a ``by`` column with one value in every row tells the series nothing apart: it goes into the legend's
    # title once instead of into every label (long labels ran off the figure)
    fixed = [b for b in by if len({_label(r.get(b)) for r in rows if b in r}) == 1]
    by = [b for b in by if b not in fixed]
    shared = ", ".join(f"{b}={_label(next(r[b] for r in rows if b in r))}" for b in fixed)
    n = max(len(keys), 1)
    cols = min(n, 3)
    nrows = int(np.ceil(n / cols))
    fig = _figure(4.4 * cols, 3.4 * nrows + 1.2)
    scale = 100.0 if percent else 1.0
    xs_all: list[Any] = [r[x] for r in rows if r.get(x) is not None]
    integer_x = bool(xs_all) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in xs_all)
    first = None
    handles: dict[str, Any] = {}
    distinct = np.unique(np.asarray([float(v[0] if isinstance(v, (list, tuple)) else v) for v in xs_all]))
    dodge = 0.06 * (float(np.diff(distinct).min()) if distinct.size > 1 else 1.0)
    for k, key in enumerate(keys):
        ax = fig.add_subplot(nrows, cols, k + 1, sharey=first)
        first = first or ax
        sub = [r for r in rows if panels is None or _label(r.get(panels)) == key]
        series = _series(sub, x, metric, by)
        for j, (label, pts) in enumerate(series.items()):
            xs, ys, es = (np.array(v) for v in zip(*pts))
            xs = xs + (0.0 if logx else (j - (len(series) - 1) / 2) * dodge)  # side by side, none hidden
            h = ax.errorbar(xs, scale * ys, yerr=scale * es, marker=_MARKERS[j % len(_MARKERS)],
                            ls=_LINES[j % len(_LINES)], ms=6 - 0.5 * (j % 4), capsize=3, label=label,
                            mfc="none" if j % 2 else None)
            handles.setdefault(label, h)
        if baseline is not None:
            handles.setdefault("software", ax.axhline(scale * baseline, color="gray", ls=":", lw=1,
                                                      label="software"))
        if logx:
            ax.set_xscale("symlog", linthresh=_LINTHRESH)
            if distinct.size and distinct.min() >= 0:
                # autoscaling padded x = 0 by a decade to the left, so an axis of resistances showed
                # ticks at -1 and -0.1 ohm, and cut the largest value's marker in half at the right edge:
                # keep the left margin inside the linear part and pad the right by a tenth of a decade
                # (all values above the linear part: a tenth of a decade below the smallest, not the
                # empty decades down to 0)
                lo, hi = float(distinct.min()), float(distinct.max())
                ax.set_xlim(-0.2 * _LINTHRESH if lo < _LINTHRESH else lo / 10 ** 0.1,
                            hi * 10 ** 0.1 if hi > _LINTHRESH else hi + 0.2 * _LINTHRESH)
                # the values themselves as ticks: a grid of 0.5 and 5 ohm showed one labelled tick,
                # 10^0, between two unlabelled points
                ax.set_xticks([float(v) for v in distinct], [f"{v:g}" for v in distinct])
        if integer_x:
            ticks = sorted({int(v) for v in xs_all})
            ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(ylabel or (f"{metric} (%)" if percent else metric))
        if panels is not None:
            ax.set_title(f"{panels} = {key}", fontsize="medium")
        ax.grid(alpha=0.3)
    text = _cycles_caption(rows, metric) if caption is None else caption
    if handles:  # below the panels, never on the data; its title says what the error bars are
        title_text = text + ("; series offset sideways" if dodge and len(handles) > 1 and not logx else "")
        if shared:
            title_text = f"every series: {shared}\n{title_text}"
        longest = max(len(h) for h in handles)
        ncol = max(1, min(len(handles), 4, int(14 * 4.4 * cols) // (longest + 6)))  # ~14 x-small characters/inch
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=ncol,
                   fontsize="x-small", frameon=False, title=title_text, title_fontsize="x-small")
    if title:
        fig.suptitle(title + (" (panels share the y axis)" if n > 1 else ""), fontsize="medium")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the bounding box of everything drawn: a legend or caption wider than the panels is never cut off
    return replace_from(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight",
                                                      metadata=dict(metadata) if metadata else None))


def alpha_label(key: str = "alpha") -> str:
    """The x-axis label of a plot against ``alpha`` or ``alpha_beta`` (the same on every such plot)."""
    if key == "alpha_beta":
        return "(alpha, beta): copies placed, copies kept per output"
    return f"{key} (copies per weight, equal device count)"


def plot_accuracy_vs_alpha(rows: Sequence[Mapping[str, Any]], out: str | os.PathLike[str], *,
                           alpha: str = "alpha", fault: str | None = "fault_rate", by: Sequence[str] = (),
                           baseline: float | None = None, title: str = "") -> Path:
    """Test accuracy versus the number of copies alpha, one panel per fault rate (the LEA paper's
    Fig. 4b as lines), one line per strategy / network / placement (``by``)."""
    panels = fault if fault is not None and any(fault in r for r in rows) else None
    return plot_metric_lines(rows, out, x=alpha, metric="accuracy", panels=panels, by=by, baseline=baseline,
                             title=title or "Test accuracy vs number of copies alpha",
                             xlabel=alpha_label(alpha), ylabel="test accuracy (%)")


def plot_accuracy_vs_wire(rows: Sequence[Mapping[str, Any]], out: str | os.PathLike[str], *,
                          wire: str = "segment_ohm", by: Sequence[str] = (), panels: str | None = None,
                          baseline: float | None = None, title: str = "") -> Path:
    """Test accuracy versus the wire segment resistance (ohm)."""
    return plot_metric_lines(rows, out, x=wire, metric="accuracy", panels=panels, by=by, baseline=baseline,
                             title=title or "Test accuracy vs wire segment resistance",
                             xlabel="wire segment resistance (ohm)", ylabel="test accuracy (%)", logx=True)


def _point_histogram(per_point: Any, bins: int, threshold: float) -> tuple[Any, Any]:
    """Counts and edges of the per-point accuracies over ``bins`` equal bins of [0, 1], with the
    threshold as an edge (added when it is not one). A point on an edge counts in the bin above it,
    as the robust fraction counts a point at the threshold (same 1e-9 tolerance): with float edges
    (``linspace`` gives 0.9500000000000001) a point right at 95 % would be drawn left of the line."""
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    near = np.abs(edges - threshold) < 1e-9
    edges = np.where(near, threshold, edges) if near.any() else np.sort(np.append(edges, threshold))
    counts, _ = np.histogram(np.minimum(np.asarray(per_point, float) + 1e-9, 1.0), bins=edges)
    return counts, edges


def plot_point_histograms(results: Mapping[str, Any], out: str | os.PathLike[str], *, threshold: float = 0.95,
                          bins: int = 20, title: str = "") -> Path:
    """Histogram of the per-point accuracy (fraction of transfers classifying each test point
    correctly), one panel per labelled :class:`~xbarsim.evaluation.MonteCarloResult`; the
    threshold of the robust-fraction metric is marked."""
    n = max(len(results), 1)
    cols = min(n, 2)
    nrows = int(np.ceil(n / cols))
    fig = _figure(4.6 * cols, 3.4 * nrows)
    first = None
    for k, (label, res) in enumerate(results.items()):
        ax = fig.add_subplot(nrows, cols, k + 1, sharey=first)  # compared panels: one y range
        first = first or ax
        counts, edges = _point_histogram(res.per_point, bins, threshold)
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#4477aa", edgecolor="white")
        ax.axvline(threshold, color="#cc3311", ls="--", lw=1)
        ax.set_title(f"{label}: {100 * res.robust_fraction:.1f} % of points >= {threshold:.0%}\n"
                     f"mean accuracy {100 * res.mean_accuracy:.1f} %, {res.transfers} transfers", fontsize="small")
        ax.set_xlabel("fraction of transfers right on the point")
        ax.set_ylabel("test points (count)")
        ax.set_xlim(0, 1)
    fig.suptitle(f"Per-point accuracy over Monte Carlo transfers{f' ({title})' if title else ''}"
                 + ("; panels share the y axis" if n > 1 else ""), fontsize="medium")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_from(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


def sweep_plots(config: ExperimentConfig, folder: Path, rows: list[dict[str, Any]],
                software: Mapping[str, float]) -> list[Path]:
    """The plots an experiment sweep gets, chosen from its grid keys (alpha, wire resistance, else the
    first numeric key), plus accuracy against the config's ``plot_x`` when it names another key;
    ``rows`` are the per-point rows of the report."""
    grid = list(config.grid)
    base = max(software.values()) if len(software) == 1 else None
    files = []
    drawn: set[str] = set()  # the x axes of the plots drawn so far
    orig, orig_grid = rows, list(grid)
    if config.readouts:  # one line per read-out of the same transfers
        # the main read-out is each point's own backend (a variant or the grid may change it; before:
        # every main series was labelled with the [hardware] backend)
        expanded = []
        for r in rows:
            main = config.hardware_at({k: r[k] for k in config.grid}).backend
            expanded.append({**r, "readout": f"{main} (configured)" if main in config.readouts else main})
        for name in config.readouts:
            key = f"accuracy_{metric_name(name)}"
            expanded += [{**r, "readout": name, "accuracy_mean": r.get(f"{key}_mean"),
                          "accuracy_std": r.get(f"{key}_std")} for r in rows]
        rows = expanded
        grid = [*grid, "readout"]
    if "alpha" in grid or "alpha_beta" in grid:
        x = "alpha" if "alpha" in grid else "alpha_beta"
        drawn.add(x)
        fault = "fault_rate" if "fault_rate" in grid and len(config.grid["fault_rate"]) > 1 else None
        by = [g for g in grid if g not in (x, fault)]
        files.append(plot_accuracy_vs_alpha(rows, folder / "accuracy_vs_alpha.png", alpha=x, fault=fault, by=by,
                                            baseline=base, title=f"Test accuracy vs {x} ({config.name})"))
        files.append(plot_metric_lines(orig, folder / "mapping_error_vs_alpha.png", x=x, metric="mapping_error",
                                       panels=fault, by=[g for g in orig_grid if g not in (x, fault)], percent=False,
                                       ylabel=MAPPING_ERROR_LABEL, xlabel=alpha_label(x),
                                       title=f"Weight mapping error vs {x} ({config.name})"))
    if "segment_ohm" in grid:
        drawn.add("segment_ohm")
        by = [g for g in grid if g != "segment_ohm"]
        files.append(plot_accuracy_vs_wire(rows, folder / "accuracy_vs_wire.png", by=by, baseline=base,
                                           title=f"Test accuracy vs wire segment resistance ({config.name})"))
    # the config's own grid keys ("readout" is a column of the expanded rows, not a grid key); by default
    # the first numeric one, as plot_x's documentation says (before: the first key, so a grid of
    # variant, then fault_rate drew no accuracy plot at all)
    numeric = [g for g in orig_grid if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           for v in config.grid[g])]
    generic = config.plot_x if config.plot_x is not None else (numeric[0] if numeric and not files else None)
    if generic is not None and generic not in drawn:
        if generic in numeric:
            files.append(plot_metric_lines(rows, folder / f"accuracy_vs_{metric_name(generic)}.png", x=generic,
                                           metric="accuracy", by=[g for g in grid if g != generic], baseline=base,
                                           ylabel="test accuracy (%)",
                                           title=f"Test accuracy vs {generic} ({config.name})"))
    return files
