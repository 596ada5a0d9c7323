"""Issue 13: batches whose work arrays exceed memory are refused before allocation, and an empty
batch is a typed error."""

from __future__ import annotations

import numpy as np
import pytest

import xbarsim as xb
from xbarsim.solver.memory import available_bytes, work_bytes


def test_a_batch_that_passes_check_size_but_not_memory_is_refused_before_any_work(monkeypatch):
    """Refused before the netlist of the batch is built and before any array of the batch's size is
    allocated: both are checked directly (this was a wall-clock bound of 10 s, a speed assertion that
    a slow machine could fail and a late refusal on a fast one could pass)."""
    import tracemalloc

    import xbarsim.solver.api as solver_api

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work on the batch began before the memory check refused it")

    cb = xb.Crossbar(conductance=np.full((64, 64), 1e-5), lines=xb.LineResistance.uniform(1.0))
    v = np.zeros((300_000, 64))  # the issue used 1e6 x 64; any batch below MAX_ELEMENTS passes check_size
    bias = xb.BiasScheme.read(v)
    monkeypatch.setattr(solver_api, "build_netlist", no_work)
    monkeypatch.setattr(solver_api, "solve_grid_native", no_work)
    tracemalloc.start()
    try:
        with pytest.raises(xb.ConfigError, match=r"batch of 300000 operating points .* GiB of work arrays.*batches of at most"):
            xb.solve(cb, bias)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < v.nbytes / 8, f"{peak / 2**20:.0f} MiB allocated before the refusal (the batch is {v.nbytes / 2**20:.0f} MiB)"


def test_solve_netlist_checks_too():
    cb = xb.Crossbar(conductance=np.full((256, 256), 1e-5), lines=xb.LineResistance.uniform(1.0))
    netlist = xb.build_netlist(cb, xb.BiasScheme.read(np.zeros((20_000, 256))))
    avail = available_bytes()
    assert avail is not None and work_bytes((256, 256), 20_000, netlist) > avail  # ~400 GB
    with pytest.raises(xb.ConfigError, match="GiB of work arrays"):
        xb.solve_netlist(netlist)


def test_the_estimate_covers_what_a_solve_returns(rng):
    """The estimate is not below the bytes of the arrays a solution actually holds."""
    for m, n, b in ((8, 8, 50), (30, 12, 7), (3, 40, 200)):
        cb = xb.Crossbar(conductance=rng.uniform(1e-6, 1e-4, (m, n)), lines=xb.LineResistance.uniform(1.0, driver=2.0))
        bias = xb.BiasScheme.read(rng.uniform(0, 0.3, (b, m)))
        sol = xb.solve(cb, bias)
        held = sum(np.asarray(getattr(sol, f)).nbytes for f in (
            "output_currents", "input_currents", "row_voltages", "col_voltages", "cell_voltages", "cell_currents",
            "node_voltages", "source_currents", "power"))
        assert held <= work_bytes((m, n), b) <= 40 * held


@pytest.mark.parametrize("make", [
    lambda: xb.BiasScheme.read(np.zeros((0, 4))),
    lambda: xb.LineDrive.at(np.zeros((0, 3))),
    lambda: xb.BiasScheme(row_left=xb.LineDrive.at(np.zeros((0, 2))), col_bottom=xb.LineDrive.at(0.0)),
])
def test_an_empty_batch_is_a_typed_error(make):
    with pytest.raises(xb.ConfigError, match="empty batch") as info:
        make()
    assert "\n" not in str(info.value)


def test_a_direct_solve_counts_its_factorization(monkeypatch):
    """Found in review: the estimate left out the LU factors, so one operating point of a 256x256
    array solved directly peaked (getrusage) at 171 MB against an estimate of 20 MB, and a direct solve
    that could not fit was not refused. The estimate now covers the factors SuperLU returns, and a
    direct solve whose factors do not fit is refused before it starts."""
    from xbarsim.solver.api import _factors
    from xbarsim.solver.nodal import assemble
    from xbarsim.solver.sparse import SparseBackend, SparseOptions

    direct = SparseBackend(SparseOptions(method="direct"))
    for m in (32, 64, 128):
        cb = xb.Crossbar(conductance=np.full((m, m), 1e-5), lines=xb.LineResistance.uniform(1.0, driver=5.0, sense=5.0))
        netlist = xb.build_netlist(cb, xb.BiasScheme.read(np.full(m, 0.3)))
        asm = assemble(netlist, netlist.conductance)
        lu = direct._factor(netlist, asm).lu
        held = 12 * (lu.L.nnz + lu.U.nnz)  # values and row indices
        assert _factors(direct, asm.unknown.size, 1, True)
        assert work_bytes((m, m), 1, netlist) + held <= work_bytes((m, m), 1, netlist, factored=True)
    # 64x64: per-point arrays ~1.2 MB, LU ~4 MB; 3 MB of memory is enough for CG but not for the LU
    monkeypatch.setattr("xbarsim.solver.memory.available_bytes", lambda: 3 * 2**20)
    cb = xb.Crossbar(conductance=np.full((64, 64), 1e-5), lines=xb.LineResistance.uniform(1.0, driver=5.0, sense=5.0))
    bias = xb.BiasScheme.read(np.full(64, 0.3))
    with pytest.raises(xb.ConfigError, match=r"GiB for the LU factors.*method='iterative'"):
        xb.solve(cb, bias, direct)
    with pytest.raises(xb.ConfigError, match=r"GiB for the LU factors"):
        xb.solve_netlist(xb.build_netlist(cb, bias), direct)
    assert xb.solve(cb, bias).method == "iterative"  # CG holds no factors: not refused
