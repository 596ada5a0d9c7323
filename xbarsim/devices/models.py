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

__all__ = ["DeviceModel", "Ohmic"]


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
