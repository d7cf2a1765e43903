"""Output folders of the dataset writers (``data build``, ``data synth``): when one may be
replaced, and writing it whole or not at all.

A writer stamps its folder with ``dataset_info.json`` naming the ``generator``. With
``overwrite`` a non-empty folder is replaced only when that stamp names the same writer and
the folder holds nothing the writer does not write, so a user's own files are never deleted.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from thermal_action.errors import DataError

INFO_FILE = "dataset_info.json"


class OutputKind(NamedTuple):
    """What one writer's output folder looks like."""

    generator: str  # the stamp in dataset_info.json
    entries: frozenset[str]  # every top-level name the folder may hold


def _generator(out: Path) -> str | None:
    try:
        info = json.loads((out / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info.get("generator") if isinstance(info, dict) else None


def check_output_folder(
    out: Path, overwrite: bool, kind: OutputKind, inputs: Sequence[Path] = ()
) -> None:
    """Raise ``DataError`` unless ``out`` is missing, empty, or (with ``overwrite``) a
    previous output of ``kind``'s writer whose top-level names are all ``kind.entries``
    and that holds none of ``inputs``."""
    generator = kind.generator
    if out.exists() and not out.is_dir():
        raise DataError(out, "output exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise DataError(out, "output folder is not empty (--overwrite or overwrite=True "
                             f"replaces a previous output of {generator})")
    target = out.resolve()
    for path in inputs:
        path = path.resolve()
        if path == target or target in path.parents:
            raise DataError(out, f"will not replace a folder that holds the input {path}")
    found = _generator(out)
    if found != generator:
        what = f"was written by {found}" if found else f"has no {INFO_FILE} of a dataset writer"
        raise DataError(out, f"--overwrite replaces only a previous output of {generator}, "
                             f"and this folder {what}; choose another output folder")
    foreign = sorted(path.name for path in out.iterdir() if path.name not in kind.entries)
    if foreign:
        raise DataError(out, f"--overwrite would delete files that {generator} did not write "
                             f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}); "
                             "move them or choose another output folder")


def _place(staging: Path, out: Path) -> None:
    """Move the finished ``staging`` folder to ``out``, replacing what was there."""
    if out.exists():
        old = staging.with_name(staging.name + ".old")
        os.rename(out, old)
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out)


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A temporary folder next to ``out`` that replaces ``out`` when the block completes;
    it is removed when the block fails, so ``out`` never holds a half-written dataset."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.partial"
    staging.mkdir()
    try:
        yield staging
        _place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
