"""Frames from a live sensor bridge: newline-delimited JSON, one frame per line,
``{"timestamp_ms": 1760482263581, "frame": [[...W deg C...], ...H rows...]}`` (-273.2 or
null: no reading). ``read_live_frames`` parses such lines as they arrive; a bad line is
skipped and counted (with the first problem kept for the report), never fatal, because
a live stream must go on. ``live_lines`` writes a recording back as such lines, so a
file can be replayed as a sensor."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import orjson

from thermal_action.data.sensor import INVALID_C


@dataclass
class SkippedLines:
    """Lines of a live stream that were not frames: how many, and the first one's
    number and problem."""

    count: int = 0
    first: str | None = None

    def add(self, number: int, problem: str) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"line {number}: {problem}"


def parse_frame_line(line: str, frame_shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """One line -> ((H, W) float32 deg C frame, timestamp ms); ``ValueError`` with the
    problem when it is not a frame of ``frame_shape``."""
    try:
        message = orjson.loads(line)  # 5x faster than json: serve parses 1,000 frames/s
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(message, dict) or "timestamp_ms" not in message or "frame" not in message:
        raise ValueError("expected an object with 'timestamp_ms' and 'frame'")
    stamp = message["timestamp_ms"]
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not np.isfinite(stamp):
        raise ValueError(f"timestamp_ms must be a number of ms, got {stamp!r}")
    try:
        frame = np.array(message["frame"], dtype=np.float32)  # null -> nan: no reading
    except (TypeError, ValueError):
        raise ValueError("frame must be rows of numbers") from None
    if frame.shape != tuple(frame_shape):
        raise ValueError(f"frame is {'x'.join(map(str, frame.shape)) or 'a scalar'}, "
                         f"expected {frame_shape[0]}x{frame_shape[1]}")
    return frame, int(stamp)


def read_live_frames(lines: Iterable[str], frame_shape: tuple[int, int],
                     skipped: SkippedLines) -> Iterator[tuple[np.ndarray, int]]:
    """(frame, timestamp ms) per good line, in order; blank lines are ignored, bad ones
    and frames whose time does not advance are counted in ``skipped``."""
    last_ms = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            frame, stamp = parse_frame_line(line, frame_shape)
        except ValueError as exc:
            skipped.add(number, str(exc))
            continue
        if last_ms is not None and stamp <= last_ms:
            skipped.add(number, f"timestamp {stamp} ms does not follow {last_ms} ms")
            continue
        last_ms = stamp
        yield frame, stamp


def live_lines(frames_c: np.ndarray, timestamps_ms: np.ndarray, realtime: bool = False,
               speed: float = 1.0) -> Iterator[str]:
    """A recording (N, H, W) deg C with its timestamps as live-stream lines; with
    ``realtime``, each line waits until its time has come (``speed`` times faster)."""
    start_wall, start_ms = time.monotonic(), int(timestamps_ms[0])
    for frame, stamp in zip(frames_c, timestamps_ms, strict=True):
        if realtime:
            delay = (int(stamp) - start_ms) / 1000.0 / speed - (time.monotonic() - start_wall)
            if delay > 0:
                time.sleep(delay)
        frame = np.where(np.isfinite(frame), frame, INVALID_C).astype(np.float32)
        # float32's shortest decimal form reads back to the same float32: lossless
        rows = ",".join("[" + ",".join(map(str, row)) + "]" for row in frame)
        yield f'{{"timestamp_ms":{int(stamp)},"frame":[{rows}]}}'
