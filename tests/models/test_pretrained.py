import copy

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

from thermal_action.engine import load_config
from thermal_action.errors import CheckpointError
from thermal_action.models import load_pretrained


class Custom:
    """An arbitrary class a checkpoint may carry; never unpickled."""


def _model(config, num_classes=14, in_channels=None):
    init_default_scope("mmaction")
    cfg = copy.deepcopy(load_config(config).model)
    cfg.cls_head.num_classes = num_classes
    if in_channels is not None:
        cfg.backbone.slow_pathway.in_channels = in_channels
        cfg.backbone.fast_pathway.in_channels = in_channels
    return MODELS.build(cfg)


def _save_kinetics_style(model, path):
    save_checkpoint(dict(meta=dict(epoch=256), state_dict=model.state_dict()), str(path))


def test_kinetics_r50_checkpoint_loads_with_fresh_head(tmp_path):
    kinetics = _model("r50_1xb8", num_classes=400)
    path = tmp_path / "slowfast_r50_kinetics400.pth"
    _save_kinetics_style(kinetics, path)
    thermal = _model("r50_1xb8")
    report = load_pretrained(thermal, path)
    assert not report.missing and not report.mismatched and not report.adapted
    assert report.reinitialized == ["cls_head.fc_cls.weight", "cls_head.fc_cls.bias"]
    assert report.unexpected == []
    key = "backbone.slow_path.layer3.0.conv1.conv.weight"
    assert torch.equal(thermal.state_dict()[key], kinetics.state_dict()[key])
    assert thermal.cls_head.fc_cls.weight.shape == (14, 2304)
    assert thermal.cls_head.fc_cls.weight.std() < 0.05  # re-initialized, N(0, 0.01)
    summary = report.summary()
    assert summary.startswith(f"pretrained {path}: loaded") and "re-initialized head 2" in summary
    assert "\n" not in summary


def test_rgb_stem_is_summed_into_single_channel(tmp_path):
    rgb = _model("thermal-40x60", in_channels=3)
    path = tmp_path / "rgb.pth"
    _save_kinetics_style(rgb, path)
    thermal = _model("thermal-40x60")
    report = load_pretrained(thermal, path)
    assert sorted(report.adapted) == [
        "backbone.fast_path.conv1.conv.weight",
        "backbone.slow_path.conv1.conv.weight",
    ]
    expected = rgb.state_dict()["backbone.slow_path.conv1.conv.weight"].sum(1, keepdim=True)
    assert torch.equal(thermal.state_dict()["backbone.slow_path.conv1.conv.weight"], expected)


def test_incompatible_architecture_is_reported(tmp_path):
    r18 = _model("thermal-40x60")
    path = tmp_path / "r18.pth"
    _save_kinetics_style(r18, path)
    report = load_pretrained(_model("r50_1xb8"), path)
    assert report.mismatched and report.missing  # R50 has conv3 layers R18 lacks
    assert "shape mismatch" in report.summary() and "missing from checkpoint" in report.summary()
    r50_path = tmp_path / "r50.pth"
    _save_kinetics_style(_model("r50_1xb8"), r50_path)
    reverse = load_pretrained(_model("thermal-40x60"), r50_path)
    assert any(".conv3." in key for key in reverse.unexpected)
    assert "unexpected in checkpoint" in reverse.summary()


def test_bad_checkpoint_files(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        load_pretrained(_model("thermal-40x60"), tmp_path / "none.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pth: not a .*PyTorch checkpoint"):
        load_pretrained(_model("thermal-40x60"), tmp_path / "junk.pth")

    torch.save({"state_dict": {"w": torch.ones(1)}, "extra": Custom()}, tmp_path / "custom.pth")
    with pytest.raises(CheckpointError, match="outside the weights-only allow-list; refused"):
        load_pretrained(_model("thermal-40x60"), tmp_path / "custom.pth")


def test_summary_says_which_tensors_were_not_loaded(tmp_path):
    """Issue 9: 'loaded 152/154 model tensors' beside 'shape mismatch 2' left unclear
    whether the two were loaded."""
    r18 = _model("thermal-40x60")
    path = tmp_path / "r18.pth"
    _save_kinetics_style(r18, path)
    person = _model("person-24px")
    report = load_pretrained(person, path)
    total = len(person.state_dict())
    loaded = len(report.loaded) + len(report.adapted)
    summary = report.summary()
    assert f"loaded {loaded} of {total} model tensors" in summary
    assert loaded + len(report.reinitialized) + len(report.mismatched) + len(report.missing) \
        == total
    assert report.mismatched  # the 1x3x3 slow res5 of the person model
    assert ("not loaded, left at their fresh initialization: re-initialized head 2 (" in summary
            and f"shape mismatch {len(report.mismatched)} (" in summary)
    assert "unexpected in checkpoint" in summary and summary.endswith(", ignored")


def test_the_head_is_kept_when_asked_and_it_fits(tmp_path):
    """Issue 13: fine-tuning a model trained on simulated data keeps its 14-class head."""
    source = _model("person-24px")
    torch.nn.init.normal_(source.cls_head.fc_cls.weight, std=1.0)
    path = tmp_path / "sim.pth"
    _save_kinetics_style(source, path)
    kept = _model("person-24px")
    report = load_pretrained(kept, path, keep_head=True)
    assert report.kept_head == ["cls_head.fc_cls.weight", "cls_head.fc_cls.bias"]
    assert not report.reinitialized and not report.missing and not report.mismatched
    assert torch.equal(kept.cls_head.fc_cls.weight, source.cls_head.fc_cls.weight)
    assert f"loaded {len(kept.state_dict())} of {len(kept.state_dict())}" in report.summary()
    assert "the classification head kept" in report.summary()

    fresh = _model("person-24px")
    report = load_pretrained(fresh, path)  # the default re-initializes it
    assert report.reinitialized and not report.kept_head
    assert fresh.cls_head.fc_cls.weight.std() < 0.1

    # a head of other classes cannot be kept: it is re-initialized, and the summary says so
    other = tmp_path / "400.pth"
    _save_kinetics_style(_model("person-24px", num_classes=400), other)
    report = load_pretrained(_model("person-24px"), other, keep_head=True)
    assert not report.kept_head and "re-initialized head 2" in report.summary()
