"""What the live runtime reports: events (a track starting, an action segment, a fall
alert), as an enum of kinds, and the live tracks a frame shows. Plain types with no
model behind them, so readers of timelines and the scorers import them cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from thermal_action.data.zones import Zones

FRAME_TRACK = 0
"""The pseudo-track of a whole-frame model."""


class EventKind(StrEnum):
    """What an :class:`Event` reports; a ``str`` subclass, so it compares equal to and
    serialises as its value (``"fall_alert"``) in JSON, CSV and the timeline."""

    TRACK_STARTED = "track_started"
    ACTION_STARTED = "action_started"
    ACTION_ENDED = "action_ended"
    FALL_ALERT = "fall_alert"
    TRACK_ENDED = "track_ended"
    SENSOR_ONLINE = "sensor_online"  # serve: a sensor's first frame, or its first after silence
    SENSOR_OFFLINE = "sensor_offline"  # serve: a sensor silent for its offline_after_s


class Event(NamedTuple):
    """Something that happened in the stream (``kind``, an :class:`EventKind`); ``time_ms``:
    when (sensor time); ``start_ms``: when what it closes began (the segment of
    ``action_ended``, the fall of ``fall_alert``); ``confidence``: the smoothed
    probability of ``label`` (0..1; for an ended segment, its mean)."""

    kind: EventKind
    time_ms: int
    track_id: int
    label: str | None = None
    confidence: float | None = None
    start_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The event as plain JSON values (its kind as its string value)."""
        return dict(kind=str(self.kind), time_ms=int(self.time_ms), track_id=int(self.track_id),
                    label=self.label,
                    confidence=None if self.confidence is None else round(float(
                        self.confidence), 4),
                    start_ms=None if self.start_ms is None else int(self.start_ms))


class TrackView(NamedTuple):
    """A live track as the stream sees it now: where (pixels, xyxy), doing what (the
    current segment's class and its smoothed probability; None before the first
    classification) and whether a fall alert is standing."""

    track_id: int
    box_xyxy: tuple[float, float, float, float]
    label: str | None
    confidence: float | None
    alert: bool

    def to_json(self) -> dict[str, Any]:
        return dict(track_id=int(self.track_id),
                    box_xyxy=[round(float(v), 2) for v in self.box_xyxy], label=self.label,
                    confidence=None if self.confidence is None else round(float(
                        self.confidence), 4), alert=bool(self.alert))


@dataclass(frozen=True)
class FrameResult:
    """What one frame of a stream did, as ``ActionStream.stream`` yields it: the frame
    ((H, W) deg C), its sensor time (ms), the live tracks after it and the events it caused;
    ``compute_s``: wall time the stream spent on it (detector, tracker, model). The last
    result of a stream is ``final``: no frame, and the events that close every live
    track."""

    source: str
    index: int  # frame number in the stream, from 0 (the final result: the frame count)
    timestamp_ms: int
    frame_c: np.ndarray | None
    tracks: tuple[TrackView, ...]
    events: tuple[Event, ...]
    compute_s: float = 0.0
    final: bool = False

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON values, without the pixels (one line of a live feed)."""
        return dict(source=self.source, frame=self.index, timestamp_ms=int(self.timestamp_ms),
                    final=self.final, tracks=[track.to_json() for track in self.tracks],
                    events=[event.to_json() for event in self.events])

    def plot(self, zones: Zones | None = None, first_ms: int | None = None) -> np.ndarray:
        """The frame with every track's box, id, action and confidence (red while a fall
        alert stands) as an RGB image (rows, columns, 3) uint8, as the action video draws
        it; the time is shown from ``first_ms`` (default this frame's)."""
        if self.frame_c is None:
            raise ValueError("the final result of a stream has no frame to draw")
        from thermal_action.visualization.timeline import ActionPainter

        painter = ActionPainter(self.frame_c.shape, self.source, zones)
        painter.first_ms = self.timestamp_ms if first_ms is None else first_ms
        return painter.draw(self.frame_c, self.timestamp_ms, self.tracks)
