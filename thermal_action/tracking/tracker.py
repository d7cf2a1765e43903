"""Link per-frame detections into tracks with stable integer ids.

Each track is a constant-velocity Kalman filter over the box centre (pixels, pixels per
second) whose time step is the real interval between frames (ms from the timestamps), so
a gap of seconds widens the uncertainty instead of being taken for one frame. Detections
go to tracks by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on the
Mahalanobis distance of the centres, gated at the chi-square 99% bound, in two passes as
ByteTrack does: detections scoring at least ``min_score`` go to every track first (tracks
detected in the frame before ahead of those coasting, as DeepSORT's matching cascade
does, so a warm spot seen now and then cannot take a person walking past it), then
weaker ones (at least ``keep_score``) only to confirmed tracks still unmatched, so a person
the detector is unsure of for a moment keeps their track while a weak warm spot (heat
residue, a noisy frame) can neither start a track nor keep one alive. A track missed
for up to ``max_gap_s`` coasts on its prediction (a short merge, an invalid frame) and
ends after that. A track is confirmed, and given its id, after ``min_hits`` detections.
Library choice in one line: filterpy and motpy were not needed for a 4-state filter, and
scipy's assignment is the one every SORT-style tracker uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from thermal_action.tracking.detections import Detections

CHI2_99_2DOF = 9.21
"""99% bound of the squared Mahalanobis distance for a 2-D position."""


class TrackPoint(NamedTuple):
    """Where one track is in one frame."""

    track_id: int
    frame_idx: int
    timestamp_ms: int
    box_xyxy: tuple[float, float, float, float]  # pixel edges; the prediction when coasting
    score: float  # the detection's score, or 0 when coasting
    detected: bool


class Track(NamedTuple):
    """A confirmed track over its whole life."""

    track_id: int
    start_ms: int
    end_ms: int
    points: list[TrackPoint]


def _inverse_2x2(m: np.ndarray) -> np.ndarray:
    """Closed form: ``np.linalg.inv`` costs ten times more on a 2x2 matrix."""
    return np.array([[m[1, 1], -m[0, 1]], [-m[1, 0], m[0, 0]]]) / (
        m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])


class _Filter:
    """Constant-velocity Kalman filter of a box centre; the box size follows the
    detections with exponential smoothing."""

    def __init__(self, box: np.ndarray, accel_px_s2: float, measurement_px: float) -> None:
        centre, size = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
        self.x = np.array([centre[0], centre[1], 0.0, 0.0])
        self.p = np.diag([measurement_px**2, measurement_px**2, 25.0, 25.0])
        self.size = size.astype(np.float64)
        self.accel2 = accel_px_s2**2
        self.r = np.eye(2) * measurement_px**2

    def predict(self, dt_s: float) -> None:
        f = np.eye(4)
        f[0, 2] = f[1, 3] = dt_s
        g = np.array([[dt_s**2 / 2, 0], [0, dt_s**2 / 2], [dt_s, 0], [0, dt_s]])
        self.x = f @ self.x
        self.p = f @ self.p @ f.T + g @ g.T * self.accel2

    def distance2(self, centres: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances (K,) of detection centres (K, 2)."""
        s = self.p[:2, :2] + self.r
        diff = centres - self.x[:2]
        return np.einsum("ki,ij,kj->k", diff, _inverse_2x2(s), diff)

    def correct(self, box: np.ndarray) -> None:
        centre, size = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
        s = self.p[:2, :2] + self.r
        gain = self.p[:, :2] @ _inverse_2x2(s)
        self.x = self.x + gain @ (centre - self.x[:2])
        self.p = self.p - gain @ self.p[:2]
        self.size = 0.7 * self.size + 0.3 * size

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.box_after(0.0)

    def box_after(self, dt_s: float) -> tuple[float, float, float, float]:
        """The box (xyxy pixels) where the filter expects it ``dt_s`` seconds on; the
        filter itself does not change."""
        cx, cy = self.x[0] + self.x[2] * dt_s, self.x[1] + self.x[3] * dt_s
        half = self.size / 2
        return (float(cx - half[0]), float(cy - half[1]), float(cx + half[0]),
                float(cy + half[1]))


class _Live:
    """A track being followed: its filter, bookkeeping and points so far."""

    def __init__(self, box: np.ndarray, timestamp_ms: int, tracker: Tracker) -> None:
        self.filter = _Filter(box, tracker.accel_px_s2, tracker.measurement_px)
        self.track_id: int | None = None
        self.hits = 1
        self.missed = 0  # frames since the last detection
        self.first_ms = self.last_seen_ms = self.time_ms = timestamp_ms
        self.points: list[TrackPoint] = []
        self.last_detected: TrackPoint | None = None


class Tracker:
    """Online multi-person tracker over ``Detections`` (see the module docstring). Times in
    seconds, distances in pixels; ``min_score`` is the least score that starts a track.
    Without ``keep_points`` (a live stream) it keeps no history: memory stays flat
    however long it runs, and ``finish`` returns no tracks."""

    def __init__(self, max_gap_s: float = 3.0, min_hits: int = 3, min_score: float = 0.5,
                 keep_score: float = 0.25, accel_px_s2: float = 30.0,
                 measurement_px: float = 2.5, tentative_s: float = 1.0,
                 keep_points: bool = True) -> None:
        if max_gap_s <= 0 or min_hits < 1 or accel_px_s2 <= 0 or measurement_px <= 0:
            raise ValueError("max_gap_s, min_hits, accel_px_s2 and measurement_px must be "
                             "positive")
        if not 0 <= keep_score <= min_score:
            raise ValueError(f"keep_score {keep_score} must lie between 0 and min_score "
                             f"{min_score}")
        self.max_gap_s = max_gap_s
        self.min_hits = min_hits
        self.min_score = min_score
        self.keep_score = keep_score
        self.keep_points = keep_points
        self.accel_px_s2 = accel_px_s2
        self.measurement_px = measurement_px
        self.tentative_s = tentative_s
        self.reset()

    def reset(self) -> None:
        self._live: list[_Live] = []
        self._ended: list[Track] = []
        self._next_id = 1

    def update(self, detections: Detections, timestamp_ms: int,
               frame_idx: int = -1) -> list[TrackPoint]:
        """Take one frame's detections; return where every confirmed live track is."""
        for live in self._live:
            live.filter.predict(max(timestamp_ms - live.time_ms, 0) / 1000.0)
            live.time_ms = timestamp_ms
        boxes = np.asarray(detections.boxes_xyxy, np.float64).reshape(-1, 4)
        scores = np.asarray(detections.scores, np.float64).reshape(-1)
        strong = np.flatnonzero(scores >= self.min_score)
        seen_last = [track for track, live in enumerate(self._live) if not live.missed]
        matches = self._assign(boxes, strong, seen_last)
        used = {box for _, box in matches}
        matches += self._assign(boxes, np.array([box for box in strong if box not in used]),
                                [track for track, live in enumerate(self._live) if live.missed])
        taken = {track for track, _ in matches}
        weak = np.flatnonzero((scores >= self.keep_score) & (scores < self.min_score))
        matches += self._assign(boxes, weak, [
            track for track, live in enumerate(self._live)
            if track not in taken and live.track_id is not None])
        matched_tracks = {track for track, _ in matches}
        matched_boxes = {box for _, box in matches}
        for track, live in enumerate(self._live):
            live.missed = 0 if track in matched_tracks else live.missed + 1
        for track, box in matches:
            live = self._live[track]
            live.filter.correct(boxes[box])
            live.hits += 1
            live.last_seen_ms = timestamp_ms
            if live.track_id is None and live.hits >= self.min_hits:
                live.track_id, self._next_id = self._next_id, self._next_id + 1
        for box in strong:
            if box not in matched_boxes:
                matches.append((len(self._live), int(box)))  # a new track's first detection
                self._live.append(_Live(boxes[box], timestamp_ms, self))
                if self.min_hits <= 1:
                    self._live[-1].track_id, self._next_id = self._next_id, self._next_id + 1
        found_box = dict(matches)
        points = []
        for index, live in enumerate(self._live):
            if live.track_id is None:
                continue
            found = found_box.get(index)
            box = live.filter.box if found is None else tuple(map(float, boxes[found]))
            score = 0.0 if found is None else float(detections.scores[found])
            point = TrackPoint(live.track_id, frame_idx, timestamp_ms, box, score,
                               found is not None)
            if self.keep_points or not live.points:
                live.points.append(point)  # without history: the first point only
            if point.detected:
                live.last_detected = point
            points.append(point)
        self._retire(timestamp_ms, matched_tracks)
        return points

    @property
    def settled(self) -> bool:
        """Whether someone is followed and every live track is confirmed: nobody is being
        acquired, so a stream may detect less often."""
        return bool(self._live) and all(live.track_id is not None for live in self._live)

    def predict(self, timestamp_ms: int, frame_idx: int = -1) -> list[TrackPoint]:
        """Where every confirmed live track is expected at ``timestamp_ms``, for a frame
        the detector skipped (a stream that detects every few frames): nothing changes,
        no track is missed, confirmed or ended; the next ``update`` goes on from the last
        one."""
        return [TrackPoint(live.track_id, frame_idx, timestamp_ms,
                           live.filter.box_after(max(timestamp_ms - live.time_ms, 0) / 1000.0),
                           0.0, False)
                for live in self._live if live.track_id is not None]

    def _assign(self, boxes: np.ndarray, candidates: np.ndarray,
                tracks: Sequence[int]) -> list[tuple[int, int]]:
        """(live track index, detection index) pairs within the gate, between the live
        tracks ``tracks`` and the detections ``candidates`` (indices into ``boxes``)."""
        tracks = list(tracks)
        if not tracks or not len(candidates):
            return []
        chosen = boxes[candidates]
        centres = (chosen[:, :2] + chosen[:, 2:]) / 2
        cost = np.stack([self._live[track].filter.distance2(centres) for track in tracks])
        rows, cols = linear_sum_assignment(np.where(cost <= CHI2_99_2DOF, cost, 1e6))
        return [(tracks[r], int(candidates[c])) for r, c in zip(rows, cols, strict=True)
                if cost[r, c] <= CHI2_99_2DOF]

    def _retire(self, timestamp_ms: int, matched: set[int]) -> None:
        """End tracks missed for longer than ``max_gap_s``, and tentative ones not
        confirmed within ``tentative_s``."""
        keep = []
        for live in self._live:
            missed_s = (timestamp_ms - live.last_seen_ms) / 1000.0
            stale = live.track_id is None and (timestamp_ms - live.first_ms) / 1000.0 > \
                self.tentative_s
            if missed_s > self.max_gap_s or stale:
                self._end(live)
            else:
                keep.append(live)
        self._live = keep

    def _end(self, live: _Live) -> None:
        if live.track_id is None or live.last_detected is None:
            return
        while live.points and not live.points[-1].detected:
            live.points.pop()  # a track ends where it was last seen
        first_ms = live.points[0].timestamp_ms if live.points else live.first_ms
        track = Track(live.track_id, first_ms, live.last_detected.timestamp_ms,
                      live.points if self.keep_points else [])
        if self.keep_points:
            self._ended.append(track)

    def finish(self) -> list[Track]:
        """End every live track; all confirmed tracks, by id."""
        for live in self._live:
            self._end(live)
        self._live = []
        return sorted(self._ended, key=lambda track: track.track_id)


def track_detections(tracker: Tracker, detections: Sequence[Detections],
                     timestamps_ms: Sequence[int]) -> tuple[list[list[TrackPoint]], list[Track]]:
    """Run ``tracker`` (from a fresh state) over per-frame detections: the confirmed
    tracks' points per frame, and the tracks."""
    tracker.reset()
    per_frame = [tracker.update(frame, int(timestamp), index) for index, (frame, timestamp)
                 in enumerate(zip(detections, timestamps_ms, strict=True))]
    return per_frame, tracker.finish()
