"""``evaluate --nested``: choices made inside the training sessions, never on the scored
fold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import (
    LYING_RISK,
    STANDING,
    TINY_CFG_OPTIONS,
    WALKING,
    coco,
    run_cli,
    untrained_checkpoint,
    write_recording,
)
from thermal_action.data.annotations import read_coco
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.engine.evaluate import Candidate
from thermal_action.engine.nested import (
    CRITERIA,
    choose,
    evaluate_nested,
    load_selection,
    make_selection,
)
from thermal_action.errors import ConfigError
from thermal_action.evaluation.classification import (
    classification_scores,
    fall_safety,
    per_class_table,
)
from thermal_action.evaluation.metrics import confusion_matrix

PERSON_CONFIG = "person-24px"


@pytest.fixture
def four_recordings(tmp_path: Path) -> Path:
    """Sessions S1 and S2, two recordings each."""
    root = tmp_path / "four"
    sensors = ("S1_R1", "S1_R2", "S2_R1", "S2_R2")
    for seed, sensor in enumerate(sensors):
        write_recording(root / "frames" / f"{sensor}.h5", seed=seed)
    train = coco([(sensor, 40, [STANDING, LYING_RISK] if i % 2 else [WALKING])
                  for i, sensor in enumerate(sensors)])
    (root / "annotations").mkdir()
    (root / "annotations" / "train.json").write_text(json.dumps(train))
    (root / "annotations" / "val.json").write_text(json.dumps(train))
    return root


def _result(fold, seed, right: float) -> dict:
    """A run's result.json whose top-1 is ``right`` (of 20 people)."""
    labels = np.arange(20) % len(CLASS_NAMES)
    predicted = np.where(np.arange(20) < round(20 * right), labels, (labels + 1) % 14)
    scores = np.full((20, len(CLASS_NAMES)), 0.01)
    scores[np.arange(20), predicted] = 1.0
    table = per_class_table(labels, predicted, len(CLASS_NAMES))
    return dict(fold=fold.name, seed=seed, held_out=list(fold.held_out), overlap=fold.overlap,
                overlap_line=fold.overlap_line(), hours=0.1, checkpoint="fake.pth",
                pretrained=None, samples=20, seconds=1.0, sample_unit="person",
                scores=classification_scores(scores, labels),
                fall=fall_safety(scores, labels, 0.1),
                per_class={k: [None if v != v else float(v) for v in values]
                           for k, values in table.items()},
                confusion_matrix=confusion_matrix(labels, predicted, 14).tolist())


class RecordingRun:
    """A fake ``RunFunction``: notes which recordings each run trains and tests on.
    Candidate ``inner-best`` wins every fold that does not hold the outer held-out part;
    ``peeker`` wins only on the folds a selection must never see."""

    def __init__(self) -> None:
        self.calls = []

    def __call__(self, *, candidate, data_root, fold, seed, run_dir, hours, progress,
                 launcher):
        train = {str(i["sensor_id"]) for i in read_coco(fold.train_ann)["images"]}
        test = {str(i["sensor_id"]) for i in read_coco(fold.test_ann)["images"]}
        self.calls.append(dict(candidate=candidate.name, fold=fold.name, seed=seed,
                               train=train, test=test, dir=run_dir))
        right = {"inner-best": 0.8, "peeker": 0.3}[candidate.name]
        if len(fold.held_out) > 1:  # an outer (session) fold: the peeker would win there
            right = 1.0 - right
        return _result(fold, seed, right)


SELECTION = make_selection([Candidate("inner-best", PERSON_CONFIG, 1, TINY_CFG_OPTIONS),
                            Candidate("peeker", PERSON_CONFIG, 2, TINY_CFG_OPTIONS)])


def test_the_scored_session_is_never_used_for_a_choice(four_recordings: Path, tmp_path: Path):
    run = RecordingRun()
    out = tmp_path / "nested"
    summary = evaluate_nested(SELECTION, four_recordings, "leave-one-session-out", out,
                              seeds=2, run=run)
    sessions = {"S1": {"S1_R1", "S1_R2"}, "S2": {"S2_R1", "S2_R2"}}
    selection_runs = [c for c in run.calls if "selection" in c["dir"].parts]
    outer_runs = [c for c in run.calls if "selection" not in c["dir"].parts]
    assert len(selection_runs) == 2 * 2 * 2  # outer folds x inner folds x candidates
    for call in selection_runs:
        outer = call["dir"].parts[call["dir"].parts.index("selection") + 1]
        assert not (call["train"] | call["test"]) & sessions[outer], call
        assert len(call["test"]) == 1 and call["test"] <= sessions[{"S1": "S2",
                                                                     "S2": "S1"}[outer]]
    assert [(c["fold"], c["candidate"], c["seed"]) for c in outer_runs] == [
        ("S1", "inner-best", 0), ("S1", "inner-best", 1),
        ("S2", "inner-best", 0), ("S2", "inner-best", 1)]
    assert [fold["chosen"] for fold in summary["selection"]["folds"]] == ["inner-best"] * 2
    # scored on the outer folds only, where the chosen candidate is the worse one
    assert summary["scores"]["top1"]["mean"] == pytest.approx(0.2)
    assert summary["held_out"] and summary["seeds"] == 2
    assert "never used for a choice" in summary["selection"]["how"]
    fold = summary["selection"]["folds"][0]
    assert fold["fold"] == "S1" and sorted(fold["table"]["inner-best"]) == ["S2_R1", "S2_R2"]
    assert fold["means"]["inner-best"] > fold["means"]["peeker"]

    calls = len(run.calls)  # everything is reused by a second call
    again = evaluate_nested(SELECTION, four_recordings, "leave-one-session-out", out,
                            seeds=2, run=run)
    assert len(run.calls) == calls and again["scores"] == summary["scores"]
    other = make_selection(list(SELECTION.candidates), "macro_f1")
    with pytest.raises(ConfigError, match="other settings"):
        evaluate_nested(other, four_recordings, "leave-one-session-out", out, seeds=2, run=run)


def test_choose_ranks_by_the_mean_and_undefined_last():
    results = {"a": [dict(fold="R1", scores=dict(top1=0.5)), dict(fold="R2", scores=dict(
        top1=0.7))], "b": [dict(fold="R1", scores=dict(top1=0.9)), dict(fold="R2", scores=dict(
            top1=0.2))], "c": [dict(fold="R1", scores=dict(top1=None))]}
    choice = choose(results, CRITERIA["top1"])
    assert choice.chosen == "a" and choice.means["c"] is None
    assert choice.table["b"] == {"R1": 0.9, "R2": 0.2}
    fewer = choose({"a": [dict(fold="R1", fall=dict(false_alarms_per_hour=3.0))],
                    "b": [dict(fold="R1", fall=dict(false_alarms_per_hour=1.0))]},
                   CRITERIA["fall_false_alarms_per_hour"])
    assert fewer.chosen == "b"


@pytest.mark.parametrize("text, message", [
    ("candidates: [{name: a, config: x}]", "at least two candidates"),
    ("candidates: [{name: a, config: x}, {name: a, config: y}]", "'a' is repeated"),
    ("candidates: [{name: a, config: x}, {name: b, config: y}]\ncriterion: luck",
     "unknown criterion 'luck'"),
    ("candidates: [{name: a, config: x, epoch: 3}, {name: b, config: y}]",
     "unknown key 'epoch'"),
    ("candidates: [{name: a b, config: x}, {name: b, config: y}]", "name must be"),
    ("candidates: [{name: a, config: x, epochs: 0}, {name: b, config: y}]",
     "give one"),
    ("candidates: [unclosed", "not valid YAML"),
])
def test_a_malformed_selection_file_is_one_clear_error(tmp_path: Path, text, message):
    path = tmp_path / "selection.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        load_selection(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_evaluate_nested_command(four_recordings: Path, tmp_path: Path):
    """Zero-shot candidates (two checkpoints tested as they are) through the CLI."""
    first = untrained_checkpoint(PERSON_CONFIG, tmp_path / "a.pth")
    second = untrained_checkpoint(PERSON_CONFIG, tmp_path / "b.pth")
    selection = tmp_path / "selection.yaml"
    options = {key: value for key, value in TINY_CFG_OPTIONS.items()}
    selection.write_text(json.dumps(dict(candidates=[
        dict(name="first", config=PERSON_CONFIG, epochs=0, pretrained=str(first),
             cfg_options=options),
        dict(name="second", config=PERSON_CONFIG, epochs=0, pretrained=str(second),
             cfg_options=options)])))
    out = tmp_path / "out"
    result = run_cli("evaluate", "--nested", str(selection), "--data-root",
                     str(four_recordings), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "S1: mean_class_present on the inner folds" in result.stdout
    assert "never used for a choice" in result.stdout
    report = (out / "report.md").read_text()
    assert "## Selection per fold" in report and "(chosen)" in report
    refused = run_cli("evaluate", PERSON_CONFIG, "--nested", str(selection), "--data-root",
                      str(four_recordings), "--out", str(tmp_path / "o2"))
    assert refused.returncode != 0
    assert "leave out config" in refused.stderr.strip().splitlines()[-1]
