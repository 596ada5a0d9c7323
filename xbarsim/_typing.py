"""Array aliases, option literals and the shape conventions used across xbarsim.

Shapes (stated once, used everywhere):

* ``G`` conductance matrix: ``(M, N)`` siemens. Rows ``i`` are word lines (inputs), columns ``j``
  are bit lines (outputs). Cell ``(i, j)`` sits between row node ``(i, j)`` and column node ``(i, j)``.
* inputs: ``(M,)`` or a batch ``(B, M)`` volts; outputs: ``(N,)`` or ``(B, N)`` amperes.
* With ideal wires, ``I = V @ G``.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "IdealCells",
    "WriteSchemeName",
    "TransientLinearSolver",
    "VerifyTarget",
    "ProgressCallback",
    "DeviceLawName",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

#: How the sparse backend solves the linear system.
SolveMethod = Literal["auto", "direct", "iterative"]
#: Fill-reducing ordering for the direct path.
Ordering = Literal["auto", "nested-dissection", "colamd", "mmd"]
#: What the ideal backend makes of the cells: linear at their programmed conductance (the textbook
#: ``I = V G``), or their device law.
IdealCells = Literal["linear", "law"]
#: Cell I-V laws a config or command line may name (:data:`xbarsim.devices.DEVICE_LAWS`).
DeviceLawName = Literal["ohmic", "sinh"]
#: Programming bias schemes.
WriteSchemeName = Literal["v/2", "v/3", "floating", "grounded"]
#: Linear solver of a transient step's Newton iteration (``xbarsim.solver.TransientOptions``).
TransientLinearSolver = Literal["woodbury", "gmres"]
#: What a transient write-verify compares its read with (``xbarsim.analysis.WriteVerifySettings``).
VerifyTarget = Literal["array", "device"]
#: A progress report: ``progress(label, done, total)``, called as work finishes (``done`` counts
#: finished steps, resumed ones included). The library never draws bars itself: the CLI passes one
#: that drives tqdm, a library user passes whatever suits (or nothing).
ProgressCallback = Callable[[str, int, int], None]
