"""Config lookup, runner hooks, and the train/test entry points."""

from thermal_action.engine.config import list_configs, load_config, resolve_config
from thermal_action.engine.hooks import LoadPretrainedHook
from thermal_action.engine.runner import TrainResult, test, train

__all__ = [
    "LoadPretrainedHook",
    "TrainResult",
    "list_configs",
    "load_config",
    "resolve_config",
    "test",
    "train",
]
