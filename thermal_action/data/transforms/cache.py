"""Keep the output of a pipeline's deterministic steps in memory between epochs.

Reading, repairing, cropping and normalizing a clip gives the same array every epoch;
only the random augmentations after them differ. ``CachedSteps`` runs those steps once
per sample and serves later epochs from memory. MMEngine and mmcv cache data lists and
random parameters, not transform outputs, hence this small wrapper.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose


def _hashable(value: object) -> object:
    if isinstance(value, np.ndarray):
        return (value.shape, value.tobytes())
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    return value


def _nbytes(results: dict) -> int:
    return sum(value.nbytes for value in results.values() if isinstance(value, np.ndarray))


@TRANSFORMS.register_module()
class CachedSteps(BaseTransform):
    """Run ``steps`` (transform configs that must not be random) once per sample, keyed by
    ``key_fields`` of ``results``, and keep their output while the process holds less than
    ``max_bytes`` of it (about 74 KB per 32x24x24 person clip; later samples run
    uncached). Every hit returns a deep copy, so the random transforms after it can
    change what they get in place."""

    def __init__(
        self,
        steps: Sequence[dict],
        key_fields: Sequence[str] = ("hdf5_path", "frame_idx", "person_box_xyxy"),
        max_bytes: int = 1024**3,
    ) -> None:
        if not steps:
            raise ValueError("CachedSteps needs at least one step")
        self.steps = Compose([TRANSFORMS.build(step) for step in steps])
        self.key_fields = tuple(key_fields)
        self.max_bytes = int(max_bytes)
        self._cache: dict[object, dict] = {}
        self._cached_bytes = 0
        self._pid = os.getpid()

    def transform(self, results: dict) -> dict | None:
        if self._pid != os.getpid():  # a DataLoader worker fills its own cache
            self._cache, self._cached_bytes, self._pid = {}, 0, os.getpid()
        key = tuple(_hashable(results.get(field)) for field in self.key_fields)
        cached = self._cache.get(key)
        if cached is None:
            output = self.steps(results)
            if output is None:
                return None
            size = _nbytes(output)
            if self._cached_bytes + size <= self.max_bytes:
                self._cache[key] = copy.deepcopy(output)
                self._cached_bytes += size
            return output
        return {**results, **copy.deepcopy(cached)}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(steps={self.steps!r}, key_fields={self.key_fields}, "
                f"max_bytes={self.max_bytes})")
