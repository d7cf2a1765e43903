"""Thermal clip transforms: numpy functions (``functional``) and registered wrappers."""

from thermal_action.data.transforms.cache import CachedSteps
from thermal_action.data.transforms.thermal import (
    CropAroundPerson,
    LoadThermalWindow,
    NormalizeTemperature,
    RandomTemporalCrop,
    RandomThermalAffine,
    RandomThermalFlip,
    RepairInvalidPixels,
    TemperatureJitter,
    ThermalToChannels,
)

__all__ = [
    "CachedSteps",
    "CropAroundPerson",
    "LoadThermalWindow",
    "NormalizeTemperature",
    "RandomThermalAffine",
    "RandomTemporalCrop",
    "RandomThermalFlip",
    "RepairInvalidPixels",
    "TemperatureJitter",
    "ThermalToChannels",
]
