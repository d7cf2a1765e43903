"""Model parts MMAction2 lacks, checkpoint reading and pretrained-weight loading."""

import thermal_action

thermal_action.register()  # compat fixes before MMAction2's models

from thermal_action.models.centernet import ThermalCenterNet, ThermalFramePreprocessor  # noqa: E402
from thermal_action.models.checkpoint import (  # noqa: E402
    WeightFit,
    check_weights_fit,
    load_weights,
    read_checkpoint,
    read_state_dict,
)
from thermal_action.models.losses import SoftmaxFocalLoss  # noqa: E402
from thermal_action.models.pretrained import PretrainedReport, load_pretrained  # noqa: E402

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
