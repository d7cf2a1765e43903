"""Fit the fall stage (``alert_rules.FallEventRule``): the library behind
``thermal-action fall-stage``.

1. Stream long simulated recordings with falls and near-falls (lying down on a bed,
   sitting on the floor, kneeling, bending; a simulator seed of its own) and the real
   training recordings through the action model and person detector, recording every
   classification with the track's box and heat (``Observation``) and the share of the
   box in a bed or couch zone (zones from the recordings' furniture annotations).
2. Label each observation from the annotations: 1 when the person it follows is in a
   fall-related class then (a fall, or down after one), 0 when they do anything else or
   the track follows nobody, unknown (left out) where nothing is annotated near it.
   Recordings with zones count twice, once without them, so the stage also works for a
   sensor that has no zones file.
3. Fit gradient-boosted trees on ``track_features`` of each observation (scikit-learn's
   ``HistGradientBoostingClassifier``, stored as JSON and run with numpy); optionally a
   person down after a fall counts only for its first seconds (``early_positives``).
4. Choose the decision (threshold, classifications in a row) on out-of-fold
   probabilities (each recording scored by trees fitted without it), by fall-episode
   recall with at most ``max_false_per_hour`` false alerts per hour: the choice never
   sees a recording through a model that was fitted on it, and never sees held-out
   data at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from thermal_action.data.classes import CLASS_NAMES, FALL_RELATED, ActionClass
from thermal_action.data.person_tracks import FOLDER as TRACKS_FOLDER
from thermal_action.data.person_tracks import read_person_tracks
from thermal_action.data.truth import AnnotatedFrame
from thermal_action.errors import ConfigError
from thermal_action.evaluation.detection import box_iou
from thermal_action.evaluation.end_to_end import StreamRun, end_to_end_scores
from thermal_action.runtime.alert_rules import (
    FEATURES,
    FallEventRule,
    FallStageModel,
    Observation,
    history_features,
    replay_decisions,
)
from thermal_action.runtime.events import EventKind
from thermal_action.runtime.streaming import ActionStream, alert_event

FALL_NAMES = frozenset(CLASS_NAMES[c] for c in FALL_RELATED)
A = ActionClass
STAGE_CLASS_WEIGHTS = {
    A.TRANSITION_RISK: 3.0, A.LYING_RISK: 2.0, A.LYING_BED: 2.0, A.TRANSITION_BED: 2.0,
    A.LOW_OTHER: 2.0, A.KNEELING: 2.0, A.BENDING: 2.0, A.CROUCHING: 1.5, A.SITTING: 1.0,
    A.STANDING: 1.0, A.WALKING: 1.0, A.LEANING: 1.0, A.TRANSITION_NORMAL: 1.0, A.OTHER: 0.5,
}
"""The simulator's story mix for the fall stage: falls, and the near-falls it must not
alert on, several times as often as ordinary postures."""
del A
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
CONFIRMS = (1, 2, 3, 4, 5, 6)
MATCH_IOU = 0.3


class Streamed(NamedTuple):
    """One recording through the stream: what it did (for the episode scorer), its
    observations in time order and their labels (1, 0, NaN: unknown)."""

    sensor_id: str
    run: StreamRun
    observations: list[Observation]
    labels: np.ndarray


class TruthFrames(NamedTuple):
    """The people annotated in one recording: per annotated frame its time (ms,
    ascending), boxes (K, 4) pixels xyxy and class names."""

    timestamps_ms: np.ndarray
    boxes: list[np.ndarray]
    classes: list[list[str]]


def recording_truth(root: str | os.PathLike, sensor_id: str,
                    frames: Sequence[AnnotatedFrame]) -> TruthFrames:
    """Every frame's people from ``person_tracks/`` where the simulator wrote them, else
    the annotated keyframes among ``frames``."""
    path = Path(root) / TRACKS_FOLDER / f"{sensor_id}.csv"
    if path.is_file():
        rows = read_person_tracks(path)
        order = np.argsort(rows[:, 1], kind="stable")
        rows = rows[order]
        stamps, starts = np.unique(rows[:, 1], return_index=True)
        groups = np.split(rows, starts[1:])
        return TruthFrames(stamps.astype(np.int64), [g[:, 4:8].astype(np.float32)
                                                     for g in groups],
                           [[CLASS_NAMES[int(c)] for c in g[:, 3]] for g in groups])
    mine = sorted((f for f in frames if f.sensor_id == sensor_id), key=lambda f: f.timestamp_ms)
    return TruthFrames(np.array([f.timestamp_ms for f in mine], np.int64),
                       [np.asarray(f.truth.boxes_xyxy, np.float32).reshape(-1, 4) for f in mine],
                       [list(f.truth.classes) for f in mine])


LABEL_AT = ("newest", "window")
"""What an observation's label describes: the person at the newest frame (the stage then
learns to say "down after a fall" as soon as the track's newest box and heat show it,
half a window before a centre-labelled model's date), or at the window's date."""


def label_observations(observations: Sequence[Observation], truth: TruthFrames,
                       max_gap_ms: int = 1000, at: str = "newest") -> np.ndarray:
    """Per observation: 1 when the annotated person its box matches (IoU >= 0.3, at the
    annotated frame nearest its time, within ``max_gap_ms``) is in a fall-related class,
    0 when they are in another class or nobody matches, NaN without an annotated frame
    near it. ``at``: ``LABEL_AT`` (the newest frame's box and time where the observation
    has them, else its window's)."""
    if at not in LABEL_AT:
        raise ConfigError(f"label_at must be one of {', '.join(LABEL_AT)}, got {at!r}")
    labels = np.full(len(observations), np.nan, np.float32)
    if not len(truth.timestamps_ms):
        return labels
    for index, observation in enumerate(observations):
        newest = at == "newest" and observation.now_box_xyxy is not None
        time_ms = observation.timestamp_ms if newest else observation.dated_ms
        box = observation.now_box_xyxy if newest else observation.box_xyxy
        after = int(np.searchsorted(truth.timestamps_ms, time_ms))
        near = [i for i in (after - 1, after) if 0 <= i < len(truth.timestamps_ms)]
        nearest = min(near, key=lambda i: abs(int(truth.timestamps_ms[i]) - time_ms))
        if abs(int(truth.timestamps_ms[nearest]) - time_ms) > max_gap_ms:
            continue
        boxes = truth.boxes[nearest]
        if not len(boxes):
            labels[index] = 0
            continue
        ious = box_iou(np.asarray([box], np.float32), boxes)[0]
        best = int(np.argmax(ious))
        labels[index] = float(ious[best] >= MATCH_IOU
                              and truth.classes[nearest][best] in FALL_NAMES)
    return labels


def stream_recording(stream: ActionStream, path: str | os.PathLike,
                     frame_shape: tuple[int, int]) -> tuple[StreamRun, list[Observation]]:
    """Stream one recording file; what the stream did and every observation it made."""
    from thermal_action.runtime.run import file_frames, run_stream

    observations: list[Observation] = []
    stream.on_classified = observations.append
    try:
        result = run_stream(stream, file_frames(path, frame_shape)[1], Path(path).stem,
                            keep_frames=None, keep_pixels=False)
    finally:
        stream.on_classified = None
    run = StreamRun(result.views, [e for e in result.events if e.kind != EventKind.FALL_ALERT],
                    result.timestamps_ms)
    return run, observations


STAGE_TREES = dict(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                   l2_regularization=1.0)
"""The boosted trees' settings (scikit-learn's ``HistGradientBoostingClassifier``)."""


def fit_stage_model(features: np.ndarray, labels: np.ndarray, seed: int = 0,
                    names: Sequence[str] = FEATURES) -> FallStageModel:
    """A ``FallStageModel`` fitted on the ``names`` columns of (N, len(FEATURES)) features
    and 0/1 labels: gradient-boosted
    trees (scikit-learn, early stopping on a tenth of the rows when there are many),
    copied node by node into the model. Out of fold they alerted more falls at the same
    false-alert rate than the small neural network tried first. The classes keep their
    own frequency: weighting the rare falls up made the stage alert on sitting and
    bending in recordings it had not seen."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    labels = np.asarray(labels, np.int64)
    if labels.min() == labels.max():
        raise ConfigError("the fall stage needs observations of falls and of other "
                          "actions to learn from; the recordings have only one kind")
    x = np.asarray(features, np.float64)
    names = [name for name in names  # a feature the recordings never measured is left out
             if not np.isnan(x[:, FEATURES.index(name)]).all()]
    columns = [FEATURES.index(name) for name in names]
    boosted = HistGradientBoostingClassifier(random_state=seed, **STAGE_TREES)
    boosted.fit(x[:, columns], labels)
    return FallStageModel(trees_of(boosted), float(boosted._baseline_prediction.ravel()[0]),
                          features=tuple(names))


def trees_of(boosted: Any) -> list[dict[str, list]]:
    """The nodes of a fitted binary ``HistGradientBoostingClassifier`` (its predictors are
    not public API: ``tests/engine/test_alert_rules.py`` checks the copy predicts as
    scikit-learn does)."""
    trees = []
    for (predictor,) in boosted._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ConfigError("the fall stage's features are numeric; a categorical split "
                              "cannot be copied")
        trees.append(dict(feature=nodes["feature_idx"].tolist(),
                          split=nodes["num_threshold"].tolist(),
                          left=nodes["left"].tolist(), right=nodes["right"].tolist(),
                          value=nodes["value"].tolist(),
                          leaf=nodes["is_leaf"].astype(bool).tolist(),
                          missing_left=nodes["missing_go_to_left"].astype(bool).tolist()))
    return trees


@dataclass
class StageData:
    """Everything the fit needs: the streamed recordings (the ones with zones also
    without them, ``zoneless`` True), the annotated frames the episodes are scored on, and
    the features the trees may use (all of ``FEATURES`` unless an ablation says)."""

    streamed: list[Streamed]
    frames: list[AnnotatedFrame]
    zoneless: list[bool]
    features: tuple[str, ...] = FEATURES

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, labels and recording of every labelled observation."""
        rows, labels, groups = [], [], []
        for item in self.streamed:
            known = ~np.isnan(item.labels)
            rows.append(history_features(item.observations)[known])
            labels.append(item.labels[known])
            groups += [item.sensor_id] * int(known.sum())
        return (np.concatenate(rows) if rows else np.zeros((0, len(FEATURES)), np.float32),
                np.concatenate(labels) if labels else np.zeros(0), np.asarray(groups))


POSITIVE_FOR_S = 15.0
"""The cut ``fall-stage --positive-for-s`` was measured with (not the default: on the
fresh simulator seed it alerted sooner, 4.8 s against 5.8 s median, but with 1.39 false
alerts per hour against 0.23; by session 6/14 real falls with 1 false alert against 3).
A track's run of "down after a fall" observations teaches the stage only for this many
seconds (of the newest frame's time) from its start; later ones are left out. The stage
decides when to alert, and an alert is due within seconds of the fall: a simulated person
lies to the end of the recording (median about 1 minute), the shared real ones 4-56 s
(about 30 s), so without the cut the trees learn "down for a long time" instead of "just
fell", and on real falls (upright 4-25 s before) their probability stays low."""


def early_positives(item: Streamed, positive_for_s: float) -> Streamed:
    """``item`` with each track's positive labels more than ``positive_for_s`` seconds
    after the first of their run (runs end at a negative label; unknown ones do not end
    them) made unknown (NaN)."""
    labels = item.labels.copy()
    began: dict[int, int] = {}
    for index, observation in enumerate(item.observations):
        if np.isnan(labels[index]):
            continue
        if labels[index] == 0:
            began.pop(observation.track_id, None)
            continue
        start = began.setdefault(observation.track_id, observation.timestamp_ms)
        if observation.timestamp_ms - start > positive_for_s * 1000:
            labels[index] = np.nan
    return item._replace(labels=labels)


def without_zones(item: Streamed) -> Streamed:
    """The same recording as a sensor without a zones file would see it."""
    return item._replace(observations=[o._replace(rest_share=0.0) for o in item.observations])


def out_of_fold(data: StageData, seed: int = 0, folds: int = 5) -> list[np.ndarray]:
    """Per streamed recording, the stage probability of each of its observations from a
    model fitted without that recording (``folds`` groups of recordings)."""
    features, labels, groups = data.table()
    names = sorted(set(groups))
    if len(names) < 2:
        raise ConfigError("choosing the fall stage's threshold needs at least two "
                          "recordings")
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(names))
    fold_of = {name: i % min(folds, len(names)) for i, name in enumerate(order)}
    models = {}
    for fold in sorted(set(fold_of.values())):
        train = np.array([fold_of[g] != fold for g in groups])
        models[fold] = fit_stage_model(features[train], labels[train], seed, data.features)
    return [models[fold_of[item.sensor_id]].probability(history_features(item.observations))
            for item in data.streamed]


class DecisionScore(NamedTuple):
    threshold: float
    confirm: int
    recall: float
    falls: int
    false_per_hour: float
    median_delay_s: float


def score_decisions(data: StageData, probabilities: list[np.ndarray],
                    thresholds: Sequence[float] = THRESHOLDS,
                    confirms: Sequence[int] = CONFIRMS) -> list[DecisionScore]:
    """Fall-episode recall, false alerts per hour and median delay of every decision on
    the recordings with their zones (as they will be streamed)."""
    scores = []
    kept = [(item, p) for item, p, zoneless in zip(data.streamed, probabilities, data.zoneless,
                                                   strict=True) if not zoneless]
    for threshold in thresholds:
        for confirm in confirms:
            rule = FallEventRule(_placeholder(), threshold, confirm)
            runs = {item.sensor_id: item.run._replace(events=list(item.run.events) + [
                alert_event(a) for a in replay_decisions(item.observations, p, rule)])
                for item, p in kept}
            result = end_to_end_scores(runs, data.frames)
            delays = result.alert_delays_s
            scores.append(DecisionScore(threshold, confirm, result.fall_recall, result.falls,
                                        result.false_alerts_per_hour,
                                        float(np.median(delays)) if delays else float("inf")))
    return scores


SLACK_FALLS = 1
"""A decision alerting this many falls fewer than the best within the false-alert limit is
as good (out of fold one fall is noise): the sooner of them is chosen."""


def choose_decision(scores: Sequence[DecisionScore], max_false_per_hour: float,
                    slack_falls: int = SLACK_FALLS) -> DecisionScore:
    """Among the decisions within ``max_false_per_hour``, those alerting at most
    ``slack_falls`` falls fewer than the best: the one with the shortest median delay
    (then more recall, then fewer false alerts); when none keeps to the limit, the fewest
    false alerts."""
    allowed = [s for s in scores if s.false_per_hour <= max_false_per_hour]
    if not allowed:
        return min(scores, key=lambda s: (s.false_per_hour, -np.nan_to_num(s.recall)))

    def alerted(s: DecisionScore) -> float:
        return float(np.nan_to_num(s.recall)) * s.falls

    best = max(alerted(s) for s in allowed)
    near = [s for s in allowed if alerted(s) >= best - slack_falls - 1e-9]
    return min(near, key=lambda s: (s.median_delay_s, -alerted(s), s.false_per_hour))


class FitResult(NamedTuple):
    model: FallStageModel
    chosen: DecisionScore
    decisions: list[DecisionScore]
    observations: int
    positives: int


def fit_fall_stage(data: StageData, max_false_per_hour: float = 0.5,
                   seed: int = 0, info: Mapping[str, Any] | None = None,
                   positive_for_s: float | None = None) -> FitResult:
    """Choose the decision on out-of-fold probabilities, then fit the model on every
    recording; the model carries the decision and ``info`` (what it was trained on).
    ``positive_for_s``: ``early_positives``' cut (None: every positive label)."""
    if positive_for_s is not None:
        if positive_for_s <= 0:
            raise ConfigError(f"positive_for_s must be positive, got {positive_for_s}")
        data = replace(data, streamed=[early_positives(item, positive_for_s)
                                       for item in data.streamed])
    decisions = score_decisions(data, out_of_fold(data, seed))
    chosen = choose_decision(decisions, max_false_per_hour)
    features, labels, _ = data.table()
    model = fit_stage_model(features, labels, seed, data.features)
    model.threshold, model.confirm = chosen.threshold, chosen.confirm
    model.info = dict(info or {}, observations=int(len(labels)),
                      positives=int(labels.sum()),
                      chosen_out_of_fold=chosen._asdict(),
                      max_false_per_hour=max_false_per_hour, positive_for_s=positive_for_s)
    return FitResult(model, chosen, decisions, int(len(labels)), int(labels.sum()))


def _placeholder() -> FallStageModel:
    """A stand-in model for a rule used only for its decision (``replay_decisions``)."""
    return FallStageModel([], 0.0)


def simulated_stage_dataset(out_dir: str | os.PathLike, recordings: int, frames: int,
                            seed: int, progress: Callable[[int, int], None] | None = None
                            ) -> Path:
    """Long simulated recordings rich in falls and near-falls (``STAGE_CLASS_WEIGHTS``),
    made into ``out_dir`` or reused when it already holds exactly these."""
    from thermal_action.data.synthetic import SynthConfig, cached_dataset

    weights = tuple(float(STAGE_CLASS_WEIGHTS.get(ActionClass(i), 1.0))
                    for i in range(len(CLASS_NAMES)))
    config = replace(SynthConfig(), num_recordings=recordings, frames_per_recording=frames,
                     seed=seed, class_weights=weights, people_weights=(0.7, 0.3))
    cached_dataset(out_dir, config, progress)
    return Path(out_dir)


def collect(stream: ActionStream, sources: Sequence[tuple[Path, Sequence[str]]],
            frame_shape: tuple[int, int], use_zones: bool = True,
            progress: Callable[[int, int], None] | None = None,
            label_at: str = "newest") -> StageData:
    """Stream the recordings ``sensors`` of each dataset folder of ``sources`` and label
    their observations (``label_observations``' ``at``); zones from each recording's
    furniture annotations."""
    from thermal_action.data.truth import annotated_frames

    jobs = [(root, sensor) for root, sensors in sources for sensor in sensors]
    streamed, frames, zoneless = [], [], []
    for done, (root, sensor) in enumerate(jobs):
        annotated = annotated_frames(root, [sensor])
        zones = None
        if use_zones:
            from thermal_action.data.zones import furniture_zones

            zones = furniture_zones(root, sensor, frame_shape)
        stream.zones = zones if zones is not None and len(zones) else None
        run, observations = stream_recording(stream, root / "frames" / f"{sensor}.h5",
                                             frame_shape)
        labels = label_observations(observations, recording_truth(root, sensor, annotated),
                                    at=label_at)
        item = Streamed(sensor, run, observations, labels)
        streamed.append(item)
        zoneless.append(False)
        if stream.zones is not None:
            streamed.append(without_zones(item))
            zoneless.append(True)
        frames += annotated
        if progress is not None:
            progress(done + 1, len(jobs))
    stream.zones = None
    return StageData(streamed, frames, zoneless)


class StageSources(NamedTuple):
    """What the stage learns from: a real dataset folder and the annotation file naming
    its training recordings (None: no real recordings), and the simulated recordings
    made for it (count, frames each, seed, where they are cached)."""

    real_root: Path | None = None
    real_ann: Path | None = None
    sim_recordings: int = 60
    sim_frames: int = 1200
    sim_seed: int = 2026
    sim_cache: Path = Path("work_dirs/fall-stage-sim")


def train_fall_stage(stream: ActionStream, sources: StageSources, out: str | os.PathLike,
                     frame_shape: tuple[int, int], max_false_per_hour: float = 0.5,
                     seed: int = 0, progress: Callable[[str, int, int], None] | None = None,
                     label_at: str = "newest", positive_for_s: float | None = None
                     ) -> tuple[FitResult, dict[str, Path]]:
    """Stream the stage's recordings with ``stream`` (the action model and detector it
    will serve with), fit the stage and write it to ``out`` (JSON) with a picture of the
    decisions (``<out>.png``). ``progress(stage, done, total)``."""
    from thermal_action.evaluation.fall_stage_figures import plot_decisions

    out = Path(out)
    report = (lambda name: (lambda done, total: progress(name, done, total))) if progress \
        else (lambda name: None)
    jobs = stage_jobs(sources, report("simulate"))
    data = collect(stream, jobs, frame_shape, progress=report("stream"), label_at=label_at)
    result = fit_fall_stage(data, max_false_per_hour, seed,
                            stage_info(stream, sources, data, label_at), positive_for_s)
    paths = dict(model=result.model.save(out))
    paths["png"] = plot_decisions(result.decisions, result.chosen, out.with_suffix(".png"),
                                  max_false_per_hour)
    return result, paths


def stage_jobs(sources: StageSources, progress: Callable[[int, int], None] | None = None
               ) -> list[tuple[Path, list[str]]]:
    """The (dataset folder, recordings) the stage streams: the simulated ones (made on
    first use) and the real training recordings."""
    from thermal_action.data.annotations import read_coco

    jobs: list[tuple[Path, list[str]]] = []
    if sources.sim_recordings:
        root = simulated_stage_dataset(sources.sim_cache, sources.sim_recordings,
                                       sources.sim_frames, sources.sim_seed, progress)
        jobs.append((root, sorted(p.stem for p in (root / "frames").glob("*.h5"))))
    if sources.real_root is not None:
        ann = sources.real_ann or sources.real_root / "annotations" / "train.json"
        sensors = sorted({str(i["sensor_id"]) for i in read_coco(Path(ann))["images"]})
        jobs.append((Path(sources.real_root), sensors))
    if not jobs:
        raise ConfigError("the fall stage needs simulated recordings, real ones or both")
    return jobs


def relabel(data: StageData, jobs: Sequence[tuple[Path, Sequence[str]]], at: str
            ) -> StageData:
    """``data`` (from ``collect`` over ``jobs``) with its observations labelled ``at``
    (``LABEL_AT``) instead: variants of the stage compared on one streaming."""
    from thermal_action.data.truth import annotated_frames

    root_of = {sensor: Path(root) for root, sensors in jobs for sensor in sensors}
    truths: dict[str, TruthFrames] = {}
    streamed = []
    for item in data.streamed:
        if item.sensor_id not in truths:
            root = root_of[item.sensor_id]
            truths[item.sensor_id] = recording_truth(
                root, item.sensor_id, annotated_frames(root, [item.sensor_id]))
        streamed.append(item._replace(labels=label_observations(
            item.observations, truths[item.sensor_id], at=at)))
    return replace(data, streamed=streamed)


def stage_info(stream: ActionStream, sources: StageSources, data: StageData,
               label_at: str) -> dict[str, Any]:
    """What a fitted stage records about how it was made."""
    return dict(action_model=str(stream.classifier.config),
                checkpoint=str(stream.classifier.checkpoint),
                detector=None if stream.detector is None else type(stream.detector).__name__,
                stride_s=stream.settings.stride_s, label_at=label_at,
                recordings=[s.sensor_id for s, z in zip(data.streamed, data.zoneless,
                                                        strict=True) if not z],
                simulated=dict(recordings=sources.sim_recordings, frames=sources.sim_frames,
                               seed=sources.sim_seed) if sources.sim_recordings else None,
                real_ann=None if sources.real_root is None else str(
                    sources.real_ann or sources.real_root / "annotations" / "train.json"))
