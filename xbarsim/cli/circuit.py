"""The circuit commands of ``xbarsim``: ``netlist`` (write a .cir), ``solve`` (print/write JSON of
the operating point), ``crosscheck`` (sparse vs ngspice) and ``demo`` (a 64x64 IR-drop tour)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim._validation import check_size
from xbarsim.errors import ConfigError
from xbarsim.netlists import WRITE_SCHEMES, BiasScheme, Crossbar, LineResistance, build_netlist, to_spice
from xbarsim.solver import NgspiceBackend, NgspiceOptions, SparseBackend, SparseOptions, crosscheck, solve_netlist

__all__ = ["add_parser"]


def _add_circuit_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("circuit")
    g.add_argument("--rows", type=int, default=16, help="M, number of word lines (inputs)")
    g.add_argument("--cols", type=int, default=16, help="N, number of bit lines (outputs)")
    g.add_argument("--segment", type=float, default=1.0, help="row and column wire segment resistance, ohm")
    g.add_argument("--row-segment", type=float, default=None, help="row segment resistance, ohm (overrides --segment)")
    g.add_argument("--col-segment", type=float, default=None, help="column segment resistance, ohm (overrides --segment)")
    g.add_argument("--driver", type=float, default=0.0, help="row driver output resistance, ohm")
    g.add_argument("--sense", type=float, default=0.0, help="column sense resistance, ohm")
    g.add_argument("--conductance-csv", type=Path, default=None,
                   help="M x N conductances in siemens (comma separated); overrides --rows/--cols/--g-range")
    g.add_argument("--g-range", type=float, nargs=2, default=(1e-6, 1e-4), metavar=("GMIN", "GMAX"),
                   help="uniform random conductances in siemens (default 1e-6 1e-4: 1 Mohm-10 kohm)")
    g.add_argument("--seed", type=int, default=0, help="seed of the random conductances and inputs")
    b = p.add_argument_group("bias")
    b.add_argument("--scheme", default="read", choices=("read", *WRITE_SCHEMES),
                   help="read: all rows driven at --v-read (or --inputs); otherwise a programming scheme")
    b.add_argument("--v-read", type=float, default=0.3, help="read voltage of every row, volt")
    b.add_argument("--inputs", type=Path, default=None, help="CSV of row voltages, (M,) or (B, M), volt")
    b.add_argument("--random-inputs", action="store_true", help="row voltages uniform in [0, --v-read]")
    b.add_argument("--cell", type=int, nargs=2, default=(0, 0), metavar=("ROW", "COL"),
                   help="selected cell of a programming scheme")
    b.add_argument("--v-write", type=float, default=2.0, help="programming voltage, volt")


def _load_csv(path: Path, option: str, ndmin: int) -> np.ndarray:
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
    if args.conductance_csv is not None:
        g = _load_csv(args.conductance_csv, "--conductance-csv", 2)
    else:
        if args.rows < 1 or args.cols < 1:
            raise ConfigError(f"`--rows` and `--cols` must be >= 1; got {args.rows} x {args.cols}.")
        check_size((args.rows, args.cols), "--rows x --cols")
        lo, hi = args.g_range
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo <= hi):
            raise ConfigError(f"`--g-range` must satisfy 0 <= GMIN <= GMAX, finite (siemens); got {lo} {hi}.")
        g = rng.uniform(lo, hi, (args.rows, args.cols))
    seg_r = args.segment if args.row_segment is None else args.row_segment
    seg_c = args.segment if args.col_segment is None else args.col_segment
    lines = LineResistance(row_segment=seg_r, col_segment=seg_c, row_driver=args.driver, col_sense=args.sense)
    cb = Crossbar(conductance=g, lines=lines)
    m, n = cb.shape
    if args.scheme == "read":
        if args.inputs is not None:
            v = _load_csv(args.inputs, "--inputs", 1)
        elif args.random_inputs:
            v = rng.uniform(0.0, args.v_read, m)
        else:
            v = np.full(m, args.v_read)
        bias = BiasScheme.read(v)
    else:
        bias = BiasScheme.write(args.cell[0], args.cell[1], args.v_write, args.scheme, shape=(m, n))
    return cb, bias


def _backend(name: str, max_cells: int) -> Any:
    if name == "sparse":
        return SparseBackend(SparseOptions())
    if name == "ngspice":
        return NgspiceBackend(NgspiceOptions(max_cells=max_cells))
    raise ConfigError(f"`--backend` must be 'sparse' or 'ngspice'; got {name!r}.")


def _cmd_netlist(args: argparse.Namespace) -> int:
    cb, bias = _circuit(args)
    text = to_spice(build_netlist(cb, bias), index=None)  # every input vector of --inputs
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out} ({cb.shape[0]}x{cb.shape[1]}, {text.count(chr(10))} lines)")
    return 0


def _solution_json(sol: Any) -> dict[str, Any]:
    return {
        "backend": sol.backend, "method": sol.method, "iterations": sol.iterations,
        "kcl_residual": sol.kcl_residual, "timings_s": dict(sol.timings),
        "output_currents_A": np.asarray(sol.output_currents).tolist(),
        "input_currents_A": np.asarray(sol.input_currents).tolist(),
        "power_W": np.asarray(sol.power).tolist(),
    }


def _cmd_solve(args: argparse.Namespace) -> int:
    cb, bias = _circuit(args)
    sol = solve_netlist(build_netlist(cb, bias), _backend(args.backend, args.max_cells))
    doc = _solution_json(sol)
    text = json.dumps(doc, indent=2)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
        print(f"wrote {args.json}: {cb.shape[0]}x{cb.shape[1]} solved by {sol.backend} ({sol.method}) "
              f"in {sol.timings.get('total', 0.0):.3f} s, KCL residual {sol.kcl_residual:.1e}")
    else:
        print(text)
    return 0


def _cmd_crosscheck(args: argparse.Namespace) -> int:
    if not (np.isfinite(args.rtol) and args.rtol >= 0):
        raise ConfigError(f"`--rtol` must be a finite non-negative tolerance; got {args.rtol}.")
    cb, bias = _circuit(args)
    sparse = SparseBackend(SparseOptions())
    ng = NgspiceBackend(NgspiceOptions(max_cells=args.max_cells))
    res = crosscheck(cb, bias, backends=(sparse, ng))
    print(f"{cb.shape[0]}x{cb.shape[1]} crossbar, scheme {args.scheme}: sparse vs ngspice")
    print(res.report())
    ok = res.max_rel <= args.rtol
    print(f"agreement {'OK' if ok else 'FAILED'}: max relative difference {res.max_rel:.2e} (rtol {args.rtol:g})")
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
    print(f"[1/3] sparse solver: {m}x{n}, 1 ohm segments, devices 10 kohm-1 Mohm, inputs 0-0.3 V", flush=True)
    t = time.perf_counter()
    s_sp = solve_netlist(netlist, SparseBackend())
    t_sp = time.perf_counter() - t
    print(f"[2/3] ngspice on the same netlist (takes a few seconds) ...", flush=True)
    t = time.perf_counter()
    s_ng = solve_netlist(netlist, NgspiceBackend(NgspiceOptions(max_cells=m * n)))
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
    print(f"[3/3] results ({m}x{n})")
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
    png = out / "cell_voltages.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    summary = {"size": [m, n], "segment_ohm": 1.0, "g_range_S": [1e-6, 1e-4], "seed": args.seed,
               "ir_error_mean": float(ir_err.mean()), "ir_error_max": float(ir_err.max()),
               "sparse_vs_ngspice_max_rel": float(diff), "time_sparse_s": t_sp, "time_ngspice_s": t_ng,
               "kcl_sparse": s_sp.kcl_residual, "kcl_ngspice": s_ng.kcl_residual}
    (out / "demo.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {png} and {out / 'demo.json'}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``netlist``, ``solve``, ``crosscheck`` and ``demo`` on an ``argparse`` subparsers object."""
    p = subparsers.add_parser("netlist", help="write the SPICE netlist (.cir) of a crossbar")
    _add_circuit_args(p)
    p.add_argument("--out", type=Path, default=None, help="output .cir file (default: stdout)")
    p.set_defaults(func=_cmd_netlist)
    p = subparsers.add_parser("solve", help="solve a crossbar and print/write JSON of its currents")
    _add_circuit_args(p)
    p.add_argument("--backend", default="sparse", choices=("sparse", "ngspice"))
    p.add_argument("--max-cells", type=int, default=128 * 128, help="ngspice size guard")
    p.add_argument("--json", type=Path, default=None, help="write the JSON here instead of stdout")
    p.set_defaults(func=_cmd_solve)
    p = subparsers.add_parser("crosscheck", help="solve with sparse and ngspice and compare every field")
    _add_circuit_args(p)
    p.add_argument("--rtol", type=float, default=1e-9, help="pass/fail threshold (exit 1 if exceeded)")
    p.add_argument("--max-cells", type=int, default=128 * 128, help="ngspice size guard")
    p.set_defaults(func=_cmd_crosscheck)
    p = subparsers.add_parser("demo", help="64x64 IR drop, sparse solver vs ngspice, with a cell-voltage map")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/demo"))
    p.set_defaults(func=_cmd_demo)
