"""COCO-style keyframe annotations -> typed per-keyframe records with pixel boxes, and the
documents that ``annotations/*.json`` hold."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.errors import DataError


class Keyframe(NamedTuple):
    """One annotated keyframe and the people in it."""

    image_id: str
    sensor_id: str
    frame_idx: int
    timestamp_ms: int
    boxes_xyxy: np.ndarray  # (N, 4) float32, pixels (x1, y1, x2, y2)
    labels: np.ndarray  # (N,) int64 class ids
    object_ids: np.ndarray  # (N,) int64 person ids within the frame


def check_sensor_id(sensor_id: object, where: str | os.PathLike) -> str:
    """Refuse sensor ids that are not plain file stems (no separators, no ``..``)."""
    if not isinstance(sensor_id, str) or not sensor_id:
        raise DataError(where, f"sensor_id must be a non-empty string, got {sensor_id!r}")
    if "/" in sensor_id or "\\" in sensor_id or sensor_id in (".", "..") or "\0" in sensor_id:
        raise DataError(where, f"sensor_id {sensor_id!r} is not a plain name inside the dataset")
    return sensor_id


def yolo_to_xyxy(box: Sequence[float], width: int, height: int) -> np.ndarray:
    """Normalized YOLO ``[cx, cy, w, h]`` (0..1) -> pixel ``[x1, y1, x2, y2]``, clipped to
    the frame."""
    cx, cy, w, h = (float(v) for v in box)
    xyxy = np.array(
        [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height],
        dtype=np.float32,
    )
    xyxy[0::2] = xyxy[0::2].clip(0, width)
    xyxy[1::2] = xyxy[1::2].clip(0, height)
    return xyxy


def coco_document(
    images: list[dict], annotations: list[dict], class_names: Sequence[str], description: str
) -> dict[str, Any]:
    """A COCO keyframe file (``annotations/<split>.json``): ``images`` and ``annotations``
    as given (``bbox`` normalized YOLO ``[cx, cy, w, h]``), ``categories`` from
    ``class_names`` (id = position) and an ``info`` block with ``description``."""
    return dict(
        images=images,
        annotations=annotations,
        categories=[dict(id=i, name=name) for i, name in enumerate(class_names)],
        info=dict(description=description, version="1.0", year=datetime.now(UTC).year),
    )


def class_mapping(class_names: Sequence[str]) -> dict[str, Any]:
    """``annotations/class_mapping.json``: ``classes`` (names by id) and ``class_to_id``."""
    return dict(classes=list(class_names),
                class_to_id={name: i for i, name in enumerate(class_names)})


def read_coco(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(path, "annotation file not found")
    try:
        with path.open(encoding="utf-8") as stream:
            content = json.load(stream)
    except json.JSONDecodeError as exc:
        raise DataError(
            path, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason})") from None
    if not isinstance(content, dict):
        raise DataError(path, "expected a JSON object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(content.get(key), list):
            raise DataError(path, f"missing list '{key}'")
    return content


def _field(record: dict, key: str, kind: type | tuple[type, ...], path: Path, what: str) -> Any:
    value = record.get(key) if isinstance(record, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(path, f"{what} has no valid '{key}' (got {value!r})")
    return value


def load_keyframes(
    ann_file: str | os.PathLike, class_names: Sequence[str]
) -> tuple[list[Keyframe], int]:
    """Parse a COCO keyframe file.

    Returns the keyframes that have at least one person box, and how many annotated images
    had none (those carry no action label and are left out).
    """
    path = Path(ann_file)
    content = read_coco(path)
    images = _parse_images(content["images"], path)
    for position, ann in enumerate(content["annotations"]):
        what = f"annotation #{position}"
        image_id = str(_field(ann, "image_id", (str, int), path, what))
        if image_id not in images:
            raise DataError(path, f"{what} refers to unknown image id {image_id!r}")
        image = images[image_id]
        image["people"].append(_parse_person(ann, image, len(class_names), path, what))

    keyframes, without_people = [], 0
    for image_id, image in images.items():
        if not image["people"]:
            without_people += 1
            continue
        boxes, labels, object_ids = zip(*image["people"], strict=True)
        keyframes.append(Keyframe(
            image_id=image_id,
            sensor_id=image["sensor_id"],
            frame_idx=image["frame_idx"],
            timestamp_ms=image["timestamp_ms"],
            boxes_xyxy=np.stack(boxes).astype(np.float32),
            labels=np.asarray(labels, dtype=np.int64),
            object_ids=np.asarray(object_ids, dtype=np.int64),
        ))
    return keyframes, without_people


def _parse_images(entries: list, path: Path) -> dict[str, dict]:
    """Image id -> sensor, keyframe index, time and size of each COCO image entry."""
    images: dict[str, dict] = {}
    for position, image in enumerate(entries):
        image_id = str(_field(image, "id", (str, int), path, f"image #{position}"))
        what = f"image {image_id!r}"
        sensor_id = check_sensor_id(image.get("sensor_id"), path)
        frame_idx = _field(image, "frame_idx", int, path, what)
        if frame_idx < 0:
            raise DataError(path, f"{what} has negative frame_idx {frame_idx}")
        if image_id in images:
            raise DataError(path, f"duplicate image id {image_id!r}")
        images[image_id] = dict(
            sensor_id=sensor_id,
            frame_idx=frame_idx,
            timestamp_ms=int(image.get("timestamp", -1)),
            width=int(image.get("width", SENSOR_SHAPE[1])),
            height=int(image.get("height", SENSOR_SHAPE[0])),
            people=[],
        )
    return images


def _parse_person(ann: dict, image: dict, num_classes: int, path: Path,
                  what: str) -> tuple[np.ndarray, int, int]:
    """(box xyxy pixels, class id, object id) of one checked annotation."""
    category = _field(ann, "category_id", int, path, what)
    if not 0 <= category < num_classes:
        raise DataError(
            path, f"{what} has unknown category id {category} (expected 0..{num_classes - 1})"
        )
    bbox = ann.get("bbox")
    if (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in bbox)
    ):
        raise DataError(
            path, f"{what} bbox must be 4 finite numbers [cx, cy, w, h], got {bbox!r}"
        )
    xyxy = yolo_to_xyxy(bbox, image["width"], image["height"])
    if xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
        raise DataError(
            path,
            f"{what} bbox {bbox} is empty inside the {image['width']}x{image['height']} frame",
        )
    return xyxy, category, int(ann.get("object_id", len(image["people"])))
