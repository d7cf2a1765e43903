"""Class-imbalance options: the softmax focal loss and class weights from the training data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from tests.conftest import TINY_CFG_OPTIONS
from thermal_action.engine import train
from thermal_action.engine.hooks import class_weights
from thermal_action.models import SoftmaxFocalLoss


def test_focal_loss_with_gamma_zero_is_cross_entropy():
    scores = torch.randn(6, 14, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 3, 3, 5, 13])
    weights = torch.rand(14, generator=torch.Generator().manual_seed(1)) + 0.1
    assert SoftmaxFocalLoss(gamma=0.0)(scores, labels) == pytest.approx(
        F.cross_entropy(scores, labels).item(), rel=1e-6)
    assert SoftmaxFocalLoss(gamma=0.0, class_weight=weights.tolist())(scores, labels) == \
        pytest.approx(F.cross_entropy(scores, labels, weight=weights).item(), rel=1e-6)


def test_focal_loss_weighs_down_what_is_already_right():
    scores = torch.tensor([[math.log(0.9), math.log(0.1)]])  # p(true class 0) = 0.9
    loss = SoftmaxFocalLoss(gamma=2.0)(scores, torch.tensor([0]))
    assert loss.item() == pytest.approx(-(0.1 ** 2) * math.log(0.9), rel=1e-5)
    with pytest.raises(ValueError, match="gamma must not be negative"):
        SoftmaxFocalLoss(gamma=-1)


def test_class_weights_follow_the_counts():
    labels = np.array([3] * 9 + [1] * 1)
    weights = class_weights(labels, 14, power=1.0)
    assert weights[3] * 9 == pytest.approx(weights[1] * 1)  # each class weighs the same
    assert (weights[labels]).mean() == pytest.approx(1.0)
    assert weights[0] == 0  # absent from training
    assert class_weights(labels, 14, power=0.0)[[1, 3]].tolist() == [1.0, 1.0]


def test_class_weight_hook_and_focal_loss_train(tiny_root: Path, tmp_path: Path):
    options = {**TINY_CFG_OPTIONS,
               "model.cls_head.loss_cls": dict(type="SoftmaxFocalLoss", gamma=2.0),
               "custom_hooks": [dict(type="CheckpointFitHook"),
                                dict(type="BalancedClassWeightHook", power=1.0)]}
    result = train("person-24px", data_root=tiny_root, work_dir=tmp_path / "work", epochs=1,
                   cfg_options=options, quiet=True)
    assert result.last_checkpoint is not None and result.last_checkpoint.is_file()
    (log,) = (tmp_path / "work").glob("*/*.log")
    # tiny train people: standing 3, lying with risk 2, walking 2
    line = next(line for line in log.read_text().splitlines() if "class weights:" in line)
    weights = [float(value) for value in line.split("class weights: ")[1].split(", ")]
    assert weights[0] == 0 and weights[1] * 3 == pytest.approx(weights[2] * 2, abs=0.02)
