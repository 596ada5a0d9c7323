"""The trial kinds a sweep config may name: one dict literal, :data:`TRIALS`, of functions ``(params, rng) -> metrics``.

Each function follows :data:`xbarsim.sweeps.TrialFunction`: it takes the merged fixed and grid
parameters of one trial (JSON values) and a generator seeded for that trial, returns a flat mapping
of metric names to ``float``, ``int`` or ``str``, and may raise (the trial is then stored as failed
and the sweep goes on). A metric whose name ends in ``_time_s`` is a wall-clock measurement; every
other metric is a deterministic function of the parameters and the seed.

Built-in kinds (:data:`TRIALS`):

* ``"circuit"`` -- a seeded random crossbar read through a backend: IR-drop error against ideal
  wires, KCL residual, solve time (:func:`circuit_trial`).
* ``"busy"`` -- a fixed amount of CPU work, for overhead and scaling benchmarks (:func:`busy_trial`,
  :func:`calibrate_busy`).
* ``"sleep"`` -- sleeps; pure scheduling overhead with no CPU use (:func:`sleep_trial`).
* ``"evaluate"`` -- one transfer of a network onto hardware, its accuracy (:func:`evaluate_trial`).

A new kind is a new entry of the literal below (and of :data:`TRIAL_PARAMETERS`); nothing registers
itself at import time. :func:`check_sweep` checks a :class:`~xbarsim.sweeps.SweepSpec` against them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, get_args

import numpy as np

from xbarsim.devices import DEVICE_LAWS, LEA_SINH_A, device_law
from xbarsim.devices.models import SINH_A_MIN
from xbarsim.errors import ConfigError
from xbarsim._typing import FloatArray, IntArray, SolveMethod
from xbarsim.evaluation import (
    HARDWARE_FIELDS,
    READOUT_FIELDS,
    DevicePerturbation,
    DroletCodePerturbation,
    Hardware,
    evaluate,
    transfer_outcome,
)
from xbarsim.experiments.config import hardware_for, metric_name
from xbarsim.experiments.networks import cached_dataset, network_file
from xbarsim.netlists import BiasScheme, Crossbar, LineResistance
from xbarsim.networks import DATASETS, MLP, Network
from xbarsim.solver import NgspiceOptions, SparseOptions, get_backend, solve
from xbarsim.sweeps import SweepSpec, TrialFunction, canonical, load_sweep_config

__all__ = [
    "TRIALS",
    "TRIAL_PARAMETERS",
    "TRIAL_CHECKS",
    "circuit_trial",
    "busy_trial",
    "sleep_trial",
    "evaluate_trial",
    "TransferTrial",
    "check_sweep",
    "load_sweep",
    "calibrate_busy",
    "MAX_CIRCUIT_LINES",
    "MAX_CIRCUIT_CELLS",
]

#: Largest number of rows or columns the ``"circuit"`` trial accepts.
MAX_CIRCUIT_LINES = 4096
#: Largest number of cells (rows x columns) the ``"circuit"`` trial accepts (2048 x 2048).
MAX_CIRCUIT_CELLS = 2048 * 2048
_MAX_BATCH_ENTRIES = 10_000_000  # batch x rows of input voltages


# ----------------------------------------------------------------------------- parameter readers
def _number(params: Mapping[str, Any], name: str, default: float | None, *, what: str,
            min_value: float | None = None, positive: bool = False) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"trial parameter `{name}` must be a {what}; got {value!r}.")
    out = float(value)
    if not np.isfinite(out) or (min_value is not None and out < min_value) or (positive and out <= 0):
        raise ConfigError(f"trial parameter `{name}` must be a {what}; got {value!r}.")
    return out


def _integer(params: Mapping[str, Any], name: str, default: int | None, *, lo: int, hi: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise ConfigError(f"trial parameter `{name}` must be an int in [{lo}, {hi}]; got {value!r}.")
    return int(value)


def _choice(params: Mapping[str, Any], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"trial parameter `{name}` must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return value


def _check_known(params: Mapping[str, Any], kind: str) -> None:
    unknown = sorted(set(params) - TRIAL_PARAMETERS[kind])
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for trial kind {kind!r}; "
            f"valid: {', '.join(sorted(TRIAL_PARAMETERS[kind]))}."
        )


def _size(params: Mapping[str, Any]) -> tuple[int, int]:
    value = params.get("size", 16)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        dims = list(value)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        dims = [value, value]
    else:
        raise ConfigError(f"trial parameter `size` must be an int or a [rows, columns] pair; got {value!r}.")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 1 <= int(d) <= MAX_CIRCUIT_LINES:
            raise ConfigError(
                f"trial parameter `size` must have rows and columns in [1, {MAX_CIRCUIT_LINES}]; got {value!r}."
            )
    m, n = int(dims[0]), int(dims[1])
    if m * n > MAX_CIRCUIT_CELLS:
        raise ConfigError(f"trial parameter `size` {m}x{n} has more than {MAX_CIRCUIT_CELLS} cells.")
    return m, n


# ----------------------------------------------------------------------------- "circuit"
def _sparse_options(params: Mapping[str, Any]) -> SparseOptions:
    method = _choice(params, "solver_method", "auto", get_args(SolveMethod))
    return SparseOptions(method=method)  # type: ignore[arg-type]  # checked against SolveMethod above


def _ngspice_options(params: Mapping[str, Any]) -> NgspiceOptions:
    mode = _choice(params, "ngspice_mode", "subprocess", ("subprocess", "shared"))
    timeout = params.get("ngspice_timeout_s")
    if timeout is not None:
        timeout = _number(params, "ngspice_timeout_s", None, what="positive number of seconds", positive=True)
        if mode != "subprocess":  # NgspiceOptions' own message names `timeout_s` and mode=
            raise ConfigError(f"trial parameter `ngspice_timeout_s` needs ngspice_mode = \"subprocess\" (a shared-library "
                              f"run cannot be interrupted); got ngspice_mode = {mode!r}.")
    return NgspiceOptions(mode=mode, timeout_s=timeout)  # type: ignore[arg-type]  # checked above


#: The circuit trial's backend parameters, turned into each registry backend's options object.
_BACKEND_OPTIONS = {"sparse": _sparse_options, "ngspice": _ngspice_options}


def _circuit_setup(params: Mapping[str, Any]) -> tuple[Any, ...]:
    """Every parameter of the ``"circuit"`` trial read and checked (ConfigError naming it), nothing run."""
    _check_known(params, "circuit")
    m, n = _size(params)
    seg = _number(params, "segment_ohm", 1.0, what="non-negative resistance in ohm", min_value=0.0)
    drv = _number(params, "driver_ohm", 0.0, what="non-negative resistance in ohm", min_value=0.0)
    sns = _number(params, "sense_ohm", 0.0, what="non-negative resistance in ohm", min_value=0.0)
    g_min = _number(params, "g_min", 1e-6, what="non-negative conductance in siemens", min_value=0.0)
    g_max = _number(params, "g_max", 1e-4, what="positive conductance in siemens", positive=True)
    if g_min > g_max:
        raise ConfigError(f"trial parameters must satisfy g_min <= g_max (siemens); got {g_min!r} > {g_max!r}.")
    v_read = _number(params, "v_read", 0.3, what="positive voltage in volt", positive=True)
    inputs = _choice(params, "inputs", "random", ("random", "constant"))
    batch = _integer(params, "batch", 1, lo=1, hi=4096)
    if batch * m > _MAX_BATCH_ENTRIES:
        raise ConfigError(f"trial parameters `batch` x rows = {batch * m} exceed {_MAX_BATCH_ENTRIES} input voltages.")
    device_name = _choice(params, "device", "ohmic", DEVICE_LAWS)
    sinh_a = _number(params, "sinh_a", LEA_SINH_A, what="positive nonlinearity in 1/V", positive=True)
    if device_name == "sinh" and sinh_a < SINH_A_MIN:  # Sinh's own message names `a` and Ohmic()
        raise ConfigError(f"trial parameter `sinh_a` must be a sinh nonlinearity of at least {SINH_A_MIN:g} /V; got "
                          f"{sinh_a!r}: sinh(a v) / a underflows double precision there (the device is ohmic: use "
                          "device = \"ohmic\").")
    device = device_law(device_name, sinh_a=sinh_a)
    backend_name = _choice(params, "backend", "sparse", tuple(_BACKEND_OPTIONS))
    backend = get_backend(backend_name, _BACKEND_OPTIONS[backend_name](params))
    max_cells = getattr(getattr(backend, "options", None), "max_cells", None)
    if max_cells is not None and m * n > max_cells:  # else every trial fails naming NgspiceOptions.max_cells
        raise ConfigError(f"trial parameter `size` {m}x{n} has {m * n} cells, more than backend {backend_name!r} "
                          f"runs ({max_cells}; it would take minutes); use backend = \"sparse\".")
    return m, n, seg, drv, sns, g_min, g_max, v_read, inputs, batch, device_name, device, backend


def _circuit_unused(params: Mapping[str, Any]) -> dict[str, str]:
    """The ``"circuit"`` parameters given that this point ignores, each with the setting it needs."""
    device, backend = params.get("device", "ohmic"), params.get("backend", "sparse")
    needs = {"sinh_a": ("device", "sinh", device), "solver_method": ("backend", "sparse", backend),
             "ngspice_mode": ("backend", "ngspice", backend), "ngspice_timeout_s": ("backend", "ngspice", backend)}
    return {name: f'{key} = "{value}"' for name, (key, value, given) in needs.items()
            if name in params and given != value}


def circuit_trial(params: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Read a seeded random crossbar through a backend and compare it with ideal wires.

    Parameters (all optional; units in the names)
    ----------------------------------------------
    size : int or [int, int]
        ``M x N`` (square if one int); default 16. At most :data:`MAX_CIRCUIT_LINES` per side and
        :data:`MAX_CIRCUIT_CELLS` cells.
    segment_ohm, driver_ohm, sense_ohm : float
        Ohm: every row/column wire segment (default 1.0), row drivers and column senses (default 0).
    g_min, g_max : float
        Siemens, conductances drawn uniformly in ``[g_min, g_max]`` (default 1e-6, 1e-4).
    device : {"ohmic", "sinh"}
        Cell law (default "ohmic"); ``sinh_a`` (1/V, default 2.07) is the sinh nonlinearity.
    v_read : float
        Volt (> 0), largest read voltage (default 0.3).
    inputs : {"random", "constant"}
        Row voltages uniform in ``[0, v_read]`` or all at ``v_read`` (default "random").
    batch : int
        Number of input vectors solved together (default 1).
    backend : {"sparse", "ngspice"}
        Solver (default "sparse"); ``solver_method`` ("auto", "direct", "iterative") picks the
        sparse path.
    ngspice_mode : {"subprocess", "shared"}
        How ngspice runs (default "subprocess": a hang can be killed and a crash stays outside the
        worker); ``ngspice_timeout_s`` (seconds, subprocess only) kills a run that takes longer and
        raises :class:`~xbarsim.errors.BackendError`.

    ``sinh_a``, ``solver_method`` and ``ngspice_*`` apply only to the device or backend they name;
    :func:`check_sweep` refuses a sweep where no grid point uses one.

    Returns
    -------
    dict
        ``ir_error_mean`` / ``ir_error_max`` (relative error of the output currents against the
        same cells with ideal wires, ``sum_i I(v_i, g_ij)``, mean / largest over every column of
        every input vector of the batch), ``output_current_mean_A``,
        ``kcl_residual``, ``iterations``, ``method``, ``cells`` and ``solve_time_s`` (wall clock).
    """
    m, n, seg, drv, sns, g_min, g_max, v_read, inputs, batch, device_name, device, backend = _circuit_setup(params)
    g = rng.uniform(g_min, g_max, (m, n))
    v = rng.uniform(0.0, v_read, (batch, m)) if inputs == "random" else np.full((batch, m), v_read)
    crossbar = Crossbar(
        conductance=g, lines=LineResistance.uniform(seg, driver=drv, sense=sns), device=device
    )
    t0 = time.perf_counter()
    sol = solve(crossbar, BiasScheme.read(v), backend)
    solve_time = time.perf_counter() - t0
    # With ideal wires every cell of row i sees v_i, so the ideal output is a plain sum of device laws.
    try:
        with np.errstate(all="raise"):
            ideal = np.asarray(device.current(v[:, :, None], g[None, :, :])).sum(axis=1)
    except FloatingPointError:
        raise ConfigError(
            f"the ideal-wire reference currents overflow float64 (device {device_name!r}, v_read={v_read!r} V); "
            "lower sinh_a or v_read."
        ) from None
    out = np.asarray(sol.output_currents).reshape(batch, n)
    scale = np.abs(ideal)
    denom = np.where(scale > 0, scale, max(float(scale.max()), np.finfo(float).tiny))
    rel = np.abs(out - ideal) / denom
    return {
        "ir_error_mean": float(rel.mean()),
        "ir_error_max": float(rel.max()),
        "output_current_mean_A": float(out.mean()),
        "kcl_residual": float(sol.kcl_residual),
        "iterations": int(sol.iterations),
        "method": str(sol.method),
        "cells": m * n,
        "solve_time_s": solve_time,
    }


# ----------------------------------------------------------------------------- "busy" and "sleep"
_MASK64 = (1 << 64) - 1


def _spin(iterations: int, state: int) -> int:
    """Pure-Python 64-bit LCG steps: CPU work that holds one core and cannot be vectorised away."""
    x = state
    for _ in range(iterations):
        x = (x * 6364136223846793005 + 1442695040888963407) & _MASK64
    return x


def calibrate_busy(duration_s: float, *, probe_s: float = 0.2) -> int:
    """Iterations of the ``"busy"`` trial that take about ``duration_s`` seconds on this core now.

    Calibrate once in the driver and pass the result as the ``iterations`` parameter, so every
    trial does the same work whatever the load of the worker that runs it.
    """
    if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) or not 0 < duration_s < 1e5:
        raise ConfigError(f"`duration_s` must be a positive number of seconds below 1e5; got {duration_s!r}.")
    n = 1 << 14
    while True:
        t0 = time.perf_counter()
        _spin(n, 1)
        dt = time.perf_counter() - t0
        if dt >= probe_s or n >= 1 << 34:
            break
        n *= 2
    return max(1, int(round(n * duration_s / max(dt, 1e-9))))


def _busy_check(params: Mapping[str, Any]) -> None:
    _check_known(params, "busy")
    if "iterations" in params:
        _integer(params, "iterations", None, lo=0, hi=10**12)
    elif "duration_s" in params:
        _number(params, "duration_s", None, what="positive number of seconds", positive=True)
    else:
        raise ConfigError("trial kind 'busy' needs the parameter `iterations` (or `duration_s`).")


def busy_trial(params: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A fixed amount of CPU work: ``iterations`` 64-bit LCG steps from a seeded start.

    Parameters: ``iterations`` (int, the work; see :func:`calibrate_busy`) or ``duration_s``
    (seconds, calibrated on the worker at first call, so the work then depends on the worker's
    speed and load; prefer ``iterations`` for reproducible work). Returns the final state as a hex
    ``checksum`` (a deterministic function of the seed) and the ``iterations`` done.
    """
    _busy_check(params)
    if "iterations" in params:
        n = _integer(params, "iterations", None, lo=0, hi=10**12)
    else:
        n = calibrate_busy(_number(params, "duration_s", None, what="positive number of seconds", positive=True))
    state = int(rng.integers(0, 1 << 63))
    return {"checksum": f"{_spin(n, state):016x}", "iterations": n}


def _sleep_seconds(params: Mapping[str, Any]) -> float:
    _check_known(params, "sleep")
    seconds = _number(params, "duration_s", 0.1, what="number of seconds in [0, 3600]", min_value=0.0)
    if seconds > 3600:
        raise ConfigError(f"trial parameter `duration_s` must be a number of seconds in [0, 3600]; got {seconds!r}.")
    return seconds


def sleep_trial(params: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Sleep ``duration_s`` seconds (default 0.1, at most 3600); returns a seeded ``draw`` in [0, 1)."""
    seconds = _sleep_seconds(params)
    time.sleep(seconds)
    return {"duration_s": seconds, "draw": float(rng.random())}


# ----------------------------------------------------------------------------- "evaluate"
#: Parameters the ``"evaluate"`` trial accepts (checked by :func:`check_sweep`).
EVALUATE_TRIAL_PARAMETERS = frozenset(HARDWARE_FIELDS) | frozenset(
    {"hardware", "networks", "network", "committee", "dataset", "dataset_file", "split", "max_points", "variant",
     "variants",
     "alpha_beta",
     "record_points", "readouts"})


def _network_entry(entry: Any, where: str) -> tuple[str, str | None]:
    """A network's ``(file, sha256)`` from a trial parameter: a path, or a table with ``file`` and ``sha256``."""
    file, sha = (entry.get("file"), entry.get("sha256")) if isinstance(entry, Mapping) else (entry, None)
    if not isinstance(file, str) or not (sha is None or isinstance(sha, str)):
        raise ConfigError(f"trial parameter `{where}` must be a path or a table with `file` and `sha256`; "
                          f"got {entry!r:.100}.")
    return file, sha


def _evaluate_data_check(params: Mapping[str, Any], hw: Hardware) -> None:
    """The ``"evaluate"`` trial's data and read-out parameters, checked (ConfigError naming them)."""
    dataset, dfile = params.get("dataset"), params.get("dataset_file")
    if dfile is not None and not isinstance(dfile, str):
        raise ConfigError(f"trial parameter `dataset_file` must be the path of an .npz; got {dfile!r:.100}.")
    if dfile is None and dataset not in DATASETS:
        raise ConfigError(f"trial parameter `dataset` must be one of {', '.join(map(repr, DATASETS))} (or the name "
                          f"of `dataset_file`); got {dataset!r:.100}.")
    if dfile is not None and not isinstance(dataset, str):
        raise ConfigError(f"trial parameter `dataset` must be the name of `dataset_file`; got {dataset!r:.100}.")
    _choice(params, "split", "test", ("train", "val", "test"))
    if params.get("max_points") is not None:
        _integer(params, "max_points", None, lo=1, hi=10_000_000)
    record = params.get("record_points", False)
    if not isinstance(record, bool):
        raise ConfigError(f"trial parameter `record_points` must be true or false; got {record!r:.100}.")
    readouts = params.get("readouts", {})
    if not isinstance(readouts, Mapping) or not all(isinstance(ch, Mapping) for ch in readouts.values()):
        raise ConfigError(f"trial parameter `readouts` must be a table of read-out name -> table of changes; got "
                          f"{readouts!r:.100}.")
    for rname, ch in readouts.items():
        bad = sorted(set(ch) - set(READOUT_FIELDS))
        if bad:
            raise ConfigError(f"trial parameter `readouts.{rname}` may change only {', '.join(READOUT_FIELDS)}; got "
                              f"{', '.join(map(repr, bad))}.")
        try:
            hw.replace(**ch)
        except ConfigError as exc:
            raise ConfigError(f"trial parameter `readouts.{rname}`: {exc}") from None


def _evaluate_setup(params: Mapping[str, Any], root: str | None = None
                    ) -> tuple[str, str, str | None, Any, list[tuple[str, str | None]] | None]:
    """The ``"evaluate"`` trial's network name, file, content digest, Hardware and the ``(file,
    sha256)`` of the committee members it maps besides the network (None unless strategy
    ``"committee"`` with ``committee_networks = "distinct"``), checked; nothing run."""
    unknown = sorted(set(params) - EVALUATE_TRIAL_PARAMETERS)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for trial kind 'evaluate'.")
    nets = params.get("networks")
    if not isinstance(nets, Mapping) or not nets:
        raise ConfigError("trial parameter `networks` must be a table of network name -> .npz path.")
    if root is not None and not isinstance(root, str):
        raise ConfigError(f"`root` must be a folder path; got {root!r:.80}.")
    name = params.get("network")
    if name is None:
        if len(nets) != 1:
            raise ConfigError(f"trial parameter `network` must name one of {sorted(nets)}.")
        name = next(iter(nets))
    if name not in nets:
        raise ConfigError(f"trial parameter `network` {name!r} is not in `networks` ({sorted(nets)}).")
    file, sha = _network_entry(nets[name], f"networks.{name}")
    point = {k: v for k, v in params.items() if k in HARDWARE_FIELDS or k in ("variant", "alpha_beta")}
    hardware, variants = params.get("hardware", {}), params.get("variants", {})
    if not isinstance(hardware, Mapping) or not isinstance(variants, Mapping):
        raise ConfigError("trial parameters `hardware` and `variants` must be tables.")
    ab = params.get("alpha_beta")
    if ab is not None and not (isinstance(ab, (list, tuple)) and len(ab) == 2):
        raise ConfigError(f"trial parameter `alpha_beta` must be an [alpha, beta] pair; got {ab!r:.100}.")
    hw = hardware_for(hardware, variants, point)
    _evaluate_data_check(params, hw)
    members = None
    if hw.strategy == "committee" and hw.committee_networks == "distinct":
        committee = params.get("committee", {})
        entries = committee.get(name, []) if isinstance(committee, Mapping) else None
        if not isinstance(entries, list):
            raise ConfigError(f"trial parameter `committee` must be a table of network name -> list of member files; "
                              f"got {committee!r:.100}.")
        if len(entries) < hw.alpha - 1:
            raise ConfigError(f"strategy 'committee' with committee_networks 'distinct' at alpha = {hw.alpha} needs "
                              f"{hw.alpha - 1} more trained members of network {name!r}; it has {len(entries)} (set "
                              f"`members` >= {hw.alpha} in its [[networks]] entry).")
        members = [_network_entry(e, f"committee.{name}[{k}]") for k, e in enumerate(entries[:hw.alpha - 1])]
    return name, file, sha, hw, members


def evaluate_trial(params: Mapping[str, Any], rng: np.random.Generator, *, root: str | None = None
                   ) -> dict[str, Any]:
    """The sweep trial kind ``"evaluate"``: one transfer of a network onto hardware, its accuracy.

    Parameters (JSON values)
    ------------------------
    networks : table
        Network name -> path of its ``.npz`` (:meth:`MLP.to_dict`), or a table with ``file`` (the
        path) and ``sha256`` (its content, :func:`~xbarsim.experiments.networks.network_digest`,
        checked at load: a file replaced during the run is an error, never a silent other network).
        Relative paths are relative to ``root`` (the keyword the experiment runner binds to its
        output folder, which the stored spec never names), else to the working directory.
    network : str
        Which one (default: the only one).
    dataset : str
        A key of :data:`xbarsim.networks.DATASETS` (or the name of ``dataset_file``).
    dataset_file : str, optional
        A user dataset (``.npz``, :func:`~xbarsim.networks.load_npz`).
    hardware : table
        Base :class:`Hardware` fields; ``variants`` (table of name -> overrides) with ``variant``,
        any Hardware field given directly, and ``alpha_beta`` ([alpha, beta]) override it, in that
        order.
    committee : table
        Network name -> its committee members 1, 2, ... (member 0 is the network), each a path or
        a table with ``file`` and ``sha256`` as in ``networks``: strategy ``"committee"`` with
        ``committee_networks = "distinct"`` maps the network and the first ``alpha - 1`` members.
    split, max_points, readouts
        As in :func:`~xbarsim.evaluation.evaluate` (each read-out ``r`` adds ``accuracy_<r>``).
    record_points : bool
        Also return ``correct``: the per-point correctness as hex of packed bits.

    Returns
    -------
    dict
        ``accuracy``, ``software_accuracy``, ``accuracy_<task>`` / ``software_accuracy_<task>``
        for multi-task datasets, ``mapping_error`` (percent, mean over layers),
        ``mapping_error_l<i>``, ``n_devices``, ``n_kernels``, ``map_time_s``,
        ``inference_time_s``; with ``energy`` on, ``energy_pj`` (the arrays' read energy per
        inference, picojoule, converters and drivers excluded) and ``energy_l<i>_pj`` per layer.
    """
    name, file, sha, hw, member_files = _evaluate_setup(params, root)
    net = network_file(os.path.join(root, file) if root is not None else file, sha)
    members = None
    if member_files is not None:
        members = [net] + [network_file(os.path.join(root, f) if root is not None else f, s) for f, s in member_files]
        if not all(isinstance(m, MLP) for m in members):
            raise ConfigError(f"committee_networks 'distinct' maps dense networks (MLP); network {name!r} or one of "
                              "its members is not one.")
    dfile = params.get("dataset_file")
    data = cached_dataset(str(params.get("dataset")), None if dfile is None else str(dfile))
    res = evaluate(net, data, hw, rng=rng, split=str(params.get("split", "test")),
                   max_points=params.get("max_points"), readouts=params.get("readouts"),
                   committee=members)  # type: ignore[arg-type]  # checked: all MLP
    out: dict[str, Any] = {
        "accuracy": res.hardware_accuracy, "software_accuracy": res.software_accuracy,
        "mapping_error": res.mapping_error, "n_devices": res.n_devices, "n_kernels": res.n_kernels,
        "map_time_s": res.timings["map"], "inference_time_s": res.timings["inference"],
    }
    for i, e in enumerate(res.mapping_errors):
        out[f"mapping_error_l{i}"] = e
    if res.energy:
        out["energy_pj"] = float(res.energy_per_inference) * 1e12  # type: ignore[arg-type]
        for layer in res.energy:
            out[f"energy_l{layer.layer}_pj"] = layer.energy * 1e12
    for name, acc in res.readouts.items():
        out[f"accuracy_{metric_name(name)}"] = acc
        out[f"inference_{metric_name(name)}_time_s"] = res.timings[f"inference_{name}"]
    for t in res.tasks:
        out[f"accuracy_{metric_name(t.name)}"] = t.hardware
        out[f"software_accuracy_{metric_name(t.name)}"] = t.software
    if params.get("record_points", False):
        out["correct"] = np.packbits(res.correct).tobytes().hex()
    return out


# ----------------------------------------------------------------------------- Monte Carlo transfers
@dataclass(frozen=True, eq=False)
class TransferTrial:
    """The trial of a Monte Carlo experiment: transfer ``params["transfer"]`` of one network.

    A callable object holding the typed network, evaluated points and transfer model, so nothing is
    flattened to JSON and rebuilt. It runs :func:`xbarsim.evaluation.transfer_outcome`, which draws
    from ``SeedSequence(seed, spawn_key=(transfer,))`` (the seeding of
    :func:`~xbarsim.evaluation.monte_carlo`), not from the engine's per-trial generator: a stored
    run therefore equals the in-memory one transfer for transfer. Metrics: ``accuracy``, ``correct``
    (per-point correctness, hex of packed bits) and ``mapping_error_l<i>`` (percent, hardware model).
    ``committee``: a :class:`Hardware` committee of distinct networks (member 0 first), as
    :func:`~xbarsim.evaluation.transfer` takes it.
    """

    network: MLP | Network
    x: FloatArray
    y: IntArray
    model: Hardware | DevicePerturbation | DroletCodePerturbation
    seed: int
    committee: tuple[MLP, ...] | None = None

    def __call__(self, params: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        out = transfer_outcome(self.network, self.x, self.y, self.model, self.seed, int(params["transfer"]),
                               committee=self.committee)
        metrics: dict[str, Any] = {"accuracy": out["accuracy"], "correct": out["correct"]}
        for i, e in enumerate(out["mapping_errors"]):
            metrics[f"mapping_error_l{i}"] = e
        return metrics


#: Trial kinds by name: the one place a sweep config's ``trial = "..."`` is looked up.
TRIALS: Mapping[str, TrialFunction] = MappingProxyType({
    "circuit": circuit_trial,
    "busy": busy_trial,
    "sleep": sleep_trial,
    "evaluate": evaluate_trial,
})

#: Optional: the parameter names a trial kind accepts. A sweep spec naming any other parameter for
#: a kind listed here is a ConfigError (a misspelled parameter would otherwise be silently unused).
TRIAL_PARAMETERS: Mapping[str, frozenset[str]] = MappingProxyType({
    "circuit": frozenset({
        "size", "segment_ohm", "driver_ohm", "sense_ohm", "g_min", "g_max", "device", "sinh_a", "v_read",
        "inputs", "batch", "backend", "solver_method", "ngspice_mode", "ngspice_timeout_s",
    }),
    "busy": frozenset({"iterations", "duration_s"}),
    "sleep": frozenset({"duration_s"}),
    "evaluate": EVALUATE_TRIAL_PARAMETERS,
})


#: Optional: per trial kind, a check of one trial's parameters that runs nothing (ConfigError naming
#: the parameter and its value). :func:`check_sweep` runs it on every grid point before the first trial.
TRIAL_CHECKS: Mapping[str, Callable[[Mapping[str, Any]], Any]] = MappingProxyType({
    "circuit": _circuit_setup,
    "busy": _busy_check,
    "sleep": _sleep_seconds,
    "evaluate": _evaluate_setup,
})


#: Per trial kind, the parameters a point ignores (:func:`check_sweep` refuses one that no point uses).
_UNUSED: Mapping[str, Callable[[Mapping[str, Any]], dict[str, str]]] = MappingProxyType({"circuit": _circuit_unused})


def check_sweep(spec: SweepSpec, trials: Mapping[str, TrialFunction] = TRIALS) -> TrialFunction:
    """The function of ``spec``'s trial kind, after checking the kind, its parameter names and the
    parameters of every grid point (:data:`TRIAL_CHECKS`), so that a bad value is refused before the
    first trial runs rather than failing its trials.

    Raises
    ------
    ConfigError
        An unknown kind (the message lists the valid ones), a grid / fixed parameter that is not a
        parameter of the kind (a misspelled parameter would otherwise be silently unused), a grid
        point with an invalid value (the message names the point, the parameter and the value), or a
        parameter that no grid point uses (``sinh_a`` where no point has ``device = "sinh"``).
    """
    if spec.trial not in trials:
        raise ConfigError(f"`trial` must be one of {', '.join(map(repr, trials))}; got {spec.trial!r:.80}.")
    allowed = TRIAL_PARAMETERS.get(spec.trial)
    if allowed is not None:
        for where, names in (("grid", spec.grid), ("fixed", spec.fixed)):
            for name in names:
                if name not in allowed:
                    raise ConfigError(
                        f"`{where}.{name}` is not a parameter of trial kind {spec.trial!r}; valid: "
                        f"{', '.join(sorted(allowed))}."
                    )
    check = TRIAL_CHECKS.get(spec.trial) if trials.get(spec.trial) is TRIALS.get(spec.trial) else None
    if check is not None:
        unused = _UNUSED.get(spec.trial)
        idle: dict[str, str] | None = None
        for point in spec.points():
            try:
                check({**spec.fixed, **point})
            except ConfigError as exc:
                where = ", ".join(f"{k}={canonical(v)}" for k, v in point.items())
                raise ConfigError(f"grid point {where}: {exc}" if where else str(exc)) from None
            if unused is not None:
                here = unused({**spec.fixed, **point})
                idle = here if idle is None else {k: v for k, v in idle.items() if k in here}
        if idle:  # a parameter every point ignores would be stored, plotted and never used
            name = sorted(idle)[0]
            raise ConfigError(f"`{'grid' if name in spec.grid else 'fixed'}.{name}` is used by no point of this "
                              f"sweep: it applies only where {idle[name]}.")
    return trials[spec.trial]


def load_sweep(path: str | os.PathLike[str], trials: Mapping[str, TrialFunction] = TRIALS, *,
               quick: bool = False) -> SweepSpec:
    """A sweep config (TOML, :func:`xbarsim.sweeps.load_sweep_config`; ``quick`` applies its ``[quick]``
    table) checked by :func:`check_sweep`, every grid point included; every error names the file."""
    spec = load_sweep_config(path, quick=quick)
    try:
        check_sweep(spec, trials)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return spec
