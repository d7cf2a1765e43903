"""Choose the fall-alert rule where no real recording is looked at, then score it on the
held-out real recordings.

The rule (``smoothing_s``, ``fall_share``, ``alert_after_s`` of ``StreamSettings``) is
chosen on simulated recordings with falls, beds and chairs (about 85 minutes by default,
a new simulator seed): the stream classifies them once and ``replay_alerts`` applies every
setting of the grid to the same classifications. The choice is the best fall-alert
recall among the settings with at most ``--max-false-per-hour`` false alerts per hour
(then fewer false alerts, then the shortest median delay from the fall to its alert);
when none keeps to it, none is chosen and the defaults stay.
The held-out real recordings of ``--split-root`` (its val.json) are streamed once and
scored under every setting, the chosen one and the stream's defaults marked: they are
read there, never chosen there.

    python benchmarks/fall_alerts.py --model CONFIG CHECKPOINT --detector CONFIG CHECKPOINT
        --split-root BUILT_DATASET [--real ../shared/data/thermal_action_dataset]
        [--sim-recordings 30] [--sim-frames 1500]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.data.synthetic import SynthConfig, generate_dataset
from thermal_action.engine.infer import file_frames, run_stream
from thermal_action.engine.inference import ClipClassifier
from thermal_action.engine.streaming import (
    ActionStream,
    Classified,
    StreamSettings,
    replay_alerts,
)
from thermal_action.evaluation.end_to_end import StreamRun, end_to_end_scores
from thermal_action.tracking.learned import LearnedDetector
from thermal_action.tracking.truth import annotated_frames

GRID = dict(smoothing_s=(1.0, 2.0, 4.0), fall_share=(0.4, 0.5, 0.6, 0.7),
            alert_after_s=(1.0, 2.0, 3.0, 5.0, 8.0))


def stream_once(make_stream, paths: list[Path]) -> dict[str, tuple[StreamRun, list]]:
    """Per recording: what the stream did (views, events, timestamps) and its
    classifications, recorded for the replay."""
    out = {}
    for path in paths:
        stream, classified = make_stream(), []
        stream.on_classified = classified.append
        result = run_stream(stream, file_frames(path, SENSOR_SHAPE)[1], path.stem,
                            keep_frames=None)
        out[path.stem] = (StreamRun(result.views, [e for e in result.events
                                                    if e.kind != "fall_alert"],
                                    result.timestamps_ms), classified)
    return out


def score(streamed: dict[str, tuple[StreamRun, list[Classified]]], truth: list,
          settings: StreamSettings):
    runs = {sensor: run._replace(events=list(run.events) + replay_alerts(classified, settings))
            for sensor, (run, classified) in streamed.items()}
    return end_to_end_scores(runs, truth)


def delay(scores) -> float:
    """Median seconds from a fall episode's start to its alert (inf: none alerted)."""
    return float(np.median(scores.alert_delays_s)) if scores.alert_delays_s else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--detector", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--split-root", required=True,
                        help="built dataset whose val.json recordings are held out")
    parser.add_argument("--real", default="../shared/data/thermal_action_dataset")
    parser.add_argument("--sim-recordings", type=int, default=30)
    parser.add_argument("--sim-frames", type=int, default=1500,
                        help="frames per simulated recording: long enough that a fall near "
                             "its end still has time to be alerted")
    parser.add_argument("--sim-seed", type=int, default=1234)
    parser.add_argument("--max-false-per-hour", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    classifier = ClipClassifier(*args.model)
    detector = LearnedDetector(*args.detector)
    base = StreamSettings()

    def make_stream() -> ActionStream:
        return ActionStream(classifier, detector, settings=base)

    settings = [replace(base, **dict(zip(GRID, values, strict=True)))
                for values in itertools.product(*GRID.values())]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        config = replace(SynthConfig(), num_recordings=args.sim_recordings,
                         frames_per_recording=args.sim_frames, seed=args.sim_seed)
        sim_root = generate_dataset(Path(folder) / "sim", config).root
        sim = stream_once(make_stream, sorted((sim_root / "frames").glob("*.h5")))
        sim_truth = annotated_frames(sim_root)
        sim_scores = [score(sim, sim_truth, s) for s in settings]
        print(f"simulated: {args.sim_recordings} recordings, "
              f"{sim_scores[0].hours * 60:.0f} min, {sim_scores[0].falls} fall episodes "
              f"({time.perf_counter() - start:.0f} s)")
    real = Path(args.real)
    keyframes, _ = load_keyframes(Path(args.split_root) / "annotations" / "val.json",
                                  CLASS_NAMES)
    sensors = sorted({k.sensor_id for k in keyframes})
    held_out = stream_once(make_stream, [real / "frames" / f"{s}.h5" for s in sensors])
    real_truth = annotated_frames(real, sensors)
    real_scores = [score(held_out, real_truth, s) for s in settings]
    print(f"held-out real: {', '.join(sensors)}, {real_scores[0].hours * 60:.1f} min, "
          f"{real_scores[0].falls} fall episodes")

    allowed = [i for i, s in enumerate(sim_scores)
               if s.false_alerts_per_hour <= args.max_false_per_hour]
    chosen = min(allowed, key=lambda i: (-sim_scores[i].fall_recall,
                                         sim_scores[i].false_alerts_per_hour,
                                         delay(sim_scores[i])), default=None)
    default = next(i for i, s in enumerate(settings) if s == base)
    print(f"{'smoothing_s':>11} {'fall_share':>10} {'alert_after_s':>13} | "
          f"{'sim recall':>10} {'sim false/h':>11} {'sim delay s':>11} | "
          f"{'real falls':>10} {'real false':>12} {'real delay s':>12}")
    for index, (setting, sim_s, real_s) in enumerate(zip(settings, sim_scores, real_scores,
                                                         strict=True)):
        mark = " <- chosen on simulated" if index == chosen else ""
        mark += " <- the defaults" if index == default else ""
        print(f"{setting.smoothing_s:11g} {setting.fall_share:10g} {setting.alert_after_s:13g} | "
              f"{sim_s.fall_recall:10.2f} {sim_s.false_alerts_per_hour:11.1f} "
              f"{delay(sim_s):11.1f} | {real_s.falls_alerted:>5}/{real_s.falls:<4} "
              f"{real_s.false_alerts:>3} ({real_s.false_alerts_per_hour:3.0f}/h) "
              f"{delay(real_s):12.1f}{mark}")
    if chosen is None:
        print(f"no setting keeps to {args.max_false_per_hour:g} false alerts per hour on the "
              "simulated recordings, so none is chosen: the defaults stay")
        return
    pick = settings[chosen]
    print(f"chosen: smoothing_s={pick.smoothing_s:g} fall_share={pick.fall_share:g} "
          f"alert_after_s={pick.alert_after_s:g}; held-out real: "
          f"{real_scores[chosen].falls_alerted} of {real_scores[chosen].falls} falls alerted, "
          f"{real_scores[chosen].false_alerts} false alerts "
          f"({real_scores[chosen].false_alerts_per_hour:.1f} per hour; targets recall 0.95, "
          f"at most 1 per hour)")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
