"""Train/val/test splits of keyframes, and the window-overlap count that tells whether two
splits share frames.

A sample is the ``window``-frame window ``[idx - window/2, idx + window/2)`` around a
keyframe, so two keyframes ``a`` and ``b`` of the same recording have overlapping windows
when ``|a - b| < window``. Keyframes are referred to as ``(sensor_id, frame_idx)`` pairs.

- ``random_split``: each recording's keyframes are shuffled and cut by fraction (the seed's
  split; its windows overlap across splits).
- ``group_split``: whole recordings (or sessions of recordings) are held out, so no window
  overlaps across splits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from itertools import permutations
from typing import TypeVar

import numpy as np

SPLIT_STRATEGIES = ("random", "recording", "session")
SPLITS = ("train", "val", "test")

T = TypeVar("T")


def session_of(sensor_id: str) -> str:
    """The session a recording belongs to: its sensor id up to the last ``_``
    (``SL18_R3`` -> ``SL18``), or the whole id when it has none."""
    return sensor_id.rsplit("_", 1)[0]


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Refuse fractions outside [0, 1) or that leave nothing for train."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1
            and val_fraction + test_fraction < 1):
        raise ValueError(f"val and test fractions must be in [0, 1) and leave some train "
                         f"data, got val {val_fraction} and test {test_fraction}")


def random_split(
    by_recording: Mapping[str, Sequence[T]],
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 42,
) -> dict[str, list[T]]:
    """Split keyframes recording by recording, the way the seed did.

    One ``random.Random(seed)`` shuffles the keyframes of each recording in turn (recordings
    in sorted order, keyframes in the given order); the first ``int(n * val_fraction)`` go
    to val, the next ``int(n * test_fraction)`` to test and the rest to train. Lists keep
    that shuffled order, recording after recording.
    """
    check_fractions(val_fraction, test_fraction)
    rng = random.Random(seed)
    splits: dict[str, list[T]] = {name: [] for name in SPLITS}
    for sensor_id in sorted(by_recording):
        items = list(by_recording[sensor_id])
        rng.shuffle(items)
        num_val, num_test = int(len(items) * val_fraction), int(len(items) * test_fraction)
        splits["val"] += items[:num_val]
        splits["test"] += items[num_val : num_val + num_test]
        splits["train"] += items[num_val + num_test :]
    return splits


def _count(fraction: float, units: int) -> int:
    return 0 if fraction == 0 else max(1, round(fraction * units))


def group_split(
    recordings: Iterable[str],
    group_of: Callable[[str], Hashable] = lambda sensor_id: sensor_id,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 42,
    holdout: Sequence[str] = (),
    test_holdout: Sequence[str] = (),
) -> dict[str, list[str]]:
    """Assign whole groups of recordings (``group_of``: one group per recording by default,
    ``session_of`` for sessions) to train, val and test; returns the sorted sensor ids of
    each split.

    Groups named by the glob patterns ``holdout`` go to val and those named by
    ``test_holdout`` to test (a pattern matches a group name, case-sensitive). A split
    without patterns gets ``round(fraction * groups)`` groups (at least one for a non-zero
    fraction) drawn with ``random.Random(seed)`` from the groups not yet taken, val first.
    At least one group stays in train.
    """
    check_fractions(val_fraction, test_fraction)
    members: dict[str, list[str]] = defaultdict(list)
    for sensor_id in sorted(recordings):
        members[str(group_of(sensor_id))].append(sensor_id)
    groups = sorted(members)

    def matched(patterns: Sequence[str], what: str) -> list[str]:
        chosen = []
        for pattern in patterns:
            hits = [g for g in groups if fnmatchcase(g, pattern)]
            if not hits:
                raise ValueError(f"{what} pattern {pattern!r} matches none of "
                                 f"{', '.join(groups)}")
            chosen += [g for g in hits if g not in chosen]
        return chosen

    val = matched(holdout, "holdout") if holdout else None
    test = matched(test_holdout, "test holdout") if test_holdout else None
    both = sorted(set(val or ()) & set(test or ()))
    if both:
        raise ValueError(f"{', '.join(both)} matched by both the val and the test holdout")
    rng = random.Random(seed)
    if val is None:
        rest = [g for g in groups if g not in (test or ())]
        val = sorted(rng.sample(rest, min(len(rest), _count(val_fraction, len(groups)))))
    if test is None:
        rest = [g for g in groups if g not in val]
        test = sorted(rng.sample(rest, min(len(rest), _count(test_fraction, len(groups)))))
    train = [g for g in groups if g not in val and g not in test]
    if not train:
        raise ValueError(f"no group left for train out of {len(groups)} "
                         f"({', '.join(groups)}); hold out fewer")
    return {name: sorted(s for g in chosen for s in members[g])
            for name, chosen in (("train", train), ("val", val), ("test", test))}


def overlapping_windows(
    keyframes: Iterable[tuple[str, int]], others: Iterable[tuple[str, int]], window: int
) -> int:
    """How many of ``keyframes`` have a ``window``-frame window that overlaps the window of
    a keyframe in ``others`` of the same recording (``|a - b| < window``)."""
    by_sensor: dict[str, list[int]] = defaultdict(list)
    for sensor_id, frame_idx in others:
        by_sensor[sensor_id].append(frame_idx)
    sorted_others = {s: np.sort(np.asarray(v, np.int64)) for s, v in by_sensor.items()}
    count = 0
    for sensor_id, frame_idx in keyframes:
        near = sorted_others.get(sensor_id)
        if near is None:
            continue
        i = int(np.searchsorted(near, frame_idx))
        if (i < len(near) and near[i] - frame_idx < window) or (
                i > 0 and frame_idx - near[i - 1] < window):
            count += 1
    return count


def split_overlap(
    splits: Mapping[str, Sequence[tuple[str, int]]], window: int
) -> tuple[dict[str, dict[str, int]], int]:
    """Overlap between every ordered pair of non-empty splits, ``"A~B"`` ->
    ``{"overlapping_windows": windows of A overlapping a window of B, "windows": len(A)}``,
    and how many windows in all overlap a window of another split."""
    names = [name for name, keyframes in splits.items() if len(keyframes)]
    pairs = {
        f"{a}~{b}": dict(overlapping_windows=overlapping_windows(splits[a], splits[b], window),
                         windows=len(splits[a]))
        for a, b in permutations(names, 2)
    }
    total = sum(
        overlapping_windows(splits[a], [k for b in names if b != a for k in splits[b]], window)
        for a in names
    )
    return pairs, total


def classes_missing_from_training(
    class_counts: Mapping[str, Mapping[str, int]], train: str = "train"
) -> dict[str, dict[str, int]]:
    """For each split other than ``train`` (split -> class name -> person boxes), the
    classes it holds that ``train`` has no example of, with their counts: a model trained
    on that split cannot score them, so they pull mean-class accuracy down."""
    seen = {name for name, count in class_counts.get(train, {}).items() if count}
    return {
        split: missing
        for split, counts in class_counts.items()
        if split != train
        and (missing := {name: count for name, count in counts.items()
                         if count and name not in seen})
    }
