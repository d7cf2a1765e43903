"""A small CenterNet for people on one thermal frame: a centre heatmap, box size and
centre offset at half the sensor's resolution (20x30 cells for 40x60 frames).

Written here because MMAction2 has no frame detector and mmdet (whose CenterNet expects
RGB images, 512 px inputs and compiled ops) is not on this stack. Boxes are pixel edges
xyxy; annotated furniture and objects are hard negatives whose heatmap errors weigh more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from mmaction.registry import MODELS
from mmengine.model import BaseDataPreprocessor, BaseModel
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

STRIDE = 2
"""Pixels per heatmap cell."""


def _conv(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation,
                  bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class _Residual(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, dilation=dilation),
                                  nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius (cells) within which a shifted box keeps ``min_overlap`` IoU."""
    a1, b1 = 1, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return max(0.0, min(r1, r2, r3))


def heatmap_targets(boxes_xyxy: np.ndarray, rows: int, cols: int) -> dict[str, np.ndarray]:
    """Targets of one frame on a (rows, cols) grid: Gaussian centre ``heatmap`` (rows,
    cols), and at each centre cell its box ``size`` (w, h pixels) and sub-cell ``offset``."""
    heatmap = np.zeros((rows, cols), np.float32)
    size = np.zeros((2, rows, cols), np.float32)
    offset = np.zeros((2, rows, cols), np.float32)
    mask = np.zeros((rows, cols), np.float32)
    yy, xx = np.mgrid[0:rows, 0:cols]
    for x1, y1, x2, y2 in np.asarray(boxes_xyxy, np.float32).reshape(-1, 4):
        width, height = x2 - x1, y2 - y1
        if width <= 0 or height <= 0:
            continue
        cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
        col, row = min(int(cx), cols - 1), min(int(cy), rows - 1)
        sigma = max(gaussian_radius(height / STRIDE, width / STRIDE), 0.5) / 3 + 0.5
        peak = np.exp(-((xx - col) ** 2 + (yy - row) ** 2) / (2 * sigma**2))
        heatmap = np.maximum(heatmap, peak.astype(np.float32))
        size[:, row, col] = (width, height)
        offset[:, row, col] = (cx - col, cy - row)
        mask[row, col] = 1.0
    return dict(heatmap=heatmap, size=size, offset=offset, mask=mask)


def negative_weights(objects_xyxy: np.ndarray, rows: int, cols: int,
                     weight: float) -> np.ndarray:
    """(rows, cols) weights of the heatmap's negative term: ``weight`` inside the boxes of
    annotated furniture and objects, 1 elsewhere."""
    weights = np.ones((rows, cols), np.float32)
    for x1, y1, x2, y2 in np.asarray(objects_xyxy, np.float32).reshape(-1, 4):
        r1, r2 = int(y1 // STRIDE), int(math.ceil(y2 / STRIDE))
        c1, c2 = int(x1 // STRIDE), int(math.ceil(x2 / STRIDE))
        weights[r1:r2, c1:c2] = weight
    return weights


@MODELS.register_module()
class ThermalFramePreprocessor(BaseDataPreprocessor):
    """Stacks a batch of (1, H, W) normalized frames; targets stay per sample."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        return dict(inputs=torch.stack(list(data["inputs"])).float(),
                    data_samples=data["data_samples"])


@MODELS.register_module()
class ThermalCenterNet(BaseModel):
    """CenterNet on a single-channel frame. ``forward`` modes: ``loss`` (focal heatmap
    loss + L1 size and offset), ``predict`` (boxes and scores per frame, with the sample's
    ground truth passed through for the metric) and ``tensor`` (raw head outputs)."""

    def __init__(self, channels: int = 32, blocks: Sequence[int] = (1, 2, 4), head: int = 32,
                 size_weight: float = 0.1, offset_weight: float = 1.0,
                 negative_weight: float = 4.0, max_detections: int = 16,
                 min_score: float = 0.05, data_preprocessor: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or ThermalFramePreprocessor())
        self.stem = nn.Sequential(_conv(1, channels // 2), _conv(channels // 2, channels,
                                                                 stride=STRIDE))
        self.body = nn.Sequential(*[_Residual(channels, d) for d in blocks])
        self.heads = nn.ModuleDict({
            name: nn.Sequential(_conv(channels, head), nn.Conv2d(head, out, 1))
            for name, out in (("heatmap", 1), ("size", 2), ("offset", 2))})
        nn.init.constant_(self.heads["heatmap"][-1].bias, -2.19)  # prior 0.1
        self.size_weight, self.offset_weight = size_weight, offset_weight
        self.negative_weight = negative_weight
        self.max_detections, self.min_score = max_detections, min_score

    def forward(self, inputs: torch.Tensor, data_samples: list | None = None,
                mode: str = "tensor"):
        outputs = self._heads(inputs)
        if mode == "tensor":
            return outputs
        if mode == "loss":
            return self.loss(outputs, data_samples)
        if mode == "predict":
            return self.predict(outputs, data_samples)
        raise ValueError(f"unknown mode {mode!r}")

    def _heads(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.body(self.stem(inputs))
        return {name: head(features) for name, head in self.heads.items()}

    def loss(self, outputs: dict[str, torch.Tensor], samples: list) -> dict:
        rows, cols = outputs["heatmap"].shape[-2:]
        targets = [heatmap_targets(s.boxes_xyxy, rows, cols) for s in samples]
        target = {key: torch.from_numpy(np.stack([t[key] for t in targets])).to(
            outputs["heatmap"].device) for key in targets[0]}
        weights = torch.from_numpy(np.stack([
            negative_weights(s.get("objects_xyxy", np.zeros((0, 4))), rows, cols,
                             self.negative_weight) for s in samples])).to(target["mask"])
        heat = outputs["heatmap"][:, 0].sigmoid().clamp(1e-4, 1 - 1e-4)
        positive = target["heatmap"].eq(1).float()
        pos_loss = torch.log(heat) * (1 - heat) ** 2 * positive
        neg_loss = (torch.log(1 - heat) * heat**2 * (1 - target["heatmap"]) ** 4
                    * (1 - positive) * weights)
        count = positive.sum().clamp(min=1.0)
        mask = target["mask"].unsqueeze(1)
        size = F.l1_loss(outputs["size"] * mask, target["size"] * mask, reduction="sum")
        offset = F.l1_loss(outputs["offset"] * mask, target["offset"] * mask, reduction="sum")
        return dict(loss_heatmap=-(pos_loss.sum() + neg_loss.sum()) / count,
                    loss_size=self.size_weight * size / count,
                    loss_offset=self.offset_weight * offset / count)

    def predict(self, outputs: dict[str, torch.Tensor], samples: list | None = None) -> list[dict]:
        """Per frame: ``pred_boxes_xyxy`` (K, 4) pixels and ``pred_scores`` (K,), plus the
        sample's own fields (``BaseDataElement``: the ground truth) for the metric."""
        decoded = decode_heads({name: value.detach().cpu().numpy()
                                for name, value in outputs.items()},
                               self.max_detections, self.min_score)
        results = []
        for index, (boxes, scores) in enumerate(decoded):
            sample = samples[index].to_dict() if samples else {}
            sample.update(pred_boxes_xyxy=boxes, pred_scores=scores)
            results.append(sample)
        return results


def decode_heads(outputs: dict[str, np.ndarray], max_detections: int = 16,
                 min_score: float = 0.05) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes (K, 4) xyxy pixels and scores (K,), best first, of each frame's head maps:
    ``heatmap`` (N, 1, h, w) logits, ``size`` and ``offset`` (N, 2, h, w) in pixels and
    cells. A detection is a cell that is the maximum of its 3x3 neighbourhood. In numpy:
    the PyTorch model and its ONNX export share it, and on 20x30 maps it costs a tenth of
    the same steps as torch calls."""
    heat = 1.0 / (1.0 + np.exp(-outputs["heatmap"][:, 0].astype(np.float32)))
    pooled = ndimage.maximum_filter(heat, size=(1, 3, 3), mode="constant", cval=-np.inf)
    peaks = np.where(pooled == heat, heat, 0.0).reshape(len(heat), -1)
    width = heat.shape[-1]
    count = min(max_detections, peaks.shape[1])
    results = []
    for index, frame_peaks in enumerate(peaks):
        cells = np.argsort(-frame_peaks, kind="stable")[:count]
        cells = cells[frame_peaks[cells] >= min_score]
        rows, cols = cells // width, cells % width
        offset = outputs["offset"][index][:, rows, cols]
        size = np.maximum(outputs["size"][index][:, rows, cols], 1.0)
        cx, cy = (cols + offset[0]) * STRIDE, (rows + offset[1]) * STRIDE
        boxes = np.stack([cx - size[0] / 2, cy - size[1] / 2, cx + size[0] / 2,
                          cy + size[1] / 2], axis=1).astype(np.float32)
        results.append((boxes, frame_peaks[cells].astype(np.float32)))
    return results
