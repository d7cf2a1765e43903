"""Draw ``docs/images/dashboard.png``: ``serve``'s dashboard in headless Chromium while
simulated recordings with falls play as four sensors.

    python benchmarks/dashboard_picture.py --model CONFIG CHECKPOINT --data work_dirs/demo/data
        [--out docs/images/dashboard.png]

The recordings (of a dataset ``thermal-action demo`` or ``data synth`` made) are played
four times faster than real time into an in-process server (no broker: the dashboard
is fed directly); the picture is taken once a fall alert shows, or at the end.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic"]


def with_falls(data: Path, count: int) -> list[Path]:
    """``count`` recordings, those whose annotations hold a person lying with risk (a
    fall) first, the most such annotations first."""
    from thermal_action.data.classes import CLASS_NAMES, ActionClass

    down = CLASS_NAMES[ActionClass.LYING_RISK]
    found: dict[str, int] = {}
    for split in ("val.json", "train.json"):
        document = json.loads((data / "annotations" / split).read_text())
        sensors = {image["id"]: image["sensor_id"] for image in document["images"]}
        for annotation in document["annotations"]:
            if annotation["category_name"] == down:
                sensor = sensors[annotation["image_id"]]
                found[sensor] = found.get(sensor, 0) + 1
    files = {path.stem: path for path in (data / "frames").glob("*.h5")}
    chosen = [files[name] for name, _ in sorted(found.items(), key=lambda i: -i[1])
              if name in files][:count]
    return chosen + [p for p in sorted(files.values()) if p not in chosen][:count - len(chosen)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/images/dashboard.png"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from thermal_action.data.live import live_lines
    from thermal_action.data.recording import open_recording
    from thermal_action.runtime.dashboard import Dashboard, DashboardServer
    from thermal_action.runtime.serve import ServeConfig, build_server

    recordings = with_falls(args.data, 4)
    feeds = []
    for number, path in enumerate(recordings, start=101):
        with open_recording(path) as recording:
            frames = recording.read_frames(range(recording.frames.shape[0]))
            stamps = recording.read_timestamps()
        feeds.append((f"room-{number}", list(live_lines(frames, stamps))))
    with tempfile.TemporaryDirectory() as tmp:
        server = build_server(ServeConfig(model=tuple(args.model),
                                          store=str(Path(tmp) / "alerts.db")))
        token = secrets.token_urlsafe()
        board = Dashboard(server.store, token, frame_interval_s=0.25)
        server.watchers.append(board.update)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        web = DashboardServer(board, "127.0.0.1", port)
        web.start()
        done = threading.Event()

        def play() -> None:
            longest = max(len(lines) for _, lines in feeds)
            for index in range(longest):
                for sensor, lines in feeds:
                    if index < len(lines):
                        server.receive(f"thermal-action/{sensor}/frames", lines[index].encode())
                server.step(wait_s=0.0)
                time.sleep(0.025)  # 10 fps sensors, 4x real time
            done.set()

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport=dict(width=1100, height=640))
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_selector("#connection:text('live')", timeout=15_000)
            player = threading.Thread(target=play, daemon=True)
            player.start()
            deadline = time.monotonic() + 600
            while not done.is_set() and time.monotonic() < deadline:
                if page.query_selector("#alerts tr.open") and len(board.latest) == len(feeds):
                    time.sleep(1.0)
                    break
                time.sleep(0.2)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
        web.stop()
        print(f"dashboard: {args.out} ({len(server.store.recent())} alerts; "
              f"{', '.join(p.stem for p in recordings)})")


if __name__ == "__main__":
    main()
