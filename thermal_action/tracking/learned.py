"""A trained person detector (a detector config + checkpoint, e.g. the CenterNet of
``centernet_thermal_1xb32-24e_person-frames-40x60``, or its ONNX export run by
onnxruntime) behind the ``Detector`` interface."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmengine.dataset import Compose

from thermal_action.config import load_config
from thermal_action.inference.loading import inference_model
from thermal_action.models.centernet import decode_heads
from thermal_action.registry import DETECTORS
from thermal_action.tracking.detections import Detections, InvalidPixelMemory

_MODELS: dict[tuple, tuple] = {}
"""Loaded models by (config, checkpoint, its mtime): a server's many sensors, each with a
detector of its own (its own memory of invalid pixels), share one model and one
onnxruntime session instead of loading a copy each."""


def _shared_model(cfg, checkpoint: str | os.PathLike) -> tuple:
    path = os.path.abspath(checkpoint)
    key = (str(cfg.filename), path, os.path.getmtime(path) if os.path.exists(path) else None)
    if key not in _MODELS:
        _MODELS[key] = inference_model(cfg, checkpoint)
    return _MODELS[key]


@DETECTORS.register_module()
class LearnedDetector:
    """Runs the model of ``config`` with the weights of ``checkpoint`` on each frame; the
    frame goes through the config's test pipeline after the loading step (repair of
    invalid pixels, normalization). Pixels with no reading keep their last valid reading
    while it is recent (``InvalidPixelMemory``), as in the warm-blob detector. The model
    is built once. A ``checkpoint`` ending in ``.onnx`` (from ``thermal-action export``)
    runs in onnxruntime on ``torch.get_num_threads()`` threads, about twice as fast on a
    CPU; the head maps are decoded by the same code either way."""

    def __init__(self, config: str | os.PathLike, checkpoint: str | os.PathLike,
                 min_score: float = 0.05) -> None:
        cfg = load_config(config)
        steps = cfg.test_dataloader.dataset.pipeline
        if not steps or steps[0].get("type") != "LoadThermalWindow" or \
                steps[-1].get("type") != "PackThermalFrame":
            raise ValueError(f"{cfg.filename}: not a frame detector config (its test "
                             "pipeline must load one frame and end in PackThermalFrame)")
        self.model, self.onnx = _shared_model(cfg, checkpoint)
        self.transforms = Compose([TRANSFORMS.build(step) for step in steps[1:-1]])
        self.min_score = min_score
        self.config = str(cfg.filename)
        self.pixels = InvalidPixelMemory()

    def reset(self) -> None:
        self.pixels.reset()

    @property
    def batch_key(self) -> tuple:
        """Detectors with equal keys run one model: ``update_across`` batches them."""
        return ("LearnedDetector", id(self.model), id(self.onnx), self.min_score)

    def update(self, frame_c: np.ndarray, timestamp_ms: int = 0) -> Detections:
        """People in one (H, W) deg C frame."""
        return self.update_many([frame_c], [timestamp_ms])[0]

    def update_many(self, frames_c: Sequence[np.ndarray],
                    timestamps_ms: Sequence[int]) -> list[Detections]:
        """People in consecutive frames, in one forward pass: each frame is still repaired
        from the frames before it only, so the result equals calling ``update`` on each
        (a recording read from a file needs no frame-by-frame latency)."""
        return self.update_across([self] * len(frames_c), frames_c, timestamps_ms)

    @staticmethod
    @torch.no_grad()
    def update_across(detectors: Sequence[LearnedDetector], frames_c: Sequence[np.ndarray],
                      timestamps_ms: Sequence[int]) -> list[Detections]:
        """One frame for each of ``detectors`` (equal ``batch_key``: one shared model, for
        example the sensors of a server), in one forward pass; each frame is repaired by
        its own detector's memory, in order, so the result equals each ``update``."""
        if len({detector.batch_key for detector in detectors}) > 1:
            raise ValueError("update_across needs detectors that share one model")
        repaired = [detector.pixels.repair(frame, int(timestamp)) for detector, frame, timestamp
                    in zip(detectors, frames_c, timestamps_ms, strict=True)]
        usable = [index for index, frame in enumerate(repaired) if frame is not None]
        results = [Detections.empty() for _ in repaired]
        if not usable:
            return results
        first = detectors[0]
        batch = np.stack([detectors[i].transforms(dict(imgs=repaired[i][None]))["imgs"]
                          for i in usable]).astype(np.float32)
        if first.onnx is None:
            maps = {name: value.numpy() for name, value in
                    first.model(torch.from_numpy(batch), None, mode="tensor").items()}
        else:
            maps = first.onnx.run(batch)
        decoded = decode_heads(maps, first.model.max_detections,
                               max(first.model.min_score, first.min_score))
        for index, (boxes, scores) in zip(usable, decoded, strict=True):
            results[index] = Detections(boxes, scores)
        return results
