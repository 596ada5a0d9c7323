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

import sys
from pathlib import Path

from xbarsim.experiments import run_example

CONFIG = Path(__file__).parent / "configs" / "exp2_lea_mnist.toml"

if __name__ == "__main__":
    run_example(CONFIG, __doc__.split("\n\n")[0], sys.argv[1:])
