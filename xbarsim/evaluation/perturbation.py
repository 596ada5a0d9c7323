"""Hardware-aware training perturbations built from the device model (Drolet et al. 2023).

:class:`DevicePerturbation` is a callable ``(weights, rng) -> weights`` for
:func:`xbarsim.networks.train` (and :func:`~xbarsim.networks.correct_under_perturbation`). At every
call it redraws one simulated weight transfer: each layer is encoded as conductances, every device
gets the preset's programming error, the half-select disturbance of the devices programmed after it
in its array, and with the preset's fault rates is replaced by a stuck device (a crossbar-specific
dropout); the conductances are decoded back to weights.

Model (Drolet et al., arXiv:2305.18495, and their code release 3it-inpaqt/Hardware-Aware-Article,
``hardaware_linear.py``, "double column" scheme), per layer ``W`` and per draw:

1. differential pairs with the layer's largest weight at full window:
   ``s = (g_max - g_min) / max|W|``, ``G+ = g_min + s max(W, 0)``, ``G- = g_min + s max(-W, 0)``
   (ternary networks: ``G_ON`` / ``G_OFF`` pairs, ``s = (G_ON - G_OFF) / gamma``, as in LEA);
2. programming: ``G <- G (1 + o + sigma(G) z)`` with a per-device offset ``o ~ N(-0.589 %, 0.339 %)``
   and tuning imprecision ``sigma(G) = -6.24e-4 %/uS G + 0.691 %`` (the ``tio2_passive`` preset's
   :class:`~xbarsim.devices.ProgrammingError`; other presets bring their own, e.g. LEA's absolute
   N(0, 16.66 uS) write noise);
3. half-select disturbance: ``G <- G + dG`` with ``dG ~ N(mean(n), std(n))`` where ``n`` is the
   number of devices programmed after this one in its array (arrays of ``array_shape``, programmed
   row by row), from the measured statistics (:meth:`DisturbanceModel.measured`) or from the
   analysis layer's calibrated switching law (:meth:`DisturbanceModel.calibrated`);
4. stuck devices: the preset's :class:`~xbarsim.devices.FaultModel` (TiO2: 0.5 % at LRS with
   ``G ~ N(573, 99) uS``, 0.5 % at HRS with ``G ~ U(10, 100) uS``) replaces devices at random;
5. ``W' = (G+ - G-) / s``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from xbarsim._typing import BoolArray, FloatArray, IntArray
from xbarsim._validation import MAX_ELEMENTS, as_float_array, check_rng, fraction, readonly, short_repr
from xbarsim.devices import PRESETS, DevicePreset, drolet_disturbance_stats
from xbarsim.errors import ConfigError

__all__ = [
    "DisturbanceModel",
    "DevicePerturbation",
    "ConductanceSample",
    "device_perturbation",
    "programming_order_after",
]

PerturbationEncoding = Literal["differential", "ternary"]


@dataclass(frozen=True, kw_only=True, eq=False)
class DisturbanceModel:
    """Half-select disturbance of a programmed device versus ``n``, the devices programmed after it.

    Attributes
    ----------
    mean, std : ndarray, shape (K,)
        Siemens, mean and standard deviation of the conductance change for ``n = 1 .. K``.
    source : str
        Where the statistics come from.

    Notes
    -----
    ``n = 0`` (the last device programmed) is not disturbed. Beyond ``K`` the statistics of ``K``
    are used (the measured curve has few samples there and stops at ``n = 54``). Rows without data
    in the source take the previous row's values.
    """

    mean: FloatArray
    std: FloatArray
    source: str = ""

    def __post_init__(self) -> None:
        m = np.asarray(self.mean, dtype=np.float64)
        s = np.asarray(self.std, dtype=np.float64)
        if m.ndim != 1 or m.shape != s.shape or m.size == 0:
            raise ConfigError(f"`mean` and `std` must be 1-D of the same non-zero length; got shapes {m.shape}, "
                              f"{s.shape}.")
        if not (np.isfinite(m).all() and np.isfinite(s).all()) or (s < 0).any():
            raise ConfigError("`mean` must be finite and `std` finite and non-negative (siemens).")
        object.__setattr__(self, "mean", readonly(m))
        object.__setattr__(self, "std", readonly(s))

    @property
    def n_max(self) -> int:
        """``K``, the largest ``n`` with its own statistics."""
        return int(self.mean.size)

    @classmethod
    def from_table(cls, n: Any, mean: Any, std: Any, *, source: str = "", valid: Any = None) -> DisturbanceModel:
        """From rows ``(n, mean, std)``; rows not ``valid`` (or NaN) are filled from the previous row.

        ``n`` are whole numbers of later writes (1, 2, ...), one row each: a fractional ``n`` (it was
        truncated, 1.5 read as 1) or two usable rows of one ``n`` (the last silently won) are refused.
        """
        nf = as_float_array(n, "n", what="1-D array of whole numbers of later writes")
        mm = np.asarray(mean, dtype=np.float64)
        ss = np.asarray(std, dtype=np.float64)
        if nf.ndim != 1 or mm.shape != nf.shape or ss.shape != nf.shape or (
                valid is not None and np.shape(valid) != nf.shape):
            raise ConfigError(f"`n`, `mean`, `std` (and `valid`) must be 1-D arrays of one length; got shapes "
                              f"{nf.shape}, {mm.shape}, {ss.shape}"
                              + ("" if valid is None else f", {np.shape(valid)}") + ".")
        if np.any(nf != np.round(nf)) or np.any(nf > MAX_ELEMENTS):
            bad = nf[(nf != np.round(nf)) | (nf > MAX_ELEMENTS)][0]
            raise ConfigError(f"`n` must hold whole numbers of later writes (at most {MAX_ELEMENTS}); got "
                              f"{short_repr(float(bad))}.")
        nn = nf.astype(np.int64)
        ok = np.isfinite(mm) & np.isfinite(ss) & (nn >= 1)
        if valid is not None:
            ok &= np.asarray(valid, dtype=bool)
        if not ok.any():
            raise ConfigError("the disturbance statistics hold no usable row.")
        dup, count = np.unique(nn[ok], return_counts=True)
        if np.any(count > 1):
            raise ConfigError(f"`n` holds {int(dup[count > 1][0])} in {int(count.max())} usable rows; the "
                              "disturbance statistics need one row per number of later writes.")
        k = int(nn[ok].max())
        mean_d = np.full(k, np.nan)
        std_d = np.full(k, np.nan)
        mean_d[nn[ok] - 1] = mm[ok]
        std_d[nn[ok] - 1] = ss[ok]
        first = int(np.flatnonzero(np.isfinite(mean_d))[0])
        mean_d[:first], std_d[:first] = mean_d[first], std_d[first]
        for i in range(1, k):
            if not np.isfinite(mean_d[i]):
                mean_d[i], std_d[i] = mean_d[i - 1], std_d[i - 1]
        return cls(mean=mean_d, std=std_d, source=source)

    @classmethod
    def measured(cls) -> DisturbanceModel:
        """Drolet et al.'s measured statistics (:func:`xbarsim.devices.drolet_disturbance_stats`)."""
        st = drolet_disturbance_stats()
        return cls.from_table(st.n_subsequent, st.mean_dg, st.std_dg, valid=st.n_samples > 0,
                              source="measured: Drolet et al. biasing_disturbance_stats.csv")

    @classmethod
    def from_curve(cls, curve: Any, *, source: str = "simulated curve") -> DisturbanceModel:
        """From an analysis-layer :class:`~xbarsim.analysis.DisturbanceCurve`."""
        return cls.from_table(curve.n, curve.mean, curve.std, valid=np.asarray(curve.count) > 0, source=source)

    @classmethod
    def calibrated(cls, *, n_arrays: int = 16, seed: int = 0) -> DisturbanceModel:
        """Simulated with the switching law calibrated to Drolet's data
        (:func:`xbarsim.analysis.drolet_tio2_law`, :func:`xbarsim.analysis.simulate_disturbance`:
        8 x 8 TiO2 arrays, V/2, 1 % tolerance, row-major order). Takes tens of seconds."""
        from xbarsim.analysis import drolet_tio2_law, simulate_disturbance

        curve = simulate_disturbance(drolet_tio2_law(), n_arrays=n_arrays, seed=seed)
        return cls.from_curve(curve, source=f"calibrated: drolet_tio2_law, {n_arrays} simulated 8x8 arrays, "
                                            f"seed {seed}")

    def sample(self, n_after: IntArray, rng: np.random.Generator) -> FloatArray:
        """Siemens, one draw of the change of devices with ``n_after`` devices programmed after them."""
        n = np.asarray(n_after, dtype=np.int64)
        idx = np.clip(n, 1, self.n_max) - 1
        d = check_rng(rng).normal(self.mean[idx], self.std[idx])
        return np.where(n > 0, d, 0.0)


def programming_order_after(shape: tuple[int, int], array_shape: tuple[int, int]) -> IntArray:
    """For a ``shape`` matrix of devices tiled on arrays of ``array_shape`` (edge arrays smaller) and
    programmed row by row within each array: how many devices of its array are programmed after
    each device."""
    m, n = shape
    r, c = array_shape
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    rows_in = np.minimum(r, m - (i // r) * r)
    cols_in = np.minimum(c, n - (j // c) * c)
    pos = (i % r) * cols_in + (j % c)
    return np.asarray(rows_in * cols_in - 1 - pos, dtype=np.int64)


@dataclass(frozen=True, kw_only=True, eq=False)
class ConductanceSample:
    """One draw of the conductances of a layer's differential pairs.

    Attributes
    ----------
    target_pos, target_neg : ndarray, shape (m, n)
        Siemens, the nominal ``G+`` and ``G-``.
    pos, neg : ndarray, shape (m, n)
        Siemens, the perturbed ones.
    stuck_pos, stuck_neg : ndarray of bool, shape (m, n)
        Devices replaced by stuck ones.
    g_scale : float
        Siemens per weight unit (``W = (G+ - G-) / g_scale``); 0 for an all-zero layer.
    """

    target_pos: FloatArray
    target_neg: FloatArray
    pos: FloatArray
    neg: FloatArray
    stuck_pos: BoolArray
    stuck_neg: BoolArray
    g_scale: float

    @property
    def weights(self) -> FloatArray:
        """The perturbed weights ``(G+ - G-) / g_scale``."""
        if self.g_scale == 0:
            return np.zeros_like(self.pos)
        return (self.pos - self.neg) / self.g_scale


@dataclass(frozen=True, kw_only=True, eq=False)
class DevicePerturbation:
    """A hardware-aware training perturbation: one simulated weight transfer per call.

    Attributes
    ----------
    preset : DevicePreset
        The device model (window, levels, programming error, faults, read noise).
    encoding : {"differential", "ternary"}
        Differential pairs with the layer's largest weight at full window, or ternary
        ``G_ON``/``G_OFF`` pairs (weights must then be ``{-gamma, 0, +gamma}``; others are refused
        with a ConfigError).
    programming : bool
        Apply the preset's programming error.
    faults : bool
        Substitute stuck devices at the preset's rates.
    disturbance : DisturbanceModel or None
        Half-select disturbance; ``None`` for none.
    read_noise : bool
        Add one read's noise (the preset's read noise) to every device.
    array_shape : (int, int) or None
        Arrays the devices are programmed in (disturbance ordering); ``None``: the preset's kernel
        shape (8 x 8 TiO2), else 64 x 64.
    perturb_biases : bool
        For :meth:`perturb_network`: biases are programmed on devices too (their own scale per
        layer), as in Drolet et al.; the training hook of :func:`xbarsim.networks.train` only
        passes weights. A ternary network's biases are real-valued: they take differential pairs
        whatever ``encoding`` says (the ternary encoding is for its weights).
    """

    preset: DevicePreset
    encoding: PerturbationEncoding = "differential"
    programming: bool = True
    faults: bool = True
    disturbance: DisturbanceModel | None = None
    read_noise: bool = False
    array_shape: tuple[int, int] | None = None
    perturb_biases: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.preset, DevicePreset):
            raise ConfigError(f"`preset` must be a DevicePreset; got {type(self.preset).__name__}.")
        if self.encoding not in ("differential", "ternary"):
            raise ConfigError(f"`encoding` must be 'differential' or 'ternary'; got {short_repr(self.encoding)}.")
        for name in ("programming", "faults", "read_noise", "perturb_biases"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"`{name}` must be a bool; got {short_repr(getattr(self, name))}.")
        if self.disturbance is not None and not isinstance(self.disturbance, DisturbanceModel):
            raise ConfigError(f"`disturbance` must be a DisturbanceModel or None; got "
                              f"{type(self.disturbance).__name__}.")
        if self.array_shape is not None:
            a = self.array_shape
            if (not isinstance(a, (tuple, list)) or len(a) != 2
                    or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in a)):
                raise ConfigError(f"`array_shape` must be (rows, columns) of positive ints; got {short_repr(a)}.")
            object.__setattr__(self, "array_shape", (int(a[0]), int(a[1])))

    @property
    def effective_array_shape(self) -> tuple[int, int]:
        """The arrays of the disturbance ordering."""
        if self.array_shape is not None:
            return self.array_shape
        return self.preset.kernel_shape if self.preset.kernel_shape is not None else (64, 64)

    def _window(self) -> tuple[float, float]:
        p = self.preset
        if self.encoding == "ternary" and p.levels is not None and len(p.levels) >= 2:
            return p.levels[0], p.levels[-1]
        return p.g_min, p.g_max

    def targets(self, w: np.ndarray) -> tuple[FloatArray, FloatArray, float]:
        """Nominal ``(G+, G-, g_scale)`` of a weight matrix (siemens, siemens per weight unit)."""
        # a NaN or inf weight was refused later as a conductance, "`target_g` ... got nan", for either
        w = as_float_array(w, "w", what="finite weight array")
        lo, hi = self._window()
        peak = float(np.abs(w).max()) if w.size else 0.0
        if peak == 0.0:
            return np.full(w.shape, lo), np.full(w.shape, lo), 0.0
        scale = (hi - lo) / peak
        if self.encoding == "ternary":
            off = np.flatnonzero((w != 0) & ~np.isclose(np.abs(w), peak, rtol=1e-9, atol=0.0))
            if off.size:  # before: thresholded at half the peak without a word
                raise ConfigError(f"encoding 'ternary' needs weights in {{-gamma, 0, +gamma}}; this matrix's largest "
                                  f"magnitude is {peak!r} but it holds {float(w.flat[off[0]])!r}. Ternarize the network "
                                  "first or use encoding 'differential'.")
            code = np.sign(w)
            return np.where(code > 0, hi, lo), np.where(code < 0, hi, lo), scale
        return lo + scale * np.maximum(w, 0.0), lo + scale * np.maximum(-w, 0.0), scale

    def _device(self, g: FloatArray, n_after: IntArray, rng: np.random.Generator) -> tuple[FloatArray, BoolArray]:
        p = self.preset
        out = p.programming.sample(g, rng) if self.programming else g.copy()
        if self.disturbance is not None:
            out = out + self.disturbance.sample(n_after, rng)
        stuck = np.zeros(g.shape, dtype=bool)
        if self.faults and p.faults.rate > 0:
            fm = p.faults.sample(g.shape, rng)
            out = fm.apply(out)
            stuck = np.asarray(fm.stuck)
        if self.read_noise and p.read_noise is not None:
            out = p.read_noise.read(out, rng)
        return np.maximum(out, 0.0), stuck

    def sample_conductances(self, w: np.ndarray, rng: np.random.Generator) -> ConductanceSample:
        """One draw of the devices of one layer. Draw order: ``G+`` then ``G-``; per part the
        programming error, the disturbance, the fault map, the read noise."""
        check_rng(rng)
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 2:
            raise ConfigError(f"a weight matrix must be 2-D (inputs, outputs); got shape {w.shape}.")
        gp, gn, scale = self.targets(w)
        n_after = programming_order_after(w.shape, self.effective_array_shape)
        pp, sp = self._device(gp, n_after, rng)
        pn, sn = self._device(gn, n_after, rng)
        return ConductanceSample(target_pos=gp, target_neg=gn, pos=pp, neg=pn, stuck_pos=sp, stuck_neg=sn,
                                 g_scale=scale)

    def perturb_matrix(self, w: np.ndarray, rng: np.random.Generator) -> FloatArray:
        """One perturbed draw of a weight matrix (an all-zero matrix is returned unchanged)."""
        s = self.sample_conductances(w, rng)
        return np.array(w, dtype=np.float64) if s.g_scale == 0 else s.weights

    def __call__(self, weights: Sequence[np.ndarray], rng: np.random.Generator) -> tuple[FloatArray, ...]:
        """Perturbed weights, one draw per layer, in layer order."""
        return tuple(self.perturb_matrix(w, rng) for w in weights)

    def perturb_network(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray] | None,
                        rng: np.random.Generator) -> tuple[tuple[FloatArray, ...], tuple[FloatArray, ...] | None]:
        """Perturbed ``(weights, biases)``; biases only when :attr:`perturb_biases` (each bias vector a
        1 x n array with its own scale), else returned as given."""
        w = self(weights, rng)
        if biases is None or not self.perturb_biases:
            return w, None if biases is None else tuple(np.asarray(b, dtype=np.float64) for b in biases)
        # real-valued biases on differential pairs (before: a ternary network's biases went through the
        # ternary encoding, thresholded at half their peak; since that encoding refuses non-ternary
        # values, a Monte Carlo of such a network failed every transfer)
        own = self if self.encoding == "differential" else dataclasses.replace(self, encoding="differential")
        return w, tuple(own.perturb_matrix(np.asarray(b, dtype=np.float64)[None, :], rng)[0] for b in biases)

    def to_dict(self) -> dict[str, Any]:
        """A JSON description (for result headers)."""
        f = self.preset.faults
        return {
            "model": "statistical", "preset": self.preset.name, "encoding": self.encoding,
            "programming": self.programming, "faults": self.faults,
            "stuck_on_rate": f.stuck_on_rate, "stuck_off_rate": f.stuck_off_rate,
            "disturbance": None if self.disturbance is None else self.disturbance.source,
            "read_noise": self.read_noise, "array_shape": list(self.effective_array_shape),
            "perturb_biases": self.perturb_biases,
        }


def device_perturbation(
    preset: DevicePreset | str | Any = "tio2_passive",
    *,
    encoding: PerturbationEncoding = "differential",
    disturbance: DisturbanceModel | Literal["measured", "calibrated"] | None = "measured",
    fault_rate: float | None = None,
    programming: bool = True,
    faults: bool = True,
    read_noise: bool = False,
    array_shape: tuple[int, int] | None = None,
    perturb_biases: bool = False,
) -> DevicePerturbation:
    """The hardware-aware training perturbation of a device preset.

    Parameters
    ----------
    preset : DevicePreset, preset name or Hardware
        ``"tio2_passive"`` (Drolet et al., default) or ``"rram_1t1r_nist"``, a preset object, or an
        :class:`~xbarsim.evaluation.Hardware` (its preset with its fault-rate and noise overrides).
    encoding : {"differential", "ternary"}
        See :class:`DevicePerturbation`.
    disturbance : "measured", "calibrated", DisturbanceModel or None
        Half-select disturbance statistics (default: Drolet's measured ones).
    fault_rate : float, optional
        Stuck fraction overriding the preset's (split as the preset splits it).
    programming, faults, read_noise, array_shape, perturb_biases
        See :class:`DevicePerturbation`.

    Returns
    -------
    DevicePerturbation
        ``perturb(weights, rng) -> weights`` for :func:`xbarsim.networks.train`.
    """
    from xbarsim.evaluation.hardware import Hardware, build_preset

    if isinstance(preset, Hardware):
        hw = preset if fault_rate is None else preset.replace(fault_rate=fault_rate)
        p = build_preset(hw)
        if array_shape is None:
            array_shape = hw.effective_kernel_shape
    elif isinstance(preset, str):
        if preset not in PRESETS:
            raise ConfigError(f"`preset` must be one of {', '.join(map(repr, PRESETS))}; got {preset!r}.")
        p = build_preset(Hardware(preset=preset, fault_rate=fault_rate))
    elif isinstance(preset, DevicePreset):
        p = preset
        if fault_rate is not None:
            # float() let True through as 1.0 and raised TypeError for '0.1' (str * float) or [0.1]
            fault_rate = fraction(fault_rate, "fault_rate")
            total = p.faults.rate
            share = p.faults.stuck_on_rate / total if total > 0 else 0.5
            p = dataclasses.replace(p, faults=dataclasses.replace(
                p.faults, stuck_on_rate=fault_rate * share, stuck_off_rate=fault_rate * (1 - share)))
    else:
        raise ConfigError(f"`preset` must be a DevicePreset, a preset name or a Hardware; got {type(preset).__name__}.")
    if isinstance(disturbance, str):
        if disturbance == "measured":
            model: DisturbanceModel | None = DisturbanceModel.measured()
        elif disturbance == "calibrated":
            model = DisturbanceModel.calibrated()
        else:
            raise ConfigError(f"`disturbance` must be 'measured', 'calibrated', a DisturbanceModel or None; "
                              f"got {disturbance!r}.")
    else:
        model = disturbance
    return DevicePerturbation(preset=p, encoding=encoding, programming=programming, faults=faults,
                              disturbance=model, read_noise=read_noise, array_shape=array_shape,
                              perturb_biases=perturb_biases)
