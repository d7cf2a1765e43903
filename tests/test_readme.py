"""The commands of the README and of every docs page, run as written (at toy size where the
page offers size options), so a documented command that fails fails CI.

Every ``bash``, ``console`` and ``python`` block of ``PAGES`` must have an entry in
``BLOCKS`` (commands not meant to run go in ``text`` blocks). The blocks run in ``BLOCKS``
order in one folder laid out as the pages assume: the project (``.venv``,
``thermal_action/``) as the working directory and the real dataset at
``../shared/data/thermal_action_dataset``. In a ``console`` block a ``$`` line is a command
and the lines after it are its output: a command shown ending in ``thermal-action ...:
error:`` must exit 2, any other 0; a command run as written must print every shown output
line (``...`` stands for any text).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
PAGES = (README, REPO_ROOT / "CONTRIBUTING.md", *sorted((REPO_ROOT / "docs").glob("*.md")))
RUNNABLE = ("bash", "console", "python")
LOADERS = ("train", "val", "test")
SMALL_LOADERS = " ".join(
    f"{loader}_dataloader.{key}" for loader in LOADERS
    for key in ("num_workers=0", "persistent_workers=False"))


def _subset(count: int, loaders: tuple[str, ...] = ("train", "val")) -> str:
    return " ".join(f"{loader}_dataloader.dataset.indices={count}" for loader in loaders)


class Block(NamedTuple):
    """One fenced code block of a page."""

    language: str
    text: str
    line: int  # of the opening fence, 1-based
    page: str = "README.md"  # relative to the project


@dataclass(frozen=True)
class Run:
    """How one block of ``page`` is run: ``key`` is text only that block of the page
    contains; ``toy`` (regex, replacement) pairs shrink its commands where the page offers
    size options (output is then not compared); ``expect`` must appear in the output."""

    key: str
    toy: tuple[tuple[str, str], ...] = ()
    expect: tuple[str, ...] = ()
    setup: Callable[[Path], None] | None = None
    page: str = "README.md"


def _kinetics_checkpoint(project: Path) -> None:
    """The README's `slowfast_r50_kinetics400.pth`: an R50 SlowFast with a 400-class head,
    saved as MMAction2's Kinetics checkpoints are (nothing may be downloaded)."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import save_checkpoint

    from thermal_action.engine import load_config

    init_default_scope("mmaction")
    cfg = load_config("r50_1xb8").model
    cfg.cls_head.num_classes = 400
    cfg.backbone.slow_pathway.in_channels = cfg.backbone.fast_pathway.in_channels = 3
    model = MODELS.build(cfg)
    save_checkpoint(dict(meta=dict(epoch=256), state_dict=model.state_dict()),
                    str(project / "slowfast_r50_kinetics400.pth"))


TOY_DEMO = ((r"thermal-action demo --out work_dirs/demo$",
             "thermal-action demo --out work_dirs/demo --recordings 4 --frames 160 --epochs 1 "
             f"--cfg-options {SMALL_LOADERS}"),
            (r"epoch_24\.pth", "epoch_1.pth"),
            (r"SIM61_R1", "SIM02_R2"))  # the toy demo's 4 recordings hold SIM02_R2
DATA, TRAINING, DETECTION = "docs/data.md", "docs/training.md", "docs/detection.md"
STREAMING, API = "docs/streaming.md", "docs/python-api.md"

BLOCKS: tuple[Run, ...] = (
    # `make test` is what CI runs (this test is part of it) and `make demo` is `make install`
    # plus the demo command below: both are checked as make dry runs.
    Run("make demo    #"),
    # The quick start: the toy model may raise no alert, where grep exits 1.
    Run("$ thermal-action demo --out work_dirs/demo",
        toy=(*TOY_DEMO, (r"^(grep fall_alert \S+)$", r"\1 || [ $? = 1 ]")),
        expect=("held-out people:", "recording GIF:", "timeline: work_dirs/quickstart/"
                "timeline.json", "events: work_dirs/quickstart/events.jsonl",
                "timeline PNG: work_dirs/quickstart/timeline.png")),
    Run("thermal-action data synth --out data/synthetic", expect=("statistics within the real",),
        page=DATA),
    Run("--out work_dirs/built/seed", page=DATA),
    Run("--out work_dirs/built/leaky", page=DATA),
    Run("--out work_dirs/built/sl18-held-out", page=DATA),
    Run("$ thermal-action data validate", page=DATA),
    Run("$ thermal-action data stats", page=DATA),
    Run("$ thermal-action configs",  # then train and test: configs runs as written
        toy=((r"--work-dir work_dirs/r18$",
              f"--work-dir work_dirs/r18 --epochs 1 --cfg-options {_subset(16)}"),
             (r"epoch_50\.pth", "epoch_1.pth"),
             (r"metrics\.json$", f"metrics.json --cfg-options {_subset(8, ('test',))}")),
        expect=("last checkpoint: work_dirs/r18/epoch_1.pth", "clips: 8  (",
                "metrics written to work_dirs/r18/metrics.json"), page=TRAINING),
    Run("--out work_dirs/evaluate/person-24px",
        toy=((r"--seeds 3 --out work_dirs/evaluate/person-24px$",
              "--seeds 1 --epochs 1 --out work_dirs/evaluate/person-24px "
              f"--cfg-options {SMALL_LOADERS}"),),
        expect=("leave-one-session-out: 2 runs (2 folds x 1 seeds)", "mean-class (MMAction2)",
                "report: work_dirs/evaluate/person-24px/report.md"), page=TRAINING),
    Run("thermal-action evaluate sim2real",
        toy=((r"thermal-action demo --out work_dirs/demo ",
              "thermal-action demo --out work_dirs/demo --recordings 4 --frames 160 --epochs 1 "
              f"--cfg-options {SMALL_LOADERS} "),
             (r"epoch_24\.pth", "epoch_1.pth"),
             (r"--seeds 3 --out work_dirs/evaluate/sim2real$",
              "--seeds 1 --epochs 1 --out work_dirs/evaluate/sim2real "
              f"--cfg-options {SMALL_LOADERS}")),
        expect=("the classification head kept", "report: work_dirs/evaluate/sim2real/report.md",
                "report: work_dirs/evaluate/zero-shot/report.md"), page=TRAINING),
    Run("mmaction/.mim/tools/train.py",
        toy=((r"--work-dir work_dirs/upstream$", "--work-dir work_dirs/upstream --cfg-options "
              f"train_cfg.max_epochs=1 {_subset(16)}"),
             (r"epoch_50\.pth$", f"epoch_1.pth --cfg-options {_subset(8, ('test',))}")),
        expect=("Epoch(test)",), page=TRAINING),
    Run("torchrun --standalone --nproc_per_node 2",
        toy=((r"--launcher pytorch$", "--launcher pytorch --epochs 1 --cfg-options "
              f"{_subset(32)}"),),
        expect=("last checkpoint: work_dirs/ddp/epoch_1.pth",), page=TRAINING),
    Run("--pretrained slowfast_r50_kinetics400.pth",
        toy=((r"--pretrained slowfast_r50_kinetics400\.pth$",
              "--pretrained slowfast_r50_kinetics400.pth --work-dir work_dirs/r50 --epochs 1 "
              f"--cfg-options {_subset(2)} train_dataloader.batch_size=2 "
              f"val_dataloader.batch_size=2 {SMALL_LOADERS}"),),
        expect=("pretrained slowfast_r50_kinetics400.pth: loaded 640 of 642 model tensors; "
                "not loaded, left at their fresh initialization: re-initialized head 2 "
                "(cls_head.fc_cls.weight, cls_head.fc_cls.bias)",),
        setup=_kinetics_checkpoint, page=TRAINING),
    Run("$ thermal-action detect ../shared/data/thermal_action_dataset/frames/SL18_R1.h5",
        expect=("people tracked: ",), page=DETECTION),
    Run("--out work_dirs/built/by-recording",  # build, then train, test and use a detector
        toy=((r"--work-dir work_dirs/person-detector$",
              "--work-dir work_dirs/person-detector --epochs 1 --cfg-options "
              "train_dataloader.dataset.simulated.num_recordings=2 "
              "train_dataloader.dataset.simulated.frames_per_recording=120 "
              "train_dataloader.dataset.indices=64"),
             (r"epoch_24\.pth", "epoch_1.pth")),
        expect=("last checkpoint: work_dirs/person-detector/epoch_1.pth", "det/ap50: ",
                "exported work_dirs/person-detector/person-frames.onnx (opset 17",
                "people tracked: "), page=DETECTION),
    Run("--timeline-png work_dirs/infer/SIM61_R1.png", toy=TOY_DEMO,
        expect=("people: ", "timeline: work_dirs/infer/SIM02_R2.json",
                "render: work_dirs/infer/SIM02_R2.mp4",
                "timeline PNG: work_dirs/infer/SIM02_R2.png"), page=STREAMING),
    Run("thermal-action data replay work_dirs/demo/data/frames/SIM61_R1.h5",
        # the toy model's export gets its own name
        toy=(*TOY_DEMO, (r"person-24px\.onnx", "person-24px-toy.onnx")),
        expect=("exported work_dirs/demo/person-24px-toy.onnx (opset 17", "stdin: ",
                "timeline: work_dirs/infer/live.json"), page=STREAMING),
    Run("from thermal_action.runtime.run import build_stream, file_frames", toy=TOY_DEMO,
        expect=("tracks ended: [",), page=API),
    Run("from thermal_action import ThermalActionDataset", page=API),
    Run("$ thermal-action data zones ../shared/data/thermal_action_dataset --sensor SL18_R3",
        page="docs/zones.md"),
    Run("from thermal_action.data.zones import load_zones", page="docs/zones.md"),
    Run("$ thermal-action doctor", page="docs/troubleshooting.md"),
)


def readme_blocks(text: str, page: str = "README.md") -> list[Block]:
    """The fenced blocks of a Markdown text, with their language and first line."""
    blocks, language, lines, start = [], None, [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            if language is None:
                language, lines, start = line[3:].strip(), [], number
            else:
                blocks.append(Block(language, "\n".join(lines), start, page))
                language = None
        elif language is not None:
            lines.append(line)
    return blocks


def console_commands(text: str) -> list[tuple[str, list[str]]]:
    """(command, shown output lines) of a console block; ``\\`` continues a command."""
    commands: list[tuple[str, list[str]]] = []
    continuing = False
    for line in text.splitlines():
        if continuing:
            command, output = commands[-1]
            commands[-1] = (command + " " + line.strip().rstrip("\\").strip(), output)
        elif line.startswith("$ "):
            commands.append((line[2:].rstrip("\\").strip(), []))
        elif commands:
            commands[-1][1].append(line)
        continuing = line.rstrip().endswith("\\")
    return commands


def shown_line_pattern(line: str) -> re.Pattern:
    """A shown output line as a pattern: ``...`` is any text, runs of spaces any spaces."""
    parts = [r"\s+".join(re.escape(word) for word in piece.split())
             for piece in line.strip().split("...")]
    return re.compile(r"^\s*" + ".*".join(parts) + r"\s*$", re.MULTILINE)


def runnable_blocks() -> list[Block]:
    """The runnable blocks of every page."""
    return [block for page in PAGES
            for block in readme_blocks(page.read_text(encoding="utf-8"),
                                       page.relative_to(REPO_ROOT).as_posix())
            if block.language in RUNNABLE]


def _block_of(run: Run) -> Block:
    matches = [block for block in runnable_blocks()
               if block.page == run.page and run.key in block.text]
    assert len(matches) == 1, f"{run.page}: {len(matches)} blocks contain {run.key!r}"
    return matches[0]


def test_every_runnable_block_of_every_page_is_run():
    for block in runnable_blocks():
        owners = [run.key for run in BLOCKS if run.page == block.page and run.key in block.text]
        assert len(owners) == 1, (
            f"{block.page} line {block.line}: a {block.language} block run by "
            f"{len(owners)} entries of tests/test_readme.py BLOCKS {owners}")
    for run in BLOCKS:
        _block_of(run)


def test_console_parsing_and_patterns():
    text = "$ a --x \\\n    --y\nout 1\n...\n$ b\nthermal-action b: error: bad"
    assert console_commands(text) == [("a --x --y", ["out 1", "..."]),
                                      ("b", ["thermal-action b: error: bad"])]
    pattern = shown_line_pattern("clips: 73  (.../val.json)")
    assert pattern.search("x\nclips: 73  (/data/annotations/val.json)\n")
    assert not pattern.search("clips: 74  (/data/val.json)")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, real_data_root) -> tuple[Path, dict[str, str]]:
    """The project folder the README's commands run in, and their environment."""
    root = tmp_path_factory.mktemp("readme")
    project = root / "project"
    project.mkdir()
    (root / "shared" / "data").mkdir(parents=True)
    (root / "shared" / "data" / "thermal_action_dataset").symlink_to(real_data_root)
    (project / "thermal_action").symlink_to(REPO_ROOT / "thermal_action")
    (project / ".venv").symlink_to(Path(sys.prefix))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("THERMAL_ACTION_DATA_ROOT")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return project, env


def _shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=900)


def _toy(command: str, run: Run) -> str:
    for pattern, replacement in run.toy:
        command = re.sub(pattern, replacement, command, flags=re.MULTILINE)
    return command


def _check(result: subprocess.CompletedProcess, what: str, expected_rc: int) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == expected_rc, (
        f"{what}\nexit {result.returncode}, expected {expected_rc}\n{output[-4000:]}")
    return output


@pytest.mark.parametrize("run", BLOCKS, ids=[run.key.strip("$ ")[:40] for run in BLOCKS])
def test_block_runs_as_written(run: Run, sandbox):
    project, env = sandbox
    block = _block_of(run)
    if run.setup is not None:
        run.setup(project)
    what = f"{block.page} line {block.line}"
    if run.key.startswith("make "):
        result = subprocess.run(["make", "-n", "demo", "test"], cwd=REPO_ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        output = _check(result, f"{what} (make -n)", 0)
        assert "thermal-action demo --out work_dirs/demo" in output and "pytest" in output
        return
    if block.language == "python":
        output = _check(_shell(f"python - <<'PY'\n{_toy(block.text, run)}\nPY", project, env),
                        what, 0)
    elif block.language == "bash":
        output = _check(_shell(_toy(block.text, run), project, env), what, 0)
    else:
        output = ""
        for command, shown in console_commands(block.text):
            ran = _toy(command, run)
            failing = any(re.match(r"thermal-action [\w ]+: error: ", line) for line in shown)
            printed = _check(_shell(ran, project, env), f"{what}: $ {ran}", 2 if failing else 0)
            if ran == command:
                missing = [line for line in shown if line.strip() and line.strip() != "..."
                           and not shown_line_pattern(line).search(printed)]
                assert not missing, (f"{what}: $ {command}\nshown but not printed: "
                                     f"{missing}\n{printed[-4000:]}")
            output += printed
    for text in run.expect:
        assert text in output, f"{what}: {text!r} not in the output\n{output[-4000:]}"
