"""Inference over a recording: whole-frame windows anywhere, people on their boxes."""

from __future__ import annotations

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

from tests.conftest import NATIVE_CONFIG
from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.engine import load_config
from thermal_action.engine.inference import predict_people, predict_recording

PERSON_CONFIG = "slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px"


def _untrained_checkpoint(config: str, path):
    init_default_scope("mmaction")
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model)
    torch.save({"state_dict": model.state_dict()}, path)
    return path


@pytest.fixture
def rec_a(tiny_root):
    keyframes, _ = load_keyframes(tiny_root / "annotations" / "train.json", CLASS_NAMES)
    return tiny_root / "frames" / "REC_A.h5", [k for k in keyframes if k.sensor_id == "REC_A"]


def test_person_model_predicts_each_person_on_its_box(rec_a, tmp_path):
    hdf5_path, keyframes = rec_a
    checkpoint = _untrained_checkpoint(PERSON_CONFIG, tmp_path / "person.pth")
    predictions = predict_people(PERSON_CONFIG, checkpoint, hdf5_path, keyframes)
    people = [(k.frame_idx, int(o)) for k in keyframes for o in k.object_ids]
    assert [(p.frame_idx, p.object_id) for p in predictions] == people
    for prediction in predictions:
        assert prediction.scores.shape == (14,) and abs(prediction.scores.sum() - 1) < 1e-4
        assert prediction.box_xyxy is not None and 0 <= prediction.label < 14
    with pytest.raises(ValueError, match="classifies people"):
        predict_recording(PERSON_CONFIG, checkpoint, hdf5_path)


def test_whole_frame_model_slides_over_the_recording(rec_a, tmp_path):
    hdf5_path, keyframes = rec_a
    checkpoint = _untrained_checkpoint(NATIVE_CONFIG, tmp_path / "native.pth")
    windows = predict_recording(NATIVE_CONFIG, checkpoint, hdf5_path, stride_frames=20)
    assert [p.frame_idx for p in windows] == [0, 20, 40, 60]
    assert all(p.object_id is None for p in windows)
    per_keyframe = predict_people(NATIVE_CONFIG, checkpoint, hdf5_path, keyframes)
    assert [p.frame_idx for p in per_keyframe] == [k.frame_idx for k in keyframes]
