"""``thermal-action infer``: who did what, when, in recordings or a live stream."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thermal_action.cli.common import (
    ConsoleProgress,
    add_frame_shape,
    add_overwrite,
    add_person_detector,
    check_outputs,
)
from thermal_action.runtime.settings import StreamSettings

OUTPUTS = {"--out": (".json", ".csv"), "--render": (".gif", ".mp4"),
           "--timeline-png": (".png",), "--events": (".jsonl", ".csv")}


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="run an action model over recordings or live frames: people, their "
                   "actions over time, fall alerts")
    parser.add_argument("config", help="the action model's config (or a shipped name)")
    parser.add_argument("checkpoint", help="its checkpoint (.pth) or ONNX export (.onnx)")
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="recording files (.h5/.hdf5, .npz, .npy, .csv, as data build), "
                             "or - for newline-delimited JSON frames on standard input "
                             '({"timestamp_ms": ..., "frame": [[...]]} per line)')
    add_person_detector(parser)
    parser.add_argument("--stride-s", type=float, default=1.0,
                        help="classify each person every this many seconds (default 1)")
    parser.add_argument("--detect-every-s", type=float, default=StreamSettings.detect_every_s,
                        help="run the person detector every this many seconds, the tracker "
                             "predicting in between (default %(default)g; 0: every frame)")
    parser.add_argument("--smoothing-s", type=float, default=2.0,
                        help="time constant of the score smoothing, s (default 2)")
    parser.add_argument("--alert-after-s", type=float, default=3.0,
                        help="fall-related for this long raises a fall alert (default 3)")
    parser.add_argument("--alert-rule", default="persistence", metavar="RULE",
                        help="when a person's history is a fall alert: 'persistence' (the "
                             "fall-related classes held --alert-after-s; the default) or a "
                             "fall-stage file made by 'thermal-action fall-stage'")
    parser.add_argument("--zones", metavar="FILE",
                        help="the sensor's beds, couches, chairs and doors (YAML or JSON "
                             "polygons in pixels; see 'data zones'): lying in a bed or on a "
                             "couch is not a fall")
    parser.add_argument("--out", metavar="TIMELINE",
                        help="write the timeline to this .json or .csv file")
    parser.add_argument("--render", metavar="VIDEO",
                        help="write the recording with boxes and actions as .gif or .mp4")
    parser.add_argument("--timeline-png", metavar="PNG",
                        help="write the per-person timeline as a PNG")
    parser.add_argument("--events", metavar="LOG",
                        help="log every event as it happens to this .jsonl or .csv file")
    parser.add_argument("--webhook", metavar="URL",
                        help="POST each fall alert as JSON to this http(s) URL (3 retries)")
    parser.add_argument("--mqtt", metavar="HOST:PORT",
                        help="publish every event to this MQTT broker, topic "
                             "thermal-action/<source>/<kind>, QoS 1")
    parser.add_argument("--realtime", action="store_true",
                        help="process each frame when its time has come (replay a file as "
                             "a live sensor)")
    add_overwrite(parser)
    add_frame_shape(parser)


def _output(path: str | None, source: str) -> Path | None:
    """The output path for one source: ``{source}`` in the path is replaced by its name
    (needed when there are several sources)."""
    if path is None:
        return None
    return Path(path.replace("{source}", "stdin" if source == "-" else Path(source).stem))


def run(args: argparse.Namespace) -> int:
    from thermal_action.errors import ConfigError
    from thermal_action.runtime.run import build_stream

    for option, allowed in OUTPUTS.items():
        path = getattr(args, option[2:].replace("-", "_"))
        if path and Path(path).suffix.lower() not in allowed:
            raise ConfigError(f"{option} {path}: expected a {' or '.join(allowed)} file")
        if path and len(args.sources) > 1 and "{source}" not in path:
            raise ConfigError(f"{option} {path}: with several sources, put {{source}} in "
                              "the path (replaced by each source's name)")
    if args.sources.count("-") > 1:
        raise ConfigError("standard input (-) can be read once")
    check_outputs([(option, _output(getattr(args, option[2:].replace("-", "_")), source))
                   for source in args.sources for option in OUTPUTS], args.overwrite)
    stream = build_stream(args.config, args.checkpoint, args.detector,
                          alert_rule=args.alert_rule, zones=args.zones,
                          frame_shape=args.frame_shape, stride_s=args.stride_s,
                          smoothing_s=args.smoothing_s,
                          alert_after_s=args.alert_after_s,
                          detect_every_s=args.detect_every_s)
    empty = [source for source in args.sources if not _one_source(stream, source, args)]
    return 1 if empty else 0


def _sinks(stream, source: str, args: argparse.Namespace) -> list:
    """The sinks of one source, made before any work (so a bad output fails first)."""
    from thermal_action.errors import ConfigError
    from thermal_action.runtime.run import stream_settings_document
    from thermal_action.runtime.sinks import (
        ConsoleSink,
        CsvSink,
        JsonLinesSink,
        MqttSink,
        TimelineSink,
        VideoSink,
        WebhookSink,
        mqtt_address,
    )

    makers = []
    if source == "-":
        makers.append(("", lambda: ConsoleSink(stream=sys.stdout)))
    out, render, events = (_output(getattr(args, name), source)
                           for name in ("out", "render", "events"))
    if out:
        makers.append(("--out", lambda: TimelineSink(out, stream_settings_document(stream))))
    if render:
        makers.append(("--render", lambda: VideoSink(render, zones=stream.zones)))
    if events:
        makers.append(("--events", lambda: (CsvSink if events.suffix.lower() == ".csv"
                                            else JsonLinesSink)(events)))
    if args.webhook:
        makers.append(("--webhook", lambda: WebhookSink(args.webhook)))
    if args.mqtt:
        makers.append(("--mqtt", lambda: MqttSink(*mqtt_address(args.mqtt))))
    sinks = []
    try:
        for option, make in makers:
            try:
                sinks.append(make())
            except ValueError as exc:
                raise ConfigError(f"{option} {exc}".strip()) from None
    except ConfigError:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def _one_source(stream, source: str, args: argparse.Namespace) -> bool:
    """Run one source; False when it had no frames."""
    from thermal_action.data.live import SkippedLines, read_live_frames
    from thermal_action.runtime.run import file_frames, run_stream
    from thermal_action.runtime.sinks import close_all
    from thermal_action.runtime.timeline import summary_lines

    sinks = _sinks(stream, source, args)
    try:
        if source == "-":
            skipped = SkippedLines()
            frames = read_live_frames(sys.stdin, args.frame_shape, skipped)
            result = run_stream(stream, frames, "stdin", skipped=skipped, sinks=sinks)
            name = "stdin"
        else:
            recording, frames = file_frames(source, args.frame_shape)
            name, total = recording.sensor_id, len(recording.timestamps_ms)
            with ConsoleProgress() as progress:
                bar = progress.counter("frames")
                result = run_stream(stream, frames, source, realtime=args.realtime,
                                    on_frame=lambda done: bar(done, total), sinks=sinks)
    finally:
        close_all(sinks)
    _report_deliveries(sinks)
    if not result.frames:
        out = _output(args.out, source)
        print(f"{name}: no frames" + _skipped_note(result.skipped) +
              (f"; wrote an empty timeline to {out}" if out else ""))
        return False
    print(f"{name}: {result.frames} frames, {result.duration_s:.1f} s; "
          f"{result.realtime_factor:.0f}x real time" + _skipped_note(result.skipped))
    people = result.people
    print(f"people: {len(people)}; fall alerts: {sum(len(p.alerts) for p in people)}")
    for line in summary_lines(people, result.first_ms):
        print(line)
    _written(sinks, result, stream, name, source, args)
    return True


def _report_deliveries(sinks) -> None:
    for sink in sinks:
        for record, reason in getattr(sink, "failed", ()):
            print(f"webhook: {record['kind']} at {record['time_ms']} ms not delivered "
                  f"({reason})", file=sys.stderr)
        if getattr(sink, "unacknowledged", 0):
            print(f"mqtt: {sink.unacknowledged} events not acknowledged by the broker",
                  file=sys.stderr)


def _written(sinks, result, stream, name: str, source: str, args: argparse.Namespace) -> None:
    from thermal_action.runtime.sinks import CsvSink, JsonLinesSink, TimelineSink, VideoSink

    for sink in sinks:
        if isinstance(sink, TimelineSink):
            print(f"timeline: {sink.path}")
        elif isinstance(sink, VideoSink) and sink.frames:
            print(f"render: {sink.path}" + ("" if sink.frames == result.frames else
                                            f"  (the first {sink.frames} of {result.frames} "
                                            "frames)"))
        elif isinstance(sink, (JsonLinesSink, CsvSink)):
            print(f"events: {sink.path}")
    png = _output(args.timeline_png, source)
    if png:
        from thermal_action.visualization.timeline import plot_timeline

        written = plot_timeline(result.people, result.first_ms, result.last_ms, png,
                                title=name, zones=stream.zones)
        print(f"timeline PNG: {written}")


def _skipped_note(skipped) -> str:
    if not skipped.count:
        return ""
    return f"; skipped {skipped.count} bad lines (first: {skipped.first})"
