"""Model parts MMAction2 lacks, checkpoint reading and pretrained-weight loading."""

from thermal_action.models.centernet import ThermalCenterNet, ThermalFramePreprocessor
from thermal_action.models.checkpoint import (
    WeightFit,
    check_weights_fit,
    load_weights,
    read_checkpoint,
    read_state_dict,
)
from thermal_action.models.losses import SoftmaxFocalLoss
from thermal_action.models.pretrained import PretrainedReport, load_pretrained

__all__ = [
    "PretrainedReport",
    "SoftmaxFocalLoss",
    "ThermalCenterNet",
    "ThermalFramePreprocessor",
    "WeightFit",
    "check_weights_fit",
    "load_pretrained",
    "load_weights",
    "read_checkpoint",
    "read_state_dict",
]
