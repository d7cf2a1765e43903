"""The timeline pictures show the sensor's zones."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np

from thermal_action.data.zones import Zone, Zones, rectangle
from thermal_action.runtime.events import Event, TrackView
from thermal_action.runtime.timeline import build_timeline
from thermal_action.visualization.timeline import ActionPainter, plot_timeline


def _zones() -> Zones:
    return Zones([Zone("bed", "bed", rectangle((2, 2, 20, 11)))], (40, 60))


def test_the_render_outlines_the_zones(tmp_path):
    frame = np.full((40, 60), 20.0, np.float32)
    views = [TrackView(1, (30, 20, 34, 26), "standing", 0.9, False)]
    plain = ActionPainter(frame.shape).draw(frame, 0, views)
    zoned = ActionPainter(frame.shape, zones=_zones()).draw(frame, 0, views)
    assert plain.shape == zoned.shape
    assert np.abs(plain.astype(int) - zoned.astype(int)).sum() > 0  # the outline is drawn


def test_the_timeline_png_has_a_zone_map_beside_it(tmp_path):
    events = [Event("track_started", 0, 1), Event("action_started", 0, 1, "standing", 0.9),
              Event("action_ended", 5_000, 1, "standing", 0.9, 0),
              Event("track_ended", 5_000, 1)]
    people = build_timeline(events)
    plain = iio.imread(plot_timeline(people, 0, 5_000, tmp_path / "a.png"))
    zoned = iio.imread(plot_timeline(people, 0, 5_000, tmp_path / "b.png", zones=_zones()))
    assert zoned.shape[1] > plain.shape[1]  # the zone map beside the timeline


def test_a_label_at_the_right_edge_is_moved_inside_the_frame_not_cut():
    """A review found 'transition-normal transiti' cut at the frame's edge."""
    from thermal_action.visualization.frames import BoxOverlay, FrameDrawer, FrameOverlay

    drawer = FrameDrawer(40, 60)
    label = "#1 transition-normal transition 0.93"
    drawer.draw(np.full((40, 60), 22.0, np.float32),
                FrameOverlay((("t", "#ffffff"),), (BoxOverlay((52, 10, 60, 20), label,
                                                              "#00e5ff"),)))
    renderer = drawer.canvas.get_renderer()
    (text,) = [artist for artist in drawer._overlays if hasattr(artist, "get_text")]
    assert text.get_text() == label
    inside, frame = text.get_window_extent(renderer), drawer.ax.get_window_extent(renderer)
    assert frame.x0 - 1 <= inside.x0 and inside.x1 <= frame.x1 + 1
