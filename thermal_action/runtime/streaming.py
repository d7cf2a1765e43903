"""From frames arriving one at a time to events: who is there, what they do, who fell.

``ActionStream.push(frame_c, timestamp_ms)`` takes one (H, W) deg C frame as a live
sensor delivers it and returns the events it caused. Inside: a person detector and the
tracker follow people (once everyone followed is confirmed, the detector runs every
``detect_every_s`` of sensor time, 0.3 s by default, the tracker's constant-velocity
prediction placing people in the frames between: on a 2-core CPU the detector would
otherwise cost as much as classifying three people; while nobody is followed or a new
track awaits confirmation, it runs on every frame); a ring of the last ``window_frames``
frames (shared by every track) and each track's recent boxes make the clip a
person-centred model classifies, every ``stride_s`` seconds of sensor time per track;
the per-track class probabilities are averaged over time (exponentially,
``smoothing_s``); the arg-max class makes action segments; each classification, with the
track's box and heat (``Observation``), goes to the alert rule (``runtime.alert_rules``:
by default the fall-related classes holding ``fall_share`` of the smoothed probability
for ``alert_after_s``; or the learned fall stage), which raises fall alerts
(``replay_alerts`` applies other rules to recorded observations). A whole-frame model
classifies the frame as one pseudo-track (id 0) and needs no detector. Memory is
bounded whatever the length of the stream: the ring, one box per recent frame per live
track, and the alert rule's recent observations.

Times are sensor times (ms, from the timestamps), never frame counts, so irregular frame
rates and gaps of seconds behave the same; the model itself sees the last
``window_frames`` frames as it was trained to. An action is dated at the frame of the
window the model was trained to label (its centre; its newest frame for a causal model,
``anchor='end'``), an alert at the frame that raised it, so the latency from the fall to
its alert is visible.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.sensor import invalid_mask
from thermal_action.runtime.alert_rules import (
    Alert,
    AlertRule,
    Observation,
    TrackWatch,
    smooth,
)
from thermal_action.runtime.alert_rules import replay_alerts as replay
from thermal_action.runtime.events import FRAME_TRACK, Event, EventKind, FrameResult, TrackView
from thermal_action.runtime.settings import StreamSettings
from thermal_action.tracking.detections import Detections, Detector, detect_across
from thermal_action.tracking.tracker import Tracker, TrackPoint

if TYPE_CHECKING:
    from thermal_action.data.zones import Zones
    from thermal_action.inference.classifier import ClipClassifier

Classified = Observation
"""What the stream records of each classification (``ActionStream.on_classified``)."""


def replay_alerts(classified: Iterable[Observation],
                  rule: AlertRule | StreamSettings) -> list[Event]:
    """The fall-alert events a stream with ``rule`` (or the persistence rule of
    ``settings``) raises from the same classifications (recorded with
    ``ActionStream.on_classified``): a sweep over the alert rule needs the model once."""
    if isinstance(rule, StreamSettings):
        rule = rule.persistence_rule()
    return [alert_event(alert) for alert in replay(classified, rule)]


def alert_event(alert: Alert) -> Event:
    return Event(EventKind.FALL_ALERT, alert.time_ms, alert.track_id, "fall-related",
                 alert.confidence, alert.start_ms)


@dataclass
class PendingFrame:
    """A frame ``ActionStream.begin`` has followed and ``finish`` will complete: its events
    so far, the due tracks and the model inputs they need (one window per person, their
    boxes and recent track)."""

    stream: ActionStream
    timestamp_ms: int
    events: list[Event]
    due: list[int]
    windows: list[np.ndarray] = field(default_factory=list)
    people: list = field(default_factory=list)
    tracks: list[np.ndarray] = field(default_factory=list)
    boxes: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)
    now_boxes: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)
    key_ms: int = 0
    key_frame: np.ndarray | None = None
    now_frame: np.ndarray | None = None


def classify_pending(pending: Sequence[PendingFrame], classifier: ClipClassifier
                     ) -> list[list]:
    """Every due person of several pending frames (of any streams sharing ``classifier``)
    in one model batch; the predictions split back per frame, in order."""
    windows = [window for item in pending for window in item.windows]
    if not windows:
        return [[] for _ in pending]
    person = classifier.person_centred
    predictions = classifier.predict_windows(
        windows, [p for item in pending for p in item.people] if person else None,
        tracks=[t for item in pending for t in item.tracks] if person else None)
    split, start = [], 0
    for item in pending:
        split.append(predictions[start:start + len(item.windows)])
        start += len(item.windows)
    return split


def begin_all(frames: Sequence[tuple[ActionStream, np.ndarray, int]]) -> list[PendingFrame]:
    """``begin`` for one (stream, frame (H, W) deg C, timestamp ms) of each of several
    streams (a server's sensors), the person detection due in them run as one model pass
    per shared detector model (``detect_across``); the same pending frames as calling
    ``begin`` on each. A frame that cannot follow its stream raises before any work."""
    if len({id(stream) for stream, _, _ in frames}) < len(frames):
        raise ValueError("begin_all takes one frame per stream")
    checked = [stream.check(frame, stamp) for stream, frame, stamp in frames]
    due = [i for i, (stream, _, stamp) in enumerate(frames) if stream.detection_due(stamp)]
    found = detect_across([frames[i][0].detector for i in due], [checked[i] for i in due],
                          [int(frames[i][2]) for i in due])
    given = dict(zip(due, found, strict=True))
    return [stream.begin(checked[i], stamp, given.get(i))
            for i, (stream, _, stamp) in enumerate(frames)]


@dataclass
class _TrackState:
    """What the stream keeps about one live track."""

    started_ms: int
    boxes: deque  # (frame number, box xyxy) of its recent frames
    due_ms: int
    seen_ms: int  # when the detector last saw it
    watch: TrackWatch  # the alert rule's state
    scores: np.ndarray | None = None  # smoothed class probabilities (for the segments)
    scored_ms: int | None = None
    label: int | None = None  # the current segment's class
    segment_ms: int = 0
    segment_confidence: list[float] = field(default_factory=list)


class ActionStream:
    """See the module docstring. ``classifier``: a ``ClipClassifier`` (PyTorch or ONNX);
    ``detector`` and ``tracker``: needed by a person-centred model only; ``alert_rule``:
    when a track's classifications are a fall alert (default the persistence rule of
    ``settings``); ``zones``: the sensor's beds, couches, ... (``data.zones``), whose
    share of each box the alert rule sees."""

    def __init__(self, classifier: ClipClassifier, detector: Detector | None = None,
                 tracker: Tracker | None = None,
                 settings: StreamSettings | None = None,
                 alert_rule: AlertRule | None = None, zones: Zones | None = None) -> None:
        if classifier.person_centred and detector is None:
            raise ValueError("this model classifies people: give a person detector")
        self.classifier = classifier
        self.detector = detector if classifier.person_centred else None
        self.settings = settings = settings or StreamSettings()
        self.alert_rule = alert_rule or settings.persistence_rule()
        self.zones = zones
        self.tracker = tracker or Tracker(keep_points=False)
        self.window_frames = classifier.window_frames
        self.on_classified: Callable[[Classified], None] | None = None  # e.g. to record
        self.reset()

    def reset(self) -> None:
        self._ring: deque = deque(maxlen=self.window_frames)  # (frame number, ms, frame)
        self._tracks: dict[int, _TrackState] = {}
        self._frames = 0
        self._last_ms: int | None = None
        self._origin_ms = 0
        self._detect_ms = -np.inf  # the next time the detector runs
        if self.detector is not None:
            self.detector.reset()
        self.tracker.reset()

    def push(self, frame_c: np.ndarray, timestamp_ms: int) -> list[Event]:
        """Take the next frame (H, W) deg C (-273.2 or non-finite: no reading) captured at
        ``timestamp_ms``; return the events it caused, in time order. Frames must come in
        increasing time."""
        pending = self.begin(frame_c, timestamp_ms)
        return self.finish(pending, classify_pending([pending], self.classifier)[0])

    def check(self, frame_c: np.ndarray, timestamp_ms: int) -> np.ndarray:
        """The frame as float32 (H, W), or ``ValueError`` when it cannot be the stream's
        next one (not 2-D, or not later than the last frame)."""
        frame = np.asarray(frame_c, np.float32)
        if frame.ndim != 2:
            raise ValueError(f"a frame must be (H, W) deg C, got shape {frame.shape}")
        if self._last_ms is not None and int(timestamp_ms) <= self._last_ms:
            raise ValueError(f"timestamp {int(timestamp_ms)} ms does not follow "
                             f"{self._last_ms} ms")
        return frame

    def detection_due(self, timestamp_ms: int) -> bool:
        """Whether the person detector runs on a frame at ``timestamp_ms`` (every
        ``detect_every_s``, and on every frame while a track is unconfirmed)."""
        return self.detector is not None and (
            int(timestamp_ms) >= self._detect_ms or not self.tracker.settled)

    def begin(self, frame_c: np.ndarray, timestamp_ms: int,
              detections: Detections | None = None) -> PendingFrame:
        """The first half of ``push``: follow the people in the frame and say who is due
        for classification. Several streams' pending frames go to one model batch
        (``classify_pending``), then each ``finish``es its own. ``detections``: this
        frame's people found by this stream's detector elsewhere (``begin_all`` batches
        the detection of several streams); None runs the detector here when due."""
        frame = self.check(frame_c, timestamp_ms)
        timestamp_ms = int(timestamp_ms)
        if self._last_ms is None:
            self._origin_ms = timestamp_ms
        self._last_ms = timestamp_ms
        number = self._frames
        self._frames += 1
        self._ring.append((number, timestamp_ms, frame))
        events: list[Event] = []
        live = self._follow(frame, timestamp_ms, number, events, detections)
        due = [track for track in live if self._tracks[track].due_ms <= timestamp_ms]
        pending = PendingFrame(self, timestamp_ms, events, due)
        if due:
            self._requests(pending)
        return pending

    def finish(self, pending: PendingFrame, predictions: Sequence) -> list[Event]:
        """The second half of ``push``: the classifications of the pending frame's due
        people update their actions and alerts; the frame's events."""
        if pending.stream is not self:
            raise ValueError("a pending frame finishes in the stream that began it")
        if pending.due:
            self._apply(pending, predictions)
        return pending.events

    def stream(self, frames: Iterable[tuple[np.ndarray, int]], source: str = "stream",
               realtime: bool = False) -> Iterator[FrameResult]:
        """Push every (frame (H, W) deg C, timestamp ms) of ``frames`` from a fresh state and
        yield a ``FrameResult`` per frame as it is processed, then a final one with the
        events that close every track. ``realtime`` waits until each frame's time has come
        (a file replayed as a live sensor). A live source is consumed as it arrives: the
        generator holds no frame beyond the stream's own window."""
        self.reset()
        count, last_ms, first_ms, wall_start = 0, 0, None, time.monotonic()
        for frame, stamp in frames:
            if realtime and first_ms is not None:
                delay = (stamp - first_ms) / 1000.0 - (time.monotonic() - wall_start)
                if delay > 0:
                    time.sleep(delay)
            began = time.perf_counter()
            events = self.push(frame, stamp)
            spent = time.perf_counter() - began
            first_ms = stamp if first_ms is None else first_ms
            last_ms = int(stamp)
            yield FrameResult(source, count, last_ms, self._ring[-1][2],
                              tuple(self.live_tracks()), tuple(events), spent)
            count += 1
        yield FrameResult(source, count, last_ms, None, (), tuple(self.flush()), final=True)

    def live_tracks(self) -> list[TrackView]:
        """Every live track after the last ``push`` (for drawing)."""
        views = []
        for track, state in self._tracks.items():
            scores = state.scores
            label = None if state.label is None else CLASS_NAMES[state.label]
            confidence = None if scores is None else float(scores[state.label])
            views.append(TrackView(track, tuple(state.boxes[-1][1]), label, confidence,
                                   state.watch.alerted))
        return views

    def flush(self) -> list[Event]:
        """End the stream: close every live track's segment and the track itself."""
        events: list[Event] = []
        for track in list(self._tracks):
            self._end_track(track, self._tracks[track].seen_ms, events)
        self.reset()
        return events

    def _follow(self, frame: np.ndarray, timestamp_ms: int, number: int,
                events: list[Event], detections: Detections | None = None) -> list[int]:
        """Update the people (or the frame's pseudo-track); the live track ids."""
        if self.detector is None:
            points = [TrackPoint(FRAME_TRACK, number, timestamp_ms,
                                 (0.0, 0.0, float(frame.shape[1]), float(frame.shape[0])),
                                 1.0, True)]
        elif self.detection_due(timestamp_ms):
            if detections is None:
                detections = self.detector.update(frame, timestamp_ms)
            points = self.tracker.update(detections, timestamp_ms, number)
            self._detect_ms = self._next_grid(timestamp_ms, self.settings.detect_every_s)
        else:
            points = self.tracker.predict(timestamp_ms, number)
        seen = {point.track_id for point in points}
        for track in [track for track in self._tracks if track not in seen]:
            self._end_track(track, self._tracks[track].seen_ms, events)
        for point in points:
            state = self._tracks.get(point.track_id)
            if state is None:
                state = self._tracks[point.track_id] = _TrackState(
                    timestamp_ms, deque(maxlen=self.window_frames),
                    self._next_grid(timestamp_ms + self.settings.stride_s * 1000 - 1),
                    timestamp_ms, self.alert_rule.watch())
                events.append(Event(EventKind.TRACK_STARTED, timestamp_ms, point.track_id))
            state.boxes.append((number, point.box_xyxy))
            if point.detected:
                state.seen_ms = timestamp_ms
        return [point.track_id for point in points]

    def _next_grid(self, timestamp_ms: float, step_s: float | None = None) -> int:
        """The first point after ``timestamp_ms`` of the stream's grid of ``step_s``
        (default the stride) from its first frame: every track is classified on the same
        grid, so the people due at a frame go to the model in one batch; the detector
        runs on its own grid, so its rate holds on average whatever the frame times."""
        step_ms = (self.settings.stride_s if step_s is None else step_s) * 1000
        if step_ms == 0:
            return int(timestamp_ms) + 1
        return int(self._origin_ms + (np.floor((timestamp_ms - self._origin_ms) / step_ms)
                                      + 1) * step_ms)

    def _window(self) -> tuple[np.ndarray, int]:
        """The ring as a (window_frames, H, W) clip, its first frame repeated when the
        stream is shorter than a window; and the frame number of its first entry."""
        frames = [entry[2] for entry in self._ring]
        pad = self.window_frames - len(frames)
        return np.stack([frames[0]] * pad + frames), self._ring[0][0] - pad

    def _requests(self, pending: PendingFrame) -> None:
        """What the model must classify for the due people of a pending frame."""
        window, first = self._window()
        key = self.classifier.keyframe_position  # the centre, or the newest frame (causal)
        key_entry = self._ring[max(0, key - (self.window_frames - len(self._ring)))]
        pending.key_ms, pending.key_frame = key_entry[1], key_entry[2]
        pending.now_frame = self._ring[-1][2]
        for track in pending.due:
            known = np.array([[n - first, *box] for n, box in self._tracks[track].boxes],
                             np.float32)
            pending.boxes[track] = tuple(
                float(v) for v in known[np.argmin(np.abs(known[:, 0] - key)), 1:])
            pending.now_boxes[track] = tuple(float(v) for v in known[-1, 1:])
            pending.windows.append(window)
            if self.classifier.person_centred:
                pending.people.append((track, pending.boxes[track]))
                pending.tracks.append(known)

    def _apply(self, pending: PendingFrame, predictions: Sequence) -> None:
        timestamp_ms, key_ms, key_frame = pending.timestamp_ms, pending.key_ms, \
            pending.key_frame
        background = room_background_c(key_frame)
        now_background = (background if pending.now_frame is key_frame
                          else room_background_c(pending.now_frame))
        watches, observations = [], []
        for track, prediction in zip(pending.due, predictions, strict=True):
            state = self._tracks[track]
            box = pending.boxes[track]
            state.due_ms = self._next_grid(timestamp_ms)
            dated_ms = max(key_ms, state.started_ms)  # not before the person was there
            scores = np.asarray(prediction.scores, np.float64)
            peak, mean = box_excess_c(key_frame, box, background)
            rest = 0.0 if self.zones is None else self.zones.share_in(box)
            now_box = pending.now_boxes[track]
            now_peak = box_excess_c(pending.now_frame, now_box, now_background)[0]
            observation = Observation(track, scores, dated_ms, timestamp_ms, box,
                                      background, peak, mean, rest, now_box, now_peak)
            if self.on_classified is not None:
                self.on_classified(observation)
            elapsed_s = (dated_ms - (state.scored_ms or dated_ms)) / 1000.0
            state.scores = smooth(state.scores, scores, elapsed_s, self.settings.smoothing_s)
            state.scored_ms = dated_ms
            self._segments(track, state, dated_ms, pending.events)
            watches.append(state.watch)
            observations.append(observation)
        for alert in self.alert_rule.update_all(watches, observations):
            if alert is not None:
                pending.events.append(alert_event(alert))

    def _segments(self, track: int, state: _TrackState, dated_ms: int,
                  events: list[Event]) -> None:
        label = int(np.argmax(state.scores))
        confidence = float(state.scores[label])
        if label != state.label:
            if state.label is not None:
                events.append(self._segment_end(track, state, dated_ms))
            state.label, state.segment_ms, state.segment_confidence = label, dated_ms, []
            events.append(Event(EventKind.ACTION_STARTED, dated_ms, track, CLASS_NAMES[label],
                                confidence))
        state.segment_confidence.append(confidence)

    @staticmethod
    def _segment_end(track: int, state: _TrackState, time_ms: int) -> Event:
        return Event(EventKind.ACTION_ENDED, max(time_ms, state.segment_ms), track,
                     CLASS_NAMES[state.label],
                     float(np.mean(state.segment_confidence)), state.segment_ms)

    def _end_track(self, track: int, time_ms: int, events: list[Event]) -> None:
        state = self._tracks.pop(track)
        if state.label is not None:
            events.append(self._segment_end(track, state, time_ms))
        events.append(Event(EventKind.TRACK_ENDED, time_ms, track))


def room_background_c(frame_c: np.ndarray) -> float:
    """The room's temperature in a frame (deg C): the median of its valid pixels (people
    cover a small part of a ceiling sensor's view); 0 when none is valid."""
    valid = frame_c[~invalid_mask(frame_c)]
    return float(np.median(valid)) if valid.size else 0.0


def box_excess_c(frame_c: np.ndarray, box_xyxy: tuple[float, float, float, float],
                 background_c: float) -> tuple[float, float]:
    """The hottest and the mean valid pixel of a box (pixels, xyxy) above
    ``background_c`` (deg C); (0, 0) for a box without valid pixels."""
    height, width = frame_c.shape
    x1, y1 = max(int(np.floor(box_xyxy[0])), 0), max(int(np.floor(box_xyxy[1])), 0)
    x2 = min(max(int(np.ceil(box_xyxy[2])), x1 + 1), width)
    y2 = min(max(int(np.ceil(box_xyxy[3])), y1 + 1), height)
    inside = frame_c[y1:y2, x1:x2]
    valid = inside[~invalid_mask(inside)]
    if not valid.size:
        return 0.0, 0.0
    return float(valid.max() - background_c), float(valid.mean() - background_c)
