"""The streaming engine: time-based classification, smoothing, segments, fall alerts,
short streams, gaps and bounded memory; a scripted classifier makes the model's output
a function of the frames, so every event is known in advance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermal_action.data.classes import CLASS_NAMES, ActionClass
from thermal_action.inference.predictions import WindowPrediction
from thermal_action.runtime.events import EventKind
from thermal_action.runtime.streaming import ActionStream, StreamSettings
from thermal_action.runtime.timeline import build_timeline

ROOM_C = 20.0


class ScriptedClassifier:
    """A whole-frame 'model' that reads the class from the frames: the window's keyframe
    (its centre) is filled with ROOM_C + class id."""

    person_centred = False
    window_frames = 8
    keyframe_position = 4
    config, checkpoint = "scripted", "none"

    def __init__(self) -> None:
        self.calls = 0

    def predict_windows(self, windows, people=None, tracks=None):
        self.calls += len(windows)
        out = []
        for window in windows:
            key = self.keyframe_position
            label = int(round(float(np.median(window[key])) - ROOM_C))
            scores = np.full(len(CLASS_NAMES), 0.01)
            scores[label] = 1.0
            scores /= scores.sum()
            out.append(WindowPrediction(key, label, float(scores[label]), scores))
        return out


class CausalScriptedClassifier(ScriptedClassifier):
    """The same 'model' trained causally: it labels the newest frame of its window."""

    keyframe_position = ScriptedClassifier.window_frames - 1


def frames_of(labels, height=4, width=6):
    return [np.full((height, width), ROOM_C + label, np.float32) for label in labels]


def run(stream, labels, stamps):
    events = []
    for frame, stamp in zip(frames_of(labels), stamps, strict=True):
        events += stream.push(frame, int(stamp))
    return events + stream.flush()


def test_segments_follow_the_model_with_time_based_smoothing():
    stream = ActionStream(ScriptedClassifier(), settings=StreamSettings(stride_s=1.0,
                                                                        smoothing_s=0.0))
    stamps = np.arange(0, 40_000, 100)  # 10 frames per second for 40 s
    labels = [ActionClass.STANDING] * 200 + [ActionClass.WALKING] * 200
    events = run(stream, labels, stamps)
    kinds = [event.kind for event in events]
    assert kinds[0] == "track_started" and kinds[-1] == "track_ended"
    (person,) = build_timeline(events)
    assert [s.label for s in person.segments] == ["standing", "walking"]
    change = person.segments[0].end_ms
    assert abs(change - 20_000) <= 1_000  # dated at the window centre, within one stride
    assert person.segments[1].end_ms == stamps[-1]


def test_classification_is_by_sensor_time_not_frame_count():
    """Irregular frames and a gap of 2.6 s: one classification per stride of sensor
    time however many frames arrived."""
    rng = np.random.default_rng(0)
    intervals = rng.choice([37, 74, 150, 300], 600)
    intervals[300] = 2_600
    stamps = np.cumsum(intervals)
    model = ScriptedClassifier()
    stream = ActionStream(model, settings=StreamSettings(stride_s=2.0))
    run(stream, [ActionClass.SITTING] * len(stamps), stamps)
    duration_s = (stamps[-1] - stamps[0]) / 1000
    assert abs(model.calls - duration_s / 2.0) <= 2


def test_smoothing_holds_a_one_off_blip_back():
    labels = [ActionClass.STANDING] * 150
    labels[80:90] = [ActionClass.SITTING] * 10  # one second of something else
    stamps = np.arange(0, 15_000, 100)
    raw = build_timeline(run(ActionStream(ScriptedClassifier(), settings=StreamSettings(
        smoothing_s=0.0)), labels, stamps))[0]
    smooth = build_timeline(run(ActionStream(ScriptedClassifier(), settings=StreamSettings(
        smoothing_s=3.0)), labels, stamps))[0]
    assert "sitting" in [s.label for s in raw.segments]
    assert [s.label for s in smooth.segments] == ["standing"]


def test_a_fall_that_persists_raises_one_alert_with_its_times():
    settings = StreamSettings(stride_s=0.5, smoothing_s=0.0, alert_after_s=3.0)
    labels = ([ActionClass.WALKING] * 100 + [ActionClass.TRANSITION_RISK] * 10
              + [ActionClass.LYING_RISK] * 200)
    stamps = np.arange(0, 31_000, 100)
    events = run(ActionStream(ScriptedClassifier(), settings=settings), labels, stamps)
    alerts = [event for event in events if event.kind == "fall_alert"]
    assert len(alerts) == 1
    (alert,) = alerts
    assert abs(alert.start_ms - 10_000) <= 600  # the fall, at the window centre
    # raised once fall-related held 3 s at the centre, half a window (0.4 s) later
    assert 3_000 <= alert.time_ms - alert.start_ms <= 3_000 + 400 + 600
    causal = [e for e in run(ActionStream(CausalScriptedClassifier(), settings=settings),
                             labels, stamps) if e.kind == "fall_alert"]
    assert len(causal) == 1  # dated at the newest frame: half a window sooner
    assert abs(causal[0].start_ms - 10_000) <= 600
    assert causal[0].time_ms - causal[0].start_ms <= 3_000 + 600
    assert causal[0].time_ms < alert.time_ms
    brief = ([ActionClass.WALKING] * 100 + [ActionClass.LYING_RISK] * 20
             + [ActionClass.STANDING] * 100)
    assert not [e for e in run(ActionStream(ScriptedClassifier(), settings=settings), brief,
                                np.arange(0, 22_000, 100)) if e.kind == "fall_alert"]


def test_event_kinds_are_an_enum_that_serialises_as_its_value():
    settings = StreamSettings(stride_s=0.5, smoothing_s=0.0, alert_after_s=3.0)
    labels = [ActionClass.WALKING] * 100 + [ActionClass.LYING_RISK] * 100
    events = run(ActionStream(ScriptedClassifier(), settings=settings), labels,
                 np.arange(0, 20_000, 100))
    kinds = [event.kind for event in events]
    assert all(isinstance(kind, EventKind) for kind in kinds)
    sensor_kinds = {EventKind.SENSOR_ONLINE, EventKind.SENSOR_OFFLINE}  # serve's, per sensor
    assert set(kinds) == set(EventKind) - sensor_kinds  # all happen in a fall and its end
    assert json.loads(json.dumps(events[-1]._asdict()))["kind"] == "track_ended"
    assert f"{EventKind.FALL_ALERT}" == "fall_alert"


def test_short_streams_invalid_frames_and_bad_input():
    stream = ActionStream(ScriptedClassifier(), settings=StreamSettings(stride_s=0.1))
    frames = frames_of([ActionClass.SITTING] * 3)
    frames[1][:] = -273.2  # no reading at all
    frames[2][0, 0] = np.nan
    events = []
    for index, frame in enumerate(frames):
        events += stream.push(frame, 1_000 + 150 * index)
    events += stream.flush()
    assert [e.kind for e in events][0] == "track_started"
    assert "action_started" in [e.kind for e in events]  # shorter than one window: padded
    with pytest.raises(ValueError, match="does not follow"):
        stream.push(frames[0], 5)
        stream.push(frames[0], 5)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        stream.push(np.zeros((2, 4, 6), np.float32), 10_000)
    with pytest.raises(ValueError, match="stride_s"):
        StreamSettings(stride_s=0)


def test_memory_stays_bounded_however_long_the_stream():
    stream = ActionStream(ScriptedClassifier(), settings=StreamSettings(stride_s=1.0))
    for index, frame in enumerate(frames_of([ActionClass.SITTING] * 3_000)):
        stream.push(frame, index * 100)
    assert len(stream._ring) == stream.window_frames
    assert all(len(state.boxes) <= stream.window_frames for state in stream._tracks.values())
    assert not stream.tracker.keep_points and stream.tracker.finish() == []


class TwoPeople:
    """A detector that sees one person from the start and a second from 2.35 s."""

    def reset(self) -> None:
        pass

    def update(self, frame_c, timestamp_ms):
        from thermal_action.tracking.detections import Detections

        boxes = [[2, 1, 4, 3]] + ([[8, 1, 10, 3]] if timestamp_ms >= 2_350 else [])
        return Detections(np.array(boxes, np.float32), np.full(len(boxes), 0.9, np.float32))


class BatchRecorder(ScriptedClassifier):
    person_centred = True

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def predict_windows(self, windows, people=None, tracks=None):
        assert people is not None and len(people) == len(tracks) == len(windows)
        self.batches.append(len(windows))
        return super().predict_windows(windows)


def test_people_are_classified_together_on_one_time_grid():
    model = BatchRecorder()
    stream = ActionStream(model, TwoPeople(), settings=StreamSettings(stride_s=1.0))
    events = run(stream, [ActionClass.SITTING] * 100, np.arange(0, 10_000, 100))
    # person 1 is confirmed at 0.2 s and first classified at 2 s (a stride later, on the
    # grid); person 2 at 2.55 s and 4 s; from then on both in one batch each second
    assert model.batches == [1, 1, 2, 2, 2, 2, 2, 2]
    assert {e.track_id for e in events if e.kind == "track_started"} == {1, 2}
    with pytest.raises(ValueError, match="person detector"):
        ActionStream(BatchRecorder())


def test_realtime_replay_waits_for_each_frame_s_time():
    import time

    from thermal_action.data.live import live_lines
    from thermal_action.runtime.run import run_stream

    frames = frames_of([ActionClass.SITTING] * 5)
    stamps = [0, 100, 200, 300, 400]
    start = time.monotonic()
    result = run_stream(ActionStream(ScriptedClassifier()), zip(frames, stamps, strict=True),
                        "x", realtime=True)
    assert time.monotonic() - start >= 0.39 and result.frames == 5
    start = time.monotonic()
    assert len(list(live_lines(np.stack(frames), np.array(stamps), realtime=True,
                               speed=2.0))) == 5
    assert 0.19 <= time.monotonic() - start < 0.39  # twice as fast


def test_frames_kept_for_drawing_are_bounded():
    """A rendered video shows at most VIDEO_MAX_FRAMES, so a long or live source keeps only
    those frames (memory no longer grows with the stream); scoring keeps them all."""
    from thermal_action.runtime.run import run_stream

    frames = frames_of([ActionClass.SITTING] * 30)
    stamps = list(range(0, 3000, 100))
    for keep, kept in ((0, 0), (12, 12), (None, 30)):
        result = run_stream(ActionStream(ScriptedClassifier()),
                            zip(frames, stamps, strict=True), "x", keep_frames=keep)
        assert result.frames == 30
        assert len(result.frames_c) == len(result.timestamps_ms) == len(result.views) == kept
        assert result.timestamps_ms == stamps[:kept]


class Walker:
    """A detector that counts its calls and sees one person walking right at 5 px/s."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def reset(self) -> None:
        self.calls = []

    def update(self, frame_c, timestamp_ms):
        from thermal_action.tracking.detections import Detections

        self.calls.append(timestamp_ms)
        x = 2 + 0.005 * timestamp_ms
        return Detections(np.array([[x, 1, x + 2, 3]], np.float32), np.array([0.9], np.float32))


@pytest.mark.parametrize("every_s", [0.0, 0.3, 1.0])
def test_the_detector_runs_on_its_own_time_grid_and_the_tracker_fills_in(every_s):
    """With ``detect_every_s`` the detector runs once per that much sensor time (frames
    irregular, 60-140 ms apart, with a gap of 2 s) once everyone is confirmed, and the
    tracker's prediction places the person in the frames between; while a track awaits
    its confirmation (3 detections) it runs on every frame; 0 detects in every frame."""
    rng = np.random.default_rng(0)
    steps = rng.integers(60, 141, 300)
    steps[150] = 2_000
    stamps = np.cumsum(steps) - steps[0]
    detector = Walker()
    stream = ActionStream(BatchRecorder(), detector,
                          settings=StreamSettings(detect_every_s=every_s))
    boxes = []
    for frame, stamp in zip(frames_of([ActionClass.WALKING] * len(stamps)), stamps,
                            strict=True):
        stream.push(frame, int(stamp))
        boxes += [(int(stamp), view.box_xyxy[0]) for view in stream.live_tracks()]
    if every_s == 0:
        assert detector.calls == list(stamps)
    else:  # the first 3 frames confirm the person, then one per grid cell with frames
        cells = np.floor(stamps / (every_s * 1000))
        assert detector.calls[:3] == list(stamps[:3])
        assert len(detector.calls) == len(np.unique(cells)) + 2
    assert len({view.track_id for view in stream.live_tracks()}) == 1
    assert len(boxes) == len(stamps) - 2  # a track from its third detection on
    errors = np.array([abs(x - (2 + 0.005 * stamp)) for stamp, x in boxes])
    if every_s == 0:
        assert errors.max() < 1e-4  # each frame's own detection
    else:  # better than holding the last detected box, which lags by 5 px/s * its age
        last = np.array([max(c for c in detector.calls if c <= stamp) for stamp, _ in boxes])
        held = 0.005 * (np.array([stamp for stamp, _ in boxes]) - last)
        assert errors.mean() < 0.5 * held.mean() and np.median(errors) < 0.1


def test_replayed_alert_rule_equals_the_stream_with_those_settings():
    """A sweep over the alert rule records the stream's classifications once and replays
    them: every setting gives the alerts the stream itself gives with that setting."""
    from thermal_action.runtime.streaming import replay_alerts

    labels = ([ActionClass.WALKING] * 100 + [ActionClass.TRANSITION_RISK] * 10
              + [ActionClass.LYING_RISK] * 40 + [ActionClass.SITTING] * 60
              + [ActionClass.LYING_RISK] * 150)
    stamps = np.arange(0, 36_000, 100)
    recorded = []
    stream = ActionStream(ScriptedClassifier(), settings=StreamSettings(stride_s=0.5))
    stream.on_classified = recorded.append
    run(stream, labels, stamps)
    assert len(recorded) == 71 and recorded[0].track_id == 0
    late = recorded[-1]  # the newest frame's box and heat come with the window's
    assert late.now_box_xyxy is not None and isinstance(late.now_peak_excess_c, float)
    lags = {o.timestamp_ms - o.dated_ms for o in recorded}
    assert min(lags) >= 0 and max(lags) > 0  # a centred window is dated before its end
    kept = [(e.time_ms, e.start_ms) for e in replay_alerts(recorded, stream.settings)]
    seen = set()
    for smoothing_s, alert_after_s, fall_share in [(2.0, 3.0, 0.5), (0.0, 3.0, 0.5),
                                                   (1.0, 5.0, 0.5), (4.0, 2.0, 0.8)]:
        settings = StreamSettings(stride_s=0.5, smoothing_s=smoothing_s,
                                  alert_after_s=alert_after_s, fall_share=fall_share)
        streamed = [(e.time_ms, e.start_ms) for e in run(ActionStream(
            ScriptedClassifier(), settings=settings), labels, stamps) if e.kind == "fall_alert"]
        assert [(e.time_ms, e.start_ms) for e in replay_alerts(recorded, settings)] == streamed
        if (smoothing_s, alert_after_s, fall_share) == (2.0, 3.0, 0.5):
            assert streamed == kept and len(kept) == 2  # the fall, and lying again later
        seen.add(tuple(streamed))
    assert len(seen) == 4  # each setting alerts differently


class SharedWalkers:
    """Walkers of several streams that share one 'model': ``update_across`` records each
    pass and how many frames it took (as ``LearnedDetector`` batches a server's sensors)."""

    passes: list[int] = []

    def __init__(self, speed: float) -> None:
        self.walker, self.speed = Walker(), speed

    batch_key = ("shared",)

    def reset(self) -> None:
        self.walker.reset()

    def update(self, frame_c, timestamp_ms):
        return self.update_across([self], [frame_c], [timestamp_ms])[0]

    @staticmethod
    def update_across(detectors, frames_c, timestamps_ms):
        SharedWalkers.passes.append(len(detectors))
        out = []
        for detector, stamp in zip(detectors, timestamps_ms, strict=True):
            found = detector.walker.update(None, stamp * detector.speed)
            out.append(found)
        return out


def test_begin_all_detects_across_streams_in_one_pass_with_the_same_events():
    """Issue 23: a server's sensors have their people found in one detector pass per round;
    the events are those of each stream run alone."""
    from thermal_action.runtime.streaming import begin_all, classify_pending

    speeds = (1.0, 0.5, 2.0)
    stamps = list(range(0, 6000, 100))
    labels = [ActionClass.WALKING] * len(stamps)
    alone = []
    for speed in speeds:
        stream = ActionStream(BatchRecorder(), SharedWalkers(speed))
        alone.append(run(stream, labels, stamps))
    SharedWalkers.passes = []
    model = BatchRecorder()
    streams = [ActionStream(model, SharedWalkers(speed)) for speed in speeds]
    together = [[] for _ in streams]
    for frame, stamp in zip(frames_of(labels), stamps, strict=True):
        pending = begin_all([(stream, frame, stamp) for stream in streams])
        for events, stream, item, predictions in zip(
                together, streams, pending, classify_pending(pending, model), strict=True):
            events += stream.finish(item, predictions)
    for events, stream in zip(together, streams, strict=True):
        events += stream.flush()
    assert together == alone and all(alone)
    assert SharedWalkers.passes and set(SharedWalkers.passes) == {3}  # one pass per round
    assert len(SharedWalkers.passes) < len(stamps)  # on the detector's 0.3 s grid
    with pytest.raises(ValueError, match="one frame per stream"):
        begin_all([(streams[0], frames_of([1])[0], 10_000)] * 2)
    fresh = ActionStream(model, SharedWalkers(1.0))
    fresh.push(frames_of([1])[0], 1000)
    before = len(SharedWalkers.passes)
    with pytest.raises(ValueError, match="does not follow"):  # before any detection
        begin_all([(streams[0], frames_of([1])[0], 20_000), (fresh, frames_of([1])[0], 500)])
    assert len(SharedWalkers.passes) == before
