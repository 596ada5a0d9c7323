"""Weights -> conductances -> programmed arrays: encoding, tiling, chips, write-verify, LEA.

* :mod:`~xbarsim.mapping.encoding` -- :func:`map_weights` (differential pairs, reference column,
  levels, ternary), :class:`MappedWeights` and its exact inverse, :func:`mapping_error`.
* :mod:`~xbarsim.mapping.tiling` -- :func:`tile_layer`: blocks that fit a kernel, partial sums.
* :mod:`~xbarsim.mapping.chip` -- :class:`Chip` (kernels, faults, state), :func:`lea_chip`,
  :func:`characterize` (SET-all / RESET-all reads and thresholds).
* :mod:`~xbarsim.mapping.programming` -- :func:`write_verify`, :func:`read_devices`, :func:`read_chip`,
  :func:`program_sequence` (half-select disturbance through ``xbarsim.analysis``), or
  :func:`program_transient` (pulse trains on dynamic devices in the time domain; slow).
* :mod:`~xbarsim.mapping.placement` -- :func:`place_layer`: random or greedy defect-aware blocks.
* :mod:`~xbarsim.mapping.ensemble` -- layer ensemble averaging: :func:`map_layer`,
  :func:`map_network`, :func:`map_committee`, :class:`EnsembleConfig` (plain, LEA, the paper's MAO, LEA with RME on all copies, blind).
* :mod:`~xbarsim.mapping.inference` -- :func:`run_layer`: DAC, arrays through a backend, averaging,
  ADC, differential subtraction.
* :mod:`~xbarsim.mapping.energy` -- :func:`layer_read_energy`: power of the reads in cells and wires
  from the circuit solution, times the read time.

Convention: a layer computes ``y = x @ W`` with ``W`` of shape ``(inputs, outputs)``, the rows and
columns of the crossbar.
"""

from xbarsim.mapping.chip import Characterization, Chip, Thresholds, characterize, lea_chip
from xbarsim.mapping.energy import ReadPower, crossbar_read_power, layer_read_energy, layer_read_power
from xbarsim.mapping.encoding import (
    ColumnLayout,
    Encoding,
    EncodingScheme,
    MappedWeights,
    map_weights,
    mapping_error,
    ternarize,
)
from xbarsim.mapping.ensemble import (
    Compensation,
    EnsembleConfig,
    EnsembleEncoding,
    GNorm,
    MappedLayer,
    MappedNetwork,
    RmeLevels,
    Selection,
    SequenceProgramming,
    TransientProgramming,
    copy_deviation,
    map_committee,
    map_layer,
    map_network,
    mao_targets,
    rme_targets,
    select_copies,
)
from xbarsim.mapping.inference import (
    ADC,
    DAC,
    AdcRange,
    Averaging,
    DacScaling,
    InferenceConfig,
    block_currents,
    input_voltages,
    run_layer,
)
from xbarsim.mapping.placement import Block, Placement, PlacementMethod, block_capacity, place_layer
from xbarsim.mapping.programming import (
    ProgrammingReport,
    WriteVerify,
    program_sequence,
    program_transient,
    read_chip,
    read_devices,
    write_verify,
)
from xbarsim.mapping.tiling import BlockSpec, LayerLayout, chunk_sizes, tile_layer

__all__ = [
    "ADC",
    "AdcRange",
    "Averaging",
    "Block",
    "BlockSpec",
    "Characterization",
    "Chip",
    "ColumnLayout",
    "Compensation",
    "DAC",
    "DacScaling",
    "Encoding",
    "EncodingScheme",
    "EnsembleConfig",
    "EnsembleEncoding",
    "GNorm",
    "InferenceConfig",
    "LayerLayout",
    "MappedLayer",
    "MappedNetwork",
    "MappedWeights",
    "Placement",
    "PlacementMethod",
    "ProgrammingReport",
    "ReadPower",
    "RmeLevels",
    "Selection",
    "SequenceProgramming",
    "TransientProgramming",
    "program_transient",
    "Thresholds",
    "WriteVerify",
    "block_capacity",
    "block_currents",
    "characterize",
    "chunk_sizes",
    "copy_deviation",
    "crossbar_read_power",
    "input_voltages",
    "layer_read_energy",
    "layer_read_power",
    "lea_chip",
    "map_committee",
    "map_layer",
    "map_network",
    "map_weights",
    "mapping_error",
    "place_layer",
    "program_sequence",
    "read_chip",
    "read_devices",
    "mao_targets",
    "rme_targets",
    "run_layer",
    "select_copies",
    "ternarize",
    "tile_layer",
    "write_verify",
]
