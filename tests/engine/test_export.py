"""ONNX export: every shipped config exports with a dynamic batch axis, and onnxruntime
gives PyTorch's outputs; the exported person detector finds the same people."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import run_cli, untrained_checkpoint
from thermal_action.engine import list_configs
from thermal_action.engine.export import (
    PARITY_TOLERANCE,
    export_onnx,
    input_shape,
    onnx_parity,
)
from thermal_action.inference.loading import OnnxModel, build_model


@pytest.mark.parametrize("config", list_configs())
def test_every_config_exports_and_onnxruntime_matches(config, tmp_path):
    checkpoint = untrained_checkpoint(config, tmp_path / "model.pth")
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
    checkpoint = untrained_checkpoint(config, tmp_path / "det.pth")
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
    checkpoint = untrained_checkpoint("person-24px", tmp_path / "p.pth")
    out = tmp_path / "onnx" / "person.onnx"
    result = run_cli("export", "person-24px", str(checkpoint), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "max abs difference" in result.stdout
    bad = run_cli("export", "person-24px", str(checkpoint), "--out", str(tmp_path / "p.pt"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"thermal-action export: error: --out {tmp_path / 'p.pt'}: expected a .onnx file"]
    again = run_cli("export", "person-24px", str(out), "--out", str(tmp_path / "again.onnx"))
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"thermal-action export: error: {out}: an ONNX file; give the PyTorch checkpoint "
        "(.pth) it was exported from"]


def test_onnx_matches_pytorch_on_real_clips(real_data_root, tmp_path):
    """Issue 12: within 1e-4 on the real recordings' clips, through the shared numpy
    preprocessing (repair of invalid pixels and lost packets, crop, normalization)."""
    from thermal_action.data.annotations import load_keyframes
    from thermal_action.data.classes import CLASS_NAMES
    from thermal_action.inference.classifier import ClipClassifier, predict_people

    keyframes, _ = load_keyframes(real_data_root / "annotations" / "train.json", CLASS_NAMES)
    sl14 = [k for k in keyframes if k.sensor_id == "SL14_R1"][:12]
    for config in ("person-24px", "thermal-40x60"):
        checkpoint = untrained_checkpoint(config, tmp_path / f"{config}.pth")
        exported = export_onnx(config, checkpoint, tmp_path / f"{config}.onnx")
        recording = real_data_root / "frames" / "SL14_R1.h5"
        ours = predict_people(ClipClassifier(config, checkpoint), recording, sl14)
        theirs = predict_people(ClipClassifier(config, exported), recording, sl14)
        difference = max(float(np.abs(a.scores - b.scores).max())
                         for a, b in zip(ours, theirs, strict=True))
        assert difference <= PARITY_TOLERANCE, (config, difference)
