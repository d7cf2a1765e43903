import json

import numpy as np
import pytest

from thermal_action.data import ThermalActionDataset
from thermal_action.errors import DataError


def _dataset(root, ann="train.json", **kwargs):
    return ThermalActionDataset(
        ann_file=str(root / "annotations" / ann),
        hdf5_root=str(root / "frames"),
        num_classes=14,
        **{"pipeline": [], **kwargs},
    )


def test_seed_usage_returns_raw_window(tiny_root):
    dataset = _dataset(tiny_root)
    assert len(dataset) == 6
    sample = dataset[1]
    assert sample["imgs"].shape == (64, 40, 60, 3) and sample["imgs"].dtype == np.float32
    assert 15 < sample["imgs"].mean() < 40  # deg C
    assert sample["sensor_id"] == "REC_A" and sample["frame_idx"] == 40
    assert sample["gt_bboxes"].shape == (2, 4) and sample["gt_labels"].tolist() == [1, 3]
    assert sample["label"] == 3  # safety rule: lying with risk beats standing
    assert "timestamp" in sample and not sample["window_padded"]
    assert dataset[0]["window_padded"] and dataset[5]["window_padded"]


def test_majority_rule_is_configurable(tiny_root):
    assert _dataset(tiny_root, label_rule="majority")[1]["label"] == 3  # 1 vs 3 tie -> priority
    with pytest.raises(ValueError, match="unknown label rule"):
        _dataset(tiny_root, label_rule="first")


def test_data_root_joins_relative_paths(tiny_root):
    dataset = ThermalActionDataset(
        ann_file="annotations/val.json", hdf5_root="frames", data_root=str(tiny_root), pipeline=[]
    )
    assert len(dataset) == 3
    assert dataset.metainfo["classes"][3] == "lying down-lying with risk"


def test_invalid_pixels_are_repaired_in_seed_pipeline(tiny_root):
    imgs = _dataset(tiny_root, ann="val.json")[0]["imgs"]  # REC_A frames 30/31 have -273.2
    assert imgs.min() > 0


def _rewrite(root, mutate):
    path = root / "annotations" / "train.json"
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))


def test_unknown_sensor_names_file_and_sensor(tiny_root):
    _rewrite(tiny_root, lambda d: d["images"][0].update(sensor_id="REC_Z"))
    with pytest.raises(DataError, match="refers to sensor 'REC_Z' but .*REC_Z.h5 does not exist"):
        _dataset(tiny_root)


def test_keyframe_outside_recording(tiny_root):
    _rewrite(tiny_root, lambda d: d["images"][0].update(frame_idx=500))
    with pytest.raises(DataError, match="keyframe 500 is outside REC_A.h5 \\(80 frames\\)"):
        _dataset(tiny_root)


def test_missing_hdf5_root(tiny_root):
    with pytest.raises(DataError, match="does not exist"):
        ThermalActionDataset(
            ann_file=str(tiny_root / "annotations/train.json"),
            hdf5_root=str(tiny_root / "nowhere"),
            pipeline=[],
        )


def test_person_samples_carry_their_own_label_and_box(tiny_root):
    keyframes = _dataset(tiny_root)
    people = _dataset(tiny_root, sample_unit="person")
    assert len(people) == sum(len(keyframes.get_data_info(i)["gt_labels"])
                              for i in range(len(keyframes)))
    infos = [people.get_data_info(i) for i in range(len(people))]
    two = [info for info in infos if info["frame_idx"] == 40 and info["sensor_id"] == "REC_A"]
    assert [info["label"] for info in two] == [1, 3]  # each person's own class, no rule
    for info in two:
        np.testing.assert_array_equal(info["person_box_xyxy"],
                                      info["gt_bboxes"][info["gt_labels"].tolist().index(info["label"])])
    # each person's annotated boxes at nearby keyframes of the recording: their track
    first, second = two
    np.testing.assert_array_equal(first["person_track"][:, 0], [5, 40, 60])
    np.testing.assert_array_equal(second["person_track"], [[40, *second["person_box_xyxy"]]])
    with pytest.raises(ValueError, match="sample_unit"):
        _dataset(tiny_root, sample_unit="frame")


def test_a_transposed_recording_is_refused_with_its_shape(tiny_root):
    """Issue 10: a recording written transposed was accepted and gave clips of another shape."""
    import h5py

    from thermal_action.data.tools.validate import validate_dataset

    path = tiny_root / "frames" / "REC_B.h5"
    with h5py.File(path, "r") as file:
        frames, timestamps = file["frames"][:], file["timestamps"][:]
    with h5py.File(path, "w") as file:
        file.create_dataset("frames", data=frames.transpose(0, 2, 1))
        file.create_dataset("timestamps", data=timestamps)
    with pytest.raises(DataError) as caught:
        ThermalActionDataset(ann_file=str(tiny_root / "annotations/train.json"),
                             hdf5_root=str(tiny_root / "frames"), pipeline=[])
    assert str(caught.value) == (f"{path}: frames are 60x40 pixels, but the dataset's sensor "
                                 "is 40x60 (a transposed or foreign recording?)")
    report = validate_dataset(tiny_root)
    (finding,) = [f for f in report.findings if f.code == "wrong-shape"]
    assert finding.severity == "error" and finding.path == str(path)
    assert "frames are 60x40 pixels" in finding.message and not report.ok


def test_the_geometry_in_sensor_info_wins_over_the_config(tiny_root):
    info = {sensor: dict(frame_height=32, frame_width=32) for sensor in ("REC_A", "REC_B")}
    (tiny_root / "frames" / "sensor_info.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match="the dataset's sensor is 32x32"):
        ThermalActionDataset(ann_file=str(tiny_root / "annotations/train.json"),
                             hdf5_root=str(tiny_root / "frames"), pipeline=[],
                             frame_shape=(40, 60))


def test_samples_of_another_dataset_mix_in(tiny_root, two_sessions):
    """Issue 13: simulated clips mixed into real training, all or a seeded draw."""
    own = _dataset(tiny_root, sample_unit="person")
    mixed = _dataset(tiny_root, sample_unit="person", mix_root=str(two_sessions))
    assert len(own) == 7 and len(mixed) == 7 + 4
    sources = [mixed.get_data_info(i)["source"] for i in range(len(mixed))]
    assert sources == ["own"] * 7 + ["mixed"] * 4
    sample = mixed[len(mixed) - 1]  # read from the mixed-in folder's recording
    assert sample["sensor_id"] == "S2_R1" and sample["imgs"].shape == (64, 40, 60, 3)
    drawn = _dataset(tiny_root, sample_unit="person", mix_root=str(two_sessions),
                     mix_samples=2, mix_seed=3)
    again = _dataset(tiny_root, sample_unit="person", mix_root=str(two_sessions),
                     mix_samples=2, mix_seed=3)
    assert len(drawn) == 9
    assert [drawn.get_data_info(i)["image_id"] for i in range(9)] == \
        [again.get_data_info(i)["image_id"] for i in range(9)]
    with pytest.raises(DataError, match="annotations/val.json: not found: mix_root names no"):
        _dataset(tiny_root, mix_root=str(tiny_root.parent), mix_ann_file="annotations/val.json")


def test_the_keyframe_anchor_reaches_every_sample(tiny_root):
    causal = _dataset(tiny_root, keyframe_anchor="end", pipeline=[
        dict(type="LoadThermalWindow", clip_len=8, frame_interval=2)])
    sample = causal[1]
    assert sample["keyframe_anchor"] == "end"
    assert sample["frame_inds"][-1] == sample["frame_idx"] == 40
    assert _dataset(tiny_root)[1]["keyframe_anchor"] == "centre"
    with pytest.raises(ValueError, match="anchor must be one of"):
        _dataset(tiny_root, keyframe_anchor="start")


def test_timestamps_going_backwards_are_refused_as_the_validator_reports(tiny_root):
    """Issue 24 (11): the dataset accepted a recording whose time went backwards inside a
    window while ``data validate`` called it an error; both now refuse it, in one line."""
    import h5py

    from thermal_action.data.tools.validate import validate_dataset
    from thermal_action.data.window import WindowReader

    path = tiny_root / "frames" / "REC_B.h5"
    with h5py.File(path, "r+") as file:
        stamps = file["timestamps"][:]
        stamps[45] = stamps[43]  # inside the window of the keyframe at frame 50
        file["timestamps"][...] = stamps
    report = validate_dataset(tiny_root)
    (finding,) = [f for f in report.findings if f.code == "timestamps-not-increasing"]
    assert finding.severity == "error" and finding.path == str(path) and not report.ok
    with pytest.raises(DataError) as caught:
        _dataset(tiny_root)
    assert str(caught.value) == f"{path}: {finding.message}"
    with pytest.raises(DataError, match="'timestamps' not strictly increasing: 1 step"):
        WindowReader().read(path, 50, 32, 2)
