"""Read power of crossbar arrays from the circuit solution: how much a layer's reads dissipate.

Every read of a kernel drives some rows through their drivers (the others at 0 V) and holds every
column at virtual ground (0 V), as :func:`~xbarsim.mapping.block_currents` models it. The power the
sources deliver then equals what the circuit dissipates (Tellegen): in the cells, and in the wires,
the driver output resistances and the sense resistances (together "wires" here). The column
sources sit at 0 V and deliver no power. Energy is power times the read time (a pulse of constant
voltage; :attr:`~xbarsim.evaluation.Hardware.read_time`).

Not included: the DACs, ADCs, drivers' and sense amplifiers' own consumption, digital periphery,
and charging of line capacitances (a DC circuit has none).

Linear devices use superposition: one batched solve of unit inputs per kernel gives the input
admittance ``Y`` (so ``P = v Y v^T`` per vector) and the cell-voltage response ``K`` (so the cell
part is ``v K diag(g) K^T v^T``); any number of input vectors then costs matrix products.
Nonlinear devices are solved per read (``Solution.power``; the cell part from the cell voltages and
currents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, readonly, short_repr
from xbarsim.errors import ConfigError
from xbarsim.mapping.ensemble import MappedLayer
from xbarsim.mapping.inference import InferenceConfig, _check_layer, _input_voltages, _row_voltages
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.solver.api import get_backend, solve
from xbarsim.solver.base import Backend

__all__ = ["ReadPower", "crossbar_read_power", "layer_read_power", "layer_read_energy"]


@dataclass(frozen=True, kw_only=True, eq=False)
class ReadPower:
    """Watt per input vector, split into the cells and everything resistive around them.

    Attributes
    ----------
    cells : ndarray, shape (B,)
        Dissipated in the cells.
    wires : ndarray, shape (B,)
        Dissipated in wire segments, driver and sense resistances (0 with ideal wires).
    """

    __repr__ = compact_repr

    cells: FloatArray
    wires: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", readonly(np.asarray(self.cells, dtype=np.float64)))
        object.__setattr__(self, "wires", readonly(np.asarray(self.wires, dtype=np.float64)))

    @property
    def total(self) -> FloatArray:
        """Watt, delivered by the row drivers = ``cells + wires``."""
        return np.asarray(self.cells + self.wires)


def _linear_forms(xbar: Crossbar, backend: str | Backend) -> tuple[FloatArray, FloatArray]:
    """``(Y, Q)`` (M, M) siemens: total power ``v Y v^T`` and cell power ``v Q v^T`` of a read with row
    voltages ``v`` (all columns at 0 V)."""
    m, n = xbar.shape
    # unit inputs, one per row: any backend of the registry ("ideal" gives diag(G.sum(1)) for both forms)
    sol = solve(xbar, BiasScheme.read(np.eye(m)), backend)
    y = np.asarray(sol.input_currents).reshape(m, m)
    k = np.asarray(sol.cell_voltages).reshape(m, m * n)
    q = k @ (np.asarray(xbar.conductance).reshape(1, -1) * k).T
    return 0.5 * (y + y.T), 0.5 * (q + q.T)


def _quad(v: FloatArray, form: FloatArray) -> FloatArray:
    return np.asarray(np.einsum("bi,bi->b", v, v @ form))


def _solved_power(xbar: Crossbar, vk: FloatArray, backend: str | Backend, batch_size: int
                  ) -> tuple[FloatArray, FloatArray]:
    total = np.empty(vk.shape[0])
    cells = np.empty(vk.shape[0])
    for start in range(0, vk.shape[0], batch_size):
        stop = min(start + batch_size, vk.shape[0])
        sol = solve(xbar, BiasScheme.read(vk[start:stop]), backend)
        total[start:stop] = np.asarray(sol.power).reshape(-1)
        vi = np.asarray(sol.cell_voltages) * np.asarray(sol.cell_currents)
        cells[start:stop] = vi.reshape(stop - start, -1).sum(axis=1)
    return cells, total


def _check_backend(backend: str | Backend) -> Backend:
    return get_backend(backend)


def crossbar_read_power(xbar: Crossbar, v: FloatArray, backend: str | Backend = "sparse",
                        batch_size: int = 256) -> ReadPower:
    """Watt, the power of reading ``xbar`` with row voltages ``v`` ``(B, M)`` (columns at virtual ground).

    ``backend="ideal"`` ignores the wires: ``P = sum_ij v_i^2 G_ij``.
    """
    if not isinstance(xbar, Crossbar):
        raise ConfigError(f"`xbar` must be a Crossbar; got {type(xbar).__name__}.")
    vv = as_float_array(v, "v", what="finite (B, M) voltage array in volt")
    if vv.ndim != 2 or vv.shape[1] != xbar.shape[0]:
        raise ConfigError(f"`v` must have shape (B, {xbar.shape[0]}); got shape {vv.shape}.")
    be = _check_backend(backend)
    if xbar.device.linear:
        y, q = _linear_forms(xbar, be)
        total, cells = _quad(vv, y), _quad(vv, q)
    else:
        cells, total = _solved_power(xbar, vv, be, batch_size)
    return ReadPower(cells=cells, wires=total - cells)


def layer_read_power(layer: MappedLayer, v: FloatArray, backend: str | Backend = "ideal",
                     batch_size: int = 256) -> ReadPower:
    """Watt per input vector: every read that computes a mapped layer for row voltages ``v`` ``(B, m)``.

    Blocks placed on the same kernel rows are read together (one read); blocks on other rows of a
    kernel are separate reads, as in :func:`~xbarsim.mapping.block_currents`. Powers of all reads
    and kernels are summed (the reads are sequential or parallel; energy adds either way).
    """
    _check_layer(layer)
    v = _row_voltages(v, layer.shape[0])
    be = _check_backend(backend)
    chip = layer.chip
    specs = layer.layout.specs
    bsz = v.shape[0]
    cells = np.zeros(bsz)
    total = np.zeros(bsz)
    # Linear cells: power is a quadratic form in the driven rows' voltages, so the forms of every
    # read driven by the same inputs (the same row chunk, on any kernel, any copy) add up first.
    forms: dict[tuple[int, int], FloatArray] = {}
    for k in layer.placement.kernels:
        groups = sorted({(b.row, specs[b.spec].row_start, specs[b.spec].row_stop)
                         for b in layer.placement.blocks if b.kernel == k})
        xbar = chip.crossbar(k)
        if xbar.device.linear:
            y, q = _linear_forms(xbar, be)
            for row, r0, r1 in groups:
                sub = slice(row, row + r1 - r0)
                both = np.hstack([y[sub, sub], q[sub, sub]])
                forms[(r0, r1)] = forms[(r0, r1)] + both if (r0, r1) in forms else both
        else:
            for row, r0, r1 in groups:
                vk = np.zeros((bsz, chip.kernel_shape[0]))
                vk[:, row:row + r1 - r0] = v[:, r0:r1]
                c, t = _solved_power(xbar, vk, be, batch_size)
                cells += c
                total += t
    for (r0, r1), form in forms.items():
        u = v[:, r0:r1]
        w = u @ form
        n = r1 - r0
        total += np.einsum("bi,bi->b", w[:, :n], u)
        cells += np.einsum("bi,bi->b", w[:, n:], u)
    return ReadPower(cells=cells, wires=total - cells)


def layer_read_energy(layer: MappedLayer, x: FloatArray, config: InferenceConfig | None = None, *,
                      read_time: float) -> ReadPower:
    """Joule per input vector (as a :class:`ReadPower` times ``read_time``) of computing a mapped
    layer for inputs ``x`` ``(B, m)`` through the DAC of ``config``.

    Parameters
    ----------
    layer : MappedLayer
        The mapped layer whose kernels are read.
    x : ndarray, shape (B, m)
        Layer inputs, one row per input vector (``m`` the layer's inputs).
    config : InferenceConfig, optional
        Its DAC turns ``x`` into row voltages; its ``backend`` and ``batch_size`` solve the reads
        (default ``InferenceConfig()``).
    read_time : float
        Second, how long each read's voltages are applied (> 0).
    """
    _check_layer(layer)
    cfg = InferenceConfig() if config is None else config
    if not isinstance(cfg, InferenceConfig):
        raise ConfigError(f"`config` must be an InferenceConfig; got {type(cfg).__name__}.")
    t = as_float_array(read_time, "read_time", what="positive time in second")
    if t.ndim or not float(t) > 0:
        raise ConfigError(f"`read_time` must be a positive time in second; got {short_repr(read_time)}.")
    xx = as_float_array(x, "x", what="finite (B, m) input array")
    if xx.ndim != 2 or xx.shape[1] != layer.shape[0]:
        raise ConfigError(f"`x` must have shape (B, {layer.shape[0]}); got shape {xx.shape}.")
    v, _, _ = _input_voltages(layer, xx, cfg)  # xx checked above
    p = layer_read_power(layer, v, cfg.backend, cfg.batch_size)
    return ReadPower(cells=p.cells * float(t), wires=p.wires * float(t))
