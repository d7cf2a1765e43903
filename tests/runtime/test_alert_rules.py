"""Alert rules: the persistence baseline, the learned fall stage, its fit and replay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thermal_action.data.classes import CLASS_NAMES, ActionClass
from thermal_action.engine.fall_stage import (
    StageData,
    Streamed,
    TruthFrames,
    early_positives,
    fit_fall_stage,
    fit_stage_model,
    label_observations,
    trees_of,
)
from thermal_action.errors import ConfigError
from thermal_action.runtime.alert_rules import (
    ALERT_RULES,
    FEATURES,
    HISTORY_S,
    FallEventRule,
    FallStageModel,
    Observation,
    PersistenceRule,
    build_alert_rule,
    history_features,
    replay_alerts,
    replay_decisions,
    track_features,
)


def _scores(label: int, share: float = 0.85) -> np.ndarray:
    scores = np.full(len(CLASS_NAMES), (1 - share) / (len(CLASS_NAMES) - 1))
    scores[label] = share
    return scores


def scripted_track(track_id: int, kind: str, start_ms: int, rng: np.random.Generator,
                   noise: float = 0.1) -> tuple[list[Observation], list[int]]:
    """One person, one classification a second: 12 s walking, a 2 s transition, then 20 s
    down. ``kind``: 'fall' (fast, onto the floor), 'bed' (slow, onto a bed zone; the model
    half-confuses it with a fall) or 'floor-sit' (sits down on the floor, still)."""
    observations, labels = [], []
    x, y = 10.0 + rng.uniform(-3, 3), 20.0
    for step in range(34):
        t = start_ms + 1000 * step
        if step < 12:
            x += 1.5
            label, box, rest = ActionClass.WALKING, (x - 2, y - 2, x + 2, y + 2), 0.0
            scores, excess, target = _scores(label), 7.0, 0
        elif step < 14:
            x += 4.0 if kind == "fall" else 0.5
            label = {"fall": ActionClass.TRANSITION_RISK, "bed": ActionClass.TRANSITION_BED,
                     "floor-sit": ActionClass.TRANSITION_NORMAL}[kind]
            box, rest = (x - 3, y - 2, x + 3, y + 2), float(kind == "bed")
            scores, excess, target = _scores(label, 0.6), 6.0, int(kind == "fall")
        else:
            long_side = 4.0 if kind == "floor-sit" else 7.0
            box = (x - long_side / 2, y - 1.5, x + long_side / 2, y + 1.5)
            rest = float(kind == "bed")
            if kind == "fall":
                scores, target = _scores(ActionClass.LYING_RISK, 0.75), 1
            elif kind == "bed":
                scores = 0.7 * _scores(ActionClass.LYING_RISK) + 0.3 * _scores(
                    ActionClass.LYING_BED)
                target = 0
            else:
                scores = 0.6 * _scores(ActionClass.LOW_OTHER) + 0.4 * _scores(
                    ActionClass.LYING_RISK)
                target = 0
            excess = 5.0
        scores = np.clip(scores + rng.normal(0, noise * 0.1, len(scores)), 1e-4, None)
        scores /= scores.sum()
        jitter = rng.normal(0, 0.2, 4)
        seen = tuple(float(v) for v in np.add(box, jitter))
        peak = excess + rng.normal(0, 0.3)
        observations.append(Observation(track_id, scores, t, t + 200, seen, 20.0, peak,
                                        excess / 2, rest, seen, peak))
        labels.append(target)
    return observations, labels


def scripted_day(seed: int, people: int = 30) -> tuple[list[Observation], np.ndarray, list]:
    rng = np.random.default_rng(seed)
    observations, labels, kinds = [], [], []
    for person in range(people):
        kind = ("fall", "bed", "floor-sit")[person % 3]
        track, target = scripted_track(person, kind, person * 60_000, rng)
        observations += track
        labels += target
        kinds.append(kind)
    return observations, np.asarray(labels, np.float32), kinds


def test_features_follow_the_history_and_replay_equals_live():
    observations, _, _ = scripted_day(0, people=3)
    features = history_features(observations)
    assert features.shape == (len(observations), len(FEATURES))
    first = observations[:20]
    np.testing.assert_allclose(features[19], track_features(first), rtol=1e-6)
    fall_now, held = FEATURES.index("fall_now"), FEATURES.index("fall_held_s")
    assert features[5, fall_now] < 0.2 and features[30, fall_now] > 0.6
    assert features[30, held] >= 15  # fall-related since the transition (step 12)
    assert features[30, FEATURES.index("upright_before")] > 0.8
    assert features[13, FEATURES.index("speed_now")] > 3  # the fast transition
    # only the last HISTORY_S seconds count
    gap = [observations[0], observations[1]._replace(dated_ms=int(HISTORY_S * 1000) + 5_000)]
    assert history_features(gap)[1, FEATURES.index("track_age_s")] == 0


def test_the_stage_learns_falls_apart_from_beds_and_sitting_on_the_floor(tmp_path: Path):
    observations, labels, kinds = scripted_day(1)
    model = fit_stage_model(history_features(observations), labels, seed=0)
    model.threshold, model.confirm = 0.5, 2
    path = model.save(tmp_path / "stage.json")
    loaded = FallStageModel.load(path)
    np.testing.assert_allclose(loaded.probability(history_features(observations)),
                               model.probability(history_features(observations)))
    test_observations, _, test_kinds = scripted_day(2)
    rule = FallEventRule(path)
    alerts = replay_alerts(test_observations, rule)
    alerted = {a.track_id for a in alerts}
    falls = {i for i, k in enumerate(test_kinds) if k == "fall"}
    assert falls <= alerted and not alerted - falls
    assert len(alerts) == len(falls)  # once per fall
    for alert in alerts:  # within 4 s of the transition (step 12 of each track)
        assert 0 <= alert.time_ms - (alert.track_id * 60_000 + 12_000) <= 4_200
        assert alert.start_ms <= alert.time_ms
    baseline = {a.track_id for a in replay_alerts(test_observations, PersistenceRule())}
    assert baseline - falls  # the persistence rule alerts on some beds: what the stage fixes
    probabilities = loaded.probability(history_features(test_observations))
    decided = replay_decisions(test_observations, probabilities, rule)
    assert [(a.track_id, a.time_ms) for a in decided] == [(a.track_id, a.time_ms)
                                                          for a in alerts]


def test_the_stage_decides_a_frames_tracks_in_one_batch_as_it_would_one_by_one():
    """The stream hands every track classified in a frame to ``update_all`` (the trees run
    once for all of them): the same probabilities and alerts as one track at a time."""
    observations, labels, _ = scripted_day(5, people=6)
    rule = FallEventRule(fit_stage_model(history_features(observations), labels, seed=0))
    rule.threshold, rule.confirm = 0.5, 2
    interleaved = []  # six people in the room at once, classified on the same grid
    for observation in observations:
        shift_ms = observation.track_id * 60_000 - (observation.track_id % 2) * 7_000
        interleaved.append(observation._replace(dated_ms=observation.dated_ms - shift_ms,
                                                timestamp_ms=observation.timestamp_ms - shift_ms))
    interleaved.sort(key=lambda o: (o.dated_ms, o.track_id))
    alone = replay_alerts(interleaved, rule)
    watches: dict = {}
    batched = []
    for dated_ms in sorted({o.dated_ms for o in interleaved}):
        frame = [o for o in interleaved if o.dated_ms == dated_ms]
        for observation in frame:
            watches.setdefault(observation.track_id, rule.watch())
        batched += [alert for alert in rule.update_all(
            [watches[o.track_id] for o in frame], frame) if alert is not None]
    assert len(alone) >= 2 and batched == alone
    assert rule.update_all([], []) == []
    persistence = PersistenceRule()
    first = [persistence.watch() for _ in range(3)]
    assert persistence.update_all(first, interleaved[:3]) == [None, None, None]


def test_the_trees_of_predict_as_scikit_learn_does():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from thermal_action.engine.fall_stage import STAGE_TREES

    observations, labels, _ = scripted_day(4, people=8)
    features = history_features(observations)
    features[::7, 3] = np.nan  # a missing value takes the side the trees learned
    boosted = HistGradientBoostingClassifier(random_state=0, **STAGE_TREES).fit(
        features.astype(np.float64), labels.astype(np.int64))
    model = FallStageModel(trees_of(boosted), boosted._baseline_prediction.item())
    np.testing.assert_allclose(model.probability(features),
                               boosted.predict_proba(features.astype(np.float64))[:, 1],
                               atol=1e-9)
    assert 0.0 < model.probability(features).min() < 0.5 < model.probability(features).max()
    treeless = FallStageModel([], 1.0)  # what the stage's training scores decisions with
    np.testing.assert_allclose(treeless.probability(features[:3]),
                               np.full(3, 1.0 / (1.0 + np.exp(-1.0))))


def test_rules_build_by_name_and_bad_files_are_one_error_line(tmp_path: Path):
    assert isinstance(build_alert_rule("persistence"), PersistenceRule)
    rule = ALERT_RULES.build(dict(type="PersistenceRule", alert_after_s=1.0))
    assert rule.settings()["alert_after_s"] == 1.0
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"type": "something"}))
    for path, message in ((broken, "invalid JSON"), (other, "not a fall-stage file"),
                          (tmp_path / "missing.json", "cannot read")):
        with pytest.raises(ConfigError, match=message) as error:
            build_alert_rule(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
    observations, labels, _ = scripted_day(3, people=6)
    model = fit_stage_model(history_features(observations), labels)
    document = model.document()
    document["features"] = [*document["features"][:-1], "a_feature_of_the_future"]
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="fit it again"):
        build_alert_rule(stale)
    older = tmp_path / "older.json"  # a stage of the neural-network version
    older.write_text(json.dumps(dict(type="FallStageModel", features=list(FEATURES),
                                     weights=[], biases=[], mean=[], scale=[])))
    with pytest.raises(ConfigError, match="older thermal-action"):
        build_alert_rule(older)
    with pytest.raises(ConfigError, match="threshold"):
        build_alert_rule(dict(type="FallEventRule", model=model, threshold=1.5))
    with pytest.raises(ConfigError, match="only one kind"):
        fit_stage_model(history_features(observations), np.zeros(len(observations)))


def test_a_stage_fitted_on_fewer_features_keeps_reading_its_own():
    """A stage file made before the ``now_*`` features (23 of them) still loads and
    picks its columns out of today's feature vector."""
    observations, labels, _ = scripted_day(3, people=6)
    features = history_features(observations)
    old = FEATURES[:23]
    model = fit_stage_model(features, labels, names=old)
    assert model.features == old and model.document()["features"] == list(old)
    alone = fit_stage_model(features[:, :23], labels, names=FEATURES[:23])
    np.testing.assert_allclose(model.probability(features), alone.probability(features))
    scrambled = features.copy()
    scrambled[:, 23:] = -scrambled[:, 23:] + 7  # the columns it never saw change nothing
    np.testing.assert_allclose(model.probability(scrambled), model.probability(features))
    everything = fit_stage_model(features, labels)
    assert everything.features == FEATURES
    unmeasured = features.copy()
    unmeasured[:, FEATURES.index("now_speed")] = np.nan  # never measured: left out
    assert "now_speed" not in fit_stage_model(unmeasured, labels).features


def test_observations_are_labelled_by_the_person_at_the_newest_frame():
    """A centre-labelled window is dated 3.2 s before its newest frame; labelled at the
    newest frame, the stage learns what the track shows now."""
    truth = TruthFrames(np.array([1_000, 4_200]),
                        [np.array([[0, 0, 4, 8]], np.float32),
                         np.array([[0, 5, 8, 9]], np.float32)],
                        [["standing"], ["lying down-lying with risk"]])
    scores = np.full(14, 1 / 14)
    fallen = Observation(1, scores, 1_000, 4_200, (0, 0, 4, 8), now_box_xyxy=(0, 5, 8, 9))
    unknown_now = Observation(1, scores, 1_000, 4_200, (0, 0, 4, 8))
    labels = label_observations([fallen, unknown_now], truth)
    np.testing.assert_array_equal(labels, [1, 0])  # without a newest box: its window's
    np.testing.assert_array_equal(label_observations([fallen], truth, at="window"), [0])
    with pytest.raises(ConfigError, match="label_at must be one of newest, window"):
        label_observations([fallen], truth, at="centre")


def test_observations_are_labelled_from_the_annotated_person_they_follow():
    truth = TruthFrames(np.array([1_000, 2_000, 5_000]),
                        [np.array([[0, 0, 4, 4], [10, 10, 14, 14]], np.float32),
                         np.array([[10, 10, 14, 14]], np.float32),
                         np.zeros((0, 4), np.float32)],
                        [["standing", "lying down-lying with risk"],
                         ["lying down-lying with risk"], []])
    scores = np.full(14, 1 / 14)
    observations = [Observation(1, scores, 1_100, 1_100, (0.2, 0, 4, 4)),
                    Observation(2, scores, 1_900, 1_900, (10, 10.5, 14, 14)),
                    Observation(3, scores, 2_000, 2_000, (30, 30, 34, 34)),
                    Observation(4, scores, 3_500, 3_500, (10, 10, 14, 14)),
                    Observation(5, scores, 5_000, 5_000, (10, 10, 14, 14))]
    labels = label_observations(observations, truth)
    np.testing.assert_array_equal(labels[[0, 1, 2, 4]], [0, 1, 0, 0])
    assert np.isnan(labels[3])  # 1.5 s from any annotated frame


def test_out_of_fold_probabilities_never_come_from_a_network_fitted_on_that_recording():
    """The decision (threshold, run length) is chosen on probabilities of networks that
    never saw the recording: relabelling one recording leaves its own probabilities
    unchanged (and changes the others')."""
    from thermal_action.engine.fall_stage import StageData, Streamed, out_of_fold

    items = []
    for number in range(4):
        observations, labels, _ = scripted_day(10 + number, people=6)
        items.append(Streamed(f"R{number}", None, observations, labels))
    data = StageData(items, [], [False] * 4)
    before = out_of_fold(data, folds=4)
    flipped = items[0]._replace(labels=1 - items[0].labels)
    after = out_of_fold(StageData([flipped, *items[1:]], [], [False] * 4), folds=4)
    np.testing.assert_allclose(after[0], before[0])
    assert not np.allclose(after[1], before[1])
    with pytest.raises(ConfigError, match="at least two recordings"):
        out_of_fold(StageData(items[:1], [], [False]))


def test_the_decision_is_the_best_recall_within_the_false_alert_limit():
    from thermal_action.engine.fall_stage import DecisionScore, choose_decision

    scores = [DecisionScore(0.5, 1, 1.0, 10, 3.0, 2.0), DecisionScore(0.7, 2, 0.9, 10, 0.4, 5.0),
              DecisionScore(0.9, 2, 0.9, 10, 0.2, 5.0), DecisionScore(0.9, 3, 0.5, 10, 0.0, 5.0),
              DecisionScore(0.95, 1, 0.8, 10, 0.3, 3.0), DecisionScore(0.95, 2, 0.7, 10, 0.1, 1.0)]
    assert choose_decision(scores, 0.5) == scores[4]  # one fall fewer, 2 s sooner
    assert choose_decision(scores, 0.5, slack_falls=0) == scores[2]  # same recall, fewer false
    assert choose_decision(scores, 5.0) == scores[0]
    assert choose_decision(scores[:1], 0.5) == scores[0]  # none keeps to it: the fewest


def test_relabel_labels_one_streaming_again_from_the_annotations(raw_inputs, tmp_path):
    """Variants of the stage share one streaming: ``relabel`` reads each recording's
    annotated people again and labels the same observations at the newest frame."""
    from tests.conftest import raw_frame_ms
    from thermal_action.data.truth import annotated_frames
    from thermal_action.engine.fall_stage import StageData, Streamed, recording_truth, relabel

    raw, rec = raw_inputs
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "raw_annotations").symlink_to(raw)
    (root / "frames").symlink_to(rec)
    truth = recording_truth(root, "S1_R1", annotated_frames(root, ["S1_R1"]))
    box = tuple(float(v) for v in truth.boxes[2][0])  # frame 80: lying with risk
    scores = np.full(14, 1 / 14)
    observation = Observation(0, scores, raw_frame_ms(60), raw_frame_ms(80), box,
                              now_box_xyxy=box)  # the window's date: frame 60, standing
    data = StageData([Streamed("S1_R1", None, [observation], np.array([0.0]))], [], [False])
    jobs = [(root, ["S1_R1"])]
    again = relabel(data, jobs, "newest")
    np.testing.assert_array_equal(again.streamed[0].labels, [1])
    assert again.streamed[0].observations == data.streamed[0].observations
    np.testing.assert_array_equal(relabel(data, jobs, "window").streamed[0].labels, [0])


def test_a_fall_teaches_the_stage_only_for_its_first_seconds():
    """A person lying on after a fall is left out after ``positive_for_s``: the stage
    learns "just fell". A negative label ends a run, an unknown one does not, and each
    track has its own run."""
    scores = np.full(14, 1 / 14)
    times = [0, 5_000, 10_000, 14_000, 16_000, 30_000, 31_000, 40_000, 50_000]
    tracks = [1, 1, 1, 1, 1, 1, 2, 1, 1]
    labels = np.array([0, 1, np.nan, 1, 1, 1, 1, 0, 1], np.float32)
    observations = [Observation(t, scores, ms, ms) for ms, t in zip(times, tracks, strict=True)]
    item = Streamed("r", None, observations, labels)
    cut = early_positives(item, 10.0).labels
    np.testing.assert_array_equal(cut, [0, 1, np.nan, 1, np.nan, np.nan, 1, 0, 1])
    np.testing.assert_array_equal(item.labels, labels)  # the input is left as it was
    np.testing.assert_array_equal(early_positives(item, 60.0).labels, labels)
    with pytest.raises(ConfigError, match="positive_for_s must be positive"):
        fit_fall_stage(StageData([item], [], [False]), positive_for_s=0.0)
