"""Folds of an evaluation protocol: which keyframes a model trains on and which it is
scored on, with whole recordings or sessions held out so that no scored window shares a
frame with a training window.

Every keyframe of the dataset's split files (``annotations/*.json``) goes into the pool;
a fold writes its train and test halves as COCO files under its own folder, which the
dataset class reads from the unchanged ``frames/`` of the data root.

- ``leave-one-session-out``: one fold per session (``session_of``), the others train.
- ``leave-one-recording-out``: one fold per recording.
- ``given``: the dataset's own ``train.json`` against its ``test.json`` (``val.json``
  when there is none), kept as a reference even when the two overlap.

``inner_folds`` splits one fold's training keyframes again, one recording held out at a
time, for choosing between recipes without the fold's held-out recordings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from thermal_action.compat import write_text_atomic
from thermal_action.data.annotations import read_coco
from thermal_action.data.dataset_root import split_files
from thermal_action.data.tools.splits import overlapping_windows, session_of
from thermal_action.errors import DataError

PROTOCOLS = ("leave-one-session-out", "leave-one-recording-out", "given")


class Fold(NamedTuple):
    """One train/test pair of a protocol. ``held_out``: the test recordings' sensor ids;
    ``overlap``: test windows that overlap a training window of the same recording (0 for
    the leave-one-out protocols; a non-zero count means the scores are not held out)."""

    name: str
    train_ann: Path
    test_ann: Path
    held_out: tuple[str, ...]
    train_keyframes: int
    test_keyframes: int
    overlap: int

    def overlap_line(self) -> str:
        """How the test split relates to train, in words."""
        return overlap_sentence("test", "train", self.overlap, self.test_keyframes)


def overlap_sentence(name: str, train_name: str, overlap: int, windows: int) -> str:
    """E.g. "val overlaps train in 73 of 73 windows: not held out"."""
    if overlap:
        return f"{name} overlaps {train_name} in {overlap} of {windows} windows: not held out"
    return f"{name} shares no window with {train_name} ({windows} windows): held out"


def _pool(root: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """(images, annotations, categories) of every split file, each keyframe once;
    annotation ids renumbered (split files may reuse them)."""
    images: dict[str, dict] = {}
    annotations: list[dict] = []
    categories: list[dict] = []
    for path in split_files(root):
        content = read_coco(path)
        categories = categories or content.get("categories", [])
        fresh = {str(image["id"]): image for image in content["images"]
                 if str(image["id"]) not in images}
        images.update(fresh)
        annotations += [dict(ann, id=len(annotations) + offset)
                        for offset, ann in enumerate(a for a in content["annotations"]
                                                     if str(a["image_id"]) in fresh)]
    return list(images.values()), annotations, categories


def _write_coco(path: Path, images: list[dict], annotations: list[dict],
                categories: list[dict], description: str) -> None:
    ids = {str(image["id"]) for image in images}
    document = dict(images=images,
                    annotations=[a for a in annotations if str(a["image_id"]) in ids],
                    categories=categories, info=dict(description=description))
    write_text_atomic(path, json.dumps(document))


def _keyframe_ids(images: Sequence[dict], annotations: Sequence[dict]) -> list[tuple[str, int]]:
    """(sensor_id, frame_idx) of the images that hold at least one annotation."""
    annotated = {str(a["image_id"]) for a in annotations}
    return [(str(i["sensor_id"]), int(i["frame_idx"])) for i in images
            if str(i["id"]) in annotated]


def build_folds(data_root: str | os.PathLike, protocol: str, out_dir: str | os.PathLike,
                window: int = 64) -> list[Fold]:
    """The folds of ``protocol`` over the dataset at ``data_root``, their COCO files
    written under ``out_dir/<fold name>/`` (``given`` points at the dataset's own files).
    ``window``: frames of a sample window, for the overlap count."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    root, out = Path(data_root), Path(out_dir)
    if protocol == "given":
        return [_given_fold(root, window)]
    return _leave_one_out(*_pool(root), protocol, out, window, root / "annotations")


def inner_folds(outer: Fold, out_dir: str | os.PathLike, window: int = 64) -> list[Fold]:
    """Leave-one-recording-out over the training keyframes of ``outer`` only (its
    ``train_ann``), written under ``out_dir/<recording>/``: the folds a choice between
    recipes is made on without reading ``outer``'s held-out recordings."""
    content = read_coco(outer.train_ann)
    return _leave_one_out(content["images"], content["annotations"],
                          content.get("categories", []), "leave-one-recording-out",
                          Path(out_dir), window, outer.train_ann)


def fold_recordings(fold: Fold) -> tuple[set[str], set[str]]:
    """The sensor ids of every keyframe in ``fold``'s train and test files."""
    train, test = (read_coco(path)["images"] for path in (fold.train_ann, fold.test_ann))
    return {str(i["sensor_id"]) for i in train}, {str(i["sensor_id"]) for i in test}


def _leave_one_out(images: list[dict], annotations: list[dict], categories: list[dict],
                   protocol: str, out: Path, window: int, source: Path) -> list[Fold]:
    """One fold per session or recording of the pool, each held out in turn."""
    group_of: Callable[[str], str] = session_of if protocol == "leave-one-session-out" \
        else (lambda sensor_id: sensor_id)
    groups = sorted({group_of(str(image["sensor_id"])) for image in images})
    if len(groups) < 2:
        raise DataError(source, f"{protocol} needs at least two "
                        f"{'sessions' if protocol == 'leave-one-session-out' else 'recordings'}"
                        f", found {', '.join(groups) or 'none'}")
    folds = []
    for group in groups:
        test = [i for i in images if group_of(str(i["sensor_id"])) == group]
        train = [i for i in images if group_of(str(i["sensor_id"])) != group]
        fold_dir = out / group
        _write_coco(fold_dir / "train.json", train, annotations, categories,
                    f"{protocol}: all but {group}")
        _write_coco(fold_dir / "test.json", test, annotations, categories,
                    f"{protocol}: {group} held out")
        folds.append(_fold(group, fold_dir / "train.json", fold_dir / "test.json",
                           train, test, annotations, window))
    return folds


def _fold(name: str, train_ann: Path, test_ann: Path, train: list[dict], test: list[dict],
          annotations: list[dict], window: int) -> Fold:
    train_ids, test_ids = _keyframe_ids(train, annotations), _keyframe_ids(test, annotations)
    if not train_ids or not test_ids:
        raise DataError(test_ann if not test_ids else train_ann,
                        f"fold {name}: no annotated keyframe to "
                        f"{'score' if not test_ids else 'train on'}")
    return Fold(name, train_ann, test_ann,
                tuple(sorted({sensor for sensor, _ in test_ids})), len(train_ids),
                len(test_ids), overlapping_windows(test_ids, train_ids, window))


def _given_fold(root: Path, window: int) -> Fold:
    ann_dir = root / "annotations"
    train_ann = ann_dir / "train.json"
    test_ann = ann_dir / "test.json" if (ann_dir / "test.json").is_file() else \
        ann_dir / "val.json"
    train, test = read_coco(train_ann), read_coco(test_ann)
    return _fold("given", train_ann, test_ann, train["images"], test["images"],
                 train["annotations"] + test["annotations"], window)


def split_overlap_line(train_ann: str | os.PathLike, test_ann: str | os.PathLike,
                       window: int = 64) -> tuple[int, int, str]:
    """Windows of ``test_ann`` overlapping a window of ``train_ann`` (same recording),
    the test windows, and the sentence that says so, e.g. "val overlaps train in 73 of
    73 windows: not held out"."""
    train, test = read_coco(Path(train_ann)), read_coco(Path(test_ann))
    test_ids = _keyframe_ids(test["images"], test["annotations"])
    overlap = overlapping_windows(test_ids, _keyframe_ids(train["images"], train["annotations"]),
                                  window)
    return overlap, len(test_ids), overlap_sentence(Path(test_ann).stem, Path(train_ann).stem,
                                                    overlap, len(test_ids))
