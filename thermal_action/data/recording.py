"""HDF5 recordings: the one module that opens them (checked layout, blockwise scans, frame
reads) and the one that writes them.

A recording holds ``frames`` (N, H, W) float deg C (-273.2 marks a pixel with no reading),
``timestamps`` (N,) int64 ms and optionally ``frame_seqs`` (N,) int64, plus file attributes
(``sensor_id``, ``mac_address``, ...). Every reader goes through ``open_recording``, so a
missing dataset, a wrong shape or an unreadable file is one ``RecordingError`` naming the
file, with a ``code`` the validator reports.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from thermal_action.data.sensor import WINDOW_FRAMES, invalid_mask
from thermal_action.errors import DataError

COMPRESSION_LEVEL = 4
"""gzip level of the ``frames`` dataset written by ``write_recording`` (as the real data)."""
CHUNK_FRAMES = WINDOW_FRAMES
"""Frames per HDF5 chunk of ``frames`` (one sample window)."""
READ_BLOCK_FRAMES = 1024
"""Frames read at a time by ``scan_recording`` (bounds memory on long recordings)."""


class RecordingError(DataError):
    """A recording file that cannot be used; ``code`` says why (``unreadable``,
    ``missing-dataset``, ``bad-frames``, ``empty-recording``, ``wrong-shape``,
    ``bad-timestamps``)."""

    def __init__(self, path: object, problem: str | None = None, code: str = "unreadable"):
        super().__init__(path, problem)
        self.code = code


def non_increasing_steps(values: np.ndarray) -> tuple[int, int]:
    """Number of steps of ``values`` (timestamps or frame counters) that do not increase,
    and the index of the first frame after one (-1 if none)."""
    bad = np.flatnonzero(np.diff(np.asarray(values)) <= 0)
    return len(bad), (int(bad[0]) + 1 if len(bad) else -1)


def not_increasing_problem(name: str, values: np.ndarray) -> str | None:
    """The validator's wording for ``values`` that do not strictly increase (None if they
    do), shared by everything that refuses such a recording."""
    steps, first = non_increasing_steps(values)
    if not steps:
        return None
    return f"'{name}' not strictly increasing: {steps} step(s), first at frame {first}"


class RecordingInfo(NamedTuple):
    """Shape of one recording."""

    path: Path
    num_frames: int
    height: int
    width: int


class OpenRecording(NamedTuple):
    """An open recording whose layout was checked; ``close()`` releases it."""

    path: Path
    file: h5py.File
    frames: h5py.Dataset  # (N, H, W) float deg C
    timestamps: h5py.Dataset  # (N,) ms; its shape is checked by ``read_timestamps``

    @property
    def info(self) -> RecordingInfo:
        num_frames, height, width = (int(n) for n in self.frames.shape)
        return RecordingInfo(self.path, num_frames, height, width)

    def read_timestamps(self, strict: bool = True) -> np.ndarray:
        """All timestamps (N,) int64 ms; ``strict`` refuses a count that differs from the
        frames' and times that do not strictly increase, as ``data validate`` reports them
        (the validator reads them unchecked to report more)."""
        timestamps_ms = np.asarray(self.timestamps[()], dtype=np.int64).reshape(-1)
        if not strict:
            return timestamps_ms
        if timestamps_ms.shape != (self.frames.shape[0],):
            raise RecordingError(self.path, f"'timestamps' has shape {self.timestamps.shape}, "
                                            f"expected ({self.frames.shape[0]},)",
                                 "bad-timestamps")
        problem = not_increasing_problem("timestamps", timestamps_ms)
        if problem:
            raise RecordingError(self.path, problem, "timestamps-not-increasing")
        return timestamps_ms

    def read_frame_seqs(self) -> np.ndarray | None:
        """The sensor's frame counters (N,) int64, or None when the file has none."""
        if "frame_seqs" not in self.file:
            return None
        return np.asarray(self.file["frame_seqs"][()]).reshape(-1)

    def attrs(self) -> dict[str, object]:
        """The file attributes as plain JSON-friendly Python values."""
        return {key: _plain(value) for key, value in self.file.attrs.items()}

    def blocks(self, block_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first index, (B, H, W) float32 deg C) blocks of ``block_frames`` (default
        ``READ_BLOCK_FRAMES``) over the whole recording."""
        block_frames = block_frames or READ_BLOCK_FRAMES
        for start in range(0, self.frames.shape[0], block_frames):
            yield start, np.asarray(self.frames[start : start + block_frames], np.float32)

    def read_frames(self, indices: Iterable[int]) -> np.ndarray:
        """Frames (K, H, W) float32 deg C at ``indices`` (any order, repeats allowed), read
        as one contiguous block."""
        indices = np.asarray(list(indices), dtype=np.int64)
        if not indices.size:
            return np.zeros((0, *self.frames.shape[1:]), np.float32)
        first, last = int(indices.min()), int(indices.max())
        num_frames = self.frames.shape[0]
        if first < 0 or last >= num_frames:
            bad = first if first < 0 else last
            raise RecordingError(self.path, f"frame index {bad} is outside the recording "
                                            f"(0..{num_frames - 1})", "frame-index")
        block = np.asarray(self.frames[first : last + 1], np.float32)
        return block[indices - first]

    def close(self) -> None:
        if self.file.id.valid:
            self.file.close()


def _plain(value: object) -> object:
    """HDF5 attribute -> JSON-friendly Python value."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_checked(
    path: str | os.PathLike,
    frame_shape: tuple[int, int] | None = None,
    chunk_cache_bytes: int | None = None,
) -> OpenRecording:
    """Open ``path`` and check its layout; the caller closes it (see ``open_recording``).
    ``frame_shape`` (rows, columns) refuses frames of another sensor geometry (``wrong-shape``);
    ``chunk_cache_bytes`` sizes HDF5's chunk cache for repeated window reads."""
    path = Path(path)
    if not path.is_file():
        raise RecordingError(path, "recording file not found", "missing-file")
    options = {} if chunk_cache_bytes is None else {"rdcc_nbytes": chunk_cache_bytes}
    try:
        file = h5py.File(path, "r", **options)
    except OSError as exc:
        raise RecordingError(path, f"not a readable HDF5 file ({exc})") from None
    try:
        _check_layout(path, file, frame_shape)
    except BaseException:
        file.close()
        raise
    return OpenRecording(path, file, file["frames"], file["timestamps"])


def _check_layout(path: Path, file: h5py.File, frame_shape: tuple[int, int] | None) -> None:
    missing = [key for key in ("frames", "timestamps") if key not in file]
    if missing:
        raise RecordingError(path, f"missing dataset(s) {', '.join(missing)}", "missing-dataset")
    frames = file["frames"]
    if frames.ndim != 3 or not np.issubdtype(frames.dtype, np.floating):
        raise RecordingError(path, f"'frames' must be (N, H, W) float, got {frames.shape} "
                                   f"{frames.dtype}", "bad-frames")
    if frames.shape[0] == 0:
        raise RecordingError(path, "recording has no frames", "empty-recording")
    if frame_shape is not None and tuple(frames.shape[1:]) != tuple(frame_shape):
        raise RecordingError(
            path, "frames are {}x{} pixels, but the dataset's sensor is {}x{} (a transposed "
            "or foreign recording?)".format(*frames.shape[1:], *frame_shape), "wrong-shape")


@contextmanager
def open_recording(
    path: str | os.PathLike, frame_shape: tuple[int, int] | None = None
) -> Iterator[OpenRecording]:
    """``with open_recording(path) as recording:`` an open, checked recording."""
    recording = open_checked(path, frame_shape)
    try:
        yield recording
    finally:
        recording.close()


def read_recording_info(
    path: str | os.PathLike, frame_shape: tuple[int, int] | None = None
) -> RecordingInfo:
    """Check ``path``'s layout (and sensor geometry, when ``frame_shape`` is given) and its
    timestamps (``read_timestamps``), and return its shape."""
    with open_recording(path, frame_shape) as recording:
        recording.read_timestamps()
        return recording.info


def read_frames(
    path: str | os.PathLike, indices: Iterable[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (K, H, W) float32 deg C at ``indices`` and all timestamps (N,) int64 ms."""
    with open_recording(path) as recording:
        return recording.read_frames(indices), recording.read_timestamps()


class RecordingScan(NamedTuple):
    """Everything one pass over a recording measures (see ``scan_recording``)."""

    info: RecordingInfo
    frames_dtype: np.dtype
    timestamps_ms: np.ndarray  # (M,) int64 as stored; M != N is the caller's to report
    frame_seqs: np.ndarray | None  # (M,) as stored, None when absent
    attrs: dict[str, object]
    invalid_per_frame: np.ndarray  # (N,) int64 pixels with no reading (-273.2 or non-finite)
    nonfinite_frames: int  # frames holding NaN or infinite values
    valid_min_c: float | None  # over valid pixels, deg C; None when no pixel is valid
    valid_max_c: float | None
    kept_frames: dict[int, np.ndarray]  # the frames asked for by ``keep``, (H, W) deg C


def scan_recording(
    path: str | os.PathLike,
    keep: Iterable[int] = (),
    frame_shape: tuple[int, int] | None = None,
    block_frames: int | None = None,
) -> RecordingScan:
    """Read the recording at ``path`` once, block by block: timestamps, invalid pixels per
    frame, non-finite frames, the valid temperature range, and the frames at ``keep``
    (e.g. keyframes). Raises ``RecordingError`` when the file cannot be used at all."""
    with open_recording(path, frame_shape) as recording:
        info = recording.info
        wanted = sorted(set(int(i) for i in keep))
        if wanted and (wanted[0] < 0 or wanted[-1] >= info.num_frames):
            raise RecordingError(path, f"frame index {wanted[-1]} is past the last frame "
                                       f"({info.num_frames - 1})", "frame-index")
        invalid_per_frame = np.zeros(info.num_frames, np.int64)
        nonfinite, low, high, kept = 0, np.inf, -np.inf, {}
        for start, block in recording.blocks(block_frames):
            nonfinite += int((~np.isfinite(block)).any(axis=(1, 2)).sum())
            invalid = invalid_mask(block)
            invalid_per_frame[start : start + len(block)] = invalid.sum(axis=(1, 2))
            valid = block[~invalid]
            if valid.size:
                low, high = min(low, float(valid.min())), max(high, float(valid.max()))
            kept.update({i: block[i - start] for i in wanted if start <= i < start + len(block)})
        return RecordingScan(
            info, recording.frames.dtype, recording.read_timestamps(strict=False),
            recording.read_frame_seqs(), recording.attrs(), invalid_per_frame, nonfinite,
            low if np.isfinite(low) else None, high if np.isfinite(high) else None, kept)


def write_recording(
    path: str | os.PathLike,
    temps_c: np.ndarray,
    timestamps_ms: np.ndarray,
    frame_seqs: np.ndarray | None = None,
    compression_level: int = COMPRESSION_LEVEL,
    **attrs: Any,
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
