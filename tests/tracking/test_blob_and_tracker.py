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
    with pytest.raises(ValueError, match="keep_score"):
        Tracker(min_score=0.5, keep_score=0.6)


def test_invalid_pixels_take_only_recent_readings():
    """After a gap in the recording, a band of invalid pixels must not show where a person
    stood seconds ago (a ghost the tracker would follow)."""
    from thermal_action.tracking.detections import InvalidPixelMemory

    memory = InvalidPixelMemory(max_age_ms=500)
    before = person(room(0), 30, 10)
    memory.repair(before, 0)
    band = room(1)
    band[6:14] = -273.2  # the rows where the person stood, unread (20% of the frame)
    recent = memory.repair(band, 200)
    assert recent[10, 30] == pytest.approx(before[10, 30])  # 0.2 s old: kept
    memory.reset()
    memory.repair(before, 0)
    stale = memory.repair(band, 2_000)
    valid = np.delete(band, np.s_[6:14], axis=0)
    assert stale[10, 30] == pytest.approx(np.median(valid), abs=0.01)  # 2 s: the room
    assert len(BlobDetector().update(stale, 2_000).scores) == 0
    assert InvalidPixelMemory().repair(np.full((4, 4), -273.2, np.float32), 0) is None


def test_frames_that_lost_packets_are_read_from_memory():
    """A frame that lost a transfer packet has its other readings moved up (as on the real
    SL14 recordings): none of them may be used where they landed, or the person shows up
    in the wrong place; the frame repeats the last one while that is recent."""
    from thermal_action.data.synthetic.sensor import PACKET_PX
    from thermal_action.tracking.detections import InvalidPixelMemory

    before = person(room(0), 30, 25)
    moved = np.full(before.size, -273.2, np.float32)
    moved[: before.size - PACKET_PX] = before.ravel()[PACKET_PX:]  # first packet lost
    moved = moved.reshape(before.shape)
    memory = InvalidPixelMemory(max_age_ms=500)
    memory.repair(before, 0)
    np.testing.assert_array_equal(memory.repair(moved, 100), before)
    detector = BlobDetector()
    detector.update(before, 0)
    boxes = detector.update(moved, 100).boxes_xyxy
    assert len(boxes) == 1 and abs((boxes[0, 1] + boxes[0, 3]) / 2 - 25) < 2
    memory.reset()
    assert memory.repair(moved, 0) is None  # nothing recent to show instead


def _box_at(x: float, score: float) -> Detections:
    return Detections(np.array([[x - 3, 10, x + 3, 18]], np.float32),
                      np.array([score], np.float32))


def test_weak_detections_keep_a_track_but_cannot_start_or_feed_a_ghost():
    """ByteTrack's rule: a person the detector is unsure of for a while keeps their track;
    a warm spot scored weakly (heat residue) never becomes one, and a track fed only very
    weak detections ends."""
    stamps = np.arange(0, 8000, 100)
    strong_then_unsure = [_box_at(20 + 0.05 * i, 0.9 if i < 5 else 0.3)
                          for i in range(len(stamps))]
    per_frame, tracks = track_detections(Tracker(), strong_then_unsure, stamps)
    assert len(tracks) == 1 and all(p.detected for p in per_frame[-1])
    _, tracks = track_detections(Tracker(), [_box_at(20, 0.3)] * len(stamps), stamps)
    assert tracks == []  # never strong enough to start one
    fading = [_box_at(20, 0.9 if i < 5 else 0.1) for i in range(len(stamps))]
    per_frame, tracks = track_detections(Tracker(max_gap_s=2.0), fading, stamps)
    assert len(tracks) == 1 and tracks[0].end_ms == stamps[4]
    assert per_frame[-1] == []  # ended after 2 s of nothing it may keep


def test_a_person_stopping_on_a_flickering_warm_spot_keeps_their_id():
    """A warm spot the detector finds only now and then (heat residue) has a track that
    coasts most of the time, so its uncertainty is wide; a person who walks onto it and
    stops, detected every frame, must keep their own id (DeepSORT's cascade: tracks seen in
    the frame before match first), not hand it to the spot's track."""
    stamps = np.arange(0, 8000, 100)
    frames = []
    for i, _ in enumerate(stamps):
        x = min(10 + 1.2 * i, 31.0)  # 12 px/s, then stays at x = 31
        boxes, scores = [[x - 3, 10, x + 3, 18]], [0.9]
        if i % 8 == 0 and abs(x - 30) > 6:  # the spot, seen every 8th frame while apart
            boxes.append([27.5, 10.5, 32.5, 17.5])
            scores.append(0.6)
        frames.append(Detections(np.array(boxes, np.float32), np.array(scores, np.float32)))
    per_frame, _ = track_detections(Tracker(min_hits=1), frames, stamps)
    first = next(p.track_id for p in per_frame[0])
    assert all(any(p.track_id == first and p.detected for p in points)
               for points in per_frame)  # the person's id is detected in every frame


def test_predict_between_detections_follows_a_walker_and_changes_nothing():
    """A stream that detects every few frames asks the tracker where people are in the
    frames between: the constant-velocity prediction, within a pixel of a walker at 10 px/s;
    asking changes no track (the updates give the same points with or without it)."""
    stamps = np.arange(0, 6000, 100)
    walker = [_box_at(10 + 0.01 * t, 0.9) for t in stamps]  # 10 px/s
    plain, asked = Tracker(), Tracker()
    assert not asked.settled  # nobody followed
    predicted = 0
    for index, (detections, stamp) in enumerate(zip(walker, stamps, strict=True)):
        if index % 3:
            for point in asked.predict(int(stamp), index):  # none before it is confirmed
                assert not point.detected and point.frame_idx == index
                centre = (point.box_xyxy[0] + point.box_xyxy[2]) / 2
                assert abs(centre - (10 + 0.01 * stamp)) < 1.0
                predicted += 1
            continue
        assert plain.update(detections, int(stamp), index) == \
            asked.update(detections, int(stamp), index)
        assert asked.settled == (index >= 6)  # confirmed at its third detection
    assert predicted == 2 * (len(stamps) // 3) - 4  # from the third detection on
    assert len(asked.predict(99_000)) == 1  # the track ends at the next update only
    asked.update(Detections.empty(), 99_000)
    assert asked.predict(99_100) == [] and not asked.settled
