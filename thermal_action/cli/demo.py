"""``thermal-action demo``: simulate, train, test and render, into one output folder."""

from __future__ import annotations

import argparse
import sys

from thermal_action.cli.common import ConsoleProgress, add_cfg_options, add_verbose, positive_int


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="train and test the person-centred thermal model on built-in simulated "
                   "data (or --data-root) and draw the results")
    parser.add_argument("--out", default="work_dirs/demo", help="output folder")
    parser.add_argument("--data-root", help="use this dataset instead of the simulated one")
    parser.add_argument("--epochs", type=positive_int,
                        help="override the number of training epochs")
    parser.add_argument("--recordings", type=positive_int,
                        help="simulated recordings (default: the built-in demo dataset's)")
    parser.add_argument("--frames", type=positive_int, help="frames per simulated recording")
    add_cfg_options(parser)
    add_verbose(parser)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from thermal_action.engine.demo import DEMO_SYNTH, DemoCallbacks, run_demo
    from thermal_action.errors import ConfigError

    synth = DEMO_SYNTH
    try:
        if args.recordings is not None:
            synth = replace(synth, num_recordings=args.recordings)
        if args.frames is not None:
            synth = replace(synth, frames_per_recording=args.frames)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    with ConsoleProgress(enabled=not args.verbose) as progress:
        def stage(text: str) -> None:
            progress.progress.console.print(f"demo: {text}", soft_wrap=True)

        callbacks = DemoCallbacks(stage, progress.counter, progress.run)
        result = run_demo(args.out, data_root=args.data_root, epochs=args.epochs, synth=synth,
                          cfg_options=args.cfg_options, callbacks=callbacks,
                          quiet=not args.verbose)
    sys.stdout.flush()
    metrics = result.metrics
    timing = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in
                       result.stage_seconds.items())
    print(f"data:             {result.data_root}"
          + (" (simulated by this run)" if result.generated else ""))
    unit = "people:" if result.sample_unit == "person" else "clips:"
    held_out = result.overlap is None or result.overlap["held_out"]
    if not held_out:
        print(f"warning:          {result.overlap['summary']}")
    label = f"{'held-out' if held_out else 'scored'} {unit}"
    print(f"{label:<18}top-1 {metrics['acc/top1']:.3f}  top-5 {metrics['acc/top5']:.3f}  "
          f"mean-class {metrics['acc/mean_class']:.3f}")
    print(f"checkpoint:       {result.checkpoint}")
    print(f"metrics:          {result.metrics_json}")
    print(f"confusion matrix: {result.confusion_png}")
    print(f"recording GIF:    {result.recording_gif}  ({result.gif_sensor})")
    print(f"time:             {timing}")
    return 0
