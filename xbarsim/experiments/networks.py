"""The networks of an experiment: trained by the recipes of :mod:`xbarsim.networks` (or read from a
file) once per config and cached as ``.npz`` under ``OUT/networks/``, indexed in
``OUT/networks/networks.json`` by their settings (spec, dataset and the content of a user's dataset
file, hardware of hardware-aware training, and the content of a ``recipe = "file"`` source) and identified by the SHA-256 of their
content (:func:`network_fingerprint`), never by their path."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import xbarsim.provenance as _prov
from xbarsim._typing import ProgressCallback
from xbarsim.errors import ConfigError, FileFormatError
from xbarsim.evaluation import Hardware, device_perturbation, network_fingerprint
from xbarsim.experiments.config import ExperimentConfig, NetworkSpec
from xbarsim.sweeps import refuse_symlink, replace_from, write_text
from xbarsim.networks import load_network as npz_network
from xbarsim.networks import (
    MLP,
    Dataset,
    Network,
    MOONS_CONFIG,
    TERNARY_FINETUNE_CONFIG,
    TERNARY_PRETRAIN_CONFIG,
    WAGE_CONFIG,
    YINYANG_CONFIG,
    load_dataset,
    load_npz,
    load_onnx,
    ternarize,
    ternarize_reconstruct,
    train_moons,
    train_ternary,
    train_wage,
    train_yinyang_ewc,
)

__all__ = ["train_network", "train_all", "load_network", "network_file", "cached_dataset", "config_dataset",
           "check_labels", "network_settings", "changed_settings", "TrainedNetwork", "indexed_settings",
           "member_name", "member_paths"]

T = TypeVar("T")


def train_network(spec: NetworkSpec, dataset: Any, hardware: Hardware, *, base_dir: Path | None = None
                  ) -> MLP | Network:
    """Train (or load) the network of ``spec`` on ``dataset``; hardware-aware training draws its
    perturbation from ``hardware``'s device model."""
    perturbation = None
    if spec.training == "hardware-aware":
        perturbation = device_perturbation(
            hardware, encoding="ternary" if spec.recipe in ("ternary", "wage") else "differential",
            disturbance=None if spec.aware_disturbance == "none" else spec.aware_disturbance,  # type: ignore[arg-type]
            fault_rate=spec.aware_fault_rate, read_noise=spec.aware_read_noise,
            perturb_biases=spec.recipe == "moons")
    if spec.recipe == "moons":
        cfg = replace(MOONS_CONFIG, l2=float(spec.l2), epochs=spec.epochs or MOONS_CONFIG.epochs,
                      batch_size=spec.batch_size or MOONS_CONFIG.batch_size,
                      learning_rate=float(spec.learning_rate or MOONS_CONFIG.learning_rate))
        # Drolet et al.'s hardware-aware layers perturb the biases like the weights (issue 15)
        return train_moons(dataset, perturbation=perturbation, config=cfg, seed=spec.seed,
                           perturb_biases=perturbation is not None).network
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
        if spec.ternarize == "reconstruct":
            return ternarize_reconstruct(net, dataset.x_train)
        return ternarize(net, **delta) if spec.ternarize else net
    if spec.recipe == "wage":
        wage = replace(WAGE_CONFIG, hidden=spec.hidden or WAGE_CONFIG.hidden, epochs=spec.epochs or WAGE_CONFIG.epochs,
                       batch_size=spec.batch_size or WAGE_CONFIG.batch_size,
                       learning_rate=float(spec.learning_rate or WAGE_CONFIG.learning_rate), seed=spec.seed,
                       lr_decay=float(spec.lr_decay if spec.lr_decay is not None else WAGE_CONFIG.lr_decay))
        return train_wage(dataset, wage, perturbation=perturbation).network
    if spec.recipe == "onnx":
        return load_onnx(str(spec.file))
    if spec.recipe == "file":
        path = Path(spec.file)  # type: ignore[arg-type]
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return load_network(str(path))
    raise ConfigError(f"unknown recipe {spec.recipe!r}.")  # pragma: no cover


def load_network(path: str | os.PathLike[str], *, sha256: str | None = None) -> MLP | Network:
    """Read a network file: an ONNX model (``.onnx``, :func:`~xbarsim.networks.load_onnx`) or an
    ``.npz`` written by :meth:`MLP.to_dict`.

    Raises
    ------
    ConfigError
        The file cannot be read.
    FileFormatError
        It is not a network ``.npz`` (another format, a damaged archive, missing or unknown
        arrays), or its content is not the network ``sha256`` names (:func:`network_fingerprint`).
    """
    net: MLP | Network = load_onnx(str(path)) if str(path).endswith(".onnx") else npz_network(path)
    if sha256 is not None and network_fingerprint(net) != sha256:
        raise FileFormatError(
            f"network file {path} holds another network (fingerprint {network_fingerprint(net)}) than the one "
            f"this sweep was started with ({sha256}); it was replaced during the run.")
    return net


def cached_dataset(name: str, file: str | None = None) -> Any:
    """A bundled dataset by name, or the user's ``.npz`` ``file`` (cached per path and modification time)."""
    if file is None:
        return _bundled_dataset(name)
    try:
        st = os.stat(file)
    except OSError as exc:
        raise ConfigError(f"dataset file {file!r} cannot be read: {exc}") from None
    return _user_dataset(file, name, st.st_mtime, st.st_size)


@functools.lru_cache(maxsize=8)
def _bundled_dataset(name: str) -> Any:
    return load_dataset(name)


@functools.lru_cache(maxsize=8)
def _user_dataset(file: str, name: str, mtime: float, size: int) -> Any:
    return load_npz(file, name=name)


def check_labels(config: ExperimentConfig, models: dict[str, Any]) -> None:
    """A user dataset's labels must be classes of every network (ConfigError naming file and key)."""
    if config.dataset_file is None:
        return
    for name, net in models.items():
        try:
            load_npz(config.dataset_file, n_classes=net.n_classes, name=config.dataset)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (network {name!r} has {net.n_classes} classes)") from None


@functools.lru_cache(maxsize=16)
def _network_cached(path: str, stamp: tuple[int, int, int, int], sha256: str | None) -> MLP | Network:
    return load_network(path, sha256=sha256)


def network_file(path: str, sha256: str | None = None) -> MLP | Network:
    """:func:`load_network`, cached per process by path, inode, size and modification time."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"cannot read network file {path}: {exc}") from exc
    return _network_cached(path, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), sha256)


@dataclass(frozen=True, kw_only=True)
class TrainedNetwork:
    """A network of an experiment as the output folder holds it.

    Attributes
    ----------
    file : str
        Its ``.npz``, relative to the output folder (``networks/<name>.npz``), so that the folder
        can be moved.
    sha256 : str
        Its content (:func:`network_fingerprint`).
    settings : dict
        What made it: the network spec, the dataset (for a user's ``[dataset] npz``, the digest of
        its content too), the hardware of hardware-aware training and, for ``recipe = "file"``,
        the content digest of the source file.
    members : tuple of TrainedNetwork
        Its committee members ``1 .. members - 1`` (``[[networks]] members``), each a network of
        its own (``networks/<name>.member<k>.npz``, the spec's seed + k); member 0 is this network.
        Not part of :meth:`to_dict` (a sweep's trials name them in their ``committee`` parameter,
        :func:`member_paths`).
    """

    file: str
    sha256: str
    settings: dict[str, Any]
    members: tuple[TrainedNetwork, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "settings": self.settings}


def member_name(name: str, k: int) -> str:
    """Name (and file stem) of committee member ``k >= 1`` of network ``name`` (member 0 is the network)."""
    return f"{name}.member{k}"


def _member_specs(config: ExperimentConfig) -> list[tuple[str, NetworkSpec]]:
    """Every network of ``config`` by name, its committee members included (member k: seed + k)."""
    out = [(spec.name, spec) for spec in config.networks]
    out += [(member_name(spec.name, k), replace(spec, seed=spec.seed + k, members=1))
            for spec in config.networks for k in range(1, spec.members)]
    names = [name for name, _ in out]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ConfigError(f"{config.source}: network name(s) {', '.join(map(repr, clash))} are also the names of "
                          "committee members (<name>.member<k>); rename them.")
    return out


def member_paths(nets: Mapping[str, TrainedNetwork]) -> dict[str, list[dict[str, Any]]]:
    """Network name -> its committee members 1 .. members - 1 as the ``"evaluate"`` trial's
    ``committee`` parameter takes them (``file`` relative to the output folder, ``sha256``,
    ``settings``); networks without members are left out."""
    return {name: [m.to_dict() for m in n.members] for name, n in nets.items() if n.members}


def _in_config(config: ExperimentConfig, what: str, load: Callable[[], T]) -> T:
    """``load()``, with a ConfigError from it prefixed by the config file and ``what`` it was loading (a
    missing or damaged model or dataset file is named by its resolved path only)."""
    try:
        return load()
    except ConfigError as exc:
        if str(exc).startswith(f"{config.source}:"):
            raise
        raise type(exc)(f"{config.source}: {what}: {exc}") from None


def config_dataset(config: ExperimentConfig) -> Dataset:
    """The config's dataset (:func:`cached_dataset`); errors name the config file."""
    return _in_config(config, f"dataset {config.dataset!r}", lambda: cached_dataset(config.dataset,
                                                                                      config.dataset_file))


def network_settings(config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Per network, committee members (:func:`member_name`) included, the settings that make it (see
    :class:`TrainedNetwork`); reads the source file of ``recipe = "file"`` (FileFormatError if it is
    not a network). The number of ``members`` is left out of the spec: it does not change a network
    (each member has its own entry)."""
    base = Path(config.source).parent if config.source != "<dict>" else None
    # a user's dataset is named after its file: its content, not its name, is what the network was trained on
    data_sha = None if config.dataset_file is None else _dataset_digest(config_dataset(config))
    out = {}
    for name, spec in _member_specs(config):
        spec_d = spec.to_dict()
        del spec_d["members"]
        key: dict[str, Any] = {"spec": spec_d, "dataset": config.dataset, "dataset_sha256": data_sha,
                               "hardware": config.hardware.to_dict() if spec.training == "hardware-aware" else None}
        if spec.recipe in ("file", "onnx"):
            key["source_sha256"] = network_fingerprint(
                _in_config(config, f"network {name!r}", lambda: load_network(_source(spec, base))))
        out[name] = _no_nulls(json.loads(json.dumps(key)))  # plain JSON, as sweep specs hold it
    return out


def _dataset_digest(data: Dataset) -> str:
    """SHA-256 of a dataset's splits (dtype, shape and values of every array) and number of classes."""
    h = hashlib.sha256(f"n_classes {data.n_classes}".encode())
    for split in ("train", "val", "test"):
        for part in ("x", "y"):
            a = np.ascontiguousarray(getattr(data, f"{part}_{split}"))
            h.update(f"{part}_{split} {a.dtype.str} {a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def _no_nulls(value: Any) -> Any:
    """``value`` without the table entries that are None (unset options; sweep specs hold no nulls)."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def _source(spec: NetworkSpec, base: Path | None) -> Path:
    path = Path(spec.file)  # type: ignore[arg-type]
    return base / path if base is not None and not path.is_absolute() else path


def changed_settings(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What differs between two settings of network ``name``, in words (``epochs 5 -> 300``)."""
    parts = []
    flat_old, flat_new = _flatten(old), _flatten(new)
    for k in sorted(set(flat_old) | set(flat_new)):
        if flat_old.get(k) != flat_new.get(k):
            label = {"source_sha256": "the content of its source file",
                     "dataset_sha256": "the content of its dataset file"}.get(k, k.removeprefix("spec."))
            parts.append(f"{label} {_short(flat_old.get(k))} -> {_short(flat_new.get(k))}")
    return f"network {name!r}: " + ("; ".join(parts) if parts else "same settings")


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _short(v: Any) -> str:
    return json.dumps(v)


def _read_index(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        index = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise FileFormatError(f"network index {path} is damaged (not JSON): {str(exc)[:200]}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the network index {path}: {exc}") from exc
    if not isinstance(index, dict) or not all(isinstance(v, dict) for v in index.values()):
        raise FileFormatError(f"network index {path} is damaged: expected a table of network name -> entry.")
    return index


def indexed_settings(out: Path) -> dict[str, Any]:
    """Per network, the settings recorded in ``out/networks/networks.json`` (empty if none)."""
    index = _read_index(out / "networks" / "networks.json")
    return {name: entry.get("key") for name, entry in index.items()}


def train_all(config: ExperimentConfig, out: Path, progress: ProgressCallback | None,
              settings: Mapping[str, Mapping[str, Any]] | None = None,
              provenance: Mapping[str, Any] | None = None) -> dict[str, TrainedNetwork]:
    """Train (or reuse from ``out/networks``) every network of ``config`` and its committee members
    (returned in :attr:`TrainedNetwork.members` of their network, not as networks of their own).

    A cached ``networks/<name>.npz`` is reused only when ``networks.json`` records the same settings
    (:func:`network_settings`, which for ``recipe = "file"`` include the source file's content) and
    the file still holds the network recorded there; otherwise the network is trained (or copied)
    again. Each entry written records ``provenance``, the record of the run that trained the
    network (versions, commit, config, seed, command; :func:`xbarsim.provenance.collect`, collected
    here when not given). The caller holds the output folder's writer lock.
    """
    settings = network_settings(config) if settings is None else settings
    folder = refuse_symlink(out / "networks")
    folder.mkdir(parents=True, exist_ok=True)
    data = config_dataset(config)
    base = Path(config.source).parent if config.source != "<dict>" else None
    index_path = folder / "networks.json"
    index = _read_index(index_path)
    nets: dict[str, TrainedNetwork] = {}
    for name, spec in _member_specs(config):
        if spec.recipe == "onnx":  # the user's model is evaluated from its own file, never retrained
            src = _source(spec, base).resolve()
            nets[name] = TrainedNetwork(file=str(src), sha256=network_fingerprint(load_network(src)),
                                        settings=dict(settings[name]))
            continue
        path = folder / f"{name}.npz"
        key = dict(settings[name])
        entry = index.get(name, {})
        if path.exists() and entry.get("key") == key and isinstance(entry.get("sha256"), str):
            try:
                load_network(path, sha256=entry["sha256"])
                nets[name] = TrainedNetwork(file=f"networks/{path.name}", sha256=entry["sha256"], settings=key)
                continue
            except FileFormatError:
                pass  # damaged or replaced: train it again
        t0 = time.perf_counter()
        label = f"training {name} ({spec.recipe}, {spec.training})"
        if progress is not None:
            progress(label, 0, 1)
        if spec.recipe == "file":
            net = _in_config(config, f"network {name!r}", lambda: load_network(_source(spec, base)))
        else:
            try:
                net = train_network(spec, data, config.hardware, base_dir=base)
            except ConfigError as exc:  # e.g. a recipe whose output layer does not fit the dataset's labels
                if str(exc).startswith(f"{config.source}:"):
                    raise
                raise type(exc)(f"{config.source}: network {name!r} (recipe {spec.recipe!r}) on dataset "
                                f"{config.dataset!r}: {exc}") from None
        arrays: dict[str, Any] = net.to_dict()
        replace_from(path, lambda tmp: np.savez(tmp, **arrays))
        digest = network_fingerprint(net)
        x, y = data.split(config.split)
        index[name] = {"key": key, "sha256": digest, "software_accuracy": net.accuracy(x, y),
                       "layer_sizes": list(net.layer_sizes), "ternary": net.is_ternary,
                       "train_time_s": time.perf_counter() - t0,
                       "provenance": _prov.provenance_json(_prov.collect(seed=config.seed) if provenance is None
                                                           else provenance)}
        write_text(index_path, json.dumps(index, indent=2) + "\n")
        if progress is not None:
            progress(label, 1, 1)
        nets[name] = TrainedNetwork(file=f"networks/{path.name}", sha256=digest, settings=key)
    return {spec.name: replace(nets[spec.name], members=tuple(nets[member_name(spec.name, k)]
                                                              for k in range(1, spec.members)))
            for spec in config.networks}
