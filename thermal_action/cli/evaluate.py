"""``thermal-action evaluate``: a thin parser over ``thermal_action.engine.evaluate``."""

from __future__ import annotations

import argparse
import os
import platform
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from thermal_action.engine.nested import Selection


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="train and test a config on every fold of a protocol (whole sessions or "
                   "recordings held out), with seeds; write a report")
    parser.add_argument("config", nargs="?",
                        help="config file, or a shipped config name (not with --nested)")
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
    select = parser.add_argument_group(
        "nested selection", "choose between candidates inside each fold's training "
        "recordings (leave-one-recording-out), then score the chosen one on the fold")
    select.add_argument("--nested", metavar="SELECTION_FILE",
                        help="YAML or JSON file of the candidates (name, config, epochs, "
                             "cfg_options, pretrained, keep_head), criterion and inner_seeds")
    select.add_argument("--epochs-grid", type=non_negative_int, nargs="+", metavar="N",
                        help="with a config: one candidate per epoch count (named <N>e)")
    select.add_argument("--criterion", help="with --epochs-grid: what the choice maximizes "
                                            "(default mean_class_present; any score key, or "
                                            "fall_<key>)")
    select.add_argument("--inner-seeds", type=positive_int,
                        help="with --epochs-grid: seeds per inner run (default 1)")
    parser.add_argument("--out", required=True, help="output folder; an interrupted "
                                                     "evaluation resumes there")
    add_cfg_options(parser)
    add_launcher(parser)
    add_verbose(parser)


def _selection(args: argparse.Namespace) -> Selection | None:
    """The candidates of ``--nested FILE`` or ``--epochs-grid``, or None for one config."""
    from thermal_action.engine.nested import epochs_grid, load_selection
    from thermal_action.errors import ConfigError

    given = {"--criterion": args.criterion, "--inner-seeds": args.inner_seeds,
             "--epochs": args.epochs}
    if args.nested is None and args.epochs_grid is None:
        if args.config is None:
            raise ConfigError("give a config, or --nested SELECTION_FILE")
        for flag in ("--criterion", "--inner-seeds"):
            if given[flag] is not None:
                raise ConfigError(f"{flag} needs --nested or --epochs-grid")
        return None
    if args.nested is not None:
        extra = {"config": args.config, "--epochs-grid": args.epochs_grid,
                 "--pretrained": args.pretrained, "--keep-head": args.keep_head or None, **given}
        named = [flag for flag, value in extra.items() if value is not None]
        if named:
            raise ConfigError(f"--nested {args.nested}: the selection file sets the candidates"
                              f" and the choice; leave out {', '.join(named)}")
        return load_selection(args.nested).with_cfg_options(args.cfg_options)
    if args.config is None:
        raise ConfigError("--epochs-grid needs a config")
    if args.epochs is not None:
        raise ConfigError("--epochs-grid sets the epochs; leave out --epochs")
    return epochs_grid(args.config, args.epochs_grid, args.criterion or "mean_class_present",
                       args.inner_seeds or 1, args.pretrained, args.keep_head, args.cfg_options)


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine.distributed import is_main_process
    from thermal_action.engine.evaluate import EvaluateCallbacks, evaluate
    from thermal_action.engine.nested import evaluate_nested
    from thermal_action.evaluation.evaluation_report import format_stat, write_report

    root = dataset_folder(args.data_root)
    selection = _selection(args)
    with ConsoleProgress(enabled=draws_progress(args)) as progress:
        runs = progress.counter("runs")

        def started(fold: str, seed: int, done: int, total: int) -> None:
            runs(done, total)
            progress.end_run()

        def finished(result, reused: bool) -> None:
            if not is_main_process():
                return
            scores = result.content["scores"]
            if result.outer:
                name = f"{result.outer} selection: {result.candidate} on {result.fold}"
            else:
                name = result.fold + (f" ({result.candidate})" if selection else "")
            progress.progress.console.print(
                f"{name} seed {result.seed}: mean-class {scores['mean_class_present']:.3f}, top-1 "
                f"{scores['top1']:.3f}" + ("  (reused)" if reused else ""))

        callbacks = EvaluateCallbacks(started, progress.run, finished)
        if selection is None:
            summary = evaluate(args.config, root, args.protocol, args.out, args.seeds,
                               args.epochs, args.pretrained, args.cfg_options, callbacks,
                               args.keep_head, args.launcher)
        else:
            summary = evaluate_nested(selection, root, args.protocol, args.out, args.seeds,
                                      callbacks, args.launcher)
        runs(len(summary["runs"]), len(summary["runs"]))
    if not is_main_process():
        return 0
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    what = "nested selection" if selection else Path(summary["config"]).stem
    title = (f"{what}: {args.protocol} on {root.name} "
             f"({stamp}, {platform.machine()}, {_cores()} CPU cores)")
    paths = write_report(summary, args.out, title)
    if selection:
        _print_selection(summary["selection"])
    scores, fall = summary["scores"], summary["fall"]
    print(f"{args.protocol}: {len(summary['runs'])} runs "
          f"({len({r['fold'] for r in summary['runs']})} folds x {summary['seeds']} seeds)"
          + (" of the chosen candidates" if selection else ""))
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
    if selection:
        print(summary["selection"]["how"])
    print(f"wall time: {summary['wall_minutes']:.1f} min of training and testing"
          + (f" (+ {summary['selection']['wall_minutes']:.1f} min choosing)" if selection
             else ""))
    print(f"report: {paths['markdown']}, {paths['json']}, {paths['confusion_png']}")
    return 0


def _print_selection(selection: dict) -> None:
    """Per outer fold: the criterion of each candidate on each inner fold, the choice and
    its held-out scores."""
    from thermal_action.evaluation.evaluation_report import format_stat

    width = max(len(name) for fold in selection["folds"] for name in fold["table"]) + 2
    for fold in selection["folds"]:
        inner = fold["inner_folds"]
        print(f"{fold['fold']}: {selection['criterion']} on the inner folds")
        print(f"  {'candidate':{width}s}" + "".join(f"{name:>9s}" for name in inner)
              + f"{'mean':>9s}")
        for name, row in fold["table"].items():
            cells = "".join("        -" if row.get(i) is None else f"{row[i]:9.3f}"
                            for i in inner)
            mean = fold["means"][name]
            print(f"  {name + (' *' if name == fold['chosen'] else ''):{width}s}{cells}"
                  + ("        -" if mean is None else f"{mean:9.3f}"))
        print(f"  chosen: {fold['chosen']}; held-out {fold['fold']}: mean-class "
              f"{format_stat(fold['scores']['mean_class_present'])}, top-1 "
              f"{format_stat(fold['scores']['top1'])}")


def _cores() -> int:
    return len(os.sched_getaffinity(0))
