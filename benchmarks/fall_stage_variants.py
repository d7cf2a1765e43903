"""Variants of the fall stage fitted on one streaming of its recordings (what
``thermal-action fall-stage`` streams: simulated recordings with falls and near-falls plus
the real training recordings), each with its decision chosen out of fold by recording:

- ``window-23``: labels at the window's date, the 23 features of the first tree stage;
- ``window``: labels at the window's date, every feature (with the newest frame's box
  and heat);
- ``every-positive``: labels at the newest frame, every feature (``fall-stage``'s
  default);
- ``newest``: the same, a person down after a fall teaching the stage only for its first
  ``POSITIVE_FOR_S`` seconds (``fall-stage --positive-for-s 15``);
- ``relative``: as ``newest`` (with the cut), without the absolute heat and shape features
  (``ABSOLUTE``: excess over the room and box aspect, where simulated and real people
  differ most), keeping their changes over the track's own history;
- ``shares``: as ``newest`` (with the cut), only the classifier's class shares and the
  track's speed (nothing of the box's size, shape or heat).

Printed per variant: the out-of-fold decision chosen (threshold, in a row) with its
fall-episode recall, false alerts per hour and median delay (and the decision of the best
recall alone, without ``SLACK_FALLS``); each is written to
``OUT_DIR/<variant>.json`` for ``benchmarks/fall_alerts.py --stage ...`` to score on a
fresh simulator seed and the held-out real recordings.

    python benchmarks/fall_stage_variants.py --model CONFIG CHECKPOINT
        --detector CONFIG CHECKPOINT --real-root BUILT_DATASET --out-dir DIR
        [--sim-recordings 60] [--sim-frames 1200] [--sim-seed 2026]
        [--sim-cache work_dirs/fall-stage-sim] [--variants newest relative ...]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from thermal_action.data.sensor import SENSOR_SHAPE
from thermal_action.engine.fall_stage import (
    POSITIVE_FOR_S,
    StageSources,
    choose_decision,
    collect,
    fit_fall_stage,
    relabel,
    stage_info,
    stage_jobs,
)
from thermal_action.runtime.alert_rules import FEATURES
from thermal_action.runtime.run import build_stream

ABSOLUTE = ("aspect_now", "peak_excess_now", "mean_excess_now", "now_aspect",
            "now_peak_excess")
SHAPE_AND_HEAT = ABSOLUTE + (
    "log_area_change", "aspect_change", "peak_excess_change", "now_log_area_change",
    "now_aspect_change", "now_peak_excess_change")
VARIANTS = (("window-23", "window", FEATURES[:23], None),
            ("window", "window", FEATURES, None),
            ("every-positive", "newest", FEATURES, None),
            ("newest", "newest", FEATURES, POSITIVE_FOR_S),
            ("relative", "newest", tuple(f for f in FEATURES if f not in ABSOLUTE),
             POSITIVE_FOR_S),
            ("shares", "newest", tuple(f for f in FEATURES if f not in SHAPE_AND_HEAT),
             POSITIVE_FOR_S))
"""Per variant: its name, what its labels describe, its features and ``positive_for_s``."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--detector", nargs=2, required=True, metavar=("CONFIG", "CHECKPOINT"))
    parser.add_argument("--real-root", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--sim-recordings", type=int, default=60)
    parser.add_argument("--sim-frames", type=int, default=1200)
    parser.add_argument("--sim-seed", type=int, default=2026)
    parser.add_argument("--sim-cache", type=Path, default=Path("work_dirs/fall-stage-sim"))
    parser.add_argument("--max-false-per-hour", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=[v[0] for v in VARIANTS],
                        default=[v[0] for v in VARIANTS])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    stream = build_stream(*args.model, args.detector)
    sources = StageSources(args.real_root, None, args.sim_recordings, args.sim_frames,
                           args.sim_seed, args.sim_cache)
    jobs = stage_jobs(sources)
    streamed = collect(stream, jobs, SENSOR_SHAPE, label_at="window")
    print(f"streamed {sum(not z for z in streamed.zoneless)} recordings in "
          f"{time.perf_counter() - start:.0f} s")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    labelled = {"window": streamed, "newest": relabel(streamed, jobs, "newest")}
    for name, label_at, features, positive_for_s in (v for v in VARIANTS
                                                      if v[0] in args.variants):
        data = labelled[label_at]
        data = replace(data, features=tuple(features))
        began = time.perf_counter()
        result = fit_fall_stage(data, args.max_false_per_hour, 0,
                                stage_info(stream, sources, data, label_at), positive_for_s)
        path = result.model.save(args.out_dir / f"{name}.json")
        chosen = result.chosen
        print(f"{name:10s} labels at {label_at:6s} {len(result.model.features):2d} features:"
              f" {result.positives}/{result.observations} positive; out of fold: threshold "
              f"{chosen.threshold:g}, {chosen.confirm} in a row, recall {chosen.recall:.2f} of "
              f"{chosen.falls} falls at {chosen.false_per_hour:.2f} false/h, median delay "
              f"{chosen.median_delay_s:.1f} s ({time.perf_counter() - began:.0f} s) -> {path}")
        best = choose_decision(result.decisions, args.max_false_per_hour, slack_falls=0)
        print(f"{'':10s} the best recall alone: threshold {best.threshold:g}, {best.confirm} in "
              f"a row, recall {best.recall:.2f} at {best.false_per_hour:.2f} false/h, median "
              f"delay {best.median_delay_s:.1f} s")


if __name__ == "__main__":
    main()
