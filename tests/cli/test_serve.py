"""``data replay --mqtt`` as a sensor publishing to a real broker, and ``serve``'s config
errors as one line."""

from __future__ import annotations

import json

from tests.runtime.test_sinks import _subscriber, _wait_for


def test_replay_publishes_a_recording_as_a_sensor(tiny_root, mqtt_broker, capsys):
    from thermal_action.cli.main import main

    client, received = _subscriber(mqtt_broker, "thermal-action/room-9/frames")
    assert main(["data", "replay", str(tiny_root / "frames" / "REC_A.h5"), "--mqtt",
                 f"{mqtt_broker.host}:{mqtt_broker.port}", "--sensor", "room-9",
                 "--username", mqtt_broker.username, "--password", mqtt_broker.password]) == 0
    assert "room-9: published 80 frames" in capsys.readouterr().out
    assert _wait_for(lambda: len(received) == 80)
    client.loop_stop()
    client.disconnect()
    stamps = [message["timestamp_ms"] for _, message in received]
    assert stamps == sorted(stamps) and len(received[0][1]["frame"]) == 40
    assert main(["data", "replay", str(tiny_root / "frames" / "REC_A.h5"), "--mqtt",
                 f"{mqtt_broker.host}:{mqtt_broker.port}", "--username", "sensor",
                 "--password", "wrong"]) == 2
    assert "refused the connection" in capsys.readouterr().err


def test_serve_refuses_a_malformed_config_in_one_line(tmp_path, capsys):
    from thermal_action.cli.main import main

    path = tmp_path / "serve.yaml"
    path.write_text("model: [")
    assert main(["serve", "--config", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{path}: not YAML" in line
    assert main(["serve", "--config", str(path), "--shard", "2/2"]) == 2
    assert "--shard 2/2" in capsys.readouterr().err


def test_serve_follows_a_replayed_sensor_and_its_dashboard_answers(tiny_root, mqtt_broker,
                                                                    tmp_path):
    """From the command line as a user runs it: serve with a config, a recording replayed
    as a sensor, events on the broker, the dashboard up (with the sensor's zones), a clean
    stop on SIGTERM."""
    import signal
    import subprocess
    import sys
    import urllib.request

    import yaml

    from tests.cli.test_fall_stage import ZONES
    from tests.conftest import _free_port, untrained_checkpoint

    checkpoint = untrained_checkpoint("person-lite", tmp_path / "lite.pth")
    port = _free_port()
    config = tmp_path / "serve.yaml"
    (tmp_path / "room-1.yaml").write_text(ZONES)
    config.write_text(yaml.safe_dump(dict(zones={"room-1": "room-1.yaml"},
        broker=dict(host=mqtt_broker.host, port=mqtt_broker.port,
                    username=mqtt_broker.username, password=mqtt_broker.password),
        model=dict(config="person-lite", checkpoint=str(checkpoint)), sensors=["room-1"],
        store="alerts.db", dashboard=dict(port=port, token="tok"),
        sinks=[dict(type="JsonLinesSink", path=str(tmp_path / "events.jsonl"))])))
    serve = subprocess.Popen([sys.executable, "-m", "thermal_action.cli.main", "serve",
                              "--config", str(config)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        first = serve.stdout.readline()
        assert first.startswith("dashboard: http://127.0.0.1:"), first + serve.stderr.read()
        assert serve.stdout.readline().startswith("serving 1 sensors from")
        client, received = _subscriber(mqtt_broker, "thermal-action/room-1/events")
        replay = subprocess.run(
            [sys.executable, "-m", "thermal_action.cli.main", "data", "replay",
             str(tiny_root / "frames" / "REC_A.h5"), "--mqtt",
             f"{mqtt_broker.host}:{mqtt_broker.port}", "--sensor", "room-1", "--username",
             mqtt_broker.username, "--password", mqtt_broker.password],
            capture_output=True, text=True, timeout=120)
        assert replay.returncode == 0, replay.stderr
        assert _wait_for(lambda: any(m["kind"] == "track_started" for _, m in received), 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/alerts?token=tok",
                                    timeout=10) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/events?token=tok",
                                    timeout=10) as feed:
            first = next(line for line in feed if line.startswith(b"data: "))
        zones = json.loads(first[len(b"data: "):])  # the sensor's zones come first
        assert zones["type"] == "zones" and zones["sensor"] == "room-1"
        assert [zone["name"] for zone in zones["zones"]] == ["bed"]
        client.loop_stop()
        client.disconnect()
    finally:
        serve.send_signal(signal.SIGTERM)
        out, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, err
    assert "room-1: 80 frames" in out and "latency, frame arrival" in out
    assert (tmp_path / "alerts.db").is_file()
    assert "track_started" in (tmp_path / "events.jsonl").read_text()


def test_alerts_a_killed_serve_left_unpublished_go_out_when_it_starts_again(mqtt_broker,
                                                                             tmp_path):
    """What ``kill -9`` between storing an alert and the broker's acknowledgement leaves:
    an unpublished alert in the store. The next ``serve`` publishes it, with its id."""
    import signal
    import subprocess
    import sys

    import yaml

    from tests.conftest import untrained_checkpoint
    from thermal_action.runtime.alert_store import AlertStore

    store = AlertStore(tmp_path / "alerts.db")
    left, _ = store.add("room-7", 2, 41_000, 37_500, 0.81)
    store.close()
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump(dict(
        broker=dict(host=mqtt_broker.host, port=mqtt_broker.port,
                    username=mqtt_broker.username, password=mqtt_broker.password),
        model=dict(config="person-lite",
                   checkpoint=str(untrained_checkpoint("person-lite", tmp_path / "l.pth"))),
        store="alerts.db")))
    client, received = _subscriber(mqtt_broker, "thermal-action/+/alerts")
    serve = subprocess.Popen([sys.executable, "-m", "thermal_action.cli.main", "serve",
                              "--config", str(config)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stdout.readline().startswith("serving any sensor")
        assert _wait_for(lambda: len(received) == 1, 30)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
        client.loop_stop()
        client.disconnect()
    topic, alert = received[0]
    assert topic == "thermal-action/room-7/alerts" and alert["id"] == left.id
    again = AlertStore(tmp_path / "alerts.db")
    assert again.unpublished() == [] and again.get(left.id).published_at is not None
