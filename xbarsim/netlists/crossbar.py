"""The crossbar: a conductance matrix, its device law and its wires."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from xbarsim._repr import compact_repr
from xbarsim._typing import FloatArray
from xbarsim._validation import as_float_array, readonly
from xbarsim.devices.models import DeviceModel, Ohmic
from xbarsim.devices.presets import DevicePreset
from xbarsim.errors import ConfigError
from xbarsim.netlists.lines import LineResistance

if TYPE_CHECKING:
    from xbarsim._typing import ArrayLike

__all__ = ["Crossbar"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Crossbar:
    """A passive ``M x N`` crossbar array.

    Rows are word lines (inputs), columns are bit lines (outputs). The device of cell ``(i, j)`` sits
    between row node ``(i, j)`` and column node ``(i, j)``; cell voltage is row minus column and cell
    current is positive from the row into the column.

    Attributes
    ----------
    conductance : ndarray, shape (M, N)
        Siemens. Programmed (small-signal, zero-bias) conductance of every cell; ``0`` is an open
        cell (a missing or broken device).
    lines : LineResistance
        Ohm. Wire segments, drivers and sense resistances; stored broadcast to full arrays.
    device : DeviceModel
        The I-V law shared by all cells (default :class:`~xbarsim.devices.Ohmic`).
    """

    __repr__ = compact_repr

    conductance: FloatArray
    lines: LineResistance = field(default_factory=LineResistance)
    device: DeviceModel = field(default_factory=Ohmic)

    def __post_init__(self) -> None:
        g = as_float_array(self.conductance, "conductance", what="non-negative conductance in siemens", min_value=0.0)
        if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
            raise ConfigError(f"`conductance` must be a 2-D array of shape (M, N) with M, N >= 1; got shape {g.shape}.")
        if not isinstance(self.lines, LineResistance):
            raise ConfigError(f"`lines` must be a LineResistance; got {type(self.lines).__name__}.")
        if isinstance(self.device, type) or not isinstance(self.device, DeviceModel):
            what = f"the class {self.device.__name__} (instantiate it)" if isinstance(self.device, type) else type(self.device).__name__
            raise ConfigError(f"`device` must be a DeviceModel instance; got {what}.")
        object.__setattr__(self, "conductance", readonly(g))
        object.__setattr__(self, "lines", self.lines.broadcast(*g.shape))
        _warn_if_ohm(g)

    @classmethod
    def from_preset(
        cls,
        preset: DevicePreset,
        target_g: ArrayLike,
        rng: np.random.Generator,
        lines: LineResistance | None = None,
    ) -> Crossbar:
        """Sample a programmed crossbar from a device preset in one call.

        Parameters
        ----------
        preset : DevicePreset
            E.g. :func:`xbarsim.devices.presets.tio2_passive`.
        target_g : array_like, shape (M, N)
            Siemens, target conductances; clipped and quantized by the preset.
        rng : numpy.random.Generator
            Source of all randomness (programming error, faults); the same seed gives the same chip.
        lines : LineResistance, optional
            Ohm, the wires; default ideal wires.

        Returns
        -------
        Crossbar
            Conductances from :meth:`DevicePreset.sample_conductance` (stuck devices included) and
            the preset's device model. Call ``preset.sample_conductance`` directly to also get the
            fault map.
        """
        if not isinstance(preset, DevicePreset):
            raise ConfigError(f"`preset` must be a DevicePreset; got {type(preset).__name__}.")
        programmed = preset.sample_conductance(target_g, rng)
        return cls(
            conductance=programmed.conductance,
            lines=LineResistance() if lines is None else lines,
            device=preset.device,
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(M, N)``: rows (inputs) by columns (outputs)."""
        return (int(self.conductance.shape[0]), int(self.conductance.shape[1]))

    def ideal_currents(self, v: FloatArray) -> FloatArray:
        """Output currents with ideal wires and ohmic devices: ``v @ G`` (ampere) for row voltages
        ``v`` (volt, shape ``(M,)`` or a batch ``(B, M)``, as :meth:`BiasScheme.read` takes them)."""
        arr = as_float_array(v, "v", what="finite voltage in volt")
        m = self.shape[0]
        if arr.ndim not in (1, 2) or arr.shape[-1] != m:
            raise ConfigError(f"`v` must have shape ({m},) or (B, {m}) (one voltage per row); got shape {arr.shape}.")
        return arr @ self.conductance


#: Conductances outside this range (siemens) are almost certainly resistances in ohm, or a unit slip:
#: memristive devices span about 1e-9 to 1e-2 S; 1 S is a 1 ohm device, 1e-15 S a 1 Pohm one.
PLAUSIBLE_CONDUCTANCE = (1e-15, 1.0)


def _warn_if_ohm(g: FloatArray) -> None:
    """Warn (UserWarning) when a non-zero conductance lies outside :data:`PLAUSIBLE_CONDUCTANCE`."""
    lo, hi = PLAUSIBLE_CONDUCTANCE
    high = g > hi
    low = (g > 0) & (g < lo)
    if high.any() or low.any():
        what = (f"{int(high.sum())} above {hi:g} S (largest {g.max():.3g})" if high.any() else "")
        what += (" and " if high.any() and low.any() else "")
        what += (f"{int(low.sum())} below {lo:g} S but not 0 (smallest {g[g > 0].min():.3g})" if low.any() else "")
        warnings.warn(f"`conductance` has {what} of {g.size} values: conductances are in siemens. If these are "
                      "resistances in ohm, pass 1/R (and 0 for an open cell).", UserWarning, stacklevel=4)
