"""``thermal-action train``: a thin parser over ``thermal_action.engine.train``."""

from __future__ import annotations

import argparse

from thermal_action.cli.common import (
    ConsoleProgress,
    add_cfg_options,
    add_data_root,
    add_launcher,
    add_verbose,
    draws_progress,
    positive_int,
)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="train a config with MMEngine's Runner")
    parser.add_argument("config", help="config file, or a shipped config name (see 'configs')")
    add_data_root(parser)
    parser.add_argument("--work-dir", help="output folder (default work_dirs/<config name>)")
    parser.add_argument("--epochs", type=positive_int,
                        help="number of epochs (LR milestones scale)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the work dir's last checkpoint"
    )
    parser.add_argument(
        "--pretrained",
        metavar="CKPT",
        help="local MMAction2 checkpoint to start from (head re-initialized)",
    )
    parser.add_argument("--keep-head", action="store_true",
                        help="with --pretrained: keep its classification head when it fits "
                             "(a checkpoint of the same 14 classes, e.g. trained on "
                             "simulated data)")
    add_cfg_options(parser)
    add_launcher(parser)
    add_verbose(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine import train
    from thermal_action.engine.distributed import is_main_process

    with ConsoleProgress(enabled=not args.verbose and draws_progress(args)) as progress:
        result = train(
            args.config,
            data_root=args.data_root,
            work_dir=args.work_dir,
            epochs=args.epochs,
            resume=args.resume,
            pretrained=args.pretrained,
            cfg_options=args.cfg_options,
            quiet=not args.verbose,
            on_progress=progress.run,
            keep_head=args.keep_head,
            launcher=args.launcher,
        )
    if not is_main_process():
        return 0
    if args.resume:
        print(f"resumed from:    {result.resumed_from or 'nothing (no checkpoint yet)'}")
    if result.pretrained is not None:
        print(result.pretrained.summary())
    print(f"work dir:        {result.work_dir}  (full log in its timestamped folder)")
    print(f"last checkpoint: {result.last_checkpoint}")
    print(f"best checkpoint: {result.best_checkpoint}")
    for key, value in sorted(result.val_metrics.items()):
        print(f"val {key}: {value:.4f}")
    return 0
