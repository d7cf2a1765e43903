"""A trained person detector behind the ``Detector`` interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

from tests.tracking.test_blob_and_tracker import person, room
from thermal_action.engine import load_config
from thermal_action.errors import CheckpointError
from thermal_action.tracking.learned import LearnedDetector

CONFIG = "centernet_thermal_1xb32-24e_person-frames-40x60"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    init_default_scope("mmaction")
    torch.manual_seed(0)
    model = MODELS.build(load_config(CONFIG).model)
    path = tmp_path_factory.mktemp("detector") / "epoch_1.pth"
    save_checkpoint(dict(meta={}, state_dict=model.state_dict()), str(path))
    return path


def test_many_frames_at_once_equal_one_at_a_time(checkpoint):
    detector = LearnedDetector(CONFIG, checkpoint, min_score=0.0)
    frames = [person(room(i), 20 + 2 * i, 20) for i in range(6)]
    frames[3][:30] = -273.2  # mostly invalid: repaired from the frame before
    timestamps = [i * 100 for i in range(6)]
    detector.reset()
    single = [detector.update(frame, t) for frame, t in zip(frames, timestamps, strict=True)]
    detector.reset()
    many = detector.update_many(frames, timestamps)
    for one, other in zip(single, many, strict=True):
        np.testing.assert_allclose(one.boxes_xyxy, other.boxes_xyxy, atol=1e-4)
        np.testing.assert_allclose(one.scores, other.scores, atol=1e-5)
    assert len(many[0].scores) > 0  # an untrained model still reports candidates
    everything_invalid = np.full((40, 60), -273.2, np.float32)
    detector.reset()
    assert len(detector.update(everything_invalid, 0).scores) == 0


def test_only_frame_detector_configs_and_fitting_checkpoints(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="not a frame detector config"):
        LearnedDetector("thermal-40x60", checkpoint)
    init_default_scope("mmaction")
    other = MODELS.build(load_config(CONFIG).model | dict(channels=8, head=8))
    path = tmp_path / "small.pth"
    save_checkpoint(dict(meta={}, state_dict=other.state_dict()), str(path))
    with pytest.raises(CheckpointError, match="does not fit config"):
        LearnedDetector(CONFIG, path)


def test_detectors_of_one_checkpoint_share_the_model_not_their_pixel_memory(checkpoint):
    """A server builds a detector per sensor: one model (and onnxruntime session) for
    all, each its own memory of invalid pixels."""
    first, second = LearnedDetector(CONFIG, checkpoint), LearnedDetector(CONFIG, checkpoint)
    assert first.model is second.model and first.pixels is not second.pixels


def test_detectors_sharing_a_model_run_in_one_pass_with_their_own_memory(checkpoint,
                                                                         monkeypatch):
    """Issue 23: one forward pass for the frames of several sensors (``detect_across``),
    each frame repaired by its own detector's memory: the detections of each ``update``."""
    from thermal_action.tracking.detections import detect_across

    alone = [LearnedDetector(CONFIG, checkpoint, min_score=0.0) for _ in range(3)]
    shared = [LearnedDetector(CONFIG, checkpoint, min_score=0.0) for _ in range(3)]
    frames = [[person(room(i + k), 15 + 5 * k + i, 20) for k in range(3)] for i in range(3)]
    frames[1][2][:30] = -273.2  # one sensor's frame mostly invalid: from its memory
    passes = []
    model = shared[0].model
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda *a, **k: passes.append(1) or forward(*a, **k))
    for step, row in enumerate(frames):
        stamp = step * 100
        expected = [d.update(f, stamp) for d, f in zip(alone, row, strict=True)]
        before = len(passes)
        found = detect_across(shared, row, [stamp] * 3)
        assert len(passes) - before == 1  # the three sensors' frames in one pass
        for one, other in zip(expected, found, strict=True):
            np.testing.assert_allclose(one.boxes_xyxy, other.boxes_xyxy, atol=1e-4)
            np.testing.assert_allclose(one.scores, other.scores, atol=1e-5)
    with pytest.raises(ValueError, match="share one model"):
        LearnedDetector.update_across(
            [shared[0], LearnedDetector(CONFIG, checkpoint, min_score=0.5)], frames[0][:2],
            [0, 0])
