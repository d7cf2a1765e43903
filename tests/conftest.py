"""Fixtures: small HDF5 recordings and COCO annotations written per test, and the real
dataset (path from THERMAL_ACTION_REAL_DATA; skipped outside CI, required in CI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import thermal_action
from thermal_action.data.classes import CLASS_NAMES

thermal_action.register()  # compat fixes and MMAction2 registration, as a config's imports do

HEIGHT, WIDTH = 40, 60
REPO_ROOT = Path(__file__).resolve().parent.parent
NATIVE_CONFIG = "slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x60"


def write_recording(
    path: Path,
    num_frames: int = 80,
    seed: int = 0,
    invalid_frames: dict[int, float] | None = None,
) -> np.ndarray:
    """Write a recording: a warm 36 deg C blob drifting over a 20 deg C room.

    ``invalid_frames`` maps frame index -> fraction of pixels set to -273.2.
    Returns the frames written.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = np.empty((num_frames, HEIGHT, WIDTH), np.float32)
    for t in range(num_frames):
        cx, cy = 10 + 40 * t / num_frames, 20
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 18.0)
        frames[t] = 20 + 16 * blob + rng.normal(0, 0.2, (HEIGHT, WIDTH))
    for t, fraction in (invalid_frames or {}).items():
        mask = rng.random((HEIGHT, WIDTH)) < fraction
        frames[t][mask] = -273.2
    timestamps = 1_760_000_000_000 + np.cumsum(rng.integers(40, 170, num_frames)).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        file.create_dataset("frames", data=frames, compression="gzip", chunks=(16, HEIGHT, WIDTH))
        file.create_dataset("timestamps", data=timestamps)
        file.create_dataset("frame_seqs", data=np.arange(num_frames, dtype=np.int64))
        file.attrs.update(
            sensor_id=path.stem, frame_height=HEIGHT, frame_width=WIDTH, total_frames=num_frames
        )
    return frames


def coco(keyframes: list[tuple[str, int, list[tuple[list[float], int]]]]) -> dict:
    """COCO dict from (sensor_id, frame_idx, [(yolo_box, category_id), ...]) entries."""
    images, annotations = [], []
    for sensor_id, frame_idx, people in keyframes:
        image_id = f"{sensor_id}_{frame_idx}"
        images.append(
            dict(
                id=image_id,
                sensor_id=sensor_id,
                timestamp=frame_idx,
                frame_idx=frame_idx,
                width=WIDTH,
                height=HEIGHT,
            )
        )
        for object_id, (box, category) in enumerate(people):
            annotations.append(
                dict(
                    id=len(annotations),
                    image_id=image_id,
                    bbox=box,
                    category_id=category,
                    category_name=CLASS_NAMES[category],
                    object_id=object_id,
                )
            )
    categories = [dict(id=i, name=name) for i, name in enumerate(CLASS_NAMES)]
    return dict(images=images, annotations=annotations, categories=categories)


STANDING = ([0.2, 0.5, 0.1, 0.15], 1)
LYING_RISK = ([0.6, 0.5, 0.3, 0.1], 3)
WALKING = ([0.5, 0.3, 0.1, 0.15], 2)


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    """Dataset folder with 2 recordings of 80 frames, 6 train and 3 val keyframes."""
    root = tmp_path / "tiny"
    write_recording(root / "frames" / "REC_A.h5", seed=1, invalid_frames={30: 0.3, 31: 0.99})
    write_recording(root / "frames" / "REC_B.h5", seed=2)
    train = coco(
        [
            ("REC_A", 5, [STANDING]),  # window runs past the start: edge padded
            ("REC_A", 40, [STANDING, LYING_RISK]),
            ("REC_A", 60, [WALKING]),
            ("REC_B", 20, [LYING_RISK]),
            ("REC_B", 50, [STANDING]),
            ("REC_B", 78, [WALKING]),  # window runs past the end
        ]
    )
    val = coco([("REC_A", 35, [STANDING]), ("REC_B", 40, [LYING_RISK]), ("REC_B", 70, [WALKING])])
    (root / "annotations").mkdir()
    (root / "annotations" / "train.json").write_text(json.dumps(train))
    (root / "annotations" / "val.json").write_text(json.dumps(val))
    return root


@pytest.fixture
def two_sessions(tmp_path: Path) -> Path:
    """S1_R1 and S1_R2 (session S1), S2_R1 (session S2); one keyframe in both files."""
    root = tmp_path / "two-sessions"
    for seed, sensor in enumerate(("S1_R1", "S1_R2", "S2_R1")):
        write_recording(root / "frames" / f"{sensor}.h5", seed=seed)
    train = coco([("S1_R1", 40, [STANDING]), ("S1_R2", 40, [LYING_RISK, WALKING]),
                  ("S2_R1", 20, [WALKING])])
    val = coco([("S1_R1", 40, [STANDING]), ("S2_R1", 60, [LYING_RISK])])
    (root / "annotations").mkdir()
    (root / "annotations" / "train.json").write_text(json.dumps(train))
    (root / "annotations" / "val.json").write_text(json.dumps(val))
    return root


TINY_CFG_OPTIONS = {
    **{f"{split}_dataloader.{key}": value for split in ("train", "val", "test")
       for key, value in (("batch_size", 2), ("num_workers", 0), ("persistent_workers", False))},
    "default_hooks.logger.interval": 1,
}
"""Config overrides for training on a tiny dataset in a test (as ``cfg_options``)."""
TINY_TRAIN_OPTIONS = ["--cfg-options", *(f"{key}={value}" for key, value in
                                         TINY_CFG_OPTIONS.items())]


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """The real 8-recording dataset; tests using it skip locally when it is not configured
    and fail in CI (CI=true), where nothing may skip."""
    value = os.environ.get("THERMAL_ACTION_REAL_DATA")
    if not value or not (Path(value) / "annotations" / "train.json").is_file():
        message = (
            f"THERMAL_ACTION_REAL_DATA={value!r} does not point at the real dataset "
            "(set it to ../shared/data/thermal_action_dataset)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(value).resolve()


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run ``thermal-action`` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "thermal_action.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# Raw inputs of `data build`: annotators' JSONL lines and regularly timed recordings.
RAW_START_MS, RAW_INTERVAL_MS = 1_760_000_000_000, 200
RAW_PERSON = dict(bbox=[0.3, 0.5, 0.1, 0.2], category="person", subcategory=CLASS_NAMES[1],
                  attribute_obscured="0%", attribute_heat_residual=None, object_id=0)
RAW_CHAIR = dict(bbox=[0.7, 0.7, 0.2, 0.2], category="furniture", subcategory="chair",
                 attribute_obscured="0%", attribute_heat_residual="no", object_id=5)


def untrained_checkpoint(config: str, path: Path) -> Path:
    """A checkpoint of ``config``'s freshly initialized model (seed 0), saved at ``path``:
    what inference, export and streaming tests need without training."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from thermal_action.engine import load_config

    init_default_scope("mmaction")
    torch.manual_seed(0)
    torch.save({"state_dict": MODELS.build(load_config(config).model).state_dict()}, path)
    return path


def raw_frame_ms(index: int) -> int:
    """Capture time (ms) of frame ``index`` of a ``regular_recording``."""
    return RAW_START_MS + RAW_INTERVAL_MS * index


def regular_recording(num_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frames (a warm block over a 20 deg C room, two -273.2 pixels in frame 3) and
    timestamps every RAW_INTERVAL_MS ms."""
    rng = np.random.default_rng(seed)
    frames = (20 + rng.normal(0, 0.3, (num_frames, HEIGHT, WIDTH))).astype(np.float32)
    frames[:, 18:24, 15:20] += 15
    frames[3, 0, :2] = -273.2
    return frames, raw_frame_ms(np.arange(num_frames, dtype=np.int64))


def raw_line(sensor_id: str, data_time: int, boxes: list[dict] | None = None) -> str:
    """One raw annotation line (default boxes: a standing person and a chair)."""
    return json.dumps(dict(data_id=sensor_id, mac_address="02:00:00:00:00:01",
                           annotator_id="test", annotation_time=data_time + 1,
                           data_time=data_time, annotations=boxes or [RAW_PERSON, RAW_CHAIR]))


def add_raw_lines(raw_dir: Path, sensor_id: str, *lines: str) -> None:
    path = raw_dir / f"{sensor_id}_annotation.jsonl"
    path.write_text(path.read_text() + "\n".join(lines) + "\n")


@pytest.fixture
def raw_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """``raw/`` with one JSONL per recording and ``rec/`` with two 160-frame HDF5
    recordings S1_R1, S1_R2; annotated frames 40, 60, ..., 120 each hold a chair and one
    person (lying with risk at frame 80, standing otherwise)."""
    from thermal_action.data.recording import write_recording

    raw, rec = tmp_path / "raw", tmp_path / "rec"
    raw.mkdir()
    rec.mkdir()
    for seed, sensor_id in enumerate(("S1_R1", "S1_R2")):
        frames, timestamps = regular_recording(160, seed)
        write_recording(rec / f"{sensor_id}.h5", frames, timestamps, sensor_id=sensor_id,
                        mac_address="02:00:00:00:00:01")
        lines = [raw_line(sensor_id, raw_frame_ms(i),
                          [dict(RAW_PERSON, subcategory=CLASS_NAMES[3 if i == 80 else 1]),
                           RAW_CHAIR])
                 for i in range(40, 121, 20)]
        (raw / f"{sensor_id}_annotation.jsonl").write_text("\n".join(lines) + "\n")
    return raw, rec


def _needs_service(message: str) -> None:
    """A test needing a real service skips with ``message`` locally and fails in CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Broker:
    """A running mosquitto: where it listens, who may connect; ``restart`` kills it (-9)
    and starts it again on the same port."""

    def __init__(self, config: Path, port: int, username: str, password: str) -> None:
        self.host, self.port, self.username, self.password = "127.0.0.1", port, username, \
            password
        self.config = config
        self.process = _start_mosquitto(config, port)

    def restart(self) -> None:
        self.stop()
        self.process = _start_mosquitto(self.config, self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_mosquitto(config: Path, port: int) -> subprocess.Popen:
    import socket
    import time

    process = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                                str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {process.stderr.read().decode()}") from None
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("mosquitto did not listen within 10 s")


@pytest.fixture
def mqtt_broker(tmp_path) -> Broker:
    """Debian's mosquitto on a free loopback port with a password file (the real broker a
    deployment runs); skipped locally when it is not installed, required in CI."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                            if Path("/usr/sbin/mosquitto").is_file() else None)
    password_tool = shutil.which("mosquitto_passwd")
    if binary is None or password_tool is None:
        _needs_service("mosquitto is not installed (apt-get install mosquitto; "
                       "`make system-deps` does it)")
    port, folder = _free_port(), tmp_path / "mosquitto"
    folder.mkdir()
    passwords = folder / "passwd"
    subprocess.run([password_tool, "-b", "-c", str(passwords), "sensor", "s3cret"],
                   check=True, capture_output=True)
    passwords.chmod(0o600)
    config = folder / "mosquitto.conf"
    # as root, mosquitto would switch to its own user, who cannot read the tmp folder
    user = "user root\n" if os.geteuid() == 0 else ""
    config.write_text(f"{user}listener {port} 127.0.0.1\nallow_anonymous false\n"
                      f"password_file {passwords}\npersistence false\n")
    broker = Broker(config, port, "sensor", "s3cret")
    try:
        yield broker
    finally:
        broker.stop()
