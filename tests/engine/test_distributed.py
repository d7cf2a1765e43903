"""Runs under torchrun: the CPU workarounds, the rank-aware helpers, and two real
processes on loopback training on the real data (disjoint shares, gathered validation
equal to a single-process test, rank 0 alone writing, resume, one error line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import run_cli
from thermal_action.config import CONFIG_DIR, load_config
from thermal_action.engine import distributed
from thermal_action.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
PERSON = "slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px"


def _sampler(labels, rank, world_size, monkeypatch, seed=3):
    from thermal_action.data import samplers

    monkeypatch.setattr(samplers, "get_dist_info", lambda: (rank, world_size))

    class Labels:
        def __len__(self):
            return len(labels)

        def get_data_info(self, index):
            return {"label": labels[index]}

    return samplers.ClassBalancedSampler(Labels(), power=0.5, seed=seed)


def test_balanced_sampler_ranks_take_disjoint_shares_of_one_weighted_draw(monkeypatch):
    labels = [0] * 30 + [1] * 5 + [2] * 2
    alone = _sampler(labels, 0, 1, monkeypatch)
    ranks = [_sampler(labels, rank, 2, monkeypatch) for rank in (0, 1)]
    for epoch in (0, 1):
        for sampler in (alone, *ranks):
            sampler.set_epoch(epoch)
        shares = [list(sampler) for sampler in ranks]
        assert len(shares[0]) == len(shares[1]) == 19  # ceil(37 / 2) each
        interleaved = np.empty(38, np.int64)
        interleaved[0::2], interleaved[1::2] = shares
        rng = np.random.default_rng(3 + epoch)
        expected = rng.choice(37, size=38, p=ranks[0].weights)
        np.testing.assert_array_equal(interleaved, expected)  # positions split, none twice
    ranks[0].set_epoch(0)
    first = list(ranks[0])
    ranks[0].set_epoch(1)
    assert list(ranks[0]) != first  # reseeded per epoch


def test_start_refuses_a_launch_without_its_environment(monkeypatch):
    for name in distributed.TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert distributed.start("none") == (0, 1)
    with pytest.raises(ConfigError, match="RANK, WORLD_SIZE.*torchrun --nproc_per_node"):
        distributed.start("pytorch")
    with pytest.raises(ConfigError, match="unknown launcher 'slurm'"):
        distributed.start("slurm")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="add --launcher pytorch"):
        distributed.start("none")


def test_configure_names_the_backend_of_the_device(monkeypatch):
    cfg = load_config(PERSON)
    assert cfg.env_cfg.dist_cfg.backend == "nccl"  # what the shipped runtime says
    distributed.configure(cfg, "pytorch")
    assert cfg.launcher == "pytorch" and cfg.env_cfg.dist_cfg.backend == "gloo"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    distributed.configure(cfg, "pytorch")
    assert cfg.env_cfg.dist_cfg.backend == "nccl"


def test_error_lines_come_from_one_rank(monkeypatch):
    error = DataError("rec.h5", "bad frame")
    assert distributed.error_line("train", "rec.h5: bad frame", error) == (
        "thermal-action train: error: rec.h5: bad frame")
    assert distributed.error_line("train", "x", distributed.PeerFailed("rank 1 failed")) is None
    monkeypatch.setenv("RANK", "1")  # before the group starts, every rank fails alike
    assert distributed.error_line("train", "x", error) is None
    monkeypatch.setattr(distributed, "is_distributed", lambda: True)
    monkeypatch.setattr(distributed, "rank", lambda: 1)  # after, a rank's own error
    assert distributed.error_line("train", "rec.h5: bad frame", error).endswith(
        "rec.h5: bad frame (rank 1)")


def test_cpu_process_group_and_ddp_wrap_through_mmengine(monkeypatch, tmp_path):
    """What MMEngine 0.10.7 does under launcher='pytorch' without a GPU: init_dist with
    the runtime's nccl, then DDP with device_ids=[LOCAL_RANK]; both fail unpatched."""
    import mmengine.dist.utils as dist_utils
    import torch.distributed as torch_dist
    from mmengine.model.wrappers.distributed import MMDistributedDataParallel

    assert dist_utils._init_dist_pytorch._thermal_action_cpu
    set_device_calls = []
    monkeypatch.setattr(torch.cuda, "set_device", set_device_calls.append)
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0"),
                        ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", str(_free_port()))):
        monkeypatch.setenv(name, value)
    dist_utils._init_dist_pytorch("nccl")  # what init_dist("pytorch") calls
    try:
        assert torch_dist.get_backend() == "gloo" and not set_device_calls
        model = MMDistributedDataParallel(torch.nn.Linear(3, 2), device_ids=[0])
        assert model.device_ids is None
        model(torch.ones(4, 3)).sum().backward()
    finally:
        torch_dist.destroy_process_group()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The probe modules live in tests/, which the child processes import from the repository.
WITH_TESTS = {"PYTHONPATH": os.pathsep.join(filter(None, (str(REPO),
                                                           os.environ.get("PYTHONPATH"))))}


def _torchrun(*args: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, **WITH_TESTS}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "thermal_action.cli.main", *args, "--launcher", "pytorch"],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


PROBE_CONFIG = f"""_base_ = ['{CONFIG_DIR / PERSON}.py']
custom_imports = dict(imports=['thermal_action.registration', 'tests.engine.distributed_probe'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='CheckpointFitHook'), dict(type='RecordRankSamplesHook')]
"""
FAILING_CONFIG = PROBE_CONFIG + """
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='FailOnRank', rank=1), {{_base_.person_clip}}, {{_base_.random_flip}},
    {{_base_.random_shift}}, {{_base_.to_channels}}, {{_base_.format_shape}},
    {{_base_.pack_person}}]))
"""
SMALL = ["--cfg-options", "train_dataloader.dataset.indices=48",
         "val_dataloader.dataset.indices=30", "test_dataloader.dataset.indices=30",
         "train_dataloader.batch_size=8", "val_dataloader.batch_size=4",
         "test_dataloader.batch_size=4", "default_hooks.logger.interval=1"]


def test_two_cpu_processes_train_resume_and_fail_together(real_data_root, tmp_path):
    config = tmp_path / "probe_person.py"
    config.write_text(PROBE_CONFIG)
    work = tmp_path / "work"
    common = [str(config), "--data-root", str(real_data_root), "--work-dir", str(work)]
    first = _torchrun("train", *common, "--epochs", "1", *SMALL, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = _torchrun("train", *common, "--epochs", "2", "--resume", *SMALL, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Rank 0 alone prints, writes checkpoints and the log.
    assert resumed.stdout.count("last checkpoint:") == 1
    assert f"resumed from:    {work / 'epoch_1.pth'}" in resumed.stdout
    assert sorted(p.name for p in work.glob("*.pth")) == [
        "best_acc_mean_class_epoch_1.pth", "epoch_1.pth", "epoch_2.pth"] or \
        sorted(p.name for p in work.glob("epoch_*.pth")) == ["epoch_1.pth", "epoch_2.pth"]
    logs = list(work.glob("*/*.log"))
    assert len(logs) == 2 and not any("rank" in p.name for p in work.rglob("*.log"))
    assert "resumed epoch: 1" in "".join(p.read_text() for p in logs)

    # Each rank trained on its own share of the class-balanced draw of every epoch.
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from thermal_action.data.samplers import ClassBalancedSampler

    probes = [json.loads((work / f"probe_rank{rank}.json").read_text())["runs"]
              for rank in (0, 1)]
    cfg = load_config(str(config), real_data_root, None, None,
                      {"train_dataloader.dataset.indices": 48})
    init_default_scope("mmaction")
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    keys = [(dataset.get_data_info(i)["image_id"], int(dataset.get_data_info(i)["object_id"]))
            for i in range(len(dataset))]
    for run_index, epochs in enumerate(([0], [1])):
        seed = probes[0][run_index]["seed"]
        assert probes[1][run_index]["seed"] == seed and probes[0][run_index]["world_size"] == 2
        weights = ClassBalancedSampler(dataset, power=0.5, seed=seed).weights
        share = -(-len(dataset) // 2)  # each of the 2 ranks draws ceil(N / 2)
        for epoch in epochs:
            draw = np.random.default_rng(seed + epoch).choice(len(dataset), 2 * share, p=weights)
            for rank in (0, 1):
                seen = Counter(tuple(key) for key in probes[rank][run_index]["epochs"][str(epoch)])
                assert seen == Counter(keys[i] for i in draw[rank::2]), (rank, epoch)

    # Validation was gathered from both ranks: it equals one process testing epoch 2.
    val = probes[0][1]["val"]["2"]
    assert probes[1][1]["val"]["2"] == val  # every rank received the same metrics
    out = tmp_path / "single.json"
    single = run_cli("test", str(config), str(work / "epoch_2.pth"), "--data-root",
                     str(real_data_root), "--split", "val", "--out", str(out), *SMALL,
                     cwd=tmp_path, env=WITH_TESTS)
    assert single.returncode == 0, single.stderr[-3000:]
    metrics = json.loads(out.read_text())["metrics"]
    assert json.loads(out.read_text())["num_clips"] == 30
    for key in ("acc/top1", "acc/mean_class"):
        assert metrics[key] == pytest.approx(val[key], abs=1e-6)

    # A bad input on one rank ends both, with one error line naming it.
    failing = tmp_path / "failing_person.py"
    failing.write_text(FAILING_CONFIG)
    broken = _torchrun("train", str(failing), "--data-root", str(real_data_root), "--work-dir",
                       str(tmp_path / "broken"), "--epochs", "1", *SMALL, cwd=tmp_path,
                       timeout=120)
    assert broken.returncode != 0
    lines = [line for line in broken.stderr.splitlines() if line.startswith("thermal-action")]
    assert len(lines) == 1, broken.stderr[-3000:]
    assert "injected corrupt frame (rank 1)" in lines[0] and ".h5" in lines[0]
    ours = broken.stderr.split("failed (exitcode")[0]  # before torchrun's own failure report
    assert "Traceback" not in ours and "exitcode  : 2" in broken.stderr


def test_mmaction2_dist_train_sh_on_cpu(tiny_root, tmp_path):
    """MMAction2's own launcher script (python -m torch.distributed.launch ... train.py
    --launcher pytorch) trains a shipped config on CPUs through the compat fixes."""
    import importlib.util

    from tests.conftest import TINY_CFG_OPTIONS

    tools = Path(importlib.util.find_spec("mmaction").origin).parent / ".mim" / "tools"
    work = tmp_path / "upstream"
    options = [f"{key}={value}" for key, value in TINY_CFG_OPTIONS.items()]
    env = {**os.environ, "THERMAL_ACTION_DATA_ROOT": str(tiny_root),
           "PORT": str(_free_port()),
           "PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ["PATH"]))}
    result = subprocess.run(
        ["bash", str(tools / "dist_train.sh"), str(CONFIG_DIR / f"{PERSON}.py"), "2",
         "--work-dir", str(work), "--cfg-options", "train_cfg.max_epochs=1", *options],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work / "epoch_1.pth").is_file()
    (log,) = work.glob("*/*.log")
    assert "Distributed launcher: pytorch" in log.read_text()
    assert "Epoch(val) [1]" in log.read_text()


def test_evaluate_and_test_under_the_launcher(two_sessions, tmp_path):
    """evaluate trains and tests each fold with both ranks, rank 0 writes the runs and
    the report; test under the launcher scores like one process."""
    from tests.conftest import TINY_TRAIN_OPTIONS

    out = tmp_path / "eval"
    result = _torchrun("evaluate", "person-24px", "--data-root", str(two_sessions),
                       "--epochs", "1", "--out", str(out), *TINY_TRAIN_OPTIONS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("leave-one-session-out: 2 runs (2 folds x 1 seeds)") == 1
    assert result.stdout.count("report: ") == 1 and (out / "report.md").is_file()
    run = json.loads((out / "runs" / "S1-seed0" / "result.json").read_text())
    assert run["samples"] == 3 and run["held_out"] == ["S1_R1", "S1_R2"]

    checkpoint = out / "runs" / "S1-seed0" / "work" / "epoch_1.pth"
    scored = {}
    for name, runner in (("two", _torchrun), ("one", run_cli)):
        path = tmp_path / f"{name}.json"
        done = runner("test", "person-24px", str(checkpoint), "--data-root", str(two_sessions),
                      "--split", "val", "--out", str(path), *TINY_TRAIN_OPTIONS, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        scored[name] = json.loads(path.read_text())
    assert scored["two"]["num_clips"] == scored["one"]["num_clips"] == 2
    assert scored["two"]["metrics"] == pytest.approx(scored["one"]["metrics"], abs=1e-6)
    assert scored["two"]["confusion_matrix"] == scored["one"]["confusion_matrix"]
