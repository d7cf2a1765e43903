"""Simulate a dataset: recordings and annotators' raw lines, built into the real layout
(``frames/*.h5``, ``raw_annotations/*.jsonl``, ``annotations/{train,val,class_mapping}.json``,
``frames/sensor_info.json``, ``dataset_info.json``) by ``data build``. Deterministic for a
seed."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from thermal_action.data.classes import (
    CLASS_NAMES,
    FALL_RELATED,
    ON_BED,
    TRANSITIONS,
    ActionClass,
)
from thermal_action.data.person_tracks import FOLDER as TRACKS_FOLDER
from thermal_action.data.person_tracks import TRACK_COLUMNS, write_person_tracks
from thermal_action.data.sensor import SENSOR_SHAPE, WINDOW_FRAMES
from thermal_action.data.synthetic import people as P
from thermal_action.data.synthetic.residue import RESTING_POSTURES, HeatResidue
from thermal_action.data.synthetic.scene import Scene, SceneObject, make_scene
from thermal_action.data.synthetic.sensor import (
    apply_optics_and_noise,
    corrupt_frame,
    frame_timestamps_ms,
)
from thermal_action.data.tools.build import BuildOptions, build_dataset
from thermal_action.data.tools.output_folder import OutputKind, check_output_folder

HEIGHT, WIDTH = SENSOR_SHAPE
WINDOW = WINDOW_FRAMES  # keyframes keep their whole sample window inside the recording
SYNTH_OUTPUT = OutputKind(
    "thermal_action.data.synthetic",
    frozenset({"frames", "annotations", "raw_annotations", "dataset_info.json", "realism",
               TRACKS_FOLDER}))
"""The stamp of a simulated dataset and every top-level name it holds (``realism/`` from
``data synth --compare``); ``overwrite`` replaces only such folders."""
SIMULATOR_VERSION = 4
"""Bumped whenever the simulator draws the same settings differently (2: heat residue and
lost packets; 3: a rounder, flatter standing body; 4: flat-topped bodies 5-6 deg C above
the room that cover the floor, a cold stretch of floor, people along the room's axes), so
a cached simulated dataset of an older simulator is made again."""
PERSON_THRESHOLD_C = 1.0  # heat above the room that counts as part of a person's box


@dataclass(frozen=True)
class SynthConfig:
    """What to simulate. Times in seconds or ms, sizes in pixels."""

    num_recordings: int = 8
    frames_per_recording: int = 400
    recordings_per_session: int = 4  # recordings of one session share a room
    seed: int = 0
    class_weights: tuple[float, ...] = (1.0,) * len(CLASS_NAMES)  # mix of story focus classes
    people_weights: tuple[float, ...] = (0.6, 0.3, 0.1)  # 1, 2, 3 people per recording
    # Spacing and story lengths in units of one 64-frame window's duration, so that slow and
    # fast sensors give the same number of clear keyframes per episode.
    keyframe_every_windows: float = 0.25  # the real data: about 0.15-0.2
    segment_windows: float = 2.0  # each story focus class lasts about this long
    min_window_purity: float = 0.7  # see _window_is_clear
    val_fraction: float = 0.25  # whole recordings held out for val.json
    # Share of sessions whose sensor writes invalid-pixel frames (as SL14 does and SL18 not),
    # spread evenly over the sessions rather than drawn, so small datasets get their share.
    glitchy_recording_prob: float = 0.5
    invalid_frame_rate: tuple[float, float] = (0.08, 0.13)
    # Sessions run fast (SL14-like, 38-100 ms median interval) or slow (SL18-like, ~163 ms).
    median_interval_ms: tuple[tuple[float, float], ...] = ((38.0, 100.0), (150.0, 170.0))

    def __post_init__(self) -> None:
        if self.num_recordings < 2:
            raise ValueError("num_recordings must be at least 2 (one train, one val)")
        if self.frames_per_recording < WINDOW + 2:
            raise ValueError(f"frames_per_recording must exceed the {WINDOW}-frame window")
        if (
            len(self.class_weights) != len(CLASS_NAMES)
            or min(self.class_weights) < 0
            or not any(self.class_weights)
        ):
            raise ValueError(f"class_weights needs {len(CLASS_NAMES)} non-negative weights")


class PersonBox(NamedTuple):
    object_id: int
    label: int
    box_xyxy: np.ndarray  # pixels


class SimKeyframe(NamedTuple):
    frame_idx: int
    timestamp_ms: int
    people: list[PersonBox]
    residue: list[SceneObject]  # visible heat-residue patches, annotated as such


class SimRecording(NamedTuple):
    sensor_id: str
    frames_c: np.ndarray  # (N, H, W) float32
    timestamps_ms: np.ndarray  # (N,) int64
    keyframes: list[SimKeyframe]
    scene: Scene
    person_tracks: np.ndarray  # (M, 8) every person's box on every frame (TRACK_COLUMNS)


def _box_of(heat: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(heat > PERSON_THRESHOLD_C)
    if not len(xs):
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


class ClassDeck:
    """Story classes dealt from shuffled decks holding each class in proportion to its
    weight, so every class with a weight appears evenly across recordings (independent
    draws leave rare classes out of small datasets)."""

    def __init__(self, weights: Sequence[float], rng: np.random.Generator,
                 copies: int = 4) -> None:
        weights = np.asarray(weights, np.float64)
        counts = np.round(weights / weights[weights > 0].min() * copies).astype(int)
        self._cards = np.repeat(np.arange(len(weights)), counts)
        self._rng = rng
        self._pile: list[int] = []

    def draw(self, count: int) -> list[int]:
        drawn = []
        for _ in range(count):
            if not self._pile:
                self._pile = self._rng.permutation(self._cards).tolist()
            drawn.append(int(self._pile.pop()))
        return drawn

    def put_back(self, cards: Sequence[int]) -> None:
        """Return cards a person could not take at random places in the pile."""
        for card in cards:
            self._pile.insert(int(self._rng.integers(len(self._pile) + 1)), int(card))


def _story_targets(deck: ClassDeck, count: int, bed_free: bool) -> list[int]:
    """Focus classes for one person. A bed story (the person is on the bed all along) is
    decided by the first card and holds only its bed class; a story has at most one fall
    (it ends the story). Cards the person cannot take go back to the deck."""
    first = deck.draw(1)[0]
    if first in ON_BED and bed_free:
        return [first]
    kept, returned, fall = [], [], False
    for target in [first, *deck.draw(count - 1)]:
        if target in ON_BED or (target in FALL_RELATED and fall):
            returned.append(target)
            continue
        fall = fall or target in FALL_RELATED
        kept.append(target)
    deck.put_back(returned)
    return kept or [ActionClass.STANDING]


def _window_is_clear(labels: np.ndarray, index: int, min_purity: float) -> bool:
    """Annotators label a keyframe when its action is clear: every person keeps the
    keyframe's label over ``min_purity`` of the window (transitions are brief by nature
    and always kept)."""
    window = labels[:, index - WINDOW // 2 : index + WINDOW // 2]
    for person_labels, label in zip(window, labels[:, index], strict=True):
        if label in TRANSITIONS or label < 0:
            continue
        if (person_labels == label).mean() < min_purity:
            return False
    return True


def _keyframe_times(
    persons: Sequence[P.Person], duration_s: float, every_s: float, rng: np.random.Generator
) -> list[float]:
    times = list(np.arange(rng.uniform(0, every_s), duration_s, every_s))
    for person in persons:  # every transition gets a keyframe in its middle
        times += [(e.start_s + e.end_s) / 2 for e in person.episodes if e.label in TRANSITIONS]
    return sorted(times)


def simulate_recording(
    sensor_id: str,
    scene: Scene,
    config: SynthConfig,
    start_ms: int,
    median_interval_ms: float,
    rng: np.random.Generator,
    deck: ClassDeck | None = None,
    glitchy: bool | None = None,
) -> SimRecording:
    """Render one recording of a scene and annotate its keyframes; story classes come from
    ``deck`` (a fresh one for ``config.class_weights`` when not given). ``glitchy`` says
    whether the sensor writes invalid-pixel frames (drawn with
    ``config.glitchy_recording_prob`` when not given)."""
    num_frames = config.frames_per_recording
    timestamps = frame_timestamps_ms(num_frames, median_interval_ms, start_ms, rng,
                                     gap_prob=float(rng.uniform(0.0, 0.015)))
    times_s = (timestamps - timestamps[0]) / 1000.0
    duration_s = float(times_s[-1]) + 1e-3
    window_s = WINDOW * median_interval_ms / 1000.0
    persons = _cast(scene, config, duration_s, window_s, deck or ClassDeck(config.class_weights,
                                                                           rng), rng)
    sensor = _SensorState.draw(config, glitchy, rng)
    key_times = _keyframe_times(persons, duration_s, config.keyframe_every_windows * window_s, rng)
    key_indices = sorted({int(np.searchsorted(times_s, t)) for t in key_times})
    key_indices = [i for i in key_indices if WINDOW // 2 <= i < num_frames - WINDOW // 2]
    labels = np.array([[P.label_at(person, float(t)) or -1 for t in times_s] for person in persons])
    wanted = {i for i in key_indices if _window_is_clear(labels, i, config.min_window_purity)}
    frames, keyframes, tracks = _render(scene, persons, sensor, times_s, timestamps, wanted,
                                        rng)
    return SimRecording(sensor_id, frames, timestamps, keyframes, scene, tracks)


def _cast(scene: Scene, config: SynthConfig, duration_s: float, window_s: float,
          deck: ClassDeck, rng: np.random.Generator) -> list[P.Person]:
    """The people of one recording, each with a story of about one action per
    ``config.segment_windows`` windows; at most one of them on the bed."""
    people_p = np.asarray(config.people_weights, np.float64) / sum(config.people_weights)
    num_people = int(rng.choice(np.arange(1, len(people_p) + 1), p=people_p))
    persons: list[P.Person] = []
    bed_taken = False
    targets_per_person = max(1, int(duration_s // (config.segment_windows * window_s)))
    for _ in range(num_people):
        targets = _story_targets(deck, targets_per_person, bed_free=not bed_taken)
        bed_taken = bed_taken or targets[0] in ON_BED
        taken = [person.path_xy[0] for person in persons]
        persons.append(P.make_person(targets, duration_s, scene, taken, rng))
    return persons


class _SensorState(NamedTuple):
    """One sensor's noise (deg C), fixed-pattern offsets (H, W) and invalid-frame rate."""

    noise_c: float
    fixed_pattern: np.ndarray
    invalid_rate: float

    @classmethod
    def draw(cls, config: SynthConfig, glitchy: bool | None,
             rng: np.random.Generator) -> _SensorState:
        noise_c = float(rng.uniform(0.12, 0.25))
        fixed_pattern = rng.normal(0.0, 0.08, (HEIGHT, WIDTH)).astype(np.float32)
        if glitchy is None:
            glitchy = bool(rng.random() < config.glitchy_recording_prob)
        invalid_rate = float(rng.uniform(*config.invalid_frame_rate)) if glitchy else 0.0
        return cls(noise_c, fixed_pattern, invalid_rate)


def _render(scene: Scene, persons: Sequence[P.Person], sensor: _SensorState,
            times_s: np.ndarray, timestamps: np.ndarray, wanted: set[int],
            rng: np.random.Generator) -> tuple[np.ndarray, list[SimKeyframe], np.ndarray]:
    """Frames (N, H, W) deg C as the sensor sees the scene, the person boxes of the
    ``wanted`` keyframes, and every person's box on every frame (``TRACK_COLUMNS`` rows)."""
    frames = np.empty((len(times_s), HEIGHT, WIDTH), np.float32)
    keyframes: list[SimKeyframe] = []
    tracks: list[tuple] = []
    jitter = [np.zeros(2) for _ in persons]
    offset_c = 0.0
    residue = HeatResidue((HEIGHT, WIDTH), rng)
    residue.seed_earlier_visits(scene, rng)
    for index, t_s in enumerate(times_s):
        boxes: list[PersonBox] = []
        people_heat = np.zeros((HEIGHT, WIDTH), np.float32)
        resting: list[np.ndarray] = []
        for object_id, person in enumerate(persons):
            state = P.body_state(person, float(t_s))
            if state is None:
                continue
            blobs, centre, angle = state
            jitter[object_id] = 0.9 * jitter[object_id] + rng.normal(0, 0.08, 2)
            breathing = 0.02 * np.sin(2 * np.pi * 0.25 * t_s)
            heat = P.render_person(blobs, centre + jitter[object_id], angle, person.scale,
                                   person.warmth, HEIGHT, WIDTH, breathing)
            people_heat += heat
            if P.resting_posture_at(person, float(t_s)) in RESTING_POSTURES:
                resting.append(heat)
            label, box = P.label_at(person, float(t_s)), _box_of(heat)
            if label is None or box is None:
                continue
            tracks.append((index, int(timestamps[index]), object_id, int(label), *box))
            if index in wanted:
                boxes.append(PersonBox(object_id, label, box))
        surface = scene.background_c + residue.field_c
        residue.step(float(t_s - times_s[index - 1]) if index else 0.0,
                     [P.contact_warming(surface, heat, scene.room_c) for heat in resting])
        frame = P.cover(scene.background_c + residue.field_c, people_heat, scene.room_c)
        offset_c = 0.95 * offset_c + rng.normal(0, 0.03)
        frame = apply_optics_and_noise(frame, sensor.fixed_pattern, sensor.noise_c, offset_c,
                                       rng)
        if sensor.invalid_rate and rng.random() < sensor.invalid_rate:
            frame = corrupt_frame(frame, rng)
        frames[index] = frame
        if boxes:
            keyframes.append(SimKeyframe(index, int(timestamps[index]), boxes, residue.patches(
                scene, [person.box_xyxy for person in boxes])))
    return frames, keyframes, np.asarray(tracks, np.float64).reshape(-1, len(TRACK_COLUMNS))


def _mac(rng: np.random.Generator) -> str:
    return "02:" + ":".join(f"{b:02x}" for b in rng.integers(0, 256, 5))


def _yolo(box: np.ndarray | Sequence[float]) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [
        round((x1 + x2) / 2 / WIDTH, 6),
        round((y1 + y2) / 2 / HEIGHT, 6),
        round((x2 - x1) / WIDTH, 6),
        round((y2 - y1) / HEIGHT, 6),
    ]


def _raw_lines(recording: SimRecording, mac: str) -> list[str]:
    lines = []
    for keyframe in recording.keyframes:
        annotations = [
            dict(
                bbox=_yolo(p.box_xyxy),
                category="person",
                subcategory=CLASS_NAMES[p.label],
                attribute_obscured="0%",
                attribute_heat_residual=None,
                object_id=p.object_id,
            )
            for p in keyframe.people
        ]
        first_object_id = len(annotations) + 10
        annotations += [
            dict(
                bbox=_yolo(obj.box_xyxy),
                category=obj.category,
                subcategory=obj.name,
                attribute_obscured="0%",
                attribute_heat_residual="yes" if residual else "no",
                object_id=first_object_id + k,
            )
            for k, (obj, residual) in enumerate(
                [(obj, False) for obj in recording.scene.objects]
                + [(obj, True) for obj in keyframe.residue])
        ]
        lines.append(
            json.dumps(
                dict(
                    data_id=recording.sensor_id,
                    mac_address=mac,
                    annotator_id="simulator",
                    annotation_time=keyframe.timestamp_ms + 86_400_000,
                    data_time=keyframe.timestamp_ms,
                    annotations=annotations,
                )
            )
        )
    return lines


class SynthSummary(NamedTuple):
    """What ``generate_dataset`` wrote."""

    root: Path
    train_recordings: list[str]
    val_recordings: list[str]
    num_keyframes: dict[str, int]  # per split
    num_boxes: dict[str, int]
    class_counts: dict[str, dict[str, int]]  # per split, class name -> boxes


def generate_dataset(
    out_dir: str | os.PathLike,
    config: SynthConfig = SynthConfig(),
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> SynthSummary:
    """Simulate ``config.num_recordings`` recordings into the dataset folder ``out_dir``.

    The simulator writes raw material only (recordings and the annotators' JSONL lines)
    into a temporary folder; ``data build``'s ``build_dataset`` turns it into the dataset,
    so simulated and real datasets get the same files, the same leakage-checked split by
    recording (``config.val_fraction``, ``config.seed``) and the same staged write.
    ``out_dir`` must be missing or empty; with ``overwrite`` it may also be an earlier
    simulated dataset holding nothing else, which is replaced whole.
    ``progress(done, total)`` is called per recording simulated."""
    out = Path(out_dir)
    check_output_folder(out, overwrite, SYNTH_OUTPUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.raw-", dir=out.parent) as raw:
        raw = Path(raw)
        simulate_raw_material(raw, config, progress)
        options = BuildOptions(split="recording", val_fraction=config.val_fraction,
                               seed=config.seed, overwrite=overwrite, compression_level=1)
        report = build_dataset(raw / "raw_annotations", raw / "frames", out, options,
                               output=SYNTH_OUTPUT, extra_info=dict(simulation=asdict(config),
                                                         simulator_version=SIMULATOR_VERSION),
                               extra_folders=(raw / TRACKS_FOLDER,))
    return SynthSummary(
        root=out,
        train_recordings=report.splits["train"]["recordings"],
        val_recordings=report.splits["val"]["recordings"],
        num_keyframes={name: split["keyframes"] for name, split in report.splits.items()},
        num_boxes={name: split["boxes"] for name, split in report.splits.items()},
        class_counts={name: split["class_counts"] for name, split in report.splits.items()},
    )


def simulate_raw_material(
    raw: Path, config: SynthConfig, progress: Callable[[int, int], None] | None = None
) -> None:
    """Simulate the recordings of ``config`` into ``raw/frames/<sensor_id>.npz`` (frames,
    timestamps, frame_seqs) and their keyframes into ``raw/raw_annotations/*.jsonl``
    (people with their action, plus the room's furniture and objects), as a sensor and
    its annotators would deliver them; and every person's box on every frame into
    ``raw/person_tracks/<sensor_id>.csv`` (the ground truth of tracking)."""
    for folder in ("frames", "raw_annotations", TRACKS_FOLDER):
        (raw / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    deck = ClassDeck(config.class_weights, rng)
    start_ms = 1_760_000_000_000 + int(rng.integers(0, 10**9))
    for index in range(config.num_recordings):
        if index % config.recordings_per_session == 0:
            session = index // config.recordings_per_session + 1
            scene = make_scene(rng, HEIGHT, WIDTH)
            low, high = config.median_interval_ms[rng.integers(len(config.median_interval_ms))]
            median_ms = float(rng.uniform(low, high))
            mac = _mac(rng)
            share = config.glitchy_recording_prob
            glitchy = int(session * share + 1e-9) > int((session - 1) * share + 1e-9)
        sensor_id = f"SIM{session:02d}_R{index % config.recordings_per_session + 1}"
        recording = simulate_recording(sensor_id, scene, config, start_ms, median_ms, rng, deck,
                                       glitchy)
        start_ms = int(recording.timestamps_ms[-1]) + int(rng.integers(2_000, 60_000))
        np.savez(raw / "frames" / f"{sensor_id}.npz", frames=recording.frames_c,
                 timestamps=recording.timestamps_ms,
                 frame_seqs=np.arange(len(recording.frames_c), dtype=np.int64) + 1000)
        (raw / "raw_annotations" / f"{sensor_id}_annotation.jsonl").write_text(
            "\n".join(_raw_lines(recording, mac)) + "\n")
        write_person_tracks(raw / TRACKS_FOLDER / f"{sensor_id}.csv", recording.person_tracks)
        if progress is not None:
            progress(index + 1, config.num_recordings)


def simulated_with(root: str | os.PathLike, config: SynthConfig) -> bool:
    """Whether ``root`` holds a complete simulated dataset made with exactly ``config`` by
    this version of the simulator."""
    root = Path(root)
    try:
        info = json.loads((root / "dataset_info.json").read_text())
    except (OSError, ValueError):
        return False
    wanted = json.loads(json.dumps(asdict(config)))
    return (isinstance(info, dict) and info.get("simulation") == wanted
            and info.get("simulator_version") == SIMULATOR_VERSION
            and (root / "annotations" / "train.json").is_file()
            and (root / TRACKS_FOLDER).is_dir())


def cached_dataset(
    root: str | os.PathLike, config: SynthConfig,
    progress: Callable[[int, int], None] | None = None,
) -> bool:
    """Make sure ``root`` holds the simulated dataset of ``config``: reuse it when it was
    made with exactly these settings, simulate it again in its place otherwise. Returns
    whether it was simulated now."""
    if simulated_with(root, config):
        return False
    generate_dataset(root, config, progress=progress, overwrite=True)
    return True
