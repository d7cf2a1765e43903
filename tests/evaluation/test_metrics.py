import numpy as np
import pytest
import torch

from thermal_action.evaluation import (
    ClipAccuracyMetric,
    confusion_matrix,
    mean_class_accuracy,
    top_k_accuracy,
)

SCORES = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
LABELS = np.array([0, 0, 1, 1])


def test_top_k():
    assert top_k_accuracy(SCORES, LABELS, 1) == 0.5
    assert top_k_accuracy(SCORES, LABELS, 2) == 1.0


def test_mean_class_ignores_classes_absent_from_ground_truth():
    # class 0 recall 1.0, class 1 recall 0.0; class 2 is only predicted
    assert mean_class_accuracy(SCORES, LABELS) == pytest.approx(0.5)


def test_confusion_rows_are_truth():
    matrix = confusion_matrix(LABELS, SCORES.argmax(1), 3)
    assert matrix.tolist() == [[2, 0, 0], [1, 0, 1], [0, 0, 0]]


def test_metric_over_data_samples():
    metric = ClipAccuracyMetric(topk=(1, 2))
    samples = [
        dict(pred_score=torch.tensor(s), gt_label=torch.tensor([label]))
        for s, label in zip(SCORES, LABELS, strict=True)
    ]
    metric.process({}, samples)
    result = metric.evaluate(len(samples))
    assert result == {"acc/top1": 0.5, "acc/top2": 1.0, "acc/mean_class": 0.5}
    assert metric.last_details["confusion_matrix"][1] == [1, 0, 1]
