"""IR drop in a read: how wire resistance bends output currents away from the ideal V @ G.

Solves a 64x64 array for segment resistances from 0 to 10 ohm (exact sparse solver), checks one
case against ngspice, and writes ``results/examples/01_ir_drop.png`` (error vs segment resistance and
the cell-voltage map at 2 ohm) plus a CSV of the numbers.

    .venv/bin/python examples/01_ir_drop.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import xbarsim as xb
from xbarsim import provenance
from xbarsim.sweeps import replace_from, write_csv

OUT = Path("results/examples")


def main(size: int = 64, seed: int = 0) -> Path:
    prov = provenance.collect(seed=seed)  # one record for the figure and the CSV, started now
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    g = rng.uniform(1e-6, 1e-4, (size, size))  # 10 kohm - 1 Mohm devices
    v = rng.uniform(0.0, 0.3, (32, size))  # 32 input vectors, solved with one factorization
    segments = [0.0, 0.5, 1.0, 2.0, 5.0, 10.0]
    rows = []
    for r in segments:
        cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(r))
        sol = xb.solve(cb, xb.BiasScheme.read(v))
        err = np.abs(sol.output_currents - cb.ideal_currents(v)) / np.abs(cb.ideal_currents(v))
        rows.append({"segment_ohm": r, "mean_rel_error": float(err.mean()), "max_rel_error": float(err.max()),
                     "kcl_residual": sol.kcl_residual, "method": sol.method})
        print(f"segment {r:>4} ohm: output current error mean {100 * err.mean():6.2f} %, worst {100 * err.max():6.2f} %")
    check = xb.crosscheck(xb.Crossbar(conductance=g[:16, :16], lines=xb.LineResistance.uniform(2.0)),
                          xb.BiasScheme.read(v[0, :16]))
    print(f"16x16 sparse vs ngspice: max relative difference {check.max_rel:.1e}")
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(2.0))
    sol = xb.solve(cb, xb.BiasScheme.read(v[0]))
    fig, ax = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax[0].plot(segments, [100 * r["mean_rel_error"] for r in rows], "o-", label="mean")
    ax[0].plot(segments, [100 * r["max_rel_error"] for r in rows], "s--", label="worst column")
    ax[0].set_xlabel("wire segment resistance (ohm)")
    ax[0].set_ylabel("output current error vs V @ G (%)")
    ax[0].legend()
    im = ax[1].imshow(sol.cell_voltages, cmap="viridis")
    ax[1].set_title(f"cell voltage (V), {size}x{size}, 2 ohm segments")
    ax[1].set_xlabel("column (bit line)")
    ax[1].set_ylabel("row (word line)")
    fig.colorbar(im, ax=ax[1])
    png = OUT / "01_ir_drop.png"
    replace_from(png, lambda tmp: fig.savefig(tmp, format="png", dpi=110, metadata=provenance.png_metadata(prov)))
    plt.close(fig)
    write_csv(OUT / "01_ir_drop.csv", rows, prov)
    print(f"wrote {png} and {OUT / '01_ir_drop.csv'}")
    return png


if __name__ == "__main__":
    main()
