"""Pictures people look at: a confusion-matrix PNG and an annotated GIF of one recording.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend
switch); GIFs are written with imageio's Pillow plugin.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from thermal_action.data.annotations import Keyframe
from thermal_action.data.classes import CLASS_NAMES, clip_label
from thermal_action.data.recording import read_frames, read_recording_info
from thermal_action.data.sensor import invalid_mask
from thermal_action.engine.predictions import WindowPrediction

GT_MAX_DISTANCE_FRAMES = 16
"""Ground truth is drawn only while the nearest annotated keyframe is this close (frames)."""

INVALID_COLOR = "#9a9a9a"
"""Display colour of pixels with no reading (-273.2); inferno has no neutral grey."""

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
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            colour = counts / support[:, None]  # rows without support stay NaN (blank)
        vmax, colour_label = 1.0, "fraction of true class (recall on diagonal)"
    else:
        colour = counts.astype(np.float64)
        vmax, colour_label = max(float(colour.max()), 1.0), "count"

    num = len(shown)
    cell_in = 0.55
    fig = Figure(figsize=(3.2 + cell_in * num, 2.6 + cell_in * num), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = colormaps["Blues"].with_extremes(bad="#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(colour), cmap=cmap, vmin=0.0, vmax=vmax)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label(colour_label, fontsize=8)

    for row in range(num):
        for col in range(num):
            value = colour[row, col]
            dark = np.isfinite(value) and value > 0.55 * vmax
            ax.text(
                col,
                row,
                str(int(counts[row, col])),
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark else ("#222222" if counts[row, col] else "#aaaaaa"),
            )

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

    Every ``frame_step``-th frame is drawn (at most ``max_frames``), upscaled ``scale`` x
    with the 'inferno' colour map over a fixed ``vmin_c``..``vmax_c`` deg C range; pixels
    with no reading are grey. Each frame shows the time in seconds since the recording's
    first frame, the prediction of the window whose centre frame is closest (green when it
    equals the clip label of the shown keyframe, red when not, white without ground truth)
    and, while an annotated keyframe is within ±16 frames, its person boxes and classes.
    Per-person predictions (``object_id`` set) are written on the boxes instead, each
    green or red against that person's class.
    ``keyframes`` must belong to this recording. Plays at ``fps`` GIF frames per second.
    Returns the path written; raises ``DataError`` for a missing or malformed recording.
    """
    path = Path(hdf5_path)
    if frame_step < 1 or max_frames < 1 or scale < 1:
        raise ValueError(
            f"frame_step, max_frames and scale must be >= 1, got {frame_step}, {max_frames}, "
            f"{scale}"
        )
    if fps <= 0 or not vmin_c < vmax_c:
        raise ValueError(f"need fps > 0 and vmin_c < vmax_c, got {fps}, {vmin_c}, {vmax_c}")
    for prediction in predictions:
        if not 0 <= prediction.label < len(class_names):
            raise ValueError(f"prediction label {prediction.label} has no class name")

    info = read_recording_info(path)  # DataError when missing or not a recording
    indices = np.arange(0, info.num_frames, frame_step, dtype=np.int64)[:max_frames]
    temps_c, timestamps_ms = read_frames(path, indices)
    invalid = invalid_mask(temps_c)
    seconds = (timestamps_ms[indices] - timestamps_ms[0]) / 1000.0
    gt_labels = {kf.frame_idx: clip_label(kf.labels.tolist()) for kf in keyframes}
    per_person = {
        (p.frame_idx, p.object_id): p for p in predictions if p.object_id is not None
    }

    # Layout in pixels: three header text lines above the frame, a colour bar at the right.
    img_w, img_h = info.width * scale, info.height * scale
    header, pad, bar_w, bar_labels = 54, 6, 10, 46
    fig_w, fig_h = pad + img_w + pad + bar_w + bar_labels, header + img_h + pad
    fig_w, fig_h = fig_w + fig_w % 2, fig_h + fig_h % 2  # even sizes suit video players
    fig = Figure(figsize=(fig_w / _DPI, fig_h / _DPI), dpi=_DPI, facecolor=_BACKGROUND)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((pad / fig_w, pad / fig_h, img_w / fig_w, img_h / fig_h))
    ax.set_axis_off()
    cmap = colormaps["inferno"].with_extremes(bad=INVALID_COLOR)
    # extent puts pixel edges on integer coordinates, so boxes_xyxy (pixel edges) line up.
    image = ax.imshow(
        np.ma.masked_array(temps_c[0], invalid[0]),
        cmap=cmap,
        vmin=vmin_c,
        vmax=vmax_c,
        interpolation="nearest",
        extent=(0, info.width, info.height, 0),
    )
    bar_ax = fig.add_axes(((2 * pad + img_w) / fig_w, pad / fig_h, bar_w / fig_w, img_h / fig_h))
    colorbar = fig.colorbar(image, cax=bar_ax)
    colorbar.ax.tick_params(labelsize=7, colors=_NEUTRAL_COLOR)
    colorbar.set_label("deg C", fontsize=7, color=_NEUTRAL_COLOR, labelpad=2)
    colorbar.outline.set_edgecolor(_NEUTRAL_COLOR)

    line_y = [1 - 15 / fig_h, 1 - 31 / fig_h, 1 - 47 / fig_h]
    text_kw = dict(fontsize=8, family="DejaVu Sans", va="baseline", ha="left")
    time_text = fig.text(pad / fig_w, line_y[0], "", color=_NEUTRAL_COLOR, **text_kw)
    pred_text = fig.text(pad / fig_w, line_y[1], "", **text_kw)
    true_text = fig.text(pad / fig_w, line_y[2], "", color=_NEUTRAL_COLOR, **text_kw)
    overlays: list = []

    rendered = []
    for position, frame_idx in enumerate(indices.tolist()):
        image.set_data(np.ma.masked_array(temps_c[position], invalid[position]))
        invalid_share = float(invalid[position].mean())
        time_line = f"{path.stem}   t = {seconds[position]:6.2f} s   frame {frame_idx}"
        if invalid_share:
            time_line += f"   no reading: {invalid_share:.0%} (grey)"
        time_text.set_text(time_line)

        for artist in overlays:
            artist.remove()
        overlays.clear()
        keyframe = _nearest_keyframe(keyframes, frame_idx)
        truth = None
        if keyframe is None:
            true_text.set_text(f"true: - (no keyframe within ±{GT_MAX_DISTANCE_FRAMES} frames)")
        else:
            truth = gt_labels[keyframe.frame_idx]
            true_text.set_text(f"true: {class_names[truth]}   (keyframe {keyframe.frame_idx})")
            correct = 0
            for (x1, y1, x2, y2), label, object_id in zip(
                keyframe.boxes_xyxy.tolist(), keyframe.labels.tolist(),
                keyframe.object_ids.tolist(), strict=True
            ):
                text, colour = class_names[label], _BOX_COLOR
                person = per_person.get((keyframe.frame_idx, object_id))
                if person is not None:
                    correct += person.label == label
                    colour = _CORRECT_COLOR if person.label == label else _WRONG_COLOR
                    text = f"{class_names[person.label]} {person.score:.2f}"
                    if person.label != label:
                        text += f"\ntrue: {class_names[label]}"
                overlays.append(
                    ax.add_patch(
                        Rectangle(
                            (x1, y1),
                            x2 - x1,
                            y2 - y1,
                            fill=False,
                            edgecolor=colour,
                            linewidth=1.5,
                        )
                    )
                )
                above = y1 >= 3  # name above the box, inside it at the top edge
                overlays.append(
                    ax.text(
                        x1 + 0.3,
                        y1 - 0.3 if above else y1 + 0.3,
                        text,
                        color=colour,
                        fontsize=7,
                        va="bottom" if above else "top",
                        ha="left",
                        clip_on=True,
                        bbox=dict(facecolor="black", alpha=0.55, pad=1, linewidth=0),
                    )
                )

        if per_person:
            if keyframe is None:
                pred_text.set_text("pred: per person, on the boxes of a keyframe")
                pred_text.set_color(_NEUTRAL_COLOR)
            else:
                people = len(keyframe.labels)
                pred_text.set_text(f"pred: per person on the boxes, {correct} of {people} right")
                pred_text.set_color(_CORRECT_COLOR if correct == people else _WRONG_COLOR)
                true_text.set_text(f"true: per person   (keyframe {keyframe.frame_idx})")
            canvas.draw()
            rendered.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
            continue

        prediction = _nearest_prediction(predictions, frame_idx)
        if prediction is None:
            pred_text.set_text("pred: - (no predictions)")
            pred_text.set_color(_NEUTRAL_COLOR)
        else:
            line = f"pred: {class_names[prediction.label]}  {prediction.score:.2f}"
            colour = _NEUTRAL_COLOR
            if truth is not None and prediction.label == truth:
                line, colour = line + "   ✓ correct", _CORRECT_COLOR
            elif truth is not None:
                line, colour = line + "   ✗ wrong", _WRONG_COLOR
            pred_text.set_text(line)
            pred_text.set_color(colour)

        canvas.draw()
        rendered.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())

    out = Path(out_gif)
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(
        out,
        np.stack(rendered),
        plugin="pillow",
        extension=".gif",
        is_batch=True,
        duration=1000.0 / fps,
        loop=0,
    )
    return out
