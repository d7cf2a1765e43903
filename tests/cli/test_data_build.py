import json

import pytest

from tests.conftest import add_raw_lines, raw_line, run_cli
from thermal_action.cli.main import main


def test_build_end_to_end(raw_inputs, tmp_path):
    raw, rec = raw_inputs
    out, report = tmp_path / "out", tmp_path / "reports" / "build.json"
    result = run_cli("data", "build", "--annotations", str(raw), "--recordings", str(rec),
                     "--out", str(out), "--split", "random", "--val-fraction", "0.4",
                     "--allow-overlap", "--report", str(report))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"built {out} (split random, seed 42, val 0.4)"
    assert lines[1].split()[:5] == ["train", "6", "keyframes", "6", "person"]
    assert lines[2].split()[:3] == ["val", "4", "keyframes"]
    assert "left out, boxes: not-person 10" in result.stdout
    assert "windows overlapping another split: 10 of 10 (allowed)" in result.stdout
    assert lines[-1] == f"report: {report}"
    assert result.stderr == ""  # off a terminal, work this short prints no progress line
    data = json.loads(report.read_text())
    assert data["overlapping_windows"] == 10 and data["options"]["split"] == "random"
    assert (out / "annotations" / "val.json").is_file()


def test_build_from_files_with_named_holdout(raw_inputs, tmp_path, capsys):
    raw, rec = raw_inputs
    out = tmp_path / "out"
    files = [str(raw / f"S1_R{i}_annotation.jsonl") for i in (1, 2)]
    assert main(["data", "build", "--annotations", *files, "--recordings", str(rec), "--out",
                 str(out), "--holdout", "S1_R2", "--window-policy", "pad"]) == 0
    stdout = " ".join(capsys.readouterr().out.split())
    assert "val 5 keyframes 5 person boxes 1 recording (S1_R2)" in stdout
    assert (out / "build_report.json").is_file()
    assert not (out / "annotations" / "test.json").exists()


@pytest.mark.parametrize("extra, damage, pattern", [
    (["--split", "random"], None, "overlap a window of another split"),
    (["--val-fraction", "1.5"], None, "fractions must be in [0, 1)"),
    ([], "../x", "sensor_id '../x' is not a plain name"),
])
def test_build_errors_are_one_line(raw_inputs, tmp_path, capsys, extra, damage, pattern):
    raw, rec = raw_inputs
    if damage:
        add_raw_lines(raw, "S1_R1", raw_line(damage, 0))
    assert main(["data", "build", "--annotations", str(raw), "--recordings", str(rec),
                 "--out", str(tmp_path / "out"), *extra]) == 2
    stderr = capsys.readouterr().err.strip().splitlines()
    assert stderr[-1].startswith("thermal-action data build: error: ") and pattern in stderr[-1]
    assert not (tmp_path / "out").exists()
