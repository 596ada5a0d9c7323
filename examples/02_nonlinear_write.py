"""Programming one cell of a passive array: what every cell sees under V/2, V/3, grounded and floating.

A 32x32 array of sinh devices with 2 ohm segments; the far-corner cell is programmed at 2 V. Prints
the selected-cell voltage and the largest voltage magnitude on any other cell (half-selected or
unselected) per scheme (sparse Newton), checks one scheme against ngspice and writes
``results/examples/02_nonlinear_write.png``.

    .venv/bin/python examples/02_nonlinear_write.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from xbarsim import provenance
import xbarsim as xb
from xbarsim.devices import Sinh
from xbarsim.sweeps import replace_from

OUT = Path("results/examples")


def main(size: int = 32, seed: int = 0) -> Path:
    prov = provenance.collect(seed=seed)  # started now
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    g = rng.uniform(1e-4, 5e-4, (size, size))  # 2-10 kohm, the TiO2 window
    cb = xb.Crossbar(conductance=g, lines=xb.LineResistance.uniform(2.0), device=Sinh(a=2.0))
    row, col, vw = 0, size - 1, 2.0  # far corner from the row driver (left) and the column driver (bottom)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), constrained_layout=True)
    for ax, scheme in zip(axes, xb.netlists.WRITE_SCHEMES):
        sol = xb.solve(cb, xb.BiasScheme.write(row, col, vw, scheme))
        cv = np.array(sol.cell_voltages)
        sel = cv[row, col]
        cv_uns = cv.copy()
        cv_uns[row, col] = np.nan
        print(f"{scheme:>9}: selected cell {sel:.3f} V of {vw} V; worst other cell {np.nanmax(np.abs(cv_uns)):.3f} V; "
              f"driver power {1e3 * sol.power:.2f} mW; Newton iterations {sol.iterations}")
        im = ax.imshow(cv, cmap="coolwarm", vmin=-vw, vmax=vw)
        ax.set_title(f"{scheme}: cell voltage (V)")
        ax.set_xlabel("column")
    axes[0].set_ylabel("row")
    fig.colorbar(im, ax=axes[-1])
    small = xb.Crossbar(conductance=g[:8, :8], lines=xb.LineResistance.uniform(2.0), device=cb.device)
    check = xb.crosscheck(small, xb.BiasScheme.write(0, 7, vw, "v/3"))
    print(f"8x8 V/3 sparse vs ngspice: max relative difference {check.max_rel:.1e}")
    png = OUT / "02_nonlinear_write.png"
    replace_from(png, lambda tmp: fig.savefig(tmp, format="png", dpi=100, metadata=provenance.png_metadata(prov)))
    plt.close(fig)
    print(f"wrote {png}")
    return png


if __name__ == "__main__":
    main()
