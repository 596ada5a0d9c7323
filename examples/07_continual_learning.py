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

import sys
from pathlib import Path

from xbarsim.experiments import run_example

CONFIG = Path(__file__).parent / "configs" / "exp3_yinyang.toml"

if __name__ == "__main__":
    run_example(CONFIG, __doc__.split("\n\n")[0], sys.argv[1:])
