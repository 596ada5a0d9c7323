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

``--transient`` programs the array through the circuit instead and writes ``bias_compare_transient.csv``,
``bias_compare_transient.json`` and ``disturbance_transient.png``.

Progress lines go to stderr (``--quiet`` silences them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from xbarsim.devices import PRESETS, Ohmic
import xbarsim.provenance as provenance
from xbarsim._files import replace_from, write_csv, write_text
from xbarsim._validation import check_size
from xbarsim.errors import ConfigError
from xbarsim.solver import NgspiceOptions, get_backend

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bias-compare`` on an ``argparse`` subparsers object and return its parser."""
    p = subparsers.add_parser(
        "bias-compare",
        help="compare V/2, V/3, floating and grounded biasing: programming, disturb, read margin",
        description=(
            "Compare V/2, V/3, floating and grounded biasing of one n x n array: selected-cell voltage after IR "
            "drop, half-selected and unselected cell voltages, cells above the disturb threshold, driver current "
            "and power, read margin and sneak share. Prints one table and writes OUT/bias_compare.csv, "
            "OUT/bias_compare.json, OUT/cell_voltages_<scheme>.png per scheme (v2, v3, floating, grounded), "
            "OUT/read_margin.png and OUT/selected_voltage.png. With --transient: OUT/bias_compare_transient.csv, "
            "OUT/bias_compare_transient.json and OUT/disturbance_transient.png instead."),
    )
    p.add_argument("--size", type=int, default=128, help="n of the n x n array")
    p.add_argument("--segment", type=float, default=1.0, help="row and column wire segment resistance, ohm")
    p.add_argument("--driver", type=float, default=None,
                   help="row driver output resistance, ohm (default: 0; 10 with --transient)")
    p.add_argument("--sense", type=float, default=None,
                   help="column sense/driver resistance, ohm (default: 0; 10 with --transient)")
    p.add_argument("--preset", default="tio2_passive", choices=tuple(PRESETS),
                   help="device preset: window (ON = g_max, OFF = g_min), I-V law, read voltage")
    p.add_argument("--linear", action="store_true", help="replace the preset's I-V law by an ohmic one")
    p.add_argument("--v-write", type=float, default=2.0, help="programming (SET) pulse amplitude, volt")
    p.add_argument("--v-read", type=float, default=None, help="read voltage, volt (default: the preset's)")
    p.add_argument("--threshold", type=float, default=None,
                   help="disturb threshold |V|, volt (default: 0.6 V, the lower (RESET) threshold of the "
                        "calibrated TiO2 switching law, whatever the preset)")
    p.add_argument("--backend", default="sparse", choices=("sparse", "ngspice"),
                   help="solver for every metric (ngspice is practical up to about 32x32)")
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256],
                   help="array sizes of the read-margin curve; the table's read margin and sneak share need --size "
                        "among them")
    p.add_argument("--segments", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 5.0],
                   help="wire segment resistances (ohm) of the margin-versus-wire sweep")
    p.add_argument("--out", type=Path, default=Path("results/bias_compare"), metavar="DIR", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--transient", action="store_true", help="program the --size array through the circuit with "
                   "pulse trains on dynamic TiO2 devices, per scheme (slow: use --size 8); takes only --size, "
                   "--segment, --driver, --sense, --out and --quiet")
    p.set_defaults(func=run)
    p.set_defaults(static_defaults={dest: p.get_default(dest) for _, dest in _STATIC_ONLY})
    return p


#: The flags of the static comparison that `--transient` does not use, and their defaults.
_STATIC_ONLY = (("--preset", "preset"), ("--linear", "linear"), ("--v-write", "v_write"), ("--v-read", "v_read"),
                ("--threshold", "threshold"), ("--backend", "backend"), ("--sizes", "sizes"),
                ("--segments", "segments"))


def _preset(args: argparse.Namespace) -> Any:
    pre = PRESETS[args.preset]()
    return replace(pre, device=Ohmic()) if args.linear else pre


def _backend(name: str, sizes: Sequence[int]) -> Any:
    """The ``--backend`` through the registry; ngspice's size guard admits the largest array."""
    return get_backend(name, NgspiceOptions(max_cells=max(max(sizes), 1) ** 2) if name == "ngspice" else None)


#: One marker and line style per scheme, so that no scheme hides another where their lines coincide.
_STYLE = {"v/2": ("o", "-"), "v/3": ("s", "--"), "floating": ("^", "-."), "grounded": ("D", ":")}


def _style(scheme: str, k: int) -> dict[str, Any]:
    marker, ls = _STYLE.get(scheme, ("ov^sD"[k % 5], "-"))
    return {"marker": marker, "ls": ls, "ms": 7 - 1.2 * k, "mfc": "none" if k % 2 else None, "mew": 1.3}


def _savefig(fig: Any, path: Path, metadata: dict[str, str] | None) -> None:
    replace_from(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png", metadata=metadata))


def _plots(report: Any, out: Path, metadata: dict[str, str] | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    written = []
    vw = report.v_write
    n = report.size
    for w in report.write.results:
        fig, ax = plt.subplots(figsize=(5.6, 4.8), constrained_layout=True)
        im = ax.imshow(w.cell_voltages, cmap="coolwarm", vmin=-vw, vmax=vw, interpolation="nearest")
        # the selected row and column, visible at any size, and the selected cell itself
        ax.axhline(w.row, color="k", lw=0.8, ls="--")
        ax.axvline(w.col, color="k", lw=0.8, ls="--")
        ax.plot([w.col], [w.row], marker="s", mfc="none", mec="k", ms=9, mew=1.5)
        if n > 32:  # zoom on the 8 x 8 corner around the selected cell
            r0, c0 = max(w.row - 4, 0), max(w.col - 4, 0)
            r1, c1 = min(r0 + 8, n), min(c0 + 8, n)
            ins = ax.inset_axes((0.05, 0.05, 0.42, 0.42))
            ins.imshow(w.cell_voltages, cmap="coolwarm", vmin=-vw, vmax=vw, interpolation="nearest")
            ins.set_xlim(c0 - 0.5, c1 - 0.5)
            ins.set_ylim(r1 - 0.5, r0 - 0.5)
            ins.plot([w.col], [w.row], marker="s", mfc="none", mec="k", ms=9, mew=1.5)
            ins.set_xticks([c0, c1 - 1])
            ins.set_yticks([r0, r1 - 1])
            ins.tick_params(labelsize=6)
            ax.indicate_inset_zoom(ins, edgecolor="k")
        ax.set_title(f"Cell voltages while programming cell ({w.row}, {w.col}), {w.scheme} scheme, {n}x{n}\n"
                     f"selected cell {w.selected_voltage:.3f} V of {vw:g} V; {w.n_disturbed} other cells above "
                     f"{w.threshold:.2f} V", fontsize=9)
        ax.set_xlabel("column j (bit line, driven at the bottom)")
        ax.set_ylabel("row i (word line, driven at the left)")
        fig.colorbar(im, ax=ax, label="cell voltage (V)")
        path = out / f"cell_voltages_{w.scheme.replace('/', '')}.png"
        _savefig(fig, path, metadata)
        plt.close(fig)
        written.append(path)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True, sharey=True)
    c, lin = report.margin_curve, report.margin_curve_linear
    for s, scheme in enumerate(c.schemes):
        line, = axes[0].plot(c.sizes, c.margin[s], label=f"{scheme} ({c.device})", **_style(scheme, s))
        if lin is not c:
            axes[0].plot(lin.sizes, lin.margin[s], color=line.get_color(), alpha=0.55, label=f"{scheme} (ohmic)",
                         **{**_style(scheme, s), "ls": (0, (1, 1))})
    axes[0].axhline(c.ideal_margin, color="k", lw=0.8, ls=":", label="isolated cell")
    axes[0].axhline(0.0, color="k", lw=0.6)
    axes[0].set_xscale("log", base=2)
    axes[0].xaxis.set_major_locator(FixedLocator(list(c.sizes)))
    axes[0].xaxis.set_minor_locator(NullLocator())
    axes[0].set_xticklabels([str(int(v)) for v in c.sizes])
    axes[0].set_xlabel("array size n (n x n cells)")
    axes[0].set_ylabel("worst-case read margin (I_on - I_off) / I_on")
    axes[0].set_title(f"Read margin vs array size, {report.lines.row_segment:g} ohm segments, "
                      f"V_read {report.v_read:g} V", fontsize=10)
    axes[0].legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=False)
    wire = report.margin_vs_wire
    for k, scheme in enumerate(c.schemes):
        axes[1].plot(wire["segments_ohm"], wire[scheme], label=scheme, **_style(scheme, k))
    axes[1].axhline(0.0, color="k", lw=0.6)
    axes[1].set_xlabel("wire segment resistance (ohm)")
    axes[1].set_title(f"Read margin vs wire resistance, {n}x{n} (same y axis as the left panel)", fontsize=10)
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=False, ncol=4)
    path = out / "read_margin.png"
    _savefig(fig, path, metadata)
    plt.close(fig)
    written.append(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    for k, (scheme, prof) in enumerate(report.profiles.items()):
        cells, volts = prof.profile()
        m = max(n - 1, 1)
        along = (cells[:, 1] + (m - cells[:, 0])) / (2 * m)  # 0 at the near corner, 1 at the far corner
        ax.plot(along, volts, label=f"{scheme} ({len(cells)} cells)", **_style(scheme, k))
    ax.set_xlabel("selected cell on the diagonal: 0 = near corner (n-1, 0), 1 = far corner (0, n-1)")
    ax.set_ylabel("voltage across the selected cell (V)")
    ax.set_title(f"Selected-cell voltage vs position, {n}x{n}, all cells ON, V_write {vw:g} V", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False, ncol=4)
    path = out / "selected_voltage.png"
    _savefig(fig, path, metadata)
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
    # before any array of that size is allocated (numpy's MemoryError would end in a traceback)
    check_size((args.size, args.size), "--size")
    for n in args.sizes:
        check_size((n, n), "--sizes")
    # the transient report's calibrated array has 10 ohm drivers and sense resistances (docs/transient.md);
    # before, --transient got the static comparison's 0 ohm and its read operating point did not converge
    # from --size 3 up (the help's --size 8 included)
    default_end = 10.0 if args.transient else 0.0
    driver = default_end if args.driver is None else args.driver
    sense = default_end if args.sense is None else args.sense
    if min(args.segment, driver, sense) < 0:
        raise ConfigError("`--segment`, `--driver` and `--sense` must be non-negative resistances in ohm.")
    lines = LineResistance.uniform(args.segment, driver=driver, sense=sense)
    if args.transient:
        from xbarsim.analysis.transient_report import transient_bias_report, write_transient_report

        # the transient report programs its own dynamic TiO2 devices with its own pulse trains: these
        # flags would be ignored without a word
        defaults = getattr(args, "static_defaults", {})
        ignored = [flag for flag, dest in _STATIC_ONLY if dest in defaults and getattr(args, dest) != defaults[dest]]
        if ignored:
            raise ConfigError(f"`{ignored[0]}` does not apply to `--transient` (its dynamic TiO2 devices, pulse "
                              f"trains and sparse solver are fixed; it takes --size, --segment, --driver, --sense, "
                              f"--out and --quiet); got {', '.join(ignored)}.")

        prov = provenance.collect(command=getattr(args, "command_line", None))  # the seed is the report's
        rep = transient_bias_report(args.size, lines=lines, progress=say)
        say("wrote " + ", ".join(str(p) for p in write_transient_report(rep, args.out, prov)))
        print(rep.report())
        return 0
    preset = _preset(args)
    backend = _backend(args.backend, [*args.sizes, args.size])
    prov = provenance.collect(command=getattr(args, "command_line", None), ngspice=args.backend == "ngspice")
    t0 = time.perf_counter()
    report = bias_report(args.size, preset=preset, lines=lines, v_write=args.v_write, v_read=args.v_read,
                         threshold=args.threshold, sizes=args.sizes, segments=args.segments, backend=backend,
                         progress=say)
    elapsed = time.perf_counter() - t0
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # each file whole or not at all (before: an interrupt mid-write left a truncated CSV)
    write_csv(out / "bias_compare.csv", report.table(), prov)
    doc = report.to_dict()
    doc["elapsed_s"] = elapsed
    doc["provenance"] = provenance.provenance_json(prov)
    write_text(out / "bias_compare.json", json.dumps(doc, indent=2, allow_nan=False))  # strict JSON: null where not computed
    say("writing figures")
    pngs = _plots(report, out, provenance.png_metadata(prov))
    print(f"{report.size}x{report.size} {report.preset} ({report.device}), {args.segment:g} ohm segments, "
          f"V_write {report.v_write:g} V, V_read {report.v_read:g} V, backend {report.backend}; "
          f"far-corner cell, worst-case patterns")
    print(report.markdown())
    say(f"done in {elapsed:.1f} s; wrote {out / 'bias_compare.csv'}, {out / 'bias_compare.json'} and "
        + ", ".join(p.name for p in pngs))
    return 0
