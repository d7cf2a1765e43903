"""Realism report: measure a dataset root and compare a synthetic one with the real one.

A dataset root holds ``frames/<sensor_id>.h5`` (``frames`` (N, 40, 60) float32 deg C,
``timestamps`` (N,) int64 ms) and ``annotations/train.json`` / ``val.json`` (COCO keyframes
with YOLO boxes). ``dataset_statistics`` turns a root into a JSON-ready dict,
``compare_statistics`` checks the synthetic numbers against the real ones,
``format_comparison_table`` / ``format_comparison_report`` write the verdict as Markdown,
``comparison_summary`` says it in a few lines, and ``render_comparison_sheet`` draws real
and synthetic keyframes side by side on one temperature scale. ``person_shape`` measures
how warm one person is above the room and how their warm region looks (broad and flat, or
a round peak).
"""

from __future__ import annotations

import os
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from thermal_action.data.annotations import Keyframe
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.dataset_root import recording_paths, sample_keyframes, split_keyframes
from thermal_action.data.recording import RecordingScan, scan_recording
from thermal_action.data.sensor import GAP_MS, invalid_mask
from thermal_action.data.tools.figures import SHEET_RANGE_C, draw_keyframe, sheet_colours
from thermal_action.data.transforms.functional import crop_around
from thermal_action.errors import DataError

MEASURED_SPLITS = ("train", "val")
"""The split files whose keyframes ``dataset_statistics`` measures."""
PERCENTILES = (5, 50, 95)

# Tolerances of ``compare_statistics`` (see its docstring).
TAIL_TOLERANCE_C = 3.0
RELATIVE_TOLERANCE = 0.5
ABSOLUTE_TOLERANCE = {"ms": 10.0, "fraction": 0.01, "px": 1.0, "C": 1.0}
CROP_PX = 24
"""Side of the person crops averaged per class (``person_crops``), as the person model's."""
WARM_SHARE = 0.5
"""A person's warm region: box pixels at least this share of the peak excess above the room."""
WARM_MIN_C = 1.0
"""...and never less than this many deg C above the room (noise is not a warm region)."""
SHAPE_TOLERANCE: dict[str, tuple[float, float]] = {
    "peak_excess_c": (0.2, 1.0),
    "mean_excess_c": (0.35, 1.0),
    "warm_area_px": (0.35, 5.0),
    "box_aspect": (0.25, 0.2),
    "warm_fill": (0.25, 0.08),
    "flatness": (0.1, 0.03),
}
"""(relative, absolute) tolerance of each person statistic in ``compare_statistics``: about
the spread between the real SL14 and SL18 sessions' medians."""


class ComparisonRow(NamedTuple):
    """One compared statistic: the formatted values and whether the synthetic one passes.
    ``off_by``: how far the synthetic value lies outside the allowed range, in half widths
    of that range (0 inside it, ``inf`` where a side was not measured)."""

    name: str
    real: str
    synthetic: str
    within: bool
    note: str
    off_by: float = 0.0


class PersonShape(NamedTuple):
    """One person box as the sensor shows it, relative to the room (the median valid pixel
    outside every box). The warm region: valid box pixels at least ``WARM_SHARE`` of the
    peak excess (and ``WARM_MIN_C``) above the room."""

    peak_excess_c: float  # 95th percentile of the box's valid pixels minus the room, deg C
    mean_excess_c: float  # mean of the box's valid pixels minus the room, deg C
    warm_area_px: int  # pixels in the warm region
    box_aspect: float  # long side over short side of the box (a side under 1 px counts as 1)
    warm_fill: float  # warm pixels over the box's valid pixels, 0..1
    flatness: float  # std / mean of the warm pixels' excess: low = broad and flat


# ---------------------------------------------------------------------------------------
# Statistics


def _by_sensor(
    keyframes: Iterable[Keyframe], recordings: Sequence[Path]
) -> dict[str, list[Keyframe]]:
    grouped: dict[str, list[Keyframe]] = defaultdict(list)
    for keyframe in keyframes:
        grouped[keyframe.sensor_id].append(keyframe)
    missing = sorted(set(grouped) - {path.stem for path in recordings})
    if missing:
        folder = recordings[0].parent
        raise DataError(folder, f"annotations refer to recordings with no HDF5 file: {missing}")
    return grouped


def _person_mask(keyframe: Keyframe, shape: tuple[int, ...]) -> np.ndarray:
    """Pixels any person box of ``keyframe`` touches."""
    person = np.zeros(shape, dtype=bool)
    for box in keyframe.boxes_xyxy:
        rows, cols = _box_slices(box)
        person[rows, cols] = True
    return person


def _box_slices(box_xyxy: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of every pixel a pixel box ``(x1, y1, x2, y2)`` touches."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    eps = 1e-3  # 0.15 * 60 must land on pixel 9, not 8.999 -> 8
    return (
        slice(int(np.floor(y1 + eps)), int(np.ceil(y2 - eps))),
        slice(int(np.floor(x1 + eps)), int(np.ceil(x2 - eps))),
    )


def person_shape(excess_c: np.ndarray, valid: np.ndarray,
                 box_wh_px: tuple[float, float]) -> PersonShape | None:
    """Measure one person box: ``excess_c`` (h, w) deg C above the room of the pixels the
    box touches, ``valid`` (h, w) the pixels with a reading, ``box_wh_px`` the box's width
    and height in pixels. None when the box has no valid pixel or no warm region."""
    inside = np.asarray(excess_c, np.float64)[valid]
    if not inside.size:
        return None
    peak = float(np.percentile(inside, 95))
    warm = inside[inside >= max(WARM_SHARE * peak, WARM_MIN_C)]
    if not warm.size:
        return None
    return PersonShape(
        peak_excess_c=peak,
        mean_excess_c=float(inside.mean()),
        warm_area_px=int(warm.size),
        box_aspect=float(max(box_wh_px) / max(min(box_wh_px), 1.0)),
        warm_fill=warm.size / inside.size,
        flatness=float(warm.std() / warm.mean()),
    )


def _shape_medians(shapes: Sequence[PersonShape]) -> dict[str, float | int]:
    return {"count": len(shapes),
            **{f"median_{key}": round(float(np.median([getattr(s, key) for s in shapes])), 4)
               for key in PersonShape._fields}}


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {f"p{q}": None for q in PERCENTILES}
    found = np.percentile(values.astype(np.float64), PERCENTILES)
    return {f"p{q}": round(float(v), 4) for q, v in zip(PERCENTILES, found, strict=True)}


def _stat(values: np.ndarray, fn: Callable[[np.ndarray], Any]) -> float | None:
    return float(fn(values)) if values.size else None


class _Measured:
    """What ``dataset_statistics`` gathers over recordings and keyframes."""

    def __init__(self) -> None:
        self.background: list[np.ndarray] = []
        self.person_max: list[float] = []
        self.person_mean: list[float] = []
        self.widths: dict[int, list[float]] = defaultdict(list)
        self.heights: dict[int, list[float]] = defaultdict(list)
        self.contrast: dict[int, list[float]] = defaultdict(list)
        self.mean_above: dict[int, list[float]] = defaultdict(list)
        self.shapes: dict[int, list[PersonShape]] = defaultdict(list)
        self.intervals: list[np.ndarray] = []
        self.per_recording_median: dict[str, float | None] = {}
        self.frames = self.frames_with_invalid = self.invalid_pixels = self.pixels = 0
        self.max_invalid = self.keyframes = self.boxes = 0

    def add_recording(self, scan: RecordingScan) -> None:
        diffs = np.diff(scan.timestamps_ms)
        self.intervals.append(diffs)
        self.per_recording_median[scan.info.path.stem] = (
            float(np.median(diffs)) if diffs.size else None)
        self.frames += scan.info.num_frames
        self.frames_with_invalid += int((scan.invalid_per_frame > 0).sum())
        self.invalid_pixels += int(scan.invalid_per_frame.sum())
        self.max_invalid = max(self.max_invalid, int(scan.invalid_per_frame.max()))
        self.pixels += scan.info.num_frames * scan.info.height * scan.info.width

    def add_keyframe(self, keyframe: Keyframe, temps_c: np.ndarray) -> None:
        valid = ~invalid_mask(temps_c)
        person = _person_mask(keyframe, temps_c.shape)
        background = temps_c[valid & ~person]
        room_c = float(np.median(background)) if background.size else None
        for box, label in zip(keyframe.boxes_xyxy, keyframe.labels, strict=True):
            rows, cols = _box_slices(box)
            inside = temps_c[rows, cols][valid[rows, cols]]
            if inside.size:
                self.person_max.append(float(inside.max()))
                self.person_mean.append(float(inside.mean()))
                if room_c is not None:
                    self.contrast[int(label)].append(float(inside.max()) - room_c)
                    self.mean_above[int(label)].append(float(inside.mean()) - room_c)
                    shape = person_shape(temps_c[rows, cols] - room_c, valid[rows, cols],
                                         (float(box[2] - box[0]), float(box[3] - box[1])))
                    if shape is not None:
                        self.shapes[int(label)].append(shape)
            self.widths[int(label)].append(float(box[2] - box[0]))
            self.heights[int(label)].append(float(box[3] - box[1]))
            self.boxes += 1
        self.background.append(background)
        self.keyframes += 1

    def summary(self, num_recordings: int) -> dict:
        intervals = np.concatenate(self.intervals) if self.intervals else np.zeros(0, np.int64)
        background = (np.concatenate(self.background) if self.background
                      else np.zeros(0, np.float32))
        all_shapes = [shape for label in sorted(self.shapes) for shape in self.shapes[label]]
        return {
            "num_recordings": num_recordings,
            "num_keyframes": self.keyframes,
            "num_boxes": self.boxes,
            "background_c": _percentiles(background),
            "person_max_c": _percentiles(np.asarray(self.person_max)),
            "person_mean_c": _percentiles(np.asarray(self.person_mean)),
            "box_size_px": {
                CLASS_NAMES[label]: {
                    "count": len(self.widths[label]),
                    "median_width": round(float(np.median(self.widths[label])), 4),
                    "median_height": round(float(np.median(self.heights[label])), 4),
                }
                for label in sorted(self.widths)
            },
            "person_by_class": {
                CLASS_NAMES[label]: {
                    "count": len(self.contrast[label]),
                    "median_contrast_c": round(float(np.median(self.contrast[label])), 4),
                    "median_mean_above_c": round(float(np.median(self.mean_above[label])), 4),
                }
                for label in sorted(self.contrast) if self.contrast[label]
            },
            "person_shape": {
                CLASS_NAMES[label]: _shape_medians(self.shapes[label])
                for label in sorted(self.shapes) if self.shapes[label]
            },
            "person_shape_overall": (_shape_medians(all_shapes) if all_shapes else None),
            "frame_interval_ms": {
                "median": _stat(intervals, np.median),
                "p95": _stat(intervals, lambda v: np.percentile(v, 95)),
                "max": _stat(intervals, np.max),
                "fraction_over_1s": _stat(intervals, lambda v: np.mean(v > GAP_MS)),
                "per_recording_median": self.per_recording_median,
            },
            "invalid": {
                "frame_fraction": self.frames_with_invalid / self.frames if self.frames else None,
                "pixel_fraction": self.invalid_pixels / self.pixels if self.pixels else None,
                "max_pixels_in_frame": self.max_invalid,
            },
        }


def dataset_statistics(root: str | os.PathLike) -> dict:
    """Measure one dataset root over all recordings and all keyframes of train/val.json.

    Returned dict (plain Python types, JSON-ready; ``None`` where nothing was measured):

    - ``background_c``: p5/p50/p95 (deg C) of valid pixels outside every person box at the
      keyframes. A box covers every pixel it touches.
    - ``person_max_c`` / ``person_mean_c``: p5/p50/p95 (deg C) over boxes of the max / mean
      valid temperature inside each box (boxes with no valid pixel are skipped).
    - ``box_size_px``: per class name present, ``count`` and ``median_width`` /
      ``median_height`` in pixels (YOLO box times 60 / 40, clipped to the frame).
    - ``person_by_class``: per class name, ``count`` of boxes and the medians of
      ``contrast_c`` (hottest valid pixel of the box minus the keyframe's room temperature,
      the median valid pixel outside every box) and ``mean_above_c`` (the box's mean minus
      the room): how a posture shows on the sensor, not only how big its box is.
    - ``person_shape``: per class name, ``count`` of measured boxes and the medians of the
      ``PersonShape`` fields (``median_peak_excess_c``, ``median_mean_excess_c`` in deg C
      above the room, ``median_warm_area_px``, ``median_box_aspect``, ``median_warm_fill``,
      ``median_flatness``); ``person_shape_overall`` the same over all boxes (``None``
      without any).
    - ``frame_interval_ms``: ``median``, ``p95``, ``max`` over the consecutive timestamp
      differences of all recordings, ``fraction_over_1s`` (intervals > 1000 ms) and
      ``per_recording_median`` (sensor id -> median ms).
    - ``invalid``: ``frame_fraction`` (frames with any invalid pixel), ``pixel_fraction``
      (invalid pixels over all pixels), ``max_pixels_in_frame``.
    - ``num_recordings``, ``num_keyframes`` (keyframes with at least one box), ``num_boxes``.

    Raises ``DataError`` for a missing root, frames folder or annotation files, unreadable
    recordings and keyframes that point outside their recording.
    """
    measured = _Measured()
    recordings = 0
    for scan, keyframes in _scans(root):
        recordings += 1
        measured.add_recording(scan)
        for keyframe in keyframes:
            measured.add_keyframe(keyframe, scan.kept_frames[keyframe.frame_idx])
    return measured.summary(recordings)


def _scans(root: str | os.PathLike) -> Iterator[tuple[RecordingScan, list[Keyframe]]]:
    """Each recording of ``root`` scanned, with its measured keyframes' frames kept."""
    recordings = recording_paths(root)
    keyframes = [k for split in split_keyframes(root, MEASURED_SPLITS).values() for k in split]
    grouped = _by_sensor(keyframes, recordings)
    for path in recordings:
        on_sensor = grouped.get(path.stem, [])
        yield scan_recording(path, keep=[k.frame_idx for k in on_sensor]), on_sensor


def person_crops(root: str | os.PathLike,
                 size_px: int = CROP_PX) -> dict[str, tuple[np.ndarray, int]]:
    """Per class name: the mean (size, size) crop centred on each person box of the
    measured keyframes, in deg C above the keyframe's room temperature (the median valid
    pixel outside every box; invalid pixels count as the room), and how many crops."""
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = defaultdict(int)
    for scan, keyframes in _scans(root):
        for keyframe in keyframes:
            temps_c = scan.kept_frames[keyframe.frame_idx]
            valid = ~invalid_mask(temps_c)
            background = temps_c[valid & ~_person_mask(keyframe, temps_c.shape)]
            if not background.size:
                continue
            room_c = float(np.median(background))
            above = np.where(valid, temps_c - room_c, 0.0).astype(np.float32)
            for box, label in zip(keyframe.boxes_xyxy, keyframe.labels, strict=True):
                centre = (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2)
                crop = crop_around(above[None], centre, (size_px, size_px))[0][0]
                sums[int(label)] = sums.get(int(label), 0) + crop
                counts[int(label)] += 1
    return {CLASS_NAMES[label]: (sums[label] / counts[label], counts[label])
            for label in sorted(sums)}


# ---------------------------------------------------------------------------------------
# Comparison


SHAPE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("peak_excess_c", "peak excess", "C"),
    ("mean_excess_c", "mean excess", "C"),
    ("warm_area_px", "warm area", "px"),
    ("box_aspect", "box aspect", "ratio"),
    ("warm_fill", "warm fill", "fraction"),
    ("flatness", "flatness", "ratio"),
)
"""(``PersonShape`` field, row label, unit) of the person rows of ``compare_statistics``."""
OVERALL = "(all classes)"
"""The class part of the names of the person rows over every box."""


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "fraction":
        return f"{value:.3f}"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "C":
        return f"{value:.1f} °C"
    return f"{value:.1f} px"


def _row(name: str, real: float | None, synthetic: float | None, low: float | None,
         high: float | None, unit: str) -> ComparisonRow:
    real_text, synthetic_text = _format(real, unit), _format(synthetic, unit)
    if real is None or low is None or high is None:
        return ComparisonRow(name, real_text, synthetic_text, False, "not measured in real data",
                             float("inf"))
    if synthetic is None:
        return ComparisonRow(name, real_text, synthetic_text, False, "not measured in synthetic",
                             float("inf"))
    allowed = f"allowed {_format(low, unit)} .. {_format(high, unit)}"
    half_width = max((high - low) / 2, 1e-9)
    if synthetic < low:
        return ComparisonRow(name, real_text, synthetic_text, False, f"too low; {allowed}",
                             (low - synthetic) / half_width)
    if synthetic > high:
        return ComparisonRow(name, real_text, synthetic_text, False, f"too high; {allowed}",
                             (synthetic - high) / half_width)
    return ComparisonRow(name, real_text, synthetic_text, True, allowed)


def _relative(name: str, real: float | None, synthetic: float | None, unit: str,
              relative: float = RELATIVE_TOLERANCE,
              absolute: float | None = None) -> ComparisonRow:
    """Row whose allowed range is ``real +- max(relative * |real|, absolute)`` (absolute
    defaults to ``ABSOLUTE_TOLERANCE[unit]``)."""
    if real is None:
        return _row(name, real, synthetic, None, None, unit)
    floor = ABSOLUTE_TOLERANCE[unit] if absolute is None else absolute
    tolerance = max(relative * abs(real), floor)
    return _row(name, real, synthetic, real - tolerance, real + tolerance, unit)


def _get(stats: dict, group: str, key: str) -> float | None:
    return (stats.get(group) or {}).get(key)


def _shape_rows(label: str, real: dict, synthetic: dict) -> list[ComparisonRow]:
    return [_relative(f"person {name} {label}", real[f"median_{key}"],
                      synthetic[f"median_{key}"], unit, *SHAPE_TOLERANCE[key])
            for key, name, unit in SHAPE_ROWS]


def compare_statistics(real: dict, synthetic: dict) -> list[ComparisonRow]:
    """Compare two ``dataset_statistics`` dicts, one row per comparable scalar.

    Rule for ``within`` (bounds inclusive):

    - medians of a distribution (background p50, person max p50, person mean p50): the
      synthetic p50 lies inside the real p5 .. p95 of the same distribution;
    - background p5 and p95 (the tails): within +-3 deg C of the real value;
    - the person rows, the ``person_shape`` medians (peak and mean excess over the room,
      warm area, box aspect, warm fill, flatness) over all boxes (``OVERALL``) and per
      class with boxes in both: ``|synthetic - real| <= max(relative * |real|, absolute)``
      with the statistic's ``SHAPE_TOLERANCE``;
    - every other scalar (frame interval median / p95 / fraction > 1 s, invalid frame and
      pixel fractions, per-class median box width and height, for classes with boxes in
      both): ``|synthetic - real| <= max(0.5 * |real|, absolute)``, i.e. +-50 % of the real
      value but never tighter than 10 ms, 0.01 (fractions), 1 px or 1 deg C.

    A value missing on either side is never within. ``note`` gives the allowed range, with
    "too low" / "too high" in front of a miss.
    """
    rows = []
    for q in ("p5", "p50", "p95"):
        value = _get(real, "background_c", q)
        if q == "p50":
            low, high = _get(real, "background_c", "p5"), _get(real, "background_c", "p95")
        elif value is None:
            low = high = None
        else:
            low, high = value - TAIL_TOLERANCE_C, value + TAIL_TOLERANCE_C
        rows.append(_row(f"background {q}", value, _get(synthetic, "background_c", q),
                         low, high, "C"))
    for group, label in (("person_max_c", "person max"), ("person_mean_c", "person mean")):
        rows.append(_row(f"{label} p50", _get(real, group, "p50"),
                         _get(synthetic, group, "p50"), _get(real, group, "p5"),
                         _get(real, group, "p95"), "C"))
    for key, label, unit in (("median", "frame interval median", "ms"),
                             ("p95", "frame interval p95", "ms"),
                             ("fraction_over_1s", "frame intervals > 1 s", "fraction")):
        rows.append(_relative(label, _get(real, "frame_interval_ms", key),
                              _get(synthetic, "frame_interval_ms", key), unit))
    for key, label in (("frame_fraction", "frames with invalid pixels"),
                       ("pixel_fraction", "invalid pixels")):
        rows.append(_relative(label, _get(real, "invalid", key),
                              _get(synthetic, "invalid", key), "fraction"))
    if real.get("person_shape_overall") and synthetic.get("person_shape_overall"):
        rows += _shape_rows(OVERALL, real["person_shape_overall"],
                            synthetic["person_shape_overall"])
    real_people = real.get("person_shape") or {}
    synthetic_people = synthetic.get("person_shape") or {}
    for name in CLASS_NAMES:
        if real_people.get(name, {}).get("count") and synthetic_people.get(name, {}).get("count"):
            rows += _shape_rows(name, real_people[name], synthetic_people[name])
    real_boxes, synthetic_boxes = real.get("box_size_px") or {}, synthetic.get("box_size_px") or {}
    for name in CLASS_NAMES:
        if real_boxes.get(name, {}).get("count") and synthetic_boxes.get(name, {}).get("count"):
            for key, label in (("median_width", "width"), ("median_height", "height")):
                rows.append(_relative(f"box {label} {name}", real_boxes[name][key],
                                      synthetic_boxes[name][key], "px"))
    return rows


def format_comparison_table(rows: Iterable[ComparisonRow]) -> str:
    """Markdown table of comparison rows; the last column says ``ok`` or ``off``."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| statistic | real | synthetic | note | ok |", "|---|---|---|---|---|"]
    for row in rows:
        verdict = "ok" if row.within else "off"
        lines.append(f"| {cell(row.name)} | {cell(row.real)} | {cell(row.synthetic)} | "
                     f"{cell(row.note)} | {verdict} |")
    return "\n".join(lines)


def format_comparison_report(rows: Sequence[ComparisonRow], real_root: str | os.PathLike,
                             synthetic_root: str | os.PathLike) -> str:
    """The Markdown document ``data synth --compare`` writes: what was compared, how many
    rows lie within the real range and the full ``format_comparison_table``."""
    within = sum(row.within for row in rows)
    return (f"# Realism: `{synthetic_root}` against `{real_root}`\n\n"
            "Statistics of both datasets (`dataset_statistics`), the simulated value checked "
            "against a tolerance band around the real one (`compare_statistics`). Person "
            "rows: excess over the room (the median valid pixel outside every box) and the "
            "shape of the warm region (pixels at least half the peak excess above it).\n\n"
            f"{within}/{len(rows)} statistics within the real range.\n\n"
            f"{format_comparison_table(rows)}\n")


def comparison_summary(rows: Sequence[ComparisonRow], worst: int = 5) -> list[str]:
    """A few lines for a console: how many rows lie within the real range, then the
    ``worst`` rows furthest outside it (largest ``off_by``), one line each."""
    off = sorted((row for row in rows if not row.within), key=lambda row: -row.off_by)
    lines = [f"{len(rows) - len(off)}/{len(rows)} statistics within the real range"
             + (f"; the {min(len(off), worst)} furthest off:" if off else "")]
    lines += [f"  {row.name}: real {row.real}, synthetic {row.synthetic} ({row.note})"
              for row in off[:worst]]
    if len(off) > worst:
        lines.append(f"  ... and {len(off) - worst} more off (see the table)")
    return lines


# ---------------------------------------------------------------------------------------
# Contact sheet


def render_comparison_sheet(
    real_root: str | os.PathLike,
    synthetic_root: str | os.PathLike,
    out_png: str | os.PathLike,
    frames_per_row: int = 6,
    seed: int = 0,
) -> Path:
    """Write a PNG: ``frames_per_row`` random real keyframes on top, synthetic ones below.

    Both rows share one scale (10..40 deg C, 'inferno', invalid pixels in cyan), person
    boxes carry their class names, and a colourbar is in deg C. The same ``seed`` always
    picks the same keyframes. Returns the path written.
    """
    if frames_per_row < 1:
        raise ValueError(f"frames_per_row must be at least 1, got {frames_per_row}")
    rows = [("real", sample_keyframes(real_root, frames_per_row, seed)),
            ("synthetic", sample_keyframes(synthetic_root, frames_per_row, seed))]

    cmap, norm, box_colours = sheet_colours()
    fig = Figure(figsize=(1.2 + 2.2 * frames_per_row, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, frames_per_row, squeeze=False)
    for row, (title, samples) in enumerate(rows):
        for column in range(frames_per_row):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(title, fontsize=11)
            if column >= len(samples):
                for spine in ax.spines.values():
                    spine.set_visible(False)
                continue
            draw_keyframe(ax, *samples[column], cmap, norm, box_colours)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="temperature (°C)",
                 shrink=0.9)
    fig.suptitle(f"keyframes on one scale, {SHEET_RANGE_C[0]:.0f}..{SHEET_RANGE_C[1]:.0f} °C; "
                 "invalid pixels in cyan", fontsize=9)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, format="png")
    return out_png


def render_person_crops(real_root: str | os.PathLike, synthetic_root: str | os.PathLike,
                        out_png: str | os.PathLike, size_px: int = CROP_PX) -> Path:
    """Write a PNG of each class's mean person crop (``person_crops``), real above
    simulated, on one scale of deg C above the room: where the two differ in size, shape
    or warmth, the simulator draws that posture wrongly. Classes seen on one side only
    leave the other blank. Returns the path written."""
    sides = [("real", person_crops(real_root, size_px)),
             ("simulated", person_crops(synthetic_root, size_px))]
    names = [name for name in CLASS_NAMES if any(name in crops for _, crops in sides)]
    if not names:
        raise DataError(Path(real_root), "no person boxes to compare")
    fig = Figure(figsize=(1.0 + 1.3 * len(names), 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(names), squeeze=False)
    image = None
    for row, (side, crops) in enumerate(sides):
        for column, name in enumerate(names):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(side, fontsize=10)
            if name not in crops:
                continue
            crop, count = crops[name]
            image = ax.imshow(crop, cmap="inferno", vmin=-1.0, vmax=8.0)
            ax.set_title(f"{textwrap.fill(name.replace('-', ': '), 18)}\nn={count}",
                         fontsize=6)
    if image is not None:
        fig.colorbar(image, ax=axes, label="°C above the room", shrink=0.9)
    fig.suptitle(f"mean {size_px}x{size_px} px crop around each person box, per class",
                 fontsize=9)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, format="png")
    return out_png
