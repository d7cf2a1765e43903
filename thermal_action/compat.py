"""The one place that works around upstream bugs of the pinned stack.

Each fix is a few lines, names the upstream problem and is covered by ``tests/test_compat.py``.
``apply()`` is idempotent and runs when ``thermal_action`` is imported, before MMAction2's
model package is touched.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import pickle
import sys
import tempfile
import types
import warnings
from pathlib import Path

_APPLIED = False


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


def _silence_mmcv_lite_warning() -> None:
    """mmcv-lite warns on every import that its compiled deformable attention is missing;
    no thermal model uses it."""
    warnings.filterwarnings("ignore", message=".*MultiScaleDeformableAttention.*")


def apply() -> None:
    """Apply every fix once per process."""
    global _APPLIED
    if _APPLIED:
        return
    _silence_mmcv_lite_warning()
    _install_drn_placeholder()
    _allow_mmengine_checkpoints()
    _replace_pkg_resources()
    _atomic_checkpoint_writes()
    _checked_checkpoint_reads()
    _APPLIED = True
