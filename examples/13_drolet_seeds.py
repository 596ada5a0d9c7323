"""Experiment 1 over training seeds: Drolet et al.'s robust fraction, mean +- std, per training recipe.

For every recipe below and every training seed, trains the 2-8-1 sigmoid half-moons network, then
runs the Monte Carlo of weight transfers under two transfer models: the authors' (`drolet-code`,
`DroletCodePerturbation`: +-400 uS frame, measured disturbance samples, scalar output bias exact) and
the physical one (`DevicePerturbation` of the `tio2_passive` preset, weights and biases). Reports the
robust fraction (test points correct in >= 95 % of the transfers) and, for the authors' own
`test_individual` default of 10 simulations, the expected fraction of points correct in all of 10
draws (the mean over disjoint groups of 10 transfers). Writes `results/examples/13_drolet_seeds.csv`
and prints a markdown table.

Recipes (facts from 3it-inpaqt/Hardware-Aware-Article: utils/settings.py, networks/*.py,
hardaware_pytorch_layers/hardaware_linear.py):
  regular        our former recipe: Adam 0.1, batch 32, 200 epochs, no L2
  regular-long   the authors' regular network: Adam 0.1, batch 256, 10,000 epochs, no L2
  aware          our former hardware-aware recipe: authors' model, L2 1e-3, weights only, 200 epochs
  aware-code     the authors' hardware-aware network: their model on weights and biases, Adam weight
                 decay 1e-4, batch 32, 200 epochs
  aware-long     the same with their batch 256 and 10,000 epochs
  aware-physical exp1_drolet.toml's hardware-aware network: our physical device model on weights and
                 biases, weight decay 1e-4, batch 32, 200 epochs

    .venv/bin/python examples/13_drolet_seeds.py [--seeds 5] [--transfers 1000] [--recipes regular-long,aware-code]
    .venv/bin/python examples/13_drolet_seeds.py --quick      (2 seeds, 50 transfers, 20 epochs: a smoke run)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from xbarsim import provenance
from xbarsim.evaluation import DroletCodePerturbation, device_perturbation, monte_carlo, robust_fraction
from xbarsim.networks import MOONS_CONFIG, load_half_moons, train_moons
from xbarsim.sweeps import write_csv

#: name -> (perturbation model for training or None, L2, perturb biases, batch size, epochs)
RECIPES = {
    "regular": (None, 0.0, False, 32, 200),
    "regular-long": (None, 0.0, False, 256, 10_000),
    "aware": ("drolet-code", 1e-3, False, 32, 200),
    "aware-code": ("drolet-code", 1e-4, True, 32, 200),
    "aware-long": ("drolet-code", 1e-4, True, 256, 10_000),
    "aware-physical": ("physical", 1e-4, True, 32, 200),
}


def robust_of_10(correct: np.ndarray) -> float:
    """Expected fraction of points correct in all of 10 draws (disjoint groups of 10 transfers)."""
    groups = correct.shape[0] // 10
    if groups == 0:
        return float("nan")
    return float(np.mean([robust_fraction(correct[10 * g:10 * g + 10], 0.95) for g in range(groups)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="training seeds 0 .. N-1")
    ap.add_argument("--transfers", type=int, default=1000, help="Monte Carlo transfers per network and model")
    ap.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated names of RECIPES")
    ap.add_argument("--quick", action="store_true", help="2 seeds, 50 transfers, at most 20 epochs")
    ap.add_argument("--out", default="results/examples", help="output folder")
    args = ap.parse_args(argv)
    names = [r for r in args.recipes.split(",") if r]
    unknown = [r for r in names if r not in RECIPES]
    if unknown:
        ap.error(f"unknown recipe(s) {unknown}; choose from {', '.join(RECIPES)}")
    if args.seeds < 1 or args.transfers < 10:  # the 10-draw fraction needs one group of 10 transfers
        ap.error(f"--seeds must be at least 1 and --transfers at least 10; got {args.seeds} and {args.transfers}")
    seeds, transfers = (2, 50) if args.quick else (args.seeds, args.transfers)
    prov = provenance.collect()  # started now, not when the CSV is written
    data = load_half_moons()
    code = DroletCodePerturbation()
    physical = device_perturbation("tio2_passive", disturbance="measured", perturb_biases=True)
    rows = []
    for name in names:
        model, l2, biases, batch, epochs = RECIPES[name]
        if args.quick:
            epochs = min(epochs, 20)
        cfg = dataclasses.replace(MOONS_CONFIG, l2=l2, batch_size=batch, epochs=epochs)
        for seed in range(seeds):
            t0 = time.perf_counter()
            pert = {"drolet-code": code, "physical": physical, None: None}[model]
            net = train_moons(data, perturbation=pert, config=cfg, seed=seed, perturb_biases=biases).network
            software = float(np.mean(net.predict(data.x_test) == data.y_test))
            r_code = monte_carlo(net, data, code, transfers=transfers, seed=2023)
            r_phys = monte_carlo(net, data, physical, transfers=transfers, seed=2023)
            rows.append({"recipe": name, "seed": seed, "software": software,
                         "robust_code": r_code.robust_fraction, "robust10_code": robust_of_10(r_code.correct),
                         "robust_physical": r_phys.robust_fraction,
                         "robust10_physical": robust_of_10(r_phys.correct),
                         "mean_accuracy_code": float(r_code.correct.mean()), "seconds": time.perf_counter() - t0})
            print(f"{name} seed {seed}: software {100 * software:.1f} %, robust {100 * rows[-1]['robust_code']:.1f} % "
                  f"(authors' model), {100 * rows[-1]['robust_physical']:.1f} % (physical)", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "13_drolet_seeds.csv", rows, prov)
    print(f"wrote {out / '13_drolet_seeds.csv'}\n\nIn %: each seed's software accuracy, then the fractions of test points "
          f"(mean ± std over {seeds} seeds; {transfers} transfers each).\n")
    print("| recipe | software (seeds) | robust, authors' model | all-of-10, authors' | robust, physical | "
          "all-of-10, physical |")
    print("|---|---|---:|---:|---:|---:|")
    for name in names:
        sel = [r for r in rows if r["recipe"] == name]

        def ms(key: str) -> str:
            v = 100 * np.array([r[key] for r in sel])
            return f"{v.mean():.1f} ± {v.std():.1f}"

        sw = ", ".join(f"{100 * r['software']:.1f}" for r in sel)
        print(f"| {name} | {sw} | {ms('robust_code')} | {ms('robust10_code')} | {ms('robust_physical')} | "
              f"{ms('robust10_physical')} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
