"""``thermal-action data build``: raw annotation JSONL + recordings -> a dataset folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from thermal_action.cli.common import (
    ConsoleProgress,
    add_frame_shape,
    positive_int,
    write_json,
)
from thermal_action.data.sensor import WINDOW_FRAMES
from thermal_action.data.tools.splits import SPLIT_STRATEGIES
from thermal_action.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="build a dataset folder from raw annotation JSONL files and recordings")
    parser.add_argument("--annotations", required=True, nargs="+", metavar="PATH",
                        help="raw annotation .jsonl files or folders of them")
    parser.add_argument("--recordings", required=True, metavar="DIR",
                        help="one file per sensor: <sensor_id>.h5/.hdf5/.npz/.npy/.csv")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="dataset folder to write (missing or empty unless --overwrite)")
    parser.add_argument("--split", choices=SPLIT_STRATEGIES, default="recording",
                        help="random: keyframes of each recording, as the seed (windows "
                             "overlap); recording / session: whole recordings / sessions "
                             "held out (default recording)")
    parser.add_argument("--val-fraction", type=float, default=0.2,
                        help="share of keyframes (random) or of recordings / sessions for val "
                             "(default 0.2)")
    parser.add_argument("--test-fraction", type=float, default=0.0,
                        help="likewise for a test split (default 0: no test.json)")
    parser.add_argument("--holdout", nargs="+", metavar="GLOB", default=[],
                        help="recordings (recording split) or sessions (session split) for "
                             "val, e.g. 'SL18*'; replaces --val-fraction")
    parser.add_argument("--test-holdout", nargs="+", metavar="GLOB", default=[],
                        help="likewise for test.json; replaces --test-fraction")
    parser.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    parser.add_argument("--tolerance-ms", type=int, default=50,
                        help="largest gap between an annotated time and its recording frame "
                             "(default 50)")
    parser.add_argument("--window", type=positive_int, default=WINDOW_FRAMES,
                        help="sample length in frames around each keyframe (default "
                             f"{WINDOW_FRAMES})")
    parser.add_argument("--window-policy", choices=("skip", "pad"), default="skip",
                        help="a window that runs past an end of its recording: skip the "
                             "keyframe (default, as the seed) or keep it (the loader pads)")
    parser.add_argument("--allow-overlap", action="store_true",
                        help="write a split whose windows overlap across splits")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty output folder")
    add_frame_shape(parser)
    parser.add_argument("--report", metavar="PATH",
                        help="JSON report (default OUT/build_report.json)")


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.tools.build import (
        BuildOptions,
        build_dataset,
        format_summary,
        report_to_json,
    )

    try:
        options = BuildOptions(
            split=args.split, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
            seed=args.seed, holdout=tuple(args.holdout), test_holdout=tuple(args.test_holdout),
            tolerance_ms=args.tolerance_ms, window=args.window,
            window_policy=args.window_policy, allow_overlap=args.allow_overlap,
            overwrite=args.overwrite, frame_shape=args.frame_shape)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    with ConsoleProgress() as progress:
        report = build_dataset(args.annotations, args.recordings, args.out, options,
                               progress.counter("recordings"))
    print(format_summary(report))
    out = write_json(args.report or Path(args.out) / "build_report.json", report_to_json(report))
    print(f"report: {out}")
    return 0
