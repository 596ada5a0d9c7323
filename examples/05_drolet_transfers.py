"""Experiment 1 (Drolet et al. 2023): regular vs hardware-aware training of a 2-8-1 sigmoid MLP on half
moons, Monte Carlo over weight transfers onto passive TiO2 crossbars (tio2_passive).

Reports the fraction of the 200 test points classified correctly in at least 95 % of the transfers
(paper: 79.5 % hardware-aware vs 18.5 % regular), for Drolet's statistical transfer model (in the
100-500 uS window, and as the authors' code draws it) and for full circuit-level transfers (V/2
programming with half-select disturbance, sparse solver).

Runs the quick variant of `examples/configs/exp1_drolet.toml` (`--full`, `--resume`, `--out DIR`, `--quiet`); see
:func:`xbarsim.experiments.run_example`.
"""

from xbarsim.experiments import run_example

if __name__ == "__main__":
    run_example(__file__, "exp1_drolet.toml", __doc__)
