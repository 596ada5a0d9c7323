"""Inference of a mapped layer: inputs -> voltages -> arrays -> currents -> ADC -> outputs.

Signal chain of :func:`run_layer` for inputs ``x`` ``(B, m)``:

1. DAC: ``v = x / s_b * V_read`` with the per-vector scale ``s_b = max_i |x_bi|`` (LEA scales every
   input vector to the DAC range) or a fixed ``x_max``; optional sign-magnitude quantization to
   ``bits`` magnitude bits.
2. Arrays: every block of every copy is read, through the solver registry. ``"ideal"``:
   ``I = v @ G`` on the block's present conductances (0 ohm wires, linear cells; the ideal
   backend's read matrices are the conductances). ``"sparse"``/``"ngspice"``/a backend object:
   the whole kernel is solved as a circuit (its wires, its device law) with the block's rows
   driven and every other row at 0 V, every column held at virtual ground; blocks that share a
   kernel and rows share one solve. A backend with read matrices (``read_matrices``: the sparse
   backend for linear devices, one factorization for any number of inputs) reads by matrix
   products. Kernels without read matrices (nonlinear devices) are read through the backend's
   ``read_currents`` where it has one (the sparse backend: one Newton batched across every kernel,
   row group and input vector of a device law), else solved kernel by kernel.
3. Sense/TIA and averaging: per output and channel, the kept copies' currents are summed and
   divided by beta (by 1 for MAO, whose copies add up) before one ADC conversion (``"analog"``, default), or each copy is converted
   and the kept copies' results averaged (summed for MAO) (``"digital"``).
4. ADC: sign-magnitude quantization of each conversion to ``bits`` magnitude bits over a range set
   per input vector (the largest conversion of the layer for that vector) or at full scale.
5. Differential subtraction and partial sums (digital), then scaling back to weight units:
   ``y = I_out s_b / (V_read g_scale)``.

Steps 3-5 run vectorised over every block, copy and input vector at once: with ideal converters
the read-out is linear and folds, with the kernels' transfer matrices (or conductances), into one
``(m, n)`` matrix per layer; with quantizing ADCs every conversion is computed with the same
floating-point operations, in the same order, as a per-block read-out would (the quantized levels
are bit for bit those of one block at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from xbarsim._typing import ArrayLike, FloatArray, IntArray
from xbarsim._validation import as_float_array, check_choice, short_repr
from xbarsim.devices.models import DeviceModel
from xbarsim.errors import ConfigError
from xbarsim.mapping.ensemble import MappedLayer
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.solver.api import get_backend, solve
from xbarsim.solver.base import Backend

__all__ = ["DacScaling", "AdcRange", "Averaging", "DAC", "ADC", "InferenceConfig", "run_layer", "block_currents",
           "input_voltages"]

#: How inputs are scaled to the DAC range.
DacScaling = Literal["per-vector", "fixed"]
#: How the ADC range is set.
AdcRange = Literal["per-vector", "full-scale"]
#: Where the kept copies are averaged.
Averaging = Literal["analog", "digital"]


def _bits(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= 32:
        raise ConfigError(f"`{name}` must be None (ideal) or an int in [1, 32]; got {short_repr(value)}.")
    return int(value)


def _check_layer(layer: object) -> None:
    """ConfigError unless ``layer`` is a MappedLayer (before: an AttributeError on its first field)."""
    if not isinstance(layer, MappedLayer):
        raise ConfigError(f"`layer` must be a MappedLayer (from xbarsim.mapping.map_layer); got {type(layer).__name__}.")


@dataclass(frozen=True, kw_only=True)
class DAC:
    """Input digital-to-analog conversion.

    Attributes
    ----------
    v_read : float or None
        Volt, the read voltage a full-scale input gets (> 0); ``None`` uses the chip preset's
        read voltage (0.3 V for the LEA chip).
    bits : int or None
        Magnitude bits (sign-magnitude, sign free); ``None`` for an ideal DAC.
    scaling : {"per-vector", "fixed"}
        ``"per-vector"``: each input vector is divided by its own largest magnitude (as in LEA);
        ``"fixed"``: by ``x_max``.
    x_max : float
        Input magnitude that maps to ``v_read`` with fixed scaling (> 0); larger inputs saturate.
    """

    v_read: float | None = None
    bits: int | None = None
    scaling: DacScaling = "per-vector"
    x_max: float = 1.0

    def __post_init__(self) -> None:
        if self.v_read is not None:
            v = as_float_array(self.v_read, "v_read", what="positive voltage in volt")
            if v.ndim or float(v) <= 0:
                raise ConfigError(f"`v_read` must be a positive voltage in volt; got {short_repr(self.v_read)}.")
            object.__setattr__(self, "v_read", float(v))
        object.__setattr__(self, "bits", _bits(self.bits, "bits"))
        check_choice(self.scaling, get_args(DacScaling), "scaling")
        xm = as_float_array(self.x_max, "x_max", what="positive input magnitude")
        if xm.ndim or float(xm) <= 0:
            raise ConfigError(f"`x_max` must be a positive input magnitude; got {short_repr(self.x_max)}.")
        object.__setattr__(self, "x_max", float(xm))


@dataclass(frozen=True, kw_only=True)
class ADC:
    """Output analog-to-digital conversion (after the sense amplifier / TIA).

    Attributes
    ----------
    bits : int or None
        Magnitude bits (sign-magnitude); ``None`` for an ideal ADC.
    range : {"per-vector", "full-scale"} or float
        ``"per-vector"``: the largest conversion of the layer for that input vector (LEA);
        ``"full-scale"``: ``V_read * rows * g_max`` of the tallest block, times the copies whose
        currents one analog conversion sums (MAO's ``alpha``; 1 for an average); a float is a fixed
        range in ampere.
    """

    bits: int | None = None
    range: AdcRange | float = "per-vector"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", _bits(self.bits, "bits"))
        if isinstance(self.range, str):
            check_choice(self.range, get_args(AdcRange), "range")
        else:
            r = as_float_array(self.range, "range", what="positive current range in ampere")
            if r.ndim or float(r) <= 0:
                raise ConfigError(f"`range` must be 'per-vector', 'full-scale' or a positive current in ampere; "
                                  f"got {short_repr(self.range)}.")
            object.__setattr__(self, "range", float(r))


@dataclass(frozen=True, kw_only=True)
class InferenceConfig:
    """How a mapped layer is read.

    Attributes
    ----------
    backend : {"ideal", "sparse", "ngspice"} or Backend
        ``"ideal"``: ``I = v @ G`` on the present conductances (no wires, no device law);
        ``"sparse"``/``"ngspice"`` or a backend object: every kernel solved as a circuit.
    dac : DAC
        Input conversion.
    adc : ADC
        Output conversion.
    averaging : {"analog", "digital"}
        Average the kept copies (sum them, for MAO) before (analog, one conversion) or after
        (digital) the ADC.
    batch_size : int
        Inputs per circuit solve of nonlinear or ngspice kernels (memory bound).
    """

    backend: str | Backend = "ideal"
    dac: DAC = DAC()
    adc: ADC = ADC()
    averaging: Averaging = "analog"
    batch_size: int = 256

    def __post_init__(self) -> None:
        get_backend(self.backend)  # raises ConfigError listing the valid names
        if not isinstance(self.dac, DAC):
            raise ConfigError(f"`dac` must be a DAC; got {type(self.dac).__name__}.")
        if not isinstance(self.adc, ADC):
            raise ConfigError(f"`adc` must be an ADC; got {type(self.adc).__name__}.")
        check_choice(self.averaging, get_args(Averaging), "averaging")
        bs = self.batch_size
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1:
            raise ConfigError(f"`batch_size` must be a positive int; got {short_repr(bs)}.")


def _quantize_sm(values: FloatArray, full: FloatArray, bits: int) -> FloatArray:
    """Sign-magnitude quantization of ``values`` to ``bits`` magnitude bits over ``[-full, full]``:
    ``sign(v) rint(min(|v| / full, 1) levels) / levels * full`` (a full range of 0 counts as 1)."""
    levels = 2.0**bits - 1.0
    safe = np.where(full > 0, full, 1.0)
    q = np.abs(values)
    q /= safe
    np.minimum(q, 1.0, out=q)
    q *= levels
    np.rint(q, out=q)
    np.copysign(q, values, out=q)
    q /= levels
    q *= safe
    return q


def _kernel_matrices(layer: MappedLayer, backend: str | Backend) -> dict[int, FloatArray]:
    """Siemens, ``M`` ``(kernel rows, kernel cols)`` of every placed kernel whose read is one linear map
    ``I = v @ M`` of its row voltages, from the backend's ``read_matrices`` capability (the ideal
    backend: the conductances; sparse: the transfer matrices of linear kernels, all of them in one
    bulk call per device law). Kernels without one are left out."""
    chip = layer.chip
    be = get_backend(backend)
    read_matrices = getattr(be, "read_matrices", None)
    mats: dict[int, FloatArray] = {}
    if read_matrices is not None:
        by_law: dict[DeviceModel, list[int]] = {}
        for k in layer.placement.kernels:
            by_law.setdefault(chip.presets[k].device, []).append(k)
        for law, kernels in by_law.items():
            tms = read_matrices(chip.conductance[kernels], chip.lines, law)
            if tms is not None:
                mats.update(zip(kernels, tms))
    return mats


def _row_voltages(v: ArrayLike, m: int) -> FloatArray:
    """``v`` as a finite float64 ``(B, m)`` array of row voltages (volt), or ConfigError naming ``v``."""
    vv = as_float_array(v, "v", what=f"finite (B, {m}) array of row voltages in volt")
    if vv.ndim != 2 or vv.shape[1] != m:
        raise ConfigError(f"`v` must have shape (B, {m}); got shape {vv.shape}.")
    return vv


def block_currents(layer: MappedLayer, v: FloatArray, backend: str | Backend = "ideal",
                   batch_size: int = 256) -> dict[tuple[int, int], FloatArray]:
    """Ampere, the column currents ``(B, cols)`` of every placed block for row voltages ``v`` ``(B, m)``.

    Keys are ``(copy, spec)``. See the module notes for what each backend models. Kernels whose
    backend offers read matrices (the ``read_matrices`` capability of
    :class:`~xbarsim.solver.Backend`) are read by matrix products; the others through the
    backend's ``read_currents`` (all of them in one batched solve per input chunk) where it has
    one, else kernel by kernel.
    """
    _check_layer(layer)
    v = _row_voltages(v, layer.shape[0])
    chip = layer.chip
    specs = layer.layout.specs
    be = get_backend(backend)
    mats = _kernel_matrices(layer, be)
    out = _tile_products(layer, v, mats, side_by_side=not getattr(be, "local_read_matrices", False))
    bsz = v.shape[0]
    kr = chip.kernel_shape[0]
    if getattr(be, "read_currents", None) is not None:
        out.update(_batched_currents(layer, v, be, mats, batch_size))
        return out
    for k in layer.placement.kernels:
        if k in mats:
            continue
        blocks = [b for b in layer.placement.blocks if b.kernel == k]
        xbar: Crossbar = chip.crossbar(k)
        groups: dict[tuple[int, int, int], list] = {}  # type: ignore[type-arg]
        for b in blocks:
            s = specs[b.spec]
            groups.setdefault((b.row, s.row_start, s.row_stop), []).append(b)
        for (row, r0, r1), members in groups.items():
            currents = np.empty((bsz, chip.kernel_shape[1]))
            for start in range(0, bsz, batch_size):
                stop = min(start + batch_size, bsz)
                vk = np.zeros((stop - start, kr))
                vk[:, row:row + (r1 - r0)] = v[start:stop, r0:r1]
                sol = solve(xbar, BiasScheme.read(vk), be)
                currents[start:stop] = np.asarray(sol.output_currents).reshape(stop - start, -1)
            for b in members:
                out[(b.copy, b.spec)] = currents[:, b.col:b.col + b.cols]
    return out


def _batched_currents(layer: MappedLayer, v: FloatArray, be: Backend, mats: dict[int, FloatArray],
                      batch_size: int) -> dict[tuple[int, int], FloatArray]:
    """Column currents of the blocks on kernels without read matrices, through the backend's
    ``read_currents`` capability: every (kernel, driven row range) read of a device law stacked into
    one batched solve per chunk of ``batch_size`` inputs (the same circuits as solving the kernels
    one by one: the block's rows driven, every other row at 0 V, every column sensed at 0 V)."""
    chip = layer.chip
    specs = layer.layout.specs
    bsz = v.shape[0]
    kr = chip.kernel_shape[0]
    reads: dict[DeviceModel, dict[tuple[int, int, int, int], list]] = {}  # type: ignore[type-arg]
    for b in layer.placement.blocks:
        if b.kernel in mats:
            continue
        s = specs[b.spec]
        reads.setdefault(chip.presets[b.kernel].device, {}).setdefault(
            (b.kernel, b.row, s.row_start, s.row_stop), []).append(b)
    out: dict[tuple[int, int], FloatArray] = {}
    for law, groups in reads.items():
        keys = list(groups)
        kernels = np.array([key[0] for key in keys], dtype=np.int64)
        g = chip.conductance[kernels]
        currents = np.empty((len(keys), bsz, chip.kernel_shape[1]))
        for start in range(0, bsz, batch_size):
            stop = min(start + batch_size, bsz)
            vk = np.zeros((len(keys), stop - start, kr))
            for j, (_, row, r0, r1) in enumerate(keys):
                vk[j, :, row:row + (r1 - r0)] = v[start:stop, r0:r1]
            currents[:, start:stop] = be.read_currents(g, chip.lines, law, vk)  # type: ignore[attr-defined]
        for j, key in enumerate(keys):
            for b in groups[key]:
                out[(b.copy, b.spec)] = currents[j, :, b.col:b.col + b.cols]
    return out


def input_voltages(layer: MappedLayer, x: ArrayLike, config: InferenceConfig) -> tuple[FloatArray, FloatArray, float]:
    """Step 1 (DAC): row voltages ``v`` ``(B, m)``, per-vector scales ``s_b`` ``(B,)`` and ``V_read`` (volt)
    for inputs ``x`` ``(B, m)``, so that ``x ~ v s_b / V_read``.

    Raises
    ------
    ConfigError
        ``x`` is not a finite ``(B, m)`` array (before: a NaN input gave NaN voltages, and its
        vector's scale silently 1), or ``config`` is not an InferenceConfig.
    """
    _check_layer(layer)
    if not isinstance(config, InferenceConfig):
        raise ConfigError(f"`config` must be an InferenceConfig; got {type(config).__name__}.")
    m = layer.shape[0]
    xx = as_float_array(x, "x", what=f"finite (B, {m}) input array")
    if xx.ndim != 2 or xx.shape[1] != m:
        raise ConfigError(f"`x` must have shape (B, {m}); got shape {xx.shape}.")
    return _input_voltages(layer, xx, config)


def _input_voltages(layer: MappedLayer, x: FloatArray, config: InferenceConfig
                    ) -> tuple[FloatArray, FloatArray, float]:
    """:func:`input_voltages` on inputs its caller has checked (finite float64 ``(B, m)``): the
    public entry points check the user's array once per call, not again in here."""
    cfg = config
    v_read = cfg.dac.v_read if cfg.dac.v_read is not None else layer.chip.read_voltage
    if cfg.dac.scaling == "per-vector":
        scale = np.abs(x).max(axis=1)
        scale = np.where(scale > 0, scale, 1.0)
    elif cfg.dac.scaling == "fixed":
        scale = np.full(x.shape[0], cfg.dac.x_max)
    else:  # pragma: no cover - DAC validates
        raise ConfigError(f"`scaling` must be one of {get_args(DacScaling)}; got {cfg.dac.scaling!r}.")
    u = x / scale[:, None]
    np.minimum(u, 1.0, out=u)  # == np.clip(u, -1, 1), without its slow path
    np.maximum(u, -1.0, out=u)
    if cfg.dac.bits is not None:
        u = _quantize_sm(u, np.ones((1, 1)), cfg.dac.bits)
    return u * v_read, scale, float(v_read)


def _tile_products(layer: MappedLayer, v: FloatArray, tms: dict[int, FloatArray],
                   side_by_side: bool = True) -> dict[tuple[int, int], FloatArray]:
    """Column currents of the blocks on kernels with transfer matrices ``tms``: one matrix product per
    input row range, with every block that reads those rows side by side; or (``side_by_side=False``,
    for read matrices that are each block's own cells, see ``local_read_matrices`` on
    :class:`~xbarsim.solver.Backend`) one product per block, reading the matrices in place."""
    specs = layer.layout.specs
    by_rows: dict[tuple[int, int], list] = {}  # type: ignore[type-arg]
    for b in layer.placement.blocks:
        if b.kernel in tms:
            by_rows.setdefault((specs[b.spec].row_start, specs[b.spec].row_stop), []).append(b)
    out = {}
    for (r0, r1), blocks in by_rows.items():
        if not side_by_side:
            for b in blocks:
                out[(b.copy, b.spec)] = v[:, r0:r1] @ tms[b.kernel][b.row:b.row + b.rows, b.col:b.col + b.cols]
            continue
        eff = np.concatenate([tms[b.kernel][b.row:b.row + b.rows, b.col:b.col + b.cols] for b in blocks], axis=1)
        cur = np.ascontiguousarray(v[:, r0:r1]) @ eff
        edges = np.cumsum([0] + [b.cols for b in blocks])
        for b, c0, c1 in zip(blocks, edges[:-1], edges[1:]):
            out[(b.copy, b.spec)] = cur[:, c0:c1]
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class _ReadPlan:
    """Index arithmetic of a layer's read-out, built once per :func:`run_layer` call.

    Every placed block's columns get a place on one *block-column* axis: blocks grouped by the weight
    rows they read (``ranges``: ``(row_start, row_stop, first, stop)``), in placement order inside a
    group. A *conversion* ``p`` is one (spec, channel, output) entry of the read-out; ``column[a, p]``
    is the block column copy ``a`` contributes to it, ``weight[a, p]`` whether copy ``a`` is kept for
    its output. ``index[d, j]``/``sign[d, j]`` list the conversions that add up to output ``j`` in
    the order the per-spec read-out adds them (``sign`` 0 pads outputs with fewer terms).
    ``aggregate`` ``(block columns, n)`` is the whole linear read-out (averaging, signs, partial sums)
    for ideal converters.
    """

    blocks: tuple  # type: ignore[type-arg]
    ranges: tuple[tuple[int, int, int, int], ...]
    column: IntArray
    weight: FloatArray
    index: IntArray
    sign: FloatArray
    aggregate: FloatArray
    contiguous: tuple[bool, ...]
    all_kept: bool


def _read_plan(layer: MappedLayer) -> _ReadPlan:
    specs = layer.layout.specs
    alpha, beta, n = layer.alpha, float(layer.config.divisor), layer.shape[1]  # 1 for MAO's summed copies
    by_rows: dict[tuple[int, int], list] = {}  # type: ignore[type-arg]
    for b in layer.placement.blocks:
        by_rows.setdefault((specs[b.spec].row_start, specs[b.spec].row_stop), []).append(b)
    order, ranges, offset, pos = [], [], {}, 0
    for (r0, r1), blocks in by_rows.items():
        first = pos
        for b in blocks:
            offset[(b.copy, b.spec)] = pos
            pos += b.cols
            order.append(b)
        ranges.append((r0, r1, first, pos))
    columns, outputs, signs = [], [], []
    for s, spec in enumerate(specs):
        ro = layer.layout.readout[spec.channels]  # (w, n)
        cidx, jidx = np.nonzero(ro)
        columns.append(np.array([offset[(a, s)] + cidx for a in range(alpha)], dtype=np.int64).reshape(alpha, -1))
        outputs.append(jidx)
        signs.append(ro[cidx, jidx])
    column = np.concatenate(columns, axis=1)
    jall = np.concatenate(outputs).astype(np.int64)
    sall = np.concatenate(signs)
    weight = layer.kept.astype(np.float64)[:, jall]  # (alpha, P)
    # conversions of each output in increasing p: spec order, then channel order (as np.add.at adds them)
    by_out = np.argsort(jall, kind="stable")
    counts = np.bincount(jall, minlength=n)
    rank = np.arange(jall.size) - np.repeat(np.cumsum(counts) - counts, counts)
    depth = int(counts.max()) if jall.size else 0
    index = np.zeros((depth, n), dtype=np.int64)
    sign = np.zeros((depth, n))
    index[rank, jall[by_out]] = by_out
    sign[rank, jall[by_out]] = sall[by_out]
    aggregate = np.zeros((pos, n))
    np.add.at(aggregate, (column.ravel(), np.tile(jall, alpha)), (weight * sall).ravel() / beta)
    return _ReadPlan(blocks=tuple(order), ranges=tuple(ranges), column=column, weight=weight, index=index,
                     sign=sign, aggregate=aggregate,
                     all_kept=bool(np.all(weight == 1.0)),
                     contiguous=tuple(bool(c.size and np.array_equal(c, np.arange(c[0], c[0] + c.size))) for c in column))


def _layer_matrices(plan: _ReadPlan, mats: dict[int, FloatArray]) -> list[FloatArray]:
    """Per row range of ``plan``: the blocks' read matrices side by side (``(rows, block columns)``)."""
    by_range = []
    blocks = iter(plan.blocks)
    for _, _, first, stop in plan.ranges:
        parts, width = [], 0
        while width < stop - first:
            b = next(blocks)
            parts.append(mats[b.kernel][b.row:b.row + b.rows, b.col:b.col + b.cols])
            width += b.cols
        by_range.append(np.concatenate(parts, axis=1))
    return by_range


def _chunk_rows(columns: int, alpha: int) -> int:
    """Input vectors per read-out chunk: about 0.5 M floats (4 MB) of block currents and copies in flight."""
    return max(2, 500_000 // max(1, columns * (1 + alpha)))


def _take(cur: FloatArray, column: IntArray, contiguous: bool) -> FloatArray:
    """``cur[:, column]``, a view where the columns are one contiguous run."""
    return cur[:, column[0]:column[0] + column.size] if contiguous else np.take(cur, column, axis=1)


def _convert(cur: FloatArray, plan: _ReadPlan, averaging: str, bits: int, fixed: FloatArray | None,
             beta: float) -> FloatArray:
    """Steps 3-5 for quantizing ADCs on block currents ``cur`` ``(B, block columns)``: averaging of the
    kept copies, ADC (range ``fixed`` or per vector), differential subtraction and partial sums, with
    the same floating-point operations in the same order as a per-spec read-out."""
    alpha, p = plan.column.shape
    if alpha == 1:  # a sum over one copy is that copy: no stack
        stack = _take(cur, plan.column[0], plan.contiguous[0])[None]
    else:
        stack = np.empty((alpha, cur.shape[0], p))
        for a in range(alpha):
            stack[a] = _take(cur, plan.column[a], plan.contiguous[a])
    weights = plan.weight[:, None, :]
    if averaging == "analog":
        if alpha == 1 and beta == 1.0 and plan.all_kept:
            avg = stack[0]  # x * 1.0 / 1.0 == x
        elif alpha == 1:
            avg = stack[0] * weights[0] / beta
        else:
            avg = (stack * weights).sum(0) / beta
        full = fixed if fixed is not None else np.abs(avg).max(axis=1, initial=0.0)[:, None]
        conv = _quantize_sm(avg, full, bits)
    elif averaging == "digital":
        full = fixed if fixed is not None else np.abs(stack).max(axis=(0, 2), initial=0.0)[:, None]
        q = _quantize_sm(stack, full[None], bits)
        conv = q[0] * weights[0] / beta if alpha == 1 else (q * weights).sum(0) / beta
    else:  # pragma: no cover - InferenceConfig validates
        raise ConfigError(f"`averaging` must be one of {get_args(Averaging)}; got {averaging!r}.")
    y_i = np.zeros((cur.shape[0], plan.index.shape[1]))
    for idx, sign in zip(plan.index, plan.sign):
        y_i += conv[:, idx] * sign
    return y_i


def run_layer(layer: MappedLayer, x: ArrayLike, config: InferenceConfig | None = None) -> FloatArray:
    """The output of a mapped layer for inputs ``x``, through the simulated hardware.

    Parameters
    ----------
    layer : MappedLayer
        A programmed layer (:func:`~xbarsim.mapping.map_layer`).
    x : array_like, shape (m,) or (B, m)
        Inputs (dimensionless, the layer's own units), ``B >= 1``.
    config : InferenceConfig, optional
        Backend, DAC, ADC and averaging; default ideal product, ideal converters, analog averaging.

    Returns
    -------
    ndarray, shape (n,) or (B, n)
        ``~ x @ W`` in the layer's units: exactly ``x @ W_hat`` for the ideal backend with ideal
        converters, where ``W_hat`` are the weights of the present conductances averaged over the
        kept copies (summed over every copy for MAO: :meth:`~xbarsim.mapping.MappedLayer.effective_weights`).
    """
    _check_layer(layer)
    cfg = InferenceConfig() if config is None else config
    if not isinstance(cfg, InferenceConfig):
        raise ConfigError(f"`config` must be an InferenceConfig; got {type(cfg).__name__}.")
    xx = as_float_array(x, "x", what="finite input array of shape (m,) or (B, m)")
    m, n = layer.shape
    single = xx.ndim == 1
    xb = xx[None, :] if single else xx
    if xb.ndim != 2 or xb.shape[1] != m:
        raise ConfigError(f"`x` must have shape ({m},) or (B, {m}); got shape {xx.shape}.")
    if xb.shape[0] == 0:
        raise ConfigError(f"`x` is an empty batch (shape {xx.shape}): give at least one input vector.")
    chip = layer.chip
    # 1. DAC
    v, scale, v_read = _input_voltages(layer, xb, cfg)
    # 2. arrays: one matrix per row range and kernel read (linear reads), else every block's currents
    plan = _read_plan(layer)
    mats = _kernel_matrices(layer, cfg.backend)
    linear = all(b.kernel in mats for b in plan.blocks)
    bits = cfg.adc.bits
    # the ideal read's per-block products stay as they were where ADCs quantize (bit for bit the same levels)
    linear_products = linear and (bits is None or not getattr(get_backend(cfg.backend), "local_read_matrices", False))
    by_range = _layer_matrices(plan, mats) if linear_products else []
    # every kernel read by matrix products and ADCs quantizing: the block currents are made chunk by chunk
    # below (each vector's products are its own), so that no (B, block columns) array of the whole batch
    # is allocated and freed per layer and transfer (at 10,000 inputs and alpha 6, two 275 MB arrays whose
    # fresh pages cost as much system time as the products cost user time)
    chunked_blocks = linear and not linear_products and bits is not None
    currents = np.zeros((xb.shape[0], 0))
    if not linear_products and not chunked_blocks:
        blk = block_currents(layer, v, cfg.backend, cfg.batch_size)
        currents = np.concatenate([currents] + [blk[(b.copy, b.spec)] for b in plan.blocks], axis=1)
    if bits is None:
        # 3.-5. with ideal converters the whole read-out is linear: one effective matrix per layer
        if linear_products:
            eff = np.zeros((m, n))
            for (r0, r1, c0, c1), mat in zip(plan.ranges, by_range):
                eff[r0:r1] += mat @ plan.aggregate[c0:c1]
            y_i = v @ eff
        else:
            y_i = currents @ plan.aggregate
    else:
        y_i = np.empty((xb.shape[0], n))
        if cfg.adc.range == "full-scale":
            rows = max(spec.shape[0] for spec in layer.layout.specs)
            # analog averaging converts the kept copies' summed currents over the divisor: MAO's sum
            # (divisor 1) of alpha blocks spans alpha blocks' full scale, an average stays within one
            summed = float(plan.weight.sum(axis=0).max(initial=0.0)) / float(layer.config.divisor)
            copies = max(1.0, summed) if cfg.averaging == "analog" else 1.0
            fixed: FloatArray | None = np.full((1, 1), v_read * rows * chip.g_max * copies)
        elif cfg.adc.range == "per-vector":
            fixed = None
        else:
            fixed = np.full((1, 1), float(cfg.adc.range))
        n_vec = xb.shape[0]
        per_chunk = _chunk_rows(plan.aggregate.shape[0], layer.alpha)
        chunks = max(1, n_vec // per_chunk)
        edges = np.arange(chunks + 1) * n_vec // chunks  # chunks of at least 2 vectors: matrix-matrix products
        # block currents of several chunks at a time (about 1 M floats): fewer, larger block products
        outer = max(2 * per_chunk, 1_000_000 // max(1, plan.aggregate.shape[0]))
        f0 = f1 = 0
        block_cur = currents
        for b0, b1 in zip(edges[:-1], edges[1:]):
            if linear_products:
                cur = np.empty((b1 - b0, plan.aggregate.shape[0]))
                for (r0, r1, c0, c1), mat in zip(plan.ranges, by_range):
                    np.matmul(np.ascontiguousarray(v[b0:b1, r0:r1]), mat, out=cur[:, c0:c1])
            elif chunked_blocks:
                if b1 > f1:
                    f0, f1 = int(b0), min(n_vec, int(b0) + outer)
                    blk = _tile_products(layer, v[f0:f1], mats, side_by_side=False)
                    block_cur = np.concatenate([blk[(b.copy, b.spec)] for b in plan.blocks], axis=1)
                cur = block_cur[b0 - f0:b1 - f0]
            else:
                cur = currents[b0:b1]
            y_i[b0:b1] = _convert(cur, plan, cfg.averaging, bits, fixed, float(layer.config.divisor))
    y = y_i * scale[:, None] / (v_read * layer.layout.g_scale)
    return y[0] if single else y
