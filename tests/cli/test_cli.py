"""``thermal-action`` end to end at toy size, and its one-line errors on bad input."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import NATIVE_CONFIG, TINY_TRAIN_OPTIONS, run_cli, write_recording
from thermal_action.cli.main import clean_error, main


def test_train_resume_test_and_pretrained(tiny_root, tmp_path):
    work_dir = tmp_path / "work"
    common = ["--data-root", str(tiny_root), "--work-dir", str(work_dir)]
    result = run_cli("train", "thermal-40x60", *common, "--epochs", "1", *TINY_TRAIN_OPTIONS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work_dir / "epoch_1.pth").is_file()
    assert list(work_dir.glob("best_acc_mean_class_epoch_*.pth"))
    assert (work_dir / f"{NATIVE_CONFIG}.py").is_file()  # resolved config kept with the run
    assert "last checkpoint:" in result.stdout and "val acc/mean_class:" in result.stdout
    # Issue 10: a progress bar on the console, MMEngine's environment and config in the log
    assert "train epoch 1/1" in result.stderr and "loss " in result.stderr
    console = result.stdout + result.stderr
    assert "System environment" not in console and "Config:" not in console
    (log,) = work_dir.glob("*/*.log")
    assert "System environment" in log.read_text() and "Epoch(train)" in log.read_text()

    resumed = run_cli(
        "train", "thermal-40x60", *common, "--epochs", "2", "--resume", *TINY_TRAIN_OPTIONS
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from:    {work_dir / 'epoch_1.pth'}" in resumed.stdout
    assert "resumed epoch: 1" in "".join(p.read_text() for p in work_dir.glob("*/*.log"))
    assert (work_dir / "epoch_2.pth").is_file()

    out = tmp_path / "metrics.json"
    tested = run_cli(
        "test",
        "thermal-40x60",
        str(work_dir / "epoch_2.pth"),
        "--data-root",
        str(tiny_root),
        "--work-dir",
        str(work_dir),
        "--out",
        str(out),
        *TINY_TRAIN_OPTIONS,
    )
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "acc/top1:" in tested.stdout and "acc/mean_class:" in tested.stdout
    report = json.loads(out.read_text())
    assert report["num_clips"] == 3
    assert report["hdf5_root"] == str(tiny_root / "frames")
    assert set(report["metrics"]) == {"acc/top1", "acc/top5", "acc/mean_class"}
    assert len(report["confusion_matrix"]) == 14
    assert report["per_class_recall"]["standing"] is not None

    pretrained = run_cli(
        "train",
        "thermal-40x60",
        "--data-root",
        str(tiny_root),
        "--work-dir",
        str(tmp_path / "finetune"),
        "--epochs",
        "1",
        "--pretrained",
        str(work_dir / "epoch_2.pth"),
        *TINY_TRAIN_OPTIONS,
    )
    assert pretrained.returncode == 0, pretrained.stderr[-3000:]
    assert "epoch_2.pth: loaded" in pretrained.stdout
    assert "re-initialized head 2" in pretrained.stdout


def _train_error_line(data_root, work_dir, options) -> str:
    """Train on ``data_root`` expecting failure: exit 2, no traceback, and the last stderr
    line is the one error line; returns it."""
    result = run_cli("train", "thermal-40x60", "--data-root", str(data_root), "--work-dir",
                     str(work_dir), "--epochs", "1", *options)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("thermal-action train: error: ")
    return last


def _bad_input_cases():
    def delete_recording(root):
        (root / "frames" / "REC_B.h5").unlink()

    def corrupt_recording(root):
        (root / "frames" / "REC_B.h5").write_bytes(b"\x00" * 64)

    def rewrite(mutate):
        def apply(root):
            path = root / "annotations" / "train.json"
            data = json.loads(path.read_text())
            mutate(data)
            path.write_text(json.dumps(data))

        return apply

    def malformed(root):
        (root / "annotations" / "train.json").write_text('{"images": [')

    return [
        ("missing-hdf5", delete_recording, r"REC_B\.h5 does not exist"),
        ("corrupt-hdf5", corrupt_recording, r"REC_B\.h5: not a readable HDF5 file"),
        (
            "unknown-sensor",
            rewrite(lambda d: d["images"][1].update(sensor_id="SL99_R9")),
            r"train\.json: image .* refers to sensor 'SL99_R9'",
        ),
        (
            "keyframe-outside",
            rewrite(lambda d: d["images"][2].update(frame_idx=999)),
            r"train\.json: image .*: keyframe 999 is outside REC_A\.h5 \(80 frames\)",
        ),
        ("malformed-json", malformed, r"train\.json: malformed JSON at line 1"),
        (
            "unknown-category",
            rewrite(lambda d: d["annotations"][0].update(category_id=21)),
            r"train\.json: annotation #0 has unknown category id 21",
        ),
        (
            "path-escape",
            rewrite(lambda d: d["images"][0].update(sensor_id="../../secret")),
            r"train\.json: sensor_id '\.\./\.\./secret' is not a plain name",
        ),
    ]


@pytest.mark.parametrize(
    "name, damage, pattern", _bad_input_cases(), ids=[case[0] for case in _bad_input_cases()]
)
def test_bad_inputs_give_one_error_line(name, damage, pattern, tiny_root, tmp_path):
    damage(tiny_root)
    last = _train_error_line(tiny_root, tmp_path / "work", TINY_TRAIN_OPTIONS)
    assert not (tmp_path / "work").exists()  # refused before the Runner wrote anything
    assert re.search(pattern, last), last


def test_all_invalid_recording_fails_cleanly_from_workers(tiny_root, tmp_path):
    write_recording(tiny_root / "frames" / "REC_B.h5", invalid_frames={t: 1.0 for t in range(80)})
    options = [o for o in TINY_TRAIN_OPTIONS if "num_workers" not in o and "persistent" not in o]
    last = _train_error_line(tiny_root, tmp_path / "work",
                             [*options, "train_dataloader.num_workers=2"])
    assert "REC_B.h5: keyframe" in last and "every pixel of the clip is invalid" in last
    assert not (tmp_path / "work").exists()  # failed before its first iteration: removed


def test_test_needs_an_existing_checkpoint(tiny_root, tmp_path, capsys):
    assert (
        main(["test", "thermal-40x60", str(tmp_path / "none.pth"), "--data-root", str(tiny_root)])
        == 2
    )
    assert "none.pth: checkpoint file not found" in capsys.readouterr().err


def test_unknown_names_get_suggestions(capsys):
    assert main(["trian"]) == 2
    assert "did you mean 'train'" in capsys.readouterr().err
    assert main(["train", "slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x61"]) == 2
    assert f"did you mean '{NATIVE_CONFIG}'?" in capsys.readouterr().err


@pytest.mark.parametrize("typo, meant", [
    ("thermal-40x70", "thermal-40x60"),
    ("persn-24px", "person-24px"),
    ("person-24pz", "person-24px"),
    ("r50_1xb9", "r50_1xb8"),
])
def test_config_typos_get_the_near_short_name(capsys, typo, meant):
    """Issue 9: these listed every config instead of the near one."""
    assert main(["train", typo]) == 2
    err = capsys.readouterr().err
    assert f"config '{typo}' is neither a file nor a shipped config; did you mean '{meant}'?" \
        in err and "shipped:" not in err


def test_help_texts_tell_the_truth(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "person-centred thermal model" in out and "thermal-native model" not in out
    assert "test.json (val.json when there is none)" in out and "test split" not in out
    with pytest.raises(SystemExit):
        main(["test", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: test.json when the dataset has one, else val.json" in out
    assert "default: the checkpoint's folder" in out


def test_configs_lists_shipped_configs():
    result = run_cli("configs")
    assert result.returncode == 0 and NATIVE_CONFIG in result.stdout


def test_clean_error_unwraps_registry_and_worker_messages():
    wrapped = ValueError(
        "class `ThermalActionDataset` in thermal_action.data.dataset: /d/train.json: bad"
    )
    assert clean_error(wrapped) == "/d/train.json: bad"
    worker = ValueError(
        "Caught DataError in DataLoader worker process 0.\nOriginal Traceback:\n"
        "  File x\nthermal_action.errors.DataError: /d/A.h5: keyframe 3: bad"
    )
    assert clean_error(worker) == "/d/A.h5: keyframe 3: bad"


def test_verbose_restores_the_full_console_log(tiny_root, tmp_path):
    result = run_cli("test", "thermal-40x60", str(_native_checkpoint(tmp_path)),
                     "--data-root", str(tiny_root), "--verbose", *TINY_TRAIN_OPTIONS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "System environment" in result.stdout and "Epoch(test)" in result.stdout
    quiet = run_cli("test", "thermal-40x60", str(_native_checkpoint(tmp_path)),
                    "--data-root", str(tiny_root), *TINY_TRAIN_OPTIONS)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "System environment" not in quiet.stdout + quiet.stderr
    assert "Loads checkpoint" not in quiet.stdout  # MMEngine's bare prints go to the log
    assert quiet.stdout.splitlines()[0].startswith("clips: 3  (")


def _native_checkpoint(tmp_path):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import save_checkpoint

    from thermal_action.engine import load_config

    path = tmp_path / "native" / "epoch_1.pth"
    if not path.is_file():
        init_default_scope("mmaction")
        path.parent.mkdir(parents=True, exist_ok=True)
        model = MODELS.build(load_config(NATIVE_CONFIG).model)
        save_checkpoint(dict(meta={}, state_dict=model.state_dict()), str(path))
    return path
