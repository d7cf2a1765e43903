"""The live dashboard ``serve`` offers: each sensor's heat map with boxes, ids and current
actions and its zones (beds, couches, chairs, doors), the alert list (open ones counted,
older ones a page at a time, acknowledged with a button and stored in the SQLite alert
store), and each sensor's status. A small Starlette app; the page gets its updates as
server-sent events. Every request needs the token (``?token=`` or
``Authorization: Bearer``). A client that never reads costs a bounded queue: its oldest
updates are dropped, the server never waits for it."""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from thermal_action.data.sensor import invalid_mask
from thermal_action.runtime.alert_store import AlertStore

if TYPE_CHECKING:
    from thermal_action.data.zones import Zones

PAGE = Path(__file__).with_name("dashboard.html")
ALERTS_PAGE = 20
"""Alerts per page of ``/api/alerts`` unless ``?limit=`` says (at most ``MAX_ALERTS_PAGE``)."""
MAX_ALERTS_PAGE = 500


class Dashboard:
    """Keeps what the page shows and hands updates to its clients. ``update(kind, data)``
    is called by the server's thread for every frame result, alert and status;
    ``frame_interval_s`` limits how often a sensor's heat map is sent; ``sensors`` (the
    config's) are shown as waiting until their first frame, so a sensor that never
    reported is seen; ``zones`` (sensor -> its zones) are drawn over its heat map."""

    def __init__(self, store: AlertStore, token: str, frame_interval_s: float = 0.5,
                 queue_size: int = 64, sensors: tuple[str, ...] = (),
                 zones: Mapping[str, Zones] | None = None) -> None:
        if not token:
            raise ValueError("the dashboard needs a token")
        self.store, self.token = store, token
        self.frame_interval_s, self.queue_size = frame_interval_s, queue_size
        self.latest: dict[str, dict] = {}  # sensor -> its last frame message
        self.status: dict[str, dict] = {  # configured sensors are listed before any frame
            sensor: dict(type="status", sensor=sensor, status="waiting",
                         last_timestamp_ms=None, frames=0, skipped={})
            for sensor in sensors}
        self.zones = {sensor: zones_message(sensor, sensor_zones)
                      for sensor, sensor_zones in (zones or {}).items()}
        self.dropped = 0  # updates a slow client never got
        self._sent_at: dict[str, float] = {}
        self._clients: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    # -- from the server's thread ----------------------------------------------------
    def update(self, kind: str, data: Any) -> None:
        if kind == "frame":
            now = time.monotonic()
            if now - self._sent_at.get(data.source, -np.inf) < self.frame_interval_s \
                    and not data.events:
                return
            self._sent_at[data.source] = now
            message = frame_message(data)
            self.latest[data.source] = message
        elif kind == "alert":
            message = self.alert_message(data)
        elif kind == "status":
            message = dict(type="status", **data)
            self.status[data["sensor"]] = message
        else:
            return
        with self._lock:
            loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._broadcast, message)

    def alert_message(self, alert) -> dict:
        """An alert as the page shows it, with the number of alerts still open."""
        return dict(type="alert", alert=alert.to_json(), open=self.store.count_open())

    def _broadcast(self, message: dict) -> None:
        for client in list(self._clients):
            if client.full():
                client.get_nowait()  # the oldest update goes: the page catches up
                self.dropped += 1
            client.put_nowait(message)

    # -- the web app -----------------------------------------------------------------
    def authorized(self, request) -> bool:
        given = request.query_params.get("token") or request.headers.get(
            "authorization", "").removeprefix("Bearer ").strip()
        return bool(given) and hmac.compare_digest(given, self.token)

    def app(self):
        """The Starlette application."""
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
        from starlette.routing import Route

        def guard(handler):
            async def checked(request):
                if not self.authorized(request):
                    return PlainTextResponse("a valid token is needed", status_code=401)
                return await handler(request)
            return checked

        async def page(request):
            return HTMLResponse(PAGE.read_text())

        async def alerts(request):
            try:
                limit = int(request.query_params.get("limit", ALERTS_PAGE))
                before = request.query_params.get("before")
                before = None if before in (None, "") else int(before)
                if not 1 <= limit <= MAX_ALERTS_PAGE:
                    raise ValueError
            except ValueError:
                return JSONResponse(dict(error=f"limit must be 1 to {MAX_ALERTS_PAGE} and "
                                         "before a cursor from an earlier page"),
                                    status_code=400)
            only_open = request.query_params.get("open", "") in ("1", "true")
            page, cursor = self.store.page(limit, before, only_open)
            return JSONResponse(dict(alerts=[alert.to_json() for alert in page],
                                     next_before=cursor, open=self.store.count_open()))

        async def acknowledge(request):
            key = request.path_params["alert_id"]
            by = request.query_params.get("by", "dashboard")
            if not self.store.acknowledge(key, by):
                return JSONResponse(dict(error=f"no alert {key}"), status_code=404)
            alert = self.store.get(key)
            self._broadcast(self.alert_message(alert))
            return JSONResponse(alert.to_json())

        async def events(request):
            return self._event_stream(request)

        return Starlette(routes=[
            Route("/", guard(page)),
            Route("/api/alerts", guard(alerts)),
            Route("/api/alerts/{alert_id:path}/ack", guard(acknowledge), methods=["POST"]),
            Route("/api/events", guard(events)),
        ])

    def _event_stream(self, request):
        from starlette.responses import StreamingResponse

        with self._lock:
            self._loop = asyncio.get_running_loop()
        client: asyncio.Queue = asyncio.Queue(self.queue_size)
        for message in [*self.zones.values(), *self.status.values(), *self.latest.values()]:
            client.put_nowait(message) if not client.full() else None
        self._clients.add(client)

        async def lines():
            try:
                while True:
                    try:
                        message = await asyncio.wait_for(client.get(), 15)
                        yield f"data: {json.dumps(message)}\n\n"
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                    if await request.is_disconnected():
                        break
            finally:
                self._clients.discard(client)

        return StreamingResponse(lines(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})


def frame_message(result) -> dict:
    """A frame result as the page draws it: deg C to 0.1 (None: no reading), the tracks."""
    frame = result.frame_c
    pixels = np.round(frame.astype(np.float64), 1)
    values = np.where(invalid_mask(frame), np.nan, pixels).tolist()
    values = [[None if v != v else v for v in row] for row in values]
    return dict(type="frame", sensor=result.source, timestamp_ms=result.timestamp_ms,
                height=int(frame.shape[0]), width=int(frame.shape[1]), pixels=values,
                tracks=[track.to_json() for track in result.tracks])


def zones_message(sensor: str, zones: Zones) -> dict:
    """A sensor's zones as the page draws them: name, kind, outline colour, polygon (pixels,
    x right, y down)."""
    from thermal_action.data.zones import KIND_COLOURS

    return dict(type="zones", sensor=sensor, zones=[
        dict(name=zone.name, kind=zone.kind, colour=KIND_COLOURS[zone.kind],
             polygon=[[round(float(x), 2), round(float(y), 2)] for x, y in zone.polygon_xy])
        for zone in zones])


class DashboardServer:
    """Uvicorn serving ``dashboard.app()`` on ``host:port`` in a thread of its own."""

    def __init__(self, dashboard: Dashboard, host: str = "127.0.0.1", port: int = 8080
                 ) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(dashboard.app(), host=host, port=port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise ValueError("the dashboard did not start (is its port free?)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
