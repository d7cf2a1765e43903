"""End-to-end scores of the streaming engine on annotated recordings: at every annotated
keyframe, is each annotated person followed by a track (IoU >= 0.3 with its box) whose
current action is the annotated one; and are falls alerted, with how many false alerts
per hour of recording. What detection costs shows beside the same model fed the
annotated boxes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from thermal_action.data.classes import CLASS_NAMES, FALL_RELATED
from thermal_action.data.truth import AnnotatedFrame
from thermal_action.evaluation.detection import box_iou
from thermal_action.runtime.events import Event, EventKind, TrackView

FALL_NAMES = frozenset(CLASS_NAMES[label] for label in FALL_RELATED)
MATCH_IOU = 0.3


class StreamRun(NamedTuple):
    """What the stream did on one recording: the live tracks after each frame, the
    events, and the recording's timestamps (ms)."""

    views: Sequence[Sequence[TrackView]]
    events: Sequence[Event]
    timestamps_ms: Sequence[int]


class EndToEndScores(NamedTuple):
    people: int  # annotated people at the keyframes
    followed: int  # ... matched by a live track
    correct: int  # ... whose track's current action is the annotated one
    falls: int  # fall episodes: a person's run of fall-related keyframes
    falls_alerted: int
    false_alerts: int
    hours: float  # of recording
    alert_delays_s: tuple[float, ...] = ()  # per alerted episode: its start to its alert
    repeat_alerts: int = 0  # alerts on a person down after a fall outside an episode's hits

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.people, 1)

    @property
    def followed_share(self) -> float:
        return self.followed / max(self.people, 1)

    @property
    def fall_recall(self) -> float:
        return self.falls_alerted / self.falls if self.falls else float("nan")

    @property
    def false_alerts_per_hour(self) -> float:
        return self.false_alerts / max(self.hours, 1e-9)


@dataclass
class _Episode:
    """One person's run of consecutive fall-related annotated frames."""

    opens_ms: int | None  # alerts count after this: the annotated frame before the
    # episode (the fall happened since), or None from the recording's start (the person
    # may have fallen before the annotators began)
    start_ms: int
    end_ms: int
    last_frame: int
    tracks: set[int] = field(default_factory=set)  # tracks matched to the person in it


def _matches(frame: AnnotatedFrame, views: Sequence[TrackView]) -> dict[int, TrackView]:
    """Annotated person (row) -> the track matched to them (Hungarian on IoU >= 0.3)."""
    if not len(views) or not len(frame.truth.boxes_xyxy):
        return {}
    ious = box_iou(frame.truth.boxes_xyxy, np.asarray([v.box_xyxy for v in views],
                                                      np.float32))
    rows, cols = linear_sum_assignment(-ious)
    return {int(r): views[c] for r, c in zip(rows, cols, strict=True) if ious[r, c] >= MATCH_IOU}


def _on_fallen_person(alert: Event, run: StreamRun, frames: Sequence[AnnotatedFrame],
                      max_gap_ms: float) -> bool:
    """Whether the alerting track's box at the alert matches (``MATCH_IOU``) a person in a
    fall-related class at the annotated frame nearest the alert (within ``max_gap_ms``)."""
    if not frames:
        return False
    at = int(np.clip(np.searchsorted(run.timestamps_ms, alert.time_ms), 0,
                     len(run.timestamps_ms) - 1))
    box = next((v.box_xyxy for v in run.views[at] if v.track_id == alert.track_id), None)
    nearest = min(frames, key=lambda f: abs(f.timestamp_ms - alert.time_ms))
    if box is None or abs(nearest.timestamp_ms - alert.time_ms) > max_gap_ms:
        return False
    fallen = [row for row, label in enumerate(nearest.truth.classes) if label in FALL_NAMES]
    if not fallen:
        return False
    ious = box_iou(np.asarray([box], np.float32), nearest.truth.boxes_xyxy[fallen])[0]
    return bool(ious.max() >= MATCH_IOU)


def end_to_end_scores(runs: Mapping[str, StreamRun], frames: Sequence[AnnotatedFrame],
                      late_s: float = 15.0, repeat_gap_s: float = 2.0) -> EndToEndScores:
    """Score the stream's ``runs`` (by sensor id) at the annotated ``frames``. A fall
    episode counts as alerted when a track matched to that person during the episode
    raised a fall alert after the recording's annotated frame before the episode (the
    fall happened since; from the recording's start when the episode opens its
    annotations) until ``late_s`` after its end. Its delay runs from the episode's first
    annotated frame to the first such alert (only where an annotated frame precedes the
    episode). Any other alert whose track, when it alerted, covers a person annotated in a
    fall-related class (at the annotated frame nearest it, within ``repeat_gap_s``) is a
    repeat alert: the person is down after a fall, on another track after an identity
    switch or alerted again; every other alert is false."""
    people = followed = correct = 0
    episodes: dict[tuple[str, int], list[_Episode]] = {}  # by (sensor, person)
    previous: AnnotatedFrame | None = None
    for frame in sorted(frames, key=lambda f: (f.sensor_id, f.frame_idx)):
        known = previous is not None and previous.sensor_id == frame.sensor_id
        before = previous.frame_idx if known else None  # the annotated frame before this
        opens = previous.timestamp_ms if known else None
        previous = frame
        run = runs[frame.sensor_id]
        matched = _matches(frame, run.views[frame.frame_idx])
        for row, (label, object_id) in enumerate(zip(frame.truth.classes,
                                                     frame.truth.object_ids, strict=True)):
            people += 1
            view = matched.get(row)
            followed += view is not None
            correct += view is not None and view.label == label
            if label not in FALL_NAMES:
                continue
            runs_of_person = episodes.setdefault((frame.sensor_id, int(object_id)), [])
            if not runs_of_person or runs_of_person[-1].last_frame != before:
                runs_of_person.append(_Episode(opens, frame.timestamp_ms, frame.timestamp_ms,
                                               frame.frame_idx))
            episode = runs_of_person[-1]
            episode.end_ms, episode.last_frame = frame.timestamp_ms, frame.frame_idx
            if view is not None:
                episode.tracks.add(view.track_id)
    used_alerts: set[tuple[str, int, int]] = set()
    falls = alerted = 0
    delays = []
    for (sensor, _), person_episodes in episodes.items():
        alerts = [e for e in runs[sensor].events if e.kind == EventKind.FALL_ALERT]
        for episode in person_episodes:
            falls += 1
            hits = [a for a in alerts if a.track_id in episode.tracks
                    and (episode.opens_ms is None or episode.opens_ms < a.time_ms)
                    and a.time_ms <= episode.end_ms + late_s * 1000]
            alerted += bool(hits)
            if hits and episode.opens_ms is not None:  # a start known to the keyframe spacing
                delays.append((min(a.time_ms for a in hits) - episode.start_ms) / 1000.0)
            used_alerts.update((sensor, a.track_id, a.time_ms) for a in hits)
    by_sensor: dict[str, list[AnnotatedFrame]] = {}
    for frame in frames:
        by_sensor.setdefault(frame.sensor_id, []).append(frame)
    false = repeats = 0
    for sensor, run in runs.items():
        for event in {(e.track_id, e.time_ms): e for e in run.events
                      if e.kind == EventKind.FALL_ALERT}.values():
            if (sensor, event.track_id, event.time_ms) in used_alerts:
                continue
            if _on_fallen_person(event, run, by_sensor.get(sensor, []), repeat_gap_s * 1000):
                repeats += 1
            else:
                false += 1
    hours = sum((run.timestamps_ms[-1] - run.timestamps_ms[0]) / 3.6e6 for run in runs.values())
    return EndToEndScores(people, followed, correct, falls, alerted, false, hours,
                          tuple(delays), repeats)



def near_fall_episodes(runs: Mapping[str, StreamRun], frames: Sequence[AnnotatedFrame],
                       names: frozenset[str]) -> tuple[int, int]:
    """Episodes (a person's run of consecutive annotated frames in one of ``names``, e.g.
    lying down on a bed or sitting on the floor) and how many of them a track matched to
    that person alerted during (an alert there is a false one)."""
    episodes: dict[tuple[str, int], list[_Episode]] = {}
    previous: AnnotatedFrame | None = None
    for frame in sorted(frames, key=lambda f: (f.sensor_id, f.frame_idx)):
        known = previous is not None and previous.sensor_id == frame.sensor_id
        before = previous.frame_idx if known else None
        previous = frame
        matched = _matches(frame, runs[frame.sensor_id].views[frame.frame_idx])
        for row, (label, object_id) in enumerate(zip(frame.truth.classes,
                                                     frame.truth.object_ids, strict=True)):
            if label not in names:
                continue
            person = episodes.setdefault((frame.sensor_id, int(object_id)), [])
            if not person or person[-1].last_frame != before:
                person.append(_Episode(frame.timestamp_ms, frame.timestamp_ms,
                                       frame.timestamp_ms, frame.frame_idx))
            episode = person[-1]
            episode.end_ms, episode.last_frame = frame.timestamp_ms, frame.frame_idx
            if row in matched:
                episode.tracks.add(matched[row].track_id)
    total = alerted = 0
    for (sensor, _), person in episodes.items():
        alerts = [e for e in runs[sensor].events if e.kind == EventKind.FALL_ALERT]
        for episode in person:
            total += 1
            alerted += any(a.track_id in episode.tracks
                           and episode.start_ms <= a.time_ms <= episode.end_ms for a in alerts)
    return total, alerted
