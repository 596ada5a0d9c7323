"""SPD tridiagonal factor/solve (LAPACK ``pttrf``/``pttrs``): the exact wire preconditioner."""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from xbarsim._typing import FloatArray
from xbarsim.errors import CircuitError

__all__ = ["pttrf", "pttrs"]

#: What a breakdown of an SPD factorization means for a user: the inputs, not the solver.
_EXTREME = (": conductances or wire resistances this extreme (or this far apart) cannot be solved in double "
            "precision.")


def pttrf(d: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray]:
    """LDL^T of the SPD tridiagonal matrix with diagonal ``d`` and off-diagonal ``e`` (LAPACK)."""
    if d.size == 1:  # the LAPACK wrapper rejects an empty off-diagonal
        if not d[0] > 0:
            raise CircuitError(f"the nodal matrix is not positive definite in double precision{_EXTREME}")
        return d.copy(), e
    df, ef, info = lapack.dpttrf(d, e)
    if info != 0:
        raise CircuitError(f"the nodal matrix is not positive definite in double precision (LAPACK dpttrf info={info})"
                           f"{_EXTREME}")
    return df, ef


def pttrs(d: FloatArray, e: FloatArray, rhs: FloatArray, overwrite: bool = False) -> FloatArray:
    """Solve with the factors of :func:`pttrf`; ``overwrite``: solve in place in ``rhs`` (and return it)."""
    if d.size == 1:
        if overwrite:
            rhs /= d[0]
            return rhs
        return rhs / d[0]
    x, info = lapack.dpttrs(d, e, rhs, overwrite_b=overwrite)
    if overwrite and not np.shares_memory(x, rhs):  # LAPACK worked on a copy (rhs not Fortran-contiguous)
        rhs[...] = x
        return rhs
    return np.asarray(x)
