"""The live path, from frames to delivered events: the action stream (detector, tracker,
classifier, smoothing), alert rules, runs over a source, the timeline and the sinks
events go to. Importing the package loads no model; ``runtime.events`` holds the plain
event types that readers of a stream's output need."""

from thermal_action.runtime.events import FRAME_TRACK, Event, EventKind, TrackView

__all__ = ["FRAME_TRACK", "Event", "EventKind", "TrackView"]
