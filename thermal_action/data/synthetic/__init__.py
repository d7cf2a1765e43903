"""Built-in simulator of a ceiling-mounted 40x60 thermal sensor, writing the real layout."""

from thermal_action.data.synthetic.generate import (
    SynthConfig,
    SynthSummary,
    cached_dataset,
    generate_dataset,
    simulated_with,
)

__all__ = ["SynthConfig", "SynthSummary", "cached_dataset", "generate_dataset",
           "simulated_with"]
