"""Train and test through MMEngine's ``Runner``: the library behind ``thermal-action
train`` and ``thermal-action test``."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any, NamedTuple

from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import find_latest_checkpoint

from thermal_action.config import load_config, window_frames
from thermal_action.data.tools.folds import split_overlap_line
from thermal_action.data.tools.splits import SPLITS
from thermal_action.engine import distributed
from thermal_action.engine.hooks import LoadPretrainedHook, ProgressHook, RunProgress
from thermal_action.errors import ConfigError, DataError
from thermal_action.models.checkpoint import check_weights_fit, read_state_dict
from thermal_action.models.pretrained import PretrainedReport


class TrainResult(NamedTuple):
    """Where a training run left its outputs."""

    work_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    val_metrics: dict[str, float]  # of the last validation
    resumed_from: Path | None = None  # the checkpoint a resumed run continued from
    pretrained: PretrainedReport | None = None  # what --pretrained loaded


def _in_work_dir(work_dir: Path, checkpoint: str | None) -> Path | None:
    """``checkpoint`` (MMEngine writes absolute paths) as a path under ``work_dir`` as the
    user gave it, so printed paths look like the ones typed."""
    if not checkpoint:
        return None
    path = Path(checkpoint)
    return work_dir / path.name if path.parent.resolve() == work_dir.resolve() else path


def _last_checkpoint(work_dir: Path) -> Path | None:
    marker = work_dir / "last_checkpoint"
    if not marker.is_file():
        return None
    return _in_work_dir(work_dir, marker.read_text().strip())


def check_datasets(cfg: Config, loaders: tuple[str, ...]) -> None:
    """Build the datasets of ``loaders`` once before the Runner starts, so missing files,
    bad annotations and out-of-range keyframes fail before any work dir or log is written
    (the Runner builds them lazily, after printing its environment report)."""
    for loader in loaders:
        if cfg.get(loader) is not None:
            DATASETS.build(copy.deepcopy(cfg[loader]["dataset"]))


def build_runner(
    cfg: Config, quiet: bool = False, on_progress: Callable[[RunProgress], None] | None = None
) -> Runner:
    """MMEngine's Runner for ``cfg``. ``quiet`` keeps its console to warnings and errors
    (its environment report, config dump and iteration logs still go to the log file in
    the work dir); ``on_progress`` receives a ``RunProgress`` after every iteration."""
    if not quiet:
        runner = Runner.from_cfg(cfg)
    else:
        # MMEngine's console handler writes to the sys.stdout it sees when the runner
        # builds its logger, which is also when it logs its environment and config.
        with redirect_stdout(io.StringIO()):
            runner = Runner.from_cfg(cfg)
        for handler in runner.logger.handlers:
            if type(handler) is logging.StreamHandler:
                handler.setStream(sys.stderr)
                handler.setLevel(logging.WARNING)
                handler.addFilter(_drop_deprecation_notices)
    if on_progress is not None:
        runner.register_hook(ProgressHook(on_progress))
    return runner


def _drop_deprecation_notices(record: logging.LogRecord) -> bool:
    """MMEngine warns on every run that its own FileClient is deprecated; the console
    keeps the warnings that concern the run (the log file keeps everything)."""
    message = record.getMessage()
    return "deprecated" not in message and "is the alias of" not in message


@contextmanager
def _into_log(runner: Runner, quiet: bool) -> Iterator[None]:
    """With ``quiet``, what MMEngine prints bare (e.g. 'Loads checkpoint by ... backend')
    goes to the runner's log file instead of the console."""
    if not quiet:
        yield
        return
    with redirect_stdout(_LogStream(runner.logger)):
        yield


class _LogStream(io.TextIOBase):
    """A text stream whose lines become INFO records of ``logger``."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.logger.info(line)
        return len(text)


def check_checkpoint_fits(cfg: Config, checkpoint: str | os.PathLike) -> None:
    """Read ``checkpoint`` and check that it fits the model of ``cfg`` tensor for tensor
    (``CheckpointError`` otherwise), before any Runner or work dir exists."""
    state = read_state_dict(checkpoint)
    init_default_scope(cfg.get("default_scope", "mmaction"))
    check_weights_fit(MODELS.build(copy.deepcopy(cfg.model)), state, checkpoint, cfg.filename)


@contextmanager
def _removed_after_failed_start(work_dir: Path, runners: list[Runner]) -> Iterator[None]:
    """Remove ``work_dir`` when this block created it and failed before its first training
    iteration (so it holds only the logs of a start that never ran)."""
    existed = work_dir.exists()
    try:
        yield
    except BaseException:
        started = bool(runners) and runners[0].iter > 0
        if (not existed and not started and distributed.is_main_process()
                and not any(work_dir.rglob("*.pth"))):
            shutil.rmtree(work_dir, ignore_errors=True)
        raise


def select_test_split(cfg: Config, split: str | None = None) -> tuple[Path, str]:
    """Point the test dataloader at ``annotations/<split>.json``; without ``split``, at
    ``test.json`` when the dataset has one and the config asks for the default
    ``val.json``. Returns the annotation file and why it was chosen."""
    dataset = cfg.test_dataloader.dataset
    root = Path(dataset.get("data_root") or ".")
    current = Path(dataset.ann_file)
    if split is not None:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; expected one of "
                              f"{', '.join(SPLITS)}")
        chosen = Path("annotations") / f"{split}.json"
        if not (root / chosen).is_file():
            raise DataError(root / chosen, f"the dataset has no {split} split")
        reason = f"{split} split, as asked"
    elif current == Path("annotations/val.json") and (root / "annotations/test.json").is_file():
        chosen, reason = Path("annotations/test.json"), "test split"
    elif current == Path("annotations/val.json"):
        chosen, reason = current, "val split: the dataset has no test.json"
    else:
        chosen, reason = current, "the config's test annotations"
    dataset.ann_file = str(chosen)
    return (chosen if chosen.is_absolute() else root / chosen), reason


def train(
    config: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    resume: bool = False,
    pretrained: str | os.PathLike | None = None,
    cfg_options: dict[str, Any] | None = None,
    quiet: bool = False,
    on_progress: Callable[[RunProgress], None] | None = None,
    keep_head: bool = False,
    launcher: str = "none",
) -> TrainResult:
    """Train ``config``; ``resume`` continues from the work dir's last checkpoint and
    ``pretrained`` loads a local MMAction2 checkpoint with a fresh 14-class head (its own
    head with ``keep_head``, when it fits: a checkpoint of the same classes). ``quiet`` and
    ``on_progress``: see ``build_runner``. ``launcher='pytorch'``: one of the processes
    that ``torchrun`` started (see ``engine.distributed``)."""
    distributed.start(launcher)
    with distributed.agreed_errors():
        cfg = load_config(config, data_root, work_dir, epochs, cfg_options)
        distributed.configure(cfg, launcher)
        work_dir = Path(cfg.work_dir)
        resumed_from = None
        if resume:
            cfg.resume, cfg.load_from = True, None
            found = find_latest_checkpoint(str(work_dir)) if work_dir.is_dir() else None
            resumed_from = _in_work_dir(work_dir, found)
        elif cfg.get("load_from"):
            check_checkpoint_fits(cfg, cfg.load_from)
        if pretrained is not None:
            read_state_dict(pretrained)  # an unreadable file fails before any work dir exists
            cfg.custom_hooks = [
                *cfg.get("custom_hooks", []),
                dict(type="LoadPretrainedHook", checkpoint=str(pretrained), keep_head=keep_head),
            ]
        check_datasets(cfg, ("train_dataloader", "val_dataloader"))
    runners: list[Runner] = []
    with _removed_after_failed_start(work_dir, runners), distributed.peer_failures():
        runners.append(build_runner(cfg, quiet, on_progress))
        runner = runners[0]
        with _into_log(runner, quiet):
            runner.train()
        distributed.barrier()  # rank 0 has written the last checkpoint for every rank
    val_metrics = {
        key.removeprefix("val/"): float(buffer.current())
        for key, buffer in runner.message_hub.log_scalars.items()
        if key.startswith("val/") and key not in ("val/time", "val/data_time")
    }
    loaded = next((hook.report for hook in runner.hooks
                   if isinstance(hook, LoadPretrainedHook)), None)
    return TrainResult(work_dir, _last_checkpoint(work_dir),
                       _in_work_dir(work_dir, runner.message_hub.get_info("best_ckpt")),
                       val_metrics, resumed_from, loaded)


def test(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    cfg_options: dict[str, Any] | None = None,
    split: str | None = None,
    quiet: bool = False,
    on_progress: Callable[[RunProgress], None] | None = None,
    keep_scores: bool = False,
    launcher: str = "none",
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the dataset's test split (``split``, or ``test.json`` when
    the dataset has one, else ``val.json``; see ``select_test_split``); return (and
    optionally write to ``out`` as JSON) the metrics, per-class recall and confusion matrix.
    ``sample_unit`` says what was scored: whole-frame clips ("keyframe") or people
    ("person"). Logs go under ``work_dir``, by default the checkpoint's folder. A checkpoint
    that does not fit the config's model is refused before anything runs. ``quiet`` and
    ``on_progress``: see ``build_runner``. ``keep_scores`` adds every sample's class
    probabilities (``scores``) and true class (``labels``). The report's ``overlap`` says
    whether the scored split shares windows with the config's training split. Under
    ``launcher='pytorch'`` the ranks share the samples, the metrics are gathered from all
    of them, and only rank 0 holds the scores and writes ``out``."""
    distributed.start(launcher)
    checkpoint = Path(checkpoint)
    with distributed.agreed_errors():
        cfg = load_config(config, data_root, work_dir or checkpoint.parent, None, cfg_options)
        distributed.configure(cfg, launcher)
        check_checkpoint_fits(cfg, checkpoint)
        ann_file, split_reason = select_test_split(cfg, split)
        cfg.load_from = str(checkpoint)
        cfg.resume = False
        check_datasets(cfg, ("test_dataloader",))
    # The Runner writes its config into the work dir; there it is the record of the
    # training run, so it is kept (the test's own config goes to its timestamped log dir).
    dumped = Path(cfg.work_dir) / Path(cfg.filename).name
    kept = dumped.read_bytes() if dumped.is_file() else None
    with distributed.peer_failures():
        runner = build_runner(cfg, quiet, on_progress)
        if kept is not None and distributed.is_main_process():
            dumped.write_bytes(kept)
        with _into_log(runner, quiet):
            metrics = runner.test()
    report = dict(
        config=str(cfg.filename),
        checkpoint=str(checkpoint),
        ann_file=str(runner.test_dataloader.dataset.ann_file),
        split=ann_file.stem,
        split_reason=split_reason,
        hdf5_root=str(runner.test_dataloader.dataset.hdf5_root),
        sample_unit=getattr(runner.test_dataloader.dataset, "sample_unit", "keyframe"),
        metrics={key: float(value) for key, value in metrics.items()},
        overlap=_train_overlap(cfg, ann_file),
        **_metric_details(runner, keep_scores),
    )
    if out is not None and distributed.is_main_process():
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
    return report


def _train_overlap(cfg: Config, ann_file: Path) -> dict[str, Any] | None:
    """Windows of the scored ``ann_file`` that overlap a window of the config's training
    annotations, and the sentence that says so; None when there is no training file to
    compare with (or it is the scored file itself)."""
    dataset = cfg.train_dataloader.dataset if cfg.get("train_dataloader") else None
    if dataset is None or not dataset.get("ann_file"):
        return None
    train_ann = Path(dataset.get("data_root") or ".") / dataset.ann_file
    if not train_ann.is_file() or train_ann.resolve() == ann_file.resolve():
        return None
    window = window_frames(cfg)
    overlap, windows, line = split_overlap_line(train_ann, ann_file, window)
    return dict(overlapping_windows=overlap, windows=windows, train_ann=str(train_ann),
                held_out=overlap == 0, summary=line)


def _metric_details(runner: Runner, keep_scores: bool = False) -> dict[str, Any]:
    """What the test metrics keep beyond the scores: counts, per-class recall by class
    name (None for a class absent from the split), confusion matrix; with ``keep_scores``
    the per-sample class probabilities and true classes."""
    details: dict[str, Any] = {}
    for metric in runner.test_evaluator.metrics:
        details.update(getattr(metric, "last_details", {}))
        if keep_scores and hasattr(metric, "last_scores"):
            details.update(scores=metric.last_scores.tolist(),
                           labels=metric.last_labels.tolist())
    classes = runner.test_dataloader.dataset.metainfo.get("classes", ())
    if "per_class_recall" in details and classes:
        details["per_class_recall"] = {
            name: (None if recall != recall else recall)
            for name, recall in zip(classes, details["per_class_recall"], strict=True)
        }
    return details
