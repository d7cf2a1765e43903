"""Zones of one sensor: beds, couches, chairs and doors as polygons in pixels, so a fall
stage can tell lying on a bed (normal) from lying on the floor (a fall).

A zones file is YAML (JSON when its suffix is ``.json``)::

    sensor_shape: [40, 60]      # optional: rows, columns of the sensor; checked against the frames
    zones:
      - name: bed               # unique, non-empty
        kind: bed               # one of ZONE_KINDS: bed, couch, chair, door
        polygon: [[2, 3], [20, 3], [20, 12], [2, 12]]   # >= 3 points [x, y], pixels
        source: furniture annotation, 54 frames        # optional: how it was found
      - name: door
        kind: door
        polygon: [[55, 30], [60, 30], [60, 40], [55, 40]]

Coordinates are pixel edges: x to the right (0..columns), y down (0..rows); pixel
(r, c) covers [c, c+1) x [r, r+1), so ``[[0, 0], [60, 0], [60, 40], [0, 40]]`` is the
whole 40x60 frame. A pixel belongs to a zone when its centre (c + 0.5, r + 0.5) lies
inside the polygon.

``propose_zones`` finds zones for a recording from its furniture annotations
(``raw_annotations/<sensor_id>_annotation.jsonl``) and from places where a person lay still
for a long time; ``thermal-action data zones`` writes them for a person to check.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from matplotlib.path import Path as PolygonPath

from thermal_action.data.annotations import check_sensor_id, yolo_to_xyxy
from thermal_action.data.person_tracks import FOLDER as TRACKS_FOLDER
from thermal_action.data.person_tracks import read_person_tracks
from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.errors import DataError

ZONE_KINDS = ("bed", "couch", "chair", "door")
"""What a zone can be."""
REST_KINDS = ("bed", "couch")
"""Zones where lying down is normal."""
TOP_KEYS = ("sensor_shape", "zones")
ZONE_KEYS = ("name", "kind", "polygon", "source")
FURNITURE_KINDS = {"bed": "bed", "couch": "couch", "sofa": "couch", "chair": "chair",
                   "armchair": "chair", "door": "door"}
"""Furniture subcategory of the raw annotations -> zone kind (others are no zone)."""
KIND_COLOURS = {"bed": "#4fc3f7", "couch": "#ba68c8", "chair": "#ffb74d", "door": "#81c784"}
"""Outline colour of each kind in ``draw_zones``."""
RAW_FOLDER = "raw_annotations"
ANNOTATED_IOU = 0.3
"""A still place overlapping an annotated bed or couch this much (IoU), or lying at least
half inside it (a person is smaller than a bed, so their IoU stays low), is that bed."""
FURNITURE_MERGE_IOU = 0.5
"""Annotations of one kind overlapping this much are one piece of furniture (the
simulator's object ids shift with the number of people in a frame)."""


@dataclass(frozen=True, eq=False)
class Zone:
    """One zone: ``polygon_xy`` (N, 2) float64 pixels, x right, y down (read-only)."""

    name: str
    kind: str
    polygon_xy: np.ndarray
    source: str | None = None

    def __post_init__(self) -> None:
        polygon = np.array(self.polygon_xy, np.float64).reshape(-1, 2)
        polygon.flags.writeable = False
        object.__setattr__(self, "polygon_xy", polygon)

    @property
    def box_xyxy(self) -> tuple[float, float, float, float]:
        """The polygon's bounding box (x1, y1, x2, y2) in pixels."""
        x1, y1 = self.polygon_xy.min(axis=0)
        x2, y2 = self.polygon_xy.max(axis=0)
        return float(x1), float(y1), float(x2), float(y2)


def rectangle(box_xyxy: Sequence[float]) -> np.ndarray:
    """The (4, 2) polygon of a box (x1, y1, x2, y2) in pixels, clockwise from top left."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float64)


class Zones:
    """The zones of one sensor whose frames are ``frame_shape`` (rows, columns) pixels."""

    def __init__(self, zones: Iterable[Zone], frame_shape: tuple[int, int] = SENSOR_SHAPE):
        self.frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
        self._zones = tuple(zones)
        names = [zone.name for zone in self._zones]
        if len(set(names)) != len(names):
            raise ValueError(f"zone names must be unique, got {names}")
        unknown = sorted({zone.kind for zone in self._zones} - set(ZONE_KINDS))
        if unknown:
            raise ValueError(f"unknown zone kind(s) {unknown} (expected {', '.join(ZONE_KINDS)})")
        self._masks: dict[object, np.ndarray] = {}
        self._tables: dict[object, np.ndarray] = {}

    @classmethod
    def empty(cls, frame_shape: tuple[int, int] = SENSOR_SHAPE) -> Zones:
        """No zones."""
        return cls((), frame_shape)

    def __len__(self) -> int:
        return len(self._zones)

    def __iter__(self) -> Iterator[Zone]:
        return iter(self._zones)

    def __repr__(self) -> str:
        inner = ", ".join(f"{zone.name} ({zone.kind})" for zone in self._zones)
        return f"Zones([{inner}], frame_shape={self.frame_shape})"

    def _polygon_mask(self, zones: Iterable[Zone]) -> np.ndarray:
        rows, cols = self.frame_shape
        yy, xx = np.mgrid[0:rows, 0:cols]
        centres = np.column_stack([xx.ravel() + 0.5, yy.ravel() + 0.5])
        mask = np.zeros(rows * cols, bool)
        for zone in zones:
            mask |= PolygonPath(zone.polygon_xy).contains_points(centres)
        mask = mask.reshape(rows, cols)
        mask.flags.writeable = False
        return mask

    def mask(self, kinds: Iterable[str] = REST_KINDS) -> np.ndarray:
        """(rows, columns) bool, read-only: pixels whose centre lies in a zone of ``kinds``."""
        key = _kinds_key(kinds)
        if key not in self._masks:
            self._masks[key] = self._polygon_mask(z for z in self._zones if z.kind in key)
        return self._masks[key]

    def _table(self, key: object, mask: np.ndarray) -> np.ndarray:
        """Summed-area table (rows + 1, columns + 1): entry [r, c] counts ``mask[:r, :c]``."""
        if key not in self._tables:
            table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.float64)
            table[1:, 1:] = mask.cumsum(axis=0).cumsum(axis=1)
            self._tables[key] = table
        return self._tables[key]

    def _share(self, table: np.ndarray, box_xyxy: Sequence[float]) -> float:
        x1, y1, x2, y2 = (float(v) for v in box_xyxy)
        area = (x2 - x1) * (y2 - y1)
        if not area > 0:
            return 0.0
        rows, cols = self.frame_shape
        x1, x2 = min(max(x1, 0.0), cols), min(max(x2, 0.0), cols)
        y1, y2 = min(max(y1, 0.0), rows), min(max(y2, 0.0), rows)
        # The mask's integral up to (x, y) is the table interpolated bilinearly (exact for a
        # mask constant on each pixel), so fractional edges count their covered part.
        covered = (_integral(table, x2, y2) - _integral(table, x1, y2)
                   - _integral(table, x2, y1) + _integral(table, x1, y1))
        return min(max(covered / area, 0.0), 1.0)

    def share_in(self, box_xyxy: Sequence[float], kinds: Iterable[str] = REST_KINDS) -> float:
        """Fraction 0..1 of the box's area (x1, y1, x2, y2 pixels; the part outside the frame
        counts as outside) covered by ``mask(kinds)``; 0 for an empty box."""
        key = _kinds_key(kinds)
        return self._share(self._table(key, self.mask(key)), box_xyxy)

    def zone_of(self, box_xyxy: Sequence[float]) -> Zone | None:
        """The zone (any kind) covering most of the box, when it covers at least half."""
        best, best_share = None, 0.0
        for zone in self._zones:
            key = ("zone", zone.name)
            if key not in self._masks:
                self._masks[key] = self._polygon_mask([zone])
            share = self._share(self._table(key, self._masks[key]), box_xyxy)
            if share > best_share:
                best, best_share = zone, share
        return best if best_share >= 0.5 else None


def _kinds_key(kinds: Iterable[str] | str) -> frozenset[str]:
    """The cache key of ``kinds`` (one kind may be given as a plain string)."""
    return frozenset((kinds,) if isinstance(kinds, str) else kinds)


def _integral(table: np.ndarray, x: float, y: float) -> float:
    """Mask pixels (fractions included) in [0, x) x [0, y): the summed-area ``table``
    interpolated bilinearly at (x, y), which lie inside the frame."""
    r = min(int(y), table.shape[0] - 2)
    c = min(int(x), table.shape[1] - 2)
    fy, fx = y - r, x - c
    top = table[r, c] * (1 - fx) + table[r, c + 1] * fx
    bottom = table[r + 1, c] * (1 - fx) + table[r + 1, c + 1] * fx
    return float(top * (1 - fy) + bottom * fy)


# ---- reading and writing zones files ------------------------------------------------------


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "zones file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: "
                                  f"{exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise DataError(path, f"invalid YAML{where}: {' '.join(str(problem).split())}") from None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _polygon_area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _parse_zone(entry: object, number: int, path: Path, frame_shape: tuple[int, int],
                seen: dict[str, int]) -> Zone:
    label = f"zone {number}"
    if not isinstance(entry, dict):
        raise DataError(path, f"{label}: expected a mapping with {', '.join(ZONE_KEYS[:3])}, "
                              f"got {type(entry).__name__}")
    name = entry.get("name")
    if "name" not in entry:
        raise DataError(path, f"{label}: missing 'name'")
    if not isinstance(name, str) or not name.strip():
        raise DataError(path, f"{label}: 'name' must be a non-empty string, got {name!r}")
    label = f"zone {number} ({name})"
    unknown = [key for key in entry if key not in ZONE_KEYS]
    if unknown:
        raise DataError(path, f"{label}: unknown key {unknown[0]!r} (expected "
                              f"{', '.join(ZONE_KEYS)})")
    if name in seen:
        raise DataError(path, f"{label}: duplicate name (zone {seen[name]} has it too)")
    seen[name] = number
    kind = entry.get("kind")
    if kind not in ZONE_KINDS:
        what = "missing 'kind'" if "kind" not in entry else f"unknown kind {kind!r}"
        raise DataError(path, f"{label}: {what} (expected one of {', '.join(ZONE_KINDS)})")
    source = entry.get("source")
    if source is not None and not isinstance(source, str):
        raise DataError(path, f"{label}: 'source' must be a string, got {source!r}")
    if "polygon" not in entry:
        raise DataError(path, f"{label}: missing 'polygon' (a list of [x, y] points)")
    points = entry["polygon"]
    if not isinstance(points, list):
        raise DataError(path, f"{label}: 'polygon' must be a list of [x, y] points, got "
                              f"{points!r}")
    if len(points) < 3:
        raise DataError(path, f"{label}: polygon has {len(points)} point(s), needs at least 3")
    rows, cols = frame_shape
    for index, point in enumerate(points, start=1):
        if (not isinstance(point, list) or len(point) != 2
                or not all(_is_number(v) and math.isfinite(v) for v in point)):
            raise DataError(path, f"{label}: point {index} {point!r} is not two finite "
                                  "numbers [x, y]")
        x, y = point
        if not (0 <= x <= cols and 0 <= y <= rows):
            raise DataError(path, f"{label}: point {index} [{x}, {y}] is outside the frame "
                                  f"(x 0..{cols}, y 0..{rows} for {rows}x{cols} pixels)")
    polygon = np.asarray(points, np.float64)
    if _polygon_area(polygon) <= 1e-9:
        raise DataError(path, f"{label}: polygon has zero area")
    return Zone(name, kind, polygon, source)


def parse_zones(document: object, path: str | os.PathLike,
                frame_shape: tuple[int, int] = SENSOR_SHAPE) -> Zones:
    """Check a zones document (as read from ``path``, named in errors) and build its
    ``Zones``; any problem is a one-line ``DataError``."""
    path = Path(path)
    frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
    if document is None:
        raise DataError(path, "empty file: expected a mapping with a 'zones' list")
    if not isinstance(document, dict):
        raise DataError(path, "expected a mapping with a 'zones' list at the top, got "
                              f"{type(document).__name__}")
    unknown = [key for key in document if key not in TOP_KEYS]
    if unknown:
        raise DataError(path, f"unknown key {unknown[0]!r} (expected {', '.join(TOP_KEYS)})")
    if "sensor_shape" in document:
        shape = document["sensor_shape"]
        if (not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                           for v in shape)):
            raise DataError(path, f"sensor_shape must be [rows, columns], got {shape!r}")
        if tuple(shape) != frame_shape:
            raise DataError(path, "sensor_shape is {}x{} but the frames are {}x{} pixels"
                            .format(*shape, *frame_shape))
    entries = document.get("zones")
    if not isinstance(entries, list):
        what = "missing" if "zones" not in document else f"not a list ({entries!r})"
        raise DataError(path, f"'zones' is {what}: expected a list of zones")
    seen: dict[str, int] = {}
    zones = [_parse_zone(entry, number, path, frame_shape, seen)
             for number, entry in enumerate(entries, start=1)]
    return Zones(zones, frame_shape)


def load_zones(path: str | os.PathLike, frame_shape: tuple[int, int] = SENSOR_SHAPE) -> Zones:
    """Read and check a zones file (YAML, or JSON for ``.json``) for frames of
    ``frame_shape`` (rows, columns); ``DataError`` naming the file and the problem."""
    path = Path(path)
    return parse_zones(_read_document(path), path, frame_shape)


def _number(value: float) -> int | float:
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


def zones_document(zones: Zones) -> dict[str, Any]:
    """The zones as a plain document (what a zones file holds), coordinates to 0.001 px."""
    entries = []
    for zone in zones:
        entry: dict[str, Any] = dict(name=zone.name, kind=zone.kind,
                                     polygon=[[_number(x), _number(y)]
                                              for x, y in zone.polygon_xy])
        if zone.source is not None:
            entry["source"] = zone.source
        entries.append(entry)
    return dict(sensor_shape=list(zones.frame_shape), zones=entries)


def _yaml_text(document: dict[str, Any], header: str | None) -> str:
    """YAML with one line per key and each polygon on one line (easy to edit by hand);
    strings as JSON strings, which YAML reads as double-quoted scalars."""
    lines = [f"# {line}" for line in (header or "").splitlines()]
    lines.append("sensor_shape: {}".format(json.dumps(document["sensor_shape"])))
    if not document["zones"]:
        lines.append("zones: []")
    else:
        lines.append("zones:")
    for entry in document["zones"]:
        lines.append(f"  - name: {json.dumps(entry['name'])}")
        lines.append(f"    kind: {entry['kind']}")
        lines.append(f"    polygon: {json.dumps(entry['polygon'])}")
        if "source" in entry:
            lines.append(f"    source: {json.dumps(entry['source'])}")
    return "\n".join(lines) + "\n"


def write_zones(zones: Zones, path: str | os.PathLike, header: str | None = None) -> Path:
    """Write ``zones`` to ``path`` whole or not at all: JSON for ``.json``, else YAML with
    ``header`` as comment lines on top."""
    from thermal_action.compat import write_text_atomic

    path = Path(path)
    document = zones_document(zones)
    if path.suffix.lower() == ".json":
        text = json.dumps(document, indent=2) + "\n"
    else:
        text = _yaml_text(document, header)
    try:
        return write_text_atomic(path, text)
    except OSError as exc:
        raise DataError(path, f"cannot write ({exc.strerror or exc})") from None


# ---- proposing zones ----------------------------------------------------------------------


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _inside_share(box: Sequence[float], outer: Sequence[float]) -> float:
    """Fraction of ``box``'s area inside ``outer`` (both xyxy)."""
    inter_w = max(0.0, min(box[2], outer[2]) - max(box[0], outer[0]))
    inter_h = max(0.0, min(box[3], outer[3]) - max(box[1], outer[1]))
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter_w * inter_h / area if area > 0 else 0.0


def _unique_names(zones: Iterable[Zone]) -> list[Zone]:
    """The zones renamed after their kind: bed, bed-2, chair, chair-2, ..."""
    counts: dict[str, int] = {}
    named = []
    for zone in zones:
        counts[zone.kind] = counts.get(zone.kind, 0) + 1
        count = counts[zone.kind]
        name = zone.kind if count == 1 else f"{zone.kind}-{count}"
        named.append(Zone(name, zone.kind, zone.polygon_xy, zone.source))
    return named


def furniture_proposals(annotation_file: str | os.PathLike,
                        frame_shape: tuple[int, int] = SENSOR_SHAPE) -> list[Zone]:
    """Zones from a raw annotation file (JSON lines, furniture boxes normalized YOLO
    ``[cx, cy, w, h]``): the median box of each piece of furniture of a zone kind
    (``FURNITURE_KINDS``) over the frames it is annotated in. Entries marked as heat
    residue count only with the same object's plain entries (alone they are a warm patch
    left by a person, not furniture)."""
    path = Path(annotation_file)
    rows, cols = frame_shape
    groups: dict[tuple[object, str], dict[str, list[np.ndarray]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(path, "annotation file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"line {number}: malformed JSON ({exc.msg})") from None
        annotations = record.get("annotations") if isinstance(record, dict) else None
        if not isinstance(annotations, list):
            raise DataError(path, f"line {number}: no 'annotations' list")
        for ann in annotations:
            if not isinstance(ann, dict) or ann.get("category") != "furniture":
                continue
            kind = FURNITURE_KINDS.get(str(ann.get("subcategory", "")).strip().lower())
            if kind is None:
                continue
            bbox = ann.get("bbox")
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(_is_number(v) and math.isfinite(v) for v in bbox)):
                raise DataError(path, f"line {number}: furniture bbox must be 4 finite "
                                      f"numbers [cx, cy, w, h], got {bbox!r}")
            box = yolo_to_xyxy(bbox, cols, rows).astype(np.float64)
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            residue = ann.get("attribute_heat_residual") == "yes"
            group = groups.setdefault((ann.get("object_id"), kind), {"plain": [], "residue": []})
            group["residue" if residue else "plain"].append(box)
    clusters: list[tuple[str, list[np.ndarray]]] = []
    for (_, kind), group in sorted(groups.items(), key=lambda item: -len(item[1]["plain"])):
        if not group["plain"]:
            continue
        boxes = group["plain"] + group["residue"]
        median = np.median(boxes, axis=0)
        for cluster_kind, cluster in clusters:
            if (cluster_kind == kind
                    and _iou(np.median(cluster, axis=0), median) > FURNITURE_MERGE_IOU):
                cluster.extend(boxes)
                break
        else:
            clusters.append((kind, list(boxes)))
    zones = [Zone(kind, kind, rectangle(np.median(boxes, axis=0)),
                  f"furniture annotation, {len(boxes)} frames") for kind, boxes in clusters]
    return _unique_names(sorted(zones, key=lambda z: (ZONE_KINDS.index(z.kind), z.box_xyxy)))


def _still_end(centres: np.ndarray, start: int, last: int, still_px: float) -> int:
    """The largest end found (by doubling, then halving the step) such that every centre
    of ``start..end`` lies within ``still_px`` of the span's median."""

    def still(end: int) -> bool:
        span = centres[start : end + 1]
        return bool(np.all(np.hypot(*(span - np.median(span, axis=0)).T) < still_px))

    end, step = start, 1
    while end + step <= last and still(end + step):
        end += step
        step *= 2
    while step > 1:
        step //= 2
        if end + step <= last and still(end + step):
            end += step
    return end


def still_spans(track: Sequence[tuple[float, Sequence[float]]], min_still_s: float = 60.0,
                still_px: float = 1.5, min_elongation: float = 1.4,
                max_gap_s: float = 10.0) -> list[tuple[float, np.ndarray]]:
    """(duration s, union box xyxy) of each span of one track's (timestamp_ms, box_xyxy)
    points lasting at least ``min_still_s`` where the box centre stays within ``still_px``
    of the span's median, every box is elongated (long side / short side >=
    ``min_elongation``: lying, seen from above) and no two points are more than
    ``max_gap_s`` apart. Spans are found greedily from their first point."""
    points = sorted(track, key=lambda point: point[0])
    if not points:
        return []
    times_s = np.array([p[0] for p in points], np.float64) / 1000.0
    boxes = np.array([p[1] for p in points], np.float64).reshape(-1, 4)
    sides = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    lying = (sides.min(axis=1) > 0) & (
        sides.max(axis=1) >= min_elongation * np.maximum(sides.min(axis=1), 1e-9))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    joined = np.append(np.diff(times_s) <= max_gap_s, False)  # point i joins point i + 1
    spans, start, count = [], 0, len(points)
    while start < count:
        if not lying[start]:
            start += 1
            continue
        last = start
        while last + 1 < count and lying[last + 1] and joined[last]:
            last += 1
        end = _still_end(centres, start, last, still_px)
        duration = times_s[end] - times_s[start]
        if duration >= min_still_s:
            span = boxes[start : end + 1]
            spans.append((float(duration), np.concatenate([span[:, :2].min(axis=0),
                                                           span[:, 2:].max(axis=0)])))
        start = end + 1
    return spans


def still_proposals(tracks: Mapping[int, Sequence[tuple[float, Sequence[float]]]],
                    frame_shape: tuple[int, int] = SENSOR_SHAPE, min_still_s: float = 60.0,
                    still_px: float = 1.5, min_elongation: float = 1.4,
                    max_gap_s: float = 10.0) -> list[Zone]:
    """Beds where people lay still: the union box of every ``still_spans`` span of
    ``tracks`` (track id -> (timestamp_ms, box_xyxy) points), overlapping boxes merged,
    clipped to the frame."""
    rows, cols = frame_shape
    places: list[tuple[np.ndarray, float, list[int]]] = []
    for track_id, track in tracks.items():
        for duration, box in still_spans(track, min_still_s, still_px, min_elongation,
                                         max_gap_s):
            places.append((box, duration, [int(track_id)]))
    merged = True
    while merged:
        merged = False
        for i in range(len(places)):
            for j in range(i + 1, len(places)):
                a, b = places[i][0], places[j][0]
                if min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]):
                    box = np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])
                    tracks_ = sorted(set(places[i][2]) | set(places[j][2]))
                    places[i] = (box, places[i][1] + places[j][1], tracks_)
                    del places[j]
                    merged = True
                    break
            if merged:
                break
    zones = []
    for box, duration, track_ids in sorted(places, key=lambda place: -place[1]):
        clipped = np.clip(box, 0, [cols, rows, cols, rows])
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            continue
        which = (f"track {track_ids[0]}" if len(track_ids) == 1
                 else "tracks " + ", ".join(str(t) for t in track_ids))
        zones.append(Zone("bed", "bed", rectangle(clipped),
                          f"still for {round(duration)} s ({which})"))
    return _unique_names(zones)


def propose_zones(frame_shape: tuple[int, int] = SENSOR_SHAPE,
                  annotation_file: str | os.PathLike | None = None,
                  tracks: Mapping[int, Sequence[tuple[float, Sequence[float]]]] | None = None,
                  min_still_s: float = 60.0, still_px: float = 1.5,
                  min_elongation: float = 1.4) -> Zones:
    """Zones for one sensor: its annotated furniture (``furniture_proposals`` of the raw
    annotation file, when given) and the beds where a person of ``tracks`` lay still
    (``still_proposals``) that are not an annotated bed or couch already (IoU >
    ``ANNOTATED_IOU``, or at least half inside one). Names are unique: bed, bed-2, chair,
    ..."""
    annotated = ([] if annotation_file is None
                 else furniture_proposals(annotation_file, frame_shape))
    rests = [zone.box_xyxy for zone in annotated if zone.kind in REST_KINDS]
    still = [] if tracks is None else still_proposals(tracks, frame_shape, min_still_s,
                                                      still_px, min_elongation)
    still = [zone for zone in still
             if all(_iou(zone.box_xyxy, rest) <= ANNOTATED_IOU
                    and _inside_share(zone.box_xyxy, rest) < 0.5 for rest in rests)]
    return Zones(_unique_names(annotated + still), frame_shape)


def tracks_from_rows(rows: np.ndarray) -> dict[int, list[tuple[float, tuple[float, ...]]]]:
    """``person_tracks`` rows (M, 8) -> track id -> [(timestamp_ms, box_xyxy), ...]."""
    tracks: dict[int, list[tuple[float, tuple[float, ...]]]] = {}
    for row in np.asarray(rows, np.float64).reshape(-1, 8):
        tracks.setdefault(int(row[2]), []).append((float(row[1]), tuple(row[4:8].tolist())))
    return tracks


def annotation_file(root: str | os.PathLike, sensor_id: str) -> Path:
    """Where a dataset folder keeps a recording's raw annotations."""
    return Path(root) / RAW_FOLDER / f"{check_sensor_id(sensor_id, root)}_annotation.jsonl"


def furniture_zones(root: str | os.PathLike, sensor_id: str,
                    frame_shape: tuple[int, int] = SENSOR_SHAPE) -> Zones:
    """The annotated furniture of recording ``sensor_id`` of a dataset folder as zones
    (none when it has no raw annotation file)."""
    path = annotation_file(root, sensor_id)
    return propose_zones(frame_shape, path if path.is_file() else None)


def dataset_zones(root: str | os.PathLike, sensor_id: str,
                  frame_shape: tuple[int, int] = SENSOR_SHAPE, min_still_s: float = 60.0,
                  still_px: float = 1.5) -> Zones:
    """``propose_zones`` for recording ``sensor_id`` of a dataset folder from what it has:
    ``raw_annotations/<sensor_id>_annotation.jsonl`` and ``person_tracks/<sensor_id>.csv``."""
    path = annotation_file(root, sensor_id)
    tracks_path = Path(root) / TRACKS_FOLDER / f"{sensor_id}.csv"
    tracks = tracks_from_rows(read_person_tracks(tracks_path)) if tracks_path.is_file() else None
    return propose_zones(frame_shape, path if path.is_file() else None, tracks,
                         min_still_s=min_still_s, still_px=still_px)


# ---- drawing ------------------------------------------------------------------------------


def draw_zones(ax: Any, zones: Zones, offset_px: float = 0.0, fontsize: float = 6.0) -> list:
    """Outline each zone on a heat map's axes in its kind's colour (``KIND_COLOURS``) with
    its name as a small label kept inside the frame; returns the artists added.
    ``offset_px``: 0 for a heat map drawn with ``extent=(0, columns, rows, 0)`` (pixel
    edges), -0.5 for ``imshow``'s default extent (pixel centres)."""
    from matplotlib.patches import Polygon

    rows, cols = zones.frame_shape
    artists = []
    for zone in zones:
        colour = KIND_COLOURS.get(zone.kind, "white")
        artists.append(ax.add_patch(Polygon(zone.polygon_xy + offset_px, closed=True,
                                            fill=False, edgecolor=colour, linewidth=1.5)))
        x1, y1, x2, _ = zone.box_xyxy
        right = x1 > cols * 0.7  # near the right edge: the label ends at the zone's right
        x = (x2 - 0.3) if right else (x1 + 0.3)
        y = min(max(y1 + 0.3, 0.3), rows - 2.0)
        artists.append(ax.text(x + offset_px, y + offset_px, zone.name, color=colour,
                               fontsize=fontsize, ha="right" if right else "left", va="top",
                               clip_on=True,
                               bbox=dict(facecolor="black", alpha=0.55, pad=0.8,
                                         linewidth=0)))
    return artists


def mean_frame_c(recording_path: str | os.PathLike,
                 frame_shape: tuple[int, int] | None = None) -> np.ndarray:
    """The recording's mean frame (rows, columns) float32 deg C over the readable pixels
    (NaN where a pixel never had a reading)."""
    from thermal_action.data.recording import open_recording
    from thermal_action.data.sensor import unreadable_mask

    with open_recording(recording_path, frame_shape) as recording:
        total = np.zeros(recording.frames.shape[1:], np.float64)
        count = np.zeros(recording.frames.shape[1:], np.int64)
        for _, block in recording.blocks():
            readable = ~unreadable_mask(block)
            total += np.where(readable, block, 0.0).sum(axis=0)
            count += readable.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def plot_zones(zones: Zones, frame_c: np.ndarray, out_png: str | os.PathLike,
               title: str = "") -> Path:
    """Write a PNG of ``frame_c`` (rows, columns) deg C as a heat map with ``zones`` drawn
    and labelled."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows, cols = zones.frame_shape
    fig = Figure(figsize=(6.4, 6.4 * rows / cols + 0.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    finite = frame_c[np.isfinite(frame_c)]
    low, high = (np.percentile(finite, [1, 99]) if finite.size else (15.0, 30.0))
    image = ax.imshow(np.ma.masked_invalid(frame_c), cmap=colormaps["inferno"],
                      vmin=float(low), vmax=float(max(high, low + 0.5)),
                      interpolation="nearest", extent=(0, cols, rows, 0))
    draw_zones(ax, zones, fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02).set_label("deg C")
    ax.set_title(title or f"{len(zones)} zone(s)", fontsize=9)
    ax.set_xlabel("x (pixels)", fontsize=8)
    ax.set_ylabel("y (pixels)", fontsize=8)
    fig.tight_layout()
    out_png = Path(out_png)
    try:
        fig.savefig(out_png, format="png")
    except OSError as exc:
        raise DataError(out_png, f"cannot write ({exc.strerror or exc})") from None
    return out_png
