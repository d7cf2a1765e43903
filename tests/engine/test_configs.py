"""Every shipped config loads, builds its model and runs a forward pass at its input size."""

import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.registry import init_default_scope

from thermal_action.config import set_epochs
from thermal_action.engine import list_configs, load_config, resolve_config
from thermal_action.errors import ConfigError

CONFIGS = list_configs()
DETECTORS = [name for name in CONFIGS if load_config(name).model.type == "ThermalCenterNet"]
RECOGNIZERS = [name for name in CONFIGS if name not in DETECTORS]


def test_both_recipes_ship():
    assert any("r50" in name and "256px" in name for name in CONFIGS)
    assert any("thermal-40x60" in name for name in CONFIGS)
    assert any("thermal-person-24px" in name for name in CONFIGS)
    assert DETECTORS and set(DETECTORS) | set(RECOGNIZERS) == set(CONFIGS)


@pytest.mark.parametrize("name", RECOGNIZERS)
def test_config_builds_and_forwards(name, tiny_root):
    cfg = load_config(name, data_root=tiny_root)
    init_default_scope("mmaction")
    model = MODELS.build(cfg.model).eval()
    pipeline = cfg.val_dataloader.dataset.pipeline
    load = next(step for step in pipeline if step["type"] == "LoadThermalWindow")
    resize = next((step for step in pipeline if step["type"] == "Resize"), None)
    channels = next(step for step in pipeline if step["type"] == "ThermalToChannels")
    crop = next((step for step in pipeline if step["type"] == "CropAroundPerson"), None)
    height, width = resize["scale"][::-1] if resize else (cfg.sensor_height, cfg.sensor_width)
    if crop:
        height, width = crop["size_px"]
        assert cfg.val_dataloader.dataset.sample_unit == "person"
    inputs = torch.randn(1, 1, channels["num_channels"], load["clip_len"], height, width)
    with torch.no_grad():
        scores = model.cls_head(model.extract_feat(inputs)[0])
    assert scores.shape == (1, 14)
    assert cfg.custom_imports["imports"] == ["thermal_action.registration"]
    assert cfg.train_cfg.val_interval == 5 and cfg.optim_wrapper.optimizer.type == "SGD"
    assert cfg.default_hooks.checkpoint.save_best == "acc/mean_class"
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert cfg[loader].dataset.data_root == str(tiny_root.resolve())


@pytest.mark.parametrize("name", [name for name in RECOGNIZERS if "-causal" in name])
def test_causal_configs_label_the_newest_frame_and_change_nothing_else(name):
    """Issue 22: a causal config is its centre-labelled parent with every split's clips
    ending at the keyframe (and a training window that reaches back far enough), so
    delay and accuracy compare one change."""
    cfg = load_config(name)
    parent = load_config(name.replace("-causal", ""))
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert cfg[loader].dataset.keyframe_anchor == "end"
        assert parent[loader].dataset.get("keyframe_anchor", "centre") == "centre"
        steps, parent_steps = cfg[loader].dataset.pipeline, parent[loader].dataset.pipeline
        if loader == "train_dataloader":  # a dense window may grow to reach back further
            steps, parent_steps = ([step["type"] for step in pipeline]
                                   for pipeline in (steps, parent_steps))
        assert steps == parent_steps
    assert cfg.model == parent.model


@pytest.mark.parametrize("name", DETECTORS)
def test_detector_config_builds_and_finds_its_outputs(name, tiny_root):
    cfg = load_config(name, data_root=tiny_root)
    init_default_scope("mmaction")
    model = MODELS.build(cfg.model).eval()
    inputs = torch.randn(2, 1, cfg.sensor_height, cfg.sensor_width)
    with torch.no_grad():
        outputs = model(inputs, mode="tensor")
    assert outputs["heatmap"].shape == (2, 1, cfg.sensor_height // 2, cfg.sensor_width // 2)
    assert outputs["size"].shape[1] == outputs["offset"].shape[1] == 2
    assert cfg.default_hooks.checkpoint.save_best == "det/ap50"
    assert cfg.train_dataloader.dataset.type == "PersonFrameDataset"
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert cfg[loader].dataset.data_root == str(tiny_root.resolve())


@pytest.mark.parametrize("name", RECOGNIZERS)
def test_training_clips_are_the_test_clips_shape(name, tiny_root, two_sessions, monkeypatch):
    """Every recognizer's training pipeline (sim2real: a dense window cut by
    RandomTemporalCrop, simulated people mixed in) yields clips of its test input shape."""
    monkeypatch.setenv("THERMAL_ACTION_SIM_ROOT", str(two_sessions))
    cfg = load_config(name, data_root=tiny_root)
    init_default_scope("mmaction")
    train = DATASETS.build(cfg.train_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    if "sim2real" in name:
        assert cfg.train_dataloader.dataset.mix_root == str(two_sessions)
        assert {train.get_data_info(i)["source"] for i in range(len(train))} == {"own", "mixed"}
        assert any(step["type"] == "RandomTemporalCrop" for step in cfg.train_pipeline)
    clip = train[len(train) - 1]["inputs"]
    assert clip.shape == test[0]["inputs"].shape


def test_short_names_and_did_you_mean():
    assert resolve_config("thermal-40x60").stem.startswith("slowfast_r18-thermal")
    assert resolve_config("person-24px").stem.endswith("thermal-person-24px")
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve_config("thermal_1xb")  # the whole-frame and the person-centred recipe
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve_config("lite")
    # a fragment that ends where one name's size word starts names that one
    assert resolve_config("sim2real").stem.endswith("person-sim2real-24px")
    assert resolve_config("sim2real-lite").stem.endswith("person-sim2real-lite-24px")
    assert resolve_config("person-lite").stem.endswith("person-lite-24px")
    with pytest.raises(ConfigError, match="did you mean"):
        resolve_config("slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x61")


def test_epochs_scale_cosine_schedule():
    cfg = load_config("person-24px")
    set_epochs(cfg, 10)
    assert cfg.param_scheduler[0]["T_max"] == 10 and cfg.param_scheduler[0]["end"] == 10


def test_epochs_scale_milestones():
    cfg = load_config("thermal-40x60")
    set_epochs(cfg, 10)
    assert cfg.train_cfg.max_epochs == 10
    assert cfg.param_scheduler[0]["milestones"] == [6, 8] and cfg.param_scheduler[0]["end"] == 10
    with pytest.raises(ConfigError):
        set_epochs(cfg, 0)


def test_environment_values_fill_configs_without_console_noise(monkeypatch, tmp_path):
    import logging

    from mmengine.logging import MMLogger

    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        monkeypatch.setenv("THERMAL_ACTION_SIM_ROOT", str(tmp_path))
        cfg = load_config("sim2real")
        logger.info("other messages still pass")
    finally:
        logger.removeHandler(handler)
    assert cfg.train_dataloader.dataset.mix_root == str(tmp_path)
    assert logged == ["other messages still pass"]
