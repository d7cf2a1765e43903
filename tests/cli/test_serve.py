"""``data replay --mqtt`` as a sensor publishing to a real broker, and ``serve``'s config
errors as one line."""

from __future__ import annotations

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
