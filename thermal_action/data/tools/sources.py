"""Recording sources for ``data build``: HDF5, NumPy and CSV files -> checked arrays.

One recording per file; the file stem is the sensor id. Temperatures are deg C, and
``-273.2`` marks a pixel with no reading (any other NaN or infinite value is an error).

- ``.h5`` / ``.hdf5``: the dataset layout: ``frames`` (N, H, W), ``timestamps`` (N,) ms,
  optional ``frame_seqs`` (N,); the file attributes (``mac_address``, ...) are kept.
- ``.npz``: arrays ``frames`` (N, H, W), ``timestamps`` (N,) ms, optional ``frame_seqs`` (N,).
- ``.npy``: one (N, 1 + H*W) array, one row per frame: the timestamp in ms, then the H*W
  pixels row-major (the CSV rows as an array).
- ``.csv``: one row per frame: the timestamp in ms, then the H*W pixels row-major, comma
  separated; a first line that is not numbers is a header and is skipped.

Without ``frame_seqs`` the frame counter is 0..N-1.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from thermal_action.data.annotations import check_sensor_id
from thermal_action.data.recording import open_recording
from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.errors import DataError

FRAME_SHAPE = SENSOR_SHAPE
"""Sensor geometry (rows, columns) a recording must have unless told otherwise."""


class SourceRecording(NamedTuple):
    """One recording read from any source format, checked."""

    sensor_id: str
    path: Path
    temps_c: np.ndarray  # (N, H, W) float32 deg C; -273.2 marks pixels with no reading
    timestamps_ms: np.ndarray  # (N,) int64, strictly increasing
    frame_seqs: np.ndarray  # (N,) int64, strictly increasing
    attrs: dict[str, object]  # file attributes of an HDF5 source (mac_address, ...), else {}


def _read_hdf5(path: Path, frame_shape: tuple[int, int]):
    with open_recording(path) as recording:
        return (recording.frames[()], recording.read_timestamps(strict=False),
                recording.read_frame_seqs(), recording.attrs())


def _read_npz(path: Path, frame_shape: tuple[int, int]):
    try:
        with np.load(path, allow_pickle=False) as arrays:
            content = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(path, f"not a readable .npz file ({exc})") from None
    for key in ("frames", "timestamps"):
        if key not in content:
            raise DataError(path, f"missing array '{key}' (has {sorted(content)})")
    return content["frames"], content["timestamps"], content.get("frame_seqs"), {}


def _split_rows(path: Path, rows: np.ndarray, frame_shape: tuple[int, int]):
    height, width = frame_shape
    columns = 1 + height * width
    if rows.ndim != 2 or rows.shape[1] != columns:
        raise DataError(path, f"expected rows of {columns} values (timestamp ms, then "
                              f"{height}x{width} pixels), got an array of shape {rows.shape}")
    return rows[:, 1:].reshape(-1, height, width), rows[:, 0], None, {}


def _read_npy(path: Path, frame_shape: tuple[int, int]):
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"not a readable .npy file ({exc})") from None
    return _split_rows(path, rows, frame_shape)


def _read_csv(path: Path, frame_shape: tuple[int, int]):
    try:
        with path.open(encoding="utf-8") as stream:
            first = stream.readline().split(",", 1)[0].strip()
        try:
            float(first)
            header = 0
        except ValueError:
            header = 1
        rows = np.loadtxt(path, delimiter=",", skiprows=header, ndmin=2, dtype=np.float64)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV file ({exc})") from None
    except ValueError as exc:
        raise DataError(path, f"not a numeric CSV file ({exc})") from None
    return _split_rows(path, rows, frame_shape)


READERS: dict[str, Callable] = {
    ".h5": _read_hdf5,
    ".hdf5": _read_hdf5,
    ".npz": _read_npz,
    ".npy": _read_npy,
    ".csv": _read_csv,
}
"""Recording file suffix -> reader."""


def find_recordings(folder: str | os.PathLike) -> dict[str, Path]:
    """Sensor id (file stem) -> recording file for every file in ``folder`` with a suffix
    in ``READERS``; two files of the same stem are an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "recordings folder not found")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in READERS or not path.is_file():
            continue
        sensor_id = check_sensor_id(path.stem, path)
        if sensor_id in found:
            raise DataError(path, f"recording {sensor_id!r} also given as {found[sensor_id].name}")
        found[sensor_id] = path
    return found


def _integers(path: Path, values: np.ndarray, name: str, num_frames: int) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (num_frames,):
        raise DataError(path, f"'{name}' has shape {values.shape}, expected ({num_frames},)")
    if values.dtype.kind not in "iuf":
        raise DataError(path, f"'{name}' must be numbers, got {values.dtype}")
    if not np.isfinite(values).all() or (values != np.round(values)).any():
        raise DataError(path, f"'{name}' must be whole numbers")
    values = values.astype(np.int64)
    bad = np.flatnonzero(np.diff(values) <= 0)
    if len(bad):
        i = int(bad[0]) + 1
        raise DataError(path, f"'{name}' not strictly increasing: {len(bad)} step(s), first "
                              f"at frame {i} ({values[i - 1]} -> {values[i]})")
    return values


def read_source(
    path: str | os.PathLike, frame_shape: tuple[int, int] = FRAME_SHAPE
) -> SourceRecording:
    """Read and check one recording file (format by suffix, see the module docstring).

    Raises ``DataError`` naming the file for an unreadable file, frames that are not
    (N, *frame_shape*), NaN or infinite values, or timestamps / frame counters that are
    not strictly increasing whole numbers.
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(path, f"unknown recording format (expected {', '.join(READERS)})")
    if not path.is_file():
        raise DataError(path, "recording file not found")
    frames, timestamps, frame_seqs, attrs = reader(path, frame_shape)
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.shape[1:] != tuple(frame_shape):
        raise DataError(path, f"frames must be (N, {frame_shape[0]}, {frame_shape[1]}), "
                              f"got shape {frames.shape}")
    if len(frames) == 0:
        raise DataError(path, "recording has no frames")
    if frames.dtype.kind not in "iuf":
        raise DataError(path, f"frames must be numbers, got {frames.dtype}")
    temps_c = frames.astype(np.float32)
    nonfinite = np.flatnonzero(~np.isfinite(temps_c).all(axis=(1, 2)))
    if len(nonfinite):
        raise DataError(path, f"{len(nonfinite)} frame(s) contain NaN or infinite values, "
                              f"first at frame {nonfinite[0]} (only -273.2 may mark a "
                              "missing reading)")
    num_frames = len(temps_c)
    timestamps_ms = _integers(path, timestamps, "timestamps", num_frames)
    if frame_seqs is None:
        frame_seqs = np.arange(num_frames, dtype=np.int64)
    else:
        frame_seqs = _integers(path, frame_seqs, "frame_seqs", num_frames)
    return SourceRecording(path.stem, path, temps_c, timestamps_ms, frame_seqs, attrs)
