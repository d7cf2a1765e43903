"""What inference returns: typed records, free of any drawing code."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class WindowPrediction(NamedTuple):
    """The model's prediction for one clip window of a recording; person-centred models
    predict one per person, named by ``object_id`` with its keyframe box."""

    frame_idx: int  # centre frame of the window, index into the recording
    label: int  # predicted class id
    score: float  # softmax probability of ``label``, 0..1
    scores: np.ndarray | None = None  # (C,) softmax probabilities of every class
    object_id: int | None = None  # the person, for person-centred models
    box_xyxy: tuple[float, float, float, float] | None = None  # that person's box, pixels
