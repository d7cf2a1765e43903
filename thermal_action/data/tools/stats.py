"""Dataset statistics: class distribution per split, per-recording timing, and two figures
(class distribution bar chart, keyframe contact sheet). The library never prints; it
raises ``DataError`` for a missing root or annotations.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.dataset_root import recording_paths, sample_keyframes, split_files
from thermal_action.data.recording import open_recording
from thermal_action.data.tools.figures import SHEET_RANGE_C, draw_keyframe, sheet_colours


def class_distribution(root: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Person boxes per class name for every split file ``annotations/*.json`` (except
    ``class_mapping.json``): ``{split: {class name: count}}``, all 14 classes, in
    ``CLASS_NAMES`` order, zeros included."""
    distribution: dict[str, dict[str, int]] = {}
    for path in split_files(root):
        keyframes, _ = load_keyframes(path, CLASS_NAMES)
        labels = (np.concatenate([k.labels for k in keyframes]) if keyframes
                  else np.zeros(0, np.int64))
        counts = np.bincount(labels, minlength=len(CLASS_NAMES))
        distribution[path.stem] = {name: int(counts[i]) for i, name in enumerate(CLASS_NAMES)}
    return distribution


def recording_summary(root: str | os.PathLike) -> list[dict]:
    """Per recording (sorted by sensor id): ``sensor_id``, ``frames``, ``duration_s``
    (last minus first timestamp), ``median_interval_ms`` and ``fps`` (from the median
    interval)."""
    summary = []
    for path in recording_paths(root):
        with open_recording(path) as recording:
            timestamps_ms = recording.read_timestamps()
        intervals = np.diff(timestamps_ms).astype(np.float64)
        median_ms = float(np.median(intervals)) if intervals.size else None
        summary.append(dict(
            sensor_id=path.stem,
            frames=len(timestamps_ms),
            duration_s=(timestamps_ms[-1] - timestamps_ms[0]) / 1000.0,
            median_interval_ms=median_ms,
            fps=1000.0 / median_ms if median_ms else None,
        ))
    return summary


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_stats(distribution: dict[str, dict[str, int]], recordings: list[dict]) -> str:
    """Two text tables: person boxes per class x split (with totals), and recordings."""
    splits = list(distribution)
    rows = [("class", *splits, "total")]
    for name in CLASS_NAMES:
        counts = [distribution[s].get(name, 0) for s in splits]
        rows.append((name, *map(str, counts), str(sum(counts))))
    totals = [sum(distribution[s].values()) for s in splits]
    rows.append(("total", *map(str, totals), str(sum(totals))))
    lines = ["person boxes per class:", *_table(rows), "", "recordings:"]
    rows = [("sensor", "frames", "duration s", "median ms", "fps")]
    rows += [(r["sensor_id"], str(r["frames"]), f"{r['duration_s']:.1f}",
              _fmt(r["median_interval_ms"], ".0f"), _fmt(r["fps"], ".1f")) for r in recordings]
    rows.append(("total", str(sum(r["frames"] for r in recordings)),
                 f"{sum(r['duration_s'] for r in recordings):.1f}", "", ""))
    lines += _table(rows)
    return "\n".join(lines)


def _save(fig: Figure, out_png: str | os.PathLike) -> Path:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, format="png")
    return out_png


def plot_class_distribution(distribution: dict[str, dict[str, int]],
                            out_png: str | os.PathLike) -> Path:
    """Grouped horizontal bar chart: one bar per split per class, counts annotated."""
    splits = list(distribution)
    classes = list(CLASS_NAMES)
    fig = Figure(figsize=(9.0, 0.25 + 0.45 * len(classes) * max(1, len(splits)) ** 0.5),
                 dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    height = 0.8 / max(1, len(splits))
    y = np.arange(len(classes))
    colours = colormaps["tab10"]
    top = max([c for s in splits for c in distribution[s].values()] + [1])
    for k, split in enumerate(splits):
        counts = [distribution[split].get(name, 0) for name in classes]
        offset = y - 0.4 + height * (k + 0.5)
        ax.barh(offset, counts, height=height, color=colours(k % 10),
                label=f"{split} ({sum(counts)})")
        for yy, count in zip(offset, counts, strict=True):
            ax.text(count + top * 0.01, yy, str(count), va="center", fontsize=7)
    ax.set_yticks(y, classes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.12)
    ax.set_xlabel("person boxes")
    ax.set_title("person boxes per class and split")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out_png)


def render_keyframe_sheet(root: str | os.PathLike, out_png: str | os.PathLike,
                          count: int = 12, seed: int = 0) -> Path:
    """A grid of up to ``count`` keyframes (train/val, drawn with ``seed``) with person
    boxes and class names, 10..40 deg C 'inferno', invalid pixels in cyan, colourbar."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    split_files(root)
    samples = sample_keyframes(root, count, seed)
    columns = min(4, max(1, len(samples)))
    rows = max(1, -(-len(samples) // columns))
    cmap, norm, box_colours = sheet_colours()
    fig = Figure(figsize=(1.2 + 2.6 * columns, 0.6 + 1.9 * rows), dpi=100,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False)
    for position, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if position >= len(samples):
            ax.set_visible(False)
            continue
        draw_keyframe(ax, *samples[position], cmap, norm, box_colours)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="temperature (°C)",
                 shrink=0.9)
    fig.suptitle(f"sample keyframes (seed {seed}), {SHEET_RANGE_C[0]:.0f}.."
                 f"{SHEET_RANGE_C[1]:.0f} °C; invalid pixels in cyan", fontsize=9)
    return _save(fig, out_png)
