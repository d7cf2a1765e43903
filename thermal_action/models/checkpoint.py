"""The one way in to a checkpoint file, and the check that its weights fit a model.

Every read (``test``, inference, ``load_from``, ``--resume``, ``--pretrained``, and MMEngine's
own loader through ``compat``) goes through ``read_checkpoint``: ``torch.load`` with
``weights_only=True`` (MMEngine's types are allow-listed in ``compat``), its failures turned
into one ``CheckpointError`` line that names the file and never suggests unpickling freely.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from thermal_action.errors import CheckpointError

MAX_NAMED = 3
"""Mismatched tensors named in one error line (the rest are counted)."""


def _unpickling_problem(exc: pickle.UnpicklingError) -> str:
    """What torch's weights-only unpickler refused, in words, without its advice."""
    text = str(exc)
    global_name = re.search(r"unsupported GLOBAL ([\w.]+)|Unsupported global: GLOBAL ([\w.]+)",
                            text)
    if global_name:
        name = global_name.group(1) or global_name.group(2)
        return (f"holds a {name} object outside the weights-only allow-list; refused, "
                "nothing was unpickled")
    if "Weights only load failed" in text:
        return "not a PyTorch checkpoint (unreadable pickle data)"
    return f"not a PyTorch checkpoint ({text.splitlines()[0] if text else 'pickle'})"


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint dict at local ``path``; unreadable, truncated, empty or untrusted
    files raise ``CheckpointError`` (path: problem, one line)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "checkpoint file is empty")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(path, _unpickling_problem(exc)) from None
    except RuntimeError as exc:
        if "zip archive" in str(exc) or "PytorchStreamReader" in str(exc):
            raise CheckpointError(path, "truncated or corrupt checkpoint (incomplete PyTorch "
                                        "zip archive)") from None
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(path, f"not a PyTorch checkpoint ({first_line})") from None
    except Exception as exc:  # torch raises KeyError, EOFError, struct errors for junk
        raise CheckpointError(path, "not a PyTorch checkpoint "
                                    f"({type(exc).__name__})") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(path, f"holds a {type(checkpoint).__name__}, not a checkpoint dict")
    return checkpoint


def state_dict_of(
    checkpoint: Mapping[str, Any], path: str | os.PathLike
) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint dict (``state_dict`` wrapper and ``module.`` prefixes
    removed)."""
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, Mapping) or not state or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise CheckpointError(path, "no tensor state_dict inside")
    return {key.removeprefix("module."): value for key, value in state.items()}


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of the local checkpoint at ``path`` (see ``read_checkpoint``)."""
    return state_dict_of(read_checkpoint(path), path)


class WeightFit(NamedTuple):
    """How a checkpoint's tensors line up with a model's."""

    missing: list[str]  # model tensors the checkpoint lacks
    unexpected: list[str]  # checkpoint tensors the model lacks
    mismatched: list[str]  # "name (checkpoint shape) vs model (model shape)"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, max_named: int = MAX_NAMED) -> str:
        """One line: counts per kind, the first ``max_named`` tensors of each named."""
        parts = []
        for title, keys in (("shape-mismatched", self.mismatched),
                            ("missing from the checkpoint", self.missing),
                            ("not in the model", self.unexpected)):
            if keys:
                named = ", ".join(keys[:max_named]) + (", ..." if len(keys) > max_named else "")
                parts.append(f"{len(keys)} {title} ({named})")
        return "; ".join(parts)


def compare_weights(
    model_state: Mapping[str, torch.Tensor], checkpoint_state: Mapping[str, torch.Tensor]
) -> WeightFit:
    """Missing, unexpected and shape-mismatched tensors of ``checkpoint_state`` against
    ``model_state`` (both name -> tensor, ``module.`` prefixes already removed)."""
    mismatched = [
        f"{key} {tuple(checkpoint_state[key].shape)} vs model {tuple(value.shape)}"
        for key, value in model_state.items()
        if key in checkpoint_state and checkpoint_state[key].shape != value.shape
    ]
    missing = [key for key in model_state if key not in checkpoint_state]
    unexpected = [key for key in checkpoint_state if key not in model_state]
    return WeightFit(missing, unexpected, mismatched)


def check_weights_fit(
    model: nn.Module,
    checkpoint_state: Mapping[str, torch.Tensor],
    checkpoint_path: str | os.PathLike,
    config: str | os.PathLike,
) -> None:
    """Raise ``CheckpointError`` naming the checkpoint, the config and the first mismatched
    tensors unless every model tensor is in the checkpoint with the same shape and the
    checkpoint holds nothing else: a partly loaded network must never be scored."""
    state = {key.removeprefix("module."): value for key, value in checkpoint_state.items()}
    fit = compare_weights(model.state_dict(), state)
    if not fit.ok:
        raise CheckpointError(
            checkpoint_path,
            f"does not fit config {Path(config).stem}: {fit.describe()} (a checkpoint of "
            "another config? to start training from partly matching weights use --pretrained)",
        )


def load_weights(
    model: nn.Module, checkpoint_path: str | os.PathLike, config: str | os.PathLike
) -> None:
    """Read ``checkpoint_path``, check that it fits ``model`` (built from ``config``) and
    load every tensor."""
    state = read_state_dict(checkpoint_path)
    check_weights_fit(model, state, checkpoint_path, config)
    model.load_state_dict(state, strict=True)
