"""Helpers of the mapping tests: exact (noise- and fault-free) presets, stuck-ON-only faults, ternary weights."""

from __future__ import annotations

import dataclasses

import numpy as np

from xbarsim.devices import FaultModel, Ohmic, ProgrammingError, rram_1t1r_nist
from xbarsim.devices.faults import ConstantConductance
from xbarsim.devices.presets import DevicePreset


def exact_preset(*, linear: bool = True, stuck_rate: float = 0.0, analog: bool = False) -> DevicePreset:
    """The LEA preset without programming error and read noise (faults optional, half ON half OFF);
    ``analog`` drops its two levels so that real-valued weights map without quantization."""
    p = rram_1t1r_nist(stuck_rate=stuck_rate)
    p = dataclasses.replace(p, programming=ProgrammingError(), read_noise=None, levels=None if analog else p.levels)
    return dataclasses.replace(p, device=Ohmic()) if linear else p


def stuck_on_only(rate: float, value: float = 500e-6) -> FaultModel:
    """Only stuck-ON faults, as in the LEA paper's simulations (devices forced to 500 uS)."""
    return FaultModel(stuck_on_rate=rate, stuck_off_rate=0.0, stuck_on_value=ConstantConductance(value=value),
                      stuck_off_value=ConstantConductance(value=10e-6))


def ternary(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Random ternary weights in {-1, 0, 1} with at least one non-zero."""
    w = rng.choice([-1.0, 0.0, 1.0], shape)
    w.flat[0] = 1.0
    return w
