"""The 14 thermal action classes and the rule that turns per-person labels into one clip label."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from enum import IntEnum

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

"""Class names as the annotations spell them; the position is the class id."""


class ActionClass(IntEnum):
    """The action classes by name (the value is the annotations' class id), so code never
    spells a class as a bare number."""

    SITTING = 0
    STANDING = 1
    WALKING = 2
    LYING_RISK = 3  # lying down with risk: a person down on the floor
    LYING_BED = 4  # lying on the bed or couch
    LEANING = 5
    TRANSITION_NORMAL = 6  # an ordinary change of posture
    TRANSITION_RISK = 7  # a fall: the transition to lying with risk
    TRANSITION_BED = 8  # lying down on the bed
    LOW_OTHER = 9  # a lower position other than the named ones (e.g. sitting on the floor)
    KNEELING = 10
    BENDING = 11
    CROUCHING = 12
    OTHER = 13

    @property
    def display_name(self) -> str:
        """The name the annotations use (``CLASS_NAMES``)."""
        return CLASS_NAMES[self]


A = ActionClass
TRANSITIONS = frozenset({A.TRANSITION_NORMAL, A.TRANSITION_RISK, A.TRANSITION_BED})
FALL_RELATED = frozenset({A.TRANSITION_RISK, A.LYING_RISK})
"""A fall in progress and the person down after it."""
ON_BED = frozenset({A.LYING_BED, A.TRANSITION_BED})

# Highest first: a fall in progress or a person down outranks everything else, then other
# transitions, low postures, and finally ordinary postures. Used by the ``safety`` rule and
# to break ties of the ``majority`` rule.
SAFETY_PRIORITY: tuple[ActionClass, ...] = (
    A.TRANSITION_RISK, A.LYING_RISK, A.TRANSITION_NORMAL, A.TRANSITION_BED, A.KNEELING,
    A.CROUCHING, A.BENDING, A.LOW_OTHER, A.LYING_BED, A.SITTING, A.LEANING, A.WALKING,
    A.STANDING, A.OTHER,
)
del A

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
