"""``serve``: one process follows many sensors over MQTT.

Frames arrive on ``<prefix>/<sensor>/frames`` (the payload is one line of the live format
of ``data.live``: ``{"timestamp_ms": ..., "frame": [[...deg C...]]}``). Each sensor has its
own ``ActionStream``; the people due for classification across all sensors go to the
model in one batch (``classify_pending``). Every event is published on
``<prefix>/<sensor>/events`` and to the configured sinks; every fall alert is first stored
in SQLite (``AlertStore``), then published on ``<prefix>/<sensor>/alerts`` at QoS 1 with
an id, and marked published when the broker acknowledges it; at start, alerts never
acknowledged are published again. A sensor silent for ``offline_after_s`` is flushed
(its tracks end) and reported (``sensor_offline`` on its events topic and a retained
``<prefix>/<sensor>/status``); its next frame starts a fresh stream (``sensor_online``).
Bad input (a malformed payload, a wrong frame shape, time going backwards, an unknown
sensor) is skipped and counted per sensor, never fatal. ``shard=(k, N)`` keeps the
sensors whose id hashes (CRC-32) to k modulo N, so N processes split a building.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from thermal_action.data.live import parse_frame_line
from thermal_action.errors import ConfigError
from thermal_action.runtime.alert_store import AlertStore
from thermal_action.runtime.events import FRAME_TRACK, Event, EventKind, FrameResult
from thermal_action.runtime.sinks import Sink, build_sink, close_all, event_record
from thermal_action.runtime.streaming import (
    ActionStream,
    PendingFrame,
    begin_all,
    classify_pending,
)

if TYPE_CHECKING:
    from thermal_action.data.zones import Zones

DASHBOARD_TOKEN_VARIABLE = "THERMAL_ACTION_DASHBOARD_TOKEN"
SERVE_KEYS = {"broker", "model", "detector", "alert_rule", "settings", "sensors",
              "frame_shape", "store", "offline_after_s", "topic_prefix", "sinks", "zones",
              "dashboard"}


@dataclass(frozen=True)
class ServeConfig:
    """What ``serve`` runs: read from a YAML/JSON file by ``load_serve_config``."""

    model: tuple[str, str]  # (config, checkpoint .pth or .onnx)
    sensors: tuple[str, ...] | None = None  # None: any sensor id is accepted
    broker: Mapping[str, Any] = field(default_factory=lambda: dict(host="localhost",
                                                                   port=1883))
    detector: Any = None  # a build_detector spec
    alert_rule: Any = "persistence"
    settings: Mapping[str, float] = field(default_factory=dict)
    frame_shape: tuple[int, int] = (40, 60)
    store: str = "serve.db"
    offline_after_s: float = 10.0
    topic_prefix: str = "thermal-action"
    sinks: tuple[Mapping[str, Any], ...] = ()
    zones: Mapping[str, str] = field(default_factory=dict)  # sensor -> zones file
    dashboard: Mapping[str, Any] | None = None  # host, port, token (or its env variable)


def load_serve_config(path: str | os.PathLike) -> ServeConfig:
    """A serve config file (YAML, or JSON); ``ConfigError`` naming the file and the
    problem. Relative paths in it are relative to the file."""
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    unknown = sorted(set(document) - SERVE_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: "
                          f"{', '.join(sorted(SERVE_KEYS))})")
    model = document.get("model")
    if not isinstance(model, dict) or not {"config", "checkpoint"} <= set(model):
        raise ConfigError(f"{path}: 'model' needs 'config' and 'checkpoint'")

    def near(value: str) -> str:
        candidate = path.parent / value
        return str(candidate) if not Path(value).is_absolute() and candidate.exists() \
            else value

    sensors = document.get("sensors")
    if sensors is not None and (not isinstance(sensors, list) or
                                not all(isinstance(s, str) and s for s in sensors)):
        raise ConfigError(f"{path}: 'sensors' must be a list of sensor ids")
    broker = document.get("broker", {})
    if not isinstance(broker, dict) or set(broker) - {"host", "port", "username", "password"}:
        raise ConfigError(f"{path}: 'broker' takes host, port, username, password")
    try:
        offline = float(document.get("offline_after_s", 10.0))
        shape = tuple(int(v) for v in document.get("frame_shape", (40, 60)))
        if offline <= 0 or len(shape) != 2 or min(shape) < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: offline_after_s must be positive and frame_shape two "
                          "positive numbers") from None
    sinks = document.get("sinks") or []
    if not isinstance(sinks, list) or not all(isinstance(s, dict) and "type" in s
                                              for s in sinks):
        raise ConfigError(f"{path}: 'sinks' must be a list of type= mappings")
    detector = document.get("detector")
    if isinstance(detector, dict):
        detector = {key: near(value) if key in ("config", "checkpoint") else value
                    for key, value in detector.items()}
    dashboard = document.get("dashboard")
    if dashboard is not None:
        if not isinstance(dashboard, dict) or set(dashboard) - {"host", "port", "token"}:
            raise ConfigError(f"{path}: 'dashboard' takes host, port, token")
        token = dashboard.get("token") or os.environ.get(DASHBOARD_TOKEN_VARIABLE)
        if not token:
            raise ConfigError(f"{path}: the dashboard needs a token (dashboard.token, or "
                              f"{DASHBOARD_TOKEN_VARIABLE} in the environment)")
        dashboard = {"host": "127.0.0.1", "port": 8080, **dashboard, "token": str(token)}
    rule = document.get("alert_rule", "persistence")
    store = document.get("store", "serve.db")
    return ServeConfig(
        model=(near(str(model["config"])), near(str(model["checkpoint"]))),
        sensors=None if sensors is None else tuple(sensors),
        broker=dict(dict(host="localhost", port=1883), **broker), detector=detector,
        alert_rule=near(rule) if isinstance(rule, str) else rule,
        settings=dict(document.get("settings") or {}), frame_shape=shape,
        store=str(store if Path(store).is_absolute() else path.parent / store),
        offline_after_s=offline, topic_prefix=str(document.get("topic_prefix",
                                                               "thermal-action")),
        sinks=tuple(sinks),
        zones={sensor: near(str(file)) for sensor, file in
               (document.get("zones") or {}).items()}, dashboard=dashboard)


def parse_shard(text: str) -> tuple[int, int]:
    """``'k/N'`` -> (k, N), 0 <= k < N; ``ConfigError`` otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
        if not 0 <= index < count:
            raise ValueError
    except ValueError:
        raise ConfigError(f"--shard {text}: expected k/N with 0 <= k < N") from None
    return index, count


def in_shard(sensor: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``sensor`` belongs to ``shard`` (k, N): CRC-32 of its id modulo N is k."""
    return shard is None or zlib.crc32(sensor.encode()) % shard[1] == shard[0]


@dataclass
class SensorState:
    """One sensor's stream and counters."""

    stream: ActionStream
    frames: int = 0
    last_arrival: float = 0.0  # monotonic s
    last_ms: int | None = None
    online: bool = False
    skipped: Counter = field(default_factory=Counter)  # problem -> count


class Server:
    """See the module docstring. ``make_stream(sensor)`` builds a sensor's stream (all
    sharing one classifier, so their people batch together); ``publish(topic, payload,
    qos, retain)`` returns a handle whose acknowledgement ``on_ack(mid)`` reports (the MQTT
    client in ``serve_forever``; a test may give its own)."""

    def __init__(self, config: ServeConfig, make_stream: Callable[[str], ActionStream],
                 store: AlertStore, sinks: Sequence[Sink] = (),
                 shard: tuple[int, int] | None = None,
                 zones: Mapping[str, Zones] | None = None) -> None:
        self.config, self.make_stream, self.store = config, make_stream, store
        self.sinks = list(sinks)
        self.shard = shard
        self.zones = dict(zones or {})  # sensor -> its zones (the streams' and the dashboard's)
        self.sensors: dict[str, SensorState] = {}
        self.unknown: Counter = Counter()  # frames of sensors not in the config
        self.inbox: queue.Queue = queue.Queue()
        self.latencies_s: deque = deque(maxlen=10_000)  # arrival -> events published
        self.publish: Callable[..., Any] | None = None
        self.watchers: list[Callable[[str, Any], None]] = []  # e.g. the dashboard's update
        self._awaiting: dict[int, str] = {}  # MQTT message id -> alert id
        self._acked_early: set[int] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    # -- input -----------------------------------------------------------------------
    def receive(self, topic: str, payload: bytes) -> None:
        """An MQTT message arrived (any thread): queued with its arrival time."""
        self.inbox.put((topic, payload, time.monotonic()))

    def step(self, wait_s: float = 0.05) -> int:
        """Process what has arrived (waiting up to ``wait_s`` for the first message): the
        frames of every sensor, one round per frame index, each round's due people in one
        model batch; then report sensors gone silent. The number of frames processed."""
        messages = []
        try:
            messages.append(self.inbox.get(timeout=wait_s))
            while True:
                messages.append(self.inbox.get_nowait())
        except queue.Empty:
            pass
        per_sensor: dict[str, list] = {}
        for topic, payload, arrival in messages:
            parsed = self._parse(topic, payload, arrival)
            if parsed is not None:
                per_sensor.setdefault(parsed[0], []).append(parsed[1:])
        done = 0
        while per_sensor:
            batch = [(sensor, frames.pop(0)) for sensor, frames in per_sensor.items()]
            per_sensor = {s: f for s, f in per_sensor.items() if f}
            done += self._round(batch)
        self._check_offline()
        return done

    def _parse(self, topic: str, payload: bytes, arrival: float):
        parts = topic.split("/")
        prefix = self.config.topic_prefix.split("/")
        if parts[:-2] != prefix or parts[-1] != "frames":
            return None
        sensor = parts[-2]
        if not in_shard(sensor, self.shard):
            return None
        if self.config.sensors is not None and sensor not in self.config.sensors:
            self.unknown[sensor] += 1
            return None
        state = self._state(sensor)
        try:
            frame, stamp = parse_frame_line(payload.decode("utf-8", "replace"),
                                            self.config.frame_shape)
        except ValueError as exc:
            state.skipped[_problem(str(exc))] += 1
            return None
        if state.last_ms is not None and stamp <= state.last_ms:
            state.skipped["time did not advance"] += 1
            return None
        state.last_ms = stamp
        return sensor, frame, stamp, arrival

    def _state(self, sensor: str) -> SensorState:
        if sensor not in self.sensors:
            self.sensors[sensor] = SensorState(self.make_stream(sensor))
        return self.sensors[sensor]

    def _round(self, batch: list[tuple[str, tuple]]) -> int:
        """One frame of each sensor in ``batch``: begin all (the person detection due in
        them in one detector pass), one classification batch, finish."""
        for sensor, (_, stamp, arrival) in batch:
            state = self.sensors[sensor]
            if not state.online:
                state.online = True
                state.stream.reset()
                self._status(sensor, "online", stamp)
                self._emit(sensor, [Event(EventKind.SENSOR_ONLINE, stamp, FRAME_TRACK)],
                           stamp)
            state.frames += 1
            state.last_arrival = arrival
        began = begin_all([(self.sensors[sensor].stream, frame, stamp)
                           for sensor, (frame, stamp, _) in batch])  # one detector pass
        pending: list[tuple[str, PendingFrame, tuple]] = [
            (sensor, item, frame_stamp_arrival)
            for (sensor, frame_stamp_arrival), item in zip(batch, began, strict=True)]
        by_classifier: dict[int, list[int]] = {}
        for position, (sensor, _, _) in enumerate(pending):
            by_classifier.setdefault(id(self.sensors[sensor].stream.classifier), []
                                     ).append(position)
        predictions: dict[int, list] = {}
        for positions in by_classifier.values():
            stream = self.sensors[pending[positions[0]][0]].stream
            split = classify_pending([pending[p][1] for p in positions], stream.classifier)
            predictions.update(zip(positions, split, strict=True))
        for position, (sensor, item, (frame, stamp, arrival)) in enumerate(pending):
            stream = self.sensors[sensor].stream
            events = stream.finish(item, predictions[position])
            result = FrameResult(sensor, self.sensors[sensor].frames - 1, stamp, frame,
                                 tuple(stream.live_tracks()), tuple(events))
            for sink in self.sinks:
                sink.write(result)
            self._emit(sensor, events, stamp)
            self._tell("frame", result)
            self.latencies_s.append(time.monotonic() - arrival)
        return len(pending)

    def _check_offline(self) -> None:
        now = time.monotonic()
        for sensor, state in self.sensors.items():
            if state.online and now - state.last_arrival > self.config.offline_after_s:
                state.online = False
                events = state.stream.flush()
                stamp = state.last_ms or 0
                events.append(Event(EventKind.SENSOR_OFFLINE, stamp, FRAME_TRACK))
                self._emit(sensor, events, stamp)
                for sink in self.sinks:
                    sink.write(FrameResult(sensor, state.frames, stamp, None, (),
                                           tuple(events), final=True))
                self._status(sensor, "offline", stamp)

    # -- output ----------------------------------------------------------------------
    def _topic(self, sensor: str, leaf: str) -> str:
        return f"{self.config.topic_prefix}/{sensor}/{leaf}"

    def _emit(self, sensor: str, events: Sequence[Event], stamp: int) -> None:
        for event in events:
            if event.kind == EventKind.FALL_ALERT:
                boxes = {view.track_id: view.box_xyxy
                         for view in self.sensors[sensor].stream.live_tracks()}
                alert, new = self.store.add(sensor, event.track_id, event.time_ms,
                                            event.start_ms, event.confidence,
                                            boxes.get(event.track_id))
                if new or alert.published_at is None:
                    self._publish_alert(alert)
                if new:
                    self._tell("alert", alert)
            self._send(self._topic(sensor, "events"), json.dumps(event_record(sensor, event)),
                       qos=1)

    def _publish_alert(self, alert) -> None:
        info = self._send(self._topic(alert.sensor, "alerts"), alert.payload(), qos=1)
        if info is None:
            return
        with self._lock:
            if info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
                self.store.mark_published(alert.id)
            else:
                self._awaiting[info.mid] = alert.id

    def on_ack(self, mid: int) -> None:
        """The broker acknowledged message ``mid`` (any thread)."""
        with self._lock:
            key = self._awaiting.pop(mid, None)
            if key is None:
                self._acked_early.add(mid)
                return
        self.store.mark_published(key)

    def _status(self, sensor: str, status: str, stamp: int) -> None:
        state = self.sensors[sensor]
        message = dict(sensor=sensor, status=status, last_timestamp_ms=stamp,
                       frames=state.frames, skipped=dict(state.skipped))
        self._send(self._topic(sensor, "status"), json.dumps(message), qos=1, retain=True)
        self._tell("status", message)

    def _tell(self, kind: str, data: Any) -> None:
        for watcher in self.watchers:
            watcher(kind, data)

    def _send(self, topic: str, payload: str, qos: int = 0, retain: bool = False):
        return None if self.publish is None else self.publish(topic, payload, qos, retain)

    def republish_unacknowledged(self) -> int:
        """Publish again every stored alert the broker never acknowledged (at start)."""
        alerts = self.store.unpublished()
        for alert in alerts:
            self._publish_alert(alert)
        return len(alerts)

    def stats(self) -> dict[str, Any]:
        """Frames, skipped input per sensor and problem, latency percentiles (s)."""
        latencies = np.array(self.latencies_s) if self.latencies_s else np.zeros(1)
        return dict(sensors={sensor: dict(frames=state.frames, online=state.online,
                                          skipped=dict(state.skipped))
                             for sensor, state in self.sensors.items()},
                    unknown_sensors=dict(self.unknown),
                    latency_p50_s=float(np.percentile(latencies, 50)),
                    latency_p99_s=float(np.percentile(latencies, 99)))

    # -- the loop --------------------------------------------------------------------
    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        """Connect to the broker, subscribe to every sensor's frames, publish alerts left
        unacknowledged by an earlier run, and process frames until ``stop``."""
        import paho.mqtt.client as mqtt

        broker = self.config.broker
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if broker.get("username") is not None:
            client.username_pw_set(broker["username"], broker.get("password"))
        connected, refused = threading.Event(), []
        frames = f"{self.config.topic_prefix}/+/frames"

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                refused.append(str(reason_code))
            else:
                client.subscribe(frames, qos=0)  # again after every reconnect
            connected.set()

        client.on_connect = on_connect
        client.on_message = lambda c, u, message: self.receive(message.topic, message.payload)
        client.on_publish = lambda c, u, mid, reason_code, properties: self.on_ack(mid)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        where = f"MQTT broker {broker['host']}:{broker['port']}"
        try:
            client.connect(broker["host"], int(broker["port"]))
        except OSError as exc:
            raise ConfigError(f"{where}: {exc.strerror or exc}") from None
        client.loop_start()
        try:
            if not connected.wait(10) or refused:
                raise ConfigError(f"{where} refused the connection ({refused[0]})" if refused
                                  else f"{where} did not answer in 10 s")
            self.publish = lambda topic, payload, qos, retain: client.publish(
                topic, payload, qos=qos, retain=retain)
            self.republish_unacknowledged()
            if on_ready is not None:
                on_ready()
            while not self._stopped.is_set():
                self.step()
        finally:
            for sensor, state in self.sensors.items():
                if state.online:
                    self._emit(sensor, state.stream.flush(), state.last_ms or 0)
            deadline = time.monotonic() + 5
            while self._awaiting and time.monotonic() < deadline:
                time.sleep(0.02)
            client.loop_stop()
            client.disconnect()
            close_all(self.sinks)

    def stop(self) -> None:
        self._stopped.set()


def _problem(message: str) -> str:
    """A skip reason without the values that differ per frame, for counting."""
    if message.startswith("frame is "):
        return "wrong frame shape"
    if message.startswith("not JSON"):
        return "not JSON"
    return message.split(",")[0].split(" got ")[0]


def build_server(config: ServeConfig, shard: tuple[int, int] | None = None) -> Server:
    """A server for ``config``: the model loaded once for every sensor, its sinks and
    alert store opened (bad files are a ``ConfigError`` or ``DataError``)."""
    from thermal_action.inference.classifier import ClipClassifier
    from thermal_action.runtime.alert_rules import build_alert_rule
    from thermal_action.runtime.settings import StreamSettings
    from thermal_action.tracking.detections import build_detector

    try:
        settings = StreamSettings(**config.settings)
        classifier = ClipClassifier(*config.model)
        rule = (settings.persistence_rule() if config.alert_rule in (None, "persistence")
                else build_alert_rule(config.alert_rule))
        store = AlertStore(config.store)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    from thermal_action.data.zones import load_zones

    zones = {sensor: load_zones(file, config.frame_shape)  # a bad file is a DataError
             for sensor, file in config.zones.items()}

    def make_stream(sensor: str) -> ActionStream:
        detector = build_detector(config.detector) if classifier.person_centred else None
        return ActionStream(classifier, detector, settings=settings, alert_rule=rule,
                            zones=zones.get(sensor))

    sinks = [build_sink(spec) for spec in config.sinks]
    return Server(config, make_stream, store, sinks, shard, zones)
