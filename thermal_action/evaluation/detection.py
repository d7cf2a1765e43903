"""Person detection against annotated boxes: average precision, precision / recall / F1,
recall per action class (so lying and fallen people are seen on their own), false
detections on annotated furniture and objects (heat residue apart), and identity switches
of tracks against the annotators' ``object_id``s.

AP is the all-point interpolated area under the precision-recall curve (PASCAL VOC 2010+):
written here because the per-action-class recall and the object false detections that
come with it are not in pycocotools or torchmetrics, and the computation is a dozen lines.
Boxes are pixel edges xyxy.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from thermal_action.data.truth import FrameTruth
from thermal_action.tracking.detections import Detections, box_iou

IOU_THRESHOLDS = (0.5, 0.3)


def match_frame(detections: Detections, truth_xyxy: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """For each detection (in the given order), the index of the truth box it matches or
    -1: detections in descending score each take the best unmatched truth box with IoU at
    least ``iou_threshold``."""
    matched = np.full(len(detections.scores), -1, np.int64)
    if not len(detections.scores) or not len(truth_xyxy):
        return matched
    ious = box_iou(detections.boxes_xyxy, truth_xyxy)
    taken = np.zeros(len(truth_xyxy), bool)
    for det in np.argsort(-detections.scores, kind="stable"):
        candidates = np.where(taken, -1.0, ious[det])
        best = int(candidates.argmax())
        if candidates[best] >= iou_threshold:
            matched[det], taken[best] = best, True
    return matched


def average_precision(scores: np.ndarray, correct: np.ndarray, num_truth: int) -> float:
    """All-point interpolated AP of detections (``scores``, ``correct`` flags) against
    ``num_truth`` truth boxes."""
    if num_truth == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(correct, np.float64)[order]
    true_pos, false_pos = np.cumsum(hits), np.cumsum(1 - hits)
    recall = true_pos / num_truth
    precision = true_pos / np.maximum(true_pos + false_pos, 1e-9)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * envelope))


class DetectionScores(NamedTuple):
    """Detection quality at one IoU threshold (precision/recall/F1 at ``score_threshold``)."""

    iou_threshold: float
    score_threshold: float
    ap: float
    precision: float
    recall: float
    f1: float
    num_truth: int
    num_detections: int  # scoring at least score_threshold
    recall_by_class: dict[str, float]  # action class -> recall at score_threshold
    truth_by_class: dict[str, int]  # action class -> people annotated

    def pooled_recall(self, classes: Sequence[str]) -> float:
        """Recall over all people of ``classes`` together (NaN when there are none)."""
        total = sum(self.truth_by_class.get(name, 0) for name in classes)
        found = sum(self.recall_by_class[name] * self.truth_by_class[name]
                    for name in classes if name in self.truth_by_class)
        return found / total if total else float("nan")


def detection_scores(predictions: Sequence[Detections], truths: Sequence[FrameTruth],
                     iou_threshold: float = 0.5, score_threshold: float = 0.5
                     ) -> DetectionScores:
    """Score per-frame ``predictions`` against the ``truths`` of the same frames."""
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predicted frames for {len(truths)} truths")
    scores, correct = [], []
    found, total = Counter(), Counter()
    for detections, truth in zip(predictions, truths, strict=True):
        matched = match_frame(detections, truth.boxes_xyxy, iou_threshold)
        scores.append(detections.scores)
        correct.append(matched >= 0)
        kept = matched[(matched >= 0) & (detections.scores >= score_threshold)]
        total.update(truth.classes)
        found.update(truth.classes[int(i)] for i in kept)
    scores_all = np.concatenate(scores) if scores else np.zeros(0)
    correct_all = np.concatenate(correct) if correct else np.zeros(0, bool)
    num_truth = sum(total.values())
    kept = scores_all >= score_threshold
    true_pos = int(correct_all[kept].sum())
    precision = true_pos / max(int(kept.sum()), 1)
    recall = true_pos / max(num_truth, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return DetectionScores(
        iou_threshold, score_threshold, average_precision(scores_all, correct_all, num_truth),
        precision, recall, f1, num_truth, int(kept.sum()),
        {name: found[name] / count for name, count in sorted(total.items())},
        dict(sorted(total.items())))


class ObjectFalseDetections(NamedTuple):
    """How often annotated furniture and objects were taken for people."""

    objects: int  # distinct objects (recording, object key), heat residue excluded
    keyframes: int  # object appearances in keyframes
    hits: int  # appearances overlapped by an unmatched detection
    worst_share: float  # the highest share of its keyframes in which one object was hit
    over_5_percent: int  # objects hit in more than 5% of their keyframes
    residue_keyframes: int  # the same for boxes marked as heat residue
    residue_hits: int


def object_false_detections(predictions: Sequence[Detections], truths: Sequence[FrameTruth],
                            recordings: Sequence[str], iou_threshold: float = 0.3,
                            score_threshold: float = 0.5) -> ObjectFalseDetections:
    """Detections scoring at least ``score_threshold`` that match no person (IoU 0.5) but
    overlap an annotated object with IoU at least ``iou_threshold``. ``recordings`` names
    each frame's recording, so that an object is followed across its keyframes."""
    seen, hit = Counter(), Counter()
    residue = [0, 0]
    for detections, truth, recording in zip(predictions, truths, recordings, strict=True):
        strays = detections.boxes_xyxy[(match_frame(detections, truth.boxes_xyxy, 0.5) < 0)
                                       & (detections.scores >= score_threshold)]
        overlapped = (box_iou(truth.objects_xyxy, strays) >= iou_threshold).any(axis=1) \
            if len(strays) else np.zeros(len(truth.objects_xyxy), bool)
        for key, is_residue, was_hit in zip(truth.object_keys, truth.heat_residue, overlapped,
                                            strict=True):
            if is_residue:
                residue[0] += 1
                residue[1] += int(was_hit)
                continue
            seen[recording, key] += 1
            hit[recording, key] += int(was_hit)
    shares = [hit[key] / count for key, count in seen.items()]
    return ObjectFalseDetections(len(seen), sum(seen.values()), sum(hit.values()),
                                 max(shares, default=0.0), sum(s > 0.05 for s in shares),
                                 residue[0], residue[1])


def identity_switches(assignments: Sequence[tuple[str, int, int | None]]) -> dict[str, int]:
    """Per recording, how often an annotated person's track id changed between the
    keyframes where the person was tracked. ``assignments``: (recording, annotated
    object_id, track id or None when untracked), in time order."""
    last: dict[tuple[str, int], int] = {}
    switches: dict[str, int] = defaultdict(int)
    for recording, object_id, track_id in assignments:
        switches.setdefault(recording, 0)
        if track_id is None:
            continue
        previous = last.get((recording, object_id))
        if previous is not None and previous != track_id:
            switches[recording] += 1
        last[recording, object_id] = track_id
    return dict(switches)
