"""How a stream classifies and smooths, and the baseline alert rule's settings: plain
values (seconds of sensor time) the CLI reads its defaults from without loading a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thermal_action.runtime.alert_rules import PersistenceRule


@dataclass(frozen=True)
class StreamSettings:
    """How often and how smoothly people are classified, and the settings of the
    default alert rule (``PersistenceRule``). Times in seconds of sensor time."""

    stride_s: float = 1.0
    smoothing_s: float = 2.0
    fall_share: float = 0.5  # smoothed probability of the fall-related classes
    alert_after_s: float = 3.0
    detect_every_s: float = 0.3  # 0: every frame; else the tracker predicts in between

    def __post_init__(self) -> None:
        if self.stride_s <= 0 or self.smoothing_s < 0 or self.alert_after_s < 0 or \
                self.detect_every_s < 0:
            raise ValueError("stride_s must be positive, smoothing_s, alert_after_s and "
                             "detect_every_s not negative")
        if not 0 < self.fall_share <= 1:
            raise ValueError(f"fall_share must lie in (0, 1], got {self.fall_share}")

    def persistence_rule(self) -> PersistenceRule:
        """The baseline alert rule with these settings."""
        from thermal_action.runtime.alert_rules import PersistenceRule

        return PersistenceRule(self.smoothing_s, self.fall_share, self.alert_after_s)
