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

import numpy as np

from thermal_action.data.annotations import Keyframe, load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.dataset_root import (
    SENSOR_INFO,
    check_root,
    recording_paths,
    sensor_geometry,
    split_files,
)
from thermal_action.data.recording import (
    RecordingError,
    RecordingScan,
    not_increasing_problem,
    scan_recording,
)
from thermal_action.data.sensor import GAP_MS, SENSOR_SHAPE, WINDOW_FRAMES
from thermal_action.data.tools.splits import classes_missing_from_training, overlapping_windows
from thermal_action.errors import DataError

TEMP_RANGE_C = (-20.0, 80.0)
"""Valid readings outside this range (deg C) are reported as implausible."""
BOX_TOLERANCE = 0.01
"""How far (normalized units) a box may reach outside 0..1 before it is reported."""
MAX_EXAMPLES = 8
"""Examples named in one aggregated finding."""


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


def _check_recording(
    path: Path, frame_shape: tuple[int, int] | None, findings: list[Finding]
) -> dict | None:
    """Scan one recording, append its findings and return its measurements (None when it
    cannot be read at all)."""
    try:
        scan = scan_recording(path, frame_shape=frame_shape)
    except RecordingError as exc:
        findings.append(Finding("error", exc.code, str(path), exc.problem))
        return None
    findings.extend(recording_findings(scan))
    return recording_measurements(scan)


def recording_findings(scan: RecordingScan) -> list[Finding]:
    """Errors (timestamps, frame counters, non-finite values) and warnings (invalid
    pixels, implausible temperatures, timing gaps) of one scanned recording."""
    where, found = str(scan.info.path), []
    num_frames, pixels = scan.info.num_frames, scan.info.height * scan.info.width
    timestamps = scan.timestamps_ms
    if timestamps.shape != (num_frames,):
        found.append(Finding("error", "bad-timestamps", where, f"'timestamps' has shape "
                             f"{timestamps.shape}, expected ({num_frames},)"))
        timestamps = timestamps[:num_frames]
    problem = not_increasing_problem("timestamps", timestamps)
    if problem:
        found.append(Finding("error", "timestamps-not-increasing", where, problem))
    if scan.frame_seqs is not None and scan.frame_seqs.shape != (num_frames,):
        found.append(Finding("error", "bad-frame-seqs", where, f"'frame_seqs' has shape "
                             f"{scan.frame_seqs.shape}, expected ({num_frames},)"))
    elif scan.frame_seqs is not None:
        problem = not_increasing_problem("frame_seqs", scan.frame_seqs)
        if problem:
            found.append(Finding("error", "frame-seqs-not-increasing", where, problem))
    if scan.nonfinite_frames:
        found.append(Finding("error", "non-finite", where,
                             f"{scan.nonfinite_frames} frame(s) contain NaN or infinite values"))
    return found + _recording_warnings(scan, timestamps, pixels)


def _recording_warnings(scan: RecordingScan, timestamps: np.ndarray,
                        pixels: int) -> list[Finding]:
    where, found = str(scan.info.path), []
    invalid_frames = int((scan.invalid_per_frame > 0).sum())
    max_invalid = int(scan.invalid_per_frame.max())
    if invalid_frames:
        found.append(Finding(
            "warning", "invalid-pixels", where,
            f"{invalid_frames} of {scan.info.num_frames} frames contain invalid pixels "
            f"(-273.2 or non-finite), up to {max_invalid} of {pixels} pixels in one frame"))
    if max_invalid == pixels:
        full = int((scan.invalid_per_frame == pixels).sum())
        found.append(Finding("warning", "all-invalid-frame", where,
                             f"{full} frame(s) have no valid pixel at all"))
    low, high = TEMP_RANGE_C
    if scan.valid_min_c is not None and (scan.valid_min_c < low or scan.valid_max_c > high):
        found.append(Finding(
            "warning", "temperature-range", where,
            f"valid readings span {scan.valid_min_c:.1f}..{scan.valid_max_c:.1f} deg C, "
            f"outside the plausible {low:g}..{high:g} deg C"))
    intervals = np.diff(timestamps).astype(np.float64)
    gaps = int((intervals > GAP_MS).sum())
    if gaps:
        found.append(Finding("warning", "timing-gap", where, f"{gaps} frame interval(s) over "
                             f"{GAP_MS} ms, longest {intervals.max():.0f} ms"))
    return found


def recording_measurements(scan: RecordingScan) -> dict:
    """Frames, size, timing (ms, fps), invalid-pixel counts and valid temperature range
    (deg C) of one scanned recording, as plain JSON-ready values."""
    intervals = np.diff(scan.timestamps_ms[: scan.info.num_frames]).astype(np.float64)
    median_ms = float(np.median(intervals)) if intervals.size else None
    return dict(
        num_frames=scan.info.num_frames,
        height=scan.info.height,
        width=scan.info.width,
        median_interval_ms=median_ms,
        max_interval_ms=float(intervals.max()) if intervals.size else None,
        fps=1000.0 / median_ms if median_ms else None,
        gaps_over_1s=int((intervals > GAP_MS).sum()),
        invalid_frames=int((scan.invalid_per_frame > 0).sum()),
        max_invalid_pixels=int(scan.invalid_per_frame.max()),
        temp_min_c=scan.valid_min_c,
        temp_max_c=scan.valid_max_c,
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
    try:
        keyframes, without_people = load_keyframes(path, CLASS_NAMES)
        boxes = _raw_boxes(path)
    except DataError as exc:
        findings.append(Finding("error", "bad-annotations", str(path), str(exc)))
        return None
    findings.extend(_box_findings(path, boxes))
    findings.extend(_reference_findings(path, keyframes, recordings, existing))
    findings.extend(_duplicate_findings(path, keyframes))
    class_counts = Counter(CLASS_NAMES[int(label)] for kf in keyframes for label in kf.labels)
    counts = dict(
        keyframes=len(keyframes),
        images_without_people=without_people,
        boxes=int(sum(len(kf.labels) for kf in keyframes)),
        class_counts={name: class_counts[name] for name in CLASS_NAMES if class_counts[name]},
    )
    return counts, keyframes


def _box_findings(path: Path, boxes: list[tuple[str, list[float]]]) -> list[Finding]:
    outside = []
    for image_id, (cx, cy, w, h) in boxes:
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if min(x1, y1) < -BOX_TOLERANCE or max(x2, y2) > 1 + BOX_TOLERANCE:
            outside.append(f"{image_id} [{cx:.3g}, {cy:.3g}, {w:.3g}, {h:.3g}]")
    if not outside:
        return []
    return [Finding("warning", "box-outside-frame", str(path),
                    f"{len(outside)} box(es) reach outside the frame (normalized 0..1 +- "
                    f"{BOX_TOLERANCE}, clipped on load): {_examples(outside)}")]


def _reference_findings(path: Path, keyframes: list[Keyframe], recordings: dict[str, dict],
                        existing: set[str]) -> list[Finding]:
    """Keyframes of recordings that do not exist, or past their recording's end."""
    found, missing = [], Counter()
    for kf in keyframes:
        if kf.sensor_id not in existing:
            missing[kf.sensor_id] += 1
        elif kf.sensor_id in recordings:
            num_frames = recordings[kf.sensor_id]["num_frames"]
            if kf.frame_idx >= num_frames:
                found.append(Finding(
                    "error", "keyframe-outside-recording", str(path),
                    f"image {kf.image_id!r}: frame_idx {kf.frame_idx} is outside recording "
                    f"{kf.sensor_id} (0..{num_frames - 1})"))
    for sensor_id, count in sorted(missing.items()):
        found.append(Finding(
            "error", "missing-recording", str(path),
            f"{count} keyframe(s) reference recording {sensor_id!r}, but "
            f"frames/{sensor_id}.h5 does not exist"))
    return found


def _duplicate_findings(path: Path, keyframes: list[Keyframe]) -> list[Finding]:
    seen: dict[tuple[str, int], str] = {}
    duplicates = []
    for kf in keyframes:
        key = (kf.sensor_id, kf.frame_idx)
        if key in seen:
            duplicates.append(f"{kf.sensor_id}@{kf.frame_idx} ({seen[key]}, {kf.image_id})")
        else:
            seen[key] = kf.image_id
    if not duplicates:
        return []
    return [Finding("warning", "duplicate-keyframe", str(path),
                    f"{len(duplicates)} keyframe(s) annotated twice: {_examples(duplicates)}")]


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
    """Check every recording and annotation file under ``root``; recordings must have the
    sensor geometry that ``frames/sensor_info.json`` records (else 40x60, the config's).

    ``window`` is the sample length in frames: a sample is ``[idx - window/2,
    idx + window/2)`` around each keyframe. Raises ``DataError`` only when ``root`` itself
    is not a folder; everything else becomes a ``Finding``.
    """
    root = check_root(root)
    if window < 1:
        raise ValueError(f"window must be a positive number of frames, got {window}")
    findings: list[Finding] = []
    frames_dir = root / "frames"
    h5_paths = recording_paths(root, required=False)
    if not h5_paths:
        findings.append(Finding("error", "no-recordings", str(frames_dir),
                                "no frames/*.h5 recordings found"))
    try:
        frame_shape = sensor_geometry(frames_dir) or SENSOR_SHAPE
    except DataError as exc:
        findings.append(Finding("error", "bad-sensor-info", str(frames_dir / SENSOR_INFO),
                                exc.problem))
        frame_shape = SENSOR_SHAPE
    recordings: dict[str, dict] = {}
    for path in h5_paths:
        info = _check_recording(path, frame_shape, findings)
        if info is not None:
            recordings[path.stem] = info
    existing = {path.stem for path in h5_paths}

    ann_paths = split_files(root, required=False)
    if not ann_paths:
        findings.append(Finding("error", "no-annotations", str(root / "annotations"),
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
