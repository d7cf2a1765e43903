"""What is wrong with this environment, and the one-line fix for each problem: the
library behind ``thermal-action doctor``.

Each check returns ``Check`` records (never prints or raises): "ok", "warn" (the toolkit
works, a feature does not) or "fail" (the toolkit cannot work). The stack has known traps:
PyPI's torchvision beside a CPU torch, an mmcv outside MMAction2's range, setuptools>=81
without pkg_resources, MMEngine's CUDA-only launcher; ``compat`` works around some of them,
and says whether each workaround is still active and needed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

MIN_PYTHON = (3, 10)
MMCV_RANGE = ("2.0.0rc4", "2.2.0")  # mmaction2 1.2.0 asserts this range on import
PINNED = {"mmengine": "0.10.7", "mmcv": "2.1.0", "mmaction2": "1.2.0"}


class Check(NamedTuple):
    """One finding: ``status`` "ok", "warn", "fail" or "skip" (cannot run until a failed
    check is fixed); ``fix`` says what to run or change."""

    status: str
    name: str
    detail: str
    fix: str = ""


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (its pip name), None when absent."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def try_import(module: str) -> str | None:
    """None when ``module`` imports, else the last line of its error."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        lines = [line for line in str(exc).splitlines() if line.strip()]
        return f"{type(exc).__name__}: {lines[-1] if lines else ''}".strip()
    return None


def import_problem(distribution: str, module: str) -> str | None:
    """Why ``module`` (of the pip ``distribution``) cannot be used, None when it can."""
    return try_import(module) if installed_version(distribution) else "not installed"


def _release(version: str) -> tuple:
    from packaging.version import Version

    return Version(version).release


def _older(version: str, than: str) -> bool:
    from packaging.version import Version

    return Version(version) < Version(than)


def check_python() -> Iterator[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        yield Check("fail", "python", f"{version} ({sys.executable})",
                    "use Python 3.11 (3.10 at least): python3.11 -m venv .venv")
    else:
        yield Check("ok", "python", f"{version} on {platform.machine()}, "
                    f"{len(os.sched_getaffinity(0))} CPU cores")


def check_torch() -> Iterator[Check]:
    error = import_problem("torch", "torch")
    if error:
        yield Check("fail", "torch", error, "pip install torch==2.14.1 (CPU or CUDA build)")
        return
    import torch

    if torch.cuda.is_available():
        device = f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)"
    elif torch.version.cuda:
        device = f"CUDA {torch.version.cuda} build, no GPU visible: runs on CPU"
    else:
        device = "CPU build"
    yield Check("ok", "torch", f"{torch.__version__} ({device}, "
                f"{torch.get_num_threads()} threads)")
    vision, vision_error = installed_version("torchvision"), import_problem("torchvision",
                                                                            "torchvision")
    expected_minor = _release(torch.__version__)[1] + 15  # torch 2.14 <-> torchvision 0.29
    fix = (f"pip install torchvision==0.{expected_minor}.* built for torch "
           f"{torch.__version__.split('+')[0]} (same index as torch)")
    if vision_error:
        yield Check("fail", "torchvision", vision_error, fix)
    elif _release(vision)[:2] != (0, expected_minor):
        yield Check("fail", "torchvision", f"{vision} does not match torch {torch.__version__}",
                    fix)
    else:
        yield Check("ok", "torchvision", vision)
    found = [name for name, available in (("gloo", torch.distributed.is_gloo_available),
                                          ("nccl", torch.distributed.is_nccl_available))
             if torch.distributed.is_available() and available()]
    if "gloo" not in found:
        yield Check("warn", "torch.distributed", "no gloo backend: --launcher pytorch cannot "
                    "run on CPUs", "install a torch build with distributed support")
    else:
        yield Check("ok", "torch.distributed", f"backends {', '.join(found)}")


def check_packages() -> Iterator[Check]:
    for name in ("numpy", "h5py"):
        error = import_problem(name, name)
        yield (Check("fail", name, error, f"pip install {name}") if error
               else Check("ok", name, installed_version(name)))
    yield from _check_mmcv()
    for name, module in (("mmengine", "mmengine"), ("mmaction2", "mmaction")):
        version, error = installed_version(name), import_problem(name, module)
        if error:
            yield Check("fail", name, error, f"pip install {name}=={PINNED[name]}")
        elif version != PINNED[name]:
            yield Check("warn", name, f"{version}; the compat fixes are written for "
                        f"{PINNED[name]}", f"pip install {name}=={PINNED[name]}")
        else:
            yield Check("ok", name, version)
    onnxruntime = installed_version("onnxruntime") or installed_version("onnxruntime-gpu")
    error = try_import("onnxruntime") if onnxruntime else "not installed"
    yield (Check("warn", "onnxruntime", f"{error}: export parity checks and --backend "
                 "onnxruntime are unavailable", "pip install onnxruntime") if error
           else Check("ok", "onnxruntime", onnxruntime))
    setuptools = installed_version("setuptools")
    has_pkg_resources = importlib.util.find_spec("pkg_resources") is not None
    yield Check("ok", "setuptools", f"{setuptools or 'not installed'}; pkg_resources "
                f"{'present' if has_pkg_resources else 'absent (compat replaces it)'}")


def _check_mmcv() -> Iterator[Check]:
    lite, full = installed_version("mmcv-lite"), installed_version("mmcv")
    version = lite or full
    if version is None:
        yield Check("fail", "mmcv", "not installed", f"pip install mmcv-lite=={PINNED['mmcv']}")
        return
    kind = "mmcv-lite (no compiled ops: torchvision.ops instead)" if lite else "mmcv (full)"
    if lite and full:
        yield Check("fail", "mmcv", f"both mmcv-lite {lite} and mmcv {full} are installed; "
                    "they overwrite each other", "pip uninstall -y mmcv mmcv-lite && "
                    f"pip install mmcv-lite=={PINNED['mmcv']}")
        return
    low, high = MMCV_RANGE
    if _older(version, low) or not _older(version, high):
        yield Check("fail", "mmcv", f"{version}: mmaction2 1.2.0 needs >={low}, <{high}",
                    f"pip install mmcv-lite=={PINNED['mmcv']}")
        return
    if full and try_import("mmcv.ops"):
        yield Check("warn", "mmcv", f"{version} {kind}: its compiled ops do not load "
                    "(not needed by the thermal models)",
                    f"pip uninstall -y mmcv && pip install mmcv-lite=={PINNED['mmcv']}")
        return
    yield Check("ok", "mmcv", f"{version} {kind}")


def check_compat() -> Iterator[Check]:
    """Each ``compat`` fix: active once the toolkit is registered (as every command and
    config does), and still needed by the installed upstream."""
    import thermal_action
    from thermal_action.compat import fix_statuses

    thermal_action.register()

    for fix in fix_statuses():
        name = f"compat {fix.name}"
        if not fix.needed:
            yield Check("ok", name, f"no longer needed: the installed upstream fixed "
                        f"'{fix.problem}' (the patch can go)")
        elif fix.active:
            yield Check("ok", name, f"active ({fix.problem})")
        else:
            yield Check("fail", name, f"inactive, and upstream still has: {fix.problem}",
                        "call thermal_action.register() before mmengine/mmaction use (configs: "
                        "custom_imports = dict(imports=['thermal_action.registration']))")


def _config_types(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("type"), str):
            yield value["type"]
        for item in value.values():
            yield from _config_types(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _config_types(item)


def _registered(registry: object, name: str) -> bool:
    if isinstance(registry, dict):
        return name in registry
    try:
        return registry.get(name) is not None
    except ImportError:  # mmaction's FUNCTIONS registry names a module that does not exist
        return False


def check_registries() -> Iterator[Check]:
    """Every ``type`` the shipped configs name resolves in MMAction2's registries."""
    import mmaction.registry as registries
    from mmaction.models.backbones.resnet3d_slowfast import pathway_cfg
    from mmengine.registry import Registry, init_default_scope

    from thermal_action.config import list_configs, load_config

    init_default_scope("mmaction")
    known = [value for value in vars(registries).values() if isinstance(value, Registry)]
    known.append(pathway_cfg)  # SlowFast's pathways ('resnet3d') have their own table
    missing: dict[str, list[str]] = {}
    names = list_configs()
    types: set[str] = set()
    for name in names:
        cfg = load_config(name)
        for type_name in set(_config_types(cfg.to_dict())):
            types.add(type_name)
            if not any(_registered(registry, type_name) for registry in known):
                missing.setdefault(type_name, []).append(name)
    if missing:
        listed = ", ".join(f"{t} (in {missing[t][0]})" for t in sorted(missing))
        yield Check("fail", "registries", f"not registered: {listed}",
                    "reinstall the toolkit: pip install -e . (and import thermal_action)")
    else:
        yield Check("ok", "registries", f"all {len(types)} module types of the "
                    f"{len(names)} shipped configs are registered")


def check_data_root(data_root: str | os.PathLike) -> Iterator[Check]:
    """The dataset's health in one line, from ``data validate``."""
    from thermal_action.data.tools.validate import validate_dataset
    from thermal_action.errors import ThermalActionError

    try:
        report = validate_dataset(data_root)
    except ThermalActionError as exc:
        yield Check("fail", "data root", str(exc), "pass the folder that holds frames/ and "
                    "annotations/")
        return
    splits = ", ".join(f"{name} {info.get('keyframes', '?')}" for name, info in
                       report.splits.items())
    summary = (f"{Path(data_root)}: {len(report.recordings)} recordings; keyframes {splits}; "
               f"{len(report.errors)} errors, {len(report.warnings)} warnings")
    if report.errors:
        first = report.errors[0]
        yield Check("fail", "data root", f"{summary}; first: {first.path}: {first.message}",
                    f"thermal-action data validate {data_root}  (every finding)")
    else:
        yield Check("ok", "data root", summary)


CHECKS: tuple[tuple[str, Callable[[], Iterator[Check]]], ...] = (
    ("python", check_python), ("torch", check_torch), ("packages", check_packages),
    ("compat", check_compat), ("registries", check_registries))
NEEDS_THE_STACK = ("compat", "registries", "data root")


def diagnose(data_root: str | os.PathLike | None = None) -> list[Check]:
    """Run every check (and the data root's, when given). Checks that need the stack are
    reported as skipped when torch, mmcv, mmengine or mmaction2 failed; a check that
    raises becomes a failed check."""
    found: list[Check] = []
    checks = list(CHECKS)
    if data_root is not None:
        checks.append(("data root", lambda: check_data_root(data_root)))
    for name, check in checks:
        broken = [c.name for c in found if c.status == "fail"
                  and c.name in ("torch", "mmengine", "mmaction2", "mmcv")]
        if name in NEEDS_THE_STACK and broken:
            found.append(Check("skip", name, f"skipped: {', '.join(broken)} must work first"))
            continue
        try:
            found.extend(check())
        except Exception as exc:  # noqa: BLE001 - a broken install is the finding
            found.append(Check("fail", name, f"{type(exc).__name__}: {exc}".splitlines()[0],
                               "reinstall the toolkit: pip install -e ."))
    return found


def healthy(checks: list[Check]) -> bool:
    """True when nothing failed (warnings allowed)."""
    return all(check.status != "fail" for check in checks)
