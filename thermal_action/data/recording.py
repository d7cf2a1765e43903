"""HDF5 recordings: metadata checks, lazy per-process windowed frame reads, and the writer.

A recording holds ``frames`` (N, 40, 60) float32 deg C, ``timestamps`` (N,) int64 ms and
``frame_seqs`` (N,) int64. Handles are opened on first use inside the process that reads
(one cache per PID), so datasets pickle cleanly into DataLoader workers.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from thermal_action.errors import DataError

_CHUNK_CACHE_BYTES = 32 * 1024 * 1024
COMPRESSION_LEVEL = 4
"""gzip level of the ``frames`` dataset written by ``write_recording`` (as the real data)."""
CHUNK_FRAMES = 64
"""Frames per HDF5 chunk of ``frames`` (one 64-frame sample window)."""
_handles: dict[str, h5py.File] = {}
# HDF5 keeps a dataset's chunk cache only while the dataset stays open, so the open
# 'frames' / 'timestamps' datasets are kept with their file (reopening them per read
# decompressed every window again: ~9 ms instead of ~0.1 ms per 64-frame window).
_datasets: dict[str, tuple[h5py.Dataset, h5py.Dataset]] = {}
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


def _open(path: Path) -> tuple[h5py.Dataset, h5py.Dataset]:
    """This process's open ``frames`` and ``timestamps`` datasets of ``path``, opened on
    first use."""
    global _handles_pid
    if _handles_pid != os.getpid():
        _handles.clear()  # handles inherited through fork are not safe to share
        _datasets.clear()
        _handles_pid = os.getpid()
    key = str(path)
    handle = _handles.get(key)
    if handle is None or not handle.id.valid:
        try:
            handle = h5py.File(path, "r", rdcc_nbytes=_CHUNK_CACHE_BYTES)
        except (OSError, FileNotFoundError) as exc:
            raise DataError(path, f"cannot open recording ({exc})") from None
        _handles[key] = handle
        _datasets[key] = handle["frames"], handle["timestamps"]
    return _datasets[key]


def close_all() -> None:
    """Close every handle this process opened."""
    for handle in _handles.values():
        if handle.id.valid:
            handle.close()
    _handles.clear()
    _datasets.clear()


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
    frames, timestamps = _open(path)
    num_frames = frames.shape[0]
    try:
        inds, padded = window_indices(keyframe, clip_len, frame_interval, num_frames)
    except ValueError as exc:
        raise DataError(path, str(exc)) from None
    first, last = int(inds.min()), int(inds.max())
    block = frames[first : last + 1]  # one contiguous read; chunks stay in the cache
    temps_c = np.asarray(block[inds - first], dtype=np.float32)
    timestamps_ms = np.asarray(timestamps[first : last + 1])[inds - first]
    return FrameWindow(temps_c, inds, timestamps_ms.astype(np.int64), padded)


def write_recording(
    path: str | os.PathLike,
    temps_c: np.ndarray,
    timestamps_ms: np.ndarray,
    frame_seqs: np.ndarray | None = None,
    **attrs: object,
) -> Path:
    """Write one recording in the dataset layout and return its path.

    ``temps_c`` (N, H, W) deg C is stored as float32 ``frames``, gzip level
    ``COMPRESSION_LEVEL`` in ``CHUNK_FRAMES``-frame chunks; ``timestamps_ms`` (N,) and
    ``frame_seqs`` (N,) (0..N-1 when not given) as int64. The file attributes
    ``frame_height``, ``frame_width``, ``total_frames``, ``min_timestamp``,
    ``max_timestamp``, ``compression``, ``compression_level`` and ``created_at`` (UTC, ISO
    8601) are derived; ``attrs`` (e.g. ``sensor_id``, ``mac_address``) are added as given.
    """
    path = Path(path)
    temps_c = np.asarray(temps_c, dtype=np.float32)
    timestamps_ms = np.asarray(timestamps_ms, dtype=np.int64)
    if temps_c.ndim != 3 or not len(temps_c) or timestamps_ms.shape != temps_c.shape[:1]:
        raise ValueError(f"expected frames (N>0, H, W) and timestamps (N,), got "
                         f"{temps_c.shape} and {timestamps_ms.shape}")
    num_frames, height, width = temps_c.shape
    if frame_seqs is None:
        frame_seqs = np.arange(num_frames, dtype=np.int64)
    with h5py.File(path, "w") as file:
        file.create_dataset("frames", data=temps_c, compression="gzip",
                            compression_opts=COMPRESSION_LEVEL,
                            chunks=(min(CHUNK_FRAMES, num_frames), height, width))
        file.create_dataset("timestamps", data=timestamps_ms)
        file.create_dataset("frame_seqs", data=np.asarray(frame_seqs, dtype=np.int64))
        file.attrs.update(
            frame_height=height,
            frame_width=width,
            total_frames=num_frames,
            min_timestamp=int(timestamps_ms[0]),
            max_timestamp=int(timestamps_ms[-1]),
            compression="gzip",
            compression_level=COMPRESSION_LEVEL,
            created_at=datetime.now(UTC).isoformat(),
        )
        file.attrs.update(attrs)
    return path
