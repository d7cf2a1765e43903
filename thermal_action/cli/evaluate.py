"""``thermal-action evaluate``: a thin parser over ``thermal_action.engine.evaluate``."""

from __future__ import annotations

import argparse
import os
import platform
from datetime import datetime
from pathlib import Path

from thermal_action.cli.common import (
    ConsoleProgress,
    add_cfg_options,
    add_launcher,
    add_verbose,
    dataset_folder,
    draws_progress,
    non_negative_int,
    positive_int,
)
from thermal_action.data.tools.folds import PROTOCOLS


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="train and test a config on every fold of a protocol (whole sessions or "
                   "recordings held out), with seeds; write a report")
    parser.add_argument("config", help="config file, or a shipped config name")
    parser.add_argument("--data-root", required=True, help="dataset folder (frames/, "
                                                           "annotations/)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="leave-one-session-out",
                        help="how folds hold data out (default leave-one-session-out; "
                             "'given' scores the dataset's own split, as a reference)")
    parser.add_argument("--seeds", type=positive_int, default=1,
                        help="training seeds per fold (0..N-1; default 1)")
    parser.add_argument("--epochs", type=non_negative_int,
                        help="epochs per run (default: the config's); 0 tests --pretrained "
                             "as it is on every fold (zero-shot)")
    parser.add_argument("--pretrained", metavar="CKPT",
                        help="checkpoint each run starts from (head re-initialized)")
    parser.add_argument("--keep-head", action="store_true",
                        help="with --pretrained: keep its classification head when it fits "
                             "(the same 14 classes, e.g. a model trained on simulated data)")
    parser.add_argument("--out", required=True, help="output folder; an interrupted "
                                                     "evaluation resumes there")
    add_cfg_options(parser)
    add_launcher(parser)
    add_verbose(parser)


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine.distributed import is_main_process
    from thermal_action.engine.evaluate import EvaluateCallbacks, evaluate
    from thermal_action.evaluation.evaluation_report import format_stat, write_report

    root = dataset_folder(args.data_root)
    with ConsoleProgress(enabled=draws_progress(args)) as progress:
        runs = progress.counter("folds x seeds")

        def started(fold: str, seed: int, done: int, total: int) -> None:
            runs(done, total)
            progress.end_run()

        def finished(result, reused: bool) -> None:
            if not is_main_process():
                return
            scores = result.content["scores"]
            progress.progress.console.print(
                f"{result.fold} seed {result.seed}: mean-class "
                f"{scores['mean_class_present']:.3f}, top-1 {scores['top1']:.3f}"
                + ("  (reused)" if reused else ""))

        summary = evaluate(args.config, root, args.protocol, args.out, args.seeds,
                           args.epochs, args.pretrained, args.cfg_options,
                           EvaluateCallbacks(started, progress.run, finished), args.keep_head,
                           args.launcher)
        runs(len(summary["runs"]), len(summary["runs"]))
    if not is_main_process():
        return 0
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    title = (f"{Path(summary['config']).stem}: {args.protocol} on {root.name} "
             f"({stamp}, {platform.machine()}, {_cores()} CPU cores)")
    paths = write_report(summary, args.out, title)
    scores, fall = summary["scores"], summary["fall"]
    print(f"{args.protocol}: {len(summary['runs'])} runs "
          f"({len({r['fold'] for r in summary['runs']})} folds x {args.seeds} seeds)")
    for line in summary["pretrained_loads"]:
        print(line)
    if not summary["held_out"]:
        for line in summary["overlap_lines"]:
            print(f"warning: {line}")
    for key, label in (("mean_class_present", "mean-class (classes present)"),
                       ("mean_class_mmaction", "mean-class (MMAction2)"),
                       ("top1", "top-1"), ("macro_f1", "macro-F1")):
        print(f"{label:29s} {format_stat(scores[key])}")
    print(f"{'fall-related recall':29s} {format_stat(fall['recall'])}")
    print(f"{'fall-related precision':29s} {format_stat(fall['precision'])}")
    print(f"{'threshold for 95% recall':29s} {format_stat(fall['threshold'])}  (precision there "
          f"{format_stat(fall['precision_at_threshold'])})")
    print(f"wall time: {summary['wall_minutes']:.1f} min of training and testing")
    print(f"report: {paths['markdown']}, {paths['json']}, {paths['confusion_png']}")
    return 0


def _cores() -> int:
    return len(os.sched_getaffinity(0))
