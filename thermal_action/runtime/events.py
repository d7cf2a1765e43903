"""What the live runtime reports: events (a track starting, an action segment, a fall
alert), as an enum of kinds, and the live tracks a frame shows. Plain types with no
model behind them, so readers of timelines and the scorers import them cheaply."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

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


class TrackView(NamedTuple):
    """A live track as the stream sees it now: where (pixels, xyxy), doing what (the
    current segment's class and its smoothed probability; None before the first
    classification) and whether a fall alert is standing."""

    track_id: int
    box_xyxy: tuple[float, float, float, float]
    label: str | None
    confidence: float | None
    alert: bool
