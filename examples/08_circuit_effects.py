"""Experiment 4: the network of experiment 2 read through the circuit: the sparse solver with 1 ohm
wire segments (linear and sinh cells) against the ideal product I = v @ G.

examples/configs/exp4b_wire.toml sweeps the wire resistance and the kernel size (accuracy versus
wire resistance).

Runs the quick variant of `examples/configs/exp4_circuit.toml` (`--full`, `--resume`, `--out DIR`, `--quiet`); see
:func:`xbarsim.experiments.run_example`.
"""

from xbarsim.experiments import run_example

if __name__ == "__main__":
    run_example(__file__, "exp4_circuit.toml", __doc__)
