"""Experiments described by TOML configs: networks trained by the recipes, hardware, Monte Carlo
transfers or sweeps on the Dask engine, and a report with the papers' numbers beside ours.

An experiment config (:class:`ExperimentConfig`, :func:`load_experiment`) is one TOML file::

    name = "exp2-lea-mnist"          # output folder results/<name>/
    kind = "sweep"                   # "sweep" (grid x cycles on Dask) or "monte-carlo" (N transfers)
    dataset = "mnist5k"              # xbarsim.networks.DATASETS
    seed = 0
    cycles = 10                      # sweep: trials per grid point (new chip, mapping, noise each)
    plot_x = "alpha"                 # optional: x axis of the generic accuracy plot (a grid key;
                                     # a top-level key: below [grid] TOML would put it in the grid)

    [[networks]]                     # trained by xbarsim.networks recipes, cached in OUT/networks/
    name = "ternary"
    recipe = "ternary"

    [hardware]                       # Hardware fields (xbarsim.evaluation.Hardware)
    strict = false

    [variants]                       # named sets of Hardware overrides, swept by grid.variant
    lea = { strategy = "lea" }

    [grid]                           # Hardware fields, "variant", "network", "alpha_beta"
    fault_rate = [0.0, 0.2]
    alpha = [1, 3, 6]
    variant = ["lea"]

    [[reference]]                    # the paper's numbers, printed beside ours; `point` names
                                     # grid keys (and `network`) only, with values the grid has
    label = "LEA alpha = 6, 20 % faults (paper Fig. 4b)"
    metric = "accuracy"
    point = { variant = "lea", alpha = 6, fault_rate = 0.2 }
    value = 0.896

    [quick]                          # overrides for --quick (same keys; tables merge)
    cycles = 1

Your own model and data instead of a recipe and a bundled dataset (paths relative to the file)::

    [dataset]
    npz = "digits_1000.npz"          # x_test, y_test (x_train, y_train, x_val, y_val optional)

    [network]
    onnx = "model.onnx"              # dense and convolutional layers, xbarsim.networks.load_onnx

Unknown keys anywhere are :class:`~xbarsim.errors.ConfigError` naming the key and the file.

:func:`load_experiment` reads the file; :class:`ExperimentConfig` holds it typed (with
:class:`NetworkSpec` and :class:`Reference` entries) and gives the :class:`~xbarsim.evaluation.Hardware`
of every grid point (:meth:`ExperimentConfig.hardware_at`).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from xbarsim._validation import check_int, read_toml, short_repr
from xbarsim.errors import ConfigError
from xbarsim.experiments.papers import paper_cells
from xbarsim.evaluation import HARDWARE_FIELDS, READOUT_FIELDS, Hardware
from xbarsim.networks import DATASETS
from xbarsim.sweeps import check_plot_x, quick_error

__all__ = [
    "NetworkSpec",
    "Reference",
    "ExperimentConfig",
    "load_experiment",
    "experiment_from_dict",
    "hardware_for",
    "metric_name",
    "RECIPES",
    "NETWORK_KEYS",
]

RECIPES = ("moons", "ternary", "yinyang-ewc", "wage", "file", "onnx")
_KINDS = ("sweep", "monte-carlo")
_MODELS = ("hardware", "statistical", "drolet-code")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_TOP_KEYS = ("name", "kind", "description", "dataset", "seed", "networks", "network", "hardware", "variants", "grid",
             "readouts", "cycles", "transfers", "threshold", "models", "split", "max_points", "plot_x", "reference",
             "paper", "quick")
NETWORK_KEYS = ("name", "recipe", "seed", "hidden", "training", "l2", "epochs", "ewc_strength", "ternarize",
             "quantization", "restore_best", "aware_fault_rate", "aware_disturbance", "aware_read_noise", "file",
             "ternary_delta", "batch_size", "learning_rate", "lr_decay", "members")
_REF_KEYS = ("label", "metric", "point", "value", "over", "at", "values", "note")
_PAPER_KEYS = ("table", "metrics", "columns", "values", "where", "join", "fixed")
#: Metrics (and their prefixes: accuracy_<read-out>, accuracy_<task>) that are fractions from 0 to 1; the
#: report prints them in percent.
_FRACTION_METRICS = ("accuracy", "software_accuracy", "robust_fraction", "mean_accuracy")
#: Grid keys that are not Hardware fields.
_GRID_EXTRA = ("network", "variant", "alpha_beta")

def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise ConfigError(f"{where} must be 1-100 letters, digits, '.', '_' or '-' starting with a letter or digit; "
                          f"got {short_repr(value)}.")
    return value


def _as_float(value: Any) -> Any:
    """``value`` with every int (not bool) a float, in lists too: grid values equal as numbers compare equal."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_as_float(v) for v in value]
    return value


def _same_value(a: Any, b: Any) -> bool:
    """Whether a reference's point value ``a`` selects the results column value ``b`` (as the report's
    comparison matches them: numbers by value, anything else by its JSON text)."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return json.dumps(a, default=repr) == json.dumps(b, default=repr)


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
    recipe : {"moons", "ternary", "yinyang-ewc", "wage", "file"}
        ``"moons"``: :func:`~xbarsim.networks.train_moons` (2-8-1 sigmoid); ``"ternary"``:
        :func:`~xbarsim.networks.train_ternary` (n-hidden-classes ReLU, no biases, ternary);
        ``"yinyang-ewc"``: :func:`~xbarsim.networks.train_yinyang_ewc` (4-12-6-3 tanh, EWC);
        ``"wage"``: :func:`~xbarsim.networks.train_wage` (the LEA paper's WAGE ternary network; the
        dataset must be in the WAGE input format, e.g. ``"mnist-wage"``);
        ``"file"``: an ``.npz`` written by :meth:`MLP.to_dict` (``file``); ``"onnx"``: the user's own
        model, an ONNX file (``file``) read by :func:`~xbarsim.networks.load_onnx` (dense and
        convolutional layers), not trained. ``[network] onnx = "model.onnx"`` is a shorthand.
    seed : int
        Training seed.
    hidden : int or None
        Ternary recipe: hidden units (``None``: 150 for inputs > 100, else 64).
    training : {"regular", "hardware-aware"}
        Hardware-aware: every forward pass perturbed by the device model of the experiment's
        hardware (:func:`~xbarsim.evaluation.device_perturbation`; moons: differential pairs,
        weights and biases, as Drolet et al.'s layers do; ternary: G_ON/G_OFF pairs in the
        fine-tuning stage, no biases).
    l2 : float
        L2 regularization (Drolet et al. combine it with hardware-aware training).
    epochs : int or None
        Override of the recipe's epochs (moons; ternary fine-tuning; Yin-Yang per task).
    ewc_strength : float
        Yin-Yang: EWC lambda.
    ternarize : bool or "reconstruct"
        Ternarize after training (Yin-Yang). ``true``: the Ternary Weight Networks threshold rule
        (:func:`~xbarsim.networks.ternarize`, threshold ``ternary_delta * mean|w|``);
        ``"reconstruct"``: the LEA paper's post-training ternarization (BRECQ-style output
        reconstruction on the training inputs, :func:`~xbarsim.networks.ternarize_reconstruct`).
        Use it with ``quantization = "none"``.
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
        ``recipe = "file"``: path of the ``.npz``; ``recipe = "onnx"``: of the ``.onnx`` (relative
        to the config file).
    batch_size, learning_rate : int, float or None
        WAGE recipe: override of the batch size (4096) and the update scale (4.8). Moons recipe:
        override of the batch size (32) and Adam's step (0.1); Drolet et al.'s code trains with
        batch 256 for 10,000 epochs.
    lr_decay : float or None
        WAGE recipe: factor in (0, 1] applied to the learning rate after every epoch
        (:attr:`~xbarsim.networks.WageConfig.lr_decay`); ``None``: the recipe's 1 (constant).
        xbtorch's example 4 trains with ``learning_rate = 8``, ``lr_decay = 0.95``, ``epochs = 100``.
    members : int
        Committee machines of distinct networks: members ``1 .. members - 1`` are trained like
        this one with seeds ``seed + k`` (member 0 is this network); strategy ``"committee"``
        with ``committee_networks = "distinct"`` uses the first ``alpha`` of them.
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
    ternarize: bool | str = False
    quantization: Literal["none", "ternary"] = "none"
    restore_best: bool = False
    aware_fault_rate: float | None = None
    aware_disturbance: str = "measured"
    aware_read_noise: bool = False
    file: str | None = None
    ternary_delta: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    lr_decay: float | None = None
    members: int = 1

    def __post_init__(self) -> None:
        _name(self.name, "`networks.name`")
        if (self.batch_size is not None or self.learning_rate is not None) and self.recipe not in ("wage", "moons"):
            raise ConfigError(f"`batch_size` and `learning_rate` apply to recipe 'wage' (and 'moons'); got recipe "
                              f"{self.recipe!r}.")
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", 1, 1_000_000)
        if self.learning_rate is not None and (isinstance(self.learning_rate, bool) or not isinstance(
                self.learning_rate, (int, float)) or not 0 < self.learning_rate < math.inf):
            raise ConfigError(f"`learning_rate` must be a positive number; got {short_repr(self.learning_rate)}.")
        if self.lr_decay is not None:
            if self.recipe != "wage":
                raise ConfigError(f"`lr_decay` applies to recipe 'wage'; got recipe {self.recipe!r} "
                                  f"(lr_decay = {short_repr(self.lr_decay)}).")
            if isinstance(self.lr_decay, bool) or not isinstance(self.lr_decay, (int, float)) or \
                    not 0 < self.lr_decay <= 1:
                raise ConfigError(f"`lr_decay` must be a factor in (0, 1] per epoch; got {short_repr(self.lr_decay)}.")
        check_int(self.members, "members", 1, 64)
        if self.members > 1 and self.recipe in ("file", "onnx"):
            raise ConfigError("`members` (a committee of networks trained with seeds seed .. seed + members - 1) "
                              f"needs a training recipe, not {self.recipe!r}.")
        if self.ternary_delta is not None and (isinstance(self.ternary_delta, bool) or not isinstance(
                self.ternary_delta, (int, float)) or not 0 <= self.ternary_delta < 100):
            raise ConfigError(f"`ternary_delta` must be a threshold factor in [0, 100) or unset; got "
                              f"{short_repr(self.ternary_delta)}.")
        if self.ternary_delta is not None and self.recipe not in ("ternary", "yinyang-ewc"):
            raise ConfigError(f"`ternary_delta` applies to recipes 'ternary' and 'yinyang-ewc'; got recipe "
                              f"{self.recipe!r}.")
        if self.recipe not in RECIPES:
            raise ConfigError(f"`recipe` must be one of {', '.join(map(repr, RECIPES))}; got {short_repr(self.recipe)}.")
        check_int(self.seed, "seed", 0, 2**32 - 1)
        if self.hidden is not None:
            check_int(self.hidden, "hidden", 1, 100_000)
        if self.training not in ("regular", "hardware-aware"):
            raise ConfigError(f"`training` must be 'regular' or 'hardware-aware'; got {short_repr(self.training)}.")
        if isinstance(self.l2, bool) or not isinstance(self.l2, (int, float)) or not 0 <= self.l2 < math.inf:
            raise ConfigError(f"`l2` must be a non-negative number; got {short_repr(self.l2)}.")
        if self.epochs is not None:
            check_int(self.epochs, "epochs", 1, 100_000)
        if isinstance(self.ewc_strength, bool) or not isinstance(self.ewc_strength, (int, float)) or \
                not 0 <= self.ewc_strength < math.inf:
            raise ConfigError(f"`ewc_strength` must be a non-negative number; got {short_repr(self.ewc_strength)}.")
        if not all(isinstance(getattr(self, k), bool) for k in ("aware_read_noise", "restore_best")):
            raise ConfigError("`restore_best` and `aware_read_noise` must be true or false.")
        if not (isinstance(self.ternarize, bool) or self.ternarize == "reconstruct"):
            raise ConfigError(f"`ternarize` must be true, false or 'reconstruct'; got {short_repr(self.ternarize)}.")
        if self.ternarize == "reconstruct" and self.recipe != "yinyang-ewc":
            raise ConfigError(f"`ternarize` 'reconstruct' applies to recipe 'yinyang-ewc'; got recipe {self.recipe!r}.")
        if self.ternarize == "reconstruct" and self.quantization != "none":
            raise ConfigError("`ternarize` 'reconstruct' ternarizes a floating-point network after training; it "
                              f"needs `quantization` 'none', got {short_repr(self.quantization)}.")
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
        if self.recipe == "onnx" and not isinstance(self.file, str):
            raise ConfigError("recipe 'onnx' needs `file`, the path of an .onnx model.")
        if self.recipe == "onnx" and self.training != "regular":
            raise ConfigError("an ONNX network is evaluated as it is; `training` must be 'regular'.")
        if self.training == "hardware-aware" and self.recipe not in ("moons", "ternary", "wage"):
            raise ConfigError(f"`training` 'hardware-aware' is available for recipes 'moons', 'ternary' and 'wage'; "
                              f"got recipe {self.recipe!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in NETWORK_KEYS}



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
        point that matches several of ours is compared with each of them, its label extended by
        the columns on which they differ (:func:`~xbarsim.experiments.report.compare`).
    value : float
        The published value, in the unit of our metric (accuracies as fractions 0 to 1).
    note : str
        How the full run's protocol differs from the paper's, stated by the config's author
        (printed with the comparison; the differences of a ``--quick`` run are added to it).
    from_table : bool
        A cell of a published table (``[[paper]]``): reported only where the experiment has the
        point (a ``--quick`` run covers a few cells of the table).
    """

    label: str
    metric: str
    point: Mapping[str, Any]
    value: float
    note: str = ""
    from_table: bool = False

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
        note = r.get("note", "")
        if not isinstance(label, str) or not isinstance(metric, str) or not isinstance(point, Mapping) or \
                not isinstance(note, str):
            raise ConfigError(f"{source}: [[reference]] #{k + 1} needs a string `label`, a string `metric` and a "
                              "table `point` (and `note`, if given, a string).")
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
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{source}: [[reference]] #{k + 1}: values must be finite numbers; got "
                                  f"{short_repr(v)}.")
            if metric.startswith(_FRACTION_METRICS) and not 0 <= v <= 1:  # before: 89.6 printed as "8960.0 %"
                raise ConfigError(f"{source}: [[reference]] #{k + 1}: metric {metric!r} is a fraction from 0 to 1 "
                                  f"(write 0.896 for 89.6 %); got value {short_repr(v)}.")
            pt = dict(point)
            if at_v is not None:
                pt[r["over"]] = at_v
            out.append(Reference(label=label, metric=metric, point=pt, value=float(v), note=note))
    return tuple(out)

def _paper_references(data: Any, source: str) -> tuple[Reference, ...]:
    """``[[paper]]`` entries: every cell of a published table (:mod:`xbarsim.experiments.papers`)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"{source}: `paper` must be an array of tables ([[paper]]).")
    out: list[Reference] = []
    for k, p in enumerate(data):
        _unknown(p, _PAPER_KEYS, source, f"[[paper]] #{k + 1}")
        metrics = p.get("metrics", ["accuracy"])
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise ConfigError(f"{source}: [[paper]] #{k + 1}: `metrics` must be a list of metric names.")
        try:
            cells = paper_cells(p.get("table"), metrics=metrics, columns=p.get("columns"), values=p.get("values"),
                                where=p.get("where"), join=p.get("join"), fixed=p.get("fixed"))
        except ConfigError as exc:
            raise ConfigError(f"{source}: [[paper]] #{k + 1}: {exc}") from None
        out.extend(Reference(label=c.label, metric=c.metric, point=c.point, value=c.value, from_table=True)
                   for c in cells)
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
        A key of :data:`xbarsim.networks.DATASETS`, or the name of the user dataset in
        ``dataset_file``.
    dataset_file : str or None
        A user dataset, ``[dataset] npz = "path.npz"`` (:func:`~xbarsim.networks.load_npz`), the
        path resolved against the config file's folder.
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
        backend, device, wires, converters, inference reads), reported as ``accuracy_<name>``: a paired
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
        Sweep: evaluate only the first points of the split (circuit backends); refused for a Monte
        Carlo experiment, whose transfers evaluate the whole split.
    plot_x : str or None
        Sweep: the grid key (numeric values) on the x axis of the generic plot
        ``accuracy_vs_<plot_x>.png``; default the first numeric grid key, drawn when no alpha or wire
        plot is. Presentation only: not part of the stored sweep spec.
    references : tuple of Reference
        Published numbers for the report.
    source : str
        The config file (for messages).
    quick : bool
        Whether the ``[quick]`` overrides were applied.
    quick_changes : tuple of (str, value, value)
        With ``quick``: every setting the ``[quick]`` table changed, as ``(setting, quick value, full
        value)`` (``cycles``, ``transfers``, ``grid.<key>``, ``hardware.<field>``,
        ``networks.<name>.<key>``...), so that a report says what actually ran.
    """

    name: str
    kind: str
    dataset: str
    networks: tuple[NetworkSpec, ...]
    dataset_file: str | None = None
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
    plot_x: str | None = None
    references: tuple[Reference, ...] = ()
    source: str = "<dict>"
    quick: bool = False
    quick_changes: tuple[tuple[str, Any, Any], ...] = ()

    def __post_init__(self) -> None:
        s = self.source
        try:
            _name(self.name, "`name`")
            if self.kind not in _KINDS:
                raise ConfigError(f"`kind` must be one of {', '.join(map(repr, _KINDS))}; got {short_repr(self.kind)}.")
            if self.dataset_file is None and self.dataset not in DATASETS:
                raise ConfigError(f"`dataset` must be one of {', '.join(map(repr, DATASETS))} or a table "
                                  f"[dataset] npz = \"file.npz\"; got {short_repr(self.dataset)}.")
            if not self.networks:
                raise ConfigError("`networks` must list at least one network ([[networks]]).")
            names = [n.name for n in self.networks]
            if len(set(names)) != len(names):
                raise ConfigError(f"`networks` names must be distinct; got {names}.")
            check_int(self.seed, "seed", 0, 2**63 - 1)
            check_int(self.cycles, "cycles", 1, 100_000)
            check_int(self.transfers, "transfers", 1, 10_000_000)
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
                check_int(self.max_points, "max_points", 1, 10_000_000)
                if self.kind == "monte-carlo":  # its transfers evaluate the whole split
                    raise ConfigError(f"`max_points` applies to kind 'sweep'; a 'monte-carlo' experiment evaluates "
                                      f"the whole {self.split} split (got max_points = {self.max_points}).")
            if self.kind == "monte-carlo" and self.cycles != 1:  # before: accepted and ignored
                raise ConfigError(f"`cycles` applies to kind 'sweep'; a 'monte-carlo' experiment runs `transfers` "
                                  f"transfers (got cycles = {self.cycles}).")
            if self.kind == "sweep":  # before: accepted and ignored
                for key, default in (("transfers", 1000), ("threshold", 0.95), ("models", ("hardware",))):
                    if getattr(self, key) != default:
                        raise ConfigError(f"`{key}` applies to kind 'monte-carlo'; a 'sweep' experiment runs `cycles` "
                                          f"trials of the Hardware transfer per grid point (got {key} = "
                                          f"{short_repr(getattr(self, key))}).")
            onnx = [n.name for n in self.networks if n.recipe == "onnx"]
            drawn = [m for m in models if m != "hardware"]
            if self.kind == "monte-carlo" and onnx and drawn:  # before: refused only after loading the model,
                # by a message that called the statistical models' networks "dense", which an ONNX MLP is
                raise ConfigError(f"`models` {', '.join(map(repr, drawn))} draw the device model on the weights of an "
                                  f"xbarsim MLP; the ONNX network {', '.join(map(repr, onnx))} is imported as a "
                                  "layered network (even when every layer is dense), which only a Hardware transfer "
                                  "maps: use models = [\"hardware\"].")
            if self.kind == "monte-carlo" and self.readouts:
                raise ConfigError(f"[readouts] applies to kind 'sweep'; a 'monte-carlo' experiment reads each "
                                  f"transfer once (got {', '.join(map(repr, self.readouts))}).")
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
                same = [r for r in readouts if metric_name(r) == metric_name(rname)]
                if same:  # before: one trial stored one accuracy_<name>, the second read-out's overwrote the first's
                    raise ConfigError(f"[readouts] {same[0]!r} and {rname!r} would both be reported as "
                                      f"`accuracy_{metric_name(rname)}` (characters other than letters, digits "
                                      "and '_' become '_'); give them names that differ there.")
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
                seen: set[str] = set()
                for v in values:  # the sweep spec refuses it too, but only after the networks are trained
                    text = json.dumps(_as_float(v), sort_keys=True, default=repr)  # 0 and 0.0: one value
                    if text in seen:
                        raise ConfigError(f"`grid.{key}` lists the value {short_repr(v)} twice; grid values must be "
                                          "distinct.")
                    seen.add(text)
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
            for point in self.points() if self.kind == "sweep" else [{}]:
                self._check_committee_members(point)
            circuit = [k for k in ("segment_ohm", "driver_ohm", "sense_ohm", "device") if k in grid]
            if self.kind == "sweep" and circuit:
                # before: a wire sweep on the ideal backend ran, and its accuracy-vs-wire plot showed
                # differences of chip draws alone
                hws = [self.hardware_at(p) for p in self.points()]
                backends = {h.backend for h in hws}
                backends |= {ch["backend"] for ch in readouts.values() if "backend" in ch}
                # programming through the bias-scheme sequence solves the wires and cell law at every
                # pulse, whatever backend reads the result
                if backends == {"ideal"} and not any(h.programming == "sequence" for h in hws):
                    raise ConfigError(f"`grid.{circuit[0]}` changes nothing: every grid point and read-out reads "
                                      "through backend 'ideal' (I = v @ G), which ignores the wires and the cell law, "
                                      "and none programs through the bias-scheme sequence; set backend = \"sparse\" in "
                                      "[hardware] (or in a [readouts] entry) to sweep it.")
            if self.kind == "monte-carlo" and grid:
                raise ConfigError("[grid] belongs to kind 'sweep'; a Monte Carlo experiment evaluates each network "
                                  "on the one [hardware].")
            columns = [*grid, *(() if "network" in grid else ("network",))] if self.kind == "sweep" \
                else ["network", "model"]
            for ref in self.references:  # before: a mistyped or fixed key matched no row and showed "n/a"
                bad = [k for k in ref.point if k not in columns]
                if bad and not ref.from_table:
                    raise ConfigError(f"[[reference]] {ref.label!r}: `point` key {bad[0]!r} is not a column of this "
                                      f"experiment's results ({', '.join(columns)}); a value fixed in [hardware] "
                                      "needs no point key.")
            # the values of every column (a --quick grid may leave a paper's point out: "n/a" there)
            have = {**{k: list(v) for k, v in grid.items()}, "network": list(grid.get("network", names[:1]))} \
                if self.kind == "sweep" else {"network": names, "model": list(models)}
            for ref in () if self.quick else self.references:  # before: "n/a" in the report, no hint why
                for k, v in ref.point.items():
                    if k in have and not ref.from_table and not any(_same_value(v, w) for w in have[k]):
                        raise ConfigError(f"[[reference]] {ref.label!r}: `point` value `{k}` = {short_repr(v)} is "
                                          f"not one of this experiment's ({short_repr(have[k])}); it would match "
                                          "no result.")
            check_plot_x(self.plot_x, list(grid))
            if self.plot_x is not None and not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in grid[self.plot_x]):
                raise ConfigError(f"`plot_x` must name a grid key with numeric values (an experiment's accuracy "
                                  f"plot has a numeric x axis); got {self.plot_x!r}, whose values are "
                                  f"{short_repr(list(grid[self.plot_x]))}.")
        except ConfigError as exc:
            if str(exc).startswith(f"{s}:"):
                raise
            raise ConfigError(f"{s}: {exc}") from None

    # ------------------------------------------------------------------ grid
    def points(self) -> list[dict[str, Any]]:
        """The grid points (Cartesian product, last key fastest)."""
        keys = list(self.grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    def _check_committee_members(self, point: Mapping[str, Any]) -> None:
        """Refuse a committee of distinct networks that the point's networks cannot form. Before, the
        config loaded, the networks were trained (or imported) and every committee trial failed, one
        advising `members` for an ONNX network, which refuses `members`."""
        hw = self.hardware_at(point)
        if hw.strategy != "committee" or hw.committee_networks != "distinct":
            return
        where = "grid point " + ", ".join(f"{k}={v!r}" for k, v in point.items()) if point else "[hardware]"
        for spec in self.networks if "network" not in point else [self.network(point["network"])]:
            if spec.recipe == "onnx":
                raise ConfigError(f"{where}: committee_networks 'distinct' maps `alpha` distinct trained networks "
                                  f"(a recipe network and its `members`); network {spec.name!r} is an ONNX file, "
                                  "which has none: use committee_networks = 'same' (the network mapped `alpha` "
                                  "times).")
            if spec.members < hw.alpha:
                fix = (f"set `members` >= {hw.alpha} in its [[networks]] entry" if spec.recipe != "file"
                       else "a 'file' network has no members: use committee_networks = 'same'")
                raise ConfigError(f"{where}: committee_networks 'distinct' at alpha = {hw.alpha} needs {hw.alpha} "
                                  f"trained members of network {spec.name!r}; it has {spec.members} ({fix}).")

    def hardware_at(self, point: Mapping[str, Any]) -> Hardware:
        """The Hardware of one grid point: base, then the variant's overrides, then the grid's fields."""
        return hardware_for(self.hardware.to_dict(), dict(self.variants), point,
                             where=", ".join(f"{k}={v!r}" for k, v in point.items()))

    def network(self, name: str) -> NetworkSpec:
        for n in self.networks:
            if n.name == name:
                return n
        raise ConfigError(f"no network named {name!r} in this experiment.")


def hardware_for(base: Mapping[str, Any], variants: Mapping[str, Mapping[str, Any]], point: Mapping[str, Any],
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
    if not quick:
        return _experiment(raw, source, None)
    if q is None:
        raise ConfigError(f"{source}: --quick needs a [quick] table of overrides in the config.")
    full = experiment_from_dict(raw, source=source)
    raw = _merge(raw, q)
    raw["name"] = f"{raw.get('name', 'experiment')}-quick"
    try:
        return _experiment(raw, source, full)
    except ConfigError as exc:  # the full config loaded: the [quick] overrides made it bad (before: the
        raise quick_error(exc, source) from None  # message named [hardware] for a [quick.hardware] value)


def _experiment(raw: dict[str, Any], source: str, full: ExperimentConfig | None) -> ExperimentConfig:
    """The config of the TOML layout ``raw`` (``[quick]`` removed, already merged when ``full``, the full
    run's config, is given)."""
    quick = full is not None
    base = Path(source).parent if source != "<dict>" else Path(".")
    if "network" in raw:
        if "networks" in raw:
            raise ConfigError(f"{source}: give either [network] (one ONNX model) or [[networks]], not both.")
        one = raw.pop("network")
        _unknown(one, ("onnx", "name"), source, "[network]")
        if "onnx" not in one:
            raise ConfigError(f"{source}: missing key 'onnx' in [network] (the path of the .onnx model).")
        path = one["onnx"]
        if not isinstance(path, str):
            raise ConfigError(f"{source}: `network.onnx` must be a path; got {short_repr(path)}.")
        raw["networks"] = [{"name": one.get("name", _stem_name(path)), "recipe": "onnx", "file": path}]
    for key in ("name", "kind", "dataset", "networks"):
        if key not in raw:
            raise ConfigError(f"{source}: missing key {key!r} in the experiment config.")
    if isinstance(raw["dataset"], Mapping):
        table = raw.pop("dataset")
        _unknown(table, ("npz", "name"), source, "[dataset]")
        if not isinstance(table.get("npz"), str):
            raise ConfigError(f"{source}: [dataset] needs `npz`, the path of the dataset file.")
        file = Path(table["npz"])
        raw["dataset_file"] = str(file if file.is_absolute() else (base / file).resolve())
        raw["dataset"] = table.get("name", _stem_name(table["npz"]))
    elif "dataset_file" in raw:
        raise ConfigError(f"{source}: unknown key 'dataset_file'; write [dataset] npz = \"file.npz\".")
    nets_raw = raw.pop("networks")
    if not isinstance(nets_raw, list):
        raise ConfigError(f"{source}: `networks` must be an array of tables ([[networks]]).")
    nets = []
    for k, n in enumerate(nets_raw):
        _unknown(n, NETWORK_KEYS, source, f"[[networks]] #{k + 1}")
        if isinstance(n, Mapping) and n.get("recipe") == "onnx" and isinstance(n.get("file"), str):
            f = Path(n["file"])
            n = {**n, "file": str(f if f.is_absolute() else (base / f).resolve())}
        try:
            nets.append(NetworkSpec(**n))
        except ConfigError as exc:
            raise ConfigError(f"{source}: [[networks]] #{k + 1}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{source}: [[networks]] #{k + 1}: {exc}") from None
    hw = Hardware.from_dict(raw.pop("hardware", {}), source=source)
    refs = _references(raw.pop("reference", None), source) + _paper_references(raw.pop("paper", None), source)
    for key in ("variants", "grid", "readouts"):
        if key in raw and not isinstance(raw[key], Mapping):
            raise ConfigError(f"{source}: [{key}] must be a table.")
    if "models" in raw and not isinstance(raw["models"], list):
        raise ConfigError(f"{source}: `models` must be a list; got {short_repr(raw['models'])}.")
    fields: dict[str, Any] = {k: (tuple(v) if k == "models" else v) for k, v in raw.items()}
    config = ExperimentConfig(networks=tuple(nets), hardware=hw, references=refs, source=source, quick=quick,
                              **fields)
    if full is not None:
        object.__setattr__(config, "quick_changes", _differences(config, full))
    return config


def _differences(a: ExperimentConfig, b: ExperimentConfig) -> tuple[tuple[str, Any, Any], ...]:
    """``(setting, a's value, b's value)`` for every setting (top-level, grid key, hardware field,
    network key, variant, read-out) in which two configs differ; names and sources are not settings."""
    out: list[tuple[str, Any, Any]] = []
    for key in ("dataset", "seed", "cycles", "transfers", "threshold", "models", "split", "max_points"):
        if getattr(a, key) != getattr(b, key):
            out.append((key, getattr(a, key), getattr(b, key)))
    for table, da, db in (("grid", dict(a.grid), dict(b.grid)), ("hardware", a.hardware.to_dict(), b.hardware.to_dict()),
                          ("variants", dict(a.variants), dict(b.variants)),
                          ("readouts", dict(a.readouts), dict(b.readouts))):
        for key in list(da) + [k for k in db if k not in da]:
            if da.get(key) != db.get(key):
                out.append((f"{table}.{key}", da.get(key), db.get(key)))
    nets_b = {n.name: n.to_dict() for n in b.networks}
    for n in a.networks:
        other = nets_b.get(n.name, {})
        for key, value in n.to_dict().items():
            if other.get(key) != value:
                out.append((f"networks.{n.name}.{key}", value, other.get(key)))
    return tuple(out)


def _stem_name(path: str) -> str:
    """A valid name from a file's stem (characters outside the name alphabet become '-')."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", Path(path).stem)[:100] or "user"
    return stem if stem[0].isalnum() else "u" + stem[:99]


def load_experiment(path: str | os.PathLike[str], *, quick: bool = False) -> ExperimentConfig:
    """Read an experiment config (TOML). ``quick`` applies its ``[quick]`` overrides.

    Raises
    ------
    ConfigError
        Unreadable or invalid TOML, an unknown or missing key (the message names the key and the
        file), an invalid value or an impossible grid point.
    """
    data = read_toml(path, "experiment config")
    return experiment_from_dict(data, source=str(path), quick=quick)




def metric_name(name: str) -> str:
    """``name`` with every character other than letters, digits and ``_`` replaced by ``_`` (for
    metric names such as ``accuracy_<readout>`` and file names)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)
