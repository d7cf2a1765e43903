"""``thermal-action fall-stage`` fits the learned alert stage; ``infer --alert-rule FILE
--zones FILE`` streams with it, on a recording, on live frames and on a real recording."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, untrained_checkpoint

CAUSAL = "person-lite-causal"
ZONES = """\
sensor_shape: [40, 60]
zones:
  - name: bed
    kind: bed
    polygon: [[2, 2], [20, 2], [20, 11], [2, 11]]
"""


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path, Path]:
    """An untrained causal model, the stage fitted for it on 3 short simulated
    recordings, and the simulated dataset."""
    folder = tmp_path_factory.mktemp("stage")
    checkpoint = untrained_checkpoint(CAUSAL, folder / "causal.pth")
    out = folder / "stage.json"
    result = run_cli("fall-stage", CAUSAL, str(checkpoint), "--sim-recordings", "3",
                     "--sim-frames", "400", "--sim-seed", "3", "--sim-cache",
                     str(folder / "sim"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "chosen out of fold: threshold" in result.stdout
    assert f"fall stage: {out}" in result.stdout
    return checkpoint, out, folder / "sim"


def test_the_fitted_stage_is_a_file_the_stream_loads(fitted):
    checkpoint, stage, sim = fitted
    document = json.loads(stage.read_text())
    assert document["type"] == "FallStageModel" and 0 < document["threshold"] < 1
    assert document["info"]["simulated"] == dict(recordings=3, frames=400, seed=3)
    assert len(document["info"]["recordings"]) == 3
    assert document["info"]["label_at"] == "newest"  # the default: the person now
    assert document["info"]["positive_for_s"] is None  # the default: every positive
    assert {"now_log_area_change", "now_peak_excess", "lag_s"} <= set(document["features"])
    assert stage.with_suffix(".png").stat().st_size > 0
    again = run_cli("fall-stage", CAUSAL, str(checkpoint), "--sim-recordings", "3",
                    "--out", str(stage))
    assert again.returncode == 2 and "give --overwrite" in again.stderr.strip()
    cut = stage.with_name("cut.json")  # the simulated recordings are reused from the cache
    early = run_cli("fall-stage", CAUSAL, str(checkpoint), "--sim-recordings", "3",
                    "--sim-frames", "400", "--sim-seed", "3", "--sim-cache", str(sim),
                    "--positive-for-s", "5", "--out", str(cut))
    assert early.returncode == 0, early.stderr
    info = json.loads(cut.read_text())["info"]
    assert info["positive_for_s"] == 5.0
    assert 0 < info["positives"] < document["info"]["positives"]  # lying on: left out
    negative = run_cli("fall-stage", CAUSAL, str(checkpoint), "--positive-for-s", "-1",
                       "--out", str(stage.with_name("negative.json")))
    assert negative.returncode == 2
    assert negative.stderr.strip().splitlines()[-1].endswith("must not be negative")


def test_infer_with_the_stage_and_zones_on_a_file_and_on_stdin(fitted, tmp_path):
    checkpoint, stage, sim = fitted
    zones = tmp_path / "zones.yaml"
    zones.write_text(ZONES)
    recording = sorted((sim / "frames").glob("*.h5"))[0]
    out = tmp_path / "out"
    args = ("--alert-rule", str(stage), "--zones", str(zones))
    result = run_cli("infer", CAUSAL, str(checkpoint), str(recording), *args, "--out",
                     str(out / "t.json"), "--timeline-png", str(out / "t.png"))
    assert result.returncode == 0, result.stderr
    settings = json.loads((out / "t.json").read_text())["settings"]
    assert settings["alert_rule"]["type"] == "FallEventRule"
    assert settings["alert_rule"]["model"] == str(stage) and settings["zones"] == 1
    assert (out / "t.png").stat().st_size > 0
    replay = subprocess.run([sys.executable, "-m", "thermal_action.cli.main", "data",
                             "replay", str(recording)], capture_output=True, text=True,
                            check=True)
    live = subprocess.run([sys.executable, "-m", "thermal_action.cli.main", "infer", CAUSAL,
                           str(checkpoint), "-", *args, "--out", str(out / "live.json")],
                          input=replay.stdout, capture_output=True, text=True)
    assert live.returncode == 0, live.stderr
    offline = json.loads((out / "t.json").read_text())["people"]
    assert json.loads((out / "live.json").read_text())["people"] == offline


def test_bad_alert_rules_and_zones_files_are_one_error_line(fitted, tmp_path):
    checkpoint, _, sim = fitted
    recording = sorted((sim / "frames").glob("*.h5"))[0]
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = run_cli("infer", CAUSAL, str(checkpoint), str(recording), "--alert-rule",
                     str(broken))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("not a fall-stage file (invalid "
                                                            "JSON, line 1)")
    outside = tmp_path / "outside.yaml"
    outside.write_text(ZONES.replace("[20, 11]", "[80, 11]"))
    result = run_cli("infer", CAUSAL, str(checkpoint), str(recording), "--zones",
                     str(outside))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(outside) in line and "80" in line


def test_infer_with_the_stage_and_proposed_zones_on_a_real_recording(fitted, real_data_root,
                                                                     tmp_path):
    checkpoint, stage, _ = fitted
    zones = tmp_path / "SL18_R3.yaml"
    proposed = run_cli("data", "zones", str(real_data_root), "--sensor", "SL18_R3", "--out",
                       str(zones))
    assert proposed.returncode == 0, proposed.stderr
    result = run_cli("infer", CAUSAL, str(checkpoint),
                     str(real_data_root / "frames" / "SL18_R3.h5"), "--stride-s", "3",
                     "--alert-rule",
                     str(stage), "--zones", str(zones), "--out", str(tmp_path / "t.json"))
    assert result.returncode == 0, result.stderr
    assert "SL18_R3:" in result.stdout and "fall alerts:" in result.stdout
    settings = json.loads((tmp_path / "t.json").read_text())["settings"]
    assert settings["zones"] >= 2  # the bed and the chair of SL18_R3
