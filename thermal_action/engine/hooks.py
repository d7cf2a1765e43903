"""Runner hooks registered in MMAction2's ``HOOKS``."""

from __future__ import annotations

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from thermal_action.models.pretrained import load_pretrained


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
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        report = load_pretrained(model, self.checkpoint)
        runner.logger.info(report.summary())
