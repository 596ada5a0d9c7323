"""Fitting the sinh device law ``I = g sinh(a V) / a`` to measured I-V data.

:func:`fit_sinh` fits one curve; :func:`fit_lea_iv` fits every LEA sweep shipped with the package
(:func:`xbarsim.devices.measured.lea_iv_curves`) in its pre-switching window and summarises the
nonlinearity ``a`` over the cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from xbarsim._typing import ArrayLike, FloatArray
from xbarsim._validation import as_float_array, readonly, short_repr
from xbarsim.devices.measured import IVCurve, lea_iv_curves
from xbarsim.devices.models import Sinh
from xbarsim.errors import ConfigError

__all__ = [
    "SinhFit",
    "CycleFit",
    "IVFitSummary",
    "LeaIVFit",
    "fit_sinh",
    "fit_lea_iv",
    "LEA_POSITIVE_WINDOW",
    "LEA_NEGATIVE_WINDOW",
]

#: Volt, default fit window of the positive (RESET) LEA sweeps: outgoing branch, 0 <= V <= 0.5 V.
LEA_POSITIVE_WINDOW: tuple[float, float] = (0.0, 0.5)
#: Volt, default fit window of the negative (SET) LEA sweeps: outgoing branch, -1.0 V <= V <= 0.
LEA_NEGATIVE_WINDOW: tuple[float, float] = (-1.0, 0.0)

#: 1/V, upper bound of the nonlinearity searched by :func:`fit_sinh` is this over max |V|.
_A_SEARCH_SPAN = 25.0


def _sinh_over_a(a: float, v: FloatArray) -> FloatArray:
    """``sinh(a v) / a`` with the ``a -> 0`` limit ``v`` taken without cancellation."""
    x = a * v
    small = np.abs(x) < 1e-4
    safe_a = a if a != 0.0 else 1.0
    return np.where(small, v * (1.0 + x * x / 6.0), np.sinh(x) / safe_a)


def _d_sinh_over_a_da(a: float, v: FloatArray) -> FloatArray:
    """``d/da [sinh(a v) / a] = (a v cosh(a v) - sinh(a v)) / a^2``, series near ``a v = 0``."""
    x = a * v
    small = np.abs(x) < 1e-3
    safe_a = a if a != 0.0 else 1.0
    exact = (x * np.cosh(x) - np.sinh(x)) / (safe_a * safe_a)
    series = v**3 * a / 3.0 * (1.0 + x * x / 10.0)
    return np.where(small, series, exact)


@dataclass(frozen=True, kw_only=True)
class SinhFit:
    """Least-squares fit of ``I = g sinh(a V) / a + offset`` to one I-V curve.

    Attributes
    ----------
    g : float
        Siemens, small-signal conductance at 0 V.
    a : float
        1/V, nonlinearity (``a = 0`` is an ohmic curve).
    offset : float
        Ampere, constant current offset (``0.0`` unless the fit was asked to include one).
    g_stderr, a_stderr : float
        Standard errors of ``g`` (S) and ``a`` (1/V) from the Jacobian at the optimum, assuming
        independent equal-variance residuals.
    residual_rms : float
        Ampere, root-mean-square residual of the fit.
    v_min, v_max : float
        Volt, smallest and largest voltage of the points that were fitted.
    n_points : int
        Number of points fitted.
    """

    g: float
    a: float
    offset: float
    g_stderr: float
    a_stderr: float
    residual_rms: float
    v_min: float
    v_max: float
    n_points: int

    def model(self) -> Sinh:
        """The fitted law as a :class:`~xbarsim.devices.models.Sinh` device model (needs ``a > 0``)."""
        return Sinh(a=self.a)

    def current(self, v: ArrayLike) -> FloatArray:
        """Ampere, the fitted current ``g sinh(a v) / a + offset`` at voltages ``v`` (volt)."""
        return self.g * _sinh_over_a(self.a, np.asarray(v, dtype=np.float64)) + self.offset


def fit_sinh(
    v: ArrayLike,
    i: ArrayLike,
    *,
    v_range: tuple[float, float] | None = None,
    fit_offset: bool = False,
) -> SinhFit:
    """Least-squares fit of ``I = g sinh(a V) / a`` (plus an optional constant offset) to I-V points.

    Parameters
    ----------
    v : array_like, shape (n,)
        Volt, applied voltages.
    i : array_like, shape (n,)
        Ampere, measured currents.
    v_range : (float, float), optional
        Volt, ``(low, high)``: only points with ``low <= v <= high`` are fitted. Default: all.
    fit_offset : bool
        Also fit a constant current offset (ampere), for instruments whose zero-volt reading is not
        zero. Default ``False``.

    Returns
    -------
    SinhFit
        ``g`` (S), ``a`` (1/V, >= 0), ``offset`` (A), their standard errors, the RMS residual (A)
        and the voltage range actually fitted.

    Raises
    ------
    ConfigError
        Mismatched or non-finite inputs, or fewer usable points than three plus the offset.

    Notes
    -----
    For fixed ``a`` the model is linear in ``g`` (and the offset), so the fit is a one-dimensional
    bounded search over ``a`` in ``[0, 25 / max|V|]`` of the linear least-squares residual
    (variable projection): a 101-point grid, then a bounded Brent search around the best grid
    point, then a few Gauss-Newton steps on all parameters (the residual is flat at its minimum, so
    the search alone locates ``a`` only to about the square root of machine precision). There is no
    starting-point dependence. The standard errors come from the Jacobian
    ``[sinh(aV)/a, g d/da(sinh(aV)/a), 1]`` at the optimum.
    """
    from scipy.optimize import minimize_scalar

    vv = as_float_array(v, "v", what="1-D array of voltages in volt")
    ii = as_float_array(i, "i", what="1-D array of currents in ampere")
    if vv.ndim != 1 or ii.shape != vv.shape:
        raise ConfigError(f"`v` and `i` must be 1-D arrays of the same length; got shapes {vv.shape} and {ii.shape}.")
    if not isinstance(fit_offset, (bool, np.bool_)):  # 'no' is truthy: an offset fitted without a word
        raise ConfigError(f"`fit_offset` must be True or False; got {short_repr(fit_offset)}.")
    if v_range is not None:
        vr = as_float_array(v_range, "v_range", what="pair (low, high) of voltages in volt")
        if vr.shape != (2,):
            raise ConfigError(f"`v_range` must be a pair (low, high) of voltages in volt; got {short_repr(v_range)}.")
        lo, hi = float(vr[0]), float(vr[1])
        if not lo < hi:
            raise ConfigError(f"`v_range` must be (low, high) with low < high in volt; got {v_range!r}.")
        keep = (vv >= lo) & (vv <= hi)
        vv, ii = vv[keep], ii[keep]
    n_par = 3 if fit_offset else 2
    if vv.size < n_par + 1 or np.ptp(vv) == 0.0:
        raise ConfigError(f"`v` must hold at least {n_par + 1} distinct points in the fit range; got {vv.size}.")

    def design(a: float) -> FloatArray:
        cols = [_sinh_over_a(a, vv)]
        if fit_offset:
            cols.append(np.ones_like(vv))
        return np.column_stack(cols)

    def sse(a: float) -> float:
        x = design(a)
        coef, *_ = np.linalg.lstsq(x, ii, rcond=None)
        r = x @ coef - ii
        return float(r @ r)

    a_hi = _A_SEARCH_SPAN / float(np.max(np.abs(vv)))
    # A coarse grid first: the residual can have a shallow local minimum near a = 0 on noisy data.
    grid = np.linspace(0.0, a_hi, 101)
    k = int(np.argmin([sse(a) for a in grid]))
    lo_a, hi_a = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    res = minimize_scalar(sse, bounds=(lo_a, hi_a), method="bounded", options={"xatol": 1e-10 * max(a_hi, 1.0)})
    a = float(res.x) if res.fun <= sse(grid[k]) else float(grid[k])

    def jacobian(a: float, g: float) -> FloatArray:
        cols = [_sinh_over_a(a, vv), g * _d_sinh_over_a_da(a, vv)]
        if fit_offset:
            cols.append(np.ones_like(vv))
        return np.column_stack(cols)

    def solve_linear(a: float) -> tuple[FloatArray, FloatArray]:
        x = design(a)
        coef, *_ = np.linalg.lstsq(x, ii, rcond=None)
        return np.asarray(coef, dtype=np.float64), np.asarray(x @ coef - ii, dtype=np.float64)

    coef, resid = solve_linear(a)
    # The bounded search locates `a` only to about sqrt(machine eps) (the residual is flat at its
    # minimum); a few Gauss-Newton steps on all parameters make the fit exact on exact data.
    for _ in range(5):
        step, *_ = np.linalg.lstsq(jacobian(a, float(coef[0])), -resid, rcond=None)
        a_new = max(a + float(step[1]), 0.0)
        coef_new, resid_new = solve_linear(a_new)
        if float(resid_new @ resid_new) >= float(resid @ resid):
            break
        a, coef, resid = a_new, coef_new, resid_new
    g = float(coef[0])
    offset = float(coef[1]) if fit_offset else 0.0
    jac = jacobian(a, g)
    dof = max(vv.size - n_par, 1)
    s2 = float(resid @ resid) / dof
    try:
        cov = s2 * np.linalg.inv(jac.T @ jac)
        g_se, a_se = float(np.sqrt(max(cov[0, 0], 0.0))), float(np.sqrt(max(cov[1, 1], 0.0)))
    except np.linalg.LinAlgError:
        g_se = a_se = float("inf")
    return SinhFit(
        g=g,
        a=a,
        offset=offset,
        g_stderr=g_se,
        a_stderr=a_se,
        residual_rms=float(np.sqrt(np.mean(resid**2))),
        v_min=float(vv.min()),
        v_max=float(vv.max()),
        n_points=int(vv.size),
    )


@dataclass(frozen=True, kw_only=True)
class CycleFit:
    """The sinh fit of one LEA sweep.

    Attributes
    ----------
    polarity : {"positive", "negative"}
        Sweep polarity (see :class:`~xbarsim.devices.measured.IVCurve`).
    cycle : int
        Cycle number, 1 to 19.
    fit : SinhFit
        The fit of the sweep's outgoing branch inside the window.
    """

    polarity: Literal["positive", "negative"]
    cycle: int
    fit: SinhFit


@dataclass(frozen=True, kw_only=True)
class IVFitSummary:
    """Spread of the sinh parameters over the cycles of one polarity.

    Attributes
    ----------
    polarity : {"positive", "negative"}
        Which sweeps.
    n_cycles : int
        Number of cycles summarised.
    window : (float, float)
        Volt, the fit window.
    a_median, a_q25, a_q75, a_std : float
        1/V: median, quartiles and standard deviation over the cycles of the nonlinearity ``a``.
    g_median : float
        Siemens, median small-signal conductance.
    offset_median : float
        Ampere, median fitted current offset.
    """

    polarity: Literal["positive", "negative"]
    n_cycles: int
    window: tuple[float, float]
    a_median: float
    a_q25: float
    a_q75: float
    a_std: float
    g_median: float
    offset_median: float


@dataclass(frozen=True, kw_only=True, eq=False)
class LeaIVFit:
    """Per-cycle sinh fits of the LEA I-V sweeps and their summaries.

    Attributes
    ----------
    cycles : tuple of CycleFit
        Every fitted sweep, positive first, cycles in order.
    positive : IVFitSummary
        The positive (RESET) sweeps: the device in its low-resistance state, the fit that the
        presets use.
    negative : IVFitSummary
        The negative (SET) sweeps: high-resistance state in series with the access transistor,
        currents within a few instrument steps of zero; reported for completeness, not used.
    """

    cycles: tuple[CycleFit, ...]
    positive: IVFitSummary
    negative: IVFitSummary

    @property
    def a(self) -> FloatArray:
        """1/V, ``a`` of the positive sweeps, one per cycle (read-only)."""
        return readonly(np.array([c.fit.a for c in self.cycles if c.polarity == "positive"]))


def _summary(polarity: Literal["positive", "negative"], fits: list[SinhFit], window: tuple[float, float]) -> IVFitSummary:
    a = np.array([f.a for f in fits])
    return IVFitSummary(
        polarity=polarity,
        n_cycles=len(fits),
        window=window,
        a_median=float(np.median(a)),
        a_q25=float(np.percentile(a, 25)),
        a_q75=float(np.percentile(a, 75)),
        a_std=float(np.std(a, ddof=1)) if a.size > 1 else 0.0,
        g_median=float(np.median([f.g for f in fits])),
        offset_median=float(np.median([f.offset for f in fits])),
    )


def _fit_branch(curve: IVCurve, window: tuple[float, float], fit_offset: bool) -> SinhFit:
    k = curve.turning_index
    return fit_sinh(curve.voltage[: k + 1], curve.current[: k + 1], v_range=window, fit_offset=fit_offset)


def fit_lea_iv(
    *,
    positive_window: tuple[float, float] = LEA_POSITIVE_WINDOW,
    negative_window: tuple[float, float] = LEA_NEGATIVE_WINDOW,
    fit_offset: bool = True,
) -> LeaIVFit:
    """Fit ``I = g sinh(a V) / a + offset`` to the pre-switching part of every LEA I-V sweep.

    Parameters
    ----------
    positive_window : (float, float)
        Volt, fit window on the outgoing branch of the positive sweeps. Default ``(0, 0.5)``.
    negative_window : (float, float)
        Volt, fit window on the outgoing branch of the negative sweeps. Default ``(-1.0, 0)``.
    fit_offset : bool
        Fit a constant current offset. Default ``True`` (see Notes).

    Returns
    -------
    LeaIVFit
        38 per-cycle fits and one summary per polarity (median ``a`` and its spread).

    Notes
    -----
    Data: LEA paper (Yousuf et al., arXiv:2404.15621) Fig. 3c, files
    ``iv_{positive,negative}_cycle{1..19}.txt``, one 1T1R HfOx-type device cycled 19 times.

    Window, decided from the data. Each positive sweep starts in the low-resistance state and
    RESETs: its current peaks at 0.745-0.842 V (median 0.78 V) and then falls. The incremental
    conductance dI/dV (median over cycles, 0.1 V windows) rises from about 370 uS near 0 V to
    about 560 uS at 0.45-0.55 V and falls from 0.6 V on, so the gradual RESET already bends the
    curve above about 0.55 V. The fit therefore uses ``0 <= V <= 0.5 V`` of the outgoing branch:
    the range where dI/dV still rises, at least 0.24 V below the earliest current peak, and a
    range that covers the 0.3 V read voltage and the half-select voltage of a 1 V write. The
    fitted ``a`` depends on this choice (about 2.6 /V with an upper edge of 0.4 V, 1.7 /V with
    0.6 V), which is the main uncertainty of the number, larger than its cycle-to-cycle spread.

    Offset: every positive sweep reads 5-9 uA at exactly 0 V and then rises with the slope of the
    device, an instrument or transistor offset rather than device current, so a constant offset
    is fitted too (median about 5 uA); without it ``a`` comes out lower (about 1.7 /V) because
    the offset mimics a smaller conductance at low voltage.

    Negative sweeps start in the high-resistance state and SET at -1.19 to -1.80 V (first
    ``|I| > 20 uA``); before that the current is below about 10 uA, under 1 uS of conductance,
    quantised in 0.14 uA steps and shaped by the access transistor's threshold, so their fits in
    ``-1.0 V <= V <= 0`` have large ``a`` with a wide spread and describe the selector, not the
    memristor. They are returned for completeness; presets use the positive summary.

    Result with the defaults (positive sweeps, 19 cycles): median ``a`` = 2.07 /V, quartiles
    1.98-2.15 /V, standard deviation 0.13 /V; median ``g`` = 404 uS.
    """
    fits: list[CycleFit] = []
    for curve in lea_iv_curves():
        window = positive_window if curve.polarity == "positive" else negative_window
        fits.append(CycleFit(polarity=curve.polarity, cycle=curve.cycle, fit=_fit_branch(curve, window, fit_offset)))
    pos = [c.fit for c in fits if c.polarity == "positive"]
    neg = [c.fit for c in fits if c.polarity == "negative"]
    return LeaIVFit(
        cycles=tuple(fits),
        positive=_summary("positive", pos, (float(positive_window[0]), float(positive_window[1]))),
        negative=_summary("negative", neg, (float(negative_window[0]), float(negative_window[1]))),
    )
