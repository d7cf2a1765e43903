from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.errors import DataError
from thermal_action.evaluation import plot_confusion_matrix, render_recording_gif
from thermal_action.evaluation.report import (
    GT_MAX_DISTANCE_FRAMES,
    _nearest_keyframe,
    visible_classes,
)
from thermal_action.inference.predictions import WindowPrediction

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _matrix() -> np.ndarray:
    matrix = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    matrix[1, 1] = 5  # standing
    matrix[3, 3] = 7  # lying with risk
    matrix[3, 1] = 2
    matrix[7, 12] = 1  # class 12 is only ever predicted: still shown
    return matrix


def test_visible_classes_drop_all_zero_pairs():
    assert visible_classes(_matrix()) == [1, 3, 7, 12]


def test_confusion_png(tmp_path: Path):
    out = plot_confusion_matrix(_matrix(), CLASS_NAMES, tmp_path / "sub" / "cm.png", title="val")
    assert out == tmp_path / "sub" / "cm.png"
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    image = iio.imread(out)
    assert image.ndim == 3 and min(image.shape[:2]) > 100


def test_confusion_rejects_mismatched_names(tmp_path: Path):
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(_matrix(), CLASS_NAMES[:3], tmp_path / "cm.png")


def _rec_a(tiny_root: Path):
    keyframes, _ = load_keyframes(tiny_root / "annotations" / "train.json", CLASS_NAMES)
    return [kf for kf in keyframes if kf.sensor_id == "REC_A"]


def test_nearest_keyframe_only_within_window(tiny_root: Path):
    keyframes = _rec_a(tiny_root)  # frames 5, 40, 60
    assert _nearest_keyframe(keyframes, 40 - GT_MAX_DISTANCE_FRAMES).frame_idx == 40
    assert _nearest_keyframe(keyframes, 40 - GT_MAX_DISTANCE_FRAMES - 1) is None  # 5 is 18 off
    assert _nearest_keyframe(keyframes, 50).frame_idx == 40  # tie: the earlier one
    assert _nearest_keyframe(keyframes, 60 + GT_MAX_DISTANCE_FRAMES).frame_idx == 60
    assert _nearest_keyframe(keyframes, 60 + GT_MAX_DISTANCE_FRAMES + 1) is None
    assert _nearest_keyframe([], 10) is None


def _warm_centroid_x(frames: np.ndarray) -> np.ndarray:
    """x centroid of the bright (orange-yellow) pixels that change between frames."""
    bright = (frames[..., 0] > 200) & (frames[..., 1] > 100)
    moving = bright & ~bright.all(axis=0)  # drop the static colour bar
    xs = np.arange(frames.shape[2])
    return np.array([xs[np.nonzero(m)[1]].mean() for m in moving])


def test_gif_frames_and_motion(tiny_root: Path, tmp_path: Path):
    predictions = [WindowPrediction(f, label, 0.8) for f, label in ((8, 1), (40, 7), (64, 2))]
    out = render_recording_gif(
        tiny_root / "frames" / "REC_A.h5",
        _rec_a(tiny_root),
        predictions,
        tmp_path / "rec_a.gif",
        frame_step=2,
        max_frames=30,
    )
    assert out == tmp_path / "rec_a.gif"
    frames = [np.asarray(frame)[..., :3] for frame in iio.imiter(out)]
    assert len(frames) == 30  # 80 frames / step 2 = 40, capped at 30
    assert len({frame.shape for frame in frames}) == 1
    stack = np.stack(frames)
    centroid = _warm_centroid_x(stack[[0, 10, 20, 29]])
    assert np.all(np.diff(centroid) > 10), centroid  # the blob drifts right


def test_gif_marks_invalid_pixels(tiny_root: Path, tmp_path: Path):
    out = render_recording_gif(
        tiny_root / "frames" / "REC_A.h5", [], [], tmp_path / "a.gif", frame_step=1, max_frames=32
    )
    frames = iio.imread(out, index=None)[..., :3]
    assert len(frames) == 32
    grey = np.all(np.abs(frames.astype(int) - 0x9A) <= 8, axis=-1).sum(axis=(1, 2))
    assert grey[31] > 20 * grey[29] + 1000  # frame 31 is 99 % 'no reading'


def test_missing_recording_raises(tmp_path: Path):
    with pytest.raises(DataError, match="NOPE.h5"):
        render_recording_gif(tmp_path / "NOPE.h5", [], [], tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def _has_colour(frame: np.ndarray, hex_colour: str, tolerance: int = 30) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(frame.astype(int) - rgb).max(axis=-1) < tolerance).sum() > 20)


def test_gif_writes_per_person_predictions_on_their_boxes(tiny_root: Path, tmp_path: Path):
    keyframes = _rec_a(tiny_root)
    two_people = next(k for k in keyframes if len(k.labels) == 2)
    right, wrong = two_people.labels.tolist()[0], (two_people.labels.tolist()[1] + 1) % 14
    predictions = [
        WindowPrediction(two_people.frame_idx, label, 0.9, None, int(object_id),
                         tuple(box.tolist()))
        for label, object_id, box in zip((right, wrong), two_people.object_ids,
                                         two_people.boxes_xyxy, strict=True)
    ]
    out = render_recording_gif(tiny_root / "frames" / "REC_A.h5", keyframes, predictions,
                               tmp_path / "people.gif", frame_step=1, max_frames=80)
    frame = np.asarray(iio.imread(out, index=two_people.frame_idx))[..., :3]
    assert _has_colour(frame, "#3ddc84") and _has_colour(frame, "#ff5c5c")  # right and wrong box


def test_the_per_person_header_says_what_the_colours_mean(tiny_root: Path):
    """Issue 24 (10): the GIF's header read "pred: per person on the boxes, 1 of 1 right"."""
    from thermal_action.evaluation.report import recording_overlay

    keyframes = _rec_a(tiny_root)
    two_people = next(k for k in keyframes if len(k.labels) == 2)
    right, wrong = two_people.labels.tolist()[0], (two_people.labels.tolist()[1] + 1) % 14
    predictions = [WindowPrediction(two_people.frame_idx, label, 0.9, None, int(object_id),
                                    tuple(box.tolist()))
                   for label, object_id, box in zip((right, wrong), two_people.object_ids,
                                                    two_people.boxes_xyxy, strict=True)]
    overlay = recording_overlay("REC_A", two_people.frame_idx, 1.0, 0.0, keyframes,
                                predictions)
    lines = [text for text, _ in overlay.lines]
    assert lines[1] == (f"keyframe {two_people.frame_idx}: the model is right for 1 of 2 "
                        "people")
    assert lines[2] == "boxes: the model's class; red if wrong (true class below)"
    assert [box.text.count("\ntrue: ") for box in overlay.boxes] == [0, 1]
