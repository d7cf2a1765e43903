"""Run a trained clip classifier over windows of a recording: whole-frame models on any
recording, person-centred models on the people of its annotated keyframes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from mmaction.registry import MODELS, TRANSFORMS
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from thermal_action.data.annotations import Keyframe
from thermal_action.data.recording import read_recording_info
from thermal_action.engine.config import load_config
from thermal_action.evaluation.report import WindowPrediction
from thermal_action.models.checkpoint import load_weights


class ClipClassifier:
    """A model built from ``config`` with the weights of ``checkpoint`` and the config's
    test pipeline, scoring the clip window centred on any frame of a recording. A checkpoint
    that does not fit the config's model is refused (``CheckpointError``)."""

    def __init__(self, config: str | os.PathLike, checkpoint: str | os.PathLike) -> None:
        cfg = load_config(config)
        init_default_scope(cfg.get("default_scope", "mmaction"))
        self.model = MODELS.build(cfg.model)
        load_weights(self.model, checkpoint, cfg.filename)
        self.model.eval()
        steps = cfg.test_dataloader.dataset.pipeline
        self.pipeline = Compose([TRANSFORMS.build(step) for step in steps])
        self.person_centred = cfg.test_dataloader.dataset.get("sample_unit") == "person"

    @torch.no_grad()
    def predict(
        self,
        hdf5_path: str | os.PathLike,
        frame_indices: Sequence[int],
        batch_size: int = 16,
        progress: Callable[[int, int], None] | None = None,
        people: Sequence[tuple[int, Sequence[float]]] | None = None,
    ) -> list[WindowPrediction]:
        """Scores of the windows centred on ``frame_indices`` (windows past either end of
        the recording are edge-padded). A person-centred model needs ``people``: one
        (object_id, box xyxy pixels at that frame) per entry of ``frame_indices``."""
        if self.person_centred and people is None:
            raise ValueError("this model classifies people: give one person box per window")
        if people is not None and len(people) != len(frame_indices):
            raise ValueError(f"{len(people)} person boxes for {len(frame_indices)} windows")
        requests = []
        for position, frame_idx in enumerate(frame_indices):
            request = dict(hdf5_path=str(hdf5_path), frame_idx=int(frame_idx))
            if people is not None:
                object_id, box = people[position]
                request.update(object_id=int(object_id),
                               person_box_xyxy=np.asarray(box, np.float32))
            requests.append(request)
        predictions: list[WindowPrediction] = []
        for start in range(0, len(requests), batch_size):
            chunk = requests[start : start + batch_size]
            batch = pseudo_collate([self.pipeline(dict(request)) for request in chunk])
            for request, sample in zip(chunk, self.model.test_step(batch), strict=True):
                scores = sample.pred_score.cpu().numpy()
                label = int(scores.argmax())
                box = request.get("person_box_xyxy")
                predictions.append(
                    WindowPrediction(
                        request["frame_idx"], label, float(scores[label]), scores,
                        request.get("object_id"),
                        None if box is None else tuple(float(v) for v in box),
                    )
                )
            if progress is not None:
                progress(len(predictions), len(requests))
        return predictions


def predict_recording(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    hdf5_path: str | os.PathLike,
    stride_frames: int = 8,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[WindowPrediction]:
    """Slide a whole-frame classifier over a recording, one window every ``stride_frames``."""
    if stride_frames < 1:
        raise ValueError("stride_frames must be at least 1")
    num_frames = read_recording_info(hdf5_path).num_frames
    classifier = ClipClassifier(config, checkpoint)
    if classifier.person_centred:
        raise ValueError(f"{config} classifies people: use predict_people with their boxes")
    centres = list(range(0, num_frames, stride_frames))
    return classifier.predict(hdf5_path, centres, batch_size, progress)


def predict_people(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    hdf5_path: str | os.PathLike,
    keyframes: Sequence[Keyframe],
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[WindowPrediction]:
    """One prediction per person box of the recording's annotated ``keyframes``; a
    whole-frame model gives one per keyframe instead."""
    classifier = ClipClassifier(config, checkpoint)
    if not classifier.person_centred:
        return classifier.predict(hdf5_path, [k.frame_idx for k in keyframes], batch_size,
                                  progress)
    frames, people = [], []
    for keyframe in keyframes:
        for object_id, box in zip(keyframe.object_ids, keyframe.boxes_xyxy, strict=True):
            frames.append(keyframe.frame_idx)
            people.append((int(object_id), box))
    return classifier.predict(hdf5_path, frames, batch_size, progress, people)
