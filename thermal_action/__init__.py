"""thermal-action: SlowFast action recognition on 40x60 thermal recordings, as an MMAction2
plugin.

Importing the package is cheap: the light parts (``tracking``, ``runtime.events``, the
data readers) load no torch and patch nothing. ``register()`` (or importing
``thermal_action.registration``, which the shipped configs' ``custom_imports`` name)
applies the upstream fixes in ``compat`` and registers every dataset, transform, model
part, metric and hook into MMAction2's registries; it also runs on import when MMEngine is
already loaded (a config's ``custom_imports=['thermal_action']``), and the heavy
subpackages (``models``, ``engine``, ...) run it themselves.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.1.0"
SUBPACKAGES = ("compat", "data", "engine", "evaluation", "inference", "models", "runtime",
               "tracking")
__all__ = ["ThermalActionDataset", *SUBPACKAGES, "__version__", "register"]


def register() -> None:
    """Apply the upstream fixes and register everything into MMAction2 (idempotent)."""
    importlib.import_module("thermal_action.registration")


def __getattr__(name: str) -> Any:
    if name == "ThermalActionDataset":  # the seed's import
        register()
        from thermal_action.data.dataset import ThermalActionDataset

        return ThermalActionDataset
    if name in SUBPACKAGES:
        return importlib.import_module(f"thermal_action.{name}")
    raise AttributeError(f"module 'thermal_action' has no attribute {name!r}")


if "mmengine" in sys.modules:
    register()
