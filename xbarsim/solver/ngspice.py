"""The ngspice backend, through PySpice's shared-library interface.

It is fed exactly the text of :meth:`Netlist.to_spice`, one ``.op`` per batch entry. Node voltages
and the branch currents of the sources come back from ngspice's own vectors; cell quantities are
derived from those voltages by the same code as every other backend. PySpice is imported here only,
and lazily, so ``import xbarsim`` works without it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from xbarsim.errors import BackendError, BackendUnavailableError, ConfigError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver.solution import Solution, solution_from_voltages
from xbarsim.solver.topology import check_floating

__all__ = ["NgspiceOptions", "NgspiceBackend", "ngspice_shared"]

_INSTALL_HINT = (
    "install ngspice and its shared library (Debian/Ubuntu: `apt-get install ngspice libngspice0-dev`, "
    "or run `make test` which does it) and PySpice (`pip install PySpice==1.5`)"
)
_lock = threading.Lock()
_shared: Any = None


class _DropVersionNoise(logging.Filter):
    """PySpice 1.5 warns "Unsupported Ngspice version 39" and then works; keep that out of user output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Unsupported Ngspice version" not in record.getMessage()


def ngspice_shared() -> Any:
    """The process's PySpice ``NgSpiceShared`` instance, created on first use.

    Raises
    ------
    BackendUnavailableError
        If PySpice cannot be imported or libngspice cannot be loaded.
    """
    global _shared
    with _lock:
        if _shared is not None:
            return _shared
        pyspice_log = logging.getLogger("PySpice")
        if not any(isinstance(h, logging.NullHandler) for h in pyspice_log.handlers):
            # PySpice logs ngspice's own chatter; without a handler Python's last-resort handler
            # would print it to stderr. Users who configure logging still see it.
            pyspice_log.addHandler(logging.NullHandler())
        for name in ("PySpice.Spice.NgSpice.Shared.NgSpiceShared", "PySpice.Spice.NgSpice.Shared"):
            logging.getLogger(name).addFilter(_DropVersionNoise())
        try:
            from PySpice.Spice.NgSpice.Shared import NgSpiceShared
        except Exception as exc:  # ImportError, or cffi failing on a missing library
            raise BackendUnavailableError(f"PySpice is not available ({exc}); {_INSTALL_HINT}") from exc
        try:
            _shared = NgSpiceShared.new_instance()
        except Exception as exc:  # OSError when libngspice.so is missing
            raise BackendUnavailableError(f"libngspice could not be loaded ({exc}); {_INSTALL_HINT}") from exc
        return _shared


@dataclass(frozen=True, kw_only=True)
class NgspiceOptions:
    """Options of the ngspice backend.

    Attributes
    ----------
    max_cells : int
        Refuse netlists with more cells than this (ngspice 39 takes ~4 s at 64x64 and ~80 s at
        128x128 without KLU); raise it deliberately for bigger runs.
    """

    max_cells: int = 128 * 128

    def __post_init__(self) -> None:
        if not (isinstance(self.max_cells, int) and self.max_cells >= 1):
            raise ConfigError(f"`max_cells` must be a positive int; got {self.max_cells!r}.")


class NgspiceBackend:
    """Solve with ngspice (``.op``), one run per batch entry."""

    name = "ngspice"

    def __init__(self, options: NgspiceOptions | None = None) -> None:
        if options is not None and not isinstance(options, NgspiceOptions):
            raise ConfigError(f"`options` must be NgspiceOptions; got {type(options).__name__}.")
        self.options = options or NgspiceOptions()

    def solve(self, netlist: Netlist) -> Solution:
        m, n = netlist.shape
        if m * n > self.options.max_cells:
            raise ConfigError(
                f"a {m}x{n} array has {m * n} cells, more than NgspiceOptions.max_cells={self.options.max_cells}; "
                "ngspice would take minutes. Raise max_cells to run it anyway."
            )
        check_floating(netlist)  # ngspice would fail in gmin stepping; name the nodes instead
        ng = ngspice_shared()
        names = [s.lower() for s in netlist.node_names()]
        src_names = [netlist.source_name(s).lower() for s in range(netlist.source_node.size)]
        bsz = netlist.batch_size
        v = np.empty((bsz, netlist.n_nodes))
        isrc = np.zeros((bsz, netlist.source_node.size))
        t0 = time.perf_counter()
        with _lock:
            for b in range(bsz):
                vectors = self._run(ng, netlist.to_spice(index=b))
                try:
                    v[b] = [float(np.asarray(vectors[k])[0]) for k in names]
                    # ngspice's branch current flows into the + terminal: minus the current delivered
                    first: dict[int, int] = {}
                    for s, nm in enumerate(src_names):
                        node = int(netlist.source_node[s])
                        if node in first:  # shorted onto the node of an earlier source: share equally
                            continue
                        first[node] = s
                        isrc[b, s] = -float(np.asarray(vectors[f"{nm}#branch"])[0])
                except KeyError as exc:
                    raise BackendError(f"ngspice returned no vector {exc} for the operating point",
                                       output=ng.stdout + ng.stderr) from exc
        share = np.bincount(netlist.source_node, minlength=netlist.n_nodes)[netlist.source_node]
        if (share > 1).any():
            for node in np.unique(netlist.source_node[share > 1]):
                idx = np.flatnonzero(netlist.source_node == node)
                isrc[:, idx] = isrc[:, idx].sum(axis=1, keepdims=True) / idx.size
        t1 = time.perf_counter()
        return solution_from_voltages(
            netlist, v, backend=self.name, method="ngspice", iterations=0,
            timings={"solve": t1 - t0, "total": t1 - t0}, source_currents=isrc,
        )

    @staticmethod
    def _run(ng: Any, text: str) -> dict[str, Any]:
        loaded = False
        try:
            ng.load_circuit(text)
            loaded = True
            before = ng.last_plot
            ng.run()
            plot_name = ng.last_plot
            if plot_name == before or not plot_name.startswith("op"):
                raise BackendError("ngspice produced no operating point", output=f"{ng.stdout}\n{ng.stderr}")
            plot = ng.plot(simulation=None, plot_name=plot_name)
            return {k.lower(): np.array(getattr(vec, "_data", vec)) for k, vec in plot.items()}
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"ngspice failed: {exc!r}", output=f"{ng.stdout}\n{ng.stderr}") from exc
        finally:
            if loaded:
                # free the plot and the circuit so that a long batch does not accumulate them
                for command in ("destroy all", "remcirc"):
                    try:
                        ng.exec_command(command)
                    except Exception:  # noqa: BLE001 - cleanup must not mask the result
                        pass
