"""Experiment 3 (Yousuf et al., LEA paper Fig. 5): a 4-12-6-3 tanh MLP trained with EWC on the two
tasks of double Yin-Yang, ternarized, on the LEA chip (32 kernels of 25 x 25, measured faults),
greedy vs random placement, (alpha, beta) from (1, 1) to (4, 4).

The paper: about 56-62 % at (1, 1) rising to about 70.3 % at (4, 4); software 72 %.

Runs the quick variant of `examples/configs/exp3_yinyang.toml` by default (`--full` for the paper-size run;
the same as `xbarsim evaluate examples/configs/exp3_yinyang.toml [--quick]`), prints the report and writes
CSV, JSON, Markdown and PNG files into `results/examples/<experiment name>/`.

    .venv/bin/python examples/07_continual_learning.py [--full] [--resume] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xbarsim.evaluation import load_experiment, run_experiment

CONFIG = Path(__file__).parent / "configs" / "exp3_yinyang.toml"


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
