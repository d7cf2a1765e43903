"""Run an action stream over a whole source (a recording file, or live frames from a
sensor bridge), frame by frame as a live sensor delivers them, and gather the timeline.
A file and the same frames streamed live go through the same ``push`` calls, so they
give the same events."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from thermal_action.data.live import SkippedLines
from thermal_action.runtime.events import Event, TrackView
from thermal_action.runtime.sinks import Sink
from thermal_action.runtime.streaming import ActionStream
from thermal_action.runtime.timeline import PersonTimeline, build_timeline


@dataclass
class InferResult:
    """What ``run_stream`` saw and made of one source."""

    source: str
    frames: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    events: list[Event] = field(default_factory=list)
    seconds: float = 0.0  # wall time inside the stream (detector, tracker, model)
    skipped: SkippedLines = field(default_factory=SkippedLines)
    frames_c: list[np.ndarray] = field(default_factory=list)  # kept for drawing only
    timestamps_ms: list[int] = field(default_factory=list)
    views: list[list[TrackView]] = field(default_factory=list)

    @property
    def people(self) -> list[PersonTimeline]:
        return build_timeline(self.events)

    @property
    def duration_s(self) -> float:
        return 0.0 if self.first_ms is None else (self.last_ms - self.first_ms) / 1000.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of sensor time processed per second of wall time."""
        return self.duration_s / max(self.seconds, 1e-9)


def run_stream(stream: ActionStream, frames: Iterable[tuple[np.ndarray, int]], source: str,
               keep_frames: int | None = 0, realtime: bool = False,
               on_events: Callable[[list[Event]], None] | None = None,
               on_frame: Callable[[int], None] | None = None,
               skipped: SkippedLines | None = None, keep_pixels: bool = True,
               sinks: Sequence[Sink] = ()) -> InferResult:
    """Run ``stream.stream(frames)`` to the end, each ``FrameResult`` going to every sink
    as it comes (so their files are current while the stream runs), and gather the
    events. ``keep_frames`` keeps the first that many frames (all with None) with their
    time and live tracks, for drawing or scoring, so a long or live source need not hold
    the rest. ``realtime`` waits until each frame's time has come, as a replayed sensor;
    ``on_events`` gets each frame's events as they happen; ``on_frame(count)`` after each
    frame; ``skipped`` counts a live source's bad lines; ``keep_pixels=False`` keeps the
    times and tracks of the kept frames but not the frames themselves. The sinks are the
    caller's to close."""
    result = InferResult(source, skipped=skipped or SkippedLines())
    for frame in stream.stream(frames, source, realtime):
        for sink in sinks:
            sink.write(frame)
        result.events += frame.events
        if frame.events and on_events is not None:
            on_events(list(frame.events))
        if frame.final:
            break
        result.seconds += frame.compute_s
        result.frames += 1
        result.first_ms = frame.timestamp_ms if result.first_ms is None else result.first_ms
        result.last_ms = frame.timestamp_ms
        if keep_frames is None or result.frames <= keep_frames:
            if keep_pixels:
                result.frames_c.append(frame.frame_c)
            result.timestamps_ms.append(frame.timestamp_ms)
            result.views.append(list(frame.tracks))
        if on_frame is not None:
            on_frame(result.frames)
    return result


def stream_settings_document(stream: ActionStream) -> dict:
    """The settings a timeline was made with, for its JSON."""
    detector = stream.detector
    return dict(config=stream.classifier.config, checkpoint=stream.classifier.checkpoint,
                detector=None if detector is None else type(detector).__name__,
                detector_config=getattr(detector, "config", None),
                **stream.settings.__dict__, alert_rule=stream.alert_rule.settings(),
                zones=None if stream.zones is None else len(stream.zones))


def file_frames(path: str | os.PathLike, frame_shape: tuple[int, int]):
    """(recording, iterator of (frame, timestamp ms)) of a recording file in any format
    that ``data build`` reads."""
    from thermal_action.data.tools.sources import read_source

    recording = read_source(path, frame_shape)
    return recording, ((frame, int(stamp)) for frame, stamp in
                       zip(recording.temps_c, recording.timestamps_ms, strict=True))


def build_stream(config: str | os.PathLike, checkpoint: str | os.PathLike,
                 detector: Any = None, alert_rule: Any = None,
                 zones: str | os.PathLike | None = None,
                 frame_shape: tuple[int, int] | None = None,
                 **settings: float) -> ActionStream:
    """An ``ActionStream`` for the action model ``config`` + ``checkpoint`` (.pth or
    .onnx) with the person detector ``detector`` (``tracking.build_detector``: a trained
    one's (config, checkpoint), a ``type=`` dict, or None for the warm blobs);
    ``alert_rule``: ``'persistence'`` (the default, with ``settings``), a fall-stage file
    or a rule (``alert_rules.build_alert_rule``); ``zones``: a zones file for
    frames of ``frame_shape``; ``settings`` are ``StreamSettings`` fields (stride_s,
    detect_every_s, ...). Bad settings are a ``ConfigError``, a bad zones file a
    ``DataError``."""
    from thermal_action.data.sensor import SENSOR_SHAPE
    from thermal_action.errors import ConfigError
    from thermal_action.inference.classifier import ClipClassifier
    from thermal_action.runtime.alert_rules import build_alert_rule
    from thermal_action.runtime.settings import StreamSettings
    from thermal_action.tracking.detections import build_detector

    loaded = None
    if zones is not None:
        from thermal_action.data.zones import load_zones

        loaded = load_zones(zones, frame_shape or SENSOR_SHAPE)
    try:
        chosen = StreamSettings(**settings)
        rule = (chosen.persistence_rule() if alert_rule in (None, "persistence")
                else build_alert_rule(alert_rule))
        classifier = ClipClassifier(config, checkpoint)
        person = classifier.person_centred
        found = build_detector(detector) if person else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return ActionStream(classifier, found, settings=chosen, alert_rule=rule, zones=loaded)
