"""Load an MMAction2 checkpoint (e.g. Kinetics-400 SlowFast) into a thermal model.

Only local files are read, through ``checkpoint.read_checkpoint`` (``weights_only=True``,
MMEngine's own types allow-listed in ``compat``). The classification head is
re-initialized, unless ``keep_head`` asks to keep it and its shape fits (a checkpoint of
the same 14 classes, e.g. a thermal model trained on simulated recordings). RGB stem
kernels are summed over their 3 input channels when the model takes 1 channel (a
grey-level input of value v then gives the same response as an RGB input of (v, v, v)).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from thermal_action.models.checkpoint import read_state_dict

HEAD_PREFIXES: tuple[str, ...] = ("cls_head.fc_cls.",)


class PretrainedReport(NamedTuple):
    """What happened to each tensor of the checkpoint and of the model."""

    path: Path
    loaded: list[str]
    adapted: list[str]  # 3 -> 1 input channels
    reinitialized: list[str]  # head tensors left at their fresh initialization
    missing: list[str]  # model tensors the checkpoint lacks
    unexpected: list[str]  # checkpoint tensors the model lacks
    mismatched: list[str]  # same name, incompatible shape
    kept_head: list[str] = []  # head tensors loaded from the checkpoint (``keep_head``)

    def summary(self) -> str:
        """One line: how many model tensors were loaded, which were not (they keep their
        fresh initialization) and why, and which checkpoint tensors were ignored; long key
        lists grouped by module."""
        total = sum(map(len, (self.loaded, self.adapted, self.kept_head, self.reinitialized,
                              self.missing, self.mismatched)))
        loaded = (f"loaded {len(self.loaded) + len(self.adapted) + len(self.kept_head)} of "
                  f"{total} model tensors")
        if self.kept_head:
            loaded += f" (the classification head kept: {_group(self.kept_head)})"
        if self.adapted:
            loaded += f" (adapted 3->1 input channels {len(self.adapted)}: {_group(self.adapted)})"
        parts = [f"pretrained {self.path}: {loaded}"]
        not_loaded = [
            f"{title} {len(keys)} ({_group(keys)})"
            for title, keys in (("re-initialized head", self.reinitialized),
                                ("shape mismatch", self.mismatched),
                                ("missing from checkpoint", self.missing))
            if keys
        ]
        if not_loaded:
            parts.append("not loaded, left at their fresh initialization: "
                         + ", ".join(not_loaded))
        if self.unexpected:
            parts.append(f"unexpected in checkpoint {len(self.unexpected)} "
                         f"({_group(self.unexpected)}), ignored")
        return "; ".join(parts)


def _group(keys: list[str], max_items: int = 6) -> str:
    if len(keys) <= max_items:
        return ", ".join(keys)
    groups = Counter(".".join(key.split(".")[:3]) for key in keys)
    shown = [f"{prefix}.* x{count}" for prefix, count in groups.most_common(max_items)]
    rest = len(groups) - len(shown)
    return ", ".join(shown) + (f", +{rest} more groups" if rest > 0 else "")


def load_pretrained(
    model: nn.Module, path: str | os.PathLike, head_prefixes: tuple[str, ...] = HEAD_PREFIXES,
    keep_head: bool = False,
) -> PretrainedReport:
    """Copy every compatible tensor of the checkpoint at ``path`` into ``model``; the head
    (``head_prefixes``) too with ``keep_head`` when every head tensor fits."""
    source = read_state_dict(path)
    target = model.state_dict()
    to_load: dict[str, torch.Tensor] = {}
    loaded, adapted, reinitialized, mismatched = [], [], [], []
    head = [key for key in target if key.startswith(head_prefixes)]
    kept_head = head if keep_head and head and all(
        key in source and source[key].shape == target[key].shape for key in head) else []
    for key, value in target.items():
        if key.startswith(head_prefixes) and not kept_head:
            reinitialized.append(key)
            continue
        if key not in source:
            continue
        weight = source[key]
        if weight.shape == value.shape:
            to_load[key] = weight
            loaded.append(key)
        elif (
            weight.ndim == value.ndim >= 4
            and weight.shape[1] == 3
            and value.shape[1] == 1
            and weight.shape[0] == value.shape[0]
            and weight.shape[2:] == value.shape[2:]
        ):
            to_load[key] = weight.sum(dim=1, keepdim=True)
            adapted.append(key)
        else:
            mismatched.append(f"{key} {tuple(weight.shape)}->{tuple(value.shape)}")
    model.load_state_dict(to_load, strict=False)
    for name, module in model.named_modules() if not kept_head else ():
        if name and any(prefix.startswith(f"{name}.") for prefix in head_prefixes):
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)
    missing = [
        key
        for key in target
        if key not in to_load
        and key not in reinitialized
        and not any(entry.startswith(f"{key} ") for entry in mismatched)
    ]
    unexpected = [key for key in source if key not in target]
    loaded = [key for key in loaded if key not in kept_head]
    return PretrainedReport(
        Path(path), loaded, adapted, reinitialized, missing, unexpected, mismatched, kept_head
    )
