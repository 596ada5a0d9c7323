"""Tiling: the blocks that one copy of a layer occupies on arrays (kernels) of a given size.

A part of a :class:`~xbarsim.mapping.encoding.MappedWeights` (the ``G+`` block, the ``G-`` block, an
interleaved block, ...) larger than a kernel is split into row chunks and column chunks. Each chunk
is a :class:`BlockSpec`, placed as one contiguous block of one kernel. The outputs of blocks that
cover different row chunks are partial sums, added in the periphery. A reference column is
repeated in every column chunk (each block is sensed on its own kernel and needs its own).

The currents of every block column form the *channels* of the layer; a channel matrix ``Q``
``(m, n_channels)`` holds one copy's conductances (zero where a channel does not cover a row), and
``W = (Q @ readout) / g_scale`` exactly as for the untiled copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import ArrayLike, BoolArray, FloatArray, IntArray
from xbarsim._validation import as_float_array, check_size, readonly
from xbarsim.errors import ConfigError
from xbarsim.mapping.encoding import MappedWeights

__all__ = ["BlockSpec", "LayerLayout", "tile_layer", "chunk_sizes"]


@dataclass(frozen=True, kw_only=True, eq=False)
class BlockSpec:
    """One block of one copy of a layer, before placement.

    Attributes
    ----------
    part : int
        Index into ``MappedWeights.part_names`` (e.g. 0 = ``G+``, 1 = ``G-``).
    row_start, row_stop : int
        The weight rows (layer inputs) ``[row_start, row_stop)`` the block covers.
    columns : ndarray of int, shape (w,)
        Columns of ``MappedWeights.conductance`` in block order (a reference column may appear in
        several blocks).
    channels : ndarray of int, shape (w,)
        Channel index of every block column in the layer's channel matrix.
    outputs : ndarray of int
        The layer outputs this block contributes to.
    """

    part: int
    row_start: int
    row_stop: int
    columns: IntArray
    channels: IntArray
    outputs: IntArray

    def __post_init__(self) -> None:
        for name in ("columns", "channels", "outputs"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=np.int64)))

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the block."""
        return (self.row_stop - self.row_start, int(self.columns.size))


@dataclass(frozen=True, kw_only=True, eq=False)
class LayerLayout:
    """The blocks of one copy of a layer and how their column currents combine into outputs.

    Attributes
    ----------
    specs : tuple of BlockSpec
        Every block of one copy.
    readout : ndarray, shape (n_channels, n)
        Dimensionless signs: output ``j`` (before scaling) is ``sum_c I_c readout[c, j]`` over the
        channel currents ``I_c``.
    channel_column : ndarray of int, shape (n_channels,)
        Column of ``MappedWeights.conductance`` each channel carries.
    channel_rows : ndarray of int, shape (n_channels, 2)
        Weight rows ``[start, stop)`` each channel covers.
    reference : ndarray of bool, shape (n_channels,)
        Reference channels.
    n_rows : int
        ``m``, the layer's inputs.
    kernel_shape : (int, int)
        Rows x columns of the kernels the layout was made for.
    g_scale : float
        Siemens per weight unit (from the encoding).
    """

    __repr__ = compact_repr

    specs: tuple[BlockSpec, ...]
    readout: FloatArray
    channel_column: IntArray
    channel_rows: IntArray
    reference: BoolArray
    n_rows: int
    kernel_shape: tuple[int, int]
    g_scale: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "readout", readonly(np.asarray(self.readout, dtype=np.float64)))
        object.__setattr__(self, "channel_column", readonly(np.asarray(self.channel_column, dtype=np.int64)))
        object.__setattr__(self, "channel_rows", readonly(np.asarray(self.channel_rows, dtype=np.int64)))
        object.__setattr__(self, "reference", readonly(np.asarray(self.reference, dtype=bool)))

    @property
    def n_channels(self) -> int:
        """Block columns of one copy."""
        return int(self.channel_column.size)

    @property
    def n_outputs(self) -> int:
        """``n``, the layer's outputs."""
        return int(self.readout.shape[1])

    @property
    def devices_per_copy(self) -> int:
        """Devices of one copy (``2 m n`` for differential pairs)."""
        return int(sum(s.shape[0] * s.shape[1] for s in self.specs))

    @property
    def covered(self) -> BoolArray:
        """``(m, n_channels)``: which channel has a device in which weight row."""
        rows = np.arange(self.n_rows)[:, None]
        return (rows >= self.channel_rows[:, 0]) & (rows < self.channel_rows[:, 1])

    def channel_matrix(self, conductance: ArrayLike) -> FloatArray:
        """Siemens, ``(..., m, n_channels)`` channel matrix of per-copy conductances ``(..., m, K)``
        laid out as ``MappedWeights.conductance``; zero where a channel has no device."""
        g = as_float_array(conductance, "conductance", what="array of conductances in siemens")
        return np.where(self.covered, g[..., self.channel_column], 0.0)

    def weights(self, q: ArrayLike) -> FloatArray:
        """Weights ``(..., m, n)`` encoded by channel matrices ``q`` (``(..., m, n_channels)``, siemens)."""
        qq = as_float_array(q, "q", what="array of conductances in siemens")
        if qq.shape[-2:] != (self.n_rows, self.n_channels):
            raise ConfigError(f"`q` must have shape (..., {self.n_rows}, {self.n_channels}); got shape {qq.shape}.")
        return np.asarray(np.where(self.covered, qq, 0.0) @ self.readout) / self.g_scale


def chunk_sizes(total: int, limit: int) -> list[int]:
    """Split ``total`` into the fewest chunks of at most ``limit``, sizes as equal as possible."""
    for name, val, low in (("total", total, 1), ("limit", limit, 1)):
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < low:
            raise ConfigError(f"`{name}` must be an int >= {low}; got {val!r}.")
    check_size((int(total),), "total")
    q = -(-total // limit)
    base, extra = divmod(total, q)
    return [base + (1 if i < extra else 0) for i in range(q)]


def tile_layer(mapped: MappedWeights, kernel_shape: tuple[int, int]) -> LayerLayout:
    """Split one copy of a layer into blocks that fit kernels of ``kernel_shape``.

    Parameters
    ----------
    mapped : MappedWeights
        The encoded layer.
    kernel_shape : (int, int)
        Rows x columns of one kernel (array).

    Returns
    -------
    LayerLayout
        One block per (part, row chunk, column chunk). Row and column chunks are as equal as
        possible; the columns of one output (an interleaved pair) stay in one block, and each
        block of a part with a reference column gets its own copy of it.

    Raises
    ------
    ConfigError
        If a kernel is too narrow for one output (plus its reference column).
    """
    if not isinstance(mapped, MappedWeights):
        raise ConfigError(f"`mapped` must be a MappedWeights; got {type(mapped).__name__}.")
    if (not isinstance(kernel_shape, tuple) or len(kernel_shape) != 2
            or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in kernel_shape)):
        raise ConfigError(f"`kernel_shape` must be a (rows, columns) tuple of positive ints; got {kernel_shape!r}.")
    kr, kc = int(kernel_shape[0]), int(kernel_shape[1])
    m, n = mapped.shape
    readout = mapped.readout
    row_sizes = chunk_sizes(m, kr)
    row_bounds = np.concatenate([[0], np.cumsum(row_sizes)])
    specs: list[BlockSpec] = []
    ch_col: list[int] = []
    ch_rows: list[tuple[int, int]] = []
    ch_ref: list[bool] = []
    ch_readout: list[FloatArray] = []
    for p in range(len(mapped.part_names)):
        cols = np.flatnonzero(mapped.part == p)
        refs = cols[mapped.reference[cols]]
        wcols = cols[~mapped.reference[cols]]
        owner = np.array([int(np.flatnonzero(readout[c])[0]) for c in wcols], dtype=np.int64)
        outs = list(dict.fromkeys(owner.tolist()))  # outputs in column order, each once
        per_out = max((int(np.count_nonzero(owner == o)) for o in outs), default=1)
        budget = kc - refs.size
        if budget < per_out:
            raise ConfigError(
                f"a kernel of {kr}x{kc} is too narrow for part {mapped.part_names[p]!r}: one output needs "
                f"{per_out} column(s) plus {refs.size} reference column(s)."
            )
        col_chunks = chunk_sizes(len(outs), budget // per_out) if outs else []
        start = 0
        for size in col_chunks:
            chunk_outs = np.array(outs[start:start + size], dtype=np.int64)
            start += size
            block_cols = np.concatenate([wcols[np.isin(owner, chunk_outs)], refs])
            for r in range(len(row_sizes)):
                r0, r1 = int(row_bounds[r]), int(row_bounds[r + 1])
                first = len(ch_col)
                for c in block_cols:
                    ro = np.array(readout[c], dtype=np.float64)
                    if mapped.reference[c]:
                        keep = np.zeros(n, dtype=bool)
                        keep[chunk_outs] = True
                        ro = np.where(keep, ro, 0.0)
                    ch_col.append(int(c))
                    ch_rows.append((r0, r1))
                    ch_ref.append(bool(mapped.reference[c]))
                    ch_readout.append(ro)
                specs.append(BlockSpec(part=p, row_start=r0, row_stop=r1, columns=block_cols,
                                       channels=np.arange(first, len(ch_col)), outputs=chunk_outs))
    return LayerLayout(
        specs=tuple(specs),
        readout=np.array(ch_readout).reshape(len(ch_col), n),
        channel_column=np.array(ch_col, dtype=np.int64),
        channel_rows=np.array(ch_rows, dtype=np.int64).reshape(-1, 2),
        reference=np.array(ch_ref, dtype=bool),
        n_rows=m,
        kernel_shape=(kr, kc),
        g_scale=mapped.g_scale,
    )
