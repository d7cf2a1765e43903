"""ONNX export of a trained model (a config + checkpoint) for onnxruntime and the edge.

MMAction2 1.2.0 has no recognizer exporter, so the graph is the model's own modules
wrapped to plain tensors in and out: a person detector gives its CenterNet head maps
(``heatmap`` logits, ``size``, ``offset``; decoded by the model's ``predict``), a clip
classifier gives class probabilities (N, 14) for clips (N, C, T, H, W) (backbone, neck and
head, softmax as the config's ``average_clips='prob'``). The batch axis is dynamic; the
preprocessing stays the config's numpy pipeline, so both backends see identical inputs.
TorchScript-based ``torch.onnx.export`` (opset 17): the dynamo exporter fixes the batch
size unless given dynamic shapes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thermal_action.inference.loading import OnnxModel, build_model
from thermal_action.models.centernet import ThermalCenterNet

OPSET = 17
PARITY_TOLERANCE = 1e-4
"""Largest absolute difference between the backends that an export may show."""
HEAD_MAPS = ("heatmap", "size", "offset")


class _DetectorGraph(nn.Module):
    def __init__(self, model: ThermalCenterNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(frames, None, mode="tensor")
        return tuple(outputs[name] for name in HEAD_MAPS)


class _ClassifierGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        features = self.model.extract_feat(clips.unsqueeze(1))[0]
        return self.model.cls_head(features).softmax(dim=1)


def _graph(model: nn.Module) -> nn.Module:
    """The exported graph around ``model`` (see the module docstring)."""
    return _DetectorGraph(model) if isinstance(model, ThermalCenterNet) else \
        _ClassifierGraph(model)


def input_shape(cfg) -> tuple[int, ...]:
    """The shape of one input (without the batch axis) of the config's test pipeline:
    (1, H, W) for a frame detector, (C, T, H, W) for a clip classifier."""
    steps = {step["type"]: step for step in cfg.test_dataloader.dataset.pipeline}
    height, width = int(cfg.sensor_height), int(cfg.sensor_width)
    if "PackThermalFrame" in steps:
        return (1, height, width)
    if "CropAroundPerson" in steps:
        height, width = steps["CropAroundPerson"]["size_px"]
    if "Resize" in steps:
        width, height = steps["Resize"]["scale"]
    channels = int(steps.get("ThermalToChannels", {}).get("num_channels", 1))
    return (channels, int(steps["LoadThermalWindow"]["clip_len"]), int(height), int(width))


def export_onnx(config: str | os.PathLike, checkpoint: str | os.PathLike,
                out: str | os.PathLike) -> Path:
    """Write the model of ``config`` with the weights of ``checkpoint`` to the ONNX file
    ``out`` (see the module docstring); the file is written whole or not at all."""
    cfg, model = build_model(config, checkpoint)
    graph = _graph(model)
    names = (["frames"], list(HEAD_MAPS)) if isinstance(model, ThermalCenterNet) else \
        (["clips"], ["probabilities"])
    example = torch.randn(2, *input_shape(cfg))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with torch.no_grad():
            torch.onnx.export(graph, (example,), str(partial), opset_version=OPSET,
                              input_names=names[0], output_names=names[1],
                              dynamic_axes={name: {0: "batch"} for name in names[0] + names[1]},
                              dynamo=False)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def onnx_parity(config: str | os.PathLike, checkpoint: str | os.PathLike,
                onnx_path: str | os.PathLike, inputs: np.ndarray | None = None,
                seed: int = 0) -> float:
    """Largest absolute difference between PyTorch and onnxruntime outputs of the same
    model on ``inputs`` (a batch of the model's input shape; random normalized inputs of
    batch 3 when not given, a batch size other than the export's example)."""
    cfg, model = build_model(config, checkpoint)
    if inputs is None:
        inputs = np.random.default_rng(seed).normal(0, 1, (3, *input_shape(cfg)))
    inputs = np.asarray(inputs, np.float32)
    with torch.no_grad():
        expected = _graph(model)(torch.from_numpy(inputs))
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = OnnxModel(onnx_path).run(inputs)
    return max(float(np.abs(value.numpy() - got[name]).max())
               for name, value in zip(got, expected, strict=True))
