"""Runner hooks registered in MMAction2's ``HOOKS``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import find_latest_checkpoint

from thermal_action.models.checkpoint import check_weights_fit, state_dict_of
from thermal_action.models.pretrained import PretrainedReport, load_pretrained


def _bare_model(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


@HOOKS.register_module()
class BalancedClassWeightHook(Hook):
    """Weigh each class in the classification loss by ``count ** -power`` of its training
    samples, counted from the training dataset when training starts (so the weights follow
    whatever split or fold is trained on). The weights average 1 over the training samples;
    classes without samples get weight 0. Needs a loss with a ``class_weight`` attribute
    (MMAction2's ``CrossEntropyLoss``, ``SoftmaxFocalLoss``). ``power=0`` is unweighted,
    1 weighs every class equally."""

    priority = "VERY_HIGH"

    def __init__(self, power: float = 0.5) -> None:
        if power < 0:
            raise ValueError(f"power must not be negative, got {power}")
        self.power = power
        self.weights: np.ndarray | None = None

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        loss = _bare_model(runner).cls_head.loss_cls
        if not hasattr(loss, "class_weight"):
            raise ValueError(f"{type(loss).__name__} takes no class weights; use "
                             "CrossEntropyLoss or SoftmaxFocalLoss")
        num_classes = int(_bare_model(runner).cls_head.num_classes)
        labels = np.array([int(dataset.get_data_info(i)["label"]) for i in range(len(dataset))])
        self.weights = class_weights(labels, num_classes, self.power)
        loss.class_weight = torch.tensor(self.weights, dtype=torch.float32)
        runner.logger.info("class weights: " + ", ".join(f"{w:.2f}" for w in self.weights))


def class_weights(labels: np.ndarray, num_classes: int, power: float) -> np.ndarray:
    """Per class ``count ** -power``, scaled so that the mean weight over ``labels`` is 1;
    0 for classes absent from ``labels``."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    return weights * len(labels) / (weights * counts).sum()


@HOOKS.register_module()
class LoadPretrainedHook(Hook):
    """Load pretrained weights (``models.pretrained.load_pretrained``) before training starts.

    Runs after the runner's own weight init and resume, so a resumed run keeps its weights
    and the fresh initialization never overwrites the pretrained ones.
    """

    priority = "VERY_HIGH"

    def __init__(self, checkpoint: str, keep_head: bool = False) -> None:
        self.checkpoint = checkpoint
        self.keep_head = keep_head
        self.report: PretrainedReport | None = None  # what was loaded, once it was

    def before_train(self, runner) -> None:
        if getattr(runner, "_has_loaded", False) or runner.iter > 0:
            runner.logger.info(
                f"pretrained {self.checkpoint} skipped: weights were loaded from "
                "a resumed or load_from checkpoint"
            )
            return
        self.report = load_pretrained(_bare_model(runner), self.checkpoint,
                                      keep_head=self.keep_head)
        runner.logger.info(self.report.summary())


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Refuse a ``load_from`` or resumed checkpoint whose tensors do not all fit the model.

    MMEngine loads those with ``strict=False`` and only logs the mismatch, so a checkpoint
    of another config would be tested or fine-tuned as a half-random network. Partial loads
    are what ``LoadPretrainedHook`` (``--pretrained``) is for.
    """

    priority = "VERY_HIGH"

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = getattr(runner, "_load_from", None)
        if source is None and getattr(runner, "_resume", False):
            source = find_latest_checkpoint(runner.work_dir)
        source = Path(source or "checkpoint")
        config = runner.cfg.filename or "the runner's config"
        check_weights_fit(_bare_model(runner), state_dict_of(checkpoint, source), source, config)


class RunProgress(NamedTuple):
    """Where a run stands, reported after every iteration (see ``ProgressHook``)."""

    phase: str  # "train", "val" or "test"
    epoch: int  # 1-based training epoch (the last one for val and test)
    max_epochs: int
    step: int  # iterations done in this pass over the phase's data, 1-based
    steps: int  # iterations of one pass
    loss: float | None  # training loss as the log shows it (``logged_loss``; None: val, test)


def logged_loss(runner, current: float) -> float:
    """The training loss as MMEngine's log shows it for this iteration: the mean over the
    log processor's window (20 iterations in the shipped runtime) of ``train/loss`` in the
    message hub (``RuntimeInfoHook`` adds each iteration's first). ``current`` (this
    iteration's loss alone) when the window is not a number of iterations."""
    window = getattr(getattr(runner, "log_processor", None), "window_size", None)
    try:
        history = runner.message_hub.get_scalar("train/loss")
    except (AttributeError, KeyError):
        return current
    if not isinstance(window, int) or isinstance(window, bool):
        return current
    return float(history.mean(window))


class ProgressHook(Hook):
    """Report ``RunProgress`` to ``callback`` after every train, val and test iteration, so
    a caller can show a compact progress display while the full log goes to the work dir.
    Registered on a built runner (it holds a callable, so it is not a config entry)."""

    priority = "LOWEST"

    def __init__(self, callback: Callable[[RunProgress], None]) -> None:
        self.callback = callback

    def _report(self, runner, phase: str, batch_idx: int, loss: float | None) -> None:
        loop = {"train": "train_dataloader", "val": "val_dataloader",
                "test": "test_dataloader"}[phase]
        steps = len(getattr(runner, loop))
        if phase == "test":  # a test-only runner has no train loop to ask
            epoch = max_epochs = 0
        else:
            epoch, max_epochs = runner.epoch + (phase == "train"), runner.max_epochs
        self.callback(RunProgress(phase, epoch, max_epochs, batch_idx + 1, steps, loss))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else None
        self._report(runner, "train", batch_idx,
                     None if loss is None else logged_loss(runner, float(loss.item())))

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._report(runner, "val", batch_idx, None)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._report(runner, "test", batch_idx, None)
