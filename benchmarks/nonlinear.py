"""Nonlinear operating point: xbarsim's batched Newton vs ngspice on the same netlist.

Read scheme, 1 ohm row/column segments, G uniform in 1-100 uS (seeded), inputs uniform in
[0, 0.5] V, sinh devices (``--a`` in 1/V). Prints a markdown table: time of each backend, ratio,
Newton iterations, KCL residuals and the max relative difference of the output currents.

    .venv/bin/python benchmarks/nonlinear.py --sizes 16 32 64 128 256 --ngspice-max 64
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import xbarsim as xb
from xbarsim import provenance
from xbarsim.devices import Sinh
from xbarsim.errors import BackendUnavailableError
from xbarsim.sweeps import write_csv


def best_of(fn, repeat: int):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    ap.add_argument("--ngspice-max", type=int, default=64)
    ap.add_argument("--a", type=float, default=3.0, help="sinh nonlinearity, 1/V")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("results/bench_nonlinear.csv"))
    args = ap.parse_args(argv)
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1:
        ap.error("--sizes must be integers >= 1 and --repeat >= 1")
    # started now, with the seed of the arrays (before: collected at the end, without the seed or ngspice's version)
    prov = provenance.collect(seed=args.seed, ngspice=min(args.sizes) <= args.ngspice_max)
    load_before = _load()
    ngspice_missing = None
    rng = np.random.default_rng(args.seed)
    rows = []
    for m in args.sizes:
        g = rng.uniform(1e-6, 1e-4, (m, m))
        v = rng.uniform(0.0, 0.5, m)
        cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(1.0), device=Sinh(a=args.a))
        netlist = xb.build_netlist(cb, xb.BiasScheme.read(v))
        t_sp, s_sp = best_of(lambda: xb.solve_netlist(netlist, "sparse"), args.repeat)
        print(f"  {m}x{m}: sparse Newton {t_sp * 1e3:.1f} ms, {s_sp.iterations} iterations", file=sys.stderr, flush=True)
        row = {"size": m, "sparse_ms": 1e3 * t_sp, "newton_iterations": s_sp.iterations,
               "kcl_sparse": s_sp.kcl_residual, "ngspice_ms": None, "ratio": None, "kcl_ngspice": None, "max_rel_diff": None}
        if m <= args.ngspice_max and ngspice_missing is None:
            backend = xb.NgspiceBackend(xb.NgspiceOptions(max_cells=m * m))
            try:
                t_ng, s_ng = best_of(lambda: xb.solve_netlist(netlist, backend), 1)
            except BackendUnavailableError as exc:
                ngspice_missing = str(exc)
                print(f"  ngspice not available ({exc}); its columns are skipped", file=sys.stderr, flush=True)
                rows.append(row)
                continue
            diff = np.abs(s_sp.output_currents - s_ng.output_currents).max() / np.abs(s_ng.output_currents).max()
            row.update(ngspice_ms=1e3 * t_ng, ratio=t_ng / t_sp, kcl_ngspice=s_ng.kcl_residual, max_rel_diff=diff)
            print(f"  {m}x{m}: ngspice {t_ng * 1e3:.0f} ms, max rel diff {diff:.1e}", file=sys.stderr, flush=True)
        rows.append(row)

    def fmt(x, spec):  # type: ignore[no-untyped-def]
        return "-" if x is None else format(x, spec)

    print(f"\nNonlinear read, sinh a = {args.a} 1/V, 1 ohm segments, G 1-100 uS, inputs 0-0.5 V (xbarsim best of "
          f"{args.repeat}, ngspice 1 run)")
    print(f"machine: {os.cpu_count()} CPUs; load average (1/5/15 min) before {load_before}, after {_load()}\n")
    print("| size | xbarsim Newton (ms) | Newton iters | ngspice (ms) | ngspice / xbarsim | max rel diff | KCL xbarsim | KCL ngspice |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size']}x{r['size']} | {r['sparse_ms']:.1f} | {r['newton_iterations']} | {fmt(r['ngspice_ms'], '.0f')} | "
              f"{fmt(r['ratio'], '.0f')} | {fmt(r['max_rel_diff'], '.1e')} | {r['kcl_sparse']:.1e} | {fmt(r['kcl_ngspice'], '.1e')} |")
    print("\nTargets (issue 4): 64x64 <= 100 ms, 256x256 <= 2 s; agreement with ngspice <= 1e-6.")
    if ngspice_missing is not None:
        print(f"ngspice was not run: {ngspice_missing}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(args.out, rows, prov)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
