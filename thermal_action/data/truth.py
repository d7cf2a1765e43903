"""Ground truth for person detection: the annotators' raw lines of a dataset folder
(``raw_annotations/*.jsonl``), people and furniture/objects alike, matched to recording
frames."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from thermal_action.data.annotations import yolo_to_xyxy
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.dataset_root import check_root
from thermal_action.data.recording import open_recording
from thermal_action.data.tools.build import match_timestamps, read_raw_annotations
from thermal_action.errors import DataError

TOLERANCE_MS = 50
"""Largest gap between an annotated time and its recording frame (as ``data build``)."""


class FrameTruth(NamedTuple):
    """What annotators marked in one frame."""

    boxes_xyxy: np.ndarray  # (G, 4) people
    classes: Sequence[str]  # (G,) each person's action class name
    object_ids: np.ndarray  # (G,) person identity, stable across a recording's keyframes
    objects_xyxy: np.ndarray = np.zeros((0, 4), np.float32)  # (O, 4) furniture and objects
    object_keys: Sequence[str] = ()  # (O,) identity of each object across keyframes
    heat_residue: np.ndarray = np.zeros(0, bool)  # (O,) marked as warmth left behind


class AnnotatedFrame(NamedTuple):
    """One annotated frame of a recording and what was marked in it."""

    sensor_id: str
    frame_idx: int
    timestamp_ms: int
    truth: FrameTruth


def _boxes(entries: list[dict], height: int, width: int) -> np.ndarray:
    return np.asarray([yolo_to_xyxy(entry["bbox"], width, height) for entry in entries],
                      np.float32).reshape(-1, 4)


def annotated_frames(root: str | os.PathLike,
                     sensors: Sequence[str] | None = None) -> list[AnnotatedFrame]:
    """Every raw annotation line of ``root`` (for ``sensors``, or all) that matches a
    frame of its recording: people with their action class and id, and the annotated
    furniture and objects (with their heat-residue flag). Lines without a frame within
    ``TOLERANCE_MS`` and boxes of people whose class is unknown are left out."""
    root = check_root(root)
    files = sorted((root / "raw_annotations").glob("*.jsonl"))
    if not files:
        raise DataError(root / "raw_annotations", "no raw annotation files (*.jsonl)")
    by_sensor: dict[str, list] = {}
    for path in files:
        for line in read_raw_annotations(path):
            if sensors is None or line.sensor_id in sensors:
                by_sensor.setdefault(line.sensor_id, []).append(line)
    frames = []
    for sensor_id in sorted(by_sensor):
        with open_recording(root / "frames" / f"{sensor_id}.h5") as recording:
            timestamps_ms = recording.read_timestamps()
            _, height, width = recording.frames.shape
        lines = sorted(by_sensor[sensor_id], key=lambda line: line.data_time_ms)
        indices = match_timestamps(timestamps_ms, [line.data_time_ms for line in lines],
                                   TOLERANCE_MS)
        for line, index in zip(lines, indices, strict=True):
            if index >= 0:
                frames.append(AnnotatedFrame(sensor_id, int(index), int(timestamps_ms[index]),
                                             _frame_truth(line.annotations, height, width)))
    return frames


def _frame_truth(annotations: list[dict], height: int, width: int) -> FrameTruth:
    people = [a for a in annotations
              if a.get("category") == "person" and a.get("subcategory") in CLASS_NAMES]
    things = [a for a in annotations if a.get("category") in ("object", "furniture")]
    return FrameTruth(
        _boxes(people, height, width), [a["subcategory"] for a in people],
        np.asarray([int(a.get("object_id", i)) for i, a in enumerate(people)], np.int64),
        _boxes(things, height, width),
        [f"{a.get('subcategory')}#{a.get('object_id')}" for a in things],
        np.asarray([a.get("attribute_heat_residual") == "yes" for a in things], bool))
