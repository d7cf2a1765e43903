import copy
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tests.conftest import LYING_RISK, STANDING, WALKING, coco, write_recording
from thermal_action.data.tools.realism import (
    SHAPE_TOLERANCE,
    ComparisonRow,
    compare_statistics,
    comparison_summary,
    dataset_statistics,
    format_comparison_table,
    person_crops,
    person_shape,
    render_comparison_sheet,
    render_person_crops,
)
from thermal_action.errors import DataError

TINY_FRAMES = 2 * 80  # two recordings of 80 frames
TINY_INVALID_FRAMES = 2  # REC_A frames 30 and 31


@pytest.fixture
def tiny_stats(tiny_root):
    return dataset_statistics(tiny_root)


def test_counts_and_box_sizes_on_tiny_root(tiny_stats):
    assert tiny_stats["num_recordings"] == 2
    assert tiny_stats["num_keyframes"] == 9
    assert tiny_stats["num_boxes"] == 10
    boxes = tiny_stats["box_size_px"]
    assert set(boxes) == {"standing", "walking", "lying down-lying with risk"}
    # STANDING is [0.2, 0.5, 0.1, 0.15] -> 0.1 * 60 = 6 px wide, 0.15 * 40 = 6 px high
    assert boxes["standing"]["count"] == 4
    assert boxes["standing"]["median_width"] == pytest.approx(6.0, abs=1e-3)
    assert boxes["standing"]["median_height"] == pytest.approx(6.0, abs=1e-3)
    # LYING_RISK is [0.6, 0.5, 0.3, 0.1] -> 18 x 4 px
    lying = boxes["lying down-lying with risk"]
    assert lying["count"] == 3
    assert (lying["median_width"], lying["median_height"]) == pytest.approx((18.0, 4.0), abs=1e-3)
    assert json.loads(json.dumps(tiny_stats)) == tiny_stats  # JSON-ready


def test_temperatures_on_tiny_root(tiny_stats):
    background = tiny_stats["background_c"]
    assert background["p5"] < background["p50"] < background["p95"]
    assert background["p50"] == pytest.approx(20.0, abs=0.5)  # the fixture's 20 deg C room
    assert background["p5"] > 19.0  # no -273.2 marker leaked in
    person_max = tiny_stats["person_max_c"]
    # 3 of 10 boxes sit on the 36 deg C blob, the others on the room next to it
    assert person_max["p95"] > 33.0 > background["p95"] + 5
    assert person_max["p5"] > background["p50"]
    assert tiny_stats["person_mean_c"]["p95"] < person_max["p95"]


def test_frame_timing_and_invalid_pixels_on_tiny_root(tiny_stats):
    timing = tiny_stats["frame_interval_ms"]
    assert 40 <= timing["median"] < 170 and timing["max"] < 170  # fixture draws 40..169 ms
    assert timing["fraction_over_1s"] == 0.0
    assert set(timing["per_recording_median"]) == {"REC_A", "REC_B"}
    invalid = tiny_stats["invalid"]
    assert invalid["frame_fraction"] == pytest.approx(TINY_INVALID_FRAMES / TINY_FRAMES)
    # frames 30 (30 % of pixels) and 31 (99 %) of 160 frames of 2400 pixels
    assert invalid["pixel_fraction"] == pytest.approx(1.29 / TINY_FRAMES, rel=0.05)
    assert 0.97 * 2400 < invalid["max_pixels_in_frame"] <= 2400


def test_block_reads_give_the_same_statistics(tiny_root, tiny_stats, monkeypatch):
    from thermal_action.data import recording

    monkeypatch.setattr(recording, "READ_BLOCK_FRAMES", 7)  # keyframes fall in many blocks
    assert dataset_statistics(tiny_root) == tiny_stats


def test_invalid_keyframe_pixels_are_left_out(tmp_path):
    root = tmp_path / "root"
    write_recording(root / "frames" / "R.h5", num_frames=40, invalid_frames={10: 0.5, 20: 1.0})
    (root / "annotations").mkdir()
    # frame 20 is entirely invalid: its box has no valid pixel and adds no background
    (root / "annotations" / "train.json").write_text(
        json.dumps(coco([("R", 10, [STANDING]), ("R", 20, [WALKING])]))
    )
    stats = dataset_statistics(root)
    assert stats["num_boxes"] == 2 and stats["box_size_px"]["walking"]["count"] == 1
    assert stats["background_c"]["p5"] > 15.0
    assert stats["person_max_c"]["p5"] > 15.0
    assert stats["invalid"]["max_pixels_in_frame"] == 2400


def test_missing_layout_raises_data_error(tmp_path, tiny_root):
    with pytest.raises(DataError, match="dataset folder not found"):
        dataset_statistics(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="frames folder not found"):
        dataset_statistics(tmp_path / "empty")
    for split in ("train", "val"):
        (tiny_root / "annotations" / f"{split}.json").unlink()
    with pytest.raises(DataError, match=r"no annotation files \(\*.json\)"):
        dataset_statistics(tiny_root)


def test_keyframe_past_recording_end_raises(tmp_path):
    root = tmp_path / "root"
    write_recording(root / "frames" / "R.h5", num_frames=20)
    (root / "annotations").mkdir()
    (root / "annotations" / "val.json").write_text(json.dumps(coco([("R", 25, [STANDING])])))
    with pytest.raises(DataError, match="past the last frame"):
        dataset_statistics(root)


def test_compare_same_stats_is_within(tiny_stats):
    rows = compare_statistics(tiny_stats, copy.deepcopy(tiny_stats))
    assert all(isinstance(row, ComparisonRow) for row in rows)
    names = [row.name for row in rows]
    assert names[:3] == ["background p5", "background p50", "background p95"]
    assert {"person max p50", "person mean p50", "frame interval median",
            "frame interval p95", "frame intervals > 1 s", "frames with invalid pixels",
            "invalid pixels", "box width standing", "box height walking"} <= set(names)
    assert {"person peak excess (all classes)", "person flatness (all classes)",
            "person peak excess standing", "person mean excess lying down-lying with risk",
            "person warm area lying down-lying with risk", "person box aspect standing",
            "person warm fill standing", "person flatness standing"} <= set(names)
    # scalars + 6 person rows over all classes and per class with a warm region (2: the
    # walking boxes sit beside the blob), width and height of the 3 classes present
    assert len(rows) == 10 + 6 + 2 * 6 + 3 * 2
    off = [row for row in rows if not row.within]
    assert not off, off


def test_compare_flags_off_values(tiny_stats):
    synthetic = copy.deepcopy(tiny_stats)
    synthetic["background_c"]["p50"] = 35.0  # room as warm as a person
    synthetic["frame_interval_ms"]["median"] *= 3
    synthetic["invalid"]["pixel_fraction"] = None  # not measured
    synthetic["box_size_px"]["standing"]["median_width"] = 1.0
    del synthetic["box_size_px"]["walking"]  # class missing in synthetic: no row
    rows = {row.name: row for row in compare_statistics(tiny_stats, synthetic)}
    assert not rows["background p50"].within
    assert rows["background p50"].note.startswith("too high")
    assert not rows["frame interval median"].within
    assert not rows["invalid pixels"].within and "not measured" in rows["invalid pixels"].note
    assert not rows["box width standing"].within
    assert rows["box width standing"].note.startswith("too low")
    assert rows["box height standing"].within and rows["background p5"].within
    assert "box width walking" not in rows


def test_compare_tolerances_at_the_edges(tiny_stats):
    synthetic = copy.deepcopy(tiny_stats)
    real_timing = tiny_stats["frame_interval_ms"]
    synthetic["frame_interval_ms"]["median"] = real_timing["median"] * 1.45
    synthetic["frame_interval_ms"]["p95"] = real_timing["p95"] * 1.55
    synthetic["background_c"]["p95"] = tiny_stats["background_c"]["p95"] - 3.5
    rows = {row.name: row for row in compare_statistics(tiny_stats, synthetic)}
    assert rows["frame interval median"].within
    assert not rows["frame interval p95"].within
    assert not rows["background p95"].within


def test_table_has_one_line_per_row(tiny_stats):
    synthetic = copy.deepcopy(tiny_stats)
    synthetic["background_c"]["p50"] = 35.0
    rows = compare_statistics(tiny_stats, synthetic)
    lines = format_comparison_table(rows).splitlines()
    assert len(lines) == len(rows) + 2  # header and separator
    assert lines[0].startswith("| statistic |") and lines[0].endswith("| ok |")
    verdicts = [line.rsplit("|", 2)[1].strip() for line in lines[2:]]
    assert verdicts == ["ok" if row.within else "off" for row in rows]
    assert verdicts.count("off") == 1


def _synthetic_root(tmp_path: Path) -> Path:
    """A second root whose only keyframe sits on an almost entirely invalid frame."""
    root = tmp_path / "synthetic"
    write_recording(root / "frames" / "SYN.h5", num_frames=30, seed=5, invalid_frames={12: 0.9})
    (root / "annotations").mkdir()
    (root / "annotations" / "train.json").write_text(
        json.dumps(coco([("SYN", 12, [LYING_RISK])]))
    )
    return root


def test_comparison_sheet_png(tiny_root, tmp_path):
    synthetic = _synthetic_root(tmp_path)
    out = render_comparison_sheet(tiny_root, synthetic, tmp_path / "sheet" / "cmp.png",
                                  frames_per_row=3, seed=1)
    assert out == tmp_path / "sheet" / "cmp.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(out)
    assert image.shape[2] in (3, 4)
    assert 300 <= image.shape[0] <= 600 and 600 <= image.shape[1] <= 1000  # 3 panels per row
    rgb = image[..., :3]
    cyan = (rgb[..., 0] < 0.1) & (rgb[..., 1] > 0.8) & (rgb[..., 2] > 0.9)
    assert cyan.sum() > 500  # the synthetic frame's invalid pixels, drawn large
    again = render_comparison_sheet(tiny_root, synthetic, tmp_path / "again.png",
                                    frames_per_row=3, seed=1)
    np.testing.assert_array_equal(imread(again), image)  # same seed, same sheet


def test_comparison_sheet_errors(tiny_root, tmp_path):
    with pytest.raises(DataError, match="dataset folder not found"):
        render_comparison_sheet(tiny_root, tmp_path / "nowhere", tmp_path / "x.png")
    with pytest.raises(ValueError, match="frames_per_row"):
        render_comparison_sheet(tiny_root, tiny_root, tmp_path / "x.png", frames_per_row=0)


def test_real_data_statistics_match_readme(real_data_root):
    stats = dataset_statistics(real_data_root)
    assert (stats["num_recordings"], stats["num_keyframes"], stats["num_boxes"]) == (8, 387, 500)
    invalid = stats["invalid"]
    assert invalid["max_pixels_in_frame"] == 2304
    # SL14_R1..R4 have 39-63 invalid frames each, SL18 none: 156..252 invalid frames
    info = json.loads((real_data_root / "frames" / "sensor_info.json").read_text())
    total_frames = sum(entry["total_frames"] for entry in info.values())
    assert 156 <= round(invalid["frame_fraction"] * total_frames) <= 252
    timing = stats["frame_interval_ms"]
    per_recording = timing["per_recording_median"]
    assert 38 <= timing["median"] <= 170 and timing["max"] > 2000
    assert all(38 <= per_recording[f"SL14_R{i}"] <= 96 for i in range(1, 5))
    assert all(per_recording[f"SL18_R{i}"] == pytest.approx(163, abs=3) for i in range(1, 5))
    assert 4.0 < stats["background_c"]["p5"] and stats["person_max_c"]["p95"] < 45.0
    assert stats["person_max_c"]["p50"] > stats["background_c"]["p95"]
    boxes = stats["box_size_px"]
    assert sum(entry["count"] for entry in boxes.values()) == 500
    assert boxes["lying down-lying with risk"]["count"] >= 220
    assert not {"leaning", "lower position-other", "other"} & set(boxes)
    assert all(row.within for row in compare_statistics(stats, stats))


def test_person_statistics_and_mean_crops_per_class(tiny_root, tiny_stats, tmp_path):
    people = tiny_stats["person_by_class"]
    assert {name: row["count"] for name, row in people.items()} == {
        "standing": 4, "walking": 3, "lying down-lying with risk": 3}
    for row in people.values():  # boxes touch the 36 deg C blob or sit in the 20 deg C room
        assert -1.0 < row["median_mean_above_c"] <= row["median_contrast_c"] < 17.0
    crops = person_crops(tiny_root)
    assert {name: count for name, (_, count) in crops.items()} == {
        name: row["count"] for name, row in people.items()}
    crop, _ = crops["standing"]
    assert crop.shape == (24, 24) and np.isfinite(crop).all()
    # the crop is in deg C above the room: its corners are near 0, never near 20
    assert abs(float(np.median(crop))) < 2.0
    png = render_person_crops(tiny_root, tiny_root, tmp_path / "crops.png")
    assert imread(png).shape[2] in (3, 4)


def _plateau_and_peak(size: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """Two people in deg C above the room, 5 deg C at their warmest: a broad flat region
    with a sharp edge, and a round Gaussian blob."""
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    r2 = (xx / 5.0) ** 2 + (yy / 3.5) ** 2
    return 5.0 * np.exp(-0.5 * r2 ** 3), 5.0 * np.exp(-(xx ** 2 + yy ** 2) / (2 * 1.8 ** 2))


def test_person_shape_tells_a_broad_flat_region_from_a_round_peak():
    plateau, blob = _plateau_and_peak()
    valid = np.ones(plateau.shape, bool)
    flat = person_shape(plateau, valid, (14.0, 14.0))
    round_ = person_shape(blob, valid, (14.0, 14.0))
    assert flat.peak_excess_c == pytest.approx(5.0, abs=0.1)
    assert round_.peak_excess_c > 3.0
    assert flat.warm_area_px > 2 * round_.warm_area_px  # broad
    assert flat.warm_fill > 2 * round_.warm_fill
    assert flat.flatness < 0.7 * round_.flatness  # flat: even warmth over the region
    assert flat.mean_excess_c > round_.mean_excess_c
    assert person_shape(plateau, valid, (12.0, 4.0)).box_aspect == pytest.approx(3.0)
    assert person_shape(plateau, valid, (0.5, 4.0)).box_aspect == pytest.approx(4.0)


def test_person_shape_ignores_invalid_pixels_and_noise():
    plateau, _ = _plateau_and_peak()
    valid = np.ones(plateau.shape, bool)
    corrupted = plateau.copy()
    corrupted[:7] = -273.2 - 18.0  # an invalid packet, as excess over an 18 deg C room
    valid[:7] = False
    half = person_shape(corrupted, valid, (14.0, 14.0))
    whole = person_shape(plateau, valid | True, (14.0, 14.0))
    assert half.warm_area_px == pytest.approx(whole.warm_area_px / 2, abs=3)
    assert half.peak_excess_c == pytest.approx(whole.peak_excess_c, abs=0.1)
    assert person_shape(plateau, np.zeros(plateau.shape, bool), (14.0, 14.0)) is None
    room_noise = np.random.default_rng(0).normal(0.0, 0.2, plateau.shape)
    assert person_shape(room_noise, valid | True, (14.0, 14.0)) is None  # nothing warm


def test_person_shape_statistics_per_class_on_tiny_root(tiny_stats):
    shapes = tiny_stats["person_shape"]
    # the walking boxes sit in the room beside the warm blob: no warm region, not measured
    assert set(shapes) == {"standing", "lying down-lying with risk"}
    assert sum(row["count"] for row in shapes.values()) == tiny_stats["person_shape_overall"][
        "count"] <= tiny_stats["num_boxes"] - 3
    for row in [*shapes.values(), tiny_stats["person_shape_overall"]]:
        assert set(row) == {"count", "median_peak_excess_c", "median_mean_excess_c",
                            "median_warm_area_px", "median_box_aspect", "median_warm_fill",
                            "median_flatness"}
        assert row["median_box_aspect"] >= 1.0 and 0.0 < row["median_warm_fill"] <= 1.0
    # standing boxes are 6 x 6 px (aspect 1), lying ones 18 x 4 px (aspect 4.5)
    assert shapes["standing"]["median_box_aspect"] == pytest.approx(1.0, abs=1e-3)
    assert shapes["lying down-lying with risk"]["median_box_aspect"] == pytest.approx(4.5, abs=1e-3)
    assert json.loads(json.dumps(tiny_stats)) == tiny_stats


def test_shape_rows_flag_a_too_warm_round_person(tiny_stats):
    synthetic = copy.deepcopy(tiny_stats)
    standing = synthetic["person_shape"]["standing"]
    standing["median_peak_excess_c"] = tiny_stats["person_shape"]["standing"][
        "median_peak_excess_c"] + 6.0  # 10-14 deg C where the real people are 5-9
    standing["median_flatness"] *= 1.5
    rows = {row.name: row for row in compare_statistics(tiny_stats, synthetic)}
    assert not rows["person peak excess standing"].within
    assert rows["person peak excess standing"].note.startswith("too high")
    assert not rows["person flatness standing"].within
    assert rows["person warm area standing"].within
    assert rows["person peak excess lying down-lying with risk"].within
    relative, absolute = SHAPE_TOLERANCE["peak_excess_c"]
    real = tiny_stats["person_shape"]["standing"]["median_peak_excess_c"]
    tolerance = max(relative * real, absolute)
    assert rows["person peak excess standing"].off_by == pytest.approx(
        (6.0 - tolerance) / tolerance, rel=1e-3)


def test_summary_names_the_furthest_off_rows_in_a_few_lines(tiny_stats):
    synthetic = copy.deepcopy(tiny_stats)
    synthetic["background_c"]["p50"] = 35.0  # far off
    synthetic["frame_interval_ms"]["median"] *= 3  # off, less far
    synthetic["invalid"]["pixel_fraction"] = None  # not measured: first
    rows = compare_statistics(tiny_stats, synthetic)
    lines = comparison_summary(rows, worst=2)
    assert lines[0] == f"{len(rows) - 3}/{len(rows)} statistics within the real range; " \
        "the 2 furthest off:"
    assert lines[1].startswith("  invalid pixels: real ") and "not measured" in lines[1]
    assert lines[2].startswith("  background p50: real 20.0 °C, synthetic 35.0 °C (too high")
    assert lines[3] == "  ... and 1 more off (see the table)"
    assert comparison_summary(compare_statistics(tiny_stats, tiny_stats)) == [
        f"{len(rows)}/{len(rows)} statistics within the real range"]


def test_real_people_are_broad_flat_regions_5_to_9_degrees_above_the_room(real_data_root):
    stats = dataset_statistics(real_data_root)
    overall, shapes = stats["person_shape_overall"], stats["person_shape"]
    assert overall["count"] >= 490
    for name in ("standing", "sitting", "walking", "lying down-lying with risk"):
        row = shapes[name]
        assert 5.0 <= row["median_peak_excess_c"] <= 9.0, name
        assert row["median_flatness"] < 0.25 and row["median_warm_area_px"] > 30, name
    assert shapes["standing"]["median_warm_fill"] > shapes["lying down-lying with risk"][
        "median_warm_fill"]
