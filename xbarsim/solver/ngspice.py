"""The ngspice backend, through PySpice's shared-library interface.

It is fed exactly the text of :func:`~xbarsim.netlists.to_spice`, one ``.op`` per batch entry. Node voltages
and the branch currents of the sources come back from ngspice's own vectors; cell quantities are
derived from those voltages by the same code as every other backend. PySpice is imported here only,
and lazily, so ``import xbarsim`` works without it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from xbarsim._validation import plain_scalars
from xbarsim.errors import BackendError, BackendUnavailableError, ConfigError
from xbarsim.netlists.netlist import Netlist
from xbarsim.netlists.spice import to_spice
from xbarsim.solver.solution import Solution, solution_from_voltages
from xbarsim.solver.topology import check_floating

__all__ = ["NgspiceOptions", "NgspiceBackend", "NgspiceMode", "ngspice_shared", "read_raw"]

#: How ngspice is run: in-process through PySpice's shared library, or the ``ngspice -b`` binary
#: in a subprocess (which can be killed after a timeout, and cannot take the Python process down).
NgspiceMode = Literal["shared", "subprocess"]

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
    mode : {"shared", "subprocess"}
        ``"shared"`` (default): PySpice's shared-library interface, in this process.
        ``"subprocess"``: the ``ngspice -b -r`` binary per operating point, results read from its raw
        file; slower to start, but a hang is killed after ``timeout_s`` and a crash stays outside.
    timeout_s : float or None
        Seconds one operating point may take in ``"subprocess"`` mode before it is killed and a
        :class:`~xbarsim.errors.BackendError` raised. ``None``: no limit.
    binary : str
        The ngspice executable for ``"subprocess"`` mode.
    """

    max_cells: int = 128 * 128
    mode: NgspiceMode = "shared"
    timeout_s: float | None = None
    binary: str = "ngspice"

    def __post_init__(self) -> None:
        plain_scalars(self)  # np.int64(5) is 5, np.float32(0.5) is 0.5
        if not (isinstance(self.max_cells, int) and not isinstance(self.max_cells, bool) and self.max_cells >= 1):
            raise ConfigError(f"`max_cells` must be a positive int; got {self.max_cells!r}.")
        if self.mode not in get_args(NgspiceMode):
            raise ConfigError(f"`mode` must be one of {', '.join(map(repr, get_args(NgspiceMode)))}; got {self.mode!r}.")
        if self.timeout_s is not None:
            if not (isinstance(self.timeout_s, float | int) and not isinstance(self.timeout_s, bool) and self.timeout_s > 0 and self.timeout_s < float("inf")):
                raise ConfigError(f"`timeout_s` must be a positive number of seconds or None; got {self.timeout_s!r}.")
            if self.mode != "subprocess":
                raise ConfigError("`timeout_s` needs mode='subprocess' (a shared-library run cannot be interrupted).")
        if not isinstance(self.binary, str) or not self.binary:
            raise ConfigError(f"`binary` must be the name or path of the ngspice executable; got {self.binary!r}.")


def read_raw(path: Path) -> dict[str, np.ndarray]:
    """Vectors of an ngspice raw file (binary or ASCII, real data) by lowercase name.

    Node voltages are named by their node (``v(r0_1)`` -> ``r0_1``), source currents
    ``<source>#branch`` as in the shared-library interface.
    """
    try:
        return _parse_raw(Path(path).read_bytes())
    except (ValueError, IndexError, UnicodeDecodeError, KeyError) as exc:
        raise BackendError(f"the ngspice raw file {path} cannot be parsed ({type(exc).__name__}: {exc}); "
                           "it is truncated or not an ngspice raw file") from None


def _parse_raw(data: bytes) -> dict[str, np.ndarray]:
    """The vectors of the raw file bytes ``data``; any malformation raises ValueError/IndexError."""
    names: list[str] = []
    n_vars = n_points = 0
    pos = 0
    binary = None
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end].decode("ascii", "replace").strip()
        pos = end + 1
        key = line.split(":", 1)[0].strip().lower()
        if key == "no. variables":
            n_vars = int(line.split(":", 1)[1])
        elif key == "no. points":
            n_points = int(line.split(":", 1)[1])
        elif key == "variables":
            for _ in range(n_vars):
                end = data.index(b"\n", pos)
                parts = data[pos:end].decode("ascii").split()
                pos = end + 1
                name = parts[1].lower()
                if name.startswith("v(") and name.endswith(")"):
                    name = name[2:-1]
                elif name.startswith("i(") and name.endswith(")"):
                    name = name[2:-1] + "#branch"
                names.append(name)
        elif key in ("binary", "values"):
            binary = key == "binary"
            break
    if binary is None or not names:
        raise ValueError("no 'Variables' and 'Binary'/'Values' sections with data")
    if len(names) != n_vars or n_points < 1:
        raise ValueError(f"header says {n_vars} variables and {n_points} points; found {len(names)} variable names")
    if binary:
        values = np.frombuffer(data, dtype="<f8", count=n_vars * n_points, offset=pos).reshape(n_points, n_vars)
    else:
        nums = [tok for tok in data[pos:].decode("ascii").split()]
        # ASCII: each point is "index value" then one value per line for the other variables
        flat = [float(t) for k, t in enumerate(nums) if k % (n_vars + 1) != 0]
        values = np.array(flat).reshape(n_points, n_vars)
    if not np.isfinite(values).all():
        raise ValueError("non-finite values")
    return {name: values[:, k].copy() for k, name in enumerate(names)}


def _run_killable(cmd: list[str], cwd: str, timeout_s: float | None, binary: str) -> tuple[str, str, int]:
    """Run ``cmd`` in a session of its own; on timeout kill its whole process group.

    ``subprocess.run(timeout=)`` kills only the direct child: an ngspice started through a wrapper
    script (or one that forks) would keep running and holding the CPU. ``start_new_session`` makes
    the child a process-group leader, so ``os.killpg`` reaches everything it started.
    """
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                cwd=cwd, env={**os.environ, "LC_ALL": "C"}, start_new_session=True)
    except OSError as exc:  # exec format error, permission denied, a directory
        raise BackendUnavailableError(f"the ngspice executable `binary`={binary!r} cannot be run: {exc}; "
                                      f"{_INSTALL_HINT}") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        stdout, stderr = proc.communicate()
        raise BackendError(f"ngspice did not finish within timeout_s={timeout_s} s; its process group was killed",
                           output=(stdout or "")[-4000:]) from None
    except BaseException:  # KeyboardInterrupt: take the simulator down with us
        _kill_group(proc)
        proc.wait()
        raise
    if timeout_s is not None and time.monotonic() - t0 > timeout_s:
        # communicate() only notices the deadline while it waits: a run that finished while this
        # thread was descheduled (a loaded machine) would pass a 0.1 ms timeout. The limit is on
        # wall time from the start, whatever the scheduling.
        raise BackendError(f"ngspice did not finish within timeout_s={timeout_s} s (it took "
                           f"{time.monotonic() - t0:.3g} s)", output=(stdout or "")[-4000:])
    return stdout, stderr, proc.returncode


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


class NgspiceBackend:
    """Solve with ngspice (``.op``), one run per batch entry."""

    name = "ngspice"

    def __init__(self, options: NgspiceOptions | None = None) -> None:
        if options is not None and not isinstance(options, NgspiceOptions):
            raise ConfigError(f"`options` must be NgspiceOptions; got {type(options).__name__}.")
        self.options = options or NgspiceOptions()

    def solve(self, netlist: Netlist) -> Solution:
        if not isinstance(netlist, Netlist):
            raise ConfigError(f"`netlist` must be a Netlist; got {type(netlist).__name__}.")
        m, n = netlist.shape
        if m * n > self.options.max_cells:
            raise ConfigError(
                f"a {m}x{n} array has {m * n} cells, more than NgspiceOptions.max_cells={self.options.max_cells}; "
                "ngspice would take minutes. Raise max_cells to run it anyway."
            )
        check_floating(netlist)  # ngspice would fail in gmin stepping; name the nodes instead
        if self.options.mode == "subprocess":
            run = self._run_subprocess
        else:
            ng = ngspice_shared()

            def run(text: str) -> dict[str, Any]:
                return self._run(ng, text)
        names = [s.lower() for s in netlist.node_names()]
        src_names = [netlist.source_name(s).lower() for s in range(netlist.source_node.size)]
        bsz = netlist.batch_size
        v = np.empty((bsz, netlist.n_nodes))
        isrc = np.zeros((bsz, netlist.source_node.size))
        t0 = time.perf_counter()
        with _lock:
            for b in range(bsz):
                vectors = run(to_spice(netlist, index=b))
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
                    raise BackendError(f"ngspice returned no vector {exc} for the operating point") from exc
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

    def _run_subprocess(self, text: str) -> dict[str, Any]:
        binary = self.options.binary
        exe = shutil.which(binary)
        if exe is None:
            path = Path(binary)
            if os.sep in binary and path.exists():
                why = "is a directory" if path.is_dir() else "is not executable (no execute permission)"
                raise BackendUnavailableError(f"the ngspice executable `binary`={binary!r} {why}; {_INSTALL_HINT}")
            raise BackendUnavailableError(f"the ngspice executable {binary!r} was not found; {_INSTALL_HINT}")
        with tempfile.TemporaryDirectory(prefix="xbarsim_ngspice_") as tmp:
            cir, raw = Path(tmp) / "circuit.cir", Path(tmp) / "out.raw"
            cir.write_text(text)
            stdout, stderr, returncode = _run_killable([exe, "-b", "-r", str(raw), str(cir)], tmp,
                                                       self.options.timeout_s, binary)
            output = (stdout + stderr)[-4000:]
            if returncode != 0 or not raw.exists():
                raise BackendError(f"ngspice exited with status {returncode} and no operating point", output=output)
            if "error" in stderr.lower() and "warning" not in stderr.lower():
                raise BackendError("ngspice reported an error", output=output)
            return read_raw(raw)

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
