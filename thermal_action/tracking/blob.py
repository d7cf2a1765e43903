"""Warm-blob person detector: no training, causal, thousands of frames per second.

Each frame is compared with a background estimated from the frame itself (per 4x4-pixel
block, the median, then a median over 3x3 blocks: a region about 12 pixels across, wider
than most people, so a person is never part of their own background). A background taken
from earlier frames would absorb a person who lies still for minutes after a fall; a
spatial one cannot. Pixels warmer than the background by ``edge_c`` form connected
regions, kept when at least ``min_area_px`` of them are warmer by ``threshold_c`` (the
box covers the whole region, as annotators draw it); a region larger than one person
with two warm cores far apart (people close together) is split between them; regions
hotter than any person, absolutely (``max_peak_c``) or above their surroundings
(``max_excess_c``; a kettle reads 25 deg C above the room, a person 5 to 9), and strips
longer than ``max_aspect`` times their width (the lens rim; annotated people reach 2.8),
are dropped.
The score grows with the heat mass of the warm part (excess deg C x pixels).
Pixels with no reading take their last valid reading while it is recent
(``InvalidPixelMemory``), so a frame that is mostly invalid shows what the sensor saw last.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from thermal_action.registry import DETECTORS
from thermal_action.tracking.detections import Detections, InvalidPixelMemory


def block_background(frame_c: np.ndarray, block_px: int = 4, kernel_blocks: int = 3) -> np.ndarray:
    """Background (H, W) deg C of a frame: the median of every ``block_px`` square block,
    a median over ``kernel_blocks`` x ``kernel_blocks`` blocks, then bilinear upsampling.
    Frames whose sides are not multiples of ``block_px`` are edge-padded first."""
    height, width = frame_c.shape
    rows, cols = -(-height // block_px), -(-width // block_px)
    padded = np.pad(frame_c, ((0, rows * block_px - height), (0, cols * block_px - width)),
                    mode="edge")
    blocks = padded.reshape(rows, block_px, cols, block_px).transpose(0, 2, 1, 3)
    medians = np.median(blocks.reshape(rows, cols, -1), axis=2)
    if kernel_blocks > 1:
        medians = ndimage.median_filter(medians, size=kernel_blocks, mode="nearest")
    zoomed = ndimage.zoom(medians, block_px, order=1, mode="nearest", grid_mode=True)
    return zoomed[:height, :width]


@DETECTORS.register_module()
class BlobDetector:
    """Warm-blob detector (see the module docstring). Temperatures in deg C, sizes in
    pixels; ``mass_scale`` (deg C x pixels) sets how fast the score approaches 1."""

    def __init__(
        self,
        threshold_c: float = 1.5,
        edge_c: float = 1.0,
        min_area_px: int = 10,
        max_peak_c: float = 38.0,
        max_excess_c: float = 12.0,
        max_aspect: float = 3.5,
        split_step_c: float = 1.0,
        min_core_px: int = 4,
        split_min_area_px: int = 120,
        split_min_distance_px: float = 6.0,
        mass_scale: float = 130.0,
        block_px: int = 4,
        kernel_blocks: int = 3,
    ) -> None:
        if threshold_c <= 0 or min_area_px < 1 or mass_scale <= 0 or block_px < 1:
            raise ValueError("threshold_c, min_area_px, mass_scale and block_px must be "
                             "positive")
        self.threshold_c = threshold_c
        self.edge_c = min(edge_c, threshold_c)
        self.min_area_px = min_area_px
        self.max_peak_c = max_peak_c
        self.max_excess_c = max_excess_c
        self.max_aspect = max_aspect
        self.split_step_c = split_step_c
        self.min_core_px = min_core_px
        self.split_min_area_px = split_min_area_px
        self.split_min_distance_px = split_min_distance_px
        self.mass_scale = mass_scale
        self.block_px = block_px
        self.kernel_blocks = kernel_blocks
        self.pixels = InvalidPixelMemory()

    def reset(self) -> None:
        self.pixels.reset()

    def update(self, frame_c: np.ndarray, timestamp_ms: int = 0) -> Detections:
        """People in one (H, W) deg C frame."""
        frame = self.pixels.repair(frame_c, timestamp_ms)
        if frame is None:
            return Detections.empty()
        excess = frame - block_background(frame, self.block_px, self.kernel_blocks)
        warm = excess > self.threshold_c
        labels, count = ndimage.label(excess > self.edge_c)
        boxes, scores = [], []
        for index, region in enumerate(ndimage.find_objects(labels), start=1):
            member = labels[region] == index
            for part in self._split(excess[region], member):
                core = part & warm[region]
                if core.sum() < self.min_area_px:
                    continue
                if (frame[region][core].max() > self.max_peak_c
                        or excess[region][core].max() > self.max_excess_c):
                    continue  # hotter than skin: an appliance or a radiator
                ys, xs = np.nonzero(part)
                width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
                if max(width, height) > self.max_aspect * min(width, height):
                    continue  # a strip: the lens rim or a wall edge, not a body from above
                boxes.append((region[1].start + xs.min(), region[0].start + ys.min(),
                              region[1].start + xs.max() + 1, region[0].start + ys.max() + 1))
                mass = float(excess[region][core].sum())
                scores.append(1.0 - np.exp(-mass / self.mass_scale))
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, np.float32), np.asarray(scores, np.float32))

    def _split(self, excess: np.ndarray, member: np.ndarray) -> list[np.ndarray]:
        """A component's pixels, split between its warm cores (pixels a further
        ``split_step_c`` above the threshold, at least ``min_core_px`` each) when it is
        larger than one person (``split_min_area_px``) and two cores lie at least
        ``split_min_distance_px`` apart (a head and a torso are closer); each pixel goes
        to the nearest core."""
        if member.sum() < self.split_min_area_px:
            return [member]
        cores, count = ndimage.label(member & (excess > self.threshold_c + self.split_step_c))
        if count < 2:
            return [member]
        sizes = ndimage.sum(np.ones_like(cores), cores, range(1, count + 1))
        big = [i + 1 for i, size in enumerate(sizes) if size >= self.min_core_px]
        if len(big) < 2:
            return [member]
        centres = np.asarray(ndimage.center_of_mass(np.ones_like(cores), cores, big))
        if np.ptp(centres, axis=0).max() < self.split_min_distance_px:
            return [member]
        seeds = np.where(np.isin(cores, big), cores, 0)
        _, (rows, cols) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
        nearest = seeds[rows, cols]
        return [member & (nearest == core) for core in big]
