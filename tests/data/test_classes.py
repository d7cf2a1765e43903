import pytest

from thermal_action.data.classes import CLASS_NAMES, SAFETY_PRIORITY, clip_label


def test_fourteen_classes_and_complete_priority():
    assert len(CLASS_NAMES) == 14
    assert sorted(SAFETY_PRIORITY) == list(range(14))


def test_safety_rule_lets_a_fall_win():
    assert clip_label([1, 1, 3], "safety") == 3
    assert clip_label([3, 7], "safety") == 7


def test_majority_rule_and_tie_break():
    assert clip_label([1, 1, 3], "majority") == 1
    assert clip_label([1, 3], "majority") == 3  # tie -> safety priority


def test_custom_priority():
    assert (
        clip_label([1, 3], "safety", priority=[1, 3, *[c for c in range(14) if c not in (1, 3)]])
        == 1
    )


@pytest.mark.parametrize("labels, rule", [([], "safety"), ([1], "first"), ([99], "safety")])
def test_bad_rule_inputs(labels, rule):
    with pytest.raises(ValueError):
        clip_label(labels, rule)
