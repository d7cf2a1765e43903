"""Fall alerts kept in an embedded SQLite file before they are published, so a crash, a
``kill -9`` or a broker restart loses none: an alert is stored, then published until the
broker acknowledges it, and one that never was is published again when ``serve`` starts.
Each alert has an id made from its sensor, track and sensor time, so a receiver can drop
a repeat (at-least-once delivery), and a person acknowledges it on the dashboard."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from thermal_action.tracking.detections import box_iou

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    sensor TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    start_ms INTEGER,
    confidence REAL,
    stored_at REAL NOT NULL,
    published_at REAL,
    acknowledged_at REAL,
    acknowledged_by TEXT,
    x1 REAL, y1 REAL, x2 REAL, y2 REAL
);
CREATE INDEX IF NOT EXISTS alerts_unpublished ON alerts (published_at) WHERE published_at IS NULL;
"""


BOX_COLUMNS = ("x1", "y1", "x2", "y2")
"""Where the person was when the alert was raised (pixels, xyxy); stores made before
these columns get them on opening."""
SAME_ALERT_MS = 120_000
"""An alert within this much sensor time after a stored one of the same sensor, at the
same place (box IoU >= ``SAME_ALERT_IOU``), is that alert again: a person still down
when a restarted ``serve`` (after ``kill -9``) sees them anew, or re-alerted under a new
track after an identity switch, keeps the first alert's id."""
SAME_ALERT_IOU = 0.3


def alert_id(sensor: str, track_id: int, time_ms: int) -> str:
    """The id of a sensor's fall alert: the same alert replayed gets the same id."""
    return f"{sensor}:{int(track_id)}:{int(time_ms)}"


class StoredAlert(NamedTuple):
    id: str
    sensor: str
    track_id: int
    time_ms: int  # sensor time the alert was raised
    start_ms: int | None  # sensor time the fall began
    confidence: float | None
    stored_at: float  # wall time (s since the epoch)
    published_at: float | None
    acknowledged_at: float | None
    acknowledged_by: str | None
    x1: float | None = None  # the person's box when the alert was raised, pixels
    y1: float | None = None
    x2: float | None = None
    y2: float | None = None

    @property
    def box_xyxy(self) -> tuple[float, float, float, float] | None:
        return None if self.x1 is None else (self.x1, self.y1, self.x2, self.y2)

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    def payload(self) -> str:
        """What is published for the alert (JSON)."""
        return json.dumps(dict(id=self.id, sensor=self.sensor, kind="fall_alert",
                               track_id=self.track_id, time_ms=self.time_ms,
                               start_ms=self.start_ms, confidence=self.confidence))


class AlertStore:
    """The SQLite file at ``path`` (made when missing); safe to use from several threads
    (one connection behind a lock; the MQTT client acknowledges from its own thread)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None)  # autocommit: durable at once
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(alerts)")}
            for column in BOX_COLUMNS:
                if column not in have:
                    self._db.execute(f"ALTER TABLE alerts ADD COLUMN {column} REAL")
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"{self.path}: not a usable alert store ({exc})") from None
        self._lock = threading.Lock()

    def add(self, sensor: str, track_id: int, time_ms: int, start_ms: int | None,
            confidence: float | None,
            box_xyxy: tuple[float, float, float, float] | None = None
            ) -> tuple[StoredAlert, bool]:
        """Store an alert (before publishing it); (the alert, whether it is new). A replayed
        alert keeps its first record, and so does the same fall alerted again at the same
        place soon after (``SAME_ALERT_MS``, ``SAME_ALERT_IOU``; needs ``box_xyxy``)."""
        key = alert_id(sensor, track_id, time_ms)
        box = tuple(float(v) for v in box_xyxy) if box_xyxy is not None else (None,) * 4
        with self._lock:
            same = None if box_xyxy is None else self._same_place(sensor, key, time_ms, box)
            if same is None:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO alerts (id, sensor, track_id, time_ms, start_ms, "
                    "confidence, stored_at, x1, y1, x2, y2) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?)", (key, sensor, int(track_id), int(time_ms), start_ms,
                                 confidence, time.time(), *box))
                new = cursor.rowcount == 1
            else:
                key, new = same, False
        return self.get(key), new

    def _same_place(self, sensor: str, key: str, time_ms: int, box: tuple) -> str | None:
        """The id of a stored alert of ``sensor`` raised up to ``SAME_ALERT_MS`` before
        ``time_ms`` at the same place, or None (the caller holds the lock)."""
        earlier = self._db.execute(
            "SELECT id, x1, y1, x2, y2 FROM alerts WHERE sensor = ? AND id != ? AND time_ms "
            "BETWEEN ? AND ? AND x1 IS NOT NULL ORDER BY time_ms DESC",
            (sensor, key, int(time_ms) - SAME_ALERT_MS, int(time_ms))).fetchall()
        for other, *other_box in earlier:
            if box_iou(box, other_box)[0, 0] >= SAME_ALERT_IOU:
                return other
        return None

    def get(self, key: str) -> StoredAlert | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM alerts WHERE id = ?", (key,)).fetchone()
        return None if row is None else StoredAlert(*row)

    def mark_published(self, key: str) -> None:
        with self._lock:
            self._db.execute("UPDATE alerts SET published_at = ? WHERE id = ? AND "
                             "published_at IS NULL", (time.time(), key))

    def acknowledge(self, key: str, by: str = "") -> bool:
        """A person has seen the alert; False when there is no such alert."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?), "
                "acknowledged_by = COALESCE(acknowledged_by, ?) WHERE id = ?",
                (time.time(), by, key))
        return cursor.rowcount == 1

    def unpublished(self) -> list[StoredAlert]:
        """Alerts stored but never acknowledged by the broker, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM alerts WHERE published_at IS NULL "
                                    "ORDER BY stored_at").fetchall()
        return [StoredAlert(*row) for row in rows]

    def recent(self, limit: int = 100) -> list[StoredAlert]:
        """The newest alerts first."""
        return self.page(limit)[0]

    def page(self, limit: int = 50, before: int | None = None, only_open: bool = False
             ) -> tuple[list[StoredAlert], int | None]:
        """One page of alerts, newest stored first: up to ``limit`` stored before the
        cursor ``before`` (None: from the newest), only those nobody acknowledged when
        ``only_open``; and the cursor of the next page (None: no older alert)."""
        if int(limit) < 1:
            raise ValueError(f"a page holds at least 1 alert, got limit={limit}")
        where, values = [], []
        if before is not None:
            where.append("rowid < ?")
            values.append(int(before))
        if only_open:
            where.append("acknowledged_at IS NULL")
        query = ("SELECT rowid, * FROM alerts" + (" WHERE " + " AND ".join(where) if where
                                                  else "") + " ORDER BY rowid DESC LIMIT ?")
        with self._lock:  # rowid grows with each insert: a stable cursor while alerts arrive
            rows = self._db.execute(query, (*values, int(limit) + 1)).fetchall()
        more = len(rows) > int(limit)
        rows = rows[:int(limit)]
        return [StoredAlert(*row[1:]) for row in rows], (rows[-1][0] if more else None)

    def count_open(self) -> int:
        """How many alerts nobody has acknowledged yet."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM alerts WHERE acknowledged_at IS "
                                    "NULL").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
