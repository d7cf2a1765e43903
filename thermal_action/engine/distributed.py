"""Runs spread over processes by PyTorch's launcher (``torchrun``), on CPUs or GPUs.

``torchrun --nproc_per_node N $(which thermal-action) train ... --launcher pytorch`` starts
N copies that join one process group (gloo on CPU, nccl on GPUs, one GPU per process).
MMEngine's Runner then shards the data, averages gradients (DDP) and lets only rank 0
write checkpoints and logs; ``compat`` makes its CPU path work. This module starts the
group, says which rank is the main one, and turns an error in any rank into one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from thermal_action.errors import ConfigError, ThermalActionError

LAUNCHERS = ("none", "pytorch")
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")

T = TypeVar("T")


class PeerFailed(ThermalActionError):  # noqa: N818 - reads as the event it reports
    """Another rank of this run failed and reports the error itself; this rank stops
    without a message of its own."""


def backend_for_device() -> str:
    """``nccl`` when this process sees a GPU, else ``gloo`` (the CPU backend)."""
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"


def start(launcher: str) -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes in the environment (for
    ``launcher='pytorch'``; ``'none'`` runs alone). Idempotent. Returns (rank, world size)."""
    if launcher not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {launcher!r}; expected one of {', '.join(LAUNCHERS)}")
    if launcher == "none":
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError("started by a launcher with several processes: add "
                              "--launcher pytorch (else each process trains alone)")
        return 0, 1
    import torch.distributed as torch_dist
    from mmengine.dist import get_dist_info, init_dist

    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise ConfigError(
            f"--launcher pytorch needs {', '.join(missing)} from the launcher; start with "
            "torchrun --nproc_per_node N $(which thermal-action) ... --launcher pytorch")
    if not torch_dist.is_initialized():
        init_dist("pytorch", backend=backend_for_device())
    return get_dist_info()


def configure(cfg: object, launcher: str) -> None:
    """Point a config's Runner at ``launcher`` with this device's backend (the shipped
    runtime names nccl, which a CPU process cannot use)."""
    cfg.launcher = launcher
    if launcher != "none":
        env_cfg = cfg.get("env_cfg") or {}
        env_cfg["dist_cfg"] = {**env_cfg.get("dist_cfg", {}), "backend": backend_for_device()}
        cfg.env_cfg = env_cfg


def is_distributed() -> bool:
    from mmengine.dist import is_distributed as mm_is_distributed

    return mm_is_distributed()


def rank() -> int:
    """This process's rank (0 alone or before the group starts)."""
    from mmengine.dist import get_rank

    return get_rank()


def is_main_process() -> bool:
    return rank() == 0


def launched_rank() -> int:
    """The rank the launcher gave this process (0 without one), known before the group
    starts: what the CLI needs to decide who draws progress bars."""
    return int(os.environ.get("RANK", "0"))


def on_main_process(work: Callable[[], T]) -> T:
    """Run ``work`` (which writes files) on rank 0 only and give every rank its result;
    when it raises, rank 0 raises the error and the others ``PeerFailed``."""
    if not is_distributed():
        return work()
    from mmengine.dist import broadcast_object_list

    outcome: list = [None]
    if is_main_process():
        try:
            outcome = [("ok", work())]
        except ThermalActionError as exc:
            broadcast_object_list([("error", str(exc))], src=0)
            raise
    broadcast_object_list(outcome, src=0)
    kind, value = outcome[0]
    if kind == "error":
        raise PeerFailed(f"rank 0 failed: {value}")
    return value


@contextmanager
def agreed_errors() -> Iterator[None]:
    """Checks that every rank runs before the work starts (config, data, checkpoint): the
    ranks compare outcomes at the end of the block, and when any failed all stop. Rank 0
    raises the first error (naming the rank it came from), the others ``PeerFailed``."""
    error: ThermalActionError | None = None
    try:
        yield
    except ThermalActionError as exc:
        error = exc
    if not is_distributed():
        if error is not None:
            raise error
        return
    from mmengine.dist import all_gather_object

    outcomes = all_gather_object(None if error is None else (type(error).__name__, str(error)))
    failed = [(index, outcome) for index, outcome in enumerate(outcomes) if outcome]
    if not failed:
        return
    if not is_main_process():
        raise PeerFailed(f"rank {failed[0][0]} failed")
    if error is not None:
        raise error
    index, (_, message) = failed[0]
    raise ThermalActionError(f"{message} (rank {index})")


@contextmanager
def peer_failures() -> Iterator[None]:
    """While the ranks work together, one rank's error (bad input mid-epoch) is reported
    by that rank and the launcher stops the others; a rank whose collective broke because
    a peer died raises ``PeerFailed`` (no message of its own)."""
    if not is_distributed():
        yield
        return
    import torch.distributed as torch_dist

    try:
        yield
    except (torch_dist.DistError, RuntimeError) as exc:
        if isinstance(exc, torch_dist.DistError) or "Connection closed by peer" in str(exc):
            raise PeerFailed(f"a peer of rank {rank()} failed: {exc}") from exc
        raise


def barrier() -> None:
    """Wait for every rank (no-op alone): e.g. until rank 0 has written a checkpoint."""
    if is_distributed():
        from mmengine.dist import barrier as mm_barrier

        mm_barrier()


def error_line(command: str, message: str, error: BaseException) -> str | None:
    """The line this process prints for ``error``, None when another rank reports it:
    before the process group starts every rank fails alike and rank 0 speaks; after, a
    rank's own error carries its rank (``agreed_errors`` reports shared checks once)."""
    if isinstance(error, PeerFailed):
        return None
    line = f"thermal-action {command}: error: {message}"
    if not is_distributed():
        return line if launched_rank() == 0 else None
    return line + (f" (rank {rank()})" if rank() else "")
