"""Run a trained clip classifier over windows of any recording (no annotations needed)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from mmaction.registry import MODELS, TRANSFORMS
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint

from thermal_action.data.recording import read_recording_info
from thermal_action.engine.config import load_config
from thermal_action.errors import CheckpointError
from thermal_action.evaluation.report import WindowPrediction


class ClipClassifier:
    """A model built from ``config`` with the weights of ``checkpoint`` and the config's
    test pipeline, scoring the clip window centred on any frame of a recording."""

    def __init__(self, config: str | os.PathLike, checkpoint: str | os.PathLike) -> None:
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise CheckpointError(f"{checkpoint}: checkpoint file not found")
        cfg = load_config(config)
        init_default_scope(cfg.get("default_scope", "mmaction"))
        self.model = MODELS.build(cfg.model)
        load_checkpoint(self.model, str(checkpoint), map_location="cpu", logger="silent")
        self.model.eval()
        steps = cfg.test_dataloader.dataset.pipeline
        self.pipeline = Compose([TRANSFORMS.build(step) for step in steps])

    @torch.no_grad()
    def predict(
        self,
        hdf5_path: str | os.PathLike,
        frame_indices: Sequence[int],
        batch_size: int = 16,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[WindowPrediction]:
        """Scores of the windows centred on ``frame_indices`` (windows past either end of
        the recording are edge-padded)."""
        predictions: list[WindowPrediction] = []
        for start in range(0, len(frame_indices), batch_size):
            chunk = frame_indices[start : start + batch_size]
            batch = pseudo_collate(
                [self.pipeline(dict(hdf5_path=str(hdf5_path), frame_idx=int(i))) for i in chunk]
            )
            for frame_idx, sample in zip(chunk, self.model.test_step(batch), strict=True):
                scores = sample.pred_score.cpu().numpy()
                label = int(scores.argmax())
                predictions.append(
                    WindowPrediction(int(frame_idx), label, float(scores[label]), scores)
                )
            if progress is not None:
                progress(len(predictions), len(frame_indices))
        return predictions


def predict_recording(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    hdf5_path: str | os.PathLike,
    stride_frames: int = 8,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[WindowPrediction]:
    """Slide the classifier over a whole recording, one window every ``stride_frames``."""
    if stride_frames < 1:
        raise ValueError("stride_frames must be at least 1")
    num_frames = read_recording_info(hdf5_path).num_frames
    classifier = ClipClassifier(config, checkpoint)
    centres = list(range(0, num_frames, stride_frames))
    return classifier.predict(hdf5_path, centres, batch_size, progress)
