"""Transient benchmarks (issue 18): one programming pulse on n x n dynamic arrays, sparse and ngspice;
write-verify programming of whole arrays through the circuit.

    .venv/bin/python benchmarks/transient.py                      # everything
    .venv/bin/python benchmarks/transient.py --pulse-sizes 16,32,64 --ngspice-max 32 --program-sizes 32

Pulse: one 1 us pulse (10 ns edges) under V/2 at 1.3 V on an n x n array of ``tio2_vteam`` cells
(random states, seed 0), 1 ohm segments, 10 ohm drivers and sense resistances, trapezoidal rule with
``dt = 10 ns``: 100 steps. ngspice runs the same netlist (``ngspice -b``, same method and ``.tran``
step) where ``--ngspice-max`` allows. Programming: row-major write-verify of every cell to random
targets under V/2 (Drolet's ramps, <= ``--max-pulses`` pulses per cell, ``dt`` per pulse as given),
once per stepper of ``--solvers`` (``gmres``, the reference, on the first ``--reference-cells`` cells
only: on the same cells both give the same pulses and conductances).
Markdown tables on stdout; the load average is printed beside each figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from xbarsim.analysis import WriteVerifySettings, program_array_transient
from xbarsim.devices import tio2_vteam
from xbarsim.errors import BackendUnavailableError, ConfigError
from xbarsim.netlists import BiasScheme, Crossbar, LineResistance, Pulse, build_transient
from xbarsim.solver import TransientOptions, ngspice_transient, simulate_transient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from solver import size_list  # noqa: E402  (benchmarks/solver.py, the scripts' shared helpers)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pulse_circuit(n: int):
    model = tio2_vteam()
    rng = np.random.default_rng(0)
    xb = Crossbar(conductance=model.conductance(rng.uniform(0, 1, (n, n))),
                  lines=LineResistance.uniform(1.0, driver=10.0, sense=10.0))
    return build_transient(xb, BiasScheme.write(n // 2, n // 2, 1.3, "v/2"), model,
                           Pulse(amplitude=1.0, rise=1e-8, width=9.8e-7, fall=1e-8))


def pulse_table(sizes: list[int], ngspice_max: int) -> None:
    print("| n x n | sparse (s) | steps | Newton it. | LU fact. | sparse, gmres reference (s) | ngspice (s) | ngspice steps | load (1/5/15 min) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    opts = TransientOptions(method="trap", dt=1e-8, record_cells=False)
    ref_opts = TransientOptions(method="trap", dt=1e-8, record_cells=False, linear_solver="gmres")
    ngspice_missing = None
    for n in sizes:
        tc = _pulse_circuit(n)
        simulate_transient(_pulse_circuit(4), opts)  # warm imports
        t0 = time.perf_counter()
        res = simulate_transient(tc, opts)
        t_sparse = time.perf_counter() - t0
        t0 = time.perf_counter()
        simulate_transient(tc, ref_opts)
        t_ref = time.perf_counter() - t0
        ng_t, ng_steps = "-", "-"
        if n <= ngspice_max and ngspice_missing is None:
            t0 = time.perf_counter()
            try:
                ng = ngspice_transient(tc, opts)
                ng_t, ng_steps = f"{time.perf_counter() - t0:.2f}", str(ng.steps)
            except BackendUnavailableError as exc:
                ngspice_missing = str(exc)
        print(f"| {n}x{n} | {t_sparse:.3f} | {res.steps} | {res.newton_iterations} | {res.factorizations} | "
              f"{t_ref:.3f} | {ng_t} | {ng_steps} | {_load()} |", flush=True)
    if ngspice_missing is not None:
        print(f"\nngspice was not run: {ngspice_missing}")


def program_table(sizes: list[int], max_pulses: int, dt: float, cells: int | None, solvers: list[str],
                  reference_cells: int | None) -> None:
    print()
    print("| n x n | stepper | cells written | wall (s) | CPU (s) | pulses | pulses/cell (max) | verified % | "
          "mean abs error % | energy (uJ) | dt (ns) | load (1/5/15 min) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    model = tio2_vteam()
    for n in sizes:
        for solver in solvers:
            k = cells if solver != "gmres" or reference_cells is None else reference_cells
            rng = np.random.default_rng(1)
            tgt = rng.uniform(100e-6, 500e-6, (n, n))
            cfg = WriteVerifySettings(scheme="v/2", max_pulses=max_pulses, dt=dt, linear_solver=solver)  # type: ignore[arg-type]
            t0, c0 = time.perf_counter(), time.process_time()
            res = program_array_transient(tgt, model=model, lines=LineResistance.uniform(1.0, driver=10.0, sense=10.0),
                                          settings=cfg, rng=rng, order="row-major" if k is None else np.arange(min(k, n * n)),
                                          progress=lambda msg: print(msg, file=sys.stderr, flush=True))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            done = res.order.shape[0]
            written = np.zeros((n, n), bool)
            written[res.order[:, 0], res.order[:, 1]] = True
            err = np.abs(res.relative_error)[written]
            print(f"| {n}x{n} | {solver} | {done} | {wall:.1f} | {cpu:.1f} | {int(res.pulses.sum())} | "
                  f"{res.pulses[written].mean():.2f} ({int(res.pulses.max())}) | "
                  f"{100 * res.verified[written].mean():.1f} | {100 * err.mean():.2f} | "
                  f"{1e6 * res.energy.sum():.3f} | {1e9 * dt:.0f} | {_load()} |", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pulse-sizes", type=size_list, default=[8, 16, 32, 64], help="comma-separated; \"\" skips")
    p.add_argument("--ngspice-max", type=int, default=32)
    p.add_argument("--program-sizes", type=size_list, default=[32, 64], help="comma-separated; \"\" skips")
    p.add_argument("--max-pulses", type=int, default=10)
    p.add_argument("--program-cells", type=int, default=None,
                   help="write only the first K cells in row-major order (the rest are only disturbed)")
    p.add_argument("--dt", type=float, default=2.5e-7, help="integration step inside a programming pulse (s)")
    p.add_argument("--solvers", default="woodbury,gmres",
                   help="steppers to compare (linear_solver of TransientOptions; gmres is the reference)")
    p.add_argument("--reference-cells", type=int, default=64,
                   help="cells the gmres reference writes (it is ~2x slower; 0: all)")
    a = p.parse_args()
    solvers = [x.strip() for x in a.solvers.split(",") if x.strip()]
    if a.program_sizes and (not solvers or set(solvers) - {"woodbury", "gmres"}):
        p.error(f"--solvers: expected woodbury and/or gmres, got {a.solvers!r}")
    print(f"load before: {_load()}")
    try:
        if a.pulse_sizes:
            pulse_table(a.pulse_sizes, a.ngspice_max)
        if a.program_sizes:
            program_table(a.program_sizes, a.max_pulses, a.dt, a.program_cells, solvers, a.reference_cells or None)
    except ConfigError as exc:  # a bad --max-pulses, --dt, --program-cells: the library's message
        p.error(str(exc))
    print(f"load after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
