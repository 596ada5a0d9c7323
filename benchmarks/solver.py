"""Speed, memory and agreement of xbarsim's solvers against ngspice and badcrossbar.

The performance benchmark of issue 3. For each size ``n`` an ``n x n`` array with 1 ohm wire
segments and conductances uniform in 1-100 uS is read with inputs uniform in [0, 0.3] V
(seeded), and solved by

* xbarsim as a user calls it, ``solve(crossbar, bias)`` with default options (``method="auto"``
  picks a path by size and batch); the targets and the time ratios refer to this column;
* xbarsim, sparse backend, direct path (the reference every result's difference is taken to);
* xbarsim, sparse backend, iterative path (preconditioned CG);
* ngspice, through xbarsim's ngspice backend (``.op`` on the same netlist), up to ``--ngspice-max``;
* badcrossbar 1.1.0 (``badcrossbar.compute``), up to ``--badcrossbar-max``.

A second measurement pushes ``--vectors`` input vectors through one ``--batch-size`` array with
``xbarsim.transfer_matrix`` and ``V @ T``, checked against a direct batched solve of a few vectors.

Every measurement runs in a fresh Python process (this script with a hidden ``--_worker`` flag),
so that its peak resident memory (``ru_maxrss``) is its own and no cache or factorization
carries over between tools. Progress goes to stderr, one line per measurement; the markdown
table goes to stdout, and one CSV row per measurement to ``--out``.

Notes
-----
The circuit is badcrossbar's: every word line is driven at its left end and every bit line is
held at 0 V at its bottom end, each through one more 1 ohm segment (badcrossbar puts a segment
between the source and the first cell and between the last cell and ground). In xbarsim that is
``LineResistance.uniform(1.0, driver=1.0, sense=1.0)`` with ``BiasScheme.read(v)``. badcrossbar
takes resistances of shape (word lines, bit lines), our ``(M, N)``, and voltages of shape
(word lines, examples), our ``v`` transposed. ``check_badcrossbar_mapping`` verifies on a small
array that both tools then give the same output currents before anything is timed.

Relative differences are ``max|I - I_direct| / max|I_direct|`` over the output currents, the
definition of :func:`xbarsim.solver.checks.compare`.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

SEGMENT_OHM = 1.0
G_RANGE_S = (1e-6, 100e-6)
V_MAX = 0.3
WARMUP_SIZE = 4

TOOLS = ("auto", "direct", "iterative", "ngspice", "badcrossbar")
LABELS = {
    "auto": "xbarsim (default)",
    "direct": "xbarsim direct",
    "iterative": "xbarsim iterative",
    "ngspice": "ngspice",
    "badcrossbar": "badcrossbar",
    "transfer": "xbarsim transfer_matrix",
}


# --------------------------------------------------------------------------------------------
# The circuit, identical for every tool


def make_case(size: int, seed: int, vectors: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Conductances ``G`` (size, size) in siemens and inputs in volt: ``(size,)``, or ``(vectors, size)``.

    Seeded by ``(seed, size)``, so each size has its own array and a rerun the same one.
    """
    rng = np.random.default_rng([seed, size])
    g = rng.uniform(*G_RANGE_S, size=(size, size))
    v = rng.uniform(0.0, V_MAX, size=(vectors, size) if vectors else size)
    return g, v


def make_crossbar(g: np.ndarray) -> Any:
    import xbarsim

    lines = xbarsim.LineResistance.uniform(SEGMENT_OHM, driver=SEGMENT_OHM, sense=SEGMENT_OHM)
    return xbarsim.Crossbar(conductance=g, lines=lines)


def import_badcrossbar() -> tuple[Any, str]:
    """``badcrossbar.compute`` and a note on what failed to import (its plotting, without pycairo).

    badcrossbar's ``__init__`` turns ImportWarnings on and configures the root logger to print
    INFO to stdout; record the warning instead of printing it and keep its logging quiet.
    """
    with warnings.catch_warnings(record=True) as caught:
        import badcrossbar
    for name in ("badcrossbar", "badcrossbar.compute", "badcrossbar.computing"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not hasattr(badcrossbar, "compute"):
        raise ImportError(f"badcrossbar.compute could not be imported: {[str(w.message) for w in caught]}")
    return badcrossbar.compute, "; ".join(str(w.message) for w in caught)


def badcrossbar_currents(compute: Callable[..., Any], g: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Output currents (N,) or (B, N) of badcrossbar for our ``G`` (M, N) and ``v`` (M,) or (B, M)."""
    volts = np.atleast_2d(v).T  # badcrossbar: (word lines, examples)
    with np.errstate(divide="ignore"):  # an open cell is an infinite resistance there
        res = 1.0 / g
    out = compute(volts, res, r_i_word_line=SEGMENT_OHM, r_i_bit_line=SEGMENT_OHM).currents.output
    return np.asarray(out)[0] if np.ndim(v) == 1 else np.asarray(out)


def check_badcrossbar_mapping(size: int = 6, seed: int = 12345) -> float:
    """Relative difference of badcrossbar's output currents to xbarsim's on a small array.

    Raises
    ------
    AssertionError
        If they differ by more than 1e-9: the two tools would not be solving the same circuit.
    """
    import xbarsim

    compute, _ = import_badcrossbar()
    g, v = make_case(size, seed, vectors=3)
    g[1, 2] = 0.0  # an open cell, to check that convention too
    ref = xbarsim.solve(make_crossbar(g), xbarsim.BiasScheme.read(v), _sparse("direct")).output_currents
    rel = rel_diff(badcrossbar_currents(compute, g, v), ref)
    if not rel <= 1e-9:
        raise AssertionError(f"badcrossbar and xbarsim disagree by {rel:.2e} on a {size}x{size} array: "
                             "the circuit mapping in this benchmark is wrong")
    return rel


def rel_diff(x: np.ndarray, ref: np.ndarray) -> float:
    """``max|x - ref| / max|ref|`` (as :func:`xbarsim.solver.checks.compare`)."""
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    if x.shape != ref.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {ref.shape}")
    scale = float(np.abs(ref).max())
    return float(np.abs(x - ref).max()) / scale if scale > 0 else float("nan")


def _sparse(method: Literal["direct", "iterative"]) -> Any:
    import xbarsim

    return xbarsim.SparseBackend(xbarsim.SparseOptions(method=method))


# --------------------------------------------------------------------------------------------
# Worker: one measurement in a fresh process


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _solver(tool: str) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, dict[str, Any]]]:
    """A function ``(G, v) -> (output currents, info)`` whose whole call is what gets timed.

    Building the Crossbar (validation and a copy of G) happens inside the timed call for the
    xbarsim tools too, because badcrossbar's timed call also checks and converts its inputs.
    """
    import xbarsim

    if tool in ("auto", "direct", "iterative"):
        backend = xbarsim.SparseBackend() if tool == "auto" else _sparse("direct" if tool == "direct" else "iterative")

        def run(g: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
            s = xbarsim.solve(make_crossbar(g), xbarsim.BiasScheme.read(v), backend)
            return s.output_currents, {"method": s.method, "iterations": s.iterations,
                                       "kcl_residual": s.kcl_residual}
        return run
    if tool == "ngspice":
        def run(g: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
            backend = xbarsim.NgspiceBackend(xbarsim.NgspiceOptions(max_cells=g.size))
            s = xbarsim.solve(make_crossbar(g), xbarsim.BiasScheme.read(v), backend)
            return s.output_currents, {"method": s.method, "iterations": s.iterations,
                                       "kcl_residual": s.kcl_residual}
        return run
    if tool == "badcrossbar":
        compute, note = import_badcrossbar()

        def run(g: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
            return badcrossbar_currents(compute, g, v), {"method": "spsolve", "note": note}
        return run
    raise ValueError(f"unknown tool {tool!r}; expected one of {TOOLS + ('transfer',)}")


def _timed_runs(call: Callable[[], Any], repeat: int, budget_s: float) -> tuple[list[float], Any]:
    """Best-of-``repeat`` timing; stops repeating once the runs so far took ``budget_s``."""
    times: list[float] = []
    result = None
    while len(times) < repeat and (not times or sum(times) < budget_s):
        result = None  # drop the previous result so it does not add to this run's peak memory
        gc.collect()
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return times, result


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement described by ``spec``; currents go to ``spec['currents']`` (.npy)."""
    import xbarsim  # noqa: F401 - imported before the baseline so that its cost is not the call's

    tool, size = spec["tool"], spec["size"]
    out: dict[str, Any] = {"tool": tool, "size": size}
    if tool == "transfer":
        run_one = _transfer_measurement(spec, out)
    else:
        run = _solver(tool)
        # an untimed tiny solve pays one-time costs (lazy imports, loading libngspice)
        run(*make_case(WARMUP_SIZE, spec["seed"]))
        g, v = make_case(size, spec["seed"])
        info: dict[str, Any] = {}

        def run_one() -> np.ndarray:
            currents, more = run(g, v)
            info.update(more)
            return currents

    out["base_rss_mb"] = _peak_rss_mb()
    times, currents = _timed_runs(run_one, spec["repeat"], spec["repeat_budget"])
    out["peak_rss_mb"] = _peak_rss_mb()
    out["times"] = times
    np.save(spec["currents"], currents)
    if tool == "transfer":
        out.update(_transfer_check(spec))
    else:
        out.update(info)
    return out


def _transfer_measurement(spec: dict[str, Any], out: dict[str, Any]) -> Callable[[], np.ndarray]:
    import xbarsim

    g, v = make_case(spec["size"], spec["seed"], vectors=spec["vectors"])
    g_small, v_small = make_case(WARMUP_SIZE, spec["seed"], vectors=2)
    _ = v_small @ xbarsim.transfer_matrix(make_crossbar(g_small))  # untimed warm-up

    def run_one() -> np.ndarray:
        t0 = time.perf_counter()
        t = xbarsim.transfer_matrix(make_crossbar(g))
        t1 = time.perf_counter()
        currents = v @ t
        t2 = time.perf_counter()
        # keep the split of the best run (the caller keeps the best total)
        if t2 - t0 < out.get("best_total", np.inf):
            out.update(best_total=t2 - t0, transfer_s=t1 - t0, matmul_s=t2 - t1)
        return np.asarray(currents)

    return run_one


def _transfer_check(spec: dict[str, Any]) -> dict[str, Any]:
    """Max relative difference of ``V @ T`` to a direct batched solve of the first few vectors."""
    import xbarsim

    g, v = make_case(spec["size"], spec["seed"], vectors=spec["vectors"])
    k = min(spec["check_vectors"], len(v))
    ref = xbarsim.solve(make_crossbar(g), xbarsim.BiasScheme.read(v[:k]), _sparse("direct")).output_currents
    return {"check_vectors": k, "max_rel_diff": rel_diff(np.load(spec["currents"])[:k], ref)}


# --------------------------------------------------------------------------------------------
# Driver: run the workers, compare, print


@dataclass
class Result:
    tool: str
    size: int
    status: str = "ok"
    times: list[float] = field(default_factory=list)
    peak_rss_mb: float = float("nan")
    base_rss_mb: float = float("nan")
    method: str = ""
    iterations: int | None = None
    kcl_residual: float | None = None
    max_rel_diff: float | None = None
    ratio: float | None = None
    vectors: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    currents: np.ndarray | None = None

    @property
    def best(self) -> float:
        return min(self.times) if self.times else float("nan")

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def measure(spec: dict[str, Any], workdir: Path, timeout_s: float) -> Result:
    """Run one measurement in a fresh process and collect its result."""
    tag = f"{spec['tool']}-{spec['size']}"
    spec = {**spec, "currents": str(workdir / f"{tag}.npy"), "result": str(workdir / f"{tag}.json")}
    res = Result(tool=spec["tool"], size=spec["size"], vectors=spec["vectors"] if spec["tool"] == "transfer" else 1)
    cmd = [sys.executable, os.path.abspath(__file__), "--_worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        res.status = f"timeout (>{timeout_s:.0f} s)"
        return res
    if proc.returncode != 0 or not Path(spec["result"]).exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        res.status = "failed"
        if proc.returncode < 0:
            res.status += f" (signal {-proc.returncode}{', out of memory?' if proc.returncode == -9 else ''})"
        res.extra["error"] = tail[0]
        return res
    data = json.loads(Path(spec["result"]).read_text())
    res.times = data.pop("times")
    res.peak_rss_mb = data.pop("peak_rss_mb")
    res.base_rss_mb = data.pop("base_rss_mb")
    res.method = data.pop("method", "")
    res.iterations = data.pop("iterations", None)
    res.kcl_residual = data.pop("kcl_residual", None)
    res.max_rel_diff = data.pop("max_rel_diff", None)
    res.extra = {k: v for k, v in data.items() if k not in ("tool", "size")}
    res.currents = np.load(spec["currents"])
    return res


def fmt_time(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1.0:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_mb(mb: float | None) -> str:
    return "-" if mb is None or not np.isfinite(mb) else f"{mb:.0f}"


def fmt_ratio(r: float | None) -> str:
    if r is None or not np.isfinite(r):
        return "-"
    return f"{r:.0f}x" if r >= 100 else f"{r:.3g}x"


def fmt_diff(d: float | None) -> str:
    return "-" if d is None or not np.isfinite(d) else f"{d:.1e}"


def cell_time(r: Result | None) -> str:
    if r is None:
        return "skipped"
    if not r.ok:
        return r.status
    s = fmt_time(r.best)
    if r.tool == "iterative":
        s += " (fell back to direct)" if r.method != "iterative" else f" ({r.iterations} its)"
    elif r.tool == "auto":
        s += f" ({r.method})"
    return s


def progress(msg: str, end: str = "\n") -> None:
    print(msg, end=end, file=sys.stderr, flush=True)


def versions() -> str:
    import scipy

    import xbarsim

    parts = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"scipy {scipy.__version__}",
             f"xbarsim {xbarsim.__version__}"]
    try:
        from importlib.metadata import version

        parts.append(f"badcrossbar {version('badcrossbar')}")
    except Exception:  # noqa: BLE001 - not installed: said so in the table
        parts.append("badcrossbar not installed")
    try:
        first = subprocess.run(["ngspice", "--version"], capture_output=True, text=True, timeout=30).stdout
        line = next((ln for ln in first.splitlines() if "ngspice-" in ln), "")
        parts.append(line.strip("* ").split(":")[0].strip() or "ngspice (version unknown)")
    except Exception:  # noqa: BLE001
        parts.append("ngspice binary not found")
    return ", ".join(parts)


def size_list(text: str, minimum: int = 2) -> list[int]:
    """A comma-separated list of array sizes (empty: none), each at least ``minimum``, as an argparse
    ``type`` (a bad entry is a clean argument error); shared by the benchmark scripts."""
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None
    if any(n < minimum for n in out):
        raise argparse.ArgumentTypeError(f"sizes must be >= {minimum}, got {text!r}")
    return out


def _sizes(text: str) -> list[int]:
    """``--sizes`` entry: one size or a comma-separated list."""
    return size_list(text, minimum=1)


def ngspice_unavailable() -> str | None:
    """Why ngspice cannot run here (probed in a child, as the measurements are), or None if it can."""
    code = "from xbarsim.solver.ngspice import ngspice_shared; ngspice_shared()"
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "loading libngspice took over 120 s"
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=_sizes, default=[[32, 64, 128, 256, 512, 1024]],
                   help="array sizes n (n x n), comma- or space-separated (default: 32 to 1024)")
    p.add_argument("--ngspice-max", type=int, default=64, help="largest size run with ngspice (default 64)")
    p.add_argument("--badcrossbar-max", type=int, default=1024,
                   help="largest size run with badcrossbar (default 1024)")
    p.add_argument("--repeat", type=int, default=3,
                   help="best of N timed calls per measurement (default 3); a tool stops repeating once its "
                        "runs took --repeat-budget seconds")
    p.add_argument("--repeat-budget", type=float, default=20.0, help="seconds (default 20)")
    p.add_argument("--vectors", type=int, default=1000,
                   help="input vectors pushed through one array with transfer_matrix (0 skips; default 1000)")
    p.add_argument("--batch-size", type=int, default=256, help="array size of that measurement (default 256)")
    p.add_argument("--check-vectors", type=int, default=10,
                   help="vectors of the batch also solved directly to check V @ T (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per measurement (default 1800)")
    p.add_argument("--out", type=Path, default=Path("results/bench_solver.csv"), help="CSV output")
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._worker:
        spec = json.loads(args._worker)
        Path(spec["result"]).write_text(json.dumps(worker(spec)))
        return 0

    sizes = sorted({n for chunk in args.sizes for n in chunk})
    if not sizes or min(sizes) < 2 or args.repeat < 1:
        p.error("sizes must be integers >= 2 and --repeat >= 1")
    if args.vectors > 0 and args.batch_size < 2:
        p.error("--batch-size must be >= 2")
    if not (args.repeat_budget > 0 and args.timeout > 0):
        p.error("--repeat-budget and --timeout must be positive")

    try:
        rel = check_badcrossbar_mapping()
        progress(f"badcrossbar mapping check (6x6, 3 vectors, one open cell): max rel diff {rel:.1e}")
        have_badcrossbar = True
    except ImportError as exc:
        progress(f"badcrossbar not available ({exc}); its column is skipped. "
                 "Install: python -m pip install --no-deps badcrossbar pathvalidate sigfig")
        have_badcrossbar = False

    ngspice_missing = ngspice_unavailable() if sizes[0] <= args.ngspice_max else None
    if ngspice_missing:
        progress(f"ngspice not available ({ngspice_missing}); its column is skipped")

    plan: list[tuple[str, int]] = []
    for n in sizes:
        plan.append(("direct", n))
        plan.append(("auto", n))
        plan.append(("iterative", n))
        if n <= args.ngspice_max and not ngspice_missing:
            plan.append(("ngspice", n))
        if have_badcrossbar and n <= args.badcrossbar_max:
            plan.append(("badcrossbar", n))
    if args.vectors > 0:
        plan.append(("transfer", args.batch_size))

    from xbarsim import provenance

    # started now, with the seed every measurement uses (before: the CSV had no provenance line)
    prov = provenance.collect(seed=args.seed, ngspice=any(tool == "ngspice" for tool, _ in plan))
    load_start = os.getloadavg()[0]
    results: dict[tuple[str, int], Result] = {}
    with tempfile.TemporaryDirectory(prefix="bench_solver_") as tmp:
        for k, (tool, n) in enumerate(plan, 1):
            label = f"[{k}/{len(plan)}] {LABELS[tool]} {n}x{n}"
            if tool == "transfer":
                label += f", {args.vectors} vectors"
            progress(f"{label} ...", end=" ")
            spec = {"tool": tool, "size": n, "seed": args.seed, "repeat": args.repeat,
                    "repeat_budget": args.repeat_budget, "vectors": args.vectors,
                    "check_vectors": args.check_vectors}
            r = measure(spec, Path(tmp), args.timeout)
            ref = results.get(("direct", n))
            if r.currents is not None and tool != "transfer" and ref is not None and ref.currents is not None:
                r.max_rel_diff = rel_diff(r.currents, ref.currents)
            results[(tool, n)] = r
            if r.ok:
                runs = f"best of {len(r.times)}" if len(r.times) > 1 else "1 run"
                diff = "" if r.max_rel_diff is None else f", max rel diff {r.max_rel_diff:.1e}"
                progress(f"{fmt_time(r.best)} ({runs}), peak RSS {r.peak_rss_mb:.0f} MB{diff}")
            else:
                progress(f"{r.status} {r.extra.get('error', '')}")

    for (tool, n), r in results.items():
        base = results.get(("auto", n))
        if r.ok and tool not in ("transfer", "auto") and base is not None and base.ok:
            r.ratio = r.best / base.best
    # other work on the machine slows every tool; say how busy it was so timings can be judged
    args.load = (load_start, os.getloadavg()[0])
    write_csv(args.out, results, prov)
    print(render(sizes, results, args, have_badcrossbar, ngspice_missing))
    progress(f"CSV written to {args.out}")
    return 0


def write_csv(path: Path, results: dict[tuple[str, int], Result], prov: dict[str, Any]) -> None:
    """One row per measurement, after the provenance line, written atomically (a temporary file moved
    into place: an interrupt leaves the previous CSV, never a truncated one)."""
    from xbarsim import sweeps

    rows = [{"tool": r.tool, "size": r.size, "vectors": r.vectors, "status": r.status,
             "best_s": r.best if r.ok else "", "runs_s": ";".join(f"{t:.6g}" for t in r.times),
             "peak_rss_mb": f"{r.peak_rss_mb:.1f}", "base_rss_mb": f"{r.base_rss_mb:.1f}", "method": r.method,
             "iterations": "" if r.iterations is None else r.iterations,
             "kcl_residual": "" if r.kcl_residual is None else f"{r.kcl_residual:.3e}",
             "time_ratio_to_default": "" if r.ratio is None else f"{r.ratio:.6g}",
             "max_rel_diff_to_direct": "" if r.max_rel_diff is None else f"{r.max_rel_diff:.3e}",
             "extra": json.dumps(r.extra) if r.extra else ""} for r in results.values()]
    sweeps.write_csv(path, rows, prov)


def _target(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT met")


def _measured(results: dict[tuple[str, int], Result], tool: str, size: int) -> Result | None:
    r = results.get((tool, size))
    return r if r is not None and r.ok else None


def targets(results: dict[tuple[str, int], Result], args: argparse.Namespace) -> list[str]:
    """One line per target of issue 3: what this run measured and whether the target is met."""
    lines = []
    d = _measured(results, "auto", 256)
    lines.append("- 256x256 single solve incl. assembly <= 80 ms: "
                 + ("-, " + _target(None) if d is None else f"{fmt_time(d.best)}, {_target(d.best <= 0.080)}"))
    b = _measured(results, "badcrossbar", 256)
    speedup = None if b is None else b.ratio
    lines.append(f"- 256x256 at least 20x faster than badcrossbar: {fmt_ratio(speedup)}, "
                 + _target(None if speedup is None else speedup >= 20))
    d = _measured(results, "auto", 1024)
    lines.append("- 1024x1024 single solve <= 6 s and <= 3 GB: "
                 + (_target(None) if d is None else
                    f"{fmt_time(d.best)}, {fmt_mb(d.peak_rss_mb)} MB, "
                    + _target(d.best <= 6.0 and d.peak_rss_mb <= 3 * 1024)))
    # the target is for 1000 vectors through a 256x256 array; other settings are shown, not judged
    t = _measured(results, "transfer", args.batch_size) if (args.vectors, args.batch_size) == (1000, 256) else None
    lines.append("- 1000 input vectors through one 256x256 array <= 1 s in total, exact: "
                 + (_target(None) if t is None else
                    f"{fmt_time(t.best)}, diff {fmt_diff(t.max_rel_diff)}, {_target(t.best <= 1.0)}"))
    diffs = [r.max_rel_diff for (tool, _), r in results.items()
             if tool == "ngspice" and r.ok and r.max_rel_diff is not None]
    lines.append("- agreement with ngspice to 1e-9 relative: "
                 + (_target(None) if not diffs else f"worst {max(diffs):.1e}, {_target(max(diffs) <= 1e-9)}"))
    return lines


def render(sizes: list[int], results: dict[tuple[str, int], Result], args: argparse.Namespace,
           have_badcrossbar: bool, ngspice_missing: str | None = None) -> str:
    get = results.get
    head = ["size", "xbarsim (default)", "MB", "xbarsim direct", "MB", "xbarsim iterative", "MB", "ngspice", "MB",
            "badcrossbar", "MB", "direct / default", "iterative / default", "ngspice / default",
            "badcrossbar / default", "diff default", "diff iterative", "diff ngspice", "diff badcrossbar"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for n in sizes:
        row = [f"{n}x{n}"]
        for tool in TOOLS:
            r = get((tool, n))
            row += [cell_time(r), fmt_mb(r.peak_rss_mb) if r is not None and r.ok else "-"]
        for tool in TOOLS[1:]:
            r = get((tool, n))
            row.append(fmt_ratio(r.ratio) if r is not None else "-")
        for tool in ("auto", "iterative", "ngspice", "badcrossbar"):
            r = get((tool, n))
            row.append(fmt_diff(r.max_rel_diff) if r is not None else "-")
        lines.append("| " + " | ".join(row) + " |")

    out = ["## Single solve (read scheme), time incl. assembly and peak memory", "", *lines, ""]
    tr = get(("transfer", args.batch_size))
    if tr is not None:
        out += [f"## {args.vectors} input vectors through one {args.batch_size}x{args.batch_size} array", "",
                "| array | vectors | transfer_matrix | V @ T | total | MB | diff to direct |",
                "|---:|---:|---:|---:|---:|---:|---:|"]
        if tr.ok:
            k = tr.extra.get("check_vectors", "?")
            out.append(f"| {tr.size}x{tr.size} | {tr.vectors} | {fmt_time(tr.extra.get('transfer_s'))} | "
                       f"{fmt_time(tr.extra.get('matmul_s'))} | {fmt_time(tr.best)} | {fmt_mb(tr.peak_rss_mb)} | "
                       f"{fmt_diff(tr.max_rel_diff)} ({k} vectors) |")
        else:
            out.append(f"| {tr.size}x{tr.size} | {tr.vectors} | {tr.status} | - | - | - | - |")
        out.append("")

    out += [
        "Targets (issue 3, on a 2-core machine; this one has "
        f"{os.cpu_count()} logical CPUs, 1-minute load average {args.load[0]:.2f} at the start of the run "
        f"and {args.load[1]:.2f} at its end, this run included):",
        *targets(results, args),
        "",
        "Circuit: n x n array, conductances uniform in 1-100 uS, inputs uniform in [0, 0.3] V "
        f"(seed {args.seed}); every row and column wire has 1 ohm segments between cells plus one 1 ohm segment "
        "to its driver (rows, left end) or to its 0 V sense node (columns, bottom end), as badcrossbar models "
        "it; in xbarsim `LineResistance.uniform(1.0, driver=1.0, sense=1.0)` with `BiasScheme.read(v)`.",
        "Times: best of up to "
        f"{args.repeat} calls (fewer once {args.repeat_budget:g} s were spent), each measurement in a fresh "
        "process after an untimed 4x4 warm-up; the xbarsim times are the whole "
        "`xbarsim.solve(Crossbar(...), BiasScheme.read(v), backend)` call (validation, assembly, ordering, "
        "factorization, solve, every Solution field); badcrossbar's is `badcrossbar.compute(v, 1/G, "
        "r_i_word_line=1, r_i_bit_line=1)` with its defaults (all currents and node voltages). "
        "MB: peak resident memory of the whole process (ru_maxrss, interpreter and libraries included). "
        "diff: max |I - I_direct| / max |I_direct| over the output currents. Ratios: time / xbarsim default (above 1: slower than xbarsim).",
        f"Versions: {versions()}.",
    ]
    if not have_badcrossbar:
        out.append("badcrossbar was not installed: `python -m pip install --no-deps badcrossbar pathvalidate sigfig`.")
    if ngspice_missing:
        out.append(f"ngspice was not run: {ngspice_missing}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
