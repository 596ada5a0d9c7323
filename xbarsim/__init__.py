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
    BackendError,
    BackendUnavailableError,
    CircuitError,
    ConfigError,
    FileFormatError,
    ConvergenceError,
    XbarError,
)
from xbarsim.netlists import (
    BiasScheme,
    Crossbar,
    LineDrive,
    LineResistance,
    Netlist,
    build_netlist,
    to_graph,
    to_spice,
)
from xbarsim.solver import (
    BACKENDS,
    Backend,
    CrossCheck,
    NgspiceBackend,
    NgspiceOptions,
    Solution,
    SparseBackend,
    SparseOptions,
    assert_agree,
    crosscheck,
    solve,
    solve_netlist,
    transfer_matrix,
)

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "BackendUnavailableError",
    "BiasScheme",
    "CircuitError",
    "ConfigError",
    "FileFormatError",
    "ConvergenceError",
    "CrossCheck",
    "Crossbar",
    "DeviceModel",
    "DevicePreset",
    "FaultMap",
    "FaultModel",
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
    "to_graph",
    "to_spice",
    "crosscheck",
    "rram_1t1r_nist",
    "tio2_passive",
    "solve",
    "solve_netlist",
    "transfer_matrix",
    "__version__",
]
