"""What every person detector returns, and the one interface they share: frames with
their timestamps go in one at a time (a live sensor allows nothing else), per-frame boxes
with scores come out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Protocol

import numpy as np


class Detections(NamedTuple):
    """The people found in one frame."""

    boxes_xyxy: np.ndarray  # (K, 4) float32 pixel edges x1, y1, x2, y2
    scores: np.ndarray  # (K,) float32 confidence, 0..1

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def above(self, min_score: float) -> Detections:
        """Only the detections scoring at least ``min_score``."""
        keep = self.scores >= min_score
        return Detections(self.boxes_xyxy[keep], self.scores[keep])


class Detector(Protocol):
    """A causal person detector: ``update`` sees each frame once, in time order, and may
    keep state from earlier frames (a background estimate); ``reset`` forgets it."""

    def reset(self) -> None: ...

    def update(self, frame_c: np.ndarray, timestamp_ms: int) -> Detections:
        """People in one (H, W) deg C frame (-273.2 or non-finite: no reading)."""
        ...


def detect_frames(detector: Detector, frames_c: Iterable[np.ndarray],
                  timestamps_ms: Iterable[int]) -> list[Detections]:
    """Run ``detector`` over frames (N, H, W) deg C and their timestamps (N,) ms, from a
    fresh state; one ``Detections`` per frame."""
    detector.reset()
    return [detector.update(np.asarray(frame), int(timestamp))
            for frame, timestamp in zip(frames_c, timestamps_ms, strict=True)]
