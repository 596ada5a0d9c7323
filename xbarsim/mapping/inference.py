"""Inference of a mapped layer: inputs -> voltages -> arrays -> currents -> ADC -> outputs.

Signal chain of :func:`run_layer` for inputs ``x`` ``(B, m)``:

1. DAC: ``v = x / s_b * V_read`` with the per-vector scale ``s_b = max_i |x_bi|`` (LEA scales every
   input vector to the DAC range) or a fixed ``x_max``; optional sign-magnitude quantization to
   ``bits`` magnitude bits.
2. Arrays: every block of every copy is read. ``"ideal"``: ``I = v @ G`` on the block's present
   conductances. ``"sparse"``/``"ngspice"``/a backend object: the whole kernel is solved as a
   circuit (its wires, its device law) with the block's rows driven and every other row at 0 V,
   every column held at virtual ground; blocks that share a kernel and rows share one solve.
   Linear devices on the sparse backend use the kernel's transfer matrix (one factorization for
   any number of inputs); nonlinear devices are solved by batched Newton.
3. Sense/TIA and averaging: per output and channel, the kept copies' currents are summed and
   divided by beta (by 1 for MAO, whose copies add up) before one ADC conversion (``"analog"``, default), or each copy is converted
   and the results averaged (``"digital"``).
4. ADC: sign-magnitude quantization of each conversion to ``bits`` magnitude bits over a range set
   per input vector (the largest conversion of the layer for that vector) or at full scale.
5. Differential subtraction and partial sums (digital), then scaling back to weight units:
   ``y = I_out s_b / (V_read g_scale)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from xbarsim._typing import ArrayLike, FloatArray
from xbarsim._validation import as_float_array, check_choice, short_repr
from xbarsim.errors import ConfigError
from xbarsim.netlists.bias import BiasScheme
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.solver.api import get_backend, solve
from xbarsim.solver.base import Backend
from xbarsim.solver.sparse import SparseBackend
from xbarsim.solver.tiles import transfer_matrices

if TYPE_CHECKING:
    from xbarsim.mapping.ensemble import MappedLayer

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
        ``"full-scale"``: ``V_read * rows * g_max`` of the tallest block; a float is a fixed
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
        Average the kept copies before (analog, one conversion) or after (digital) the ADC.
    batch_size : int
        Inputs per circuit solve of nonlinear or ngspice kernels (memory bound).
    """

    backend: str | Backend = "ideal"
    dac: DAC = DAC()
    adc: ADC = ADC()
    averaging: Averaging = "analog"
    batch_size: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.backend, str):
            if self.backend != "ideal":
                get_backend(self.backend)  # raises ConfigError listing the valid names
        elif not isinstance(self.backend, Backend):
            raise ConfigError(f"`backend` must be 'ideal', a registered backend name or a Backend object; "
                              f"got {type(self.backend).__name__}.")
        if not isinstance(self.dac, DAC):
            raise ConfigError(f"`dac` must be a DAC; got {type(self.dac).__name__}.")
        if not isinstance(self.adc, ADC):
            raise ConfigError(f"`adc` must be an ADC; got {type(self.adc).__name__}.")
        check_choice(self.averaging, get_args(Averaging), "averaging")
        bs = self.batch_size
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1:
            raise ConfigError(f"`batch_size` must be a positive int; got {short_repr(bs)}.")


def _quantize_sm(values: FloatArray, full: FloatArray, bits: int) -> FloatArray:
    """Sign-magnitude quantization of ``values`` to ``bits`` magnitude bits over ``[-full, full]``."""
    levels = 2.0**bits - 1.0
    safe = np.where(full > 0, full, 1.0)
    mag = np.minimum(np.abs(values) / safe, 1.0)
    return np.sign(values) * np.rint(mag * levels) / levels * safe


def block_currents(layer: MappedLayer, v: FloatArray, backend: str | Backend = "ideal",
                   batch_size: int = 256) -> dict[tuple[int, int], FloatArray]:
    """Ampere, the column currents ``(B, cols)`` of every placed block for row voltages ``v`` ``(B, m)``.

    Keys are ``(copy, spec)``. See the module notes for what each backend models.
    """
    chip = layer.chip
    specs = layer.layout.specs
    out: dict[tuple[int, int], FloatArray] = {}
    if isinstance(backend, str) and backend == "ideal":
        for b in layer.placement.blocks:
            s = specs[b.spec]
            g = chip.conductance[b.kernel, b.row:b.row + b.rows, b.col:b.col + b.cols]
            out[(b.copy, b.spec)] = v[:, s.row_start:s.row_stop] @ g
        return out
    be = get_backend(backend)
    bsz = v.shape[0]
    kr = chip.kernel_shape[0]
    linear = [k for k in layer.placement.kernels if chip.presets[k].device.linear]
    bulk = dict(zip(linear, transfer_matrices(chip.conductance[linear], chip.lines))) if (
        linear and isinstance(be, SparseBackend)) else {}  # every linear kernel's T in one call
    out.update(_tile_products(layer, v, bulk))
    for k in layer.placement.kernels:
        blocks = [b for b in layer.placement.blocks if b.kernel == k]
        if k in bulk:
            continue
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


def input_voltages(layer: MappedLayer, x: FloatArray, config: InferenceConfig) -> tuple[FloatArray, FloatArray, float]:
    """Step 1 (DAC): row voltages ``v`` ``(B, m)``, per-vector scales ``s_b`` ``(B,)`` and ``V_read`` (volt)
    for inputs ``x`` ``(B, m)``, so that ``x ~ v s_b / V_read``."""
    cfg = config
    v_read = cfg.dac.v_read if cfg.dac.v_read is not None else layer.chip.read_voltage
    if cfg.dac.scaling == "per-vector":
        scale = np.abs(x).max(axis=1)
        scale = np.where(scale > 0, scale, 1.0)
    elif cfg.dac.scaling == "fixed":
        scale = np.full(x.shape[0], cfg.dac.x_max)
    else:  # pragma: no cover - DAC validates
        raise ConfigError(f"`scaling` must be one of {get_args(DacScaling)}; got {cfg.dac.scaling!r}.")
    u = np.clip(x / scale[:, None], -1.0, 1.0)
    if cfg.dac.bits is not None:
        u = _quantize_sm(u, np.ones((1, 1)), cfg.dac.bits)
    return u * v_read, scale, float(v_read)


def _tile_products(layer: MappedLayer, v: FloatArray, tms: dict[int, FloatArray]) -> dict[tuple[int, int], FloatArray]:
    """Column currents of the blocks on kernels with transfer matrices ``tms``: one matrix product per
    input row range, with every block that reads those rows side by side."""
    specs = layer.layout.specs
    by_rows: dict[tuple[int, int], list] = {}  # type: ignore[type-arg]
    for b in layer.placement.blocks:
        if b.kernel in tms:
            by_rows.setdefault((specs[b.spec].row_start, specs[b.spec].row_stop), []).append(b)
    out = {}
    for (r0, r1), blocks in by_rows.items():
        eff = np.concatenate([tms[b.kernel][b.row:b.row + b.rows, b.col:b.col + b.cols] for b in blocks], axis=1)
        cur = np.ascontiguousarray(v[:, r0:r1]) @ eff
        edges = np.cumsum([0] + [b.cols for b in blocks])
        for b, c0, c1 in zip(blocks, edges[:-1], edges[1:]):
            out[(b.copy, b.spec)] = cur[:, c0:c1]
    return out


def run_layer(layer: MappedLayer, x: ArrayLike, config: InferenceConfig | None = None) -> FloatArray:
    """The output of a mapped layer for inputs ``x``, through the simulated hardware.

    Parameters
    ----------
    layer : MappedLayer
        A programmed layer (:func:`~xbarsim.mapping.map_layer`).
    x : array_like, shape (m,) or (B, m)
        Inputs (dimensionless, the layer's own units).
    config : InferenceConfig, optional
        Backend, DAC, ADC and averaging; default ideal product, ideal converters, analog averaging.

    Returns
    -------
    ndarray, shape (n,) or (B, n)
        ``~ x @ W`` in the layer's units: exactly ``x @ W_hat`` for the ideal backend with ideal
        converters, where ``W_hat`` are the weights of the present conductances averaged over the
        kept copies.
    """
    cfg = InferenceConfig() if config is None else config
    if not isinstance(cfg, InferenceConfig):
        raise ConfigError(f"`config` must be an InferenceConfig; got {type(cfg).__name__}.")
    xx = as_float_array(x, "x", what="finite input array of shape (m,) or (B, m)")
    m, n = layer.shape
    single = xx.ndim == 1
    xb = xx[None, :] if single else xx
    if xb.ndim != 2 or xb.shape[1] != m:
        raise ConfigError(f"`x` must have shape ({m},) or (B, {m}); got shape {xx.shape}.")
    chip = layer.chip
    # 1. DAC
    v, scale, v_read = input_voltages(layer, xb, cfg)
    # 2. arrays
    currents = block_currents(layer, v, cfg.backend, cfg.batch_size)
    # 3. averaging over kept copies, per (channel, output) pair of every spec
    kept = layer.kept.astype(np.float64)
    beta = float(layer.config.divisor)  # beta for averaged copies, 1 for MAO's summed copies
    alpha = layer.alpha
    conversions = []
    for s, spec in enumerate(layer.layout.specs):
        ro = layer.layout.readout[spec.channels]  # (w, n)
        cidx, jidx = np.nonzero(ro)
        stack = np.stack([currents[(a, s)][:, cidx] for a in range(alpha)])  # (alpha, B, P)
        weights = kept[:, jidx][:, None, :]
        conversions.append((stack, weights, jidx, ro[cidx, jidx]))
    # 4. ADC range
    bits = cfg.adc.bits
    if bits is not None:
        if cfg.adc.range == "per-vector":
            if cfg.averaging == "analog":
                peak = [np.abs((st * wt).sum(0) / beta).max(axis=1) for st, wt, _, _ in conversions]
            else:
                peak = [np.abs(st).max(axis=(0, 2)) for st, _, _, _ in conversions]
            full = np.max(np.stack(peak), axis=0)[:, None]
        elif cfg.adc.range == "full-scale":
            rows = max(spec.shape[0] for spec in layer.layout.specs)
            full = np.full((1, 1), v_read * rows * chip.g_max)
        else:
            full = np.full((1, 1), float(cfg.adc.range))
    # 5. conversions, differential subtraction, partial sums
    y_i = np.zeros((xb.shape[0], n))
    for stack, weights, jidx, sign in conversions:
        if cfg.averaging == "analog":
            avg = (stack * weights).sum(0) / beta
            conv = avg if bits is None else _quantize_sm(avg, full, bits)
        elif cfg.averaging == "digital":
            q = stack if bits is None else _quantize_sm(stack, full[None], bits)
            conv = (q * weights).sum(0) / beta
        else:  # pragma: no cover - InferenceConfig validates
            raise ConfigError(f"`averaging` must be one of {get_args(Averaging)}; got {cfg.averaging!r}.")
        np.add.at(y_i.T, jidx, (conv * sign).T)  # y_i.T is a view: outputs hit by several channels add up
    y = y_i * scale[:, None] / (v_read * layer.layout.g_scale)
    return y[0] if single else y
