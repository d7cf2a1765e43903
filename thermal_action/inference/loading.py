"""Load a trained model for inference, PyTorch or ONNX: the one place the clip classifier
and the learned person detector get their model from (``.pth`` weights checked against
the model, or an ``.onnx`` export from ``thermal-action export`` run by onnxruntime)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from torch import nn

from thermal_action.config import load_config
from thermal_action.errors import ConfigError
from thermal_action.models.checkpoint import load_weights


def inference_model(cfg, checkpoint: str | os.PathLike) -> tuple[nn.Module, OnnxModel | None]:
    """The model of ``cfg`` in eval mode, and who runs it: with a ``.pth`` checkpoint its
    weights are loaded (refused when they do not fit) and PyTorch runs it (None); with an
    ``.onnx`` export onnxruntime runs it on ``torch.get_num_threads()`` threads, and the
    model is kept for what surrounds the graph (data preprocessor, decoding)."""
    import thermal_action

    thermal_action.register()  # compat fixes before MMAction2 builds the model
    init_default_scope(cfg.get("default_scope", "mmaction"))
    model = MODELS.build(cfg.model)
    onnx = None
    if Path(checkpoint).suffix.lower() == ".onnx":
        onnx = OnnxModel(checkpoint, threads=torch.get_num_threads())
    else:
        load_weights(model, checkpoint, cfg.filename)
    return model.eval(), onnx


def build_model(config: str | os.PathLike, checkpoint: str | os.PathLike) -> tuple:
    """(the config, its model with the checkpoint's weights, in eval mode); the checkpoint
    must be PyTorch's."""
    if Path(checkpoint).suffix.lower() == ".onnx":
        raise ConfigError(f"{checkpoint}: an ONNX file; give the PyTorch checkpoint (.pth) "
                          "it was exported from")
    cfg = load_config(config)
    return cfg, inference_model(cfg, checkpoint)[0]


class OnnxModel:
    """An exported model run by onnxruntime on ``threads`` CPU threads: ``run(batch)``
    returns the graph's outputs as numpy arrays, by name."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Idle threads sleep instead of spinning: a stream alternates this session with
        # PyTorch and other sessions, and spinning threads starve them of the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.session = onnxruntime.InferenceSession(str(self.path), options,
                                                    providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output.name for output in self.session.get_outputs()]

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(
            batch, np.float32)})
        return dict(zip(self.output_names, outputs, strict=True))
