"""Run a trained clip classifier on frames in memory or over windows of a recording:
whole-frame models anywhere, person-centred models on people with a box."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmengine.dataset import Compose, pseudo_collate

from thermal_action.config import load_config
from thermal_action.data.annotations import Keyframe
from thermal_action.data.recording import read_recording_info
from thermal_action.data.window import WindowReader, check_anchor, keyframe_position
from thermal_action.inference.loading import inference_model
from thermal_action.inference.predictions import WindowPrediction

Person = tuple[int, Sequence[float]]
"""(object_id, box xyxy in pixels at the window's centre frame)."""
Progress = Callable[[int, int], None]
WINDOW_STEPS = ("LoadThermalWindow", "RepairInvalidPixels")
"""Test-pipeline steps that read nothing of the person: leading steps of these types run
once per window, however many people in it are classified."""


class ClipClassifier:
    """The model of ``config`` with the weights of ``checkpoint`` (built once) and the
    config's test pipeline. It scores windows of frames held in memory (``predict_windows``)
    or read from a recording file (``predict``). A checkpoint that does not fit the model
    is refused (``CheckpointError``). A ``checkpoint`` ending in ``.onnx`` (from
    ``thermal-action export``) runs in onnxruntime; the clips are prepared by the same
    pipeline and data preprocessor either way."""

    def __init__(self, config: str | os.PathLike, checkpoint: str | os.PathLike) -> None:
        cfg = load_config(config)
        self.config, self.checkpoint = str(cfg.filename), str(checkpoint)
        self.model, self.onnx = inference_model(cfg, checkpoint)
        steps = cfg.test_dataloader.dataset.pipeline
        if not steps or steps[0].get("type") != "LoadThermalWindow":
            raise ValueError(f"{cfg.filename}: the test pipeline must start with "
                             "LoadThermalWindow")
        self.window_frames = int(steps[0].get("clip_len", 32)) * int(
            steps[0].get("frame_interval", 2))
        self.anchor = check_anchor(steps[0].get("anchor") or cfg.test_dataloader.dataset.get(
            "keyframe_anchor", "centre"))
        self.keyframe_position = keyframe_position(self.window_frames, self.anchor)
        """Index of the frame a window's label is dated at: its centre, or its newest frame
        for a causal model (``anchor='end'``)."""
        self.pipeline = Compose([TRANSFORMS.build(step) for step in steps])
        shared = 0
        while shared < len(steps) and steps[shared].get("type") in WINDOW_STEPS:
            shared += 1
        packs = steps[-1].get("type") == "PackActionInputs"
        self._window_steps = Compose(self.pipeline.transforms[:shared])
        self._person_steps = Compose(self.pipeline.transforms[shared:len(steps) - packs])
        self._pack = Compose(self.pipeline.transforms[len(steps) - packs:])
        preprocessor = self.model.data_preprocessor
        # onnxruntime takes the clips as the pipeline left them when the data preprocessor
        # would only stack them: numpy does that without building data samples
        self._plain_clips = self.onnx is not None and packs and not getattr(
            preprocessor, "_enable_normalize", True) and not getattr(preprocessor, "to_rgb", True)
        self.person_centred = cfg.test_dataloader.dataset.get("sample_unit") == "person"
        self.follows_track = any(step.get("type") == "CropAroundPerson" and
                                 step.get("follow_track") for step in steps)
        self.reader = WindowReader()

    @torch.no_grad()
    def predict_windows(
        self,
        windows_c: Sequence[np.ndarray],
        people: Sequence[Person] | None = None,
        batch_size: int = 16,
        progress: Progress | None = None,
        frame_indices: Sequence[int] | None = None,
        tracks: Sequence[np.ndarray | None] | None = None,
    ) -> list[WindowPrediction]:
        """Scores of in-memory windows, each (T, H, W) deg C holding its keyframe at
        ``keyframe_position`` (the centre, frame ``T // 2``, or the newest frame of a causal
        model; ``window_frames`` frames is what the model samples from). A
        person-centred model needs ``people``: one person per window. A model whose crop
        follows the person takes ``tracks``: per window, where the person is at some of its
        frames ((K, 5) rows of frame index within the window, x1, y1, x2, y2 pixels; from
        the tracker), else the window's box holds still. ``frame_indices`` names each
        window's keyframe in its recording (default: its position)."""
        if self.person_centred and people is None:
            raise ValueError("this model classifies people: give one person box per window")
        if people is not None and len(people) != len(windows_c):
            raise ValueError(f"{len(people)} person boxes for {len(windows_c)} windows")
        requests = []
        for position, window in enumerate(windows_c):
            window = np.asarray(window)
            if window.ndim != 3:
                raise ValueError(f"window {position} must be (T, H, W) deg C, got "
                                 f"{window.shape}")
            key = keyframe_position(len(window), self.anchor)
            request = dict(frames_c=window, frame_idx=key, keyframe_anchor=self.anchor)
            if people is not None:
                object_id, box = people[position]
                request.update(object_id=int(object_id),
                               person_box_xyxy=np.asarray(box, np.float32))
                track = None if tracks is None else tracks[position]
                if self.follows_track:
                    request["person_track"] = np.asarray(
                        [[key, *box]] if track is None else track,
                        np.float32).reshape(-1, 5)
            requests.append(request)
        centres = list(range(len(requests))) if frame_indices is None else list(frame_indices)
        predictions: list[WindowPrediction] = []
        for start in range(0, len(requests), batch_size):
            chunk = requests[start : start + batch_size]
            samples = []
            prepared: dict[int, dict] = {}  # the window steps' results, once per window
            for position, request in enumerate(chunk, start):
                key = id(windows_c[position])
                if key not in prepared:
                    prepared[key] = self._window_steps(dict(request))
                samples.append(self._person_steps({**prepared[key], **{
                    name: value for name, value in request.items()
                    if name not in ("frames_c", "frame_idx")}}))
            for request, scores, centre in zip(chunk, self._scores(samples),
                                               centres[start : start + batch_size], strict=True):
                predictions.append(_prediction(int(centre), request, scores))
            if progress is not None:
                progress(len(predictions), len(requests))
        return predictions

    def _scores(self, samples: list[dict]) -> np.ndarray:
        """Class probabilities (N, C) of one-clip samples, as the pipeline left them
        before packing."""
        if self._plain_clips:
            inputs = np.stack([sample["imgs"] for sample in samples])
        else:
            batch = pseudo_collate([self._pack(sample) for sample in samples])
            if self.onnx is None:
                return np.stack([sample.pred_score.cpu().numpy()
                                 for sample in self.model.test_step(batch)])
            inputs = self.model.data_preprocessor(batch, False)["inputs"].numpy()
        if inputs.shape[1] != 1:
            raise ValueError(f"the ONNX model takes one clip per sample, got {inputs.shape[1]}")
        return self.onnx.run(inputs[:, 0])["probabilities"]

    def predict(
        self,
        hdf5_path: str | os.PathLike,
        frame_indices: Sequence[int],
        batch_size: int = 16,
        progress: Progress | None = None,
        people: Sequence[Person] | None = None,
        tracks: Sequence[np.ndarray | None] | None = None,
    ) -> list[WindowPrediction]:
        """Scores of the windows of a recording file of the keyframes ``frame_indices``
        (windows past either end are edge-padded); see ``predict_windows`` for ``people``,
        but ``tracks`` here number frames as the recording does."""
        # each window read once: the people of one keyframe share it, so its loading and
        # repair run once too
        read = {index: self.reader.read(hdf5_path, index, self.window_frames,
                                        anchor=self.anchor).temps_c
                for index in dict.fromkeys(int(index) for index in frame_indices)}
        windows = [read[int(index)] for index in frame_indices]
        if tracks is not None:  # the window starts keyframe_position before its keyframe
            tracks = [None if track is None else np.asarray(track, np.float32).reshape(-1, 5)
                      - [[int(index) - self.keyframe_position, 0, 0, 0, 0]]
                      for track, index in zip(tracks, frame_indices, strict=True)]
        return self.predict_windows(windows, people, batch_size, progress, frame_indices,
                                    tracks)


def _prediction(centre: int, request: dict, scores: np.ndarray) -> WindowPrediction:
    label = int(scores.argmax())
    box = request.get("person_box_xyxy")
    return WindowPrediction(centre, label, float(scores[label]), scores,
                            request.get("object_id"),
                            None if box is None else tuple(float(v) for v in box))


def predict_recording(
    classifier: ClipClassifier,
    hdf5_path: str | os.PathLike,
    stride_frames: int = 8,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> list[WindowPrediction]:
    """Slide a whole-frame classifier over a recording, one window every ``stride_frames``."""
    if stride_frames < 1:
        raise ValueError("stride_frames must be at least 1")
    if classifier.person_centred:
        raise ValueError("this model classifies people: use predict_people with their boxes")
    num_frames = read_recording_info(Path(hdf5_path)).num_frames
    centres = list(range(0, num_frames, stride_frames))
    return classifier.predict(hdf5_path, centres, batch_size, progress)


def predict_people(
    classifier: ClipClassifier,
    hdf5_path: str | os.PathLike,
    keyframes: Sequence[Keyframe],
    batch_size: int = 16,
    progress: Progress | None = None,
) -> list[WindowPrediction]:
    """One prediction per person box of the recording's annotated ``keyframes`` (a model
    whose crop follows the person gets that person's boxes at the nearby keyframes as
    their track); a whole-frame model gives one per keyframe instead."""
    if not classifier.person_centred:
        return classifier.predict(hdf5_path, [k.frame_idx for k in keyframes], batch_size,
                                  progress)
    frames, people = [], []
    for keyframe in keyframes:
        for object_id, box in zip(keyframe.object_ids, keyframe.boxes_xyxy, strict=True):
            frames.append(keyframe.frame_idx)
            people.append((int(object_id), box))
    tracks = None
    if classifier.follows_track:  # each person's annotated boxes nearby: their track
        known = [(k.frame_idx, int(o), b) for k in keyframes
                 for o, b in zip(k.object_ids, k.boxes_xyxy, strict=True)]
        tracks = [np.array([[f, *b] for f, o, b in known if o == object_id
                            and abs(f - frame) <= classifier.window_frames], np.float32)
                  for frame, (object_id, _) in zip(frames, people, strict=True)]
    return classifier.predict(hdf5_path, frames, batch_size, progress, people, tracks)
