"""A dataset folder's layout: ``frames/<sensor_id>.h5`` (+ ``sensor_info.json``) and
``annotations/<split>.json`` (+ ``class_mapping.json``). One place lists its recordings,
split files and keyframes and knows its sensor geometry, for every tool that reads one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from thermal_action.data.annotations import Keyframe, load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.recording import read_frames
from thermal_action.errors import DataError

NOT_SPLITS = ("class_mapping.json",)
"""Files of ``annotations/`` that hold no keyframes."""
SENSOR_INFO = "sensor_info.json"


def check_root(root: str | os.PathLike) -> Path:
    """``root`` as a Path; ``DataError`` when it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    return root


def recording_paths(root: str | os.PathLike, required: bool = True) -> list[Path]:
    """The recordings ``frames/*.h5`` of a dataset folder, sorted by sensor id; with
    ``required`` a missing or empty frames folder is a ``DataError``."""
    frames_dir = check_root(root) / "frames"
    paths = sorted(frames_dir.glob("*.h5")) if frames_dir.is_dir() else []
    if required and not frames_dir.is_dir():
        raise DataError(frames_dir, "frames folder not found")
    if required and not paths:
        raise DataError(frames_dir, "no recordings (*.h5) in the frames folder")
    return paths


def split_files(root: str | os.PathLike, required: bool = True) -> list[Path]:
    """The split files ``annotations/*.json`` (all but ``class_mapping.json``), sorted;
    with ``required`` a missing folder or no file is a ``DataError``."""
    ann_dir = check_root(root) / "annotations"
    files = sorted(path for path in (ann_dir.glob("*.json") if ann_dir.is_dir() else [])
                   if path.name not in NOT_SPLITS)
    if required and not ann_dir.is_dir():
        raise DataError(ann_dir, "annotations folder not found")
    if required and not files:
        raise DataError(ann_dir, "no annotation files (*.json) in the annotations folder")
    return files


def split_keyframes(
    root: str | os.PathLike, splits: tuple[str, ...] | None = None
) -> dict[str, list[Keyframe]]:
    """Split name -> its keyframes with at least one person box, for ``splits`` (the ones
    present; every split file when None)."""
    files = split_files(root)
    if splits is not None:
        files = [path for path in files if path.stem in splits]
        if not files:
            raise DataError(check_root(root) / "annotations",
                            f"none of {', '.join(f'{s}.json' for s in splits)} found")
    return {path.stem: load_keyframes(path, CLASS_NAMES)[0] for path in files}


def sensor_geometry(frames_dir: str | os.PathLike) -> tuple[int, int] | None:
    """(rows, columns) that ``frames_dir/sensor_info.json`` records for its recordings
    (``frame_height``/``frame_width``, written by ``data build``), or None when it records
    none. Recordings of different shapes in one dataset are a ``DataError``."""
    path = Path(frames_dir) / SENSOR_INFO
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DataError(path, f"not a readable JSON file ({exc})") from None
    shapes = {(entry["frame_height"], entry["frame_width"]) for entry in info.values()
              if isinstance(entry, dict) and "frame_height" in entry and "frame_width" in entry}
    if len(shapes) > 1:
        raise DataError(path, f"recordings of several frame shapes: {sorted(shapes)}")
    if not shapes:
        return None
    (height, width), = shapes
    return int(height), int(width)


def sample_keyframes(
    root: str | os.PathLike, count: int, seed: int, splits: tuple[str, ...] = ("train", "val")
) -> list[tuple[Keyframe, np.ndarray]]:
    """Up to ``count`` keyframes of ``splits`` drawn with ``seed``, each with its (H, W)
    frame in deg C."""
    keyframes = [k for split in split_keyframes(root, splits).values() for k in split]
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(keyframes), size=min(count, len(keyframes)), replace=False))
    chosen = [keyframes[i] for i in picks]
    frames_dir = check_root(root) / "frames"
    frames: dict[tuple[str, int], np.ndarray] = {}
    for sensor_id in sorted({k.sensor_id for k in chosen}):
        path = frames_dir / f"{sensor_id}.h5"
        if not path.is_file():
            raise DataError(frames_dir, f"annotations refer to recording {sensor_id!r} with "
                                        "no HDF5 file")
        indices = sorted({k.frame_idx for k in chosen if k.sensor_id == sensor_id})
        read, _ = read_frames(path, indices)
        frames.update({(sensor_id, index): frame for index, frame in zip(indices, read,
                                                                        strict=True)})
    return [(k, frames[k.sensor_id, k.frame_idx]) for k in chosen]
