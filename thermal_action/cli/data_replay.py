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
    parser.add_argument("--mqtt", metavar="HOST:PORT",
                        help="publish the frames to this MQTT broker instead, on "
                             "thermal-action/<sensor>/frames (as serve reads them)")
    parser.add_argument("--sensor", help="with --mqtt: the sensor id (default the "
                                         "recording's)")
    parser.add_argument("--username", help="with --mqtt: the broker user")
    parser.add_argument("--password", help="with --mqtt: the broker password")
    add_frame_shape(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.live import live_lines
    from thermal_action.data.tools.sources import read_source
    from thermal_action.errors import ConfigError

    if args.speed <= 0:
        raise ConfigError(f"--speed {args.speed}: must be positive")
    recording = read_source(args.recording, args.frame_shape)
    lines = live_lines(recording.temps_c, recording.timestamps_ms, args.realtime, args.speed)
    if args.mqtt:
        from thermal_action.runtime.sinks import mqtt_address, publish_lines

        sensor = args.sensor or recording.sensor_id
        try:
            host, port = mqtt_address(args.mqtt)
            count = publish_lines(lines, host, port, f"thermal-action/{sensor}/frames",
                                  args.username, args.password)
        except ValueError as exc:
            raise ConfigError(f"--mqtt {exc}") from None
        print(f"{sensor}: published {count} frames to {host}:{port}")
        return 0
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped listening: not an error of ours
        sys.stderr.close()
    return 0
