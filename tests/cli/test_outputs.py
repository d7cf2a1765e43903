"""Issue 24 (1, 2): every command's one rule for its output files, checked before any
work: an existing file is never replaced without ``--overwrite``, and a path that cannot
be written is one error line, not a traceback after the work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import untrained_checkpoint
from thermal_action.cli.main import main

PERSON = "person-24px"
UNWRITABLE = "/proc/version/out"  # /proc/version is a file: nothing can be made under it


def _commands(root: Path, checkpoint: Path) -> dict[str, tuple[list[str], str]]:
    """Per command: its arguments before the output option, and that option."""
    recording = str(root / "frames" / "REC_A.h5")
    return {
        "detect": (["detect", recording], "--out"),
        "detect --render": (["detect", recording], "--render"),
        "infer": (["infer", PERSON, str(checkpoint), recording], "--out"),
        "infer --timeline-png": (["infer", PERSON, str(checkpoint), recording],
                                 "--timeline-png"),
        "data validate": (["data", "validate", str(root)], "--json"),
        "data stats": (["data", "stats", str(root)], "--out"),
        "export": (["export", PERSON, str(checkpoint)], "--out"),
        "test": (["test", PERSON, str(checkpoint), "--data-root", str(root)], "--out"),
    }


SUFFIX = {"--out": ".json", "--render": ".gif", "--timeline-png": ".png", "--json": ".json"}


@pytest.fixture
def commands(tiny_root, tmp_path):
    return _commands(tiny_root, untrained_checkpoint(PERSON, tmp_path / "person.pth"))


@pytest.mark.parametrize("name", list(_commands(Path("."), Path("."))))
def test_an_existing_output_is_refused_before_any_work(name, commands, tmp_path, capsys):
    args, option = commands[name]
    if name == "data stats":  # a folder of outputs: any of its files counts
        out = tmp_path / "stats"
        mine = out / "stats.json"
    else:
        suffix = ".onnx" if name == "export" else SUFFIX[option]
        out = mine = tmp_path / f"mine{suffix}"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("the user's own file")
    assert main([*args, option, str(out)]) == 2
    captured = capsys.readouterr()
    command = " ".join(args[:2]) if args[0] == "data" else args[0]
    where = f"{option} {out}: " + (f"{mine}: " if mine != out else "")
    assert captured.err.splitlines() == [  # no empty line before it (issue 24, 7)
        f"thermal-action {command}: error: {where}exists; give --overwrite to replace it"]
    assert mine.read_text() == "the user's own file"
    assert not captured.out.strip()  # refused before the work: nothing was printed


@pytest.mark.parametrize("name", ["detect", "infer", "data validate", "data stats", "export"])
def test_an_unwritable_output_is_one_line_before_any_work(name, commands, capsys):
    args, option = commands[name]
    out = UNWRITABLE if name == "data stats" else UNWRITABLE + (
        ".onnx" if name == "export" else SUFFIX[option])
    assert main([*args, option, out]) == 2
    captured = capsys.readouterr()
    line = captured.err.strip()
    assert "\n" not in line and "cannot write" in line and UNWRITABLE in line, line
    assert not captured.out.strip()


@pytest.mark.parametrize("name", ["detect", "data validate", "data stats"])
def test_overwrite_replaces_the_output(name, commands, tmp_path, capsys):
    args, option = commands[name]
    out = tmp_path / ("stats" if name == "data stats" else f"mine{SUFFIX[option]}")
    written = out / "stats.json" if name == "data stats" else out
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text("old")
    assert main([*args, option, str(out), "--overwrite"]) in (0, 1)  # validate: 1 = errors
    assert written.read_text() != "old" and written.read_text().lstrip().startswith("{")
