"""The ceiling sensor's geometry and the sample window, read from the one place that
defines them: the base dataset config ``configs/_base_/datasets/thermal_hdf5.py``
(``sensor_height``, ``sensor_width``, ``clip_len`` x ``frame_interval``). Change them there;
the dataset, the tools and the simulator follow."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

BASE_DATASET_CONFIG = (
    Path(__file__).resolve().parent.parent / "configs" / "_base_" / "datasets" / "thermal_hdf5.py"
)
INVALID_C = -273.2
"""The value the sensor writes for a pixel with no reading (deg C)."""
GAP_MS = 1000
"""Frame intervals longer than this (ms) count as gaps in the recording."""
INVALID_BELOW_C = -270.0
"""Readings at or below this are 'no reading' markers (``INVALID_C`` with float error)."""
PACKET_LOSS_SHARE = 0.2
"""A frame with more than this share of its pixels invalid lost whole packets in transfer,
and its remaining readings cannot be trusted where they are: on the real SL14 recordings
every such frame misses whole 576-pixel packets (24, 48, 72 or 96% of the frame), and in
most of them the packets that did arrive are moved up by the lost count (measured by
matching them against the frame before). Such a frame is read as having no reading."""


def config_constants(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    """The literal values assigned to ``names`` at the top level of a config file (read
    with ``ast``: MMEngine configs cannot be imported as modules)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = ast.literal_eval(node.value)
    missing = [name for name in names if name not in found]
    if missing:
        raise RuntimeError(f"{path}: no literal value for {', '.join(missing)}")
    return found


_BASE = config_constants(
    BASE_DATASET_CONFIG, ("sensor_height", "sensor_width", "clip_len", "frame_interval"))
SENSOR_SHAPE: tuple[int, int] = (int(_BASE["sensor_height"]), int(_BASE["sensor_width"]))
"""(rows, columns) of a frame in pixels."""
WINDOW_FRAMES: int = int(_BASE["clip_len"]) * int(_BASE["frame_interval"])
"""Frames of one sample: the window ``[keyframe - WINDOW_FRAMES/2, keyframe +
WINDOW_FRAMES/2)`` around its keyframe."""


def invalid_mask(temps_c: np.ndarray) -> np.ndarray:
    """True where a pixel holds no reading: non-finite or at the -273.2 deg C marker."""
    return ~np.isfinite(temps_c) | (temps_c <= INVALID_BELOW_C)


def lost_packets(frames_c: np.ndarray) -> np.ndarray:
    """(N,) whether each frame of (N, H, W) lost packets (``PACKET_LOSS_SHARE``)."""
    return invalid_mask(frames_c).mean(axis=(-2, -1)) > PACKET_LOSS_SHARE


def unreadable_mask(temps_c: np.ndarray) -> np.ndarray:
    """``invalid_mask`` of frames (..., H, W), with every pixel of a frame that lost packets
    (more than ``PACKET_LOSS_SHARE`` of it invalid) marked too: where to use no reading."""
    invalid = invalid_mask(temps_c)
    if invalid.ndim < 2:
        return invalid
    lost = invalid.mean(axis=(-2, -1)) > PACKET_LOSS_SHARE  # lost_packets, mask reused
    if np.any(lost):
        invalid[lost] = True
    return invalid
