"""The streaming engine, measured: real-time factor (sensor seconds per wall second) on
2 CPU cores for a 10 fps sensor with 1 and 3 people at stride 1 s, PyTorch vs
onnxruntime side by side; frame-to-alert latency on simulated falls; peak memory after
one hour of stream vs after one minute; end-to-end scores on simulated recordings for
detector intervals from every frame to 1 s; and, with ``--split-root``, the end-to-end scores
on the held-out real recordings (tracks whose current action is the annotated one, next
to the same model fed the annotated boxes; fall-alert recall and false alerts per hour).

    python benchmarks/streaming.py --model CONFIG CHECKPOINT [--detector CONFIG CHECKPOINT]
        [--split-root BUILT_DATASET --real-model CONFIG CHECKPOINT]
        [--real ../shared/data/thermal_action_dataset] [--hour-frames 36000]

The action model must be person-centred (e.g. person-24px); without ``--detector`` the
warm-blob detector finds the people. Both are exported to ONNX here for the onnxruntime
runs.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from thermal_action.data.classes import ActionClass
from thermal_action.data.person_tracks import read_person_tracks
from thermal_action.data.recording import open_recording
from thermal_action.data.synthetic import SynthConfig, generate_dataset
from thermal_action.engine.export import export_onnx
from thermal_action.inference.classifier import ClipClassifier
from thermal_action.runtime.events import EventKind
from thermal_action.runtime.run import run_stream
from thermal_action.runtime.streaming import ActionStream, StreamSettings
from thermal_action.tracking.detections import build_detector

TARGET_RTF = 100.0


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open_recording(path) as recording:
        return recording.read_frames(range(recording.frames.shape[0])), \
            recording.read_timestamps()


def _frames(path: Path):
    temps, stamps = _read(path)
    return list(zip(temps, (int(s) for s in stamps), strict=True))


def simulated(folder: Path, people: int, recordings: int, seed: int) -> Path:
    """Recordings of a 10 fps sensor with exactly ``people`` people, 60 s each."""
    weights = tuple(1.0 if n == people else 0.0 for n in (1, 2, 3))
    config = replace(SynthConfig(), num_recordings=recordings, frames_per_recording=600,
                     recordings_per_session=1, people_weights=weights, seed=seed,
                     median_interval_ms=((100.0, 100.0),), val_fraction=0.5)
    return generate_dataset(folder / f"people{people}-seed{seed}", config).root


def simulated_mix(folder: Path, recordings: int, seed: int) -> Path:
    """Recordings as the simulator makes them by default (1-3 people, fast and slow
    sensors, beds, falls), 1,500 frames each."""
    config = replace(SynthConfig(), num_recordings=recordings, frames_per_recording=1500,
                     seed=seed)
    return generate_dataset(folder / f"mix-seed{seed}", config).root


def speed(make_stream, root: Path, repeats: int) -> float:
    """Median over ``repeats`` of the real-time factor over all recordings of ``root``."""
    feeds = [_frames(path) for path in sorted((root / "frames").glob("*.h5"))]
    factors = []
    for _ in range(repeats):
        stream, sensor_s, wall_s = make_stream(), 0.0, 0.0
        for feed in feeds:
            result = run_stream(stream, feed, "sim")
            sensor_s += result.duration_s
            wall_s += result.seconds
        factors.append(sensor_s / wall_s)
    return float(np.median(factors))


def latency(make_stream, root: Path) -> list[float]:
    """Seconds from each simulated fall (the first frame of a person's fall) to the first
    alert after it, within 30 s."""
    delays = []
    for path in sorted((root / "frames").glob("*.h5")):
        rows = read_person_tracks(root / "person_tracks" / f"{path.stem}.csv")
        falls = rows[rows[:, 3] == ActionClass.TRANSITION_RISK]
        if not len(falls):
            continue
        result = run_stream(make_stream(), _frames(path), path.stem)
        alerts = sorted(e.time_ms for e in result.events if e.kind == EventKind.FALL_ALERT)
        for object_id in np.unique(falls[:, 2]):
            fall_ms = falls[falls[:, 2] == object_id, 1].min()
            later = [a for a in alerts if fall_ms <= a <= fall_ms + 30_000]
            if later:
                delays.append((later[0] - fall_ms) / 1000.0)
    return delays


def memory(make_stream, root: Path, hour_frames: int) -> tuple[float, float, float]:
    """Peak RSS (MB) after one minute (600 frames at 10 fps) and after ``hour_frames``
    frames of one stream cycling through simulated recordings; and the wall seconds."""
    feeds = [_frames(path) for path in sorted((root / "frames").glob("*.h5"))]
    frames = [frame for feed in feeds for frame, _ in feed]
    stream = make_stream()
    start = time.perf_counter()
    minute = 0.0
    for index in range(hour_frames):
        stream.push(frames[index % len(frames)], index * 100)
        if index == 600:
            minute = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hour = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return minute, hour, time.perf_counter() - start


def detector_intervals(make_stream, root: Path, intervals: list[float]) -> None:
    """End-to-end scores on the simulated recordings of ``root`` for each detector
    interval: how far apart detections may be before following people costs accuracy."""
    from thermal_action.data.truth import annotated_frames
    from thermal_action.evaluation.end_to_end import StreamRun, end_to_end_scores

    truth = annotated_frames(root)
    paths = sorted((root / "frames").glob("*.h5"))
    print(f"detector interval, simulated recordings ({len(paths)}, {len(truth)} annotated "
          "frames): people followed / with the annotated action / falls alerted / false "
          "alerts")
    for every_s in intervals:
        runs = {}
        for path in paths:
            result = run_stream(make_stream(every_s), _frames(path), path.stem,
                                keep_frames=None)
            runs[path.stem] = StreamRun(result.views, result.events, result.timestamps_ms)
        scores = end_to_end_scores(runs, truth)
        label = "every frame" if every_s == 0 else f"every {every_s:g} s"
        print(f"  {label}: {scores.followed_share:.3f} / {scores.accuracy:.3f} / "
              f"{scores.falls_alerted} of {scores.falls} / {scores.false_alerts}")


def real_scores(make_stream, model: tuple[str, str], split_root: Path, real: Path) -> None:
    from thermal_action.data.annotations import load_keyframes
    from thermal_action.data.classes import CLASS_NAMES
    from thermal_action.data.truth import annotated_frames
    from thermal_action.evaluation.end_to_end import StreamRun, end_to_end_scores
    from thermal_action.inference.classifier import predict_people

    keyframes, _ = load_keyframes(split_root / "annotations" / "val.json", CLASS_NAMES)
    sensors = sorted({k.sensor_id for k in keyframes})
    runs = {}
    for sensor in sensors:
        result = run_stream(make_stream(), _frames(real / "frames" / f"{sensor}.h5"), sensor,
                            keep_frames=None)
        runs[sensor] = StreamRun(result.views, result.events, result.timestamps_ms)
    scores = end_to_end_scores(runs, annotated_frames(real, sensors))
    classifier = ClipClassifier(*model)
    right = total = 0
    for sensor in sensors:
        mine = [k for k in keyframes if k.sensor_id == sensor]
        for prediction, truth in zip(predict_people(classifier, real / "frames" /
                                                    f"{sensor}.h5", mine),
                                     [int(label) for k in mine for label in k.labels],
                                     strict=True):
            right += prediction.label == truth
            total += 1
    print(f"real held-out recordings ({', '.join(sensors)}; {scores.people} annotated "
          f"people in keyframes, {scores.hours * 60:.1f} min):")
    print(f"  detector + tracker + stream: {scores.followed_share:.3f} of the people "
          f"followed by a track, {scores.accuracy:.3f} followed with the annotated action")
    print(f"  the same model fed the annotated boxes: {right / max(total, 1):.3f} top-1")
    print(f"  fall alerts: {scores.falls_alerted} of {scores.falls} fall episodes "
          f"(recall {scores.fall_recall:.2f}; target 0.95), {scores.false_alerts} false "
          f"({scores.false_alerts_per_hour:.1f} per hour; target <= 1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--detector", nargs=2, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--split-root", help="built dataset whose val.json recordings are "
                                             "held out from the model's training")
    parser.add_argument("--real-model", nargs=2, metavar=("CONFIG", "CHECKPOINT"),
                        help="the action model for the real recordings (default --model), "
                             "e.g. one trained on --split-root's train.json")
    parser.add_argument("--real", default="../shared/data/thermal_action_dataset")
    parser.add_argument("--hour-frames", type=int, default=36_000)
    parser.add_argument("--interval-recordings", type=int, default=12,
                        help="simulated recordings for the detector-interval scores "
                             "(0: skip them)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        model_onnx = export_onnx(*args.model, folder / "model.onnx")
        detector_onnx = export_onnx(*args.detector, folder / "det.onnx") if args.detector \
            else None
        def stream(onnx: bool, detect_every_s: float = StreamSettings.detect_every_s):
            settings = StreamSettings(detect_every_s=detect_every_s)
            if onnx:
                return lambda: ActionStream(
                    ClipClassifier(args.model[0], model_onnx),
                    build_detector((args.detector[0], detector_onnx) if args.detector
                                   else None), settings=settings)
            return lambda: ActionStream(
                ClipClassifier(*args.model),
                build_detector(args.detector),
                settings=settings)

        backends = {"PyTorch": stream(False), "onnxruntime": stream(True)}
        variants = {**{f"{name}, detector every frame": stream(name == "onnxruntime", 0.0)
                       for name in backends},
                    **{f"{name}, detector every {StreamSettings.detect_every_s:g} s "
                       "(default)": make for name, make in backends.items()}}
        roots = {n: simulated(folder, n, 2, seed=40 + n) for n in (1, 3)}
        print("real-time factor, 10 fps sensor, stride 1 s, median of "
              f"{args.repeats} (sensor seconds per wall second; target {TARGET_RTF:.0f}):")
        for name, make in variants.items():
            line = ", ".join(f"{n} {'person' if n == 1 else 'people'} "
                             f"{speed(make, root, args.repeats):.0f}x"
                             for n, root in roots.items())
            print(f"  {name}: {line}")
        if args.interval_recordings:
            detector_intervals(
                lambda every_s: ActionStream(
                    ClipClassifier(args.model[0], model_onnx),
                    build_detector((args.detector[0], detector_onnx) if args.detector
                                   else None), settings=StreamSettings(detect_every_s=every_s)),
                simulated_mix(folder, args.interval_recordings, seed=11),
                [0.0, 0.2, 0.3, 0.5, 1.0])
        falls = simulated(folder, 1, 6, seed=7)
        delays = latency(backends["onnxruntime"], falls)
        if delays:
            print(f"fall-to-alert latency, simulated falls: median {np.median(delays):.1f} s "
                  f"(min {min(delays):.1f}, max {max(delays):.1f}; {len(delays)} falls)")
        minute, hour, wall = memory(backends["onnxruntime"], roots[3], args.hour_frames)
        print(f"peak memory: {minute:.0f} MB after one minute of stream, {hour:.0f} MB after "
              f"{args.hour_frames / 36_000:.2f} h ({hour / minute - 1:+.1%}; target within "
              f"10%), {wall:.0f} s of wall time")
        if args.split_root:
            real_model = args.real_model or args.model
            detector = build_detector(args.detector)
            real_scores(lambda: ActionStream(ClipClassifier(*real_model), detector),
                        real_model, Path(args.split_root), Path(args.real))


if __name__ == "__main__":
    main()
