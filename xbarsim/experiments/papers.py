"""The papers' own numbers as tables, and the references they give an experiment's report.

Tables (package data in ``xbarsim/experiments/data``, provenance in its README):

* ``"lea-fig4b"`` -- Yousuf et al., Fig. 4b: LEA, MAO and committee machines, alpha 1-6, stuck
  fractions 0-50 %, accuracy and mapping error (mean and std, percent);
* ``"lea-fig5b"`` -- Yousuf et al., Fig. 5b: continual learning on the chip per encoding, placement,
  alpha and beta (task and mean accuracies, mapping errors, percent);
* ``"drolet"`` -- Drolet et al. 2023: robust fractions of the two networks (percent).

A config names a table in ``[[paper]]`` and says how its columns meet our grid::

    [[paper]]
    table = "lea-fig4b"
    columns = { method = "variant" }          # paper column -> our grid key (others: same name)
    values = { method = { lea = "lea", mao = "mao", committee = "committee" } }   # optional renames
    metrics = ["accuracy", "mapping_error"]

:func:`paper_cells` turns every row of the table into one :class:`PaperCell` per metric, with the
value in the unit of our metric (accuracies as fractions); the experiment config makes each a
reference of its report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from xbarsim._validation import short_repr
from xbarsim.errors import ConfigError

__all__ = ["PAPER_TABLES", "PaperTable", "PaperCell", "load_paper_table", "paper_cells"]

#: Table name -> (file, label prefix, how a row's metrics are laid out).
PAPER_TABLES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "lea-fig4b": ("lea_fig4b.csv", "LEA paper Fig. 4b"),
    "lea-fig5b": ("lea_fig5b.csv", "LEA paper Fig. 5b"),
    "drolet": ("drolet.csv", "Drolet et al. 2023"),
})
#: Metrics given as percent in the tables and as fractions in our results.
_FRACTION_METRICS = ("accuracy", "robust_fraction", "mean_accuracy", "software_accuracy")


@dataclass(frozen=True, kw_only=True)
class PaperCell:
    """One published number: what it is, our metric, our grid point and the value in our unit."""

    label: str
    metric: str
    point: Mapping[str, Any]
    value: float


@dataclass(frozen=True, kw_only=True)
class PaperTable:
    """One table: its name, label, column names and rows (numbers parsed, the rest strings)."""

    name: str
    label: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]


def _parse(v: str) -> Any:
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f


def load_paper_table(name: str) -> PaperTable:
    """The table ``name`` of :data:`PAPER_TABLES`; a ConfigError lists the valid names."""
    if not isinstance(name, str) or name not in PAPER_TABLES:
        raise ConfigError(f"`table` must be one of {', '.join(map(repr, PAPER_TABLES))}; got {short_repr(name)}.")
    fname, label = PAPER_TABLES[name]
    text = resources.files("xbarsim.experiments").joinpath("data", fname).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    rows = tuple(MappingProxyType({k: _parse(v) for k, v in r.items()}) for r in reader)
    return PaperTable(name=name, label=label, columns=tuple(reader.fieldnames or ()), rows=rows)


def _metric_value(table: PaperTable, row: Mapping[str, Any], metric: str) -> float | None:
    """The row's value of ``metric`` in our unit, or None if the row does not hold it."""
    if "metric" in table.columns:  # long layout: one metric per row, value in `mean` or `value`
        if row["metric"] != metric:
            return None
        v = row["mean"] if "mean" in table.columns else row["value"]
    else:
        col = f"{metric}_mean" if f"{metric}_mean" in table.columns else metric
        if col not in table.columns:
            raise ConfigError(f"table {table.name!r} has no metric {metric!r}; columns: {', '.join(table.columns)}.")
        v = row[col]
    v = float(v)
    return v / 100.0 if metric in _FRACTION_METRICS or metric.startswith("accuracy_") else v


def paper_cells(name: str, *, metrics: Sequence[str], columns: Mapping[str, str] | None = None,
                values: Mapping[str, Mapping[str, Any]] | None = None,
                where: Mapping[str, Any] | None = None, join: Mapping[str, Sequence[str]] | None = None,
                fixed: Mapping[str, Any] | None = None) -> tuple[PaperCell, ...]:
    """One :class:`PaperCell` per row of table ``name`` (filtered by ``where``) and metric.

    Parameters
    ----------
    name : str
        A table of :data:`PAPER_TABLES`.
    metrics : sequence of str
        Our metrics to compare (``accuracy``, ``mapping_error``, ``robust_fraction``, ...).
    columns : mapping, optional
        Paper column -> our grid key; unnamed key columns keep their name.
    values : mapping, optional
        Paper column -> {paper value -> our value} (e.g. method names).
    where : mapping, optional
        Keep only rows whose columns equal these values (paper spelling).
    join : mapping, optional
        Our key -> paper columns whose values form a list (``{alpha_beta = ["alpha", "beta"]}``).
    fixed : mapping, optional
        Our key -> value added to every point (e.g. the variant that plays the paper's setting).

    Returns
    -------
    tuple of PaperCell
        ``point`` in our keys and values, ``value`` in our metric's unit.
    """
    table = load_paper_table(name)
    cols = dict(columns or {})
    vals = {k: dict(v) for k, v in (values or {}).items()}
    filt = dict(where or {})
    joins = {k: list(v) for k, v in (join or {}).items()}
    joined = {c for v in joins.values() for c in v}
    bad = [c for c in [*cols, *vals, *filt, *joined] if c not in table.columns]
    if bad:
        raise ConfigError(f"table {name!r} has no column(s) {bad}; columns: {', '.join(table.columns)}.")
    # a selector that matches no row would leave the report without the paper's numbers, without a word
    for what, col, v in [*(("where", k, v) for k, v in filt.items()),
                         *(("values", k, pv) for k, m in vals.items() for pv in m)]:
        if not any(row[col] == v for row in table.rows):
            have = ", ".join(map(repr, dict.fromkeys(row[col] for row in table.rows)))
            raise ConfigError(f"`{what}`: no row of table {name!r} has {col} = {short_repr(v)}; its values: {have}.")
    value_cols = {"figure", "metric", "mean", "std", "value", "cycles"}
    keys = [c for c in table.columns if c not in value_cols and not c.endswith(("_mean", "_std"))
            and c not in ("task1_accuracy_mean", "task2_accuracy_mean")]
    keys = [c for c in keys if not c.startswith("layer")]
    out: list[PaperCell] = []
    for row in table.rows:
        if any(row.get(k) != v for k, v in filt.items()):
            continue
        point = {cols.get(k, k): vals.get(k, {}).get(row[k], row[k]) for k in keys if k not in filt and k not in joined}
        point.update({k: [row[c] for c in v] for k, v in joins.items()})
        point.update(dict(fixed or {}))
        for metric in metrics:
            v = _metric_value(table, row, metric)
            if v is None:
                continue
            desc = ", ".join(f"{k} {row[k]}" for k in keys)
            out.append(PaperCell(label=f"{table.label}: {desc}", metric=metric, point=point, value=v))
    for metric in metrics:
        if not any(c.metric == metric for c in out):
            held = sorted({str(r["metric"]) for r in table.rows}) if "metric" in table.columns else []
            raise ConfigError(f"no row of table {name!r}{' kept by `where`' if filt else ''} holds metric "
                              f"{metric!r}" + (f"; its metrics: {', '.join(held)}." if held else "."))
    return tuple(out)
