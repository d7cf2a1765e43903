"""thermal_action's own registries, for the parts of the live runtime a deployment picks in
its config: person detectors, alert rules and event sinks, each built from a ``type=``
dict as MMAction2 builds its models. MMEngine ``Registry`` objects whose members are
imported on first use (``locations``), so importing this module loads no model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmengine.registry import Registry

from thermal_action.errors import ConfigError

DETECTORS = Registry("person detector", scope="thermal_action",
                     locations=["thermal_action.tracking.blob", "thermal_action.tracking.learned"])
"""Person detectors: ``dict(type='BlobDetector')``, ``dict(type='LearnedDetector',
config=..., checkpoint=...)``."""
ALERT_RULES = Registry("alert rule", scope="thermal_action",
                       locations=["thermal_action.runtime.alert_rules"])
"""Fall alert rules: ``dict(type='PersistenceRule', ...)``, ``dict(type='FallEventRule',
path=...)``."""
SINKS = Registry("event sink", scope="thermal_action", locations=["thermal_action.runtime.sinks"])
"""Where a stream's events go: ``dict(type='JsonLinesSink', path=...)``, ..."""


def build_from(registry: Registry, spec: Mapping[str, Any]) -> Any:
    """The member of ``registry`` named by ``spec['type']``, built with the other keys.
    Built directly rather than by ``Registry.build``, which would look for the registry
    under MMAction2's default scope; a ``ConfigError`` names the known types."""
    settings = dict(spec)
    name = settings.pop("type", None)
    member = registry.module_dict.get(name) if isinstance(name, str) else None
    if member is None and isinstance(name, str):  # not imported yet: its locations
        registry.import_from_location()
        member = registry.get(name)
    if member is None:
        known = ", ".join(sorted(registry.module_dict))
        raise ConfigError(f"unknown {registry.name} {name!r} (known: {known})")
    try:
        return member(**settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{registry.name} {name}: {exc}") from None
