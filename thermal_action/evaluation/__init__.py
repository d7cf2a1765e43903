"""Metrics and reports."""

from thermal_action.evaluation.metrics import (
    ClipAccuracyMetric,
    confusion_matrix,
    mean_class_accuracy,
    per_class_recall,
    top_k_accuracy,
)

__all__ = [
    "ClipAccuracyMetric",
    "confusion_matrix",
    "mean_class_accuracy",
    "per_class_recall",
    "top_k_accuracy",
]
