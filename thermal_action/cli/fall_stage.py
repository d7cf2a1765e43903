"""``thermal-action fall-stage``: fit the learned fall-alert stage for an action model."""

from __future__ import annotations

import argparse
from pathlib import Path

from thermal_action.cli.common import (
    ConsoleProgress,
    add_frame_shape,
    add_overwrite,
    add_person_detector,
    check_outputs,
    dataset_folder,
)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="fit the fall stage (when a track's history is a fall alert) on long "
                   "simulated recordings and real training recordings")
    parser.add_argument("config", help="the action model's config (or a shipped name)")
    parser.add_argument("checkpoint", help="its checkpoint (.pth) or ONNX export (.onnx)")
    add_person_detector(parser)
    parser.add_argument("--real-root", help="real dataset folder whose training recordings "
                                            "the stage also learns from")
    parser.add_argument("--real-ann", help="the annotation file naming them (default "
                                           "REAL_ROOT/annotations/train.json); never the "
                                           "recordings you will score on")
    parser.add_argument("--sim-recordings", type=int, default=60,
                        help="simulated recordings rich in falls and near-falls (default 60; "
                             "0: none); a story ends with its fall, so many short recordings "
                             "hold more falls than a few long ones")
    parser.add_argument("--sim-frames", type=int, default=1200,
                        help="frames per simulated recording (default 1200, 2-3 min)")
    parser.add_argument("--sim-seed", type=int, default=2026)
    parser.add_argument("--sim-cache", default="work_dirs/fall-stage-sim",
                        help="where the simulated recordings are made and reused")
    parser.add_argument("--max-false-per-hour", type=float, default=0.5,
                        help="the decision keeps to this many false alerts per hour "
                             "(out of fold; default 0.5)")
    parser.add_argument("--stride-s", type=float, default=1.0,
                        help="classify each person every this many seconds (as infer)")
    parser.add_argument("--label-at", choices=("newest", "window"), default="newest",
                        help="label each classification by the person at the newest frame "
                             "(default: the stage alerts sooner) or at its window's date")
    parser.add_argument("--positive-for-s", type=float, default=0.0,
                        help="a person down after a fall teaches the stage only for this "
                             "many seconds from the start of it (e.g. 15: it learns 'just "
                             "fell', not 'down for long'; alerts sooner, more false ones on "
                             "simulated days; default 0: the whole time)")
    parser.add_argument("--out", required=True, help="the fall-stage file to write (.json)")
    add_overwrite(parser)
    add_frame_shape(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine.fall_stage import StageSources, train_fall_stage
    from thermal_action.errors import ConfigError
    from thermal_action.runtime.run import build_stream

    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise ConfigError(f"--out {out}: expected a .json file")
    check_outputs([("--out", out)], args.overwrite)
    if args.sim_recordings < 0 or args.max_false_per_hour < 0 or args.positive_for_s < 0:
        raise ConfigError("--sim-recordings, --max-false-per-hour and --positive-for-s "
                          "must not be negative")
    positive_for_s = args.positive_for_s or None
    real = dataset_folder(args.real_root) if args.real_root else None
    sources = StageSources(real, Path(args.real_ann) if args.real_ann else None,
                           args.sim_recordings, args.sim_frames, args.sim_seed,
                           Path(args.sim_cache))
    stream = build_stream(args.config, args.checkpoint, args.detector, stride_s=args.stride_s)
    with ConsoleProgress() as progress:
        bars = {}

        def update(stage: str, done: int, total: int) -> None:
            bars.setdefault(stage, progress.counter(stage))(done, total)

        result, paths = train_fall_stage(stream, sources, out, args.frame_shape,
                                         args.max_false_per_hour, progress=update,
                                         label_at=args.label_at,
                                         positive_for_s=positive_for_s)
    print(f"observations: {result.observations} labelled ({result.positives} of a person "
          "down after a fall)")
    print(f"{'threshold':>9} {'in a row':>8} {'recall':>7} {'false/h':>8} {'delay s':>8}")
    for s in result.decisions:
        mark = "  <- chosen" if s == result.chosen else ""
        print(f"{s.threshold:9g} {s.confirm:8d} {s.recall:7.2f} {s.false_per_hour:8.2f} "
              f"{s.median_delay_s:8.1f}{mark}")
    chosen = result.chosen
    print(f"chosen out of fold: threshold {chosen.threshold:g}, {chosen.confirm} in a row: "
          f"{chosen.recall:.2f} of {chosen.falls} fall episodes, "
          f"{chosen.false_per_hour:.2f} false alerts per hour")
    print(f"fall stage: {paths['model']}")
    print(f"decisions:  {paths['png']}")
    return 0
