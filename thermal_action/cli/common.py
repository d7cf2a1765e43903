"""What the subcommands share: common arguments, JSON output, and progress on stderr.

Progress is drawn with ``rich`` (already installed with MMEngine) on standard error, so
standard output carries only results and can be piped.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.errors import ConfigError, DataError

if TYPE_CHECKING:
    from thermal_action.engine.hooks import RunProgress


def add_data_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", help="dataset folder (frames/, annotations/)")


class _ConfigOptions(argparse.Action):
    """MMEngine's ``DictAction`` (KEY=VALUE overrides), imported only when the option is
    given: ``mmengine.config`` takes half a second to import, and ``--help`` none."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from mmengine.config import DictAction

        DictAction(self.option_strings, self.dest)(parser, namespace, values, option_string)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cfg-options", nargs="+", action=_ConfigOptions, metavar="KEY=VALUE",
                        help="override config entries, e.g. train_dataloader.batch_size=4")


def add_launcher(parser: argparse.ArgumentParser) -> None:
    from thermal_action.engine.distributed import LAUNCHERS

    parser.add_argument(
        "--launcher", choices=LAUNCHERS, default="none",
        help="'pytorch': one of the processes started by torchrun --nproc_per_node N "
             "(gloo on CPUs, nccl on GPUs); rank 0 writes and prints")


def draws_progress(args: argparse.Namespace) -> bool:
    """Whether this process draws progress bars: alone, or rank 0 under a launcher (the
    other ranks work silently)."""
    from thermal_action.engine.distributed import launched_rank

    return args.launcher == "none" or launched_rank() == 0


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help="print MMEngine's full log on the console (it always goes to "
                             "the log file in the work dir)")


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer of at least 0."""
    return _whole_number(text, 0)


def frame_shape(text: str) -> tuple[int, int]:
    """argparse type: a sensor geometry ROWSxCOLUMNS such as 40x60."""
    rows, sep, columns = text.lower().partition("x")
    if not (sep and rows.isdigit() and columns.isdigit()):
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLUMNS such as 40x60, got {text!r}")
    return int(rows), int(columns)


def add_frame_shape(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frame-shape", type=frame_shape, default=SENSOR_SHAPE,
                        metavar="ROWSxCOLUMNS",
                        help="sensor geometry (default {}x{})".format(*SENSOR_SHAPE))


def add_recording(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", metavar="RECORDING",
                        help="one recording: .h5/.hdf5, .npz, .npy or .csv (as data build)")


def add_person_detector(parser: argparse.ArgumentParser) -> None:
    """``--detector CONFIG CHECKPOINT`` or ``--blob`` (the default), one of them."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--detector", nargs=2, metavar=("CONFIG", "CHECKPOINT"),
                       help="a trained person detector: a config such as person-frames and "
                            "its checkpoint (.pth) or ONNX export (.onnx)")
    which.add_argument("--blob", action="store_true",
                       help="the warm-blob person detector, no training (the default)")


def dataset_folder(root: str | os.PathLike) -> Path:
    """A dataset folder given on the command line; ``DataError`` when it is not one."""
    path = Path(root)
    if not path.is_dir():
        raise DataError(path, "dataset folder not found")
    return path


def write_json(path: str | os.PathLike, content: Any) -> Path:
    """Write ``content`` as indented JSON (parent folders created)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


class ConsoleProgress:
    """Progress bars on standard error: ``counter`` for counted work (recordings, windows),
    ``run`` for a training or test run (epoch, iteration, loss, time left)."""

    def __init__(self, enabled: bool = True) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=Console(stderr=True), disable=not enabled)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ConsoleProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def _task(self, key: str, description: str, total: int, info: str = "") -> TaskID:
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = self.progress.add_task(description, total=total, info=info)
        return task

    def counter(self, description: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback that drives one bar."""

        def update(done: int, total: int) -> None:
            self.progress.update(self._task(description, description, total), completed=done,
                                 total=total)

        return update

    def end_run(self) -> None:
        """Remove the bars of the last training or test run (the next run draws its own)."""
        for key in [key for key in self._tasks if key == "train" or key.startswith(("val ",
                                                                                  "test "))]:
            self.progress.remove_task(self._tasks.pop(key))

    def run(self, event: RunProgress) -> None:
        """Show a ``RunProgress``: one bar over all training iterations (epoch, loss, time
        left for the whole run), one for each evaluation."""
        if event.phase == "train":
            total = event.steps * max(event.max_epochs, 1)
            task = self._task("train", "train", total)
            info = "" if event.loss is None else f"loss {event.loss:.3f}"
            self.progress.update(task, completed=(event.epoch - 1) * event.steps + event.step,
                                 total=total, info=info,
                                 description=f"train epoch {event.epoch}/{event.max_epochs}")
            return
        key = f"{event.phase} {event.epoch}"
        description = "test" if event.phase == "test" else f"val after epoch {event.epoch}"
        task = self._task(key, description, event.steps)
        self.progress.update(task, completed=event.step, total=event.steps)
