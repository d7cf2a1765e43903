"""``thermal-action demo`` and ``thermal-action data synth`` run end to end at toy size."""

from __future__ import annotations

import json

import imageio.v3 as iio

from tests.conftest import TINY_TRAIN_OPTIONS, run_cli


def test_demo_generates_trains_tests_and_draws(tmp_path):
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", str(out), "--recordings", "4", "--frames", "160",
                     "--epochs", "1", *TINY_TRAIN_OPTIONS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "data" / "annotations" / "train.json").is_file()
    report = json.loads((out / "metrics.json").read_text())
    assert set(report["metrics"]) == {"acc/top1", "acc/top5", "acc/mean_class"}
    assert report["ann_file"].endswith("val.json")
    assert report["sample_unit"] == "person"  # the demo's model classifies each person
    assert iio.imread(out / "confusion_matrix.png").ndim == 3
    gif = next(out.glob("recording_SIM*.gif"))
    assert len(iio.imread(gif, index=None)) > 10
    assert "held-out people:" in result.stdout and "mean-class" in result.stdout
    assert "recording GIF:" in result.stdout
    assert "(simulated by this run)" in result.stdout


def test_synth_cli_writes_dataset_and_realism_report(tmp_path, real_data_root):
    out = tmp_path / "synthetic"
    result = run_cli("data", "synth", "--out", str(out), "--recordings", "3", "--frames", "120",
                     "--seed", "7", "--class-mix", "standing=2", "13=0",
                     "--compare", str(real_data_root))
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((out / "frames").glob("*.h5"))) == 3
    assert (out / "realism" / "frames.png").is_file()
    assert (out / "realism" / "person_crops.png").is_file()
    report = out / "realism" / "statistics.md"
    table = report.read_text()
    assert "| background p50 |" in table and "person max p50" in table
    assert "| person peak excess (all classes) |" in table and "| person flatness (all" in table
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert len(rows) > 40
    # Issue 24 item 9: stdout says how many agree and the few furthest off, not the table
    compare_lines = result.stdout.splitlines()[1:]
    assert len(compare_lines) <= 10, result.stdout
    assert compare_lines[0].startswith("realism: ")
    assert f"/{len(rows)} statistics within the real range" in compare_lines[0]
    assert compare_lines[-1].startswith(f"realism report: {report} (all {len(rows)} rows")
    assert "| background p50 |" not in result.stdout
    assert json.loads((out / "realism" / "statistics.json").read_text())["real"][
        "person_shape"]["standing"]["count"] > 100  # 148 real standing boxes
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["simulation"]["class_weights"][1] == 2.0
    assert info["simulation"]["class_weights"][13] == 0.0


def test_synth_cli_rejects_bad_class_mix(tmp_path):
    result = run_cli("data", "synth", "--out", str(tmp_path), "--class-mix", "flying=3")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("thermal-action data synth: error:")
    assert "unknown class 'flying'" in result.stderr


def test_synth_refuses_a_used_folder_and_replaces_only_its_own(tmp_path):
    """Issue 9: synth wrote over an older simulated dataset and left its files in place."""
    out = tmp_path / "synthetic"
    args = ["data", "synth", "--out", str(out), "--frames", "120", "--seed", "1"]
    assert run_cli(*args, "--recordings", "3").returncode == 0
    again = run_cli(*args, "--recordings", "2")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1] == (
        f"thermal-action data synth: error: {out}: output folder is not empty (--overwrite or "
        "overwrite=True replaces a previous output of thermal_action.data.synthetic)")
    replaced = run_cli(*args, "--recordings", "2", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert len(list((out / "frames").glob("*.h5"))) == 2


def test_demo_reuses_only_data_simulated_with_its_settings(tmp_path):
    from dataclasses import replace

    from thermal_action.data.synthetic import SynthConfig, generate_dataset, simulated_with

    small = SynthConfig(num_recordings=2, frames_per_recording=120, seed=5)
    assert not simulated_with(tmp_path / "data", small)
    generate_dataset(tmp_path / "data", small)
    assert simulated_with(tmp_path / "data", small)
    assert not simulated_with(tmp_path / "data", replace(small, num_recordings=3))
    info_path = tmp_path / "data" / "dataset_info.json"
    info = json.loads(info_path.read_text())
    info["simulator_version"] -= 1  # made by an older simulator: made again
    info_path.write_text(json.dumps(info))
    assert not simulated_with(tmp_path / "data", small)
