"""Every checkpoint read goes through ``read_checkpoint``; weights must fit the model."""

from __future__ import annotations

import os

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

from thermal_action.engine import load_config
from thermal_action.errors import CheckpointError
from thermal_action.models.checkpoint import (
    check_weights_fit,
    compare_weights,
    load_weights,
    read_checkpoint,
)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _model(config: str):
    init_default_scope("mmaction")
    return MODELS.build(load_config(config).model)


def _bad_files(tmp_path):
    good = tmp_path / "good.pth"
    save_checkpoint(dict(meta={}, state_dict={"w": torch.ones(3)}), str(good))
    data = good.read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "zeros.pth").write_bytes(b"\0" * 64)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    (tmp_path / "empty.pth").write_bytes(b"")
    torch.save({"x": _Evil()}, tmp_path / "evil.pth")
    return {
        "truncated": "truncated or corrupt checkpoint",
        "zeros": "not a PyTorch checkpoint",
        "text": "not a PyTorch checkpoint",
        "empty": "checkpoint file is empty",
        "evil": "holds a posix.system object outside the weights-only allow-list; refused",
        "missing": "checkpoint file not found",
    }


@pytest.mark.parametrize("name", ["truncated", "zeros", "text", "empty", "evil", "missing"])
def test_bad_files_give_one_line_and_never_advise_unpickling(tmp_path, name):
    """Issue 9: a corrupt checkpoint ended in a traceback advising weights_only=False."""
    expected = _bad_files(tmp_path)[name]
    path = tmp_path / f"{name}.pth"
    for read in (read_checkpoint, lambda p: _load_checkpoint(str(p), map_location="cpu")):
        with pytest.raises(CheckpointError) as caught:
            read(path)  # ours, and MMEngine's loader (Runner load_from / resume) via compat
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and expected in message
        assert "\n" not in message and "weights_only" not in message


def test_mmengine_checkpoint_reads_through_the_same_function(tmp_path):
    path = tmp_path / "good.pth"
    save_checkpoint(dict(meta=dict(epoch=1), state_dict={"w": torch.ones(3)}), str(path))
    assert torch.equal(_load_checkpoint(str(path), map_location="cpu")["state_dict"]["w"],
                       torch.ones(3))


def test_weights_of_another_config_are_refused(tmp_path):
    """Issue 9: a checkpoint of another config was tested as if it fitted."""
    native, person = _model("thermal-40x60"), _model("person-24px")
    fit = compare_weights(person.state_dict(), native.state_dict())
    assert fit.mismatched and fit.unexpected and not fit.ok
    path = tmp_path / "epoch_2.pth"
    save_checkpoint(dict(meta={}, state_dict=native.state_dict()), str(path))
    with pytest.raises(CheckpointError) as caught:
        load_weights(person, path, "slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px")
    message = str(caught.value)
    assert message.startswith(f"{path}: does not fit config slowfast_r10-thermal_1xb16")
    assert "shape-mismatched (backbone." in message and " vs model (" in message
    assert "not in the model" in message and "\n" not in message
    reverse = tmp_path / "person.pth"
    save_checkpoint(dict(meta={}, state_dict=person.state_dict()), str(reverse))
    with pytest.raises(CheckpointError, match="missing from the checkpoint"):
        load_weights(native, reverse, "thermal-40x60")


def test_matching_weights_load_exactly(tmp_path):
    source, target = _model("person-24px"), _model("person-24px")
    path = tmp_path / "same.pth"
    save_checkpoint(dict(meta={}, state_dict=source.state_dict()), str(path))
    load_weights(target, path, "person-24px")
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)
    state = {f"module.{key}": value for key, value in source.state_dict().items()}
    check_weights_fit(target, state, path, "person-24px")  # DDP prefixes are fine
