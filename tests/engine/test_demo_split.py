"""The demo on a given dataset scores held-out recordings, or says it cannot."""

from __future__ import annotations

from pathlib import Path

from thermal_action.data.tools.folds import split_overlap_line
from thermal_action.engine.demo import held_out_split


def test_a_leaking_split_is_rebuilt_by_recording(real_data_root: Path, tmp_path: Path):
    root, note = held_out_split(real_data_root, tmp_path / "by-recording")
    assert root == tmp_path / "by-recording"
    assert note.startswith("val overlaps train in 73 of 73 windows: not held out; built a "
                           "split by recording into ")
    overlap, windows, line = split_overlap_line(root / "annotations" / "train.json",
                                                root / "annotations" / "val.json")
    assert overlap == 0 and windows == 92 and line.endswith(": held out")
    again, _ = held_out_split(real_data_root, tmp_path / "by-recording")  # rebuilt in place
    assert again == root


def test_a_held_out_split_is_kept(real_data_root: Path, tmp_path: Path):
    built, _ = held_out_split(real_data_root, tmp_path / "by-recording")
    assert held_out_split(built, tmp_path / "again") == (built, None)
    assert not (tmp_path / "again").exists()


def test_a_leaking_split_without_raw_annotations_is_kept(tiny_root: Path, tmp_path: Path):
    assert held_out_split(tiny_root, tmp_path / "by-recording") == (tiny_root, None)
