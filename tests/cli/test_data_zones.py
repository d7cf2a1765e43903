import numpy as np
import pytest
from matplotlib.image import imread

from tests.conftest import run_cli, write_recording
from tests.data.test_zones import still_track, write_raw_annotations
from thermal_action.data.person_tracks import FOLDER, write_person_tracks
from thermal_action.data.zones import load_zones


@pytest.fixture
def zones_root(tmp_path):
    """A recording with raw annotations (bed, couch, chair) and a person lying still on
    the floor for 100 s in its person tracks."""
    root = tmp_path / "dataset"
    write_recording(root / "frames" / "REC_A.h5", num_frames=40)
    write_raw_annotations(root / "raw_annotations" / "REC_A_annotation.jsonl")
    rows = [(index, stamp, 3, 5, *box)
            for index, (stamp, box) in enumerate(still_track((20, 33), (3, 8), 100, seed=5))]
    write_person_tracks(root / FOLDER / "REC_A.csv", np.asarray(rows))
    return root


def test_data_zones_writes_file_and_png(zones_root, tmp_path):
    out = tmp_path / "out" / "zones.yaml"
    args = ("data", "zones", str(zones_root), "--sensor", "REC_A", "--out", str(out))
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2:] == [f"wrote {out}", f"wrote {out.with_suffix('.png')}"]
    assert [line.split()[:2] for line in lines[:-2]] == [
        ["bed", "bed"], ["couch", "couch"], ["chair", "chair"], ["bed-2", "bed"]]
    assert "still for 100 s (track 3)" in lines[3]
    zones = load_zones(out)
    assert [(z.name, z.source) for z in zones] == [
        ("bed", "furniture annotation, 7 frames"), ("couch", "furniture annotation, 5 frames"),
        ("chair", "furniture annotation, 5 frames"), ("bed-2", "still for 100 s (track 3)")]
    picture = imread(out.with_suffix(".png"))
    assert picture.ndim == 3 and picture.shape[0] > 100 and picture.shape[1] > 100

    before = out.read_text()
    refused = run_cli(*args)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"thermal-action data zones: error: --out {out}: exists; give --overwrite to "
        "replace it"]
    assert out.read_text() == before
    again = run_cli(*args, "--overwrite", "--min-still-s", "200")
    assert again.returncode == 0, again.stderr
    assert [z.name for z in load_zones(out)] == ["bed", "couch", "chair"]


def test_data_zones_missing_sensor(zones_root, tmp_path):
    out = tmp_path / "zones.yaml"
    result = run_cli("data", "zones", str(zones_root), "--sensor", "NOPE", "--out", str(out))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("thermal-action data zones: error: ") and "NOPE.h5" in line
    assert "not found" in line and not out.exists()


def test_data_zones_on_real_recording(real_data_root, tmp_path):
    out = tmp_path / "SL18_R1.json"
    result = run_cli("data", "zones", str(real_data_root), "--sensor", "SL18_R1", "--out",
                     str(out))
    assert result.returncode == 0, result.stderr
    zones = load_zones(out)
    chairs = [zone for zone in zones if zone.kind == "chair"]
    assert chairs and chairs[0].source.startswith("furniture annotation")
    x1, y1, x2, y2 = chairs[0].box_xyxy
    assert 0 <= x1 < x2 <= 60 and 0 <= y1 < y2 <= 40 and (x2 - x1) * (y2 - y1) > 20
    assert out.with_suffix(".png").is_file()
