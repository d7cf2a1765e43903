"""Class-balanced sampling for heavily imbalanced clip labels."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np
from mmaction.registry import DATA_SAMPLERS
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler


def balanced_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-sample probabilities proportional to ``count(label) ** -power``.

    ``power=0`` is uniform sampling, ``1`` makes every class equally likely, ``0.5``
    (square-root balancing) sits in between.
    """
    counts = np.bincount(labels)
    weights = counts[labels].astype(np.float64) ** -power
    return weights / weights.sum()


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(Sampler):
    """Draw ``len(dataset)`` clips per epoch with replacement, rare classes oversampled.

    The real data has 220 'lying with risk' boxes against single digits for most classes;
    uniform sampling teaches a model to predict the majority class. Draws are seeded per
    epoch (set by ``DistSamplerSeedHook``) and split across ranks.
    """

    def __init__(self, dataset: Sized, power: float = 0.5, seed: int | None = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        labels = np.array([int(dataset.get_data_info(i)["label"]) for i in range(len(dataset))])
        self.weights = balanced_weights(labels, power)
        self.num_samples = math.ceil(len(dataset) / self.world_size)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng(self.seed + self.epoch)
        draws = rng.choice(
            len(self.weights), size=self.num_samples * self.world_size, p=self.weights
        )
        return iter(draws[self.rank :: self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
