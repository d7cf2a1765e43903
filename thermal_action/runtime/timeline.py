"""A stream's events gathered into a timeline per person: when each was there, their
action segments and fall alerts; written as JSON or CSV. Times in ms (sensor time)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from thermal_action.compat import write_text_atomic
from thermal_action.runtime.events import Event, EventKind

CSV_COLUMNS = ("track_id", "kind", "label", "start_ms", "end_ms", "confidence")


class Segment(NamedTuple):
    label: str
    start_ms: int
    end_ms: int
    confidence: float  # mean smoothed probability of the label over the segment


class Alert(NamedTuple):
    fall_ms: int  # when the fall-related classes began to dominate
    alert_ms: int  # the frame that raised the alert
    confidence: float


@dataclass
class PersonTimeline:
    track_id: int
    start_ms: int
    end_ms: int | None = None
    segments: list[Segment] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


def build_timeline(events: Iterable[Event]) -> list[PersonTimeline]:
    """Per track, by id: its span, action segments and alerts."""
    people: dict[int, PersonTimeline] = {}
    for event in events:
        if event.kind in (EventKind.SENSOR_ONLINE, EventKind.SENSOR_OFFLINE):
            continue  # about the sensor, not a person
        person = people.setdefault(event.track_id, PersonTimeline(event.track_id, event.time_ms))
        if event.kind == EventKind.TRACK_ENDED:
            person.end_ms = event.time_ms
        elif event.kind == EventKind.ACTION_ENDED:
            person.segments.append(Segment(event.label, event.start_ms, event.time_ms,
                                           round(float(event.confidence), 4)))
        elif event.kind == EventKind.FALL_ALERT:
            person.alerts.append(Alert(event.start_ms, event.time_ms,
                                       round(float(event.confidence), 4)))
    return [people[track] for track in sorted(people)]


def timeline_document(people: list[PersonTimeline], source: str, first_ms: int,
                      settings: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready timeline: the source, the settings used, and every person."""
    return dict(source=source, first_timestamp_ms=first_ms, settings=settings,
                people=[dict(track_id=p.track_id, start_ms=p.start_ms, end_ms=p.end_ms,
                             segments=[s._asdict() for s in p.segments],
                             alerts=[a._asdict() for a in p.alerts]) for p in people])


def timeline_csv_rows(document: dict[str, Any]) -> list[list[Any]]:
    """The CSV form of a ``timeline_document``: the ``CSV_COLUMNS`` header, then one row per
    segment or alert (an alert's span runs from the fall to the alert)."""
    rows: list[list[Any]] = [list(CSV_COLUMNS)]
    for person in document["people"]:
        for segment in person["segments"]:
            rows.append([person["track_id"], "action", segment["label"], segment["start_ms"],
                         segment["end_ms"], segment["confidence"]])
        for alert in person["alerts"]:
            rows.append([person["track_id"], str(EventKind.FALL_ALERT), "fall-related",
                         alert["fall_ms"], alert["alert_ms"], alert["confidence"]])
    return rows


def write_timeline(document: dict[str, Any], out: str | os.PathLike) -> Path:
    """Write ``timeline_document`` output as ``.json``, or as ``.csv``
    (``timeline_csv_rows``), whole or not at all."""
    out = Path(out)
    if out.suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"{out}: a timeline is written as .json or .csv")
    if out.suffix.lower() == ".json":
        return write_text_atomic(out, json.dumps(document, indent=1) + "\n")
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(timeline_csv_rows(document))
    return write_text_atomic(out, buffer.getvalue())


def summary_lines(people: list[PersonTimeline], first_ms: int) -> list[str]:
    """One line per person (span, then each action with its duration) and per alert;
    seconds since the first frame."""
    lines = []
    for person in people:
        end = "" if person.end_ms is None else f"{(person.end_ms - first_ms) / 1000:.1f} s"
        lines.append(f"  #{person.track_id:<3} {(person.start_ms - first_ms) / 1000:7.1f} s .. "
                     f"{end}")
        totals: dict[str, float] = {}
        for segment in person.segments:
            totals[segment.label] = totals.get(segment.label, 0.0) + \
                (segment.end_ms - segment.start_ms) / 1000.0
        for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
            lines.append(f"       {seconds:6.1f} s  {label}")
        for alert in person.alerts:
            lines.append(f"       FALL ALERT at {(alert.alert_ms - first_ms) / 1000:.1f} s "
                         f"(fall at {(alert.fall_ms - first_ms) / 1000:.1f} s, "
                         f"confidence {alert.confidence:.2f})")
    return lines
