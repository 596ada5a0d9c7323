"""Experiment 2 (Yousuf et al., Layer Ensemble Averaging): fault tolerance of a 784-150-10 ternary MLP
on MNIST-5k under stuck devices, LEA vs MAO vs committee machines at equal device count.

The paper at 20 % faults: 43.4 % (alpha = 1) -> 89.6 % (alpha = 6) against a 94.5 % baseline,
committee machines 78.5 %, MAO 36.7 %. Other configs of the same experiment:
examples/configs/exp2_lea_digits.toml (digits) and exp2b_lea_beyond_mnist.toml (RME continuous
compensation and fault-aware training combined with LEA).

Runs the quick variant of `examples/configs/exp2_lea_mnist.toml` by default (`--full` for the paper-size run;
the same as `xbarsim evaluate examples/configs/exp2_lea_mnist.toml [--quick]`), prints the report and writes
CSV, JSON, Markdown and PNG files into `results/examples/<experiment name>/`.

    .venv/bin/python examples/06_lea_fault_tolerance.py [--full] [--resume] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xbarsim.evaluation import load_experiment, run_experiment

CONFIG = Path(__file__).parent / "configs" / "exp2_lea_mnist.toml"


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
