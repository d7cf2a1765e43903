"""Test-only modules for runs under torchrun (imported by a test config through
``custom_imports``): a hook that records what each rank trained on and the validation
metrics, and a transform that fails on one rank, as a bad input there would."""

from __future__ import annotations

import json
from pathlib import Path

from mmaction.registry import HOOKS, TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from thermal_action.errors import DataError


@HOOKS.register_module()
class RecordRankSamplesHook(Hook):
    """Write ``probe_rank<r>.json`` into the work dir: per epoch the (image_id, object_id)
    of every training sample this rank saw, the sampler's seed, and the validation
    metrics this rank received."""

    def before_run(self, runner) -> None:
        self.record = dict(rank=get_rank(), world_size=runner.world_size,
                           seed=runner.train_dataloader.sampler.seed, epochs={}, val={})

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        seen = self.record["epochs"].setdefault(str(runner.epoch), [])
        seen.extend([sample.metainfo["image_id"], int(sample.metainfo["object_id"])]
                    for sample in data_batch["data_samples"])

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.record["val"][str(runner.epoch)] = dict(metrics or {})

    def after_run(self, runner) -> None:
        path = Path(runner.work_dir) / f"probe_rank{get_rank()}.json"
        previous = json.loads(path.read_text()) if path.is_file() else {"runs": []}
        previous["runs"].append(self.record)
        path.write_text(json.dumps(previous))


@TRANSFORMS.register_module()
class FailOnRank(BaseTransform):
    """Raise the DataError a corrupt recording raises, on rank ``rank`` only."""

    def __init__(self, rank: int = 1) -> None:
        self.rank = rank

    def transform(self, results: dict) -> dict:
        if get_rank() == self.rank:
            raise DataError(results.get("hdf5_path", "recording"), "injected corrupt frame")
        return results
