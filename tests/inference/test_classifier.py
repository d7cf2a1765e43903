"""Inference over a recording: whole-frame windows anywhere, people on their boxes."""

from __future__ import annotations

import pytest

from tests.conftest import NATIVE_CONFIG, untrained_checkpoint
from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.inference.classifier import ClipClassifier, predict_people, predict_recording

PERSON_CONFIG = "slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px"


@pytest.fixture
def rec_a(tiny_root):
    keyframes, _ = load_keyframes(tiny_root / "annotations" / "train.json", CLASS_NAMES)
    return tiny_root / "frames" / "REC_A.h5", [k for k in keyframes if k.sensor_id == "REC_A"]


def test_person_model_predicts_each_person_on_its_box(rec_a, tmp_path):
    hdf5_path, keyframes = rec_a
    checkpoint = untrained_checkpoint(PERSON_CONFIG, tmp_path / "person.pth")
    classifier = ClipClassifier(PERSON_CONFIG, checkpoint)
    predictions = predict_people(classifier, hdf5_path, keyframes)
    people = [(k.frame_idx, int(o)) for k in keyframes for o in k.object_ids]
    assert [(p.frame_idx, p.object_id) for p in predictions] == people
    for prediction in predictions:
        assert prediction.scores.shape == (14,) and abs(prediction.scores.sum() - 1) < 1e-4
        assert prediction.box_xyxy is not None and 0 <= prediction.label < 14
    with pytest.raises(ValueError, match="classifies people"):
        predict_recording(classifier, hdf5_path)


def test_whole_frame_model_slides_over_the_recording(rec_a, tmp_path):
    hdf5_path, keyframes = rec_a
    checkpoint = untrained_checkpoint(NATIVE_CONFIG, tmp_path / "native.pth")
    classifier = ClipClassifier(NATIVE_CONFIG, checkpoint)
    windows = predict_recording(classifier, hdf5_path, stride_frames=20)
    assert [p.frame_idx for p in windows] == [0, 20, 40, 60]
    assert all(p.object_id is None for p in windows)
    per_keyframe = predict_people(classifier, hdf5_path, keyframes)
    assert [p.frame_idx for p in per_keyframe] == [k.frame_idx for k in keyframes]


def test_windows_in_memory_score_as_the_file_does(rec_a, tmp_path):
    """Issue 10: a classifier scores frames it is given, no file needed; reading a
    recording is one caller of that."""
    import numpy as np

    from thermal_action.data.recording import read_frames

    hdf5_path, keyframes = rec_a
    classifier = ClipClassifier(PERSON_CONFIG, untrained_checkpoint(PERSON_CONFIG,
                                                                     tmp_path / "p.pth"))
    keyframe = keyframes[1]
    person = (int(keyframe.object_ids[0]), keyframe.boxes_xyxy[0])
    from_file = classifier.predict(hdf5_path, [keyframe.frame_idx], people=[person])[0]
    frames, _ = read_frames(hdf5_path, range(keyframe.frame_idx - 32, keyframe.frame_idx + 32))
    in_memory = classifier.predict_windows([frames], [person])[0]
    np.testing.assert_allclose(in_memory.scores, from_file.scores, atol=1e-6)
    assert in_memory.object_id == from_file.object_id and in_memory.frame_idx == 0
    assert classifier.window_frames == 64
    with pytest.raises(ValueError, match=r"must be \(T, H, W\)"):
        classifier.predict_windows([frames[0]], [person])
    with pytest.raises(ValueError, match="one person box per window"):
        classifier.predict_windows([frames])


def test_a_crop_that_follows_the_track_at_inference(rec_a, tmp_path):
    """The follow-track model takes the tracker's boxes for each window; with none it
    holds the keyframe box (the fixed crop of the same weights), and the recording's frame
    numbers and the window's own give the same clip."""
    import numpy as np

    from thermal_action.data.recording import read_frames

    hdf5_path, keyframes = rec_a
    checkpoint = untrained_checkpoint(PERSON_CONFIG, tmp_path / "p.pth")
    fixed = ClipClassifier(PERSON_CONFIG, checkpoint)
    follow = ClipClassifier("person-track-24px", checkpoint)
    assert follow.follows_track and not fixed.follows_track
    keyframe = keyframes[1]
    centre, box = keyframe.frame_idx, keyframe.boxes_xyxy[0]
    person = (int(keyframe.object_ids[0]), box)
    still = follow.predict(hdf5_path, [centre], people=[person])[0]
    np.testing.assert_allclose(
        still.scores, fixed.predict(hdf5_path, [centre], people=[person])[0].scores, atol=1e-6)
    walk = np.array([[centre - 30, *(box - [12, 0, 12, 0])], [centre, *box]], np.float32)
    moving = follow.predict(hdf5_path, [centre], people=[person], tracks=[walk])[0]
    assert np.abs(moving.scores - still.scores).max() > 1e-6
    frames, _ = read_frames(hdf5_path, range(centre - 32, centre + 32))
    local = walk - [[centre - 32, 0, 0, 0, 0]]
    np.testing.assert_allclose(
        follow.predict_windows([frames], [person], tracks=[local])[0].scores, moving.scores,
        atol=1e-6)
    assert len(predict_people(follow, hdf5_path, keyframes)) == sum(
        len(k.object_ids) for k in keyframes)


def test_an_onnx_export_scores_as_pytorch_does(rec_a, tmp_path):
    import numpy as np

    from thermal_action.engine.export import export_onnx

    hdf5_path, keyframes = rec_a
    checkpoint = untrained_checkpoint(PERSON_CONFIG, tmp_path / "p.pth")
    exported = export_onnx(PERSON_CONFIG, checkpoint, tmp_path / "p.onnx")
    torch_predictions = predict_people(ClipClassifier(PERSON_CONFIG, checkpoint), hdf5_path,
                                       keyframes)
    onnx_predictions = predict_people(ClipClassifier(PERSON_CONFIG, exported), hdf5_path,
                                      keyframes)
    for ours, theirs in zip(torch_predictions, onnx_predictions, strict=True):
        np.testing.assert_allclose(ours.scores, theirs.scores, atol=1e-5)
        assert ours.label == theirs.label and ours.object_id == theirs.object_id


@pytest.mark.parametrize("backend", ["pth", "onnx"])
def test_people_sharing_one_window_score_as_with_their_own_copies(rec_a, tmp_path, backend):
    """A stream hands the same window object once per person in it: the window's
    loading and repair run once, and each person still gets exactly their own scores
    (their own crop of the window), in either backend. The window has invalid pixels, so
    the repair has work to do."""
    import numpy as np

    from thermal_action.data.recording import read_frames
    from thermal_action.engine.export import export_onnx

    hdf5_path, keyframes = rec_a
    checkpoint = untrained_checkpoint(PERSON_CONFIG, tmp_path / "p.pth")
    if backend == "onnx":
        checkpoint = export_onnx(PERSON_CONFIG, checkpoint, tmp_path / "p.onnx")
    classifier = ClipClassifier(PERSON_CONFIG, checkpoint)
    keyframe = keyframes[1]
    frames, _ = read_frames(hdf5_path, range(keyframe.frame_idx - 32, keyframe.frame_idx + 32))
    frames[5:9, :10] = -273.2
    people = [(1, (4.0, 4.0, 12.0, 14.0)), (2, (30.0, 10.0, 40.0, 20.0)),
              (3, (50.0, 20.0, 58.0, 38.0))]
    shared = classifier.predict_windows([frames] * 3, people)
    own = classifier.predict_windows([frames.copy() for _ in people], people)
    for a, b in zip(shared, own, strict=True):
        np.testing.assert_array_equal(a.scores, b.scores)
    assert len({tuple(p.scores) for p in shared}) == 3  # three different crops


def test_a_causal_model_scores_the_window_that_ends_at_its_keyframe(rec_a, tmp_path):
    """Issue 22: a model trained with keyframe_anchor='end' reads the frames up to the
    keyframe; in memory its keyframe is the newest frame of the window."""
    import numpy as np

    from thermal_action.data.recording import read_frames

    config = "slowfast_r10-thermal_1xb16-2x32x1-50e_thermal-person-lite-causal-24px"
    hdf5_path, keyframes = rec_a
    classifier = ClipClassifier(config, untrained_checkpoint(config, tmp_path / "c.pth"))
    assert classifier.anchor == "end"
    assert classifier.keyframe_position == classifier.window_frames - 1
    span = classifier.window_frames
    keyframe, frame = keyframes[-1], 75  # any frame with a whole window before it
    person = (int(keyframe.object_ids[0]), keyframe.boxes_xyxy[0])
    from_file = classifier.predict(hdf5_path, [frame], people=[person])[0]
    frames, _ = read_frames(hdf5_path, range(frame - span + 1, frame + 1))
    in_memory = classifier.predict_windows([frames], [person])[0]
    assert from_file.frame_idx == frame
    np.testing.assert_allclose(in_memory.scores, from_file.scores, atol=1e-5)
    later = np.concatenate([frames[span // 2:], frames[-1:].repeat(span // 2, axis=0) + 5])
    moved = classifier.predict_windows([later], [person])[0]
    assert not np.allclose(moved.scores, in_memory.scores, atol=1e-6)
