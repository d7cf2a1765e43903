import json

from tests.conftest import run_cli


def test_data_stats_writes_outputs(tiny_root, tmp_path):
    out = tmp_path / "stats"
    result = run_cli("data", "stats", str(tiny_root), "--out", str(out), "--count", "4")
    assert result.returncode == 0, result.stderr
    assert "person boxes per class:" in result.stdout and "REC_B" in result.stdout
    for name in ("class_distribution.png", "keyframes.png", "stats.json"):
        assert (out / name).is_file() and str(out / name) in result.stdout
    data = json.loads((out / "stats.json").read_text())
    assert data["class_distribution"]["train"]["standing"] == 3
    assert [r["frames"] for r in data["recordings"]] == [80, 80]
