"""Multi-object tracking scores (MOTA, IDF1, identity switches) against per-frame ground
truth, with ``motmetrics`` fed IoU distances computed here (its own ``iou_matrix`` calls
``np.asfarray``, which numpy 2 removed; its distance-matrix path works)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import motmetrics
import numpy as np

from thermal_action.evaluation.detection import box_iou
from thermal_action.tracking.tracker import TrackPoint


class TrackingScores(NamedTuple):
    """CLEAR-MOT and identity scores of one or more sequences."""

    mota: float
    idf1: float
    id_switches: int
    num_frames: int
    num_truth: int  # ground-truth boxes over all frames
    misses: int
    false_positives: int


def accumulate(truth_rows: np.ndarray, points_per_frame: Sequence[Sequence[TrackPoint]],
               iou_threshold: float = 0.5) -> motmetrics.MOTAccumulator:
    """One sequence: ``truth_rows`` (M, 8) in ``person_tracks`` column order (frame_idx,
    timestamp_ms, object_id, class_id, x1, y1, x2, y2) against the tracker's points of
    every frame; a pair counts as a match when its IoU is at least ``iou_threshold``."""
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    frame_of = truth_rows[:, 0].astype(np.int64)
    for frame_idx, points in enumerate(points_per_frame):
        truth = truth_rows[frame_of == frame_idx]
        boxes = np.asarray([point.box_xyxy for point in points], np.float64).reshape(-1, 4)
        distance = 1.0 - box_iou(truth[:, 4:8], boxes)
        distance[distance > 1.0 - iou_threshold] = np.nan
        accumulator.update(truth[:, 2].astype(np.int64).tolist(),
                           [point.track_id for point in points], distance)
    return accumulator


def tracking_scores(accumulators: Sequence[motmetrics.MOTAccumulator]) -> TrackingScores:
    """Scores over all sequences together."""
    names = ["mota", "idf1", "num_switches", "num_frames", "num_objects", "num_misses",
             "num_false_positives"]
    summary = motmetrics.metrics.create().compute_many(
        list(accumulators), metrics=names, generate_overall=True,
        names=[str(i) for i in range(len(accumulators))])
    overall = summary.loc["OVERALL"]
    return TrackingScores(float(overall["mota"]), float(overall["idf1"]),
                          int(overall["num_switches"]), int(overall["num_frames"]),
                          int(overall["num_objects"]), int(overall["num_misses"]),
                          int(overall["num_false_positives"]))
