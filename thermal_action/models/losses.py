"""Losses for class imbalance that MMAction2 1.2.0 lacks in the form a softmax head needs.

``SoftmaxFocalLoss``: MMAction2's ``CBFocalLoss`` is a one-vs-rest sigmoid loss whose
class counts are fixed in the config, while the recognizers report softmax probabilities
and the counts change with every fold; this one is the focal loss over the softmax.
"""

from __future__ import annotations

import torch
from mmaction.models.losses.base import BaseWeightedLoss
from mmaction.registry import MODELS
from torch.nn import functional as F


@MODELS.register_module()
class SoftmaxFocalLoss(BaseWeightedLoss):
    """Focal loss over the softmax: ``-w_y (1 - p_y) ** gamma * log p_y``, averaged with
    the class weights ``w`` (``class_weight``, one per class; all 1 when None) as PyTorch's
    weighted cross-entropy averages. ``gamma=0`` is (weighted) cross-entropy; larger values
    weigh down the examples the model already gets right, most of them the majority class."""

    def __init__(self, gamma: float = 2.0, loss_weight: float = 1.0,
                 class_weight: list[float] | None = None) -> None:
        super().__init__(loss_weight=loss_weight)
        if gamma < 0:
            raise ValueError(f"gamma must not be negative, got {gamma}")
        self.gamma = gamma
        self.class_weight = None if class_weight is None else torch.tensor(class_weight,
                                                                            dtype=torch.float32)

    def _forward(self, cls_score: torch.Tensor, label: torch.Tensor, **kwargs) -> torch.Tensor:
        log_p = F.log_softmax(cls_score, dim=1).gather(1, label.view(-1, 1)).squeeze(1)
        loss = -((1 - log_p.exp()) ** self.gamma) * log_p
        if self.class_weight is None:
            return loss.mean()
        weight = self.class_weight.to(cls_score.device)[label]
        return (weight * loss).sum() / weight.sum()
