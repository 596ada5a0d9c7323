"""Accuracy of a network on simulated hardware next to its software baseline; Monte Carlo transfers.

* :func:`transfer` -- one weight transfer: a fresh chip (fault map, offsets), mapping (encoding,
  placement, programming with its noise, LEA / MAO / committee) and read-back, all drawn from one
  generator; returns a :class:`HardwareNetwork` that runs inference through the arrays.
* :func:`evaluate` -- one transfer and the accuracy it gives, per task when the dataset has tasks,
  beside the software accuracy (:class:`EvaluationResult`).
* :func:`monte_carlo` -- ``N`` transfers with deterministic per-transfer seeds; per test point the
  fraction of transfers that classify it correctly, the fraction of points correct in at least
  95 % of transfers (Drolet et al.'s metric, :func:`robust_fraction`), the mean accuracy and the
  histogram (:class:`MonteCarloResult`), in memory. :func:`transfer_outcome` is one transfer of it;
  a durable, resumable run stores each outcome on the sweep store (``xbarsim.experiments``).

Activations between layers are computed here: each layer's weighted sums come from the arrays
through :meth:`xbarsim.networks.MLP.forward`'s ``layer_fn`` hook; the network adds the biases
(``bias = "digital"``) and applies its nonlinearities. Committee machines average the output
scores (``committee_output = "scores"``, the default) or the class probabilities of their ``alpha``
independently mapped networks: distinct trained networks passed as ``committee`` (the LEA paper's
committee machines; ``committee_networks = "distinct"``), or one network mapped ``alpha`` times
(``committee_networks = "same"``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from xbarsim._repr import compact_repr, text_table
from xbarsim._typing import BoolArray, FloatArray, IntArray, ProgressCallback
from xbarsim._validation import check_progress, check_rng, readonly, short_repr
from xbarsim.devices import DevicePreset
from xbarsim.errors import ConfigError
from xbarsim.evaluation.hardware import (
    MAX_NGSPICE_SOLVES,
    Hardware,
    augmented_weights,
    build_chip,
    build_preset,
    ensemble_config,
    layer_ensembles,
    inference_config,
    layer_encodings,
    programming_config,
)
from xbarsim.evaluation.drolet_code import DroletCodePerturbation
from xbarsim.evaluation.perturbation import DevicePerturbation
from xbarsim.mapping import (
    Chip,
    Encoding,
    InferenceConfig,
    MappedNetwork,
    characterize,
    layer_read_energy,
    map_committee,
    map_network,
    read_chip,
    run_layer,
)
from xbarsim.networks import MLP, Conv2d, Dataset, Network, check_sample_shape, reference_scores

__all__ = [
    "READOUT_FIELDS",
    "HardwareNetwork",
    "LayerEnergy",
    "TaskAccuracy",
    "EvaluationResult",
    "MonteCarloResult",
    "transfer",
    "evaluate",
    "evaluated_points",
    "monte_carlo",
    "robust_fraction",
    "transfer_seed",
    "transfer_outcome",
    "monte_carlo_setup",
    "monte_carlo_result",
    "unpack_correct",
    "network_fingerprint",
]



def _resolve_rng(seed: Any, rng: Any) -> np.random.Generator:
    if seed is not None and rng is not None:
        raise ConfigError("give either `seed` or `rng`, not both.")
    if rng is not None:
        return check_rng(rng)
    if seed is None:
        raise ConfigError("give `seed` (an int >= 0) or `rng` (a numpy.random.Generator): every transfer is drawn "
                          "from it, so results are reproducible.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"`seed` must be an int >= 0; got {short_repr(seed)}.")
    return np.random.default_rng(int(seed))


def transfer_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The SeedSequence of transfer ``index`` of a Monte Carlo run seeded by ``seed``
    (``SeedSequence(entropy=seed, spawn_key=(index,))``): independent of order and of other transfers."""
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(int(index),))


def network_fingerprint(network: MLP | Network) -> str:
    """SHA-256 (hex, 16 characters) of the network's arrays and settings, to recognise it on resume."""
    h = hashlib.sha256()
    for key, arr in sorted(network.to_dict().items()):
        a = np.ascontiguousarray(arr)
        h.update(key.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes() if a.dtype.kind != "U" else str(a).encode())
    return h.hexdigest()[:16]


def _check_network(network: Any) -> MLP | Network:
    if not isinstance(network, (MLP, Network)):
        raise ConfigError(f"`network` must be an xbarsim.networks.MLP or Network; got {type(network).__name__}.")
    return network


def _inputs(network: MLP | Network, x: Any) -> FloatArray:
    xs = network.check_inputs(x) if isinstance(network, Network) else network._check_inputs(x)
    if xs.shape[0] == 0:  # the read-out's converters index the batch; energy per inference would be 0 / 0
        raise ConfigError(f"`x` must hold at least one input; got shape {np.shape(x)}.")
    return xs


@dataclass(frozen=True, kw_only=True)
class LayerEnergy:
    """Read energy of one weighted layer per inference, from the circuit solution.

    Energy is the power the row drivers deliver during each read (dissipated in the cells and in the
    wires, driver and sense resistances) times :attr:`Hardware.read_time`, summed over every read of
    every kernel holding the layer (all copies, all committee members) and over the input vectors one
    inference pushes through it (1 for a dense layer, one per output position for a convolution).
    Converters (DAC, ADC), drivers' and sense amplifiers' own consumption and digital periphery are
    not included.

    Attributes
    ----------
    layer : int
        Weighted-layer index.
    kind : {"dense", "conv"}
    energy : float
        Joule per inference (``cells + wires``).
    cells, wires : float
        Joule per inference in the cells, and in wires, driver and sense resistances.
    vectors : float
        Input vectors per inference.
    n_devices : int
        Devices holding the layer (all copies and members).
    n_arrays : int
        Kernels (arrays) used by the layer, counted per member.
    """

    layer: int
    kind: str
    energy: float
    cells: float
    wires: float
    vectors: float
    n_devices: int
    n_arrays: int


def _check_hardware(hardware: Any) -> Hardware:
    if not isinstance(hardware, Hardware):
        raise ConfigError(f"`hardware` must be a Hardware; got {type(hardware).__name__}.")
    return hardware


def _check_bias_row(network: MLP | Network, hardware: Hardware) -> None:
    """Refuse a bias row that the DAC would saturate: ``bias = "crossbar"`` reads each bias as the
    weight of an extra row whose input is the constant 1, and fixed DAC scaling clips inputs at
    ``dac_x_max``; below 1 every bias came out multiplied by ``dac_x_max`` on an ideal chip."""
    if (hardware.bias == "crossbar" and network.biases is not None and hardware.dac_scaling == "fixed"
            and hardware.dac_x_max < 1.0):
        raise ConfigError(
            f"`dac_x_max` ({hardware.dac_x_max!r}) is below 1 with `bias` 'crossbar' and `dac_scaling` 'fixed': the "
            f"bias row's constant input 1 would saturate the DAC at dac_x_max and scale every bias by "
            f"{hardware.dac_x_max!r}. Use dac_x_max >= 1, dac_scaling 'per-vector' or bias 'digital'.")


# ----------------------------------------------------------------------------- one transfer
@dataclass(frozen=True, kw_only=True, eq=False)
class HardwareNetwork:
    """A network transferred onto simulated hardware (one transfer).

    Attributes
    ----------
    network : MLP or Network
        The software network (its activations, biases and output head are used).
    hardware : Hardware
        The hardware it was transferred to.
    members : tuple of MappedNetwork
        One mapped network, or ``alpha`` committee members.
    networks : tuple of MLP
        The software network of every member (a committee of distinct networks); empty means
        ``network`` for every member.
    inference : InferenceConfig
        How the arrays are read.
    n_kernels : int
        Kernels of the chip.
    timings : mapping of str to float
        Seconds: ``"map"`` (chip sampling and mapping); :meth:`predict` adds nothing here.
    read_rng : numpy.random.Generator or None
        Draws the inference reads when ``hardware.inference_read_noise`` is set (:func:`transfer`
        passes its own generator on, so one seed fixes the transfer and its reads); each call of
        :meth:`predict` advances it.
    """

    network: MLP | Network
    hardware: Hardware
    members: tuple[MappedNetwork, ...]
    inference: InferenceConfig
    n_kernels: int
    timings: Mapping[str, float] = field(default_factory=dict)
    networks: tuple[MLP | Network, ...] = ()
    read_rng: np.random.Generator | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))
        _check_bias_row(self.network, self.hardware)  # also a re-read switching to fixed DAC scaling
        nets = tuple(self.networks) or (self.network,) * len(self.members)
        if len(nets) != len(self.members):
            raise ConfigError(f"`networks` must hold one network per member ({len(self.members)}); got {len(nets)}.")
        object.__setattr__(self, "networks", nets)

    @property
    def mapping_errors(self) -> tuple[float, ...]:
        """Percent, per layer ``100 ||W_hat - W|| / ||W||`` (mean over committee members)."""
        per = np.array([m.mapping_errors for m in self.members], dtype=np.float64)
        return tuple(float(v) for v in per.mean(axis=0))

    @property
    def n_devices(self) -> int:
        """Devices used by all members and layers."""
        return sum(m.n_devices for m in self.members)

    def _crossbar_bias(self) -> bool:
        return self.hardware.bias == "crossbar" and self.network.biases is not None

    def _member_scores(self, member: MappedNetwork, x: FloatArray, tick: Callable[[], None] | None = None,
                       energy: FloatArray | None = None, net: MLP | Network | None = None) -> FloatArray:
        """Scores of one member, through ``net`` (the member's own software network; default
        :attr:`network`); ``energy`` ``(layers, 3)``, when given, accumulates per layer the joules in
        cells and wires and the number of input vectors."""
        net = self.network if net is None else net
        cfg = self.inference
        crossbar_bias = self._crossbar_bias()
        base = net
        if crossbar_bias and net.biases is not None:  # the biases are read from the arrays' extra row
            base = net.with_weights(net.weights, biases=tuple(np.zeros_like(b) for b in net.biases))

        def fn(i: int, a: FloatArray, w: FloatArray) -> FloatArray:
            a_in = np.hstack([a, np.ones((a.shape[0], 1))]) if crossbar_bias else a
            out = run_layer(member.layers[i], a_in, cfg)
            if energy is not None:
                e = layer_read_energy(member.layers[i], a_in, cfg, read_time=self.hardware.read_time)
                energy[i] += (float(e.cells.sum()), float(e.wires.sum()), a_in.shape[0])
            if tick is not None:
                tick()
            return out
        return base.forward(x, layer_fn=fn)

    def _check_ngspice(self, batch: int) -> None:
        if self.hardware.backend != "ngspice":
            return
        kernels = sum(len(layer.placement.kernels) for m in self.members for layer in m.layers)
        if kernels * batch > MAX_NGSPICE_SOLVES:
            raise ConfigError(
                f"`backend` 'ngspice' would run {kernels} kernels x {batch} inputs = {kernels * batch} operating "
                f"points, more than {MAX_NGSPICE_SOLVES}; ngspice is for small layers: use backend 'sparse', "
                "fewer inputs, or a smaller network."
            )

    def scores(self, x: Any, *, progress: Callable[[], None] | None = None) -> FloatArray:
        """The output scores (logits / log-odds), averaged over committee members."""
        xs = _inputs(self.network, x)
        return np.asarray(np.mean(self._committee_scores(xs, progress), axis=0))

    def _probabilities(self, scores: FloatArray) -> FloatArray:
        # a Network ending in its own Sigmoid / Softmax already outputs probabilities: applying the head
        # again squashed them towards 0.5 / uniform
        ready = isinstance(self.network, Network) and self.network.outputs_probabilities
        if self.network.output == "sigmoid":
            p = (np.asarray(scores[:, 0], dtype=np.float64) if ready
                 else 1.0 / (1.0 + np.exp(-np.clip(scores[:, 0], -700, 700))))
            return np.stack([1.0 - p, p], axis=1)
        if ready:
            return np.array(scores, dtype=np.float64)
        # logits, or a LogSoftmax head's log-probabilities (Network.outputs_log_probabilities), which are
        # never probabilities themselves: softmax of those is their exp (it sums to 1 already), and it
        # renormalizes a committee's averaged log-probabilities, the log of an unnormalized geometric mean
        z = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _committee_scores(self, x: FloatArray, tick: Callable[[], None] | None,
                          energy: FloatArray | None = None) -> list[FloatArray]:
        self._check_ngspice(x.shape[0])
        return [self._member_scores(m, x, tick, energy, n) for m, n in zip(self._read_members(), self.networks)]

    def _read_members(self) -> tuple[MappedNetwork, ...]:
        """The members as this inference reads them: the programmed state, or with
        ``inference_read_noise`` one fresh read of every device of their chips."""
        if not (self.hardware.inference_read_noise and self.hardware.read_noise):
            return self.members
        if self.read_rng is None:
            raise ConfigError("`inference_read_noise` needs a generator for the reads: give the HardwareNetwork a "
                              "`read_rng` (transfer() passes its own).")
        check_rng(self.read_rng)
        read: dict[int, Chip] = {}  # members on one chip share its read
        out = []
        for m in self.members:
            if id(m.chip) not in read:
                read[id(m.chip)] = read_chip(m.chip, self.read_rng)
            chip = read[id(m.chip)]
            out.append(MappedNetwork(layers=tuple(dataclasses.replace(layer, chip=chip) for layer in m.layers),
                                     chip=chip, characterization=m.characterization))
        return tuple(out)

    def predict_proba(self, x: Any, *, progress: Callable[[], None] | None = None) -> FloatArray:
        """Class probabilities ``(batch, n_classes)``. A committee averages its members' scores
        (``committee_output = "scores"``) and applies the output head once, or averages their
        probabilities (``"probabilities"``)."""
        xs = _inputs(self.network, x)
        scores = self._committee_scores(xs, progress)
        if self.hardware.committee_output == "probabilities":
            return np.mean([self._probabilities(s) for s in scores], axis=0)
        return self._probabilities(np.mean(scores, axis=0))

    def predict(self, x: Any, *, progress: Callable[[], None] | None = None) -> IntArray:
        """Predicted labels: the software rule (argmax of logits, or log-odds > 0) on the hardware
        scores, averaged over committee members (``committee_output = "scores"``), or the argmax of
        the averaged probabilities (``"probabilities"``)."""
        xs = _inputs(self.network, x)
        return self._labels(self._committee_scores(xs, progress))

    def _labels(self, scores: list[FloatArray]) -> IntArray:
        if len(scores) > 1 and self.hardware.committee_output == "probabilities":
            return np.argmax(np.mean([self._probabilities(s) for s in scores], axis=0), axis=1).astype(np.int64)
        return self.network.labels_from_scores(np.mean(scores, axis=0))

    def predict_with_energy(self, x: Any, *, progress: Callable[[], None] | None = None
                            ) -> tuple[IntArray, tuple[LayerEnergy, ...]]:
        """:meth:`predict` and, from the same reads, the read energy per inference of every layer
        (:class:`LayerEnergy`, averaged over the samples of ``x``)."""
        xs = _inputs(self.network, x)
        n_layers = len(self.members[0].layers)
        acc = np.zeros((n_layers, 3))
        labels = self._labels(self._committee_scores(xs, progress, acc))
        n = xs.shape[0]
        if isinstance(self.network, Network):
            kinds = ["conv" if isinstance(lay, Conv2d) else "dense" for lay in self.network.weighted_layers]
        else:
            kinds = ["dense"] * n_layers
        out = tuple(
            LayerEnergy(layer=i, kind=kinds[i], energy=float((acc[i, 0] + acc[i, 1]) / n), cells=float(acc[i, 0] / n),
                        wires=float(acc[i, 1] / n), vectors=float(acc[i, 2] / n / len(self.members)),
                        n_devices=sum(m.layers[i].n_devices for m in self.members),
                        n_arrays=sum(len(m.layers[i].placement.kernels) for m in self.members))
            for i in range(n_layers))
        return labels, out


    def reread(self, **changes: Any) -> HardwareNetwork:
        """The same programmed arrays read another way: a copy with some read-out fields of the
        hardware changed (:data:`READOUT_FIELDS`: backend, device law, wires, converters,
        averaging), for paired comparisons on one transfer (e.g. the ideal product against the
        circuit). Conductances, faults and placements are kept."""
        bad = sorted(set(changes) - set(READOUT_FIELDS))
        if bad:
            raise ConfigError(f"a re-read may change only {', '.join(READOUT_FIELDS)}; got {', '.join(bad)}.")
        hw = self.hardware.replace(**changes)
        device = build_preset(hw).device
        members = []
        for m in self.members:
            chip = dataclasses.replace(m.chip, presets=tuple(dataclasses.replace(p, device=device)
                                                             for p in m.chip.presets), lines=hw.lines)
            members.append(MappedNetwork(layers=tuple(dataclasses.replace(layer, chip=chip) for layer in m.layers),
                                         chip=chip, characterization=m.characterization))
        return dataclasses.replace(self, hardware=hw, members=tuple(members), inference=inference_config(hw),
                                   networks=self.networks)


#: Hardware fields a :meth:`HardwareNetwork.reread` (and ``readouts``) may change.
READOUT_FIELDS = ("backend", "device", "segment_ohm", "driver_ohm", "sense_ohm", "dac_bits", "adc_bits",
                  "dac_scaling", "dac_x_max", "adc_range", "averaging", "batch_size", "committee_output",
                  "inference_read_noise")


def _check_committee(network: MLP | Network, hardware: Hardware,
                     committee: Sequence[MLP] | None) -> tuple[MLP, ...] | None:
    """The committee's distinct networks (``None``: one network mapped ``alpha`` times)."""
    if hardware.strategy != "committee":
        if committee is not None:
            raise ConfigError(f"`committee` networks apply to strategy 'committee'; got strategy {hardware.strategy!r}.")
        return None
    if hardware.committee_networks == "same":
        if committee is not None:
            raise ConfigError("`committee` networks were given but `committee_networks` is 'same' (one network "
                              "mapped alpha times); set committee_networks = 'distinct'.")
        return None
    if committee is None:
        raise ConfigError(f"strategy 'committee' with committee_networks 'distinct' needs the {hardware.alpha} members' "
                          "trained networks (`committee=`, member k trained with seed + k); or set committee_networks "
                          "= 'same' to map one network alpha times.")
    if not isinstance(network, MLP):
        raise ConfigError(f"a committee of distinct networks (committee_networks 'distinct') takes dense networks "
                          f"(MLP); got a {type(network).__name__}; use committee_networks = 'same'.")
    nets = tuple(committee)
    if len(nets) != hardware.alpha or not all(isinstance(n, MLP) for n in nets):
        raise ConfigError(f"`committee` must hold alpha = {hardware.alpha} networks (MLP); got {short_repr(committee)}.")
    for k, n in enumerate(nets):
        if n.layer_sizes != network.layer_sizes or n.hidden_activation != network.hidden_activation \
                or n.output != network.output or (n.biases is None) != (network.biases is None):
            raise ConfigError(f"`committee[{k}]` has layers {n.layer_sizes} ({n.hidden_activation}, {n.output}); "
                              f"every member must match `network` {network.layer_sizes} ({network.hidden_activation}, "
                              f"{network.output}).")
    return nets


def transfer(network: MLP | Network, hardware: Hardware, rng: np.random.Generator, *,
             committee: Sequence[MLP] | None = None) -> HardwareNetwork:
    """Transfer a network onto a fresh simulated chip.

    Parameters
    ----------
    network : MLP or Network
        The trained network (a convolution's matrix is mapped like a dense layer's) (ternary networks use the ternary encoding with their ``gammas``).
    hardware : Hardware
        Chip, devices, mapping strategy, backend and converters.
    rng : numpy.random.Generator
        Every draw, in order: the chip (faults, offsets, initial state), characterization (greedy
        placement, RME, MAO), placement, programming and read-back, member by member; then, with
        ``inference_read_noise``, the inference reads (the returned network keeps it as ``read_rng``).
    committee : sequence of MLP, optional
        Strategy ``"committee"`` with ``committee_networks = "distinct"``: the ``alpha`` members'
        trained networks (same architecture as ``network``), each mapped on its own devices.

    Returns
    -------
    HardwareNetwork

    Raises
    ------
    ConfigError
        Bad settings, or a network that does not fit the chip (the message says what fits).
    """
    net = _check_network(network)
    hw = _check_hardware(hardware)
    check_rng(rng)
    _check_bias_row(net, hw)  # before any mapping work
    t0 = time.perf_counter()
    biased = hw.bias == "crossbar" and net.biases is not None
    weights = augmented_weights(net.weights, net.biases if biased else None)
    encodings = layer_encodings(hw, weights, net.gammas, biased=biased)
    preset = build_preset(hw)
    rounding = _two_level_rounding(hw, weights, encodings, preset, biased=biased)
    if rounding is not None:
        warnings.warn(rounding, UserWarning, stacklevel=2)
    chip = build_chip(hw, weights, encodings, rng, preset)
    programming = programming_config(hw)
    nets = _check_committee(net, hw, committee)
    if nets is not None:
        occ = np.zeros(chip.shape, dtype=bool)
        cfg = ensemble_config(hw)
        char = None
        if cfg.placement == "greedy" or cfg.g_norm == "characterized":  # once, before any member is programmed
            char = characterize(chip, rng)
            chip = char.chip
        mapped = []
        for m in nets:
            w_m = augmented_weights(m.weights, m.biases if biased else None)
            m_net = map_network(w_m, chip, rng, encoding=layer_encodings(hw, w_m, m.gammas, biased=biased),
                                ensemble=cfg, programming=programming, occupied=occ, characterization=char)
            chip = m_net.chip
            occ |= m_net.occupancy()
            mapped.append(m_net)
        members = tuple(MappedNetwork(layers=tuple(dataclasses.replace(layer, chip=chip) for layer in m.layers),
                                      chip=chip, characterization=m.characterization) for m in mapped)
    elif hw.strategy == "committee":
        members = map_committee(weights, chip, rng, members=hw.alpha, encoding=encodings,
                                placement=hw.effective_placement, programming=programming,  # type: ignore[arg-type]
                                strict=hw.strict, g_norm=hw.g_norm)
    else:
        members = (map_network(weights, chip, rng, encoding=encodings, ensemble=layer_ensembles(hw, len(weights)),
                               programming=programming),)
    return HardwareNetwork(network=net, hardware=hw, members=tuple(members), inference=inference_config(hw),
                           n_kernels=chip.n_kernels, timings={"map": time.perf_counter() - t0},
                           networks=() if nets is None else nets, read_rng=rng)


def _two_level_rounding(hw: Hardware, weights: Sequence[np.ndarray], encodings: Sequence[Encoding],
                        preset: DevicePreset, *, biased: bool = False) -> str | None:
    """What a two-level device does to real-valued weights, or None when it loses nothing.

    Differential pairs of a device with two levels in its window (``rram_1t1r_nist``: 133 and 233 uS)
    hold ``-w_max``, 0 and ``+w_max`` only: ``G+`` snaps to the upper level where ``w > w_max / 2``, so
    every smaller weight becomes 0. Lossless for a ternary layer; for a real-valued network it is a
    silent ternarization at a threshold of half the largest weight, which nothing else reports.
    """
    if hw.levels is not None or preset.levels is None:
        return None
    lv = np.unique(np.asarray(preset.levels, dtype=np.float64))
    tol = 1e-9 * preset.g_max
    lv = lv[(lv >= preset.g_min - tol) & (lv <= preset.g_max + tol)]
    if lv.size != 2:
        return None
    lost = []
    zeroed = nonzero = 0
    for i, (w, enc) in enumerate(zip(weights, encodings)):
        if enc.scheme != "differential" or enc.levels is not None:
            continue
        a = np.abs(np.asarray(w, dtype=np.float64))
        w_max = float(a.max()) if enc.w_max is None else float(enc.w_max)
        if w_max <= 0:
            continue
        kept = np.isclose(a, 0.0, rtol=0.0, atol=1e-9 * w_max) | np.isclose(a, w_max, rtol=1e-9, atol=0.0)
        if kept.all():
            continue  # ternary already: rounding changes nothing
        lost.append(i)
        nz = a > 1e-9 * w_max
        nonzero += int(nz.sum())
        zeroed += int((nz & (a < 0.5 * w_max)).sum())
    if not lost:
        return None
    return (f"preset {hw.preset!r} programs two conductance levels ({lv[0] * 1e6:g} and {lv[1] * 1e6:g} uS), so "
            f"its differential pairs round the real-valued weights of layer(s) {', '.join(map(str, lost))} to "
            f"-w_max, 0 or +w_max of each layer: {zeroed} of their {nonzero} non-zero weights "
            f"({zeroed / max(nonzero, 1):.0%}, those below w_max / 2 in magnitude) become 0"
            + (" (each matrix's last row is the layer's real-valued bias, on the crossbar with bias = 'crossbar')"
               if biased else "")
            + ". Set `levels` (e.g. 16) to model a multi-level device, or ternarize the network first to choose the "
            "threshold.")


# ----------------------------------------------------------------------------- evaluate
@dataclass(frozen=True, kw_only=True)
class TaskAccuracy:
    """Accuracy on one task of a multi-task dataset (fractions 0 to 1)."""

    name: str
    hardware: float
    software: float
    n: int


@dataclass(frozen=True, kw_only=True, eq=False)
class EvaluationResult:
    """One transfer's accuracy beside the software baseline.

    Attributes
    ----------
    hardware_accuracy, software_accuracy : float
        Fractions (0 to 1) of the split's points classified correctly.
    correct, software_correct : ndarray of bool, shape (P,)
        Per point.
    tasks : tuple of TaskAccuracy
        Per task (empty for a single-task dataset).
    mapping_errors : tuple of float
        Percent, per layer.
    n_devices, n_kernels : int
        Devices used, kernels of the chip.
    hardware : Hardware
        The settings.
    split : str
        ``"test"``, ``"val"`` or ``"train"``.
    timings : mapping of str to float
        Seconds: ``"map"`` and ``"inference"`` (and ``"inference_<name>"`` per re-read).
    readouts : mapping of str to float
        Accuracy of every extra read-out of the same transfer (``evaluate(..., readouts=)``).
    energy : tuple of LayerEnergy
        Read energy per inference of every layer (empty when ``hardware.energy`` is false).
    software_runtime : str
        What computed the software baseline: ``"xbarsim"`` or ``"onnxruntime X.Y"`` for a network
        imported from ONNX.
    software_difference : float or None
        For an ONNX network: ``max |xbarsim forward - onnxruntime| / max |onnxruntime|`` over the
        evaluated points (the user's own data); None otherwise.
    """

    __repr__ = compact_repr

    hardware_accuracy: float
    software_accuracy: float
    correct: BoolArray
    software_correct: BoolArray
    tasks: tuple[TaskAccuracy, ...]
    mapping_errors: tuple[float, ...]
    n_devices: int
    n_kernels: int
    hardware: Hardware
    split: str
    timings: Mapping[str, float] = field(default_factory=dict)
    readouts: Mapping[str, float] = field(default_factory=dict)
    energy: tuple[LayerEnergy, ...] = ()
    software_runtime: str = "xbarsim"
    software_difference: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "readouts", MappingProxyType(dict(self.readouts)))
        object.__setattr__(self, "correct", readonly(np.asarray(self.correct, dtype=bool)))
        object.__setattr__(self, "software_correct", readonly(np.asarray(self.software_correct, dtype=bool)))
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))

    @property
    def mapping_error(self) -> float:
        """Percent, the mean over layers (the LEA paper's "averaged across network layers")."""
        return float(np.mean(self.mapping_errors))

    @property
    def energy_per_inference(self) -> float | None:
        """Joule, the arrays' read energy per inference summed over layers (None if not computed)."""
        return float(sum(e.energy for e in self.energy)) if self.energy else None

    def report(self) -> str:
        """A text table of the transfer: accuracy on hardware beside software (per task and per extra
        read-out too), each layer's mapping error and read energy, and what was mapped where.
        Accuracies and mapping errors in percent, energies in picojoule per inference."""
        n = int(self.correct.shape[0])
        hw = self.hardware
        # fault_rate None: the preset keeps its own rate
        rate = f"{hw.fault_rate:g}" if hw.fault_rate is not None else f"{build_preset(hw).faults.rate:g} (the preset's)"
        head = (f"one transfer ({hw.strategy}, alpha {hw.alpha}, preset {hw.preset}, {hw.backend} read-out, "
                f"fault rate {rate}): {n} points of the {self.split!r} split, {self.n_devices} devices "
                f"on {self.n_kernels} kernels; software baseline by {self.software_runtime}")
        rows: list[tuple[Any, ...]] = [("all points", n, 100 * self.hardware_accuracy, 100 * self.software_accuracy,
                                        100 * (self.hardware_accuracy - self.software_accuracy))]
        rows += [(f"task {t.name}", t.n, 100 * t.hardware, 100 * t.software, 100 * (t.hardware - t.software))
                 for t in self.tasks]
        rows += [(f"read-out {name}", n, 100 * acc, 100 * self.software_accuracy, 100 * (acc - self.software_accuracy))
                 for name, acc in self.readouts.items()]
        text = head + "\n" + text_table(("points", "n", "hardware (%)", "software (%)", "difference (points)"), rows)
        energy = {e.layer: e.energy for e in self.energy}
        layers = [(i, err, *((1e12 * energy[i],) if self.energy else ())) for i, err in enumerate(self.mapping_errors)]
        layers.append(("all", self.mapping_error, *((1e12 * (self.energy_per_inference or 0.0),) if self.energy else ())))
        cols = ("layer", "mapping error (%; all: mean)",
                *(("read energy (pJ / inference; all: sum)",) if self.energy else ()))
        return text + "\n\n" + text_table(cols, layers)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (per-point arrays left out)."""
        return {
            "hardware_accuracy": self.hardware_accuracy, "software_accuracy": self.software_accuracy,
            "tasks": [dataclasses.asdict(t) for t in self.tasks], "mapping_errors": list(self.mapping_errors),
            "mapping_error": self.mapping_error, "n_devices": self.n_devices, "n_kernels": self.n_kernels,
            "split": self.split, "timings": dict(self.timings), "hardware": self.hardware.to_dict(),
            "readouts": dict(self.readouts), "software_runtime": self.software_runtime,
            "software_difference": self.software_difference,
            "energy_per_inference": self.energy_per_inference, "energy": [dataclasses.asdict(e) for e in self.energy],
        }


def _task_slices(dataset: Dataset, split: str, n: int) -> list[tuple[str, slice]]:
    if not dataset.tasks:
        return []
    sizes = [t.split(split)[0].shape[0] for t in dataset.tasks]
    if sum(sizes) != n:
        raise ConfigError(f"dataset {dataset.name!r}: its tasks' {split} splits ({sizes}) do not add up to the "
                          f"top-level split ({n}); per-task accuracy needs the tasks concatenated in order.")
    out, start = [], 0
    for t, k in zip(dataset.tasks, sizes):
        out.append((t.name, slice(start, start + k)))
        start += k
    return out


def _split(dataset: Any, split: str) -> tuple[FloatArray, IntArray]:
    if not isinstance(dataset, Dataset):
        raise ConfigError(f"`dataset` must be an xbarsim.networks.Dataset; got {type(dataset).__name__}.")
    x, y = dataset.split(split)
    if x.shape[0] == 0:
        raise ConfigError(f"the {split!r} split of dataset {dataset.name!r} is empty.")
    return np.asarray(x), np.asarray(y)


def evaluated_points(dataset: Dataset, split: str, max_points: int | None
                     ) -> tuple[FloatArray, IntArray, list[tuple[str, slice]]]:
    """The split's inputs, labels and task slices, limited to the first ``max_points`` points (for a
    multi-task dataset: the first ``max(1, max_points // n_tasks)`` of every task, so that every task
    is evaluated)."""
    x, y = _split(dataset, split)
    slices = _task_slices(dataset, split, y.size)
    if max_points is not None and (isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer))
                                   or max_points < 1):
        raise ConfigError(f"`max_points` must be a positive int or None; got {short_repr(max_points)}.")
    if max_points is None or max_points >= y.size:
        return x, y, slices
    if not slices:
        return x[:max_points], y[:max_points], []
    share = max(1, int(max_points) // len(slices))
    keep, new, start = [], [], 0
    for name, sl in slices:
        k = min(share, sl.stop - sl.start)
        keep.append(np.arange(sl.start, sl.start + k))
        new.append((name, slice(start, start + k)))
        start += k
    idx = np.concatenate(keep)
    return x[idx], y[idx], new


def _check_points(net: MLP | Network, dataset: Dataset, x: FloatArray, y: IntArray) -> None:
    """The evaluated points fit the network: its input width, and labels it can predict (a label of
    ``n_classes`` or more, e.g. classes numbered from 1, would be counted wrong at every transfer)."""
    if x.shape[1] != net.n_inputs:
        raise ConfigError(f"`network` takes {net.n_inputs} inputs but dataset {dataset.name!r} has {x.shape[1]} "
                          "features.")
    check_sample_shape(dataset, getattr(net, "input_shape", (net.n_inputs,)), "`network`")
    if y.size and int(y.max()) >= net.n_classes:
        raise ConfigError(f"dataset {dataset.name!r} has label {int(y.max())}, but the network predicts "
                          f"{net.n_classes} classes (0 .. {net.n_classes - 1}): no prediction could match it.")


def _check_mapping_error_defined(net: MLP | Network, hw: Hardware, committee: Sequence[MLP] | None) -> None:
    """Refuse, before any work, a mapped layer whose weights are all zero: ``evaluate`` and a Monte Carlo
    on a Hardware report every layer's relative mapping error, which is undefined for it (before, the
    whole inference, or the first transfer's mapping, ran first)."""
    biased = hw.bias == "crossbar" and net.biases is not None
    for k, m in enumerate([net, *(committee or ())]):
        mats = augmented_weights(m.weights, m.biases if biased else None)
        for i, w in enumerate(mats):
            if not np.any(np.asarray(w)):
                who = "`network`" if k == 0 else f"`committee[{k - 1}]`"
                raise ConfigError(f"layer {i} of {who} has all-zero weights: evaluate and monte_carlo report each "
                                  "layer's relative mapping error 100 ||W_hat - W|| / ||W||, undefined for it. Map "
                                  "and read such a network with transfer() and predict().")


def evaluate(
    network: MLP | Network,
    dataset: Dataset,
    hardware: Hardware,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    split: str = "test",
    max_points: int | None = None,
    readouts: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
    committee: Sequence[MLP] | None = None,
) -> EvaluationResult:
    """Accuracy of ``network`` on ``dataset`` after one transfer onto ``hardware``, and in software.

    Parameters
    ----------
    network : MLP or Network
        Trained network (dense, or with convolutions, e.g. from :func:`~xbarsim.networks.load_onnx`).
    dataset : Dataset
        Its dataset; per-task accuracies are reported when it has tasks.
    hardware : Hardware
        The simulated hardware.
    seed, rng
        Exactly one: the transfer's randomness (chip, mapping, noise).
    split : {"test", "val", "train"}
        The evaluated split.
    max_points : int, optional
        Evaluate only the first ``max_points`` points of the split (multi-task datasets: the first
        ``max(1, max_points // n_tasks)`` of every task, so at least one per task, more than
        ``max_points`` in all when it is below the number of tasks), e.g. to keep circuit backends fast.
    readouts : mapping of str to mapping, optional
        Extra read-outs of the same transfer: name -> changes of :data:`READOUT_FIELDS` (e.g.
        ``{"circuit": {"backend": "sparse", "segment_ohm": 1.0}}``); their accuracies land in
        :attr:`EvaluationResult.readouts`. A paired comparison: same chip, same conductances.
    progress : callable, optional
        Called as ``progress("evaluate", done, total)`` after the mapping and after every layer of
        every member (and read-out).
    committee : sequence of MLP, optional
        A committee of distinct networks (see :func:`transfer`); the software accuracy stays that
        of ``network``.

    Returns
    -------
    EvaluationResult

    Notes
    -----
    With an ideal chip (``fault_rate = 0``, ``programming_noise = read_noise = False``, ideal
    backend, ``dac_bits = adc_bits = None``) every layer computes ``x @ W`` up to floating-point
    rounding, so the hardware predictions equal the software ones, provided the devices can hold the
    weights: a ternary network, or a continuous window or ``levels``. The two levels of
    ``rram_1t1r_nist`` round a real-valued network's weights to ``-w_max``, 0, ``+w_max`` (a
    warning says how many become 0).
    """
    net = _check_network(network)
    hw = _check_hardware(hardware)
    gen = _resolve_rng(seed, rng)
    x, y, slices = evaluated_points(dataset, split, max_points)
    _check_points(net, dataset, x, y)
    _check_mapping_error_defined(net, hw, committee)
    members = hw.alpha if hw.strategy == "committee" else 1
    if readouts is not None and not isinstance(readouts, Mapping):
        raise ConfigError(f"`readouts` must map names to tables of read-out changes; got {short_repr(readouts)}.")
    extra = dict(readouts or {})
    for name, ch in extra.items():
        if not isinstance(name, str) or not isinstance(ch, Mapping):
            raise ConfigError(f"`readouts` must map names to tables of read-out changes; got {short_repr(readouts)}.")
    report = check_progress(progress)
    total = 1 + members * net.n_layers * (1 + len(extra))
    steps = [0]

    def tick() -> None:
        steps[0] += 1
        if report is not None:
            report("evaluate", steps[0], total)

    hwnet = transfer(net, hw, gen, committee=committee)
    tick()
    t0 = time.perf_counter()
    if hw.energy:
        pred, energy = hwnet.predict_with_energy(x, progress=tick)
    else:
        pred, energy = hwnet.predict(x, progress=tick), ()
    t_inf = time.perf_counter() - t0
    other: dict[str, float] = {}
    times: dict[str, float] = {}
    for name, ch in extra.items():
        t1 = time.perf_counter()
        other[name] = float(np.mean(hwnet.reread(**ch).predict(x, progress=tick) == y))
        times[f"inference_{name}"] = time.perf_counter() - t1
    correct = pred == y
    sw_scores, runtime = reference_scores(net, x)
    sw = net.labels_from_scores(sw_scores) == y
    difference = None
    if runtime != "xbarsim":  # the import checked on the user's own points
        peak = float(np.abs(sw_scores).max())
        difference = float(np.abs(net.forward(x) - sw_scores).max()) / (peak if peak > 0 else 1.0)
    tasks = tuple(
        TaskAccuracy(name=name, hardware=float(correct[sl].mean()), software=float(sw[sl].mean()),
                     n=sl.stop - sl.start)
        for name, sl in slices
    )
    return EvaluationResult(
        hardware_accuracy=float(correct.mean()), software_accuracy=float(sw.mean()), correct=correct,
        software_correct=sw, tasks=tasks, mapping_errors=hwnet.mapping_errors, n_devices=hwnet.n_devices,
        n_kernels=hwnet.n_kernels, hardware=hw, split=split,
        timings={"map": hwnet.timings["map"], "inference": t_inf, **times}, readouts=other, energy=energy,
        software_runtime=runtime, software_difference=difference,
    )


# ----------------------------------------------------------------------------- Monte Carlo
def _threshold(value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not 0.0 < float(value) <= 1.0):
        raise ConfigError(f"`threshold` must be a fraction in (0, 1]; got {short_repr(value)}.")
    return float(value)


def robust_fraction(correct: Any, threshold: float = 0.95) -> float:
    """Fraction of points classified correctly in at least ``threshold`` of the transfers.

    Parameters
    ----------
    correct : array_like of bool, shape (N, P)
        ``correct[k, i]``: point ``i`` correct in transfer ``k``.
    threshold : float
        Fraction in (0, 1]; Drolet et al. use 0.95.

    Notes
    -----
    A point counts when its number of correct transfers is at least ``ceil(threshold N)``, computed
    with a 1e-9 tolerance so that 95 % of 20 transfers is exactly 19, and at least 1: a point no
    transfer classified is below any positive threshold.
    """
    c = np.asarray(correct)
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ConfigError(f"`correct` must be a non-empty (transfers, points) array; got shape {c.shape}.")
    if c.dtype != bool:
        # fractions or scores would all count as correct under astype(bool)
        bad = c[~np.isin(c, (0, 1))] if c.dtype.kind in "iuf" else c.reshape(-1)
        if bad.size:
            raise ConfigError(f"`correct` must hold booleans (or 0 / 1), one per transfer and point; got "
                              f"{c.dtype} values such as {short_repr(bad.reshape(-1)[0])}.")
    t = _threshold(threshold)
    need = max(1, math.ceil(t * c.shape[0] - 1e-9))  # the tolerance made it 0 below t = 1e-9 / N
    return float(np.mean(c.astype(bool).sum(axis=0) >= need))


@dataclass(frozen=True, kw_only=True, eq=False)
class MonteCarloResult:
    """``N`` simulated weight transfers of one network.

    Attributes
    ----------
    correct : ndarray of bool, shape (N, P)
        Per transfer and test point.
    software_correct : ndarray of bool, shape (P,)
        The software network per point.
    mapping_errors : ndarray, shape (N, L)
        Percent, per transfer and layer (NaN for statistical transfers).
    task_slices : tuple of (str, int, int)
        Per task of the dataset, its name and the ``start, stop`` range of its points on the ``P``
        axis (empty if the dataset has no tasks); :meth:`task_accuracy` reads it.
    threshold : float
        The robustness threshold (0.95).
    model : dict
        Description of the transfer model (the Hardware settings, or the statistical model).
    """

    __repr__ = compact_repr

    correct: BoolArray
    software_correct: BoolArray
    mapping_errors: FloatArray
    task_slices: tuple[tuple[str, int, int], ...] = ()
    threshold: float = 0.95
    model: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", _threshold(self.threshold))
        object.__setattr__(self, "correct", readonly(np.asarray(self.correct, dtype=bool)))
        object.__setattr__(self, "software_correct", readonly(np.asarray(self.software_correct, dtype=bool)))
        object.__setattr__(self, "mapping_errors", readonly(np.asarray(self.mapping_errors, dtype=np.float64)))
        object.__setattr__(self, "model", MappingProxyType(dict(self.model)))
        # every statistic of the result is a mean over transfers or points: none is defined for zero
        if self.correct.ndim != 2 or 0 in self.correct.shape:
            raise ConfigError(f"`correct` must be a (transfers, points) array with at least one of each; got shape "
                              f"{self.correct.shape}.")
        if self.software_correct.shape != self.correct.shape[1:]:
            raise ConfigError(f"`software_correct` must have shape ({self.correct.shape[1]},), one per point; got "
                              f"shape {self.software_correct.shape}.")

    def figures(self) -> dict[str, object]:
        """Key numbers for the repr: transfers, points, the robust fraction and the accuracies."""
        return {"transfers": self.transfers, "points": int(self.correct.shape[1]),
                "robust_fraction": self.robust_fraction, "mean_accuracy": self.mean_accuracy,
                "std_accuracy": self.std_accuracy, "software_accuracy": self.software_accuracy}

    @property
    def transfers(self) -> int:
        """``N``."""
        return int(self.correct.shape[0])

    @property
    def accuracy(self) -> FloatArray:
        """``(N,)``: the accuracy of every transfer."""
        return np.asarray(self.correct.mean(axis=1))

    @property
    def per_point(self) -> FloatArray:
        """``(P,)``: per test point, the fraction of transfers classifying it correctly."""
        return np.asarray(self.correct.mean(axis=0))

    @property
    def robust_fraction(self) -> float:
        """Fraction of points correct in at least :attr:`threshold` of the transfers (Drolet's metric)."""
        return robust_fraction(self.correct, self.threshold)

    @property
    def mean_accuracy(self) -> float:
        return float(self.accuracy.mean())

    @property
    def std_accuracy(self) -> float:
        """Standard deviation (ddof = 0) of the per-transfer accuracy."""
        return float(self.accuracy.std())

    @property
    def software_accuracy(self) -> float:
        return float(self.software_correct.mean())

    def task_accuracy(self) -> dict[str, FloatArray]:
        """Per task, the ``(N,)`` accuracies of every transfer."""
        return {name: np.asarray(self.correct[:, a:b].mean(axis=1)) for name, a, b in self.task_slices}

    def histogram(self, bins: int = 20) -> tuple[IntArray, FloatArray]:
        """Counts of points by their per-point accuracy, over ``bins`` equal bins of [0, 1].

        Bin ``i`` holds the points whose accuracy ``k / N`` (``k`` correct of ``N`` transfers) lies in
        ``[i / bins, (i + 1) / bins)``, the last bin ``[1 - 1 / bins, 1]``. The bin is found in integer
        arithmetic, ``floor(k bins / N)``: a point on an edge (19 of 20 transfers, 95 %) counts in the bin
        above it, as :attr:`robust_fraction` counts it (numpy's float edges, 0.9500000000000001, put it below).
        """
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ConfigError(f"`bins` must be a positive int; got {short_repr(bins)}.")
        b, n = int(bins), self.transfers
        k = self.correct.sum(axis=0).astype(np.int64)
        counts = np.bincount(np.minimum(k * b // n, b - 1), minlength=b)
        return counts.astype(np.int64), np.linspace(0.0, 1.0, b + 1)

    def report(self) -> str:
        """A text table: the robust fraction at :attr:`threshold`, mean and std of the per-transfer
        accuracy beside the software accuracy (per task too), and the mapping error; in percent."""
        me = self.mapping_errors
        mapped = bool(me.size) and bool(np.isfinite(me).all())
        head = (f"{self.transfers} transfers of {int(self.correct.shape[1])} points "
                f"({self.model.get('model', 'transfer')} model); "
                f"robust fraction (correct in at least {100 * self.threshold:g} % of the transfers): "
                f"{100 * self.robust_fraction:.1f} %")
        rows: list[tuple[Any, ...]] = [("all points", 100 * self.mean_accuracy, 100 * self.std_accuracy,
                                        100 * float(self.accuracy.min()), 100 * float(self.accuracy.max()),
                                        100 * self.software_accuracy)]
        for (name, a, b), acc in zip(self.task_slices, self.task_accuracy().values()):
            rows.append((f"task {name}", 100 * float(acc.mean()), 100 * float(acc.std()), 100 * float(acc.min()),
                         100 * float(acc.max()), 100 * float(self.software_correct[a:b].mean())))
        text = head + "\n" + text_table(("points", "mean (%)", "std (%)", "min (%)", "max (%)", "software (%)"), rows)
        if mapped:
            text += (f"\nmapping error: {float(me.mean()):.3g} % (mean over transfers and layers; per layer "
                     f"{', '.join(f'{v:.3g}' for v in me.mean(axis=0))} %)")
        return text

    def summary(self) -> dict[str, Any]:
        """Plain JSON data: counts, metric, mean and std accuracy, histogram, per task."""
        counts, edges = self.histogram()
        out: dict[str, Any] = {
            "transfers": self.transfers, "points": int(self.correct.shape[1]), "threshold": self.threshold,
            "robust_fraction": self.robust_fraction, "mean_accuracy": self.mean_accuracy,
            "std_accuracy": self.std_accuracy, "software_accuracy": self.software_accuracy,
            "histogram_counts": counts.tolist(), "histogram_edges": edges.tolist(),
            "model": dict(self.model),
        }
        me = self.mapping_errors
        if me.size and np.isfinite(me).all():
            out["mapping_error_mean"] = float(me.mean())
        for name, acc in self.task_accuracy().items():
            out[f"accuracy_{name}"] = {"mean": float(acc.mean()), "std": float(acc.std())}
        return out


def _pack(correct: BoolArray) -> str:
    return np.packbits(np.asarray(correct, dtype=bool)).tobytes().hex()


def _unpack(text: str, n: int) -> BoolArray:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))
    if bits.size < n:
        raise ValueError("bit string too short")
    return bits[:n].astype(bool)


def transfer_outcome(network: MLP | Network, x: FloatArray, y: IntArray,
                     model: Hardware | DevicePerturbation | DroletCodePerturbation, seed: int, index: int, *,
                     committee: Sequence[MLP] | None = None) -> dict[str, Any]:
    """Transfer ``index`` of a Monte Carlo run: ``accuracy``, ``correct`` (the per-point correctness as
    hex of packed bits, :func:`unpack_correct`) and ``mapping_errors`` (percent per layer; empty for
    a statistical model). Draws from ``SeedSequence(seed, spawn_key=(index,))`` only
    (:func:`transfer_seed`), so a transfer is the same wherever and whenever it runs. ``committee``:
    a :class:`Hardware` committee of distinct networks (see :func:`transfer`)."""
    gen = np.random.Generator(np.random.PCG64(transfer_seed(seed, index)))
    if isinstance(model, Hardware):
        hwnet = transfer(network, model, gen, committee=committee)
        correct = hwnet.predict(x) == y
        errors = [float(e) for e in hwnet.mapping_errors]
    else:
        if committee is not None:
            raise ConfigError(_STATISTICAL_COMMITTEE)
        if not isinstance(network, MLP):
            raise ConfigError(_STATISTICAL_DENSE)
        w, b = model.perturb_network(network.weights, network.biases, gen)
        pert = dataclasses.replace(network, weights=w, biases=b, gammas=None)
        correct = pert.predict(x) == y
        errors = []
    return {"accuracy": float(correct.mean()), "correct": _pack(correct), "mapping_errors": errors}


def unpack_correct(text: str, n: int) -> BoolArray:
    """The ``(n,)`` per-point correctness from the hex of packed bits written by :func:`transfer_outcome`."""
    try:
        return _unpack(text, n)
    except ValueError as exc:
        raise ConfigError(f"a stored per-point correctness is damaged ({exc}).") from None


_STATISTICAL_COMMITTEE = ("`committee` networks need a Hardware model (strategy 'committee'); statistical models "
                          "perturb one network.")
_STATISTICAL_DENSE = ("statistical transfer models (DevicePerturbation, DroletCodePerturbation) perturb an MLP "
                      "(xbarsim.networks.MLP); a layered Network, e.g. from load_onnx even when every layer is "
                      "dense, is transferred with a Hardware model.")


def monte_carlo_setup(network: MLP | Network, dataset: Dataset,
                      model: Hardware | DevicePerturbation | DroletCodePerturbation, *, split: str = "test",
                      committee: Sequence[MLP] | None = None,
                      ) -> tuple[FloatArray, IntArray, tuple[tuple[str, int, int], ...], dict[str, Any]]:
    """The evaluated points ``(x, y)``, the task slices and the description of ``model`` of a Monte
    Carlo run (checked), shared by :func:`monte_carlo` and durable runs built on it. With a
    ``committee`` of distinct networks the description holds the members' fingerprints."""
    _check_network(network)
    if isinstance(model, Hardware):
        desc = {"model": "hardware", **model.to_dict()}
        if committee is not None:
            _check_committee(network, model, committee)
            desc["committee"] = [network_fingerprint(_check_network(m)) for m in committee]
        _check_mapping_error_defined(network, model, committee)
    elif committee is not None:
        raise ConfigError(_STATISTICAL_COMMITTEE)
    elif isinstance(model, (DevicePerturbation, DroletCodePerturbation)):
        if not isinstance(network, MLP):
            raise ConfigError(_STATISTICAL_DENSE)
        desc = model.to_dict()
    else:
        raise ConfigError(f"`model` must be a Hardware, a DevicePerturbation or a DroletCodePerturbation; got "
                          f"{type(model).__name__}.")
    x, y = _split(dataset, split)
    _check_points(network, dataset, x, y)
    slices = tuple((name, sl.start, sl.stop) for name, sl in _task_slices(dataset, split, int(y.size)))
    return x, y, slices, desc


def monte_carlo_result(network: MLP | Network, x: FloatArray, y: IntArray, outcomes: Sequence[Mapping[str, Any]], *,
                       task_slices: tuple[tuple[str, int, int], ...] = (), threshold: float = 0.95,
                       model: Mapping[str, Any] | None = None) -> MonteCarloResult:
    """A :class:`MonteCarloResult` from the outcomes of transfers ``0 .. N-1`` in order (as
    :func:`transfer_outcome` returns them, e.g. read back from a store)."""
    p = int(y.size)
    correct = np.array([unpack_correct(o["correct"], p) for o in outcomes]).reshape(len(outcomes), p)
    n_layers = max((len(o["mapping_errors"]) for o in outcomes), default=0)
    errs = np.full((len(outcomes), n_layers), np.nan)
    for k, o in enumerate(outcomes):
        errs[k, :len(o["mapping_errors"])] = o["mapping_errors"]
    return MonteCarloResult(correct=correct, software_correct=network.predict(x) == y, mapping_errors=errs,
                            task_slices=task_slices, threshold=threshold, model=dict(model or {}))


def monte_carlo(
    network: MLP | Network,
    dataset: Dataset,
    model: Hardware | DevicePerturbation | DroletCodePerturbation,
    *,
    transfers: int,
    seed: int,
    split: str = "test",
    threshold: float = 0.95,
    progress: ProgressCallback | None = None,
    committee: Sequence[MLP] | None = None,
) -> MonteCarloResult:
    """``transfers`` independent weight transfers; per point, how often it is classified correctly.

    Parameters
    ----------
    network : MLP or Network
        Trained network (dense, or with convolutions, e.g. from :func:`~xbarsim.networks.load_onnx`).
    dataset : Dataset
        Its dataset.
    model : Hardware, DevicePerturbation or DroletCodePerturbation
        A :class:`Hardware`: every transfer is a full :func:`transfer` (new chip, fault map,
        mapping and noise). A :class:`~xbarsim.evaluation.DevicePerturbation`: every transfer is a
        statistical draw of the device model applied to the weights (and biases if it says so),
        in the physical 100-500 uS window. A :class:`~xbarsim.evaluation.DroletCodePerturbation`:
        the same Monte Carlo as Drolet et al.'s code draws it (+-400 uS frame, measured
        disturbance samples, scalar output bias exact).
    transfers : int
        ``N`` >= 1.
    seed : int
        Transfer ``k`` draws from ``SeedSequence(seed, spawn_key=(k,))`` (:func:`transfer_seed`).
    split : str
        Evaluated split.
    threshold : float
        For :attr:`MonteCarloResult.robust_fraction` (0.95).
    progress : callable, optional
        Called as ``progress("transfers", done, total)`` after every transfer.
    committee : sequence of MLP, optional
        A :class:`Hardware` committee of distinct networks (see :func:`transfer`).

    Returns
    -------
    MonteCarloResult

    Notes
    -----
    This runs in memory. A durable, resumable run (every transfer stored as it finishes, with a
    writer lock) is an experiment of kind ``"monte-carlo"`` (:mod:`xbarsim.experiments`), which runs
    the same :func:`transfer_outcome` per transfer on the sweep store: its numbers equal these.
    """
    net = _check_network(network)
    if isinstance(transfers, bool) or not isinstance(transfers, (int, np.integer)) or not 1 <= transfers <= 10**7:
        raise ConfigError(f"`transfers` must be an int in [1, 1e7]; got {short_repr(transfers)}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"`seed` must be an int >= 0; got {short_repr(seed)}.")
    _threshold(threshold)  # before the transfers, not when the result is read
    tick = check_progress(progress)
    x, y, slices, desc = monte_carlo_setup(net, dataset, model, split=split, committee=committee)
    outcomes = []
    for k in range(int(transfers)):
        outcomes.append(transfer_outcome(net, x, y, model, int(seed), k, committee=committee))
        if tick is not None:
            tick("transfers", k + 1, int(transfers))
    return monte_carlo_result(net, x, y, outcomes, task_slices=slices, threshold=threshold, model=desc)
