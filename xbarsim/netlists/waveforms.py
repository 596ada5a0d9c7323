"""Time-dependent source waveforms: piecewise-linear sources and trapezoidal pulse trains.

A waveform is dimensionless when it scales a bias scheme (every source's DC voltage times the
waveform's value) and in volt when it replaces one source's voltage; the transient solvers say
which. Every waveform is a :class:`PWL` in the end, so the sparse stepper and ngspice's ``PWL(...)``
source see exactly the same corners (they are the breakpoints of both integrators).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, readonly, short_repr
from xbarsim.errors import ConfigError

__all__ = ["PWL", "Pulse", "LineCapacitance"]


@dataclass(frozen=True, kw_only=True, eq=False)
class PWL:
    """A piecewise-linear waveform through the points ``(times[k], values[k])``, constant after the last.

    Attributes
    ----------
    times : ndarray, shape (K,)
        Second; ``times[0] == 0`` and strictly increasing.
    values : ndarray, shape (K,)
        Value at each time (volt, or a scale factor; see the module docstring).
    """

    times: FloatArray
    values: FloatArray

    def __post_init__(self) -> None:
        t = as_float_array(self.times, "times", what="finite time in seconds")
        v = as_float_array(self.values, "values", what="finite waveform value")
        if t.ndim != 1 or t.size < 1 or v.shape != t.shape:
            raise ConfigError(f"`times` and `values` must be 1-D arrays of one length >= 1; got shapes {t.shape} and {v.shape}.")
        if t[0] != 0.0:
            raise ConfigError(f"`times` must start at 0 s; got times[0] = {short_repr(t[0])}.")
        d = np.diff(t)
        if (d <= 0).any():
            k = int(np.flatnonzero(d <= 0)[0])
            raise ConfigError(f"`times` must be strictly increasing (a PWL waveform is monotonic in time); "
                              f"got times[{k}] = {short_repr(t[k])} then times[{k + 1}] = {short_repr(t[k + 1])}.")
        object.__setattr__(self, "times", readonly(t))
        object.__setattr__(self, "values", readonly(v))

    def __call__(self, t: FloatArray | float) -> FloatArray:
        """The value at time(s) ``t`` (s)."""
        return np.asarray(np.interp(t, self.times, self.values), dtype=np.float64)

    @property
    def end_time(self) -> float:
        """Second, time of the last corner."""
        return float(self.times[-1])

    @property
    def breakpoints(self) -> FloatArray:
        """Second, the corners (where the slope changes)."""
        return self.times

    def scaled(self, factor: float) -> PWL:
        """This waveform times ``factor``."""
        out = object.__new__(PWL)  # the corners are already validated; scaling keeps them valid
        values = self.values * float(factor)
        values.setflags(write=False)
        object.__setattr__(out, "times", self.times)
        object.__setattr__(out, "values", values)
        return out

    def spice(self, factor: float = 1.0) -> str:
        """``PWL(t0 v0 t1 v1 ...)`` of ``factor`` times this waveform, doubles written exactly."""
        pts = " ".join(f"{t:.17g} {v * factor:.17g}" for t, v in zip(self.times, self.values, strict=True))
        return f"PWL({pts})"


@dataclass(frozen=True, kw_only=True)
class Pulse:
    """A train of trapezoidal pulses, starting from 0 at ``t = 0``.

    Each pulse rises from 0 to ``amplitude`` in ``rise`` seconds, stays for ``width``, falls back in
    ``fall``; pulse ``k`` starts at ``delay + k * period``.

    Attributes
    ----------
    amplitude : float
        Peak value (volt, or a scale factor).
    rise, fall : float
        Second, > 0 (a zero edge is a discontinuity no integrator can step over).
    width : float
        Second, >= 0, time at the peak.
    delay : float
        Second, >= 0, start of the first pulse.
    period : float or None
        Second, pulse repetition; at least ``rise + width + fall`` (``None`` for one pulse).
    count : int
        Number of pulses (>= 1); more than one needs ``period``.
    """

    amplitude: float
    rise: float
    width: float
    fall: float
    delay: float = 0.0
    period: float | None = None
    count: int = 1

    def __post_init__(self) -> None:
        amp = as_float_array(self.amplitude, "amplitude", what="finite pulse amplitude")
        if amp.ndim != 0:
            raise ConfigError(f"`amplitude` must be a scalar; got shape {amp.shape}.")
        object.__setattr__(self, "amplitude", float(amp))
        for name, strict in (("rise", True), ("fall", True), ("width", False), ("delay", False)):
            val = as_float_array(getattr(self, name), name, what="finite time in seconds")
            if val.ndim != 0 or (float(val) <= 0 if strict else float(val) < 0):
                sign = "positive" if strict else "non-negative"
                raise ConfigError(f"`{name}` must be a {sign} time in seconds; got {getattr(self, name)!r}.")
            object.__setattr__(self, name, float(val))
        if isinstance(self.count, bool) or not isinstance(self.count, int | np.integer) or self.count < 1:
            raise ConfigError(f"`count` must be a positive int; got {self.count!r}.")
        duration = self.rise + self.width + self.fall
        if self.period is not None:
            per = as_float_array(self.period, "period", what="finite time in seconds")
            if per.ndim != 0 or float(per) < duration:
                raise ConfigError(f"`period` must be at least rise + width + fall = {duration:g} s; got {self.period!r}.")
            object.__setattr__(self, "period", float(per))
        elif self.count > 1:
            raise ConfigError(f"`period` is needed for count = {self.count} pulses; got None.")

    def to_pwl(self) -> PWL:
        """The same waveform as a :class:`PWL` (its corners are the breakpoints)."""
        times: list[float] = [0.0]
        values: list[float] = [0.0]
        period = self.period if self.period is not None else 0.0
        for k in range(self.count):
            t0 = self.delay + k * period
            pts = [(t0, 0.0), (t0 + self.rise, self.amplitude), (t0 + self.rise + self.width, self.amplitude),
                   (t0 + self.rise + self.width + self.fall, 0.0)]
            for t, v in pts:
                if t > times[-1]:
                    times.append(t)
                    values.append(v)
                elif t == times[-1] and v != values[-1]:  # pragma: no cover - zero edges are refused
                    raise ConfigError("`rise`/`fall` of zero make a discontinuous pulse.")
        return PWL(times=np.array(times), values=np.array(values))

    def __call__(self, t: FloatArray | float) -> FloatArray:
        """The value at time(s) ``t`` (s)."""
        return self.to_pwl()(t)

    @property
    def end_time(self) -> float:
        """Second, end of the last pulse."""
        return self.to_pwl().end_time


@dataclass(frozen=True, kw_only=True, eq=False)
class LineCapacitance:
    """Capacitance of the wires to ground, per segment (farad), lumped half onto each end node.

    Attributes
    ----------
    row_segment : float or ndarray, shape (M, N-1)
        Farad, each row-wire segment.
    col_segment : float or ndarray, shape (M-1, N)
        Farad, each column-wire segment.
    """

    row_segment: FloatArray | float = 0.0
    col_segment: FloatArray | float = 0.0

    def __post_init__(self) -> None:
        for name in ("row_segment", "col_segment"):
            arr = as_float_array(getattr(self, name), name, what="non-negative capacitance in farad", min_value=0.0)
            object.__setattr__(self, name, readonly(arr))

    def node_capacitance(self, m: int, n: int) -> tuple[FloatArray, FloatArray]:
        """Farad at every row node and column node, ``(M, N)`` each (half of each adjacent segment)."""
        try:
            rs = np.broadcast_to(self.row_segment, (m, n - 1))
            cs = np.broadcast_to(self.col_segment, (m - 1, n))
        except ValueError as exc:
            raise ConfigError(f"`row_segment`/`col_segment` must broadcast to ({m}, {n - 1}) and ({m - 1}, {n}); "
                              f"got shapes {np.shape(self.row_segment)} and {np.shape(self.col_segment)}.") from exc
        row = np.zeros((m, n))
        row[:, :-1] += rs / 2
        row[:, 1:] += rs / 2
        col = np.zeros((m, n))
        col[:-1, :] += cs / 2
        col[1:, :] += cs / 2
        return row, col
