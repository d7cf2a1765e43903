"""Runner hooks registered in MMAction2's ``HOOKS``."""

from __future__ import annotations

from pathlib import Path

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import find_latest_checkpoint

from thermal_action.models.checkpoint import check_weights_fit, state_dict_of
from thermal_action.models.pretrained import load_pretrained


def _bare_model(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


@HOOKS.register_module()
class LoadPretrainedHook(Hook):
    """Load pretrained weights (``models.pretrained.load_pretrained``) before training starts.

    Runs after the runner's own weight init and resume, so a resumed run keeps its weights
    and the fresh initialization never overwrites the pretrained ones.
    """

    priority = "VERY_HIGH"

    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint

    def before_train(self, runner) -> None:
        if getattr(runner, "_has_loaded", False) or runner.iter > 0:
            runner.logger.info(
                f"pretrained {self.checkpoint} skipped: weights were loaded from "
                "a resumed or load_from checkpoint"
            )
            return
        report = load_pretrained(_bare_model(runner), self.checkpoint)
        runner.logger.info(report.summary())


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
