"""Helpers of the sweep tests: a marking trial kind, a standalone CLI harness entry, record comparison.

The trial kind ``"marked"`` (:func:`marked_trial`, in :data:`TEST_TRIALS` with the library's kinds)
appends ``start``/``end`` lines (tagged with the trial's seed spawn key and the process id) to
``marker_file`` around an inner built-in trial, so a test can see which process ran which trial and
how often. Worker processes find it by importing this module (``tests`` is on their
``sys.path``, inherited from the driver). Nothing here mocks Dask, SQLite or ngspice.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xbarsim.experiments import TRIALS
from xbarsim.sweeps import ResultStore, TrialRecord, trial_seed


def seed_tag(spawn_key: tuple[int, ...]) -> str:
    return "-".join(str(int(w)) for w in spawn_key)


def marked_trial(params: Mapping[str, Any], rng: np.random.Generator) -> Mapping[str, Any]:
    """Run ``TRIALS[inner]`` (default "circuit") after ``delay_s`` seconds, logging start and end."""
    p = dict(params)
    marker = Path(p.pop("marker_file"))
    delay = float(p.pop("delay_s", 0.0))
    inner = p.pop("inner", "circuit")
    tag = seed_tag(rng.bit_generator.seed_seq.spawn_key)  # type: ignore[attr-defined]
    with marker.open("a") as fh:
        fh.write(f"start {tag} {os.getpid()} {time.time():.6f}\n")
    time.sleep(delay)
    out = TRIALS[inner](p, rng)
    with marker.open("a") as fh:
        fh.write(f"end {tag} {os.getpid()} {time.time():.6f}\n")
    return out


def environ_trial(params: Mapping[str, Any], rng: np.random.Generator) -> Mapping[str, Any]:
    """The worker process's glibc allocator variables (-1 where unset) and the level Dask's
    ``distributed.batched`` logger passes."""
    import logging

    return {"mmap_threshold": float(os.environ.get("MALLOC_MMAP_THRESHOLD_", "-1")),
            "trim_threshold": float(os.environ.get("MALLOC_TRIM_THRESHOLD_", "-1")),
            "log_level": float(logging.getLogger("distributed.batched").getEffectiveLevel())}


#: The library's trial kinds plus ``"marked"`` and ``"environ"``, for the CLI harness (``sweep_cli.py``).
TEST_TRIALS = {**TRIALS, "marked": marked_trial, "environ": environ_trial}


def marker_events(marker: Path) -> list[tuple[str, str, int, float]]:
    """``(event, seed tag, pid, unix time)`` lines of a marker file, in order (a torn last line is skipped)."""
    if not marker.exists():
        return []
    out = []
    for line in marker.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] in ("start", "end"):
            out.append((parts[0], parts[1], int(parts[2]), float(parts[3])))
    return out


def executions(marker: Path, event: str = "start") -> Counter[str]:
    """How many times each seed tag had ``event`` in the marker file."""
    return Counter(tag for ev, tag, _, _ in marker_events(marker) if ev == event)


def tag_of(seed: int, key: str) -> str:
    return seed_tag(trial_seed(seed, key).spawn_key)


def deterministic(results: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics without wall-clock measurements (names ending in ``_time_s``)."""
    return {k: v for k, v in results.items() if not k.endswith("_time_s")}


def records(store: Path) -> list[TrialRecord]:
    with ResultStore(store, readonly=True) as db:
        return db.records()


def assert_same_metrics(a: list[TrialRecord], b: list[TrialRecord]) -> None:
    """Same keys, statuses and deterministic metrics, bit for bit (floats compared exactly)."""
    assert [r.key for r in a] == [r.key for r in b]
    for x, y in zip(a, b):
        assert x.status == y.status, (x, y)
        assert x.error_type == y.error_type, (x, y)
        dx, dy = deterministic(x.results), deterministic(y.results)
        assert dx == dy, (x.key, dx, dy)
        for k, v in dx.items():  # == would also accept 1 == 1.0; bit-identical means same type and bits
            assert type(v) is type(dy[k]) and repr(v) == repr(dy[k]), (x.key, k, v, dy[k])
