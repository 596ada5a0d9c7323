"""Transient analysis in ngspice (``ngspice -b`` subprocess on the text of ``transient_to_spice``).

The run is the binary in batch mode on exactly the netlist text a user would run by hand, with the
raw file read back by :func:`~xbarsim.solver.ngspice.read_raw`. ngspice chooses its own accepted
time points (bounded by ``dt`` and the waveform corners); :func:`crosscheck_transient` replays
those points in the sparse backend with the same integration rule, so the two solve the same
discretised equations and differ only by rounding and Newton tolerance.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xbarsim.errors import BackendError, BackendUnavailableError, ConfigError
from xbarsim.netlists.transient import TransientCircuit, transient_to_spice
from xbarsim.solver.ngspice import NgspiceOptions, _run_killable, read_raw
from xbarsim.solver.transient import TransientOptions, TransientResult, simulate_transient, transient_options

__all__ = ["ngspice_transient", "TransientCrossCheck", "crosscheck_transient"]


def ngspice_transient(circuit: TransientCircuit, options: TransientOptions | None = None, *,
                      binary: str = "ngspice", timeout_s: float | None = None) -> TransientResult:
    """Run ``circuit`` in ``ngspice -b`` with ``.tran`` (method and step from ``options``).

    ``binary`` and ``timeout_s`` are those of :class:`~xbarsim.solver.ngspice.NgspiceOptions` in
    ``"subprocess"`` mode (checked the same way): ngspice runs in a session of its own, so a timeout
    kills its whole process group.

    Raises
    ------
    ConfigError
        A ``binary`` that is not a non-empty str, a ``timeout_s`` that is not a positive number of seconds.
    BackendUnavailableError
        No ngspice executable.
    BackendError
        ngspice failed, timed out (``timeout_s``) or wrote no transient data.
    """
    opts = transient_options(options)
    if not isinstance(circuit, TransientCircuit):
        raise ConfigError(f"`circuit` must be a TransientCircuit; got {type(circuit).__name__}.")
    NgspiceOptions(mode="subprocess", timeout_s=timeout_s, binary=binary)  # the backend's checks of both
    exe = shutil.which(binary)
    if exe is None:
        raise BackendUnavailableError(f"the ngspice executable {binary!r} was not found; install ngspice "
                                      "(Debian/Ubuntu: `apt-get install ngspice`)")
    stop = opts.stop if opts.stop is not None else circuit.end_time
    text = transient_to_spice(circuit, step=opts.dt, stop=stop, method=opts.method)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xbarsim_tran_") as tmp:
        cir, raw = Path(tmp) / "circuit.cir", Path(tmp) / "out.raw"
        cir.write_text(text)
        # its own session: a timeout kills ngspice and anything it started (a wrapper script's child)
        stdout, stderr, returncode = _run_killable([exe, "-b", "-r", str(raw), str(cir)], tmp, timeout_s, binary)
        output = (stdout + stderr)[-4000:]
        if returncode != 0 or not raw.exists():
            raise BackendError(f"ngspice exited with status {returncode} and no transient data", output=output)
        if "timestep too small" in output.lower():
            raise BackendError("ngspice stopped: timestep too small", output=output)
        vec = read_raw(raw)
    wall = time.perf_counter() - t0
    net = circuit.netlist
    m, n = net.shape
    names = [s.lower() for s in net.node_names()]
    try:
        times = vec["time"]
        v = np.stack([vec[k] for k in names], axis=1)
        w = np.stack([vec[f"w{i}_{j}"] for i in range(m) for j in range(n)], axis=1)
        isrc = np.zeros((times.size, net.source_node.size))
        first: dict[int, int] = {}
        for s in range(net.source_node.size):
            node = int(net.source_node[s])
            if node not in first:
                first[node] = s
                # ngspice's branch current flows into the + terminal: minus the current delivered
                isrc[:, s] = -vec[f"{net.source_name(s).lower()}#branch"]
    except KeyError as exc:
        raise BackendError(f"ngspice returned no vector {exc} for the transient", output=output) from exc
    share = np.bincount(net.source_node, minlength=net.n_nodes)[net.source_node]
    for node in np.unique(net.source_node[share > 1]):
        idx = np.flatnonzero(net.source_node == node)
        isrc[:, idx] = isrc[:, idx].sum(axis=1, keepdims=True) / idx.size
    u = (v[:, net.row_node.ravel()] - v[:, net.col_node.ravel()])
    cur = circuit.model.current(u, w)
    if not (np.isfinite(w).all() and np.isfinite(v).all()):
        raise BackendError("ngspice returned non-finite values", output=output)
    return TransientResult(
        times=times, state=w.reshape(-1, m, n),
        cell_voltage=u.reshape(-1, m, n) if opts.record_cells else np.zeros((0, m, n)),
        cell_current=cur.reshape(-1, m, n) if opts.record_cells else np.zeros((0, m, n)),
        source_voltage=circuit.source_voltages(times), source_current=isrc,
        backend="ngspice", method=opts.method, steps=times.size - 1, wall_s=wall)


@dataclass(frozen=True, kw_only=True)
class TransientCrossCheck:
    """Sparse vs ngspice on ngspice's time points.

    Attributes
    ----------
    state_error : float
        Largest ``|w_sparse - w_ngspice|`` (states are in [0, 1], so this is relative to the window).
    current_error : float
        Largest cell-current difference over the largest cell current of the run.
    source_error : float
        Largest source-current difference over the largest source current (ngspice's own branch
        currents against the sparse backend's KCL at the source nodes).
    energy_error : float
        Largest relative difference of the energy delivered by a source (over the total).
    sparse, ngspice : TransientResult
        Both results.
    """

    state_error: float
    current_error: float
    source_error: float
    energy_error: float
    sparse: TransientResult
    ngspice: TransientResult

    def assert_agree(self, rtol: float) -> None:
        """Raise AssertionError naming the quantity whose relative error exceeds ``rtol``."""
        for name in ("state_error", "current_error", "source_error", "energy_error"):
            if not getattr(self, name) <= rtol:
                raise AssertionError(f"sparse and ngspice transients differ: {name} = {getattr(self, name):.3g} > {rtol:g}")


def crosscheck_transient(circuit: TransientCircuit, options: TransientOptions | None = None, *,
                         binary: str = "ngspice") -> TransientCrossCheck:
    """Run ngspice, replay its time points in the sparse backend (same method), compare."""
    opts = transient_options(options)
    ng = ngspice_transient(circuit, opts, binary=binary)
    sp_res = simulate_transient(circuit, opts, times=ng.times)

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
        return float(np.max(np.abs(a - b), initial=0.0)) / scale

    return TransientCrossCheck(
        state_error=float(np.max(np.abs(sp_res.state - ng.state), initial=0.0)),
        current_error=rel(sp_res.cell_current, ng.cell_current),
        source_error=rel(sp_res.source_current, ng.source_current),
        energy_error=float(np.max(np.abs(sp_res.energy - ng.energy), initial=0.0)) / max(float(np.abs(ng.energy).sum()), 1e-300),
        sparse=sp_res, ngspice=ng)
