"""Find and follow the people of one recording file (any format ``data build`` reads):
a person detector, then the tracker; the tracks as JSON or CSV."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.data.tools.sources import SourceRecording, read_source
from thermal_action.tracking.detections import Detections, Detector, build_detector, detect_chunks
from thermal_action.tracking.tracker import Track, Tracker, TrackPoint

PROGRESS_FRAMES = 256
CSV_COLUMNS = ("track_id", "frame_idx", "timestamp_ms", "x1", "y1", "x2", "y2", "score",
               "detected")


@dataclass
class PeopleInRecording:
    """What ``detect_people`` found in one recording."""

    recording: SourceRecording
    detections: list[Detections]  # per frame
    points: list[list[TrackPoint]]  # per frame, the confirmed tracks there
    tracks: list[Track]
    seconds: float  # detector and tracker time, wall clock

    @property
    def frames_per_second(self) -> float:
        return len(self.detections) / max(self.seconds, 1e-9)


def detect_people(
    path: str | os.PathLike,
    detector: Detector | Mapping[str, Any] | None = None,
    tracker: Tracker | None = None,
    frame_shape: tuple[int, int] = SENSOR_SHAPE,
    progress: Callable[[int, int], None] | None = None,
) -> PeopleInRecording:
    """Run ``detector`` (a detector or its ``build_detector`` spec; default the warm blobs)
    and ``tracker`` (default ``Tracker()``) over the recording at ``path``, in time order;
    each frame's detections depend on it and the frames before it only, as on a live
    sensor (a trained detector runs many frames per model pass). ``progress(done, total)``
    is called every ``PROGRESS_FRAMES`` frames."""
    recording = read_source(path, frame_shape)
    detector, tracker = build_detector(detector), tracker or Tracker()
    detector.reset()
    tracker.reset()
    total = len(recording.temps_c)
    detections, points, spent = [], [], 0.0
    for start in range(0, total, PROGRESS_FRAMES):
        stop = min(start + PROGRESS_FRAMES, total)
        began = time.perf_counter()
        found = list(detect_chunks(detector, recording.temps_c[start:stop],
                                   recording.timestamps_ms[start:stop]))
        points += [tracker.update(frame, int(recording.timestamps_ms[index]), index)
                   for index, frame in enumerate(found, start=start)]
        spent += time.perf_counter() - began
        detections += found
        if progress is not None:
            progress(stop, total)
    return PeopleInRecording(recording, detections, points, tracker.finish(), spent)


def _settings(component: object) -> dict[str, Any]:
    """The component's type and its plain public settings (numbers, strings, flags)."""
    plain = (int, float, str, bool)
    public = {key: value for key, value in vars(component).items()
              if not key.startswith("_") and (isinstance(value, plain) or (
                  isinstance(value, tuple | list) and all(isinstance(v, plain) for v in value)))}
    return {"type": type(component).__name__, **public}


def tracks_document(found: PeopleInRecording, detector: object, tracker: object) -> dict:
    """The tracks of ``found`` as JSON-ready data: the recording, the settings used, and
    every track with its points (boxes in pixel edges, times in ms)."""
    timestamps = found.recording.timestamps_ms
    return dict(
        recording=str(found.recording.path),
        sensor_id=found.recording.sensor_id,
        frames=len(timestamps),
        duration_s=float(timestamps[-1] - timestamps[0]) / 1000.0,
        detector=_settings(detector),
        tracker=_settings(tracker),
        tracks=[dict(track_id=track.track_id, start_ms=track.start_ms, end_ms=track.end_ms,
                     points=[{**point._asdict(), "box_xyxy": [round(v, 2) for v in
                                                             point.box_xyxy]}
                             for point in track.points])
                for track in found.tracks],
    )


def write_tracks(found: PeopleInRecording, out: str | os.PathLike, detector: object,
                 tracker: object) -> Path:
    """Write the tracks to ``out``: ``.json`` (``tracks_document``) or ``.csv`` (one row
    per track point, ``CSV_COLUMNS``)."""
    out = Path(out)
    if out.suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"{out}: tracks are written as .json or .csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(tracks_document(found, detector, tracker), indent=1) + "\n")
        return out
    with out.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        for track in found.tracks:
            for point in track.points:
                writer.writerow([track.track_id, point.frame_idx, point.timestamp_ms,
                                 *(f"{v:.2f}" for v in point.box_xyxy), f"{point.score:.3f}",
                                 int(point.detected)])
    return out


def track_summary(found: PeopleInRecording) -> list[dict[str, Any]]:
    """Per track: id, start and end in seconds since the first frame, and the share of its
    frames where the detector saw it (the rest it coasted on its prediction)."""
    first = int(found.recording.timestamps_ms[0])
    return [dict(track_id=track.track_id, start_s=(track.start_ms - first) / 1000.0,
                 end_s=(track.end_ms - first) / 1000.0,
                 detected_share=float(np.mean([p.detected for p in track.points])))
            for track in found.tracks]
