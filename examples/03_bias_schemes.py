"""Bias schemes compared: programming one cell, reading one cell, and programming a whole array.

A 32x32 passive TiO2 array (``tio2_passive``: 100-500 uS, sinh I-V law) with 1 ohm wire segments.

1. Program the far-corner cell at 2 V under V/2, V/3, floating and grounded biasing with every other
   cell ON (worst case): selected-cell voltage after IR drop, half-selected and unselected voltages,
   disturbed cells, driver power; heatmaps of every cell's voltage.
2. The selected-cell voltage for every cell position (linear devices: all 1024 selections from 64
   unit solves by superposition).
3. Worst-case read margin versus array size, sinh against ohmic devices.
4. Program 8x8 arrays cell by cell with write-verify under V/2 and compare the half-select
   disturbance with the measured statistics of Drolet et al.

Writes ``results/examples/03_bias_schemes_{write,map,read,disturbance}.png``; about 15 s.

    .venv/bin/python examples/03_bias_schemes.py
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from xbarsim import provenance
import xbarsim as xb
from xbarsim.analysis import (
    compare_disturbance,
    compare_write_schemes,
    drolet_tio2_law,
    read_margin_curve,
    selected_voltage_map,
    simulate_disturbance,
)
from xbarsim.devices import tio2_passive
from xbarsim.sweeps import replace_from

OUT = Path("results/examples")
SCHEMES = ("v/2", "v/3", "floating", "grounded")


def _savefig(fig, path: Path, meta: dict[str, str]) -> None:
    """The figure written whole or not at all (a temporary file moved into place), never through a symlink."""
    replace_from(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, metadata=meta))


def main(size: int = 32, sizes: tuple[int, ...] = (8, 16, 32, 64), n_arrays: int = 16) -> list[Path]:
    meta = provenance.png_metadata(provenance.collect(seed=1))  # every figure; seed 1: the disturbance runs'
    OUT.mkdir(parents=True, exist_ok=True)
    preset = tio2_passive()
    lines = xb.LineResistance.uniform(1.0)
    v_write, v_read = 2.0, preset.read_voltage
    written = []

    # 1. programming one cell, worst-case pattern (every other cell ON, the selected one OFF)
    g = np.full((size, size), preset.g_max)
    g[0, size - 1] = preset.g_min
    cb = xb.Crossbar(conductance=g, lines=lines, device=preset.device)
    cmp = compare_write_schemes(cb, v_write, schemes=SCHEMES)
    print(f"programming cell (0, {size - 1}) of a {size}x{size} array at {v_write} V "
          f"(disturb threshold {cmp.results[0].threshold:.2f} V):")
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.9), constrained_layout=True)
    for ax, w in zip(axes, cmp.results, strict=True):
        print(f"  {w.scheme:>9}: selected {w.selected_voltage:.3f} V ({w.selected_fraction:.0%}), worst half-selected "
              f"{w.half_selected.worst:.3f} V, worst unselected {w.unselected.worst:.3f} V, {w.n_disturbed} cells "
              f"disturbed, drivers {1e3 * w.total_driver_current:.1f} mA / {1e3 * w.power:.1f} mW")
        im = ax.imshow(w.cell_voltages, cmap="coolwarm", vmin=-v_write, vmax=v_write)
        ax.set_title(f"{w.scheme}: V_sel {w.selected_voltage:.2f} V, {w.n_disturbed} disturbed")
        ax.set_xlabel("column")
    axes[0].set_ylabel("row")
    fig.colorbar(im, ax=axes[-1], label="cell voltage (V)")
    written.append(OUT / "03_bias_schemes_write.png")
    _savefig(fig, written[-1], meta)
    plt.close(fig)

    # 2. selected-cell voltage for every position (ohmic stand-in: exact superposition)
    cb_lin = xb.Crossbar(conductance=np.full((size, size), preset.g_max), lines=lines)
    mp = selected_voltage_map(cb_lin, v_write, "v/2")
    print(f"V/2, all ON, ohmic: selected-cell voltage {mp.near_voltage:.3f} V at the near corner, "
          f"{mp.far_voltage:.3f} V at the far corner ({mp.method})")
    fig, ax = plt.subplots(figsize=(5, 4.2), constrained_layout=True)
    im = ax.imshow(mp.voltage, cmap="viridis")
    ax.set_title("V/2: selected-cell voltage when\nthat cell is programmed (V)")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    fig.colorbar(im, ax=ax)
    written.append(OUT / "03_bias_schemes_map.png")
    _savefig(fig, written[-1], meta)
    plt.close(fig)

    # 3. read margin versus size, sinh and ohmic devices
    kw = dict(g_on=preset.g_max, g_off=preset.g_min, v_read=v_read, schemes=SCHEMES, lines=lines)
    sinh = read_margin_curve(list(sizes), device=preset.device, **kw)  # type: ignore[arg-type]
    ohmic = read_margin_curve(list(sizes), device=xb.Ohmic(), **kw)  # type: ignore[arg-type]
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    for s, scheme in enumerate(SCHEMES):
        line, = ax.plot(sinh.sizes, sinh.margin[s], marker="o", label=f"{scheme} (sinh)")
        ax.plot(ohmic.sizes, ohmic.margin[s], ls="--", color=line.get_color(), label=f"{scheme} (ohmic)")
        print(f"read margin {scheme:>9}: " + ", ".join(f"{n}: {m:+.2f}" for n, m in zip(sinh.sizes, sinh.margin[s],
                                                                                           strict=True)))
    ax.axhline(sinh.ideal_margin, color="k", ls=":", lw=0.8, label="isolated cell")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("array size n (n x n)")
    ax.set_ylabel("worst-case read margin")
    ax.legend(fontsize=7, ncol=2)
    written.append(OUT / "03_bias_schemes_read.png")
    _savefig(fig, written[-1], meta)
    plt.close(fig)

    # 4. write-verify of whole 8x8 arrays under V/2: disturbance versus cells programmed afterwards
    law = drolet_tio2_law()
    curve = simulate_disturbance(law, n_arrays=n_arrays, seed=1)
    strict = simulate_disturbance(replace(law, threshold_sigma=0.0, v_reset=1.3, v_set=1.3), n_arrays=n_arrays,
                                  seed=1)  # thresholds above any V/2 half-select voltage: no disturbance
    cmp_d = compare_disturbance(curve)
    print("half-select disturbance, calibrated law vs Drolet et al.:")
    print(cmp_d.table(every=10))
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    n = cmp_d.n
    ax.fill_between(n, 1e6 * (cmp_d.meas_mean - cmp_d.meas_std), 1e6 * (cmp_d.meas_mean + cmp_d.meas_std),
                    color="C0", alpha=0.2, label="measured mean +- std")
    ax.plot(n, 1e6 * cmp_d.meas_mean, color="C0")
    ax.fill_between(n, 1e6 * (cmp_d.sim_mean - cmp_d.sim_std), 1e6 * (cmp_d.sim_mean + cmp_d.sim_std),
                    color="C1", alpha=0.2, label="simulated mean +- std")
    ax.plot(n, 1e6 * cmp_d.sim_mean, color="C1")
    ax.plot(strict.n[: n.size], 1e6 * strict.mean[: n.size], color="C2", label="thresholds above V/2 (simulated)")
    ax.set_xlabel("cells programmed after the observed one")
    ax.set_ylabel("conductance change (uS)")
    ax.set_title("half-select disturbance, 8x8 TiO2, V/2 write-verify")
    ax.legend(fontsize=8)
    written.append(OUT / "03_bias_schemes_disturbance.png")
    _savefig(fig, written[-1], meta)
    plt.close(fig)
    for p in written:
        print(f"wrote {p}")
    return written


if __name__ == "__main__":
    main()
