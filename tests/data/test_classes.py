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


def test_action_classes_by_name_match_the_annotation_names():
    from thermal_action.data.classes import FALL_RELATED, TRANSITIONS, ActionClass

    assert [c.display_name for c in ActionClass] == list(CLASS_NAMES)
    assert ActionClass.TRANSITION_RISK.display_name == "transition-lying with risk transition"
    assert {c.display_name for c in FALL_RELATED} == {
        "transition-lying with risk transition", "lying down-lying with risk"}
    assert all(c.display_name.startswith("transition-") for c in TRANSITIONS)
    assert SAFETY_PRIORITY[0] == ActionClass.TRANSITION_RISK and len(set(SAFETY_PRIORITY)) == 14


def test_sensor_geometry_and_window_come_from_the_base_dataset_config():
    from thermal_action.data.sensor import BASE_DATASET_CONFIG, SENSOR_SHAPE, WINDOW_FRAMES
    from thermal_action.engine import load_config

    cfg = load_config("thermal-40x60")
    assert SENSOR_SHAPE == (cfg.sensor_height, cfg.sensor_width) == (40, 60)
    assert WINDOW_FRAMES == cfg.clip_len * cfg.frame_interval == 64
    assert BASE_DATASET_CONFIG.is_file()
