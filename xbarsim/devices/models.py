"""Current-voltage laws of one cross-point device.

A device model maps the voltage across a cell and its programmed small-signal conductance ``g``
(siemens) to the current through the cell. Voltage is row node minus column node; current is
positive when it flows from the row node through the device into the column node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array
from xbarsim.errors import ConfigError

__all__ = ["DeviceModel", "Ohmic", "Sinh", "SINH_A_MIN"]

#: 1/V, the smallest sinh nonlinearity accepted. Below it ``sinh(a v) / a`` leaves double precision:
#: ``a v`` of a 0.3 V cell is subnormal from ``a`` ~ 1e-308 on (at ``a`` = 1e-320 a 100 uS cell carried
#: 5e-21 A instead of 3e-5 A), and ngspice's B-source returned 0 A from ``a`` = 1e-307 on. Any ``a``
#: this small is an ohmic device to every printed digit: use :class:`Ohmic`.
SINH_A_MIN = 1e-150


@runtime_checkable
class DeviceModel(Protocol):
    """What one cross-point device must provide. This docstring is the implementer's checklist.

    * ``name``: short identifier used in SPICE comments and reports.
    * ``linear``: ``True`` only when ``current(v, g) == g * v`` exactly; the solvers then take the
      single-factorization path, otherwise Newton's method.
    * ``current(v, g)``: current in ampere for arrays of voltages ``v`` (volt) and programmed
      conductances ``g`` (siemens) that broadcast together; vectorised, no Python loop per cell.
    * ``conductance(v, g)``: ``dI/dV`` in siemens, same broadcasting. It must equal ``g`` at ``v = 0``
      (the programmed conductance is the small-signal conductance at zero bias) and be ``>= 0``
      (a passive device), so the Newton Jacobian stays symmetric positive semi-definite.
    * ``spice_element(name, node_p, node_n, g)``: the SPICE line(s) of one cell implementing exactly
      the same law, so that ngspice solves the same circuit. ``g == 0`` cells may return ``[]``.
    * Models are frozen dataclasses whose parameters carry their unit in the field docstring.
    """

    # Read-only properties, so that frozen dataclasses (whose fields mypy treats as read-only)
    # satisfy the protocol.
    @property
    def name(self) -> str:
        """Short identifier of the law."""
        ...

    @property
    def linear(self) -> bool:
        """``True`` only for an exactly ohmic law."""
        ...

    def current(self, v: FloatArray, g: FloatArray) -> FloatArray:
        """Ampere, the cell current for voltages ``v`` (volt) and conductances ``g`` (siemens), broadcast."""
        ...

    def conductance(self, v: FloatArray, g: FloatArray) -> FloatArray:
        """Siemens, ``dI/dV`` at ``v`` (volt) for conductances ``g`` (siemens); ``g`` at 0 V, never negative."""
        ...

    def spice_element(self, name: str, node_p: str, node_n: str, g: float) -> list[str]:
        """SPICE line(s) of one cell of conductance ``g`` (S) from ``node_p`` to ``node_n``; ``[]`` may mean open."""
        ...


@dataclass(frozen=True, kw_only=True)
class Ohmic:
    """A linear resistor: ``I = g V`` (ampere, with ``g`` in siemens and ``V`` in volt).

    ``dI/dV = g`` at every voltage. A cell with ``g == 0`` is an open circuit and has no SPICE
    element. In SPICE the cell is the resistor ``R<name> <p> <n> 1/g``.

    Attributes
    ----------
    name : str
        ``"ohmic"``.
    linear : bool
        ``True``.
    """

    name: str = "ohmic"
    linear: bool = True

    def current(self, v: FloatArray, g: FloatArray) -> FloatArray:
        """Ampere, ``g * v`` broadcast over ``v`` (volt) and ``g`` (siemens)."""
        return np.multiply(g, v)

    def conductance(self, v: FloatArray, g: FloatArray) -> FloatArray:
        """Siemens, ``dI/dV = g`` broadcast to the shape of ``v`` and ``g``."""
        return np.broadcast_to(np.asarray(g, dtype=np.float64), np.broadcast_shapes(np.shape(v), np.shape(g))).copy()

    def spice_element(self, name: str, node_p: str, node_n: str, g: float) -> list[str]:
        """``["R<name> <node_p> <node_n> <1/g ohm>"]``, or ``[]`` for an open cell (``g == 0``)."""
        if g == 0.0:
            return []
        return [f"R{name} {node_p} {node_n} {1.0 / g:.17g}"]


def check_sinh_a(a: float, name: str = "a") -> float:
    """``a`` (1/V, positive) itself, or ConfigError when it is below :data:`SINH_A_MIN`."""
    if a < SINH_A_MIN:
        raise ConfigError(f"`{name}` must be a sinh nonlinearity of at least {SINH_A_MIN:g} /V; got {a!r}: "
                          "sinh(a v) / a underflows double precision there (the device is ohmic: use Ohmic()).")
    return a


@dataclass(frozen=True, kw_only=True)
class Sinh:
    """Symmetric sinh nonlinearity of passive TiO2/HfOx devices: ``I = g sinh(a V) / a``.

    ``dI/dV = g cosh(a V)`` equals ``g`` at 0 V, so ``g`` stays the small-signal conductance and is
    ``>= 0`` everywhere; the law is odd in ``V``. A half-selected cell at ``V/2`` carries
    ``sinh(aV/2)/sinh(aV)`` of the selected cell's current, less than the linear one half, which is
    what lets a passive array suppress sneak currents. ``a -> 0`` recovers :class:`Ohmic`.

    Attributes
    ----------
    a : float
        1/V, the nonlinearity; must be > 0. The chord conductance ``I/V`` at voltage ``V`` exceeds
        ``g`` by the factor ``sinh(aV)/(aV)``: 1.065 at 0.3 V and 1.19 at 0.5 V for ``a = 2.07 /V``.
    name : str
        ``"sinh"``.
    linear : bool
        ``False``.

    Notes
    -----
    Measured value. Fitted (:func:`xbarsim.devices.fit.fit_lea_iv`) to the 19 positive I-V sweeps
    of one 1T1R HfOx-type device of the LEA chip (Yousuf et al., arXiv:2404.15621, Fig. 3c; files
    ``iv_positive_cycle{1..19}.txt``), low-resistance state (g about 400 uS), outgoing branch
    ``0 <= V <= 0.5 V`` below the RESET onset, with a constant 5 uA instrument offset fitted too:
    ``a = 2.07 /V`` (median; quartiles 1.98-2.15 /V, cycle-to-cycle standard deviation 0.13 /V). The
    fit covers 0-0.5 V of one polarity of one device in one state; its dependence on the window's
    upper edge (2.6 /V at 0.4 V, 1.7 /V at 0.6 V) is a larger uncertainty than the cycle spread.
    The presets in :mod:`xbarsim.devices.presets` use this value.

    SPICE: the B-source ``B<name> <p> <n> I=<g/a>*sinh(<a>*(V(<p>)-V(<n>)))`` with 17 significant
    digits, so ngspice evaluates exactly the same law.
    """

    a: float
    name: str = "sinh"
    linear: bool = False

    def __post_init__(self) -> None:
        a = as_float_array(self.a, "a", what="positive nonlinearity in 1/V", min_value=0.0)
        if a.ndim != 0 or float(a) <= 0:
            raise ConfigError(f"`a` must be a positive nonlinearity in 1/V (a scalar); got {self.a!r}.")
        object.__setattr__(self, "a", check_sinh_a(float(a)))

    def current(self, v: FloatArray, g: FloatArray) -> FloatArray:
        """Ampere, ``g sinh(a v) / a`` broadcast over ``v`` (volt) and ``g`` (siemens)."""
        return np.multiply(g, np.sinh(self.a * np.asarray(v))) / self.a

    def conductance(self, v: FloatArray, g: FloatArray) -> FloatArray:
        """Siemens, ``dI/dV = g cosh(a v)`` broadcast over ``v`` and ``g``."""
        return np.multiply(g, np.cosh(self.a * np.asarray(v)))

    def spice_element(self, name: str, node_p: str, node_n: str, g: float) -> list[str]:
        """One ngspice B-source line (current source of the same law), or ``[]`` when ``g == 0``."""
        if g == 0.0:
            return []
        return [f"B{name} {node_p} {node_n} I={g / self.a:.17g}*sinh({self.a:.17g}*(V({node_p})-V({node_n})))"]
