"""Per-frame person boxes of a recording (``person_tracks/<sensor_id>.csv`` in a dataset
folder): what the simulator knows of every person on every frame, the ground truth of
tracking metrics."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from thermal_action.errors import DataError

TRACK_COLUMNS = ("frame_idx", "timestamp_ms", "object_id", "class_id", "x1", "y1", "x2", "y2")
"""Columns of a person-tracks file (boxes in pixel edges)."""
FOLDER = "person_tracks"


def read_person_tracks(path: str | os.PathLike) -> np.ndarray:
    """A ``person_tracks`` CSV as an (M, 8) float64 array in ``TRACK_COLUMNS`` order."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            rows = list(csv.reader(stream))
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror})") from None
    if not rows or tuple(rows[0]) != TRACK_COLUMNS:
        raise DataError(path, f"expected the header {','.join(TRACK_COLUMNS)}")
    try:
        return np.asarray(rows[1:], np.float64).reshape(-1, len(TRACK_COLUMNS))
    except ValueError as exc:
        raise DataError(path, f"not numeric ({exc})") from None


def write_person_tracks(path: str | os.PathLike, rows: np.ndarray) -> Path:
    """Write (M, 8) rows in ``TRACK_COLUMNS`` order as a ``person_tracks`` CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(TRACK_COLUMNS)
        for row in np.asarray(rows).reshape(-1, len(TRACK_COLUMNS)):
            writer.writerow([int(v) for v in row[:4]] + [f"{v:.2f}" for v in row[4:]])
    return path
