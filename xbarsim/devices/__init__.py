"""What one cross point does: I-V models, variability, faults, presets."""

from xbarsim.devices.models import DeviceModel, Ohmic, Sinh

__all__ = ["DeviceModel", "Ohmic", "Sinh"]
