"""``serve`` under faults, end to end through a loopback mosquitto: simulated recordings
with falls replayed as live 10 fps sensors while the broker is killed (-9) and restarted,
``serve`` is killed (-9) and restarted, one sensor sends garbage, one stops for a while,
and a dashboard client never reads. A subscriber that stays connected (QoS 1) records
every alert delivered; the alert store is the record of what ``serve`` raised.

    python benchmarks/serve_faults.py --model CONFIG CHECKPOINT [--data DATASET]
        [--sensors 8] [--seconds 150] [--broker-every 600]

The broker is first killed at a quarter of the run (at most 60 s in), ``serve`` at 0.45
(at most 120 s), the silent sensor stops at 0.55 (at most 150 s). For a long run
(``--seconds 3900``: the second ``serve`` lives over an hour) the broker is
killed again every ``--broker-every`` seconds after ``serve``'s restart and the silent
sensor goes quiet for 15 s every ``--broker-every`` seconds, while serve's resident memory
is sampled every 30 s.

Printed: alerts raised (stored) and delivered, alerts lost (stored, never delivered),
repeats (the same id delivered again: allowed, at-least-once), falls alerted twice under
different ids (two alerts of one sensor whose falls began within 30 s of each other, and
whether at one place: the store keeps one alert per fall and place),
garbage lines counted, sensor offline/online events, serve's resident memory (at its
start, and for the second run every 30 s: its median over the first and the last tenth
and the slope of a line fitted past its first 5 minutes, MB per hour), and the latency
p99 of the last run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import _free_port, _start_mosquitto  # noqa: E402  (the tests' broker)

FPS = 10
SAME_FALL_S = 30.0
"""Two alerts of one sensor whose falls began this close are one fall alerted twice."""


def _serve(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "thermal_action.cli.main", "serve",
                             "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _started(server: subprocess.Popen) -> None:
    for line in server.stdout:
        if line.startswith("serving"):
            return
    raise SystemExit("serve did not start")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _publish(port: int, feeds: list[list[str]], seconds: float, stop_sensor: int,
             stop_span: tuple[float, float], garbage_sensor: int, stop_every: float) -> None:
    """The sensors at 10 fps in real time (a process of its own): one sensor silent during
    ``stop_span`` (s) and again as long every ``stop_every`` s after it, one sending a
    garbage line every second besides its frames."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.reconnect_delay_set(0.2, 1.0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    for tick in range(int(seconds * FPS)):
        delay = start + tick / FPS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now_s = tick / FPS
        for sensor, feed in enumerate(feeds):
            since = now_s - stop_span[0]
            if sensor == stop_sensor and since >= 0 and \
                    since % stop_every < stop_span[1] - stop_span[0]:
                continue
            body = feed[tick % len(feed)]
            client.publish(f"thermal-action/s{sensor:02d}/frames",
                           f'{{"timestamp_ms":{tick * 100 + 1},{body}', qos=0)
        if tick % FPS == 0:
            client.publish(f"thermal-action/s{garbage_sensor:02d}/frames", b"\x00not json")
    client.loop_stop()
    client.disconnect()


class Subscriber:
    """Stays subscribed to every alert and event (QoS 1), reconnecting after a broker
    restart; keeps each alert message and counts the status events."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.alerts: list[dict] = []
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="faults-bench",
                                  clean_session=False)
        self.client.reconnect_delay_set(0.2, 1.0)
        self.client.on_connect = lambda c, *_: c.subscribe(
            [("thermal-action/+/alerts", 1), ("thermal-action/+/events", 1)])
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client, userdata, message) -> None:
        body = json.loads(message.payload)
        with self.lock:
            (self.alerts if message.topic.endswith("/alerts") else self.events).append(body)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _stalled_dashboard_client(port: int, token: str) -> socket.socket:
    """A dashboard client that opens the live feed and never reads from it."""
    client = socket.create_connection(("127.0.0.1", port))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.sendall(f"GET /api/events?token={token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return client


def _feeds(root: Path, count: int) -> list[list[str]]:
    import numpy as np

    from thermal_action.data.live import live_lines
    from thermal_action.data.recording import open_recording

    feeds = []
    paths = sorted((root / "frames").glob("*.h5"))[:count]
    for path in paths:
        with open_recording(path) as recording:
            frames = recording.read_frames(range(recording.frames.shape[0]))
        feeds.append([line[line.index('"frame"'):]
                      for line in live_lines(frames, np.arange(len(frames)) * 100)])
    return feeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--data", type=Path, default=None,
                        help="dataset whose recordings become sensors (default: simulated "
                             "here with falls)")
    parser.add_argument("--sensors", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--broker-every", type=float, default=600.0,
                        help="after serve's restart, kill the broker again this often (s)")
    args = parser.parse_args()
    import yaml

    from thermal_action.engine.export import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.data is None:  # recordings rich in falls, as the fall stage learns from
            from thermal_action.engine.fall_stage import simulated_stage_dataset

            args.data = simulated_stage_dataset(folder / "sim", max(args.sensors, 2), 1200,
                                                seed=77)
        feeds = _feeds(args.data, args.sensors)
        port, dashboard_port = _free_port(), _free_port()
        broker_conf = folder / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""
        broker_conf.write_text(f"{user}listener {port} 127.0.0.1\nallow_anonymous true\n"
                               "persistence false\nmax_queued_messages 100000\n")
        model = export_onnx(*args.model, folder / "model.onnx")
        store = folder / "alerts.db"
        token = "bench-token"
        config = folder / "serve.yaml"
        config.write_text(yaml.safe_dump(dict(
            broker=dict(host="127.0.0.1", port=port),
            model=dict(config=args.model[0], checkpoint=str(model)), store=str(store),
            offline_after_s=5, dashboard=dict(host="127.0.0.1", port=dashboard_port,
                                              token=token))))
        broker = _start_mosquitto(broker_conf, port)
        subscriber = Subscriber(port)
        server = _serve(config)
        _started(server)
        rss_start = _rss_mb(server.pid)
        stalled = _stalled_dashboard_client(dashboard_port, token)
        seconds = args.seconds
        silent_s = min(0.55 * seconds, 150)
        publisher = multiprocessing.Process(target=_publish, args=(
            port, feeds, seconds, 1, (silent_s, silent_s + 15), 2, args.broker_every))
        publisher.start()
        began = time.monotonic()
        faults = []

        def at(fraction: float, latest_s: float) -> None:
            delay = began + min(fraction * seconds, latest_s) - time.monotonic()
            if delay > 0:
                time.sleep(delay)

        at(0.25, 60)
        broker.kill()
        broker.wait()
        faults.append(f"{time.monotonic() - began:5.1f} s: broker killed (-9)")
        time.sleep(5)
        broker = _start_mosquitto(broker_conf, port)
        faults.append(f"{time.monotonic() - began:5.1f} s: broker started again")
        at(0.45, 120)
        server.kill()
        server.wait()
        faults.append(f"{time.monotonic() - began:5.1f} s: serve killed (-9)")
        time.sleep(3)
        stalled.close()
        server = _serve(config)
        _started(server)
        faults.append(f"{time.monotonic() - began:5.1f} s: serve started again")
        stalled = _stalled_dashboard_client(dashboard_port, token)
        restarted, samples = time.monotonic(), []
        next_kill, next_sample = restarted + args.broker_every, restarted
        while publisher.is_alive():
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - restarted, _rss_mb(server.pid)))
                next_sample += 30
            if now >= next_kill and now < began + seconds - 30:
                broker.kill()
                broker.wait()
                time.sleep(5)
                broker = _start_mosquitto(broker_conf, port)
                faults.append(f"{time.monotonic() - began:5.1f} s: broker killed (-9) and "
                              "started again")
                next_kill += args.broker_every
            publisher.join(1)
        time.sleep(3)
        rss_end = _rss_mb(server.pid)
        samples.append((time.monotonic() - restarted, rss_end))
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=120)[0]
        stalled.close()
        time.sleep(2)
        subscriber.close()
        broker.kill()
        with sqlite3.connect(store) as db:
            stored = db.execute("SELECT id, sensor, time_ms, start_ms, x1, y1, x2, y2 "
                                "FROM alerts ORDER BY sensor, time_ms").fetchall()
    delivered = [alert["id"] for alert in subscriber.alerts]
    lost = [row[0] for row in stored if row[0] not in set(delivered)]
    unknown = set(delivered) - {row[0] for row in stored}
    from thermal_action.tracking.detections import box_iou

    close_pairs = []  # two alerts of one sensor whose falls began < SAME_FALL_S apart
    for first, second in zip(stored, stored[1:], strict=False):
        if first[1] == second[1] and (second[3] or 0) - (first[3] or 0) < SAME_FALL_S * 1000:
            overlap = (float(box_iou(first[4:], second[4:])[0, 0])
                       if None not in (*first[4:], *second[4:])
                       else float("nan"))
            close_pairs.append((first[0], second[0], overlap))
    kinds = [event["kind"] for event in subscriber.events]
    skipped = re.search(rf"s{2:02d}: \d+ frames; skipped (\d+)", output)
    latency = re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", output)
    for line in faults:
        print(line)
    print(f"sensors: {args.sensors}, {seconds:.0f} s at {FPS} fps; one silent for 15 s "
          f"every {args.broker_every:.0f} s, one "
          "sending garbage, a dashboard client that never reads")
    print(f"alerts raised (stored): {len(stored)}; delivered: {len(set(delivered))} distinct "
          f"in {len(delivered)} messages ({len(delivered) - len(set(delivered))} repeats of "
          f"the same id); lost: {len(lost)}; delivered but not stored: {len(unknown)}")
    print(f"alerts of one sensor whose falls began < {SAME_FALL_S:.0f} s apart: "
          f"{len(close_pairs)} (at another place, box IoU < 0.3: "
          f"{sum(pair[2] < 0.3 for pair in close_pairs)})")
    for first, second, overlap in close_pairs:
        print(f"  {first} and {second}: box IoU {overlap:.2f}")
    print(f"garbage lines counted on s02 (last run): "
          f"{skipped.group(1) if skipped else 'none reported'}; "
          f"sensor_offline events: {kinds.count('sensor_offline')}, sensor_online: "
          f"{kinds.count('sensor_online')}")
    print(f"serve memory: {rss_start:.0f} MB at start, {rss_end:.0f} MB at the end of the "
          "second run")
    _print_memory(samples)
    if latency:
        print(f"latency of the second run: p50 {latency.group(1)} ms, p99 {latency.group(2)} ms")


def _print_memory(samples: list[tuple[float, float]]) -> None:
    """The second run's resident memory: medians of its first and last tenth, and the
    slope past its first 5 minutes (when it lasted over 10)."""
    import numpy as np

    times, rss = (np.array(column, np.float64) for column in zip(*samples, strict=True))
    tenth = max(1, len(samples) // 10)
    print(f"second run, {times[-1] / 60:.0f} min, {len(samples)} samples: resident memory "
          f"median {np.median(rss[:tenth]):.0f} MB in its first tenth, "
          f"{np.median(rss[-tenth:]):.0f} MB in its last, max {rss.max():.0f} MB")
    settled = times >= 300
    if times[-1] >= 600 and settled.sum() >= 3:
        slope = np.polyfit(times[settled] / 3600, rss[settled], 1)[0]
        print(f"  past its first 5 minutes: {slope:+.1f} MB per hour")


if __name__ == "__main__":
    main()
