import json

import numpy as np
import pytest

from tests.conftest import STANDING, coco
from thermal_action.data.annotations import load_keyframes, yolo_to_xyxy
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.errors import DataError


def test_yolo_to_xyxy_pixels_and_clipping():
    np.testing.assert_allclose(yolo_to_xyxy([0.5, 0.5, 0.5, 0.5], 60, 40), [15, 10, 45, 30])
    np.testing.assert_allclose(yolo_to_xyxy([0.0, 0.5, 0.2, 0.2], 60, 40), [0, 16, 6, 24])


def _write(tmp_path, content) -> str:
    path = tmp_path / "ann.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_keyframes_parsed(tmp_path):
    data = coco([("S1", 40, [STANDING, ([0.6, 0.5, 0.3, 0.1], 3)]), ("S1", 50, [])])
    keyframes, without_people = load_keyframes(_write(tmp_path, data), CLASS_NAMES)
    assert without_people == 1 and len(keyframes) == 1
    keyframe = keyframes[0]
    assert keyframe.sensor_id == "S1" and keyframe.frame_idx == 40
    assert keyframe.labels.tolist() == [1, 3]
    assert keyframe.boxes_xyxy.shape == (2, 4)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: "{not json", "malformed JSON at line 1"),
        (lambda d: {"images": []}, "missing list 'annotations'"),
        (lambda d: d["annotations"][0].update(category_id=17) or d, "unknown category id 17"),
        (lambda d: d["annotations"][0].update(image_id="nope") or d, "unknown image id 'nope'"),
        (lambda d: d["annotations"][0].update(bbox=[0.5, 0.5]) or d, "bbox must be 4 finite"),
        (lambda d: d["images"][0].update(sensor_id="../../etc/passwd") or d, "not a plain name"),
        (lambda d: d["images"][0].update(sensor_id="/abs/path") or d, "not a plain name"),
        (lambda d: d["images"][0].update(frame_idx="7") or d, "no valid 'frame_idx'"),
    ],
)
def test_bad_annotations_name_the_file(tmp_path, mutate, message):
    path = _write(tmp_path, mutate(coco([("S1", 40, [STANDING])])))
    with pytest.raises(DataError, match=message) as error:
        load_keyframes(path, CLASS_NAMES)
    assert str(error.value).startswith(path)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(DataError, match="annotation file not found"):
        load_keyframes(tmp_path / "none.json", CLASS_NAMES)
