"""Keyframe pictures shared by the data tools' sheets (``data stats``, ``data synth
--compare``): one scale, one colour for pixels with no reading, boxes with class names."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap, Normalize
from matplotlib.patches import Rectangle

from thermal_action.data.annotations import Keyframe
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.sensor import invalid_mask

SHEET_RANGE_C = (10.0, 40.0)
"""Temperature range of every keyframe sheet (deg C)."""
INVALID_COLOUR = "#00e5ff"
"""Pixels with no reading on the sheets."""


def sheet_colours() -> tuple[Colormap, Normalize, Colormap]:
    """(temperature colour map with invalid pixels in ``INVALID_COLOUR``, its 10..40 deg C
    scale, the colour map of class boxes)."""
    return (colormaps["inferno"].with_extremes(bad=INVALID_COLOUR), Normalize(*SHEET_RANGE_C),
            colormaps["tab20"])


def draw_keyframe(ax, keyframe: Keyframe, temps_c: np.ndarray, cmap: Colormap,
                  norm: Normalize, box_colours: Colormap) -> None:
    """One keyframe on ``ax``: temperatures (invalid pixels masked), person boxes and class
    names, and the sensor / frame index as title."""
    ax.imshow(np.ma.masked_array(temps_c, invalid_mask(temps_c)), cmap=cmap, norm=norm,
              interpolation="nearest")
    height = temps_c.shape[0]
    for box, label in zip(keyframe.boxes_xyxy, keyframe.labels, strict=True):
        x1, y1, x2, y2 = (float(v) - 0.5 for v in box)  # pixel edges -> imshow coords
        colour = box_colours(int(label) % 20)
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                               edgecolor=colour, linewidth=1.0))
        above = y1 > 0.15 * height
        ax.text(x1, y1 if above else y2, CLASS_NAMES[int(label)], fontsize=5,
                color=colour, va="bottom" if above else "top", clip_on=True,
                bbox=dict(facecolor="black", alpha=0.5, pad=0.5, linewidth=0))
    ax.set_title(f"{keyframe.sensor_id} #{keyframe.frame_idx}", fontsize=7)
