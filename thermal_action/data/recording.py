"""HDF5 recordings: metadata checks, lazy per-process windowed frame reads, and the writer.

A recording holds ``frames`` (N, 40, 60) float32 deg C, ``timestamps`` (N,) int64 ms and
``frame_seqs`` (N,) int64. Recordings are opened on first use inside the process that
reads (one cache per PID), so datasets pickle cleanly into DataLoader workers, and are
decoded into memory while ``MEMORY_BUDGET_BYTES`` allows.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from thermal_action.data.sensor import WINDOW_FRAMES
from thermal_action.errors import DataError

_CHUNK_CACHE_BYTES = 32 * 1024 * 1024
MEMORY_BUDGET_BYTES = 2 * 1024**3
"""Decoded frames each process keeps in memory (first come, first kept; recordings that no
longer fit are read chunk by chunk, so random access never thrashes)."""
COMPRESSION_LEVEL = 4
"""gzip level of the ``frames`` dataset written by ``write_recording`` (as the real data)."""
CHUNK_FRAMES = WINDOW_FRAMES
"""Frames per HDF5 chunk of ``frames`` (one sample window)."""


class _Opened(NamedTuple):
    """One recording as this process reads it: open HDF5 datasets, or decoded arrays."""

    stamp: tuple[int, int]  # (mtime ns, size in bytes) of the file when it was opened
    handle: h5py.File | None
    frames: h5py.Dataset | np.ndarray
    timestamps: h5py.Dataset | np.ndarray


# HDF5 keeps a dataset's chunk cache only while the dataset stays open, so recordings that
# are not held in memory keep their open datasets (reopening them per read decompressed
# every window again: ~9 ms instead of ~0.1 ms per 64-frame window; a decoded array in
# memory serves one in ~0.05 ms).
_opened: dict[str, _Opened] = {}
_opened_pid: int | None = None
_memory_used = 0


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


def _open(path: Path) -> _Opened:
    """This process's reader of ``path``, opened on first use and again when the file
    changed on disk; the frames are decoded into memory while ``MEMORY_BUDGET_BYTES``
    allows."""
    global _opened_pid, _memory_used
    if _opened_pid != os.getpid():
        _opened.clear()  # handles inherited through fork are not safe to share
        _memory_used = 0
        _opened_pid = os.getpid()
    key = str(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(path, f"cannot open recording ({exc})") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    opened = _opened.get(key)
    if opened is not None and opened.stamp == stamp and (
        opened.handle is None or opened.handle.id.valid
    ):
        return opened
    _forget(key)
    handle = None
    try:
        handle = h5py.File(path, "r", rdcc_nbytes=_CHUNK_CACHE_BYTES)
        frames, timestamps = handle["frames"], handle["timestamps"]
        size = frames.size * frames.dtype.itemsize + timestamps.size * timestamps.dtype.itemsize
        if _memory_used + size <= MEMORY_BUDGET_BYTES:
            opened = _Opened(stamp, None, frames[()], timestamps[()])
            handle.close()
            _memory_used += size
        else:
            opened = _Opened(stamp, handle, frames, timestamps)
    except (OSError, KeyError) as exc:
        if handle is not None and handle.id.valid:
            handle.close()
        raise DataError(path, f"cannot read recording ({exc})") from None
    _opened[key] = opened
    return opened


def _forget(key: str) -> None:
    global _memory_used
    opened = _opened.pop(key, None)
    if opened is None:
        return
    if opened.handle is None:
        _memory_used -= opened.frames.nbytes + opened.timestamps.nbytes
    elif opened.handle.id.valid:
        opened.handle.close()


def close_all() -> None:
    """Close every handle this process opened and drop the frames it holds in memory."""
    for key in list(_opened):
        _forget(key)


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
    _, _, frames, timestamps = _open(path)
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
    compression_level: int = COMPRESSION_LEVEL,
    **attrs: object,
) -> Path:
    """Write one recording in the dataset layout and return its path.

    ``temps_c`` (N, H, W) deg C is stored as float32 ``frames``, gzip
    ``compression_level`` (1-9) in ``CHUNK_FRAMES``-frame chunks; ``timestamps_ms`` (N,) and
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
                            compression_opts=compression_level,
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
            compression_level=compression_level,
            created_at=datetime.now(UTC).isoformat(),
        )
        file.attrs.update(attrs)
    return path
