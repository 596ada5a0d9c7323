"""Experiment 1, where the circuit-level transfers lose robustness: one factor at a time.

Starts from the circuit-level transfer of `examples/configs/exp1_drolet.toml` (V/2 programming
sequence with write-verify and circuit half-select disturbance, biases on the crossbar, sinh cells,
8-bit converters) and removes one non-ideality at a time, reporting Drolet et al.'s metric (test
points correct in >= 95 % of the transfers) for both networks. Writes
`results/examples/09_drolet_gap.csv` and prints a markdown table.

    .venv/bin/python examples/09_drolet_gap.py [--transfers 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xbarsim import provenance
from xbarsim.evaluation import monte_carlo
from xbarsim.experiments import load_experiment, train_network
from xbarsim.networks import load_half_moons
from xbarsim.sweeps import write_csv

CONFIG = Path(__file__).parent / "configs" / "exp1_drolet.toml"

#: One change at a time against the config's circuit-level hardware.
ABLATIONS = {
    "circuit-level (as configured)": {},
    "linear (ohmic) cells": {"device": "ohmic"},
    "ideal converters": {"dac_bits": None, "adc_bits": None},
    "biases digital, not on the crossbar": {"bias": "digital"},
    "write-verify without the V/2 sequence": {"programming": "write-verify", "verify_tolerance": 4e-6},
    "no stuck devices": {"fault_rate": 0.0},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transfers", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path("results/examples/09_drolet_gap.csv"))
    args = ap.parse_args(argv)
    if args.transfers < 1:
        ap.error(f"--transfers must be at least 1; got {args.transfers}")
    config = load_experiment(CONFIG)
    prov = provenance.collect(config=CONFIG, seed=config.seed)  # the config and seed the transfers use, started now
    data = load_half_moons()
    nets = {spec.name: train_network(spec, data, config.hardware) for spec in config.networks}
    rows = []
    for label, change in ABLATIONS.items():
        hw = config.hardware.replace(**change)
        for name, net in nets.items():
            res = monte_carlo(net, data, hw, transfers=args.transfers, seed=config.seed)
            rows.append({"hardware": label, "network": name, "transfers": res.transfers,
                         "robust_fraction": res.robust_fraction, "mean_accuracy": res.mean_accuracy})
            print(f"{label:40s} {name:15s} robust {res.robust_fraction:6.1%} mean {res.mean_accuracy:6.1%}",
                  file=sys.stderr, flush=True)
    print("\n| hardware | network | transfers | points correct in >= 95 % | mean accuracy |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['hardware']} | {r['network']} | {r['transfers']} | {r['robust_fraction']:.1%} "
              f"| {r['mean_accuracy']:.1%} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(args.out, rows, prov)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
