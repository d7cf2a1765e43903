"""The one place that works around upstream bugs of the pinned stack.

Each fix is a few lines, names the upstream problem and is covered by ``tests/test_compat.py``.
``apply()`` is idempotent and runs when ``thermal_action`` is imported, before MMAction2's
model package is touched.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import os
import pickle
import sys
import tempfile
import types
import warnings
from pathlib import Path
from typing import NamedTuple

_APPLIED = False
_UPSTREAM: dict[str, object] = {}  # what each patch replaced, for ``fix_statuses``


def _install_drn_placeholder() -> None:
    """The mmaction2 1.2.0 wheel omits ``mmaction/models/localizers/drn`` although
    ``localizers/__init__.py`` imports it (open-mmlab/mmaction2#2714), so
    ``import mmaction.models`` fails. Provide a stand-in whose ``DRN`` raises when built."""
    if importlib.util.find_spec("mmaction") is None:
        return
    name = "mmaction.models.localizers.drn"
    if name in sys.modules:
        return
    localizers_dir = Path(importlib.util.find_spec("mmaction").origin).parent / "models/localizers"
    if (localizers_dir / "drn" / "drn.py").exists():
        return

    class DRN:  # noqa: D401 - placeholder with the upstream class name
        """Placeholder for MMAction2's DRN localizer, missing from the 1.2.0 wheel."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            raise ImportError(
                "DRN is not available: the mmaction2 1.2.0 wheel ships without "
                "mmaction/models/localizers/drn; install mmaction2 from source to use it"
            )

    package = types.ModuleType(name)
    package.__path__ = []
    module = types.ModuleType(f"{name}.drn")
    DRN.__module__ = module.__name__
    module.DRN = DRN
    package.drn = module
    sys.modules[name] = package
    sys.modules[module.__name__] = module
    from mmaction.registry import MODELS

    MODELS.register_module(name="DRN", module=DRN, force=True)


def _history_buffer_getattr(owner: object, name: str) -> object:
    """Stand-in for ``builtins.getattr`` while unpickling: MMEngine's ``HistoryBuffer``
    pickles its statistics as ``getattr(HistoryBuffer, 'mean')`` etc.; nothing else is
    reachable."""
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed = {"min", "max", "current", "mean", *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f"getattr({owner!r}, {name!r}) is not allowed in a checkpoint")


def _mmengine_checkpoint_types() -> list:
    """Exactly the non-tensor globals MMEngine writes into its checkpoints (message-hub
    history buffers holding numpy arrays and scalars)."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    dtype_classes = [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG"]
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        *dtype_classes,
        np._core.multiarray._reconstruct,
        np._core.multiarray.scalar,
        (_history_buffer_getattr, "builtins.getattr"),
    ]


def _allow_mmengine_checkpoints() -> None:
    """torch>=2.6 defaults ``torch.load`` to ``weights_only=True``; MMEngine 0.10.7 calls
    it without arguments, so its own checkpoints no longer load or resume
    (open-mmlab/mmengine#1655). Allow-list MMEngine's types instead of unpickling freely."""
    import torch

    torch.serialization.add_safe_globals(_mmengine_checkpoint_types())


def _distribution_location(package: str) -> str | None:
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    return str(dist.locate_file(""))


def _is_installed(package: str) -> bool:
    """``pkg_resources``-free replacement for ``mmengine.utils.is_installed``."""
    if _distribution_location(package) is not None:
        return True
    spec = importlib.util.find_spec(package)
    return spec is not None and spec.origin is not None


def _get_installed_path(package: str) -> str:
    """``pkg_resources``-free replacement for ``mmengine.utils.get_installed_path``."""
    location = _distribution_location(package)
    if location is None:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise importlib.metadata.PackageNotFoundError(package)
        return os.path.dirname(spec.origin)
    candidate = os.path.join(location, package)
    if os.path.exists(candidate):
        return candidate
    top_level = importlib.metadata.distribution(package).read_text("top_level.txt") or package
    return os.path.join(location, top_level.split()[0])


def _replace_pkg_resources() -> None:
    """MMEngine 0.10.7 imports ``pkg_resources`` (removed from setuptools>=81) to resolve
    ``package::`` config paths and hub models."""
    import mmengine.config.config as config_module
    import mmengine.utils as utils_module
    import mmengine.utils.package_utils as package_utils

    for module in (package_utils, utils_module, config_module):
        module.is_installed = _is_installed
        module.get_installed_path = _get_installed_path


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_save(obj: object, filepath: str | os.PathLike, save: callable) -> None:
    """Write ``obj`` with ``save(obj, path)`` to a temporary file, then rename it over
    ``filepath`` so a crash mid-write never leaves a truncated checkpoint."""
    target = Path(filepath)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        # mkstemp creates the file 0600; a checkpoint gets the mode a plain open() would.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        save(obj, tmp_name)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (see ``atomic_save``)."""
    atomic_save(text, path, lambda content, tmp: Path(tmp).write_text(content,
                                                                      encoding="utf-8"))
    return Path(path)


def _atomic_checkpoint_writes() -> None:
    """MMEngine's ``save_checkpoint`` streams into the final path:
    an interrupted save corrupts ``epoch_N.pth`` and the resume that needs it."""
    import mmengine.runner.checkpoint as checkpoint_module
    import mmengine.runner.runner as runner_module
    import torch

    upstream = checkpoint_module.save_checkpoint
    if getattr(upstream, "_thermal_action_atomic", False):
        return
    _UPSTREAM["save_checkpoint"] = upstream

    def save_checkpoint(checkpoint, filename, file_client_args=None, backend_args=None):
        if str(filename).startswith(("http://", "https://", "s3://", "petrel://")):
            return upstream(checkpoint, filename, file_client_args, backend_args)
        atomic_save(checkpoint, filename, torch.save)

    save_checkpoint._thermal_action_atomic = True
    checkpoint_module.save_checkpoint = save_checkpoint
    runner_module.save_checkpoint = save_checkpoint


def _load_from_local(filename: str, map_location: object = None) -> dict:
    """MMEngine's loader for local checkpoint paths (``load_from``, ``--resume``, test)."""
    from thermal_action.models.checkpoint import read_checkpoint

    return read_checkpoint(filename, map_location)


def _checked_checkpoint_reads() -> None:
    """MMEngine reads local checkpoints with a bare ``torch.load``: a truncated or foreign
    file ends in a long traceback whose last line advises ``weights_only=False``. Route its
    local reads through ``models.checkpoint.read_checkpoint`` (one clear error line)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes="", loader=_load_from_local, force=True)


def _init_dist_pytorch_on_cpu(backend: str = "nccl", init_backend: str = "torch",
                              **kwargs: object) -> None:
    """MMEngine's ``_init_dist_pytorch`` for a process without a GPU: gloo instead of the
    nccl that the runtime configs name, and no ``torch.cuda.set_device``."""
    import torch.distributed as torch_dist

    if init_backend != "torch":
        raise RuntimeError(f"init_backend {init_backend!r} needs GPUs; this process has none")
    torch_dist.init_process_group(backend="gloo" if backend == "nccl" else backend,
                                  rank=int(os.environ["RANK"]),
                                  world_size=int(os.environ["WORLD_SIZE"]), **kwargs)


def _distributed_on_cpu() -> None:
    """MMEngine 0.10.7 cannot train with ``launcher='pytorch'`` on CPUs: its
    ``_init_dist_pytorch`` always calls ``torch.cuda.set_device`` (and the runtime default is
    nccl), and ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]``, which DDP refuses
    for a CPU module. Without a GPU, start gloo instead and wrap with ``device_ids=None``
    (what MMEngine's own tests do); with GPUs nothing changes."""
    import mmengine.dist.utils as dist_utils
    import torch
    from mmengine.model.wrappers.distributed import MMDistributedDataParallel

    upstream = dist_utils._init_dist_pytorch
    if not getattr(upstream, "_thermal_action_cpu", False):
        _UPSTREAM["init_dist_pytorch"] = upstream

        def init_dist_pytorch(backend: str = "nccl", init_backend: str = "torch",
                              **kwargs: object) -> None:
            if torch.cuda.is_available():
                return upstream(backend, init_backend=init_backend, **kwargs)
            return _init_dist_pytorch_on_cpu(backend, init_backend, **kwargs)

        init_dist_pytorch._thermal_action_cpu = True
        dist_utils._init_dist_pytorch = init_dist_pytorch

    wrapper_init = MMDistributedDataParallel.__init__
    if not getattr(wrapper_init, "_thermal_action_cpu", False):
        _UPSTREAM["ddp_init"] = wrapper_init

        def __init__(self, module, detect_anomalous_params: bool = False, **kwargs):  # noqa: N807
            first = next(module.parameters(), None)
            if kwargs.get("device_ids") and (first is None or first.device.type == "cpu"):
                kwargs["device_ids"] = None
            wrapper_init(self, module, detect_anomalous_params, **kwargs)

        __init__._thermal_action_cpu = True
        MMDistributedDataParallel.__init__ = __init__


def _silence_mmcv_lite_warning() -> None:
    """mmcv-lite warns on every import that its compiled deformable attention is missing;
    no thermal model uses it."""
    warnings.filterwarnings("ignore", message=".*MultiScaleDeformableAttention.*")


def _silence_launcher_noise() -> None:
    """Under torchrun each process warns twice about MMEngine internals, not about the run:
    ``init_dist`` sets the spawn start method that the config's fork then replaces, and
    MMEngine's DDP wrapper passes ``broadcast_buffers``, which torch 2.14 renamed."""
    warnings.filterwarnings("ignore", message="Multi-processing start method .fork. is different")
    warnings.filterwarnings("ignore", message=".broadcast_buffers. is deprecated")


def apply() -> None:
    """Apply every fix once per process."""
    global _APPLIED
    if _APPLIED:
        return
    _silence_mmcv_lite_warning()
    _silence_launcher_noise()
    _install_drn_placeholder()
    _allow_mmengine_checkpoints()
    _replace_pkg_resources()
    _atomic_checkpoint_writes()
    _checked_checkpoint_reads()
    _distributed_on_cpu()
    _APPLIED = True


class FixStatus(NamedTuple):
    """Whether one fix is in place, and whether the installed upstream still needs it."""

    name: str
    problem: str  # the upstream problem, in a few words
    active: bool
    needed: bool  # False: the installed upstream no longer has the problem


def _source(obj: object) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def _drn_status() -> FixStatus:
    spec = importlib.util.find_spec("mmaction")
    localizers = Path(spec.origin).parent / "models/localizers" if spec else None
    needed = localizers is not None and not (localizers / "drn" / "drn.py").exists()
    module = sys.modules.get("mmaction.models.localizers.drn")
    active = module is not None and getattr(module, "__file__", None) is None
    return FixStatus("drn-placeholder", "mmaction2 1.2.0 wheel lacks localizers/drn",
                     active or not needed, needed)


def _checkpoint_types_status() -> FixStatus:
    import mmengine.runner.checkpoint as checkpoint_module
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed = set(map(id, torch.serialization.get_safe_globals()))
    defaults_to_weights_only = tuple(map(int, torch.__version__.split(".")[:2])) >= (2, 6)
    needed = defaults_to_weights_only and "weights_only" not in _source(
        checkpoint_module.load_from_local)
    return FixStatus("checkpoint-weights-only", "torch>=2.6 weights_only loads refuse "
                     "MMEngine checkpoints", id(HistoryBuffer) in allowed, needed)


def _pkg_resources_status() -> FixStatus:
    import mmengine.utils.package_utils as package_utils

    needed = (importlib.util.find_spec("pkg_resources") is None
              and "pkg_resources" in _source(package_utils))
    return FixStatus("pkg-resources", "setuptools>=81 removed pkg_resources, which MMEngine "
                     "imports", package_utils.is_installed is _is_installed, needed)


def _atomic_status() -> FixStatus:
    import mmengine.runner.checkpoint as checkpoint_module

    upstream = _UPSTREAM.get("save_checkpoint", checkpoint_module.save_checkpoint)
    text = _source(upstream)
    needed = "os.replace" not in text and "rename" not in text
    return FixStatus("atomic-checkpoints", "MMEngine writes checkpoints in place",
                     getattr(checkpoint_module.save_checkpoint, "_thermal_action_atomic",
                             False), needed)


def _checked_reads_status() -> FixStatus:
    from mmengine.runner.checkpoint import CheckpointLoader

    return FixStatus("checked-checkpoint-reads", "a bad checkpoint ends in a long torch.load "
                     "traceback", CheckpointLoader._schemes.get("") is _load_from_local, True)


def _distributed_status() -> FixStatus:
    import mmengine.dist.utils as dist_utils
    from mmengine.model.wrappers.distributed import MMDistributedDataParallel

    upstream = _source(_UPSTREAM.get("init_dist_pytorch", dist_utils._init_dist_pytorch))
    needed = "torch.cuda.set_device(local_rank)" in upstream and "is_available()" not in upstream
    active = (getattr(dist_utils._init_dist_pytorch, "_thermal_action_cpu", False)
              and getattr(MMDistributedDataParallel.__init__, "_thermal_action_cpu", False))
    return FixStatus("distributed-on-cpu", "MMEngine's launcher='pytorch' needs CUDA",
                     active, needed)


def fix_statuses() -> list[FixStatus]:
    """Each fix of this module: active in this process, and still needed upstream."""
    return [_drn_status(), _checkpoint_types_status(), _pkg_resources_status(),
            _atomic_status(), _checked_reads_status(), _distributed_status()]
