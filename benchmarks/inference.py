"""Inference benchmark: circuit-accurate throughput (samples per second) of the experiment networks.

The MNIST-5k (784-150-10) and digits (64-64-10) ternary networks of experiment 2 (trained by
``xbarsim.networks.train_ternary``, seed 0) are transferred once onto LEA devices (133/233 uS
pairs, write and read noise, no stuck devices) and their test images are classified through the
arrays: every kernel solved as a circuit by the sparse backend with 1 ohm row and column wire
segments, with linear (ohmic) cells -- one transfer-matrix factorization per kernel, then a matrix
product per input batch -- and with the LEA chip's sinh cells (a = 2.07 /V) -- one damped Newton
batched across every kernel and input vector (``--sinh-before-samples``: also kernel by kernel, the
read-out before that batching). The ideal product ``I = v @ G`` is timed for reference. 8-bit DAC and ADC per
input vector, 0.3 V read. Prints a markdown table (for docs/benchmarks.md) and writes a CSV.

    .venv/bin/python benchmarks/inference.py                       # 25 x 25 kernels (LEA chip)
    .venv/bin/python benchmarks/inference.py --kernel 64           # 64 x 64 kernels
    .venv/bin/python benchmarks/inference.py --networks digits --sinh-samples 360
    .venv/bin/python benchmarks/inference.py --networks mnist5k --samples 10000   # test set repeated

Samples per second = classified test images / wall-clock seconds of inference (mapping excluded,
reported separately); single process, numpy's default threads. CPU (s) is the process's CPU time
over the same span (on a shared machine it moves less with the load than the wall clock).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

from xbarsim import provenance
from xbarsim.errors import ConfigError
from xbarsim.evaluation import Hardware, transfer
from xbarsim.networks import load_digits, load_mnist5k, train_ternary
from xbarsim.solver.sparse import SparseBackend
from xbarsim.sweeps import write_csv


def run(args: argparse.Namespace, names: list[str], loaders: dict) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for name in names:
        load, hidden = loaders[name]
        data = load()
        t0 = time.perf_counter()
        net = train_ternary(data, hidden=hidden, seed=0).network
        print(f"[{name}] trained {net.layer_sizes} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        for label, backend, device, limit in (("ideal product", "ideal", "ohmic", args.samples),
                                              ("sparse, linear cells", "sparse", "ohmic", args.samples),
                                              ("sparse, sinh cells, kernel by kernel (before)", "sparse", "preset",
                                               args.sinh_before_samples),
                                              ("sparse, sinh cells", "sparse", "preset", args.sinh_samples)):
            if limit <= 0:  # --sinh-samples 0 skips the sinh row
                continue
            before = mock.patch.object(SparseBackend, "read_currents", None) if "before" in label else None
            hw = Hardware(fault_rate=0.0, kernel_shape=(args.kernel, args.kernel), backend=backend,  # type: ignore[arg-type]
                          device=device, segment_ohm=args.segment if backend != "ideal" else 0.0)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            hwnet = transfer(net, hw, np.random.default_rng(args.seed))
            t_map = time.perf_counter() - t0
            # more samples than the test set: the test set repeated (the throughput is what is measured)
            reps = -(-limit // len(data.y_test))
            x = np.tile(data.x_test, (reps, 1))[:limit]
            y = np.tile(data.y_test, reps)[:limit]
            if before is not None:
                before.start()
            t0, c0 = time.perf_counter(), time.process_time()
            pred = hwnet.predict(x)
            t_inf, c_inf = time.perf_counter() - t0, time.process_time() - c0
            if before is not None:
                before.stop()
            kernels = sum(len(layer.placement.kernels) for layer in hwnet.members[0].layers)
            row = {"network": f"{name} {'-'.join(map(str, net.layer_sizes))}", "kernels": kernels,
                   "kernel": f"{args.kernel}x{args.kernel}", "read": label,
                   "segment_ohm": hw.segment_ohm, "samples": int(y.size), "map_s": t_map, "inference_s": t_inf,
                   "samples_per_s": y.size / t_inf, "cpu_s": c_inf, "accuracy": float(np.mean(pred == y)),
                   "software_accuracy": float(np.mean(net.predict(x) == y))}
            rows.append(row)
            row["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "-"
            print(f"[{name}] {label}: {y.size} samples in {t_inf:.2f} s ({row['samples_per_s']:.1f}/s), "
                  f"mapping {t_map:.2f} s, load {row['load']}", file=sys.stderr, flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks", default="mnist5k,digits", help="comma-separated: mnist5k, digits")
    ap.add_argument("--kernel", type=int, default=25, help="kernel rows = columns (25: the LEA chip)")
    ap.add_argument("--segment", type=float, default=1.0, help="wire segment resistance, ohm")
    ap.add_argument("--samples", type=int, default=1000, help="test images for ideal and linear cells")
    ap.add_argument("--sinh-samples", type=int, default=100, help="test images for sinh cells (Newton); 0 skips")
    ap.add_argument("--sinh-before-samples", type=int, default=0,
                    help="test images for sinh cells read kernel by kernel (the read-out before Newton was "
                         "batched across tiles: the sparse backend's read_currents switched off); 0 skips")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("results/bench_inference.csv"))
    args = ap.parse_args()
    loaders = {"mnist5k": (load_mnist5k, 150), "digits": (load_digits, 64)}
    names = [s.strip() for s in args.networks.split(",") if s.strip()]
    unknown = [n for n in names if n not in loaders]
    if not names or unknown:  # before any network is trained
        ap.error(f"--networks: expected some of {', '.join(loaders)}, got {args.networks!r}")
    try:  # a bad --kernel or --segment is refused before any network is trained
        Hardware(kernel_shape=(args.kernel, args.kernel), backend="sparse", segment_ohm=args.segment)
    except ConfigError as exc:
        ap.error(str(exc))
    prov = provenance.collect(seed=args.seed)  # started now, with the transfers' seed (before: at the end, no seed)
    rows = run(args, names, loaders)
    print(f"\nCircuit-accurate inference throughput ({args.kernel}x{args.kernel} kernels, "
          f"{args.segment:g} ohm segments, LEA devices, 8-bit DAC/ADC, one copy, single process)\n")
    print("| network | kernels | read | samples | inference (s) | samples/s | CPU (s) | accuracy (software) | mapping (s) "
          "| load |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['network']} | {r['kernels']} x {r['kernel']} | {r['read']} | {r['samples']} | "
              f"{r['inference_s']:.2f} | {r['samples_per_s']:.1f} | {r['cpu_s']:.2f} | {100 * r['accuracy']:.1f} % "
              f"({100 * r['software_accuracy']:.1f} %) | {r['map_s']:.2f} | {r['load']} |")
    print(f"\ncommand: .venv/bin/python benchmarks/inference.py --networks {args.networks} --kernel {args.kernel} "
          f"--segment {args.segment:g} --samples {args.samples} --sinh-samples {args.sinh_samples} "
          f"--sinh-before-samples {args.sinh_before_samples}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(args.out, rows, prov)
    return 0


if __name__ == "__main__":
    sys.exit(main())
