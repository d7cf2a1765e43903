"""Pictures people look at: a confusion-matrix PNG and an annotated GIF of one recording.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend
switch). A recording is computed (``recording_overlay``), then drawn frame by frame
(``FrameDrawer``), then encoded (``write_gif``, imageio's Pillow plugin), so each step can
be reused alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from thermal_action.data.annotations import Keyframe
from thermal_action.data.classes import CLASS_NAMES, clip_label
from thermal_action.data.recording import read_frames, read_recording_info
from thermal_action.data.sensor import invalid_mask
from thermal_action.inference.predictions import WindowPrediction
from thermal_action.tracking.tracker import TrackPoint
from thermal_action.visualization.frames import BoxOverlay, FrameDrawer, FrameOverlay, write_gif

GT_MAX_DISTANCE_FRAMES = 16
"""Ground truth is drawn only while the nearest annotated keyframe is this close (frames)."""

_BOX_COLOR = "#00e5ff"
_CORRECT_COLOR = "#3ddc84"
_WRONG_COLOR = "#ff5c5c"
_NEUTRAL_COLOR = "#f0f0f0"
_BACKGROUND = "#1b1b1b"
_DPI = 100


# --------------------------------------------------------------------------------------
# Confusion matrix
# --------------------------------------------------------------------------------------


def visible_classes(matrix: np.ndarray) -> list[int]:
    """Class ids that occur as a true or a predicted class in a (C, C) confusion matrix.

    Classes whose row and column are both all zero are left out of the picture.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion matrix must be square (C, C), got shape {matrix.shape}")
    used = (matrix.sum(axis=1) != 0) | (matrix.sum(axis=0) != 0)
    return [int(i) for i in np.flatnonzero(used)]


def _confusion_colours(counts: np.ndarray, normalize: bool) -> tuple[np.ndarray, float, str]:
    """Cell colour values, their maximum and the colour bar's label."""
    if not normalize:
        colour = counts.astype(np.float64)
        return colour, max(float(colour.max()), 1.0), "count"
    with np.errstate(invalid="ignore", divide="ignore"):
        colour = counts / counts.sum(axis=1)[:, None]  # rows without support stay NaN (blank)
    return colour, 1.0, "fraction of true class (recall on diagonal)"


def _annotate_cells(ax, counts: np.ndarray, colour: np.ndarray, vmax: float) -> None:
    """Write every cell's count, white on dark cells, grey for zeros."""
    for row in range(len(counts)):
        for col in range(len(counts)):
            value = colour[row, col]
            dark = np.isfinite(value) and value > 0.55 * vmax
            ax.text(col, row, str(int(counts[row, col])), ha="center", va="center", fontsize=9,
                    color="white" if dark else ("#222222" if counts[row, col] else "#aaaaaa"))


def plot_confusion_matrix(
    matrix: np.ndarray,
    class_names: Sequence[str],
    out_png: str | os.PathLike,
    title: str = "",
    normalize: bool = True,
) -> Path:
    """Save a confusion matrix (rows = true class, columns = predicted) as a PNG.

    Only classes that occur (see ``visible_classes``) are shown. Every cell is annotated
    with its count; with ``normalize`` the cell colour is the row-normalized fraction
    (recall on the diagonal, 0..1), otherwise the count. Row labels carry the support n.
    Returns the path written.
    """
    counts = np.asarray(matrix)
    shown = visible_classes(counts)
    if len(class_names) != counts.shape[0]:
        raise ValueError(
            f"{len(class_names)} class names for a {counts.shape[0]}x{counts.shape[0]} matrix"
        )
    if not shown:
        raise ValueError("confusion matrix has no counts; nothing to plot")
    counts = counts[np.ix_(shown, shown)]
    support = counts.sum(axis=1)
    colour, vmax, colour_label = _confusion_colours(counts, normalize)

    num = len(shown)
    cell_in = 0.55
    fig = Figure(figsize=(3.2 + cell_in * num, 2.6 + cell_in * num), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = colormaps["Blues"].with_extremes(bad="#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(colour), cmap=cmap, vmin=0.0, vmax=vmax)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label(colour_label, fontsize=8)
    _annotate_cells(ax, counts, colour, vmax)

    names = [class_names[i] for i in shown]
    ax.set_xticks(range(num), names, rotation=40, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set_yticks(
        range(num),
        [f"{name} (n={int(n)})" for name, n in zip(names, support, strict=True)],
        fontsize=9,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    fig.tight_layout()

    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", bbox_inches="tight")
    return out


# --------------------------------------------------------------------------------------
# Recording GIF
# --------------------------------------------------------------------------------------


def _nearest_keyframe(
    keyframes: Sequence[Keyframe], frame_idx: int, max_distance: int = GT_MAX_DISTANCE_FRAMES
) -> Keyframe | None:
    """The keyframe closest to ``frame_idx`` (earlier wins ties), or None beyond
    ``max_distance`` frames."""
    best = min(
        keyframes, key=lambda kf: (abs(kf.frame_idx - frame_idx), kf.frame_idx), default=None
    )
    if best is None or abs(best.frame_idx - frame_idx) > max_distance:
        return None
    return best


def _nearest_prediction(
    predictions: Sequence[WindowPrediction], frame_idx: int
) -> WindowPrediction | None:
    """The prediction whose window centre is closest to ``frame_idx`` (earlier wins ties)."""
    return min(predictions, key=lambda p: (abs(p.frame_idx - frame_idx), p.frame_idx), default=None)


def recording_overlay(
    sensor: str,
    frame_idx: int,
    seconds: float,
    invalid_share: float,
    keyframes: Sequence[Keyframe],
    predictions: Sequence[WindowPrediction],
    class_names: Sequence[str] = CLASS_NAMES,
) -> FrameOverlay:
    """What ``render_recording_gif`` writes on frame ``frame_idx`` (at ``seconds`` since
    the first frame): the time; the prediction of the nearest window (green when it equals
    the shown keyframe's clip label, red when not, white without ground truth); and, while
    a keyframe is within ``GT_MAX_DISTANCE_FRAMES``, its boxes and classes. Per-person
    predictions (``object_id`` set) are written on their boxes instead."""
    time_line = f"{sensor}   t = {seconds:6.2f} s   frame {frame_idx}"
    if invalid_share:
        time_line += f"   no reading: {invalid_share:.0%} (grey)"
    keyframe = _nearest_keyframe(keyframes, frame_idx)
    per_person = {(p.frame_idx, p.object_id): p for p in predictions if p.object_id is not None}
    if keyframe is None:
        truth_line = (f"true: - (no keyframe within ±{GT_MAX_DISTANCE_FRAMES} frames)",
                      _NEUTRAL_COLOR)
        boxes, truth, correct = (), None, 0
    else:
        truth = clip_label(keyframe.labels.tolist())
        truth_line = (f"true: {class_names[truth]}   (keyframe {keyframe.frame_idx})",
                      _NEUTRAL_COLOR)
        boxes, correct = _keyframe_boxes(keyframe, per_person, class_names)
    if not per_person:
        pred_line = _prediction_line(_nearest_prediction(predictions, frame_idx), truth,
                                     class_names)
    elif keyframe is None:
        pred_line = ("model: each person's class, shown on their box at annotated keyframes",
                     _NEUTRAL_COLOR)
    else:
        people = len(keyframe.labels)
        pred_line = (f"keyframe {keyframe.frame_idx}: the model is right for {correct} of "
                     f"{people} {'person' if people == 1 else 'people'}",
                     _CORRECT_COLOR if correct == people else _WRONG_COLOR)
        truth_line = ("boxes: the model's class; red if wrong (true class below)",
                      _NEUTRAL_COLOR)
    return FrameOverlay(((time_line, _NEUTRAL_COLOR), pred_line, truth_line), boxes)


def _keyframe_boxes(keyframe: Keyframe, per_person: dict, class_names: Sequence[str]
                    ) -> tuple[tuple[BoxOverlay, ...], int]:
    """The keyframe's boxes, each with its class, or its person's prediction coloured
    right or wrong; and how many people were predicted right."""
    boxes, correct = [], 0
    for box, label, object_id in zip(keyframe.boxes_xyxy.tolist(), keyframe.labels.tolist(),
                                      keyframe.object_ids.tolist(), strict=True):
        person = per_person.get((keyframe.frame_idx, object_id))
        if person is None:
            boxes.append(BoxOverlay(tuple(box), class_names[label], _BOX_COLOR))
            continue
        correct += person.label == label
        text = f"{class_names[person.label]} {person.score:.2f}"
        if person.label != label:
            text += f"\ntrue: {class_names[label]}"
        boxes.append(BoxOverlay(tuple(box), text,
                                _CORRECT_COLOR if person.label == label else _WRONG_COLOR))
    return tuple(boxes), correct


def _prediction_line(prediction: WindowPrediction | None, truth: int | None,
                     class_names: Sequence[str]) -> tuple[str, str]:
    if prediction is None:
        return "pred: - (no predictions)", _NEUTRAL_COLOR
    line = f"pred: {class_names[prediction.label]}  {prediction.score:.2f}"
    if truth is None:
        return line, _NEUTRAL_COLOR
    if prediction.label == truth:
        return line + "   ✓ correct", _CORRECT_COLOR
    return line + "   ✗ wrong", _WRONG_COLOR


def render_recording_gif(
    hdf5_path: str | os.PathLike,
    keyframes: Sequence[Keyframe],
    predictions: Sequence[WindowPrediction],
    out_gif: str | os.PathLike,
    class_names: Sequence[str] = CLASS_NAMES,
    frame_step: int = 2,
    max_frames: int = 200,
    fps: float = 8.0,
    vmin_c: float = 10.0,
    vmax_c: float = 40.0,
    scale: int = 6,
) -> Path:
    """Write an animated GIF of one recording with predictions and ground truth.

    Every ``frame_step``-th frame is drawn (at most ``max_frames``) by a ``FrameDrawer``
    with the text of ``recording_overlay``; ``keyframes`` must belong to this recording.
    Plays at ``fps`` GIF frames per second. Returns the path written; raises ``DataError``
    for a missing or malformed recording.
    """
    path = Path(hdf5_path)
    if frame_step < 1 or max_frames < 1:
        raise ValueError(f"frame_step and max_frames must be >= 1, got {frame_step}, "
                         f"{max_frames}")
    for prediction in predictions:
        if not 0 <= prediction.label < len(class_names):
            raise ValueError(f"prediction label {prediction.label} has no class name")
    info = read_recording_info(path)  # DataError when missing or not a recording
    drawer = FrameDrawer(info.height, info.width, vmin_c, vmax_c, scale)
    indices = np.arange(0, info.num_frames, frame_step, dtype=np.int64)[:max_frames]
    temps_c, timestamps_ms = read_frames(path, indices)
    seconds = (timestamps_ms[indices] - timestamps_ms[0]) / 1000.0
    rendered = [
        drawer.draw(temps_c[position], recording_overlay(
            path.stem, frame_idx, float(seconds[position]),
            float(invalid_mask(temps_c[position]).mean()), keyframes, predictions,
            class_names))
        for position, frame_idx in enumerate(indices.tolist())
    ]
    return write_gif(rendered, out_gif, fps)


def tracks_overlay(sensor: str, frame_idx: int, seconds: float, invalid_share: float,
                   points: Sequence[TrackPoint]) -> FrameOverlay:
    """What ``render_tracks_gif`` writes on one frame: the time, how many people are
    tracked, and each track's box with its id (solid colour per id; 'coasting' when the
    detector missed it in this frame and the box is the tracker's prediction)."""
    time_line = f"{sensor}   t = {seconds:6.2f} s   frame {frame_idx}"
    if invalid_share:
        time_line += f"   no reading: {invalid_share:.0%} (grey)"
    palette = colormaps["tab10"]
    boxes = tuple(
        BoxOverlay(point.box_xyxy,
                   f"#{point.track_id}" + ("" if point.detected else " coasting"),
                   _hex(palette((point.track_id - 1) % 10)))
        for point in points)
    people = f"{len(points)} {'person' if len(points) == 1 else 'people'} tracked"
    return FrameOverlay(((time_line, _NEUTRAL_COLOR), (people, _NEUTRAL_COLOR),
                         ("boxes: detector; coasting: tracker's prediction", _NEUTRAL_COLOR)),
                        boxes)


def _hex(rgba: tuple[float, ...]) -> str:
    return "#" + "".join(f"{int(round(channel * 255)):02x}" for channel in rgba[:3])


def render_tracks_gif(
    frames_c: np.ndarray,
    timestamps_ms: np.ndarray,
    points_per_frame: Sequence[Sequence[TrackPoint]],
    out_gif: str | os.PathLike,
    sensor: str = "",
    frame_step: int = 1,
    max_frames: int = 300,
    fps: float = 8.0,
) -> Path:
    """A GIF of a recording's frames (N, H, W) deg C with every track's box and id (see
    ``tracks_overlay``): every ``frame_step``-th frame, at most ``max_frames``."""
    if frame_step < 1 or max_frames < 1:
        raise ValueError(f"frame_step and max_frames must be >= 1, got {frame_step}, "
                         f"{max_frames}")
    if not len(frames_c) == len(timestamps_ms) == len(points_per_frame):
        raise ValueError("frames, timestamps and track points must have one entry per frame")
    drawer = FrameDrawer(frames_c.shape[1], frames_c.shape[2])
    indices = range(0, len(frames_c), frame_step)[:max_frames]
    rendered = [
        drawer.draw(frames_c[i], tracks_overlay(
            sensor, i, (int(timestamps_ms[i]) - int(timestamps_ms[0])) / 1000.0,
            float(invalid_mask(frames_c[i]).mean()), points_per_frame[i]))
        for i in indices
    ]
    return write_gif(rendered, out_gif, fps)
