"""ONNX export: every shipped config exports with a dynamic batch axis, and onnxruntime
gives PyTorch's outputs; the exported person detector finds the same people."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

from tests.conftest import run_cli
from thermal_action.engine import list_configs, load_config
from thermal_action.engine.export import (
    PARITY_TOLERANCE,
    OnnxModel,
    build_model,
    export_onnx,
    input_shape,
    onnx_parity,
)


def _checkpoint(config: str, path):
    init_default_scope("mmaction")
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model)
    torch.save({"state_dict": model.state_dict()}, path)
    return path


@pytest.mark.parametrize("config", list_configs())
def test_every_config_exports_and_onnxruntime_matches(config, tmp_path):
    checkpoint = _checkpoint(config, tmp_path / "model.pth")
    path = export_onnx(config, checkpoint, tmp_path / "model.onnx")
    assert path.is_file() and not list(tmp_path.glob(".*partial"))
    assert onnx_parity(config, checkpoint, path) <= PARITY_TOLERANCE  # batch 3, export's 2
    cfg, _ = build_model(config, checkpoint)
    outputs = OnnxModel(path).run(np.zeros((1, *input_shape(cfg)), np.float32))
    assert all(len(value) == 1 for value in outputs.values())  # any batch size
    if "probabilities" in outputs:
        np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1.0, atol=1e-5)


def test_the_exported_detector_finds_the_same_people(tmp_path):
    from thermal_action.tracking.detections import detect_frames
    from thermal_action.tracking.learned import LearnedDetector

    config = "person-frames"
    checkpoint = _checkpoint(config, tmp_path / "det.pth")
    path = export_onnx(config, checkpoint, tmp_path / "det.onnx")
    rng = np.random.default_rng(0)
    frames = (18 + rng.normal(0, 0.3, (12, 40, 60))).astype(np.float32)
    frames[:, 10:18, 20:26] += 6.0
    frames[4, 20:] = -273.2
    stamps = np.arange(12) * 100
    torch_found = detect_frames(LearnedDetector(config, checkpoint), frames, stamps)
    onnx_found = detect_frames(LearnedDetector(config, path), frames, stamps)
    for ours, theirs in zip(torch_found, onnx_found, strict=True):
        np.testing.assert_allclose(ours.scores, theirs.scores, atol=1e-4)
        np.testing.assert_allclose(ours.boxes_xyxy, theirs.boxes_xyxy, atol=1e-3)


def test_export_command(tmp_path):
    checkpoint = _checkpoint("person-24px", tmp_path / "p.pth")
    out = tmp_path / "onnx" / "person.onnx"
    result = run_cli("export", "person-24px", str(checkpoint), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "max abs difference" in result.stdout
    bad = run_cli("export", "person-24px", str(checkpoint), "--out", str(tmp_path / "p.pt"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"thermal-action export: error: --out {tmp_path / 'p.pt'}: expected a .onnx file"]
