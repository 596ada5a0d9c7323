"""Running an experiment: train (or reuse) its networks, run its sweep on the sweep engine or its
Monte Carlo transfers, and write the report.

A sweep runs the trial kind ``"evaluate"`` (:func:`~xbarsim.experiments.evaluate_trial`) through
:func:`xbarsim.sweeps.run_sweep`, so every trial is stored durably as it finishes and an
interrupted run resumes (``--resume``). A Monte Carlo experiment runs the same engine: per network
and transfer model, one trial per transfer (:class:`~xbarsim.experiments.TransferTrial`) in
``transfers_<network>_<model>.sqlite``, so both kinds share one durable store, one writer lock and
one resume. Outputs: ``networks/*.npz``, ``results.csv``, ``results.json``, ``report.md`` and PNG plots.
:func:`run_sweep_config` runs a plain sweep config (``xbarsim sweep``) of any kind of
:data:`~xbarsim.experiments.TRIALS`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import xbarsim.provenance as provenance
from xbarsim.errors import ConfigError, RunInterrupted, SpecMismatchError
from xbarsim._typing import ProgressCallback
from xbarsim.evaluation import (
    DroletCodePerturbation,
    device_perturbation,
    evaluated_points,
    monte_carlo_result,
    monte_carlo_setup,
    network_fingerprint,
)
from xbarsim.evaluation.hardware import augmented_weights, build_preset, chip_kernels, layer_encodings
from xbarsim.experiments.config import ExperimentConfig, load_experiment
from xbarsim.experiments.networks import (
    TrainedNetwork,
    config_dataset,
    check_labels,
    changed_settings,
    indexed_settings,
    load_network,
    member_name,
    member_paths,
    network_settings,
    train_all,
)
from xbarsim.experiments.plots import plot_point_histograms, sweep_plots
from xbarsim.experiments.report import (
    ConsoleProgress,
    ExperimentReport,
    compare,
    markdown,
    protocol_text,
    stamp_pngs,
    write_csv,
    write_json,
)
from xbarsim.experiments.trials import TRIALS, TransferTrial, check_sweep, evaluate_trial
from xbarsim.networks import MLP, Network, check_sample_shape, reference_scores
from xbarsim.sweeps import (
    ResultStore,
    SweepAggregate,
    SweepReport,
    SweepSpec,
    TrialFunction,
    TrialRecord,
    WriterLock,
    aggregate_sweep,
    check_scheduler,
    describe_changes,
    refuse_symlink,
    run_sweep,
    summarize,
    write_text,
)

__all__ = ["run_experiment", "run_sweep_config", "run_example"]


@contextmanager
def _writing(received: list[int]) -> Iterator[None]:
    """Hold back Ctrl-C while a report is written (it is recorded in ``received`` and acted on
    afterwards), so that an interrupt never leaves half a report. SIGTERM is held back the same way
    where a Python handler turns it into an interrupt (the CLI's): it stops a run as Ctrl-C does, and
    had left a report without ``report.md`` or the figures' provenance. A SIGTERM left to the
    operating system's default (a library caller's process) still ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = [signal.SIGINT]
    if callable(signal.getsignal(signal.SIGTERM)):
        held.append(signal.SIGTERM)
    old = {signum: signal.signal(signum, lambda signum, _frame: received.append(signum)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


def _uses_ngspice(*parts: Any) -> bool:
    return '"ngspice"' in json.dumps(parts, default=str)


def _source_path(source: str) -> str | None:
    return source if source and not source.startswith("<") and Path(source).is_file() else None


def run_experiment(
    config: ExperimentConfig,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    scheduler: Any = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    command: Sequence[str] | None = None,
    retry_failed: bool = False,
    dashboard: bool = False,
) -> ExperimentReport:
    """Run an experiment: train (or reuse) its networks, run the sweep or the Monte Carlo
    transfers, write ``results.csv``, ``results.json``, ``report.md`` and PNG plots into ``out``.

    Parameters
    ----------
    config : ExperimentConfig
        The experiment.
    out : path, optional
        Output folder (default ``results/<name>``).
    resume : bool
        Continue an interrupted run: stored trials / transfers are kept, the rest run.
    scheduler, workers
        Sweeps: see :func:`xbarsim.sweeps.run_sweep` (default: an embedded local Dask cluster
        with one worker per CPU). Monte Carlo runs in this process.
    progress : callable, optional
        ``progress(label, done, total)`` for training, trials and transfers
        (:class:`~xbarsim.experiments.report.ConsoleProgress` draws tqdm bars); None: silent.
    command : sequence of str, optional
        The command line recorded in the provenance of every file (default ``sys.argv``).
    retry_failed : bool
        With ``resume``: run the stored failed trials (sweeps) or transfers (Monte Carlo) again.
    dashboard : bool
        Sweeps on the embedded local cluster: serve the Dask dashboard (on 127.0.0.1 only).

    Returns
    -------
    ExperimentReport

    Notes
    -----
    The output folder's writer lock (``OUT/xbarsim.lock``) is taken before anything is written
    into it, so a second run on a busy folder changes nothing there. Networks are identified by
    their settings and content (:func:`~xbarsim.experiments.networks.network_digest`): results
    stored in ``out`` for other networks are refused, naming what changed, before any training.
    """
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(f"`config` must be an ExperimentConfig; got {type(config).__name__}.")
    if config.kind == "sweep":  # before any training or folder: a bad --scheduler / --workers fails first
        check_scheduler(scheduler, workers)
    t0 = time.perf_counter()
    prov = provenance.collect(config=_source_path(config.source), seed=config.seed, command=command,
                              ngspice=_uses_ngspice(config.hardware.to_dict(), config.readouts, config.grid))
    folder = _output_folder(Path(out) if out is not None else Path("results") / config.name)
    with WriterLock(refuse_symlink(folder / "xbarsim.lock"), what=f"output folder {folder}",
                    busy="another running xbarsim run"):
        for name in ("results.csv", "results.json", "report.md", "trials.csv", "summary.csv", "summary.json"):
            refuse_symlink(folder / name)  # refused now, not after every trial ran
        for png in folder.glob("*.png"):  # a figure this run may or may not redraw
            refuse_symlink(png)
        # one experiment per folder: the other kind's report.md / results.* would be replaced by this one's
        other = (any(folder.glob("transfers_*.sqlite")) if config.kind == "sweep"
                 else (folder / "trials.sqlite").exists())
        if other:
            held = "a Monte Carlo experiment's transfers" if config.kind == "sweep" else "a sweep experiment's trials"
            raise ConfigError(f"{folder} holds {held}; this {config.kind} experiment would replace that "
                              "experiment's report. Use another --out.")
        settings = network_settings(config)
        if config.kind == "sweep":
            _check_store_networks(folder / "trials.sqlite", settings)
        elif any(folder.glob("transfers_*")):  # with or without --resume: training would replace their networks
            old = indexed_settings(folder)
            changes = [changed_settings(k, old[k], v) for k, v in settings.items() if k in old and old[k] != v]
            if changes:
                raise ConfigError(f"{folder} holds transfers of other networks than this config makes "
                                  f"({'; '.join(changes)}); resuming would mix them. Use another --out.")
        nets = train_all(config, folder, progress, settings, prov)
        models = {name: load_network(folder / n.file, sha256=n.sha256) for name, n in nets.items()}
        data = config_dataset(config)
        check_labels(config, models)
        # the points the trials evaluate (a sweep's max_points: the first points of the split; a Monte
        # Carlo run refuses max_points), on which the software baseline is computed too
        x, y, _ = evaluated_points(data, config.split, config.max_points if config.kind == "sweep" else None)
        for name, m in models.items():
            if x.shape[1] != m.n_inputs:
                raise ConfigError(f"{config.source}: network {name!r} takes {m.n_inputs} inputs per sample but "
                                  f"dataset {config.dataset!r} has {x.shape[1]}.")
            check_sample_shape(data, getattr(m, "input_shape", (m.n_inputs,)), f"network {name!r}")
        # the software baseline: onnxruntime for ONNX models, the network's forward pass otherwise
        software = {name: float(np.mean(m.labels_from_scores(reference_scores(m, x)[0]) == y))
                    for name, m in models.items()}
        if config.kind == "sweep":
            return _run_sweep(config, folder, nets, models, software, resume, scheduler, workers, progress, t0,
                              prov, retry_failed, dashboard)
        return _run_monte_carlo(config, folder, nets, models, software, resume, progress, t0, prov, retry_failed)


def _output_folder(folder: Path) -> Path:
    """``folder``, created; a ConfigError when it names an existing file (mkdir's "[Errno 17] File exists"
    named neither --out nor what was wrong)."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"output folder {folder} is an existing file, not a folder; give --out a folder.")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_store_networks(store: Path, settings: Mapping[str, Mapping[str, Any]],
                          nets: Mapping[str, TrainedNetwork] | None = None) -> None:
    """Refuse a store holding trials of other networks than ``settings`` (and ``nets``) describe,
    naming what changed: resuming would mix the results of two networks in one row, and a finished
    run would report the old results under the new config."""
    if not store.exists():
        return
    with ResultStore(store, readonly=True) as db:
        spec, n = db.spec_dict(), db.count()
    if not spec or not n:
        return
    fixed = spec.get("fixed")
    stored = fixed.get("networks") if isinstance(fixed, Mapping) else None
    if not isinstance(stored, Mapping):
        return  # not an experiment's store: bind() refuses it by its spec
    committee = fixed.get("committee") if isinstance(fixed, Mapping) else None
    stored = {**stored, **{member_name(name, k + 1): m for name, ms in committee.items() for k, m in enumerate(ms)}
              } if isinstance(committee, Mapping) else dict(stored)
    if nets is not None:  # committee members are checked like networks
        nets = {**nets, **{member_name(name, k + 1): m for name, n in nets.items() for k, m in enumerate(n.members)}}
    changes = []
    for name, new in settings.items():
        old = stored.get(name)
        if not isinstance(old, Mapping) or not isinstance(old.get("settings"), Mapping):
            if old is not None:
                changes.append(f"network {name!r}: stored without its settings and content digest (an older "
                               "xbarsim)")
        elif old["settings"] != new:
            changes.append(changed_settings(name, old["settings"], new))
        elif nets is not None and name in nets and old.get("sha256") != nets[name].sha256:
            changes.append(f"network {name!r}: same settings, other content (fingerprint {old.get('sha256')} "
                           f"-> {nets[name].sha256}; training is not reproducible here)")
    if changes:
        raise ConfigError(
            f"{store} holds {n} trial(s) of other networks than this config makes ({'; '.join(changes)}); resuming "
            "would mix the results of different networks. Use another --out, or restore the config.")


def _check_fits(config: ExperimentConfig, models: Mapping[str, MLP | Network]) -> None:
    for point in config.points():
        hw = config.hardware_at(point)
        names = [point["network"]] if "network" in point else list(models)
        for name in names:
            net = models[name]
            biased = hw.bias == "crossbar" and net.biases is not None
            weights = augmented_weights(net.weights, net.biases if biased else None)
            try:
                encs = layer_encodings(hw, weights, net.gammas, biased=biased)
                chip_kernels(hw, weights, encs, build_preset(hw))
            except ConfigError as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in point.items())
                raise ConfigError(f"{config.source}: grid point {where} (network {name!r}): {exc}") from None


def _config_setting(path: str) -> str:
    """A sweep spec's dotted path in an experiment config's terms: ``fixed.hardware.fault_rate`` ->
    ``[hardware] fault_rate``, ``trials`` -> ``cycles``, ``grid.alpha`` -> ``[grid] alpha``, and
    ``grid.transfer`` (a Monte Carlo store's) -> ``transfers``."""
    if path == "trials":
        return "cycles"
    if path == "grid.transfer":
        return "transfers"
    head, _, rest = path.partition(".")
    if head == "fixed" and rest:
        head, _, rest = rest.partition(".")
        if head in ("hardware", "variants", "readouts") and rest:
            return f"[{head}] {rest}"
        if head == "model" and rest:
            return f"model setting {rest}"
        return head if not rest else f"{head} ({rest})"
    return f"[grid] {rest}" if head == "grid" and rest else path


def _other_config(config: ExperimentConfig, folder: Path, exc: SpecMismatchError) -> ConfigError:
    """The refusal of a store made by another config, each change named as the config names it (the
    store's own message says ``fixed.hardware.fault_rate`` and ``trials``)."""
    def count(v: str) -> str:  # a Monte Carlo store's grid lists its transfers 0..n-1: say n
        try:
            return str(len(json.loads(v)))
        except (ValueError, TypeError):  # "(unset)"
            return v

    shown = describe_changes([(_config_setting(k), *((count(a), count(b)) if k == "grid.transfer" else (a, b)))
                              for k, a, b in exc.changes])
    return ConfigError(f"{exc.path} holds results of another version of {config.source} (stored -> now: {shown}); "
                       f"use another --out folder than {folder}, or the config as it was.")


def _run_sweep(config: ExperimentConfig, folder: Path, nets: Mapping[str, TrainedNetwork],
               models: Mapping[str, MLP | Network], software: Mapping[str, float], resume: bool, scheduler: Any,
               workers: int | None, progress: ProgressCallback | None, t0: float, prov: dict[str, Any],
               retry_failed: bool, dashboard: bool) -> ExperimentReport:
    _check_fits(config, models)
    _check_store_networks(folder / "trials.sqlite", {
        **{k: v.settings for k, v in nets.items()},
        **{member_name(k, i + 1): m.settings for k, v in nets.items() for i, m in enumerate(v.members)}}, nets)
    fixed: dict[str, Any] = {
        "hardware": {k: v for k, v in config.hardware.to_dict().items() if v is not None},
        # relative to the output folder (the folder can move); identified by content and settings
        "networks": {k: v.to_dict() for k, v in nets.items()},
        "dataset": config.dataset, "split": config.split,
    }
    if config.dataset_file is not None:
        fixed["dataset_file"] = config.dataset_file
    if config.max_points is not None:
        fixed["max_points"] = config.max_points
    if config.variants:
        fixed["variants"] = {k: dict(v) for k, v in config.variants.items()}
    if config.readouts:
        fixed["readouts"] = {k: dict(v) for k, v in config.readouts.items()}
    if "network" not in config.grid:
        fixed["network"] = config.networks[0].name
    committee = member_paths(nets)  # relative to the output folder, with their content digests
    if committee:
        fixed["committee"] = committee
    spec = SweepSpec(name=config.name, trial="evaluate", grid={k: list(v) for k, v in config.grid.items()},
                     fixed=fixed, trials=config.cycles, seed=config.seed)
    store = folder / "trials.sqlite"
    if store.exists() and not resume:
        with ResultStore(store, readonly=True) as db:
            if db.count() and db.spec_dict() == spec.to_dict():
                raise ConfigError(f"{store} already holds {db.count()} trial(s) of this experiment; pass --resume "
                                  "to run the rest, or choose another --out.")
    if scheduler is None and workers is None:
        workers = min(os.cpu_count() or 1, max(1, spec.n_trials))
    # the trial resolves the networks' relative paths against the folder, which the spec never names
    trial = functools.partial(evaluate_trial, root=str(folder.resolve()))
    received: list[int] = []
    try:
        report = run_sweep(spec, trial, store=store, scheduler=scheduler, n_workers=workers,
                           resume=resume or store.exists(), progress=progress, retry_failed=retry_failed,
                           dashboard=dashboard)
    except SpecMismatchError as exc:
        raise _other_config(config, folder, exc) from None
    except KeyboardInterrupt:
        with _writing(received):  # partial exactly when trials are missing from the store
            result = _sweep_report(config, folder, store, spec, fixed, software, t0, None, prov)
        done = sum(r.get("n", 0) + r.get("n_failed", 0) for r in result.rows)
        what = (f"{done} of {spec.n_trials} trials stored, partial report in {folder / 'report.md'}; rerun with "
                "--resume to continue" if done < spec.n_trials else
                f"all {done} trials had finished; the report is complete in {folder / 'report.md'}")
        raise RunInterrupted(what, done=done, total=spec.n_trials,
                             written=tuple(str(p) for p in result.files)) from None
    with _writing(received):
        result = _sweep_report(config, folder, store, spec, fixed, software, t0, report, prov)
    if received:
        raise RunInterrupted(f"the run had finished; its report is complete in {folder / 'report.md'}",
                             done=spec.n_trials, total=spec.n_trials, written=tuple(str(p) for p in result.files),
                             signum=received[0])
    return result


def _sweep_report(config: ExperimentConfig, folder: Path, store: Path, spec: SweepSpec, fixed: Mapping[str, Any],
                  software: Mapping[str, float], t0: float, report: SweepReport | None,
                  prov: dict[str, Any]) -> ExperimentReport:
    """Write the aggregate, ``results.csv``/``.json``, the plots and ``report.md`` of the trials in
    ``store`` (``report`` None: the run was interrupted, the files say partial)."""
    agg = aggregate_sweep(store, folder, plots=False, spec=spec, provenance=prov)
    prov = {**prov, "partial": bool(prov.get("partial")) or agg.n_missing > 0}
    cols = list(config.grid) or ["network"]
    with ResultStore(store, readonly=True) as db:
        records = db.records()  # once, for the rows and the warnings note
    rows = _sweep_rows(config, records, fixed)
    metrics = ["accuracy", "mapping_error"]
    metrics += sorted({m.removesuffix("_mean") for row in rows for m in row
                       if m.startswith("accuracy_") and m.endswith("_mean") and m != "accuracy_mean"
                       and row[m] is not None})
    if any(row.get("energy_pj_mean") is not None for row in rows):
        metrics.append("energy_pj")
    files = [agg.trials_csv, agg.summary_csv, agg.summary_json]
    files.append(write_csv(folder / "results.csv", rows, prov))
    comparisons = compare(rows, config.references, columns=cols)
    elapsed = time.perf_counter() - t0
    doc = {"experiment": config.name, "source": config.source, "quick": config.quick,
           "quick_changes": [{"setting": k, "quick": q, "full": f} for k, q, f in config.quick_changes],
           "protocol": protocol_text(config), "kind": config.kind,
           "dataset": config.dataset, "seed": config.seed, "cycles": config.cycles, "elapsed_s": elapsed,
           "sweep_elapsed_s": None if report is None else report.elapsed_s, "n_trials": spec.n_trials,
           "n_stored": agg.n_ok + agg.n_failed, "n_failed": agg.n_failed, "partial": prov["partial"],
           "software_accuracy": dict(software), "rows": rows, "comparisons": comparisons}
    files.append(write_json(folder / "results.json", doc, prov))
    files += stamp_pngs(sweep_plots(config, folder, rows, software), prov)
    notes = []
    if prov["partial"]:
        notes.append(f"**Partial results**: {agg.n_ok + agg.n_failed} of {spec.n_trials} trials had finished when "
                     "the run was interrupted; `--resume` completes it.")
    if agg.n_failed:
        notes.append(f"**{agg.n_failed} trial(s) failed**; see `error_type` / `error` in `{agg.trials_csv.name}`.")
    warned = _warnings_note(records, "trial", store.name)
    if warned:
        notes.append(warned)
    text = markdown(config, rows, cols, metrics, comparisons, software, elapsed,
                    "\n\n".join(notes), prov)
    write_text(folder / "report.md", text)
    files.append(folder / "report.md")
    return ExperimentReport(name=config.name, out=folder, rows=tuple(rows), comparisons=tuple(comparisons),
                            files=tuple(files), elapsed_s=elapsed, software=dict(software), table=text,
                            n_failed=agg.n_failed)


def _warnings_note(records: Sequence[TrialRecord], what: str, where: str) -> str | None:
    """The report's note of the warnings the stored trials raised, each once with how many trials raised
    it (the sweep engine records a trial's warnings instead of showing them, so without this note a
    warning about the numbers in the table reached no one)."""
    counts: dict[str, int] = {}
    for rec in records:
        for text in rec.warnings:
            counts[text] = counts.get(text, 0) + 1
    if not counts:
        return None
    n = sum(1 for rec in records if rec.warnings)
    lines = [f"**Warnings** raised by {n} of {len(records)} stored {what}(s) (each {what}'s are in `{where}`):"]
    lines += [f"- {' '.join(text.split())} ({k} {what}(s))" for text, k in counts.items()]  # one line each
    return "\n".join(lines)


def _sweep_rows(config: ExperimentConfig, records: Sequence[TrialRecord],
                fixed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per grid point (in the config's grid order): its values, ``n`` (successful trials),
    ``n_failed`` and mean / std (ddof = 0) of every numeric metric of the stored ``records``, from
    :func:`xbarsim.sweeps.summarize` (trials matched to points by their own parameter values)."""
    names = sorted({k for r in records if r.ok for k, v in r.results.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
    rows = []
    for summary in summarize(records, config.points(), names, errors=True):
        row: dict[str, Any] = {k: summary[k] for k in config.grid}
        row.setdefault("network", fixed.get("network"))
        row["n"] = summary["n_ok"]
        row["n_failed"] = summary["n_failed"]
        for m in names:
            if summary[f"{m}_mean"] is not None:
                row[f"{m}_mean"] = summary[f"{m}_mean"]
                row[f"{m}_std"] = summary[f"{m}_std"]
                if f"{m}_n" in summary:  # over fewer trials than n: some did not report it
                    row[f"{m}_n"] = summary[f"{m}_n"]
        for m in ("accuracy", "mapping_error"):
            row.setdefault(f"{m}_mean", None)
            row.setdefault(f"{m}_std", None)
        if "errors" in summary:
            row["errors"] = summary["errors"]
        rows.append(row)
    return rows


def _committee(config: ExperimentConfig, folder: Path, name: str, trained: TrainedNetwork,
               net: MLP | Network) -> tuple[MLP, ...] | None:
    """The distinct networks a committee transfer maps (network ``name`` first), or None."""
    hw = config.hardware
    if hw.strategy != "committee" or hw.committee_networks != "distinct":
        return None
    if len(trained.members) < hw.alpha - 1:
        raise ConfigError(f"{config.source}: strategy 'committee' with committee_networks 'distinct' at alpha = "
                          f"{hw.alpha} needs {hw.alpha - 1} more trained members of network {name!r}; it has "
                          f"{len(trained.members)} (set `members` >= {hw.alpha} in its [[networks]] entry).")
    members = [load_network(folder / m.file, sha256=m.sha256) for m in trained.members[:hw.alpha - 1]]
    return tuple([net, *members])  # type: ignore[list-item]


def _run_monte_carlo(config: ExperimentConfig, folder: Path, nets: Mapping[str, TrainedNetwork],
                     models: Mapping[str, MLP | Network], software: Mapping[str, float],
                     resume: bool, progress: ProgressCallback | None, t0: float,
                     prov: dict[str, Any], retry_failed: bool = False) -> ExperimentReport:
    """Every network x model: ``transfers`` trials of :class:`~xbarsim.experiments.TransferTrial` on the
    sweep store ``transfers_<network>_<model>.sqlite`` (durable, resumable, one writer), in this process.
    Interrupted (Ctrl-C, SIGTERM): the report of the transfers stored so far is written, marked
    partial, and :class:`~xbarsim.errors.RunInterrupted` is raised."""
    data = config_dataset(config)
    jobs = []  # every run is set up (and checked) before the first transfer
    for spec in config.networks:
        net = models[spec.name]
        for model in config.models:
            committee = None
            if model == "hardware":
                m: Any = config.hardware
                committee = _committee(config, folder, spec.name, nets[spec.name], net)
            elif model == "drolet-code":
                m = DroletCodePerturbation()
            else:
                m = device_perturbation(config.hardware, encoding="ternary" if net.is_ternary else "differential",
                                        disturbance="measured", perturb_biases=True)
            x, y, slices, desc = monte_carlo_setup(net, data, m, split=config.split, committee=committee)
            sweep = SweepSpec(
                name=config.name, trial="transfer", grid={"transfer": list(range(config.transfers))}, trials=1,
                seed=config.seed, fixed={"network": spec.name, "fingerprint": network_fingerprint(net),
                                         "dataset": config.dataset, "split": config.split,
                                         "model": {k: v for k, v in desc.items() if v is not None}})
            jobs.append(_TransferRun(network=spec.name, model=model, net=net, x=x, y=y, slices=slices, desc=desc,
                                     store=folder / f"transfers_{spec.name}_{model}.sqlite", spec=sweep,
                                     trial=TransferTrial(net, x, y, m, config.seed, committee)))
    total = config.transfers * len(jobs)
    received: list[int] = []
    try:
        for k, job in enumerate(jobs):
            run_sweep(job.spec, job.trial, store=job.store, scheduler="serial", resume=resume,
                      progress=_overall(progress, k * config.transfers, total), retry_failed=retry_failed)
    except SpecMismatchError as exc:
        raise _other_config(config, folder, exc) from None
    except KeyboardInterrupt:
        with _writing(received):  # partial exactly when transfers are missing from the stores
            result, done = _monte_carlo_report(config, folder, jobs, software, t0, prov, interrupted=True)
        report_md = folder / "report.md"
        what = (f"{done} of {total} transfers stored, partial report in {report_md}; rerun with --resume to "
                "continue" if done < total else f"all {done} transfers had finished; the report is complete in "
                f"{report_md}")
        raise RunInterrupted(what, done=done, total=total, written=tuple(str(p) for p in result.files)) from None
    with _writing(received):
        result, _ = _monte_carlo_report(config, folder, jobs, software, t0, prov, interrupted=False)
    if received:
        raise RunInterrupted(f"the run had finished; its report is complete in {folder / 'report.md'}",
                             done=total, total=total, written=tuple(str(p) for p in result.files),
                             signum=received[0])
    return result


def _overall(progress: ProgressCallback | None, offset: int, total: int) -> ProgressCallback | None:
    """``progress`` counting one store's transfers as part of all of them (``offset`` before it, ``total`` in
    all): each store counted 0..transfers under the same label, so one bar ran back to 0 per store and
    its ETA was of the first store's pace."""
    if progress is None:
        return None
    return lambda label, done, _n: progress(label, offset + done, total)


@dataclass(frozen=True, kw_only=True, eq=False)
class _TransferRun:
    """One network x transfer model of a Monte Carlo experiment: what its store holds and how it is read."""

    network: str
    model: str
    net: MLP | Network
    x: Any
    y: Any
    slices: tuple[tuple[str, int, int], ...]
    desc: Mapping[str, Any]
    store: Path
    spec: SweepSpec
    trial: TransferTrial


def _monte_carlo_report(config: ExperimentConfig, folder: Path, jobs: Sequence[_TransferRun],
                        software: Mapping[str, float], t0: float, prov: dict[str, Any], *,
                        interrupted: bool) -> tuple[ExperimentReport, int]:
    """Write ``results.csv``/``.json``, the histogram PNG and ``report.md`` of the transfers in the
    stores of ``jobs``; returns the report and the number of transfers stored. After an interrupt
    (``interrupted``) each row holds the transfers finished so far (``n``; failed ones left out and
    counted) and the files say partial; otherwise a failed transfer is a ConfigError."""
    results = {}
    rows = []
    done = n_failed = 0
    all_stored: list[TrialRecord] = []
    for job in jobs:
        stored: dict[int, Any] = {}
        if job.store.exists():
            with ResultStore(job.store, readonly=True) as db:
                if db.spec_dict() == job.spec.to_dict():
                    stored = {r.params["transfer"]: r for r in db.records()}
        done += len(stored)
        all_stored += stored.values()
        failed = [r for r in stored.values() if not r.ok]
        n_failed += len(failed)
        if failed and not interrupted:
            raise ConfigError(f"{job.store}: transfer {failed[0].params['transfer']} failed: {failed[0].error_type}: "
                              f"{failed[0].error} ({len(failed)} failed; once the cause is fixed, "
                              "--resume --retry-failed runs them again)")
        finished = sorted(k for k, r in stored.items() if r.ok)
        if not finished:
            continue
        outcomes = [_outcome(stored[k].results) for k in finished]
        res = monte_carlo_result(job.net, job.x, job.y, outcomes, task_slices=job.slices,
                                 threshold=config.threshold, model=job.desc)
        results[f"{job.network} ({job.model})"] = res
        s = res.summary()
        rows.append({"network": job.network, "model": job.model, "n": res.transfers,
                     "robust_fraction_mean": res.robust_fraction, "robust_fraction_std": None,
                     "mean_accuracy_mean": res.mean_accuracy, "mean_accuracy_std": None,
                     "accuracy_mean": res.mean_accuracy, "accuracy_std": res.std_accuracy,
                     "software_accuracy_mean": res.software_accuracy, "software_accuracy_std": None,
                     "mapping_error_mean": s.get("mapping_error_mean"), "mapping_error_std": None,
                     "histogram_counts": s["histogram_counts"], "file": job.store.name})
    total = config.transfers * len(jobs)
    prov = {**prov, "partial": bool(prov.get("partial")) or done < total}
    files = [write_csv(folder / "results.csv", rows, prov)]
    comparisons = compare(rows, config.references, columns=("network", "model"))
    elapsed = time.perf_counter() - t0
    doc = {"experiment": config.name, "source": config.source, "quick": config.quick,
           "quick_changes": [{"setting": k, "quick": q, "full": f} for k, q, f in config.quick_changes],
           "protocol": protocol_text(config), "kind": config.kind,
           "dataset": config.dataset, "seed": config.seed, "transfers": config.transfers,
           "threshold": config.threshold, "elapsed_s": elapsed, "n_transfers": total, "n_stored": done,
           "stores": [job.store.name for job in jobs],
           "n_failed": n_failed, "partial": prov["partial"], "software_accuracy": dict(software),
           "hardware": config.hardware.to_dict(), "rows": rows,
           "summaries": {k: v.summary() for k, v in results.items()}, "comparisons": comparisons}
    files.append(write_json(folder / "results.json", doc, prov))
    if results:
        files += stamp_pngs([plot_point_histograms(results, folder / "point_accuracy_histogram.png",
                                                   threshold=config.threshold, title=config.name)], prov)
    metrics = ["robust_fraction", "accuracy", "software_accuracy", "mapping_error"]
    notes = [f"`robust_fraction`: fraction of the test points classified correctly in at least "
             f"{config.threshold:.0%} of the transfers (Drolet et al.'s metric)."]
    if prov["partial"]:
        notes.append(f"**Partial results**: {done} of {total} transfers had finished when the run was interrupted; "
                     f"each row's statistics are over its finished transfers (`n` of {config.transfers}); "
                     "`--resume` completes it.")
    if n_failed:
        notes.append(f"**{n_failed} transfer(s) failed** and are left out; see the `transfers_*.sqlite` stores.")
    warned = _warnings_note(all_stored, "transfer", "transfers_*.sqlite")
    if warned:
        notes.append(warned)
    text = markdown(config, rows, ["network", "model"], metrics, comparisons, software, elapsed, "\n\n".join(notes),
                    prov)
    write_text(folder / "report.md", text)
    files.append(folder / "report.md")
    report = ExperimentReport(name=config.name, out=folder, rows=tuple(rows), comparisons=tuple(comparisons),
                              files=tuple(files), elapsed_s=elapsed, software=dict(software), table=text)
    return report, done


def run_sweep_config(spec: SweepSpec, *, out: str | os.PathLike[str], scheduler: Any = None,
                     workers: int | None = None, resume: bool = False, progress: ProgressCallback | None = None,
                     trials: Mapping[str, TrialFunction] = TRIALS,
                     config: str | os.PathLike[str] | None = None,
                     command: Sequence[str] | None = None, retry_failed: bool = False,
                     dashboard: bool = False) -> tuple[SweepReport, SweepAggregate]:
    """Run a plain sweep config of any trial kind in ``trials`` into ``out`` (store ``out/trials.sqlite``)
    and write its aggregate (``trials.csv``, ``summary.csv``/``.json``, ``plot_*.png``) there, with the
    provenance of the run (``config``: the TOML file it came from; ``command``: the command line,
    default ``sys.argv``).

    Every grid point is checked (:func:`~xbarsim.experiments.check_sweep`) before the folder is
    touched, and the folder's writer lock (``OUT/xbarsim.lock``) is taken before anything is written.
    Interrupted (Ctrl-C, SIGTERM): the aggregate of the stored trials is written, marked partial, and
    :class:`~xbarsim.errors.RunInterrupted` is raised."""
    fn = check_sweep(spec, trials)
    prov = provenance.collect(config=config, seed=spec.seed, ngspice=_uses_ngspice(spec.to_dict()), command=command)
    folder = _output_folder(Path(out))
    with WriterLock(refuse_symlink(folder / "xbarsim.lock"), what=f"output folder {folder}",
                    busy="another running xbarsim run"):
        for name in ("trials.csv", "summary.csv", "summary.json"):  # refused now, not after every trial ran
            refuse_symlink(folder / name)
        for png in folder.glob("plot_*.png"):  # a figure this run may or may not redraw
            refuse_symlink(png)
        store = folder / "trials.sqlite"
        received: list[int] = []
        try:
            report = run_sweep(spec, fn, store=store, scheduler=scheduler, n_workers=workers, resume=resume,
                               progress=progress, retry_failed=retry_failed, dashboard=dashboard)
        except KeyboardInterrupt:
            if not store.exists():
                raise
            with _writing(received):  # partial exactly when trials are missing from the store
                agg = aggregate_sweep(store, folder, spec=spec, provenance=prov)
            done = agg.n_ok + agg.n_failed
            what = (f"{done} of {spec.n_trials} trials stored, partial aggregate in {folder}; rerun with --resume "
                    "to continue" if done < spec.n_trials else f"all {done} trials had finished; the aggregate "
                    f"is complete in {folder}")
            raise RunInterrupted(what, done=done, total=spec.n_trials) from None
        with _writing(received):
            agg = aggregate_sweep(store, folder, spec=spec, provenance=prov)
        if received:
            raise RunInterrupted(f"the sweep had finished; its aggregate is complete in {folder}",
                                 done=spec.n_trials, total=spec.n_trials, signum=received[0])
        return report, agg


def run_example(script: str, config: str, doc: str | None = None, argv: Sequence[str] | None = None) -> Path:
    """The body of the experiment example scripts: run ``configs/<config>`` beside ``script`` (its
    ``[quick]`` variant unless ``--full``) into ``--out`` (default ``results/examples/<name>``), print
    the report (the same as ``xbarsim evaluate CONFIG [--quick]``). ``doc``: the script's docstring,
    whose first paragraph is the ``--help`` description. Exits with status 1 (``SystemExit``) when any
    trial failed, as the CLI does."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the full-size experiment instead of its quick variant")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    args = parser.parse_args(argv)
    config_obj = load_experiment(Path(script).resolve().parent / "configs" / config, quick=not args.full)
    out = args.out if args.out is not None else Path("results") / "examples" / config_obj.name
    with ConsoleProgress() as bars:
        report = run_experiment(config_obj, out=out, resume=args.resume, progress=None if args.quiet else bars)
    print(report.table)
    print(f"wrote {', '.join(p.name for p in report.files)} in {report.out} ({report.elapsed_s:.0f} s)")
    if report.n_failed:  # as `xbarsim evaluate`: the script's exit status says that trials failed
        print(f"{Path(script).name}: {report.n_failed} trial(s) failed (see trials.csv); --resume reruns the "
              "missing ones, `xbarsim evaluate CONFIG --resume --retry-failed` the failed ones", file=sys.stderr)
        raise SystemExit(1)
    return report.out


def _outcome(results: Mapping[str, Any]) -> dict[str, Any]:
    """A stored :class:`TransferTrial` result as :func:`~xbarsim.evaluation.transfer_outcome` returned it."""
    n = sum(1 for k in results if k.startswith("mapping_error_l"))
    return {"accuracy": results["accuracy"], "correct": results["correct"],
            "mapping_errors": [results[f"mapping_error_l{i}"] for i in range(n)]}
