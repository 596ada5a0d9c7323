"""The simulated hardware a network is evaluated on: one flat, frozen, validated :class:`Hardware`.

A :class:`Hardware` names everything between trained weights and measured accuracy: the device
preset (and overrides of its fault rate and noise), the chip (sampled kernels or the LEA chip with
its measured faults), the wires, the encoding, the redundancy strategy (plain, LEA, MAO, committee
machines, fault-blind copies), how devices are programmed, the solver backend and the converters.
Its fields map one-to-one onto the ``[hardware]`` table of an experiment config (TOML); unknown keys
are errors that name the key and the file (:meth:`Hardware.from_dict`).

The helpers turn it into the objects of the layers below: :func:`build_preset`
(:class:`~xbarsim.devices.DevicePreset`), :func:`build_chip` (:class:`~xbarsim.mapping.Chip`),
:func:`inference_config` (:class:`~xbarsim.mapping.InferenceConfig`), :func:`ensemble_config`,
:func:`programming_config`, :func:`layer_encodings`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

import numpy as np

from xbarsim._typing import DeviceLawName, WriteSchemeName
from xbarsim._validation import short_repr
from xbarsim.devices import DEVICE_LAWS, PRESETS, DevicePreset, ProgrammingError, ReadNoise, device_law
from xbarsim.errors import ConfigError
from xbarsim.mapping import (
    ADC,
    DAC,
    AdcRange,
    Averaging,
    Chip,
    DacScaling,
    Encoding,
    EncodingScheme,
    EnsembleConfig,
    GNorm,
    InferenceConfig,
    PlacementMethod,
    RmeLevels,
    SequenceProgramming,
    WriteVerify,
    lea_chip,
    map_weights,
    tile_layer,
)
from xbarsim.netlists import LineResistance, WRITE_SCHEMES

__all__ = [
    "Hardware",
    "Strategy",
    "HardwareBackend",
    "ProgrammingMode",
    "BiasMode",
    "DeviceLaw",
    "ChipKind",
    "HARDWARE_FIELDS",
    "build_preset",
    "build_chip",
    "chip_kernels",
    "inference_config",
    "ensemble_config",
    "layer_ensembles",
    "layer_alphas",
    "programming_config",
    "layer_encodings",
    "augmented_weights",
    "MAX_NGSPICE_SOLVES",
]

#: How the copies of a network are used: one copy (``"plain"``), layer ensemble averaging
#: (``"lea"``), the LEA paper's MAO (``"mao"``: copies' currents summed, healthy devices re-tuned
#: copy by copy on two levels), every copy averaged with joint compensation of the stuck devices
#: (``"lea-rme-all"``, this project's stronger variant, formerly called "mao"), committee
#: machines (``"committee"``: ``alpha`` whole networks, outputs averaged) or fault-blind copies
#: (``"blind"``: the first ``beta`` of ``alpha`` randomly placed copies, whatever they read).
Strategy = Literal["plain", "lea", "mao", "lea-rme-all", "committee", "blind"]
#: The solver of the arrays at inference.
HardwareBackend = Literal["ideal", "sparse", "ngspice"]
#: How devices are programmed: one write without verify (``"single"``, the papers' simulations),
#: write-verify (``"write-verify"``) or the bias-scheme sequence with half-select disturbance
#: through the circuit solver (``"sequence"``, slow).
ProgrammingMode = Literal["single", "write-verify", "sequence"]
#: Where biases are added: digitally after the ADC (``"digital"``) or by an extra crossbar row
#: driven at full scale (``"crossbar"``, as Drolet et al. program biases on devices too).
BiasMode = Literal["digital", "crossbar"]
#: The I-V law of the cells for circuit backends: the preset's own, or one of ``devices.DEVICE_LAWS``.
DeviceLaw = Literal["preset", DeviceLawName]
#: The chip: kernels sampled from the preset's fault model, or the LEA chip (measured faults).
ChipKind = Literal["sampled", "lea"]
#: The encoding of every layer: mapping's schemes, or ``"auto"`` (ternary for ternary networks).
HardwareEncoding = Literal["auto", EncodingScheme]
#: Block placement: mapping's methods, or ``"auto"`` (greedy for LEA, random otherwise).
HardwarePlacement = Literal["auto", PlacementMethod]
#: How a committee combines its members: averaged scores or averaged probabilities.
CommitteeOutput = Literal["scores", "probabilities"]
#: The members of a committee: distinct trained networks, or one network mapped ``alpha`` times.
CommitteeNetworks = Literal["distinct", "same"]
#: LEA chip kernels the paper did not measure: faults sampled at the chip's rate, or a measured kernel's map.
UnmeasuredKernels = Literal["sampled", "measured"]

#: Largest number of ngspice operating points (kernels x input vectors) one evaluation may ask for;
#: ngspice solves each input vector of each kernel as its own run.
MAX_NGSPICE_SOLVES = 2_000
#: Largest number of kernels a chip may have (a guard against absurd sizes before allocating).
_MAX_KERNELS = 200_000


def _choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"`{name}` must be one of {', '.join(map(repr, choices))}; got {short_repr(value)}.")
    return value


def _int(value: Any, name: str, lo: int, hi: int | None = None, *, none: bool = False) -> int | None:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < lo or (
            hi is not None and int(value) > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        extra = " or None" if none else ""
        raise ConfigError(f"`{name}` must be an integer {rng}{extra}; got {short_repr(value)}.")
    return int(value)


def _bits(value: Any, name: str) -> int | None:
    """Converter bits: TOML has no null, so a config file asks for ideal converters with ``"ideal"``."""
    if value is None or (isinstance(value, str) and value == "ideal"):
        return None
    try:
        return _int(value, name, 1, 32)
    except ConfigError:
        raise ConfigError(f"`{name}` must be an integer [1, 32], or None / \"ideal\" for an ideal converter; "
                          f"got {short_repr(value)}.") from None


def _float(value: Any, name: str, what: str, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, none: bool = False) -> float | None:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    v = float(value)
    if not math.isfinite(v) or (lo is not None and (v < lo or (lo_open and v == lo))) or (hi is not None and v > hi):
        raise ConfigError(f"`{name}` must be a {what}; got {short_repr(value)}.")
    return v


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"`{name}` must be true or false; got {short_repr(value)}.")
    return bool(value)


@dataclass(frozen=True, kw_only=True)
class Hardware:
    """Everything between trained weights and the accuracy read on simulated hardware.

    Attributes
    ----------
    preset : {"rram_1t1r_nist", "tio2_passive"}
        Device preset (:data:`xbarsim.devices.PRESETS`): the LEA 1T1R chip (133/233 uS, write noise N(0, 16.66 uS),
        read noise U(+-10 uS), 5 % stuck at 500 uS / 10 uS, 0.3 V read) or Drolet's passive TiO2
        (100-500 uS, relative tuning imprecision and offset, 1 % stuck, 0.2 V read, no read noise).
    fault_rate : float or None
        Fraction in [0, 1] of stuck devices, overriding the preset's rate; ``None`` keeps it. The
        measured kernels of the LEA chip keep their measured faults whatever this says.
    stuck_on_share : float or None
        Fraction of the stuck devices that are stuck-ON when ``fault_rate`` is given; ``None``
        keeps the preset's split (half and half for both presets).
    programming_noise : bool
        Keep the preset's programming error; ``False`` programs every device exactly.
    read_noise : bool
        Keep the preset's read noise (read-back after programming); ``False`` reads exactly.
        ``tio2_passive`` has no read noise, so there it changes nothing unless ``read_noise_std``
        gives one.
    read_noise_std : float or None
        Siemens (>= 0), standard deviation of the read noise replacing the preset's (same kind of
        distribution, its scale set to give this standard deviation; Gaussian for a preset without
        read noise, ``tio2_passive``); ``None`` keeps the preset's
        (LEA: U(+-10 uS), std 5.8 uS, the paper's simulation setting). The LEA chip's own reads
        are quieter: its retention data (Fig. 3b) spread by 1.5-2.2 uS across devices in one
        read, so 1.5 uS bounds the chip's read noise (``exp3b_fig5_chip.toml``). Ignored when
        ``read_noise`` is false.
    inference_read_noise : bool
        Inference reads the devices with the read noise too: every call of
        :meth:`~xbarsim.evaluation.HardwareNetwork.predict` (and of each read-out) runs on one fresh
        read of every device (:func:`~xbarsim.mapping.read_chip`), as xbtorch reads its chip once per
        inference batch. Default ``False``: inference sees the programmed conductances exactly, and
        the read noise enters only through the reads of programming, characterization and
        read-back. The expected accuracy is the same as with an independent read per input
        vector; the spread between calls is larger. No effect when ``read_noise`` is false, or
        when the preset has no read noise (``tio2_passive``) and ``read_noise_std`` is unset.
    device : {"preset", "ohmic", "sinh"}
        Cell I-V law seen by circuit backends: the preset's (sinh, a = 2.07 /V, for both), linear
        ohmic cells, or sinh. Ignored by the ideal backend.
    chip : {"sampled", "lea"}
        ``"sampled"``: ``n_kernels`` kernels of ``kernel_shape`` with faults drawn from the preset;
        ``"lea"``: the 32-kernel 25 x 25 LEA chip, measured faults on 13 kernels
        (:func:`~xbarsim.mapping.lea_chip`; needs the ``rram_1t1r_nist`` preset).
    n_kernels : int or None
        Kernels of a sampled chip (``None``: just enough for the network, strategy and ``alpha``,
        one kernel per block, plus ``spare_kernels``). LEA chip: default 32.
    kernel_shape : (int, int) or None
        Rows x columns of a kernel; ``None`` uses the preset's (25 x 25 LEA, 8 x 8 TiO2).
    spare_kernels : float
        Fraction (>= 0, default 0) of kernels added to the automatic count, room for greedy
        placement; refused with ``n_kernels`` given or chip ``"lea"`` (no automatic count).
    segment_ohm, driver_ohm, sense_ohm : float
        Ohm (>= 0, default 0: ideal wires): every row and column wire segment, each row driver and
        each column sense resistance. Non-zero values need a circuit backend to matter.
    encoding : {"auto", "ternary", "differential", "reference"}
        Weight encoding (:class:`~xbarsim.mapping.Encoding`); ``"auto"``: ternary for a ternary
        network, differential pairs otherwise.
    levels : int or None
        Quantize differential/reference targets to this many levels in the window (>= 2); ``None``
        uses the preset's levels: ``rram_1t1r_nist`` has two (133 and 233 uS, its LEA network is
        ternary), so the differential pairs of a real-valued network hold only ``-w_max``, 0 and
        ``+w_max`` per layer (weights below ``w_max / 2`` become 0; :func:`~xbarsim.evaluation.transfer` warns);
        ``tio2_passive`` has a continuous window.
    ternary_step : float or None
        Ternary encoding: ``G_ON - G_OFF`` as a fraction in (0, 1] of the device's swing
        (:attr:`~xbarsim.mapping.Encoding.step`); ``None`` is 1 (``G_ON`` at the top level).
        Below 1 the healthy devices keep room to compensate stuck devices in both directions
        (``strategy = "lea-rme-all"`` or ``rme``, with ``rme_levels = "continuous"``); on its own
        it only scales every conductance error up by ``1 / ternary_step`` in weight units. Not
        with ``g_norm = "characterized"`` (which decodes with the full measured swing).
    strategy : {"plain", "lea", "mao", "lea-rme-all", "committee", "blind"}
        Redundancy at equal device count ``alpha`` x one copy (see :data:`Strategy`).
    alpha : int
        Copies (layer copies, or committee members), >= 1, default 1; ``"plain"`` needs 1.
    beta : int or None
        LEA / blind: copies kept per output, ``1 <= beta <= alpha``; ``None`` keeps all ``alpha``
        for LEA (the averaging of the LEA paper's Fig. 4) and the first copy for blind (its
        fault-blind control, :meth:`~xbarsim.mapping.EnsembleConfig.blind`). With
        ``output_alpha``, blind keeps the first ``min(beta, output_alpha)`` output-layer copies.
    output_alpha : int or None
        Copies of the network's last (output) layer, >= 1, for strategies ``"lea"`` (``beta``
        unset), ``"lea-rme-all"``, ``"mao"`` and ``"blind"``; ``None``: ``alpha``, as every other
        layer. The output layer of a classifier is small (150 x 10 of the LEA paper's
        784-150-10 network: 1.3 % of its devices), yet each output sums few weights, so one
        uncompensated stuck device moves a logit far; copies there cost few devices. The device
        count of a trial (``n_devices``) includes them.
    placement : {"auto", "greedy", "random"}
        Block placement; ``"auto"``: greedy (defect-aware) for LEA, random (fault-blind) otherwise.
    rme : bool
        LEA: reduced-mapping-error encoding (healthy devices of the kept copies re-chosen against
        the stuck ones); default ``False``, refused with the other strategies.
    rme_levels : {"levels", "continuous"} or None
        RME (and ``"lea-rme-all"``) targets on the encoding's levels or anywhere in the window;
        ``None``: on the levels when the encoding has levels, else anywhere. Ignored by ``"plain"``,
        ``"blind"``, ``"committee"`` and ``"lea"`` without ``rme``; refused with ``"mao"``, which
        always re-tunes on its two levels.
    strict : bool
        Greedy placement rejects positions with stuck-OFF / non-switching devices (``True``) or
        only ranks them last (``False``, needed on chips with scattered stuck-OFF devices). Default
        ``True``; ignored by random placement.
    g_norm : {"nominal", "characterized"}
        Decode every layer with the nominal ``G_ON - G_OFF``, or with ``mean(G_SET) - mean(G_RESET)``
        of its devices from the characterization read (the LEA chip's Fig. 5 decoding).
    unmeasured_kernels : {"sampled", "measured"}
        LEA chip: kernels without a measured map get scattered faults from the preset, or the map
        of a measured kernel drawn at random (:func:`~xbarsim.mapping.lea_chip`).
    programming : {"single", "write-verify", "sequence"}
        See :data:`ProgrammingMode`.
    verify_tolerance : float or None
        Siemens, write-verify tolerance (``None``: 5 % of the window); ``programming =
        "write-verify"`` only (refused with the others, which do not use it).
    max_writes : int
        Write-verify attempts per device (>= 1, default 20); ``programming = "write-verify"`` only (a
        value other than the default is refused with the others).
    write_scheme : {"v/2", "v/3", "grounded", "floating"}
        Bias scheme of ``programming = "sequence"`` (a value other than the default is refused
        with the others).
    backend : {"ideal", "sparse", "ngspice"}
        ``"ideal"``: ``I = v @ G`` on the present conductances; ``"sparse"``: every kernel solved
        with its wires and device law; ``"ngspice"``: the same through ngspice (small layers only,
        at most :data:`MAX_NGSPICE_SOLVES` kernel solves).
    dac_bits, adc_bits : int or None
        Magnitude bits of the converters (sign-magnitude), default 8; ``None`` for ideal converters
        (in a TOML config, which has no null, ``"ideal"``).
    dac_scaling : {"per-vector", "fixed"}
        Inputs scaled per input vector to the DAC range (LEA) or by ``dac_x_max``.
    dac_x_max : float
        Input magnitude mapped to the read voltage with fixed scaling (> 0, default 1; ignored with
        per-vector scaling); at least 1 with ``bias = "crossbar"`` (the bias row's input is 1; a
        network with biases is refused below 1).
    adc_range : {"per-vector", "full-scale"}
        ADC range from the largest conversion of the layer for that input vector, or full scale.
        Ignored with an ideal ADC (``adc_bits`` ``None``).
    averaging : {"analog", "digital"}
        Kept copies averaged before one conversion or after converting each. Ignored with an ideal
        ADC and with one copy.
    read_voltage : float or None
        Volt, full-scale input voltage; ``None`` uses the preset's read voltage.
    bias : {"digital", "crossbar"}
        See :data:`BiasMode`. No effect on a network without biases (``train_ternary``'s).
    committee_networks : {"distinct", "same"}
        Strategy ``"committee"``: the members are distinct trained networks (member ``k`` trained
        with seed ``k``, passed to :func:`~xbarsim.evaluation.evaluate` as ``committee``), as in the
        LEA paper, or one network mapped ``alpha`` times (``"same"``). ``"distinct"`` is refused
        with the other strategies.
    committee_output : {"scores", "probabilities"}
        Committee machines: average the members' output scores (the last layer's outputs, before
        the digital softmax / sigmoid) or their class probabilities (the outputs of a network ending
        in its own Softmax / Sigmoid; the exp of those of one ending in a LogSoftmax). Default
        ``"scores"``; ignored by the other strategies.
    batch_size : int
        Input vectors per circuit solve of nonlinear / ngspice kernels (and of the energy reads),
        default 256: a memory bound that changes no result.
    energy : bool
        Report the read energy of the arrays per inference (:class:`~xbarsim.evaluation.LayerEnergy`):
        free for linear cells and the ideal backend, one extra solve per read for nonlinear cells.
    read_time : float
        Second (> 0), how long each read's voltages are applied; energy = power x ``read_time``.
        Default 10 ns (an assumption, not a measured value of either chip).
    """

    preset: str = "rram_1t1r_nist"
    fault_rate: float | None = None
    stuck_on_share: float | None = None
    programming_noise: bool = True
    read_noise: bool = True
    read_noise_std: float | None = None
    inference_read_noise: bool = False
    device: DeviceLaw = "preset"
    chip: ChipKind = "sampled"
    n_kernels: int | None = None
    kernel_shape: tuple[int, int] | None = None
    spare_kernels: float = 0.0
    segment_ohm: float = 0.0
    driver_ohm: float = 0.0
    sense_ohm: float = 0.0
    encoding: HardwareEncoding = "auto"
    levels: int | None = None
    ternary_step: float | None = None
    strategy: Strategy = "plain"
    alpha: int = 1
    beta: int | None = None
    output_alpha: int | None = None
    placement: HardwarePlacement = "auto"
    rme: bool = False
    rme_levels: RmeLevels | None = None
    strict: bool = True
    g_norm: GNorm = "nominal"
    unmeasured_kernels: UnmeasuredKernels = "sampled"
    programming: ProgrammingMode = "single"
    verify_tolerance: float | None = None
    max_writes: int = 20
    write_scheme: WriteSchemeName = "v/2"
    backend: HardwareBackend = "ideal"
    dac_bits: int | None = 8
    adc_bits: int | None = 8
    dac_scaling: DacScaling = "per-vector"
    dac_x_max: float = 1.0
    adc_range: AdcRange = "per-vector"
    averaging: Averaging = "analog"
    read_voltage: float | None = None
    bias: BiasMode = "digital"
    committee_output: CommitteeOutput = "scores"
    committee_networks: CommitteeNetworks = "same"
    batch_size: int = 256
    energy: bool = True
    read_time: float = 10e-9

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        _choice(self.preset, "preset", tuple(PRESETS))
        set_("fault_rate", _float(self.fault_rate, "fault_rate", "fraction in [0, 1] or None", lo=0.0, hi=1.0,
                                  none=True))
        set_("stuck_on_share", _float(self.stuck_on_share, "stuck_on_share", "fraction in [0, 1] or None", lo=0.0,
                                      hi=1.0, none=True))
        if self.stuck_on_share is not None and self.fault_rate is None:
            raise ConfigError(f"`stuck_on_share` ({self.stuck_on_share!r}) splits the stuck devices of `fault_rate`, "
                              "which is unset (the preset keeps its own rate and split); give fault_rate too.")
        for name in ("programming_noise", "read_noise", "inference_read_noise", "rme", "strict"):
            set_(name, _bool(getattr(self, name), name))
        set_("read_noise_std", _float(self.read_noise_std, "read_noise_std",
                                      "non-negative standard deviation in siemens or None", lo=0.0, hi=1.0,
                                      none=True))
        _choice(self.device, "device", ("preset", *DEVICE_LAWS))
        _choice(self.chip, "chip", get_args(ChipKind))
        set_("n_kernels", _int(self.n_kernels, "n_kernels", 1, _MAX_KERNELS, none=True))
        if self.kernel_shape is not None:
            ks = self.kernel_shape
            if (not isinstance(ks, (list, tuple)) or len(ks) != 2
                    or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 1 <= x <= 4096
                               for x in ks)):
                raise ConfigError(
                    f"`kernel_shape` must be [rows, columns] with each in [1, 4096] or None; got {short_repr(ks)}.")
            set_("kernel_shape", (int(ks[0]), int(ks[1])))
        set_("spare_kernels", _float(self.spare_kernels, "spare_kernels", "non-negative fraction", lo=0.0, hi=100.0))
        for name in ("segment_ohm", "driver_ohm", "sense_ohm"):
            set_(name, _float(getattr(self, name), name, "non-negative resistance in ohm", lo=0.0))
        _choice(self.encoding, "encoding", get_args(HardwareEncoding))
        set_("levels", _int(self.levels, "levels", 2, 1 << 16, none=True))
        if self.levels is not None and self.encoding == "ternary":
            raise ConfigError(f"`levels` ({self.levels}) quantizes differential / reference targets; the ternary "
                              "encoding programs two levels of its own (got encoding 'ternary').")
        set_("ternary_step", _float(self.ternary_step, "ternary_step", "fraction in (0, 1] or None", lo=0.0,
                                    lo_open=True, hi=1.0, none=True))
        if self.ternary_step is not None and self.encoding not in ("auto", "ternary"):
            raise ConfigError(f"`ternary_step` applies to the ternary encoding; got encoding {self.encoding!r} "
                              f"(ternary_step = {self.ternary_step!r}).")
        if self.ternary_step is not None and self.g_norm == "characterized":
            raise ConfigError(f"`ternary_step` ({self.ternary_step!r}) cannot be combined with g_norm 'characterized', "
                              "which decodes every layer with the full measured G_SET - G_RESET swing.")
        _choice(self.strategy, "strategy", get_args(Strategy))
        set_("alpha", _int(self.alpha, "alpha", 1, 64))
        set_("beta", _int(self.beta, "beta", 1, 64, none=True))
        if self.beta is not None and self.beta > self.alpha:
            raise ConfigError(f"`beta` must be at most `alpha` = {self.alpha} (copies kept out of those placed); "
                              f"got {self.beta}.")
        if self.strategy == "plain" and self.alpha != 1:
            raise ConfigError(f"`alpha` must be 1 for strategy 'plain'; got {self.alpha} (use 'lea', 'mao', "
                              "'committee' or 'blind' for copies).")
        if self.beta is not None and self.strategy not in ("lea", "blind", "plain"):
            raise ConfigError(f"`beta` applies to strategies 'lea' and 'blind' only; strategy {self.strategy!r} "
                              "uses every copy.")
        set_("output_alpha", _int(self.output_alpha, "output_alpha", 1, 256, none=True))
        if self.output_alpha is not None and self.strategy not in ("lea", "lea-rme-all", "mao", "blind"):
            raise ConfigError(f"`output_alpha` ({self.output_alpha}) applies to strategies 'lea', 'lea-rme-all', 'mao' "
                              f"and 'blind' (copies of one network's layers); got strategy {self.strategy!r}.")
        if self.output_alpha is not None and self.strategy == "lea" and self.beta is not None:
            raise ConfigError(f"`output_alpha` ({self.output_alpha}) needs `beta` unset (every copy averaged); got "
                              f"beta = {self.beta}.")
        _choice(self.placement, "placement", get_args(HardwarePlacement))
        if self.rme and self.strategy != "lea":
            raise ConfigError(f"`rme` applies to strategy 'lea' ('mao' and 'lea-rme-all' always re-tune); got strategy {self.strategy!r}.")
        if self.rme_levels is not None:
            _choice(self.rme_levels, "rme_levels", get_args(RmeLevels))
        _choice(self.g_norm, "g_norm", get_args(GNorm))
        _choice(self.unmeasured_kernels, "unmeasured_kernels", get_args(UnmeasuredKernels))
        if self.unmeasured_kernels != "sampled" and self.chip != "lea":
            raise ConfigError(f"`unmeasured_kernels` applies to chip 'lea'; got chip {self.chip!r}.")
        _choice(self.programming, "programming", get_args(ProgrammingMode))
        set_("verify_tolerance", _float(self.verify_tolerance, "verify_tolerance",
                                        "non-negative conductance in siemens or None", lo=0.0, none=True))
        set_("max_writes", _int(self.max_writes, "max_writes", 1, 10_000))
        _choice(self.write_scheme, "write_scheme", WRITE_SCHEMES)
        _choice(self.backend, "backend", get_args(HardwareBackend))
        set_("dac_bits", _bits(self.dac_bits, "dac_bits"))
        set_("adc_bits", _bits(self.adc_bits, "adc_bits"))
        _choice(self.dac_scaling, "dac_scaling", get_args(DacScaling))
        set_("dac_x_max", _float(self.dac_x_max, "dac_x_max", "positive input magnitude", lo=0.0, lo_open=True))
        _choice(self.adc_range, "adc_range", get_args(AdcRange))
        _choice(self.averaging, "averaging", get_args(Averaging))
        set_("read_voltage", _float(self.read_voltage, "read_voltage", "positive voltage in volt or None", lo=0.0,
                                    lo_open=True, none=True))
        _choice(self.bias, "bias", get_args(BiasMode))
        _choice(self.committee_output, "committee_output", get_args(CommitteeOutput))
        _choice(self.committee_networks, "committee_networks", get_args(CommitteeNetworks))
        set_("batch_size", _int(self.batch_size, "batch_size", 1, 1 << 20))
        set_("energy", _bool(self.energy, "energy"))
        set_("read_time", _float(self.read_time, "read_time", "positive time in second", lo=0.0, lo_open=True, hi=1.0))
        self._refuse_no_ops()
        if self.chip == "lea":
            if self.preset != "rram_1t1r_nist":
                raise ConfigError(f"`chip` 'lea' is the 1T1R chip of the LEA paper and needs preset 'rram_1t1r_nist'; "
                                  f"got preset {self.preset!r}.")
            if self.kernel_shape not in (None, (25, 25)):
                raise ConfigError(f"`kernel_shape` of the LEA chip is [25, 25]; got {list(self.kernel_shape)}.")

    def _refuse_no_ops(self) -> None:
        """Refuse a field set away from its default where the other fields make it do nothing and a
        user would take it to act (a write-verify tolerance under single writes, a bias scheme without
        the bias-scheme sequence, spare kernels on a chip of fixed size, distinct committee members
        without a committee, ``rme_levels`` with MAO, which re-tunes on two levels). Read-out fields
        are not refused: a paired re-read or a grid switches the read-out while they stay set (wires
        and device law with the ideal backend, ``dac_x_max`` with per-vector scaling, ADC range and
        averaging with ideal converters)."""
        default = _DEFAULTS
        if self.programming != "write-verify":
            what = ("programs each device with one write, no verify" if self.programming == "single" else
                    "programs through the bias-scheme sequence with program_array's own verify")
            for name in ("verify_tolerance", "max_writes"):
                value = getattr(self, name)
                if value != default[name]:
                    raise ConfigError(f"`{name}` ({short_repr(value)}) applies to programming 'write-verify'; "
                                      f"`programming` {self.programming!r} {what}, so it would have no effect.")
        if self.write_scheme != default["write_scheme"] and self.programming != "sequence":
            raise ConfigError(f"`write_scheme` ({self.write_scheme!r}) applies to programming 'sequence' (the "
                              f"bias-scheme sequence); `programming` {self.programming!r} does not use a bias scheme, "
                              "so it would have no effect.")
        if self.spare_kernels != default["spare_kernels"] and (self.n_kernels is not None or self.chip == "lea"):
            fixed = f"`n_kernels` = {self.n_kernels} is given" if self.n_kernels is not None else \
                "`chip` 'lea' has a fixed number of kernels (32, or `n_kernels`)"
            raise ConfigError(f"`spare_kernels` ({self.spare_kernels!r}) adds room to the automatic kernel count; "
                              f"{fixed}, so it would have no effect.")
        if self.committee_networks != default["committee_networks"] and self.strategy != "committee":
            raise ConfigError(f"`committee_networks` ({self.committee_networks!r}) applies to strategy 'committee'; "
                              f"got strategy {self.strategy!r}, which maps copies of one network.")
        if self.rme_levels is not None and self.strategy == "mao":
            raise ConfigError(f"`rme_levels` ({self.rme_levels!r}) sets the re-tuning targets of strategy "
                              "'lea-rme-all' and of 'lea' with rme; strategy 'mao' re-tunes on its two levels whatever "
                              "it says, so it would have no effect.")

    # ------------------------------------------------------------------ derived settings
    @property
    def effective_kernel_shape(self) -> tuple[int, int]:
        """``(R, C)``: the given kernel shape, 25 x 25 for the LEA chip, else the preset's."""
        if self.kernel_shape is not None:
            return self.kernel_shape
        if self.chip == "lea":
            return (25, 25)
        ks = PRESETS[self.preset]().kernel_shape
        return ks if ks is not None else (64, 64)

    @property
    def effective_placement(self) -> PlacementMethod:
        """``"greedy"`` or ``"random"`` (``"auto"`` resolved by strategy)."""
        if self.placement == "greedy" or self.placement == "random":
            return self.placement
        return "greedy" if self.strategy == "lea" else "random"

    @property
    def lines(self) -> LineResistance:
        """Ohm, the wires of every kernel."""
        return LineResistance.uniform(self.segment_ohm, driver=self.driver_ohm, sense=self.sense_ohm)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data with the TOML keys (``kernel_shape`` as a list)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["kernel_shape"] is not None:
            out["kernel_shape"] = list(out["kernel_shape"])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>", table: str = "hardware") -> Hardware:
        """Build from a table with :class:`Hardware` field names; errors name the key and ``source``.

        Raises
        ------
        ConfigError
            An unknown key (``"<source>: unknown key 'x' in [hardware]; valid keys: ..."``) or an
            invalid value (the message names the key).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: [{table}] must be a table; got {type(data).__name__}.")
        for key in data:
            if key not in HARDWARE_FIELDS:
                raise ConfigError(f"{source}: unknown key {key!r} in [{table}]; valid keys: "
                                  f"{', '.join(HARDWARE_FIELDS)}.")
        try:
            return cls(**dict(data))
        except ConfigError as exc:
            raise ConfigError(f"{source}: [{table}]: {exc}") from None

    def replace(self, **changes: Any) -> Hardware:
        """A validated copy with some fields changed (``dataclasses.replace``)."""
        unknown = sorted(set(changes) - set(HARDWARE_FIELDS))
        if unknown:
            raise ConfigError(f"unknown Hardware field(s) {', '.join(map(repr, unknown))}; valid: "
                              f"{', '.join(HARDWARE_FIELDS)}.")
        return dataclasses.replace(self, **changes)


#: The field names of :class:`Hardware`, in declaration order (the keys of a ``[hardware]`` table).
HARDWARE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Hardware))
#: The defaults of the fields :meth:`Hardware._refuse_no_ops` checks.
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Hardware)}


# ----------------------------------------------------------------------------- builders
def build_preset(hardware: Hardware) -> DevicePreset:
    """The device preset of ``hardware`` with its overrides applied (fault rate, noise, device law)."""
    p = PRESETS[hardware.preset]()
    changes: dict[str, Any] = {}
    if hardware.fault_rate is not None:
        rate = hardware.fault_rate
        if hardware.stuck_on_share is not None:
            share = hardware.stuck_on_share
        else:
            total = p.faults.stuck_on_rate + p.faults.stuck_off_rate
            share = p.faults.stuck_on_rate / total if total > 0 else 0.5
        changes["faults"] = dataclasses.replace(p.faults, stuck_on_rate=rate * share,
                                                stuck_off_rate=rate * (1.0 - share))
    if not hardware.programming_noise:
        changes["programming"] = ProgrammingError()
    if not hardware.read_noise:
        changes["read_noise"] = None
    elif hardware.read_noise_std is not None:
        kind = p.read_noise.kind if p.read_noise is not None else "gaussian"
        # uniform noise on [-a, a] has std a / sqrt(3)
        scale = hardware.read_noise_std * (math.sqrt(3.0) if kind == "uniform" else 1.0)
        changes["read_noise"] = ReadNoise(kind=kind, scale=scale)
    if hardware.device != "preset":
        changes["device"] = device_law(hardware.device)
    if hardware.read_voltage is not None:
        changes["read_voltage"] = hardware.read_voltage
    return dataclasses.replace(p, **changes) if changes else p


def layer_encodings(hardware: Hardware, weights: Sequence[np.ndarray], gammas: Sequence[float] | None,
                    *, biased: bool = False) -> list[Encoding]:
    """One :class:`~xbarsim.mapping.Encoding` per layer.

    Ternary networks get the ternary scheme with their own per-layer ``gamma``; ``"auto"`` picks
    ternary for ternary networks and differential pairs otherwise. ``biased`` (biases on the
    crossbar) rules out the ternary scheme, since biases are not ternary.
    """
    scheme = hardware.encoding
    if scheme == "auto":
        scheme = "ternary" if gammas is not None and not biased else "differential"
    if scheme == "ternary":
        if gammas is None:
            raise ConfigError("`encoding` 'ternary' needs a ternary network (networks.ternarize or train_ternary); "
                              "use encoding 'differential' for real-valued weights.")
        if biased:
            raise ConfigError("`bias` 'crossbar' puts real-valued biases on the arrays, which the ternary encoding "
                              "cannot hold; use bias 'digital' or encoding 'differential'.")
        if hardware.levels is not None:
            raise ConfigError(f"`levels` ({hardware.levels}) quantizes differential / reference targets; this ternary "
                              "network is encoded 'ternary' (two levels of its own): leave levels unset or use "
                              "encoding 'differential'.")
        return [Encoding(scheme="ternary", gamma=g if g > 0 else None, step=hardware.ternary_step) for g in gammas]
    if scheme in ("differential", "reference"):
        if hardware.ternary_step is not None:
            raise ConfigError(f"`ternary_step` ({hardware.ternary_step!r}) applies to the ternary encoding; this "
                              f"network is encoded {scheme!r} (a real-valued network, or biases on the crossbar).")
        return [Encoding(scheme=scheme, levels=hardware.levels) for _ in weights]
    raise ConfigError(f"`encoding` must be one of {get_args(HardwareEncoding)}; got {scheme!r}.")  # pragma: no cover


def augmented_weights(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray] | None) -> list[np.ndarray]:
    """Weights with the bias as an extra last input row, ``[[W], [b]]`` of shape ``(n_in + 1, n_out)``."""
    if biases is None:
        return [np.asarray(w, dtype=np.float64) for w in weights]
    return [np.vstack([np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)[None, :]])
            for w, b in zip(weights, biases)]


def _blocks_per_copy(hardware: Hardware, weights: Sequence[np.ndarray], encodings: Sequence[Encoding],
                     preset: DevicePreset) -> list[int]:
    """Blocks of one copy of every layer (tiling on the kernel shape); ConfigError if a layer cannot be tiled."""
    shape = hardware.effective_kernel_shape
    out = []
    for i, (w, enc) in enumerate(zip(weights, encodings)):
        mapped = map_weights(w, g_min=preset.g_min, g_max=preset.g_max, encoding=enc, device_levels=preset.levels)
        try:
            layout = tile_layer(mapped, shape)
        except ConfigError as exc:
            raise ConfigError(f"`kernel_shape` {list(shape)} cannot hold layer {i} ({w.shape[0]}x{w.shape[1]}): "
                              f"{exc}") from None
        out.append(len(layout.specs))
    return out


def chip_kernels(hardware: Hardware, weights: Sequence[np.ndarray], encodings: Sequence[Encoding],
                 preset: DevicePreset | None = None) -> int:
    """Kernels of the chip: ``n_kernels`` if given (checked against the devices needed), else enough
    for one kernel per block of every copy (``alpha`` copies or members), plus ``spare_kernels``.

    Raises
    ------
    ConfigError
        If the chip cannot possibly hold the network (fewer devices than ``alpha`` copies need).
    """
    p = build_preset(hardware) if preset is None else preset
    r, c = hardware.effective_kernel_shape
    alphas = layer_alphas(hardware, len(weights))
    blocks = sum(b * a for b, a in zip(_blocks_per_copy(hardware, weights, encodings, p), alphas))
    if hardware.chip == "lea":
        k = 32 if hardware.n_kernels is None else hardware.n_kernels
    elif hardware.n_kernels is None:
        k = int(math.ceil(blocks * (1.0 + hardware.spare_kernels)))
    else:
        k = hardware.n_kernels
    needed = 0
    for w, enc, a in zip(weights, encodings, alphas):
        cols = 2 * w.shape[1] if enc.scheme in ("differential", "ternary") else w.shape[1] + 1
        needed += w.shape[0] * cols * a
    if needed > k * r * c:
        copies = f"{hardware.alpha} cop{'y' if hardware.alpha == 1 else 'ies'}" + (
            f" ({hardware.output_alpha} of the output layer)" if hardware.output_alpha is not None else "")
        raise ConfigError(
            f"`n_kernels` = {k} kernels of {r}x{c} ({k * r * c} devices) cannot hold {copies} of the network "
            f"({needed} devices); leave n_kernels unset "
            f"(automatic: {int(math.ceil(blocks * (1.0 + hardware.spare_kernels)))} kernels) or use larger kernels."
        )
    if k > _MAX_KERNELS:
        raise ConfigError(f"the chip would need {k} kernels of {r}x{c}, more than {_MAX_KERNELS}; use larger kernels.")
    return k


def build_chip(hardware: Hardware, weights: Sequence[np.ndarray], encodings: Sequence[Encoding],
               rng: np.random.Generator, preset: DevicePreset | None = None) -> Chip:
    """A fresh chip for one transfer (fault map, offsets and initial state drawn from ``rng``)."""
    p = build_preset(hardware) if preset is None else preset
    k = chip_kernels(hardware, weights, encodings, p)
    if hardware.chip == "lea":
        return lea_chip(rng, n_kernels=k, preset=p, lines=hardware.lines, unmeasured=hardware.unmeasured_kernels)
    return Chip.sample(n_kernels=k, kernel_shape=hardware.effective_kernel_shape, preset=p, rng=rng,
                       lines=hardware.lines)


def ensemble_config(hardware: Hardware) -> EnsembleConfig:
    """The :class:`~xbarsim.mapping.EnsembleConfig` of a layer copy set (committee: each member's)."""
    place = hardware.effective_placement
    s = hardware.strategy
    if s == "plain" or s == "committee":
        return EnsembleConfig(alpha=1, beta=1, placement=place, encoding="simple", selection="first",
                              strict=hardware.strict, g_norm=hardware.g_norm)
    if s == "lea":
        return EnsembleConfig(alpha=hardware.alpha, beta=hardware.beta, placement=place,
                              encoding="rme" if hardware.rme else "simple", selection="deviation",
                              rme_levels=hardware.rme_levels, strict=hardware.strict, g_norm=hardware.g_norm)
    if s == "mao":
        return EnsembleConfig(alpha=hardware.alpha, beta=hardware.alpha, placement=place, encoding="mao",
                              selection="first", strict=hardware.strict, g_norm=hardware.g_norm)
    if s == "lea-rme-all":
        return EnsembleConfig(alpha=hardware.alpha, beta=hardware.alpha, placement=place, encoding="rme",
                              selection="first", rme_levels=hardware.rme_levels, strict=hardware.strict,
                              g_norm=hardware.g_norm)
    if s == "blind":
        return EnsembleConfig(alpha=hardware.alpha, beta=hardware.beta or 1, placement=place,
                              encoding="simple", selection="first", strict=hardware.strict, g_norm=hardware.g_norm)
    raise ConfigError(f"`strategy` must be one of {get_args(Strategy)}; got {s!r}.")  # pragma: no cover


def layer_alphas(hardware: Hardware, n_layers: int) -> list[int]:
    """Copies (or committee members) of each of ``n_layers`` layers: ``alpha``, the last
    ``output_alpha`` when set."""
    alphas = [hardware.alpha] * n_layers
    if hardware.output_alpha is not None and n_layers:
        alphas[-1] = hardware.output_alpha
    return alphas


def layer_ensembles(hardware: Hardware, n_layers: int) -> list[EnsembleConfig]:
    """The :class:`~xbarsim.mapping.EnsembleConfig` of each of ``n_layers`` layers:
    :func:`ensemble_config`, with ``output_alpha`` copies of the last layer when set (every copy
    averaged, or summed for MAO, as for the other layers; blind keeps its first ``beta``)."""
    cfg = ensemble_config(hardware)
    out = [cfg] * n_layers
    oa = hardware.output_alpha
    if oa is not None and n_layers:
        if hardware.strategy == "blind":
            # its first beta copies, whatever alpha is: judged by the strategy, not by beta == alpha, which
            # held for blind's default beta = 1 at alpha = 1 and averaged every output copy there
            beta: int | None = min(cfg.effective_beta, oa)
        else:  # every copy: LEA with beta unset (None), MAO and lea-rme-all (beta = alpha)
            beta = None if cfg.beta is None else oa
        out[-1] = dataclasses.replace(cfg, alpha=oa, beta=beta)
    return out


def programming_config(hardware: Hardware) -> WriteVerify | SequenceProgramming:
    """How devices are programmed (see :data:`ProgrammingMode`)."""
    if hardware.programming == "single":
        return WriteVerify(max_iterations=1)
    if hardware.programming == "write-verify":
        return WriteVerify(tolerance=hardware.verify_tolerance, max_iterations=hardware.max_writes)
    if hardware.programming == "sequence":
        return SequenceProgramming(scheme=hardware.write_scheme)
    raise ConfigError(f"`programming` must be one of {get_args(ProgrammingMode)}; "  # pragma: no cover
                      f"got {hardware.programming!r}.")


def inference_config(hardware: Hardware) -> InferenceConfig:
    """Backend, DAC, ADC and averaging of the arrays at inference."""
    return InferenceConfig(
        backend=hardware.backend,
        dac=DAC(v_read=hardware.read_voltage, bits=hardware.dac_bits, scaling=hardware.dac_scaling,
                x_max=hardware.dac_x_max),
        adc=ADC(bits=hardware.adc_bits, range=hardware.adc_range),
        averaging=hardware.averaging,
        batch_size=hardware.batch_size,
    )
