"""Experiment 1 (Drolet et al. 2023): regular vs hardware-aware training of a 2-8-1 sigmoid MLP on half
moons, Monte Carlo over weight transfers onto passive TiO2 crossbars (tio2_passive).

Reports the fraction of the 200 test points classified correctly in at least 95 % of the transfers
(paper: 79.5 % hardware-aware vs 18.5 % regular), for Drolet's own statistical transfer model and
for full circuit-level transfers (V/2 programming with half-select disturbance, sparse solver).

Runs the quick variant of `examples/configs/exp1_drolet.toml` by default (`--full` for the paper-size run;
the same as `xbarsim evaluate examples/configs/exp1_drolet.toml [--quick]`), prints the report and writes
CSV, JSON, Markdown and PNG files into `results/examples/<experiment name>/`.

    .venv/bin/python examples/05_drolet_transfers.py [--full] [--resume] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xbarsim.evaluation import load_experiment, run_experiment

CONFIG = Path(__file__).parent / "configs" / "exp1_drolet.toml"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the full-size experiment instead of its quick variant")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    args = parser.parse_args(argv)
    config = load_experiment(CONFIG, quick=not args.full)
    out = args.out if args.out is not None else Path("results") / "examples" / config.name
    report = run_experiment(config, out=out, resume=args.resume, progress=not args.no_progress)
    print(report.table)
    print(f"wrote {', '.join(p.name for p in report.files)} in {report.out} ({report.elapsed_s:.0f} s)")
    return report.out


if __name__ == "__main__":
    main()
