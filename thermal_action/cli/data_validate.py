"""``thermal-action data validate``: check a dataset folder and report what is wrong."""

from __future__ import annotations

import argparse

from thermal_action.cli.common import (
    add_overwrite,
    check_outputs,
    dataset_folder,
    positive_int,
    write_json,
)
from thermal_action.data.sensor import WINDOW_FRAMES


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="check recordings, annotations and split leakage of a dataset folder")
    parser.add_argument("root", metavar="ROOT", help="dataset folder (frames/, annotations/)")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON here")
    parser.add_argument("--window", type=positive_int, default=WINDOW_FRAMES,
                        help="sample length in frames around each keyframe (default "
                             f"{WINDOW_FRAMES})")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.tools.validate import (
        format_report,
        report_to_json,
        validate_dataset,
    )

    check_outputs([("--json", args.json)], args.overwrite)
    report = validate_dataset(dataset_folder(args.root), window=args.window)
    print(format_report(report))
    if args.json:
        print(f"json report: {write_json(args.json, report_to_json(report))}")
    return 0 if report.ok else 1
