"""Sensor artifacts measured on the real recordings: irregular frame timing, optical blur,
noise, and frames that lost packets in transfer (invalid -273.2 pixels, the rest often
displaced)."""

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


PACKET_PX = 576
"""Pixels per transfer packet of the real sensor: its invalid frames miss whole packets."""
LOST_PACKETS_P = (0.78, 0.1, 0.09, 0.03)
"""Share of invalid frames missing 1, 2, 3 or 4 packets (the SL14 recordings)."""


def corrupt_frame(frame_c: np.ndarray, rng: np.random.Generator,
                  displaced_prob: float = 0.6) -> np.ndarray:
    """Lose whole packets in transfer as the real sensor does: 1-4 of the frame's
    ``PACKET_PX``-pixel packets read -273.2; with ``displaced_prob`` the packets that did
    arrive are moved up to the start of the frame and the end reads invalid (most such
    frames of the real recordings), else they stay where they belong."""
    flat = np.asarray(frame_c, np.float32).ravel()
    packets = [flat[start : start + PACKET_PX] for start in range(0, flat.size, PACKET_PX)]
    full = [i for i, packet in enumerate(packets) if packet.size == PACKET_PX]
    count = min(int(rng.choice(len(LOST_PACKETS_P), p=LOST_PACKETS_P)) + 1, len(full))
    lost = set(rng.choice(full, count, replace=False).tolist())
    if rng.random() < displaced_prob:
        arrived = np.concatenate([p for i, p in enumerate(packets) if i not in lost])
        out = np.full(flat.size, INVALID_C, np.float32)
        out[: arrived.size] = arrived
    else:
        out = np.concatenate([np.full(p.size, INVALID_C, np.float32) if i in lost else p
                              for i, p in enumerate(packets)])
    return out.reshape(frame_c.shape)
