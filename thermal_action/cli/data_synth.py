"""``thermal-action data synth``: simulate a dataset, optionally compare it with real data."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from thermal_action.cli.common import ConsoleProgress, positive_int, write_json
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.errors import ConfigError


def parse_class_mix(entries: list[str] | None) -> tuple[float, ...]:
    """``ID_OR_NAME=WEIGHT`` entries over a default weight of 1 for every class."""
    weights = [1.0] * len(CLASS_NAMES)
    for entry in entries or []:
        key, sep, value = entry.rpartition("=")
        if not sep:
            raise ConfigError(f"--class-mix entry {entry!r} is not ID_OR_NAME=WEIGHT")
        if key.isdigit() and int(key) < len(CLASS_NAMES):
            index = int(key)
        elif key in CLASS_NAMES:
            index = CLASS_NAMES.index(key)
        else:
            raise ConfigError(f"--class-mix: unknown class {key!r} (ids 0..13 or class names)")
        try:
            weights[index] = float(value)
        except ValueError:
            raise ConfigError(f"--class-mix: weight {value!r} is not a number") from None
    return tuple(weights)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="simulate ceiling thermal recordings in the real dataset layout")
    parser.add_argument("--out", required=True,
                        help="dataset folder to write (missing or empty unless --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier simulated dataset in --out (nothing else)")
    parser.add_argument("--recordings", type=positive_int, default=8,
                        help="number of recordings")
    parser.add_argument("--frames", type=positive_int, default=400,
                        help="frames per recording")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.25,
                        help="share of whole recordings held out in val.json")
    parser.add_argument("--class-mix", nargs="+", metavar="ID_OR_NAME=WEIGHT",
                        help="relative frequency of story classes (default 1 each)")
    parser.add_argument("--compare", metavar="REAL_ROOT",
                        help="also write a realism report against this real dataset")


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.synthetic import SynthConfig, generate_dataset

    try:
        config = replace(SynthConfig(), num_recordings=args.recordings,
                         frames_per_recording=args.frames, seed=args.seed,
                         val_fraction=args.val_fraction,
                         class_weights=parse_class_mix(args.class_mix))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    with ConsoleProgress() as progress:
        summary = generate_dataset(args.out, config, progress=progress.counter("simulate"),
                                   overwrite=args.overwrite)
    print(f"wrote {summary.root}: train {summary.num_keyframes['train']} keyframes / "
          f"{summary.num_boxes['train']} boxes ({len(summary.train_recordings)} recordings), "
          f"val {summary.num_keyframes['val']} / {summary.num_boxes['val']} "
          f"({len(summary.val_recordings)} recordings)")
    if args.compare:
        from thermal_action.data.tools.realism import (
            compare_statistics,
            comparison_summary,
            dataset_statistics,
            format_comparison_report,
            render_comparison_sheet,
            render_person_crops,
        )

        report_dir = Path(args.out) / "realism"
        report_dir.mkdir(parents=True, exist_ok=True)
        real, synthetic = dataset_statistics(args.compare), dataset_statistics(args.out)
        rows = compare_statistics(real, synthetic)
        table = report_dir / "statistics.md"
        table.write_text(format_comparison_report(rows, args.compare, args.out))
        write_json(report_dir / "statistics.json", dict(real=real, synthetic=synthetic))
        render_comparison_sheet(args.compare, args.out, report_dir / "frames.png")
        render_person_crops(args.compare, args.out, report_dir / "person_crops.png")
        print("realism: " + "\n".join(comparison_summary(rows)))
        print(f"realism report: {table} (all {len(rows)} rows; beside it statistics.json, "
              "frames.png, person_crops.png)")
    return 0
