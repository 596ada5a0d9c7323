"""Running a sweep on Dask: every trial not yet stored runs as one task, each result is stored durably.

:func:`run_sweep` takes a :class:`~xbarsim.sweeps.SweepSpec` and the trial function that runs it,
runs every trial not yet in the store as one Dask task (an embedded ``distributed.LocalCluster`` by
default, an existing cluster by address, or in-process for debugging), writes each result to the
append-only SQLite store (:class:`~xbarsim.sweeps.ResultStore`) as soon as it arrives, and can
resume after any interruption. :func:`~xbarsim.sweeps.aggregate_sweep` builds the CSV, JSON and
PNG outputs from the store alone.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import logging
import math
import os
import re
import signal
import socket
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim._typing import ProgressCallback
from xbarsim._validation import check_int, check_progress
from xbarsim.errors import ConfigError, XbarError
from xbarsim.sweeps.spec import SweepSpec, TrialFunction, TrialTask, trial_seed
from xbarsim.sweeps.store import ResultStore, TrialRecord

__all__ = ["SweepReport", "run_sweep", "check_scheduler", "execute_trial", "compact_error"]

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
            # its own copy, as a Dask worker gets one: a trial that changes a list or table of its
            # parameters must not change the next trial's, the stored ones or the spec (serial mode)
            results = _clean_results(fn(copy.deepcopy(dict(params)), rng))
        except XbarError as exc:
            status, error_type, error = "failed", type(exc).__name__, str(exc)
        except Exception as exc:  # noqa: BLE001 - any trial failure is data, recorded with its type
            status, error_type = "failed", type(exc).__name__
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
            error = f"{exc}{where}"
    duration = time.perf_counter() - t0
    error = compact_error(error)
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen and len(seen) < 20:
            seen.append(text)
    return {
        "results": results if status == "ok" else {}, "status": status, "error_type": error_type,
        "error": error[:20000], "warnings": seen, "duration_s": duration, "worker": _worker_id(),
    }


def compact_error(text: str, limit: int = 20000) -> str:
    """An error text with every repeated line kept once: the second and later copies of a line are
    dropped and its first copy gets `` [repeated N times]`` (a backend prints the same complaint
    for every node); cut to ``limit`` characters."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        counts[line] = counts.get(line, 0) + 1
    if all(c == 1 for c in counts.values()):
        return text[:limit]
    lines = [f"{line} [repeated {c} times]" if c > 1 and line.strip() else line for line, c in counts.items()]
    return "\n".join(lines)[:limit]


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
    return {"results": {}, "status": "failed", "error_type": type(exc).__name__, "error": compact_error(str(exc)),
            "warnings": [], "duration_s": 0.0, "worker": ""}


def run_sweep(
    spec: SweepSpec,
    trial: TrialFunction,
    *,
    store: str | os.PathLike[str],
    scheduler: Any = None,
    n_workers: int | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    retry_failed: bool = False,
    dashboard: bool = False,
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
    progress : callable, optional
        Called as ``progress(spec.name, done, total)`` once at the start (``done`` = trials already
        stored) and after every stored result. The engine draws nothing itself.
    retry_failed : bool
        With ``resume``: run the stored failed trials again (their failed rows move to the store's
        ``failed_attempts`` table), e.g. after installing a missing simulator.
    dashboard : bool
        Serve the Dask dashboard of the embedded local cluster, on 127.0.0.1 only (off by default:
        it shows worker logs and call stacks to anyone who can reach it, without a login).

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
    for name, flag in (("resume", resume), ("retry_failed", retry_failed), ("dashboard", dashboard)):
        if not isinstance(flag, bool):
            raise ConfigError(f"`{name}` must be a bool; got {flag!r}.")
    if retry_failed and not resume:
        raise ConfigError("`retry_failed` re-runs failed trials of a stored sweep; it needs resume=True (--resume).")
    mode, client_in, n_workers = check_scheduler(scheduler, n_workers)
    if not callable(trial):
        raise ConfigError(f"`trial` must be a trial function (params, rng) -> metrics; got {type(trial).__name__}.")
    fn = trial
    t_start = time.perf_counter()
    with ResultStore(store) as db:  # takes the writer lock before touching the file
        db.bind(spec.to_dict())
        if retry_failed:
            db.retire_failed()
        done = db.keys()
        if done and not resume:
            raise ConfigError(
                f"sweep store {db.path} already holds {len(done)} trial(s) of this sweep; pass resume=True "
                "(--resume) to run the rest, or choose another store."
            )
        todo = [t for t in spec.tasks() if t.key not in done]
        skipped = spec.n_trials - len(todo)
        tick = check_progress(progress)
        counts = {"ok": 0, "failed": 0}
        if tick is not None:
            tick(spec.name, skipped, spec.n_trials)

        def on_result(task: TrialTask, outcome: Mapping[str, Any]) -> None:
            record = _record(task, outcome)
            if db.insert(record):
                counts[record.status] += 1
                if tick is not None:
                    tick(spec.name, skipped + counts["ok"] + counts["failed"], spec.n_trials)
            else:  # pragma: no cover - the driver submits each key once
                log.warning("trial %s was delivered twice; the first result is kept", task.key)

        if mode == "serial":
            workers = 1
            for task in todo:
                on_result(task, execute_trial(fn, task.key, task.params, spec.seed))
            where = "serial"
        else:
            where, workers = _run_on_dask(mode, scheduler, client_in, n_workers, todo, fn, spec, on_result, dashboard)
    return SweepReport(
        name=spec.name, store=Path(store), total=spec.n_trials, skipped=skipped, completed=counts["ok"],
        failed=counts["failed"], elapsed_s=time.perf_counter() - t_start, scheduler=where, n_workers=workers,
    )


def check_scheduler(scheduler: Any, n_workers: int | None) -> tuple[str, Any, int | None]:
    """``(mode, client or None, n_workers)`` of :func:`run_sweep`'s ``scheduler`` and ``n_workers``, or
    ConfigError; callers that prepare work first (training, an output folder) check them up front."""
    mode, client = _scheduler_mode(scheduler)
    if n_workers is not None:
        n_workers = check_int(n_workers, "n_workers", 1, 1024)
        if mode != "local":
            raise ConfigError("`n_workers` applies to the embedded local cluster only (scheduler None or 'local').")
    return mode, client, n_workers


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


#: glibc allocator settings for the embedded cluster's worker processes (values in bytes; a variable
#: already set in the environment wins). Dask starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which
#: also switches off glibc's adaptive mmap threshold: every array above 128 KiB is then a fresh mmap whose
#: pages fault in one by one, and the memory freed at the top of the heap goes back to the OS after each
#: array. The trials allocate and free arrays of 1-300 MB all the time; on experiment 2 (full MNIST) that
#: was 46 % of the CPU time in the kernel (docs/benchmarks.md). These keep arrays under 256 MiB on the heap
#: and the heap's top up to 1 GiB: a worker keeps its peak memory instead of returning it.
WORKER_ALLOCATOR_ENV: Mapping[str, str] = {"MALLOC_MMAP_THRESHOLD_": str(256 * 2**20),
                                           "MALLOC_TRIM_THRESHOLD_": str(2**30)}


#: Dask's log level in the embedded cluster's worker processes (a variable already set wins). With
#: ``silence_logs`` Dask quiets only ``distributed.nanny`` in a worker process; its other loggers print INFO
#: records on the terminal the run shares with its workers (the environ test reads level INFO without this),
#: for example from a worker that a nanny restarted after a SIGTERM to the process group. The traced cause of
#: the one flaky interrupt test was in the driver (see ``_close_quickly``); this keeps the workers as quiet
#: as the driver from their start to their end.
WORKER_LOG_ENV: Mapping[str, str] = {"DASK_LOGGING__DISTRIBUTED": "critical"}


def _worker_spawn_environ() -> dict[str, str]:
    """Dask's ``distributed.nanny.pre-spawn-environ`` with :data:`WORKER_ALLOCATOR_ENV` and
    :data:`WORKER_LOG_ENV` added: the variables the embedded cluster's worker processes start with."""
    import dask

    return {**dask.config.get("distributed.nanny.pre-spawn-environ", default={}), **WORKER_ALLOCATOR_ENV,
            **WORKER_LOG_ENV}


def _restore_environ(saved: Mapping[str, str | None]) -> None:
    """Put the driver's environment back: a Dask nanny copies its pre-spawn variables into the driver's
    ``os.environ`` before each worker start and never removes them, so without this a later subprocess or
    cluster of the same Python session would inherit the embedded cluster's settings."""
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Start worker processes that a Ctrl-C on the terminal does not reach, without losing a Ctrl-C
    or SIGTERM that the driver receives meanwhile.

    SIGINT is blocked in this (the main) thread while the cluster starts, so the threads created
    meanwhile (Dask's event loop, and the threads it starts worker processes from) keep it blocked,
    and so do the worker processes (a blocked signal stays blocked across fork and exec): a Ctrl-C
    reaches the driver only, which stops the workers quietly, instead of every worker printing a
    traceback. multiprocessing's resource tracker is started first, from this thread: launching it
    unblocks SIGINT in the thread that launches it, which would otherwise be Dask's event loop.

    A SIGINT, and a SIGTERM that a Python handler turns into an interrupt (the CLI's), arriving
    meanwhile are recorded and raised again once the cluster has started, so that the interrupt path
    stops it. Before, SIGINT was set to "ignore" here (the kernel then discards a Ctrl-C, whichever
    thread it is sent to): a Ctrl-C during the start (a second or more) was lost and the run went on
    to its end; and a SIGTERM raised inside LocalCluster's constructor, whose half-started cluster
    printed a traceback when it was closed at exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    received: list[int] = []
    held = [signum for signum in (signal.SIGINT, signal.SIGTERM) if callable(signal.getsignal(signum))]
    old = {signum: signal.signal(signum, lambda signum, _frame: received.append(signum)) for signum in held}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a SIGINT pending on this thread arrives now
        if received:
            signal.raise_signal(received[0])  # to the handler it was meant for


def _close_quickly(client: Any, cluster: Any, timeout: float) -> None:
    """Stop an embedded cluster within about ``timeout`` seconds after an interrupt: the worker
    processes are killed (their trials are not stored and run again on ``--resume``), then the
    client and the cluster close.

    Dask's loggers pass CRITICAL only while this runs. ``silence_logs`` quiets Dask's stderr handler
    only until the last step of ``cluster.close``, and the scheduler's stream to a killed worker
    logs its closing (INFO, with a ``CommClosedError`` traceback) from the cluster's event loop at
    about the same moment: when it came second, the traceback was printed before the CLI's one-line
    message (traced with a log filter; 4 of 12 closes logged it). The levels are put back once the
    cluster is closed, when its event loop has stopped and nothing of it can log any more; after a
    close that failed they stay at CRITICAL."""
    quiet = {name: logging.getLogger(name) for name in _dask_logger_names()}
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.CRITICAL)
    for nanny in list(getattr(cluster, "workers", {}).values()):
        nanny.auto_restart = False
        pid = getattr(getattr(nanny, "process", None), "pid", None)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:  # already gone
                pass
    for close in [c.close for c in (client, cluster) if c is not None]:  # no client: stopped as it started
        try:
            close(timeout=timeout)
        except Exception:  # noqa: BLE001 - shutting down after an interrupt; the processes are gone
            pass
    from distributed.core import Status

    if getattr(cluster, "status", None) == Status.closed:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])


def _dask_logger_names() -> list[str]:
    """``distributed`` and the loggers below it that have a level of their own (Dask's logging
    config sets ``distributed.client`` to WARNING, for one): lowering ``distributed`` alone would
    leave those passing their own level."""
    below = [name for name, logger in list(logging.root.manager.loggerDict.items())
             if name.startswith("distributed.") and isinstance(logger, logging.Logger)
             and logger.level != logging.NOTSET]
    return ["distributed", *sorted(below)]


def _run_on_dask(
    mode: str,
    scheduler: Any,
    client_in: Any,
    n_workers: int | None,
    todo: list[TrialTask],
    fn: TrialFunction,
    spec: SweepSpec,
    on_result: Callable[[TrialTask, Mapping[str, Any]], None],
    dashboard: bool = False,
) -> tuple[str, int]:
    from distributed import Client, LocalCluster, as_completed

    import dask

    cluster = None
    client = client_in
    interrupted = False
    spawn_env = _worker_spawn_environ() if mode == "local" else {}
    saved_environ = {key: os.environ.get(key) for key in spawn_env}  # None: unset
    try:
        if mode == "local":
            n = n_workers if n_workers is not None else (os.cpu_count() or 1)
            try:
                # Everything on the loopback interface; the dashboard (worker logs, call stacks, no
                # login) only when asked for. The scheduler's HTTP server (health, metrics) starts
                # even without the dashboard, on 8787 unless told otherwise: a free loopback port,
                # since 8787 may be taken by another cluster (a warning, an error under -W error).
                with _children_ignore_sigint(), dask.config.set({"distributed.nanny.pre-spawn-environ": spawn_env}):
                    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address="127.0.0.1:0",
                                           scheduler_kwargs={"dashboard": bool(dashboard)},
                                           silence_logs=logging.CRITICAL)
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
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        try:
            if cluster is not None and interrupted:
                _close_quickly(client, cluster, 1.0)
            else:
                if client is not None and client is not client_in:
                    client.close()
                if cluster is not None:
                    cluster.close()
        finally:
            _restore_environ(saved_environ)
