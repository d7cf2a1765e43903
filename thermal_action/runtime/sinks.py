"""Where a stream's results go as they happen: the console, a JSON-lines or CSV event log,
the timeline file, a video, an HTTP webhook, an MQTT broker. Each is a small class in the
``SINKS`` registry (``build_sink(dict(type='JsonLinesSink', path=...))``); a stream feeds
several at once (``run_stream(..., sinks=[...])``). A sink takes every ``FrameResult``
(most carry no events) and writes what it is for before the next frame is processed, so
its output is current while the stream runs; ``close`` ends it. Files are opened when the
sink is made, so an unwritable path fails before any work."""

from __future__ import annotations

import csv
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from thermal_action.registry import SINKS, build_from
from thermal_action.runtime.events import Event, EventKind, FrameResult
from thermal_action.runtime.timeline import build_timeline, timeline_document, write_timeline

if TYPE_CHECKING:
    from thermal_action.data.zones import Zones

EVENT_COLUMNS = ("source", "kind", "time_ms", "track_id", "label", "confidence", "start_ms")
"""Columns of the CSV event log, and the keys of a JSON event line."""


def _kinds(kinds: Iterable[str] | None) -> frozenset[EventKind] | None:
    """The event kinds a sink passes on (None: all); a ``ValueError`` names an unknown one."""
    if kinds is None:
        return None
    chosen = set()
    for kind in [kinds] if isinstance(kinds, str) else kinds:
        try:
            chosen.add(EventKind(kind))
        except ValueError:
            raise ValueError(f"unknown event kind {kind!r} (known: "
                             f"{', '.join(EventKind)})") from None
    return frozenset(chosen)


def event_record(source: str, event: Event) -> dict[str, Any]:
    """One event of ``source`` as a JSON-ready dict with the ``EVENT_COLUMNS`` keys."""
    return dict(source=source, **event.to_json())


def _open_for_writing(path: str | os.PathLike, suffixes: Sequence[str]) -> tuple[Path, TextIO]:
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path}: expected a {' or '.join(suffixes)} file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot write ({exc.strerror or exc})") from None


class Sink(ABC):
    """Takes a stream's results one at a time (see the module docstring)."""

    @abstractmethod
    def write(self, result: FrameResult) -> None:
        """Deliver what ``result`` holds for this sink, before the stream goes on."""

    def close(self) -> None:  # noqa: B027  (most sinks have nothing to end)
        """End the output (flush, finish the file, disconnect)."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class EventSink(Sink):
    """A sink of events, one at a time: ``kinds`` (event kind names; None: all) picks
    which."""

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        self.kinds = _kinds(kinds)

    def write(self, result: FrameResult) -> None:
        chosen = [event for event in result.events
                  if self.kinds is None or event.kind in self.kinds]
        for event in chosen:
            self.event(result.source, event)
        if chosen:
            self.flush()

    @abstractmethod
    def event(self, source: str, event: Event) -> None:
        """Deliver one event of ``source``."""

    def flush(self) -> None:
        """After a frame's events: make them durable (files flush here)."""


@SINKS.register_module()
class ConsoleSink(EventSink):
    """One line per event on ``stream`` (default standard output): time (ms), kind, track,
    label and confidence."""

    def __init__(self, kinds: Iterable[str] | None = None, stream: TextIO | None = None) -> None:
        super().__init__(kinds)
        self.stream = stream

    def event(self, source: str, event: Event) -> None:
        text = f"{event.time_ms} {event.kind} #{event.track_id}"
        if event.label:
            text += f" {event.label}"
        if event.confidence is not None:
            text += f" {event.confidence:.2f}"
        print(text, file=self.stream or sys.stdout)

    def flush(self) -> None:
        (self.stream or sys.stdout).flush()


@SINKS.register_module()
class JsonLinesSink(EventSink):
    """A ``.jsonl`` log: one JSON object per event (``EVENT_COLUMNS``), flushed after each
    frame's events; with ``frames=True``, one line per frame instead (``FrameResult.to_json``:
    the tracks and their events), a live feed for a viewer."""

    def __init__(self, path: str | os.PathLike, kinds: Iterable[str] | None = None,
                 frames: bool = False) -> None:
        super().__init__(kinds)
        self.path, self._file = _open_for_writing(path, (".jsonl", ".ndjson"))
        self.frames = frames

    def write(self, result: FrameResult) -> None:
        if not self.frames:
            return super().write(result)
        self._file.write(json.dumps(result.to_json()) + "\n")
        self._file.flush()

    def event(self, source: str, event: Event) -> None:
        self._file.write(json.dumps(event_record(source, event)) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@SINKS.register_module()
class CsvSink(EventSink):
    """A ``.csv`` event log with the ``EVENT_COLUMNS``, flushed after each frame's events."""

    def __init__(self, path: str | os.PathLike, kinds: Iterable[str] | None = None) -> None:
        super().__init__(kinds)
        self.path, self._file = _open_for_writing(path, (".csv",))
        self._writer = csv.writer(self._file)
        self._writer.writerow(EVENT_COLUMNS)
        self._file.flush()

    def event(self, source: str, event: Event) -> None:
        record = event_record(source, event)
        self._writer.writerow(["" if record[key] is None else record[key]
                               for key in EVENT_COLUMNS])

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


TIMELINE_KINDS = frozenset({EventKind.ACTION_ENDED, EventKind.FALL_ALERT,
                            EventKind.TRACK_ENDED})
"""The events that change a written timeline (a closed segment, an alert, a track's end)."""


@SINKS.register_module()
class TimelineSink(Sink):
    """The stream's timeline per person (``runtime.timeline``) as ``.json`` or ``.csv``,
    rewritten whole (atomically) after every frame that closes a segment, raises an alert
    or ends a track, and at the end: a stream killed midway leaves the timeline up to its
    last event. ``settings``: what the stream ran with, stored in the JSON."""

    def __init__(self, path: str | os.PathLike, settings: Mapping[str, Any] | None = None
                 ) -> None:
        self.path, probe = _open_for_writing(path, (".json", ".csv"))
        probe.close()
        self.settings = dict(settings or {})
        self.events: list[Event] = []
        self.source: str | None = None
        self.first_ms: int | None = None
        self.written = False

    def write(self, result: FrameResult) -> None:
        if self.first_ms is None and not result.final:
            self.source, self.first_ms = result.source, result.timestamp_ms
        self.events += result.events
        if result.final or any(event.kind in TIMELINE_KINDS for event in result.events):
            self._rewrite()

    def _rewrite(self) -> None:
        write_timeline(timeline_document(build_timeline(self.events), self.source or "",
                                         self.first_ms, self.settings), self.path)
        self.written = True


@SINKS.register_module()
class VideoSink(Sink):
    """The stream drawn as ``.mp4`` (encoded frame by frame as it comes) or ``.gif``
    (written at the end): every ``frame_step``-th frame with each person's box, id,
    action and confidence, the sensor's ``zones`` outlined, at most ``max_frames``
    (default ``VIDEO_MAX_FRAMES``)."""

    def __init__(self, path: str | os.PathLike, zones: Zones | None = None, fps: float = 8.0,
                 frame_step: int = 1, max_frames: int | None = None) -> None:
        from thermal_action.visualization.timeline import VIDEO_MAX_FRAMES, VIDEO_SUFFIXES

        max_frames = VIDEO_MAX_FRAMES if max_frames is None else max_frames
        if fps <= 0 or frame_step < 1 or max_frames < 1:
            raise ValueError("fps must be positive, frame_step and max_frames at least 1")
        self.path, probe = _open_for_writing(path, VIDEO_SUFFIXES)
        probe.close()
        self.zones, self.fps, self.frame_step, self.max_frames = zones, fps, frame_step, \
            max_frames
        self.frames = 0  # drawn so far
        self.seen = 0  # frames the stream had
        self._painter = None
        self._gif: list = []
        self._writer = None

    def write(self, result: FrameResult) -> None:
        if result.final:
            return
        self.seen += 1
        if (self.seen - 1) % self.frame_step or self.frames >= self.max_frames:
            return
        if self._painter is None:
            self._start(result)
        image = self._painter.draw(result.frame_c, result.timestamp_ms, result.tracks)
        self.frames += 1
        if self._writer is None:
            self._gif.append(image)
        else:
            self._writer.append_data(image)

    def _start(self, result: FrameResult) -> None:
        from thermal_action.visualization.timeline import ActionPainter

        self._painter = ActionPainter(result.frame_c.shape, result.source, self.zones)
        if self.path.suffix.lower() == ".mp4":
            import imageio.v2 as imageio

            # the drawer's sizes are even, which H.264 needs; no resizing to 16 pixels
            self._writer = imageio.get_writer(self.path, fps=self.fps, macro_block_size=1,
                                              ffmpeg_log_level="error")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        elif self._gif:
            from thermal_action.visualization.frames import write_gif

            write_gif(self._gif, self.path, self.fps)
            self._gif = []


@SINKS.register_module()
class WebhookSink(EventSink):
    """Each event (by default fall alerts only) POSTed to ``url`` as JSON
    (``EVENT_COLUMNS``), with ``timeout_s`` per try and ``retries`` more tries after a
    failure (a connection error or a 5xx answer), ``backoff_s`` doubling between them.
    What still failed is kept in ``failed`` (the event and why), never raised into the
    stream: a dead receiver must not stop the sensor being watched."""

    def __init__(self, url: str, kinds: Iterable[str] | None = (EventKind.FALL_ALERT,),
                 timeout_s: float = 5.0, retries: int = 3, backoff_s: float = 0.5,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(kinds)
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook {url!r}: expected an http:// or https:// URL")
        if timeout_s <= 0 or retries < 0 or backoff_s < 0:
            raise ValueError("timeout_s must be positive, retries and backoff_s not negative")
        self.url, self.timeout_s, self.retries, self.backoff_s = url, timeout_s, retries, \
            backoff_s
        self.headers = {"Content-Type": "application/json", **dict(headers or {})}
        self.delivered = 0
        self.failed: list[tuple[dict[str, Any], str]] = []

    def event(self, source: str, event: Event) -> None:
        record = event_record(source, event)
        body = json.dumps(record).encode()
        wait, reason = self.backoff_s, ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(wait)
                wait *= 2
            request = urllib.request.Request(self.url, body, self.headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s):
                    self.delivered += 1
                    return
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code}"
                if exc.code < 500:  # the receiver refuses it: trying again will not help
                    break
            except (urllib.error.URLError, OSError) as exc:
                reason = str(getattr(exc, "reason", exc))
        self.failed.append((record, reason))


@SINKS.register_module()
class MqttSink(EventSink):
    """Each event published to an MQTT broker (paho-mqtt) as JSON (``EVENT_COLUMNS``) on
    ``topic`` (``{source}`` and ``{kind}`` filled in: by default
    ``thermal-action/<source>/<kind>``, so ``thermal-action/+/fall_alert`` follows every
    sensor's alerts), at QoS ``qos`` (1: delivered at least once). Making the sink waits
    up to ``timeout_s`` for the broker to accept the connection (a wrong password is a
    ``ValueError``). Later the client reconnects by itself and sends what it queued
    meanwhile; ``close`` waits up to ``timeout_s`` for every event to be acknowledged,
    and ``unacknowledged`` counts those that were not."""

    def __init__(self, host: str = "localhost", port: int = 1883,
                 topic: str = "thermal-action/{source}/{kind}",
                 kinds: Iterable[str] | None = None, qos: int = 1,
                 username: str | None = None, password: str | None = None,
                 client_id: str = "", timeout_s: float = 10.0) -> None:
        import paho.mqtt.client as mqtt

        super().__init__(kinds)
        if qos not in (0, 1, 2):
            raise ValueError(f"MQTT QoS is 0, 1 or 2, got {qos}")
        self.topic, self.qos, self.timeout_s = topic, qos, timeout_s
        self.published = 0
        self.unacknowledged = 0
        # never held while calling paho: its network thread holds paho's own lock when it
        # calls on_publish, and may acknowledge a message before publish() returns its id
        self._lock = threading.Lock()
        self._pending: set[int] = set()  # message ids the broker has not acknowledged
        self._early: set[int] = set()  # acknowledged before publish() returned
        self._answered = threading.Event()
        self._refused: str | None = None
        client = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                           client_id=client_id)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        if username is not None:
            client.username_pw_set(username, password)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        where = f"MQTT broker {host}:{port}"
        try:
            client.connect(host, int(port))
        except OSError as exc:
            raise ValueError(f"{where}: {exc.strerror or exc}") from None
        client.loop_start()
        if not self._answered.wait(timeout_s) or self._refused:
            client.loop_stop()
            client.disconnect()
            raise ValueError(f"{where} refused the connection ({self._refused})"
                             if self._refused else f"{where} did not answer in {timeout_s} s")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure and not self._answered.is_set():
            self._refused = str(reason_code)
        self._answered.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._early.add(mid)

    def event(self, source: str, event: Event) -> None:
        self.publish(self.topic.format(source=source, kind=event.kind),
                     json.dumps(event_record(source, event)))

    def publish(self, topic: str, payload: str) -> None:
        """Publish one message at the sink's QoS, counted until acknowledged."""
        # queued while disconnected too, and sent on reconnecting
        info = self.client.publish(topic, payload, qos=self.qos)
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._pending.add(info.mid)
        self.published += 1

    def close(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    break
            time.sleep(0.02)
        with self._lock:
            self.unacknowledged = len(self._pending)
        self.client.loop_stop()
        self.client.disconnect()


def mqtt_address(text: str) -> tuple[str, int]:
    """``HOST`` or ``HOST:PORT`` -> (host, port; 1883 by default); ``ValueError`` else."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "1883")
    if not host or not port.isdigit():
        raise ValueError(f"{text}: expected HOST or HOST:PORT")
    return host, int(port)


def publish_lines(lines: Iterable[str], host: str, port: int, topic: str,
                  username: str | None = None, password: str | None = None) -> int:
    """Publish each line as one message on ``topic`` (QoS 1), waiting at the end until the
    broker has acknowledged them; the number published. A replayed sensor."""
    sink = MqttSink(host, port, username=username, password=password, timeout_s=30)
    count = 0
    try:
        for line in lines:
            sink.publish(topic, line)
            count += 1
    finally:
        sink.close()
    if sink.unacknowledged:
        raise ValueError(f"MQTT broker {host}:{port}: {sink.unacknowledged} of {count} "
                         "frames not acknowledged")
    return count


def build_sink(spec: Mapping[str, Any] | Sink) -> Sink:
    """A sink from a ``type=`` dict of the ``SINKS`` registry (or a sink, as it is); a
    ``ConfigError`` for an unknown type, bad settings or an unwritable path."""
    if isinstance(spec, Sink):
        return spec
    return build_from(SINKS, spec)


def close_all(sinks: Iterable[Sink]) -> None:
    """Close every sink, even when one fails to; the first failure is raised after."""
    failure = None
    for sink in sinks:
        try:
            sink.close()
        except Exception as exc:  # noqa: BLE001  (close the others first)
            failure = failure or exc
    if failure is not None:
        raise failure

