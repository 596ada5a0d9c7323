"""xbarsim: circuit-level simulation of passive memristor (ReRAM) crossbar arrays.

Rows are word lines (inputs), columns are bit lines (outputs); SI units everywhere. With ideal
wires and ohmic devices the output currents are ``I = V @ G``.
"""

from xbarsim.devices import (
    DeviceModel,
    DevicePreset,
    FaultMap,
    FaultModel,
    Ohmic,
    ProgrammingError,
    ReadNoise,
    Sinh,
    rram_1t1r_nist,
    tio2_passive,
)
from xbarsim.errors import (
    AccuracyWarning,
    BackendError,
    BackendUnavailableError,
    CircuitError,
    ConfigError,
    ConvergenceError,
    XbarError,
)
from xbarsim.netlists import BiasScheme, Crossbar, LineDrive, LineResistance, Netlist, build_netlist
from xbarsim.solver import (
    BACKENDS,
    Backend,
    CrossCheck,
    ForwardError,
    NgspiceBackend,
    NgspiceOptions,
    Solution,
    SparseBackend,
    SparseOptions,
    assert_agree,
    crosscheck,
    estimate_forward_error,
    solve,
    solve_netlist,
    transfer_matrix,
    transfer_matrices,
)

__version__ = "0.1.0"

__all__ = [
    "AccuracyWarning",
    "BACKENDS",
    "Backend",
    "BackendError",
    "BackendUnavailableError",
    "BiasScheme",
    "CircuitError",
    "ConfigError",
    "ConvergenceError",
    "CrossCheck",
    "Crossbar",
    "DeviceModel",
    "DevicePreset",
    "FaultMap",
    "FaultModel",
    "ForwardError",
    "LineDrive",
    "LineResistance",
    "Netlist",
    "NgspiceBackend",
    "NgspiceOptions",
    "Ohmic",
    "ProgrammingError",
    "ReadNoise",
    "Sinh",
    "Solution",
    "SparseBackend",
    "SparseOptions",
    "XbarError",
    "assert_agree",
    "build_netlist",
    "crosscheck",
    "estimate_forward_error",
    "rram_1t1r_nist",
    "tio2_passive",
    "solve",
    "solve_netlist",
    "transfer_matrix",
    "transfer_matrices",
    "__version__",
]
