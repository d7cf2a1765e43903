"""The person detector's targets, loss and decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement

from thermal_action.models.centernet import (
    STRIDE,
    ThermalCenterNet,
    decode_heads,
    gaussian_radius,
    heatmap_targets,
    negative_weights,
)


def test_targets_put_the_centre_size_and_offset_in_one_cell():
    targets = heatmap_targets(np.array([[10, 4, 21, 13]]), 20, 30)  # centre (15.5, 8.5) px
    row, col = np.unravel_index(targets["heatmap"].argmax(), targets["heatmap"].shape)
    assert (row, col) == (4, 7) and targets["heatmap"][row, col] == 1.0
    np.testing.assert_allclose(targets["size"][:, 4, 7], [11, 9])
    np.testing.assert_allclose(targets["offset"][:, 4, 7], [0.75, 0.25])
    assert targets["mask"].sum() == 1 and 0 < targets["heatmap"][4, 9] < 1
    assert heatmap_targets(np.zeros((0, 4)), 20, 30)["heatmap"].max() == 0
    assert gaussian_radius(5, 5) > 0


def test_objects_weigh_more_in_the_negative_term():
    weights = negative_weights(np.array([[40, 30, 50, 40]]), 20, 30, 4.0)
    assert weights[15:20, 20:25].min() == 4.0 and weights[0, 0] == 1.0


def _frame(x, y):
    yy, xx = np.mgrid[0:40, 0:60]
    frame = 0.5 + 1.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 12.0)
    return torch.tensor(frame[None], dtype=torch.float32)


def test_a_few_steps_learn_to_find_a_warm_body():
    torch.manual_seed(0)
    model = ThermalCenterNet(channels=8, blocks=(1, 2), head=8)
    centres = [(12, 10), (40, 25), (25, 30), (50, 8)]
    inputs = torch.stack([_frame(x, y) for x, y in centres])
    samples = [BaseDataElement(boxes_xyxy=np.array([[x - 4, y - 4, x + 4, y + 4]], np.float32),
                               objects_xyxy=np.zeros((0, 4), np.float32)) for x, y in centres]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(80):
        losses = model(inputs, samples, mode="loss")
        loss = sum(losses.values())
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3 * first
    model.eval()
    with torch.no_grad():
        (prediction,) = model(_frame(30, 20)[None], [BaseDataElement(sensor_id="X")],
                              mode="predict")
    best = prediction["pred_boxes_xyxy"][prediction["pred_scores"].argmax()]
    assert prediction["sensor_id"] == "X"  # the sample's fields ride along for the metric
    assert (best[:2] + best[2:]) / 2 == pytest.approx([30, 20], abs=2.0)
    with pytest.raises(ValueError, match="unknown mode"):
        model(inputs, samples, mode="other")


def test_decoding_keeps_local_maxima_above_the_score_and_places_their_boxes():
    logits = np.full((1, 1, 20, 30), -10.0, np.float32)
    logits[0, 0, 5, 7] = 3.0  # a person
    logits[0, 0, 5, 8] = 2.0  # its shoulder: not a 3x3 maximum
    logits[0, 0, 15, 20] = 0.0  # a weaker person, score 0.5
    logits[0, 0, 0, 0] = -4.0  # below min_score
    size = np.zeros((1, 2, 20, 30), np.float32)
    size[0, :, 5, 7] = (6.0, 10.0)  # width, height in pixels
    size[0, :, 15, 20] = (0.5, 0.5)  # clamped to one pixel
    offset = np.zeros((1, 2, 20, 30), np.float32)
    offset[0, :, 5, 7] = (0.5, 0.25)  # cells
    ((boxes, scores),) = decode_heads(dict(heatmap=logits, size=size, offset=offset),
                                      max_detections=16, min_score=0.05)
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-3.0)), 0.5], rtol=1e-6)
    cx, cy = (7 + 0.5) * STRIDE, (5 + 0.25) * STRIDE
    np.testing.assert_allclose(boxes, [[cx - 3, cy - 5, cx + 3, cy + 5],
                                       [40 - 0.5, 30 - 0.5, 40 + 0.5, 30 + 0.5]], atol=1e-5)
    ((boxes, _),) = decode_heads(dict(heatmap=logits, size=size, offset=offset),
                                 max_detections=1, min_score=0.05)
    assert len(boxes) == 1
