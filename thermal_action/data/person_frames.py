"""Frames with person boxes, for training and testing a person detector.

Real frames: every frame of the split's recordings (the sensors named in ``ann_file``,
e.g. ``annotations/train.json`` of a dataset built with a recording split) that the
annotators marked in ``raw_annotations/``, with the people and, as hard negatives, the
furniture and objects they marked. Simulated frames (optional): every ``every``-th frame
of a simulated dataset, with every person's box from its ``person_tracks/``, except
frames that lost packets in transfer (their readings may sit in the wrong place, and the
real annotators never box such frames). The
simulated dataset is made on first use into ``cache`` and reused while its settings match.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
from mmaction.registry import DATASETS, TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.structures import BaseDataElement

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.person_tracks import FOLDER as TRACKS_FOLDER
from thermal_action.data.person_tracks import read_person_tracks
from thermal_action.data.recording import open_recording, read_recording_info
from thermal_action.data.sensor import SENSOR_SHAPE, lost_packets
from thermal_action.errors import DataError


def simulated_root(cache: str | os.PathLike, **settings: object) -> Path:
    """A simulated dataset with person tracks made with ``settings`` (``SynthConfig``
    fields) in ``cache``: simulated there when missing or made with other settings."""
    from thermal_action.data.synthetic import SynthConfig, cached_dataset

    names = {field.name for field in fields(SynthConfig)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise ValueError(f"unknown simulation settings {unknown}")
    config = replace(SynthConfig(), **{key: tuple(value) if isinstance(value, list) else value
                                       for key, value in settings.items()})
    cached_dataset(cache, config)
    return Path(cache)


@DATASETS.register_module()
class PersonFrameDataset(BaseDataset):
    """One sample per frame: ``hdf5_path``, ``frame_idx``, ``gt_bboxes`` (people, then
    the annotated objects; ``num_people`` says where the objects start), ``classes`` of the
    people and ``object_keys`` / ``heat_residue`` of the objects (see the module
    docstring). ``simulated``: ``dict(cache=..., every=4, **SynthConfig settings)``."""

    METAINFO = dict(classes=CLASS_NAMES)

    def __init__(self, ann_file: str, pipeline: Sequence[dict | Callable],
                 data_root: str | None = None, hdf5_root: str = "frames",
                 simulated: dict | None = None, frame_shape: Sequence[int] = SENSOR_SHAPE,
                 test_mode: bool = False, **kwargs) -> None:
        if data_root and not os.path.isabs(hdf5_root):
            hdf5_root = os.path.join(data_root, hdf5_root)
        self.hdf5_root = Path(hdf5_root)
        self.simulated = dict(simulated or {})
        self.frame_shape = tuple(int(n) for n in frame_shape)
        self.sample_unit = "frame"
        pipeline = [TRANSFORMS.build(step) if isinstance(step, dict) else step
                    for step in pipeline]
        super().__init__(ann_file=ann_file, data_root=data_root or "", pipeline=pipeline,
                         test_mode=test_mode, **kwargs)

    def load_data_list(self) -> list[dict]:
        from thermal_action.data.truth import annotated_frames

        keyframes, _ = load_keyframes(self.ann_file, CLASS_NAMES)
        sensors = sorted({keyframe.sensor_id for keyframe in keyframes})
        if not sensors:
            raise DataError(self.ann_file, "names no recording")
        for sensor in sensors:  # a missing or foreign recording fails here, named
            read_recording_info(self.hdf5_root / f"{sensor}.h5", self.frame_shape)
        samples = []
        for frame in annotated_frames(self.hdf5_root.parent, sensors):
            truth = frame.truth
            samples.append(dict(
                hdf5_path=str(self.hdf5_root / f"{frame.sensor_id}.h5"),
                sensor_id=frame.sensor_id, frame_idx=frame.frame_idx,
                gt_bboxes=np.concatenate([truth.boxes_xyxy, truth.objects_xyxy]),
                num_people=len(truth.boxes_xyxy), classes=list(truth.classes),
                object_keys=list(truth.object_keys), heat_residue=truth.heat_residue))
        if self.simulated and not self.test_mode:
            samples += self._simulated_frames()
        return samples

    def _simulated_frames(self) -> list[dict]:
        settings = dict(self.simulated)
        cache, every = settings.pop("cache"), int(settings.pop("every", 4))
        root = simulated_root(cache, **settings)
        samples = []
        for path in sorted((root / "frames").glob("*.h5")):
            rows = read_person_tracks(root / TRACKS_FOLDER / f"{path.stem}.csv")
            frames = rows[:, 0].astype(np.int64)
            with open_recording(path) as recording:
                lost = lost_packets(recording.read_frames(range(recording.frames.shape[0])))
            for frame_idx in np.flatnonzero(~lost)[::every].tolist():
                boxes = rows[frames == frame_idx, 4:8].astype(np.float32)
                samples.append(dict(
                    hdf5_path=str(path), sensor_id=path.stem, frame_idx=frame_idx,
                    gt_bboxes=boxes, num_people=len(boxes),
                    classes=[CLASS_NAMES[int(c)] for c in rows[frames == frame_idx, 3]],
                    object_keys=[], heat_residue=np.zeros(0, bool)))
        return samples


@TRANSFORMS.register_module()
class PackThermalFrame(BaseTransform):
    """``imgs`` (1, H, W) normalized -> ``inputs`` (1, H, W) tensor; the boxes and what
    the detection metric needs -> ``data_samples`` (a ``BaseDataElement``, so a batch
    keeps one per frame however many boxes each holds)."""

    def transform(self, results: dict) -> dict:
        frame = np.asarray(results["imgs"], np.float32)
        if frame.ndim != 3 or frame.shape[0] != 1:
            raise ValueError(f"expected one frame (1, H, W), got {frame.shape}")
        boxes = np.asarray(results["gt_bboxes"], np.float32).reshape(-1, 4)
        people = int(results["num_people"])
        sample = dict(boxes_xyxy=boxes[:people], objects_xyxy=boxes[people:],
                      classes=list(results["classes"]),
                      object_keys=list(results["object_keys"]),
                      heat_residue=np.asarray(results["heat_residue"], bool),
                      sensor_id=results["sensor_id"], frame_idx=int(results["frame_idx"]))
        return dict(inputs=torch.from_numpy(frame.copy()), data_samples=BaseDataElement(**sample))
