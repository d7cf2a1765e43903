"""What a classifier's held-out scores say, with every definition named: accuracy, two
mean-class accuracies, macro-F1, a per-class table, and fall safety.

Classes "present" are those with at least one true example in the scored set. Precision,
recall and F1 come from the confusion matrix (three lines of arithmetic; scikit-learn is
not a dependency of the stack).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmaction.evaluation.functional import mean_class_accuracy as mmaction_mean_class_accuracy

from thermal_action.data.classes import FALL_RELATED
from thermal_action.evaluation.metrics import confusion_matrix, mean_class_accuracy

FALL_RECALL_TARGET = 0.95


def per_class_table(labels: np.ndarray, predictions: np.ndarray,
                    num_classes: int) -> dict[str, np.ndarray]:
    """Per class: ``precision``, ``recall``, ``f1`` (NaN where undefined: no prediction of
    the class, no true example, or both zero) and ``support`` (true examples)."""
    matrix = confusion_matrix(labels, predictions, num_classes).astype(np.float64)
    hits, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(support + predicted > 0, 2 * hits / (support + predicted), np.nan)
    return dict(precision=precision, recall=recall, f1=f1, support=support.astype(np.int64))


def macro_f1(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> float:
    """Mean F1 over the classes that are true or predicted at least once (a class only
    predicted counts as F1 0; a class neither true nor predicted is left out)."""
    return float(np.nanmean(per_class_table(labels, predictions, num_classes)["f1"]))


def classification_scores(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``top1``; ``mean_class_present``: mean recall over the classes present;
    ``mean_class_mmaction``: MMAction2's ``mean_class_accuracy``, which also averages in
    the classes only predicted, as zeros; ``macro_f1``. ``scores`` (N, C), ``labels`` (N,)."""
    predictions = scores.argmax(axis=1)
    return dict(
        top1=float((predictions == labels).mean()),
        mean_class_present=mean_class_accuracy(scores, labels),
        mean_class_mmaction=float(mmaction_mean_class_accuracy(list(scores), list(labels))),
        macro_f1=macro_f1(labels, predictions, scores.shape[1]),
    )


def fall_scores(scores: np.ndarray) -> np.ndarray:
    """Probability of the fall-related classes (their summed class probabilities) (N,)."""
    return scores[:, list(FALL_RELATED)].sum(axis=1)


def fall_safety(scores: np.ndarray, labels: np.ndarray, hours: float,
                recall_target: float = FALL_RECALL_TARGET) -> dict[str, float | int | None]:
    """Fall-related classes against all others, as a fall detector would use the model.

    At the arg-max decision (a person is called fallen when the arg-max class is
    fall-related): ``recall``, ``precision`` (None when nothing was called fallen) and
    ``false_alarms_per_hour`` (people called fallen who were not, per hour of the scored
    recordings). ``threshold``: the highest threshold on the fall probability
    (``fall_scores``) whose recall reaches ``recall_target``, with ``precision_at_threshold``
    and ``false_alarms_per_hour_at_threshold`` there. ``falls``: fall-related people.
    Recalls are None when no person fell."""
    is_fall = np.isin(labels, list(FALL_RELATED))
    called = np.isin(scores.argmax(axis=1), list(FALL_RELATED))
    falls = int(is_fall.sum())
    result: dict[str, float | int | None] = dict(
        falls=falls,
        recall=float(called[is_fall].mean()) if falls else None,
        precision=float(is_fall[called].mean()) if called.any() else None,
        false_alarms_per_hour=float((called & ~is_fall).sum() / hours) if hours > 0 else None,
        threshold=None, precision_at_threshold=None, false_alarms_per_hour_at_threshold=None)
    if not falls:
        return result
    probability = fall_scores(scores)
    # The k-th highest fall probability among the falls is the highest threshold that
    # keeps k of them; k is the fewest falls that reach the target recall.
    needed = int(np.ceil(recall_target * falls - 1e-9))
    threshold = float(np.sort(probability[is_fall])[::-1][max(needed, 1) - 1])
    alarms = probability >= threshold
    result.update(threshold=threshold, precision_at_threshold=float(is_fall[alarms].mean()),
                  false_alarms_per_hour_at_threshold=float((alarms & ~is_fall).sum() / hours)
                  if hours > 0 else None)
    return result


def mean_and_std(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """Mean and (population) standard deviation of the defined values, and their count."""
    defined = [float(v) for v in values if v is not None and v == v]
    if not defined:
        return None, None, 0
    return float(np.mean(defined)), float(np.std(defined)), len(defined)
