"""The truth about a recipe on real recordings: train it on each fold of a protocol
(``data/tools/folds``) with several seeds, test the last checkpoint of each run on the
fold's held-out recordings (no model selection on them), and summarize the runs with the
mean and standard deviation over folds and seeds. The library behind
``thermal-action evaluate``.

Each finished run leaves ``runs/<fold>-seed<k>/result.json`` (written whole or not at
all); a later call with the same settings reuses those, and a run cut short resumes from
its last checkpoint, so an interrupted evaluation loses at most one epoch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
from mmengine.config import Config

from thermal_action.compat import write_text_atomic
from thermal_action.config import load_config, window_frames
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.tools.folds import Fold, build_folds
from thermal_action.data.tools.stats import recording_summary
from thermal_action.engine import distributed
from thermal_action.engine.hooks import RunProgress
from thermal_action.engine.runner import test, train
from thermal_action.errors import ConfigError
from thermal_action.evaluation.classification import (
    classification_scores,
    fall_safety,
    mean_and_std,
    per_class_table,
)
from thermal_action.evaluation.metrics import confusion_matrix

SETTINGS_FILE = "settings.json"


class Candidate(NamedTuple):
    """A recipe to train and score: a config (file or shipped name) and how to train it.
    ``epochs=None``: the config's; 0 tests ``pretrained`` as it is."""

    name: str
    config: str
    epochs: int | None = None
    cfg_options: dict[str, Any] | None = None
    pretrained: str | None = None
    keep_head: bool = False


class RunResult(NamedTuple):
    """One fold and seed, scored on the fold's held-out recordings. ``outer``: for a
    selection run (``engine.nested``), the outer fold it helps choose for."""

    fold: str
    seed: int
    path: Path  # its result.json
    content: dict[str, Any]
    candidate: str = ""
    outer: str = ""


class RunFunction(Protocol):
    """Trains and tests one candidate on one fold with one seed and returns its result
    (``run_candidate``; tests pass a fake). Called with keywords only."""

    def __call__(self, *, candidate: Candidate, data_root: Path, fold: Fold, seed: int,
                 run_dir: Path, hours: float, progress: Callable[[RunProgress], None] | None,
                 launcher: str) -> dict[str, Any]: ...


class EvaluateCallbacks(NamedTuple):
    """What a console shows: ``run_started(fold, seed, done, total)``, each run's
    training and test progress (``progress``), and ``run_finished(result, reused)``."""

    run_started: Callable[[str, int, int, int], None] | None = None
    progress: Callable[[RunProgress], None] | None = None
    run_finished: Callable[[RunResult, bool], None] | None = None


def _fold_options(fold: Fold, seed: int, epochs: int,
                  cfg_options: dict[str, Any] | None) -> dict[str, Any]:
    """Config overrides of one run: the fold's annotation files, the seed, and no
    validation during training (the held-out fold is tested once, at the end)."""
    options = {
        "train_dataloader.dataset.ann_file": str(fold.train_ann.resolve()),
        "val_dataloader.dataset.ann_file": str(fold.test_ann.resolve()),
        "test_dataloader.dataset.ann_file": str(fold.test_ann.resolve()),
        "randomness.seed": seed,
    }
    if epochs:
        options["train_cfg.val_begin"] = epochs + 1
    return {**options, **(cfg_options or {})}


def run_fold(config: str, data_root: Path, fold: Fold, seed: int, run_dir: Path,
             epochs: int, hours: float, pretrained: str | os.PathLike | None = None,
             cfg_options: dict[str, Any] | None = None,
             progress: Callable[[RunProgress], None] | None = None,
             keep_head: bool = False, launcher: str = "none") -> dict[str, Any]:
    """Train ``config`` for ``epochs`` on ``fold``'s train half with ``seed`` (resuming a
    run cut short), test its last checkpoint on the held-out half, and return what the
    report needs (``hours``: of the held-out recordings; ``seconds``: the wall time of this
    call). ``epochs=0`` tests ``pretrained`` as it is (zero-shot: no training on the fold).
    Under a launcher, every rank trains and tests; the result is rank 0's (others get {})."""
    started = time.perf_counter()
    work_dir = run_dir / "work"
    loaded = None
    options = _fold_options(fold, seed, epochs, cfg_options)
    if epochs == 0:
        if pretrained is None:
            raise ConfigError("--epochs 0 tests a --pretrained checkpoint as it is; give one")
        checkpoint = Path(pretrained)
    else:
        resume = (work_dir / "last_checkpoint").is_file()
        trained = train(config, data_root=data_root, work_dir=work_dir, epochs=epochs,
                        resume=resume, pretrained=None if resume else pretrained,
                        cfg_options=options, quiet=True, on_progress=progress,
                        keep_head=keep_head, launcher=launcher)
        if trained.last_checkpoint is None:
            raise ConfigError(f"{work_dir}: training wrote no checkpoint")
        checkpoint = trained.last_checkpoint
        loaded = None if trained.pretrained is None else trained.pretrained.summary()
    report = test(config, checkpoint, data_root=data_root, work_dir=work_dir,
                  cfg_options=options, quiet=True, on_progress=progress, keep_scores=True,
                  launcher=launcher)
    if not distributed.is_main_process():
        return {}
    scores = np.asarray(report["scores"], np.float64)
    labels = np.asarray(report["labels"], np.int64)
    table = per_class_table(labels, scores.argmax(axis=1), len(CLASS_NAMES))
    return dict(
        fold=fold.name, seed=seed, held_out=list(fold.held_out),
        train_keyframes=fold.train_keyframes, test_keyframes=fold.test_keyframes,
        overlap=fold.overlap, overlap_line=fold.overlap_line(), hours=hours,
        checkpoint=str(checkpoint), pretrained=loaded, samples=len(labels),
        seconds=round(time.perf_counter() - started, 1),
        sample_unit=report["sample_unit"],
        scores=classification_scores(scores, labels),
        fall=fall_safety(scores, labels, hours),
        per_class={key: [None if v != v else float(v) for v in values]
                   for key, values in table.items()},
        confusion_matrix=confusion_matrix(labels, scores.argmax(axis=1),
                                          len(CLASS_NAMES)).tolist(),
    )


def run_candidate(*, candidate: Candidate, data_root: Path, fold: Fold, seed: int,
                  run_dir: Path, hours: float,
                  progress: Callable[[RunProgress], None] | None = None,
                  launcher: str = "none") -> dict[str, Any]:
    """``run_fold`` for a resolved ``candidate`` (its epochs known): the default
    ``RunFunction``."""
    return run_fold(candidate.config, data_root, fold, seed, run_dir, int(candidate.epochs or 0),
                    hours, candidate.pretrained, candidate.cfg_options, progress,
                    candidate.keep_head, launcher)


def resolve_candidate(candidate: Candidate, data_root: str | os.PathLike
                      ) -> tuple[Candidate, Config]:
    """``candidate`` with its epochs known (the config's when unset) and its loaded
    config; ``ConfigError`` for an unknown config or negative epochs."""
    if candidate.epochs is not None and candidate.epochs < 0:
        raise ConfigError(f"--epochs must not be negative, got {candidate.epochs}")
    cfg = load_config(candidate.config, data_root, None, candidate.epochs or None)
    epochs = int(cfg.train_cfg.max_epochs) if candidate.epochs is None else candidate.epochs
    return candidate._replace(epochs=epochs), cfg


def recipe_settings(candidate: Candidate, cfg: Config) -> dict[str, Any]:
    """What ``settings.json`` records of a resolved candidate."""
    return dict(config=Path(str(cfg.filename)).name, epochs=candidate.epochs,
                pretrained=candidate.pretrained, keep_head=candidate.keep_head,
                cfg_options=candidate.cfg_options or {})


class Job(NamedTuple):
    """One run to do or reuse: ``path`` is its result.json."""

    fold: Fold
    seed: int
    path: Path
    candidate: Candidate
    outer: str = ""


def run_jobs(jobs: list[Job], data_root: Path, seconds: dict[str, float], run: RunFunction,
             callbacks: EvaluateCallbacks, launcher: str = "none", done: int = 0,
             total: int | None = None) -> list[RunResult]:
    """Do each job whose result.json is missing (rank 0 writes it, with the candidate's
    name) and reuse the others. ``seconds``: length of each recording, for the hours of a
    fold's held-out ones; ``done`` and ``total``: the runs before these and in all."""
    total = len(jobs) if total is None else total
    results = []
    for job in jobs:
        if callbacks.run_started:
            callbacks.run_started(job.fold.name, job.seed, done + len(results), total)
        reused = distributed.on_main_process(job.path.is_file)
        if not reused:
            hours = sum(seconds[sensor] for sensor in job.fold.held_out) / 3600
            content = run(candidate=job.candidate, data_root=data_root, fold=job.fold,
                          seed=job.seed, run_dir=job.path.parent, hours=hours,
                          progress=callbacks.progress, launcher=launcher)
            distributed.on_main_process(partial(
                _write_json, job.path, {**content, "candidate": job.candidate.name}))
        content = distributed.on_main_process(partial(_read_json, job.path))
        result = RunResult(job.fold.name, job.seed, job.path, content, job.candidate.name,
                           job.outer)
        results.append(result)
        if callbacks.run_finished:
            callbacks.run_finished(result, reused)
    return results


def recording_seconds(data_root: Path) -> dict[str, float]:
    """Length in seconds of each recording of the dataset, by sensor id."""
    return {r["sensor_id"]: r["duration_s"] for r in recording_summary(data_root)}


def _write_json(path: Path, content: Any) -> None:
    write_text_atomic(path, json.dumps(content, indent=2) + "\n")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def check_settings(out: Path, settings: dict[str, Any]) -> None:
    """Refuse to mix runs of other settings into ``out``; record the settings there."""
    path = out / SETTINGS_FILE
    settings = json.loads(json.dumps(settings))  # compared as read back (tuples as lists)
    if path.is_file():
        before = json.loads(path.read_text())
        changed = sorted(key for key in settings.keys() | before.keys()
                         if key != "seeds" and settings.get(key) != before.get(key))
        if changed:
            raise ConfigError(f"{out}: holds an evaluation with other settings "
                              f"({', '.join(changed)}); use another --out or remove it")
    _write_json(path, settings)


def evaluate(config: str | os.PathLike, data_root: str | os.PathLike, protocol: str,
             out_dir: str | os.PathLike, seeds: int = 1, epochs: int | None = None,
             pretrained: str | os.PathLike | None = None,
             cfg_options: dict[str, Any] | None = None,
             callbacks: EvaluateCallbacks | None = None,
             keep_head: bool = False, launcher: str = "none",
             run: RunFunction = run_candidate) -> dict[str, Any]:
    """Run ``protocol`` for ``config`` on the dataset at ``data_root`` with seeds
    0..``seeds``-1 into ``out_dir`` and return the summary (see ``summarize``); finished
    runs in ``out_dir`` are reused, a run cut short resumes. Each run starts from
    ``pretrained`` when given (its head too with ``keep_head``, when it fits). Under
    ``launcher='pytorch'`` each run is trained and tested by all ranks; rank 0 writes.
    ``run`` trains and tests one run (a test passes a fake)."""
    callbacks = callbacks or EvaluateCallbacks()
    distributed.start(launcher)
    pretrained_name = None if pretrained is None else str(pretrained)
    with distributed.agreed_errors():
        if seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, got {seeds}")
        if epochs == 0:
            seeds = 1  # nothing is trained: every seed would score the same checkpoint
        candidate, cfg = resolve_candidate(
            Candidate(Path(str(config)).stem, str(config), epochs, cfg_options,
                      pretrained_name, keep_head), data_root)
    root, out = Path(data_root), Path(out_dir)
    settings = dict(recipe_settings(candidate, cfg), data_root=str(root.resolve()),
                    protocol=protocol, seeds=seeds)

    def prepare() -> list[Fold]:  # writes settings.json and the fold files: rank 0 only
        check_settings(out, settings)
        return build_folds(root, protocol, out / "folds", window_frames(cfg))

    folds = distributed.on_main_process(prepare)
    jobs = [Job(fold, seed, out / "runs" / f"{fold.name}-seed{seed}" / "result.json", candidate)
            for fold in folds for seed in range(seeds)]
    results = run_jobs(jobs, root, recording_seconds(root), run, callbacks, launcher)
    summary = summarize([r.content for r in results])
    summary.update(config=str(cfg.filename), data_root=str(root), protocol=protocol,
                   seeds=seeds, epochs=candidate.epochs, pretrained=pretrained_name,
                   keep_head=keep_head)
    return summary


SCORE_KEYS = ("top1", "mean_class_present", "mean_class_mmaction", "macro_f1")
FALL_KEYS = ("recall", "precision", "false_alarms_per_hour", "threshold",
             "precision_at_threshold", "false_alarms_per_hour_at_threshold")


def stat_of(values: list) -> dict[str, float | int | None]:
    mean, std, count = mean_and_std(values)
    return dict(mean=mean, std=std, runs=count)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over runs (folds x seeds) of every score and fall
    figure; per class: precision, recall and F1 over the runs where each is defined, and
    support summed over the folds of one seed; the confusion matrix summed over all runs;
    and whether every fold was held out."""
    seeds = sorted({run["seed"] for run in runs})
    per_class = {
        name: dict(
            **{key: stat_of([run["per_class"][key][index] for run in runs])
               for key in ("precision", "recall", "f1")},
            support=int(sum(run["per_class"]["support"][index] for run in runs
                            if run["seed"] == seeds[0])))
        for index, name in enumerate(CLASS_NAMES)}
    overlapping = [run["fold"] for run in runs if run["overlap"]]
    return dict(
        runs=[{key: run.get(key) for key in ("fold", "seed", "candidate", "held_out", "samples",
                                              "hours", "overlap", "scores", "fall",
                                              "checkpoint", "seconds")}
              for run in runs],
        wall_minutes=round(sum(run.get("seconds") or 0 for run in runs) / 60, 1),
        scores={key: stat_of([run["scores"][key] for run in runs]) for key in SCORE_KEYS},
        fall={key: stat_of([run["fall"][key] for run in runs]) for key in FALL_KEYS},
        per_class=per_class,
        confusion_matrix=np.sum([run["confusion_matrix"] for run in runs], axis=0).tolist(),
        held_out=not overlapping,
        pretrained_loads=sorted({run["pretrained"] for run in runs if run.get("pretrained")}),
        overlap_lines=sorted({f"{run['fold']}: {run['overlap_line']}" for run in runs}),
        sample_unit=runs[0]["sample_unit"] if runs else None,
    )
