"""Find the shipped configs and apply command-line overrides to them."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmengine.config import Config
from rapidfuzz.distance import Levenshtein

from thermal_action.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


def list_configs() -> list[str]:
    """Short names (file stems) of the shipped leaf configs."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.py") if not path.stem.startswith("_"))


def short_names(name: str) -> list[str]:
    """Every run of whole words of a config name (words split at ``_`` and ``-``), such as
    ``thermal-40x60``, ``person-24px`` or ``r50_1xb8``: the fragments users type."""
    words = [match.span() for match in re.finditer(r"[^_-]+", name)]
    return [name[start:end] for i, (start, _) in enumerate(words) for _, end in words[i:]]


def suggest_configs(text: str, names: list[str] | None = None) -> list[str]:
    """What a mistyped config ``text`` most likely meant: for each config its nearest
    short name (or full name) within about one edit per four characters, the nearest
    configs first (ties kept, two at most). Every suggestion resolves to one config."""
    names = list_configs() if names is None else names
    limit = max(1, len(text) // 4)
    best: dict[str, tuple[int, int, str]] = {}  # config -> (edits, -length, fragment)
    for name in names:
        for fragment in short_names(name):
            if sum(fragment in other for other in names) != 1:
                continue  # a fragment of several configs would not resolve
            edits = Levenshtein.distance(text, fragment, score_cutoff=limit)
            candidate = (edits, -len(fragment), fragment)
            if edits <= limit and candidate < best.get(name, (limit + 1, 0, "")):
                best[name] = candidate
    if not best:
        return []
    nearest = min(edits for edits, _, _ in best.values())
    return [fragment for edits, _, fragment in sorted(best.values()) if edits == nearest][:2]


def resolve_config(name: str | os.PathLike) -> Path:
    """A config file path, from a path or a shipped config's name or unique name fragment."""
    path = Path(name)
    if path.is_file():
        return path.resolve()
    names = list_configs()
    stem = path.stem if path.suffix == ".py" else str(name)
    if stem in names:
        return CONFIG_DIR / f"{stem}.py"
    matches = [candidate for candidate in names if stem in candidate]
    if len(matches) > 1:  # a fragment that ends where a name's size word starts wins:
        # 'sim2real' is ...-person-sim2real-24px, not ...-person-sim2real-lite-24px
        ending = [candidate for candidate in matches
                  if re.search(re.escape(stem) + r"([_-][^_-]+)?$", candidate)]
        matches = ending if len(ending) == 1 else matches
    if len(matches) == 1:
        return CONFIG_DIR / f"{matches[0]}.py"
    if len(matches) > 1:
        raise ConfigError(f"config {str(name)!r} is ambiguous: {', '.join(matches)}")
    close = suggest_configs(stem, names)
    hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
            else f"; shipped: {', '.join(names)}")
    raise ConfigError(f"config {str(name)!r} is neither a file nor a shipped config{hint}")


def set_data_root(cfg: Config, data_root: str | os.PathLike) -> None:
    """Point every dataloader of ``cfg`` at the dataset folder ``data_root``."""
    root = Path(data_root)
    if not root.is_dir():
        raise ConfigError(f"{root}: data root is not a directory")
    for loader in DATALOADERS:
        if cfg.get(loader) is not None:
            cfg[loader]["dataset"]["data_root"] = str(root.resolve())


def set_epochs(cfg: Config, epochs: int) -> None:
    """Train for ``epochs`` epochs; LR milestones and scheduler ends scale with the change."""
    if epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {epochs}")
    old = cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = epochs
    schedulers = cfg.get("param_scheduler") or []
    for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
        if not scheduler.get("by_epoch", True):
            continue
        if "milestones" in scheduler:
            scheduler["milestones"] = [
                max(1, round(m * epochs / old)) for m in scheduler["milestones"]
            ]
        for key in ("end", "T_max"):
            if key in scheduler and scheduler[key] >= old:
                scheduler[key] = epochs


@contextmanager
def _quiet_environment_substitution() -> Iterator[None]:
    """MMEngine logs on the console every ``{{$VARIABLE:default}}`` it fills from the
    environment (THERMAL_ACTION_DATA_ROOT, THERMAL_ACTION_SIM_ROOT), on every read of a
    config; ``evaluate`` reads one per run. The value set is the user's own."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Using env variable")

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def load_config(
    name: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    cfg_options: dict[str, Any] | None = None,
) -> Config:
    """Read a config and apply the overrides; ``work_dir`` defaults to work_dirs/<name>."""
    path = resolve_config(name)
    try:
        with _quiet_environment_substitution():
            cfg = Config.fromfile(str(path))
    except Exception as exc:  # MMEngine raises bare exceptions for syntax and base errors
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if data_root is not None:
        set_data_root(cfg, data_root)
    if epochs is not None:
        set_epochs(cfg, epochs)
    cfg.work_dir = str(work_dir or cfg.get("work_dir") or Path("work_dirs") / path.stem)
    return cfg


def window_frames(cfg: Config) -> int:
    """Frames of one sample window of ``cfg`` (clip length x frame interval; 64 for the
    shipped configs), the span two samples must keep apart to share no frame."""
    return int(cfg.get("clip_len", 32)) * int(cfg.get("frame_interval", 2))
