"""Thermal clip transforms: numpy functions (``functional``) and registered wrappers."""

from thermal_action.data.transforms.thermal import (
    LoadThermalWindow,
    NormalizeTemperature,
    RandomThermalAffine,
    RandomThermalFlip,
    RepairInvalidPixels,
    TemperatureJitter,
    ThermalToChannels,
)

__all__ = [
    "LoadThermalWindow",
    "NormalizeTemperature",
    "RandomThermalAffine",
    "RandomThermalFlip",
    "RepairInvalidPixels",
    "TemperatureJitter",
    "ThermalToChannels",
]
