"""``serve`` measured: how many 10 fps sensors one process keeps up with, and the latency
from a frame's arrival to its events being published (p50, p99), through a loopback
mosquitto, with 1 and 2 ``serve`` processes (``--shard``); a plot of sensors vs latency.

    python benchmarks/serve.py [--model CONFIG CHECKPOINT] [--detector CONFIG CHECKPOINT]
        [--sensors 10 50 100] [--seconds 30] [--out work_dirs/bench-serve]

Simulated recordings with 1-3 people are replayed as sensors (each sensor its own
recording, times shifted so every sensor's clock advances) by one publisher process at
10 fps in real time. The action model runs in onnxruntime (exported here); without
``--model`` an untrained ``person-lite`` stands in (the cost of a model does not depend
on its weights, so the timings hold; its actions are noise). Without ``--detector`` the
warm-blob detector finds the people.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

FPS = 10


def _lines(root: Path) -> list[list[str]]:
    from thermal_action.data.live import live_lines
    from thermal_action.data.recording import open_recording

    feeds = []
    for path in sorted((root / "frames").glob("*.h5")):
        with open_recording(path) as recording:
            frames = recording.read_frames(range(recording.frames.shape[0]))
        feeds.append([line[line.index('"frame"'):] for line in
                      live_lines(frames, np.arange(len(frames)) * 100)])
    return feeds


def _publish(port: int, feeds: list[list[str]], sensors: int, seconds: float,
             ready) -> None:
    """Publish ``sensors`` sensors at 10 fps for ``seconds`` (a process of its own)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.wait()
    start = time.monotonic()
    for tick in range(int(seconds * FPS)):
        delay = start + tick / FPS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for sensor in range(sensors):
            feed = feeds[sensor % len(feeds)]
            body = feed[(tick + 7 * sensor) % len(feed)]
            client.publish(f"thermal-action/s{sensor:03d}/frames",
                           f'{{"timestamp_ms":{tick * 100 + 1},{body}', qos=0)
    time.sleep(1.0)
    client.loop_stop()
    client.disconnect()


def _serve(config: Path, shard: str | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "thermal_action.cli.main", "serve", "--config",
               str(config)] + (["--shard", shard] if shard else [])
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def run_case(port: int, config: Path, feeds, sensors: int, processes: int,
             seconds: float) -> dict:
    servers = [_serve(config, f"{k}/{processes}" if processes > 1 else None)
               for k in range(processes)]
    for server in servers:  # wait for "serving ..."
        line = server.stdout.readline()
        if not line.startswith("serving"):
            raise SystemExit(f"serve did not start: {line}{server.stdout.read()}")
    ready = multiprocessing.Event()
    publisher = multiprocessing.Process(target=_publish, args=(port, feeds, sensors, seconds,
                                                               ready))
    publisher.start()
    ready.set()
    publisher.join()
    time.sleep(2.0)
    frames, p50, p99 = 0, [], []
    for server in servers:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
        frames += sum(int(n) for n in re.findall(r"^s\d+: (\d+) frames", output, re.M))
        found = re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", output)
        if found:
            p50.append(float(found.group(1)))
            p99.append(float(found.group(2)))
    sent = sensors * int(seconds * FPS)
    return dict(sensors=sensors, processes=processes, sent=sent, processed=frames,
                p50_ms=max(p50, default=float("nan")), p99_ms=max(p99, default=float("nan")))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _replay_tick(server, feeds, sensors: int, tick: int) -> None:
    """One frame of each of ``sensors`` sensors handed to an in-process server, then one
    step of it (no broker)."""
    for sensor in range(sensors):
        feed = feeds[sensor % len(feeds)]
        body = feed[(tick + 7 * sensor) % len(feed)]
        server.receive(f"thermal-action/s{sensor:03d}/frames",
                       f'{{"timestamp_ms":{tick * 100 + 1},{body}'.encode())
    server.step(wait_s=0.0)


def memory_case(config: Path, feeds, sensors: int, hours: float) -> tuple:
    """Resident memory of an in-process server (no broker) after one minute of sensor
    time and after ``hours``; (MB after a minute, MB at the end, frames, wall s)."""
    from thermal_action.runtime.serve import build_server, load_serve_config

    server = build_server(load_serve_config(config))
    ticks, minute = int(hours * 3600 * FPS), None
    start = time.monotonic()
    for tick in range(ticks):
        _replay_tick(server, feeds, sensors, tick)
        if tick == 60 * FPS:
            minute = _rss_mb()
    return minute, _rss_mb(), ticks * sensors, time.monotonic() - start


def capacity_case(config: Path, feeds, sensors: int, ticks: int = 200) -> float:
    """Frames per wall second an in-process server (no broker, no publisher on the same
    cores) takes for ``sensors`` sensors, after 20 ticks of warm-up."""
    from thermal_action.runtime.serve import build_server, load_serve_config

    server = build_server(load_serve_config(config))
    start = None
    for tick in range(ticks):
        if tick == 20:
            start = time.perf_counter()
        _replay_tick(server, feeds, sensors, tick)
    return sensors * (ticks - 20) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=2, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--detector", nargs=2, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--sensors", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("work_dirs/bench-serve"))
    parser.add_argument("--memory-hours", type=float, default=0.0,
                        help="also replay this many hours of sensor time for "
                             "--memory-sensors sensors in one process, as fast as it goes, "
                             "and compare its memory after the first minute and at the end")
    parser.add_argument("--memory-sensors", type=int, default=10)
    parser.add_argument("--capacity", type=int, default=0, metavar="SENSORS",
                        help="also measure the frames per second one in-process server "
                             "takes for this many sensors (no broker), 3 runs")
    args = parser.parse_args()
    import yaml

    from thermal_action.data.synthetic import SynthConfig, generate_dataset
    from thermal_action.engine.export import export_onnx

    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise SystemExit("mosquitto is not installed (make system-deps)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.model is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.conftest import untrained_checkpoint

            args.model = ("person-lite", str(untrained_checkpoint("person-lite",
                                                                  folder / "lite.pth")))
        model_onnx = export_onnx(*args.model, folder / "model.onnx")
        detector = None
        if args.detector:
            detector = dict(type="LearnedDetector", config=args.detector[0],
                            checkpoint=str(export_onnx(*args.detector, folder / "det.onnx")))
        root = generate_dataset(folder / "sim", replace(
            SynthConfig(), num_recordings=12, frames_per_recording=400,
            median_interval_ms=((100.0, 100.0),), seed=23)).root
        feeds = _lines(root)
        port = 18830
        broker_conf = folder / "mosquitto.conf"
        broker_conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                               "persistence false\nmax_queued_messages 100000\n")
        broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                                   str(broker_conf)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        config = folder / "serve.yaml"
        config.write_text(yaml.safe_dump(dict(
            broker=dict(host="127.0.0.1", port=port),
            model=dict(config=args.model[0], checkpoint=str(model_onnx)),
            detector=detector, store=str(folder / "alerts.db"), offline_after_s=30)))
        try:
            rows = [run_case(port, config, feeds, n, 1, args.seconds) for n in args.sensors]
            rows.append(run_case(port, config, feeds, max(args.sensors), 2, args.seconds))
        finally:
            broker.kill()
        if args.capacity:
            runs = [capacity_case(config, feeds, args.capacity) for _ in range(3)]
            print(f"capacity, {args.capacity} sensors in process: "
                  f"{', '.join(f'{r:.0f}' for r in runs)} frames/s (10 fps sensors need "
                  f"{args.capacity * FPS})")
        if args.memory_hours:
            minute, end, frames, wall = memory_case(config, feeds, args.memory_sensors,
                                                    args.memory_hours)
            print(f"memory, {args.memory_sensors} sensors, {args.memory_hours:g} h of sensor "
                  f"time ({frames} frames in {wall:.0f} s): {minute:.0f} MB after the first "
                  f"minute, {end:.0f} MB at the end ({end / minute - 1:+.1%})")
    print(f"{'sensors':>8} {'processes':>9} {'frames sent':>11} {'processed':>9} "
          f"{'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(f"{row['sensors']:>8} {row['processes']:>9} {row['sent']:>11} "
              f"{row['processed']:>9} {row['p50_ms']:>8.0f} {row['p99_ms']:>8.0f}")
    _plot(rows, args.out / "serve_latency.png")
    print(f"plot: {args.out / 'serve_latency.png'}")


def _plot(rows: list[dict], out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for processes in sorted({row["processes"] for row in rows}):
        chosen = [row for row in rows if row["processes"] == processes]
        for key, style in (("p50_ms", "o-"), ("p99_ms", "s--")):
            ax.plot([r["sensors"] for r in chosen], [r[key] for r in chosen], style,
                    label=f"{processes} process{'es' if processes > 1 else ''}, "
                          f"{key[:3]}")
    ax.axhline(1000, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("sensors at 10 fps")
    ax.set_ylabel("frame arrival to events, ms")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out)


if __name__ == "__main__":
    main()
