"""Live frames as newline-delimited JSON: good lines become frames, bad ones are counted
and skipped (a live stream goes on), and a recording replays as such lines."""

from __future__ import annotations

import json

import numpy as np

from thermal_action.data.live import SkippedLines, live_lines, read_live_frames


def _line(stamp, frame):
    return json.dumps({"timestamp_ms": stamp, "frame": frame})


def test_good_lines_are_frames_and_bad_ones_are_counted():
    good = np.full((2, 3), 21.5).tolist()
    with_hole = [[21.5, None, 21.5], [21.5, 21.5, -273.2]]
    lines = [
        _line(1000, good),
        "not json",
        "",
        json.dumps({"frame": good}),
        _line(1100, [[1, 2], [3, 4]]),
        _line(True, good),
        _line(1200, with_hole),
        _line(1200, good),  # time does not advance
        _line(1300, [["a", 1, 2], [1, 2, 3]]),
        _line(1400.0, good),
    ]
    skipped = SkippedLines()
    frames = list(read_live_frames(lines, (2, 3), skipped))
    assert [stamp for _, stamp in frames] == [1000, 1200, 1400]
    assert np.isnan(frames[1][0][0, 1]) and frames[1][0][1, 2] == np.float32(-273.2)
    assert skipped.count == 6
    assert skipped.first.startswith("line 2: not JSON (")


def test_a_recording_replays_as_the_same_frames():
    rng = np.random.default_rng(0)
    frames = (20 + rng.normal(0, 1, (5, 4, 6))).astype(np.float32)
    frames[2, 0, 0] = np.nan
    stamps = np.array([0, 37, 111, 2_700, 2_737])
    skipped = SkippedLines()
    back = list(read_live_frames(live_lines(frames, stamps), (4, 6), skipped))
    assert skipped.count == 0 and [s for _, s in back] == stamps.tolist()
    replayed = np.stack([frame for frame, _ in back])
    assert replayed[2, 0, 0] == np.float32(-273.2)  # no reading stays no reading
    frames[2, 0, 0] = -273.2
    np.testing.assert_array_equal(replayed, frames)  # lossless
