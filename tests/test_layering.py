"""The package's layers import downward only, and its light parts stay light: a reader of
tracks or events, and ``thermal-action --help``, load no torch and patch nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "thermal_action"
LAYERS = ("errors", "compat", "registry", "config", "data", "visualization", "models",
          "inference", "tracking", "runtime", "evaluation", "engine", "cli")
"""Lowest first: a module may import its own layer and those before it."""
AGGREGATORS = ("__init__", "registration")
"""Modules that gather every layer (the package's lazy names, the registration list)."""
PATCHES = ("compat",)
"""Its fixes route upstream calls into the layers above, imported when a patch runs."""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "thermal_action" and len(parts) > 1 else None


def test_every_module_belongs_to_a_layer_and_imports_only_downward():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] == "configs" or parts[0] in AGGREGATORS + PATCHES:
            continue
        assert parts[0] in LAYERS, f"{path}: in no layer of {LAYERS}"
        mine = LAYERS.index(parts[0])
        for line, module in _imports(path):
            other = _layer(module)
            if other is None or other in AGGREGATORS:
                continue
            assert other in LAYERS, f"{path}:{line} imports {module}, in no layer"
            if LAYERS.index(other) > mine:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not upward, "upward imports:\n" + "\n".join(upward)


HEAVY = ("torch", "mmaction", "thermal_action.registration", "matplotlib")


def _loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> set[str]:
    """The ``heavy`` modules a fresh interpreter has loaded after running ``code``."""
    probe = (f"import sys\n{code}\n"
             f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.parametrize("code", [
    "from thermal_action.tracking import Tracker, BlobDetector, build_detector",
    "from thermal_action.runtime import Event, EventKind, TrackView",
    "from thermal_action.runtime.timeline import build_timeline",
    "from thermal_action.runtime.settings import StreamSettings",
    "from thermal_action.evaluation.end_to_end import end_to_end_scores",
    "import thermal_action; thermal_action.__version__",
])
def test_light_parts_load_no_torch_and_patch_nothing(code):
    assert _loaded_after(code) == set()


@pytest.mark.parametrize("command", [["--help"], ["infer", "--help"], ["serve", "--help"],
                                     ["configs"]])
def test_help_and_configs_load_no_model_stack(command):
    code = ("import contextlib, io\nfrom thermal_action.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({command!r})\n    except SystemExit:\n        pass\n")
    heavy = HEAVY if command == ["configs"] else (*HEAVY, "mmengine", "scipy")
    assert _loaded_after(code, heavy) == set()


def test_a_blob_detector_builds_from_the_registry_without_torch():
    code = ("from thermal_action.tracking import build_detector\n"
            "assert type(build_detector(dict(type='BlobDetector', threshold_c=2.0))).__name__ "
            "== 'BlobDetector'")
    assert "torch" not in _loaded_after(code)


def test_a_config_registers_the_plugin_through_its_custom_imports():
    """What MMEngine does with any shipped config: its ``custom_imports`` registers the
    transforms and applies the fixes, even in a process that imported a light part first."""
    code = ("import thermal_action.tracking\n"
            "from mmengine.config import Config\n"
            "from thermal_action.config import CONFIG_DIR\n"
            "Config.fromfile(CONFIG_DIR / "
            "'slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x60.py')\n"
            "from mmaction.registry import TRANSFORMS\n"
            "assert TRANSFORMS.get('LoadThermalWindow') is not None\n"
            "import thermal_action.compat as compat\nassert compat._APPLIED")
    assert "thermal_action.registration" in _loaded_after(code)
