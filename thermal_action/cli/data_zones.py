"""``thermal-action data zones``: propose a sensor's zones (beds, couches, chairs, doors)
from a dataset folder and draw them on the recording's mean frame."""

from __future__ import annotations

import argparse
from pathlib import Path

from thermal_action.cli.common import add_frame_shape, add_overwrite, check_outputs, dataset_folder

SUFFIXES = (".yaml", ".yml", ".json")


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="propose a sensor's zones (beds, couches, chairs, doors) from its furniture "
                   "annotations and where people lay still; writes a zones file and a PNG")
    parser.add_argument("source", metavar="SOURCE",
                        help="dataset folder (frames/, raw_annotations/, optionally "
                             "person_tracks/)")
    parser.add_argument("--sensor", required=True, metavar="SENSOR_ID",
                        help="the recording frames/SENSOR_ID.h5 to propose zones for")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="zones file to write (.yaml, .yml or .json); the picture goes "
                             "beside it with the suffix .png")
    parser.add_argument("--min-still-s", type=float, default=60.0,
                        help="a person lying still this long marks a bed (default 60)")
    add_overwrite(parser)
    add_frame_shape(parser)


def _outputs(out: Path, overwrite: bool) -> tuple[Path, Path]:
    """(zones file, PNG) after checking they may be written, before any work."""
    from thermal_action.errors import ConfigError

    if out.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"--out {out}: expected a {', '.join(SUFFIXES)} file")
    png = out.with_suffix(".png")
    check_outputs([("--out", out), ("--out (its picture)", png)], overwrite)
    return out, png


def run(args: argparse.Namespace) -> int:
    from thermal_action.data.annotations import check_sensor_id
    from thermal_action.data.zones import dataset_zones, mean_frame_c, plot_zones, write_zones
    from thermal_action.errors import ConfigError

    if not args.min_still_s > 0:
        raise ConfigError(f"--min-still-s {args.min_still_s}: must be positive")
    root = dataset_folder(args.source)
    sensor = check_sensor_id(args.sensor, root)
    out, png = _outputs(Path(args.out), args.overwrite)
    frame_c = mean_frame_c(root / "frames" / f"{sensor}.h5", args.frame_shape)
    zones = dataset_zones(root, sensor, args.frame_shape, min_still_s=args.min_still_s)
    header = (f"Zones of sensor {sensor}, proposed by 'thermal-action data zones' from "
              f"{root}.\nCheck them on {png.name}; pixels, x right, y down (docs/zones.md).")
    write_zones(zones, out, header=header)
    plot_zones(zones, frame_c, png, title=f"{sensor}: {len(zones)} zone(s)")
    if not len(zones):
        print(f"no zones found for {sensor} (no furniture annotations, nobody lying still "
              f"for {args.min_still_s:g} s)")
    for zone in zones:
        print(f"{zone.name:<10} {zone.kind:<6} {zone.source or ''}")
    print(f"wrote {out}")
    print(f"wrote {png}")
    return 0
