"""Running a sweep on Dask: every trial not yet stored runs as one task, each result is stored durably.

:func:`run_sweep` takes a :class:`~xbarsim.sweeps.SweepSpec` and the trial function that runs it,
runs every trial not yet in the store as one Dask task (an embedded ``distributed.LocalCluster`` by
default, an existing cluster by address, or in-process for debugging), writes each result to the
append-only SQLite store (:class:`~xbarsim.sweeps.ResultStore`) as soon as it arrives, and can
resume after any interruption. :func:`~xbarsim.sweeps.aggregate_sweep` builds the CSV, JSON and
PNG outputs from the store alone.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import os
import re
import socket
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from xbarsim._validation import check_int
from xbarsim.errors import ConfigError, XbarError
from xbarsim.sweeps.spec import SweepSpec, TrialFunction, TrialTask, trial_seed
from xbarsim.sweeps.store import ResultStore, TrialRecord

__all__ = ["SweepReport", "run_sweep", "execute_trial"]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- running one trial
def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _clean_results(results: Any) -> dict[str, Any]:
    """Metrics as plain JSON scalars; TypeError/ValueError for anything else."""
    if not isinstance(results, Mapping):
        raise TypeError(f"a trial must return a mapping of metric name -> value; got {type(results).__name__}")
    out: dict[str, Any] = {}
    for k, v in results.items():
        if not isinstance(k, str):
            raise TypeError(f"metric names must be strings; got {k!r:.60}")
        if isinstance(v, (bool, np.bool_)):
            out[k] = bool(v)
        elif isinstance(v, (int, np.integer)):
            out[k] = int(v)
        elif isinstance(v, (float, np.floating)):
            if not math.isfinite(float(v)):
                raise ValueError(f"metric {k!r} is not finite ({float(v)!r})")
            out[k] = float(v)
        elif isinstance(v, str):
            out[k] = v
        else:
            raise TypeError(f"metric {k!r} must be a float, int or str; got {type(v).__name__}")
    return out


def execute_trial(fn: TrialFunction, key: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Run one trial where it is called (a Dask worker or the driver) and describe the outcome.

    Never raises for a failing trial: returns a dict with ``results``, ``status`` (``"ok"`` or
    ``"failed"``), ``error_type``, ``error``, ``warnings``, ``duration_s`` and ``worker``. Warnings
    the trial emits are recorded rather than shown or raised, so a trial behaves the same under any
    warning filter (a driver under ``-W error`` and a worker with default filters alike).
    """
    rng = np.random.Generator(np.random.PCG64(trial_seed(seed, key)))
    results: dict[str, Any] = {}
    status, error_type, error = "ok", "", ""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            results = _clean_results(fn(dict(params), rng))
        except XbarError as exc:
            status, error_type, error = "failed", type(exc).__name__, str(exc)
        except Exception as exc:  # noqa: BLE001 - any trial failure is data, recorded with its type
            status, error_type = "failed", type(exc).__name__
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
            error = f"{exc}{where}"
    duration = time.perf_counter() - t0
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen and len(seen) < 20:
            seen.append(text)
    return {
        "results": results if status == "ok" else {}, "status": status, "error_type": error_type,
        "error": error[:20000], "warnings": seen, "duration_s": duration, "worker": _worker_id(),
    }


# ----------------------------------------------------------------------------- progress
class _Progress:
    """``done/total``, failures, elapsed and ETA on one line of stderr (redrawn on a terminal)."""

    def __init__(self, total: int, already: int, enabled: bool, stream: IO[str] | None = None) -> None:
        self.total, self.already, self.enabled = total, already, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.failed = 0
        self.t0 = time.perf_counter()
        self.last = -1.0
        self.drawn = -1
        self.t_first = self.t0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, ok: bool) -> None:
        if self.done == 0:
            self.t_first = time.perf_counter()  # the rate is measured from the first result on
        self.done += 1
        self.failed += 0 if ok else 1
        self.draw()

    def draw(self, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        interval = 0.2 if self.tty else 5.0
        if final and self.drawn == self.done:
            return
        if not final and now - self.last < interval and self.done != self.total - self.already:
            return
        self.last, self.drawn = now, self.done
        elapsed = now - self.t0
        n = self.already + self.done
        remaining = self.total - n
        if self.done >= 2:
            eta = (now - self.t_first) / (self.done - 1) * remaining
        else:
            eta = float("nan")
        frac = n / self.total if self.total else 1.0
        bar = "#" * int(24 * frac) + "." * (24 - int(24 * frac))
        eta_text = _clock(eta) if math.isfinite(eta) else "--:--"
        fail = f", {self.failed} failed" if self.failed else ""
        line = f"[{bar}] {n}/{self.total}{fail} elapsed {_clock(elapsed)} ETA {eta_text}"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


# ----------------------------------------------------------------------------- running a sweep
@dataclass(frozen=True, kw_only=True)
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    name : str
        The sweep's name.
    store : Path
        The SQLite store holding every result.
    total : int
        Trials of the spec.
    skipped : int
        Trials already in the store (``resume=True``), not run again.
    completed, failed : int
        Trials run now that succeeded / failed (recorded with their error).
    elapsed_s : float
        Wall-clock seconds of the run, cluster start and stop included.
    scheduler : str
        ``"serial"``, ``"local"`` or the scheduler address.
    n_workers : int
        Worker threads the trials ran on (1 in serial mode).
    """

    name: str
    store: Path
    total: int
    skipped: int
    completed: int
    failed: int
    elapsed_s: float
    scheduler: str
    n_workers: int


def _record(task: TrialTask, outcome: Mapping[str, Any]) -> TrialRecord:
    return TrialRecord(
        key=task.key, point=task.point, trial=task.trial, params=dict(task.params),
        results=dict(outcome["results"]), status=outcome["status"], error_type=outcome["error_type"],
        error=outcome["error"], warnings=tuple(outcome["warnings"]), duration_s=float(outcome["duration_s"]),
        worker=outcome["worker"],
    )


def _infrastructure_failure(exc: BaseException) -> dict[str, Any]:
    """A task Dask could not run (e.g. ``KilledWorker``: it took down every worker it was sent to)."""
    return {"results": {}, "status": "failed", "error_type": type(exc).__name__, "error": str(exc)[:20000],
            "warnings": [], "duration_s": 0.0, "worker": ""}


def run_sweep(
    spec: SweepSpec,
    trial: TrialFunction,
    *,
    store: str | os.PathLike[str],
    scheduler: Any = None,
    n_workers: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> SweepReport:
    """Run every trial of ``spec`` and store each result durably as it finishes.

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    trial : callable
        The function that runs one trial of ``spec.trial`` (see :data:`~xbarsim.sweeps.TrialFunction`);
        a module-level function, so that worker processes can import it.
    store : str or Path
        SQLite file of the results (created if missing). It belongs to one spec: a store of another
        spec is refused, and a store that already holds trials needs ``resume=True``.
    scheduler : None, "local", "serial", str or distributed.Client
        ``None``/``"local"``: an embedded ``distributed.LocalCluster`` (worker processes, one
        thread each), started and stopped here. ``"serial"``: in this process, one trial after the
        other (debugging; same results bit for bit). Any other string: the address of a running
        Dask scheduler (``tcp://host:8786``). A ``distributed.Client``: use it as is.
    n_workers : int, optional
        Worker processes of the local cluster (default: the CPU count). Only for the local cluster.
    resume : bool
        Skip trials whose key is already in the store (finished or failed) and run the rest.
    progress : bool
        Draw a progress bar (done/total, failures, ETA) on stderr.

    Returns
    -------
    SweepReport

    Raises
    ------
    ConfigError
        Bad arguments, a store of another spec, a non-empty store without ``resume``, a store held
        by another running sweep, or a scheduler that cannot be reached.

    Notes
    -----
    Trials are Dask tasks submitted with ``client.submit`` and collected with ``as_completed``; at
    most a few times the number of worker threads are in flight at once. A trial that raises is
    stored as failed with its exception type and message, and the sweep goes on. When a worker dies,
    Dask reruns its tasks elsewhere; the driver stores each trial once (the key is the primary key).
    Only this process writes the store, each result in its own fsynced commit, so killing it loses
    at most the trials still in flight, and ``resume=True`` runs exactly those again.
    """
    if not isinstance(spec, SweepSpec):
        raise ConfigError(f"`spec` must be a SweepSpec; got {type(spec).__name__}.")
    if not isinstance(resume, bool):
        raise ConfigError(f"`resume` must be a bool; got {resume!r}.")
    mode, client_in = _scheduler_mode(scheduler)
    if n_workers is not None:
        n_workers = check_int(n_workers, "n_workers", 1, 1024)
        if mode != "local":
            raise ConfigError("`n_workers` applies to the embedded local cluster only (scheduler None or 'local').")
    if not callable(trial):
        raise ConfigError(f"`trial` must be a trial function (params, rng) -> metrics; got {type(trial).__name__}.")
    fn = trial
    t_start = time.perf_counter()
    with ResultStore(store) as db:
        db.acquire()
        db.bind(spec.to_dict())
        done = db.keys()
        if done and not resume:
            raise ConfigError(
                f"sweep store {db.path} already holds {len(done)} trial(s) of this sweep; pass resume=True "
                "(--resume) to run the rest, or choose another store."
            )
        todo = [t for t in spec.tasks() if t.key not in done]
        skipped = spec.n_trials - len(todo)
        bar = _Progress(spec.n_trials, skipped, progress)
        counts = {"ok": 0, "failed": 0}

        def on_result(task: TrialTask, outcome: Mapping[str, Any]) -> None:
            record = _record(task, outcome)
            if db.insert(record):
                counts[record.status] += 1
                bar.update(record.ok)
            else:  # pragma: no cover - the driver submits each key once
                log.warning("trial %s was delivered twice; the first result is kept", task.key)

        if mode == "serial":
            workers = 1
            for task in todo:
                on_result(task, execute_trial(fn, task.key, task.params, spec.seed))
            where = "serial"
        else:
            where, workers = _run_on_dask(mode, scheduler, client_in, n_workers, todo, fn, spec, on_result)
        bar.draw(final=True)
    return SweepReport(
        name=spec.name, store=Path(store), total=spec.n_trials, skipped=skipped, completed=counts["ok"],
        failed=counts["failed"], elapsed_s=time.perf_counter() - t_start, scheduler=where, n_workers=workers,
    )


def _scheduler_mode(scheduler: Any) -> tuple[str, Any]:
    """``("serial" | "local" | "address" | "client", client or None)``."""
    if scheduler is None or scheduler == "local":
        return "local", None
    if scheduler == "serial":
        return "serial", None
    if isinstance(scheduler, str):
        if not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://\S+|[A-Za-z0-9.\-\[\]:]+:\d+", scheduler):
            raise ConfigError(
                f"`scheduler` must be 'local', 'serial' or a Dask scheduler address such as tcp://host:8786; "
                f"got {scheduler!r:.80}."
            )
        return "address", None
    from distributed import Client

    if isinstance(scheduler, Client):
        return "client", scheduler
    raise ConfigError(
        f"`scheduler` must be None, 'local', 'serial', an address or a distributed.Client; got "
        f"{type(scheduler).__name__}."
    )


def _run_on_dask(
    mode: str,
    scheduler: Any,
    client_in: Any,
    n_workers: int | None,
    todo: list[TrialTask],
    fn: TrialFunction,
    spec: SweepSpec,
    on_result: Callable[[TrialTask, Mapping[str, Any]], None],
) -> tuple[str, int]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    client = client_in
    try:
        if mode == "local":
            n = n_workers if n_workers is not None else (os.cpu_count() or 1)
            try:
                # dashboard on a free port: the default 8787 may be taken by another cluster, which
                # only costs a warning, but a warning is an error under -W error
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=logging.ERROR)
                client = Client(cluster, set_as_default=False)
            except XbarError:
                raise
            except Exception as exc:  # noqa: BLE001 - any start-up failure becomes one clear error
                raise ConfigError(f"could not start a local Dask cluster with {n} workers: {exc!r}") from exc
            where = "local"
        elif mode == "address":
            try:
                # connect timeout: dask's distributed.comm.timeouts.connect (30 s by default)
                client = Client(scheduler, set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError from comm parsing
                raise ConfigError(f"could not connect to the Dask scheduler at {scheduler}: {exc!r}") from exc
            where = str(scheduler)
        else:
            where = str(client.scheduler.address)
        threads = max(1, sum(client.nthreads().values()))
        window = max(16, 4 * threads)
        run_token = uuid.uuid4().hex[:12]
        pending: dict[str, TrialTask] = {}
        tasks = iter(todo)
        queue = as_completed(loop=client.loop)

        def submit(task: TrialTask) -> None:
            digest = hashlib.sha256(f"{spec.name}\0{task.key}".encode()).hexdigest()[:20]
            dask_key = f"xbarsim-trial-{digest}-{run_token}"
            future = client.submit(execute_trial, fn, task.key, dict(task.params), spec.seed, key=dask_key,
                                   pure=False)
            pending[dask_key] = task
            queue.add(future)

        for task in itertools.islice(tasks, window):
            submit(task)
        for future in queue:
            task = pending.pop(future.key)
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, CancelledError: recorded, sweep goes on
                outcome = _infrastructure_failure(exc)
            on_result(task, outcome)
            future.release()
            nxt = next(tasks, None)
            if nxt is not None:
                submit(nxt)
        return where, threads
    finally:
        if client is not None and client is not client_in:
            client.close()
        if cluster is not None:
            cluster.close()
