"""Clip classification metrics: top-k accuracy and mean-class accuracy over the classes
that occur in the ground truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric

from thermal_action.evaluation.detection import (
    FrameTruth,
    detection_scores,
    object_false_detections,
)
from thermal_action.tracking.detections import Detections


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of clips whose true label is among the ``k`` highest scores; (N, C), (N,)."""
    top_k = np.argsort(-scores, axis=1)[:, :k]
    return float((top_k == labels[:, None]).any(axis=1).mean())


def per_class_recall(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 recall of each class; NaN for classes absent from ``labels``."""
    predictions = scores.argmax(axis=1)
    recall = np.full(num_classes, np.nan)
    for cls in np.unique(labels):
        recall[cls] = float((predictions[labels == cls] == cls).mean())
    return recall


def mean_class_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean top-1 recall over the classes present in ``labels``.

    MMAction2's version also averages in classes that are only predicted (as zeros), which
    under heavy class imbalance mixes false positives into the recall average.
    """
    return float(np.nanmean(per_class_recall(scores, labels, scores.shape[1])))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


@METRICS.register_module()
class ClipAccuracyMetric(BaseMetric):
    """Top-k and mean-class accuracy of clip predictions.

    Reports ``acc/top1``, ``acc/top5`` (one key per ``topk``) and ``acc/mean_class``; the
    per-class recalls and confusion matrix stay available as ``last_details``, the scores
    (N, C) and labels (N,) as ``last_scores`` and ``last_labels``.
    """

    default_prefix = "acc"

    def __init__(
        self, topk: Sequence[int] = (1, 5), collect_device: str = "cpu", prefix: str | None = None
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)
        self.last_details: dict = {}
        self.last_scores = np.zeros((0, 0))
        self.last_labels = np.zeros(0, np.int64)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            scores = sample["pred_score"]
            label = sample["gt_label"]
            self.results.append(
                (np.asarray(scores.cpu(), dtype=np.float64), int(label.reshape(-1)[0].item()))
            )

    def compute_metrics(self, results: list) -> dict:
        scores = np.stack([scores for scores, _ in results])
        labels = np.asarray([label for _, label in results], dtype=np.int64)
        metrics = {f"top{k}": top_k_accuracy(scores, labels, k) for k in self.topk}
        metrics["mean_class"] = mean_class_accuracy(scores, labels)
        num_classes = scores.shape[1]
        self.last_scores, self.last_labels = scores, labels
        self.last_details = dict(
            num_clips=len(labels),
            per_class_recall=per_class_recall(scores, labels, num_classes).tolist(),
            confusion_matrix=confusion_matrix(labels, scores.argmax(1), num_classes).tolist(),
        )
        return metrics


@METRICS.register_module()
class PersonDetectionMetric(BaseMetric):
    """Person detection on frames: ``ap50``, ``ap30``, and precision / recall / F1 at IoU
    0.5 and ``score_threshold``; recall per action class and false detections on annotated
    objects stay available as ``last_details``."""

    default_prefix = "det"

    def __init__(self, score_threshold: float = 0.5, collect_device: str = "cpu",
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.score_threshold = score_threshold
        self.last_details: dict = {}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        keys = ("boxes_xyxy", "classes", "objects_xyxy", "object_keys", "heat_residue",
                "sensor_id", "pred_boxes_xyxy", "pred_scores")
        self.results.extend({key: sample[key] for key in keys} for sample in data_samples)

    def compute_metrics(self, results: list) -> dict:
        predictions = [Detections(np.asarray(r["pred_boxes_xyxy"], np.float32).reshape(-1, 4),
                                  np.asarray(r["pred_scores"], np.float32)) for r in results]
        truths = [FrameTruth(np.asarray(r["boxes_xyxy"], np.float32).reshape(-1, 4),
                             list(r["classes"]), np.arange(len(r["classes"])),
                             np.asarray(r["objects_xyxy"], np.float32).reshape(-1, 4),
                             list(r["object_keys"]), np.asarray(r["heat_residue"], bool))
                  for r in results]
        recordings = [r["sensor_id"] for r in results]
        at_50 = detection_scores(predictions, truths, 0.5, self.score_threshold)
        at_30 = detection_scores(predictions, truths, 0.3, self.score_threshold)
        objects = object_false_detections(predictions, truths, recordings,
                                          score_threshold=self.score_threshold)
        self.last_details = dict(num_frames=len(truths), num_people=at_50.num_truth,
                                 recall_by_class=at_50.recall_by_class,
                                 objects=objects._asdict())
        return dict(ap50=at_50.ap, ap30=at_30.ap, precision=at_50.precision,
                    recall=at_50.recall, f1=at_50.f1)
