"""Recordings (HDF5 IO), windows, annotations, the dataset, samplers and thermal
transforms. The class list is imported eagerly; the MMAction2 dataset, sampler and
transforms on first use (they register themselves, and need ``thermal_action.register``)."""

from __future__ import annotations

import importlib
from typing import Any

from thermal_action.data.classes import CLASS_NAMES, SAFETY_PRIORITY, ActionClass, clip_label

_LAZY = {"ThermalActionDataset": "dataset", "PersonFrameDataset": "person_frames",
         "ClassBalancedSampler": "samplers", "transforms": None}

__all__ = ["CLASS_NAMES", "SAFETY_PRIORITY", "ActionClass", "clip_label", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'thermal_action.data' has no attribute {name!r}")
    import thermal_action

    thermal_action.register()
    module = importlib.import_module(f"thermal_action.data.{_LAZY[name] or name}")
    return module if _LAZY[name] is None else getattr(module, name)
