"""Folds of the evaluation protocols: whole sessions or recordings held out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.tools.folds import build_folds, split_overlap_line
from thermal_action.errors import DataError


def _sensors(path: Path) -> set[str]:
    return {k.sensor_id for k in load_keyframes(path, CLASS_NAMES)[0]}


def test_leave_one_session_out_holds_out_whole_sessions(two_sessions: Path, tmp_path: Path):
    folds = build_folds(two_sessions, "leave-one-session-out", tmp_path / "folds")
    assert [fold.name for fold in folds] == ["S1", "S2"]
    s1, s2 = folds
    assert s1.held_out == ("S1_R1", "S1_R2") and _sensors(s1.test_ann) == {"S1_R1", "S1_R2"}
    assert _sensors(s1.train_ann) == {"S2_R1"}
    assert s2.held_out == ("S2_R1",) and _sensors(s2.train_ann) == {"S1_R1", "S1_R2"}
    assert all(fold.overlap == 0 for fold in folds)
    # the keyframe in both split files is pooled once; annotation ids stay unique
    assert (s1.test_keyframes, s2.test_keyframes) == (2, 2)
    document = json.loads(s1.test_ann.read_text())
    ids = [a["id"] for a in document["annotations"]]
    assert len(ids) == len(set(ids)) == 3
    assert "held out" in s1.overlap_line() and "not" not in s1.overlap_line()


def test_leave_one_recording_out_has_one_fold_per_recording(two_sessions: Path,
                                                            tmp_path: Path):
    folds = build_folds(two_sessions, "leave-one-recording-out", tmp_path / "folds")
    assert [fold.name for fold in folds] == ["S1_R1", "S1_R2", "S2_R1"]
    for fold in folds:
        assert _sensors(fold.test_ann) == {fold.name}
        assert fold.name not in _sensors(fold.train_ann)


def test_the_given_split_is_kept_and_its_overlap_counted(tiny_root: Path, tmp_path: Path):
    (fold,) = build_folds(tiny_root, "given", tmp_path / "folds")
    assert fold.test_ann == tiny_root / "annotations" / "val.json"
    # val REC_A 35 and REC_B 40, 70 lie within 64 frames of train keyframes
    assert fold.overlap == 3 and fold.test_keyframes == 3
    assert fold.overlap_line() == "test overlaps train in 3 of 3 windows: not held out"


def test_a_protocol_needs_two_groups(tiny_root: Path, tmp_path: Path):
    with pytest.raises(DataError, match="at least two sessions, found REC"):
        build_folds(tiny_root, "leave-one-session-out", tmp_path / "folds")
    with pytest.raises(ValueError, match="unknown protocol"):
        build_folds(tiny_root, "k-fold", tmp_path / "folds")


def test_real_sessions_share_no_window_and_the_given_split_leaks(real_data_root: Path,
                                                                 tmp_path: Path):
    folds = build_folds(real_data_root, "leave-one-session-out", tmp_path / "folds")
    assert [fold.name for fold in folds] == ["SL14", "SL18"]
    assert sum(fold.test_keyframes for fold in folds) == 387
    assert all(fold.overlap == 0 for fold in folds)
    annotations = real_data_root / "annotations"
    overlap, windows, line = split_overlap_line(annotations / "train.json",
                                                annotations / "val.json")
    assert (overlap, windows) == (73, 73)
    assert line == "val overlaps train in 73 of 73 windows: not held out"
