"""How much memory a solve's work arrays take, checked before anything is allocated.

``check_size`` bounds each input array, but a batch multiplies everything a solve holds: a
``(B, M)`` input of 1e6 x 64 passes it and then asks for 60 GiB of node voltages, cell voltages and
currents. :func:`check_work_memory` estimates those bytes from the netlist's shape and refuses a
solve that cannot fit in the memory available, with a typed error instead of a MemoryError (or the
kernel's OOM killer) half-way through.
"""

from __future__ import annotations

import os
import resource

import numpy as np

from xbarsim.errors import ConfigError
from xbarsim.netlists.netlist import Netlist

__all__ = ["work_bytes", "factor_bytes", "available_bytes", "check_work_memory"]


def factor_bytes(unknowns: int) -> int:
    """Bytes of a sparse LU of a nodal matrix with ``unknowns`` unknowns in nested-dissection order, at
    its peak (an estimate): about ``4 log2(unknowns)`` entries per unknown in ``L + U`` (61 at 256x256),
    24 bytes each for the factors and SuperLU's working copy. Measured peaks of direct solves of one
    operating point: 11 MB at 64x64 and 171 MB at 256x256; the formula gives 10 and 204 MB."""
    nu = max(int(unknowns), 2)
    return int(96 * nu * np.log2(nu))


def work_bytes(shape: tuple[int, int], batch: int, netlist: Netlist | None = None, *,
               factored: bool = False) -> int:
    """Bytes of the float64 arrays a solve holds at its peak (an estimate), for a batch of ``batch``
    operating points on an ``M x N`` array; node and element counts from ``netlist`` when given,
    else their upper bounds before ideal wires are merged (so it can run before the netlist exists).

    Per operating point: node voltages and the right-hand side (~3 x nodes: voltages, unknowns,
    rhs), element currents and their KCL scales (~3 x elements), and the solution's row, column and
    cell voltages and cell currents with their temporaries (~24 x cells). Calibrated on the peak
    resident memory of direct solves: 1.2 MB per operating point of a 64x64 array (B = 2000, 2.4 GB
    peak) and 5.8 MB of a 128x128 one (CG); the formula gives 1.3 and 5.1 MB.

    ``factored``: the solve factors the nodal matrix (the direct and port-matrix paths), whose LU
    (:func:`factor_bytes`) is held once for the whole batch; one operating point of a 256x256 array
    solved directly peaked at 9 times the per-point bytes alone.
    """
    fixed, per_point = _work_parts(shape, batch, netlist, factored)
    return fixed + int(batch) * per_point


def _work_parts(shape: tuple[int, int], batch: int, netlist: Netlist | None, factored: bool) -> tuple[int, int]:
    """Bytes held once per solve (the factorization) and per operating point (see :func:`work_bytes`)."""
    m, n = shape
    if netlist is None:
        sources = 2 * (m + n)
        nodes, resistors = 2 * m * n + sources, m * (n - 1) + (m - 1) * n + sources
        unknowns = 2 * m * n
    else:
        sources, nodes, resistors = netlist.source_node.size, netlist.n_nodes, netlist.resistor_values.size
        unknowns = nodes - np.unique(netlist.source_node).size
    per_point = 3 * nodes + 3 * (resistors + m * n) + 24 * m * n + 2 * sources
    return (factor_bytes(unknowns) if factored else 0), 8 * per_point


def available_bytes() -> int | None:
    """Memory this process may still use: MemAvailable, capped by RLIMIT_AS (None when unknown)."""
    avail: int | None = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = 0
        try:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            pass
        room = max(soft - used, 0)
        avail = room if avail is None else min(avail, room)
    return avail


def check_work_memory(shape: tuple[int, int], batch: int, netlist: Netlist | None = None, *,
                      factored: bool = False) -> None:
    """Raise :class:`ConfigError` when the work arrays of a solve (see :func:`work_bytes`; ``factored``
    as there) would not fit in the memory available."""
    fixed, per_point = _work_parts(shape, batch, netlist, factored)
    need = fixed + int(batch) * per_point
    avail = available_bytes()
    if avail is not None and need > avail:
        m, n = shape
        fits = int((avail - fixed) // max(per_point, 1))
        lu = f" (of which {fixed / 2**30:.1f} GiB for the LU factors of the direct solve)" if fixed else ""
        advice = (f"solve it in batches of at most {fits} operating points." if fits >= 1 else
                  "the factorization alone does not fit: use SparseOptions(method='iterative').")
        raise ConfigError(
            f"a batch of {batch} operating points (`v` of shape ({batch}, {m})) on a {m}x{n} array needs about "
            f"{need / 2**30:.1f} GiB of work arrays{lu}, more than the {avail / 2**30:.1f} GiB of memory available; "
            f"{advice}"
        )
