"""Metrics and reports. The names below load on first use: the metrics register into
MMAction2 and the reports import matplotlib, which the light scorers (``end_to_end``,
``detection``) need neither of."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"ClipAccuracyMetric": "metrics", "confusion_matrix": "metrics",
         "mean_class_accuracy": "metrics", "per_class_recall": "metrics",
         "top_k_accuracy": "metrics", "plot_confusion_matrix": "report",
         "render_recording_gif": "report"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'thermal_action.evaluation' has no attribute {name!r}")
    import thermal_action

    thermal_action.register()
    return getattr(importlib.import_module(f"thermal_action.evaluation.{_LAZY[name]}"), name)
