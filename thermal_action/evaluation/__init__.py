"""Metrics and reports."""

from thermal_action.evaluation.metrics import (
    ClipAccuracyMetric,
    confusion_matrix,
    mean_class_accuracy,
    per_class_recall,
    top_k_accuracy,
)
from thermal_action.evaluation.report import plot_confusion_matrix, render_recording_gif

__all__ = [
    "ClipAccuracyMetric",
    "confusion_matrix",
    "mean_class_accuracy",
    "per_class_recall",
    "plot_confusion_matrix",
    "render_recording_gif",
    "top_k_accuracy",
]
