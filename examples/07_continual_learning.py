"""Experiment 3 (Yousuf et al., LEA paper Fig. 5): a 4-12-6-3 tanh MLP trained with EWC on the two
tasks of double Yin-Yang, ternarized, on the LEA chip (32 kernels of 25 x 25, measured faults),
greedy vs random placement, (alpha, beta) from (1, 1) to (4, 4).

The paper: about 56-62 % at (1, 1) rising to about 70.3 % at (4, 4); software 72 %.

Runs the quick variant of `examples/configs/exp3_yinyang.toml` (`--full`, `--resume`, `--out DIR`, `--quiet`); see
:func:`xbarsim.experiments.run_example`.
"""

from xbarsim.experiments import run_example

if __name__ == "__main__":
    run_example(__file__, "exp3_yinyang.toml", __doc__)
