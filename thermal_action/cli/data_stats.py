"""``thermal-action data stats``: class distribution, recording summary and figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from thermal_action.cli.common import (
    add_overwrite,
    check_outputs,
    dataset_folder,
    positive_int,
    write_json,
)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="class distribution per split, recording summary, figures")
    parser.add_argument("root", metavar="ROOT", help="dataset folder (frames/, annotations/)")
    parser.add_argument("--out", metavar="DIR",
                        help="output folder (default work_dirs/stats/<root name>)")
    parser.add_argument("--count", type=positive_int, default=12,
                        help="keyframes on the sample sheet (default 12)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed that picks the sample keyframes (default 0)")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.tools.stats import (
        class_distribution,
        format_stats,
        plot_class_distribution,
        recording_summary,
        render_keyframe_sheet,
    )

    root = dataset_folder(args.root)
    out = Path(args.out) if args.out else Path("work_dirs") / "stats" / root.resolve().name
    names = ("class_distribution.png", "keyframes.png", "stats.json")
    check_outputs([(f"--out {out}:", out / name) for name in names], args.overwrite)
    distribution = class_distribution(root)
    recordings = recording_summary(root)
    print(format_stats(distribution, recordings))
    written = [
        plot_class_distribution(distribution, out / "class_distribution.png"),
        render_keyframe_sheet(root, out / "keyframes.png", count=args.count, seed=args.seed),
        write_json(out / "stats.json", dict(root=str(root.resolve()),
                                            class_distribution=distribution,
                                            recordings=recordings)),
    ]
    print()
    for path in written:
        print(f"wrote {path}")
    return 0
