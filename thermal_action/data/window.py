"""Which frames make a clip: the sampled window around a keyframe, read from a recording
file or taken from frames already in memory.

``WindowReader`` keeps the recordings it reads open in the process that reads them (a
reader copied into a DataLoader worker starts empty there, so datasets pickle cleanly), and
decodes them into memory while its ``memory_budget_bytes`` allows; recordings beyond the
budget are read through HDF5's chunk cache. HDF5 keeps a dataset's chunk cache only while
the dataset stays open: reopening per read decompressed every window again (~9 ms instead
of ~0.1 ms per 64-frame window; a decoded array serves one in ~0.05 ms).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from thermal_action.data.recording import OpenRecording, RecordingError, open_checked
from thermal_action.errors import DataError

MEMORY_BUDGET_BYTES = 2 * 1024**3
"""Default decoded frames one reader keeps in memory per process."""
CHUNK_CACHE_BYTES = 32 * 1024 * 1024
"""HDF5 chunk cache per recording read from disk."""


class FrameWindow(NamedTuple):
    """Frames of one clip and where they came from."""

    temps_c: np.ndarray  # (T, H, W) float32, deg C, invalid pixels untouched
    frame_inds: np.ndarray  # (T,) int64 indices into the recording, after edge clamping
    timestamps_ms: np.ndarray  # (T,) int64 capture times
    padded: bool  # True when the window ran past either end and was edge-padded


ANCHORS = ("centre", "end")
"""Where a sample's keyframe sits in its window: at the ``centre`` (what an annotator saw
around the moment, the seed's layout) or at the ``end`` (causal: the newest frame's
action, which a live stream can report without waiting for half a window)."""


def check_anchor(anchor: str) -> str:
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, got {anchor!r}")
    return anchor


def keyframe_position(span: int, anchor: str = "centre") -> int:
    """Index of the keyframe inside a dense ``span``-frame window anchored by ``anchor``."""
    return span - 1 if check_anchor(anchor) == "end" else span // 2


def window_indices(
    keyframe: int, clip_len: int, frame_interval: int, num_frames: int, anchor: str = "centre"
) -> tuple[np.ndarray, bool]:
    """Indices of a ``clip_len``-frame clip sampled every ``frame_interval`` frames: from the
    window ``[keyframe - span/2, keyframe + span/2)``, span = clip_len * frame_interval, or
    with ``anchor='end'`` ending at the keyframe itself (its last sampled frame).

    Indices past either end are clamped (edge padding); the flag says whether that happened.
    """
    if not 0 <= keyframe < num_frames:
        raise ValueError(f"keyframe {keyframe} is outside the recording (0..{num_frames - 1})")
    if check_anchor(anchor) == "end":
        start = keyframe - (clip_len - 1) * frame_interval
    else:
        start = keyframe - clip_len * frame_interval // 2
    raw = start + np.arange(clip_len, dtype=np.int64) * frame_interval
    clamped = np.clip(raw, 0, num_frames - 1)
    return clamped, bool((clamped != raw).any())


def window_from_arrays(
    temps_c: np.ndarray,
    timestamps_ms: np.ndarray | None,
    keyframe: int,
    clip_len: int,
    frame_interval: int = 1,
    anchor: str = "centre",
) -> FrameWindow:
    """The clip of ``keyframe`` (``window_indices``) from frames already in memory:
    ``temps_c`` (N, H, W) deg C and ``timestamps_ms`` (N,) (None: 0, 1, 2, ... as
    placeholders)."""
    temps_c = np.asarray(temps_c)
    if temps_c.ndim != 3:
        raise ValueError(f"frames must be (N, H, W) deg C, got shape {temps_c.shape}")
    inds, padded = window_indices(keyframe, clip_len, frame_interval, len(temps_c),
                                   anchor)
    times = (np.arange(len(temps_c), dtype=np.int64) if timestamps_ms is None
             else np.asarray(timestamps_ms, dtype=np.int64))
    return FrameWindow(temps_c[inds].astype(np.float32, copy=False), inds, times[inds], padded)


class _Held(NamedTuple):
    """One recording as this process reads it: open HDF5 datasets, or decoded arrays."""

    stamp: tuple[int, int]  # (mtime ns, size in bytes) of the file when it was opened
    recording: OpenRecording | None  # None when decoded into memory
    frames: h5py.Dataset | np.ndarray
    timestamps: h5py.Dataset | np.ndarray


class WindowReader:
    """Reads clip windows of recording files for one process (see the module docstring).
    A recording rewritten on disk (other mtime or size) is read again."""

    def __init__(self, memory_budget_bytes: int = MEMORY_BUDGET_BYTES,
                 chunk_cache_bytes: int = CHUNK_CACHE_BYTES) -> None:
        if memory_budget_bytes < 0 or chunk_cache_bytes < 0:
            raise ValueError("memory_budget_bytes and chunk_cache_bytes must be >= 0")
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.chunk_cache_bytes = int(chunk_cache_bytes)
        self._held: dict[str, _Held] = {}
        self._memory_used = 0
        self._pid = os.getpid()

    @property
    def memory_used(self) -> int:
        """Bytes of decoded frames and timestamps held in memory by this process."""
        return self._memory_used

    def holds_in_memory(self, path: str | os.PathLike) -> bool:
        held = self._held.get(str(path))
        return held is not None and held.recording is None

    def __getstate__(self) -> dict:
        """A pickled reader (for a spawned worker) starts empty: HDF5 handles do not pickle."""
        return {**self.__dict__, "_held": {}, "_memory_used": 0, "_pid": None}

    def read(self, path: str | os.PathLike, keyframe: int, clip_len: int,
             frame_interval: int = 1, anchor: str = "centre") -> FrameWindow:
        """The clip of ``keyframe`` (``window_indices``) of the recording at ``path``."""
        path = Path(path)
        held = self._hold(path)
        num_frames = held.frames.shape[0]
        try:
            inds, padded = window_indices(keyframe, clip_len, frame_interval, num_frames,
                                           anchor)
        except ValueError as exc:
            raise DataError(path, str(exc)) from None
        first, last = int(inds.min()), int(inds.max())
        block = held.frames[first : last + 1]  # one contiguous read; chunks stay cached
        temps_c = np.asarray(block[inds - first], dtype=np.float32)
        timestamps_ms = np.asarray(held.timestamps[first : last + 1])[inds - first]
        return FrameWindow(temps_c, inds, timestamps_ms.astype(np.int64), padded)

    def _hold(self, path: Path) -> _Held:
        if self._pid != os.getpid():
            self._held, self._memory_used, self._pid = {}, 0, os.getpid()  # fork: not shared
        key = str(path)
        try:
            stat = path.stat()
        except OSError as exc:
            raise DataError(path, f"cannot open recording ({exc})") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        held = self._held.get(key)
        if held is not None and held.stamp == stamp and (
            held.recording is None or held.recording.file.id.valid
        ):
            return held
        self._forget(key)
        recording = open_checked(path, chunk_cache_bytes=self.chunk_cache_bytes)
        try:
            timestamps_ms = recording.read_timestamps()  # strictly increasing, or refused
            size = recording.frames.size * recording.frames.dtype.itemsize + timestamps_ms.nbytes
            if self._memory_used + size <= self.memory_budget_bytes:
                held = _Held(stamp, None, recording.frames[()], timestamps_ms)
                recording.close()
                self._memory_used += size
            else:
                held = _Held(stamp, recording, recording.frames, timestamps_ms)
        except (OSError, KeyError) as exc:
            recording.close()
            raise RecordingError(path, f"cannot read recording ({exc})") from None
        except BaseException:
            recording.close()
            raise
        self._held[key] = held
        return held

    def _forget(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        if held.recording is None:
            self._memory_used -= held.frames.nbytes + held.timestamps.nbytes
        else:
            held.recording.close()

    def close(self) -> None:
        """Close every recording this reader holds and drop its decoded frames."""
        for key in list(self._held):
            self._forget(key)
