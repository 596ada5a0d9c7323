"""The networks of an experiment: trained by the recipes of :mod:`xbarsim.networks` (or read from a
file) once per config and cached as ``.npz`` under ``OUT/networks/`` keyed by their spec."""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim.errors import ConfigError
from xbarsim.evaluation import Hardware, device_perturbation
from xbarsim.experiments.config import ExperimentConfig, NetworkSpec
from xbarsim.experiments.report import status_line
from xbarsim.networks import (
    MLP,
    MOONS_CONFIG,
    TERNARY_FINETUNE_CONFIG,
    TERNARY_PRETRAIN_CONFIG,
    WAGE_CONFIG,
    YINYANG_CONFIG,
    load_dataset,
    ternarize,
    train_moons,
    train_ternary,
    train_wage,
    train_yinyang_ewc,
)

__all__ = ["train_network", "train_all", "member_name", "member_paths", "load_network", "network_file",
           "cached_dataset"]

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
    if spec.recipe == "wage":
        wage = replace(WAGE_CONFIG, hidden=spec.hidden or WAGE_CONFIG.hidden, epochs=spec.epochs or WAGE_CONFIG.epochs,
                       batch_size=spec.batch_size or WAGE_CONFIG.batch_size,
                       learning_rate=float(spec.learning_rate or WAGE_CONFIG.learning_rate), seed=spec.seed)
        return train_wage(dataset, wage).network
    if spec.recipe == "file":
        path = Path(spec.file)  # type: ignore[arg-type]
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return load_network(str(path))
    raise ConfigError(f"unknown recipe {spec.recipe!r}.")  # pragma: no cover


def load_network(path: str) -> MLP:
    try:
        with np.load(path, allow_pickle=False) as data:
            net = MLP.from_dict({k: data[k] for k in data.files})
    except OSError as exc:
        raise ConfigError(f"cannot read network file {path}: {exc}") from exc
    return net


@functools.lru_cache(maxsize=8)
def cached_dataset(name: str) -> Any:
    return load_dataset(name)


@functools.lru_cache(maxsize=16)
def _network_cached(path: str, mtime: float, size: int) -> MLP:
    return load_network(path)


def network_file(path: str) -> MLP:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"cannot read network file {path}: {exc}") from exc
    return _network_cached(path, st.st_mtime, st.st_size)


def member_name(name: str, k: int) -> str:
    """File stem of committee member ``k >= 1`` of network ``name`` (member 0 is the network itself)."""
    return f"{name}.member{k}"


def train_all(config: ExperimentConfig, out: Path, resume: bool, progress: bool) -> dict[str, Path]:
    folder = out / "networks"
    folder.mkdir(parents=True, exist_ok=True)
    data = cached_dataset(config.dataset)
    base = Path(config.source).parent if config.source != "<dict>" else None
    paths: dict[str, Path] = {}
    index_path = folder / "networks.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    specs = [(spec.name, spec) for spec in config.networks]
    specs += [(member_name(spec.name, k), replace(spec, seed=spec.seed + k, members=1))
              for spec in config.networks for k in range(1, spec.members)]
    for name, spec in specs:
        path = folder / f"{name}.npz"
        key = {"spec": spec.to_dict(), "dataset": config.dataset,
               "hardware": config.hardware.to_dict() if spec.training == "hardware-aware" else None}
        if path.exists() and index.get(name, {}).get("key") == key:
            paths[name] = path.resolve()
            continue
        t0 = time.perf_counter()
        if progress:
            status_line(f"training network {name!r} ({spec.recipe}, {spec.training}) ...")
        net = train_network(spec, data, config.hardware, base_dir=base)
        tmp = folder / f".{name}.tmp.npz"
        arrays: dict[str, Any] = net.to_dict()
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        x, y = data.split(config.split)
        index[name] = {"key": key, "software_accuracy": net.accuracy(x, y), "layer_sizes": list(net.layer_sizes),
                            "ternary": net.is_ternary, "train_time_s": time.perf_counter() - t0}
        index_path.write_text(json.dumps(index, indent=2) + "\n")
        paths[name] = path.resolve()
    main = {spec.name for spec in config.networks}
    return {k: v for k, v in paths.items() if k in main}


def member_paths(config: ExperimentConfig, out: Path) -> dict[str, list[str]]:
    """Network name -> the ``.npz`` paths of its committee members 1 .. members - 1 (trained by
    :func:`train_all`); networks with one member are left out."""
    return {spec.name: [str((out / "networks" / f"{member_name(spec.name, k)}.npz").resolve())
                        for k in range(1, spec.members)]
            for spec in config.networks if spec.members > 1}

