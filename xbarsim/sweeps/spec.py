"""What a sweep runs: :class:`SweepSpec` (a named trial kind over a parameter grid, several seeded
trials per point), its TOML form (:func:`load_sweep_config`), trial keys and trial seeds.

The spec names its trial kind by a string only; which function runs it is the caller's business
(:func:`~xbarsim.sweeps.run_sweep` takes the function as an argument), so nothing here knows what a
trial does.

Reproducibility: the key of a trial is a string of its grid parameters and trial index
(:func:`trial_key`); its generator is seeded by ``SeedSequence(entropy=seed, spawn_key=...)`` with
the spawn key taken from a SHA-256 of the key (:func:`trial_seed`). Neither depends on the worker,
the order of execution or the other trials, so any trial reruns bit-identically anywhere.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from xbarsim._validation import check_int, read_toml
from xbarsim.errors import ConfigError

__all__ = [
    "SweepSpec",
    "TrialTask",
    "TrialFunction",
    "MAX_SWEEP_TRIALS",
    "load_sweep_config",
    "quick_error",
    "trial_key",
    "trial_seed",
    "canonical",
    "check_plot_x",
]

#: The signature of a trial: ``(params, rng) -> {metric: float | int | str}``.
#:
#: A trial function takes the merged fixed and grid parameters of one trial (a mapping of JSON values)
#: and a :class:`numpy.random.Generator` seeded for that trial, and returns a flat mapping of metric
#: names to ``float``, ``int`` or ``str``. It must draw all its randomness from ``rng`` (so a trial
#: reruns bit-identically on any worker), must not write to the result store, and may raise: any
#: exception marks that trial as failed and the sweep goes on. By convention a metric whose name ends
#: in ``_time_s`` is a wall-clock measurement. Worker processes find the function through its module,
#: so it must be importable there (a module-level function).
TrialFunction = Callable[[Mapping[str, Any], np.random.Generator], Mapping[str, Any]]

#: Largest number of trials (grid points x trials per point) one sweep may have.
MAX_SWEEP_TRIALS = 1_000_000
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_PARAM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_SPEC_FIELDS = ("name", "trial", "grid", "fixed", "trials", "seed", "plot_x")
_REQUIRED = ("name", "trial")

# ----------------------------------------------------------------------------- JSON values
def canonical(value: Any) -> str:
    """``value`` as canonical JSON text (sorted keys, no spaces): equal values, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True)


def _json_value(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as plain JSON data (bool, int, finite float, str, list, dict), or ConfigError."""
    if depth > 16:
        raise ConfigError(f"{where} is nested too deeply.")
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ConfigError(f"{where} must be finite; got {value!r}.")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v, f"{where}[{k}]", depth + 1) for k, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where} must have string keys; got {k!r}.")
            out[k] = _json_value(v, f"{where}.{k}", depth + 1)
        return out
    raise ConfigError(
        f"{where} must be a number, string, boolean, list or table; got {type(value).__name__} {value!r:.60}."
    )


def _param_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _PARAM_RE.fullmatch(name):
        raise ConfigError(f"{where}: parameter names must be identifiers (letters, digits, _); got {name!r}.")
    return name


# ----------------------------------------------------------------------------- the spec
@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    """What a sweep runs: a trial kind over a parameter grid, several seeded trials per point.

    Attributes
    ----------
    name : str
        Identifier of the sweep (letters, digits, ``._-``; at most 100 characters); names the
        default output folder.
    trial : str
        Name of the trial kind (letters, digits, ``._-``). The engine does not interpret it: the caller
        passes the function that runs it to :func:`~xbarsim.sweeps.run_sweep` (the experiments layer
        maps names to functions in :data:`xbarsim.experiments.TRIALS`).
    grid : mapping of str to sequence
        Parameter name -> values; every combination (Cartesian product, in the given order, the last
        parameter varying fastest) is one grid point. Values are JSON data (numbers, strings,
        booleans, lists, tables); floats must be finite; the values of one parameter must be
        distinct. Empty: a single point.
    fixed : mapping of str to value
        Parameters passed unchanged to every trial; must not repeat a grid name.
    trials : int
        Trials per grid point, each with its own seed (>= 1).
    seed : int
        The sweep seed (>= 0), entropy of every trial's SeedSequence.
    plot_x : str or None
        The grid key on the x axis of the aggregate's plots (default: the first grid key). Presentation
        only: it is not part of :meth:`to_dict` (the spec a store is bound to), takes no part in
        equality, and changing it never invalidates a store or its ``--resume``.

    Notes
    -----
    A sweep has at most :data:`MAX_SWEEP_TRIALS` trials. Whether the parameter names suit the trial
    kind is checked by whoever knows the kind (:func:`xbarsim.experiments.check_sweep`).
    """

    name: str
    trial: str
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    trials: int = 1
    seed: int = 0
    plot_x: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise ConfigError(
                f"`name` must be 1-100 characters of letters, digits, '.', '_' or '-' starting with a letter or "
                f"digit; got {self.name!r:.80}."
            )
        if not isinstance(self.trial, str) or not _NAME_RE.fullmatch(self.trial):
            raise ConfigError(f"`trial` must be the name of a trial kind (letters, digits, '.', '_' or '-'); got "
                              f"{self.trial!r:.80}.")
        if not isinstance(self.grid, Mapping):
            raise ConfigError(f"`grid` must be a table of parameter name -> list of values; got {self.grid!r:.80}.")
        if not isinstance(self.fixed, Mapping):
            raise ConfigError(f"`fixed` must be a table of parameter name -> value; got {self.fixed!r:.80}.")
        grid: dict[str, tuple[Any, ...]] = {}
        total = 1
        for name, values in self.grid.items():
            _param_name(name, "`grid`")
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (list, tuple)):
                raise ConfigError(f"`grid.{name}` must be a list of values; got {values!r:.80}.")
            if len(values) == 0:
                raise ConfigError(f"`grid.{name}` must list at least one value; got an empty list.")
            vals = tuple(_json_value(v, f"`grid.{name}[{k}]`") for k, v in enumerate(values))
            seen: set[str] = set()
            for v in vals:
                c = canonical(v)
                if c in seen:
                    raise ConfigError(f"`grid.{name}` lists the value {c:.60} twice; grid values must be distinct.")
                seen.add(c)
            grid[name] = vals
            total *= len(vals)
            if total > MAX_SWEEP_TRIALS:
                break
        fixed: dict[str, Any] = {}
        for name, value in self.fixed.items():
            _param_name(name, "`fixed`")
            if name in grid:
                raise ConfigError(f"parameter {name!r} is in both `grid` and `fixed`; give it in one place.")
            fixed[name] = _json_value(value, f"`fixed.{name}`")
        object.__setattr__(self, "trials", check_int(self.trials, "trials", 1, MAX_SWEEP_TRIALS))
        object.__setattr__(self, "seed", check_int(self.seed, "seed", 0, 2**128 - 1))
        if total * self.trials > MAX_SWEEP_TRIALS:
            raise ConfigError(
                f"the sweep has more than {MAX_SWEEP_TRIALS} trials (grid points x `trials`); split it into "
                "several sweeps."
            )
        object.__setattr__(self, "grid", MappingProxyType(grid))
        object.__setattr__(self, "fixed", MappingProxyType(fixed))
        check_plot_x(self.plot_x, list(grid))

    # ------------------------------------------------------------------ structure
    @property
    def n_points(self) -> int:
        """Number of grid points."""
        return math.prod(len(v) for v in self.grid.values())

    @property
    def n_trials(self) -> int:
        """Total number of trials, ``n_points * trials``."""
        return self.n_points * self.trials

    def points(self) -> Iterator[dict[str, Any]]:
        """The grid points in product order (last grid parameter fastest)."""
        names = list(self.grid)
        for combo in itertools.product(*(self.grid[n] for n in names)):
            yield dict(zip(names, combo))

    def tasks(self) -> Iterator[TrialTask]:
        """Every trial: key, grid point index, trial index and merged parameters, in grid order."""
        for p, point in enumerate(self.points()):
            params = {**self.fixed, **point}
            for t in range(self.trials):
                yield TrialTask(key=trial_key(point, t), point=p, trial=t, params=params)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, the same keys as the TOML config except the presentation key ``plot_x``:
        this is the spec a store is bound to (and fingerprinted by)."""
        return {
            "name": self.name, "trial": self.trial, "grid": {k: list(v) for k, v in self.grid.items()},
            "fixed": dict(self.fixed), "trials": self.trials, "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> SweepSpec:
        """Build a spec from a dict with exactly the dataclass fields; errors name the key and ``source``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: a sweep config must be a table; got {type(data).__name__}.")
        for key in data:
            if key not in _SPEC_FIELDS:
                raise ConfigError(
                    f"{source}: unknown key {key!r} in the sweep config; valid keys: {', '.join(_SPEC_FIELDS)}."
                )
        for key in _REQUIRED:
            if key not in data:
                raise ConfigError(f"{source}: missing key {key!r} in the sweep config.")
        try:
            return cls(**dict(data))
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None


def check_plot_x(plot_x: Any, grid_keys: Sequence[str]) -> None:
    """ConfigError unless ``plot_x`` is None or one of ``grid_keys`` (the message names ``plot_x``,
    the value and the grid keys)."""
    if plot_x is None or (isinstance(plot_x, str) and plot_x in grid_keys):
        return
    keys = ", ".join(map(repr, grid_keys)) if grid_keys else "none: the grid is empty"
    raise ConfigError(f"`plot_x` must name a grid key ({keys}); got {plot_x!r:.80}.")


@dataclass(frozen=True, kw_only=True)
class TrialTask:
    """One trial to run: its key, grid point index, trial index and parameters."""

    key: str
    point: int
    trial: int
    params: Mapping[str, Any]


def trial_key(point: Mapping[str, Any], trial: int) -> str:
    """The deterministic key of trial ``trial`` at grid point ``point``.

    ``name=<JSON value>`` pairs sorted by name and joined by ``,``, then ``#<trial>``; e.g.
    ``segment_ohm=1.0,size=16#3``. Independent of the grid's declaration order, so reordering the
    grid in a config does not change keys (or seeds).
    """
    parts = ",".join(f"{name}={canonical(point[name])}" for name in sorted(point))
    return f"{parts}#{int(trial)}"


def trial_seed(seed: int, key: str) -> np.random.SeedSequence:
    """The SeedSequence of one trial: entropy ``seed``, spawn key four 32-bit words of SHA-256(key).

    Stable across processes, machines and Python versions (unlike ``hash()``).
    """
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    words = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    return np.random.SeedSequence(entropy=int(seed), spawn_key=words)


def load_sweep_config(path: str | os.PathLike[str], *, quick: bool = False) -> SweepSpec:
    """Read a sweep spec from a TOML file whose keys map one-to-one onto :class:`SweepSpec`.

    An optional ``[quick]`` table holds overrides of the same keys for a small variant (``[quick.grid]``
    and ``[quick.fixed]`` replace single entries); ``quick=True`` applies them and appends ``-quick``
    to the name.

    Example::

        name = "ir-drop"
        trial = "circuit"
        trials = 4
        seed = 1
        plot_x = "size"        # optional: x axis of the aggregate's plots (default: first grid key)

        [grid]
        segment_ohm = [0.0, 1.0, 2.0]
        size = [16, 32]

        [fixed]
        device = "ohmic"

        [quick]
        trials = 1

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed (nested too deeply included), has an unknown or
        missing key (the message names the key and the file), or a value is invalid; ``quick``
        without a ``[quick]`` table.
    """
    data = read_toml(path, "sweep config")
    p = str(path)
    q = data.pop("quick", None)
    if q is not None:
        if not isinstance(q, Mapping):
            raise ConfigError(f"{p}: [quick] must be a table of overrides.")
        for key in q:
            if key not in _SPEC_FIELDS or key == "name":
                raise ConfigError(f"{p}: unknown key {key!r} in [quick]; valid keys: "
                                  f"{', '.join(k for k in _SPEC_FIELDS if k != 'name')}.")
    if not quick:
        return SweepSpec.from_dict(data, source=str(p))
    if q is None:
        raise ConfigError(f"{p}: --quick needs a [quick] table of overrides in the config.")
    SweepSpec.from_dict(data, source=str(p))  # the full spec first: an error after it is the overrides'
    for key, value in q.items():
        if key in ("grid", "fixed") and isinstance(value, Mapping) and isinstance(data.get(key), Mapping):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    if isinstance(data.get("name"), str):
        data["name"] = f"{data['name']}-quick"
    try:
        return SweepSpec.from_dict(data, source=str(p))
    except ConfigError as exc:  # before: named like a value of the full config
        raise quick_error(exc, p) from None


def quick_error(exc: ConfigError, source: str) -> ConfigError:
    """``exc``, raised by a config after its ``[quick]`` overrides were merged (the full config having
    loaded), as an error that says so: ``"<source>: with the [quick] overrides: <message>"``."""
    text = str(exc)
    rest = text.removeprefix(f"{source}: ")
    return ConfigError(f"{source}: with the [quick] overrides: {rest}" if rest != text else
                       f"with the [quick] overrides: {text}")

