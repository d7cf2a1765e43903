"""Metric definitions against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_action.data.classes import ActionClass
from thermal_action.evaluation.classification import (
    classification_scores,
    fall_safety,
    mean_and_std,
    per_class_table,
)

NUM_CLASSES = 14
STANDING, WALKING, LYING_RISK, SITTING = (int(ActionClass.STANDING), int(ActionClass.WALKING),
                                          int(ActionClass.LYING_RISK), int(ActionClass.SITTING))
FALLING = int(ActionClass.TRANSITION_RISK)


def one_hot(predictions: list[int], confidence: float = 0.9) -> np.ndarray:
    scores = np.full((len(predictions), NUM_CLASSES), (1 - confidence) / (NUM_CLASSES - 1))
    scores[np.arange(len(predictions)), predictions] = confidence
    return scores


def test_mean_class_accuracy_has_two_definitions_that_differ_on_predicted_only_classes():
    labels = np.array([STANDING, STANDING, STANDING, WALKING])
    # standing 2/3 right, walking 0/1 (called sitting, a class absent from the truth)
    scores = one_hot([STANDING, STANDING, WALKING, SITTING])
    result = classification_scores(scores, labels)
    assert result["top1"] == pytest.approx(0.5)
    assert result["mean_class_present"] == pytest.approx((2 / 3 + 0) / 2)
    # MMAction2 averages over standing, walking and sitting (predicted only, counted as 0)
    assert result["mean_class_mmaction"] == pytest.approx((2 / 3 + 0 + 0) / 3)
    # F1: standing 2*2/(3+2)=0.8, walking 0 (1 true, 1 predicted, no hit), sitting 0
    assert result["macro_f1"] == pytest.approx(0.8 / 3)


def test_per_class_table_leaves_absent_classes_undefined():
    labels = np.array([STANDING, STANDING, WALKING])
    predictions = np.array([STANDING, WALKING, WALKING])
    table = per_class_table(labels, predictions, NUM_CLASSES)
    assert table["support"][STANDING] == 2 and table["support"][WALKING] == 1
    assert table["precision"][STANDING] == 1.0 and table["recall"][STANDING] == 0.5
    assert table["precision"][WALKING] == 0.5 and table["recall"][WALKING] == 1.0
    assert table["f1"][WALKING] == pytest.approx(2 / 3)
    assert np.isnan(table["precision"][SITTING]) and np.isnan(table["recall"][SITTING])
    assert np.isnan(table["f1"][SITTING]) and table["support"][SITTING] == 0


def test_fall_safety_at_the_arg_max_and_at_the_threshold_for_95_percent_recall():
    labels = np.array([LYING_RISK] * 4 + [FALLING] * 1 + [STANDING] * 5)
    scores = one_hot([LYING_RISK, LYING_RISK, LYING_RISK, STANDING, FALLING,
                      STANDING, STANDING, STANDING, LYING_RISK, STANDING])
    # the missed fall (called standing) still has some fall probability; one standing
    # person has more of it than the missed fall
    scores[3, LYING_RISK] = 0.3
    scores[5, LYING_RISK] = 0.35
    scores /= scores.sum(axis=1, keepdims=True)
    result = fall_safety(scores, labels, hours=0.5)
    assert result["falls"] == 5
    assert result["recall"] == pytest.approx(4 / 5)
    assert result["precision"] == pytest.approx(4 / 5)
    assert result["false_alarms_per_hour"] == pytest.approx(1 / 0.5)
    # 95% of 5 falls needs all 5: the threshold is the missed fall's probability, which
    # also lets in the standing person scored higher (and the one called lying)
    fall_probability = scores[:, [LYING_RISK, FALLING]].sum(axis=1)
    assert result["threshold"] == pytest.approx(fall_probability[3])
    assert result["precision_at_threshold"] == pytest.approx(5 / 7)
    assert result["false_alarms_per_hour_at_threshold"] == pytest.approx(2 / 0.5)


def test_fall_safety_without_falls_or_fall_calls():
    result = fall_safety(one_hot([STANDING, WALKING]), np.array([STANDING, WALKING]), hours=1.0)
    assert result["falls"] == 0 and result["recall"] is None and result["threshold"] is None
    assert result["precision"] is None and result["false_alarms_per_hour"] == 0.0


def test_mean_and_std_ignore_undefined_values():
    assert mean_and_std([0.2, None, 0.4, float("nan")]) == (pytest.approx(0.3),
                                                            pytest.approx(0.1), 2)
    assert mean_and_std([None]) == (None, None, 0)
