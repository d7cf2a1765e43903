"""Sensor artifacts measured on the real recordings: irregular frame timing, optical blur,
noise, and frames with invalid (-273.2) pixels."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from thermal_action.data.sensor import INVALID_C


def frame_timestamps_ms(num_frames: int, median_interval_ms: float, start_ms: int,
                        rng: np.random.Generator, gap_prob: float = 0.01,
                        base_period_ms: float = 37.0) -> np.ndarray:
    """Strictly increasing capture times as the real sensor delivers them: multiples of a
    ~37 ms base period (frames dropped in bursts, heavy-tailed around the recording's
    median interval) plus occasional 1.0-2.6 s gaps."""
    multiples = np.exp(rng.normal(np.log(median_interval_ms / base_period_ms), 0.75,
                                  num_frames - 1))
    intervals = np.maximum(np.round(multiples), 1) * base_period_ms
    intervals += rng.normal(0.0, 2.0, num_frames - 1)
    gaps = rng.random(num_frames - 1) < gap_prob
    intervals[gaps] = rng.uniform(1000.0, 2600.0, gaps.sum())
    intervals = np.maximum(np.round(intervals), 15).astype(np.int64)
    return start_ms + np.concatenate([[0], np.cumsum(intervals)])


def apply_optics_and_noise(
    frame_c: np.ndarray,
    fixed_pattern_c: np.ndarray,
    noise_c: float,
    offset_c: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Lens blur, fixed-pattern and temporal noise, and a slow global offset drift."""
    blurred = ndimage.gaussian_filter(frame_c, 0.6)
    noise = rng.normal(0.0, noise_c, frame_c.shape)
    return (blurred + fixed_pattern_c + noise + offset_c).astype(np.float32)


def corrupt_frame(
    frame_c: np.ndarray, rng: np.random.Generator, nearly_whole_prob: float = 0.2
) -> np.ndarray:
    """Mark pixels invalid: a band of rows or scattered blocks, or almost the whole frame
    (the real SL14 recordings have frames with 2304 of 2400 pixels invalid)."""
    frame = frame_c.copy()
    height, width = frame.shape
    if rng.random() < nearly_whole_prob:
        keep = int(rng.integers(1, 3))  # 1-2 rows keep their readings
        frame[: height - keep] = INVALID_C
    elif rng.random() < 0.5:
        start = int(rng.integers(0, height - 2))
        frame[start : start + int(rng.integers(1, 8))] = INVALID_C
    else:
        for _ in range(int(rng.integers(1, 6))):
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
            frame[y : y + int(rng.integers(1, 6)), x : x + int(rng.integers(2, 12))] = INVALID_C
    return frame
