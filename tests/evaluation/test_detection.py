"""Detection and tracking metrics against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_action.evaluation.detection import (
    FrameTruth,
    average_precision,
    box_iou,
    detection_scores,
    identity_switches,
    match_frame,
    object_false_detections,
)
from thermal_action.evaluation.tracking import accumulate, tracking_scores
from thermal_action.tracking.detections import Detections
from thermal_action.tracking.tracker import TrackPoint


def dets(*rows):
    """Detections from (x1, y1, x2, y2, score) rows."""
    array = np.asarray(rows, np.float32).reshape(-1, 5)
    return Detections(array[:, :4], array[:, 4])


def test_box_iou_by_hand():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]], atol=1e-6)


def test_the_higher_score_takes_the_truth_box():
    truth = np.array([[0, 0, 10, 10]], np.float32)
    matched = match_frame(dets((1, 0, 11, 10, 0.6), (0, 0, 10, 10, 0.9)), truth, 0.5)
    assert matched.tolist() == [-1, 0]


def test_average_precision_by_hand():
    # ranked: hit, miss, hit over 2 truths -> precision 1 at recall 0.5, 2/3 at recall 1
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]), 2) == \
        pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    assert average_precision(np.array([0.9]), np.array([1]), 4) == pytest.approx(0.25)


def test_detection_scores_per_class_and_threshold():
    truths = [
        FrameTruth(np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float32),
                   ["standing", "lying down-lying with risk"], np.array([0, 1])),
        FrameTruth(np.array([[0, 0, 10, 10]], np.float32), ["standing"], np.array([0])),
    ]
    predictions = [dets((0, 0, 10, 10, 0.9), (40, 30, 50, 40, 0.8)), dets((0, 0, 10, 9, 0.4))]
    scores = detection_scores(predictions, truths, 0.5, score_threshold=0.5)
    assert scores.num_truth == 3 and scores.num_detections == 2
    assert scores.precision == pytest.approx(0.5) and scores.recall == pytest.approx(1 / 3)
    assert scores.recall_by_class == {"lying down-lying with risk": 0.0, "standing": 0.5}
    assert scores.truth_by_class == {"lying down-lying with risk": 1, "standing": 2}
    assert scores.pooled_recall(["standing", "lying down-lying with risk"]) == pytest.approx(1 / 3)
    assert np.isnan(scores.pooled_recall(["walking"]))
    # ranked 0.9 hit, 0.8 miss, 0.4 hit: AP = 1/3 * 1 + 1/3 * 2/3
    assert scores.ap == pytest.approx(1 / 3 + 2 / 9)
    with pytest.raises(ValueError):
        detection_scores(predictions[:1], truths)


def test_false_detections_on_objects_and_heat_residue():
    chair, residue = [40, 30, 50, 40], [0, 30, 8, 38]
    truth = FrameTruth(np.array([[0, 0, 10, 10]], np.float32), ["sitting"], np.array([0]),
                       np.array([chair, residue], np.float32), ["chair#4", "bed#5"],
                       np.array([False, True]))
    hit = dets((0, 0, 10, 10, 0.9), (41, 30, 50, 40, 0.7), (0, 30, 8, 38, 0.6))
    miss = dets((0, 0, 10, 10, 0.9))
    result = object_false_detections([hit, miss, miss, miss], [truth] * 4, ["R1"] * 4)
    assert (result.objects, result.keyframes, result.hits) == (1, 4, 1)
    assert result.worst_share == pytest.approx(0.25) and result.over_5_percent == 1
    assert (result.residue_keyframes, result.residue_hits) == (4, 1)


def test_identity_switches_count_changes_only():
    assignments = [("R1", 0, 1), ("R1", 0, None), ("R1", 0, 1), ("R1", 0, 2), ("R1", 1, 3),
                   ("R2", 0, None)]
    assert identity_switches(assignments) == {"R1": 1, "R2": 0}


def _point(track_id, frame_idx, box):
    return TrackPoint(track_id, frame_idx, frame_idx * 100, tuple(map(float, box)), 1.0, True)


def test_tracking_scores_by_hand():
    truth = np.array([[0, 0, 7, 0, 0, 0, 10, 10], [1, 100, 7, 0, 0, 0, 10, 10],
                      [2, 200, 7, 0, 0, 0, 10, 10], [3, 300, 7, 0, 0, 0, 10, 10]], float)
    box = (0, 0, 10, 10)
    points = [[_point(1, 0, box)], [_point(1, 1, box)], [_point(2, 2, box)],
              [_point(2, 3, box), _point(9, 3, (30, 30, 40, 40))]]
    scores = tracking_scores([accumulate(truth, points)])
    # 4 truths: 0 misses, 1 false positive, 1 switch -> MOTA = 1 - 2/4
    assert (scores.num_truth, scores.misses, scores.false_positives, scores.id_switches) == \
        (4, 0, 1, 1)
    assert scores.mota == pytest.approx(0.5)
    assert 0 < scores.idf1 < 1
