"""Thermal transforms registered in MMAction2's ``TRANSFORMS``; each adapts ``results``.

Clips travel as ``results['imgs']``: (T, H, W) float32 until ``ThermalToChannels`` adds the
channel axis that ``FormatShape`` expects. MMAction2's ``Resize``/``CenterCrop`` work on
the single-channel frames in between.
"""

from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from thermal_action.data.transforms import functional as F
from thermal_action.data.window import (
    MEMORY_BUDGET_BYTES,
    WindowReader,
    check_anchor,
    window_from_arrays,
)
from thermal_action.errors import DataError


def sample_anchor(results: dict, anchor: str | None) -> str:
    """A transform's own ``anchor``, else the sample's ``keyframe_anchor`` (``'centre'``)."""
    return anchor or check_anchor(results.get("keyframe_anchor") or "centre")


@TRANSFORMS.register_module()
class LoadThermalWindow(BaseTransform):
    """Take ``clip_len`` frames every ``frame_interval`` frames around the keyframe.

    The window is ``[frame_idx - span/2, frame_idx + span/2)`` with span = clip_len *
    frame_interval (64 frames by default, as the seed); with ``anchor='end'`` the clip ends
    at the keyframe instead (causal: the label is the newest frame's action). ``anchor``
    None takes the sample's ``keyframe_anchor`` (``ThermalActionDataset``; default
    ``'centre'``). Frames past either end of the recording repeat the edge frame and
    ``window_padded`` is set.
    The frames come from ``frames_c`` (N, H, W) deg C when ``results`` holds them in memory
    (with optional ``frame_timestamps_ms`` (N,)), else from the file ``hdf5_path`` through a
    ``WindowReader`` that decodes up to ``memory_budget_mb`` of recordings per process.
    Needs ``frame_idx``; adds ``imgs`` (T, H, W) deg C, ``frame_inds``, ``timestamps_ms``,
    ``window_padded``, ``img_shape``, ``clip_len``, ``num_clips``.
    """

    def __init__(self, clip_len: int = 32, frame_interval: int = 2,
                 memory_budget_mb: float = MEMORY_BUDGET_BYTES / 2**20,
                 anchor: str | None = None) -> None:
        if clip_len < 1 or frame_interval < 1:
            raise ValueError("clip_len and frame_interval must be positive")
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.anchor = None if anchor is None else check_anchor(anchor)
        self.memory_budget_mb = memory_budget_mb
        self.reader = WindowReader(int(memory_budget_mb * 2**20))

    def transform(self, results: dict) -> dict:
        anchor = sample_anchor(results, self.anchor)
        if results.get("frames_c") is not None:
            window = window_from_arrays(results["frames_c"], results.get("frame_timestamps_ms"),
                                        results["frame_idx"], self.clip_len, self.frame_interval,
                                        anchor)
        else:
            window = self.reader.read(results["hdf5_path"], results["frame_idx"], self.clip_len,
                                      self.frame_interval, anchor)
        results.update(
            imgs=window.temps_c,
            frame_inds=window.frame_inds,
            timestamps_ms=window.timestamps_ms,
            window_padded=window.padded,
            img_shape=window.temps_c.shape[1:3],
            original_shape=window.temps_c.shape[1:3],
            clip_len=self.clip_len,
            frame_interval=self.frame_interval,
            num_clips=1,
        )
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(clip_len={self.clip_len}, "
                f"frame_interval={self.frame_interval}, "
                f"memory_budget_mb={self.memory_budget_mb:g}, anchor={self.anchor!r})")


@TRANSFORMS.register_module()
class RepairInvalidPixels(BaseTransform):
    """Fill -273.2 / non-finite pixels (see ``functional.repair_invalid_pixels``) and record
    ``invalid_fraction``; a window with no valid pixel raises ``DataError``."""

    def transform(self, results: dict) -> dict:
        try:
            results["imgs"], results["invalid_fraction"] = F.repair_invalid_pixels(results["imgs"])
        except ValueError as exc:
            where = results.get("hdf5_path", "clip")
            raise DataError(where, f"keyframe {results.get('frame_idx')}: {exc}") from None
        return results


@TRANSFORMS.register_module()
class NormalizeTemperature(BaseTransform):
    """deg C -> standardized values; ``mode='fixed'`` (seed: 15 / 10 deg C) or ``'per_clip'``."""

    def __init__(self, mode: str = "fixed", mean_c: float = 15.0, std_c: float = 10.0) -> None:
        F.normalize_temperature(np.zeros((1, 1, 1), np.float32), mode, mean_c, std_c)
        self.mode, self.mean_c, self.std_c = mode, mean_c, std_c

    def transform(self, results: dict) -> dict:
        results["imgs"] = F.normalize_temperature(
            results["imgs"], self.mode, self.mean_c, self.std_c
        )
        return results


@TRANSFORMS.register_module()
class CropAroundPerson(BaseTransform):
    """Person-centred clip: a fixed ``size_px`` (rows, columns) window of every frame around
    the centre of ``person_box_xyxy`` (the person's box at the keyframe, pixels), so the
    model sees one person at full sensor resolution instead of a small blob in the room.
    With ``follow_track`` each frame's window is centred on where the person is in that
    frame instead (``person_track``: (K, 5) rows of frame index, x1, y1, x2, y2, from the
    annotated keyframes of that person or from the tracker; linear between them), so a
    walking person stays in the middle of the clip.

    Needs ``imgs`` (T, H, W) and ``person_box_xyxy`` (set by ``ThermalActionDataset`` with
    ``sample_unit='person'``, or by the caller at inference), and with ``follow_track``
    ``person_track`` and ``frame_inds``; moves ``gt_bboxes`` and ``person_box_xyxy`` into
    the keyframe's window and records its ``crop_origin_xy``.
    """

    def __init__(self, size_px: tuple[int, int] = (24, 24), follow_track: bool = False) -> None:
        self.size_px = (int(size_px[0]), int(size_px[1]))
        if min(self.size_px) < 1:
            raise ValueError(f"size_px must be positive, got {size_px}")
        self.follow_track = bool(follow_track)

    def transform(self, results: dict) -> dict:
        box = results.get("person_box_xyxy")
        if box is None:
            raise KeyError(
                "CropAroundPerson needs 'person_box_xyxy': use ThermalActionDataset with "
                "sample_unit='person', or give person boxes at inference"
            )
        box = np.asarray(box, np.float32)
        if self.follow_track:
            crop, boxes, origin = self._along_track(results, box)
        else:
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            crop, boxes, origin = F.crop_around(results["imgs"], centre, self.size_px,
                                                results.get("gt_bboxes"))
        results.update(imgs=crop, img_shape=crop.shape[1:3], crop_origin_xy=origin,
                       person_box_xyxy=box - np.array([*origin, *origin], np.float32))
        if boxes is not None:
            results["gt_bboxes"] = boxes
        return results

    def _along_track(self, results: dict, box: np.ndarray):
        track, frame_inds = results.get("person_track"), results.get("frame_inds")
        if track is None or frame_inds is None:
            raise KeyError("CropAroundPerson(follow_track=True) needs 'person_track' and "
                           "'frame_inds': use ThermalActionDataset with sample_unit='person' "
                           "after LoadThermalWindow, or give person tracks at inference")
        frame_inds = np.asarray(frame_inds)
        key = int(np.argmin(np.abs(frame_inds - int(results["frame_idx"]))))
        known = np.concatenate([np.asarray(track, np.float32).reshape(-1, 5),
                                [[results["frame_idx"], *box]]])  # the keyframe box rules
        centres = F.track_centres(known, frame_inds)
        return F.crop_along(results["imgs"], centres, self.size_px, key,
                            results.get("gt_bboxes"))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size_px={self.size_px}, "
                f"follow_track={self.follow_track})")


@TRANSFORMS.register_module()
class RandomThermalFlip(BaseTransform):
    """Mirror left-right and/or top-bottom, each with its own probability (boxes follow);
    ``transpose_prob`` > 0 also swaps rows and columns of square (person-centred) clips."""

    def __init__(
        self, horizontal_prob: float = 0.5, vertical_prob: float = 0.5, transpose_prob: float = 0.0
    ) -> None:
        self.horizontal_prob, self.vertical_prob = horizontal_prob, vertical_prob
        self.transpose_prob = transpose_prob

    def transform(self, results: dict) -> dict:
        horizontal = np.random.rand() < self.horizontal_prob
        vertical = np.random.rand() < self.vertical_prob
        transpose = np.random.rand() < self.transpose_prob
        results["imgs"], boxes = F.flip_clip(
            results["imgs"], results.get("gt_bboxes"), horizontal, vertical, transpose
        )
        if boxes is not None:
            results["gt_bboxes"] = boxes
        results["flip"] = (horizontal, vertical, transpose)
        return results


@TRANSFORMS.register_module()
class RandomThermalAffine(BaseTransform):
    """Small random translation (up to ``max_shift_px`` pixels) and scale (in ``scale_range``)."""

    def __init__(
        self,
        max_shift_px: float = 3.0,
        scale_range: tuple[float, float] = (0.9, 1.1),
        prob: float = 0.5,
    ) -> None:
        self.max_shift_px, self.scale_range, self.prob = max_shift_px, tuple(scale_range), prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        scale = float(np.random.uniform(*self.scale_range))
        shift = tuple(np.random.uniform(-self.max_shift_px, self.max_shift_px, size=2))
        results["imgs"], boxes = F.affine_clip(
            results["imgs"], results.get("gt_bboxes"), scale, shift
        )
        if boxes is not None:
            results["gt_bboxes"] = boxes
        return results


@TRANSFORMS.register_module()
class RandomTemporalCrop(BaseTransform):
    """Temporal augmentation: from a dense clip around the keyframe (``LoadThermalWindow``
    with ``frame_interval=1`` and ``dense_window_len`` frames, cached before this step),
    take ``clip_len`` frames every ``frame_interval * speed`` frames, speed drawn from
    ``speed_range`` (the sensor's irregular 6-10 fps makes actions look faster or slower),
    centred (or with ``anchor='end'`` ending) up to ``max_shift_frames`` before or after the
    keyframe (``anchor`` None: the sample's ``keyframe_anchor``). Without augmentation
    (probability ``1 - prob``) the clip is the test-time one: speed 1, no shift. The dense
    window is centred on the keyframe either way (``LoadThermalWindow(anchor='centre')``)."""

    def __init__(self, clip_len: int = 32, frame_interval: int = 2, max_shift_frames: int = 8,
                 speed_range: tuple[float, float] = (0.8, 1.25), prob: float = 1.0,
                 anchor: str | None = None) -> None:
        if clip_len < 1 or frame_interval < 1 or max_shift_frames < 0:
            raise ValueError("clip_len and frame_interval must be positive, the shift >= 0")
        if not 0 < speed_range[0] <= speed_range[1]:
            raise ValueError(f"speed_range must be positive and ordered, got {speed_range}")
        self.clip_len, self.frame_interval = clip_len, frame_interval
        self.max_shift_frames, self.prob = max_shift_frames, prob
        self.speed_range = tuple(speed_range)
        self.anchor = None if anchor is None else check_anchor(anchor)

    def dense_len(self, anchor: str = "centre") -> int:
        """Frames of the dense window this crop needs for clips anchored by ``anchor``."""
        return F.dense_window_len(self.clip_len, self.frame_interval, self.max_shift_frames,
                                  self.speed_range[1], anchor)

    def transform(self, results: dict) -> dict:
        anchor = sample_anchor(results, self.anchor)
        dense_len, needed = len(results["imgs"]), self.dense_len(anchor)
        if dense_len < needed:
            raise ValueError(f"RandomTemporalCrop needs a dense window of {needed} frames "
                             f"(LoadThermalWindow frame_interval=1, anchor='centre'), got "
                             f"{dense_len}")
        speed, shift = 1.0, 0.0
        if np.random.rand() < self.prob:
            speed = float(np.exp(np.random.uniform(*np.log(self.speed_range))))
            shift = float(np.random.randint(-self.max_shift_frames, self.max_shift_frames + 1))
        inds = F.temporal_indices(dense_len, self.clip_len, self.frame_interval, shift, speed,
                                  anchor)
        results["imgs"] = results["imgs"][inds]
        for key in ("frame_inds", "timestamps_ms"):
            if results.get(key) is not None:
                results[key] = np.asarray(results[key])[inds]
        results.update(clip_len=self.clip_len, frame_interval=self.frame_interval,
                       temporal_speed=speed, temporal_shift_frames=shift)
        return results


@TRANSFORMS.register_module()
class TemperatureJitter(BaseTransform):
    """Random offset (+-``max_offset_c`` deg C) and contrast gain (``gain_range``), applied in
    deg C before normalization."""

    def __init__(
        self,
        max_offset_c: float = 1.5,
        gain_range: tuple[float, float] = (0.9, 1.1),
        prob: float = 0.8,
    ) -> None:
        self.max_offset_c, self.gain_range, self.prob = max_offset_c, tuple(gain_range), prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        offset = float(np.random.uniform(-self.max_offset_c, self.max_offset_c))
        gain = float(np.random.uniform(*self.gain_range))
        results["imgs"] = F.jitter_temperature(results["imgs"], offset, gain)
        return results


@TRANSFORMS.register_module()
class ThermalToChannels(BaseTransform):
    """Add the channel axis ``FormatShape`` expects: (T, H, W) -> (T, H, W, C)."""

    def __init__(self, num_channels: int = 1) -> None:
        self.num_channels = num_channels

    def transform(self, results: dict) -> dict:
        results["imgs"] = F.to_channels(results["imgs"], self.num_channels)
        return results
