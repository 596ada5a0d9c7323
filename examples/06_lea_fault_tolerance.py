"""Experiment 2 (Yousuf et al., Layer Ensemble Averaging): fault tolerance of a 784-150-10 ternary MLP
on MNIST-5k under stuck devices, LEA vs MAO vs committee machines at equal device count.

The paper at 20 % faults: 43.4 % (alpha = 1) -> 89.6 % (alpha = 6) against a 94.5 % baseline,
committee machines 78.5 %, MAO 36.7 %. Other configs of the same experiment:
examples/configs/exp2_lea_digits.toml (digits) and exp2b_lea_beyond_mnist.toml (RME continuous
compensation and fault-aware training combined with LEA).

Runs the quick variant of `examples/configs/exp2_lea_mnist.toml` (`--full`, `--resume`, `--out DIR`, `--quiet`); see
:func:`xbarsim.experiments.run_example`.
"""

from xbarsim.experiments import run_example

if __name__ == "__main__":
    run_example(__file__, "exp2_lea_mnist.toml", __doc__)
