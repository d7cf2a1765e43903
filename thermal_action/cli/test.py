"""``thermal-action test``: a thin parser over ``thermal_action.engine.test``."""

from __future__ import annotations

import argparse

from mmengine.config import DictAction


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="evaluate a checkpoint on the dataset's test.json (val.json when there "
                   "is none)")
    parser.add_argument("config", help="config file, or a shipped config name")
    parser.add_argument("checkpoint", help="checkpoint file (.pth) trained with this config")
    parser.add_argument("--data-root", help="dataset folder (frames/, annotations/)")
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
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        metavar="KEY=VALUE",
        help="override config entries",
    )


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine import test

    report = test(
        args.config,
        args.checkpoint,
        data_root=args.data_root,
        work_dir=args.work_dir,
        out=args.out,
        cfg_options=args.cfg_options,
        split=args.split,
    )
    unit = "people" if report["sample_unit"] == "person" else "clips"
    print(f"{unit}: {report.get('num_clips', '?')}  ({report['ann_file']}; "
          f"{report['split_reason']})")
    for key, value in report["metrics"].items():
        print(f"{key}: {value:.4f}")
    if args.out:
        print(f"metrics written to {args.out}")
    return 0
