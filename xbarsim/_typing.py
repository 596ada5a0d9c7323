"""Array aliases, option literals and the shape conventions used across xbarsim.

Shapes (stated once, used everywhere):

* ``G`` conductance matrix: ``(M, N)`` siemens. Rows ``i`` are word lines (inputs), columns ``j``
  are bit lines (outputs). Cell ``(i, j)`` sits between row node ``(i, j)`` and column node ``(i, j)``.
* inputs: ``(M,)`` or a batch ``(B, M)`` volts; outputs: ``(N,)`` or ``(B, N)`` amperes.
* With ideal wires, ``I = V @ G``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "FloatArray",
    "IntArray",
    "BoolArray",
    "ArrayLike",
    "SolveMethod",
    "Ordering",
    "WriteSchemeName",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

#: How the sparse backend solves the linear system.
SolveMethod = Literal["auto", "direct", "iterative"]
#: Fill-reducing ordering for the direct path.
Ordering = Literal["auto", "nested-dissection", "colamd", "mmd"]
#: Programming bias schemes.
WriteSchemeName = Literal["v/2", "v/3", "floating", "grounded"]
