"""data build: sources, timestamp matching, box filtering, window policy, splits, overlap
refusal, path safety, bad input, and the seed's dataset rebuilt from the real raw files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import (
    HEIGHT,
    RAW_CHAIR,
    RAW_PERSON,
    WIDTH,
    add_raw_lines,
    raw_line,
    regular_recording,
)
from tests.conftest import raw_frame_ms as ms
from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.synthetic import SynthConfig, generate_dataset
from thermal_action.data.tools.build import (
    BuildOptions,
    build_dataset,
    format_summary,
    match_timestamps,
    report_to_json,
)
from thermal_action.data.tools.sources import read_source
from thermal_action.data.tools.splits import (
    group_split,
    overlapping_windows,
    random_split,
    session_of,
    split_overlap,
)
from thermal_action.data.tools.validate import validate_dataset
from thermal_action.errors import DataError

STANDING, RISK = CLASS_NAMES[1], CLASS_NAMES[3]


def person(subcategory: str = STANDING, object_id: int = 0, **fields) -> dict:
    return {**RAW_PERSON, "subcategory": subcategory, "object_id": object_id, **fields}


def build(raw_inputs, out: Path, **options):
    raw, rec = raw_inputs
    return build_dataset(raw, rec, out, BuildOptions(**options))


def coco(root: Path, split: str) -> dict:
    return json.loads((root / "annotations" / f"{split}.json").read_text())


# ---------------------------------------------------------------------------------------
# Output layout and sources


def test_layout_attributes_and_validation(raw_inputs, tmp_path):
    out = tmp_path / "out"
    report = build(raw_inputs, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "annotations", "dataset_info.json", "frames", "raw_annotations"]
    assert sorted(p.name for p in (out / "annotations").iterdir()) == [
        "class_mapping.json", "train.json", "val.json"]
    assert sorted(p.name for p in (out / "raw_annotations").iterdir()) == [
        "S1_R1_annotation.jsonl", "S1_R2_annotation.jsonl"]
    frames, timestamps = regular_recording(160, 0)
    with h5py.File(out / "frames" / "S1_R1.h5") as file:
        assert file["frames"].compression == "gzip" and file["frames"].compression_opts == 4
        np.testing.assert_array_equal(file["frames"][()], frames)
        np.testing.assert_array_equal(file["timestamps"][()], timestamps)
        np.testing.assert_array_equal(file["frame_seqs"][()], np.arange(160))
        attrs = dict(file.attrs)
    assert {"sensor_id", "mac_address", "frame_height", "frame_width", "total_frames",
            "min_timestamp", "max_timestamp", "compression", "created_at"} <= set(attrs)
    assert attrs["sensor_id"] == "S1_R1" and attrs["total_frames"] == 160
    assert attrs["min_timestamp"] == ms(0) and attrs["max_timestamp"] == ms(159)
    info = json.loads((out / "frames" / "sensor_info.json").read_text())
    assert info["S1_R1"]["annotation_count"] == 5 and info["S1_R1"]["invalid_frames"] == 1
    dataset_info = json.loads((out / "dataset_info.json").read_text())
    assert dataset_info["configuration"]["split"] == "recording"
    assert dataset_info["annotations"]["train_images"] + dataset_info["annotations"][
        "val_images"] == 10
    # a recording split: one recording each, no shared windows
    assert report.splits["train"]["keyframes"] == report.splits["val"]["keyframes"] == 5
    assert report.overlapping_windows == 0 and report.skipped_boxes["not-person"] == 10
    validation = validate_dataset(out)
    assert validation.ok, validation.errors
    assert validation.leakage["val~train"]["overlapping_windows"] == 0
    keyframes, _ = load_keyframes(out / "annotations" / "train.json", CLASS_NAMES)
    assert [k.frame_idx for k in keyframes] == [40, 60, 80, 100, 120]
    assert json.loads(json.dumps(report_to_json(report)))["splits"]["val"]["boxes"] == 5
    assert "windows overlapping another split: 0 of 10" in format_summary(report)


def _write_source(path: Path, frames: np.ndarray, timestamps: np.ndarray) -> None:
    rows = np.column_stack([timestamps.astype(np.float64), frames.reshape(len(frames), -1)])
    if path.suffix == ".npz":
        np.savez(path, frames=frames, timestamps=timestamps)
    elif path.suffix == ".npy":
        np.save(path, rows)
    else:
        header = "timestamp_ms," + ",".join(f"p{i}" for i in range(HEIGHT * WIDTH))
        np.savetxt(path, rows, delimiter=",", header=header, comments="",
                   fmt=["%d"] + ["%.9g"] * (HEIGHT * WIDTH))


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".csv"])
def test_numpy_and_csv_sources_round_trip(raw_inputs, tmp_path, suffix):
    raw, rec = raw_inputs
    other = tmp_path / "other"
    other.mkdir()
    for seed, sensor_id in enumerate(("S1_R1", "S1_R2")):
        _write_source(other / f"{sensor_id}{suffix}", *regular_recording(160, seed))
    source = read_source(other / f"S1_R1{suffix}")
    frames, timestamps = regular_recording(160, 0)
    np.testing.assert_array_equal(source.temps_c, frames)
    np.testing.assert_array_equal(source.timestamps_ms, timestamps)
    build_dataset(raw, rec, tmp_path / "from_h5")
    build_dataset(raw, other, tmp_path / "from_other")
    for split in ("train", "val"):
        assert coco(tmp_path / "from_other", split)["images"] == coco(
            tmp_path / "from_h5", split)["images"]
    with h5py.File(tmp_path / "from_other" / "frames" / "S1_R1.h5") as file:
        np.testing.assert_array_equal(file["frames"][()], frames)
        assert file.attrs["mac_address"] == "02:00:00:00:00:01"  # from the annotations


# ---------------------------------------------------------------------------------------
# Matching and filtering


def test_match_timestamps_nearest_within_tolerance():
    timestamps = np.array([0, 100, 200, 300], np.int64)
    got = match_timestamps(timestamps, [-49, 49, 50, 151, 260, 351, 400], tolerance_ms=50)
    assert got.tolist() == [0, 0, 0, 2, 3, -1, -1]  # 50 ties go to the earlier frame


def test_tolerance_49_ms_matches_51_ms_is_skipped(raw_inputs, tmp_path):
    raw, _ = raw_inputs
    add_raw_lines(raw, "S1_R1", raw_line("S1_R1", ms(70) + 49), raw_line("S1_R1", ms(90) - 51))
    report = build(raw_inputs, tmp_path / "out", split="random", val_fraction=0.0)
    assert report.skipped_frames["no-timestamp-match"] == 1
    images = coco(tmp_path / "out", "train")["images"]
    matched = [im for im in images if im["frame_idx"] == 70]
    assert len(matched) == 1 and matched[0]["timestamp"] == ms(70)
    assert matched[0]["id"] == f"S1_R1_{ms(70)}"
    assert report.recordings["S1_R1"]["keyframes"] == 6


def test_boxes_filtered_and_counted(raw_inputs, tmp_path):
    raw, _ = raw_inputs
    add_raw_lines(
        raw, "S1_R1",
        raw_line("S1_R1", ms(50), [person(object_id=0), person("dancing", 1),
                                   person(object_id=2, bbox=[0.5, 0.5, 0.0, 0.1]),
                                   person(object_id=3, bbox=[0.5, "x", 0.1, 0.1]),
                                   RAW_CHAIR, dict(RAW_CHAIR, category="object")]),
        raw_line("S1_R1", ms(70), [RAW_CHAIR]),  # no person at all
        raw_line("S1_R1", ms(90), [person("dancing")]),  # only an unknown class
        raw_line("S1_R1", ms(50) + 10, [person()]),  # the same frame again
    )
    report = build(raw_inputs, tmp_path / "out", split="random", val_fraction=0.0)
    assert report.skipped_boxes == {"not-person": 10 + 2 + 1, "unknown-class": 2, "bad-box": 2}
    assert report.skipped_frames["no-person-boxes"] == 2
    assert report.skipped_frames["duplicate-frame"] == 1
    train = coco(tmp_path / "out", "train")
    (image,) = [im for im in train["images"] if im["frame_idx"] == 50]
    (box,) = [a for a in train["annotations"] if a["image_id"] == image["id"]]
    assert box["category_id"] == 1 and box["category_name"] == STANDING
    assert box["object_id"] == 0 and box["bbox"] == RAW_PERSON["bbox"]
    assert report.splits["train"]["keyframes"] == 11


def test_window_policy_skip_or_pad(raw_inputs, tmp_path):
    raw, _ = raw_inputs
    add_raw_lines(raw, "S1_R1", raw_line("S1_R1", ms(5)), raw_line("S1_R1", ms(150)))
    skipped = build(raw_inputs, tmp_path / "skip", split="random", val_fraction=0.0)
    assert skipped.skipped_frames["window-does-not-fit"] == 2
    assert skipped.splits["train"]["keyframes"] == 10 and skipped.padded_windows == 0
    padded = build(raw_inputs, tmp_path / "pad", split="random", val_fraction=0.0,
                   window_policy="pad")
    assert padded.skipped_frames["window-does-not-fit"] == 0
    assert padded.splits["train"]["keyframes"] == 12 and padded.padded_windows == 2
    assert "edge-padded windows: 2" in format_summary(padded)
    validation = validate_dataset(tmp_path / "pad")
    assert validation.ok
    assert [f for f in validation.warnings if f.code == "window-fit"]


# ---------------------------------------------------------------------------------------
# Splits


def test_random_split_is_the_seeds_shuffle():
    by_recording = {"B": list(range(10, 17)), "A": list(range(10))}
    splits = random_split(by_recording, val_fraction=0.2, seed=42)
    random.seed(42)  # what the seed's generator did: one seeded shuffle per recording
    expected_val = []
    for name in ("A", "B"):
        items = list(by_recording[name])
        random.shuffle(items)
        expected_val += items[: int(len(items) * 0.2)]
    assert splits["val"] == expected_val and len(splits["train"]) == 17 - 3
    assert random_split(by_recording, 0.2, seed=42) == splits
    assert random_split(by_recording, 0.2, seed=7)["val"] != splits["val"]
    with_test = random_split(by_recording, 0.2, 0.2, seed=42)
    assert with_test["val"] == splits["val"] and len(with_test["test"]) == 3


def test_random_build_deterministic_and_overlap_refused(raw_inputs, tmp_path):
    with pytest.raises(DataError, match=r"10 of 10 64-frame windows overlap .*--allow-overlap"):
        build(raw_inputs, tmp_path / "refused", split="random", val_fraction=0.4)
    assert not (tmp_path / "refused").exists()
    assert not list(tmp_path.glob(".refused*"))  # no staging folder left behind
    options = dict(split="random", val_fraction=0.4, allow_overlap=True)
    first = build(raw_inputs, tmp_path / "a", **options)
    build(raw_inputs, tmp_path / "b", **options)
    assert coco(tmp_path / "a", "val")["images"] == coco(tmp_path / "b", "val")["images"]
    assert first.splits["val"]["keyframes"] == 4 and first.overlapping_windows == 10
    leakage = validate_dataset(tmp_path / "a").leakage
    assert first.overlap == leakage
    other = build(raw_inputs, tmp_path / "c", **options, seed=1)
    assert other.overlapping_windows == 10
    assert coco(tmp_path / "c", "val")["images"] != coco(tmp_path / "a", "val")["images"]


def test_windows_overlap_only_within_window():
    assert overlapping_windows([("A", 100)], [("A", 36), ("B", 100)], 64) == 0
    assert overlapping_windows([("A", 100)], [("A", 37)], 64) == 1
    assert overlapping_windows([("A", 100), ("A", 300)], [("A", 163)], 64) == 1
    pairs, total = split_overlap({"train": [("A", 0), ("A", 200)], "val": [("A", 50)],
                                  "test": []}, 64)
    assert pairs == {"train~val": dict(overlapping_windows=1, windows=2),
                     "val~train": dict(overlapping_windows=1, windows=1)}
    assert total == 2


def test_group_split_by_recording_and_session():
    sensors = ["SL14_R1", "SL14_R2", "SL18_R1", "SL18_R2", "SL18_R3"]
    assert session_of("SL18_R3") == "SL18" and session_of("REC") == "REC"
    drawn = group_split(sensors, val_fraction=0.2, test_fraction=0.2, seed=0)
    assert sorted(sum(drawn.values(), [])) == sensors
    assert len(drawn["val"]) == len(drawn["test"]) == 1
    assert group_split(sensors, val_fraction=0.2, seed=0) == group_split(sensors, seed=0)
    named = group_split(sensors, holdout=["SL14_R1"], test_holdout=["SL18_R[12]"])
    assert named == {"train": ["SL14_R2", "SL18_R3"], "val": ["SL14_R1"],
                     "test": ["SL18_R1", "SL18_R2"]}
    sessions = group_split(sensors, session_of, holdout=["SL18*"])
    assert sessions["val"] == ["SL18_R1", "SL18_R2", "SL18_R3"] and not sessions["test"]
    with pytest.raises(ValueError, match="matches none of SL14, SL18"):
        group_split(sensors, session_of, holdout=["SL18_R1"])
    with pytest.raises(ValueError, match="no group left for train"):
        group_split(sensors, session_of, holdout=["SL*"])


def test_session_split_with_test_holdout(tmp_path):
    root = tmp_path / "sim"
    generate_dataset(root, SynthConfig(num_recordings=3, frames_per_recording=120,
                                       recordings_per_session=1, seed=3))
    sim = {split: coco(root, split) for split in ("train", "val")}
    out = tmp_path / "out"
    report = build_dataset(root / "raw_annotations", root / "frames", out,
                           BuildOptions(split="session", holdout=("SIM02",),
                                        test_holdout=("SIM03",)))
    assert [report.splits[s]["recordings"] for s in ("train", "val", "test")] == [
        ["SIM01_R1"], ["SIM02_R1"], ["SIM03_R1"]]
    assert (out / "annotations" / "test.json").is_file()
    assert report.overlapping_windows == 0
    built = {(im["sensor_id"], im["frame_idx"]) for s in ("train", "val", "test")
             for im in coco(out, s)["images"]}
    assert built == {(im["sensor_id"], im["frame_idx"]) for s in sim.values()
                     for im in s["images"]}
    assert sum(report.splits[s]["boxes"] for s in report.splits) == sum(
        len(s["annotations"]) for s in sim.values())
    assert validate_dataset(out).ok


# ---------------------------------------------------------------------------------------
# Bad input, path safety, output folder


def _damage_cases():
    def line(text):
        def apply(raw, rec):
            add_raw_lines(raw, "S1_R1", text)
        return apply

    def recording(mutate):
        def apply(raw, rec):
            frames, timestamps = regular_recording(160, 0)
            frames, timestamps = mutate(frames, timestamps)
            np.savez(rec / "S1_R1.npz", frames=frames, timestamps=timestamps)
            (rec / "S1_R1.h5").unlink()
        return apply

    def nan(frames, timestamps):
        frames[7, 1, 1] = np.nan
        return frames, timestamps

    def backwards(frames, timestamps):
        timestamps[9] = timestamps[8]
        return frames, timestamps

    return [
        ("escape", line(raw_line("../../etc", ms(60))),
         r"S1_R1_annotation\.jsonl:6: sensor_id '\.\./\.\./etc' is not a plain name"),
        ("absolute", line(raw_line("/etc", ms(60))), r":6: sensor_id '/etc' is not a plain"),
        ("malformed", line('{"data_id": "S1_R1", '),
         r"S1_R1_annotation\.jsonl:6: malformed JSON at column"),
        ("no-time", line(json.dumps(dict(data_id="S1_R1", annotations=[]))),
         r":6: 'data_time' must be a whole number of ms"),
        ("missing-recording", line(raw_line("S9_R9", ms(60))),
         r":6: data_id 'S9_R9' has no recording in"),
        ("corrupt-hdf5", lambda raw, rec: (rec / "S1_R2.h5").write_bytes(b"\0" * 64),
         r"S1_R2\.h5: not a readable HDF5 file"),
        ("wrong-shape", recording(lambda f, t: (f[:, :, :50], t)),
         r"S1_R1\.npz: frames must be \(N, 40, 60\), got shape \(160, 40, 50\)"),
        ("nan", recording(nan), r"S1_R1\.npz: 1 frame\(s\) contain NaN .* first at frame 7"),
        ("backwards", recording(backwards),
         r"S1_R1\.npz: 'timestamps' not strictly increasing: 1 step\(s\), first at frame 9"),
    ]


@pytest.mark.parametrize("damage, pattern", [c[1:] for c in _damage_cases()],
                         ids=[c[0] for c in _damage_cases()])
def test_bad_input_is_one_clear_error(raw_inputs, tmp_path, damage, pattern):
    damage(*raw_inputs)
    with pytest.raises(DataError, match=pattern):
        build(raw_inputs, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_output_folder_is_replaced_only_when_asked(raw_inputs, tmp_path):
    out = tmp_path / "out"
    build(raw_inputs, out)
    (out / "build_report.json").write_text("{}")  # the CLI's report is part of the output
    with pytest.raises(DataError, match="output folder is not empty"):
        build(raw_inputs, out)
    build(raw_inputs, out, overwrite=True)
    assert (out / "annotations" / "train.json").is_file()
    assert not (out / "build_report.json").exists()  # replaced whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    raw, rec = raw_inputs
    with pytest.raises(DataError, match="will not replace a folder that holds the input"):
        build_dataset(raw, rec, tmp_path, BuildOptions(overwrite=True))


def test_overwrite_never_deletes_what_the_build_did_not_write(raw_inputs, tmp_path):
    """Issue 9: `data build --overwrite` deleted a user's notes.txt with the folder."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="has no dataset_info.json of a dataset writer"):
        build(raw_inputs, user, overwrite=True)
    assert (user / "notes.txt").read_text() == "mine"

    out = tmp_path / "out"
    build(raw_inputs, out)
    (out / "notes.txt").write_text("mine, next to a build")
    with pytest.raises(DataError, match=r"would delete files that .* did not write \(notes.txt\)"):
        build(raw_inputs, out, overwrite=True)
    assert (out / "notes.txt").is_file() and (out / "annotations" / "train.json").is_file()

    synthetic = tmp_path / "synthetic"
    synthetic.mkdir()
    (synthetic / "dataset_info.json").write_text('{"generator": "thermal_action.data.synthetic"}')
    with pytest.raises(DataError, match="was written by thermal_action.data.synthetic"):
        build(raw_inputs, synthetic, overwrite=True)


def test_classes_missing_from_train_are_reported(raw_inputs, tmp_path):
    """Issue 9: a held-out split with classes the training split lacks went unmentioned."""
    raw, rec = raw_inputs
    report = build_dataset(raw, rec, tmp_path / "out", BuildOptions(holdout=("S1_R2",)))
    assert report.classes_missing_from_train == {}
    lines = (raw / "S1_R2_annotation.jsonl").read_text().splitlines()
    kneeling = dict(RAW_PERSON, subcategory=CLASS_NAMES[10])
    lines[0] = raw_line("S1_R2", ms(40), [kneeling, RAW_CHAIR])
    (raw / "S1_R2_annotation.jsonl").write_text("\n".join(lines) + "\n")
    report = build_dataset(raw, rec, tmp_path / "out2", BuildOptions(holdout=("S1_R2",)))
    assert report.classes_missing_from_train == {"val": {CLASS_NAMES[10]: 1}}
    assert (f"warning: val holds classes that train lacks (a model trained on train cannot "
            f"score them): {CLASS_NAMES[10]} 1") in format_summary(report)
    info = json.loads((tmp_path / "out2" / "dataset_info.json").read_text())
    assert info["classes_missing_from_train"] == {"val": {CLASS_NAMES[10]: 1}}


def test_bad_options_are_refused():
    for bad in (dict(split="kfold"), dict(val_fraction=1.0), dict(window_policy="trim"),
                dict(split="random", holdout=("SL18*",)), dict(tolerance_ms=-1)):
        with pytest.raises(ValueError):
            BuildOptions(**bad)


# ---------------------------------------------------------------------------------------
# The seed's dataset from the real raw annotations


def test_real_data_rebuilds_the_seed_split(real_data_root, tmp_path):
    raw, frames = real_data_root / "raw_annotations", real_data_root / "frames"
    seed = build_dataset(raw, frames, tmp_path / "seed",
                         BuildOptions(split="random", seed=42, val_fraction=0.2,
                                      allow_overlap=True))
    assert {s: (c["keyframes"], c["boxes"]) for s, c in seed.splits.items()} == {
        "train": (314, 405), "val": (73, 95)}
    assert seed.skipped_frames == dict.fromkeys(seed.skipped_frames, 0)
    for split in ("train", "val"):  # same images in the same order, same boxes and ids
        given, built = coco(real_data_root, split), coco(tmp_path / "seed", split)
        assert built["images"] == given["images"]
        assert built["annotations"] == given["annotations"]
        assert built["categories"] == given["categories"]
    assert seed.overlap["val~train"] == dict(overlapping_windows=73, windows=73)
    by_recording = build_dataset(raw, frames, tmp_path / "recording")
    assert by_recording.overlapping_windows == 0
    assert sum(c["keyframes"] for c in by_recording.splits.values()) == 387
    for root in (tmp_path / "seed", tmp_path / "recording"):
        assert validate_dataset(root).ok


def test_the_built_dataset_records_its_sensor_geometry(raw_inputs, tmp_path):
    from thermal_action.data.dataset_root import sensor_geometry

    out = tmp_path / "out"
    build(raw_inputs, out)
    info = json.loads((out / "frames" / "sensor_info.json").read_text())
    assert {(e["frame_height"], e["frame_width"]) for e in info.values()} == {(HEIGHT, WIDTH)}
    assert sensor_geometry(out / "frames") == (HEIGHT, WIDTH)
    info["S1_R2"].update(frame_height=32, frame_width=32)
    (out / "frames" / "sensor_info.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match="recordings of several frame shapes"):
        sensor_geometry(out / "frames")
    assert sensor_geometry(tmp_path) is None  # no sensor_info.json: the config decides
