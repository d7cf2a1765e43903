"""Dataset validation: check a dataset root before training and report what is wrong.

A dataset root holds ``frames/<sensor_id>.h5`` (``frames`` (N, H, W) float deg C,
``timestamps`` (N,) int64 ms, optional ``frame_seqs`` (N,) int64) and
``annotations/*.json`` (COCO keyframes with normalized YOLO boxes; ``class_mapping.json`` is
skipped). ``validate_dataset`` checks recordings, annotations and train/val window leakage
and returns a ``ValidationReport``; ``format_report`` and ``report_to_json`` render it.
Problems are returned as ``Finding`` records, never raised or printed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from itertools import permutations
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from thermal_action.data.annotations import Keyframe, load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.sensor import WINDOW_FRAMES
from thermal_action.data.tools.splits import classes_missing_from_training, overlapping_windows
from thermal_action.data.transforms.functional import invalid_mask
from thermal_action.errors import DataError

GAP_MS = 1000
"""Frame intervals longer than this (ms) are reported as gaps."""
TEMP_RANGE_C = (-20.0, 80.0)
"""Valid readings outside this range (deg C) are reported as implausible."""
BOX_TOLERANCE = 0.01
"""How far (normalized units) a box may reach outside 0..1 before it is reported."""
READ_BLOCK_FRAMES = 1024
"""Frames read at a time when scanning a recording (bounds memory on long recordings)."""
MAX_EXAMPLES = 8
"""Examples named in one aggregated finding."""
SKIPPED_ANNOTATIONS = ("class_mapping.json",)


class Finding(NamedTuple):
    """One problem found in the dataset."""

    severity: str  # "error" (unusable or inconsistent) or "warning" (usable, worth knowing)
    code: str  # short slug, e.g. "invalid-pixels", "window-overlap"
    path: str  # the file the finding concerns
    message: str  # one line


class ValidationReport(NamedTuple):
    """Everything ``validate_dataset`` measured and found."""

    root: Path
    findings: list[Finding]
    recordings: dict[str, dict]  # sensor id -> measurements (see ``_check_recording``)
    splits: dict[str, dict]  # split name (file stem) -> keyframes, boxes, class counts
    leakage: dict  # "A~B" -> {"overlapping_windows": n, "windows": m}: windows of A vs B

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors


def _examples(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_EXAMPLES])
    more = len(items) - MAX_EXAMPLES
    return shown + (f", ... (+{more} more)" if more > 0 else "")


# ---------------------------------------------------------------------------------------
# Recordings


def _strictly_increasing(values: np.ndarray) -> tuple[int, int]:
    """Number of non-increasing steps and the index of the first one (-1 if none)."""
    bad = np.flatnonzero(np.diff(values) <= 0)
    return len(bad), (int(bad[0]) + 1 if len(bad) else -1)


def _check_recording(path: Path, findings: list[Finding]) -> dict | None:
    """Check one HDF5 recording; append findings and return its measurements (None when
    it cannot be read at all). Intervals in ms, temperatures in deg C."""
    where = str(path)

    def error(code: str, message: str) -> None:
        findings.append(Finding("error", code, where, message))

    def warning(code: str, message: str) -> None:
        findings.append(Finding("warning", code, where, message))

    try:
        with h5py.File(path, "r") as file:
            missing = [key for key in ("frames", "timestamps") if key not in file]
            if missing:
                error("missing-dataset", f"missing dataset(s) {', '.join(missing)}")
                return None
            frames, timestamps = file["frames"], file["timestamps"]
            if frames.ndim != 3 or not np.issubdtype(frames.dtype, np.floating):
                error("bad-frames",
                      f"'frames' must be (N, H, W) float, got {frames.shape} {frames.dtype}")
                return None
            num_frames, height, width = (int(n) for n in frames.shape)
            if num_frames == 0:
                error("empty-recording", "recording has no frames")
                return None
            timestamps_ms = np.asarray(timestamps[()], dtype=np.int64)
            frame_seqs = np.asarray(file["frame_seqs"][()]) if "frame_seqs" in file else None

            invalid_per_frame = np.zeros(num_frames, np.int64)
            nonfinite_frames, temp_min, temp_max = 0, np.inf, -np.inf
            for start in range(0, num_frames, READ_BLOCK_FRAMES):
                block = np.asarray(frames[start : start + READ_BLOCK_FRAMES], dtype=np.float32)
                nonfinite_frames += int((~np.isfinite(block)).any(axis=(1, 2)).sum())
                invalid = invalid_mask(block)
                invalid_per_frame[start : start + len(block)] = invalid.sum(axis=(1, 2))
                valid = block[~invalid]
                if valid.size:
                    temp_min = min(temp_min, float(valid.min()))
                    temp_max = max(temp_max, float(valid.max()))
    except OSError as exc:
        error("unreadable", f"not a readable HDF5 file ({exc})")
        return None

    if timestamps_ms.shape != (num_frames,):
        error("bad-timestamps",
              f"'timestamps' has shape {timestamps_ms.shape}, expected ({num_frames},)")
        timestamps_ms = timestamps_ms.reshape(-1)[:num_frames]
    steps, first = _strictly_increasing(timestamps_ms)
    if steps:
        error("timestamps-not-increasing",
              f"'timestamps' not strictly increasing: {steps} step(s), first at frame {first}")
    if frame_seqs is not None:
        if frame_seqs.shape != (num_frames,):
            error("bad-frame-seqs",
                  f"'frame_seqs' has shape {frame_seqs.shape}, expected ({num_frames},)")
        else:
            steps, first = _strictly_increasing(frame_seqs)
            if steps:
                error("frame-seqs-not-increasing",
                      f"'frame_seqs' not strictly increasing: {steps} step(s), "
                      f"first at frame {first}")
    if nonfinite_frames:
        error("non-finite", f"{nonfinite_frames} frame(s) contain NaN or infinite values")

    invalid_frames = int((invalid_per_frame > 0).sum())
    max_invalid = int(invalid_per_frame.max())
    if invalid_frames:
        warning("invalid-pixels",
                f"{invalid_frames} of {num_frames} frames contain invalid pixels (-273.2 or "
                f"non-finite), up to {max_invalid} of {height * width} pixels in one frame")
    if max_invalid == height * width and invalid_frames:
        full = int((invalid_per_frame == height * width).sum())
        warning("all-invalid-frame", f"{full} frame(s) have no valid pixel at all")
    low, high = TEMP_RANGE_C
    if np.isfinite(temp_min) and (temp_min < low or temp_max > high):
        warning("temperature-range",
                f"valid readings span {temp_min:.1f}..{temp_max:.1f} deg C, "
                f"outside the plausible {low:g}..{high:g} deg C")

    intervals = np.diff(timestamps_ms).astype(np.float64)
    median_ms = float(np.median(intervals)) if intervals.size else None
    max_ms = float(intervals.max()) if intervals.size else None
    gaps = int((intervals > GAP_MS).sum())
    if gaps:
        warning("timing-gap",
                f"{gaps} frame interval(s) over {GAP_MS} ms, longest {max_ms:.0f} ms")
    return dict(
        num_frames=num_frames,
        height=height,
        width=width,
        median_interval_ms=median_ms,
        max_interval_ms=max_ms,
        fps=1000.0 / median_ms if median_ms else None,
        gaps_over_1s=gaps,
        invalid_frames=invalid_frames,
        max_invalid_pixels=max_invalid,
        temp_min_c=temp_min if np.isfinite(temp_min) else None,
        temp_max_c=temp_max if np.isfinite(temp_max) else None,
    )


# ---------------------------------------------------------------------------------------
# Annotations


def _raw_boxes(path: Path) -> list[tuple[str, list[float]]]:
    """(image id, normalized [cx, cy, w, h]) of every annotation in an already parsed file."""
    with path.open(encoding="utf-8") as stream:
        content = json.load(stream)
    return [(str(ann["image_id"]), [float(v) for v in ann["bbox"]])
            for ann in content["annotations"]]


def _check_split(
    path: Path,
    recordings: dict[str, dict],
    existing: set[str],
    findings: list[Finding],
) -> tuple[dict, list[Keyframe]] | None:
    """Check one annotation file; return its counts and keyframes (None when unparsable).

    ``recordings`` holds measurements of readable recordings, ``existing`` every sensor id
    with an HDF5 file (readable or not).
    """
    where = str(path)
    try:
        keyframes, without_people = load_keyframes(path, CLASS_NAMES)
        boxes = _raw_boxes(path)
    except DataError as exc:
        findings.append(Finding("error", "bad-annotations", where, str(exc)))
        return None

    outside = []
    for image_id, (cx, cy, w, h) in boxes:
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if min(x1, y1) < -BOX_TOLERANCE or max(x2, y2) > 1 + BOX_TOLERANCE:
            outside.append(f"{image_id} [{cx:.3g}, {cy:.3g}, {w:.3g}, {h:.3g}]")
    if outside:
        findings.append(Finding(
            "warning", "box-outside-frame", where,
            f"{len(outside)} box(es) reach outside the frame (normalized 0..1 +- "
            f"{BOX_TOLERANCE}, clipped on load): {_examples(outside)}"))

    missing: dict[str, int] = Counter()
    for kf in keyframes:
        if kf.sensor_id not in existing:
            missing[kf.sensor_id] += 1
        elif kf.sensor_id in recordings:
            num_frames = recordings[kf.sensor_id]["num_frames"]
            if kf.frame_idx >= num_frames:
                findings.append(Finding(
                    "error", "keyframe-outside-recording", where,
                    f"image {kf.image_id!r}: frame_idx {kf.frame_idx} is outside recording "
                    f"{kf.sensor_id} (0..{num_frames - 1})"))
    for sensor_id, count in sorted(missing.items()):
        findings.append(Finding(
            "error", "missing-recording", where,
            f"{count} keyframe(s) reference recording {sensor_id!r}, but "
            f"frames/{sensor_id}.h5 does not exist"))

    seen: dict[tuple[str, int], str] = {}
    duplicates = []
    for kf in keyframes:
        key = (kf.sensor_id, kf.frame_idx)
        if key in seen:
            duplicates.append(f"{kf.sensor_id}@{kf.frame_idx} ({seen[key]}, {kf.image_id})")
        else:
            seen[key] = kf.image_id
    if duplicates:
        findings.append(Finding(
            "warning", "duplicate-keyframe", where,
            f"{len(duplicates)} keyframe(s) annotated twice: {_examples(duplicates)}"))

    class_counts = Counter(CLASS_NAMES[int(label)] for kf in keyframes for label in kf.labels)
    counts = dict(
        keyframes=len(keyframes),
        images_without_people=without_people,
        boxes=int(sum(len(kf.labels) for kf in keyframes)),
        class_counts={name: class_counts[name] for name in CLASS_NAMES if class_counts[name]},
    )
    return counts, keyframes


def _check_window_fit(
    path: Path, keyframes: list[Keyframe], recordings: dict[str, dict], window: int,
    findings: list[Finding],
) -> None:
    """Warn about keyframes whose window ``[idx - window/2, idx + window/2)`` runs past
    either end of the recording (the loader edge-pads those)."""
    half = window // 2
    padded = []
    for kf in keyframes:
        info = recordings.get(kf.sensor_id)
        if info is None or kf.frame_idx >= info["num_frames"]:
            continue  # reported as an error already
        if kf.frame_idx - half < 0 or kf.frame_idx - half + window > info["num_frames"]:
            padded.append(f"{kf.sensor_id}@{kf.frame_idx}")
    if padded:
        findings.append(Finding(
            "warning", "window-fit", str(path),
            f"{len(padded)} keyframe(s) lie within {half} frames of a recording end; their "
            f"{window}-frame windows will be edge-padded: {_examples(padded)}"))


def _check_across_splits(
    split_keyframes: dict[str, tuple[Path, list[Keyframe]]], window: int,
    findings: list[Finding],
) -> dict:
    """Errors for keyframes shared by two splits; warnings and counts for overlapping
    windows. Two windows of ``window`` frames around keyframes ``a`` and ``b`` of the same
    recording overlap when ``|a - b| < window``."""
    names = list(split_keyframes)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            keys_a = {(kf.sensor_id, kf.frame_idx) for kf in split_keyframes[first][1]}
            keys_b = {(kf.sensor_id, kf.frame_idx) for kf in split_keyframes[second][1]}
            shared = sorted(keys_a & keys_b)
            if shared:
                findings.append(Finding(
                    "error", "keyframe-in-two-splits", str(split_keyframes[second][0]),
                    f"{len(shared)} keyframe(s) also in {split_keyframes[first][0].name}: "
                    f"{_examples([f'{s}@{i}' for s, i in shared])}"))

    leakage = {}
    for first, second in permutations(names, 2):
        path_a, keyframes_a = split_keyframes[first]
        path_b, keyframes_b = split_keyframes[second]
        overlapping = overlapping_windows(
            [(kf.sensor_id, kf.frame_idx) for kf in keyframes_a],
            [(kf.sensor_id, kf.frame_idx) for kf in keyframes_b], window)
        leakage[f"{first}~{second}"] = dict(
            overlapping_windows=overlapping, windows=len(keyframes_a))
        if overlapping:
            findings.append(Finding(
                "warning", "window-overlap", str(path_a),
                f"{overlapping} of {len(keyframes_a)} {window}-frame windows overlap a window "
                f"of {path_b.name} in the same recording (the splits share frames; a split by "
                "recording avoids this)"))
    return leakage


# ---------------------------------------------------------------------------------------
# Entry points


def validate_dataset(
    root: str | os.PathLike, window: int = WINDOW_FRAMES
) -> ValidationReport:
    """Check every recording and annotation file under ``root``.

    ``window`` is the sample length in frames: a sample is ``[idx - window/2,
    idx + window/2)`` around each keyframe. Raises ``DataError`` only when ``root`` itself
    is not a folder; everything else becomes a ``Finding``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    if window < 1:
        raise ValueError(f"window must be a positive number of frames, got {window}")
    findings: list[Finding] = []

    frames_dir, ann_dir = root / "frames", root / "annotations"
    h5_paths = sorted(frames_dir.glob("*.h5")) if frames_dir.is_dir() else []
    if not h5_paths:
        findings.append(Finding("error", "no-recordings", str(frames_dir),
                                "no frames/*.h5 recordings found"))
    recordings: dict[str, dict] = {}
    for path in h5_paths:
        info = _check_recording(path, findings)
        if info is not None:
            recordings[path.stem] = info
    existing = {path.stem for path in h5_paths}

    ann_paths = sorted(
        p for p in (ann_dir.glob("*.json") if ann_dir.is_dir() else [])
        if p.name not in SKIPPED_ANNOTATIONS
    )
    if not ann_paths:
        findings.append(Finding("error", "no-annotations", str(ann_dir),
                                "no annotations/*.json files found"))
    splits: dict[str, dict] = {}
    split_keyframes: dict[str, tuple[Path, list[Keyframe]]] = {}
    for path in ann_paths:
        checked = _check_split(path, recordings, existing, findings)
        if checked is None:
            continue
        splits[path.stem], keyframes = checked
        split_keyframes[path.stem] = (path, keyframes)
        _check_window_fit(path, keyframes, recordings, window, findings)
    leakage = _check_across_splits(split_keyframes, window, findings)
    if split_keyframes:
        _check_coverage(frames_dir, existing, split_keyframes, splits, findings)
    return ValidationReport(root, findings, recordings, splits, leakage)


def _check_coverage(
    frames_dir: Path,
    existing: set[str],
    split_keyframes: dict[str, tuple[Path, list[Keyframe]]],
    splits: dict[str, dict],
    findings: list[Finding],
) -> None:
    """Warn about recordings that no split references (left over from an earlier dataset?)
    and about classes an evaluation split holds but the train split has no example of."""
    referenced = {kf.sensor_id for _, keyframes in split_keyframes.values() for kf in keyframes}
    unreferenced = sorted(existing - referenced)
    if unreferenced:
        findings.append(Finding(
            "warning", "unreferenced-recording", str(frames_dir),
            f"{len(unreferenced)} recording(s) are referenced by no split: "
            f"{_examples(unreferenced)}"))
    if "train" not in splits:
        return
    missing = classes_missing_from_training(
        {name: counts["class_counts"] for name, counts in splits.items()})
    for name, classes in missing.items():
        listed = ", ".join(f"{cls} {count}" for cls, count in
                           sorted(classes.items(), key=lambda item: -item[1]))
        findings.append(Finding(
            "warning", "class-missing-from-train", str(split_keyframes[name][0]),
            f"{len(classes)} class(es) with no example in {split_keyframes['train'][0].name} "
            f"(person boxes): {listed}"))


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_report(report: ValidationReport) -> str:
    """Readable text: recordings table, split counts, leakage, findings, totals line."""
    lines = [f"dataset: {report.root}", "", "recordings:"]
    header = ("sensor", "frames", "median ms", "max gap ms", "fps", "invalid frames",
              "temp range C")
    rows = [header] + [
        (sensor, str(info["num_frames"]), _fmt(info["median_interval_ms"], ".0f"),
         _fmt(info["max_interval_ms"], ".0f"), _fmt(info["fps"], ".1f"),
         f"{info['invalid_frames']}" + (f" (max {info['max_invalid_pixels']} px)"
                                        if info["invalid_frames"] else ""),
         f"{_fmt(info['temp_min_c'], '.1f')}..{_fmt(info['temp_max_c'], '.1f')}")
        for sensor, info in report.recordings.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  " + "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip())
    lines += ["", "splits:"]
    for name, counts in report.splits.items():
        classes = ", ".join(f"{k} {v}" for k, v in
                            sorted(counts["class_counts"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  {name}: {counts['keyframes']} keyframes, {counts['boxes']} boxes"
                     + (f" ({classes})" if classes else ""))
    if report.leakage:
        lines += ["", "leakage (windows overlapping a window of the other split):"]
        for pair, counts in report.leakage.items():
            lines.append(f"  {pair}: {counts['overlapping_windows']} of {counts['windows']}")
    for severity in ("error", "warning"):
        group = [f for f in report.findings if f.severity == severity]
        if group:
            lines += ["", f"{severity}s:"]
            lines += [f"  [{f.code}] {f.path}: {f.message}" for f in group]
    errors, warnings = len(report.errors), len(report.warnings)
    lines += ["", f"{errors} error{'s' * (errors != 1)}, "
                  f"{warnings} warning{'s' * (warnings != 1)}"]
    return "\n".join(lines)


def report_to_json(report: ValidationReport) -> dict[str, Any]:
    """The report as plain JSON-serializable data."""
    return dict(
        root=str(report.root),
        ok=report.ok,
        num_errors=len(report.errors),
        num_warnings=len(report.warnings),
        recordings=report.recordings,
        splits=report.splits,
        leakage=report.leakage,
        findings=[f._asdict() for f in report.findings],
    )
