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

__all__ = ["DeviceModel", "Ohmic", "Sinh"]


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

    name: str
    linear: bool

    def current(self, v: FloatArray, g: FloatArray) -> FloatArray: ...

    def conductance(self, v: FloatArray, g: FloatArray) -> FloatArray: ...

    def spice_element(self, name: str, node_p: str, node_n: str, g: float) -> list[str]: ...


@dataclass(frozen=True, kw_only=True)
class Ohmic:
    """A linear resistor: ``I = g V``. A cell with ``g == 0`` is an open circuit."""

    name: str = "ohmic"
    linear: bool = True

    def current(self, v: FloatArray, g: FloatArray) -> FloatArray:
        return np.multiply(g, v)

    def conductance(self, v: FloatArray, g: FloatArray) -> FloatArray:
        return np.broadcast_to(np.asarray(g, dtype=np.float64), np.broadcast_shapes(np.shape(v), np.shape(g))).copy()

    def spice_element(self, name: str, node_p: str, node_n: str, g: float) -> list[str]:
        if g == 0.0:
            return []
        return [f"R{name} {node_p} {node_n} {1.0 / g:.17g}"]


@dataclass(frozen=True, kw_only=True)
class Sinh:
    """Symmetric sinh nonlinearity of passive TiO2/HfOx devices: ``I = g sinh(a V) / a``.

    ``dI/dV = g cosh(a V)`` equals ``g`` at 0 V, so ``g`` stays the small-signal (read) conductance;
    a half-selected cell at ``V/2`` carries ``sinh(aV/2)/sinh(aV)`` of the selected cell's current,
    less than the linear one half. ``a -> 0`` recovers :class:`Ohmic`.

    Attributes
    ----------
    a : float
        1/V, the nonlinearity; must be > 0.
    """

    a: float
    name: str = "sinh"
    linear: bool = False

    def __post_init__(self) -> None:
        from xbarsim._validation import as_float_array
        from xbarsim.errors import ConfigError

        a = as_float_array(self.a, "a", what="positive nonlinearity in 1/V", min_value=0.0)
        if a.ndim != 0 or float(a) <= 0:
            raise ConfigError(f"`a` must be a positive nonlinearity in 1/V (a scalar); got {self.a!r}.")
        object.__setattr__(self, "a", float(a))

    def current(self, v: FloatArray, g: FloatArray) -> FloatArray:
        return np.multiply(g, np.sinh(self.a * np.asarray(v))) / self.a

    def conductance(self, v: FloatArray, g: FloatArray) -> FloatArray:
        return np.multiply(g, np.cosh(self.a * np.asarray(v)))

    def spice_element(self, name: str, node_p: str, node_n: str, g: float) -> list[str]:
        if g == 0.0:
            return []
        return [f"B{name} {node_p} {node_n} I={g / self.a:.17g}*sinh({self.a:.17g}*(V({node_p})-V({node_n})))"]
