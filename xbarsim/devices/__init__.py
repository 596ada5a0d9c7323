"""What one cross point does: I-V models, variability, faults, presets, measured data.

* :mod:`~xbarsim.devices.models` -- the :class:`DeviceModel` protocol, :class:`Ohmic`, :class:`Sinh`.
* :mod:`~xbarsim.devices.fit` -- fitting the sinh law to measured I-V curves (:func:`fit_sinh`,
  :func:`fit_lea_iv`).
* :mod:`~xbarsim.devices.variability` -- programming error, read noise, levels, window spread.
* :mod:`~xbarsim.devices.faults` -- stuck-at fault maps and fault models.
* :mod:`~xbarsim.devices.measured` -- loaders of the measured LEA and Drolet data shipped here.
* :mod:`~xbarsim.devices.presets` -- calibrated presets :func:`tio2_passive`, :func:`rram_1t1r_nist`.

This layer knows nothing about circuits; ``xbarsim.Crossbar.from_preset`` builds a crossbar from a preset.
"""

from xbarsim.devices.faults import (
    LEA_STUCK_OFF_AT_OR_BELOW,
    LEA_STUCK_ON_ABOVE,
    LEA_STUCK_ON_ABOVE_PLOT,
    ConductanceDistribution,
    ConstantConductance,
    FaultMap,
    FaultModel,
    NormalConductance,
    UniformConductance,
)
from xbarsim.devices.fit import (
    LEA_NEGATIVE_WINDOW,
    LEA_POSITIVE_WINDOW,
    CycleFit,
    IVFitSummary,
    LeaIVFit,
    SinhFit,
    fit_lea_iv,
    fit_sinh,
)
from xbarsim.devices.measured import (
    DROLET_FAILURE_MAPS,
    LEA_KERNELS,
    DisturbanceStats,
    FailureMap,
    IVCurve,
    drolet_disturbance_samples,
    drolet_disturbance_stats,
    drolet_failure_maps,
    lea_iv_curves,
    lea_kernel17_multibit,
    lea_kernel_map,
)
from xbarsim.devices.models import DeviceModel, Ohmic, Sinh
from xbarsim.devices.dynamic import DynamicDevice, Vteam, lea_vteam, tio2_vteam, with_threshold_spread
from xbarsim.devices.presets import (
    DEVICE_LAWS,
    LEA_SINH_A,
    PRESETS,
    DevicePreset,
    ProgrammedArray,
    device_law,
    rram_1t1r_nist,
    tio2_passive,
)
from xbarsim.devices.variability import (
    ProgrammingError,
    ReadNoise,
    ReadNoiseKind,
    WindowSpread,
    clip_conductance,
    conductance_levels,
    quantize,
)

__all__ = [
    "clip_conductance",
    "conductance_levels",
    "ConductanceDistribution",
    "ConstantConductance",
    "CycleFit",
    "device_law",
    "DEVICE_LAWS",
    "DeviceModel",
    "DevicePreset",
    "DisturbanceStats",
    "drolet_disturbance_samples",
    "drolet_disturbance_stats",
    "DROLET_FAILURE_MAPS",
    "drolet_failure_maps",
    "FailureMap",
    "FaultMap",
    "FaultModel",
    "fit_lea_iv",
    "fit_sinh",
    "IVCurve",
    "IVFitSummary",
    "lea_iv_curves",
    "lea_kernel17_multibit",
    "lea_kernel_map",
    "LEA_KERNELS",
    "LEA_NEGATIVE_WINDOW",
    "LEA_POSITIVE_WINDOW",
    "LEA_SINH_A",
    "LEA_STUCK_OFF_AT_OR_BELOW",
    "LEA_STUCK_ON_ABOVE",
    "LEA_STUCK_ON_ABOVE_PLOT",
    "LeaIVFit",
    "NormalConductance",
    "Ohmic",
    "PRESETS",
    "ProgrammedArray",
    "ProgrammingError",
    "quantize",
    "ReadNoise",
    "ReadNoiseKind",
    "rram_1t1r_nist",
    "Sinh",
    "SinhFit",
    "tio2_passive",
    "UniformConductance",
    "WindowSpread",
    "DynamicDevice",
    "Vteam",
    "tio2_vteam",
    "with_threshold_spread",
    "lea_vteam",
]
