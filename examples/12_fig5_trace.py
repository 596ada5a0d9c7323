"""Experiment 3b, where the Fig. 5 mapping error comes from: one factor at a time.

Starts from the "chip" variant of `examples/configs/exp3b_fig5_chip.toml` (write-verify at 18.3 uS
with at most 3 writes, characterized G_norm, measured fault maps on every kernel) and changes one
thing at a time, at (alpha, beta) = (1, 1) and (4, 4), reporting accuracy (both tasks) and the
per-layer mapping error 100 ||W_hat - W||_F / ||W||_F (the paper's per-layer error, averaged over
the layers as in its data/figure_5/b files, column 7). First it prints the spread of one read-back
of healthy devices after the chip's write-verify (targets 133 / 233 uS), the number to set beside
the chip's own programmed maps (data/figure_5/c). Writes `results/examples/12_fig5_trace.csv`.

    .venv/bin/python examples/12_fig5_trace.py [--cycles 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from xbarsim import provenance
from xbarsim.evaluation import evaluate
from xbarsim.experiments import load_experiment, train_network
from xbarsim.experiments.networks import cached_dataset
from xbarsim.mapping import lea_chip
from xbarsim.mapping.programming import WriteVerify, read_devices, write_verify
from xbarsim.sweeps import write_csv

CONFIG = Path(__file__).parent / "configs" / "exp3b_fig5_chip.toml"

#: label -> (network override or None, hardware override)
CHANGES = {
    "chip model (as configured)": (None, {}),
    "no programming error": (None, {"programming_noise": False}),
    "no read noise": (None, {"read_noise": False}),
    "verify tolerance 9.15 uS (half)": (None, {"verify_tolerance": 9.15e-6}),
    "nominal G_norm (100 uS)": (None, {"g_norm": "nominal"}),
    "denser network (ternary_delta 0.5)": ({"ternary_delta": 0.5}, {}),
    "post-training ternarization": ({"quantization": "none", "ternarize": "reconstruct"}, {}),
}


def device_spread(hardware, seed: int = 0) -> tuple[float, float]:
    """uS: std of one read-back of healthy devices after write-verify, and of their true state."""
    rng = np.random.default_rng(seed)
    chip = lea_chip(rng, unmeasured="measured")
    idx = np.flatnonzero(~chip.faults.stuck.ravel())[:20_000]
    target = np.where(rng.random(idx.size) < 0.35, 233e-6, 133e-6)
    vf = WriteVerify(tolerance=hardware.verify_tolerance, max_iterations=hardware.max_writes)
    programmed, _ = write_verify(chip, idx, target, np.random.default_rng(seed + 1), verify=vf)
    read = read_devices(programmed, idx, np.random.default_rng(seed + 2))
    true = np.asarray(programmed.conductance).ravel()[idx]
    return float(np.std(read - target) * 1e6), float(np.std(true - target) * 1e6)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=10, help="transfers (cycles) per change and (alpha, beta)")
    ap.add_argument("--only", default="", help="comma-separated labels of CHANGES to run (default: all)")
    ap.add_argument("--out", type=Path, default=Path("results/examples/12_fig5_trace.csv"))
    args = ap.parse_args(argv)
    config = load_experiment(CONFIG)
    chip_hw = config.hardware.replace(**config.variants["chip"])
    read_sd, true_sd = device_spread(chip_hw)
    print(f"one read-back after write-verify: std {read_sd:.1f} uS (true state {true_sd:.1f} uS)", file=sys.stderr)
    data = cached_dataset(config.dataset)
    base = next(s for s in config.networks if s.name == "ewc-ternary")
    rows = []
    trained: dict[str, object] = {}
    picked = [c for c in args.only.split(",") if c] or list(CHANGES)
    for label in picked:
        net_change, hw_change = CHANGES[label]
        key = repr(sorted((net_change or {}).items()))
        if key not in trained:
            trained[key] = train_network(dataclasses.replace(base, **(net_change or {})), data, chip_hw)
        net = trained[key]
        density = [float(np.mean(np.asarray(w) != 0)) for w in net.weights]
        for ab in ((1, 1), (4, 4)):
            hw = chip_hw.replace(alpha=ab[0], beta=ab[1], **hw_change)
            res = [evaluate(net, data, hw, seed=config.seed * 1000 + c) for c in range(args.cycles)]
            me = np.array([r.mapping_errors for r in res])
            row = {"change": label, "alpha_beta": f"{ab[0]},{ab[1]}", "cycles": args.cycles,
                   "accuracy": float(np.mean([r.hardware_accuracy for r in res])),
                   "accuracy_std": float(np.std([r.hardware_accuracy for r in res])),
                   "task1": float(np.mean([r.tasks[0].hardware for r in res])),
                   "task2": float(np.mean([r.tasks[1].hardware for r in res])),
                   "software": float(res[0].software_accuracy),
                   "mapping_error": float(me.mean()), "mapping_error_std": float(me.mean(axis=1).std()),
                   **{f"mapping_error_l{i + 1}": float(v) for i, v in enumerate(me.mean(axis=0))},
                   "density": " / ".join(f"{d:.2f}" for d in density)}
            rows.append(row)
            print(f"{label:38s} {ab} acc {row['accuracy']:.1%} ME {row['mapping_error']:.1f} %", file=sys.stderr,
                  flush=True)
    print(f"\nOne read-back after write-verify: std {read_sd:.1f} uS (true state {true_sd:.1f} uS).\n")
    print("| change | (alpha, beta) | accuracy | task 1 / task 2 | software | mapping error (layers) | density |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        layers = " / ".join(f"{r[k]:.1f}" for k in r if k.startswith("mapping_error_l"))
        print(f"| {r['change']} | ({r['alpha_beta']}) | {r['accuracy']:.1%} ± {r['accuracy_std']:.1%} | "
              f"{r['task1']:.1%} / {r['task2']:.1%} | {r['software']:.1%} | {r['mapping_error']:.1f} ± "
              f"{r['mapping_error_std']:.1f} % ({layers}) | {r['density']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(args.out, rows, provenance.collect())
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
