"""When a tracked person's classifications become a fall alert: the rules a stream can use,
built by name from the ``ALERT_RULES`` registry (``type=`` dicts, as MMEngine builds
everything else).

- ``PersistenceRule`` (the baseline): the fall-related classes hold ``fall_share`` of
  the smoothed class probability for ``alert_after_s``.
- ``FallEventRule`` (the learned fall stage): a fall is an event over time (upright, a
  fast transition, then down and still, outside a bed or couch), not one window's
  posture. Each classification adds an ``Observation`` (the model's class probabilities
  plus the track's box and heat); ``track_features`` turns the last ``HISTORY_S`` seconds
  of them into one feature vector, gradient-boosted trees (``FallStageModel``, fitted by
  ``engine.fall_stage``) give the probability that the person is down after a fall, and
  ``confirm`` classifications in a row above its threshold raise the alert.

A rule is replayable: ``replay_alerts`` applies any rule to recorded observations, so
settings can be swept with the model run once.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from thermal_action.data.classes import FALL_RELATED, ON_BED, ActionClass
from thermal_action.errors import ConfigError
from thermal_action.registry import ALERT_RULES, build_from


class Observation(NamedTuple):
    """One classification of one track, all an alert rule sees: the model's class
    probabilities (not smoothed), the time its window is dated at and the frame time it
    was made at (ms), the track's box then (pixels, xyxy), the room background (deg C,
    the median of the frame), the hottest and the mean pixel of the box above it (deg C),
    and the share of the box inside a bed or couch zone (0..1; 0 without zones). A
    centre-labelled model dates its window half a window (3.2 s at 10 fps) before the
    newest frame, so the track's box and hottest pixel above the background at the newest
    frame (``now_*``; None: not known) are kept too: where the person is now."""

    track_id: int
    scores: np.ndarray
    dated_ms: int
    timestamp_ms: int
    box_xyxy: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    background_c: float = 0.0
    peak_excess_c: float = 0.0
    mean_excess_c: float = 0.0
    rest_share: float = 0.0
    now_box_xyxy: tuple[float, float, float, float] | None = None
    now_peak_excess_c: float | None = None


class Alert(NamedTuple):
    """A fall alert of one track: raised at ``time_ms`` (frame time), for a fall that
    began about ``start_ms``, with the rule's ``confidence`` (0..1)."""

    track_id: int
    time_ms: int
    start_ms: int
    confidence: float


class TrackWatch(ABC):
    """One track's alert state under a rule."""

    alerted: bool = False

    @abstractmethod
    def update(self, observation: Observation) -> Alert | None:
        """Fold in the next classification; the alert it raises, if any."""


class AlertRule(ABC):
    """Makes one ``TrackWatch`` per track; ``settings()`` says what the rule is (for a
    timeline's JSON)."""

    @abstractmethod
    def watch(self) -> TrackWatch: ...

    @abstractmethod
    def settings(self) -> dict[str, Any]: ...

    def update_all(self, watches: Sequence[TrackWatch],
                   observations: Sequence[Observation]) -> list[Alert | None]:
        """``update`` each of this rule's ``watches`` with its observation (a frame's
        classified tracks); a rule with a model runs it once for all of them."""
        return [watch.update(observation)
                for watch, observation in zip(watches, observations, strict=True)]


def smooth(previous: np.ndarray | None, scores: np.ndarray, elapsed_s: float,
           smoothing_s: float) -> np.ndarray:
    """Time-based exponential smoothing of class probabilities (time constant
    ``smoothing_s``; 0 keeps the newest)."""
    if previous is None or smoothing_s == 0:
        return scores
    keep = np.exp(-max(elapsed_s, 0.0) / smoothing_s)
    return keep * previous + (1 - keep) * scores


FALL_INDICES = sorted(int(c) for c in FALL_RELATED)


@ALERT_RULES.register_module()
class PersistenceRule(AlertRule):
    """The baseline: alert once the fall-related classes have held ``fall_share`` of the
    smoothed probability (time constant ``smoothing_s``) for ``alert_after_s`` seconds
    of the windows' dates; re-armed when the share drops below it."""

    def __init__(self, smoothing_s: float = 2.0, fall_share: float = 0.5,
                 alert_after_s: float = 3.0) -> None:
        if smoothing_s < 0 or alert_after_s < 0:
            raise ValueError("smoothing_s and alert_after_s must not be negative")
        if not 0 < fall_share <= 1:
            raise ValueError(f"fall_share must lie in (0, 1], got {fall_share}")
        self.smoothing_s, self.fall_share, self.alert_after_s = (
            float(smoothing_s), float(fall_share), float(alert_after_s))

    def watch(self) -> TrackWatch:
        return _PersistenceWatch(self)

    def settings(self) -> dict[str, Any]:
        return dict(type="PersistenceRule", smoothing_s=self.smoothing_s,
                    fall_share=self.fall_share, alert_after_s=self.alert_after_s)


class _PersistenceWatch(TrackWatch):
    def __init__(self, rule: PersistenceRule) -> None:
        self.rule = rule
        self.scores: np.ndarray | None = None
        self.scored_ms: int | None = None
        self.fall_since_ms: int | None = None
        self.alerted = False

    def update(self, observation: Observation) -> Alert | None:
        scores = np.asarray(observation.scores, np.float64)
        elapsed_s = (observation.dated_ms - (self.scored_ms or observation.dated_ms)) / 1000
        self.scores = smooth(self.scores, scores, elapsed_s, self.rule.smoothing_s)
        self.scored_ms = observation.dated_ms
        share = float(self.scores[FALL_INDICES].sum())
        if share < self.rule.fall_share:
            self.fall_since_ms, self.alerted = None, False
            return None
        if self.fall_since_ms is None:
            self.fall_since_ms = observation.dated_ms
        held_s = (observation.dated_ms - self.fall_since_ms) / 1000.0
        if self.alerted or held_s < self.rule.alert_after_s:
            return None
        self.alerted = True
        return Alert(observation.track_id, observation.timestamp_ms, self.fall_since_ms, share)


HISTORY_S = 30.0
"""How far back the fall stage looks (s of the windows' dates)."""
_UPRIGHT = [int(ActionClass.STANDING), int(ActionClass.WALKING), int(ActionClass.LEANING)]
_LOW = [int(c) for c in (ActionClass.LOW_OTHER, ActionClass.KNEELING, ActionClass.BENDING,
                         ActionClass.CROUCHING, ActionClass.SITTING)]
_BED = sorted(int(c) for c in ON_BED)

FEATURES = (
    "fall_now", "fall_mean_3s", "fall_min_3s", "fall_mean_10s", "fall_held_s",
    "upright_before", "upright_now", "bed_now", "low_now",
    "log_area_change", "aspect_now", "aspect_change", "speed_now", "speed_max_10s",
    "still_3s", "peak_excess_now", "mean_excess_now", "peak_excess_change", "rest_share",
    "track_age_s", "fall_max_30s", "since_upright_s", "low_mean_10s",
    "now_log_area_change", "now_aspect", "now_aspect_change", "now_speed",
    "now_peak_excess", "now_peak_excess_change", "lag_s",
)
"""What ``track_features`` measures, in its order: shares of the class probability
(fall-related, upright, on a bed, low postures) now and over the last seconds; how the
box changed since 4-25 s ago (log area ratio, long/short side, its change); centre speed
(pixels/s) now, its peak over 10 s, and the mean over 3 s; heat above the background
(deg C) now and its change; the bed/couch share of the box; how long the track has been
seen (s, at most ``HISTORY_S``); the highest fall-related share of the history, the
seconds since the person was last upright (share >= 0.5; ``HISTORY_S`` when not seen
upright), and the low-posture share over 10 s (kneeling and bending look low too, but
come slowly); then the same box and heat measures at the newest frame (``now_*``, NaN
when the observation has none: the trees send missing values one way) with the centre
speed between the window's date and the newest frame, and that lag (s)."""


_GROUPS = np.zeros((14, 4))
for _column, _indices in enumerate((FALL_INDICES, _UPRIGHT, _BED, _LOW)):
    _GROUPS[_indices, _column] = 1.0


def _history_row(observation: Observation) -> tuple[float, ...]:
    """What the features need of one observation: its date (ms), the fall-related,
    upright, bed and low shares of its probabilities, its box (xyxy) and peak excess."""
    shares = np.asarray(observation.scores, np.float64) @ _GROUPS
    return (float(observation.dated_ms), *shares.tolist(), *observation.box_xyxy,
            float(observation.peak_excess_c))


class TrackHistory:
    """One track's last ``HISTORY_S`` seconds of observations, kept with the per-row
    numbers ``track_features`` needs so that each classification adds one row instead of
    recomputing the whole history (the stream's cost per classification)."""

    def __init__(self) -> None:
        self.observations: deque[Observation] = deque()
        self._rows: deque[tuple[float, ...]] = deque()

    def add(self, observation: Observation) -> None:
        """Append the newest observation and drop those over ``HISTORY_S`` before it."""
        self.observations.append(observation)
        self._rows.append(_history_row(observation))
        while observation.dated_ms - self.observations[0].dated_ms > HISTORY_S * 1000:
            self.observations.popleft()
            self._rows.popleft()

    def features(self) -> np.ndarray:
        """``track_features`` of the newest observation."""
        return _features(np.array(self._rows), self.observations[-1])


def track_features(history: Sequence[Observation]) -> np.ndarray:
    """The ``FEATURES`` of the newest observation of ``history`` (one track's
    observations in time order, the last ``HISTORY_S`` seconds), float32."""
    return _features(np.array([_history_row(h) for h in history]), history[-1])


def _features(table: np.ndarray, now: Observation) -> np.ndarray:
    """``track_features`` from the history's rows (``_history_row``) and its newest
    observation."""
    age_s = (now.dated_ms - table[:, 0]) / 1000.0
    fall, upright = table[:, 1], table[:, 2]
    boxes, peak = table[:, 5:9], table[:, 9]
    sides = np.maximum(boxes[:, 2:] - boxes[:, :2], 0.5)
    area = sides[:, 0] * sides[:, 1]
    aspect = sides.max(axis=1) / sides.min(axis=1)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    steps = np.sqrt((np.diff(centres, axis=0) ** 2).sum(axis=1))
    gaps = np.maximum(np.diff(table[:, 0]) / 1000.0, 0.05)
    speed = np.concatenate([[0.0], steps / gaps])
    recent, mid = age_s <= 3.0, age_s <= 10.0
    before = (age_s >= 4.0) & (age_s <= 25.0)
    if not before.any():
        before = age_s == age_s.max()  # a young track: its first observation
    shares = np.column_stack([table[:, 1:5], speed])  # fall, upright, bed, low, speed
    fall_3s, upright_3s, bed_3s, low_3s, speed_3s = shares[recent].mean(axis=0)
    fall_10s, _, _, low_10s, _ = shares[mid].mean(axis=0)
    area_before, aspect_before, peak_before = np.median(
        np.column_stack([area, aspect, peak])[before], axis=0)
    held = int(np.argmax(np.concatenate([fall[::-1] < 0.5, [True]])))  # trailing >= 0.5
    held_s = 0.0 if held == 0 else float(age_s[len(fall) - held])
    up = upright >= 0.5
    values = (
        fall[-1], fall_3s, fall[recent].min(), fall_10s, held_s,
        upright[before].max(), upright_3s, bed_3s, low_3s,
        np.log(area[-1] / area_before), aspect[-1], aspect[-1] - aspect_before, speed[-1],
        speed[mid].max(), speed_3s, now.peak_excess_c, now.mean_excess_c,
        now.peak_excess_c - peak_before, now.rest_share, min(age_s.max(), HISTORY_S),
        fall.max(), float(age_s[up].min()) if up.any() else HISTORY_S, low_10s,
        *_now_values(now, area_before, aspect_before, peak_before, boxes[-1]),
    )
    return np.asarray(values, np.float32)


def _now_values(now: Observation, area_before: float, aspect_before: float,
                peak_before: float, dated_box: np.ndarray) -> tuple[float, ...]:
    """The ``now_*`` features and ``lag_s`` of ``now`` (NaN where it has no newest box),
    against the medians of the earlier observations."""
    lag_s = (now.timestamp_ms - now.dated_ms) / 1000.0
    if now.now_box_xyxy is None:
        return (np.nan,) * 6 + (lag_s,)
    x1, y1, x2, y2 = now.now_box_xyxy
    width, height = max(x2 - x1, 0.5), max(y2 - y1, 0.5)
    aspect = max(width, height) / min(width, height)
    shift = np.hypot((x1 + x2 - dated_box[0] - dated_box[2]) / 2,
                     (y1 + y2 - dated_box[1] - dated_box[3]) / 2)
    peak = np.nan if now.now_peak_excess_c is None else now.now_peak_excess_c
    return (float(np.log(width * height / area_before)), aspect, aspect - aspect_before,
            shift / max(lag_s, 0.05), peak, peak - peak_before, lag_s)


_TREE_KEYS = ("feature", "split", "left", "right", "value", "leaf", "missing_left")


def _tree_depth(trees: Sequence[Mapping[str, Sequence[float]]]) -> int:
    """The most splits from a root to a leaf in any of ``trees``."""
    deepest = 0
    for tree in trees:
        stack = [(0, 0)]
        while stack:
            node, depth = stack.pop()
            if tree["leaf"][node]:
                deepest = max(deepest, depth)
            else:
                stack += [(int(tree["left"][node]), depth + 1),
                          (int(tree["right"][node]), depth + 1)]
    return deepest


class FallStageModel:
    """The fall stage's model: gradient-boosted decision trees over ``FEATURES`` giving the
    probability that the person is down after a fall. Stored as JSON (each tree's nodes,
    the feature names, the decision, what it was trained on) and run with numpy: no
    training library at inference. ``trees``: per tree, its nodes as equal-length lists
    ``feature``, ``split``, ``left``, ``right``, ``value``, ``leaf``, ``missing_left`` (a
    sample goes left when its feature is at most ``split``, or NaN and ``missing_left``;
    ``value``: a leaf's addition to the log-odds); ``baseline``: the log-odds before any
    tree."""

    def __init__(self, trees: Sequence[Mapping[str, Sequence[float]]], baseline: float,
                 threshold: float = 0.5, confirm: int = 2,
                 features: Sequence[str] = FEATURES, info: dict | None = None) -> None:
        unknown = [name for name in features if name not in FEATURES]
        if unknown:
            raise ConfigError(f"fall stage trained on features {unknown} that this "
                              f"version does not measure ({list(FEATURES)}): fit it again")
        self.features = tuple(features)  # a stage fitted before newer features keeps its own
        self._columns = np.array([FEATURES.index(name) for name in self.features], np.int64)
        self.trees = [{key: list(tree[key]) for key in _TREE_KEYS} for tree in trees]
        self.baseline = float(baseline)
        self.threshold, self.confirm = float(threshold), int(confirm)
        self.info = dict(info or {})
        # every tree's nodes in one flat table, children as flat indices and a leaf its
        # own child, so a descent step is one gather per array for all rows and trees
        sizes = [len(tree["value"]) for tree in self.trees]
        self._roots = np.cumsum(sizes, dtype=np.int64) - np.asarray(sizes, np.int64)

        def flat(key: str, dtype: type) -> np.ndarray:
            return np.concatenate([np.asarray(tree[key], dtype) for tree in self.trees]
                                  or [np.zeros(0, dtype)])

        leaf = flat("leaf", bool)
        offsets = np.repeat(self._roots, sizes)
        here = np.arange(len(leaf))
        self._left = np.where(leaf, here, flat("left", np.int64) + offsets)
        self._right = np.where(leaf, here, flat("right", np.int64) + offsets)
        self._feature = np.where(leaf, 0, flat("feature", np.int64))
        self._split = np.where(leaf, np.inf, flat("split", np.float64))
        self._missing_left = flat("missing_left", bool)
        self._value = flat("value", np.float64)
        self._depth = _tree_depth(self.trees)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(down after a fall) of (N, F) or (F,) rows of all ``FEATURES``."""
        x = np.atleast_2d(np.asarray(features, np.float64))[:, self._columns]
        raw = np.full(len(x), self.baseline)
        if self.trees:
            flat_x = x.ravel()
            row_start = (np.arange(len(x)) * x.shape[1])[:, None]
            missing = bool(np.isnan(flat_x).any())
            node = np.broadcast_to(self._roots, (len(x), len(self._roots)))
            for _ in range(self._depth):
                value = flat_x[row_start + self._feature[node]]
                left = value <= self._split[node]
                if missing:
                    left |= np.isnan(value) & self._missing_left[node]
                node = np.where(left, self._left[node], self._right[node])
            raw = raw + self._value[node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -50, 50)))

    def document(self) -> dict[str, Any]:
        return dict(type="FallStageModel", model="gradient-boosted trees",
                    features=list(self.features), baseline=self.baseline, trees=self.trees,
                    threshold=self.threshold, confirm=self.confirm, info=self.info)

    def save(self, path: str | os.PathLike) -> Path:
        from thermal_action.compat import write_text_atomic

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(self.document(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> FallStageModel:
        """Read a fall-stage file; ``ConfigError`` naming it when it is not one."""
        path = Path(path)
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the fall stage ({exc.strerror or exc})") \
                from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not a fall-stage file (invalid JSON, line "
                              f"{exc.lineno})") from None
        if not isinstance(content, dict) or content.get("type") != "FallStageModel":
            raise ConfigError(f"{path}: not a fall-stage file (made by thermal-action "
                              "fall-stage)")
        if "trees" not in content and "weights" in content:
            raise ConfigError(f"{path}: a fall stage of an older thermal-action (a neural "
                              "network, not trees): fit it again with thermal-action fall-stage")
        try:
            return cls(content["trees"], content["baseline"], content.get("threshold", 0.5),
                       content.get("confirm", 2), content["features"], content.get("info"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: a damaged fall-stage file ({exc})") from None


@ALERT_RULES.register_module()
class FallEventRule(AlertRule):
    """The learned fall stage (see the module docstring): ``model`` is a fall-stage file
    or a ``FallStageModel``; ``threshold`` and ``confirm`` default to the model's (chosen
    when it was fitted). Re-armed after ``rearm_s`` seconds below the threshold."""

    def __init__(self, model: str | os.PathLike | FallStageModel,
                 threshold: float | None = None, confirm: int | None = None,
                 rearm_s: float = 2.0) -> None:
        self.model = model if isinstance(model, FallStageModel) else FallStageModel.load(model)
        self.path = None if isinstance(model, FallStageModel) else str(model)
        self.threshold = self.model.threshold if threshold is None else float(threshold)
        self.confirm = self.model.confirm if confirm is None else int(confirm)
        if not 0 < self.threshold < 1 or self.confirm < 1 or rearm_s < 0:
            raise ValueError("threshold must lie in (0, 1), confirm be at least 1 and "
                             "rearm_s not negative")
        self.rearm_s = float(rearm_s)

    def watch(self) -> TrackWatch:
        return _FallEventWatch(self)

    def settings(self) -> dict[str, Any]:
        return dict(type="FallEventRule", model=self.path, threshold=self.threshold,
                    confirm=self.confirm, rearm_s=self.rearm_s)

    def update_all(self, watches: Sequence[TrackWatch],
                   observations: Sequence[Observation]) -> list[Alert | None]:
        """The trees run once over the features of every track classified in a frame."""
        if not watches:
            return []
        for watch, observation in zip(watches, observations, strict=True):
            watch.history.add(observation)
        probabilities = self.model.probability(
            np.stack([watch.history.features() for watch in watches]))
        return [watch.step(observation, float(probability)) for watch, observation,
                probability in zip(watches, observations, probabilities, strict=True)]


class _FallEventWatch(TrackWatch):
    def __init__(self, rule: FallEventRule) -> None:
        self.rule = rule
        self.history = TrackHistory()
        self.above = 0  # classifications in a row above the threshold
        self.below_since_ms: int | None = None
        self.alerted = False

    def update(self, observation: Observation) -> Alert | None:
        self.history.add(observation)
        probability = float(self.rule.model.probability(self.history.features())[0])
        return self.step(observation, probability)

    def step(self, observation: Observation, probability: float) -> Alert | None:
        """The decision on the stage's ``probability`` for ``observation`` (the newest
        of ``history``): ``confirm`` in a row at or above the threshold alert once."""
        if probability < self.rule.threshold:
            self.above = 0
            if self.below_since_ms is None:
                self.below_since_ms = observation.dated_ms
            if (observation.dated_ms - self.below_since_ms) / 1000 >= self.rule.rearm_s:
                self.alerted = False
            return None
        self.above += 1
        self.below_since_ms = None
        if self.alerted or self.above < self.rule.confirm:
            return None
        self.alerted = True
        return Alert(observation.track_id, observation.timestamp_ms,
                     _fall_start(self.history.observations), probability)


def _fall_start(history: Sequence[Observation]) -> int:
    """When the fall began: the first of the trailing observations whose fall-related
    share is at least a half (the newest one's date when none is)."""
    start = history[-1].dated_ms
    for observation in reversed(history):
        if float(np.asarray(observation.scores)[FALL_INDICES].sum()) < 0.5:
            break
        start = observation.dated_ms
    return start


def build_alert_rule(spec: str | os.PathLike | dict | AlertRule | None) -> AlertRule:
    """An alert rule from ``'persistence'`` (the defaults), a fall-stage file, a
    ``type=`` dict, or a rule; ``ConfigError`` for anything else."""
    if isinstance(spec, AlertRule):
        return spec
    if spec is None or str(spec) == "persistence":
        return PersistenceRule()
    if isinstance(spec, Mapping):
        return build_from(ALERT_RULES, spec)
    try:
        return FallEventRule(spec)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"alert rule {spec}: {exc}") from None


def history_features(observations: Iterable[Observation]) -> np.ndarray:
    """(N, F) ``track_features`` of each observation (any tracks, in time order) over its
    track's last ``HISTORY_S`` seconds: exactly what ``FallEventRule`` computes live."""
    histories: dict[int, TrackHistory] = {}
    rows = []
    for observation in observations:
        history = histories.setdefault(observation.track_id, TrackHistory())
        history.add(observation)
        rows.append(history.features())
    return np.asarray(rows, np.float32).reshape(-1, len(FEATURES))


def replay_decisions(observations: Sequence[Observation], probabilities: np.ndarray,
                     rule: FallEventRule) -> list[Alert]:
    """The alerts of ``rule``'s decision over given stage probabilities (one per
    observation): how a threshold is chosen without running the model again."""
    watches: dict[int, _FallEventWatch] = {}
    alerts = []
    for observation, probability in zip(observations, probabilities, strict=True):
        watch = watches.get(observation.track_id)
        if watch is None:
            watch = watches[observation.track_id] = _FallEventWatch(rule)
        watch.history.add(observation)
        alert = watch.step(observation, float(probability))
        if alert is not None:
            alerts.append(alert)
    return alerts


def replay_alerts(observations: Iterable[Observation], rule: AlertRule) -> list[Alert]:
    """The alerts ``rule`` raises from recorded observations (in time order, any tracks):
    a sweep over a rule's settings needs the model once."""
    watches: dict[int, TrackWatch] = {}
    alerts = []
    for observation in observations:
        watch = watches.get(observation.track_id)
        if watch is None:
            watch = watches[observation.track_id] = rule.watch()
        alert = watch.update(observation)
        if alert is not None:
            alerts.append(alert)
    return alerts
