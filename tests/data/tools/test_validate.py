import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import LYING_RISK, STANDING, WALKING, coco, write_recording
from thermal_action.data.tools.validate import (
    Finding,
    ValidationReport,
    format_report,
    report_to_json,
    validate_dataset,
)
from thermal_action.errors import DataError


def codes(report: ValidationReport, severity: str) -> list[str]:
    return [f.code for f in report.findings if f.severity == severity]


def findings(report: ValidationReport, code: str) -> list[Finding]:
    return [f for f in report.findings if f.code == code]


def add_keyframes(root: Path, split: str, entries: list) -> None:
    path = root / "annotations" / f"{split}.json"
    content = json.loads(path.read_text())
    extra = coco(entries)
    content["images"] += extra["images"]
    content["annotations"] += extra["annotations"]
    path.write_text(json.dumps(content))


def test_tiny_root_has_warnings_only(tiny_root):
    report = validate_dataset(tiny_root, window=16)
    assert report.ok and not report.errors
    invalid = findings(report, "invalid-pixels")
    assert [Path(f.path).stem for f in invalid] == ["REC_A"]
    assert invalid[0].severity == "warning" and "2 of 80 frames" in invalid[0].message
    assert report.recordings["REC_A"]["invalid_frames"] == 2
    assert report.recordings["REC_B"]["invalid_frames"] == 0
    assert report.recordings["REC_B"]["num_frames"] == 80
    # 16-frame windows: only the keyframes within 8 frames of an end need padding
    (fit,) = findings(report, "window-fit")
    assert Path(fit.path).name == "train.json"
    assert "2 keyframe(s)" in fit.message
    assert "REC_A@5" in fit.message and "REC_B@78" in fit.message
    assert report.splits["train"]["keyframes"] == 6
    assert report.splits["train"]["boxes"] == 7
    assert report.splits["val"]["class_counts"] == {
        "standing": 1, "walking": 1, "lying down-lying with risk": 1}
    assert report.leakage["val~train"] == {"overlapping_windows": 3, "windows": 3}
    overlap = findings(report, "window-overlap")
    assert {Path(f.path).name for f in overlap} == {"train.json", "val.json"}
    assert any("3 of 3" in f.message and "train.json" in f.message for f in overlap)


def test_window_size_changes_fit_and_overlap(tiny_root):
    report = validate_dataset(tiny_root, window=64)
    fit = {Path(f.path).stem: f.message for f in findings(report, "window-fit")}
    # in 80 frames only keyframes 32..48 have a full 64-frame window
    assert "5 keyframe(s)" in fit["train"] and "REC_A@40" not in fit["train"]
    assert "1 keyframe(s)" in fit["val"] and "REC_B@70" in fit["val"]
    assert report.leakage["train~val"] == {"overlapping_windows": 6, "windows": 6}
    narrow = validate_dataset(tiny_root, window=2)
    assert narrow.leakage["val~train"]["overlapping_windows"] == 0
    assert not findings(narrow, "window-overlap")


def test_format_and_json(tiny_root):
    report = validate_dataset(tiny_root, window=16)
    text = format_report(report)
    assert "REC_A" in text and "REC_B" in text and "val~train: 3 of 3" in text
    assert text.splitlines()[-1] == f"0 errors, {len(report.warnings)} warnings"
    data = json.loads(json.dumps(report_to_json(report)))
    assert data["ok"] is True and data["num_errors"] == 0
    assert data["recordings"]["REC_A"]["max_invalid_pixels"] > 0
    assert {f["code"] for f in data["findings"]} >= {"invalid-pixels", "window-fit"}


def _outside(root):
    add_keyframes(root, "train", [("REC_A", 100, [STANDING])])


def _missing(root):
    add_keyframes(root, "val", [("REC_X", 40, [WALKING])])


def _timestamps(root):
    with h5py.File(root / "frames" / "REC_B.h5", "r+") as file:
        file["timestamps"][10] = file["timestamps"][9]


def _nan(root):
    with h5py.File(root / "frames" / "REC_A.h5", "r+") as file:
        frame = file["frames"][12]
        frame[3, 4] = np.nan
        file["frames"][12] = frame


def _shared(root):
    add_keyframes(root, "val", [("REC_A", 40, [LYING_RISK])])


def _unreadable(root):
    (root / "frames" / "REC_B.h5").write_bytes(b"not hdf5")


def _bad_sensor(root):
    add_keyframes(root, "train", [("../REC_A", 40, [STANDING])])


@pytest.mark.parametrize(
    "damage, code",
    [
        (_outside, "keyframe-outside-recording"),
        (_missing, "missing-recording"),
        (_timestamps, "timestamps-not-increasing"),
        (_nan, "non-finite"),
        (_shared, "keyframe-in-two-splits"),
        (_unreadable, "unreadable"),
        (_bad_sensor, "bad-annotations"),
    ],
)
def test_damaged_copies_give_errors(tiny_root, damage, code):
    damage(tiny_root)
    report = validate_dataset(tiny_root)
    assert not report.ok
    assert code in codes(report, "error"), format_report(report)
    assert " error" in format_report(report).splitlines()[-1]


def test_box_outside_frame_and_duplicate_keyframe_warn(tiny_root):
    add_keyframes(tiny_root, "train", [("REC_B", 45, [([0.98, 0.5, 0.2, 0.1], 1)])])
    path = tiny_root / "annotations" / "train.json"
    content = json.loads(path.read_text())
    extra = coco([("REC_B", 50, [STANDING])])
    extra["images"][0]["id"] = "again"
    for ann in extra["annotations"]:
        ann["image_id"] = "again"
    content["images"] += extra["images"]
    content["annotations"] += extra["annotations"]
    path.write_text(json.dumps(content))
    report = validate_dataset(tiny_root)
    assert report.ok
    assert "box-outside-frame" in codes(report, "warning")
    (dup,) = findings(report, "duplicate-keyframe")
    assert dup.severity == "warning" and "REC_B@50" in dup.message


def test_missing_root_raises(tmp_path):
    with pytest.raises(DataError, match="dataset folder not found"):
        validate_dataset(tmp_path / "nowhere")


def test_real_dataset(real_data_root):
    report = validate_dataset(real_data_root)
    assert report.ok, format_report(report)
    invalid = sorted(Path(f.path).stem for f in findings(report, "invalid-pixels"))
    assert invalid == ["SL14_R1", "SL14_R2", "SL14_R3", "SL14_R4"]
    for sensor, info in report.recordings.items():
        assert (info["invalid_frames"] > 0) == sensor.startswith("SL14")
    assert len(report.recordings) == 8
    assert report.leakage["val~train"] == {"overlapping_windows": 73, "windows": 73}
    assert report.splits["train"]["keyframes"] == 314
    assert report.splits["val"]["boxes"] == 95
    assert not findings(report, "window-fit")


def test_unreferenced_recordings_and_classes_missing_from_train_warn(tiny_root):
    """Issue 9: validate checked left-over recordings without saying no split used them,
    and said nothing of val classes that train lacks."""
    report = validate_dataset(tiny_root)
    assert not findings(report, "unreferenced-recording")
    assert not findings(report, "class-missing-from-train")
    write_recording(tiny_root / "frames" / "OLD_R1.h5", num_frames=40)
    add_keyframes(tiny_root, "val", [("REC_B", 60, [([0.4, 0.4, 0.1, 0.1], 10)])])
    report = validate_dataset(tiny_root)
    assert report.ok
    (unreferenced,) = findings(report, "unreferenced-recording")
    assert unreferenced.severity == "warning"
    assert "1 recording(s) are referenced by no split: OLD_R1" in unreferenced.message
    (missing,) = findings(report, "class-missing-from-train")
    assert Path(missing.path).name == "val.json" and missing.severity == "warning"
    assert "no example in train.json" in missing.message
    assert "lower position-kneeling 1" in missing.message
