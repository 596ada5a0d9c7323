"""Half-select disturbance versus the number of cells programmed afterwards, and its comparison with
the measured statistics of Drolet et al. (:func:`xbarsim.devices.measured.drolet_disturbance_stats`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import FloatArray, IntArray
from xbarsim._validation import readonly, short_repr
from xbarsim.devices.measured import DisturbanceStats, drolet_disturbance_stats
from xbarsim.errors import ConfigError

__all__ = ["DisturbanceCurve", "DisturbanceComparison", "disturbance_curve", "merge_curves", "compare_disturbance"]


@dataclass(frozen=True, kw_only=True, eq=False)
class DisturbanceCurve:
    """Conductance change of programmed cells versus the number ``n`` of cells programmed after them.

    Attributes
    ----------
    n : ndarray of int, shape (K,)
        1, 2, ..., K.
    mean : ndarray, shape (K,)
        Siemens, mean change ``G(after n more cells) - G(right after its own programming)``; NaN
        where ``count`` is 0.
    std : ndarray, shape (K,)
        Siemens, standard deviation (population) of that change; NaN where ``count`` is 0.
    count : ndarray of int, shape (K,)
        Number of cells behind each entry.
    sum, sum_sq : ndarray, shape (K,)
        Siemens and siemens squared, the raw sums (so that curves of several arrays can be merged
        exactly with :func:`merge_curves`).
    """

    __repr__ = compact_repr

    n: IntArray
    mean: FloatArray
    std: FloatArray
    count: IntArray
    sum: FloatArray
    sum_sq: FloatArray

    def __post_init__(self) -> None:
        for name in ("n", "mean", "std", "count", "sum", "sum_sq"):
            object.__setattr__(self, name, readonly(getattr(self, name)))


def _from_sums(s: FloatArray, s2: FloatArray, cnt: IntArray) -> DisturbanceCurve:
    k = s.size
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)
        var = np.where(cnt > 0, s2 / np.maximum(cnt, 1) - mean**2, np.nan)
    return DisturbanceCurve(n=np.arange(1, k + 1, dtype=np.int64), mean=mean, std=np.sqrt(np.maximum(var, 0.0)),
                            count=cnt.astype(np.int64), sum=s, sum_sq=s2)


def disturbance_curve(trajectory: FloatArray) -> DisturbanceCurve:
    """:class:`DisturbanceCurve` of a trajectory array.

    Parameters
    ----------
    trajectory : ndarray, shape (cells, K)
        Siemens; ``trajectory[p, n - 1]`` is the change of the ``p``-th programmed cell after ``n``
        more cells were programmed, NaN where there were fewer.
    """
    try:
        t = np.asarray(trajectory, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"`trajectory` must be a 2-D array of conductance changes in siemens (NaN where "
                          f"missing); got {short_repr(trajectory)}.") from None
    if t.ndim != 2:
        raise ConfigError(f"`trajectory` must be a 2-D array (cells, n); got shape {t.shape}.")
    bad = np.argwhere(np.isinf(t))
    if bad.size:  # NaN marks a missing entry; an infinite change is no measurement to leave out
        raise ConfigError(f"`trajectory` must hold finite changes in siemens (NaN where missing); got "
                          f"{float(t[tuple(bad[0])])!r} at [{bad[0][0]}, {bad[0][1]}].")
    ok = np.isfinite(t)
    z = np.where(ok, t, 0.0)
    return _from_sums(z.sum(axis=0), (z * z).sum(axis=0), ok.sum(axis=0))


def merge_curves(curves: Iterable[DisturbanceCurve]) -> DisturbanceCurve:
    """Pool several curves (e.g. of several programmed arrays) into one, exactly.

    Raises
    ------
    ConfigError
        ``curves`` is not an iterable of :class:`DisturbanceCurve` (the message names the first
        entry that is not one), or is empty.
    """
    if isinstance(curves, (DisturbanceCurve, str, bytes, np.ndarray)) or not isinstance(curves, Iterable):
        raise ConfigError(f"`curves` must be a list of DisturbanceCurve; got {short_repr(curves)}.")
    curves = list(curves)  # a generator is read once, not once per sum below
    for i, c in enumerate(curves):
        if not isinstance(c, DisturbanceCurve):
            raise ConfigError(f"`curves[{i}]` must be a DisturbanceCurve; got {short_repr(c)}.")
    if not curves:
        raise ConfigError("`curves` must hold at least one DisturbanceCurve; got none.")
    k = min(c.n.size for c in curves)
    s = sum((c.sum[:k] for c in curves), np.zeros(k))
    s2 = sum((c.sum_sq[:k] for c in curves), np.zeros(k))
    cnt = sum((c.count[:k] for c in curves), np.zeros(k, dtype=np.int64))
    return _from_sums(s, s2, cnt)


@dataclass(frozen=True, kw_only=True, eq=False)
class DisturbanceComparison:
    """A simulated disturbance curve next to the measured one.

    Attributes
    ----------
    n : ndarray of int, shape (K,)
        The compared counts ``1..n_max`` (where both have data).
    sim_mean, sim_std : ndarray, shape (K,)
        Siemens, simulated.
    meas_mean, meas_std : ndarray, shape (K,)
        Siemens, measured.
    weights : ndarray, shape (K,)
        The measured sample counts, normalised to sum 1.
    rms_mean, rms_std : float
        Siemens, weighted root-mean-square differences of the mean and of the standard deviation.
    corr_mean, corr_std : float
        Pearson correlation of simulated and measured mean (and std) curves: the agreement of
        their shapes whatever the scale.
    objective : float
        Dimensionless, ``(rms_mean^2 + rms_std^2) / (1 uS)^2``, what the calibration minimises.
    """

    __repr__ = compact_repr

    n: IntArray
    sim_mean: FloatArray
    sim_std: FloatArray
    meas_mean: FloatArray
    meas_std: FloatArray
    weights: FloatArray
    rms_mean: float
    rms_std: float
    corr_mean: float
    corr_std: float
    objective: float

    def __post_init__(self) -> None:
        for name in ("n", "sim_mean", "sim_std", "meas_mean", "meas_std", "weights"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    def at(self, n: int) -> dict[str, float]:
        """Simulated and measured mean and std (siemens) at one ``n``."""
        idx = np.flatnonzero(self.n == n)
        if idx.size == 0:
            raise ConfigError(f"`n` must be one of the compared counts 1..{int(self.n[-1])}; got {short_repr(n)}.")
        k = int(idx[0])
        return {"sim_mean": float(self.sim_mean[k]), "sim_std": float(self.sim_std[k]),
                "meas_mean": float(self.meas_mean[k]), "meas_std": float(self.meas_std[k])}

    def table(self, every: int = 5) -> str:
        """A small text table in microsiemens, one line every ``every`` counts."""
        lines = [f"{'n':>3} {'sim mean':>9} {'meas mean':>9} {'sim std':>8} {'meas std':>8}   (uS)"]
        for k in range(self.n.size):
            if (k + 1) % every == 0 or k == 0:
                lines.append(f"{int(self.n[k]):>3} {1e6 * self.sim_mean[k]:>9.2f} {1e6 * self.meas_mean[k]:>9.2f} "
                             f"{1e6 * self.sim_std[k]:>8.2f} {1e6 * self.meas_std[k]:>8.2f}")
        lines.append(f"weighted rms: mean {1e6 * self.rms_mean:.2f} uS, std {1e6 * self.rms_std:.2f} uS; "
                     f"shape correlation: mean {self.corr_mean:.2f}, std {self.corr_std:.2f}")
        return "\n".join(lines)


def compare_disturbance(
    curve: DisturbanceCurve,
    measured: DisturbanceStats | None = None,
    *,
    n_max: int = 35,
) -> DisturbanceComparison:
    """Compare a simulated :class:`DisturbanceCurve` with measured statistics.

    Parameters
    ----------
    curve : DisturbanceCurve
        Simulated.
    measured : DisturbanceStats, optional
        Default :func:`xbarsim.devices.measured.drolet_disturbance_stats`.
    n_max : int
        Compare ``n = 1..n_max``. The default 35 stops where the measured curve, built from fewer and
        fewer arrays (178 samples at n = 30, 13 at n = 50), turns back towards zero.

    Returns
    -------
    DisturbanceComparison
    """
    if not isinstance(curve, DisturbanceCurve):
        raise ConfigError(f"`curve` must be a DisturbanceCurve; got {type(curve).__name__}.")
    meas = drolet_disturbance_stats() if measured is None else measured
    if not isinstance(meas, DisturbanceStats):
        raise ConfigError(f"`measured` must be a DisturbanceStats; got {type(meas).__name__}.")
    if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 2:
        raise ConfigError(f"`n_max` must be an int >= 2; got {short_repr(n_max)}.")
    n = range(1, int(n_max) + 1)
    sim_idx = {int(k): i for i, k in enumerate(curve.n)}
    meas_idx = {int(k): i for i, k in enumerate(meas.n_subsequent)}
    keep = [k for k in n if k in sim_idx and k in meas_idx and curve.count[sim_idx[k]] > 0
            and meas.n_samples[meas_idx[k]] > 0]
    if len(keep) < 2:
        raise ConfigError(f"the curves share fewer than two counts n in 1..{n_max}; simulate more cells.")
    ks = np.array(keep)
    si = np.array([sim_idx[k] for k in keep])
    mi = np.array([meas_idx[k] for k in keep])
    sm, ss = curve.mean[si], curve.std[si]
    mm, ms = meas.mean_dg[mi], meas.std_dg[mi]
    w = meas.n_samples[mi].astype(np.float64)
    w = w / w.sum()
    rms_m = float(np.sqrt((w * (sm - mm) ** 2).sum()))
    rms_s = float(np.sqrt((w * (ss - ms) ** 2).sum()))

    def corr(a: FloatArray, b: FloatArray) -> float:
        if np.std(a) == 0 or np.std(b) == 0:
            return 0.0
        return float(np.corrcoef(a, b)[0, 1])

    return DisturbanceComparison(n=ks, sim_mean=sm, sim_std=ss, meas_mean=mm, meas_std=ms, weights=w,
                                 rms_mean=rms_m, rms_std=rms_s, corr_mean=corr(sm, mm), corr_std=corr(ss, ms),
                                 objective=(rms_m**2 + rms_s**2) / 1e-12)
