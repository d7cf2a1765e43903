"""Frames with person boxes for the person detector: real annotated frames of a split's
recordings with objects as hard negatives, and simulated frames with every person."""

from __future__ import annotations

import json

import pytest

from thermal_action.data.person_frames import PersonFrameDataset, simulated_root
from thermal_action.data.recording import read_frames
from thermal_action.data.sensor import lost_packets
from thermal_action.data.tools.build import BuildOptions, build_dataset
from thermal_action.errors import DataError

PIPELINE = [dict(type="LoadThermalWindow", clip_len=1, frame_interval=1),
            dict(type="RepairInvalidPixels"),
            dict(type="NormalizeTemperature", mode="fixed", mean_c=15.0, std_c=10.0),
            dict(type="PackThermalFrame")]


@pytest.fixture
def built(raw_inputs, tmp_path):
    raw, rec = raw_inputs
    root = tmp_path / "built"
    build_dataset(raw, rec, root, BuildOptions(holdout=("S1_R2",)))
    return root


def test_real_frames_of_the_split_with_objects_as_negatives(built):
    dataset = PersonFrameDataset(ann_file="annotations/train.json", data_root=str(built),
                                 pipeline=PIPELINE)
    assert len(dataset) == 5  # the 5 annotated frames of S1_R1, the train recording
    sample = dataset[0]
    assert tuple(sample["inputs"].shape) == (1, 40, 60)
    targets = sample["data_samples"]
    assert targets.sensor_id == "S1_R1" and targets.boxes_xyxy.shape == (1, 4)
    assert targets.objects_xyxy.shape == (1, 4)  # the chair
    assert targets.classes == ["standing"] and targets.object_keys == ["chair#5"]
    val = PersonFrameDataset(ann_file="annotations/val.json", data_root=str(built),
                             pipeline=PIPELINE, test_mode=True)
    assert {val.get_data_info(i)["sensor_id"] for i in range(len(val))} == {"S1_R2"}


def test_simulated_frames_are_made_once_and_reused(built, tmp_path):
    cache = tmp_path / "sim"
    settings = dict(cache=str(cache), every=10, num_recordings=2, frames_per_recording=120,
                    seed=3, glitchy_recording_prob=1.0, invalid_frame_rate=(0.3, 0.3))
    dataset = PersonFrameDataset(ann_file="annotations/train.json", data_root=str(built),
                                 pipeline=PIPELINE, simulated=settings)
    simulated = [dataset.get_data_info(i) for i in range(len(dataset))
                 if dataset.get_data_info(i)["sensor_id"].startswith("SIM")]
    assert any(s["num_people"] for s in simulated)
    lost = {}
    for path in sorted((cache / "frames").glob("*.h5")):
        frames, _ = read_frames(path, range(120))
        lost[path.stem] = lost_packets(frames)
    assert sum(flags.sum() for flags in lost.values()) > 30
    # every 10th of the frames that kept their packets: the others may show people where
    # they are not
    assert len(simulated) == sum(-(-int((~flags).sum()) // 10) for flags in lost.values())
    assert not any(lost[s["sensor_id"]][s["frame_idx"]] for s in simulated)
    stamp = (cache / "dataset_info.json").stat().st_mtime_ns
    assert simulated_root(**{k: v for k, v in settings.items() if k != "every"}) == cache
    assert (cache / "dataset_info.json").stat().st_mtime_ns == stamp  # reused, not remade
    with pytest.raises(ValueError, match="unknown simulation settings"):
        simulated_root(cache=str(cache), colour="red")


def test_a_split_naming_a_missing_recording_is_one_error(built):
    path = built / "annotations" / "train.json"
    content = json.loads(path.read_text())
    content["images"][0]["sensor_id"] = "S9_R9"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=r"S9_R9\.h5: recording file not found"):
        PersonFrameDataset(ann_file=str(path), data_root=str(built), pipeline=PIPELINE)
