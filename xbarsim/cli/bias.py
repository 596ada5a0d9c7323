"""The ``xbarsim bias-compare`` subcommand: V/2, V/3, floating and grounded biasing side by side.

Runs :func:`xbarsim.analysis.bias_report` for one ``n x n`` array and prints ONE table (scheme x
metrics: selected-cell voltage after IR drop and its near-to-far fall-off, worst half-selected and
unselected cell voltages, cells above the disturb threshold, driver current and power, read margin
and sneak share), then writes under ``--out``:

* ``cell_voltages_<scheme>.png`` -- heatmap of every cell's voltage while the far-corner cell is
  programmed (worst-case pattern), one per scheme;
* ``read_margin.png`` -- read margin versus array size per scheme (and with an ohmic device), and
  versus wire resistance;
* ``selected_voltage.png`` -- the selected-cell voltage from the near to the far corner per scheme;
* ``bias_compare.csv`` (the table) and ``bias_compare.json`` (every number of the report).

Progress lines go to stderr (``--quiet`` silences them).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from xbarsim.errors import ConfigError

__all__ = ["add_parser", "PRESETS"]

#: Device presets selectable with ``--preset``.
PRESETS: tuple[str, ...] = ("tio2_passive", "rram_1t1r_nist")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bias-compare`` on an ``argparse`` subparsers object and return its parser."""
    p = subparsers.add_parser(
        "bias-compare",
        help="compare V/2, V/3, floating and grounded biasing: programming, disturb, read margin",
        description=(__doc__ or "").split("\n")[0],
    )
    p.add_argument("--size", type=int, default=128, help="n of the n x n array (default 128)")
    p.add_argument("--segment", type=float, default=1.0, help="row and column wire segment resistance, ohm")
    p.add_argument("--driver", type=float, default=0.0, help="row driver output resistance, ohm")
    p.add_argument("--sense", type=float, default=0.0, help="column sense/driver resistance, ohm")
    p.add_argument("--preset", default="tio2_passive", choices=PRESETS,
                   help="device preset: window (ON = g_max, OFF = g_min), I-V law, read voltage")
    p.add_argument("--linear", action="store_true", help="replace the preset's I-V law by an ohmic one")
    p.add_argument("--v-write", type=float, default=2.0, help="programming (SET) pulse amplitude, volt")
    p.add_argument("--v-read", type=float, default=None, help="read voltage, volt (default: the preset's)")
    p.add_argument("--threshold", type=float, default=None,
                   help="disturb threshold |V|, volt (default: the calibrated switching law's, 0.6-0.9 V)")
    p.add_argument("--backend", default="sparse", choices=("sparse", "ngspice"),
                   help="solver for every metric (ngspice is practical up to about 32x32)")
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256],
                   help="array sizes of the read-margin curve")
    p.add_argument("--segments", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 5.0],
                   help="wire segment resistances (ohm) of the margin-versus-wire sweep")
    p.add_argument("--out", type=Path, default=Path("results/bias_compare"), help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--transient", action="store_true", help="program the --size array through the circuit with "
                   "pulse trains on dynamic TiO2 devices, per scheme (slow: use --size 8)")
    p.set_defaults(func=run)
    return p


def _preset(args: argparse.Namespace) -> Any:
    from xbarsim.devices import Ohmic, rram_1t1r_nist, tio2_passive

    if args.preset == "tio2_passive":
        pre = tio2_passive()
    elif args.preset == "rram_1t1r_nist":
        pre = rram_1t1r_nist()
    else:
        raise ConfigError(f"`--preset` must be one of {', '.join(PRESETS)}; got {args.preset!r}.")
    return replace(pre, device=Ohmic()) if args.linear else pre


def _backend(name: str, sizes: Sequence[int]) -> Any:
    from xbarsim.solver import NgspiceBackend, NgspiceOptions, SparseBackend

    if name == "sparse":
        return SparseBackend()
    if name == "ngspice":
        return NgspiceBackend(NgspiceOptions(max_cells=max(max(sizes), 1) ** 2))
    raise ConfigError(f"`--backend` must be 'sparse' or 'ngspice'; got {name!r}.")


def _plots(report: Any, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    vw = report.v_write
    for w in report.write.results:
        fig, ax = plt.subplots(figsize=(5.2, 4.4), constrained_layout=True)
        im = ax.imshow(w.cell_voltages, cmap="coolwarm", vmin=-vw, vmax=vw, interpolation="nearest")
        ax.plot([w.col], [w.row], marker="s", mfc="none", mec="k", ms=8)
        ax.set_title(f"{w.scheme}: cell voltage (V), {report.size}x{report.size}\n"
                     f"selected {w.selected_voltage:.3f} V of {vw:g} V, {w.n_disturbed} cells > {w.threshold:.2f} V")
        ax.set_xlabel("column j (bit line, driven at the bottom)")
        ax.set_ylabel("row i (word line, driven at the left)")
        fig.colorbar(im, ax=ax, label="V")
        path = out / f"cell_voltages_{w.scheme.replace('/', '')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    c, lin = report.margin_curve, report.margin_curve_linear
    for s, scheme in enumerate(c.schemes):
        line, = axes[0].plot(c.sizes, c.margin[s], marker="o", label=f"{scheme} ({c.device})")
        if lin is not c:
            axes[0].plot(lin.sizes, lin.margin[s], ls="--", color=line.get_color(), label=f"{scheme} (ohmic)")
    axes[0].axhline(c.ideal_margin, color="k", lw=0.8, ls=":", label="isolated cell")
    axes[0].axhline(0.0, color="k", lw=0.6)
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("array size n (n x n)")
    axes[0].set_ylabel("read margin (I_on - I_off) / I_on")
    axes[0].set_title(f"worst-case read margin, {report.lines.row_segment:g} ohm segments, V_read {report.v_read:g} V")
    axes[0].legend(fontsize=7, ncol=2)
    wire = report.margin_vs_wire
    for scheme in c.schemes:
        axes[1].plot(wire["segments_ohm"], wire[scheme], marker="o", label=scheme)
    axes[1].axhline(0.0, color="k", lw=0.6)
    axes[1].set_xlabel("wire segment resistance (ohm)")
    axes[1].set_ylabel("read margin")
    axes[1].set_title(f"read margin vs wire resistance, {report.size}x{report.size}")
    axes[1].legend(fontsize=8)
    path = out / "read_margin.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    for scheme, prof in report.profiles.items():
        cells, volts = prof.profile()
        n = max(report.size - 1, 1)
        along = (cells[:, 1] + (n - cells[:, 0])) / (2 * n)  # 0 at the near corner, 1 at the far corner
        ax.plot(along, volts, marker="o", label=scheme)
    ax.set_xlabel("diagonal position: near corner (M-1, 0) -> far corner (0, N-1)")
    ax.set_ylabel("selected-cell voltage (V)")
    ax.set_title(f"selected-cell voltage vs position, {report.size}x{report.size}, all cells ON, V_write {vw:g} V",
                 fontsize=9)
    ax.legend()
    path = out / "selected_voltage.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    """Run ``bias-compare`` from parsed arguments; returns the exit status."""
    from xbarsim.analysis import bias_report
    from xbarsim.netlists import LineResistance

    say = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.size < 2:
        raise ConfigError(f"`--size` must be >= 2; got {args.size}.")
    if not args.sizes or min(args.sizes) < 2:
        raise ConfigError(f"`--sizes` must be array sizes >= 2; got {args.sizes}.")
    if min(args.segment, args.driver, args.sense) < 0:
        raise ConfigError("`--segment`, `--driver` and `--sense` must be non-negative resistances in ohm.")
    lines = LineResistance.uniform(args.segment, driver=args.driver, sense=args.sense)
    if args.transient:
        from xbarsim.analysis.transient_report import transient_bias_report, write_transient_report

        rep = transient_bias_report(args.size, lines=lines, progress=say)
        say("wrote " + ", ".join(str(p) for p in write_transient_report(rep, args.out)))
        print(rep.report())
        return 0
    preset = _preset(args)
    backend = _backend(args.backend, [*args.sizes, args.size])
    t0 = time.perf_counter()
    report = bias_report(args.size, preset=preset, lines=lines, v_write=args.v_write, v_read=args.v_read,
                         threshold=args.threshold, sizes=args.sizes, segments=args.segments, backend=backend,
                         progress=say)
    elapsed = time.perf_counter() - t0
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rows = report.table()
    with (out / "bias_compare.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    doc = report.to_dict()
    doc["elapsed_s"] = elapsed
    (out / "bias_compare.json").write_text(json.dumps(doc, indent=2))
    say("writing figures")
    pngs = _plots(report, out)
    print(f"{report.size}x{report.size} {report.preset} ({report.device}), {args.segment:g} ohm segments, "
          f"V_write {report.v_write:g} V, V_read {report.v_read:g} V, backend {report.backend}; "
          f"far-corner cell, worst-case patterns")
    print(report.markdown())
    say(f"done in {elapsed:.1f} s; wrote {out / 'bias_compare.csv'}, {out / 'bias_compare.json'} and "
        + ", ".join(p.name for p in pngs))
    return 0
