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

import sys
from pathlib import Path

from xbarsim.experiments import run_example

CONFIG = Path(__file__).parent / "configs" / "exp1_drolet.toml"

if __name__ == "__main__":
    run_example(CONFIG, __doc__.split("\n\n")[0], sys.argv[1:])
