"""What every person detector returns, and the one interface they share: frames with
their timestamps go in one at a time (a live sensor allows nothing else), per-frame boxes
with scores come out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from thermal_action.data.sensor import unreadable_mask
from thermal_action.registry import DETECTORS, build_from


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


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (A, B) of boxes a (A, 4) and b (B, 4), pixel edges xyxy (numpy: a detector runs
    at sensor rate on a handful of boxes, where torch tensors would only add overhead)."""
    a, b = np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4)
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def detect_frames(detector: Detector, frames_c: Sequence[np.ndarray],
                  timestamps_ms: Sequence[int], chunk: int = 256) -> list[Detections]:
    """Run ``detector`` over frames (N, H, W) deg C and their timestamps (N,) ms, from a
    fresh state; one ``Detections`` per frame. A detector with ``update_many`` (one model
    pass for many frames) gets ``chunk`` frames at a time."""
    detector.reset()
    return list(detect_chunks(detector, frames_c, timestamps_ms, chunk))


def detect_chunks(detector: Detector, frames_c: Sequence[np.ndarray],
                  timestamps_ms: Sequence[int], chunk: int = 256) -> Iterator[Detections]:
    """``detector``'s detections frame by frame (its state carries on from earlier calls),
    computed ``chunk`` frames at a time when it has ``update_many``."""
    many = getattr(detector, "update_many", None)
    if many is None:
        for frame, timestamp in zip(frames_c, timestamps_ms, strict=True):
            yield detector.update(np.asarray(frame), int(timestamp))
        return
    for start in range(0, len(frames_c), chunk):
        yield from many(frames_c[start : start + chunk],
                        [int(t) for t in timestamps_ms[start : start + chunk]])


def detect_across(detectors: Sequence[Detector], frames_c: Sequence[np.ndarray],
                  timestamps_ms: Sequence[int]) -> list[Detections]:
    """One frame for each of ``detectors`` (of different streams, each with its own state):
    detectors that run one shared model (an equal ``batch_key`` and a static
    ``update_across``, as ``LearnedDetector``) in one model pass, the others one by one."""
    results: list[Detections | None] = [None] * len(detectors)
    groups: dict[tuple, list[int]] = {}
    for index, detector in enumerate(detectors):
        key = getattr(detector, "batch_key", None)
        if key is None or not hasattr(type(detector), "update_across"):
            results[index] = detector.update(np.asarray(frames_c[index]),
                                             int(timestamps_ms[index]))
        else:
            groups.setdefault((type(detector), key), []).append(index)
    for (kind, _), members in groups.items():
        found = kind.update_across([detectors[i] for i in members],
                                   [frames_c[i] for i in members],
                                   [int(timestamps_ms[i]) for i in members])
        for index, detections in zip(members, found, strict=True):
            results[index] = detections
    return results  # type: ignore[return-value]


class InvalidPixelMemory:
    """Fills pixels with no reading (-273.2 or non-finite; every pixel of a frame that lost
    packets, see ``PACKET_LOSS_SHARE``) from their last valid reading,
    when that reading is at most ``max_age_ms`` old; older ones, and pixels never read,
    take the median of the frame's valid pixels (the room), so a frame that follows a gap
    in the recording shows no ghosts of where people were. Causal: it sees each frame once.
    """

    def __init__(self, max_age_ms: float = 500.0) -> None:
        self.max_age_ms = max_age_ms
        self.reset()

    def reset(self) -> None:
        self._values: np.ndarray | None = None
        self._times: np.ndarray | None = None

    def repair(self, frame_c: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
        """The repaired (H, W) frame, or None when nothing usable is known (no valid pixel
        now and none recent enough)."""
        frame = np.asarray(frame_c, np.float32)
        invalid = unreadable_mask(frame)
        if self._values is None or self._values.shape != frame.shape:
            self._values = np.zeros(frame.shape, np.float32)
            self._times = np.full(frame.shape, -np.inf)
        self._values[~invalid] = frame[~invalid]
        self._times[~invalid] = timestamp_ms
        if not invalid.any():
            return frame
        recent = invalid & (timestamp_ms - self._times <= self.max_age_ms)
        if not (~invalid).any() and not recent.any():
            return None
        room = float(np.median(frame[~invalid])) if (~invalid).any() else \
            float(np.median(self._values[recent]))
        return np.where(invalid, np.where(recent, self._values, room), frame).astype(np.float32)


def build_detector(spec: Mapping[str, Any] | Sequence[str] | Detector | None = None) -> Detector:
    """A person detector from a ``type=`` dict (the ``DETECTORS`` registry), the (config,
    checkpoint) of a trained one (``.pth`` or ``.onnx``), a detector (returned as it is),
    or None: the warm-blob detector. Unknown types and bad settings are a ``ConfigError``."""
    if spec is None:
        spec = dict(type="BlobDetector")
    elif isinstance(spec, (tuple, list)):
        config, checkpoint = spec
        spec = dict(type="LearnedDetector", config=config, checkpoint=checkpoint)
    elif not isinstance(spec, Mapping):
        return spec
    return build_from(DETECTORS, spec)
