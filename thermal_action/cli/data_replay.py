"""``thermal-action data replay``: a recording as a live sensor would send it."""

from __future__ import annotations

import argparse
import sys

from thermal_action.cli.common import add_frame_shape, add_recording


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="write a recording's frames to standard output as newline-delimited "
                   "JSON, the live format of thermal-action infer -")
    add_recording(parser)
    parser.add_argument("--realtime", action="store_true",
                        help="send each frame when its time has come")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="with --realtime, this many times faster (default 1)")
    add_frame_shape(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.live import live_lines
    from thermal_action.data.tools.sources import read_source
    from thermal_action.errors import ConfigError

    if args.speed <= 0:
        raise ConfigError(f"--speed {args.speed}: must be positive")
    recording = read_source(args.recording, args.frame_shape)
    try:
        for line in live_lines(recording.temps_c, recording.timestamps_ms, args.realtime,
                               args.speed):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped listening: not an error of ours
        sys.stderr.close()
    return 0
