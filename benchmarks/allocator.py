"""The worker processes' memory allocator on an experiment-2 slice (issue 15 follow-up).

Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``; that also switches off glibc's
adaptive mmap threshold, so every array above 128 KiB is a fresh ``mmap`` whose pages fault in one by
one. xbarsim's embedded cluster now starts them with ``MALLOC_MMAP_THRESHOLD_`` 256 MiB and
``MALLOC_TRIM_THRESHOLD_`` 1 GiB (``xbarsim.sweeps.runner.WORKER_ALLOCATOR_ENV``). A value exported
in the environment wins, so the former behaviour is run here by exporting Dask's trim threshold
and glibc's fixed 128 KiB mmap threshold.

Each run is ``xbarsim evaluate`` in a fresh process on the same sweep (the exp2 hardware, full
MNIST, fault rate 0 / 20 %, alpha 1 / 6, LEA and MAO, ``--cycles`` cycles: 8 x cycles trials of
10,000 test images, 2 workers) over one WAGE network trained once beforehand. Reported per run: wall
time, user and system CPU time and minor page faults of the whole process tree (the rusage
``os.wait4`` returns), and the largest resident set of any one process of the run. The variants alternate, so a
drifting machine load hits both alike; the load average before and after is printed.

    .venv/bin/python benchmarks/allocator.py              # 2 repeats of each variant, 4 cycles
    .venv/bin/python benchmarks/allocator.py --repeats 1 --cycles 2
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xbarsim.networks import WageConfig, load_dataset, train_wage
from xbarsim.sweeps.runner import WORKER_ALLOCATOR_ENV

VARIANTS = {
    "Dask's default (trim 64 KiB, mmap 128 KiB)": {"MALLOC_TRIM_THRESHOLD_": "65536",
                                                   "MALLOC_MMAP_THRESHOLD_": "131072"},
    "xbarsim (trim 1 GiB, mmap 256 MiB)": dict(WORKER_ALLOCATOR_ENV),
}

#: The exp2 config's hardware, taken from the file itself (the benchmark runs its hardware, not a copy).
EXP2 = Path(__file__).resolve().parents[1] / "examples" / "configs" / "exp2_lea_mnist.toml"


def _config(cycles: int, network: Path) -> str:
    text = EXP2.read_text()
    hardware = text[text.index("[hardware]"):text.index("[variants]")]
    return (f'name = "allocator-bench"\nkind = "sweep"\ndataset = "mnist-wage"\nseed = 4\ncycles = {cycles}\n\n'
            f'[[networks]]\nname = "wage"\nrecipe = "file"\nfile = "{network}"\n\n{hardware}'
            '[variants]\nlea = { strategy = "lea" }\nmao = { strategy = "mao" }\n\n'
            '[grid]\nfault_rate = [0.0, 0.2]\nalpha = [1, 6]\nvariant = ["lea", "mao"]\n')


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _run(config: Path, out: Path, env: dict[str, str]) -> dict[str, float]:
    """One CLI run; its resource use from ``wait4`` (the process and every descendant it waited for)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "xbarsim.cli", "evaluate", str(config), "--out", str(out), "--workers", "2",
           "--quiet"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed with exit status {proc.returncode}")
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime, "minflt": float(ru.ru_minflt),
            "maxrss_mb": ru.ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=2, help="runs of each variant (alternating)")
    p.add_argument("--cycles", type=int, default=4, help="cycles per grid point (8 grid points)")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.cycles < 1:
        p.error("--repeats and --cycles must be >= 1")
    for name in VARIANTS["xbarsim (trim 1 GiB, mmap 256 MiB)"]:
        if name in os.environ:
            print(f"note: {name}={os.environ[name]} is exported; the variants set it themselves", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = load_dataset("mnist-wage")
        net = train_wage(data, WageConfig(learning_rate=8.0, seed=0)).network
        np.savez(work / "wage.npz", **net.to_dict())
        config = work / "bench.toml"
        config.write_text(_config(args.cycles, work / "wage.npz"))
        load_before = _load()
        rows: dict[str, list[dict[str, float]]] = {k: [] for k in VARIANTS}
        for r in range(args.repeats):
            for v, (name, env) in enumerate(VARIANTS.items()):
                print(f"run {r + 1}/{args.repeats}: {name}", file=sys.stderr, flush=True)
                rows[name].append(_run(config, work / f"out-{r}-{v}", env))
        load_after = _load()
    print(f"Command: {shlex.join([Path(sys.executable).name, *sys.argv])}; {8 * args.cycles} trials per run "
          f"(full MNIST, 10,000 test images each), 2 workers, {os.cpu_count()} CPUs; load average "
          f"(1 / 5 / 15 min) before {load_before}, after {load_after}\n")
    print("| workers' allocator | runs | wall (s) | user CPU (s) | system CPU (s) | minor page faults | "
          "largest process RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    means = {}
    for name, rs in rows.items():
        m = {k: float(np.mean([x[k] for x in rs])) for k in rs[0]}
        means[name] = m
        walls = " / ".join(f"{x['wall']:.1f}" for x in rs)
        print(f"| {name} | {len(rs)} | {m['wall']:.1f} ({walls}) | {m['user']:.1f} | {m['sys']:.1f} | "
              f"{m['minflt']:,.0f} | {m['maxrss_mb']:.0f} |")
    old, new = means.values()
    print(f"\nratio Dask's default / xbarsim: wall {old['wall'] / new['wall']:.2f}x, system CPU "
          f"{old['sys'] / max(new['sys'], 1e-9):.1f}x, minor faults {old['minflt'] / max(new['minflt'], 1):.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
