"""ONNX CNN benchmark (issue 17): circuit-accurate vs ideal read-out throughput of the example CNN.

The ternary CNN of ``examples/10_digits_cnn_onnx.py`` (``examples/models/digits_cnn_ternary.onnx``:
conv 1->8, pool, conv 8->16, pool, dense 64->10) on its 1,000 test images
(``examples/models/digits_1000.npz``), transferred once onto LEA hardware: 133/233 uS devices with
the preset's faults, write and read noise, LEA alpha = 3 (greedy placement, non-strict), 25 x 25
kernels, 1 ohm row and column wire segments, linear (ohmic) cells, 8-bit DAC and ADC per input
vector (per image patch for the convolutions). The same transfer is read twice: through the sparse
circuit solver (one transfer matrix per kernel, then one matrix product per tile and batch) and
through the ideal product ``I = v @ G``; read energy (cells and wires, 10 ns reads) is computed
on the circuit read.

Reported: the whole ``evaluate`` call (mapping + both reads + energy) and, per read-out, seconds and
samples per second; the target is circuit-accurate at >= 25 % of the ideal read-out's throughput.

    .venv/bin/python benchmarks/onnx_cnn.py
    .venv/bin/python benchmarks/onnx_cnn.py --samples 300 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from xbarsim.evaluation import Hardware, evaluate, transfer
from xbarsim.networks import load_npz, load_onnx

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="timed reads per read-out (best is reported)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.samples < 1 or args.repeat < 1:
        ap.error("--samples and --repeat must be >= 1")
    net = load_onnx(MODELS / "digits_cnn_ternary.onnx")
    data = load_npz(MODELS / "digits_1000.npz", n_classes=10)
    x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    hw = Hardware(preset="rram_1t1r_nist", strategy="lea", alpha=3, kernel_shape=(25, 25), strict=False,
                  segment_ohm=1.0, device="ohmic", backend="sparse")
    print(f"load average before: {_load()}")
    t0 = time.perf_counter()
    res = evaluate(net, data, hw, seed=args.seed, max_points=args.samples, readouts={"ideal": {"backend": "ideal"}})
    whole = time.perf_counter() - t0
    hwnet = transfer(net, hw, np.random.default_rng(args.seed))
    ideal = hwnet.reread(backend="ideal")
    rows = []
    for name, h, energy in (("sparse circuit, 1 ohm wires, linear cells", hwnet, False),
                            ("sparse circuit + read energy", hwnet, True),
                            ("ideal product", ideal, False)):
        best = np.inf
        for _ in range(args.repeat):
            t1 = time.perf_counter()
            pred = h.predict_with_energy(x)[0] if energy else h.predict(x)
            best = min(best, time.perf_counter() - t1)
        rows.append((name, best, float(np.mean(pred == y))))
    print(f"load average after: {_load()}")
    print(f"\nwhole evaluate() ({args.samples} images; mapping {res.timings['map']:.2f} s, circuit read with energy "
          f"{res.timings['inference']:.2f} s, ideal read {res.timings['inference_ideal']:.2f} s): {whole:.2f} s")
    print(f"accuracy: circuit {res.hardware_accuracy:.1%}, ideal read-out {res.readouts['ideal']:.1%}, software "
          f"{res.software_accuracy:.1%} ({res.software_runtime}); mapping errors "
          f"{', '.join(f'{e:.1f} %' for e in res.mapping_errors)}")
    print(f"kernels: {hwnet.n_kernels} x 25x25, devices used: {hwnet.n_devices}")
    print("\n| read-out | inference (s, best of %d) | samples/s | accuracy | vs ideal |" % args.repeat)
    print("|---|---:|---:|---:|---:|")
    t_ideal = rows[-1][1]
    for name, t, acc in rows:
        print(f"| {name} | {t:.3f} | {args.samples / t:.0f} | {acc:.1%} | {t_ideal / t:.0%} |")
    print("\n| layer | kind | vectors / inference | devices | arrays | energy / inference (pJ) | in wires |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for e in res.energy:
        print(f"| {e.layer} | {e.kind} | {e.vectors:.0f} | {e.n_devices} | {e.n_arrays} | {e.energy * 1e12:.2f} | "
              f"{e.wires / e.energy:.1%} |")
    print(f"total read energy per inference: {res.energy_per_inference * 1e12:.2f} pJ (converters and drivers "
          "excluded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
