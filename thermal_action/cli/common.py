"""What the subcommands share: common arguments, JSON output, and progress on stderr.

Progress goes to standard error (``rich`` bars on a terminal, plain lines off one), so
standard output carries only results and can be piped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

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


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that already exist (refused otherwise)")


def check_outputs(outputs: Iterable[tuple[str, str | os.PathLike | None]],
                  overwrite: bool = False) -> None:
    """Before any work, for each ``(option, path)`` output file: refuse a path that exists
    unless ``overwrite`` (every command's one rule: never replace a file silently), and
    one that cannot be written (its folder is made here). ``ConfigError`` names both."""
    for option, path in outputs:
        if path is None:
            continue
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"{option} {path}: is a folder, expected a file")
        if path.exists() and not overwrite:
            raise ConfigError(f"{option} {path}: exists; give --overwrite to replace it")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None
        if not os.access(path.parent, os.W_OK) or (path.exists()
                                                   and not os.access(path, os.W_OK)):
            raise ConfigError(f"{option} {path}: cannot write (permission denied)")


class ConsoleProgress:
    """Progress on standard error: ``counter`` for counted work (recordings, windows),
    ``run`` for a training or test run (epoch, iteration, loss, time left).

    On a terminal these are ``rich`` bars. Off one (nohup, CI, ``tee``) bars would show
    only at the end, so plain lines are printed instead: one per training epoch, and for
    other work one every ``interval_s`` (30 s) of wall time and when it completes after
    such a line."""

    def __init__(self, enabled: bool = True, plain: bool | None = None,
                 interval_s: float = 30.0, stream: TextIO | None = None) -> None:
        self.console = Console(stderr=stream is None, file=stream)
        self.plain = enabled and (not self.console.is_terminal if plain is None else plain)
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=self.console,
            disable=not enabled or self.plain)
        self.interval_s = interval_s
        self._stream = stream
        self._tasks: dict[str, TaskID] = {}
        self._started: dict[str, float] = {}
        self._printed: dict[str, float] = {}

    def __enter__(self) -> ConsoleProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def _task(self, key: str, description: str, total: int, info: str = "") -> TaskID:
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = self.progress.add_task(description, total=total, info=info)
            self._started[key] = time.monotonic()
        return task

    def _line(self, key: str, text: str, done: int, total: int, force: bool = False) -> None:
        """One plain progress line for ``key``, at most every ``interval_s`` unless
        ``force``; the last one (done == total) only if an earlier one was printed."""
        now = time.monotonic()
        last = self._printed.get(key, self._started.get(key, now))
        finished = done >= total
        if not (force or now - last >= self.interval_s
                or (finished and key in self._printed)):
            return
        self._printed[key] = now
        elapsed = now - self._started.get(key, now)
        eta = elapsed * (total - done) / done if 0 < done < total else 0.0
        print(f"{text}  {done}/{total}  {_clock(elapsed)} elapsed, eta {_clock(eta)}",
              file=self._stream or sys.stderr, flush=True)
        if finished:
            self._printed.pop(key, None)

    def counter(self, description: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback that drives one bar."""

        def update(done: int, total: int) -> None:
            self.progress.update(self._task(description, description, total), completed=done,
                                 total=total)
            if self.plain:
                self._line(description, description, done, total)

        return update

    def end_run(self) -> None:
        """Remove the bars of the last training or test run (the next run draws its own)."""
        for key in [key for key in self._tasks if key == "train" or key.startswith(("val ",
                                                                                  "test "))]:
            self.progress.remove_task(self._tasks.pop(key))
            self._started.pop(key, None)
            self._printed.pop(key, None)

    def run(self, event: RunProgress) -> None:
        """Show a ``RunProgress``: one bar over all training iterations (epoch, loss, time
        left for the whole run), one for each evaluation. The loss shown is the one the
        log file shows for the same iteration (``RunProgress.loss``)."""
        if event.phase == "train":
            total = event.steps * max(event.max_epochs, 1)
            task = self._task("train", "train", total)
            info = "" if event.loss is None else f"loss {event.loss:.3f}"
            done = (event.epoch - 1) * event.steps + event.step
            description = f"train epoch {event.epoch}/{event.max_epochs}"
            self.progress.update(task, completed=done, total=total, info=info,
                                 description=description)
            if self.plain:
                self._line("train", f"{description}  {info}".rstrip(), done, total,
                           force=event.step == event.steps)
            return
        key = f"{event.phase} {event.epoch}"
        description = "test" if event.phase == "test" else f"val after epoch {event.epoch}"
        task = self._task(key, description, event.steps)
        self.progress.update(task, completed=event.step, total=event.steps)
        if self.plain:
            self._line(key, description, event.step, event.steps)


def _clock(seconds: float) -> str:
    """``h:mm:ss`` as rich's bars show time."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
