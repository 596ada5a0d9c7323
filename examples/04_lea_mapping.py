"""Layer ensemble averaging on the LEA chip: mapping error versus the number of copies alpha.

A 16x8 ternary layer is mapped onto a simulated 32-kernel chip of 25x25 1T1R devices (write noise
16.66 uS, read noise +-10 uS, devices stuck-ON at 500 uS as in the paper's simulations) at two
stuck-device rates, with the strategies compared at equal device count ``2 alpha m n``:

* blind -- alpha copies placed at random, the first one used whatever it reads (no improvement);
* LEA -- greedy defect-aware placement, per output the copy of lowest read-back deviation (beta = 1);
* LEA + RME -- beta = ceil(alpha / 2) copies kept, healthy devices re-chosen against the stuck ones;
* MAO -- every copy summed, healthy devices re-tuned, random placement.

Programming is a single write per device (no verify), as in the paper's simulations. Prints the
table, a 4-input check through the sparse backend, and writes ``results/examples/04_lea_mapping.png``.

    .venv/bin/python examples/04_lea_mapping.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from xbarsim import provenance
import xbarsim.mapping as mp
from xbarsim import LineResistance
from xbarsim.devices import ConstantConductance, FaultModel, Ohmic, rram_1t1r_nist
from xbarsim.sweeps import replace_from

OUT = Path("results/examples")
ALPHAS = (1, 2, 4, 6)
RATES = (0.05, 0.2)
STRATEGIES = {
    "blind": lambda a: mp.EnsembleConfig.blind(a),
    "LEA (beta = 1)": lambda a: mp.EnsembleConfig.lea(a, 1),
    "LEA + RME": lambda a: mp.EnsembleConfig.lea(a, -(-a // 2), encoding="rme"),
    "MAO": lambda a: mp.EnsembleConfig.mao(a),
}


def preset_with(rate: float):  # type: ignore[no-untyped-def]
    p = rram_1t1r_nist()
    faults = FaultModel(stuck_on_rate=rate, stuck_off_rate=0.0, stuck_on_value=ConstantConductance(value=500e-6),
                        stuck_off_value=ConstantConductance(value=10e-6))
    return dataclasses.replace(p, faults=faults)


def main(seeds: int = 4, seed: int = 0) -> Path:
    prov = provenance.collect(seed=seed)  # started now
    OUT.mkdir(parents=True, exist_ok=True)
    w = np.random.default_rng(seed).choice([-1.0, 0.0, 1.0], (16, 8))
    single_write = mp.WriteVerify(max_iterations=1)
    errors = {(rate, name): [] for rate in RATES for name in STRATEGIES}
    for rate in RATES:
        for alpha in ALPHAS:
            for name, make in STRATEGIES.items():
                e = []
                for s in range(seeds):
                    rng = np.random.default_rng(1000 * s + seed)
                    chip = mp.Chip.sample(n_kernels=32, kernel_shape=(25, 25), preset=preset_with(rate), rng=rng)
                    layer = mp.map_layer(w, chip, rng, encoding=mp.Encoding(scheme="ternary"), ensemble=make(alpha),
                                         programming=single_write)
                    e.append(layer.mapping_error())
                errors[(rate, name)].append(float(np.mean(e)))
    print(f"Mapping error (%) of a 16x8 ternary layer, mean of {seeds} chips; single writes, LEA noise")
    print("| stuck-ON rate | strategy | " + " | ".join(f"alpha = {a}" for a in ALPHAS) + " |")
    print("|---|---|" + "---:|" * len(ALPHAS))
    for (rate, name), vals in errors.items():
        print(f"| {rate:.0%} | {name} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")

    # one mapping in detail: where the copies went, and the same layer through wires
    rng = np.random.default_rng(seed)
    chip = mp.Chip.sample(n_kernels=32, kernel_shape=(25, 25), preset=dataclasses.replace(preset_with(0.05), device=Ohmic()),
                          rng=rng, lines=LineResistance.uniform(1.0))
    layer = mp.map_layer(w, chip, rng, encoding=mp.Encoding(scheme="ternary"), ensemble=mp.EnsembleConfig.lea(4, 2))
    x = rng.uniform(0.0, 1.0, (4, 16))
    y_sparse = mp.run_layer(layer, x, mp.InferenceConfig(backend="sparse", adc=mp.ADC(bits=8)))
    print(f"\nLEA alpha = 4, beta = 2 on kernels {layer.placement.kernels}: mapping error {layer.mapping_error():.1f} %")
    print("x @ W                            :", np.round(x @ w, 2)[0])
    print("ideal product of the kept copies :", np.round(mp.run_layer(layer, x), 2)[0])
    print("sparse, 1 ohm segments, 8-bit ADC:", np.round(y_sparse, 2)[0])

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    for ax, rate in zip(axes[:2], RATES):
        for name in STRATEGIES:
            ax.plot(ALPHAS, errors[(rate, name)], "o-", label=name)
        ax.set(xlabel="copies alpha (devices = 2 alpha m n)", ylabel="mapping error (%)",
               title=f"{rate:.0%} of devices stuck-ON at 500 uS", xticks=ALPHAS)
        ax.grid(alpha=0.3)
    axes[0].legend()
    k = layer.placement.kernels[0]
    g = layer.chip.conductance[k] * 1e6
    im = axes[2].imshow(g, cmap="viridis", vmax=300)
    for b in layer.placement.blocks:
        if b.kernel == k:
            part = layer.mapped.part_names[layer.layout.specs[b.spec].part]
            axes[2].add_patch(plt.Rectangle((b.col - 0.5, b.row - 0.5), b.cols, b.rows, fill=False, color="w", lw=1.5))
            axes[2].text(b.col, b.row - 0.8, f"copy {b.copy} {part}", color="k", fontsize=8)
    fig.colorbar(im, ax=axes[2], label="conductance (uS), clipped at 300")
    axes[2].set(title=f"kernel {k} after programming", xlabel="column (output)", ylabel="row (input)")
    path = OUT / "04_lea_mapping.png"
    replace_from(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, metadata=provenance.png_metadata(prov)))
    plt.close(fig)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
