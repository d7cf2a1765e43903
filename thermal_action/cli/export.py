"""``thermal-action export``: a thin parser over ``thermal_action.engine.export``."""

from __future__ import annotations

import argparse
from pathlib import Path

from thermal_action.cli.common import add_overwrite, check_outputs


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="export a trained model (action classifier or person detector) to ONNX "
                   "for onnxruntime, and check that both give the same outputs")
    parser.add_argument("config", help="config file, or a shipped config name")
    parser.add_argument("checkpoint", help="checkpoint file (.pth) trained with this config")
    parser.add_argument("--out", required=True, metavar="ONNX",
                        help="the .onnx file to write")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine.export import OPSET, PARITY_TOLERANCE, export_onnx, onnx_parity
    from thermal_action.errors import ConfigError

    if Path(args.out).suffix.lower() != ".onnx":
        raise ConfigError(f"--out {args.out}: expected a .onnx file")
    check_outputs([("--out", args.out)], args.overwrite)
    out = export_onnx(args.config, args.checkpoint, args.out)
    difference = onnx_parity(args.config, args.checkpoint, out)
    print(f"exported {out} (opset {OPSET}, dynamic batch axis, "
          f"{out.stat().st_size / 1e6:.2f} MB)")
    print(f"onnxruntime vs PyTorch on a random batch: max abs difference {difference:.1e}")
    if not difference <= PARITY_TOLERANCE:
        raise ConfigError(f"{out}: onnxruntime differs from PyTorch by {difference:.1e} "
                          f"(more than {PARITY_TOLERANCE:.0e}); do not deploy it")
    return 0
