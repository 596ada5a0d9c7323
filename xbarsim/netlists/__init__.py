"""What the circuit IS: Crossbar, LineResistance, BiasScheme, the Netlist IR, SPICE text, graph view."""

from xbarsim.netlists.bias import WRITE_SCHEMES, BiasScheme, LineDrive
from xbarsim.netlists.crossbar import Crossbar
from xbarsim.netlists.lines import LineResistance
from xbarsim.netlists.netlist import Netlist, build_netlist
from xbarsim.netlists.spice import to_spice
from xbarsim.netlists.graph import to_graph
from xbarsim.netlists.transient import TransientCircuit, build_transient, transient_to_spice
from xbarsim.netlists.waveforms import PWL, LineCapacitance, Pulse

__all__ = ["BiasScheme", "LineDrive", "WRITE_SCHEMES", "Crossbar", "LineResistance", "Netlist", "build_netlist", "to_spice",
           "to_graph", "TransientCircuit", "build_transient", "transient_to_spice", "PWL", "LineCapacitance", "Pulse"]
