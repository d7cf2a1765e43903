"""The warm-blob detector and the tracker on scenes drawn to order: merged people, a
person lying still for minutes, a hot appliance, gaps and invalid frames, a crossing."""

from __future__ import annotations

import numpy as np
import pytest

from thermal_action.tracking import BlobDetector, Detections, detect_frames
from thermal_action.tracking.tracker import Tracker, track_detections

HEIGHT, WIDTH = 40, 60
ROOM_C = 20.0


def person(frame: np.ndarray, x: float, y: float, heat_c: float = 8.0,
           sigma_px: float = 2.5) -> np.ndarray:
    """Add a warm body (a Gaussian, deg C above the room) centred at (x, y) pixels."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    frame += heat_c * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma_px**2))
    return frame


def room(seed: int = 0) -> np.ndarray:
    return (ROOM_C + np.random.default_rng(seed).normal(0, 0.15, (HEIGHT, WIDTH))).astype(
        np.float32)


def centres(detections: Detections) -> np.ndarray:
    return (detections.boxes_xyxy[:, :2] + detections.boxes_xyxy[:, 2:]) / 2


def test_one_person_one_box_that_covers_them():
    found = BlobDetector().update(person(room(), 30, 20), 0)
    assert len(found.scores) == 1 and found.scores[0] > 0.5
    x1, y1, x2, y2 = found.boxes_xyxy[0]
    assert x1 < 28 < 32 < x2 and y1 < 18 < 22 < y2 and (x2 - x1) < 16


def test_merged_people_are_split_and_a_multi_lobed_person_is_not():
    two = person(person(room(), 26, 20, sigma_px=3.0), 34, 20, sigma_px=3.0)
    assert len(BlobDetector(split_min_area_px=10**6).update(two, 0).scores) == 1  # one blob
    found = BlobDetector().update(two, 0)
    assert len(found.scores) == 2
    assert sorted(np.round(centres(found)[:, 0])) == pytest.approx([26, 34], abs=2.5)
    head_and_torso = person(person(room(), 30, 18, heat_c=9.0, sigma_px=1.5), 30, 22,
                            heat_c=6.0, sigma_px=3.0)
    assert len(BlobDetector().update(head_and_torso, 0).scores) == 1


def test_a_hot_appliance_is_not_a_person():
    from scipy import ndimage

    hot = np.zeros((HEIGHT, WIDTH), np.float32)
    hot[10:13, 48:52] = 1.0
    frame = room() + 22.0 * ndimage.gaussian_filter(hot, 0.8)  # a kettle, seen blurred
    assert len(BlobDetector(max_excess_c=100, max_peak_c=100).update(frame, 0).scores) == 1
    assert len(BlobDetector().update(frame, 0).scores) == 0
    frame = person(frame, 20, 25)
    assert len(BlobDetector().update(frame, 0).scores) == 1


def test_a_person_lying_still_for_minutes_keeps_one_track():
    """A fall victim who does not move: a background learned from earlier frames would
    absorb them; the spatial background and the tracker keep them for five minutes."""
    lying = person(person(room(1), 25, 20, 6.0, 2.0), 31, 20, 5.0, 2.5)
    timestamps = np.arange(0, 300_000, 160)  # 5 minutes at about 6 frames per second
    frames = [lying + np.random.default_rng(i).normal(0, 0.1, lying.shape).astype(np.float32)
              for i in range(len(timestamps))]
    per_frame, tracks = track_detections(Tracker(), detect_frames(BlobDetector(), frames,
                                                                  timestamps), timestamps)
    assert len(tracks) == 1
    assert tracks[0].end_ms - tracks[0].start_ms > 299_000
    assert all(len(points) == 1 and points[0].detected for points in per_frame[3:])


def test_gaps_and_invalid_frames_keep_the_track():
    """A person walks right at 10 px/s; the sensor stops for 2.5 s, and later writes
    frames almost entirely invalid (-273.2): one track, one id."""
    frames, timestamps, t_ms = [], [], 0
    for i in range(120):
        t_ms += 2_600 if i == 40 else 100
        frame = person(room(i), 10 + 10 * t_ms / 1000, 20)
        if 80 <= i < 84:
            frame[np.random.default_rng(i).random(frame.shape) < 0.95] = -273.2
        frames.append(frame)
        timestamps.append(t_ms)
    _, tracks = track_detections(Tracker(), detect_frames(BlobDetector(), frames, timestamps),
                                 timestamps)
    assert [track.track_id for track in tracks] == [1]
    assert tracks[0].points[-1].box_xyxy[0] > 40  # followed to the far side


def test_ids_survive_a_crossing():
    """Two people walk past each other, 9 pixels apart sideways; neither takes the
    other's id."""
    frames, timestamps = [], []
    for i in range(60):
        t_s = i * 0.15
        frame = person(person(room(i), 8 + 5 * t_s, 15), 52 - 5 * t_s, 24)
        frames.append(frame)
        timestamps.append(int(t_s * 1000))
    per_frame, tracks = track_detections(Tracker(), detect_frames(BlobDetector(), frames,
                                                                  timestamps), timestamps)
    assert len(tracks) == 2
    by_id = {track.track_id: track for track in tracks}
    for track in by_id.values():
        ys = [(p.box_xyxy[1] + p.box_xyxy[3]) / 2 for p in track.points if p.detected]
        assert np.ptp(ys) < 4  # each id stays on its own lane
        xs = [(p.box_xyxy[0] + p.box_xyxy[2]) / 2 for p in track.points if p.detected]
        assert abs(xs[-1] - xs[0]) > 30  # and follows its person across the room


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        BlobDetector(threshold_c=0)
    with pytest.raises(ValueError):
        Tracker(max_gap_s=0)


def test_invalid_pixels_take_only_recent_readings():
    """After a gap in the recording, a band of invalid pixels must not show where a person
    stood seconds ago (a ghost the tracker would follow)."""
    from thermal_action.tracking.detections import InvalidPixelMemory

    memory = InvalidPixelMemory(max_age_ms=500)
    before = person(room(0), 30, 10)
    memory.repair(before, 0)
    band = room(1)
    band[:20] = -273.2  # the rows where the person stood, unread
    recent = memory.repair(band, 200)
    assert recent[10, 30] == pytest.approx(before[10, 30])  # 0.2 s old: kept
    memory.reset()
    memory.repair(before, 0)
    stale = memory.repair(band, 2_000)
    assert stale[10, 30] == pytest.approx(np.median(band[20:]), abs=0.01)  # 2 s: the room
    assert len(BlobDetector().update(stale, 2_000).scores) == 0
    assert InvalidPixelMemory().repair(np.full((4, 4), -273.2, np.float32), 0) is None
