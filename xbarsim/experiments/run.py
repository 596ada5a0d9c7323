"""Running an experiment: train (or reuse) its networks, run its sweep on the sweep engine or its
Monte Carlo transfers, and write the report.

A sweep runs the trial kind ``"evaluate"`` (:func:`~xbarsim.experiments.evaluate_trial`) through
:func:`xbarsim.sweeps.run_sweep`, so every trial is stored durably as it finishes and an
interrupted run resumes (``--resume``). A Monte Carlo experiment runs
:func:`~xbarsim.evaluation.monte_carlo` per network and transfer model, appending to JSON-lines
files. Outputs: ``networks/*.npz``, ``results.csv``, ``results.json``, ``report.md`` and PNG plots.
:func:`run_sweep_config` runs a plain sweep config (``xbarsim sweep``) of any kind of
:data:`~xbarsim.experiments.TRIALS`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim.errors import ConfigError
from xbarsim.evaluation import DroletCodePerturbation, device_perturbation, monte_carlo
from xbarsim.evaluation.hardware import augmented_weights, build_preset, chip_kernels, layer_encodings
from xbarsim.experiments.config import ExperimentConfig, load_experiment
from xbarsim.experiments.networks import cached_dataset, load_network, member_paths, train_all
from xbarsim.experiments.plots import plot_point_histograms, sweep_plots
from xbarsim.experiments.report import ExperimentReport, compare, markdown, status_line, write_csv
from xbarsim.experiments.trials import TRIALS, check_sweep
from xbarsim.networks import MLP
from xbarsim.sweeps import (
    ResultStore,
    SweepAggregate,
    SweepReport,
    SweepSpec,
    TrialFunction,
    aggregate_sweep,
    run_sweep,
    summarize,
)

__all__ = ["run_experiment", "run_sweep_config", "run_example"]

def run_experiment(
    config: ExperimentConfig,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    scheduler: Any = None,
    workers: int | None = None,
    progress: bool = True,
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
    progress : bool
        Progress bars on stderr.

    Returns
    -------
    ExperimentReport
    """
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(f"`config` must be an ExperimentConfig; got {type(config).__name__}.")
    t0 = time.perf_counter()
    folder = Path(out) if out is not None else Path("results") / config.name
    folder.mkdir(parents=True, exist_ok=True)
    nets = train_all(config, folder, resume, progress)
    data = cached_dataset(config.dataset)
    models = {name: load_network(str(p)) for name, p in nets.items()}
    x, y = data.split(config.split)
    software = {name: float(np.mean(m.predict(x) == y)) for name, m in models.items()}
    if config.kind == "sweep":
        return _run_sweep(config, folder, nets, models, software, resume, scheduler, workers, progress, t0)
    return _run_monte_carlo(config, folder, models, software, resume, progress, t0)


def _check_fits(config: ExperimentConfig, models: Mapping[str, MLP]) -> None:
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


def _run_sweep(config: ExperimentConfig, folder: Path, nets: Mapping[str, Path], models: Mapping[str, MLP],
               software: Mapping[str, float], resume: bool, scheduler: Any, workers: int | None, progress: bool,
               t0: float) -> ExperimentReport:
    _check_fits(config, models)
    fixed: dict[str, Any] = {
        "hardware": {k: v for k, v in config.hardware.to_dict().items() if v is not None},
        "networks": {k: str(v) for k, v in nets.items()},
        "dataset": config.dataset, "split": config.split,
    }
    if config.max_points is not None:
        fixed["max_points"] = config.max_points
    if config.variants:
        fixed["variants"] = {k: dict(v) for k, v in config.variants.items()}
    if config.readouts:
        fixed["readouts"] = {k: dict(v) for k, v in config.readouts.items()}
    if "network" not in config.grid:
        fixed["network"] = config.networks[0].name
    committee = member_paths(config, folder)
    if committee:
        fixed["committee"] = committee
    spec = SweepSpec(name=config.name, trial="evaluate", grid={k: list(v) for k, v in config.grid.items()},
                     fixed=fixed, trials=config.cycles, seed=config.seed)
    store = folder / "trials.sqlite"
    if store.exists() and not resume:
        with ResultStore(store, readonly=True) as db:
            if db.count() and db.spec_dict() == spec.to_dict():
                raise ConfigError(f"{store} already holds {db.count()} trial(s) of this experiment; pass --resume "
                                  "(resume=True) to run the rest, or choose another --out.")
    if scheduler is None and workers is None:
        workers = min(os.cpu_count() or 1, max(1, spec.n_trials))
    report = run_sweep(spec, TRIALS["evaluate"], store=store, scheduler=scheduler, n_workers=workers, resume=resume or store.exists(),
                       progress=progress)
    agg = aggregate_sweep(store, folder, plots=False, spec=spec)
    cols = list(config.grid)
    rows = _sweep_rows(config, store, fixed)
    metrics = ["accuracy", "mapping_error"]
    metrics += sorted({m.removesuffix("_mean") for row in rows for m in row
                       if m.startswith("accuracy_") and m.endswith("_mean") and m != "accuracy_mean"
                       and row[m] is not None})
    files = [agg.trials_csv, agg.summary_csv, agg.summary_json]
    files.append(write_csv(folder / "results.csv", rows))
    comparisons = compare(rows, config.references)
    elapsed = time.perf_counter() - t0
    doc = {"experiment": config.name, "source": config.source, "quick": config.quick, "kind": config.kind,
           "dataset": config.dataset, "seed": config.seed, "cycles": config.cycles, "elapsed_s": elapsed,
           "sweep_elapsed_s": report.elapsed_s, "n_trials": report.total, "n_failed": agg.n_failed,
           "software_accuracy": dict(software), "rows": rows, "comparisons": comparisons}
    (folder / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    files.append(folder / "results.json")
    files += sweep_plots(config, folder, rows, software)
    failed = ""
    if agg.n_failed:
        failed = (f"**{agg.n_failed} trial(s) failed**; see `error_type` / `error` in `{agg.trials_csv.name}`.")
    shown = [c for c in cols]
    text = markdown(config, rows, shown if shown else ["network"], metrics, comparisons, software, elapsed, failed)
    (folder / "report.md").write_text(text)
    files.append(folder / "report.md")
    return ExperimentReport(name=config.name, out=folder, rows=tuple(rows), comparisons=tuple(comparisons),
                            files=tuple(files), elapsed_s=elapsed, software=dict(software), table=text)


def _sweep_rows(config: ExperimentConfig, store: Path, fixed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per grid point (in the config's grid order): its values, ``n`` (successful trials),
    ``n_failed`` and mean / std (ddof = 0) of every numeric metric, from
    :func:`xbarsim.sweeps.summarize` (trials matched to points by their own parameter values)."""
    with ResultStore(store, readonly=True) as db:
        records = db.records()
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
        for m in ("accuracy", "mapping_error"):
            row.setdefault(f"{m}_mean", None)
            row.setdefault(f"{m}_std", None)
        if "errors" in summary:
            row["errors"] = summary["errors"]
        rows.append(row)
    return rows


def _run_monte_carlo(config: ExperimentConfig, folder: Path, models: Mapping[str, MLP], software: Mapping[str, float],
                     resume: bool, progress: bool, t0: float) -> ExperimentReport:
    data = cached_dataset(config.dataset)
    results = {}
    rows = []
    for spec in config.networks:
        net = models[spec.name]
        for model in config.models:
            if model == "hardware":
                m: Any = config.hardware
            elif model == "drolet-code":
                m = DroletCodePerturbation()
            else:
                m = device_perturbation(config.hardware, encoding="ternary" if net.is_ternary else "differential",
                                        disturbance="measured", perturb_biases=True)
            path = folder / f"transfers_{spec.name}_{model}.jsonl"
            if progress:
                status_line(f"{spec.name} / {model}: {config.transfers} transfers -> {path}")
            res = monte_carlo(net, data, m, transfers=config.transfers, seed=config.seed, out=path,
                              resume=resume, split=config.split, threshold=config.threshold, progress=progress)
            results[f"{spec.name} ({model})"] = res
            s = res.summary()
            row = {"network": spec.name, "model": model, "n": res.transfers,
                   "robust_fraction_mean": res.robust_fraction, "robust_fraction_std": None,
                   "mean_accuracy_mean": res.mean_accuracy, "mean_accuracy_std": None,
                   "accuracy_mean": res.mean_accuracy, "accuracy_std": res.std_accuracy,
                   "software_accuracy_mean": res.software_accuracy, "software_accuracy_std": None,
                   "mapping_error_mean": s.get("mapping_error_mean"), "mapping_error_std": None,
                   "histogram_counts": s["histogram_counts"], "file": path.name}
            rows.append(row)
    files = [write_csv(folder / "results.csv", rows)]
    comparisons = compare(rows, config.references)
    elapsed = time.perf_counter() - t0
    doc = {"experiment": config.name, "source": config.source, "quick": config.quick, "kind": config.kind,
           "dataset": config.dataset, "seed": config.seed, "transfers": config.transfers,
           "threshold": config.threshold, "elapsed_s": elapsed, "software_accuracy": dict(software),
           "hardware": config.hardware.to_dict(), "rows": rows,
           "summaries": {k: v.summary() for k, v in results.items()}, "comparisons": comparisons}
    (folder / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    files.append(folder / "results.json")
    files.append(plot_point_histograms(results, folder / "point_accuracy_histogram.png", threshold=config.threshold,
                                       title=config.name))
    metrics = ["robust_fraction", "accuracy", "software_accuracy", "mapping_error"]
    text = markdown(config, rows, ["network", "model"], metrics, comparisons, software, elapsed,
                     f"`robust_fraction`: fraction of the test points classified correctly in at least "
                     f"{config.threshold:.0%} of the transfers (Drolet et al.'s metric).")
    (folder / "report.md").write_text(text)
    files.append(folder / "report.md")
    return ExperimentReport(name=config.name, out=folder, rows=tuple(rows), comparisons=tuple(comparisons),
                            files=tuple(files), elapsed_s=elapsed, software=dict(software), table=text)


def run_sweep_config(spec: SweepSpec, *, out: str | os.PathLike[str], scheduler: Any = None,
                     workers: int | None = None, resume: bool = False, progress: bool = True,
                     trials: Mapping[str, TrialFunction] = TRIALS) -> tuple[SweepReport, SweepAggregate]:
    """Run a plain sweep config of any trial kind in ``trials`` into ``out`` (store ``out/trials.sqlite``)
    and write its aggregate (``trials.csv``, ``summary.csv``/``.json``, ``plot_*.png``) there."""
    fn = check_sweep(spec, trials)
    store = Path(out) / "trials.sqlite"
    report = run_sweep(spec, fn, store=store, scheduler=scheduler, n_workers=workers, resume=resume,
                       progress=progress)
    return report, aggregate_sweep(store, out, spec=spec)


def run_example(script: str, config: str, doc: str | None = None, argv: Sequence[str] | None = None) -> Path:
    """The body of the experiment example scripts: run ``configs/<config>`` beside ``script`` (its
    ``[quick]`` variant unless ``--full``) into ``--out`` (default ``results/examples/<name>``), print
    the report (the same as ``xbarsim evaluate CONFIG [--quick]``). ``doc``: the script's docstring,
    whose first paragraph is the ``--help`` description."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the full-size experiment instead of its quick variant")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    args = parser.parse_args(argv)
    config_obj = load_experiment(Path(script).resolve().parent / "configs" / config, quick=not args.full)
    out = args.out if args.out is not None else Path("results") / "examples" / config_obj.name
    report = run_experiment(config_obj, out=out, resume=args.resume, progress=not args.quiet)
    print(report.table)
    print(f"wrote {', '.join(p.name for p in report.files)} in {report.out} ({report.elapsed_s:.0f} s)")
    return report.out
