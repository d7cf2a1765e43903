"""On the real 8-recording dataset (THERMAL_ACTION_REAL_DATA): the seed's usage, and a few
iterations of train -> checkpoint -> resume -> test, through our CLI and MMAction2's tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mmaction
import numpy as np
import pytest

from tests.conftest import NATIVE_CONFIG, REPO_ROOT, run_cli
from thermal_action import ThermalActionDataset  # the seed's import

SUBSET = [
    "--cfg-options",
    "train_dataloader.dataset.indices=16",
    "val_dataloader.dataset.indices=8",
    "test_dataloader.dataset.indices=8",
    "train_dataloader.num_workers=2",
    "default_hooks.logger.interval=1",
]
TOOLS = Path(mmaction.__file__).parent / ".mim" / "tools"


def test_seed_usage_on_real_data(real_data_root):
    train = ThermalActionDataset(
        ann_file=str(real_data_root / "annotations/train.json"),
        hdf5_root=str(real_data_root / "frames"),
        pipeline=[],
        num_classes=14,
    )
    assert len(train) == 314
    sample = train[0]
    assert sample["imgs"].shape == (64, 40, 60, 3) and sample["imgs"].dtype == np.float32
    assert 0 < sample["imgs"].min() and sample["imgs"].max() < 60  # deg C, no -273.2 left
    assert {"label", "sensor_id", "frame_idx", "timestamp", "gt_bboxes", "gt_labels"} <= set(sample)
    multi = [info for info in train.load_data_list() if len(set(info["gt_labels"].tolist())) > 1]
    assert len(multi) == 72  # keyframes whose people do different actions
    val = ThermalActionDataset(
        ann_file="annotations/val.json",
        hdf5_root="frames",
        data_root=str(real_data_root),
        pipeline=[],
    )
    assert len(val) == 73


def test_sl14_invalid_pixels_are_repaired(real_data_root):
    import h5py

    with h5py.File(real_data_root / "frames" / "SL14_R1.h5") as file:
        frames = file["frames"][:]
    invalid_frames = np.flatnonzero((frames <= -273).any(axis=(1, 2)))
    assert len(invalid_frames) > 0
    from mmaction.registry import TRANSFORMS
    from mmengine.dataset import Compose

    pipeline = Compose(
        [
            TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=64)),
            TRANSFORMS.build(dict(type="RepairInvalidPixels")),
        ]
    )
    keyframe = int(np.clip(invalid_frames[len(invalid_frames) // 2], 32, len(frames) - 33))
    results = pipeline(
        dict(hdf5_path=str(real_data_root / "frames/SL14_R1.h5"), frame_idx=keyframe)
    )
    assert results["invalid_fraction"] > 0
    assert results["imgs"].min() > 0 and np.isfinite(results["imgs"]).all()


def test_train_resume_test_on_real_data(real_data_root, tmp_path):
    work_dir = tmp_path / "work"
    args = ["--data-root", str(real_data_root), "--work-dir", str(work_dir)]
    first = run_cli("train", NATIVE_CONFIG, *args, "--epochs", "1", *SUBSET)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (work_dir / "epoch_1.pth").is_file()
    second = run_cli("train", NATIVE_CONFIG, *args, "--epochs", "2", "--resume", *SUBSET)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resumed from:    {work_dir / 'epoch_1.pth'}" in second.stdout
    out = tmp_path / "metrics.json"
    tested = run_cli(
        "test", NATIVE_CONFIG, str(work_dir / "epoch_2.pth"), *args, "--out", str(out), *SUBSET
    )
    assert tested.returncode == 0, tested.stderr[-3000:]
    metrics = json.loads(out.read_text())["metrics"]
    assert 0 <= metrics["acc/top1"] <= 1 and 0 <= metrics["acc/mean_class"] <= 1
    assert "acc/mean_class:" in tested.stdout


def test_upstream_mmaction_tools_run_our_config(real_data_root, tmp_path):
    config = REPO_ROOT / "thermal_action" / "configs" / f"{NATIVE_CONFIG}.py"
    env = {**os.environ, "THERMAL_ACTION_DATA_ROOT": str(real_data_root)}
    options = ["--cfg-options", "train_cfg.max_epochs=1", *SUBSET[1:]]
    train = subprocess.run(
        [
            sys.executable,
            str(TOOLS / "train.py"),
            str(config),
            "--work-dir",
            str(tmp_path),
            *options,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    checkpoint = tmp_path / "epoch_1.pth"
    assert checkpoint.is_file()
    test = subprocess.run(
        [
            sys.executable,
            str(TOOLS / "test.py"),
            str(config),
            str(checkpoint),
            "--work-dir",
            str(tmp_path),
            "--cfg-options",
            "test_dataloader.dataset.indices=8",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert test.returncode == 0, test.stderr[-3000:]
    assert "acc/mean_class" in test.stdout + test.stderr


@pytest.mark.parametrize("config", ["r50_1xb8"])
def test_gpu_recipe_builds_its_real_data_pipeline(real_data_root, config):
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from thermal_action.engine import load_config

    cfg = load_config(config, data_root=real_data_root)
    init_default_scope("mmaction")
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    packed = dataset[0]
    assert tuple(packed["inputs"].shape) == (1, 3, 32, 256, 256)
    assert packed["data_samples"].metainfo["sensor_id"].startswith("SL")
