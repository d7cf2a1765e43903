"""The documentation: the MkDocs site builds with ``--strict`` (a broken link or anchor
between docs pages fails), the README's and CONTRIBUTING's links reach files and
headings that exist, the README stays a first screen, and the config files the pages
show load."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import REPO_ROOT
from tests.test_readme import readme_blocks

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (what README links are read with)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path) -> set[str]:
    headings = [line.lstrip("#").strip() for line in path.read_text(encoding="utf-8")
                .splitlines() if re.match(r"#{1,6} ", line)]
    return {github_slug(heading) for heading in headings}


def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
         str(tmp_path / "site")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "streaming" / "index.html").is_file()


def test_every_docs_page_is_in_the_site_navigation():
    import yaml

    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = {next(iter(entry.values())) for entry in config["nav"]}
    pages = {path.name for path in (REPO_ROOT / "docs").glob("*.md")}
    assert listed == pages


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_links_outside_the_site_reach_files_and_headings(name):
    page = REPO_ROOT / name
    links = [a or b for a, b in LINK.findall(page.read_text(encoding="utf-8"))]
    assert links
    for link in links:
        if re.match(r"[a-z]+://", link):
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{name}: link {link!r}: {path} does not exist"
        if anchor:
            assert anchor in _anchors(path), f"{name}: link {link!r}: no such heading"


def test_the_readme_is_a_first_screen():
    """Issue 24: at most about 200 lines (it was 1,172); what it must say."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for needed in ("## Set-up", "## Quick start", "## Commands", "## Results", "make demo",
                   "make test", "6.9 GB", "--index-url https://download.pytorch.org/whl/cpu"):
        assert needed in text, needed


def test_the_cpu_torch_command_installs_the_pinned_torch():
    """Issue 24 (6): the documented CPU-only install names the versions pyproject pins."""
    pins = dict(re.findall(r'"(torch|torchvision)==([\d.]+)"',
                           (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")))
    assert set(pins) == {"torch", "torchvision"}
    for page in ("README.md", "docs/troubleshooting.md"):
        text = (REPO_ROOT / page).read_text(encoding="utf-8")
        (line,) = [line for line in text.splitlines() if "download.pytorch.org/whl/cpu" in line]
        assert f"torch=={pins['torch']}" in line and f"torchvision=={pins['torchvision']}" in line
    tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))  # well formed


def test_the_nested_selection_file_shown_loads(tmp_path):
    from thermal_action.engine.nested import load_selection

    text = (REPO_ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    (block,) = [b for b in readme_blocks(text) if b.language == "yaml"]
    path = tmp_path / "selection.yaml"
    path.write_text(block.text)
    selection = load_selection(path)
    assert [c.name for c in selection.candidates] == ["mix-25e", "mix-12e"]
