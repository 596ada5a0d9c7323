"""Layer ensemble averaging (LEA) and the baselines it is compared with, at equal device count.

Yousuf et al., "Layer Ensemble Averaging for Improving Memristor-Based Artificial Neural Network
Performance", arXiv:2404.15621 (Nat. Commun. 16, 1250, 2025). A layer's ``G+`` and ``G-`` blocks are
placed ``alpha`` times on a defective chip; after programming, a read-back decides, per output,
which ``beta`` copies to keep (the ones with the smallest summed ``|G_target - G_read|`` over that
output's devices); the kept copies are averaged at inference. Baselines at the same device count
``2 alpha m n``: plain mapping (``alpha = 1``), the paper's MAO (Yu et al. 2016 as coded in xbtorch
``deployment/weight_encoding.py`` ``encode_MAO``: all copies' currents summed, healthy devices
re-tuned copy by copy on two levels against the stuck ones: :meth:`EnsembleConfig.mao`,
:func:`mao_targets`), a stronger variant of ours (every copy averaged with joint continuous
compensation: :meth:`EnsembleConfig.lea_rme_all`) and committee machines (:func:`map_committee`:
``alpha`` independently mapped networks whose outputs the caller averages).

The flow of :func:`map_layer`:

1. characterize the chip (if not given): SET-all / RESET-all reads and thresholds;
2. encode the weights (:func:`~xbarsim.mapping.map_weights`) and tile them into blocks;
3. place alpha copies (random or greedy defect-aware);
4. program every device (write-verify, or the bias-scheme sequence with half-select disturbance),
   then read every device back;
5. keep, per output, the beta copies of lowest deviation (a static mask);
6. "reduced mapping error" (RME) encoding only: re-choose the targets of the healthy devices of
   the kept copies so that their average matches the weight despite the stuck devices, re-program
   the devices whose target changed, read back again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, BoolArray, FloatArray, WriteSchemeName
from xbarsim._validation import as_float_array, check_choice, check_rng, readonly, scalar, short_repr
from xbarsim.devices.variability import quantize
from xbarsim.errors import ConfigError
from xbarsim.mapping.chip import Characterization, Chip, characterize
from xbarsim.mapping.encoding import Encoding, MappedWeights, map_weights, mapping_error
from xbarsim.mapping.placement import Placement, PlacementMethod, place_layer
from xbarsim.mapping.programming import (
    ProgrammingReport,
    WriteVerify,
    program_sequence,
    program_transient,
    read_devices,
    write_verify,
)
from xbarsim.mapping.tiling import LayerLayout, tile_layer
from xbarsim.netlists.bias import WRITE_SCHEMES

__all__ = [
    "EnsembleEncoding",
    "Selection",
    "RmeLevels",
    "GNorm",
    "EnsembleConfig",
    "SequenceProgramming",
    "TransientProgramming",
    "Compensation",
    "MappedLayer",
    "MappedNetwork",
    "copy_deviation",
    "select_copies",
    "rme_targets",
    "mao_targets",
    "map_layer",
    "map_network",
    "map_committee",
]

#: How the copies' targets are chosen: each copy on its own ("simple"), jointly for the average of
#: the kept copies ("rme"), or the paper's MAO for the *sum* of all copies on two levels ("mao").
EnsembleEncoding = Literal["simple", "rme", "mao"]
#: How the kept copies are chosen per output: by read-back deviation, or the first beta (fault-blind).
Selection = Literal["deviation", "first"]
#: Where RME may put re-chosen targets: on the allowed levels, or anywhere in the window.
RmeLevels = Literal["levels", "continuous"]
#: The conductance step a layer's currents are decoded with: the encoding's nominal one, or
#: ``mean(G_SET) - mean(G_RESET)`` of the layer's devices from the characterization read.
GNorm = Literal["nominal", "characterized"]


def _int_at_least(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ConfigError(f"`{name}` must be an integer >= {minimum}; got {short_repr(value)}.")
    return int(value)


@dataclass(frozen=True, kw_only=True)
class EnsembleConfig:
    """How many copies of a layer, where they go, how they are encoded and which are kept.

    Attributes
    ----------
    alpha : int
        Copies of the layer placed on the chip (>= 1); the layer uses ``alpha`` times the devices
        of one copy.
    beta : int or None
        Copies kept (averaged) per output, ``1 <= beta <= alpha``; ``None`` means ``alpha``.
    placement : {"random", "greedy"}
        Block placement (:func:`~xbarsim.mapping.place_layer`).
    encoding : {"simple", "rme", "mao"}
        ``"simple"``: every copy programmed to the layer's own targets. ``"rme"`` (reduced mapping
        error): the healthy devices of the kept copies are re-chosen to cancel the stuck ones.
        ``"mao"``: the paper's MAO (:func:`mao_targets`); the copies' currents are summed, not
        averaged, so it needs ``beta = alpha`` and ``selection = "first"``.
    selection : {"deviation", "first"}
        ``"deviation"`` keeps, per output, the ``beta`` copies with the lowest summed
        ``|G_target - G_read|``; ``"first"`` keeps copies ``0 .. beta-1`` whatever they read
        (fault-blind).
    rme_levels : {"levels", "continuous"} or None
        RME only: re-chosen targets on the encoding's levels, or anywhere in ``[g_min, g_max]``
        (write-verify gets them there). ``None``: levels when the encoding has levels.
    strict : bool
        Greedy placement: reject positions with stuck-OFF or non-switching devices (default), or
        only rank them last (``False``).
    g_norm : {"nominal", "characterized"}
        Decode the layer with the encoding's nominal step (``G_ON - G_OFF``), or, as the LEA chip
        does, with ``mean(G_SET) - mean(G_RESET)`` over every device the layer occupies, read at
        characterization (stuck devices included: they lower it).
    """

    alpha: int = 1
    beta: int | None = None
    placement: PlacementMethod = "greedy"
    encoding: EnsembleEncoding = "simple"
    selection: Selection = "deviation"
    rme_levels: RmeLevels | None = None
    strict: bool = True
    g_norm: GNorm = "nominal"

    def __post_init__(self) -> None:
        a = _int_at_least(self.alpha, "alpha", 1)
        object.__setattr__(self, "alpha", a)
        if self.beta is not None:
            b = _int_at_least(self.beta, "beta", 1)
            if b > a:
                raise ConfigError(
                    f"`beta` must be at most `alpha` = {a} (copies kept per output out of the copies placed); "
                    f"got beta = {b}. What fits: beta in 1..{a}, or raise alpha to at least {b}."
                )
            object.__setattr__(self, "beta", b)
        check_choice(self.placement, get_args(PlacementMethod), "placement")
        check_choice(self.encoding, get_args(EnsembleEncoding), "encoding")
        check_choice(self.selection, get_args(Selection), "selection")
        if self.rme_levels is not None:
            check_choice(self.rme_levels, get_args(RmeLevels), "rme_levels")
        check_choice(self.g_norm, get_args(GNorm), "g_norm")
        if self.encoding == "mao" and (self.effective_beta != a or self.selection != "first"):
            raise ConfigError(f"`encoding` 'mao' sums every copy: it needs beta = alpha ({a}) and selection 'first'; "
                              f"got beta = {self.effective_beta}, selection {self.selection!r}.")
        if not isinstance(self.strict, bool):
            raise ConfigError(f"`strict` must be a bool; got {short_repr(self.strict)}.")

    @property
    def effective_beta(self) -> int:
        """``beta``, or ``alpha`` when ``beta`` is ``None``."""
        return self.alpha if self.beta is None else self.beta

    @classmethod
    def plain(cls, *, placement: PlacementMethod = "random") -> EnsembleConfig:
        """Baseline: one copy, placed fault-blind (random), programmed to its own targets."""
        return cls(alpha=1, beta=1, placement=placement, encoding="simple", selection="first")

    @classmethod
    def lea(cls, alpha: int, beta: int | None = None, *, encoding: EnsembleEncoding = "simple",
            placement: PlacementMethod = "greedy", strict: bool = True) -> EnsembleConfig:
        """Layer ensemble averaging: ``alpha`` copies, ``beta`` kept per output by read-back deviation."""
        return cls(alpha=alpha, beta=beta, placement=placement, encoding=encoding, selection="deviation", strict=strict)

    @property
    def divisor(self) -> int:
        """What the kept copies' summed currents are divided by: ``beta`` (average), or 1 for MAO (sum)."""
        return 1 if self.encoding == "mao" else self.effective_beta

    @classmethod
    def mao(cls, alpha: int, *, placement: PlacementMethod = "random") -> EnsembleConfig:
        """The LEA paper's MAO baseline: all ``alpha`` copies summed, healthy devices re-tuned copy by
        copy on two levels (:func:`mao_targets`), fault-blind placement."""
        return cls(alpha=alpha, beta=alpha, placement=placement, encoding="mao", selection="first")

    @classmethod
    def lea_rme_all(cls, alpha: int, *, placement: PlacementMethod = "random",
                    rme_levels: RmeLevels | None = None) -> EnsembleConfig:
        """All ``alpha`` copies averaged (``beta = alpha``), the healthy devices of every copy re-tuned
        jointly to cancel the stuck ones (RME on every copy, :func:`rme_targets`). Stronger than
        the paper's MAO; this project called it "mao" until the paper's was implemented."""
        return cls(alpha=alpha, beta=alpha, placement=placement, encoding="rme", selection="first",
                   rme_levels=rme_levels)

    @classmethod
    def blind(cls, alpha: int, beta: int = 1) -> EnsembleConfig:
        """Fault-blind control: ``alpha`` copies placed at random, the first ``beta`` used whatever they read."""
        return cls(alpha=alpha, beta=beta, placement="random", encoding="simple", selection="first")


@dataclass(frozen=True, kw_only=True)
class TransientProgramming:
    """Program through the circuit in the time domain
    (:func:`xbarsim.mapping.programming.program_transient`): pulse trains on a dynamic device model,
    disturbance from the dynamics. Slow, for small kernels; the statistical modes are the fast ones.

    Attributes
    ----------
    model : DynamicDevice or None
        Default :func:`xbarsim.devices.tio2_vteam`.
    settings : WriteVerifySettings or None
        Scheme, pulses, tolerance (:class:`xbarsim.analysis.WriteVerifySettings`); default Drolet's.
    """

    model: Any = None
    settings: Any = None


@dataclass(frozen=True, kw_only=True)
class SequenceProgramming:
    """Program through :func:`xbarsim.analysis.programming.program_array` (half-select disturbance).

    Attributes
    ----------
    scheme : {"v/2", "v/3", "grounded", "floating"}
        Programming bias scheme.
    backend : str
        Solver backend of the programming simulation.
    tolerance : float or None
        Fraction in (0, 1), the relative verify tolerance; ``None`` for ``program_array``'s default
        (0.01).
    max_pulses : int or None
        Pulse limit per device; ``None`` for ``program_array``'s default.
    """

    scheme: WriteSchemeName = "v/2"
    backend: str = "sparse"
    tolerance: float | None = None
    max_pulses: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.scheme, WRITE_SCHEMES, "scheme")
        if not isinstance(self.backend, str):
            raise ConfigError(f"`backend` must be a backend name; got {short_repr(self.backend)}.")
        if self.tolerance is not None:
            t = as_float_array(self.tolerance, "tolerance", what="relative tolerance in (0, 1)", min_value=0.0)
            if t.ndim or not 0.0 < float(t) < 1.0:
                raise ConfigError(f"`tolerance` must be a relative tolerance in (0, 1); got {short_repr(self.tolerance)}.")
            object.__setattr__(self, "tolerance", float(t))
        if self.max_pulses is not None:
            object.__setattr__(self, "max_pulses", _int_at_least(self.max_pulses, "max_pulses", 1))


@dataclass(frozen=True, kw_only=True, eq=False)
class Compensation:
    """How much of the stuck devices' error RME cancelled, per weight.

    Attributes
    ----------
    stuck_error : ndarray, shape (m, n)
        Siemens, for every weight: the sum over the kept copies' stuck devices of
        ``sign * (g_stuck - g_target)`` (``sign`` +1 for ``G+``, -1 for ``G-``).
    residual : ndarray, shape (m, n)
        Siemens, what remains of it once the healthy devices take their re-chosen targets.
    n_stuck : ndarray of int, shape (m, n)
        Stuck devices among the kept copies of each weight.
    beta : int
        Copies averaged.
    g_scale : float
        Siemens per weight unit.
    """

    stuck_error: FloatArray
    residual: FloatArray
    n_stuck: np.ndarray
    beta: int
    g_scale: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "stuck_error", readonly(np.asarray(self.stuck_error, dtype=np.float64)))
        object.__setattr__(self, "residual", readonly(np.asarray(self.residual, dtype=np.float64)))
        object.__setattr__(self, "n_stuck", readonly(np.asarray(self.n_stuck, dtype=np.int64)))

    @property
    def fraction(self) -> float:
        """Fraction of the total stuck error cancelled, ``1 - sum|residual| / sum|stuck_error|``
        over weights with a stuck device (1.0 when there is none)."""
        has = self.n_stuck > 0
        total = float(np.abs(self.stuck_error[has]).sum())
        return 1.0 if total == 0.0 else 1.0 - float(np.abs(self.residual[has]).sum()) / total


def _channel_stack(value: object, name: str, layout: LayerLayout, like: FloatArray | None = None) -> FloatArray:
    """``value`` as a finite float64 ``(alpha, m, n_channels)`` stack of ``layout``'s channel matrices
    (of the shape of ``like`` when given), or ConfigError naming ``name`` (before: numpy broadcast,
    matmul or unpacking errors, a shorter stack broadcast silently, NaN carried into the result)."""
    if not isinstance(layout, LayerLayout):
        raise ConfigError(f"`layout` must be a LayerLayout (from xbarsim.mapping.tile_layer); got {type(layout).__name__}.")
    m, nch = layout.n_rows, layout.n_channels
    arr = as_float_array(value, name, what=f"(alpha, {m}, {nch}) array of conductances in siemens")
    if like is not None and arr.shape != like.shape:
        raise ConfigError(f"`{name}` must have the shape of `target` {like.shape}; got shape {arr.shape}.")
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1:] != (m, nch):
        raise ConfigError(f"`{name}` must have shape (alpha, {m}, {nch}) (the layout's channel matrix of every "
                          f"copy); got shape {arr.shape}.")
    return arr


def copy_deviation(target: FloatArray, read: FloatArray, layout: LayerLayout) -> FloatArray:
    """Siemens, ``(alpha, n)``: per copy and output, the summed ``|G_target - G_read|`` over the devices
    of that output (a reference column counts for every output it serves)."""
    t = _channel_stack(target, "target", layout)
    r = _channel_stack(read, "read", layout, like=t)
    diff = np.where(layout.covered, np.abs(t - r), 0.0).sum(axis=1)
    return np.asarray(diff @ (layout.readout != 0).astype(np.float64))


def select_copies(deviation: ArrayLike, beta: int, selection: Selection = "deviation") -> BoolArray:
    """Which copies to keep per output.

    Parameters
    ----------
    deviation : array_like, shape (alpha, n)
        Siemens, per copy and output, e.g. :func:`copy_deviation`.
    beta : int
        Copies to keep per output, ``1 <= beta <= alpha``.
    selection : {"deviation", "first"}
        Lowest deviation (ties to the lower copy index) or the first ``beta`` copies.

    Returns
    -------
    ndarray of bool, shape (alpha, n)
        Exactly ``beta`` True per column.
    """
    dev = as_float_array(deviation, "deviation", what="array of conductance deviations in siemens")
    if dev.ndim != 2:
        raise ConfigError(f"`deviation` must have shape (alpha, n); got shape {dev.shape}.")
    alpha = dev.shape[0]
    b = _int_at_least(beta, "beta", 1)
    if b > alpha:
        raise ConfigError(f"`beta` must be at most alpha = {alpha}; got {b}. What fits: beta in 1..{alpha}.")
    check_choice(selection, get_args(Selection), "selection")
    kept = np.zeros(dev.shape, dtype=bool)
    if selection == "first":
        kept[:b] = True
    elif selection == "deviation":
        order = np.argsort(dev, axis=0, kind="stable")[:b]
        np.put_along_axis(kept, order, True, axis=0)
    else:  # pragma: no cover - check_choice guards this
        raise ConfigError(f"`selection` must be one of {get_args(Selection)}; got {selection!r}.")
    return kept


def _water_fill(lo: FloatArray, hi: FloatArray, need: FloatArray) -> FloatArray:
    """Per group (leading axes), the level ``lam`` with ``sum_d clip(lam, lo_d, hi_d) == need``
    (``lo <= 0 <= hi``, ``need`` already within ``[sum lo, sum hi]``): equal shares, clipped."""
    a = lo.min(axis=-1, initial=0.0)
    b = hi.max(axis=-1, initial=0.0)
    for _ in range(64):
        mid = 0.5 * (a + b)
        f = np.clip(mid[..., None], lo, hi).sum(axis=-1)
        low = f < need
        a = np.where(low, mid, a)
        b = np.where(low, b, mid)
    return np.clip((0.5 * (a + b))[..., None], lo, hi)


def rme_targets(
    target: FloatArray,
    value: FloatArray,
    stuck: BoolArray,
    kept: BoolArray,
    layout: LayerLayout,
    *,
    g_min: float,
    g_max: float,
    levels: tuple[float, ...] | None = None,
) -> tuple[FloatArray, Compensation]:
    """Reduced-mapping-error targets: the healthy devices of the kept copies absorb the stuck ones.

    Parameters
    ----------
    target : ndarray, shape (alpha, m, n_channels)
        Siemens, the simple targets of every copy (channel matrices).
    value : ndarray, shape (alpha, m, n_channels)
        Siemens, what each device reads (only stuck devices' values are used).
    stuck : ndarray of bool, shape (alpha, m, n_channels)
        Devices that cannot be programmed (known faults, failed write-verify).
    kept : ndarray of bool, shape (alpha, n)
        The copies kept per output.
    layout : LayerLayout
        Channels and readout.
    g_min, g_max : float
        Siemens, the window healthy targets stay in.
    levels : tuple of float, optional
        Siemens, allowed levels; ``None`` for continuous targets.

    Returns
    -------
    (ndarray, Compensation)
        New targets (healthy devices of kept copies changed; everything else as given) and the
        compensation achieved at those targets.

    Notes
    -----
    For weight ``(i, j)`` the kept copies contribute ``sum_d s_d g_d`` (``s_d = +1`` for ``G+``,
    ``-1`` for ``G-``). Stuck devices add the error ``E = sum_stuck s_d (v_d - t_d)``. Healthy
    devices move by ``Delta_d`` with ``s_d Delta_d = c_d``, ``t_d + Delta_d`` within the window:
    continuous targets take equal shares ``c_d = clip(lam, lo_d, hi_d)`` with ``sum c_d = -E``
    (water filling, so no device moves more than needed); with levels each device is snapped in
    turn to the nearest level of its target plus the remainder carried from the previous ones
    (error diffusion), so the total lands within about half a level step of ``-E``. Reference
    columns, shared by several outputs, are never re-chosen.
    """
    t = _channel_stack(target, "target", layout)
    v = _channel_stack(value, "value", layout, like=t)
    st = np.asarray(stuck, dtype=bool)
    kp = np.asarray(kept, dtype=bool)
    lo_w = scalar(g_min, "g_min", what="conductance in siemens")
    hi_w = scalar(g_max, "g_max", what="conductance in siemens")
    if not 0 <= lo_w < hi_w:
        raise ConfigError(f"`g_min` and `g_max` must be a window with 0 <= g_min < g_max; got {short_repr(g_min)} "
                          f"and {short_repr(g_max)}.")
    g_min, g_max = lo_w, hi_w
    alpha, m, nch = t.shape
    n = layout.n_outputs
    if v.shape != t.shape or st.shape != t.shape or kp.shape != (alpha, n) or (m, nch) != (layout.n_rows, layout.n_channels):
        raise ConfigError("`target`, `value`, `stuck` must share shape (alpha, m, n_channels) and `kept` be (alpha, n).")
    lv = None if levels is None else np.unique(np.asarray(levels, dtype=np.float64))
    new_t = t.copy()
    err_all = np.zeros((m, n))
    res_all = np.zeros((m, n))
    nst_all = np.zeros((m, n), dtype=np.int64)
    for r0, r1 in np.unique(layout.channel_rows, axis=0):
        chans = np.flatnonzero((layout.channel_rows[:, 0] == r0) & (layout.channel_rows[:, 1] == r1))
        sub = layout.readout[chans]  # (c_r, n)
        counts = (sub != 0).sum(axis=0)
        width = int(counts.max(initial=0))
        if width == 0:
            continue
        ic = np.zeros((n, width), dtype=np.int64)
        coef = np.zeros((n, width))
        for j in range(n):
            nz = np.flatnonzero(sub[:, j])
            ic[j, :nz.size] = chans[nz]
            coef[j, :nz.size] = sub[nz, j]
        valid = coef != 0
        tt = t[:, r0:r1][:, :, ic]  # (alpha, m_r, n, width)
        vv = v[:, r0:r1][:, :, ic]
        ss = st[:, r0:r1][:, :, ic]
        use = kp[:, None, :, None] & valid[None, None]
        ref = layout.reference[ic][None, None]
        cf = np.broadcast_to(coef[None, None], tt.shape)
        stuck_use = use & ss
        err = np.where(stuck_use, cf * (vv - tt), 0.0).sum(axis=(0, 3))
        tun = use & ~ss & ~ref
        lo_raw, hi_raw = cf * (g_min - tt), cf * (g_max - tt)
        lo = np.where(tun, np.minimum(lo_raw, hi_raw), 0.0)
        hi = np.where(tun, np.maximum(lo_raw, hi_raw), 0.0)
        # groups (m_r, n) over devices (alpha, width)
        to_g = (1, 2, 0, 3)
        lo_g = lo.transpose(to_g).reshape(r1 - r0, n, -1)
        hi_g = hi.transpose(to_g).reshape(r1 - r0, n, -1)
        need = np.clip(-err, lo_g.sum(-1), hi_g.sum(-1))
        c = _water_fill(lo_g, hi_g, need)
        if lv is not None:
            t_g = tt.transpose(to_g).reshape(r1 - r0, n, -1)
            s_g = cf.transpose(to_g).reshape(r1 - r0, n, -1)
            tun_g = tun.transpose(to_g).reshape(r1 - r0, n, -1)
            carry = np.zeros((r1 - r0, n))
            for d in range(c.shape[-1]):
                want = c[..., d] + carry
                q = quantize(np.clip(t_g[..., d] + s_g[..., d] * want, g_min, g_max), lv)
                act = np.where(tun_g[..., d], s_g[..., d] * (q - t_g[..., d]), 0.0)
                carry = want - act
                c[..., d] = act
        res = err + c.sum(-1)
        c_full = c.reshape(r1 - r0, n, alpha, width).transpose(2, 0, 1, 3)
        new_vals = tt + cf * c_full
        a_i, i_i, j_i, w_i = np.nonzero(tun)
        new_t[a_i, r0 + i_i, ic[j_i, w_i]] = new_vals[a_i, i_i, j_i, w_i]
        err_all[r0:r1] += err
        res_all[r0:r1] += res
        nst_all[r0:r1] += stuck_use.sum(axis=(0, 3))
    beta = int(kp.sum(axis=0).max(initial=1))
    return new_t, Compensation(stuck_error=err_all, residual=res_all, n_stuck=nst_all, beta=beta,
                               g_scale=layout.g_scale)


def _pair_channels(layout: LayerLayout, chans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the channels ``chans`` of one row chunk: the ``G+`` and ``G-`` channel of every output."""
    sub = layout.readout[chans]  # (c_r, n)
    pos, neg = sub > 0, sub < 0
    if (layout.reference[chans].any() or not np.all(pos.sum(axis=0) == 1) or not np.all(neg.sum(axis=0) == 1)
            or not np.all(np.abs(sub[sub != 0]) == 1)):
        raise ConfigError("`encoding` 'mao' needs differential pairs: one G+ and one G- column per output, "
                          "no reference column (encoding 'ternary' or 'differential').")
    return chans[np.argmax(pos, axis=0)], chans[np.argmax(neg, axis=0)]


def _check_mao_steps(target: FloatArray, layout: LayerLayout, levels: tuple[float, float],
                     weights: FloatArray | None = None) -> None:
    """ConfigError unless every weight's ``G+ - G-`` (copy 0 of ``target``) is -1, 0 or +1 steps
    ``G_high - G_low``: what MAO's two levels can carry. Any other weight would be rounded without a
    word to ``-w_max``, 0 or ``+w_max`` (the re-tuning puts each copy's devices on the two levels and
    the summed copies reach only whole steps within the encoding's range), a ternarization at half
    the layer's largest weight rather than the paper's MAO."""
    lo, hi = (float(g) for g in levels)
    step = hi - lo
    for r0, r1 in np.unique(layout.channel_rows, axis=0):
        chans = np.flatnonzero((layout.channel_rows[:, 0] == r0) & (layout.channel_rows[:, 1] == r1))
        cp, cn = _pair_channels(layout, chans)
        k = (target[0, r0:r1][:, cp] - target[0, r0:r1][:, cn]) / step  # (m_r, n)
        bad = np.abs(k - np.rint(k)) > 1e-9
        if bad.any():
            i, j = (int(a[0]) for a in np.nonzero(bad))
            what = (f"weight {float(weights[r0 + i, j]):.4g} at [{r0 + i}, {j}] encodes to"
                    if weights is not None else f"G+ - G- at row {r0 + i}, output {j} is")
            raise ConfigError(
                f"`encoding` 'mao' (the LEA paper's MAO; Hardware strategy 'mao') carries ternary weights only: each "
                f"weight must be -1, 0 or +1 steps G_high - G_low = {step:.4g} S of its two levels; {what} "
                f"{float(k[i, j]):.4g} steps, which MAO would round to {int(np.rint(k[i, j]))} without a word. Use a "
                "ternary network (networks.ternarize or train_ternary) or, for real-valued weights, "
                "EnsembleConfig.lea_rme_all (Hardware strategy 'lea-rme-all').")


def mao_targets(
    target: FloatArray,
    value: FloatArray,
    stuck: BoolArray,
    layout: LayerLayout,
    *,
    levels: tuple[float, float],
) -> FloatArray:
    """The paper's MAO targets: healthy devices re-tuned copy by copy so that the *sum* of the copies
    carries the weight, on two levels.

    Parameters
    ----------
    target : ndarray, shape (alpha, m, n_channels)
        Siemens, the simple targets of every copy (identical copies); only ``G+ - G-`` of copy 0
        is used, as the weight ``w g_scale`` the sum must carry.
    value : ndarray, shape (alpha, m, n_channels)
        Siemens, what each device reads (only stuck devices' values are used).
    stuck : ndarray of bool, shape (alpha, m, n_channels)
        Devices that cannot be programmed.
    layout : LayerLayout
        Differential pairs: one ``G+`` and one ``G-`` channel per output in each row chunk.
    levels : (float, float)
        Siemens, the two levels ``(G_low, G_high)`` (133 and 233 uS on the LEA chip).

    Returns
    -------
    ndarray, shape (alpha, m, n_channels)
        New targets: stuck devices keep their read values, healthy devices sit on a level.

    Raises
    ------
    ConfigError
        A weight whose ``G+ - G-`` is not -1, 0 or +1 steps ``G_high - G_low`` (not ternary): the
        two levels cannot carry it, and rounding it would ternarize the layer without a word.

    Notes
    -----
    Yu et al. (IEEE TVLSI 2016) as coded in xbtorch ``encode_MAO`` with ``sum`` polling, per
    weight with ``D = w g_scale`` (``(w / gamma) g_norm`` for ternary weights): healthy ``G+``
    devices start at ``G_high`` and healthy ``G-`` at ``G_low``, stuck ones at their read value;
    then for ``k = 1 .. alpha`` in order, if ``G+_k`` is healthy it becomes
    ``Q(D + sum G- - sum G+ + G+_k)`` and then, if ``G-_k`` is healthy,
    ``Q(sum G+ - sum G- + G-_k - D)`` (sums over all copies, updated as they change), where ``Q``
    rounds to the nearer level (ties to the lower) and clips to the two levels. Read-out sums the
    copies: ``W_hat = (sum G+ - sum G-) / g_scale``. Without faults ``sum G+ - sum G-`` hits ``D``
    exactly, but every one of the ``2 alpha`` devices adds its programming noise to the sum, so
    the mapping error grows with ``alpha``.
    """
    t = _channel_stack(target, "target", layout)
    v = _channel_stack(value, "value", layout, like=t)
    st = np.asarray(stuck, dtype=bool)
    if st.shape != t.shape:
        raise ConfigError("`target`, `value`, `stuck` must share shape (alpha, m, n_channels) of the layout.")
    what = "pair of finite conductances (low, high) in siemens with 0 <= low < high"
    lv = as_float_array(levels, "levels", what=what)
    if lv.shape != (2,) or not 0 <= lv[0] < lv[1]:
        raise ConfigError(f"`levels` must be a {what}; got {short_repr(levels)}.")
    lo, hi = float(lv[0]), float(lv[1])
    _check_mao_steps(t, layout, (lo, hi))

    def q(g: FloatArray) -> FloatArray:
        return np.where(g - lo > 0.5 * (hi - lo), hi, lo)

    alpha = t.shape[0]
    new_t = t.copy()
    for r0, r1 in np.unique(layout.channel_rows, axis=0):
        chans = np.flatnonzero((layout.channel_rows[:, 0] == r0) & (layout.channel_rows[:, 1] == r1))
        cp, cn = _pair_channels(layout, chans)
        d = t[0, r0:r1][:, cp] - t[0, r0:r1][:, cn]  # (m_r, n)
        sp, sn = st[:, r0:r1][:, :, cp], st[:, r0:r1][:, :, cn]  # (alpha, m_r, n)
        gp = np.where(sp, v[:, r0:r1][:, :, cp], hi)
        gn = np.where(sn, v[:, r0:r1][:, :, cn], lo)
        for k in range(alpha):
            gp[k] = np.where(sp[k], gp[k], q(d + gn.sum(0) - gp.sum(0) + gp[k]))
            gn[k] = np.where(sn[k], gn[k], q(gp.sum(0) - gn.sum(0) + gn[k] - d))
        new_t[:, r0:r1, cp] = gp
        new_t[:, r0:r1, cn] = gn
    return new_t


@dataclass(frozen=True, kw_only=True, eq=False)
class MappedLayer:
    """A layer mapped, programmed and read back on a chip.

    Attributes
    ----------
    weights : ndarray, shape (m, n)
        The target weights (``y = x @ weights``).
    mapped : MappedWeights
        The encoding of one copy.
    layout : LayerLayout
        Its blocks and channels.
    placement : Placement
        Where every block of every copy sits.
    config : EnsembleConfig
        Copies, placement, encoding, selection.
    target : ndarray, shape (alpha, m, n_channels)
        Siemens, the final target of every device (channel matrices; RME changes them per copy).
    read_back : ndarray, shape (alpha, m, n_channels)
        Siemens, the final read-back (with read noise) of every device.
    deviation : ndarray, shape (alpha, n)
        Siemens, the selection criterion: summed ``|G_target - G_read|`` per copy and output after
        the first programming pass.
    kept : ndarray of bool, shape (alpha, n)
        The static mask: copies averaged per output.
    compensation : Compensation or None
        RME only: stuck error before and after re-chosen targets.
    programming : ProgrammingReport
        Every programming pass, concatenated.
    chip : Chip
        The chip after programming (for a network: after every layer was programmed).
    timings : Mapping[str, float]
        Seconds spent per step of :func:`map_layer`: ``"characterize"`` (0 when given),
        ``"encode"``, ``"place"``, ``"program"`` (every programming pass), ``"read"`` (every
        read-back), ``"select"`` (deviation, mask and RME targets), ``"total"``.
    """

    __repr__ = compact_repr

    weights: FloatArray
    mapped: MappedWeights
    layout: LayerLayout
    placement: Placement
    config: EnsembleConfig
    target: FloatArray
    read_back: FloatArray
    deviation: FloatArray
    kept: BoolArray
    compensation: Compensation | None
    programming: ProgrammingReport
    chip: Chip
    timings: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))
        for name in ("weights", "target", "read_back", "deviation"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=np.float64)))
        object.__setattr__(self, "kept", readonly(np.asarray(self.kept, dtype=bool)))

    @property
    def alpha(self) -> int:
        """Copies placed."""
        return self.config.alpha

    @property
    def beta(self) -> int:
        """Copies kept per output."""
        return self.config.effective_beta

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return (int(self.weights.shape[0]), int(self.weights.shape[1]))

    @property
    def n_devices(self) -> int:
        """Devices used, ``alpha`` times one copy (``2 alpha m n`` for differential pairs)."""
        return self.alpha * self.layout.devices_per_copy

    def programmed(self) -> FloatArray:
        """Siemens, ``(alpha, m, n_channels)``: the true present conductances of the layer's devices."""
        ci, qi = self.placement.device_index(self.layout)
        q = np.zeros(self.target.shape)
        q.ravel()[qi] = self.chip.conductance.ravel()[ci]
        return q

    def copy_weights(self, conductance: ArrayLike | None = None) -> FloatArray:
        """Weights ``(alpha, m, n)`` of every copy from channel matrices (default: the read-back)."""
        q = self.read_back if conductance is None else np.asarray(conductance, dtype=np.float64)
        return self.layout.weights(q)

    def effective_weights(self, conductance: ArrayLike | None = None) -> FloatArray:
        """``W_hat`` ``(m, n)``: per output, the mean over the kept copies, or their sum for MAO
        (default: from the read-back)."""
        w = self.copy_weights(conductance)
        return np.asarray((w * self.kept[:, None, :]).sum(axis=0) / self.config.divisor)

    def mapping_error(self) -> float:
        """Percent, ``100 ||W_hat - W|| / ||W||`` with ``W_hat`` from the read-back conductances."""
        return mapping_error(self.effective_weights(), self.weights)


def _program(chip: Chip, ci: np.ndarray, target: FloatArray, rng: np.random.Generator,
             programming: WriteVerify | SequenceProgramming | TransientProgramming,
             skip: BoolArray | None) -> tuple[Chip, ProgrammingReport]:
    if isinstance(programming, WriteVerify):
        return write_verify(chip, ci, target, rng, verify=programming, skip=skip)
    if isinstance(programming, TransientProgramming):
        return program_transient(chip, ci, target, model=programming.model, settings=programming.settings)
    if isinstance(programming, SequenceProgramming):
        return program_sequence(chip, ci, target, rng, scheme=programming.scheme, backend=programming.backend,
                                tolerance=programming.tolerance, max_pulses=programming.max_pulses)
    raise ConfigError("`programming` must be a WriteVerify, a SequenceProgramming or a TransientProgramming; "
                      f"got {type(programming).__name__}.")


def map_layer(
    weights: ArrayLike,
    chip: Chip,
    rng: np.random.Generator,
    *,
    encoding: Encoding | None = None,
    ensemble: EnsembleConfig | None = None,
    programming: WriteVerify | SequenceProgramming | TransientProgramming | None = None,
    characterization: Characterization | None = None,
    occupied: BoolArray | None = None,
) -> MappedLayer:
    """Map one layer onto a chip: encode, tile, place alpha copies, program, read back, select (LEA).

    Parameters
    ----------
    weights : array_like, shape (m, n)
        The layer, ``y = x @ weights``.
    chip : Chip
        The chip (its present state is the starting point of programming).
    rng : numpy.random.Generator
        Every random draw (characterization if needed, placement, programming, reads), in the
        order of the steps listed in the module notes.
    encoding : Encoding, optional
        Default differential pairs in separate ``G+``/``G-`` blocks, on the chip's levels if any.
    ensemble : EnsembleConfig, optional
        Default one copy (plain mapping) with greedy placement.
    programming : WriteVerify, SequenceProgramming or TransientProgramming, optional
        Default :class:`WriteVerify` with its defaults.
    characterization : Characterization, optional
        Known faults; measured here (SET-all/RESET-all, drawing from ``rng``) when greedy placement,
        RME, MAO or ``g_norm = "characterized"`` needs it and none is given. Known-stuck devices are not pulsed.
    occupied : ndarray of bool, shape (K, R, C), optional
        Devices already used by other layers.

    Returns
    -------
    MappedLayer

    Raises
    ------
    ConfigError
        Bad parameters, or a layer that does not fit (the message says what fits).
    """
    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    check_rng(rng)
    cfg = EnsembleConfig() if ensemble is None else ensemble
    if not isinstance(cfg, EnsembleConfig):
        raise ConfigError(f"`ensemble` must be an EnsembleConfig; got {type(cfg).__name__}.")
    prog = WriteVerify() if programming is None else programming
    if not isinstance(prog, (WriteVerify, SequenceProgramming, TransientProgramming)):
        raise ConfigError("`programming` must be a WriteVerify, a SequenceProgramming or a TransientProgramming; "
                          f"got {type(prog).__name__}.")
    char = characterization
    if char is not None and not isinstance(char, Characterization):
        raise ConfigError(f"`characterization` must be a Characterization; got {type(char).__name__}.")
    if char is not None and char.stuck_on.shape != chip.shape:
        raise ConfigError(f"`characterization` is of a chip of shape {char.stuck_on.shape}, not {chip.shape}.")
    clock = {"characterize": 0.0, "encode": 0.0, "place": 0.0, "program": 0.0, "read": 0.0, "select": 0.0}
    t0 = tic = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal tic
        now = time.perf_counter()
        clock[step] += now - tic
        tic = now

    if char is None and (cfg.placement == "greedy" or cfg.encoding in ("rme", "mao") or cfg.g_norm == "characterized"):
        char = characterize(chip, rng)
        chip = char.chip
    lap("characterize")
    mapped = map_weights(weights, g_min=chip.g_min, g_max=chip.g_max, encoding=encoding, device_levels=chip.levels)
    w = np.array(weights, dtype=np.float64)
    layout = tile_layer(mapped, chip.kernel_shape)
    beta = cfg.effective_beta
    two = (min(mapped.levels), max(mapped.levels)) if mapped.levels is not None else (chip.g_min, chip.g_max)
    if cfg.encoding == "mao":  # before placing and programming anything
        _check_mao_steps(layout.channel_matrix(mapped.conductance)[None], layout, two, w)
    lap("encode")
    placement = place_layer(layout, alpha=cfg.alpha, chip_shape=chip.shape, method=cfg.placement, rng=rng,
                            characterization=char, beta=beta, occupied=occupied, strict=cfg.strict)
    ci, qi = placement.device_index(layout)
    if cfg.g_norm == "characterized":
        assert char is not None
        nominal = (max(mapped.levels) - min(mapped.levels)) if mapped.levels is not None else chip.g_max - chip.g_min
        measured = float(char.set_read.ravel()[ci].mean() - char.reset_read.ravel()[ci].mean())
        if not measured > 0:
            raise ConfigError(f"the layer's devices read mean(G_SET) - mean(G_RESET) = {measured!r} S at "
                              "characterization; g_norm 'characterized' needs a positive step.")
        layout = replace(layout, g_scale=layout.g_scale * measured / nominal)
    qshape = (cfg.alpha, layout.n_rows, layout.n_channels)
    qt = np.broadcast_to(layout.channel_matrix(mapped.conductance), qshape).copy()
    known = np.zeros(ci.size, dtype=bool) if char is None else char.stuck.ravel()[ci]
    lap("place")
    chip, report = _program(chip, ci, qt.ravel()[qi], rng, prog, known)
    lap("program")
    qr = np.zeros(qshape)
    qr.ravel()[qi] = read_devices(chip, ci, rng)
    lap("read")
    deviation = copy_deviation(qt, qr, layout)
    kept = select_copies(deviation, beta, cfg.selection)
    compensation = None
    if cfg.encoding in ("rme", "mao"):
        stuck_q = np.zeros(qshape, dtype=bool)
        # MAO re-tunes every device the defect map calls healthy (xbtorch encode_MAO); a device that
        # merely missed its target in a single-shot write is noisy, not stuck. RME also gives up on
        # devices whose write-verify failed.
        stuck_q.ravel()[qi] = known if cfg.encoding == "mao" else known | ~report.converged
        if cfg.encoding == "mao":
            new_t = mao_targets(qt, qr, stuck_q, layout, levels=two)
        else:
            mode = cfg.rme_levels or ("levels" if mapped.levels is not None else "continuous")
            if mode == "levels" and mapped.levels is None:
                raise ConfigError("`rme_levels` = 'levels' needs an encoding with levels; the devices are analog "
                                  "here. Use rme_levels='continuous'.")
            new_t, compensation = rme_targets(qt, qr, stuck_q, kept, layout, g_min=chip.g_min, g_max=chip.g_max,
                                              levels=mapped.levels if mode == "levels" else None)
        changed = new_t.ravel()[qi] != qt.ravel()[qi]
        lap("select")
        if changed.any():
            chip, rep2 = _program(chip, ci[changed], new_t.ravel()[qi][changed], rng, prog, None)
            report = ProgrammingReport.concatenate([report, rep2])
        lap("program")
        qt = new_t
        qr.ravel()[qi] = read_devices(chip, ci, rng)
        lap("read")
    lap("select")
    clock["total"] = time.perf_counter() - t0
    return MappedLayer(weights=w, mapped=mapped, layout=layout, placement=placement, config=cfg, target=qt,
                       read_back=qr, deviation=deviation, kept=kept, compensation=compensation,
                       programming=report, chip=chip, timings=clock)


@dataclass(frozen=True, kw_only=True, eq=False)
class MappedNetwork:
    """Every layer of a network mapped onto one chip.

    Attributes
    ----------
    layers : tuple of MappedLayer
        In network order; each refers to the final chip.
    chip : Chip
        The chip after programming every layer.
    characterization : Characterization or None
        The known faults used (``None`` if none was needed).
    """

    __repr__ = compact_repr

    layers: tuple[MappedLayer, ...]
    chip: Chip
    characterization: Characterization | None

    @property
    def mapping_errors(self) -> tuple[float, ...]:
        """Percent, per layer."""
        return tuple(layer.mapping_error() for layer in self.layers)

    @property
    def n_devices(self) -> int:
        """Devices used by all layers."""
        return sum(layer.n_devices for layer in self.layers)

    def occupancy(self) -> BoolArray:
        """``(K, R, C)``: devices used by the network."""
        occ = np.zeros(self.chip.shape, dtype=bool)
        for layer in self.layers:
            occ |= layer.placement.occupancy()
        return readonly(occ)


def map_network(
    weights: Sequence[ArrayLike],
    chip: Chip,
    rng: np.random.Generator,
    *,
    encoding: Encoding | Sequence[Encoding] | None = None,
    ensemble: EnsembleConfig | Sequence[EnsembleConfig] | None = None,
    programming: WriteVerify | SequenceProgramming | TransientProgramming | None = None,
    characterization: Characterization | None = None,
    occupied: BoolArray | None = None,
) -> MappedNetwork:
    """Map every layer of a network onto one chip, in order, on disjoint devices.

    Parameters
    ----------
    weights : sequence of array_like
        Layer weight matrices ``(m_l, n_l)``, ``y_l = x_l @ W_l``.
    chip : Chip
        The chip.
    rng : numpy.random.Generator
        All randomness (characterization first, when needed, then layer by layer).
    encoding, ensemble : one for all layers or one per layer, optional
        See :func:`map_layer`.
    programming : WriteVerify, SequenceProgramming or TransientProgramming, optional
        See :func:`map_layer`.
    characterization : Characterization, optional
        Known faults; measured once here when some layer needs them and none is given.
    occupied : ndarray of bool, shape (K, R, C), optional
        Devices already used (e.g. by other committee members).

    Returns
    -------
    MappedNetwork
        Every layer bound to the chip as it is after the last layer was programmed.
    """
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or not weights:
        raise ConfigError(f"`weights` must be a non-empty sequence of weight matrices; got {short_repr(weights)}.")
    n_layers = len(weights)

    def per_layer(value: object, cls: type, name: str) -> list:  # type: ignore[type-arg]
        if value is None or isinstance(value, cls):
            return [value] * n_layers
        if isinstance(value, Sequence) and len(value) == n_layers and all(isinstance(v, cls) for v in value):
            return list(value)
        raise ConfigError(f"`{name}` must be one {cls.__name__} or one per layer ({n_layers}); got {short_repr(value)}.")

    encs = per_layer(encoding, Encoding, "encoding")
    cfgs = per_layer(ensemble, EnsembleConfig, "ensemble")
    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    check_rng(rng)
    char = characterization
    needs = any(c is None or c.placement == "greedy" or c.encoding in ("rme", "mao") or c.g_norm == "characterized"
                for c in cfgs)
    if char is None and needs:
        char = characterize(chip, rng)
        chip = char.chip
    try:
        occ = np.zeros(chip.shape, dtype=bool) if occupied is None else np.array(occupied, dtype=bool)
    except (TypeError, ValueError) as exc:  # a ragged nested sequence
        raise ConfigError(f"`occupied` must be a (K, R, C) array of bool; got {short_repr(occupied)}.") from exc
    layers = []
    for w, enc, cfg in zip(weights, encs, cfgs, strict=True):
        layer = map_layer(w, chip, rng, encoding=enc, ensemble=cfg, programming=programming,
                          characterization=char, occupied=occ)
        chip = layer.chip
        occ |= layer.placement.occupancy()
        layers.append(layer)
    return MappedNetwork(layers=tuple(replace(layer, chip=chip) for layer in layers), chip=chip, characterization=char)


def map_committee(
    weights: Sequence[ArrayLike],
    chip: Chip,
    rng: np.random.Generator,
    *,
    members: int,
    encoding: Encoding | Sequence[Encoding] | None = None,
    placement: PlacementMethod = "random",
    programming: WriteVerify | SequenceProgramming | TransientProgramming | None = None,
    characterization: Characterization | None = None,
    strict: bool = True,
    g_norm: GNorm = "nominal",
) -> tuple[MappedNetwork, ...]:
    """Committee-machine baseline: ``members`` independently mapped copies of a whole network.

    Each member is a plain mapping (one copy per layer) on its own devices, so the committee uses
    the devices of ``alpha = members`` LEA copies. The caller runs every member through the
    network (activations included) and averages their final outputs.

    Parameters
    ----------
    weights : sequence of array_like
        Layer weight matrices.
    chip : Chip
        The chip all members share.
    rng : numpy.random.Generator
        All randomness, member by member.
    members : int
        Number of networks (>= 1).
    encoding : Encoding or one per layer, optional
        See :func:`map_layer`.
    placement : {"random", "greedy"}
        Placement of each member's layers; fault-blind random by default.
    programming : WriteVerify, SequenceProgramming or TransientProgramming, optional
        See :func:`map_layer`.
    characterization : Characterization, optional
        Needed (measured when missing, once for all members) only for greedy placement or
        ``g_norm = "characterized"``.
    strict : bool
        Greedy placement: reject positions with stuck-OFF or non-switching devices (default), or
        only rank them last (see :class:`EnsembleConfig`).
    g_norm : {"nominal", "characterized"}
        How every member's layers are decoded (see :class:`EnsembleConfig`).

    Returns
    -------
    tuple of MappedNetwork
        One per member, all bound to the chip after the last member was programmed.
    """
    k = _int_at_least(members, "members", 1)
    check_choice(placement, get_args(PlacementMethod), "placement")
    if not isinstance(chip, Chip):
        raise ConfigError(f"`chip` must be a Chip; got {type(chip).__name__}.")
    char = characterization
    cfg = replace(EnsembleConfig.plain(placement=placement), strict=strict, g_norm=g_norm)
    if char is None and (placement == "greedy" or cfg.g_norm == "characterized"):
        char = characterize(chip, rng)
        chip = char.chip
    occ = np.zeros(chip.shape, dtype=bool)
    nets = []
    for _ in range(k):
        net = map_network(weights, chip, rng, encoding=encoding, ensemble=cfg, programming=programming,
                          characterization=char, occupied=occ)
        chip = net.chip
        occ |= net.occupancy()
        nets.append(net)
    return tuple(
        MappedNetwork(layers=tuple(replace(layer, chip=chip) for layer in net.layers), chip=chip,
                      characterization=net.characterization)
        for net in nets
    )
