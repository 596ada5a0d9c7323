"""Issue 16 speed targets, side by side in one process: batched reads, nonlinear batches, tiles, peers.

Same circuits as benchmarks/solver.py: G uniform in 1-100 uS, inputs uniform in [0, 0.3] V, 1 ohm
segments, 1 ohm driver and sense (badcrossbar's and CrossSim's layout: one segment between the
source and the first cell). Measurements (best of ``--repeat`` unless said otherwise):

* ``batch``: ``--vectors`` read vectors through a ``--batch-size`` array: ``transfer_matrix`` and
  ``V @ T`` against ``solve(crossbar, BiasScheme.read(V))`` (the port-matrix path, output currents
  only; one ``select``ed entry's node voltages timed separately);
* ``sinh``: ``--vectors`` vectors through a 64x64 array of sinh cells (a = 2.07 /V), by Newton on
  the cell voltages and, before it, by the reduced-grid Newton (the read path switched off in
  :mod:`xbarsim.solver.tile_newton` for that row), and one 256x256 sinh solve;
* ``tiles``: ``--tiles`` 25x25 tiles: ``transfer_matrices`` against one ``transfer_matrix`` per tile;
* ``peers``: 64x64 single solve: xbarsim (default options, and direct), badcrossbar, ngspice, and
  CrossSim's parasitic solver warm at three convergence thresholds, each with its error against
  xbarsim's direct solve (``--crosssim PATH``: a folder where CrossSim 3.2 is pip-installed; it is
  not on the package index and is never a dependency of xbarsim);
* ``imports``: wall time of ``python -c "import xbarsim.evaluation"`` and ``xbarsim --help``;
* ``big``: one read of each ``--big-sizes`` array by ``solve`` (the grid-native path), each in a
  fresh subprocess that reports its peak resident memory (``resource.getrusage`` ``ru_maxrss``, and
  ``VmHWM``: on Linux a forked child's ``ru_maxrss`` starts at the parent's resident size, so
  ``big`` runs before every other measurement),
  the memory before the solve (inputs and crossbar), time and CG iterations; with
  ``--big-general`` sizes also through the general netlist path (``build_netlist`` +
  ``solve_netlist``) for the ratio;
* ``iters``: CG iterations against size (``--iter-sizes``), the grid path with the row-wire
  preconditioner alone and with the coarse correction across lines, and ``solve`` with its defaults
  (which picks one of the two by size).

    .venv/bin/python benchmarks/speed.py --crosssim /tmp/crosssim-site

Prints a markdown table (for docs/benchmarks.md) with the machine load before and after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from unittest import mock
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from solver import import_badcrossbar, make_case, make_crossbar, rel_diff, size_list  # noqa: E402

import xbarsim as xb  # noqa: E402
from xbarsim.errors import BackendUnavailableError, GridPathUnsupported  # noqa: E402
from xbarsim.solver import tile_newton  # noqa: E402

MEASUREMENTS = ("big", "batch", "sinh", "tiles", "peers", "imports", "iters")

ROWS: list[tuple[str, str, str, str]] = []


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def row(what: str, tool: str, seconds: float, note: str = "") -> None:
    text = "-" if seconds != seconds else (f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s")
    ROWS.append((what, tool, text, note))
    print(f"{what:<40} {tool:<40} {ROWS[-1][2]:>10}  {note}", file=sys.stderr, flush=True)


def bench_batch(size: int, vectors: int, repeat: int) -> None:
    g, v = make_case(size, 0, vectors=vectors)
    cb = make_crossbar(g)
    what = f"{vectors} read vectors, {size}x{size}"
    t_tm, ref = best(lambda: v @ xb.transfer_matrix(cb), repeat)
    row(what, "transfer_matrix + V @ T", t_tm)
    t_solve, sol = best(lambda: xb.solve(cb, xb.BiasScheme.read(v)), repeat)
    row(what, f"solve (method {sol.method})", t_solve,
        f"{t_solve / t_tm:.2f}x of T route; output diff {rel_diff(sol.output_currents, ref):.1e}")
    t_sel, _ = best(lambda: sol.select(7).node_voltages, 1)
    row(what, "then .select(7).node_voltages", t_sel)


def bench_sinh(vectors: int, repeat: int) -> None:
    sinh = xb.Sinh(a=2.07)
    g, v = make_case(64, 0, vectors=vectors)
    cb = xb.Crossbar(conductance=g, lines=make_crossbar(g).lines, device=sinh)
    # before (issue 16, nonlinear batching): the reduced-grid Newton of each chunk of the batch;
    # the two alternate (best of ``repeat`` each), and CPU time is reported beside the wall clock
    t_old = t_new = c_old = c_new = float("inf")
    for _ in range(repeat):
        with mock.patch.object(tile_newton, "GRID_READ_MIN_BATCH", 10**9):
            c0 = time.process_time()
            t, old = best(lambda: xb.solve(cb, xb.BiasScheme.read(v)), 1)
            c_old = min(c_old, time.process_time() - c0)
            t_old = min(t_old, t)
        c0 = time.process_time()
        t, sol = best(lambda: xb.solve(cb, xb.BiasScheme.read(v)), 1)
        c_new = min(c_new, time.process_time() - c0)
        t_new = min(t_new, t)
    row(f"{vectors} vectors, 64x64 sinh", "solve (Newton, reduced grid; before)", t_old,
        f"{old.iterations} Newton iterations; CPU {c_old:.2f} s")
    row(f"{vectors} vectors, 64x64 sinh", "solve (Newton on cell voltages)", t_new,
        f"{t_new / t_old:.2f}x of before (CPU {c_new:.2f} s, {c_new / c_old:.2f}x); {sol.iterations} Newton "
        f"iterations; output diff {rel_diff(sol.output_currents, old.output_currents):.1e}; "
        f"KCL of entry 7 {sol.select(7).kcl_residual:.1e}")
    g, v = make_case(256, 0)
    cb = xb.Crossbar(conductance=g, lines=make_crossbar(g).lines, device=sinh)
    t, sol = best(lambda: xb.solve(cb, xb.BiasScheme.read(v)), repeat)
    row("1 vector, 256x256 sinh", "solve (Newton, reduced grid)", t,
        f"{sol.iterations} Newton iterations, KCL {sol.kcl_residual:.1e}")


def bench_tiles(tiles: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-4, (tiles, 25, 25))
    lines = xb.LineResistance.uniform(1.0)  # the chip default: 1 ohm segments, ideal ends
    t_bulk, tb = best(lambda: xb.transfer_matrices(g, lines), repeat)
    t_loop, tl = best(lambda: np.stack([xb.transfer_matrix(xb.Crossbar(conductance=gk, lines=lines)) for gk in g]), 1)
    what = f"{tiles} tiles 25x25, T of each"
    row(what, "transfer_matrix per tile", t_loop)
    row(what, "transfer_matrices (bulk)", t_bulk, f"{t_loop / t_bulk:.1f}x faster; diff {rel_diff(tb, tl):.1e}")


def bench_peers(size: int, repeat: int, crosssim: Path | None, fast_repeat: int = 50) -> None:
    g, v = make_case(size, 0)
    cb = make_crossbar(g)
    what = f"1 vector, {size}x{size}, linear"
    ref = xb.solve(cb, xb.BiasScheme.read(v), xb.SparseBackend(xb.SparseOptions(method="direct"))).output_currents
    xb.solve(cb, xb.BiasScheme.read(v))  # warm
    t, sol = best(lambda: xb.solve(make_crossbar(g), xb.BiasScheme.read(v)).output_currents, fast_repeat)
    row(what, "xbarsim solve (default), building the Crossbar", t, f"diff {rel_diff(sol, ref):.1e}")
    bias = xb.BiasScheme.read(v)
    t, sol = best(lambda: xb.solve(cb, bias).output_currents, fast_repeat)
    row(what, "xbarsim solve (default), Crossbar built", t, f"diff {rel_diff(sol, ref):.1e}")
    try:
        compute, _ = import_badcrossbar()
        from solver import badcrossbar_currents

        badcrossbar_currents(compute, g, v)
        t, out = best(lambda: badcrossbar_currents(compute, g, v), repeat)
        row(what, "badcrossbar 1.1.0", t, f"diff {rel_diff(out, ref):.1e}")
    except ImportError as exc:
        row(what, "badcrossbar", float("nan"), f"not installed ({exc}); `make bench` installs it")
    ng = xb.NgspiceBackend(xb.NgspiceOptions(max_cells=g.size))
    try:
        xb.solve(cb, xb.BiasScheme.read(v), ng)
    except BackendUnavailableError as exc:
        row(what, "ngspice (xbarsim backend)", float("nan"), f"not available ({exc})")
    else:
        t, out = best(lambda: xb.solve(make_crossbar(g), xb.BiasScheme.read(v), ng).output_currents, repeat)
        row(what, "ngspice (xbarsim backend)", t, f"diff {rel_diff(out, ref):.1e}")
    if crosssim is None:
        row(what, "CrossSim", float("nan"), "not run: give --crosssim PATH")
        return
    sys.path.insert(0, str(crosssim))
    try:
        from simulator import CrossSimParameters  # type: ignore[import-not-found]
        from simulator.backend import ComputeBackend  # type: ignore[import-not-found]
        from simulator.circuits.array.NonInterleaved_InputSource import (  # type: ignore[import-not-found]
            NoninterleavedInputSourceArray,
        )
    except ImportError as exc:
        row(what, "CrossSim", float("nan"), f"not importable from --crosssim {crosssim} ({exc})")
        return

    ComputeBackend(use_gpu=False)
    rmin = 1e4  # normalisation only: CrossSim works in units of 1/Rmin
    for th in (1e-3, 1e-6, 1e-9):
        p = CrossSimParameters()
        p.xbar.device.Rmin, p.xbar.device.Rmax = rmin, 1e6
        par = p.xbar.array.parasitics
        # CrossSim puts one segment before the first cell: our 1 ohm driver and sense
        par.enable, par.Rp_row, par.Rp_col = True, 1.0, 1.0
        p.simulation.Verr_th_mvm = th
        p.simulation.Niters_max_parasitics = 100_000
        arr = NoninterleavedInputSourceArray(p)
        mat = g.T * rmin
        arr.solve_mvm(v.copy(), mat.copy())  # warm
        t, out = best(lambda: np.asarray(arr.solve_mvm(v.copy(), mat.copy())) / rmin, fast_repeat)
        row(what, f"CrossSim 3.2 parasitic solver, Verr_th {th:g}", t, f"diff {rel_diff(out, ref):.1e}")


_BIG_CHILD = r"""
import resource, sys, time
sys.path.insert(0, {bench!r})
from solver import make_case, make_crossbar
import xbarsim as xb
size, path = {size}, {path!r}
g, v = make_case(size, 0)
cb = make_crossbar(g)
bias = xb.BiasScheme.read(v)
del g
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
c0 = time.process_time()
t0 = time.perf_counter()
if path == "grid":
    sol = xb.solve(cb, bias)
else:
    sol = xb.solve_netlist(xb.build_netlist(cb, bias))
out = sol.output_currents
t = time.perf_counter() - t0
cpu = time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
hwm = [int(x.split()[1]) * 1024 for x in open("/proc/self/status") if x.startswith("VmHWM:")][0]
kcl = sol.kcl_residual if size <= {kcl_max} else float("nan")  # (after the peaks: it needs every field)
print(before, peak, t, sol.iterations, sol.method, kcl, float(abs(out).max()), cpu, hwm)
"""


def bench_big(sizes: list[int], general: list[int], kcl_max: int) -> None:
    bench = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for size in sizes:
        for path in ("grid", "general") if size in general else ("grid",):
            code = _BIG_CHILD.format(bench=bench, size=size, path=path, kcl_max=kcl_max)
            load = Path("/proc/loadavg").read_text().split()[0]
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            what = f"1 read, {size}x{size}, peak memory"
            tool = "solve (grid-native path)" if path == "grid" else "build_netlist + solve_netlist (general)"
            if res.returncode != 0:
                row(what, tool, float("nan"), f"failed: {res.stderr.strip().splitlines()[-1:]}")
                continue
            before, peak, t, iters, method, kcl, _, cpu, hwm = res.stdout.split()
            peak_b, before_b = float(peak), float(before)
            row(what, tool, float(t),
                f"peak {peak_b / 2**30:.2f} GiB ({peak_b / size**2:.0f} B/cell; VmHWM {float(hwm) / 2**30:.2f} GiB; "
                f"inputs and crossbar "
                f"{before_b / 2**30:.2f} GiB), {iters} CG iterations, method {method}, KCL {float(kcl):.1e}, "
                f"CPU time {float(cpu):.1f} s, load {load}")


def bench_iters(sizes: list[int]) -> None:
    from xbarsim.solver.gridpath import solve_grid_native

    for size in sizes:
        g, v = make_case(size, 0)
        cb = make_crossbar(g)
        bias = xb.BiasScheme.read(v)
        sols = {}
        for coarse in (False, True):
            label = "row wires + coarse correction" if coarse else "row wires only"
            t0 = time.perf_counter()
            try:
                sols[coarse] = solve_grid_native(cb, bias, coarse=coarse)
            except GridPathUnsupported as exc:
                row(f"CG iterations, {size}x{size}", label, float("nan"), f"not run: {exc}")
                continue
            t = time.perf_counter() - t0
            row(f"CG iterations, {size}x{size}", label, t, f"{sols[coarse].iterations} iterations")
        t0 = time.perf_counter()
        sol = xb.solve(cb, bias)
        t = time.perf_counter() - t0
        row(f"CG iterations, {size}x{size}", "default (`solve`)", t, f"{sol.iterations} iterations, method {sol.method}")
        if len(sols) == 2:
            print(f"  outputs differ by {rel_diff(sols[True].output_currents, sols[False].output_currents):.1e}",
                  file=sys.stderr)


def bench_imports(repeat: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for label, cmd in (("import xbarsim.evaluation", [sys.executable, "-c", "import xbarsim.evaluation"]),
                       ("xbarsim --help", [sys.executable, "-m", "xbarsim.cli", "--help"])):
        t, _ = best(lambda: subprocess.run(cmd, env=env, check=True, capture_output=True), repeat)
        row("start-up", label, t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="batch,sinh,tiles,peers,imports",
                    help=f"comma-separated measurements, of {', '.join(MEASUREMENTS)}")
    ap.add_argument("--vectors", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--tiles", type=int, default=400)
    ap.add_argument("--peer-size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--crosssim", type=Path, default=None, help="folder with CrossSim 3.2 pip-installed (--target)")
    ap.add_argument("--peer-repeat", type=int, default=50, help="best of this many for xbarsim and CrossSim in `peers`")
    ap.add_argument("--big-sizes", type=size_list, default=[1024, 2048, 4096], help="comma-separated sizes for `big`")
    ap.add_argument("--big-general", type=size_list, default=[1024, 2048],
                    help="sizes of `big` also solved by the general path")
    ap.add_argument("--iter-sizes", type=size_list, default=[64, 128, 256, 512, 1024, 2048],
                    help="comma-separated sizes for `iters` (the grid path covers arrays of more than 1024 nodes)")
    args = ap.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if not only or only - set(MEASUREMENTS):
        ap.error(f"--only: expected some of {', '.join(MEASUREMENTS)}, got {args.only!r}")
    for name in ("vectors", "batch_size", "tiles", "peer_size", "repeat", "peer_repeat"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    if "big" in only:  # first: a child's ru_maxrss starts at this process's resident size when it forks
        bench_big(args.big_sizes, args.big_general, kcl_max=4096)
    if "batch" in only:
        bench_batch(args.batch_size, args.vectors, args.repeat)
    if "sinh" in only:
        bench_sinh(args.vectors, args.repeat)
    if "tiles" in only:
        bench_tiles(args.tiles, args.repeat)
    if "peers" in only:
        bench_peers(args.peer_size, max(args.repeat, 5), args.crosssim, args.peer_repeat)
    if "imports" in only:
        bench_imports(args.repeat)
    if "iters" in only:
        bench_iters(args.iter_sizes)
    load1 = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nload average (1, 5, 15 min) before: {' '.join(load0)}, after: {' '.join(load1)}; "
          f"{os.cpu_count()} CPUs\n")
    print("| measurement | tool | time | note |")
    print("|---|---|---:|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")
    print(f"\ncommand: python benchmarks/speed.py {' '.join(sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
