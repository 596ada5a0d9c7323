"""Calibrating the switching law to measured half-select disturbance.

:func:`simulate_disturbance` programs a set of random arrays with :func:`program_array` and pools
their disturbance curves; :func:`calibrate_switching_law` fits chosen :class:`SwitchingLaw`
parameters so that the pooled mean and standard deviation curves match the measured ones
(:func:`xbarsim.devices.measured.drolet_disturbance_stats` by default), by Nelder-Mead on the
weighted least-squares objective of :func:`compare_disturbance` with common random numbers (the
same seed for every evaluation, so the objective is deterministic).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from itertools import product
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import WriteSchemeName
from xbarsim._validation import as_float_array, check_int, check_size, short_repr
from xbarsim.analysis._common import check_line_progress
from xbarsim.analysis.disturbance import DisturbanceComparison, DisturbanceCurve, compare_disturbance, merge_curves
from xbarsim.analysis.programming import program_array
from xbarsim.analysis.switching import PulseSchedule, SwitchingLaw, drolet_tio2_law
from xbarsim.devices.measured import DisturbanceStats, drolet_disturbance_stats
from xbarsim.devices.presets import DevicePreset, tio2_passive
from xbarsim.errors import ConfigError
from xbarsim.netlists.lines import LineResistance

__all__ = ["DEFAULT_GRID", "LawCalibration", "simulate_disturbance", "calibrate_switching_law"]

def simulate_disturbance(
    law: SwitchingLaw,
    *,
    n_arrays: int = 16,
    shape: tuple[int, int] = (8, 8),
    preset: DevicePreset | None = None,
    scheme: WriteSchemeName = "v/2",
    schedule: PulseSchedule | None = None,
    lines: LineResistance | None = None,
    order: Any = "row-major",
    tolerance: float = 0.01,
    max_pulses: int = 100,
    seed: int = 0,
    backend: Any = "sparse",
) -> DisturbanceCurve:
    """Pooled disturbance curve of ``n_arrays`` arrays programmed with random targets.

    Targets and initial states are uniform in the preset window, faults are off (the measured
    statistics are of working devices). Defaults reproduce the calibration setting of
    :func:`~xbarsim.analysis.switching.drolet_tio2_law`: 8 x 8 :func:`tio2_passive` arrays, ideal
    wires, V/2, 1 % tolerance, row-major order.

    Parameters
    ----------
    law : SwitchingLaw
        The law to simulate.
    n_arrays : int
        Arrays to program and pool.
    shape : (int, int)
        ``(M, N)`` of each array.
    preset, scheme, schedule, lines, order, tolerance, max_pulses, backend
        As in :func:`~xbarsim.analysis.programming.program_array` (preset default :func:`tio2_passive`).
    seed : int
        Array ``k`` draws its targets and initial state from ``default_rng([seed, k, 0])`` and its
        pulses' randomness from ``default_rng([seed, k, 1])``.

    Returns
    -------
    DisturbanceCurve
    """
    if isinstance(n_arrays, bool) or not isinstance(n_arrays, (int, np.integer)) or n_arrays < 1:
        raise ConfigError(f"`n_arrays` must be a positive int; got {short_repr(n_arrays)}.")
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in shape)):
        raise ConfigError(f"`shape` must be a (rows, columns) pair of positive ints; got {short_repr(shape)}.")
    check_size((int(shape[0]), int(shape[1])), "shape")
    seed = check_int(seed, "seed", 0, 2**63 - 1)
    pre = tio2_passive() if preset is None else preset
    curves = []
    for k in range(int(n_arrays)):
        # targets and initial states from their own stream, so that they stay the same whatever the
        # law does (common random numbers); the pulses' randomness from another one per array
        setup = np.random.default_rng([seed, k, 0])
        target = setup.uniform(pre.g_min, pre.g_max, shape)
        initial = setup.uniform(pre.g_min, pre.g_max, shape)
        res = program_array(target, preset=pre, rng=np.random.default_rng([seed, k, 1]), scheme=scheme, lines=lines,
                            backend=backend, tolerance=tolerance, max_pulses=max_pulses, law=law, schedule=schedule,
                            order=order, initial=initial, faults=False,
                            n_track=max(shape[0] * shape[1] - 1, 1))
        curves.append(res.curve)
    return merge_curves(curves)


@dataclass(frozen=True, kw_only=True, eq=False)
class LawCalibration:
    """Result of :func:`calibrate_switching_law`.

    Attributes
    ----------
    law : SwitchingLaw
        The best law of the grid.
    comparison : DisturbanceComparison
        Its simulated curves against the measured ones.
    grid : tuple of dict
        Every evaluated point: the parameter values and ``rms_mean``, ``rms_std`` (siemens) and
        ``objective``.
    params : tuple of str
        The gridded parameter names.
    """

    __repr__ = compact_repr

    law: SwitchingLaw
    comparison: DisturbanceComparison
    grid: tuple[dict[str, float], ...]
    params: tuple[str, ...]


#: Default calibration grid (volt for thresholds): 36 points around the shipped law.
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "v_set": (0.80, 0.85, 0.90),
    "v_reset": (0.55, 0.60, 0.65, 0.70),
    "threshold_sigma": (0.08, 0.10, 0.12),
}


def calibrate_switching_law(
    measured: DisturbanceStats | None = None,
    *,
    start: SwitchingLaw | None = None,
    grid: Mapping[str, Sequence[float]] | None = None,
    n_arrays: int = 32,
    n_max: int = 35,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    **simulate: Any,
) -> LawCalibration:
    """Fit :class:`SwitchingLaw` parameters to measured disturbance statistics by grid search.

    Every point of the full factorial ``grid`` is simulated with :func:`simulate_disturbance` (same
    seed, so the same targets and initial states everywhere) and scored by
    :func:`compare_disturbance`; the point with the lowest objective wins.

    Parameters
    ----------
    measured : DisturbanceStats, optional
        Default :func:`xbarsim.devices.measured.drolet_disturbance_stats`.
    start : SwitchingLaw, optional
        Values of the parameters not in the grid (default :func:`drolet_tio2_law`).
    grid : mapping of str to sequence of float, optional
        SwitchingLaw field name -> values to try; default :data:`DEFAULT_GRID` (36 points).
    n_arrays : int
        Arrays per point (:func:`simulate_disturbance`). The standard deviation of heavy-tailed
        disturbance converges slowly: 32 arrays leave about +-2 uS of seed-to-seed scatter at n = 30.
    n_max : int
        Compare ``n = 1..n_max``.
    seed : int
        Seed of :func:`simulate_disturbance`.
    progress : callable, optional
        Called with a line of text per point.
    **simulate
        Passed to :func:`simulate_disturbance` (``shape``, ``scheme``, ``order``, ``schedule``, ...).

    Returns
    -------
    LawCalibration

    Notes
    -----
    A grid rather than a local optimiser: the simulated statistics are not smooth in the
    parameters (a threshold change alters pulse counts and so the whole random sequence), and
    Nelder-Mead on them wanders in the noise. About 5 s per point for 32 arrays of 8 x 8.
    """
    law0 = drolet_tio2_law() if start is None else start
    if not isinstance(law0, SwitchingLaw):
        raise ConfigError(f"`start` must be a SwitchingLaw; got {type(law0).__name__}.")
    if grid is not None and not isinstance(grid, Mapping):
        raise ConfigError(f"`grid` must be a mapping of SwitchingLaw field names to values; got {short_repr(grid)}.")
    raw = dict(DEFAULT_GRID if grid is None else grid)
    valid = {f.name for f in fields(SwitchingLaw)}
    if not raw:
        raise ConfigError("`grid` must name at least one parameter; got none.")
    g: dict[str, tuple[float, ...]] = {}
    for p, values in raw.items():
        if p not in valid:
            raise ConfigError(f"`grid` keys must be SwitchingLaw fields ({', '.join(sorted(valid))}); got {p!r}.")
        # before: a scalar raised TypeError (len of a float), a text value ValueError (float('a'))
        arr = as_float_array(values, f"grid[{p!r}]", what="sequence of numbers to try")
        if arr.ndim != 1:
            raise ConfigError(f"`grid[{p!r}]` must be a sequence of numbers to try; got {short_repr(values)}.")
        if arr.size < 1:
            raise ConfigError(f"`grid[{p!r}]` must hold at least one value; got none.")
        g[p] = tuple(float(x) for x in arr)
    check_line_progress(progress)
    meas = drolet_disturbance_stats() if measured is None else measured
    names = tuple(g)
    points: list[dict[str, float]] = []
    best: tuple[float, SwitchingLaw, DisturbanceComparison] | None = None
    for combo in product(*(g[p] for p in names)):
        law = replace(law0, **{p: float(v) for p, v in zip(names, combo, strict=True)})
        cmp = compare_disturbance(simulate_disturbance(law, n_arrays=n_arrays, seed=seed, **simulate), meas,
                                  n_max=n_max)
        points.append({**{p: float(v) for p, v in zip(names, combo, strict=True)},
                       "rms_mean": cmp.rms_mean, "rms_std": cmp.rms_std, "objective": cmp.objective})
        if progress is not None:
            progress(f"point {len(points)}: " + ", ".join(f"{p}={v:.4g}" for p, v in zip(names, combo, strict=True))
                     + f" -> rms mean {1e6 * cmp.rms_mean:.2f} uS, rms std {1e6 * cmp.rms_std:.2f} uS")
        if best is None or cmp.objective < best[0]:
            best = (cmp.objective, law, cmp)
    assert best is not None
    return LawCalibration(law=best[1], comparison=best[2], grid=tuple(points), params=names)
