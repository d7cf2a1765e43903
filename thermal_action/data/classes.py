"""The 14 thermal action classes and the rule that turns per-person labels into one clip label."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

CLASS_NAMES: tuple[str, ...] = (
    "sitting",
    "standing",
    "walking",
    "lying down-lying with risk",
    "lying down-lying on the bed/couch",
    "leaning",
    "transition-normal transition",
    "transition-lying with risk transition",
    "transition-lying on the bed transition",
    "lower position-other",
    "lower position-kneeling",
    "lower position-bending",
    "lower position-crouching",
    "other",
)

# Highest first: a fall in progress or a person down outranks everything else, then other
# transitions, low postures, and finally ordinary postures. Used by the ``safety`` rule and
# to break ties of the ``majority`` rule.
SAFETY_PRIORITY: tuple[int, ...] = (7, 3, 6, 8, 10, 12, 11, 9, 4, 0, 5, 2, 1, 13)

LABEL_RULES = ("safety", "majority")


def clip_label(
    person_labels: Sequence[int],
    rule: str = "safety",
    priority: Sequence[int] = SAFETY_PRIORITY,
) -> int:
    """One clip label from the labels of the people in a keyframe.

    ``safety``: the label ranked highest in ``priority`` wins (a fall-related label wins).
    ``majority``: the most frequent label wins; ties go to the higher ``priority``.
    """
    if not person_labels:
        raise ValueError("a keyframe needs at least one person label")
    if rule not in LABEL_RULES:
        raise ValueError(f"unknown label rule {rule!r}; expected one of {', '.join(LABEL_RULES)}")
    rank = {label: position for position, label in enumerate(priority)}
    missing = sorted(set(person_labels) - set(rank))
    if missing:
        raise ValueError(f"label(s) {missing} are not in the priority list {list(priority)}")
    if rule == "safety":
        return min(person_labels, key=rank.__getitem__)
    counts = Counter(person_labels)
    return min(counts, key=lambda label: (-counts[label], rank[label]))
