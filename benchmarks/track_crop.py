"""Does a person crop that follows the track beat the fixed keyframe crop? Both
person-centred recipes train on a dataset built with a recording (or session) split, for
several seeds; each last checkpoint is tested on the held-out recordings; mean-class
accuracy and top-1 are printed side by side (mean and spread over seeds), with how far the
held-out people move within their windows.

    python benchmarks/track_crop.py --split-root work_dirs/built/by-recording
        [--seeds 3] [--epochs 50] [--out work_dirs/track_crop]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.sensor import WINDOW_FRAMES
from thermal_action.engine.runner import test, train

RECIPES = {"fixed keyframe crop": "person-24px", "crop that follows the track": "person-track-24px"}


def movement_px(ann_file: Path) -> np.ndarray:
    """Per annotated person: the largest distance (pixels) between their box centre at the
    keyframe and at the other keyframes of the same window (0 when alone in it)."""
    keyframes, _ = load_keyframes(ann_file, CLASS_NAMES)
    seen: dict[tuple[str, int], list[tuple[int, np.ndarray]]] = {}
    for keyframe in keyframes:
        for object_id, box in zip(keyframe.object_ids, keyframe.boxes_xyxy, strict=True):
            seen.setdefault((keyframe.sensor_id, int(object_id)), []).append(
                (keyframe.frame_idx, (box[:2] + box[2:]) / 2))
    moves = []
    for track in seen.values():
        for frame, centre in track:
            near = [np.linalg.norm(c - centre) for f, c in track
                    if abs(f - frame) <= WINDOW_FRAMES // 2]
            moves.append(max(near))
    return np.asarray(moves)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split-root", required=True, help="a dataset built by data build")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--out", default="work_dirs/track_crop")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.split_root)
    moves = movement_px(root / "annotations" / "val.json")
    print(f"held-out people: {len(moves)}; movement within their window: median "
          f"{np.median(moves):.1f} px, 90th percentile {np.percentile(moves, 90):.1f} px, "
          f"{(moves > 4).mean():.0%} move more than 4 px")
    results: dict[str, list[dict[str, float]]] = {}
    for name, config in RECIPES.items():
        for seed in range(args.seeds):
            work_dir = Path(args.out) / f"{config}-seed{seed}"
            trained = train(config, root, work_dir, args.epochs,
                            cfg_options={"randomness.seed": seed}, quiet=True)
            metrics = test(config, trained.last_checkpoint, root, quiet=True)["metrics"]
            results.setdefault(name, []).append(metrics)
            print(f"{name}, seed {seed}: mean-class {metrics['acc/mean_class']:.3f}  "
                  f"top-1 {metrics['acc/top1']:.3f}", flush=True)
    for name, runs in results.items():
        mean_class = np.array([run["acc/mean_class"] for run in runs])
        top1 = np.array([run["acc/top1"] for run in runs])
        print(f"{name}: mean-class {mean_class.mean():.3f} +- {mean_class.std():.3f}  top-1 "
              f"{top1.mean():.3f} +- {top1.std():.3f}  ({len(runs)} seeds, last checkpoints)")


if __name__ == "__main__":
    main()
