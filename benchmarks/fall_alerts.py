"""Fall alerts, the persistence rule (the baseline) and the learned fall stage side by
side: fall-episode recall, false alerts per hour, median and 90th-percentile delay from
the fall to its alert, and near-falls (lying down on a bed, sitting on the floor,
kneeling, bending, crouching) alerted, on a fresh simulator seed (at least 2 hours, 40
falls, 20 near-falls: a seed neither the action model nor the stage saw) and on the
held-out real recordings (``--split-root``'s val.json); plus the stream's real-time
factor with the baseline and with the stage, alternated, 3 people at 10 fps
(``--speed-only``: that alone). An alert on a person who is down after a
fall but outside the episode's matched tracks (an identity switch, or alerted again) is
a repeat, not a false alert (``end_to_end_scores``).

The stream runs once per recording with the first stage live (so its cost is measured),
recording every classification; the baseline and any further stages (variants from
``benchmarks/fall_stage_variants.py``) are replayed over the same classifications.
Zones come from each recording's furniture annotations, as a user's zones file would
(``data zones``); the stage is also scored without them.

    python benchmarks/fall_alerts.py --model CONFIG CHECKPOINT --detector CONFIG CHECKPOINT
        --stage FALL_STAGE.json [MORE_STAGES.json ...] --split-root BUILT_DATASET
        [--real ../shared/data/thermal_action_dataset] [--sim-recordings 80]
        [--sim-frames 1200] [--sim-seed 4242] [--speed-only]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES, ON_BED, ActionClass
from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.data.synthetic import SynthConfig, generate_dataset
from thermal_action.data.truth import annotated_frames
from thermal_action.data.zones import furniture_zones
from thermal_action.engine.fall_stage import STAGE_CLASS_WEIGHTS, stream_recording
from thermal_action.evaluation.end_to_end import end_to_end_scores, near_fall_episodes
from thermal_action.inference.classifier import ClipClassifier
from thermal_action.runtime.alert_rules import FallEventRule, PersistenceRule, replay_alerts
from thermal_action.runtime.run import file_frames, run_stream
from thermal_action.runtime.streaming import ActionStream, StreamSettings, alert_event
from thermal_action.tracking.learned import LearnedDetector

NEAR_FALL_NAMES = frozenset(CLASS_NAMES[c] for c in (
    *ON_BED, ActionClass.LOW_OTHER, ActionClass.KNEELING, ActionClass.BENDING,
    ActionClass.CROUCHING))


def stream_all(stream: ActionStream, root: Path, sensors: list[str], zones: bool) -> dict:
    """Per sensor: (stream run, observations); zones from the furniture annotations."""
    out = {}
    for sensor in sensors:
        found = furniture_zones(root, sensor, SENSOR_SHAPE) if zones else None
        stream.zones = found if found is not None and len(found) else None
        out[sensor] = stream_recording(stream, root / "frames" / f"{sensor}.h5", SENSOR_SHAPE)
    stream.zones = None
    return out


def scores_of(streamed: dict, frames: list, rule) -> tuple:
    runs = {sensor: run._replace(events=list(run.events) + [
        alert_event(a) for a in replay_alerts(observations, rule)])
        for sensor, (run, observations) in streamed.items()}
    return end_to_end_scores(runs, frames), near_fall_episodes(runs, frames, NEAR_FALL_NAMES)


def line(name: str, scores, near) -> str:
    delays = scores.alert_delays_s
    median = f"{np.median(delays):5.1f}" if delays else "    -"
    p90 = f"{np.percentile(delays, 90):5.1f}" if delays else "    -"
    return (f"  {name:28s} {scores.falls_alerted:>3}/{scores.falls:<3} "
            f"({scores.fall_recall:4.2f})  {scores.false_alerts:>3} false "
            f"({scores.false_alerts_per_hour:4.2f}/h), {scores.repeat_alerts} repeat  delay "
            f"median {median} s, p90 {p90} s  near-falls alerted {near[1]}/{near[0]}")


def speed_by_rule(classifier, detector, rules: dict, folder: Path,
                  repeats: int = 2) -> dict[str, list[float]]:
    """Real-time factors of the stream with each of ``rules`` (name: rule), 3 people at
    10 fps on four 60 s recordings, the rules alternated ``repeats`` times so that a
    change in the machine's load falls on each alike."""
    config = replace(SynthConfig(), num_recordings=4, frames_per_recording=600,
                     recordings_per_session=1, people_weights=(0.0, 0.0, 1.0), seed=77,
                     median_interval_ms=((100.0, 100.0),), val_fraction=0.5)
    root = generate_dataset(folder / "three", config).root
    recordings = [(path.stem, list(file_frames(path, SENSOR_SHAPE)[1]))
                  for path in sorted((root / "frames").glob("*.h5"))]
    factors: dict[str, list[float]] = {name: [] for name in rules}
    for _ in range(repeats):
        for name, rule in rules.items():
            stream = ActionStream(classifier, detector, alert_rule=rule)
            sensor_s = wall_s = 0.0
            for sensor, frames in recordings:
                result = run_stream(stream, iter(frames), sensor)
                sensor_s, wall_s = sensor_s + result.duration_s, wall_s + result.seconds
            factors[name].append(sensor_s / wall_s)
    return factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--detector", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--stage", required=True, nargs="+",
                        help="fall-stage files (fall-stage); the first runs live")
    parser.add_argument("--split-root",
                        help="built dataset whose val.json recordings are held out (needed "
                             "unless --speed-only)")
    parser.add_argument("--real", default="../shared/data/thermal_action_dataset")
    parser.add_argument("--sim-recordings", type=int, default=80)
    parser.add_argument("--sim-frames", type=int, default=1200)
    parser.add_argument("--sim-seed", type=int, default=4242)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed-only", action="store_true",
                        help="only the real-time factors of the baseline and the first stage")
    parser.add_argument("--real-only", action="store_true",
                        help="only the held-out real recordings (e.g. a split by session, "
                             "with a model, detector and stage trained without them)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="times each rule's speed is measured, alternated")
    args = parser.parse_args()
    if args.split_root is None and not args.speed_only:
        parser.error("--split-root is needed to score the held-out real recordings")
    torch.set_num_threads(args.threads)
    classifier = ClipClassifier(*args.model)
    detector = LearnedDetector(*args.detector)
    stages = [FallEventRule(path) for path in args.stage]
    baseline = StreamSettings().persistence_rule()
    rules = [("persistence (baseline)", baseline)] + [
        (f"stage {Path(path).stem}", stage) for path, stage in zip(args.stage, stages,
                                                                   strict=True)]
    speed_rules = {"persistence rule": baseline, "fall stage": stages[0]}
    if args.speed_only:
        with tempfile.TemporaryDirectory() as folder:
            print_speed(speed_by_rule(classifier, detector, speed_rules, Path(folder),
                                      args.repeats))
        return
    stream = ActionStream(classifier, detector, alert_rule=stages[0])
    for path, stage in zip(args.stage, stages, strict=True):
        print(f"fall stage {path}: threshold {stage.threshold:g}, {stage.confirm} in a row, "
              f"{len(stage.model.features)} features, labels at "
              f"{stage.model.info.get('label_at', 'window')}")
    print(f"baseline {PersistenceRule().settings()}")
    speed = None if args.real_only else simulated(args, stream, rules, classifier, detector,
                                                  speed_rules)
    real_held_out(args, stream, rules)
    if speed is not None:
        print_speed(speed)


def simulated(args: argparse.Namespace, stream: ActionStream, rules: list, classifier,
              detector, speed_rules: dict) -> dict[str, list[float]]:
    """Both rules on a fresh simulator seed, with and without zones; then their speed."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        weights = tuple(float(STAGE_CLASS_WEIGHTS.get(ActionClass(i), 1.0))
                        for i in range(len(CLASS_NAMES)))
        config = replace(SynthConfig(), num_recordings=args.sim_recordings,
                         frames_per_recording=args.sim_frames, seed=args.sim_seed,
                         class_weights=weights, people_weights=(0.7, 0.3))
        sim_root = generate_dataset(Path(folder) / "sim", config).root
        sensors = sorted(p.stem for p in (sim_root / "frames").glob("*.h5"))
        frames = annotated_frames(sim_root)
        for zones in (True, False):
            streamed = stream_all(stream, sim_root, sensors, zones)
            results = [(name, *scores_of(streamed, frames, rule)) for name, rule in rules]
            if zones:
                hours = results[0][1].hours
                print(f"simulated (seed {args.sim_seed}): {len(sensors)} recordings, "
                      f"{hours:.2f} h, {results[0][1].falls} fall episodes, "
                      f"{results[0][2][0]} near-falls ({time.perf_counter() - start:.0f} s)")
            print(" with zones from the furniture annotations:" if zones else
                  " without zones:")
            for name, scores, near in results:
                print(line(name, scores, near))
        return speed_by_rule(classifier, detector, speed_rules, Path(folder), args.repeats)


def real_held_out(args: argparse.Namespace, stream: ActionStream, rules: list) -> None:
    """Both rules on the held-out real recordings, together and by recording."""
    real = Path(args.real)
    keyframes, _ = load_keyframes(Path(args.split_root) / "annotations" / "val.json",
                                  CLASS_NAMES)
    sensors = sorted({k.sensor_id for k in keyframes})
    frames = annotated_frames(real, sensors)
    streamed = stream_all(stream, real, sensors, True)
    results = [(name, *scores_of(streamed, frames, rule)) for name, rule in rules]
    print(f"held-out real: {', '.join(sensors)}, {results[0][1].hours * 60:.1f} min, "
          f"{results[0][1].falls} fall episodes, {results[0][2][0]} near-falls")
    for name, scores, near in results:
        print(line(name, scores, near))
    for sensor in sensors:  # by recording
        one = {sensor: streamed[sensor]}
        mine = [f for f in frames if f.sensor_id == sensor]
        cells = []
        for name, rule in rules:
            scores, _ = scores_of(one, mine, rule)
            cells.append(f"{name}: {scores.falls_alerted}/{scores.falls} falls, "
                         f"{scores.false_alerts} false")
        print(f"  {sensor}: " + "; ".join(cells))


def print_speed(speed: dict[str, list[float]]) -> None:
    print("stream, 3 people at 10 fps, rules alternated (target >= 100x with the stage): " +
          "; ".join(f"{name} " + ", ".join(f"{factor:.0f}x" for factor in factors)
                    for name, factors in speed.items()))


if __name__ == "__main__":
    main()
