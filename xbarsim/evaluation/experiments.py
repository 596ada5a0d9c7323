"""Experiments described by TOML configs: networks trained by the recipes, hardware, Monte Carlo
transfers or sweeps on the Dask engine, and a report with the papers' numbers beside ours.

An experiment config (:class:`ExperimentConfig`, :func:`load_experiment`) is one TOML file::

    name = "exp2-lea-mnist"          # output folder results/<name>/
    kind = "sweep"                   # "sweep" (grid x cycles on Dask) or "monte-carlo" (N transfers)
    dataset = "mnist5k"              # xbarsim.networks.DATASETS
    seed = 0
    cycles = 10                      # sweep: trials per grid point (new chip, mapping, noise each)

    [[networks]]                     # trained by xbarsim.networks recipes, cached in OUT/networks/
    name = "ternary"
    recipe = "ternary"

    [hardware]                       # Hardware fields (xbarsim.evaluation.Hardware)
    strict = false

    [variants]                       # named sets of Hardware overrides, swept by grid.variant
    lea = { strategy = "lea" }

    [grid]                           # Hardware fields, "variant", "network", "alpha_beta"
    fault_rate = [0.0, 0.2]
    alpha = [1, 3]
    variant = ["lea"]

    [[reference]]                    # the paper's numbers, printed beside ours
    label = "LEA alpha = 6, 20 % faults (paper Fig. 4b)"
    metric = "accuracy"
    point = { variant = "lea", alpha = 6, fault_rate = 0.2 }
    value = 0.896

    [quick]                          # overrides for --quick (same keys; tables merge)
    cycles = 1

Unknown keys anywhere are :class:`~xbarsim.errors.ConfigError` naming the key and the file.

A sweep runs the trial kind ``"evaluate"`` (:func:`evaluate_trial`, registered in
:data:`~xbarsim.evaluation.TRIALS` when this module is imported) through
:func:`~xbarsim.evaluation.run_sweep`, so every trial is stored durably as it finishes and an
interrupted run resumes (``--resume``). A Monte Carlo experiment runs
:func:`~xbarsim.evaluation.monte_carlo` per network and transfer model, appending to JSON-lines
files. Outputs: ``networks/*.npz``, ``results.csv``, ``results.json``, ``report.md`` and PNG plots.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import math
import os
import re
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from xbarsim._validation import short_repr
from xbarsim.errors import ConfigError
from xbarsim.evaluation.evaluate import READOUT_FIELDS, evaluate, monte_carlo
from xbarsim.evaluation.hardware import (
    HARDWARE_FIELDS,
    Hardware,
    augmented_weights,
    build_preset,
    chip_kernels,
    layer_encodings,
)
from xbarsim.evaluation.perturbation import device_perturbation
from xbarsim.evaluation.sweep import SweepSpec, run_sweep
from xbarsim.evaluation.sweep import _int_field as _int
from xbarsim.evaluation.sweep_report import aggregate_sweep
from xbarsim.evaluation.trials import TRIAL_PARAMETERS, TRIALS
from xbarsim.networks import (
    DATASETS,
    MLP,
    TERNARY_FINETUNE_CONFIG,
    TERNARY_PRETRAIN_CONFIG,
    YINYANG_CONFIG,
    MOONS_CONFIG,
    load_dataset,
    ternarize,
    train_moons,
    train_ternary,
    train_yinyang_ewc,
)

__all__ = [
    "NetworkSpec",
    "Reference",
    "ExperimentConfig",
    "ExperimentReport",
    "load_experiment",
    "experiment_from_dict",
    "run_experiment",
    "train_network",
    "evaluate_trial",
    "EVALUATE_TRIAL_PARAMETERS",
    "RECIPES",
]

#: Network recipes a ``[[networks]]`` entry may name.
RECIPES = ("moons", "ternary", "yinyang-ewc", "file")
_KINDS = ("sweep", "monte-carlo")
_MODELS = ("hardware", "statistical")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_TOP_KEYS = ("name", "kind", "description", "dataset", "seed", "networks", "hardware", "variants", "grid",
             "readouts", "cycles", "transfers", "threshold", "models", "split", "max_points", "reference", "quick")
_NET_KEYS = ("name", "recipe", "seed", "hidden", "training", "l2", "epochs", "ewc_strength", "ternarize",
             "quantization", "restore_best", "aware_fault_rate", "aware_disturbance", "aware_read_noise", "file",
             "ternary_delta")
_REF_KEYS = ("label", "metric", "point", "value", "over", "at", "values")
#: Grid keys that are not Hardware fields.
_GRID_EXTRA = ("network", "variant", "alpha_beta")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise ConfigError(f"{where} must be 1-100 letters, digits, '.', '_' or '-' starting with a letter or digit; "
                          f"got {short_repr(value)}.")
    return value


def _unknown(data: Mapping[str, Any], allowed: Sequence[str], source: str, table: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {table} must be a table; got {type(data).__name__}.")
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{source}: unknown key {key!r} in {table}; valid keys: {', '.join(allowed)}.")


# ----------------------------------------------------------------------------- networks
@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    """A network of an experiment, trained by a recipe of :mod:`xbarsim.networks.recipes`.

    Attributes
    ----------
    name : str
        Identifier (file ``networks/<name>.npz``; the ``network`` grid values).
    recipe : {"moons", "ternary", "yinyang-ewc", "file"}
        ``"moons"``: :func:`~xbarsim.networks.train_moons` (2-8-1 sigmoid); ``"ternary"``:
        :func:`~xbarsim.networks.train_ternary` (n-hidden-classes ReLU, no biases, ternary);
        ``"yinyang-ewc"``: :func:`~xbarsim.networks.train_yinyang_ewc` (4-12-6-3 tanh, EWC);
        ``"file"``: an ``.npz`` written by :meth:`MLP.to_dict` (``file``).
    seed : int
        Training seed.
    hidden : int or None
        Ternary recipe: hidden units (``None``: 150 for inputs > 100, else 64).
    training : {"regular", "hardware-aware"}
        Hardware-aware: every forward pass perturbed by the device model of the experiment's
        hardware (:func:`~xbarsim.evaluation.device_perturbation`; moons: differential pairs,
        ternary: G_ON/G_OFF pairs in the fine-tuning stage).
    l2 : float
        L2 regularization (Drolet et al. combine it with hardware-aware training).
    epochs : int or None
        Override of the recipe's epochs (moons; ternary fine-tuning; Yin-Yang per task).
    ewc_strength : float
        Yin-Yang: EWC lambda.
    ternarize : bool
        Ternarize after training (Yin-Yang).
    quantization : {"none", "ternary"}
        Yin-Yang: train through the ternarization (straight-through estimator) on both tasks, so
        the network is ternary for the LEA hardware runs (post-hoc ``ternarize`` loses ~30 points
        on this small network).
    restore_best : bool
        Yin-Yang: keep each task's epoch of best validation accuracy.
    aware_fault_rate : float or None
        Hardware-aware: stuck fraction of the perturbation (``None``: the hardware's).
    aware_disturbance : {"measured", "calibrated", "none"}
        Hardware-aware: half-select disturbance statistics.
    aware_read_noise : bool
        Hardware-aware: add one read's noise too.
    file : str or None
        ``recipe = "file"``: path of the ``.npz`` (relative to the config file).
    ternary_delta : float or None
        Ternary threshold factor (``threshold = delta * mean|w|``, :func:`~xbarsim.networks.ternarize_matrix`)
        of the ternary recipe and of Yin-Yang's ternarization; ``None``: 0.7 (Ternary Weight
        Networks). It sets the weight density: on MNIST-5k 0.7 leaves 59 % of the weights non-zero,
        0.3 leaves 82 %, which is what the LEA paper's mapping errors imply (see
        ``examples/configs/exp2_lea_mnist.toml``).
    """

    name: str
    recipe: str
    seed: int = 0
    hidden: int | None = None
    training: Literal["regular", "hardware-aware"] = "regular"
    l2: float = 0.0
    epochs: int | None = None
    ewc_strength: float = 4.0
    ternarize: bool = False
    quantization: str = "none"
    restore_best: bool = False
    aware_fault_rate: float | None = None
    aware_disturbance: str = "measured"
    aware_read_noise: bool = False
    file: str | None = None
    ternary_delta: float | None = None

    def __post_init__(self) -> None:
        _name(self.name, "`networks.name`")
        if self.ternary_delta is not None and (isinstance(self.ternary_delta, bool) or not isinstance(
                self.ternary_delta, (int, float)) or not 0 <= self.ternary_delta < 100):
            raise ConfigError(f"`ternary_delta` must be a threshold factor in [0, 100) or unset; got "
                              f"{short_repr(self.ternary_delta)}.")
        if self.ternary_delta is not None and self.recipe not in ("ternary", "yinyang-ewc"):
            raise ConfigError(f"`ternary_delta` applies to recipes 'ternary' and 'yinyang-ewc'; got recipe "
                              f"{self.recipe!r}.")
        if self.recipe not in RECIPES:
            raise ConfigError(f"`recipe` must be one of {', '.join(map(repr, RECIPES))}; got {short_repr(self.recipe)}.")
        _int(self.seed, "seed", 0, 2**32 - 1)
        if self.hidden is not None:
            _int(self.hidden, "hidden", 1, 100_000)
        if self.training not in ("regular", "hardware-aware"):
            raise ConfigError(f"`training` must be 'regular' or 'hardware-aware'; got {short_repr(self.training)}.")
        if isinstance(self.l2, bool) or not isinstance(self.l2, (int, float)) or not 0 <= self.l2 < math.inf:
            raise ConfigError(f"`l2` must be a non-negative number; got {short_repr(self.l2)}.")
        if self.epochs is not None:
            _int(self.epochs, "epochs", 1, 100_000)
        if isinstance(self.ewc_strength, bool) or not isinstance(self.ewc_strength, (int, float)) or \
                not 0 <= self.ewc_strength < math.inf:
            raise ConfigError(f"`ewc_strength` must be a non-negative number; got {short_repr(self.ewc_strength)}.")
        if not all(isinstance(getattr(self, k), bool) for k in ("ternarize", "aware_read_noise", "restore_best")):
            raise ConfigError("`ternarize`, `restore_best` and `aware_read_noise` must be true or false.")
        if self.quantization not in ("none", "ternary"):
            raise ConfigError(f"`quantization` must be 'none' or 'ternary'; got {short_repr(self.quantization)}.")
        if (self.quantization != "none" or self.restore_best) and self.recipe != "yinyang-ewc":
            raise ConfigError("`quantization` and `restore_best` apply to recipe 'yinyang-ewc' (the ternary recipe "
                              "always fine-tunes through the ternarization).")
        if self.aware_fault_rate is not None and (isinstance(self.aware_fault_rate, bool) or not isinstance(
                self.aware_fault_rate, (int, float)) or not 0 <= self.aware_fault_rate <= 1):
            raise ConfigError(f"`aware_fault_rate` must be a fraction in [0, 1]; got {short_repr(self.aware_fault_rate)}.")
        if self.aware_disturbance not in ("measured", "calibrated", "none"):
            raise ConfigError(f"`aware_disturbance` must be 'measured', 'calibrated' or 'none'; got "
                              f"{short_repr(self.aware_disturbance)}.")
        if self.recipe == "file" and not isinstance(self.file, str):
            raise ConfigError("recipe 'file' needs `file`, the path of an .npz written by MLP.to_dict.")
        if self.training == "hardware-aware" and self.recipe not in ("moons", "ternary"):
            raise ConfigError(f"`training` 'hardware-aware' is available for recipes 'moons' and 'ternary'; got "
                              f"recipe {self.recipe!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _NET_KEYS}


def train_network(spec: NetworkSpec, dataset: Any, hardware: Hardware, *, base_dir: Path | None = None) -> MLP:
    """Train (or load) the network of ``spec`` on ``dataset``; hardware-aware training draws its
    perturbation from ``hardware``'s device model."""
    perturbation = None
    if spec.training == "hardware-aware":
        perturbation = device_perturbation(
            hardware, encoding="ternary" if spec.recipe == "ternary" else "differential",
            disturbance=None if spec.aware_disturbance == "none" else spec.aware_disturbance,  # type: ignore[arg-type]
            fault_rate=spec.aware_fault_rate, read_noise=spec.aware_read_noise)
    if spec.recipe == "moons":
        cfg = replace(MOONS_CONFIG, l2=float(spec.l2), epochs=spec.epochs or MOONS_CONFIG.epochs)
        return train_moons(dataset, perturbation=perturbation, config=cfg, seed=spec.seed).network
    if spec.recipe == "ternary":
        hidden = spec.hidden if spec.hidden is not None else (150 if dataset.n_features > 100 else 64)
        pre = replace(TERNARY_PRETRAIN_CONFIG, l2=float(spec.l2))
        fine = replace(TERNARY_FINETUNE_CONFIG, l2=float(spec.l2), epochs=spec.epochs or TERNARY_FINETUNE_CONFIG.epochs)
        if spec.ternary_delta is not None:
            fine = replace(fine, ternary_delta=float(spec.ternary_delta))
        return train_ternary(dataset, hidden=hidden, pretrain=pre, finetune=fine, perturbation=perturbation,
                             seed=spec.seed).network
    if spec.recipe == "yinyang-ewc":
        cfg = replace(YINYANG_CONFIG, l2=float(spec.l2), epochs=spec.epochs or YINYANG_CONFIG.epochs,
                      quantization=spec.quantization, restore_best=spec.restore_best)
        delta = {} if spec.ternary_delta is None else {"delta": float(spec.ternary_delta)}
        if delta:
            cfg = replace(cfg, ternary_delta=delta["delta"])
        net = train_yinyang_ewc(dataset, ewc_strength=float(spec.ewc_strength), config=cfg, seed=spec.seed).network
        return ternarize(net, **delta) if spec.ternarize else net
    if spec.recipe == "file":
        path = Path(spec.file)  # type: ignore[arg-type]
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return _load_network(str(path))
    raise ConfigError(f"unknown recipe {spec.recipe!r}.")  # pragma: no cover


def _load_network(path: str) -> MLP:
    try:
        with np.load(path, allow_pickle=False) as data:
            net = MLP.from_dict({k: data[k] for k in data.files})
    except OSError as exc:
        raise ConfigError(f"cannot read network file {path}: {exc}") from exc
    return net


# ----------------------------------------------------------------------------- references
@dataclass(frozen=True, kw_only=True)
class Reference:
    """A published number to print beside ours.

    Attributes
    ----------
    label : str
        What it is (paper, figure).
    metric : str
        Our metric it compares with: ``accuracy``, ``mapping_error`` (percent), ``robust_fraction``,
        ``mean_accuracy``, ``accuracy_<task>``, ``software_accuracy``...
    point : mapping
        Grid values (sweeps) or ``network`` / ``model`` (Monte Carlo) selecting our result; a
        point that matches several of ours compares with the first.
    value : float
        The published value, in the unit of our metric (accuracies as fractions 0 to 1).
    """

    label: str
    metric: str
    point: Mapping[str, Any]
    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "point", MappingProxyType(dict(self.point)))


def _references(data: Any, source: str) -> tuple[Reference, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"{source}: `reference` must be an array of tables ([[reference]]).")
    out = []
    for k, r in enumerate(data):
        _unknown(r, _REF_KEYS, source, f"[[reference]] #{k + 1}")
        label, metric, point = r.get("label", ""), r.get("metric", "accuracy"), r.get("point", {})
        if not isinstance(label, str) or not isinstance(metric, str) or not isinstance(point, Mapping):
            raise ConfigError(f"{source}: [[reference]] #{k + 1} needs a string `label`, a string `metric` and a "
                              "table `point`.")
        if "value" in r:
            pairs = [(None, r["value"])]
        elif {"over", "at", "values"} <= set(r):
            at, values = r["at"], r["values"]
            if not isinstance(at, list) or not isinstance(values, list) or len(at) != len(values):
                raise ConfigError(f"{source}: [[reference]] #{k + 1}: `at` and `values` must be lists of equal length.")
            pairs = list(zip(at, values))
        else:
            raise ConfigError(f"{source}: [[reference]] #{k + 1} needs `value`, or `over`, `at` and `values`.")
        for at_v, v in pairs:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{source}: [[reference]] #{k + 1}: values must be numbers; got {short_repr(v)}.")
            pt = dict(point)
            if at_v is not None:
                pt[r["over"]] = at_v
            out.append(Reference(label=label, metric=metric, point=pt, value=float(v)))
    return tuple(out)


# ----------------------------------------------------------------------------- the config
@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """One experiment (see the module docstring for the TOML layout).

    Attributes
    ----------
    name : str
        Identifier; default output folder ``results/<name>``.
    kind : {"sweep", "monte-carlo"}
        A grid of hardware settings x ``cycles`` trials on the sweep engine, or ``transfers``
        Monte Carlo transfers per network and model.
    dataset : str
        A key of :data:`xbarsim.networks.DATASETS`.
    networks : tuple of NetworkSpec
        At least one.
    hardware : Hardware
        The base hardware (grid values and variants override fields).
    seed : int
        Seeds every trial / transfer (and nothing else: training has its own seeds).
    description : str
        Free text for the report.
    variants : mapping of str to mapping
        Named sets of Hardware overrides (the values of ``grid.variant``).
    grid : mapping of str to tuple
        Sweep dimensions: Hardware fields, ``variant``, ``network``, ``alpha_beta`` ([alpha, beta]
        pairs).
    readouts : mapping of str to mapping
        Sweep: extra read-outs of every transfer (name -> changes of the read-out fields:
        backend, device, wires, converters), reported as ``accuracy_<name>``: a paired
        comparison on the same chip and conductances.
    cycles : int
        Sweep: trials per grid point.
    transfers : int
        Monte Carlo: transfers per network and model.
    threshold : float
        Monte Carlo: the robust-fraction threshold (0.95).
    models : tuple of str
        Monte Carlo: ``"hardware"`` (full transfers through the mapping layer) and/or
        ``"statistical"`` (draws of the device model on the weights and biases, as Drolet et al.).
    split : str
        Evaluated split (``"test"``).
    max_points : int or None
        Evaluate only the first points of the split (circuit backends).
    references : tuple of Reference
        Published numbers for the report.
    source : str
        The config file (for messages).
    quick : bool
        Whether the ``[quick]`` overrides were applied.
    """

    name: str
    kind: str
    dataset: str
    networks: tuple[NetworkSpec, ...]
    hardware: Hardware = field(default_factory=Hardware)
    seed: int = 0
    description: str = ""
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    readouts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cycles: int = 1
    transfers: int = 1000
    threshold: float = 0.95
    models: tuple[str, ...] = ("hardware",)
    split: str = "test"
    max_points: int | None = None
    references: tuple[Reference, ...] = ()
    source: str = "<dict>"
    quick: bool = False

    def __post_init__(self) -> None:
        s = self.source
        try:
            _name(self.name, "`name`")
            if self.kind not in _KINDS:
                raise ConfigError(f"`kind` must be one of {', '.join(map(repr, _KINDS))}; got {short_repr(self.kind)}.")
            if self.dataset not in DATASETS:
                raise ConfigError(f"`dataset` must be one of {', '.join(map(repr, DATASETS))}; got "
                                  f"{short_repr(self.dataset)}.")
            if not self.networks:
                raise ConfigError("`networks` must list at least one network ([[networks]]).")
            names = [n.name for n in self.networks]
            if len(set(names)) != len(names):
                raise ConfigError(f"`networks` names must be distinct; got {names}.")
            _int(self.seed, "seed", 0, 2**63 - 1)
            _int(self.cycles, "cycles", 1, 100_000)
            _int(self.transfers, "transfers", 1, 10_000_000)
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or \
                    not 0 < self.threshold <= 1:
                raise ConfigError(f"`threshold` must be a fraction in (0, 1]; got {short_repr(self.threshold)}.")
            models = tuple(self.models)
            if not models or any(m not in _MODELS for m in models) or len(set(models)) != len(models):
                raise ConfigError(f"`models` must be a non-empty list of distinct values among {_MODELS}; got "
                                  f"{short_repr(self.models)}.")
            object.__setattr__(self, "models", models)
            if self.split not in ("train", "val", "test"):
                raise ConfigError(f"`split` must be 'train', 'val' or 'test'; got {short_repr(self.split)}.")
            if self.max_points is not None:
                _int(self.max_points, "max_points", 1, 10_000_000)
            if not isinstance(self.description, str):
                raise ConfigError("`description` must be a string.")
            variants: dict[str, dict[str, Any]] = {}
            for vname, over in dict(self.variants).items():
                _name(vname, "a variant name")
                if not isinstance(over, Mapping):
                    raise ConfigError(f"[variants] {vname!r} must be a table of Hardware fields.")
                Hardware.from_dict({**self.hardware.to_dict(), **over}, source=s, table=f"variants.{vname}")
                variants[vname] = dict(over)
            object.__setattr__(self, "variants", MappingProxyType(variants))
            readouts: dict[str, dict[str, Any]] = {}
            for rname, ch in dict(self.readouts).items():
                _name(rname, "a read-out name")
                if not isinstance(ch, Mapping):
                    raise ConfigError(f"[readouts] {rname!r} must be a table of read-out fields.")
                for key in ch:
                    if key not in READOUT_FIELDS:
                        raise ConfigError(f"unknown key {key!r} in [readouts.{rname}]; valid keys: "
                                          f"{', '.join(READOUT_FIELDS)}.")
                Hardware.from_dict({**self.hardware.to_dict(), **ch}, source=s, table=f"readouts.{rname}")
                readouts[rname] = dict(ch)
            object.__setattr__(self, "readouts", MappingProxyType(readouts))
            grid: dict[str, tuple[Any, ...]] = {}
            for key, values in dict(self.grid).items():
                if key not in HARDWARE_FIELDS and key not in _GRID_EXTRA:
                    raise ConfigError(f"unknown key {key!r} in [grid]; valid keys: the Hardware fields "
                                      f"({', '.join(HARDWARE_FIELDS)}) and {', '.join(_GRID_EXTRA)}.")
                if not isinstance(values, (list, tuple)) or not values:
                    raise ConfigError(f"`grid.{key}` must be a non-empty list of values; got {short_repr(values)}.")
                if key == "variant":
                    for v in values:
                        if v not in variants:
                            raise ConfigError(f"`grid.variant` value {v!r} is not defined in [variants] "
                                              f"({', '.join(variants) or 'none defined'}).")
                if key == "network":
                    for v in values:
                        if v not in names:
                            raise ConfigError(f"`grid.network` value {v!r} is not a [[networks]] name ({names}).")
                if key == "alpha_beta":
                    for v in values:
                        if not (isinstance(v, (list, tuple)) and len(v) == 2):
                            raise ConfigError(f"`grid.alpha_beta` values must be [alpha, beta] pairs; got {v!r}.")
                grid[key] = tuple(list(v) if isinstance(v, tuple) else v for v in values)
            if self.kind == "sweep" and len(self.networks) > 1 and "network" not in grid:
                grid["network"] = tuple(names)
            object.__setattr__(self, "grid", MappingProxyType(grid))
            if self.kind == "sweep":
                n_points = math.prod(len(v) for v in grid.values())
                if n_points * self.cycles > 1_000_000:
                    raise ConfigError(f"the sweep has {n_points} grid points x {self.cycles} cycles, more than 1e6 "
                                      "trials.")
                for point in self.points():
                    self.hardware_at(point)
            if self.kind == "monte-carlo" and grid:
                raise ConfigError("[grid] belongs to kind 'sweep'; a Monte Carlo experiment evaluates each network "
                                  "on the one [hardware].")
        except ConfigError as exc:
            if str(exc).startswith(f"{s}:"):
                raise
            raise ConfigError(f"{s}: {exc}") from None

    # ------------------------------------------------------------------ grid
    def points(self) -> list[dict[str, Any]]:
        """The grid points (Cartesian product, last key fastest)."""
        keys = list(self.grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    def hardware_at(self, point: Mapping[str, Any]) -> Hardware:
        """The Hardware of one grid point: base, then the variant's overrides, then the grid's fields."""
        return _hardware_for(self.hardware.to_dict(), dict(self.variants), point,
                             where=", ".join(f"{k}={v!r}" for k, v in point.items()))

    def network(self, name: str) -> NetworkSpec:
        for n in self.networks:
            if n.name == name:
                return n
        raise ConfigError(f"no network named {name!r} in this experiment.")


def _hardware_for(base: Mapping[str, Any], variants: Mapping[str, Mapping[str, Any]], point: Mapping[str, Any],
                  *, where: str = "") -> Hardware:
    data = dict(base)
    if "variant" in point:
        v = point["variant"]
        if v not in variants:
            raise ConfigError(f"variant {v!r} is not defined; defined: {', '.join(variants) or 'none'}.")
        data.update(variants[v])
    for key, value in point.items():
        if key in HARDWARE_FIELDS:
            data[key] = value
    if "alpha_beta" in point:
        ab = point["alpha_beta"]
        data["alpha"], data["beta"] = ab[0], ab[1]
    try:
        return Hardware.from_dict(data)
    except ConfigError as exc:
        text = str(exc).removeprefix("<dict>: ")
        raise ConfigError(f"grid point {where}: {text}" if where else text) from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k != "grid":
            out[k] = _merge(out[k], v)
        elif isinstance(v, Mapping) and k == "grid" and isinstance(out.get(k), Mapping):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def experiment_from_dict(data: Mapping[str, Any], *, source: str = "<dict>", quick: bool = False) -> ExperimentConfig:
    """Build an :class:`ExperimentConfig` from a dict with the TOML layout; ``quick`` applies the
    ``[quick]`` overrides (and appends ``-quick`` to the name). Errors name the key and ``source``."""
    _unknown(data, _TOP_KEYS, source, "the experiment config")
    raw = dict(data)
    q = raw.pop("quick", None)
    if q is not None:
        _unknown(q, [k for k in _TOP_KEYS if k != "quick"], source, "[quick]")
    if quick:
        if q is None:
            raise ConfigError(f"{source}: --quick needs a [quick] table of overrides in the config.")
        raw = _merge(raw, q)
        raw["name"] = f"{raw.get('name', 'experiment')}-quick"
    for key in ("name", "kind", "dataset", "networks"):
        if key not in raw:
            raise ConfigError(f"{source}: missing key {key!r} in the experiment config.")
    nets_raw = raw.pop("networks")
    if not isinstance(nets_raw, list):
        raise ConfigError(f"{source}: `networks` must be an array of tables ([[networks]]).")
    nets = []
    for k, n in enumerate(nets_raw):
        _unknown(n, _NET_KEYS, source, f"[[networks]] #{k + 1}")
        try:
            nets.append(NetworkSpec(**n))
        except ConfigError as exc:
            raise ConfigError(f"{source}: [[networks]] #{k + 1}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{source}: [[networks]] #{k + 1}: {exc}") from None
    hw = Hardware.from_dict(raw.pop("hardware", {}), source=source)
    refs = _references(raw.pop("reference", None), source)
    for key in ("variants", "grid", "readouts"):
        if key in raw and not isinstance(raw[key], Mapping):
            raise ConfigError(f"{source}: [{key}] must be a table.")
    if "models" in raw and not isinstance(raw["models"], list):
        raise ConfigError(f"{source}: `models` must be a list; got {short_repr(raw['models'])}.")
    fields: dict[str, Any] = {k: (tuple(v) if k == "models" else v) for k, v in raw.items()}
    return ExperimentConfig(networks=tuple(nets), hardware=hw, references=refs, source=source, quick=quick,
                            **fields)


def load_experiment(path: str | os.PathLike[str], *, quick: bool = False) -> ExperimentConfig:
    """Read an experiment config (TOML). ``quick`` applies its ``[quick]`` overrides.

    Raises
    ------
    ConfigError
        Unreadable or invalid TOML, an unknown or missing key (the message names the key and the
        file), an invalid value or an impossible grid point.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"`path` must be the path of a TOML file; got {short_repr(path)}.")
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment config {p}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    return experiment_from_dict(data, source=str(p), quick=quick)


# ----------------------------------------------------------------------------- the "evaluate" trial
@functools.lru_cache(maxsize=8)
def _dataset(name: str) -> Any:
    return load_dataset(name)


@functools.lru_cache(maxsize=16)
def _network_cached(path: str, mtime: float, size: int) -> MLP:
    return _load_network(path)


def _network_file(path: str) -> MLP:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"cannot read network file {path}: {exc}") from exc
    return _network_cached(path, st.st_mtime, st.st_size)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


#: Parameters the ``"evaluate"`` trial accepts (checked by :class:`~xbarsim.evaluation.SweepSpec`).
EVALUATE_TRIAL_PARAMETERS = frozenset(HARDWARE_FIELDS) | frozenset(
    {"hardware", "networks", "network", "dataset", "split", "max_points", "variant", "variants", "alpha_beta",
     "record_points", "readouts"})


def evaluate_trial(params: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """The sweep trial kind ``"evaluate"``: one transfer of a network onto hardware, its accuracy.

    Parameters (JSON values)
    ------------------------
    networks : table
        Network name -> path of its ``.npz`` (:meth:`MLP.to_dict`).
    network : str
        Which one (default: the only one).
    dataset : str
        A key of :data:`xbarsim.networks.DATASETS`.
    hardware : table
        Base :class:`Hardware` fields; ``variants`` (table of name -> overrides) with ``variant``,
        any Hardware field given directly, and ``alpha_beta`` ([alpha, beta]) override it, in that
        order.
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
        ``inference_time_s``.
    """
    unknown = sorted(set(params) - EVALUATE_TRIAL_PARAMETERS)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for trial kind 'evaluate'.")
    nets = params.get("networks")
    if not isinstance(nets, Mapping) or not nets:
        raise ConfigError("trial parameter `networks` must be a table of network name -> .npz path.")
    name = params.get("network")
    if name is None:
        if len(nets) != 1:
            raise ConfigError(f"trial parameter `network` must name one of {sorted(nets)}.")
        name = next(iter(nets))
    if name not in nets:
        raise ConfigError(f"trial parameter `network` {name!r} is not in `networks` ({sorted(nets)}).")
    net = _network_file(str(nets[name]))
    data = _dataset(str(params.get("dataset")))
    point = {k: v for k, v in params.items() if k in HARDWARE_FIELDS or k in ("variant", "alpha_beta")}
    hw = _hardware_for(params.get("hardware", {}), params.get("variants", {}), point)
    res = evaluate(net, data, hw, rng=rng, split=str(params.get("split", "test")),
                   max_points=params.get("max_points"), readouts=params.get("readouts"))
    out: dict[str, Any] = {
        "accuracy": res.hardware_accuracy, "software_accuracy": res.software_accuracy,
        "mapping_error": res.mapping_error, "n_devices": res.n_devices, "n_kernels": res.n_kernels,
        "map_time_s": res.timings["map"], "inference_time_s": res.timings["inference"],
    }
    for i, e in enumerate(res.mapping_errors):
        out[f"mapping_error_l{i}"] = e
    for name, acc in res.readouts.items():
        out[f"accuracy_{_safe(name)}"] = acc
        out[f"inference_{_safe(name)}_time_s"] = res.timings[f"inference_{name}"]
    for t in res.tasks:
        out[f"accuracy_{_safe(t.name)}"] = t.hardware
        out[f"software_accuracy_{_safe(t.name)}"] = t.software
    if params.get("record_points", False):
        out["correct"] = np.packbits(res.correct).tobytes().hex()
    return out


TRIALS["evaluate"] = evaluate_trial
TRIAL_PARAMETERS["evaluate"] = EVALUATE_TRIAL_PARAMETERS


# ----------------------------------------------------------------------------- running
@dataclass(frozen=True, kw_only=True)
class ExperimentReport:
    """What :func:`run_experiment` wrote and found.

    Attributes
    ----------
    name : str
        Experiment name.
    out : Path
        Output folder.
    rows : tuple of dict
        One per grid point (sweep) or network x model (Monte Carlo): parameters, ``n``, and
        ``<metric>_mean`` / ``<metric>_std``.
    comparisons : tuple of dict
        One per reference: label, point, metric, ours (mean, std, n), paper.
    files : tuple of Path
        Everything written (CSV, JSON, Markdown, PNG).
    elapsed_s : float
        Wall clock of the run (training included).
    software : dict
        Network name -> software accuracy on the evaluated split.
    table : str
        The Markdown report (also in ``report.md``).
    """

    name: str
    out: Path
    rows: tuple[dict[str, Any], ...]
    comparisons: tuple[dict[str, Any], ...]
    files: tuple[Path, ...]
    elapsed_s: float
    software: Mapping[str, float]
    table: str


def _status(text: str) -> None:
    """One progress line on stderr (only called when progress output is on)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _train_all(config: ExperimentConfig, out: Path, resume: bool, progress: bool) -> dict[str, Path]:
    folder = out / "networks"
    folder.mkdir(parents=True, exist_ok=True)
    data = _dataset(config.dataset)
    base = Path(config.source).parent if config.source != "<dict>" else None
    paths: dict[str, Path] = {}
    index_path = folder / "networks.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for spec in config.networks:
        path = folder / f"{spec.name}.npz"
        key = {"spec": spec.to_dict(), "dataset": config.dataset,
               "hardware": config.hardware.to_dict() if spec.training == "hardware-aware" else None}
        if path.exists() and index.get(spec.name, {}).get("key") == key:
            paths[spec.name] = path.resolve()
            continue
        t0 = time.perf_counter()
        if progress:
            _status(f"training network {spec.name!r} ({spec.recipe}, {spec.training}) ...")
        net = train_network(spec, data, config.hardware, base_dir=base)
        tmp = folder / f".{spec.name}.tmp.npz"
        arrays: dict[str, Any] = net.to_dict()
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        x, y = data.split(config.split)
        index[spec.name] = {"key": key, "software_accuracy": net.accuracy(x, y), "layer_sizes": list(net.layer_sizes),
                            "ternary": net.is_ternary, "train_time_s": time.perf_counter() - t0}
        index_path.write_text(json.dumps(index, indent=2) + "\n")
        paths[spec.name] = path.resolve()
    return paths


def _match(row: Mapping[str, Any], point: Mapping[str, Any]) -> bool:
    for k, v in point.items():
        if k not in row:
            return False
        a, b = row[k], v
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            if not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif json.dumps(a) != json.dumps(b):
            return False
    return True


def _compare(rows: Sequence[Mapping[str, Any]], refs: Sequence[Reference]) -> list[dict[str, Any]]:
    out = []
    for r in refs:
        hit = next((row for row in rows if _match(row, r.point) and row.get(f"{r.metric}_mean") is not None), None)
        out.append({"label": r.label, "metric": r.metric, "point": dict(r.point), "paper": r.value,
                    "ours_mean": None if hit is None else hit[f"{r.metric}_mean"],
                    "ours_std": None if hit is None else hit.get(f"{r.metric}_std"),
                    "n": None if hit is None else hit.get("n")})
    return out


def _fmt(metric: str, v: float | None, std: float | None = None) -> str:
    if v is None:
        return "n/a"
    if metric.startswith("mapping_error"):
        s = f"{v:.1f} %"
        return s if std is None else f"{v:.1f} ± {std:.1f} %"
    if any(metric.startswith(m) for m in ("accuracy", "software_accuracy", "robust_fraction", "mean_accuracy")):
        return f"{100 * v:.1f} %" if std is None else f"{100 * v:.1f} ± {100 * std:.1f} %"
    return f"{v:.4g}" if std is None else f"{v:.4g} ± {std:.2g}"


def _markdown(config: ExperimentConfig, rows: Sequence[Mapping[str, Any]], cols: Sequence[str],
              metrics: Sequence[str], comparisons: Sequence[Mapping[str, Any]], software: Mapping[str, float],
              elapsed: float, extra: str = "") -> str:
    lines = [f"# {config.name}", ""]
    if config.description:
        lines += [config.description.strip(), ""]
    lines.append(f"Config `{config.source}`{' (quick variant)' if config.quick else ''}; dataset `{config.dataset}` "
                 f"({config.split} split{'' if config.max_points is None else f', first {config.max_points} points'}); "
                 f"seed {config.seed}; wall time {elapsed:.1f} s.")
    lines.append("")
    lines.append("Software baseline: " + ", ".join(f"`{k}` {100 * v:.1f} %" for k, v in software.items()) + ".")
    lines.append("")
    head = [*cols, "n", *metrics]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(cols) + "---:|" + "---:|" * len(metrics))
    for row in rows:
        cells = [_cell(row.get(c)) for c in cols] + [str(row.get("n", ""))]
        cells += [_fmt(m, row.get(f"{m}_mean"), row.get(f"{m}_std")) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    if comparisons:
        lines += ["", "## Ours beside the paper", "", "| reference | point | metric | ours | paper |",
                  "|---|---|---|---:|---:|"]
        for c in comparisons:
            pt = ", ".join(f"{k}={_cell(v)}" for k, v in c["point"].items())
            lines.append(f"| {c['label']} | {pt} | {c['metric']} | {_fmt(c['metric'], c['ours_mean'], c['ours_std'])} "
                         f"| {_fmt(c['metric'], c['paper'])} |")
    if extra:
        lines += ["", extra]
    return "\n".join(lines) + "\n"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return "" if v is None else str(v)


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        for r in rows:
            w.writerow([json.dumps(r[k]) if isinstance(r.get(k), (list, dict)) else ("" if r.get(k) is None else r[k])
                        for k in keys])
    return path


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
        Sweeps: see :func:`~xbarsim.evaluation.run_sweep` (default: an embedded local Dask cluster
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
    nets = _train_all(config, folder, resume, progress)
    data = _dataset(config.dataset)
    models = {name: _load_network(str(p)) for name, p in nets.items()}
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
    spec = SweepSpec(name=config.name, trial="evaluate", grid={k: list(v) for k, v in config.grid.items()},
                     fixed=fixed, trials=config.cycles, seed=config.seed)
    store = folder / "trials.sqlite"
    if store.exists() and not resume:
        from xbarsim.evaluation.store import ResultStore

        with ResultStore(store, readonly=True) as db:
            if db.count() and db.spec_dict() == spec.to_dict():
                raise ConfigError(f"{store} already holds {db.count()} trial(s) of this experiment; pass --resume "
                                  "(resume=True) to run the rest, or choose another --out.")
    if scheduler is None and workers is None:
        workers = min(os.cpu_count() or 1, max(1, spec.n_trials))
    report = run_sweep(spec, store=store, scheduler=scheduler, n_workers=workers, resume=resume or store.exists(),
                       progress=progress)
    agg = aggregate_sweep(store, folder, plots=False)
    cols = list(config.grid)
    rows = _sweep_rows(config, store, fixed)
    metrics = ["accuracy", "mapping_error"]
    metrics += sorted({m.removesuffix("_mean") for row in rows for m in row
                       if m.startswith("accuracy_") and m.endswith("_mean") and m != "accuracy_mean"
                       and row[m] is not None})
    files = [agg.trials_csv, agg.summary_csv, agg.summary_json]
    files.append(_write_csv(folder / "results.csv", rows))
    comparisons = _compare(rows, config.references)
    elapsed = time.perf_counter() - t0
    doc = {"experiment": config.name, "source": config.source, "quick": config.quick, "kind": config.kind,
           "dataset": config.dataset, "seed": config.seed, "cycles": config.cycles, "elapsed_s": elapsed,
           "sweep_elapsed_s": report.elapsed_s, "n_trials": report.total, "n_failed": agg.n_failed,
           "software_accuracy": dict(software), "rows": rows, "comparisons": comparisons}
    (folder / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    files.append(folder / "results.json")
    files += _sweep_plots(config, folder, rows, software)
    failed = ""
    if agg.n_failed:
        failed = (f"**{agg.n_failed} trial(s) failed**; see `error_type` / `error` in `{agg.trials_csv.name}`.")
    shown = [c for c in cols]
    text = _markdown(config, rows, shown if shown else ["network"], metrics, comparisons, software, elapsed, failed)
    (folder / "report.md").write_text(text)
    files.append(folder / "report.md")
    return ExperimentReport(name=config.name, out=folder, rows=tuple(rows), comparisons=tuple(comparisons),
                            files=tuple(files), elapsed_s=elapsed, software=dict(software), table=text)


def _sweep_rows(config: ExperimentConfig, store: Path, fixed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per grid point (in the config's grid order): its values, ``n`` (successful trials),
    ``n_failed`` and mean / std (ddof = 0) of every numeric metric, grouped by the trials' own
    parameters (not by stored point indices)."""
    from xbarsim.evaluation.store import ResultStore

    cols = list(config.grid)
    with ResultStore(store, readonly=True) as db:
        records = db.records()
    groups: dict[str, list[Any]] = {}
    for r in records:
        groups.setdefault(json.dumps([r.params.get(c) for c in cols]), []).append(r)
    rows = []
    for point in config.points():
        recs = groups.get(json.dumps([point[c] for c in cols]), [])
        ok = [r for r in recs if r.ok]
        row: dict[str, Any] = dict(point)
        row.setdefault("network", fixed.get("network"))
        row["n"] = len(ok)
        row["n_failed"] = len(recs) - len(ok)
        names = sorted({k for r in ok for k, v in r.results.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
        for m in names:
            vals = np.array([r.results[m] for r in ok if m in r.results], dtype=np.float64)
            row[f"{m}_mean"] = float(vals.mean())
            row[f"{m}_std"] = float(vals.std())
        for m in ("accuracy", "mapping_error"):
            row.setdefault(f"{m}_mean", None)
            row.setdefault(f"{m}_std", None)
        if len(recs) > len(ok):
            row["errors"] = sorted({f"{r.error_type}: {r.error[:200]}" for r in recs if not r.ok})
        rows.append(row)
    return rows


def _sweep_plots(config: ExperimentConfig, folder: Path, rows: list[dict[str, Any]],
                 software: Mapping[str, float]) -> list[Path]:
    from xbarsim.evaluation.plots import plot_accuracy_vs_alpha, plot_accuracy_vs_wire, plot_metric_lines

    grid = list(config.grid)
    base = max(software.values()) if len(software) == 1 else None
    files = []
    orig, orig_grid = rows, list(grid)
    if config.readouts:  # one line per read-out of the same transfers
        main = config.hardware.backend
        expanded = [{**r, "readout": main} for r in rows]
        for name in config.readouts:
            key = f"accuracy_{_safe(name)}"
            expanded += [{**r, "readout": name, "accuracy_mean": r.get(f"{key}_mean"),
                          "accuracy_std": r.get(f"{key}_std")} for r in rows]
        rows = expanded
        grid = [*grid, "readout"]
    if "alpha" in grid or "alpha_beta" in grid:
        x = "alpha" if "alpha" in grid else "alpha_beta"
        fault = "fault_rate" if "fault_rate" in grid and len(config.grid["fault_rate"]) > 1 else None
        by = [g for g in grid if g not in (x, fault)]
        files.append(plot_accuracy_vs_alpha(rows, folder / "accuracy_vs_alpha.png", alpha=x, fault=fault, by=by,
                                            baseline=base, title=config.name))
        files.append(plot_metric_lines(orig, folder / "mapping_error_vs_alpha.png", x=x, metric="mapping_error",
                                       panels=fault, by=[g for g in orig_grid if g not in (x, fault)], percent=False, ylabel="mapping error (%)",
                                       xlabel="alpha (copies)", title=config.name))
    if "segment_ohm" in grid:
        by = [g for g in grid if g != "segment_ohm"]
        files.append(plot_accuracy_vs_wire(rows, folder / "accuracy_vs_wire.png", by=by, baseline=base,
                                           title=config.name))
    if not files and grid:
        x = grid[0]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in config.grid[x]):
            files.append(plot_metric_lines(rows, folder / f"accuracy_vs_{_safe(x)}.png", x=x, metric="accuracy",
                                           by=grid[1:], baseline=base, title=config.name))
    return files


def _run_monte_carlo(config: ExperimentConfig, folder: Path, models: Mapping[str, MLP], software: Mapping[str, float],
                     resume: bool, progress: bool, t0: float) -> ExperimentReport:
    from xbarsim.evaluation.plots import plot_point_histograms

    data = _dataset(config.dataset)
    results = {}
    rows = []
    for spec in config.networks:
        net = models[spec.name]
        for model in config.models:
            if model == "hardware":
                m: Any = config.hardware
            else:
                m = device_perturbation(config.hardware, encoding="ternary" if net.is_ternary else "differential",
                                        disturbance="measured", perturb_biases=True)
            path = folder / f"transfers_{spec.name}_{model}.jsonl"
            if progress:
                _status(f"{spec.name} / {model}: {config.transfers} transfers -> {path}")
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
    files = [_write_csv(folder / "results.csv", rows)]
    comparisons = _compare(rows, config.references)
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
    text = _markdown(config, rows, ["network", "model"], metrics, comparisons, software, elapsed,
                     f"`robust_fraction`: fraction of the test points classified correctly in at least "
                     f"{config.threshold:.0%} of the transfers (Drolet et al.'s metric).")
    (folder / "report.md").write_text(text)
    files.append(folder / "report.md")
    return ExperimentReport(name=config.name, out=folder, rows=tuple(rows), comparisons=tuple(comparisons),
                            files=tuple(files), elapsed_s=elapsed, software=dict(software), table=text)
