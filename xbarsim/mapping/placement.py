"""Placing the blocks of alpha copies of a layer on a chip: random or greedy defect-aware.

Every block (one :class:`~xbarsim.mapping.tiling.BlockSpec` of one copy) is a contiguous
rectangle of one kernel; blocks never overlap each other or devices already in use.

* **random**: each block goes to a uniformly chosen free position, preferring positions aligned
  to the block size (so that blocks pack as densely as the kernels allow). Fault-blind.
* **greedy** (LEA, Yousuf et al.; ``find_ensemble_offsets_sim`` of the paper's code): candidate
  positions holding a rejected device (stuck-OFF -- the paper's "shorts" -- or non-switching) are
  discarded; the rest are ranked by their number of stuck devices; blocks are taken in that order
  while they add a defect-free column to an output that still lacks ``beta`` defect-free copies,
  then, to place all ``alpha`` copies, the best remaining positions fill up.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from xbarsim._repr import compact_repr
from xbarsim._typing import BoolArray, IntArray
from xbarsim._validation import check_choice, check_rng, readonly, short_repr
from xbarsim.errors import ConfigError
from xbarsim.mapping.chip import Characterization
from xbarsim.mapping.tiling import BlockSpec, LayerLayout

__all__ = ["PlacementMethod", "Block", "Placement", "place_layer", "block_capacity"]

#: How blocks are placed on the chip.
PlacementMethod = Literal["random", "greedy"]


@dataclass(frozen=True, kw_only=True)
class Block:
    """One placed block.

    Attributes
    ----------
    copy : int
        Which of the alpha copies it belongs to.
    spec : int
        Index of its :class:`BlockSpec` in the layer's layout.
    kernel, row, col : int
        Kernel and the kernel row/column of the block's top-left device.
    rows, cols : int
        Block size.
    """

    copy: int
    spec: int
    kernel: int
    row: int
    col: int
    rows: int
    cols: int

    def overlaps(self, other: Block) -> bool:
        """Whether the two blocks share a device."""
        return (self.kernel == other.kernel and self.row < other.row + other.rows and other.row < self.row + self.rows
                and self.col < other.col + other.cols and other.col < self.col + self.cols)


@dataclass(frozen=True, kw_only=True, eq=False)
class Placement:
    """Where every block of alpha copies of a layer sits.

    Attributes
    ----------
    blocks : tuple of Block
        Ordered by copy, then spec.
    alpha : int
        Number of copies.
    method : str
        ``"random"``, ``"greedy"`` or ``"given"``.
    chip_shape : (int, int, int)
        ``(K, R, C)`` of the chip.
    """

    __repr__ = compact_repr

    blocks: tuple[Block, ...]
    alpha: int
    method: str
    chip_shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        if not isinstance(self.blocks, (tuple, list)):
            raise ConfigError(f"`blocks` must be a tuple of Block; got {short_repr(self.blocks)}.")
        for b in self.blocks:
            if not isinstance(b, Block):
                raise ConfigError(f"`blocks` must be a tuple of Block; got {short_repr(b)} among them.")
        k, r, c = _chip_shape(self.chip_shape)
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1:
            raise ConfigError(f"`alpha` must be a positive int (copies per layer); got {short_repr(a)}.")
        blocks = tuple(sorted(self.blocks, key=lambda b: (b.copy, b.spec)))
        for b in blocks:
            if not 0 <= b.copy < a:
                raise ConfigError(f"block {b} belongs to copy {b.copy} of alpha = {a} copies (numbered 0..{a - 1}).")
            if not (0 <= b.kernel < k and 0 <= b.row and b.row + b.rows <= r and 0 <= b.col and b.col + b.cols <= c):
                raise ConfigError(f"block {b} lies outside the chip of {k} kernels of {r}x{c}.")
        occ = np.zeros(self.chip_shape, dtype=np.int64)
        for b in blocks:
            occ[b.kernel, b.row:b.row + b.rows, b.col:b.col + b.cols] += 1
        if (occ > 1).any():
            raise ConfigError("blocks of a placement must not overlap; got two blocks sharing a device.")
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "alpha", int(a))
        object.__setattr__(self, "chip_shape", (k, r, c))

    def block(self, copy: int, spec: int) -> Block:
        """The block of ``copy`` for layout spec ``spec``."""
        for b in self.blocks:
            if b.copy == copy and b.spec == spec:
                return b
        raise ConfigError(f"no block for copy {copy}, spec {spec} in this placement.")

    def occupancy(self) -> BoolArray:
        """``(K, R, C)``: devices used by this placement."""
        occ = np.zeros(self.chip_shape, dtype=bool)
        for b in self.blocks:
            occ[b.kernel, b.row:b.row + b.rows, b.col:b.col + b.cols] = True
        return readonly(occ)

    @property
    def kernels(self) -> tuple[int, ...]:
        """Kernels holding at least one block, ascending."""
        return tuple(sorted({b.kernel for b in self.blocks}))

    def device_index(self, layout: LayerLayout) -> tuple[IntArray, IntArray]:
        """Flat indices pairing every placed device with its copy's channel-matrix entry.

        Returns
        -------
        (chip_index, copy_index) : ndarrays of int, shape (alpha * devices_per_copy,)
            ``chip_index`` into the chip's ``(K, R, C)`` arrays, ``copy_index`` into an
            ``(alpha, m, n_channels)`` stack of channel matrices.
        """
        if not isinstance(layout, LayerLayout):
            raise ConfigError(f"`layout` must be a LayerLayout; got {type(layout).__name__}.")
        n_specs = len(layout.specs)
        seen: set[tuple[int, int]] = set()
        for b in self.blocks:
            if not 0 <= b.spec < n_specs:
                raise ConfigError(f"block {b} is of spec {b.spec}, but the layout has {n_specs} specs "
                                  f"(numbered 0..{n_specs - 1}).")
            if (b.copy, b.spec) in seen:
                raise ConfigError(f"copy {b.copy} has two blocks for layout spec {b.spec}; a placement has one per "
                                  "copy and spec.")
            seen.add((b.copy, b.spec))
        for a in range(self.alpha):
            for s in range(n_specs):
                if (a, s) not in seen:
                    raise ConfigError(f"copy {a} has no block for layout spec {s}: a placement of alpha = "
                                      f"{self.alpha} copies has one block per copy and spec of the layout.")
        _, kr, kc = self.chip_shape
        m, nch = layout.n_rows, layout.n_channels
        chip_parts, copy_parts = [], []
        for b in self.blocks:
            spec = layout.specs[b.spec]
            if (b.rows, b.cols) != spec.shape:
                raise ConfigError(f"block {b} does not have the shape {spec.shape} of layout spec {b.spec}.")
            ii, jj = np.meshgrid(np.arange(b.rows), np.arange(b.cols), indexing="ij")
            chip_parts.append(((b.kernel * kr + b.row + ii) * kc + b.col + jj).ravel())
            copy_parts.append(((b.copy * m + spec.row_start + ii) * nch + spec.channels[jj]).ravel())
        return np.concatenate(chip_parts), np.concatenate(copy_parts)


def _chip_shape(value: object) -> tuple[int, int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 3
            or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in value)):
        raise ConfigError(f"`chip_shape` must be a (K, R, C) tuple of positive ints; got {short_repr(value)}.")
    return (int(value[0]), int(value[1]), int(value[2]))


def _window_sums(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """``(K, R-h+1, C-w+1)`` sums of ``a`` (K, R, C) over every h x w window."""
    s = np.zeros((a.shape[0], a.shape[1] + 1, a.shape[2] + 1), dtype=np.int64)
    s[:, 1:, 1:] = a.astype(np.int64).cumsum(1).cumsum(2)
    return s[:, h:, w:] - s[:, :-h, w:] - s[:, h:, :-w] + s[:, :-h, :-w]


def _column_window_counts(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """``(K, R-h+1, C-w+1, w)``: per block column, the count of ``a`` in rows ``[r, r+h)``."""
    s = np.zeros((a.shape[0], a.shape[1] + 1, a.shape[2]), dtype=np.int64)
    s[:, 1:] = a.astype(np.int64).cumsum(1)
    col = s[:, h:] - s[:, :-h]  # (K, R-h+1, C)
    return sliding_window_view(col, w, axis=2)


def block_capacity(occupied: BoolArray, shape: tuple[int, int]) -> int:
    """How many non-overlapping blocks of ``shape`` fit in the free devices (first fit, raster order).

    A count that first fit achieves, not an upper bound: a block taken at an unaligned position can
    block two that a packing from other positions would fit (two 3x2 blocks per 4x4 kernel whose
    corner device is in use: first fit finds one).

    Parameters
    ----------
    occupied : ndarray of bool, shape (K, R, C)
        Devices already in use.
    shape : (int, int)
        Block rows x columns (>= 1 each).
    """
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in shape)):
        raise ConfigError(f"`shape` must be a (rows, columns) pair of positive ints; got {short_repr(shape)}.")
    occ = np.array(occupied, dtype=bool)
    if occ.ndim != 3:
        raise ConfigError(f"`occupied` must be a (K, R, C) array of bool; got shape {occ.shape}.")
    h, w = int(shape[0]), int(shape[1])
    if h > occ.shape[1] or w > occ.shape[2]:
        return 0
    count = 0
    for k in range(occ.shape[0]):
        for r in range(occ.shape[1] - h + 1):
            c = 0
            while c <= occ.shape[2] - w:
                if not occ[k, r:r + h, c:c + w].any():
                    occ[k, r:r + h, c:c + w] = True
                    count += 1
                    c += w
                else:
                    c += 1
    return count


class _NoFit(Exception):
    """Internal: the blocks of ``spec`` ran out of room (``avoid``: devices strict greedy rejects)."""

    def __init__(self, spec: BlockSpec, avoid: BoolArray | None = None) -> None:
        super().__init__(spec)
        self.spec = spec
        self.avoid = avoid


def _largest_fitting_alpha(place: Callable[[int], object], alpha: int) -> int:
    """The largest number of copies below ``alpha`` that ``place`` maps, 0 if not even one does.

    Bisection between a count that was placed and one that was refused, so the answer is always a
    count that was actually placed by the same algorithm on the same chip state (a capacity count of
    one block shape is not: a layer's blocks have several shapes, 22x10 and 21x10 say, that compete
    for the same kernels).
    """
    lo, hi = 0, alpha  # invariant: lo copies map (or lo == 0), hi copies do not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            place(mid)
        except _NoFit:
            hi = mid
        else:
            lo = mid
    return lo


def _does_not_fit(layout: LayerLayout, alpha: int, occupied: BoolArray, nofit: _NoFit, fit_alpha: int) -> ConfigError:
    k, r, c = occupied.shape
    spec, avoid = nofit.spec, nofit.avoid
    per_copy = sum(1 for s in layout.specs if s.shape == spec.shape)
    usable = occupied if avoid is None else occupied | avoid
    cap = block_capacity(usable, spec.shape)
    m, n = layout.n_rows, layout.n_outputs
    clean = ("" if avoid is None else " that hold no stuck-OFF or non-switching device (strict greedy placement "
             "rejects those; strict=False ranks them last instead)")
    shapes = sorted({s.shape for s in layout.specs})
    mix = "" if len(shapes) == 1 else f" (the copy's blocks have {len(shapes)} shapes, " + ", ".join(
        f"{sum(1 for s in layout.specs if s.shape == sh)} x {sh[0]}x{sh[1]}" for sh in shapes) + ", which share the kernels)"
    what = (f"What fits: alpha <= {fit_alpha} copies of this layer (alpha = {fit_alpha} was placed){mix}; "
            if fit_alpha else f"Not even one copy fits{mix}; ")
    return ConfigError(
        f"the layer ({m} inputs x {n} outputs, {len(layout.specs)} block(s) and {layout.devices_per_copy} devices "
        f"per copy) does not fit: alpha = {alpha} copies need {alpha * per_copy} blocks of {spec.shape[0]}x"
        f"{spec.shape[1]}, and a first-fit count over the chip ({k} kernels of {r}x{c}, {int((~occupied).sum())} "
        f"free devices) finds room for {cap} such blocks in its free devices{clean}. {what}"
        f"otherwise use a chip with more or larger kernels."
    )


def _place_random(layout: LayerLayout, alpha: int, occupied: BoolArray, rng: np.random.Generator) -> list[Block]:
    occ = np.array(occupied, dtype=bool)
    out: list[Block] = []
    for a in range(alpha):
        for s, spec in enumerate(layout.specs):
            h, w = spec.shape
            free = _window_sums(occ, h, w) == 0
            aligned = np.zeros_like(free)
            aligned[:, ::h, ::w] = True
            choice = np.argwhere(free & aligned)
            if choice.size == 0:
                choice = np.argwhere(free)
            if choice.size == 0:
                raise _NoFit(spec)
            k, r, c = (int(x) for x in choice[rng.integers(choice.shape[0])])
            occ[k, r:r + h, c:c + w] = True
            out.append(Block(copy=a, spec=s, kernel=k, row=r, col=c, rows=h, cols=w))
    return out


def _place_greedy(layout: LayerLayout, alpha: int, beta: int, occupied: BoolArray, char: Characterization,
                  strict: bool) -> list[Block]:
    occ = np.array(occupied, dtype=bool)
    stuck = np.asarray(char.stuck_on)
    rejected = np.asarray(char.rejected)
    out: list[Block] = []
    for s, spec in enumerate(layout.specs):
        h, w = spec.shape
        # which block columns serve which of the block's outputs (a reference column serves all)
        serve = layout.readout[spec.channels][:, spec.outputs] != 0  # (w, n_out)
        stuck_cols = _column_window_counts(stuck, h, w)      # (K, P, Q, w)
        rej_cols = _column_window_counts(rejected, h, w)
        free = _window_sums(occ, h, w) == 0                  # (K, P, Q)
        n_rej = rej_cols.sum(-1)
        ok = free if not strict else free & (n_rej == 0)
        cand = np.argwhere(ok)
        if cand.shape[0] < alpha:
            raise _NoFit(spec, rejected if strict else None)
        kk, rr, cc = cand[:, 0], cand[:, 1], cand[:, 2]
        per_col_stuck = stuck_cols[kk, rr, cc]               # (N, w)
        per_col_rej = rej_cols[kk, rr, cc]
        bad_out = ((per_col_stuck + per_col_rej) @ serve) > 0  # (N, n_out): output has a defective column
        total = per_col_stuck.sum(-1)
        order = np.lexsort((cc, rr, kk, total, n_rej[kk, rr, cc]))
        need = np.full(spec.outputs.size, beta, dtype=np.int64)
        chosen: list[int] = []
        chosen_blocks: list[Block] = []

        def fits(i: int) -> Block | None:
            b = Block(copy=len(chosen), spec=s, kernel=int(kk[i]), row=int(rr[i]), col=int(cc[i]), rows=h, cols=w)
            return None if any(b.overlaps(o) for o in chosen_blocks) else b

        for i in order:  # pass 1: blocks that give an output a defect-free copy it still needs
            if len(chosen) == alpha or not (need > 0).any():
                break
            useful = (need > 0) & ~bad_out[i]
            if not useful.any():
                continue
            b = fits(int(i))
            if b is None:
                continue
            chosen.append(int(i))
            chosen_blocks.append(b)
            need = np.where(~bad_out[i], np.maximum(need - 1, 0), need)
        taken = set(chosen)
        for i in order:  # pass 2: fill the remaining copies with the best remaining positions
            if len(chosen) == alpha:
                break
            if int(i) in taken:
                continue
            b = fits(int(i))
            if b is None:
                continue
            chosen.append(int(i))
            chosen_blocks.append(b)
        if len(chosen) < alpha:
            raise _NoFit(spec, rejected if strict else None)
        for b in chosen_blocks:
            occ[b.kernel, b.row:b.row + h, b.col:b.col + w] = True
        out.extend(chosen_blocks)
    return out


def place_layer(
    layout: LayerLayout,
    *,
    alpha: int,
    chip_shape: tuple[int, int, int],
    method: PlacementMethod = "greedy",
    rng: np.random.Generator | None = None,
    characterization: Characterization | None = None,
    beta: int | None = None,
    occupied: BoolArray | None = None,
    strict: bool = True,
) -> Placement:
    """Place alpha copies of every block of ``layout`` on a chip.

    Parameters
    ----------
    layout : LayerLayout
        Blocks of one copy (:func:`~xbarsim.mapping.tile_layer`).
    alpha : int
        Copies to place (>= 1).
    chip_shape : (int, int, int)
        ``(K, R, C)`` of the chip; ``(R, C)`` must be the layout's kernel shape.
    method : {"random", "greedy"}
        See the module notes.
    rng : numpy.random.Generator, optional
        Required for ``"random"``.
    characterization : Characterization, optional
        Required for ``"greedy"``: the known stuck and rejected devices.
    beta : int, optional
        Greedy: defect-free copies wanted per output (default ``alpha``).
    occupied : ndarray of bool, shape (K, R, C), optional
        Devices already used (other layers); never placed on.
    strict : bool
        Greedy: discard positions with rejected devices (default). ``False`` ranks them last
        instead, for chips where every position has some.

    Returns
    -------
    Placement

    Raises
    ------
    ConfigError
        Unknown method, bad alpha/beta, or a layer that does not fit (the message says how many
        blocks and copies do fit).
    """
    check_choice(method, get_args(PlacementMethod), "method")
    if not isinstance(layout, LayerLayout):
        raise ConfigError(f"`layout` must be a LayerLayout; got {type(layout).__name__}.")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, np.integer)) or alpha < 1:
        raise ConfigError(f"`alpha` must be a positive int (copies per layer); got {short_repr(alpha)}.")
    alpha = int(alpha)
    b = alpha if beta is None else beta
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= b <= alpha:
        raise ConfigError(f"`beta` must be an int in [1, alpha = {alpha}]; got {short_repr(beta)}.")
    shape = _chip_shape(chip_shape)
    if shape[1:] != layout.kernel_shape:
        raise ConfigError(f"`chip_shape` must be (K, {layout.kernel_shape[0]}, {layout.kernel_shape[1]}) for this "
                          f"layout; got {chip_shape!r}.")
    if not isinstance(strict, bool):
        raise ConfigError(f"`strict` must be a bool; got {short_repr(strict)}.")
    try:
        occ = np.zeros(shape, dtype=bool) if occupied is None else np.asarray(occupied, dtype=bool)
    except (TypeError, ValueError) as exc:  # a ragged nested sequence
        raise ConfigError(f"`occupied` must be a (K, R, C) array of bool; got {short_repr(occupied)}.") from exc
    if occ.shape != shape:
        raise ConfigError(f"`occupied` must have shape {shape}; got shape {occ.shape}.")
    place: Callable[[int], list[Block]]
    if method == "random":
        if rng is None:
            raise ConfigError("random placement needs `rng` (a numpy.random.Generator).")
        start = copy.deepcopy(check_rng(rng))  # trials of other alphas replay the caller's generator state

        def place(a: int) -> list[Block]:
            return _place_random(layout, a, occ, rng if a == alpha else copy.deepcopy(start))
    elif method == "greedy":
        if not isinstance(characterization, Characterization):
            raise ConfigError("greedy placement needs `characterization` (from xbarsim.mapping.characterize).")
        if characterization.stuck_on.shape != shape:
            raise ConfigError(f"`characterization` is of a chip of shape {characterization.stuck_on.shape}, not {shape}.")
        char = characterization

        def place(a: int) -> list[Block]:
            return _place_greedy(layout, a, min(int(b), a), occ, char, strict)
    else:  # pragma: no cover - check_choice guards this
        raise ConfigError(f"`method` must be one of {get_args(PlacementMethod)}; got {method!r}.")
    try:
        blocks = place(alpha)
    except _NoFit as nofit:
        raise _does_not_fit(layout, alpha, occ, nofit, _largest_fitting_alpha(place, alpha)) from None
    return Placement(blocks=tuple(blocks), alpha=alpha, method=method, chip_shape=shape)
