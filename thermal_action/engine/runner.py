"""Train and test through MMEngine's ``Runner``: the library behind ``thermal-action
train`` and ``thermal-action test``."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from mmaction.registry import DATASETS
from mmengine.config import Config
from mmengine.runner import Runner

from thermal_action.engine.config import load_config
from thermal_action.errors import CheckpointError


class TrainResult(NamedTuple):
    """Where a training run left its outputs."""

    work_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    val_metrics: dict[str, float]  # of the last validation


def _last_checkpoint(work_dir: Path) -> Path | None:
    marker = work_dir / "last_checkpoint"
    if not marker.is_file():
        return None
    return Path(marker.read_text().strip())


def check_datasets(cfg: Config, loaders: tuple[str, ...]) -> None:
    """Build the datasets of ``loaders`` once before the Runner starts, so missing files,
    bad annotations and out-of-range keyframes fail before any work dir or log is written
    (the Runner builds them lazily, after printing its environment report)."""
    for loader in loaders:
        if cfg.get(loader) is not None:
            DATASETS.build(copy.deepcopy(cfg[loader]["dataset"]))


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
    if pretrained is not None:
        if not Path(pretrained).is_file():
            raise CheckpointError(f"{pretrained}: pretrained checkpoint file not found")
        cfg.custom_hooks = [
            *cfg.get("custom_hooks", []),
            dict(type="LoadPretrainedHook", checkpoint=str(pretrained)),
        ]
    check_datasets(cfg, ("train_dataloader", "val_dataloader"))
    runner = Runner.from_cfg(cfg)
    runner.train()
    val_metrics = {
        key.removeprefix("val/"): float(buffer.current())
        for key, buffer in runner.message_hub.log_scalars.items()
        if key.startswith("val/") and key not in ("val/time", "val/data_time")
    }
    best = runner.message_hub.get_info("best_ckpt")
    return TrainResult(
        Path(cfg.work_dir),
        _last_checkpoint(Path(cfg.work_dir)),
        Path(best) if best else None,
        val_metrics,
    )


def test(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    cfg_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the config's test split; return (and optionally write to
    ``out`` as JSON) the metrics, per-class recall and confusion matrix. ``sample_unit``
    says what was scored: whole-frame clips ("keyframe") or people ("person")."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"{checkpoint}: checkpoint file not found")
    cfg = load_config(config, data_root, work_dir, None, cfg_options)
    cfg.load_from = str(checkpoint)
    cfg.resume = False
    check_datasets(cfg, ("test_dataloader",))
    runner = Runner.from_cfg(cfg)
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
