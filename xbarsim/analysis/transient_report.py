"""``bias-compare --transient``: whole-array programming through the circuit, one run per scheme.

For each bias scheme the same array (same initial states, same targets, same wires) is programmed
cell by cell with write-verify pulse trains on dynamic devices
(:func:`~xbarsim.analysis.transient_programming.program_array_transient`). The report gives the
programming error of the target map, the disturbance of earlier cells against the number of cells
programmed after them (compared in shape with Drolet et al.'s measured database), pulses, energy
and time. All logic lives here; the CLI only parses flags and calls :func:`transient_bias_report`
and :func:`write_transient_report`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import xbarsim.provenance as provenance
from xbarsim._files import replace_from, write_csv, write_text
from xbarsim._typing import WriteSchemeName
from xbarsim._validation import check_int
from xbarsim.analysis._common import check_line_progress
from xbarsim.analysis.disturbance import DisturbanceComparison, compare_disturbance
from xbarsim.analysis.transient_programming import (
    TransientProgrammingResult,
    WriteVerifySettings,
    program_array_transient,
)
from xbarsim.devices.dynamic import DynamicDevice, tio2_vteam
from xbarsim.devices.dynamic_fit import DROLET_EDGES, DROLET_WIDTH
from xbarsim.errors import ConfigError
from xbarsim.netlists.bias import WRITE_SCHEMES
from xbarsim.netlists.lines import LineResistance

__all__ = ["TransientBiasReport", "transient_bias_report", "write_transient_report"]

#: Counts n at which the report's table shows the disturbance curve.
_SHOWN_N = (1, 10, 30)


@dataclass(frozen=True, kw_only=True, eq=False)
class TransientBiasReport:
    """Per-scheme results of programming one array through the circuit.

    Attributes
    ----------
    size : int
        ``n`` of the ``n x n`` array.
    results : dict of str to TransientProgrammingResult
        One whole-array programming per scheme, same targets and initial states.
    comparisons : dict of str to DisturbanceComparison or None
        Each scheme's disturbance curve against Drolet's measured one (``None`` when the array is
        too small to share two counts ``n`` with it).
    model : DynamicDevice
    lines : LineResistance
    settings : WriteVerifySettings
        The settings of the first scheme (the others differ only in ``scheme``).
    seed : int
    """

    size: int
    results: dict[str, TransientProgrammingResult]
    comparisons: dict[str, DisturbanceComparison | None]
    model: DynamicDevice
    lines: LineResistance
    settings: WriteVerifySettings
    seed: int

    def table(self) -> list[dict[str, Any]]:
        """One row per scheme; every number recomputable from ``results`` (SI units, uS where named)."""
        rows = []
        for scheme, res in self.results.items():
            err = np.abs(res.relative_error)
            curve = res.curve
            row: dict[str, Any] = {
                "scheme": scheme,
                "mean_abs_error_pct": 100 * float(err.mean()),
                "max_abs_error_pct": 100 * float(err.max()),
                "within_tolerance_pct": 100 * float((err <= self.settings.tolerance).mean()),
                "verified_pct": 100 * float(res.verified.mean()),
                "pulses_total": int(res.pulses.sum()),
                "pulses_per_cell": float(res.pulses.mean()),
                "energy_J": float(res.energy.sum()),
                "programming_time_s": res.programming_time,
                "wall_s": res.wall_s,
            }
            for n in _SHOWN_N:
                ok = n <= curve.n.size and curve.count[n - 1] > 0
                row[f"dist_mean_uS_n{n}"] = 1e6 * float(curve.mean[n - 1]) if ok else float("nan")
                row[f"dist_std_uS_n{n}"] = 1e6 * float(curve.std[n - 1]) if ok else float("nan")
            cmp = self.comparisons.get(scheme)
            row["drolet_rms_mean_uS"] = 1e6 * cmp.rms_mean if cmp else float("nan")
            row["drolet_rms_std_uS"] = 1e6 * cmp.rms_std if cmp else float("nan")
            row["drolet_corr_mean"] = cmp.corr_mean if cmp else float("nan")
            row["drolet_corr_std"] = cmp.corr_std if cmp else float("nan")
            rows.append(row)
        return rows

    def report(self) -> str:
        """A markdown table plus the measured reference line ("n/a" for a count the array never reaches)."""
        rows = self.table()
        head = ("| scheme | mean abs err % | in tol % | pulses/cell | energy (nJ) | prog. time (us) | "
                + " | ".join(f"dist n={n} mean/std (uS)" for n in _SHOWN_N)
                + " | vs Drolet rms mean/std (uS) | corr mean/std |")
        lines = [head, "|" + "---|" * (head.count("|") - 1)]
        for r in rows:
            # "n/a" where the array is too small for a count (a 3x3 array never reaches n = 10): it printed "nan"
            dist = " | ".join(f"{_num(r[f'dist_mean_uS_n{n}'])} / {_num(r[f'dist_std_uS_n{n}'])}" for n in _SHOWN_N)
            lines.append(
                f"| {r['scheme']} | {r['mean_abs_error_pct']:.2f} | {r['within_tolerance_pct']:.1f} | "
                f"{r['pulses_per_cell']:.2f} | {1e9 * r['energy_J']:.2f} | {1e6 * r['programming_time_s']:.1f} | "
                f"{dist} | {r['drolet_rms_mean_uS']:.2f} / {r['drolet_rms_std_uS']:.2f} | "
                f"{r['drolet_corr_mean']:.2f} / {r['drolet_corr_std']:.2f} |")
        meas = next((c for c in self.comparisons.values() if c is not None), None)
        if meas is not None:
            idx = [int(np.flatnonzero(meas.n == n)[0]) for n in _SHOWN_N if n in meas.n]
            lines.append("")
            lines.append("Drolet measured (V/2, 8x8): " + ", ".join(
                f"n={int(meas.n[k])}: {1e6 * meas.meas_mean[k]:.2f} / {1e6 * meas.meas_std[k]:.2f} uS" for k in idx))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Every number of the report, JSON-ready (curves per scheme included)."""
        # strict JSON: a count n the array is too small to reach (or no Drolet comparison) is null, not NaN
        table = [{k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in row.items()}
                 for row in self.table()]
        out: dict[str, Any] = {"size": self.size, "seed": self.seed, "model": repr(self.model),
                               "settings": repr(self.settings), "table": table, "curves": {}}
        for scheme, res in self.results.items():
            c = res.curve
            out["curves"][scheme] = {"n": c.n.tolist(), "mean_S": [None if not np.isfinite(x) else float(x) for x in c.mean],
                                     "std_S": [None if not np.isfinite(x) else float(x) for x in c.std],
                                     "count": c.count.tolist()}
        return out


def transient_bias_report(
    size: int = 8,
    *,
    schemes: Sequence[WriteSchemeName] = WRITE_SCHEMES,  # type: ignore[assignment]
    model: DynamicDevice | None = None,
    lines: LineResistance | None = None,
    settings: WriteVerifySettings | None = None,
    seed: int = 0,
    n_track: int = 35,
    progress: Callable[[str], None] | None = None,
) -> TransientBiasReport:
    """Program one ``size x size`` array under each scheme and compare.

    Targets and initial states are uniform in the model's window from ``numpy.random.default_rng(seed)``
    (the same for every scheme); the order is row-major (Drolet's). Default model
    :func:`~xbarsim.devices.dynamic.tio2_vteam` with its fitted device-to-device threshold spread,
    drawn per cell from ``numpy.random.default_rng([seed, 1])`` (the same cells for every scheme);
    default wires 1 ohm segments with 10 ohm drivers and sense resistances; default pulses
    Drolet's (:data:`~xbarsim.devices.dynamic_fit.DROLET_WIDTH` flat top, 0.5 us rise and fall).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise ConfigError(f"`size` must be an int >= 2; got {size!r}.")
    if isinstance(schemes, str) or not isinstance(schemes, Sequence) or len(schemes) == 0:
        raise ConfigError(f"`schemes` must be a non-empty sequence of schemes among {WRITE_SCHEMES}; got {schemes!r}.")
    for s in schemes:
        if s not in WRITE_SCHEMES:
            raise ConfigError(f"`schemes` must name schemes among {WRITE_SCHEMES}; got {s!r}.")
    seed = check_int(seed, "seed", 0, 2**63 - 1)
    check_line_progress(progress)
    mdl = model if model is not None else tio2_vteam(shape=(size, size), rng=np.random.default_rng([seed, 1]))
    wires = lines if lines is not None else LineResistance.uniform(1.0, driver=10.0, sense=10.0)
    base = settings if settings is not None else WriteVerifySettings(
        width=DROLET_WIDTH, rise=DROLET_EDGES / 2, fall=DROLET_EDGES / 2)
    rng = np.random.default_rng(seed)
    g_lo, g_hi = float(mdl.conductance(np.array(0.0))), float(mdl.conductance(np.array(1.0)))
    target = rng.uniform(g_lo, g_hi, (size, size))
    initial = rng.uniform(g_lo, g_hi, (size, size))
    results: dict[str, TransientProgrammingResult] = {}
    comparisons: dict[str, DisturbanceComparison | None] = {}
    for scheme in schemes:
        if progress is not None:
            progress(f"programming {size}x{size} under {scheme}")
        res = program_array_transient(target, model=mdl, lines=wires, settings=replace(base, scheme=scheme),
                                      initial=initial, order="row-major", n_track=n_track, progress=progress)
        results[scheme] = res
        try:
            comparisons[scheme] = compare_disturbance(res.curve, n_max=min(35, n_track))
        except ConfigError:
            comparisons[scheme] = None
    return TransientBiasReport(size=size, results=results, comparisons=comparisons, model=mdl, lines=wires,
                               settings=replace(base, scheme=schemes[0]), seed=seed)


def write_transient_report(report: TransientBiasReport, out: Path,
                           prov: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``bias_compare_transient.csv``, ``.json`` and ``disturbance_transient.png`` under ``out``,
    each with the provenance record ``prov`` (:func:`xbarsim.provenance.collect`; default: one
    collected now), its seed the report's."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prov = {**(prov if prov is not None else provenance.collect()), "seed": report.seed}
    rows = report.table()
    paths = [out / "bias_compare_transient.csv", out / "bias_compare_transient.json", out / "disturbance_transient.png"]
    # each file whole or not at all (before: an interrupt mid-write left a truncated CSV)
    write_csv(paths[0], rows, prov)
    doc = report.to_dict()
    doc["provenance"] = provenance.provenance_json(prov)
    write_text(paths[1], json.dumps(doc, indent=2, allow_nan=False))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    meas = next((c for c in report.comparisons.values() if c is not None), None)
    for scheme, res in report.results.items():
        c = res.curve
        ok = c.count > 0
        axes[0].plot(c.n[ok], 1e6 * c.mean[ok], label=scheme)
        axes[1].plot(c.n[ok], 1e6 * c.std[ok], label=scheme)
    if meas is not None:
        axes[0].plot(meas.n, 1e6 * meas.meas_mean, "k--", label="Drolet measured")
        axes[1].plot(meas.n, 1e6 * meas.meas_std, "k--", label="Drolet measured")
    for ax, what in zip(axes, ("mean", "std"), strict=True):
        ax.set_xlabel("cells programmed afterwards n")
        ax.set_ylabel(f"{what} of dG (uS)")
        ax.legend()
    fig.suptitle(f"{report.size}x{report.size} programmed through the circuit ({report.model.name})")
    fig.tight_layout()
    replace_from(paths[2], lambda tmp: fig.savefig(tmp, dpi=100, format="png", metadata=provenance.png_metadata(prov)))
    plt.close(fig)
    return paths


def _num(value: float) -> str:
    """A table cell: two decimals, or "n/a" for a figure that does not exist (NaN)."""
    return "n/a" if not np.isfinite(value) else f"{value:.2f}"
