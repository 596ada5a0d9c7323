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

from xbarsim.errors import ConfigError
from xbarsim.netlists.netlist import Netlist

__all__ = ["work_bytes", "available_bytes", "check_work_memory"]


def work_bytes(shape: tuple[int, int], batch: int, netlist: Netlist | None = None) -> int:
    """Bytes of the float64 arrays a solve holds at its peak (an estimate), for a batch of ``batch``
    operating points on an ``M x N`` array; node and element counts from ``netlist`` when given,
    else their upper bounds before ideal wires are merged (so it can run before the netlist exists).

    Per operating point: node voltages and the right-hand side (~3 x nodes: voltages, unknowns,
    rhs), element currents and their KCL scales (~3 x elements), and the solution's row, column and
    cell voltages and cell currents with their temporaries (~24 x cells). Calibrated on the peak
    resident memory of direct solves: 1.2 MB per operating point of a 64x64 array (B = 2000, 2.4 GB
    peak) and 5.8 MB of a 128x128 one (CG); the formula gives 1.3 and 5.1 MB.
    """
    m, n = shape
    if netlist is None:
        sources = 2 * (m + n)
        nodes, resistors = 2 * m * n + sources, m * (n - 1) + (m - 1) * n + sources
    else:
        sources, nodes, resistors = netlist.source_node.size, netlist.n_nodes, netlist.resistor_values.size
    per_point = 3 * nodes + 3 * (resistors + m * n) + 24 * m * n + 2 * sources
    return 8 * int(batch) * per_point


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


def check_work_memory(shape: tuple[int, int], batch: int, netlist: Netlist | None = None) -> None:
    """Raise :class:`ConfigError` when the work arrays of a solve (see :func:`work_bytes`) would not
    fit in the memory available."""
    need = work_bytes(shape, batch, netlist)
    avail = available_bytes()
    if avail is not None and need > avail:
        m, n = shape
        fits = int(avail // max(need / batch, 1.0))
        raise ConfigError(
            f"a batch of {batch} operating points (`v` of shape ({batch}, {m})) on a {m}x{n} array needs about "
            f"{need / 2**30:.1f} GiB of work arrays, more than the {avail / 2**30:.1f} GiB of memory available; "
            f"solve it in batches of at most {fits} operating points."
        )
