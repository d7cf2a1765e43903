"""Train and test through MMEngine's ``Runner``: the library behind ``thermal-action
train`` and ``thermal-action test``."""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from thermal_action.engine.config import load_config
from thermal_action.errors import ConfigError, DataError
from thermal_action.models.checkpoint import check_weights_fit, read_state_dict

SPLIT_FILES = ("train", "val", "test")
"""Annotation files ``annotations/<name>.json`` that ``test`` can score."""


class TrainResult(NamedTuple):
    """Where a training run left its outputs."""

    work_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    val_metrics: dict[str, float]  # of the last validation


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
        if not existed and not started and not any(work_dir.rglob("*.pth")):
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
        if split not in SPLIT_FILES:
            raise ConfigError(f"unknown split {split!r}; expected one of "
                              f"{', '.join(SPLIT_FILES)}")
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
) -> TrainResult:
    """Train ``config``; ``resume`` continues from the work dir's last checkpoint and
    ``pretrained`` loads a local MMAction2 checkpoint with a fresh 14-class head."""
    cfg = load_config(config, data_root, work_dir, epochs, cfg_options)
    if resume:
        cfg.resume = True
        cfg.load_from = None
    elif cfg.get("load_from"):
        check_checkpoint_fits(cfg, cfg.load_from)
    if pretrained is not None:
        read_state_dict(pretrained)  # an unreadable file fails before any work dir exists
        cfg.custom_hooks = [
            *cfg.get("custom_hooks", []),
            dict(type="LoadPretrainedHook", checkpoint=str(pretrained)),
        ]
    check_datasets(cfg, ("train_dataloader", "val_dataloader"))
    runners: list[Runner] = []
    with _removed_after_failed_start(Path(cfg.work_dir), runners):
        runners.append(Runner.from_cfg(cfg))
        runner = runners[0]
        runner.train()
    val_metrics = {
        key.removeprefix("val/"): float(buffer.current())
        for key, buffer in runner.message_hub.log_scalars.items()
        if key.startswith("val/") and key not in ("val/time", "val/data_time")
    }
    work_dir = Path(cfg.work_dir)
    return TrainResult(
        work_dir,
        _last_checkpoint(work_dir),
        _in_work_dir(work_dir, runner.message_hub.get_info("best_ckpt")),
        val_metrics,
    )


def test(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    cfg_options: dict[str, Any] | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the dataset's test split (``split``, or ``test.json`` when
    the dataset has one, else ``val.json``; see ``select_test_split``); return (and
    optionally write to ``out`` as JSON) the metrics, per-class recall and confusion matrix.
    ``sample_unit`` says what was scored: whole-frame clips ("keyframe") or people
    ("person"). Logs go under ``work_dir``, by default the checkpoint's folder. A checkpoint
    that does not fit the config's model is refused before anything runs."""
    checkpoint = Path(checkpoint)
    cfg = load_config(config, data_root, work_dir or checkpoint.parent, None, cfg_options)
    check_checkpoint_fits(cfg, checkpoint)
    ann_file, split_reason = select_test_split(cfg, split)
    cfg.load_from = str(checkpoint)
    cfg.resume = False
    check_datasets(cfg, ("test_dataloader",))
    # The Runner writes its config into the work dir; there it is the record of the
    # training run, so it is kept (the test's own config goes to its timestamped log dir).
    dumped = Path(cfg.work_dir) / Path(cfg.filename).name
    kept = dumped.read_bytes() if dumped.is_file() else None
    runner = Runner.from_cfg(cfg)
    if kept is not None:
        dumped.write_bytes(kept)
    metrics = runner.test()
    details: dict[str, Any] = {}
    for metric in runner.test_evaluator.metrics:
        details.update(getattr(metric, "last_details", {}))
    classes = runner.test_dataloader.dataset.metainfo.get("classes", ())
    if "per_class_recall" in details and classes:
        details["per_class_recall"] = {
            name: (None if recall != recall else recall)
            for name, recall in zip(classes, details["per_class_recall"], strict=True)
        }
    report = dict(
        config=str(cfg.filename),
        checkpoint=str(checkpoint),
        ann_file=str(runner.test_dataloader.dataset.ann_file),
        split=ann_file.stem,
        split_reason=split_reason,
        hdf5_root=str(runner.test_dataloader.dataset.hdf5_root),
        sample_unit=getattr(runner.test_dataloader.dataset, "sample_unit", "keyframe"),
        metrics={key: float(value) for key, value in metrics.items()},
        **details,
    )
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
    return report
