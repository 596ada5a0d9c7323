"""Circuit-level studies on the solver: bias-scheme comparison, read margins, sneak paths, and
programming sequences with half-select disturbance.

* :mod:`~xbarsim.analysis.write` -- programming one cell: selected-cell voltage after IR drop (and
  its map over every cell position), half-selected and unselected cell voltages, driver current
  and power, disturbed cells (:func:`analyze_write`, :func:`compare_write_schemes`,
  :func:`selected_voltage_map`).
* :mod:`~xbarsim.analysis.read` -- reading one cell with floating, grounded or biased unselected
  lines: sensed current, sneak current, read margin under worst-case patterns versus array size
  (:func:`read_cell`, :func:`read_margin`, :func:`read_margin_curve`).
* :mod:`~xbarsim.analysis.switching` -- a threshold-type voltage-driven switching law and the ISPP
  pulses of write-verify (:class:`SwitchingLaw`, :class:`PulseSchedule`, :func:`drolet_tio2_law`).
* :mod:`~xbarsim.analysis.programming` -- programming a whole array cell by cell with write-verify
  (:func:`program_array`, the contract of the mapping layer).
* :mod:`~xbarsim.analysis.disturbance` and :mod:`~xbarsim.analysis.calibration` -- disturbance versus
  the number of cells programmed afterwards, compared with and calibrated to the measured data of
  Drolet et al.
* :mod:`~xbarsim.analysis.report` -- the full comparison behind ``xbarsim bias-compare``.
* :mod:`~xbarsim.analysis.transient_programming` -- write-verify as pulse trains on dynamic devices
  through the circuit in the time domain (:func:`program_array_transient`), disturbance from the
  device dynamics.
* :mod:`~xbarsim.analysis.picture` -- a badcrossbar-style PNG of one operating point of a small array
  (:func:`draw_crossbar`).

Layering: imports errors, _typing, _validation, devices, netlists and solver only.
"""

from xbarsim.analysis._common import VoltageStats, far_corner, near_corner
from xbarsim.analysis.calibration import LawCalibration, calibrate_switching_law, simulate_disturbance
from xbarsim.analysis.disturbance import (
    DisturbanceComparison,
    DisturbanceCurve,
    compare_disturbance,
    disturbance_curve,
    merge_curves,
)
from xbarsim.analysis.picture import MAX_PICTURE_SIDE, draw_crossbar, segment_currents
from xbarsim.analysis.programming import ProgrammingResult, program_array, programming_order
from xbarsim.analysis.read import (
    READ_PATTERNS,
    READ_SCHEMES,
    ReadAnalysis,
    ReadMargin,
    ReadMarginCurve,
    ReadPattern,
    ReadSchemeName,
    read_cell,
    read_cells,
    read_margin,
    read_margin_curve,
)
from xbarsim.analysis.report import REPORT_SCHEMES, BiasReport, bias_report
from xbarsim.analysis.switching import DROLET_SCHEDULE, PulseSchedule, SwitchingLaw, drolet_tio2_law
from xbarsim.analysis.transient_programming import (
    CellProgramming,
    TransientProgrammingResult,
    WriteVerifySettings,
    program_array_transient,
    write_verify_cell,
)
from xbarsim.analysis.write import (
    DEFAULT_DISTURB_THRESHOLD,
    SelectedVoltageMap,
    TerminalResponses,
    WriteAnalysis,
    WriteComparison,
    analyze_write,
    compare_write_schemes,
    diagonal_cells,
    selected_voltage_map,
    terminal_responses,
)

__all__ = [
    "BiasReport",
    "DEFAULT_DISTURB_THRESHOLD",
    "DROLET_SCHEDULE",
    "DisturbanceComparison",
    "DisturbanceCurve",
    "LawCalibration",
    "MAX_PICTURE_SIDE",
    "ProgrammingResult",
    "PulseSchedule",
    "READ_PATTERNS",
    "READ_SCHEMES",
    "REPORT_SCHEMES",
    "ReadAnalysis",
    "ReadMargin",
    "ReadMarginCurve",
    "ReadPattern",
    "ReadSchemeName",
    "SelectedVoltageMap",
    "SwitchingLaw",
    "TerminalResponses",
    "VoltageStats",
    "WriteAnalysis",
    "WriteComparison",
    "analyze_write",
    "bias_report",
    "calibrate_switching_law",
    "compare_disturbance",
    "compare_write_schemes",
    "diagonal_cells",
    "draw_crossbar",
    "disturbance_curve",
    "drolet_tio2_law",
    "far_corner",
    "merge_curves",
    "near_corner",
    "program_array",
    "programming_order",
    "read_cell",
    "read_cells",
    "read_margin",
    "read_margin_curve",
    "segment_currents",
    "selected_voltage_map",
    "simulate_disturbance",
    "terminal_responses",
    "CellProgramming",
    "TransientProgrammingResult",
    "WriteVerifySettings",
    "program_array_transient",
    "write_verify_cell",
]
