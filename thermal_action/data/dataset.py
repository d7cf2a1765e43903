"""``ThermalActionDataset``: HDF5 recordings + COCO keyframes as MMAction2 clip samples."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS, TRANSFORMS

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES, SAFETY_PRIORITY, clip_label
from thermal_action.data.dataset_root import sensor_geometry
from thermal_action.data.recording import RecordingInfo, read_recording_info
from thermal_action.data.sensor import SENSOR_SHAPE, WINDOW_FRAMES
from thermal_action.data.window import check_anchor
from thermal_action.errors import DataError

SEED_PIPELINE: tuple[dict, ...] = (
    dict(type="LoadThermalWindow", clip_len=WINDOW_FRAMES, frame_interval=1),
    dict(type="RepairInvalidPixels"),
    dict(type="ThermalToChannels", num_channels=3),
)
"""What ``pipeline=[]`` means: the seed's whole (64, 40, 60, 3) window in deg C."""
SAMPLE_UNITS = ("keyframe", "person")


@DATASETS.register_module()
class ThermalActionDataset(BaseActionDataset):
    """Keyframe clips from ``<hdf5_root>/<sensor_id>.h5`` described by a COCO ``ann_file``.

    Each sample carries ``label`` (one clip label, chosen by ``label_rule`` from the people
    in the keyframe, see ``classes.clip_label``), ``gt_bboxes`` (N, 4) xyxy pixels,
    ``gt_labels`` (N,), ``sensor_id``, ``frame_idx``, ``timestamp`` (ms) and ``hdf5_path``.
    With ``sample_unit='person'`` every person box is a sample of its own, labelled with
    that person's class (the ground truth; no rule needed) and carrying
    ``person_box_xyxy``, ``object_id`` and ``person_track`` (the person's annotated boxes
    nearby) for ``CropAroundPerson``.
    An empty ``pipeline`` loads the seed's raw 64-frame window (``SEED_PIPELINE``).

    Relative ``ann_file`` and ``hdf5_root`` are taken under ``data_root`` when it is given.
    Every keyframe is checked against its recording when the dataset is built, so a missing
    file, an out-of-range keyframe or a recording whose frames are not the sensor's
    geometry fails early with the file named. The geometry is the one ``sensor_info.json``
    records beside the recordings, else ``frame_shape`` (rows, columns; the config's
    ``sensor_height``, ``sensor_width``).

    ``keyframe_anchor`` says where a sample's keyframe sits in its window: ``'centre'`` (the
    seed's window around it) or ``'end'`` (causal: the window ends at the keyframe, so
    the label is the newest frame's action); ``LoadThermalWindow`` reads it.

    ``mix_root`` mixes in the samples of another dataset folder (``mix_ann_file`` under it,
    recordings in its ``frames/``), e.g. simulated recordings that show the classes the
    real ones lack: all of them, or ``mix_samples`` drawn once with ``mix_seed``. Mixed
    samples carry ``source='mixed'``, the others ``source='own'``.
    """

    METAINFO = dict(classes=CLASS_NAMES)

    def __init__(
        self,
        ann_file: str,
        hdf5_root: str,
        pipeline: Sequence[dict | Callable],
        data_root: str | None = None,
        num_classes: int = len(CLASS_NAMES),
        label_rule: str = "safety",
        sample_unit: str = "keyframe",
        class_priority: Sequence[int] = SAFETY_PRIORITY,
        frame_shape: Sequence[int] = SENSOR_SHAPE,
        test_mode: bool = False,
        mix_root: str | None = None,
        mix_ann_file: str = "annotations/train.json",
        mix_samples: int | None = None,
        mix_seed: int = 0,
        keyframe_anchor: str = "centre",
        **kwargs,
    ) -> None:
        if num_classes != len(CLASS_NAMES):
            raise ValueError(
                f"ThermalActionDataset has {len(CLASS_NAMES)} classes, "
                f"got num_classes={num_classes}"
            )
        if data_root and not os.path.isabs(hdf5_root):
            hdf5_root = os.path.join(data_root, hdf5_root)
        self.hdf5_root = Path(hdf5_root)
        self.frame_shape = sensor_geometry(self.hdf5_root) or tuple(int(n) for n in frame_shape)
        if sample_unit not in SAMPLE_UNITS:
            raise ValueError(f"unknown sample_unit {sample_unit!r}; expected one of "
                             f"{', '.join(SAMPLE_UNITS)}")
        self.label_rule = label_rule
        self.sample_unit = sample_unit
        self.keyframe_anchor = check_anchor(keyframe_anchor)
        self.class_priority = tuple(class_priority)
        clip_label([self.class_priority[0]], label_rule, self.class_priority)  # validate early
        self.num_keyframes_without_people = 0
        self.mix_root = None if mix_root is None else Path(mix_root)
        self.mix_ann_file, self.mix_samples, self.mix_seed = mix_ann_file, mix_samples, mix_seed
        if mix_samples is not None and mix_samples < 0:
            raise ValueError(f"mix_samples must not be negative, got {mix_samples}")
        # Built here from MMAction2's registry so the dataset also works outside a Runner,
        # where no default scope is set.
        pipeline = [
            TRANSFORMS.build(step) if isinstance(step, dict) else step
            for step in (list(pipeline) or [dict(step) for step in SEED_PIPELINE])
        ]
        super().__init__(
            ann_file,
            pipeline=pipeline,
            data_root=data_root,
            test_mode=test_mode,
            num_classes=num_classes,
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        """Parse the annotations and check every keyframe against its recording; add the
        mixed-in samples (see the class docstring)."""
        keyframes, self.num_keyframes_without_people = load_keyframes(self.ann_file, CLASS_NAMES)
        if not keyframes:
            raise DataError(self.ann_file, "no keyframe with a person box")
        data_list = self._samples(keyframes, Path(self.ann_file), self.hdf5_root, "own")
        if self.mix_root is not None:
            mix_ann = self.mix_root / self.mix_ann_file
            if not mix_ann.is_file():
                raise DataError(mix_ann, "not found: mix_root names no dataset to mix in (for "
                                "sim2real, the simulated data of 'thermal-action demo')")
            mixed = self._samples(load_keyframes(mix_ann, CLASS_NAMES)[0], mix_ann,
                                  self.mix_root / "frames", "mixed")
            if self.mix_samples is not None and self.mix_samples < len(mixed):
                chosen = np.random.default_rng(self.mix_seed).choice(
                    len(mixed), self.mix_samples, replace=False)
                mixed = [mixed[index] for index in sorted(chosen)]
            data_list += mixed
        return data_list

    def _samples(self, keyframes: list, ann_file: Path, hdf5_root: Path,
                 source: str) -> list[dict]:
        """The samples of ``keyframes`` (from ``ann_file``, recordings in ``hdf5_root``)."""
        recordings: dict[str, RecordingInfo] = {}
        data_list = []
        for keyframe in keyframes:
            info = recordings.get(keyframe.sensor_id)
            if info is None:
                path = hdf5_root / f"{keyframe.sensor_id}.h5"
                if not path.is_file():
                    raise DataError(
                        ann_file,
                        f"image {keyframe.image_id!r} refers to sensor {keyframe.sensor_id!r} "
                        f"but {path} does not exist",
                    )
                info = recordings[keyframe.sensor_id] = read_recording_info(
                    path, self.frame_shape)
            if keyframe.frame_idx >= info.num_frames:
                raise DataError(
                    ann_file,
                    f"image {keyframe.image_id!r}: keyframe {keyframe.frame_idx} is outside "
                    f"{info.path.name} ({info.num_frames} frames)",
                )
            sample = dict(
                image_id=keyframe.image_id,
                sensor_id=keyframe.sensor_id,
                hdf5_path=str(info.path),
                frame_idx=keyframe.frame_idx,
                timestamp=keyframe.timestamp_ms,
                num_frames=info.num_frames,
                label=clip_label(keyframe.labels.tolist(), self.label_rule, self.class_priority),
                gt_bboxes=keyframe.boxes_xyxy,
                gt_labels=keyframe.labels,
                object_ids=keyframe.object_ids,
                source=source,
                keyframe_anchor=self.keyframe_anchor,
            )
            if self.sample_unit == "keyframe":
                data_list.append(sample)
                continue
            for box, label, object_id in zip(
                keyframe.boxes_xyxy, keyframe.labels, keyframe.object_ids, strict=True
            ):
                data_list.append(
                    sample
                    | dict(label=int(label), person_box_xyxy=box, object_id=int(object_id))
                )
        if self.sample_unit == "person":
            _add_person_tracks(data_list)
        return data_list


def _add_person_tracks(samples: list[dict]) -> None:
    """Give each person sample ``person_track``: that person's annotated boxes (same
    recording, same ``object_id``) at the keyframes within one window of its own, as (K, 5)
    rows of frame index, x1, y1, x2, y2 (for ``CropAroundPerson(follow_track=True)``)."""
    boxes: dict[tuple[str, int], dict[int, np.ndarray]] = {}
    for sample in samples:
        boxes.setdefault((sample["sensor_id"], sample["object_id"]), {})[
            sample["frame_idx"]] = sample["person_box_xyxy"]
    tracks = {key: np.array([[frame, *box] for frame, box in sorted(found.items())],
                            np.float32) for key, found in boxes.items()}
    for sample in samples:
        track = tracks[(sample["sensor_id"], sample["object_id"])]
        near = np.abs(track[:, 0] - sample["frame_idx"]) <= WINDOW_FRAMES
        sample["person_track"] = track[near]
