"""Sweep engine overhead and scaling (issue 8).

Measures, with trials of a fixed amount of CPU work (the "busy" trial kind, calibrated in this
process to about ``--trial-s`` seconds on one core):

* overhead per trial: wall-clock time of the run minus the time spent inside the trial functions,
  per trial and per worker, relative to the trial time; for the serial mode and for a Dask
  LocalCluster with 1 and 2 worker processes (cluster start-up and shutdown reported separately);
* scaling: throughput (trials per second, cluster start excluded) with 2 workers over 1 worker, and
  the same for the work rate (LCG steps per second).

The targets: overhead below 5 % of the trial time for ~1 s trials; 2 workers at least 1.7x the
throughput of one on a 2-core machine. The machine may be shared: the load average before and
after is printed. The work per trial is calibrated once, before the first mode, so every mode runs
exactly the same work (the clock speed of this virtual machine's cores drifts by 10-30 % between
seconds, and a per-mode calibration made the work-rate ratio follow that drift, not the engine).

    .venv/bin/python benchmarks/sweep.py                # 12 trials of ~1 s per mode
    .venv/bin/python benchmarks/sweep.py --trials 8 --trial-s 0.5
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from xbarsim.errors import ConfigError
from xbarsim.experiments import TRIALS, calibrate_busy
from xbarsim.sweeps import ResultStore, SweepSpec, run_sweep


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _run(mode: str, iterations: int, trials: int, workdir: Path) -> dict[str, float]:
    """Run ``trials`` busy trials; wall time split into start-up, steady state and the trials themselves."""
    spec = SweepSpec(name=f"bench-{mode}", trial="busy", grid={"iterations": [iterations]}, trials=trials, seed=0)
    store = workdir / f"{mode}.sqlite"
    if mode == "serial":
        scheduler, n_workers = "serial", None
    else:
        scheduler, n_workers = "local", int(mode.split("-")[1])
    t0 = time.time()
    report = run_sweep(spec, TRIALS["busy"], store=store, scheduler=scheduler, n_workers=n_workers)
    t_end = time.time()
    with ResultStore(store, readonly=True) as db:
        recs = db.records(order="insert")
    assert len(recs) == trials and all(r.ok for r in recs), [r.error for r in recs if not r.ok]
    workers = report.n_workers
    busy = sum(r.duration_s for r in recs)
    # steady state: from the moment the first trial could have started (first finish minus its
    # duration) to the last stored result; start-up is before, shutdown after
    first_start = min(r.finished_at - r.duration_s for r in recs)
    last = max(r.finished_at for r in recs)
    steady = last - first_start
    overhead = (steady * workers - busy) / trials
    mean_trial = busy / trials
    return {
        "workers": workers, "trials": trials, "wall": t_end - t0, "startup": first_start - t0,
        "shutdown": t_end - last, "steady": steady, "trial_mean": mean_trial,
        "overhead": overhead, "overhead_pct": 100.0 * overhead / mean_trial,
        "throughput": trials / steady,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=12, help="trials per mode (even, so 2 workers share them equally)")
    p.add_argument("--trial-s", type=float, default=1.0, help="target duration of one trial on an idle core, s")
    p.add_argument("--modes", default="serial,local-1,local-2")
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if not (m == "serial" or (m.startswith("local-") and m[6:].isdigit() and int(m[6:]) > 0))]
    if not modes or bad:
        p.error(f"--modes: expected serial and/or local-N (N >= 1 workers), got {args.modes!r}")
    if args.trials < 1:
        p.error("--trials must be >= 1")
    load_before = _load()
    rows = []
    try:
        iterations = calibrate_busy(args.trial_s, probe_s=0.5)
    except ConfigError as exc:  # a --trial-s out of range: the library's message
        p.error(str(exc))

    with tempfile.TemporaryDirectory(prefix="xbarsim_bench_sweep_") as tmp:
        for mode in modes:
            r = _run(mode, iterations, args.trials, Path(tmp))
            r["iterations"] = iterations
            r["work_rate"] = iterations * r["trials"] / r["steady"] / 1e6
            rows.append((mode, r))
            print(f"{mode}: {r['trials']} trials in {r['wall']:.1f} s", file=sys.stderr, flush=True)
    load_after = _load()
    print(f"command: {' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])}")
    print(f"machine: {os.cpu_count()} CPUs; load average (1/5/15 min) before {load_before}, after {load_after}")
    print()
    print("| mode | workers | trials | mean trial (s) | start-up (s) | steady state (s) | shutdown (s) "
          "| overhead / trial (ms) | overhead (% of trial) | throughput (trials/s) | work rate (M LCG steps/s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, r in rows:
        print(f"| {mode} | {r['workers']} | {r['trials']} | {r['trial_mean']:.3f} | {r['startup']:.2f} "
              f"| {r['steady']:.2f} | {r['shutdown']:.2f} | {1e3 * r['overhead']:.1f} | {r['overhead_pct']:.2f} "
              f"| {r['throughput']:.3f} | {r['work_rate']:.2f} |")
    by = dict(rows)
    if "local-1" in by and "local-2" in by:
        speedup = by["local-2"]["throughput"] / by["local-1"]["throughput"]
        work = by["local-2"]["work_rate"] / by["local-1"]["work_rate"]
        print()
        print(f"scaling: 2 workers / 1 worker throughput = {speedup:.2f}x in trials/s, {work:.2f}x in work/s "
              "(the same work per trial in every mode; target >= 1.7x)")
    worst = max(r["overhead_pct"] for _, r in rows)
    print(f"worst overhead: {worst:.2f} % of the trial time (target < 5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
