"""``serve``: many sensors in one process, their people in one model batch, alerts stored
before they are published and published again until acknowledged, silent sensors
reported, bad input counted; end to end through a real mosquitto."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from tests.runtime.test_sinks import _subscriber, _wait_for
from tests.runtime.test_streaming import ROOM_C, ScriptedClassifier
from thermal_action.data.classes import ActionClass
from thermal_action.data.live import live_lines
from thermal_action.errors import ConfigError
from thermal_action.runtime.alert_store import AlertStore, alert_id
from thermal_action.runtime.serve import (
    ServeConfig,
    Server,
    in_shard,
    load_serve_config,
    parse_shard,
)
from thermal_action.runtime.sinks import publish_lines
from thermal_action.runtime.streaming import ActionStream, StreamSettings

SHAPE = (4, 6)


class CountingClassifier(ScriptedClassifier):
    """The scripted 'model', remembering the size of every batch it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def predict_windows(self, windows, people=None, tracks=None):
        self.batches.append(len(windows))
        return super().predict_windows(windows, people, tracks)


def lines_of(labels, start_ms=0):
    frames = np.stack([np.full(SHAPE, ROOM_C + label, np.float32) for label in labels])
    return list(live_lines(frames, np.arange(len(labels)) * 100 + start_ms))


FALL = [ActionClass.STANDING] * 40 + [ActionClass.LYING_RISK] * 80  # 12 s at 10 fps
CALM = [ActionClass.SITTING] * 120


class Published:
    """A stand-in for the MQTT client's publish: records messages, hands out ids."""

    class Info:
        def __init__(self, mid: int) -> None:
            self.mid = mid

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []

    def __call__(self, topic, payload, qos, retain):
        self.messages.append((topic, json.loads(payload)))
        return self.Info(len(self.messages))

    def on(self, leaf: str):
        return [(t, m) for t, m in self.messages if t.endswith("/" + leaf)]


def make_server(tmp_path, classifier=None, **config):
    classifier = classifier or CountingClassifier()
    config = ServeConfig(model=("scripted", "none"), frame_shape=SHAPE,
                         store=str(tmp_path / "alerts.db"), **config)
    server = Server(config, lambda sensor: ActionStream(
        classifier, settings=StreamSettings(smoothing_s=0.0)), AlertStore(config.store))
    server.publish = Published()
    return server, classifier


def feed(server, sensor, lines):
    for line in lines:
        server.receive(f"thermal-action/{sensor}/frames", line.encode())


def test_sensors_share_one_model_batch_and_alerts_are_stored_then_published(tmp_path):
    server, classifier = make_server(tmp_path, sensors=("room-1", "room-2"))
    feed(server, "room-1", lines_of(FALL))
    feed(server, "room-2", lines_of(CALM))
    assert server.step() == 240
    assert max(classifier.batches) == 2  # both rooms' people in one batch
    assert len(classifier.batches) < 24  # not one call per room and classification
    (alert_topic, alert), = server.publish.on("alerts")
    assert alert_topic == "thermal-action/room-1/alerts"
    assert alert["id"] == alert_id("room-1", 0, alert["time_ms"])
    stored = server.store.get(alert["id"])
    assert stored is not None and stored.published_at is None  # stored, not yet acked
    mid = len([m for m in server.publish.messages[:server.publish.messages.index(
        (alert_topic, alert)) + 1]])
    server.on_ack(mid)
    assert server.store.get(alert["id"]).published_at is not None
    kinds = [m["kind"] for t, m in server.publish.on("events") if "room-2" in t]
    assert kinds[0] == "sensor_online" and "fall_alert" not in kinds


def test_bad_input_is_counted_per_sensor_and_never_fatal(tmp_path):
    server, _ = make_server(tmp_path, sensors=("room-1",))
    good = lines_of(CALM[:20])
    feed(server, "room-1", good[:10] + ["{broken", json.dumps(dict(timestamp_ms=5_000,
                                                                   frame=[[1.0]]))]
         + [good[3]] + good[10:])  # garbage, a wrong shape, time going backwards
    feed(server, "intruder", good[:3])
    server.receive("thermal-action/room-1/other", b"ignored")
    assert server.step() == 20
    stats = server.stats()
    assert stats["sensors"]["room-1"]["skipped"] == {"not JSON": 1, "wrong frame shape": 1,
                                                      "time did not advance": 1}
    assert stats["unknown_sensors"] == {"intruder": 3}
    assert stats["latency_p99_s"] >= stats["latency_p50_s"] >= 0


def test_a_silent_sensor_is_reported_offline_and_resumes_with_a_fresh_stream(tmp_path):
    server, _ = make_server(tmp_path, offline_after_s=0.2)
    feed(server, "room-1", lines_of(CALM[:30]))
    server.step()
    time.sleep(0.3)
    server.step(wait_s=0.01)
    events = [m["kind"] for _, m in server.publish.on("events")]
    assert events[-2:] == ["track_ended", "sensor_offline"]
    status = server.publish.on("status")
    assert [m["status"] for _, m in status] == ["online", "offline"]
    feed(server, "room-1", lines_of(CALM[:30], start_ms=60_000))
    server.step()
    resumed = [m["kind"] for _, m in server.publish.on("events")][len(events):]
    assert resumed[:2] == ["sensor_online", "track_started"]


def test_alerts_never_acknowledged_are_published_again_at_start_with_the_same_id(tmp_path):
    store = AlertStore(tmp_path / "alerts.db")
    first, new = store.add("room-1", 3, 12_000, 9_000, 0.9)
    assert new and not store.add("room-1", 3, 12_000, 9_000, 0.9)[1]  # a replay: same id
    store.close()
    server, _ = make_server(tmp_path)
    assert server.republish_unacknowledged() == 1
    ((_, alert),) = server.publish.on("alerts")
    assert alert["id"] == first.id == "room-1:3:12000"
    server.on_ack(1)
    assert server.store.unpublished() == []
    assert server.store.acknowledge(first.id, "nurse") and not server.store.acknowledge("x")


def test_shards_split_sensors_and_every_sensor_has_one(tmp_path):
    assert parse_shard("1/3") == (1, 3)
    with pytest.raises(ConfigError, match="k/N"):
        parse_shard("3/3")
    sensors = [f"room-{i}" for i in range(50)]
    owners = [[k for k in range(3) if in_shard(s, (k, 3))] for s in sensors]
    assert all(len(o) == 1 for o in owners) and len({o[0] for o in owners}) == 3
    server, _ = make_server(tmp_path)
    server.shard = (0, 2)
    mine = next(s for s in sensors if in_shard(s, (0, 2)))
    other = next(s for s in sensors if not in_shard(s, (0, 2)))
    feed(server, mine, lines_of(CALM[:5]))
    feed(server, other, lines_of(CALM[:5]))
    assert server.step() == 5 and set(server.sensors) == {mine}


def test_the_config_file_is_checked_with_one_clear_line(tmp_path):
    path = tmp_path / "serve.yaml"
    path.write_text("model: {config: person-lite, checkpoint: m.onnx}\nsensors: [a, b]\n"
                    "broker: {host: 127.0.0.1, port: 1884}\nstore: db/alerts.db\n")
    config = load_serve_config(path)
    assert config.sensors == ("a", "b") and config.broker["port"] == 1884
    assert config.store == str(tmp_path / "db" / "alerts.db")
    for text, problem in [("model: [", "not YAML"), ("- 1", "expected a mapping"),
                          ("model: {config: x}", "'model' needs"),
                          ("model: {config: x, checkpoint: y}\nsensor: [a]", "unknown key"),
                          ("model: {config: x, checkpoint: y}\nsensors: a", "list of sensor"),
                          ("model: {config: x, checkpoint: y}\noffline_after_s: 0",
                           "offline_after_s")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=problem):
            load_serve_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_serve_config(tmp_path / "missing.yaml")


def test_serve_end_to_end_through_a_real_broker(tmp_path, mqtt_broker):
    broker = dict(host=mqtt_broker.host, port=mqtt_broker.port,
                  username=mqtt_broker.username, password=mqtt_broker.password)
    server, classifier = make_server(tmp_path, sensors=("room-1", "room-2"), broker=broker)
    ready = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(on_ready=ready.set),
                              daemon=True)
    thread.start()
    assert ready.wait(15)
    client, received = _subscriber(mqtt_broker, "thermal-action/+/alerts")
    for sensor, labels in (("room-1", FALL), ("room-2", CALM)):
        publish_lines(lines_of(labels), mqtt_broker.host, mqtt_broker.port,
                      f"thermal-action/{sensor}/frames", mqtt_broker.username,
                      mqtt_broker.password)
    assert _wait_for(lambda: len(received) == 1, 30)
    topic, alert = received[0]
    assert topic == "thermal-action/room-1/alerts" and alert["kind"] == "fall_alert"
    assert _wait_for(lambda: server.store.get(alert["id"]).published_at is not None)
    assert _wait_for(lambda: sum(s.frames for s in server.sensors.values()) == 240)
    server.stop()
    thread.join(20)
    client.loop_stop()
    client.disconnect()
    assert not thread.is_alive() and server.stats()["sensors"]["room-2"]["frames"] == 120


def test_the_documented_serve_config_is_valid(tmp_path, monkeypatch):
    import re

    from tests.conftest import REPO_ROOT

    text = (REPO_ROOT / "docs" / "serving.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    path = tmp_path / "serve.yaml"
    path.write_text(block)
    monkeypatch.delenv("THERMAL_ACTION_DASHBOARD_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="the dashboard needs a token"):
        load_serve_config(path)
    monkeypatch.setenv("THERMAL_ACTION_DASHBOARD_TOKEN", "s3cret-token")
    config = load_serve_config(path)
    assert config.sensors == ("room-101", "room-102", "room-103")
    assert config.detector["type"] == "LearnedDetector" and len(config.sinks) == 2
    assert config.dashboard == dict(host="127.0.0.1", port=8080, token="s3cret-token")


def test_the_same_fall_alerted_again_at_the_same_place_keeps_its_first_alert(tmp_path):
    """Issue 23: after ``kill -9`` a restarted serve sees a person still down as new and
    alerts again; the store keeps the first alert (within 120 s of sensor time, box IoU
    >= 0.3), so the alerts topic carries one alert per fall."""
    store = AlertStore(tmp_path / "alerts.db")
    first, _ = store.add("room-1", 2, 10_000, 7_000, 0.9, (10, 10, 20, 16))
    again, new = store.add("room-1", 1, 40_000, 36_000, 0.8, (11, 10, 21, 17))
    assert not new and again.id == first.id and again.box_xyxy == (10, 10, 20, 16)
    elsewhere, new = store.add("room-1", 3, 41_000, 38_000, 0.8, (40, 20, 50, 26))
    assert new and elsewhere.id != first.id  # another person, another place
    later, new = store.add("room-1", 4, 10_000 + 121_000, 128_000, 0.8, (10, 10, 20, 16))
    assert new and later.id != first.id  # long after: a new fall
    other_room, new = store.add("room-2", 2, 10_500, 7_000, 0.9, (10, 10, 20, 16))
    assert new
    store.close()

    server, _ = make_server(tmp_path / "crash")
    feed(server, "room-1", lines_of(FALL))
    server.step()
    assert len(server.publish.on("alerts")) == 1
    for mid in range(1, len(server.publish.messages) + 1):
        server.on_ack(mid)  # the broker acknowledged everything before the crash
    restarted, _ = make_server(tmp_path / "crash")  # the same store, fresh streams
    feed(restarted, "room-1", lines_of([ActionClass.LYING_RISK] * 80, start_ms=12_000))
    restarted.step()
    events = [m["kind"] for _, m in restarted.publish.on("events")]
    assert "fall_alert" in events  # the new stream did alert ...
    assert restarted.publish.on("alerts") == []  # ... but it is the stored alert again
    assert len(restarted.store.recent()) == 1


def test_a_store_made_before_the_box_columns_opens_and_gains_them(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript("""CREATE TABLE alerts (id TEXT PRIMARY KEY, sensor TEXT NOT NULL,
            track_id INTEGER NOT NULL, time_ms INTEGER NOT NULL, start_ms INTEGER,
            confidence REAL, stored_at REAL NOT NULL, published_at REAL,
            acknowledged_at REAL, acknowledged_by TEXT);
            INSERT INTO alerts VALUES ('r:1:5', 'r', 1, 5, 1, 0.9, 0, NULL, NULL, NULL);""")
    store = AlertStore(path)
    (old,) = store.unpublished()
    assert old.id == "r:1:5" and old.box_xyxy is None
    assert store.add("r", 2, 6, 2, 0.9, (1, 1, 3, 3))[1]  # no box to match: a new alert


def test_the_store_pages_alerts_newest_first_with_a_stable_cursor(tmp_path):
    store = AlertStore(tmp_path / "alerts.db")
    for number in range(7):
        store.add(f"room-{number}", number, 1_000 * number, None, 0.9)
    store.acknowledge(alert_id("room-5", 5, 5_000), "nurse")
    first, cursor = store.page(3)
    assert [a.sensor for a in first] == ["room-6", "room-5", "room-4"]
    store.add("room-9", 9, 9_000, None, 0.9)  # a new alert does not shift older pages
    second, cursor = store.page(3, cursor)
    assert [a.sensor for a in second] == ["room-3", "room-2", "room-1"]
    last, cursor = store.page(3, cursor)
    assert [a.sensor for a in last] == ["room-0"] and cursor is None
    opened, _ = store.page(10, only_open=True)
    assert "room-5" not in [a.sensor for a in opened] and len(opened) == 7
    assert store.count_open() == 7
    with pytest.raises(ValueError, match="at least 1"):
        store.page(0)
