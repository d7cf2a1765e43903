"""``data build``: raw annotation JSONL files and recordings -> a dataset folder in the
documented layout: ``frames/<sensor_id>.h5`` (gzip), ``frames/sensor_info.json``,
``annotations/{train,val[,test],class_mapping}.json``, ``raw_annotations/*.jsonl`` (copied)
and ``dataset_info.json`` (how it was built).

For every recording named by the annotations: read the source (``sources``), match each
annotated frame to the nearest recording timestamp within ``tolerance_ms``, keep the
``person`` boxes whose subcategory is an action class, and apply the window policy. Then
split (``splits``), refuse a split whose windows overlap across splits unless allowed, and
write everything into a temporary folder next to the target that is renamed into place
only when complete. An annotated frame or box left out is counted under the first reason
of ``FRAME_REASONS`` / ``BOX_REASONS`` that applies. The library never prints.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from thermal_action.data.annotations import (
    check_sensor_id,
    class_mapping,
    coco_document,
    yolo_to_xyxy,
)
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.recording import COMPRESSION_LEVEL, write_recording
from thermal_action.data.sensor import WINDOW_FRAMES, invalid_mask
from thermal_action.data.tools.output_folder import (
    OutputKind,
    check_output_folder,
    staged_folder,
)
from thermal_action.data.tools.sources import (
    FRAME_SHAPE,
    READERS,
    SourceRecording,
    find_recordings,
    read_source,
)
from thermal_action.data.tools.splits import (
    SPLIT_STRATEGIES,
    SPLITS,
    check_fractions,
    classes_missing_from_training,
    group_split,
    random_split,
    session_of,
    split_overlap,
)
from thermal_action.errors import DataError

WINDOW_POLICIES = ("skip", "pad")
FRAME_REASONS = {
    "no-timestamp-match": "no recording frame within the tolerance of data_time",
    "duplicate-frame": "matched the same recording frame as an earlier line",
    "no-person-boxes": "no person box with a known action class left",
    "window-does-not-fit": "the window runs past an end of the recording (policy skip)",
}
"""Why an annotated frame (one JSONL line) is left out, in the order they are checked."""
BOX_REASONS = {
    "not-person": "category is not 'person' (object, furniture, ...)",
    "unknown-class": "person whose subcategory is not one of the action classes",
    "bad-box": "bbox is not 4 finite numbers giving a non-empty box inside the frame",
}
"""Why a box of a matched frame is left out, in the order they are checked."""
DESCRIPTIONS = {"train": "Training", "val": "Validation", "test": "Test"}
BUILD_OUTPUT = OutputKind(
    "thermal-action data build",
    frozenset({"frames", "annotations", "raw_annotations", "dataset_info.json",
               "build_report.json"}))
"""The stamp of a built dataset and every top-level name it holds (with the CLI's default
report); ``overwrite`` replaces only such folders."""


@dataclass(frozen=True)
class BuildOptions:
    """How to build. Times in ms, sizes in frames or pixels."""

    split: str = "recording"  # random | recording | session (see ``splits``)
    val_fraction: float = 0.2  # of keyframes per recording (random) or of recordings/sessions
    test_fraction: float = 0.0  # likewise; a test split is written when > 0 or test_holdout
    seed: int = 42
    holdout: tuple[str, ...] = ()  # recording/session globs for val (replaces val_fraction)
    test_holdout: tuple[str, ...] = ()  # ... for test (replaces test_fraction)
    tolerance_ms: int = 50  # annotated data_time vs nearest recording timestamp
    window: int = WINDOW_FRAMES  # a sample is frames [idx - window/2, idx + window/2)
    window_policy: str = "skip"  # a window that does not fit: skip the keyframe, or pad
    allow_overlap: bool = False  # write a split whose windows overlap across splits
    overwrite: bool = False  # replace a previous build output (nothing else)
    compression_level: int = COMPRESSION_LEVEL  # gzip level of the written frames (1-9)
    frame_shape: tuple[int, int] = FRAME_SHAPE  # sensor rows, columns

    def __post_init__(self) -> None:
        if self.split not in SPLIT_STRATEGIES:
            raise ValueError(f"unknown split {self.split!r}; expected one of "
                             f"{', '.join(SPLIT_STRATEGIES)}")
        if self.window_policy not in WINDOW_POLICIES:
            raise ValueError(f"unknown window policy {self.window_policy!r}; expected one of "
                             f"{', '.join(WINDOW_POLICIES)}")
        check_fractions(self.val_fraction, self.test_fraction)
        if self.split == "random" and (self.holdout or self.test_holdout):
            raise ValueError("holdout patterns need the recording or session split")
        if self.tolerance_ms < 0:
            raise ValueError(f"tolerance_ms must be >= 0, got {self.tolerance_ms}")
        if self.window < 1:
            raise ValueError(f"window must be a positive number of frames, got {self.window}")
        if len(self.frame_shape) != 2 or min(self.frame_shape) < 1:
            raise ValueError(f"frame_shape must be (rows, columns), got {self.frame_shape}")
        if not 1 <= self.compression_level <= 9:
            raise ValueError(f"compression_level must be 1..9, got {self.compression_level}")

    @property
    def split_names(self) -> tuple[str, ...]:
        """Split files written: train and val, plus test when one is asked for."""
        with_test = self.test_fraction > 0 or bool(self.test_holdout)
        return SPLITS if with_test else SPLITS[:2]


class RawFrame(NamedTuple):
    """One line of a raw annotation file."""

    where: str  # "file:line"
    sensor_id: str
    data_time_ms: int
    mac_address: str | None
    annotations: list[dict]


class BuiltKeyframe(NamedTuple):
    """A kept keyframe with its person boxes, ready for COCO."""

    sensor_id: str
    frame_idx: int
    timestamp_ms: int  # the recording's timestamp of frame_idx
    people: list[dict]  # bbox (YOLO cx, cy, w, h normalized), category_id, object_id, ...
    padded: bool  # the window runs past an end of the recording (policy pad)

    @property
    def key(self) -> tuple[str, int]:
        return self.sensor_id, self.frame_idx


class BuildReport(NamedTuple):
    """What ``build_dataset`` wrote and left out."""

    root: Path
    options: BuildOptions
    splits: dict[str, dict]  # split -> keyframes, boxes, recordings, class_counts
    recordings: dict[str, dict]  # sensor id -> source, frames, annotated_frames, keyframes...
    skipped_frames: dict[str, int]  # FRAME_REASONS key -> annotated frames left out
    skipped_boxes: dict[str, int]  # BOX_REASONS key -> boxes left out
    padded_windows: int  # kept keyframes whose window the loader edge-pads
    overlap: dict[str, dict[str, int]]  # "A~B" -> overlapping_windows of A, windows of A
    overlapping_windows: int  # windows overlapping a window of another split
    unused_recordings: list[str]  # recording files no annotation refers to
    files: list[Path]  # annotation and info files written
    classes_missing_from_train: dict[str, dict[str, int]]  # split -> class -> boxes


# ---------------------------------------------------------------------------------------
# Reading


def annotation_files(annotations: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The raw annotation files: each path is a ``.jsonl`` file or a folder of them."""
    paths = [annotations] if isinstance(annotations, (str, os.PathLike)) else annotations
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise DataError(path, "no raw annotation files (*.jsonl) in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(path, "annotation file or folder not found")
    names = Counter(path.name for path in files)
    twice = sorted(name for name, count in names.items() if count > 1)
    if twice:
        raise DataError(files[0].parent, f"two annotation files named {twice[0]!r}")
    return files


def read_raw_annotations(path: str | os.PathLike) -> list[RawFrame]:
    """Parse one JSONL file: one JSON object per non-empty line with ``data_id`` (a plain
    sensor id), ``data_time`` (ms) and ``annotations`` (list of objects). A malformed line
    raises ``DataError`` naming ``file:line``."""
    path = Path(path)
    frames = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(where, f"malformed JSON at column {exc.colno}: {exc.msg}") from None
        if not isinstance(record, dict):
            raise DataError(where, "expected a JSON object")
        sensor_id = check_sensor_id(record.get("data_id"), where)
        data_time = record.get("data_time")
        if not isinstance(data_time, int) or isinstance(data_time, bool):
            raise DataError(where, f"'data_time' must be a whole number of ms, got {data_time!r}")
        boxes = record.get("annotations")
        if not isinstance(boxes, list) or not all(isinstance(box, dict) for box in boxes):
            raise DataError(where, "'annotations' must be a list of objects")
        mac = record.get("mac_address")
        frames.append(RawFrame(where, sensor_id, data_time, mac if isinstance(mac, str) else None,
                               boxes))
    return frames


# ---------------------------------------------------------------------------------------
# Matching and filtering


def match_timestamps(
    timestamps_ms: np.ndarray, query_ms: Sequence[int], tolerance_ms: int
) -> np.ndarray:
    """Index of the nearest recording frame for each query time (the earlier one on a
    tie), or -1 where the nearest is more than ``tolerance_ms`` away. ``timestamps_ms``
    must be strictly increasing."""
    query = np.asarray(query_ms, dtype=np.int64)
    if not len(query):
        return np.empty(0, np.int64)
    last = len(timestamps_ms) - 1
    after = np.clip(np.searchsorted(timestamps_ms, query), 0, last)
    before = np.clip(after - 1, 0, last)
    take_before = np.abs(query - timestamps_ms[before]) <= np.abs(timestamps_ms[after] - query)
    nearest = np.where(take_before, before, after)
    return np.where(np.abs(timestamps_ms[nearest] - query) <= tolerance_ms, nearest, -1)


def _bbox_ok(bbox: object, frame_shape: tuple[int, int]) -> bool:
    if not isinstance(bbox, list) or len(bbox) != 4:
        return False
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
               for v in bbox):
        return False
    if bbox[2] <= 0 or bbox[3] <= 0:
        return False
    x1, y1, x2, y2 = yolo_to_xyxy(bbox, frame_shape[1], frame_shape[0])
    return bool(x2 > x1 and y2 > y1)


def person_boxes(
    annotations: list[dict], frame_shape: tuple[int, int], skipped: Counter
) -> list[dict]:
    """The person boxes with a known action class, as COCO annotation fields (``bbox``
    normalized YOLO ``[cx, cy, w, h]`` as given); every other box is counted in
    ``skipped`` by ``BOX_REASONS`` key."""
    people = []
    for position, box in enumerate(annotations):
        if box.get("category") != "person":
            skipped["not-person"] += 1
        elif box.get("subcategory") not in CLASS_NAMES:
            skipped["unknown-class"] += 1
        elif not _bbox_ok(box.get("bbox"), frame_shape):
            skipped["bad-box"] += 1
        else:
            object_id = box.get("object_id")
            category_id = CLASS_NAMES.index(box["subcategory"])
            people.append(dict(
                bbox=[float(v) for v in box["bbox"]],
                category_id=category_id,
                category_name=CLASS_NAMES[category_id],
                object_id=object_id if isinstance(object_id, int) else position,
                attribute_obscured=box.get("attribute_obscured"),
            ))
    return people


def recording_keyframes(
    source: SourceRecording,
    frames: Sequence[RawFrame],
    options: BuildOptions,
    skipped_frames: Counter,
    skipped_boxes: Counter,
) -> list[BuiltKeyframe]:
    """Keyframes of one recording from its annotated frames (taken in ``data_time`` order;
    the first line wins a frame), counting what is left out."""
    frames = sorted(frames, key=lambda frame: frame.data_time_ms)
    timestamps = source.timestamps_ms
    num_frames, half = len(timestamps), options.window // 2
    matched = match_timestamps(timestamps, [f.data_time_ms for f in frames], options.tolerance_ms)
    taken: set[int] = set()
    keyframes = []
    for frame, index in zip(frames, matched.tolist(), strict=True):
        if index < 0:
            skipped_frames["no-timestamp-match"] += 1
            continue
        if index in taken:
            skipped_frames["duplicate-frame"] += 1
            continue
        taken.add(index)
        people = person_boxes(frame.annotations, options.frame_shape, skipped_boxes)
        if not people:
            skipped_frames["no-person-boxes"] += 1
            continue
        padded = index - half < 0 or index - half + options.window > num_frames
        if padded and options.window_policy == "skip":
            skipped_frames["window-does-not-fit"] += 1
            continue
        keyframes.append(BuiltKeyframe(source.sensor_id, index, int(timestamps[index]), people,
                                       padded))
    return keyframes


# ---------------------------------------------------------------------------------------
# Splitting


def _split(
    by_recording: dict[str, list[BuiltKeyframe]], options: BuildOptions, where: Path
) -> dict[str, list[BuiltKeyframe]]:
    try:
        if options.split == "random":
            splits = random_split(by_recording, options.val_fraction, options.test_fraction,
                                  options.seed)
        else:
            members = group_split(
                [s for s, keyframes in by_recording.items() if keyframes],
                session_of if options.split == "session" else str,
                options.val_fraction, options.test_fraction, options.seed,
                options.holdout, options.test_holdout)
            splits = {name: [k for s in sensors for k in by_recording[s]]
                      for name, sensors in members.items()}
    except ValueError as exc:
        raise DataError(where, f"{options.split} split: {exc}") from None
    return {name: splits[name] for name in options.split_names}


# ---------------------------------------------------------------------------------------
# Writing


def _write_json(path: Path, content: Any) -> Path:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return path


def _coco_files(
    splits: dict[str, list[BuiltKeyframe]],
    by_recording: dict[str, list[BuiltKeyframe]],
    macs: dict[str, str],
    options: BuildOptions,
    ann_dir: Path,
) -> list[Path]:
    """Annotation ids run over every kept box in recording then time order (the seed's
    numbering); each split lists its images in split order and its boxes by id."""
    height, width = options.frame_shape
    box_ids: dict[tuple[str, int], list[int]] = {}
    next_id = 0
    for sensor_id in sorted(by_recording):
        for keyframe in by_recording[sensor_id]:
            box_ids[keyframe.key] = list(range(next_id, next_id + len(keyframe.people)))
            next_id += len(keyframe.people)
    written = []
    for name, keyframes in splits.items():
        images, boxes = [], []
        for keyframe in keyframes:
            image_id = f"{keyframe.sensor_id}_{keyframe.timestamp_ms}"
            images.append(dict(id=image_id, sensor_id=keyframe.sensor_id,
                               mac_address=macs[keyframe.sensor_id],
                               timestamp=keyframe.timestamp_ms, width=width, height=height,
                               frame_idx=keyframe.frame_idx))
            for box_id, person in zip(box_ids[keyframe.key], keyframe.people, strict=True):
                boxes.append(dict(id=box_id, image_id=image_id, bbox=person["bbox"],
                                  category_id=person["category_id"],
                                  category_name=person["category_name"],
                                  object_id=person["object_id"],
                                  attribute_obscured=person["attribute_obscured"]))
        boxes.sort(key=lambda box: box["id"])
        description = f"Thermal Sensor Human Action Detection Dataset ({DESCRIPTIONS[name]})"
        written.append(_write_json(ann_dir / f"{name}.json",
                                   coco_document(images, boxes, CLASS_NAMES, description)))
    written.append(_write_json(ann_dir / "class_mapping.json", class_mapping(CLASS_NAMES)))
    return written


def _split_counts(keyframes: list[BuiltKeyframe]) -> dict[str, Any]:
    classes = Counter(person["category_name"] for k in keyframes for person in k.people)
    return dict(
        keyframes=len(keyframes),
        boxes=sum(len(k.people) for k in keyframes),
        recordings=sorted({k.sensor_id for k in keyframes}),
        class_counts={name: classes[name] for name in CLASS_NAMES if classes[name]},
    )


def _convert_recording(
    source: SourceRecording,
    frames: list[RawFrame],
    options: BuildOptions,
    skipped_frames: Counter,
    skipped_boxes: Counter,
    frames_dir: Path,
) -> tuple[list[BuiltKeyframe], dict[str, Any]]:
    """Keyframes of one recording, and the recording written as ``frames_dir/<id>.h5``;
    returns the keyframes and the recording's measurements for the report."""
    keyframes = recording_keyframes(source, frames, options, skipped_frames, skipped_boxes)
    mac = source.attrs.get("mac_address")
    if not isinstance(mac, str):
        mac = next((frame.mac_address for frame in frames if frame.mac_address), "")
    timestamps = source.timestamps_ms
    write_recording(frames_dir / f"{source.sensor_id}.h5", source.temps_c, timestamps,
                    source.frame_seqs, sensor_id=source.sensor_id, mac_address=mac,
                    compression_level=options.compression_level,
                    corrupted_count=int(source.attrs.get("corrupted_count", 0)),
                    source_file=source.path.name)
    return keyframes, dict(
        source=source.path.name,
        mac_address=mac,
        frames=len(timestamps),
        min_timestamp=int(timestamps[0]),
        max_timestamp=int(timestamps[-1]),
        invalid_frames=int(invalid_mask(source.temps_c).any(axis=(1, 2)).sum()),
        annotated_frames=len(frames),
        keyframes=len(keyframes),
        boxes=sum(len(k.people) for k in keyframes),
        padded_windows=sum(k.padded for k in keyframes),
    )


def _write_annotations(
    staging: Path,
    splits: dict[str, list[BuiltKeyframe]],
    by_recording: dict[str, list[BuiltKeyframe]],
    recordings: dict[str, dict],
    files: list[Path],
    options: BuildOptions,
) -> list[Path]:
    """``annotations/*.json``, ``raw_annotations/`` copies and ``frames/sensor_info.json``."""
    ann_dir, raw_dir = staging / "annotations", staging / "raw_annotations"
    ann_dir.mkdir()
    raw_dir.mkdir()
    macs = {sensor_id: info["mac_address"] for sensor_id, info in recordings.items()}
    written = _coco_files(splits, by_recording, macs, options, ann_dir)
    for path in files:
        shutil.copyfile(path, raw_dir / path.name)
    sensor_info = {
        sensor_id: dict(hdf5_path=f"frames/{sensor_id}.h5", mac_address=info["mac_address"],
                        total_frames=info["frames"], frame_height=options.frame_shape[0],
                        frame_width=options.frame_shape[1], corrupted_frames=0,
                        invalid_frames=info["invalid_frames"],
                        annotation_count=info["keyframes"],
                        min_timestamp=info["min_timestamp"],
                        max_timestamp=info["max_timestamp"])
        for sensor_id, info in recordings.items()
    }
    written.append(_write_json(staging / "frames" / "sensor_info.json", sensor_info))
    return written


def _group_by_sensor(files: list[Path], sources: dict[str, Path],
                     recordings: Path) -> dict[str, list[RawFrame]]:
    raw: dict[str, list[RawFrame]] = defaultdict(list)
    for path in files:
        for frame in read_raw_annotations(path):
            raw[frame.sensor_id].append(frame)
    if not raw:
        raise DataError(files[0], "no annotated frames in the annotation files")
    missing = sorted(set(raw) - set(sources))
    if missing:
        raise DataError(raw[missing[0]][0].where,
                        f"data_id {missing[0]!r} has no recording in {recordings} (looked for "
                        f"{missing[0]} with suffix {', '.join(READERS)})")
    return dict(sorted(raw.items()))


# ---------------------------------------------------------------------------------------
# Entry point


def build_dataset(
    annotations: str | os.PathLike | Sequence[str | os.PathLike],
    recordings: str | os.PathLike,
    out: str | os.PathLike,
    options: BuildOptions = BuildOptions(),
    progress: Callable[[int, int], None] | None = None,
    output: OutputKind = BUILD_OUTPUT,
    extra_info: dict[str, Any] | None = None,
    extra_folders: Sequence[Path] = (),
) -> BuildReport:
    """Build a dataset folder at ``out`` from raw annotation JSONL files (``annotations``:
    files and/or folders of ``*.jsonl``) and the recordings folder ``recordings`` (``.h5``,
    ``.hdf5``, ``.npz``, ``.npy`` or ``.csv`` per sensor, see ``sources``).

    ``out`` must be missing or empty; with ``options.overwrite`` it may also be a previous
    build output holding nothing else (``output_folder.check_output_folder``). Bad input raises
    ``DataError`` (file, line where it applies, problem) and leaves ``out`` untouched; so
    does a split whose windows overlap across splits when ``options.allow_overlap`` is
    false. ``progress(done, total)`` is called with 0 before the first recording and
    after each. ``output`` names the writer in ``dataset_info.json`` (another tool that
    feeds this builder, such as the simulator, passes its own), and ``extra_info`` adds
    entries to that file (the simulator's settings); ``extra_folders`` are copied into
    the dataset under their own names (the simulator's per-frame person tracks).
    """
    started = time.monotonic()
    out, recordings = Path(out), Path(recordings)
    files = annotation_files(annotations)
    sources = find_recordings(recordings)
    check_output_folder(out, options.overwrite, output, [*files, recordings])
    raw = _group_by_sensor(files, sources, recordings)

    skipped_frames = Counter(dict.fromkeys(FRAME_REASONS, 0))
    skipped_boxes = Counter(dict.fromkeys(BOX_REASONS, 0))
    with staged_folder(out) as staging:
        by_recording, recording_info = _convert_recordings(
            raw, sources, options, skipped_frames, skipped_boxes, staging / "frames", progress)
        if not any(by_recording.values()):
            raise DataError(files[0], "no keyframe kept; left out: " + ", ".join(
                f"{reason} {count}" for reason, count in skipped_frames.items() if count))
        splits = _split(by_recording, options, files[0].parent)
        overlap, overlapping = _checked_overlap(splits, options, out)
        written = _write_annotations(staging, splits, by_recording, recording_info, files,
                                     options)
        counts = {name: _split_counts(keyframes) for name, keyframes in splits.items()}
        report = BuildReport(
            root=out,
            options=options,
            splits=counts,
            recordings=recording_info,
            skipped_frames=dict(skipped_frames),
            skipped_boxes=dict(skipped_boxes),
            padded_windows=sum(k.padded for keyframes in splits.values() for k in keyframes),
            overlap=overlap,
            overlapping_windows=overlapping,
            unused_recordings=sorted(set(sources) - set(raw)),
            files=[out / path.relative_to(staging) for path in written]
            + [out / "dataset_info.json"],
            classes_missing_from_train=classes_missing_from_training(
                {name: split["class_counts"] for name, split in counts.items()}),
        )
        for folder in extra_folders:
            shutil.copytree(folder, staging / Path(folder).name)
        info = _dataset_info(report, files, recordings, time.monotonic() - started)
        _write_json(staging / "dataset_info.json",
                    {**info, "generator": output.generator, **(extra_info or {})})
    return report


def _convert_recordings(
    raw: dict[str, list[RawFrame]],
    sources: dict[str, Path],
    options: BuildOptions,
    skipped_frames: Counter,
    skipped_boxes: Counter,
    frames_dir: Path,
    progress: Callable[[int, int], None] | None,
) -> tuple[dict[str, list[BuiltKeyframe]], dict[str, dict]]:
    """Every annotated recording read, matched and written into ``frames_dir``."""
    frames_dir.mkdir()
    by_recording: dict[str, list[BuiltKeyframe]] = {}
    recording_info: dict[str, dict] = {}
    if progress is not None:
        progress(0, len(raw))
    for done, (sensor_id, frames) in enumerate(raw.items(), start=1):
        source = read_source(sources[sensor_id], options.frame_shape)
        by_recording[sensor_id], recording_info[sensor_id] = _convert_recording(
            source, frames, options, skipped_frames, skipped_boxes, frames_dir)
        if progress is not None:
            progress(done, len(raw))
    return by_recording, recording_info


def _checked_overlap(splits: dict[str, list[BuiltKeyframe]], options: BuildOptions,
                     out: Path) -> tuple[dict, int]:
    """The window overlap across splits; a split that overlaps is refused unless allowed."""
    overlap, overlapping = split_overlap(
        {name: [k.key for k in keyframes] for name, keyframes in splits.items()},
        options.window)
    if overlapping and not options.allow_overlap:
        raise DataError(out, f"{options.split} split: {overlapping} of "
                             f"{sum(map(len, splits.values()))} {options.window}-frame "
                             "windows overlap a window of another split in the same "
                             "recording; use the recording or session split, or allow it "
                             "(--allow-overlap, allow_overlap=True)")
    return overlap, overlapping


def _dataset_info(report: BuildReport, files: list[Path], recordings: Path,
                  duration_s: float) -> dict[str, Any]:
    options = report.options
    annotations: dict[str, Any] = {}
    for name, counts in report.splits.items():
        annotations[f"{name}_images"] = counts["keyframes"]
    for name, counts in report.splits.items():
        annotations[f"{name}_annotations"] = counts["boxes"]
    annotations.update(total_classes=len(CLASS_NAMES), storage_directory="annotations")
    return dict(
        generation_time=datetime.now(UTC).isoformat(),
        duration_seconds=round(duration_s, 3),
        configuration=dict(
            split=options.split, val_split=options.val_fraction,
            test_split=options.test_fraction, random_seed=options.seed,
            holdout=list(options.holdout), test_holdout=list(options.test_holdout),
            tolerance_ms=options.tolerance_ms, window=options.window,
            window_policy=options.window_policy, allow_overlap=options.allow_overlap,
            frame_shape=list(options.frame_shape), compression="gzip",
            compression_level=options.compression_level),
        sources=dict(annotations=[str(path) for path in files], recordings=str(recordings),
                     recording_files={s: info["source"] for s, info in report.recordings.items()},
                     unused_recordings=report.unused_recordings),
        frames=dict(total_sensors=len(report.recordings),
                    total_frames=sum(info["frames"] for info in report.recordings.values()),
                    corrupted_frames=0, storage_directory="frames"),
        annotations=annotations,
        split={name: counts["recordings"] for name, counts in report.splits.items()},
        skipped=dict(frames=report.skipped_frames, boxes=report.skipped_boxes),
        padded_windows=report.padded_windows,
        overlap=dict(overlapping_windows=report.overlapping_windows, pairs=report.overlap),
        classes_missing_from_train=report.classes_missing_from_train,
    )


def report_to_json(report: BuildReport) -> dict[str, Any]:
    """The report as plain JSON-serializable data."""
    return dict(
        root=str(report.root),
        options=asdict(report.options),
        splits=report.splits,
        recordings=report.recordings,
        skipped_frames=report.skipped_frames,
        skipped_boxes=report.skipped_boxes,
        padded_windows=report.padded_windows,
        overlapping_windows=report.overlapping_windows,
        overlap=report.overlap,
        unused_recordings=report.unused_recordings,
        files=[str(path) for path in report.files],
        classes_missing_from_train=report.classes_missing_from_train,
    )


def format_class_counts(counts: dict[str, int]) -> str:
    """``name count, ...`` in descending count."""
    return ", ".join(f"{name} {count}" for name, count in
                     sorted(counts.items(), key=lambda item: -item[1]))


def _counts(counts: dict[str, int]) -> str:
    shown = [f"{reason} {count}" for reason, count in counts.items() if count]
    return ", ".join(shown) if shown else "none"


def format_summary(report: BuildReport) -> str:
    """A short text summary: kept keyframes and boxes per split, what was left out and
    why, window overlap across splits, and the files written."""
    options = report.options
    how = (f"split {options.split}, seed {options.seed}, "
           + (f"holdout {' '.join(options.holdout)}" if options.holdout
              else f"val {options.val_fraction:g}")
           + (f", test holdout {' '.join(options.test_holdout)}" if options.test_holdout
              else f", test {options.test_fraction:g}" if options.test_fraction else ""))
    lines = [f"built {report.root} ({how})"]
    width = max(len(name) for name in report.splits)
    for name, counts in report.splits.items():
        recordings = counts["recordings"]
        lines.append(f"  {name.ljust(width)}  {counts['keyframes']:5d} keyframes  "
                     f"{counts['boxes']:5d} person boxes  {len(recordings)} recording"
                     f"{'s' * (len(recordings) != 1)}"
                     + (f" ({', '.join(recordings)})" if options.split != "random" else ""))
    lines.append(f"left out, annotated frames: {_counts(report.skipped_frames)}")
    lines.append(f"left out, boxes: {_counts(report.skipped_boxes)}")
    if options.window_policy == "pad" or report.padded_windows:
        lines.append(f"edge-padded windows: {report.padded_windows}")
    total = sum(counts["keyframes"] for counts in report.splits.values())
    lines.append(f"windows overlapping another split: {report.overlapping_windows} of {total}"
                 + (" (allowed)" if report.overlapping_windows else ""))
    for split, missing in report.classes_missing_from_train.items():
        lines.append(f"warning: {split} holds classes that train lacks (a model trained on "
                     f"train cannot score them): {format_class_counts(missing)}")
    if report.unused_recordings:
        lines.append(f"recordings without annotations (not written): "
                     f"{', '.join(report.unused_recordings)}")
    lines.append(f"recordings: {report.root / 'frames'} ({len(report.recordings)} files)")
    lines.append(f"annotations: {report.root / 'annotations'} "
                 f"({', '.join(f'{name}.json' for name in report.splits)})")
    return "\n".join(lines)
