import json

import numpy as np
import pytest
from PIL import Image

from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.tools.stats import (
    class_distribution,
    format_stats,
    plot_class_distribution,
    recording_summary,
    render_keyframe_sheet,
)
from thermal_action.errors import DataError

STANDING, WALKING, RISK = CLASS_NAMES[1], CLASS_NAMES[2], CLASS_NAMES[3]


def _expected(counts: dict[str, int]) -> dict[str, int]:
    return {name: counts.get(name, 0) for name in CLASS_NAMES}


def _png(path) -> np.ndarray:
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not a blank canvas
    return pixels


def test_class_distribution_tiny(tiny_root):
    # with a class_mapping.json present, it must be skipped as a split
    (tiny_root / "annotations" / "class_mapping.json").write_text(json.dumps({"0": "sitting"}))
    distribution = class_distribution(tiny_root)
    assert list(distribution) == ["train", "val"]
    assert distribution["train"] == _expected({STANDING: 3, RISK: 2, WALKING: 2})
    assert distribution["val"] == _expected({STANDING: 1, RISK: 1, WALKING: 1})
    assert list(distribution["train"]) == list(CLASS_NAMES)


def test_recording_summary_and_text_tiny(tiny_root):
    recordings = recording_summary(tiny_root)
    assert [r["sensor_id"] for r in recordings] == ["REC_A", "REC_B"]
    for r in recordings:
        assert r["frames"] == 80
        assert 40 <= r["median_interval_ms"] < 170
        assert r["fps"] == pytest.approx(1000.0 / r["median_interval_ms"])
        assert 79 * 0.04 <= r["duration_s"] <= 79 * 0.17
    text = format_stats(class_distribution(tiny_root), recordings)
    assert "person boxes per class:" in text and "recordings:" in text
    lines = text.splitlines()
    assert lines[1].split() == ["class", "train", "val", "total"]
    assert [line.split()[-4:] for line in lines if line.strip().startswith("total")][0] == [
        "total", "7", "3", "10"]
    assert any(line.split()[:2] == ["REC_A", "80"] for line in lines)


def test_figures_tiny(tiny_root, tmp_path):
    bars = plot_class_distribution(class_distribution(tiny_root), tmp_path / "a" / "dist.png")
    _png(bars)
    one = render_keyframe_sheet(tiny_root, tmp_path / "k1.png", count=4, seed=3)
    two = render_keyframe_sheet(tiny_root, tmp_path / "k2.png", count=4, seed=3)
    np.testing.assert_array_equal(_png(one), _png(two))  # deterministic for the seed


def test_missing_root_and_annotations(tmp_path, tiny_root):
    with pytest.raises(DataError, match="dataset folder not found"):
        class_distribution(tmp_path / "nowhere")
    for path in (tiny_root / "annotations").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="no annotation files"):
        class_distribution(tiny_root)
    (tiny_root / "annotations").rmdir()
    with pytest.raises(DataError, match="annotations folder not found"):
        render_keyframe_sheet(tiny_root, tmp_path / "k.png")


def test_class_distribution_real(real_data_root):
    distribution = class_distribution(real_data_root)
    train = distribution["train"]
    assert train == _expected({
        RISK: 220, STANDING: 123, CLASS_NAMES[10]: 12, CLASS_NAMES[6]: 11, WALKING: 10,
        CLASS_NAMES[0]: 8, CLASS_NAMES[7]: 8, CLASS_NAMES[11]: 6, CLASS_NAMES[12]: 3,
        CLASS_NAMES[4]: 3, CLASS_NAMES[8]: 1,
    })
    assert all(train[CLASS_NAMES[i]] == 0 for i in (5, 9, 13))
    assert sum(train.values()) == 405 and sum(distribution["val"].values()) == 95
