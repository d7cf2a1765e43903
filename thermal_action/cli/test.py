"""``thermal-action test``: a thin parser over ``thermal_action.engine.test``."""

from __future__ import annotations

import argparse

from thermal_action.cli.common import (
    ConsoleProgress,
    add_cfg_options,
    add_data_root,
    add_launcher,
    add_overwrite,
    add_verbose,
    check_outputs,
    draws_progress,
)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="evaluate a checkpoint on the dataset's test.json (val.json when there "
                   "is none)")
    parser.add_argument("config", help="config file, or a shipped config name")
    parser.add_argument("checkpoint", help="checkpoint file (.pth) trained with this config")
    add_data_root(parser)
    parser.add_argument("--split", choices=("test", "val", "train"),
                        help="annotation file to score (default: test.json when the dataset "
                             "has one, else val.json)")
    parser.add_argument("--work-dir",
                        help="folder for the test logs (default: the checkpoint's folder)")
    parser.add_argument(
        "--out",
        metavar="JSON",
        help="write metrics, per-class recall and confusion matrix to this JSON file",
    )
    add_overwrite(parser)
    add_cfg_options(parser)
    add_launcher(parser)
    add_verbose(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine import test
    from thermal_action.engine.distributed import is_main_process

    if draws_progress(args):  # rank 0 writes
        check_outputs([("--out", args.out)], args.overwrite)
    with ConsoleProgress(enabled=not args.verbose and draws_progress(args)) as progress:
        report = test(
            args.config,
            args.checkpoint,
            data_root=args.data_root,
            work_dir=args.work_dir,
            out=args.out,
            cfg_options=args.cfg_options,
            split=args.split,
            quiet=not args.verbose,
            on_progress=progress.run,
            launcher=args.launcher,
        )
    if not is_main_process():
        return 0
    unit = {"person": "people", "keyframe": "clips", "frame": "frames"}[report["sample_unit"]]
    count = report.get("num_clips", report.get("num_frames", "?"))
    print(f"{unit}: {count}  ({report['ann_file']}; {report['split_reason']})")
    if report.get("overlap"):
        print(f"{'' if report['overlap']['held_out'] else 'warning: '}"
              f"{report['overlap']['summary']}")
    for key, value in report["metrics"].items():
        print(f"{key}: {value:.4f}")
    if args.out:
        print(f"metrics written to {args.out}")
    return 0
