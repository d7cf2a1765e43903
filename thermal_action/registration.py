"""Importing this module applies the upstream fixes (``compat``) and registers every
dataset, transform, model part, metric and hook of thermal_action into MMAction2's
registries: what a config's ``custom_imports`` names (``thermal_action.register()`` does
the same)."""

from thermal_action import compat

compat.apply()

from thermal_action.data import dataset, person_frames, samplers, transforms  # noqa: E402
from thermal_action.engine import hooks  # noqa: E402
from thermal_action.evaluation import metrics  # noqa: E402
from thermal_action.models import centernet, losses  # noqa: E402

REGISTERED = (dataset, person_frames, samplers, transforms, hooks, metrics, centernet, losses)
"""The modules whose import registered something."""
