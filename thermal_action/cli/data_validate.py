"""``thermal-action data validate``: check a dataset folder and report what is wrong."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from thermal_action.data.sensor import WINDOW_FRAMES
from thermal_action.errors import DataError


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="check recordings, annotations and split leakage of a dataset folder")
    parser.add_argument("root", metavar="ROOT", help="dataset folder (frames/, annotations/)")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON here")
    parser.add_argument("--window", type=int, default=WINDOW_FRAMES,
                        help="sample length in frames around each keyframe (default "
                             f"{WINDOW_FRAMES})")


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.tools.validate import (
        format_report,
        report_to_json,
        validate_dataset,
    )

    root = Path(args.root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    if args.window < 1:
        raise DataError(root, f"--window must be a positive number of frames, got {args.window}")
    report = validate_dataset(root, window=args.window)
    print(format_report(report))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report_to_json(report), indent=2) + "\n")
        print(f"json report: {out}")
    return 0 if report.ok else 1
