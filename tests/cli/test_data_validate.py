import json

import h5py

from tests.conftest import run_cli
from thermal_action.cli.main import main


def test_validate_tiny_root_warnings_only(tiny_root, tmp_path):
    out = tmp_path / "report.json"
    result = run_cli("data", "validate", str(tiny_root), "--window", "16", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "[invalid-pixels]" in result.stdout and "val~train: 3 of 3" in result.stdout
    assert result.stdout.rstrip().splitlines()[-2].startswith("0 errors")
    data = json.loads(out.read_text())
    assert data["ok"] is True and data["leakage"]["val~train"]["windows"] == 3


def test_validate_errors_exit_1(tiny_root):
    with h5py.File(tiny_root / "frames" / "REC_B.h5", "r+") as file:
        file["timestamps"][10] = file["timestamps"][9]
    result = run_cli("data", "validate", str(tiny_root))
    assert result.returncode == 1
    assert "[timestamps-not-increasing]" in result.stdout
    assert "1 error," in result.stdout.splitlines()[-1]


def test_validate_missing_root_is_one_error_line(tmp_path, capsys):
    assert main(["data", "validate", str(tmp_path / "nowhere")]) == 2
    stderr = capsys.readouterr().err
    assert "dataset folder not found" in stderr and len(stderr.strip().splitlines()) == 1
