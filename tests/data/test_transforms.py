import numpy as np
import pytest
from mmaction.registry import TRANSFORMS
from mmengine.dataset import Compose

from thermal_action.data.transforms import functional as F
from thermal_action.errors import DataError


def _clip(t=4, value=20.0):
    return np.full((t, 40, 60), value, np.float32)


def test_repair_holds_last_valid_reading():
    clip = _clip()
    clip[1] = 25.0
    clip[2, 5, 5] = -273.2
    clip[3, 5, 5] = np.nan
    repaired, fraction = F.repair_invalid_pixels(clip)
    assert repaired[2, 5, 5] == 25.0 and repaired[3, 5, 5] == 25.0
    assert fraction == pytest.approx(2 / clip.size)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, -273.2])
def test_repair_catches_every_kind_of_invalid_pixel_alone(bad):
    clip = _clip()
    clip[2, 7, 9] = bad
    repaired, fraction = F.repair_invalid_pixels(clip)
    assert repaired[2, 7, 9] == 20.0 and fraction == pytest.approx(1 / clip.size)
    clean, fraction = F.repair_invalid_pixels(_clip())
    assert fraction == 0.0 and np.array_equal(clean, _clip())


def test_repair_fills_spatially_without_earlier_reading():
    clip = _clip()
    clip[0, :, :30] = 30.0
    clip[0, 10, 3] = -273.2
    repaired, _ = F.repair_invalid_pixels(clip)
    assert repaired[0, 10, 3] == 30.0  # nearest valid pixel of the same frame


def test_repair_nearly_and_wholly_invalid_frames():
    clip = _clip()
    clip[0] = -273.2  # nothing earlier, nothing in the frame: next frame's values
    clip[2] = -273.2
    clip[2, 0, 0] = 21.0
    repaired, _ = F.repair_invalid_pixels(clip)
    assert np.isfinite(repaired).all() and (repaired > -100).all()
    np.testing.assert_array_equal(repaired[0], repaired[1])
    assert repaired[2, 20, 20] == 20.0  # held from frame 1


def test_repair_refuses_all_invalid_clip():
    with pytest.raises(ValueError, match="every pixel"):
        F.repair_invalid_pixels(np.full((2, 40, 60), -273.2, np.float32))


def test_normalization_modes():
    clip = np.linspace(10, 30, 4 * 40 * 60, dtype=np.float32).reshape(4, 40, 60)
    np.testing.assert_allclose(F.normalize_temperature(clip, "fixed"), (clip - 15) / 10, rtol=1e-6)
    per_clip = F.normalize_temperature(clip, "per_clip")
    assert abs(per_clip.mean()) < 1e-5 and per_clip.std() == pytest.approx(1, rel=1e-4)
    flat = F.normalize_temperature(_clip(), "per_clip")
    assert np.isfinite(flat).all()
    with pytest.raises(ValueError):
        F.normalize_temperature(clip, "minmax")


def test_flip_moves_pixels_and_boxes():
    clip = _clip(1)
    clip[0, 2, 3] = 40.0
    boxes = np.array([[0, 0, 10, 5]], np.float32)
    flipped, fboxes = F.flip_clip(clip, boxes, horizontal=True, vertical=True)
    assert flipped[0, 37, 56] == 40.0
    np.testing.assert_array_equal(fboxes, [[50, 35, 60, 40]])


def test_affine_shift_moves_content_and_boxes():
    clip = _clip(2)
    clip[:, 20, 30] = 40.0
    boxes = np.array([[28, 18, 32, 22]], np.float32)
    moved, mboxes = F.affine_clip(clip, boxes, scale=1.0, shift_xy_px=(3.0, -2.0))
    assert moved[0, 18, 33] == pytest.approx(40.0)
    np.testing.assert_allclose(mboxes, [[31, 16, 35, 20]])


def test_jitter_offset_and_gain():
    clip = np.stack([_clip(1, 20.0)[0], _clip(1, 30.0)[0]])
    out = F.jitter_temperature(clip, offset_c=1.0, gain=2.0)
    np.testing.assert_allclose(out[:, 0, 0], [16.0, 36.0])


def test_to_channels_accepts_frame_lists():
    frames = [np.zeros((40, 60), np.float32)] * 3
    assert F.to_channels(frames, 3).shape == (3, 40, 60, 3)
    assert F.to_channels(np.zeros((3, 40, 60, 1)), 1).shape == (3, 40, 60, 1)
    with pytest.raises(ValueError):
        F.to_channels(np.zeros((3, 40, 60, 2)), 1)


def _results(tiny_root, frame_idx=40):
    return dict(
        hdf5_path=str(tiny_root / "frames/REC_A.h5"),
        frame_idx=frame_idx,
        gt_bboxes=np.array([[10, 10, 20, 20]], np.float32),
        gt_labels=np.array([1]),
        label=1,
    )


@pytest.mark.parametrize("channels, size", [(1, None), (3, 256)])
def test_pipeline_into_mmaction_format(tiny_root, channels, size):
    steps = [
        dict(type="LoadThermalWindow", clip_len=16, frame_interval=2),
        dict(type="RepairInvalidPixels"),
        dict(type="TemperatureJitter", prob=1.0),
        dict(type="NormalizeTemperature"),
        dict(type="RandomThermalFlip", horizontal_prob=1.0, vertical_prob=0.0),
        dict(type="RandomThermalAffine", prob=1.0),
    ]
    if size:
        steps.append(dict(type="Resize", scale=(size, size), keep_ratio=False))
    steps += [
        dict(type="ThermalToChannels", num_channels=channels),
        dict(type="FormatShape", input_format="NCTHW"),
        dict(type="PackActionInputs"),
    ]
    pipeline = Compose([TRANSFORMS.build(step) for step in steps])
    packed = pipeline(_results(tiny_root))
    height, width = (size, size) if size else (40, 60)
    assert tuple(packed["inputs"].shape) == (1, channels, 16, height, width)
    assert packed["inputs"].abs().max() < 10  # normalized, no -273.2 left


def test_all_invalid_window_raises_data_error(tmp_path):
    from tests.conftest import write_recording

    write_recording(tmp_path / "BAD.h5", num_frames=40, invalid_frames={t: 1.0 for t in range(40)})
    pipeline = Compose(
        [
            TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=8)),
            TRANSFORMS.build(dict(type="RepairInvalidPixels")),
        ]
    )
    with pytest.raises(DataError, match=r"BAD.h5: keyframe 20: every pixel of the clip is invalid"):
        pipeline(dict(hdf5_path=str(tmp_path / "BAD.h5"), frame_idx=20))


def test_crop_around_centres_the_person_and_replicates_the_border():
    temps = np.arange(40 * 60, dtype=np.float32).reshape(1, 40, 60).repeat(2, axis=0)
    boxes = np.array([[10, 20, 14, 26]], np.float32)
    crop, moved, origin = F.crop_around(temps, (12.0, 23.0), (8, 8), boxes)
    assert crop.shape == (2, 8, 8) and origin == (8, 19)
    np.testing.assert_array_equal(crop[0], temps[0, 19:27, 8:16])
    np.testing.assert_array_equal(moved, [[2, 1, 6, 7]])
    corner, _, origin = F.crop_around(temps, (1.0, 1.0), (6, 6))  # past the top-left corner
    assert origin == (-2, -2)
    assert np.all(corner[0, :3, :3] == temps[0, 0, 0])  # the corner pixel repeats
    np.testing.assert_array_equal(corner[0, 2:, 2:], temps[0, :4, :4])
    with pytest.raises(ValueError, match="positive"):
        F.crop_around(temps, (5, 5), (0, 4))


def test_crop_around_person_transform_needs_the_box():
    crop = TRANSFORMS.build(dict(type="CropAroundPerson", size_px=(24, 24)))
    temps = np.zeros((4, 40, 60), np.float32)
    temps[:, 30:34, 50:54] = 30.0  # a warm person near the bottom-right corner
    results = crop(dict(imgs=temps, person_box_xyxy=np.array([50, 30, 54, 34], np.float32),
                        gt_bboxes=np.array([[50, 30, 54, 34]], np.float32)))
    assert results["imgs"].shape == (4, 24, 24) and results["img_shape"] == (24, 24)
    assert results["imgs"][0, 10:14, 10:14].min() == 30.0  # the person sits in the middle
    np.testing.assert_array_equal(results["gt_bboxes"], [[10, 10, 14, 14]])
    np.testing.assert_array_equal(results["person_box_xyxy"], [10, 10, 14, 14])
    with pytest.raises(KeyError, match="sample_unit='person'"):
        crop(dict(imgs=temps))


def _person_steps():
    return [
        dict(type="LoadThermalWindow", clip_len=8, frame_interval=2),
        dict(type="RepairInvalidPixels"),
        dict(type="CropAroundPerson", size_px=(24, 24)),
        dict(type="NormalizeTemperature"),
    ]


def _person_results(tiny_root, frame_idx=40, box=(10.0, 10.0, 20.0, 24.0)):
    return dict(_results(tiny_root, frame_idx), person_box_xyxy=np.array(box, np.float32))


def test_cached_steps_match_the_steps_and_read_once(tiny_root, monkeypatch):
    from thermal_action.data.window import WindowReader

    reads = []
    real_read = WindowReader.read
    monkeypatch.setattr(WindowReader, "read",
                        lambda self, *a: reads.append(a) or real_read(self, *a))
    cached = TRANSFORMS.build(dict(type="CachedSteps", steps=_person_steps()))
    plain = Compose([TRANSFORMS.build(step) for step in _person_steps()])
    expected = plain(_person_results(tiny_root))
    reads.clear()
    first = cached(_person_results(tiny_root))
    second = cached(_person_results(tiny_root))
    assert len(reads) == 1  # the second epoch is served from memory
    for out in (first, second):
        np.testing.assert_array_equal(out["imgs"], expected["imgs"])
        np.testing.assert_array_equal(out["person_box_xyxy"], expected["person_box_xyxy"])
        assert out["crop_origin_xy"] == expected["crop_origin_xy"]
    second["imgs"][:] = 0.0  # what a hit returns is a copy
    np.testing.assert_array_equal(cached(_person_results(tiny_root))["imgs"], expected["imgs"])
    other_person = cached(_person_results(tiny_root, box=(40.0, 20.0, 50.0, 30.0)))
    other_time = cached(_person_results(tiny_root, frame_idx=50))
    assert len(reads) == 3  # another box or keyframe is another sample
    assert not np.array_equal(other_person["imgs"], expected["imgs"])
    assert not np.array_equal(other_time["imgs"], expected["imgs"])


def test_cached_steps_stop_caching_at_the_budget(tiny_root):
    clip_bytes = 8 * 24 * 24 * 4
    cached = TRANSFORMS.build(
        dict(type="CachedSteps", steps=_person_steps(), max_bytes=clip_bytes * 2.5))
    for frame_idx in (36, 40, 44, 48):
        cached(_person_results(tiny_root, frame_idx))
    assert len(cached._cache) == 2 and cached._cached_bytes <= clip_bytes * 2.5
    with pytest.raises(ValueError, match="at least one step"):
        TRANSFORMS.build(dict(type="CachedSteps", steps=[]))


def test_a_frame_that_lost_packets_is_repaired_whole_from_the_clip():
    """Its readings that did arrive may sit in the wrong place (moved up by the lost
    count, as on the real SL14 recordings), so none of them is used."""
    clip = _clip()
    clip[1, 30, 40] = 35.0  # a warm spot the sensor saw
    lost = np.full(40 * 60, -273.2, np.float32)
    lost[: 40 * 60 - 576] = clip[1].ravel()[576:]  # first packet lost, the rest moved up
    clip[2] = lost.reshape(40, 60)
    repaired, fraction = F.repair_invalid_pixels(clip)
    np.testing.assert_array_equal(repaired[2], clip[1])  # held whole from frame 1
    assert fraction == pytest.approx(1 / 4)
    alone, _ = F.repair_invalid_pixels(clip[2:3])  # nothing better: the readings as they are
    assert alone[0, 0, 0] == clip[2, 0, 0] and (alone > -100).all()


def test_track_centres_interpolate_between_known_boxes():
    track = np.array([[10, 0, 0, 4, 4], [20, 10, 4, 14, 8]], np.float32)
    centres = F.track_centres(track, np.array([5, 10, 15, 20, 30]))
    np.testing.assert_allclose(centres, [[2, 2], [2, 2], [7, 4], [12, 6], [12, 6]])
    with pytest.raises(ValueError, match="at least one box"):
        F.track_centres(np.zeros((0, 5)), np.arange(3))


def test_crop_that_follows_the_track_keeps_a_walking_person_centred():
    """A person walking 2 pixels per frame leaves a fixed keyframe crop and stays in the
    middle of one that follows their track."""
    temps = np.full((9, 40, 60), 20.0, np.float32)
    for t in range(9):
        temps[t, 18:22, 14 + 2 * t : 18 + 2 * t] = 30.0
    track = np.array([[t, 14 + 2 * t, 18, 18 + 2 * t, 22] for t in (0, 8)], np.float32)
    results = dict(imgs=temps, frame_idx=4, frame_inds=np.arange(9), person_track=track,
                   person_box_xyxy=np.array([22, 18, 26, 22], np.float32),
                   gt_bboxes=np.array([[22, 18, 26, 22]], np.float32))
    fixed = TRANSFORMS.build(dict(type="CropAroundPerson", size_px=(12, 12)))(dict(results))
    follow = TRANSFORMS.build(dict(type="CropAroundPerson", size_px=(12, 12),
                                   follow_track=True))(dict(results))
    for t in range(9):
        np.testing.assert_array_equal(follow["imgs"][t, 4:8, 4:8], 30.0)
    assert fixed["imgs"][0, 4:8, 4:8].max() == 20.0  # the fixed crop lost them
    np.testing.assert_array_equal(follow["gt_bboxes"], [[4, 4, 8, 8]])
    assert follow["crop_origin_xy"] == fixed["crop_origin_xy"] == (18, 14)
    with pytest.raises(KeyError, match="person_track"):
        TRANSFORMS.build(dict(type="CropAroundPerson", follow_track=True))(
            dict(imgs=temps, frame_idx=4, person_box_xyxy=results["person_box_xyxy"]))


def test_temporal_crop_without_augmentation_is_the_test_clip(tiny_root):
    from thermal_action.data.transforms.functional import dense_window_len

    dense_len = dense_window_len(8, 2, max_shift_frames=3, max_speed=1.5)
    dense = TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=dense_len, frame_interval=1))
    sparse = TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=8, frame_interval=2))
    crop = TRANSFORMS.build(dict(type="RandomTemporalCrop", clip_len=8, frame_interval=2,
                                 max_shift_frames=3, speed_range=(0.75, 1.5), prob=0.0))
    out = crop(dense(_results(tiny_root)))
    expected = sparse(_results(tiny_root))
    np.testing.assert_array_equal(out["imgs"], expected["imgs"])
    np.testing.assert_array_equal(out["frame_inds"], expected["frame_inds"])
    assert out["clip_len"] == 8 and out["temporal_speed"] == 1.0


def test_temporal_crop_shifts_and_stretches_within_the_dense_window():
    dense_len = F.dense_window_len(8, 2, max_shift_frames=4, max_speed=1.25)
    assert dense_len % 2 == 0 and dense_len >= 8 * 2 * 1.25 + 8
    centre = dense_len // 2
    np.testing.assert_array_equal(F.temporal_indices(dense_len, 8, 2, 0, 1.0),
                                  centre - 8 + 2 * np.arange(8))
    np.testing.assert_array_equal(F.temporal_indices(dense_len, 8, 2, 4, 1.0),
                                  centre - 4 + 2 * np.arange(8))
    fast = F.temporal_indices(dense_len, 8, 2, -4, 1.25)
    assert np.diff(fast).mean() == pytest.approx(2.5, abs=0.2) and fast[0] >= 0
    with pytest.raises(ValueError, match="too short"):
        F.temporal_indices(16, 8, 2, 4, 1.0)


def test_random_temporal_crop_draws_within_its_ranges_and_refuses_a_short_window():
    np.random.seed(0)
    crop = TRANSFORMS.build(dict(type="RandomTemporalCrop", clip_len=8, frame_interval=2,
                                 max_shift_frames=4, speed_range=(0.8, 1.25)))
    dense_len = F.dense_window_len(8, 2, 4, 1.25)
    frames = np.arange(dense_len, dtype=np.float32)[:, None, None] * np.ones((1, 4, 4), np.float32)
    speeds, shifts = set(), set()
    for _ in range(50):
        out = crop(dict(imgs=frames.copy(), frame_inds=np.arange(dense_len)))
        assert out["imgs"].shape == (8, 4, 4)
        np.testing.assert_array_equal(out["imgs"][:, 0, 0], out["frame_inds"])
        assert 0.8 <= out["temporal_speed"] <= 1.25 and abs(out["temporal_shift_frames"]) <= 4
        speeds.add(round(out["temporal_speed"], 3))
        shifts.add(out["temporal_shift_frames"])
    assert len(speeds) > 10 and len(shifts) > 4
    with pytest.raises(ValueError, match="dense window"):
        crop(dict(imgs=frames[:16]))


def test_a_causal_clip_ends_at_the_keyframe_and_its_crop_matches(tiny_root):
    """anchor='end' (or the sample's keyframe_anchor): the last frame read is the keyframe;
    the temporal crop of a centred dense window picks the same clip without augmentation,
    and an augmented one never reads past the keyframe by more than its shift."""
    sparse = TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=8, frame_interval=2))
    causal = sparse(dict(_results(tiny_root), keyframe_anchor="end"))
    np.testing.assert_array_equal(causal["frame_inds"], 40 - 14 + 2 * np.arange(8))
    explicit = TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=8, frame_interval=2,
                                     anchor="end"))(_results(tiny_root))
    np.testing.assert_array_equal(explicit["imgs"], causal["imgs"])
    crop = TRANSFORMS.build(dict(type="RandomTemporalCrop", clip_len=8, frame_interval=2,
                                 max_shift_frames=3, speed_range=(0.75, 1.5), prob=0.0))
    dense_len = crop.dense_len("end")
    assert dense_len == F.dense_window_len(8, 2, 3, 1.5, "end") == 2 * (21 + 3 + 1)
    dense = TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=dense_len,
                                  frame_interval=1, anchor="centre"))
    out = crop(dense(dict(_results(tiny_root), keyframe_anchor="end")))
    np.testing.assert_array_equal(out["imgs"], causal["imgs"])
    np.testing.assert_array_equal(out["frame_inds"], causal["frame_inds"])
    centre = dense_len // 2
    for speed in (0.75, 1.5):
        for shift in (-3, 3):
            inds = F.temporal_indices(dense_len, 8, 2, shift, speed, "end")
            assert inds[-1] == centre + shift and inds[0] >= 0
    with pytest.raises(ValueError, match="anchor must be one of"):
        TRANSFORMS.build(dict(type="LoadThermalWindow", anchor="middle"))
