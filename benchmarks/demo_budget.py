"""Time the demo end to end and report its held-out accuracy against the targets.

Targets (issue 3): generate + train + test + render within 10 minutes on 2 CPU cores, and
mean-class accuracy of at least 0.7 on held-out simulated recordings.

    python benchmarks/demo_budget.py [--out work_dirs/demo_budget] [--threads 2]
"""

from __future__ import annotations

import argparse
import shutil
import time

import torch

from thermal_action.engine.demo import DEMO_SYNTH, run_demo

BUDGET_MIN = 10.0
TARGET_MEAN_CLASS = 0.7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="work_dirs/demo_budget")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shutil.rmtree(args.out, ignore_errors=True)  # time the data generation too
    start = time.perf_counter()
    result = run_demo(args.out, synth=DEMO_SYNTH, quiet=True)
    total_min = (time.perf_counter() - start) / 60
    for stage, seconds in result.stage_seconds.items():
        print(f"{stage:<10} {seconds:7.1f} s")
    mean_class = result.metrics["acc/mean_class"]
    print(f"total      {total_min:7.2f} min  (budget {BUDGET_MIN:.0f} min: "
          f"{'met' if total_min <= BUDGET_MIN else 'MISSED'}, ratio {total_min / BUDGET_MIN:.2f})")
    print(f"held-out mean-class accuracy {mean_class:.3f}  (target {TARGET_MEAN_CLASS}: "
          f"{'met' if mean_class >= TARGET_MEAN_CLASS else 'MISSED'}); "
          f"top-1 {result.metrics['acc/top1']:.3f}")


if __name__ == "__main__":
    main()
