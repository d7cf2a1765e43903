"""The live dashboard in a real headless browser (Debian's Chromium driven by Playwright,
nothing downloaded): a simulated fall raises an alert on the page, a click acknowledges
it in the store, the sensor's zones are drawn, older alerts come a page at a time; no
token, no page; a client that never reads costs a bounded queue."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request

import pytest

from tests.conftest import _free_port, _needs_service
from tests.runtime.test_serve import CALM, FALL, SHAPE, feed, lines_of, make_server
from tests.runtime.test_sinks import _wait_for
from thermal_action.data.zones import Zone, Zones, rectangle
from thermal_action.runtime.dashboard import Dashboard, DashboardServer

TOKEN = "t0ken-for-tests"
ZONE_PIXELS = """(sensor) => {
  const canvas = document.querySelector(`.sensor[data-sensor='${sensor}'] canvas`);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;  // pixels of the bed's outline colour (#4fc3f7)
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 79) + Math.abs(data[i + 1] - 195) + Math.abs(data[i + 2] - 247) < 30)
      count++;
  }
  return count;
}"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic"]


@pytest.fixture
def live(tmp_path):
    """A server fed by a thread, its dashboard on a free loopback port."""
    server, _ = make_server(tmp_path, sensors=("room-1", "room-2", "room-3"))
    bed = Zones([Zone("bed-1", "bed", rectangle((0.5, 0.5, 3.5, 2.5)))], SHAPE)
    board = Dashboard(server.store, TOKEN, frame_interval_s=0.1, queue_size=8,
                      sensors=server.config.sensors, zones={"room-2": bed})
    server.watchers.append(board.update)
    port = _free_port()
    web = DashboardServer(board, "127.0.0.1", port)
    web.start()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            server.step(wait_s=0.05)

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    yield server, board, f"http://127.0.0.1:{port}"
    stop.set()
    worker.join(10)
    web.stop()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_every_request_needs_the_token(live):
    _, _, url = live
    assert _get(url + "/")[0] == 401
    assert _get(url + "/api/alerts?token=wrong")[0] == 401
    status, body = _get(url + f"/api/alerts?token={TOKEN}")
    assert status == 200 and json.loads(body) == dict(alerts=[], next_before=None, open=0)
    request = urllib.request.Request(url + "/api/alerts", headers={
        "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_the_alerts_api_pages_and_filters(live):
    server, _, url = live
    for number in range(5):
        server.store.add("room-1", number, 1_000 * number, None, 0.9)
    server.store.acknowledge("room-1:3:3000", "nurse")
    pages, before = [], ""
    while before is not None:
        status, body = _get(url + f"/api/alerts?token={TOKEN}&limit=2&before={before}")
        page = json.loads(body)
        pages.append([alert["track_id"] for alert in page["alerts"]])
        before = page["next_before"]
    assert pages == [[4, 3], [2, 1], [0]] and page["open"] == 4
    opened = json.loads(_get(url + f"/api/alerts?token={TOKEN}&open=1")[1])["alerts"]
    assert [alert["track_id"] for alert in opened] == [4, 2, 1, 0]
    for bad in ("limit=0", "limit=501", "limit=x", "before=soon"):
        status, body = _get(url + f"/api/alerts?token={TOKEN}&{bad}")
        assert status == 400 and b"limit must be 1 to 500" in body


def test_a_client_that_never_reads_costs_a_bounded_queue(live):
    server, board, url = live
    board.frame_interval_s = 0.0  # every frame to the page: megabytes, more than the
    stalled = urllib.request.urlopen(url + f"/api/events?token={TOKEN}", timeout=10)
    try:  # connected, never read; its socket buffers fill, then its queue
        feed(server, "room-1", lines_of(CALM * 100))
        assert _wait_for(lambda: server.sensors.get("room-1") and
                     server.sensors["room-1"].frames == 12_000, 60)
        assert _wait_for(lambda: board.dropped > 0, 20)  # its oldest updates went, nothing waited
        assert all(client.qsize() <= board.queue_size for client in board._clients)
    finally:
        stalled.close()


def test_a_simulated_fall_appears_in_the_browser_and_is_acknowledged(live, tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.os.path.exists(chromium):
        _needs_service("chromium is not installed (apt-get install chromium; "
                       "`make system-deps` does it)")
    from playwright.sync_api import sync_playwright  # a dev dependency: never skipped

    server, _, url = live
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(url + f"/?token={TOKEN}")
            page.wait_for_selector("#connection:text('live')", timeout=15_000)
            never = page.wait_for_selector(".sensor[data-sensor='room-3'] .state",
                                           timeout=15_000)
            assert never.inner_text() == "no frame yet"  # configured, never reported
            feed(server, "room-1", lines_of(FALL))
            feed(server, "room-2", lines_of(CALM))
            page.wait_for_selector(".sensor[data-sensor='room-2'] canvas", timeout=15_000)
            row = page.wait_for_selector("#alerts tr.open", timeout=20_000)
            assert "room-1" in row.inner_text()
            assert page.inner_text("#open-count") == "1 open"
            alert_id = row.get_attribute("data-alert")
            assert page.evaluate(ZONE_PIXELS, "room-2") > 10  # the bed's outline is drawn
            assert page.evaluate(ZONE_PIXELS, "room-1") == 0  # room-1 has no zones
            page.screenshot(path=str(tmp_path / "dashboard.png"))
            row.query_selector("button").click()
            page.wait_for_selector(f"#alerts tr[data-alert='{alert_id}']:not(.open)",
                                   timeout=10_000)
            page.wait_for_selector("#open-count:text('none open')", timeout=10_000)

            for number in range(25):  # older alerts than a page shows
                server.store.add("room-3", number, 1_000 * number, None, 0.5)
            page.check("#only-open")  # reloads: the 25 open ones, a page at a time
            page.wait_for_function("document.querySelectorAll('#alerts tbody tr').length"
                                   " == 20", timeout=10_000)
            assert page.is_visible("#older")
            page.click("#older")
            page.wait_for_function("document.querySelectorAll('#alerts tbody tr').length"
                                   " == 25", timeout=10_000)
            assert page.is_hidden("#older")
            assert page.query_selector(f"#alerts tr[data-alert='{alert_id}']") is None
        finally:
            browser.close()
    stored = server.store.get(alert_id)
    assert stored.acknowledged_at is not None and stored.acknowledged_by == "dashboard"
    assert (tmp_path / "dashboard.png").stat().st_size > 1000
