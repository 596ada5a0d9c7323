"""Experiment 3b, where the Fig. 5 mapping error comes from: one factor at a time.

Starts from the "chip" variant of `examples/configs/exp3b_fig5_chip.toml` (write-verify at 18.3 uS
with at most 3 writes, characterized G_norm, measured fault maps on every kernel) and changes one
thing at a time, at (alpha, beta) = (1, 1) and (4, 4), reporting accuracy (both tasks) and the
per-layer mapping error 100 ||W_hat - W||_F / ||W||_F (the paper's per-layer error, averaged over
the layers as in its data/figure_5/b files, column 7). First it prints the spread of one read-back
of healthy devices after the chip's write-verify (targets 133 / 233 uS), the number to set beside
the chip's own programmed maps (data/figure_5/c). Writes `results/examples/12_fig5_trace.csv`.

With ``--paper-cycles DIR`` (the LEA repository's ``data/figure_5/b``) it instead splits the paper's
own per-cycle mapping errors, layer by layer, into a floor ``F`` and a per-cycle scale term:
``err_c = sqrt(F^2 + (100 sigma z_c)^2)``, ``z_c`` standard normal. That is the form an error takes
when the read-back matrix is the same in every cycle and only a scale (``G_norm``, a read gain)
changes from cycle to cycle: the error is quadratic in the scale around its best value. Fresh
device errors in every cycle would scatter the error on both sides of its mean instead.

    .venv/bin/python examples/12_fig5_trace.py [--cycles 10]
    .venv/bin/python examples/12_fig5_trace.py --paper-cycles layer-ensemble-averaging/data/figure_5/b
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from xbarsim import provenance
from xbarsim.evaluation import evaluate
from xbarsim.evaluation.hardware import build_preset
from xbarsim.experiments import load_experiment, train_network
from xbarsim.experiments.networks import cached_dataset
from xbarsim.mapping import lea_chip
from xbarsim.mapping.programming import WriteVerify, read_devices, write_verify
from xbarsim.sweeps import write_csv

CONFIG = Path(__file__).parent / "configs" / "exp3b_fig5_chip.toml"

#: label -> (network override or None, hardware override)
CHANGES = {
    "chip model (as configured)": (None, {}),
    "simulation read noise U(+-10 uS)": (None, {"read_noise_std": None}),
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
    chip = lea_chip(rng, unmeasured="measured", preset=build_preset(hardware))
    idx = np.flatnonzero(~chip.faults.stuck.ravel())[:20_000]
    target = np.where(rng.random(idx.size) < 0.35, 233e-6, 133e-6)
    vf = WriteVerify(tolerance=hardware.verify_tolerance, max_iterations=hardware.max_writes)
    programmed, _ = write_verify(chip, idx, target, np.random.default_rng(seed + 1), verify=vf)
    read = read_devices(programmed, idx, np.random.default_rng(seed + 2))
    true = np.asarray(programmed.conductance).ravel()[idx]
    return float(np.std(read - target) * 1e6), float(np.std(true - target) * 1e6)


def cycle_floor(errors: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Percent: the floor ``F`` (the smallest error), the per-cycle scale spread ``sigma`` (in units
    of 1 %, from the median excess ``sqrt(median^2 - F^2)`` of a half-normal), and the check: the
    excess at the 25/50/75/90 % quantiles over the half-normal's, which is constant (= sigma) when
    the form holds."""
    e = np.asarray(errors, dtype=float)
    f = float(e.min())
    excess = np.sqrt(np.maximum(e ** 2 - f ** 2, 0.0))
    q = np.array([0.25, 0.5, 0.75, 0.9])
    half_normal = np.array([0.3186, 0.6745, 1.1503, 1.6449])  # Phi^-1((1 + q) / 2)
    ratios = np.quantile(excess, q) / half_normal
    return f, float(ratios[1]), ratios


def paper_cycles(folder: Path) -> int:
    """Print the floor / scale split of the paper's greedy per-cycle files in ``folder``."""
    files = sorted(folder.glob("*xbmappinggreedy_alpha*_beta*_accs_errors.txt"))
    if not files:
        print(f"no greedy *_accs_errors.txt files in {folder}", file=sys.stderr)
        return 2
    print("| encoding | (alpha, beta) | cycles | accuracy (sd) | layer: mean error, floor F, scale sigma, "
          "excess/half-normal at 25/50/75/90 % |")
    print("|---|---|---:|---:|---|")
    for f in files:
        enc = f.name.split("weightencoding")[1].split("_")[0]
        ab = f.name.split("_alpha")[1].split("_samplingiters")[0].replace("_beta", ", ")
        d = np.loadtxt(f)
        cells = []
        for j in (3, 4, 5):
            fl, sig, ratios = cycle_floor(d[:, j])
            cells.append(f"L{j - 2}: {d[:, j].mean():.1f}, {fl:.1f}, {sig:.1f} ({' '.join(f'{r:.1f}' for r in ratios)})")
        print(f"| {enc} | ({ab}) | {d.shape[0]} | {d[:, 2].mean():.1f} ({d[:, 2].std():.2f}) | {'; '.join(cells)} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=10, help="transfers (cycles) per change and (alpha, beta)")
    ap.add_argument("--only", default="", help="comma-separated labels of CHANGES to run (default: all)")
    ap.add_argument("--out", type=Path, default=Path("results/examples/12_fig5_trace.csv"))
    ap.add_argument("--paper-cycles", type=Path, default=None,
                    help="the LEA repository's data/figure_5/b: split the paper's per-cycle errors instead")
    args = ap.parse_args(argv)
    if args.paper_cycles is not None:
        return paper_cycles(args.paper_cycles)
    if args.cycles < 1:
        ap.error(f"--cycles must be at least 1; got {args.cycles}")
    unknown = [c for c in args.only.split(",") if c and c not in CHANGES]
    if unknown:
        ap.error(f"unknown change(s) {unknown}; choose from {', '.join(map(repr, CHANGES))}")
    config = load_experiment(CONFIG)
    prov = provenance.collect(config=CONFIG, seed=config.seed)  # the config and seed the transfers use, started now
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
    write_csv(args.out, rows, prov)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
