"""The ``drolet-code`` transfer model: Drolet et al.'s statistical weight transfer as their code does it.

Drolet et al. (arXiv:2305.18495) evaluate robustness with a Monte Carlo of weight transfers. Their
code (3it-inpaqt/Hardware-Aware-Article, ``hardaware_pytorch_layers/hardaware_linear.py``,
"DoubleColumn" scheme) differs from the physical model of :class:`~xbarsim.evaluation.DevicePerturbation`
in three ways that this class follows (facts read from that file, re-implemented):

* **frame**: weights are scaled into a +-400 uS double-column frame, not the physical 100-500 uS
  window. With ``n = max(w, 0)`` whose first entry is replaced by ``max|w|``, a min-max scaler maps
  ``[min n, max n]`` onto ``[-(G_LRS - G_HRS), +(G_LRS - G_HRS)] = [-400, +400]`` uS and is applied to
  ``max(w, 0)`` (``G+``) and ``max(-w, 0)`` (``G-``); weights are decoded by the min-max map of
  ``[min w, max w]`` onto ``[min dG, max dG]`` of the ideal ``dG = G+ - G-``. A matrix whose
  entries all share a sign uses their single-column path: ``[min w, max w]`` onto 100-500 uS.
* **disturbance**: each device gets a draw from the *measured* disturbance samples for ``n``
  devices programmed after it (empirical distribution, :func:`~xbarsim.devices.drolet_disturbance_samples`),
  with ``n`` counted down from the matrix size in column-major order over the ``(out, in)``
  matrix (``W.T`` here); the last device gets none; in a weight matrix a draw beyond 4 standard
  deviations (:func:`~xbarsim.devices.drolet_disturbance_stats`) becomes +60 uS (their bias vectors
  keep every draw: ``sample_adj_effect_offsets`` checks only the weights).
* **bias**: a scalar bias (the 2-8-1 network's output bias) is never perturbed; bias vectors are.

Per device, in their order: programming offset ``G += o G / 100`` (``o ~ N(-0.589, 0.339)`` %;
single-column path: ``G -= o G / 100``), tuning imprecision ``G += (a G + b) / 100 G z`` with
``a = -6.24e-4 %/uS``, ``b = 0.691 %`` (``G`` in uS, taken before the offset in the double-column
path and after it in the single-column one), the disturbance, then 1 % of the devices replaced by
failures (half at ``N(573, 99)`` uS, half ``U(10, 100)`` uS, values put into the frame as they are).
Every weight matrix or bias vector but a one-element bias is transferred, also one whose entries are
all equal (e.g. zero biases): their single-column path with sklearn's zero-range scale (every entry
at 100 uS, 400 uS per weight unit).

Version followed: the repository's ``Update_TC`` branch (pull request 1, commit 6f5115e, July 2023;
it holds ``main_CDF.py`` and ``test_individual``, from which the paper's robustness figures come).
Its ``main`` branch (3fd4467, March 2023) differs in one line order only: there the double-column
tuning imprecision is taken after the offset, as in the single-column path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, check_rng, short_repr
from xbarsim.devices import drolet_disturbance_samples, drolet_disturbance_stats
from xbarsim.errors import ConfigError

__all__ = ["DroletCodePerturbation", "drolet_fill_order"]

_US = 1e-6


@functools.lru_cache(maxsize=1)
def _stats_std() -> dict[int, float]:
    """Standard deviation (S) per ``n`` of the authors' statistics table (their 4-sigma rule uses it)."""
    stats = drolet_disturbance_stats()
    return dict(zip(stats.n_subsequent.tolist(), stats.std_dg.tolist()))


def drolet_fill_order(shape: tuple[int, ...], rows_per_column: int = 8) -> np.ndarray:
    """``n`` per entry of a weight matrix ``(n_in, n_out)`` or a bias vector, as their code counts it.

    Entries are visited column-major over the ``(out, in)`` matrix (``out`` fastest, an 8-row
    crossbar), i.e. row-major over ``(n_in, n_out)``; the ``k``-th visited entry gets ``n = size - k``.
    """
    if len(shape) == 2 and shape[1] > rows_per_column:
        raise ConfigError(f"the authors' code fills {rows_per_column}-row arrays; a layer with {shape[1]} outputs "
                          "does not fit that order. Use the physical model (DevicePerturbation).")
    size = int(np.prod(shape))
    return (size - np.arange(size)).reshape(shape)


@dataclass(frozen=True, kw_only=True, eq=False)
class DroletCodePerturbation:
    """One weight transfer per call, as Drolet et al.'s code draws it (see the module notes).

    Attributes
    ----------
    g_lrs, g_hrs : float
        Siemens, the window ends (2 kOhm -> 500 uS, 10 kOhm -> 100 uS); the frame is +-(g_lrs - g_hrs).
    offset_mean, offset_std : float
        Percent, programming offset per device.
    a_prog, b_prog : float
        Percent per uS and percent: tuning imprecision ``a_prog G + b_prog`` (G in uS).
    failure_rate_lrs, failure_rate_hrs : float
        Fractions of devices replaced by LRS / HRS failures (0.5 % each).
    failure_lrs_mean, failure_lrs_std : float
        Siemens, LRS failure conductance (573, 99 uS).
    failure_hrs_low, failure_hrs_high : float
        Siemens, HRS failures uniform in this range (10-100 uS).
    disturbance : bool
        Add the measured disturbance samples.
    outlier_value : float
        Siemens, what a disturbance draw beyond 4 standard deviations becomes in a weight matrix
        (+60 uS; bias vectors keep their draws, as the authors' code does).
    perturb_biases : bool
        For :meth:`perturb_network`: perturb bias vectors (scalar biases stay exact either way).
    samples : mapping of int to ndarray
        The disturbance samples drawn from, per ``n`` (devices programmed after the disturbed one):
        by default the measured ones, :func:`~xbarsim.devices.drolet_disturbance_samples`.
    """

    g_lrs: float = 500e-6
    g_hrs: float = 100e-6
    offset_mean: float = -0.589
    offset_std: float = 0.339
    a_prog: float = -6.24e-4
    b_prog: float = 0.691
    failure_rate_lrs: float = 0.005
    failure_rate_hrs: float = 0.005
    failure_lrs_mean: float = 573e-6
    failure_lrs_std: float = 99e-6
    failure_hrs_low: float = 10e-6
    failure_hrs_high: float = 100e-6
    disturbance: bool = True
    outlier_value: float = 60e-6
    perturb_biases: bool = True
    samples: Mapping[int, FloatArray] = field(default_factory=drolet_disturbance_samples, repr=False)

    def __post_init__(self) -> None:
        for name in ("g_lrs", "g_hrs", "offset_mean", "offset_std", "a_prog", "b_prog", "failure_rate_lrs",
                     "failure_rate_hrs", "failure_lrs_mean", "failure_lrs_std", "failure_hrs_low",
                     "failure_hrs_high", "outlier_value"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ConfigError(f"`{name}` must be a finite number; got {short_repr(v)}.")
        if not 0 < self.g_hrs < self.g_lrs:
            raise ConfigError(f"`g_hrs` and `g_lrs` must satisfy 0 < g_hrs < g_lrs (siemens); got {self.g_hrs!r}, "
                              f"{self.g_lrs!r}.")
        if not (0 <= self.failure_rate_lrs and 0 <= self.failure_rate_hrs
                and self.failure_rate_lrs + self.failure_rate_hrs <= 1):
            raise ConfigError("`failure_rate_lrs` and `failure_rate_hrs` must be non-negative fractions summing to <= 1.")
        # numpy raised "scale < 0" at the first draw for these, and drew from a reversed HRS range without a word
        for name in ("offset_std", "failure_lrs_std"):
            if getattr(self, name) < 0:
                raise ConfigError(f"`{name}` must be a non-negative standard deviation; got {getattr(self, name)!r}.")
        if self.failure_hrs_low > self.failure_hrs_high:
            raise ConfigError(f"`failure_hrs_low` ({self.failure_hrs_low!r}) must not exceed `failure_hrs_high` "
                              f"({self.failure_hrs_high!r}) (siemens).")
        for name in ("disturbance", "perturb_biases"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"`{name}` must be a bool; got {short_repr(getattr(self, name))}.")
        if not isinstance(self.samples, Mapping):
            raise ConfigError(f"`samples` must map n to arrays of disturbance samples (siemens); got "
                              f"{short_repr(self.samples)}.")

    # ---------------------------------------------------------------------------- one matrix
    def frame(self, w: Any) -> tuple[FloatArray, FloatArray]:
        """Nominal ``(G+, G-)`` in siemens of a mixed-sign matrix in the +-400 uS frame (before noise)."""
        arr = np.asarray(w, dtype=np.float64)
        n = np.maximum(arr, 0.0).ravel().copy()
        n[0] = np.abs(arr).max()
        span = self.g_lrs - self.g_hrs
        lo, hi = float(n.min()), float(n.max())
        scale = (2 * span) / (hi - lo) if hi > lo else 2 * span  # sklearn's MinMaxScaler: zero range -> 1

        def t(x: FloatArray) -> FloatArray:
            return -span + (x - lo) * scale

        return t(np.maximum(arr, 0.0)), t(np.maximum(-arr, 0.0))

    def _disturb(self, shape: tuple[int, ...], rng: np.random.Generator) -> FloatArray:
        out = np.zeros(shape)
        if not self.disturbance:
            return out
        order = drolet_fill_order(shape)
        flat = out.ravel()
        for k, n in enumerate(order.ravel()):
            if n == 1:  # the last device programmed is not disturbed
                continue
            pool = self.samples.get(int(n))
            if pool is None or pool.size == 0:
                raise ConfigError(f"no measured disturbance samples for n = {n}; the matrix is too large "
                                  f"({int(np.prod(shape))} devices) for the authors' model.")
            v = float(pool[rng.integers(pool.size)])
            if len(shape) == 2 and abs(v) > 4 * _stats_std()[int(n)]:  # their bias vectors keep every draw
                v = self.outlier_value
            flat[k] = v
        return out

    def _fail(self, g: FloatArray, rng: np.random.Generator) -> FloatArray:
        total = self.failure_rate_lrs + self.failure_rate_hrs
        if total == 0:
            return g
        hrs = rng.uniform(size=g.shape) <= self.failure_rate_hrs / total
        mask = rng.uniform(size=g.shape) <= total
        lrs_val = rng.normal(self.failure_lrs_mean, self.failure_lrs_std, size=g.shape)
        hrs_val = rng.uniform(self.failure_hrs_low, self.failure_hrs_high, size=g.shape)
        return np.where(mask & hrs, hrs_val, np.where(mask & ~hrs, lrs_val, g))

    def _tune(self, g: FloatArray, rng: np.random.Generator) -> FloatArray:
        g_us = g / _US
        return (self.a_prog * g_us + self.b_prog) / 100 * g_us * _US * rng.standard_normal(g.shape)

    def perturb_matrix(self, w: Any, rng: np.random.Generator) -> FloatArray:
        """One transfer of a weight matrix ``(n_in, n_out)`` or bias vector; a one-element bias is exact."""
        check_rng(rng)
        # a NaN or inf weight made every weight of the matrix NaN (the frame spans min to max)
        arr = as_float_array(w, "w", what="finite weight array")
        if arr.shape == (1,) or arr.size == 0:
            return arr.copy()
        w_lo, w_hi = float(arr.min()), float(arr.max())
        if np.all(arr >= 0) or np.all(arr <= 0):  # their single-column path
            w_range = w_hi - w_lo if w_hi > w_lo else 1.0  # sklearn's MinMaxScaler: zero range -> 1
            g = self.g_hrs + (arr - w_lo) * (self.g_lrs - self.g_hrs) / w_range
            g = g - rng.normal(self.offset_mean, self.offset_std, size=arr.shape) * g / 100
            g = g + self._tune(g, rng) + self._disturb(arr.shape, rng)
            g = self._fail(g, rng)
            return np.asarray(w_lo + (g - self.g_hrs) * w_range / (self.g_lrs - self.g_hrs))
        gp, gn = self.frame(arr)
        ideal = gp - gn
        d_lo, d_hi = float(ideal.min()), float(ideal.max())
        off_p = rng.normal(self.offset_mean, self.offset_std, size=arr.shape) * gp / 100
        off_n = rng.normal(self.offset_mean, self.offset_std, size=arr.shape) * gn / 100
        tune_p, tune_n = self._tune(gp, rng), self._tune(gn, rng)
        gp = gp + off_p + tune_p + self._disturb(arr.shape, rng)
        gn = gn + off_n + tune_n + self._disturb(arr.shape, rng)
        gp, gn = self._fail(gp, rng), self._fail(gn, rng)
        return np.asarray(w_lo + (gp - gn - d_lo) * (w_hi - w_lo) / (d_hi - d_lo))

    # ------------------------------------------------------------------------ the interfaces
    def __call__(self, weights: Sequence[np.ndarray], rng: np.random.Generator) -> tuple[FloatArray, ...]:
        """Perturbed weights, one draw per layer (the training hook)."""
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"`rng` must be a numpy.random.Generator; got {type(rng).__name__}.")
        return tuple(self.perturb_matrix(w, rng) for w in weights)

    def perturb_network(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray] | None,
                        rng: np.random.Generator) -> tuple[tuple[FloatArray, ...], tuple[FloatArray, ...] | None]:
        """Perturbed ``(weights, biases)``, layer by layer (weights, then that layer's bias)."""
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"`rng` must be a numpy.random.Generator; got {type(rng).__name__}.")
        ws, bs = [], []
        for i, w in enumerate(weights):
            ws.append(self.perturb_matrix(w, rng))
            if biases is not None:
                b = np.asarray(biases[i], dtype=np.float64)
                bs.append(self.perturb_matrix(b, rng) if self.perturb_biases else b.copy())
        return tuple(ws), None if biases is None else tuple(bs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON description (for result headers)."""
        return {
            "model": "drolet-code", "frame_uS": round((self.g_lrs - self.g_hrs) / _US, 6),
            "offset_percent": [self.offset_mean, self.offset_std], "tuning": [self.a_prog, self.b_prog],
            "failure_rates": [self.failure_rate_lrs, self.failure_rate_hrs],
            "disturbance": "measured samples" if self.disturbance else None, "perturb_biases": self.perturb_biases,
        }
