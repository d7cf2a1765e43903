"""Training, testing and evaluation (runner, hooks, nested selection, the fall stage's
training), ONNX export and the doctor. ``train``, ``test`` and the config lookup
(re-exported from ``thermal_action.config``) load on first use, so the light modules here
(``distributed``) stay cheap to import."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"LoadPretrainedHook": "thermal_action.engine.hooks",
         "TrainResult": "thermal_action.engine.runner", "test": "thermal_action.engine.runner",
         "train": "thermal_action.engine.runner", "list_configs": "thermal_action.config",
         "load_config": "thermal_action.config", "resolve_config": "thermal_action.config"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'thermal_action.engine' has no attribute {name!r}")
    import thermal_action

    thermal_action.register()
    return getattr(importlib.import_module(_LAZY[name]), name)
