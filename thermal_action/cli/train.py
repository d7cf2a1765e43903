"""``thermal-action train``: a thin parser over ``thermal_action.engine.train``."""

from __future__ import annotations

import argparse

from mmengine.config import DictAction


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="train a config with MMEngine's Runner")
    parser.add_argument("config", help="config file, or a shipped config name (see 'configs')")
    parser.add_argument("--data-root", help="dataset folder (frames/, annotations/)")
    parser.add_argument("--work-dir", help="output folder (default work_dirs/<config name>)")
    parser.add_argument("--epochs", type=int, help="number of epochs (LR milestones scale)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the work dir's last checkpoint"
    )
    parser.add_argument(
        "--pretrained",
        metavar="CKPT",
        help="local MMAction2 checkpoint to start from (head re-initialized)",
    )
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        metavar="KEY=VALUE",
        help="override config entries, e.g. train_dataloader.batch_size=4",
    )


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine import train

    result = train(
        args.config,
        data_root=args.data_root,
        work_dir=args.work_dir,
        epochs=args.epochs,
        resume=args.resume,
        pretrained=args.pretrained,
        cfg_options=args.cfg_options,
    )
    print(f"work dir:        {result.work_dir}")
    print(f"last checkpoint: {result.last_checkpoint}")
    print(f"best checkpoint: {result.best_checkpoint}")
    for key, value in sorted(result.val_metrics.items()):
        print(f"val {key}: {value:.4f}")
    return 0
