"""Pictures of a timeline: the recording with every person's box, id, current action and
confidence (fall alerts in red), as GIF or MP4; and a per-person timeline PNG (action
bands over time, alerts marked). Drawn on matplotlib's Agg canvas (no pyplot), as the
other figures."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.sensor import invalid_mask
from thermal_action.data.zones import Zones, draw_zones
from thermal_action.visualization.frames import BoxOverlay, FrameDrawer, FrameOverlay

if TYPE_CHECKING:
    from thermal_action.runtime.events import TrackView
    from thermal_action.runtime.timeline import PersonTimeline

ALERT_COLOUR = "#ff3030"
TEXT_COLOUR = "#d0d0d0"
VIDEO_SUFFIXES = (".gif", ".mp4")


def class_colour(label: str) -> str:
    """One colour per class (tab20), the same in the video and the timeline PNG."""
    rgba = colormaps["tab20"](CLASS_NAMES.index(label) % 20)
    return "#" + "".join(f"{int(round(c * 255)):02x}" for c in rgba[:3])


def action_overlay(source: str, seconds: float, invalid_share: float,
                   views: Sequence[TrackView]) -> FrameOverlay:
    """What one video frame shows: the time, the people and their actions, and each
    person's box with id, action and confidence (red while a fall alert stands)."""
    time_line = f"{source}   t = {seconds:6.2f} s"
    if invalid_share:
        time_line += f"   no reading: {invalid_share:.0%} (grey)"
    alerts = [view.track_id for view in views if view.alert]
    status = (f"FALL ALERT: #{', #'.join(map(str, alerts))}" if alerts
              else f"{len(views)} {'person' if len(views) == 1 else 'people'}")
    boxes = tuple(
        BoxOverlay(view.box_xyxy,
                   f"#{view.track_id} " + ("..." if view.label is None else
                                           f"{view.label} {view.confidence:.2f}"),
                   ALERT_COLOUR if view.alert else
                   (TEXT_COLOUR if view.label is None else class_colour(view.label)))
        for view in views)
    return FrameOverlay(((time_line, TEXT_COLOUR),
                         (status, ALERT_COLOUR if alerts else TEXT_COLOUR),
                         ("box: tracked person; text: current action, confidence",
                          TEXT_COLOUR)), boxes)


class ActionPainter:
    """Draws frames with their tracks as the action video shows them (``action_overlay``
    on a reused ``FrameDrawer``, the sensor's ``zones`` outlined once); times are shown
    from the first frame it draws."""

    def __init__(self, shape: tuple[int, int], source: str = "",
                 zones: Zones | None = None) -> None:
        self.drawer = FrameDrawer(*shape)
        if zones is not None:
            draw_zones(self.drawer.ax, zones)  # once: the figure is reused for every frame
        self.source = source
        self.first_ms: int | None = None

    def draw(self, frame_c: np.ndarray, timestamp_ms: int,
             views: Sequence[TrackView]) -> np.ndarray:
        """The frame (H, W) deg C with ``views`` as an RGB image (rows, columns, 3) uint8."""
        frame_c = np.asarray(frame_c)
        self.first_ms = int(timestamp_ms) if self.first_ms is None else self.first_ms
        return self.drawer.draw(frame_c, action_overlay(
            self.source, (int(timestamp_ms) - self.first_ms) / 1000.0,
            float(invalid_mask(frame_c).mean()), views))


VIDEO_MAX_FRAMES = 600
"""Frames a rendered action video shows at most (75 s at the default 8 fps)."""


def plot_timeline(people: Sequence[PersonTimeline], first_ms: int, last_ms: int,
                  out: str | os.PathLike, title: str = "", zones: Zones | None = None) -> Path:
    """One row per person: coloured bands for their action segments, a thin line for
    when they were tracked, red triangles at fall alerts (and a dashed line back to the
    fall). Seconds since the first frame. With ``zones``, a map of the sensor's zones
    beside it (what the alert rule knew of beds and couches)."""
    out = Path(out)
    rows = max(len(people), 1)
    fig = Figure(figsize=(10 + 2.6 * (zones is not None), max(1.2 + 0.55 * rows,
                                                              2.4 if zones else 0)), dpi=100)
    FigureCanvasAgg(fig)
    if zones is not None:
        grid = fig.add_gridspec(1, 2, width_ratios=(1, 4.5))
        _zone_map(fig.add_subplot(grid[0]), zones)
        ax = fig.add_subplot(grid[1])
    else:
        ax = fig.add_subplot()
    seen_labels: list[str] = []
    for row, person in enumerate(people):
        start = (person.start_ms - first_ms) / 1000.0
        end = ((person.end_ms or last_ms) - first_ms) / 1000.0
        ax.plot([start, end], [row, row], color="#999999", linewidth=1, zorder=1)
        for segment in person.segments:
            left = (segment.start_ms - first_ms) / 1000.0
            ax.barh(row, (segment.end_ms - segment.start_ms) / 1000.0, left=left, height=0.6,
                    color=class_colour(segment.label), edgecolor="none", zorder=2)
            if segment.label not in seen_labels:
                seen_labels.append(segment.label)
        for alert in person.alerts:
            fall, raised = ((alert.fall_ms - first_ms) / 1000.0,
                            (alert.alert_ms - first_ms) / 1000.0)
            ax.plot([fall, raised], [row + 0.42, row + 0.42], color=ALERT_COLOUR,
                    linestyle="--", linewidth=1, zorder=3)
            ax.plot(raised, row + 0.42, marker="v", color=ALERT_COLOUR, markersize=9, zorder=4)
    ax.set_yticks(range(rows), [f"#{p.track_id}" for p in people] or [""])
    ax.set_ylim(rows - 0.4, -0.6)
    ax.set_xlim(0, max((last_ms - first_ms) / 1000.0, 1e-3))
    ax.set_xlabel("time since the first frame (s)")
    ax.set_title(title or "actions per person", fontsize=10)
    handles = [Patch(color=class_colour(label), label=label) for label in seen_labels]
    if any(person.alerts for person in people):
        handles.append(Line2D([], [], color=ALERT_COLOUR, marker="v", linestyle="--",
                              label="fall alert (dashed: since the fall)"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def _zone_map(ax, zones: Zones) -> None:
    """The sensor's frame as an empty grid with its zones outlined and named."""
    rows, cols = zones.frame_shape
    ax.set_facecolor("#202020")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    draw_zones(ax, zones)
    ax.set_title(f"zones ({len(zones)})", fontsize=8)
