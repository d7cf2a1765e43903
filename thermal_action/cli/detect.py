"""``thermal-action detect``: find and follow the people of one recording."""

from __future__ import annotations

import argparse
from pathlib import Path

from thermal_action.cli.common import (
    ConsoleProgress,
    add_frame_shape,
    add_overwrite,
    add_person_detector,
    add_recording,
    check_outputs,
)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="find and track the people of a recording (a trained detector or the "
                   "warm-blob one, Kalman tracker)")
    add_recording(parser)
    add_person_detector(parser)
    parser.add_argument("--out", metavar="TRACKS",
                        help="write the tracks to this .json or .csv file")
    parser.add_argument("--render", metavar="GIF",
                        help="write a GIF of the recording with every track's box and id")
    parser.add_argument("--max-gap-s", type=float, default=3.0,
                        help="seconds a track survives without detections (default 3)")
    add_overwrite(parser)
    add_frame_shape(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine.detect import detect_people, track_summary, write_tracks
    from thermal_action.errors import ConfigError
    from thermal_action.evaluation.report import render_tracks_gif
    from thermal_action.tracking import build_detector
    from thermal_action.tracking.tracker import Tracker

    for option, path in (("--out", args.out), ("--render", args.render)):
        allowed = (".json", ".csv") if option == "--out" else (".gif",)
        if path and Path(path).suffix.lower() not in allowed:
            raise ConfigError(f"{option} {path}: expected a {' or '.join(allowed)} file")
    check_outputs([("--out", args.out), ("--render", args.render)], args.overwrite)
    try:
        tracker = Tracker(max_gap_s=args.max_gap_s)
    except ValueError as exc:
        raise ConfigError(f"--max-gap-s: {exc}") from None
    detector = build_detector(args.detector)
    with ConsoleProgress() as progress:
        found = detect_people(args.recording, detector, tracker, args.frame_shape,
                              progress.counter("frames"))
    recording = found.recording
    duration_s = (recording.timestamps_ms[-1] - recording.timestamps_ms[0]) / 1000.0
    print(f"{recording.sensor_id}: {len(recording.temps_c)} frames, {duration_s:.1f} s; "
          f"{found.frames_per_second:.0f} frames/s for detector and tracker")
    print(f"people tracked: {len(found.tracks)}")
    for track in track_summary(found):
        print(f"  #{track['track_id']:<3} {track['start_s']:7.1f} s .. {track['end_s']:7.1f} s"
              f"   detected in {track['detected_share']:.0%} of its frames")
    if args.out:
        print(f"tracks: {write_tracks(found, args.out, detector, tracker)}")
    if args.render:
        gif = render_tracks_gif(recording.temps_c, recording.timestamps_ms, found.points,
                                args.render, recording.sensor_id)
        print(f"render: {gif}")
    return 0
