"""The circuit commands of ``xbarsim``: ``netlist`` (write a .cir), ``solve`` (print/write JSON of
the operating point; cell voltages as CSV and heatmap), ``crosscheck`` (two backends, default sparse vs ngspice) and
``demo`` (a 64x64 IR-drop tour). Every circuit command takes a device law (``--device sinh --sinh-a
2.07``) or a device preset (``--preset tio2_passive``); every file written records its provenance."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

import xbarsim.provenance as provenance
from xbarsim._files import replace_from, write_text
from xbarsim._validation import check_size
from xbarsim.errors import ConfigError
from xbarsim.netlists import WRITE_SCHEMES, BiasScheme, Crossbar, LineResistance, build_netlist, to_spice
from xbarsim.solver import BACKENDS, NgspiceOptions, crosscheck, get_backend, solve_netlist

__all__ = ["add_parser"]


#: Device presets of ``--preset``: name -> factory in :mod:`xbarsim.devices`.
CIRCUIT_PRESETS: tuple[str, ...] = ("tio2_passive", "rram_1t1r_nist")
#: Device laws of ``--device``.
DEVICE_LAWS: tuple[str, ...] = ("ohmic", "sinh")


def _add_circuit_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("circuit")
    g.add_argument("--rows", type=int, default=16, help="M, number of word lines (inputs)")
    g.add_argument("--cols", type=int, default=16, help="N, number of bit lines (outputs)")
    g.add_argument("--segment", type=float, default=1.0, help="row and column wire segment resistance, ohm")
    g.add_argument("--row-segment", type=float, default=None,
                   help="row segment resistance, ohm (overrides --segment)")
    g.add_argument("--col-segment", type=float, default=None,
                   help="column segment resistance, ohm (overrides --segment)")
    g.add_argument("--driver", type=float, default=0.0, help="row driver output resistance, ohm")
    g.add_argument("--sense", type=float, default=0.0, help="column sense resistance, ohm")
    g.add_argument("--conductance-csv", type=Path, default=None, metavar="FILE",
                   help="M x N conductances in siemens (comma separated); overrides --rows/--cols/--g-range")
    g.add_argument("--g-range", type=float, nargs=2, default=None, metavar=("GMIN", "GMAX"),
                   help="uniform random conductances in siemens; default 1e-6 1e-4 (1 Mohm-10 kohm), or the "
                        "preset's window g_min g_max")
    g.add_argument("--seed", type=int, default=0, help="seed of the random conductances and inputs")
    d = p.add_argument_group("device")
    d.add_argument("--device", default=None, choices=DEVICE_LAWS,
                   help="I-V law of every cell: ohmic I = gV, or sinh I = g sinh(aV)/a; default ohmic, or the "
                        "preset's law")
    d.add_argument("--sinh-a", type=float, default=None, metavar="A",
                   help="nonlinearity a of --device sinh, 1/V; default 2.07 (fitted to the LEA chip's I-V data)")
    d.add_argument("--preset", default=None, choices=CIRCUIT_PRESETS,
                   help="device preset: its I-V law, its conductance window (for random conductances) and its "
                        "read voltage (for --v-read)")
    b = p.add_argument_group("bias")
    b.add_argument("--scheme", default="read", choices=("read", *WRITE_SCHEMES),
                   help="read: all rows driven at --v-read (or --inputs); otherwise the programming scheme that "
                        "writes the --cell at --v-write")
    b.add_argument("--v-read", type=float, default=None,
                   help="read voltage of every row, volt; default 0.3, or the preset's read voltage")
    b.add_argument("--inputs", type=Path, default=None, metavar="FILE",
                   help="CSV of row voltages, volt: one line of M per input vector (B lines: a batch of B), or one "
                        "column of M")
    b.add_argument("--random-inputs", action="store_true", help="row voltages uniform between 0 and --v-read")
    b.add_argument("--cell", type=int, nargs=2, default=(0, 0), metavar=("ROW", "COL"),
                   help="selected cell of a programming scheme (not used by --scheme read)")
    b.add_argument("--v-write", type=float, default=2.0,
                   help="programming voltage, volt (not used by --scheme read)")


def _preset(name: str | None) -> Any:
    if name is None:
        return None
    import xbarsim.devices as devices

    if name not in CIRCUIT_PRESETS:
        raise ConfigError(f"`--preset` must be one of {', '.join(CIRCUIT_PRESETS)}; got {name!r}.")
    return getattr(devices, name)()


def _device(args: argparse.Namespace, preset: Any) -> Any:
    """The cells' I-V law from ``--device``/``--sinh-a``, else the preset's, else ohmic."""
    from xbarsim.devices import LEA_SINH_A, Ohmic, Sinh

    law = args.device
    if law is None and args.sinh_a is not None:
        raise ConfigError(f"`--sinh-a` applies to `--device sinh`; got --sinh-a {args.sinh_a:g} without --device.")
    if law == "ohmic":
        if args.sinh_a is not None:
            raise ConfigError(f"`--sinh-a` applies to `--device sinh`; got --device ohmic --sinh-a {args.sinh_a:g}.")
        return Ohmic()
    if law == "sinh":
        a = LEA_SINH_A if args.sinh_a is None else args.sinh_a
        if not (np.isfinite(a) and a > 0):
            raise ConfigError(f"`--sinh-a` must be a positive nonlinearity in 1/V; got {a:g}.")
        return Sinh(a=a)
    return preset.device if preset is not None else Ohmic()


def circuit_parameters(args: argparse.Namespace, cb: Crossbar) -> dict[str, Any]:
    """The circuit a command built, echoed into its JSON: sizes, wires (ohm), device, bias."""
    lines = cb.lines

    def num(x: Any) -> Any:
        a = np.asarray(x, dtype=np.float64)
        return float(a.flat[0]) if a.size and np.all(a == a.flat[0]) else a.tolist()  # uniform: one number

    doc: dict[str, Any] = {
        "rows": cb.shape[0], "cols": cb.shape[1],
        "row_segment_ohm": num(lines.row_segment), "col_segment_ohm": num(lines.col_segment),
        "row_driver_ohm": num(lines.row_driver), "col_sense_ohm": num(lines.col_sense),
        "device": cb.device.name, "sinh_a_per_V": getattr(cb.device, "a", None), "preset": args.preset,
        "conductance_csv": None if args.conductance_csv is None else str(args.conductance_csv),
        "g_range_S": None if args.conductance_csv is not None else list(args.g_range_used),
        "g_min_S": float(np.min(cb.conductance)), "g_max_S": float(np.max(cb.conductance)),
        "seed": args.seed, "scheme": args.scheme,
    }
    if args.scheme == "read":
        doc.update({"v_read_V": args.v_read_used, "inputs": None if args.inputs is None else str(args.inputs),
                    "random_inputs": args.random_inputs})
    else:
        doc.update({"cell": list(args.cell), "v_write_V": args.v_write})
    return doc


def _command(args: argparse.Namespace) -> list[str] | None:
    """The command line main() recorded (None: the process's own argv)."""
    return getattr(args, "command_line", None)


def _load_csv(path: Path, option: str, ndmin: Literal[1, 2]) -> np.ndarray:
    """A numeric CSV, or ConfigError naming the option and the file (missing, empty, not numbers)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns (not raises) on an empty file
            return np.loadtxt(path, delimiter=",", ndmin=ndmin)
    except (OSError, ValueError, UserWarning) as exc:
        raise ConfigError(f"`{option}` {path}: {exc}") from exc


def _rng(seed: int) -> np.random.Generator:
    if seed < 0:
        raise ConfigError(f"`--seed` must be a non-negative int; got {seed}.")
    return np.random.default_rng(seed)


def _circuit(args: argparse.Namespace) -> tuple[Crossbar, BiasScheme]:
    rng = _rng(args.seed)
    preset = _preset(args.preset)
    device = _device(args, preset)
    if args.g_range is not None:
        args.g_range_used = tuple(args.g_range)
    else:
        args.g_range_used = (preset.g_min, preset.g_max) if preset is not None else (1e-6, 1e-4)
    args.v_read_used = args.v_read if args.v_read is not None else (
        preset.read_voltage if preset is not None else 0.3)
    if not np.isfinite(args.v_read_used):
        raise ConfigError(f"`--v-read` must be a finite voltage in volt; got {args.v_read_used}.")
    if args.conductance_csv is not None:
        g = _load_csv(args.conductance_csv, "--conductance-csv", 2)
    else:
        if args.rows < 1 or args.cols < 1:
            raise ConfigError(f"`--rows` and `--cols` must be >= 1; got {args.rows} x {args.cols}.")
        check_size((args.rows, args.cols), "--rows x --cols")
        lo, hi = args.g_range_used
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo <= hi):
            raise ConfigError(f"`--g-range` must satisfy 0 <= GMIN <= GMAX, finite (siemens); got {lo} {hi}.")
        g = rng.uniform(lo, hi, (args.rows, args.cols))
    seg_r = args.segment if args.row_segment is None else args.row_segment
    seg_c = args.segment if args.col_segment is None else args.col_segment
    lines = LineResistance(row_segment=seg_r, col_segment=seg_c, row_driver=args.driver, col_sense=args.sense)
    cb = Crossbar(conductance=g, lines=lines, device=device)
    m, n = cb.shape
    given = [flag for flag, on in (("--inputs", args.inputs is not None), ("--random-inputs", args.random_inputs)) if on]
    if given and args.scheme != "read":  # a programming scheme drives the lines at fractions of --v-write
        raise ConfigError(f"`{given[0]}` applies to `--scheme read`; got --scheme {args.scheme} {given[0]}.")
    if len(given) == 2:
        raise ConfigError("`--inputs` and `--random-inputs` exclude each other; got both.")
    if args.scheme == "read":
        if args.inputs is not None:
            v = _load_csv(args.inputs, "--inputs", 2)  # one line per input vector: (B, M)
            if v.shape[0] == 1:
                v = v[0]  # one line: one vector, unbatched
            elif v.shape[1] == 1 and v.shape[0] == m and m > 1:
                v = v[:, 0]  # one voltage per line: the M rows' voltages of one vector
            if v.shape[-1] != m:
                raise ConfigError(f"`--inputs` {args.inputs} must hold {m} row voltages per line (one line per input "
                                  f"vector) for a {m}x{n} crossbar; got shape {v.shape}.")
        elif args.random_inputs:
            # the interval between 0 and --v-read, whatever its sign (numpy refuses high < low)
            v = rng.uniform(min(0.0, args.v_read_used), max(0.0, args.v_read_used), m)
        else:
            v = np.full(m, args.v_read_used)
        bias = BiasScheme.read(v)
    else:
        bias = BiasScheme.write(args.cell[0], args.cell[1], args.v_write, args.scheme, shape=(m, n))
    return cb, bias


def _backend(name: str, max_cells: int, shape: tuple[int, int]) -> Any:
    """The ``--backend`` through the registry; ``--max-cells`` is an ngspice option, checked here so
    that the message names the flag."""
    if name == "ngspice" and shape[0] * shape[1] > max_cells:
        raise ConfigError(f"a {shape[0]}x{shape[1]} array has {shape[0] * shape[1]} cells, more than "
                          f"--max-cells {max_cells}; ngspice would take minutes. Raise --max-cells to run it anyway.")
    return get_backend(name, NgspiceOptions(max_cells=max(max_cells, 1)) if name == "ngspice" else None)


def _status(args: argparse.Namespace, text: str, file: Any = None) -> None:
    """A status line (what was written, how long it took); ``--quiet`` drops it, never the results."""
    if not args.quiet:
        print(text, file=file if file is not None else sys.stdout)


def _cmd_netlist(args: argparse.Namespace) -> int:
    cb, bias = _circuit(args)
    text = to_spice(build_netlist(cb, bias), index=None)  # every input vector of --inputs
    title, _, rest = text.partition("\n")
    text = title + "\n" + provenance.spice_comment(provenance.collect(seed=args.seed, command=_command(args))) + rest
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text(args.out, text)
        _status(args, f"wrote {args.out} ({cb.shape[0]}x{cb.shape[1]}, {text.count(chr(10))} lines)")
    return 0


def _solution_json(sol: Any) -> dict[str, Any]:
    return {
        "backend": sol.backend, "method": sol.method, "iterations": sol.iterations,
        "kcl_residual": sol.kcl_residual, "timings_s": dict(sol.timings),
        "output_currents_A": np.asarray(sol.output_currents).tolist(),
        "input_currents_A": np.asarray(sol.input_currents).tolist(),
        "power_W": np.asarray(sol.power).tolist(),
    }


def _savefig(fig: Any, path: Path, prov: dict[str, Any]) -> Path:
    return replace_from(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120,
                                                      metadata=provenance.png_metadata(prov)))


def _cell_voltage_files(sol: Any, args: argparse.Namespace, out: Path, prov: dict[str, Any]) -> list[Path]:
    """``cell_voltages.csv`` (M rows of N volts; a batch: one block per input vector) and
    ``cell_voltages.png`` (the heatmap of the first vector, the selected cell marked)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    cv = np.asarray(sol.cell_voltages)
    blocks = cv.reshape(-1, *cv.shape[-2:])
    csv_path = out / "cell_voltages.csv"

    def write(tmp: Path) -> None:
        with tmp.open("w") as fh:
            fh.write(provenance.csv_header(prov))
            for k, block in enumerate(blocks):
                if len(blocks) > 1:
                    fh.write(f"# input vector {k}\n")
                np.savetxt(fh, block, delimiter=",", fmt="%.17g")

    replace_from(csv_path, write)
    fig = Figure(figsize=(5.6, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    v0 = blocks[0]
    lim = float(np.max(np.abs(v0))) or 1.0
    im = ax.imshow(v0, cmap="coolwarm", vmin=-lim, vmax=lim, interpolation="nearest")
    m, n = v0.shape
    if args.scheme != "read":
        r, c = args.cell
        ax.plot([c], [r], marker="s", ms=10, mfc="none", mec="k", mew=1.5, label=f"selected cell ({r}, {c})")
        ax.axhline(r, color="k", lw=0.6, ls=":")
        ax.axvline(c, color="k", lw=0.6, ls=":")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), fontsize="small", frameon=False)
        what = f"{args.scheme} write of cell ({r}, {c}) at {args.v_write:g} V: {v0[r, c]:.3f} V across it"
    else:
        what = f"read at {args.v_read_used:g} V" if args.inputs is None else "read, inputs from " + args.inputs.name
    ax.set_title(f"Cell voltage, {m}x{n} crossbar ({sol.backend})\n{what}", fontsize="medium")
    ax.set_xlabel("column j (bit line)")
    ax.set_ylabel("row i (word line)")
    if max(m, n) <= 16:
        ax.set_xticks(range(n))
        ax.set_yticks(range(m))
    fig.colorbar(im, ax=ax, label="row minus column voltage (V)")
    return [csv_path, _savefig(fig, out / "cell_voltages.png", prov)]


def _pictures(cb: Crossbar, sols: dict[str, Any], args: argparse.Namespace, out: Path,
              prov: dict[str, Any]) -> list[Path]:
    """badcrossbar-style pictures (every segment and cell coloured by its current) of arrays up to
    MAX_PICTURE_SIDE per side: ``crossbar[_<backend>].png``; larger arrays get none."""
    from xbarsim.analysis import MAX_PICTURE_SIDE, draw_crossbar

    if max(cb.shape) > MAX_PICTURE_SIDE:
        return []
    what = (f"{args.scheme} write of cell ({args.cell[0]}, {args.cell[1]}) at {args.v_write:g} V"
            if args.scheme != "read" else "read")
    written = []
    for name, sol in sols.items():
        stem = "crossbar" if len(sols) == 1 else f"crossbar_{name}"
        title = f"Currents in a {cb.shape[0]}x{cb.shape[1]} crossbar, {what} ({name})"
        path = draw_crossbar(cb, sol, out / f"{stem}.png", quantity="current", title=title)
        written.append(replace_from(path, functools.partial(_stamp, path, prov)))
    return written


def _stamp(path: Path, prov: dict[str, Any], tmp: Path) -> None:
    provenance.stamp_png(path, prov, out=tmp)


def _cmd_solve(args: argparse.Namespace) -> int:
    cb, bias = _circuit(args)
    prov = provenance.collect(seed=args.seed, ngspice=args.backend == "ngspice", command=_command(args))
    sol = solve_netlist(build_netlist(cb, bias), _backend(args.backend, args.max_cells, cb.shape))
    doc = {"circuit": circuit_parameters(args, cb), **_solution_json(sol)}
    if args.scheme != "read" or args.out is not None:
        doc["cell_voltages_V"] = np.asarray(sol.cell_voltages).tolist()
    doc["provenance"] = provenance.provenance_json(prov)
    text = json.dumps(doc, indent=2)
    out = args.out
    if out is None and args.scheme != "read":
        out = Path("results") / "solve" / f"{args.scheme.replace('/', '')}"
    written = []
    if out is not None:
        written = _cell_voltage_files(sol, args, out, prov) + _pictures(cb, {sol.backend: sol}, args, out, prov)
    json_path = args.json if args.json is not None else (out / "solve.json" if out is not None else None)
    summary = (f"{cb.shape[0]}x{cb.shape[1]} solved by {sol.backend} ({sol.method}) in "
               f"{sol.timings.get('total', 0.0):.3f} s, KCL residual {sol.kcl_residual:.1e}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        write_text(json_path, text + "\n")
        written.insert(0, json_path)
        _status(args, f"{summary}; wrote " + ", ".join(str(p) for p in written))
    else:
        print(text)
        if written:
            _status(args, f"{summary}; wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def _cmd_crosscheck(args: argparse.Namespace) -> int:
    if not (np.isfinite(args.rtol) and args.rtol >= 0):
        raise ConfigError(f"`--rtol` must be a finite non-negative tolerance; got {args.rtol}.")
    names = tuple(args.backends)
    if names[0] == names[1]:
        raise ConfigError(f"`--backends` must name two different backends; got {names[0]} twice.")
    cb, bias = _circuit(args)
    prov = provenance.collect(seed=args.seed, ngspice="ngspice" in names, command=_command(args))  # started now
    res = crosscheck(cb, bias, backends=tuple(_backend(b, args.max_cells, cb.shape) for b in names))
    law = cb.device.name + (f" a={cb.device.a:g}/V" if hasattr(cb.device, "a") else "")
    print(f"{cb.shape[0]}x{cb.shape[1]} crossbar ({law} cells), scheme {args.scheme}: {names[0]} vs {names[1]}")
    print(res.report())
    ok = res.max_rel <= args.rtol
    print(f"agreement {'OK' if ok else 'FAILED'}: max relative difference {res.max_rel:.2e} (rtol {args.rtol:g})")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        pictures = _pictures(cb, dict(zip(res.backends, res.solutions)), args, args.out, prov)
        note = ", ".join(str(p) for p in pictures) if pictures else "no picture (arrays above 32x32 are not drawn)"
        _status(args, f"wrote {note}")
    return 0 if ok else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    """64x64 array, 1 ohm segments, 10 kohm-1 Mohm devices: both backends, IR drop, agreement, speed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: Path = args.out
    if not 1 <= args.size <= 256:
        raise ConfigError(f"`--size` must be in [1, 256] (ngspice solves the same array); got {args.size}.")
    rng = _rng(args.seed)
    out.mkdir(parents=True, exist_ok=True)
    m = n = args.size
    g = rng.uniform(1e-6, 1e-4, (m, n))
    v = rng.uniform(0.0, 0.3, m)
    cb = Crossbar(conductance=g, lines=LineResistance.uniform(1.0))
    netlist = build_netlist(cb, BiasScheme.read(v))
    prov = provenance.collect(seed=args.seed, ngspice=True, command=_command(args))  # started now, not after the solves
    progress = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    progress(f"[1/2] sparse solver: {m}x{n}, 1 ohm segments, devices 10 kohm-1 Mohm, inputs 0-0.3 V")
    t = time.perf_counter()
    s_sp = solve_netlist(netlist, get_backend("sparse"))
    t_sp = time.perf_counter() - t
    progress("[2/2] ngspice on the same netlist (takes a few seconds) ...")
    t = time.perf_counter()
    s_ng = solve_netlist(netlist, _backend("ngspice", m * n, (m, n)))
    t_ng = time.perf_counter() - t
    ideal = cb.ideal_currents(v)
    ir_err = np.abs(s_sp.output_currents - ideal) / np.abs(ideal)
    diff = np.abs(s_sp.output_currents - s_ng.output_currents).max() / np.abs(s_ng.output_currents).max()
    vdiff = np.abs(s_sp.node_voltages - s_ng.node_voltages).max()
    rows = [
        ("IR-drop error of output currents vs ideal v @ G (mean)", f"{100 * ir_err.mean():.3f} %"),
        ("IR-drop error of output currents vs ideal v @ G (worst column)", f"{100 * ir_err.max():.3f} %"),
        ("sparse vs ngspice, output currents (max relative)", f"{diff:.2e}"),
        ("sparse vs ngspice, node voltages (max abs)", f"{vdiff:.2e} V"),
        ("KCL residual sparse / ngspice", f"{s_sp.kcl_residual:.1e} / {s_ng.kcl_residual:.1e}"),
        (f"time sparse ({s_sp.method})", f"{t_sp * 1e3:.1f} ms"),
        ("time ngspice", f"{t_ng * 1e3:.1f} ms"),
        ("speed ratio ngspice / sparse", f"{t_ng / t_sp:.0f}x"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"results ({m}x{n} array)")
    for k, val in rows:
        print(f"  {k:<{width}}  {val}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    im = axes[0].imshow(s_sp.cell_voltages, cmap="viridis")
    axes[0].set_title("cell voltage (V), sparse solver")
    axes[0].set_xlabel("column j (bit line)")
    axes[0].set_ylabel("row i (word line)")
    fig.colorbar(im, ax=axes[0])
    drop = v[:, None] - s_sp.cell_voltages
    im = axes[1].imshow(1e3 * drop, cmap="magma")
    axes[1].set_title("IR drop: input minus cell voltage (mV)")
    axes[1].set_xlabel("column j (bit line)")
    fig.colorbar(im, ax=axes[1])
    png = _savefig(fig, out / "cell_voltages.png", prov)
    plt.close(fig)
    summary = {"size": [m, n], "segment_ohm": 1.0, "g_range_S": [1e-6, 1e-4], "seed": args.seed,
               "ir_error_mean": float(ir_err.mean()), "ir_error_max": float(ir_err.max()),
               "sparse_vs_ngspice_max_rel": float(diff), "sparse_vs_ngspice_max_abs_V": float(vdiff),
               "time_sparse_s": t_sp, "time_ngspice_s": t_ng,
               "kcl_sparse": s_sp.kcl_residual, "kcl_ngspice": s_ng.kcl_residual,
               "provenance": provenance.provenance_json(prov)}
    write_text(out / "demo.json", json.dumps(summary, indent=2, allow_nan=False))  # strict JSON, atomic
    print(f"wrote {png} and {out / 'demo.json'}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``netlist``, ``solve``, ``crosscheck`` and ``demo`` on an ``argparse`` subparsers object."""
    p = subparsers.add_parser("netlist", help="write the SPICE netlist (.cir) of a crossbar",
                              description="Write the SPICE deck of one crossbar and bias (every input vector of "
                                          "--inputs), for ngspice -b; provenance in its comment lines.")
    _add_circuit_args(p)
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="output .cir file (default: stdout)")
    p.add_argument("--quiet", action="store_true", help="no status lines (what was written); the results still print")
    p.set_defaults(func=_cmd_netlist)
    p = subparsers.add_parser(
        "solve", help="solve a crossbar; JSON of its currents, cell voltages as CSV and heatmap",
        description="Solve one crossbar's DC operating point. The JSON (stdout, --json FILE or OUT/solve.json) "
                    "echoes the circuit parameters and holds the currents, power, KCL residual and provenance. "
                    "With --out, or any programming --scheme (default folder results/solve/<scheme> without its "
                    "slash, e.g. results/solve/v2 for v/2), the cell voltages are also written as OUT/cell_voltages.csv and OUT/cell_voltages.png, and arrays up to 32x32 "
                    "get OUT/crossbar.png, every wire segment and cell coloured by its current.")
    _add_circuit_args(p)
    p.add_argument("--backend", default="sparse", choices=tuple(BACKENDS),
                   help="solver: ideal (every wire, driver and sense 0 ohm), sparse (the nodal solver) or ngspice")
    p.add_argument("--max-cells", type=int, default=128 * 128,
                   help="ngspice size guard: refuse arrays with more cells (ngspice takes minutes beyond); "
                        "ngspice only")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write the JSON here instead of stdout (or OUT/solve.json)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="folder for solve.json (unless --json), cell_voltages.csv, cell_voltages.png and, up to "
                        "32x32, crossbar.png (default: none for --scheme read, results/solve/<scheme> for a "
                        "programming scheme)")
    p.add_argument("--quiet", action="store_true", help="no status lines (what was written); the results still print")
    p.set_defaults(func=_cmd_solve)
    p = subparsers.add_parser("crosscheck", help="solve with two backends (sparse and ngspice) and compare every field",
                              description="Solve one crossbar with two backends (default: the sparse solver and "
                                          "ngspice) and compare every field; exit status 1 when they differ by more "
                                          "than --rtol. --backends ideal sparse measures what the wires change.")
    _add_circuit_args(p)
    p.add_argument("--backends", nargs=2, default=("sparse", "ngspice"), choices=tuple(BACKENDS),
                   metavar=("A", "B"), help=f"the two backends compared, from {', '.join(BACKENDS)}")
    p.add_argument("--rtol", type=float, default=1e-9,
                   help="largest max relative difference (over every field) that passes; exit 1 above it")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="folder for crossbar_<A>.png and crossbar_<B>.png (e.g. crossbar_sparse.png): every segment "
                        "and cell coloured by its current (arrays up to 32x32; larger ones get none)")
    p.add_argument("--quiet", action="store_true", help="no status lines (what was written); the results still print")
    p.add_argument("--max-cells", type=int, default=128 * 128,
                   help="ngspice size guard: refuse arrays with more cells (ngspice takes minutes beyond); "
                        "ngspice only")
    p.set_defaults(func=_cmd_crosscheck)
    p = subparsers.add_parser(
        "demo", help="IR drop of a 64x64 array: sparse solver vs ngspice, cell-voltage map",
        description="A tour in one command: a size x size array with 1 ohm wire segments and 10 kohm-1 Mohm "
                    "devices read with random inputs of 0-0.3 V, solved by the sparse solver and by ngspice; prints the IR-drop error, the agreement "
                    "and the speed, and writes OUT/cell_voltages.png and OUT/demo.json.")
    p.add_argument("--size", type=int, default=64, help="n of the n x n array, 1-256")
    p.add_argument("--seed", type=int, default=0, help="seed of the conductances and inputs")
    p.add_argument("--out", type=Path, default=Path("results/demo"), metavar="DIR", help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr (the results still print)")
    p.set_defaults(func=_cmd_demo)
