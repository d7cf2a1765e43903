"""``evaluate``: folds x seeds trained and tested, summarized, resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TINY_CFG_OPTIONS, TINY_TRAIN_OPTIONS, run_cli, untrained_checkpoint
from thermal_action.engine.evaluate import EvaluateCallbacks, evaluate
from thermal_action.errors import ConfigError

PERSON_CONFIG = "person-24px"
TINY = TINY_CFG_OPTIONS


def test_evaluate_runs_every_fold_and_resumes(two_sessions: Path, tmp_path: Path):
    out = tmp_path / "eval"
    finished = []
    callbacks = EvaluateCallbacks(run_finished=lambda result, reused: finished.append(
        (result.fold, result.seed, reused)))
    summary = evaluate(PERSON_CONFIG, two_sessions, "leave-one-session-out", out, seeds=1,
                       epochs=1, cfg_options=TINY, callbacks=callbacks)
    assert finished == [("S1", 0, False), ("S2", 0, False)]
    assert summary["held_out"] and len(summary["runs"]) == 2
    assert sum(row["support"] for row in summary["per_class"].values()) == 5  # people
    assert sum(map(sum, summary["confusion_matrix"])) == 5
    run = json.loads((out / "runs" / "S1-seed0" / "result.json").read_text())
    assert run["held_out"] == ["S1_R1", "S1_R2"] and run["samples"] == 3
    assert run["checkpoint"].endswith("epoch_1.pth") and run["hours"] > 0
    for key in ("top1", "mean_class_present", "mean_class_mmaction", "macro_f1"):
        stat = summary["scores"][key]
        assert 0 <= stat["mean"] <= 1 and stat["runs"] == 2

    # a run whose result was lost is redone (its training resumes); the other is reused
    (out / "runs" / "S2-seed0" / "result.json").unlink()
    finished.clear()
    again = evaluate(PERSON_CONFIG, two_sessions, "leave-one-session-out", out, seeds=1,
                     epochs=1, cfg_options=TINY, callbacks=callbacks)
    assert finished == [("S1", 0, True), ("S2", 0, False)]
    assert again["scores"]["top1"] == summary["scores"]["top1"]

    with pytest.raises(ConfigError, match="other settings \\(epochs\\)"):
        evaluate(PERSON_CONFIG, two_sessions, "leave-one-session-out", out, seeds=1,
                 epochs=2, cfg_options=TINY)


def test_evaluate_command_writes_the_report(two_sessions: Path, tmp_path: Path):
    out = tmp_path / "report"
    result = run_cli("evaluate", PERSON_CONFIG, "--data-root", str(two_sessions),
                     "--protocol", "leave-one-recording-out", "--epochs", "1", "--out",
                     str(out), *TINY_TRAIN_OPTIONS)
    assert result.returncode == 0, result.stderr
    assert "leave-one-recording-out: 3 runs (3 folds x 1 seeds)" in result.stdout
    assert "mean-class (MMAction2)" in result.stdout
    markdown = (out / "report.md").read_text()
    assert "every fold held out" in markdown and "| S2_R1 | 0 | S2_R1 |" in markdown
    assert json.loads((out / "report.json").read_text())["protocol"] == \
        "leave-one-recording-out"
    assert (out / "confusion_matrix.png").stat().st_size > 0


def test_evaluate_refuses_a_missing_dataset(tmp_path: Path):
    result = run_cli("evaluate", PERSON_CONFIG, "--data-root", str(tmp_path / "none"),
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "dataset folder not found" in result.stderr.strip().splitlines()[-1]


def test_zero_epochs_score_the_pretrained_checkpoint_on_every_fold(two_sessions: Path,
                                                                    tmp_path: Path):
    checkpoint = untrained_checkpoint(PERSON_CONFIG, tmp_path / "sim.pth")
    summary = evaluate(PERSON_CONFIG, two_sessions, "leave-one-session-out", tmp_path / "zero",
                       seeds=3, epochs=0, pretrained=checkpoint, cfg_options=TINY)
    assert summary["seeds"] == 1 and summary["epochs"] == 0
    assert [run["checkpoint"] for run in summary["runs"]] == [str(checkpoint)] * 2
    assert not list((tmp_path / "zero").rglob("*.pth"))  # nothing was trained
    with pytest.raises(ConfigError, match="--epochs 0 tests a --pretrained checkpoint"):
        evaluate(PERSON_CONFIG, two_sessions, "leave-one-session-out", tmp_path / "none",
                 epochs=0, cfg_options=TINY)
