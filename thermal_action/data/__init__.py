"""Recordings (HDF5 IO), windows, annotations, the dataset, samplers and thermal
transforms."""

from thermal_action.data import transforms
from thermal_action.data.classes import CLASS_NAMES, SAFETY_PRIORITY, ActionClass, clip_label
from thermal_action.data.dataset import ThermalActionDataset
from thermal_action.data.person_frames import PersonFrameDataset
from thermal_action.data.samplers import ClassBalancedSampler

__all__ = [
    "CLASS_NAMES",
    "ActionClass",
    "SAFETY_PRIORITY",
    "ClassBalancedSampler",
    "PersonFrameDataset",
    "ThermalActionDataset",
    "clip_label",
    "transforms",
]
