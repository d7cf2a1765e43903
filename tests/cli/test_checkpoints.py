"""Checkpoints given to ``test``, ``train --pretrained`` and ``load_from``: a checkpoint of
another config or a broken file is one error line (exit 2), never a scored run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mmaction
import pytest
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

from tests.conftest import NATIVE_CONFIG, REPO_ROOT, TINY_TRAIN_OPTIONS, coco, run_cli
from thermal_action.cli.main import main
from thermal_action.engine import load_config

PERSON_CONFIG = "slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px"


def _checkpoint(config: str, path: Path) -> Path:
    """An MMEngine checkpoint of a freshly initialized model of ``config``."""
    init_default_scope("mmaction")
    model = MODELS.build(load_config(config).model)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(dict(meta=dict(epoch=2), state_dict=model.state_dict()), str(path))
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    return err[-1]


@pytest.mark.parametrize("config, other", [("person-24px", NATIVE_CONFIG),
                                           ("thermal-40x60", PERSON_CONFIG)])
def test_checkpoint_of_another_config_is_refused(tiny_root, tmp_path, capsys, config, other,
                                                 monkeypatch):
    checkpoint = _checkpoint(other, tmp_path / "other" / "epoch_2.pth")
    monkeypatch.chdir(tmp_path)
    assert main(["test", config, str(checkpoint), "--data-root", str(tiny_root)]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"thermal-action test: error: {checkpoint}: does not fit config ")
    assert "shape-mismatched (backbone." in line or "missing from the checkpoint (" in line
    assert "acc/" not in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["epoch_2.pth"]
    assert not (tmp_path / "work_dirs").exists()


def test_load_from_of_another_config_is_refused_before_training(tiny_root, tmp_path, capsys):
    checkpoint = _checkpoint(PERSON_CONFIG, tmp_path / "person.pth")
    work_dir = tmp_path / "work"
    assert main(["train", "thermal-40x60", "--data-root", str(tiny_root), "--work-dir",
                 str(work_dir), "--cfg-options", f"load_from={checkpoint}"]) == 2
    assert f"{checkpoint}: does not fit config slowfast_r18" in _error_line(capsys)
    assert not work_dir.exists()


@pytest.mark.parametrize("content", [b"", b"\0" * 64, b"PK\x03\x04 truncated zip"])
def test_broken_checkpoint_is_one_line_for_test_and_pretrained(tiny_root, tmp_path, capsys,
                                                               content):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(content)
    assert main(["test", "thermal-40x60", str(broken), "--data-root", str(tiny_root)]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"thermal-action test: error: {broken}: ")
    assert "weights_only" not in line
    work_dir = tmp_path / "work"
    assert main(["train", "thermal-40x60", "--data-root", str(tiny_root), "--work-dir",
                 str(work_dir), "--pretrained", str(broken)]) == 2
    assert _error_line(capsys).startswith(f"thermal-action train: error: {broken}: ")
    assert not work_dir.exists()  # a failed start leaves no empty work dir behind


def test_person_checkpoint_scores_people_on_the_test_split(tiny_root, tmp_path):
    """`test` says what it scored (people, not clips) and from which file: test.json when
    the dataset has one, val.json otherwise; its logs go beside the checkpoint."""
    checkpoint = _checkpoint(PERSON_CONFIG, tmp_path / "run" / "epoch_2.pth")
    (tmp_path / "run" / f"{PERSON_CONFIG}.py").write_text("# the training run's config\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    args = ["test", "person-24px", str(checkpoint), "--data-root", str(tiny_root),
            *TINY_TRAIN_OPTIONS]
    val = run_cli(*args, cwd=cwd)
    assert val.returncode == 0, val.stderr[-3000:]
    assert (f"people: 3  ({tiny_root / 'annotations' / 'val.json'}; val split: the dataset "
            "has no test.json)") in val.stdout
    # issue 13: a score is never called held out when its windows overlap training ones
    assert "warning: val overlaps train in 3 of 3 windows: not held out" in val.stdout
    assert list(cwd.iterdir()) == []  # no work_dirs/ in the current directory
    logs = [p for p in (tmp_path / "run").iterdir() if p.is_dir()]
    assert len(logs) == 1 and list(logs[0].glob("*.log"))
    assert (tmp_path / "run" / f"{PERSON_CONFIG}.py").read_text() == (
        "# the training run's config\n")

    test_json = coco([("REC_B", 40, [([0.4, 0.5, 0.1, 0.1], 1), ([0.7, 0.5, 0.1, 0.1], 2)])])
    (tiny_root / "annotations" / "test.json").write_text(json.dumps(test_json))
    tested = run_cli(*args, "--out", str(tmp_path / "m.json"), cwd=cwd)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "people: 2  (" in tested.stdout and "test.json; test split)" in tested.stdout
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["split"] == "test" and report["sample_unit"] == "person"
    assert report["overlap"]["overlapping_windows"] == 1 and not report["overlap"]["held_out"]
    asked = run_cli(*args, "--split", "val", cwd=cwd)
    assert asked.returncode == 0 and "val.json; val split, as asked)" in asked.stdout


def test_upstream_test_tool_refuses_a_checkpoint_of_another_config(tiny_root, tmp_path):
    """MMAction2's own tools/test.py gets the same check (``CheckpointFitHook``)."""
    checkpoint = _checkpoint(PERSON_CONFIG, tmp_path / "person.pth")
    config = REPO_ROOT / "thermal_action" / "configs" / f"{NATIVE_CONFIG}.py"
    tool = Path(mmaction.__file__).parent / ".mim" / "tools" / "test.py"
    result = subprocess.run(
        [sys.executable, str(tool), str(config), str(checkpoint), "--work-dir",
         str(tmp_path / "upstream"), "--cfg-options", "test_dataloader.num_workers=0",
         "test_dataloader.persistent_workers=False"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "THERMAL_ACTION_DATA_ROOT": str(tiny_root)})
    assert result.returncode != 0
    assert f"{checkpoint}: does not fit config {NATIVE_CONFIG}" in result.stderr
    assert "Epoch(test)" not in result.stdout + result.stderr  # nothing was scored


def test_asking_for_a_split_the_dataset_lacks_is_one_line(tiny_root, tmp_path, capsys):
    checkpoint = _checkpoint(PERSON_CONFIG, tmp_path / "run" / "epoch_1.pth")
    assert main(["test", "person-24px", str(checkpoint), "--data-root", str(tiny_root),
                 "--split", "test"]) == 2
    assert _error_line(capsys) == (f"thermal-action test: error: {tiny_root}/annotations/"
                                   "test.json: the dataset has no test split")
