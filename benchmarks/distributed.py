"""Training throughput of one process against N processes under torchrun, side by side.

Trains a config for one epoch on a fixed subset of a dataset, alone (all cores to one
process) and under ``torchrun --nproc_per_node N`` (the cores shared out), and prints the
median step time and the training clips per second of each from MMEngine's own iteration
log (steps after the first few, so start-up is not counted), and their ratio.

    python benchmarks/distributed.py --data-root ../shared/data/thermal_action_dataset \
        [--config person-24px] [--samples 512] [--nproc 2] [--out work_dirs/bench_dist]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

WARMUP_STEPS = 3


def _train(args: argparse.Namespace, nproc: int, work_dir: Path) -> list[float]:
    """Train one epoch with ``nproc`` processes; the per-step times MMEngine logged (s)."""
    shutil.rmtree(work_dir, ignore_errors=True)
    command = [
        "-m", "thermal_action.cli.main", "train", args.config, "--data-root", args.data_root,
        "--work-dir", str(work_dir), "--epochs", "1", "--cfg-options",
        f"train_dataloader.dataset.indices={args.samples}", "val_dataloader.dataset.indices=8",
        "default_hooks.logger.interval=1"]
    if nproc > 1:
        command = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(nproc), *command, "--launcher", "pytorch"]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, args.cores // nproc))}
    subprocess.run([sys.executable, *command], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (scalars,) = work_dir.glob("*/vis_data/scalars.json")
    steps = [json.loads(line) for line in scalars.read_text().splitlines()]
    return [step["time"] for step in steps if "loss" in step][WARMUP_STEPS:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--config", default="person-24px")
    parser.add_argument("--samples", type=int, default=512, help="training clips (subset)")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", default="work_dirs/bench_dist")
    args = parser.parse_args()
    from thermal_action.config import load_config

    batch = int(load_config(args.config).train_dataloader.batch_size)
    rates = {}
    for nproc in (1, args.nproc):
        times = _train(args, nproc, Path(args.out) / f"nproc{nproc}")
        step = statistics.median(times)
        rates[nproc] = batch * nproc / step
        print(f"{nproc} process{'es' if nproc > 1 else ''} x {args.cores // nproc} threads: "
              f"median step {step * 1000:.0f} ms ({len(times)} steps, batch {batch} per "
              f"process), {rates[nproc]:.1f} clips/s")
    print(f"speed-up of {args.nproc} processes: {rates[args.nproc] / rates[1]:.2f}x "
          f"on {args.cores} CPU cores")


if __name__ == "__main__":
    main()
