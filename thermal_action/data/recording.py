"""HDF5 recordings: metadata checks and lazy, per-process windowed frame reads.

A recording holds ``frames`` (N, 40, 60) float32 deg C, ``timestamps`` (N,) int64 ms and
``frame_seqs`` (N,) int64. Handles are opened on first use inside the process that reads
(one cache per PID), so datasets pickle cleanly into DataLoader workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from thermal_action.errors import DataError

_CHUNK_CACHE_BYTES = 32 * 1024 * 1024
_handles: dict[str, h5py.File] = {}
_handles_pid: int | None = None


class RecordingInfo(NamedTuple):
    """Shape of one recording, read once when a dataset is built."""

    path: Path
    num_frames: int
    height: int
    width: int


class FrameWindow(NamedTuple):
    """Frames of one clip and where they came from."""

    temps_c: np.ndarray  # (T, H, W) float32, deg C, invalid pixels untouched
    frame_inds: np.ndarray  # (T,) int64 indices into the recording, after edge clamping
    timestamps_ms: np.ndarray  # (T,) int64 capture times
    padded: bool  # True when the window ran past either end and was edge-padded


def read_recording_info(path: str | os.PathLike) -> RecordingInfo:
    """Open ``path`` briefly, check its layout and return its shape."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "recording file not found")
    try:
        with h5py.File(path, "r") as file:
            for key in ("frames", "timestamps"):
                if key not in file:
                    raise DataError(path, f"missing dataset '{key}'")
            frames, timestamps = file["frames"], file["timestamps"]
            if frames.ndim != 3:
                raise DataError(path, f"'frames' must be (N, H, W), got shape {frames.shape}")
            if timestamps.shape != (frames.shape[0],):
                raise DataError(
                    path,
                    f"'timestamps' has shape {timestamps.shape}, expected ({frames.shape[0]},)",
                )
            num_frames, height, width = (int(n) for n in frames.shape)
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    if num_frames == 0:
        raise DataError(path, "recording has no frames")
    return RecordingInfo(path, num_frames, height, width)


def _open(path: Path) -> h5py.File:
    """Return this process's read handle for ``path``, opening it on first use."""
    global _handles_pid
    if _handles_pid != os.getpid():
        _handles.clear()  # handles inherited through fork are not safe to share
        _handles_pid = os.getpid()
    key = str(path)
    handle = _handles.get(key)
    if handle is None or not handle.id.valid:
        try:
            handle = h5py.File(path, "r", rdcc_nbytes=_CHUNK_CACHE_BYTES)
        except (OSError, FileNotFoundError) as exc:
            raise DataError(path, f"cannot open recording ({exc})") from None
        _handles[key] = handle
    return handle


def close_all() -> None:
    """Close every handle this process opened."""
    for handle in _handles.values():
        if handle.id.valid:
            handle.close()
    _handles.clear()


def window_indices(
    keyframe: int, clip_len: int, frame_interval: int, num_frames: int
) -> tuple[np.ndarray, bool]:
    """Indices of a ``clip_len``-frame clip sampled every ``frame_interval`` frames from the
    window ``[keyframe - span/2, keyframe + span/2)``, span = clip_len * frame_interval.

    Indices past either end are clamped (edge padding); the flag says whether that happened.
    """
    if not 0 <= keyframe < num_frames:
        raise ValueError(f"keyframe {keyframe} is outside the recording (0..{num_frames - 1})")
    start = keyframe - clip_len * frame_interval // 2
    raw = start + np.arange(clip_len, dtype=np.int64) * frame_interval
    clamped = np.clip(raw, 0, num_frames - 1)
    return clamped, bool((clamped != raw).any())


def read_window(
    path: str | os.PathLike, keyframe: int, clip_len: int, frame_interval: int = 1
) -> FrameWindow:
    """Read the clip around ``keyframe`` from the recording at ``path``."""
    path = Path(path)
    file = _open(path)
    frames = file["frames"]
    num_frames = frames.shape[0]
    try:
        inds, padded = window_indices(keyframe, clip_len, frame_interval, num_frames)
    except ValueError as exc:
        raise DataError(path, str(exc)) from None
    first, last = int(inds.min()), int(inds.max())
    block = frames[first : last + 1]  # one contiguous read; chunks stay in the cache
    temps_c = np.asarray(block[inds - first], dtype=np.float32)
    timestamps_ms = np.asarray(file["timestamps"][first : last + 1])[inds - first]
    return FrameWindow(temps_c, inds, timestamps_ms.astype(np.int64), padded)
