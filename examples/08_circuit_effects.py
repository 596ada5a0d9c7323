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

import sys
from pathlib import Path

from xbarsim.experiments import run_example

CONFIG = Path(__file__).parent / "configs" / "exp4_circuit.toml"

if __name__ == "__main__":
    run_example(CONFIG, __doc__.split("\n\n")[0], sys.argv[1:])
