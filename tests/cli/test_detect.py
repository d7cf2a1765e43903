"""``thermal-action detect`` on a real and a simulated recording, and the real data's
annotated frames as detection ground truth."""

from __future__ import annotations

import csv
import json

import imageio.v3 as iio
import numpy as np

from tests.conftest import run_cli
from thermal_action.cli.main import main


def test_detect_a_real_recording(real_data_root, tmp_path):
    recording = real_data_root / "frames" / "SL18_R1.h5"
    result = run_cli("detect", str(recording), "--out", str(tmp_path / "tracks.json"),
                     "--render", str(tmp_path / "tracks.gif"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("SL18_R1: 504 frames, ")
    assert "frames/s for detector and tracker" in result.stdout
    document = json.loads((tmp_path / "tracks.json").read_text())
    assert document["sensor_id"] == "SL18_R1" and document["frames"] == 504
    assert document["detector"]["type"] == "BlobDetector" and document["tracks"]
    track = document["tracks"][0]
    assert track["points"][0]["timestamp_ms"] == track["start_ms"]
    assert len(track["points"][0]["box_xyxy"]) == 4
    assert f"people tracked: {len(document['tracks'])}" in result.stdout
    frames = iio.imread(tmp_path / "tracks.gif", index=None)
    assert len(frames) == 300 and frames.shape[-1] in (3, 4)


def test_detect_a_simulated_recording_as_csv(tmp_path):
    from thermal_action.data.synthetic import SynthConfig, generate_dataset

    root = tmp_path / "sim"
    generate_dataset(root, SynthConfig(num_recordings=2, frames_per_recording=120, seed=4,
                                       people_weights=(1.0,)))
    recording = sorted((root / "frames").glob("*.h5"))[0]
    out = tmp_path / "tracks.csv"
    assert main(["detect", str(recording), "--blob", "--out", str(out)]) == 0
    with out.open() as stream:
        rows = list(csv.DictReader(stream))
    assert rows and set(rows[0]) == {"track_id", "frame_idx", "timestamp_ms", "x1", "y1",
                                     "x2", "y2", "score", "detected"}
    truth = np.loadtxt(root / "person_tracks" / f"{recording.stem}.csv", delimiter=",",
                       skiprows=1, ndmin=2)
    first = {int(r["frame_idx"]) for r in rows}
    assert len(first & set(truth[:, 0].astype(int))) > 60  # the person is followed


def test_detect_bad_input_is_one_line(tmp_path, capsys):
    assert main(["detect", str(tmp_path / "none.h5")]) == 2
    assert "none.h5: recording file not found" in capsys.readouterr().err
    (tmp_path / "r.npz").write_bytes(b"junk")
    assert main(["detect", str(tmp_path / "r.npz"), "--out", str(tmp_path / "t.txt")]) == 2
    assert "--out" in capsys.readouterr().err


def test_annotated_frames_of_the_real_data(real_data_root):
    from thermal_action.data.truth import annotated_frames

    frames = annotated_frames(real_data_root)
    assert len(frames) == 387
    assert sum(len(f.truth.classes) for f in frames) == 500
    assert sum(len(f.truth.object_keys) for f in frames) == 838
    assert sum(int(f.truth.heat_residue.sum()) for f in frames) == 73
    assert all(f.truth.boxes_xyxy.shape[1] == 4 for f in frames)


def test_the_learned_detector_trains_tests_and_detects_on_real_data(real_data_root,
                                                                     tmp_path):
    """A few iterations of the person detector on a recording split of the real data plus
    a small simulated set; test scores the held-out recordings; detect uses it."""
    built = tmp_path / "built"
    assert main(["data", "build", "--annotations", str(real_data_root / "raw_annotations"),
                 "--recordings", str(real_data_root / "frames"), "--out", str(built)]) == 0
    options = ["--cfg-options", "train_dataloader.dataset.simulated.num_recordings=2",
               "train_dataloader.dataset.simulated.frames_per_recording=120",
               f"train_dataloader.dataset.simulated.cache={tmp_path / 'sim'}",
               "train_dataloader.dataset.indices=64"]
    work = tmp_path / "work"
    trained = run_cli("train", "person-frames", "--data-root", str(built), "--work-dir",
                      str(work), "--epochs", "1", *options)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "val det/ap50:" in trained.stdout
    tested = run_cli("test", "person-frames", str(work / "epoch_1.pth"), "--data-root",
                     str(built), "--out", str(tmp_path / "det.json"))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert tested.stdout.startswith("frames: 92  (")  # the held-out recordings' frames
    report = json.loads((tmp_path / "det.json").read_text())
    assert set(report["metrics"]) == {"det/ap50", "det/ap30", "det/precision", "det/recall",
                                      "det/f1"}
    assert report["sample_unit"] == "frame" and report["objects"]["objects"] > 0
    config = work / "centernet_thermal_1xb32-24e_person-frames-40x60.py"
    detected = run_cli("detect", str(real_data_root / "frames" / "SL14_R1.h5"), "--detector",
                       str(config), str(work / "epoch_1.pth"), "--out",
                       str(tmp_path / "t.json"))
    assert detected.returncode == 0, detected.stderr[-3000:]
    assert json.loads((tmp_path / "t.json").read_text())["detector"]["type"] == \
        "LearnedDetector"
