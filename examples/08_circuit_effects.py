"""Experiment 4: the network of experiment 2 read through the circuit: the sparse solver with 1 ohm
wire segments (linear and sinh cells) against the ideal product I = v @ G.

examples/configs/exp4b_wire.toml sweeps the wire resistance and the kernel size (accuracy versus
wire resistance).

Runs the quick variant of `examples/configs/exp4_circuit.toml` by default (`--full` for the paper-size run;
the same as `xbarsim evaluate examples/configs/exp4_circuit.toml [--quick]`), prints the report and writes
CSV, JSON, Markdown and PNG files into `results/examples/<experiment name>/`.

    .venv/bin/python examples/08_circuit_effects.py [--full] [--resume] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xbarsim.evaluation import load_experiment, run_experiment

CONFIG = Path(__file__).parent / "configs" / "exp4_circuit.toml"


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
