"""thermal-action: SlowFast action recognition on 40x60 thermal recordings, as an MMAction2
plugin. Importing the package applies the upstream fixes in ``compat`` and registers every
dataset, transform, model part, metric and hook into MMAction2's registries."""

from thermal_action import compat

compat.apply()

from thermal_action import data, engine, evaluation, models  # noqa: E402
from thermal_action.data import ThermalActionDataset  # noqa: E402  (the seed's import)

__version__ = "0.1.0"
__all__ = ["ThermalActionDataset", "compat", "data", "engine", "evaluation", "models",
           "__version__"]
