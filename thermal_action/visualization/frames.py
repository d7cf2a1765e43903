"""Thermal frames drawn as pictures: one reused matplotlib figure per stream (inferno over
a fixed deg C range, grey where a pixel has no reading, a colour bar), with header lines
and labelled boxes on top; and GIF writing. Shared by the evaluation reports, the action
videos and a live stream's ``FrameResult.plot``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import imageio.v3 as iio
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from thermal_action.data.sensor import invalid_mask

INVALID_COLOR = "#9a9a9a"
"""Display colour of pixels with no reading (-273.2); inferno has no neutral grey."""
NEUTRAL_COLOR = "#f0f0f0"
BACKGROUND = "#1b1b1b"
DPI = 100


class BoxOverlay(NamedTuple):
    """A box to draw on a frame: pixel edges (xyxy), its label text and colour."""

    box_xyxy: tuple[float, float, float, float]
    text: str
    colour: str


class FrameOverlay(NamedTuple):
    """Everything written on one frame: header lines (text, colour) and boxes."""

    lines: tuple[tuple[str, str], ...]
    boxes: tuple[BoxOverlay, ...] = ()


class FrameDrawer:
    """Draws (H, W) deg C frames as RGB images: upscaled ``scale`` x in 'inferno' over a
    fixed ``vmin_c``..``vmax_c`` range with a colour bar, pixels with no reading grey, and
    a ``FrameOverlay`` (three header lines, boxes). One figure is reused for every frame,
    so a live viewer can call ``draw`` per frame as cheaply as a GIF writer."""

    HEADER_PX, PAD_PX, BAR_PX, BAR_LABELS_PX = 54, 6, 10, 46

    def __init__(self, height: int, width: int, vmin_c: float = 10.0, vmax_c: float = 40.0,
                 scale: int = 6) -> None:
        if scale < 1 or not vmin_c < vmax_c:
            raise ValueError(f"need scale >= 1 and vmin_c < vmax_c, got {scale}, {vmin_c}, "
                             f"{vmax_c}")
        img_w, img_h, pad = width * scale, height * scale, self.PAD_PX
        fig_w = pad + img_w + pad + self.BAR_PX + self.BAR_LABELS_PX
        fig_h = self.HEADER_PX + img_h + pad
        fig_w, fig_h = fig_w + fig_w % 2, fig_h + fig_h % 2  # even sizes suit video players
        self.figure = Figure(figsize=(fig_w / DPI, fig_h / DPI), dpi=DPI,
                             facecolor=BACKGROUND)
        self.canvas = FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_axes((pad / fig_w, pad / fig_h, img_w / fig_w, img_h / fig_h))
        self.ax.set_axis_off()
        cmap = colormaps["inferno"].with_extremes(bad=INVALID_COLOR)
        # extent puts pixel edges on integer coordinates, so boxes (pixel edges) line up.
        self.image = self.ax.imshow(np.zeros((height, width)), cmap=cmap, vmin=vmin_c,
                                    vmax=vmax_c, interpolation="nearest",
                                    extent=(0, width, height, 0))
        self._colour_bar((2 * pad + img_w) / fig_w, pad / fig_h, self.BAR_PX / fig_w,
                         img_h / fig_h)
        text_kw = dict(fontsize=8, family="DejaVu Sans", va="baseline", ha="left")
        self.lines = [self.figure.text(pad / fig_w, 1 - y / fig_h, "", **text_kw)
                      for y in (15, 31, 47)]
        self._overlays: list = []

    def _colour_bar(self, left: float, bottom: float, width: float, height: float) -> None:
        bar = self.figure.colorbar(self.image, cax=self.figure.add_axes((left, bottom, width,
                                                                         height)))
        bar.ax.tick_params(labelsize=7, colors=NEUTRAL_COLOR)
        bar.set_label("deg C", fontsize=7, color=NEUTRAL_COLOR, labelpad=2)
        bar.outline.set_edgecolor(NEUTRAL_COLOR)

    def draw(self, temps_c: np.ndarray, overlay: FrameOverlay) -> np.ndarray:
        """The frame with its overlay as an (rows, columns, 3) uint8 RGB image."""
        self.image.set_data(np.ma.masked_array(temps_c, invalid_mask(temps_c)))
        for artist, (text, colour) in zip(self.lines, overlay.lines, strict=False):
            artist.set_text(text)
            artist.set_color(colour)
        for artist in self._overlays:
            artist.remove()
        self._overlays = [artist for box in overlay.boxes for artist in self._box(box)]
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()

    def _box(self, box: BoxOverlay) -> list:
        x1, y1, x2, y2 = box.box_xyxy
        above = y1 >= 3  # the text above the box, or inside it at the top edge
        label = self.ax.text(x1 + 0.3, y1 - 0.3 if above else y1 + 0.3, box.text,
                             color=box.colour, fontsize=7, va="bottom" if above else "top",
                             ha="left", clip_on=True,
                             bbox=dict(facecolor="black", alpha=0.55, pad=1, linewidth=0))
        self._keep_inside(label)
        return [self.ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                            edgecolor=box.colour, linewidth=1.5)), label]

    def _keep_inside(self, label) -> None:
        """Move a label left when it would run past the frame's right edge (it was cut
        there), as far as the left edge allows."""
        renderer = self.canvas.get_renderer()
        text, frame = label.get_window_extent(renderer), self.ax.get_window_extent(renderer)
        overflow = text.x1 - frame.x1 + 2
        if overflow > 0:
            shift = min(overflow, max(text.x0 - frame.x0, 0.0))
            x_px, y_px = self.ax.transData.transform(label.get_position())
            label.set_position(self.ax.transData.inverted().transform((x_px - shift, y_px)))


def write_gif(frames_rgb: Sequence[np.ndarray], out_gif: str | os.PathLike,
              fps: float = 8.0) -> Path:
    """Encode RGB frames (rows, columns, 3) uint8 as a looping GIF at ``fps``."""
    if fps <= 0 or not len(frames_rgb):
        raise ValueError(f"need fps > 0 and at least one frame, got {fps}, {len(frames_rgb)}")
    out = Path(out_gif)
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, np.stack(frames_rgb), plugin="pillow", extension=".gif", is_batch=True,
                duration=1000.0 / fps, loop=0)
    return out
