"""Each compat fix, proven on the pinned stack."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import save_checkpoint

import thermal_action.compat as compat
from thermal_action.errors import CheckpointError


def test_mmaction_models_imports_and_drn_placeholder_raises():
    import mmaction.models  # noqa: F401  (fails on the bare 1.2.0 wheel)
    from mmaction.registry import MODELS

    with pytest.raises(ImportError, match="DRN is not available"):
        MODELS.build(dict(type="DRN"))


def _mmengine_like_checkpoint(path):
    hub = MessageHub.get_instance("compat-test")
    hub.update_scalar("train/loss", 1.5)
    hub.update_scalar("train/loss", np.float64(1.25))
    hub.update_info("step", np.int64(7))
    checkpoint = dict(
        meta=dict(epoch=1, iter=10, seed=np.int64(3)),
        state_dict={"w": torch.ones(2)},
        message_hub=hub.state_dict(),
    )
    save_checkpoint(checkpoint, str(path))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / "epoch_1.pth"
    _mmengine_like_checkpoint(path)
    loaded = torch.load(path, map_location="cpu")  # torch>=2.6 default: weights_only=True
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))
    buffer = loaded["message_hub"]["log_scalars"]["train/loss"]
    assert buffer.mean() == pytest.approx(1.375)


class _Untrusted:
    def __reduce__(self):
        return (print, ("pwned",))


def test_untrusted_objects_are_still_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": _Untrusted()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_getattr_stand_in_only_reaches_history_buffer_statistics():
    from mmengine.logging.history_buffer import HistoryBuffer

    assert compat._history_buffer_getattr(HistoryBuffer, "mean") == HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError):
        compat._history_buffer_getattr(HistoryBuffer, "__init__")
    import os

    with pytest.raises(pickle.UnpicklingError):
        compat._history_buffer_getattr(os, "system")


def test_package_config_bases_resolve_without_pkg_resources(tmp_path):
    config = tmp_path / "uses_mmaction_base.py"
    config.write_text("_base_ = 'mmaction::_base_/models/slowfast_r50.py'\n")
    cfg = Config.fromfile(str(config))
    assert cfg.model.backbone.type == "ResNet3dSlowFast"


def test_interrupted_checkpoint_save_keeps_previous_file(tmp_path):
    path = tmp_path / "epoch_1.pth"
    path.write_bytes(b"previous checkpoint")

    def failing_save(obj, filename):
        with open(filename, "wb") as stream:
            stream.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compat.atomic_save({}, path, failing_save)
    assert path.read_bytes() == b"previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_1.pth"]


def test_runner_uses_atomic_save():
    import mmengine.runner.runner as runner_module

    assert getattr(runner_module.save_checkpoint, "_thermal_action_atomic", False)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_save_keeps_the_umask_mode(tmp_path, umask, mode):
    """Issue 9: checkpoints were written 0600 (the temporary file's mode) whatever the umask."""
    import os
    import stat

    previous = os.umask(umask)
    try:
        compat.atomic_save({"w": 1}, tmp_path / "epoch_1.pth", torch.save)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "epoch_1.pth").stat().st_mode) == mode


def test_mmengine_local_checkpoint_reads_go_through_read_checkpoint(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader

    assert CheckpointLoader._get_checkpoint_loader(str(tmp_path / "x.pth")) is (
        compat._load_from_local)
    with pytest.raises(CheckpointError, match="x.pth: checkpoint file not found"):
        CheckpointLoader.load_checkpoint(str(tmp_path / "x.pth"), map_location="cpu")
