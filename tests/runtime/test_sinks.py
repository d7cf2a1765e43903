"""The stream as a generator of per-frame results, and the sinks its events go to as they
happen: files current mid-stream, a webhook that retries, a real MQTT broker."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import imageio.v3 as iio
import numpy as np
import pytest

from tests.runtime.test_streaming import ScriptedClassifier, frames_of
from thermal_action.data.classes import ActionClass
from thermal_action.errors import ConfigError
from thermal_action.runtime.events import EventKind
from thermal_action.runtime.run import run_stream
from thermal_action.runtime.sinks import (
    EVENT_COLUMNS,
    ConsoleSink,
    CsvSink,
    JsonLinesSink,
    MqttSink,
    TimelineSink,
    VideoSink,
    WebhookSink,
    build_sink,
    close_all,
)
from thermal_action.runtime.streaming import ActionStream, StreamSettings

STAMPS = np.arange(0, 20_000, 100)  # 10 fps for 20 s
LABELS = [ActionClass.STANDING] * 80 + [ActionClass.LYING_RISK] * 120  # a fall at 8 s


def fall_stream() -> ActionStream:
    return ActionStream(ScriptedClassifier(), settings=StreamSettings(smoothing_s=0.0))


def fall_frames():
    return zip(frames_of(LABELS), (int(s) for s in STAMPS), strict=True)


def test_the_stream_yields_one_result_per_frame_as_frames_arrive_then_a_final_one():
    consumed = []

    def source():
        for frame, stamp in fall_frames():
            consumed.append(stamp)
            yield frame, stamp

    results = fall_stream().stream(source(), "room-1")
    first = next(results)
    assert len(consumed) == 1 and first.index == 0 and first.frame_c.shape == (4, 6)
    rest = list(results)
    assert len(rest) == len(STAMPS) and rest[-1].final and rest[-1].frame_c is None
    assert rest[-1].index == len(STAMPS) and rest[-1].timestamp_ms == STAMPS[-1]
    events = [event for result in [first, *rest] for event in result.events]
    pushed = fall_stream()
    expected = [e for frame, stamp in fall_frames() for e in pushed.push(frame, stamp)]
    assert events == expected + pushed.flush()
    alerting = next(r for r in rest if any(e.kind == EventKind.FALL_ALERT for e in r.events))
    assert [t.alert for t in alerting.tracks] == [True]
    line = json.loads(json.dumps(alerting.to_json()))
    assert line["source"] == "room-1" and "fall_alert" in [e["kind"] for e in line["events"]]
    assert line["tracks"][0]["alert"] is True
    image = alerting.plot(first_ms=0)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    with pytest.raises(ValueError, match="no frame"):
        rest[-1].plot()


def test_event_files_and_the_timeline_are_current_while_the_stream_runs(tmp_path):
    log, table, timeline = tmp_path / "e.jsonl", tmp_path / "e.csv", tmp_path / "t.json"
    sinks = [JsonLinesSink(log), CsvSink(table), TimelineSink(timeline, dict(model="x"))]
    seen_alert = False
    for result in fall_stream().stream(fall_frames(), "room-1"):
        for sink in sinks:
            sink.write(result)
        if any(e.kind == EventKind.FALL_ALERT for e in result.events) and not seen_alert:
            seen_alert = True  # mid-stream, before anything is closed
            lines = [json.loads(line) for line in log.read_text().splitlines()]
            assert lines[-1]["kind"] == "fall_alert" and set(lines[-1]) == set(EVENT_COLUMNS)
            rows = list(csv.DictReader(table.open()))
            assert rows[-1]["kind"] == "fall_alert" and rows[-1]["source"] == "room-1"
            (person,) = json.loads(timeline.read_text())["people"]
            assert person["alerts"] and person["end_ms"] is None  # the track is still live
    close_all(sinks)
    assert seen_alert
    document = json.loads(timeline.read_text())
    assert document["settings"] == dict(model="x") and document["people"][0]["end_ms"]
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds[0] == "track_started" and kinds[-1] == "track_ended"
    assert len(list(csv.DictReader(table.open()))) == len(kinds)


def test_console_sink_filters_by_kind_and_unknown_kinds_are_refused():
    out = io.StringIO()
    run_stream(fall_stream(), fall_frames(), "x", sinks=[ConsoleSink(["fall_alert"], out)])
    (line,) = out.getvalue().splitlines()
    assert " fall_alert #0 fall-related " in f" {line} "  # the frame pseudo-track
    with pytest.raises(ValueError, match="unknown event kind 'fell'"):
        ConsoleSink(["fell"])


def test_sinks_build_from_type_dicts_and_bad_ones_are_one_clear_error(tmp_path):
    sink = build_sink(dict(type="JsonLinesSink", path=str(tmp_path / "a.jsonl"),
                           kinds=["fall_alert"]))
    assert isinstance(sink, JsonLinesSink) and sink.kinds == {EventKind.FALL_ALERT}
    sink.close()
    with pytest.raises(ConfigError, match=r"unknown event sink 'Nope' \(known: .*CsvSink"):
        build_sink(dict(type="Nope"))
    with pytest.raises(ConfigError, match="/proc/version/x.jsonl: cannot write"):
        build_sink(dict(type="JsonLinesSink", path="/proc/version/x.jsonl"))
    with pytest.raises(ConfigError, match="expected a .json or .csv file"):
        build_sink(dict(type="TimelineSink", path=str(tmp_path / "t.txt")))
    with pytest.raises(ConfigError, match="http"):
        build_sink(dict(type="WebhookSink", url="ftp://x"))


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_the_video_sink_draws_every_nth_frame_up_to_its_limit(tmp_path, suffix, caplog,
                                                              capfd):
    video = tmp_path / f"v{suffix}"
    sink = VideoSink(video, frame_step=3, max_frames=20)
    with caplog.at_level("WARNING"):
        run_stream(fall_stream(), fall_frames(), "x", sinks=[sink])
    if suffix == ".mp4":
        assert video.stat().st_size > 0  # written as the frames came
    sink.close()
    assert sink.frames == 20 and sink.seen == len(STAMPS)
    frames = iio.imread(video)
    assert len(frames) == 20 and frames.shape[-1] == 3
    noise = " ".join(r.getMessage() for r in caplog.records) + capfd.readouterr().err
    assert "macro_block_size" not in noise  # issue 24 (7): no imageio-ffmpeg resize warning


class Receiver(BaseHTTPRequestHandler):
    """Answers each POST with the next status of ``statuses`` (then 200), keeping bodies."""

    statuses: list[int] = []
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802  (the http.server name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.statuses, Receiver.bodies = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()
    server.server_close()


def test_the_webhook_posts_fall_alerts_and_retries_a_failing_receiver(receiver):
    Receiver.statuses = [503, 500]
    sink = WebhookSink(receiver, backoff_s=0.01)
    run_stream(fall_stream(), fall_frames(), "room-1", sinks=[sink])
    assert sink.delivered == 1 and not sink.failed
    assert len(Receiver.bodies) == 3  # two failures, then the same alert delivered
    assert Receiver.bodies[-1]["kind"] == "fall_alert"
    assert Receiver.bodies[-1]["source"] == "room-1"


def test_a_refusing_or_dead_receiver_is_recorded_not_raised(receiver):
    Receiver.statuses = [400]
    refused = WebhookSink(receiver, backoff_s=0.0)
    run_stream(fall_stream(), fall_frames(), "x", sinks=[refused])
    assert len(Receiver.bodies) == 1 and refused.failed[0][1] == "HTTP 400"  # no retry
    dead = WebhookSink("http://127.0.0.1:9/alerts", retries=2, backoff_s=0.0, timeout_s=1)
    run_stream(fall_stream(), fall_frames(), "x", sinks=[dead])
    assert dead.delivered == 0 and len(dead.failed) == 1
    assert dead.failed[0][0]["kind"] == "fall_alert"


def _subscriber(broker, topic: str):
    import paho.mqtt.client as mqtt

    received: list[tuple[str, dict]] = []
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.username_pw_set(broker.username, broker.password)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda c, u, m: received.append((m.topic, json.loads(m.payload)))
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert ready.wait(10), "the subscriber never subscribed"
    return client, received


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_events_reach_a_real_mqtt_broker_per_sensor_and_kind(mqtt_broker):
    client, received = _subscriber(mqtt_broker, "thermal-action/+/#")
    sink = MqttSink(mqtt_broker.host, mqtt_broker.port, username=mqtt_broker.username,
                    password=mqtt_broker.password)
    result = run_stream(fall_stream(), fall_frames(), "room-1", sinks=[sink])
    sink.close()
    assert sink.unacknowledged == 0 and sink.published == len(result.events)
    assert _wait_for(lambda: len(received) == len(result.events))
    client.loop_stop()
    client.disconnect()
    topics = {topic for topic, _ in received}
    assert "thermal-action/room-1/fall_alert" in topics
    assert "thermal-action/room-1/track_started" in topics
    alert = next(body for topic, body in received if topic.endswith("/fall_alert"))
    assert alert["source"] == "room-1" and alert["label"] == "fall-related"


def test_mqtt_refuses_a_wrong_password_and_queues_through_a_broker_restart(mqtt_broker):
    with pytest.raises(ValueError, match="MQTT broker"):
        MqttSink(mqtt_broker.host, 9)  # nothing listens there
    with pytest.raises(ValueError, match="refused the connection .*(authori|password)"):
        MqttSink(mqtt_broker.host, mqtt_broker.port, username="sensor", password="wrong")
    sink = MqttSink(mqtt_broker.host, mqtt_broker.port, username=mqtt_broker.username,
                    password=mqtt_broker.password, kinds=["fall_alert"], timeout_s=20)
    assert _wait_for(lambda: sink.client.is_connected())
    mqtt_broker.stop()
    assert _wait_for(lambda: not sink.client.is_connected())
    run_stream(fall_stream(), fall_frames(), "room-2", sinks=[sink])  # broker down
    assert sink.published == 1
    mqtt_broker.restart()
    client, received = _subscriber(mqtt_broker, "thermal-action/room-2/fall_alert")
    sink.close()  # waits for the queued alert to be acknowledged after reconnecting
    assert sink.unacknowledged == 0
    assert _wait_for(lambda: len(received) == 1)
    client.loop_stop()
    client.disconnect()
