"""Nested selection: choose between candidate recipes without ever looking at the
recordings they are scored on. The library behind ``thermal-action evaluate --nested``.

For each outer fold of a protocol (``data/tools/folds``), the outer fold's training
keyframes are split again, one recording held out at a time (``inner_folds``); every
candidate is trained on each inner training split and its last checkpoint tested on the
inner held-out recording; the candidate with the best mean inner criterion is chosen
(``choose``); then the chosen one is trained on the whole outer training split with seeds
0..S-1 and scored on the outer held-out fold, as ``engine.evaluate`` does. No selection
run reads an outer held-out recording (``check_apart`` raises if one would).

Layout of the output folder: ``folds/<outer>/`` (its train/test files) with
``folds/<outer>/inner/<recording>/``; ``selection/<outer>/<candidate>/<inner>-seed<k>/``
and ``runs/<outer>/<candidate>-seed<k>/``, each run leaving its ``result.json``, reused
by a later call with the same settings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from thermal_action.config import window_frames
from thermal_action.data.tools.folds import Fold, build_folds, fold_recordings, inner_folds
from thermal_action.engine import distributed
from thermal_action.engine.evaluate import (
    FALL_KEYS,
    SCORE_KEYS,
    Candidate,
    EvaluateCallbacks,
    Job,
    RunFunction,
    check_settings,
    recipe_settings,
    recording_seconds,
    resolve_candidate,
    run_candidate,
    run_jobs,
    stat_of,
    summarize,
)
from thermal_action.errors import ConfigError, DataError

DEFAULT_CRITERION = "mean_class_present"


class Criterion(NamedTuple):
    """What a choice maximizes (or minimizes): ``value`` of one run's result dict
    (``result.json``), ``None`` where it is undefined."""

    name: str
    value: Callable[[dict[str, Any]], float | None]
    higher_is_better: bool = True


def _score(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda result: result["scores"][key]


def _fall(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda result: result["fall"][key]


CRITERIA: dict[str, Criterion] = {
    **{key: Criterion(key, _score(key)) for key in SCORE_KEYS},
    **{f"fall_{key}": Criterion(f"fall_{key}", _fall(key), "false_alarms" not in key)
       for key in FALL_KEYS},
}
"""The criteria by name: the score keys, and the fall keys as ``fall_<key>`` (false
alarms per hour are minimized, the others maximized)."""


class Selection(NamedTuple):
    """The candidates to choose between (at least two, unique names), the criterion, and
    the seeds of each inner run (0..inner_seeds-1)."""

    candidates: tuple[Candidate, ...]
    criterion: Criterion = CRITERIA[DEFAULT_CRITERION]
    inner_seeds: int = 1

    def with_cfg_options(self, cfg_options: dict[str, Any] | None) -> Selection:
        """Every candidate with ``cfg_options`` applied after its own."""
        if not cfg_options:
            return self
        return self._replace(candidates=tuple(
            c._replace(cfg_options={**(c.cfg_options or {}), **cfg_options})
            for c in self.candidates))


class Choice(NamedTuple):
    """The criterion per candidate and inner fold (mean over inner seeds; ``None``:
    undefined), its mean over the inner folds where it is defined, and the chosen name."""

    table: dict[str, dict[str, float | None]]
    means: dict[str, float | None]
    chosen: str


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [float(v) for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def choose(inner: Mapping[str, Sequence[dict[str, Any]]], criterion: Criterion) -> Choice:
    """Choose between candidates from their inner results (candidate name -> its
    ``result.json`` contents, in candidate order): the best mean criterion over its inner
    folds x seeds; an undefined mean ranks last; ties go to the earlier candidate."""
    table, means = {}, {}
    for name, results in inner.items():
        by_fold: dict[str, list[float | None]] = {}
        for result in results:
            by_fold.setdefault(result["fold"], []).append(criterion.value(result))
        table[name] = {fold: _mean(values) for fold, values in by_fold.items()}
        means[name] = _mean([value for values in by_fold.values() for value in values])
    chosen = next(iter(inner))
    for name, mean in means.items():
        best = means[chosen]
        if mean is not None and (best is None or (mean > best if criterion.higher_is_better
                                                  else mean < best)):
            chosen = name
    return Choice(table, means, chosen)


def check_apart(inner: Fold, held_out: set[str]) -> None:
    """Raise when ``inner``'s train or test file holds a recording of ``held_out`` (the
    outer fold's test recordings): a choice made there would have seen them."""
    train, test = fold_recordings(inner)
    for name, recordings, path in (("train", train, inner.train_ann),
                                   ("test", test, inner.test_ann)):
        seen = sorted(recordings & held_out)
        if seen:
            raise DataError(path, f"selection fold {inner.name}: its {name} split holds the "
                            f"outer held-out {', '.join(seen)}; a choice there would see the "
                            "recordings it is scored on")


def how_chosen(protocol: str, criterion: str) -> str:
    """The sentence a report gives on how the candidate was chosen."""
    unit = {"leave-one-session-out": "session", "leave-one-recording-out": "recording"}.get(
        protocol, "split")
    return (f"chosen by {criterion} on leave-one-recording-out folds inside the training "
            f"{unit}s; the held-out {unit} was never used for a choice")


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_CANDIDATE_KEYS = ("name", "config", "epochs", "cfg_options", "pretrained", "keep_head")
_SELECTION_KEYS = ("candidates", "criterion", "inner_seeds")


def _whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _candidate(entry: Any, where: str) -> Candidate:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with name and config")
    unknown = sorted(set(entry) - set(_CANDIDATE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected "
                          f"{', '.join(_CANDIDATE_KEYS)}")
    name, config = entry.get("name"), entry.get("config")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: name must be letters, digits, '.', '_', '+' or '-', "
                          f"got {name!r}")
    where = f"{where} ({name})"
    if not isinstance(config, str) or not config:
        raise ConfigError(f"{where}: config must be a config file or shipped name")
    epochs, options = entry.get("epochs"), entry.get("cfg_options") or {}
    pretrained, keep_head = entry.get("pretrained"), entry.get("keep_head", False)
    if epochs is not None and not _whole(epochs, 0):
        raise ConfigError(f"{where}: epochs must be a whole number >= 0, got {epochs!r}")
    if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
        raise ConfigError(f"{where}: cfg_options must be a mapping of config keys")
    if pretrained is not None and not isinstance(pretrained, str):
        raise ConfigError(f"{where}: pretrained must be a checkpoint path")
    if not isinstance(keep_head, bool):
        raise ConfigError(f"{where}: keep_head must be true or false, got {keep_head!r}")
    if epochs == 0 and pretrained is None:
        raise ConfigError(f"{where}: epochs 0 tests a pretrained checkpoint as it is; "
                          "give one")
    return Candidate(name, config, epochs, options or None, pretrained, keep_head)


def make_selection(candidates: Sequence[Candidate], criterion: str = DEFAULT_CRITERION,
                   inner_seeds: int = 1, where: str = "selection") -> Selection:
    """A checked ``Selection``; ``where`` starts each error message."""
    names = [candidate.name for candidate in candidates]
    if len(candidates) < 2:
        raise ConfigError(f"{where}: a selection needs at least two candidates, got "
                          f"{len(candidates)}")
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ConfigError(f"{where}: candidate names must differ, {doubled[0]!r} is repeated")
    if criterion not in CRITERIA:
        raise ConfigError(f"{where}: unknown criterion {criterion!r}; expected one of "
                          f"{', '.join(CRITERIA)}")
    if not _whole(inner_seeds, 1):
        raise ConfigError(f"{where}: inner_seeds must be a whole number >= 1, got "
                          f"{inner_seeds!r}")
    return Selection(tuple(candidates), CRITERIA[criterion], inner_seeds)


def load_selection(path: str | os.PathLike) -> Selection:
    """Read a selection file (YAML, or JSON by its ``.json`` suffix): ``candidates`` (a
    list of name, config and optional epochs, cfg_options, pretrained, keep_head),
    optional ``criterion`` and ``inner_seeds``. ``ConfigError`` names what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read selection file ({exc.strerror or exc})") \
            from None
    try:
        content = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{path}: not valid YAML ({getattr(exc, 'problem', None) or 'syntax'}"
                          + (f", line {mark.line + 1})" if mark else ")")) from None
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping with a candidates list")
    unknown = sorted(set(content) - set(_SELECTION_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; expected "
                          f"{', '.join(_SELECTION_KEYS)}")
    entries = content.get("candidates")
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: candidates must be a list of candidates")
    candidates = [_candidate(entry, f"{path}: candidate {number}")
                  for number, entry in enumerate(entries, start=1)]
    return make_selection(candidates, content.get("criterion", DEFAULT_CRITERION),
                          content.get("inner_seeds", 1), str(path))


def epochs_grid(config: str, epochs: Sequence[int], criterion: str = DEFAULT_CRITERION,
                inner_seeds: int = 1, pretrained: str | None = None, keep_head: bool = False,
                cfg_options: dict[str, Any] | None = None) -> Selection:
    """One candidate per epoch count of ``config``, named ``<epochs>e``."""
    return make_selection(
        [_candidate(dict(name=f"{n}e", config=config, epochs=n, cfg_options=cfg_options,
                         pretrained=pretrained, keep_head=keep_head), f"--epochs-grid {n}")
         for n in epochs], criterion, inner_seeds, "--epochs-grid")


def _sets_ann_file(options: Mapping[str, Any]) -> bool:
    return any("ann_file" in str(key) or (isinstance(value, Mapping) and _sets_ann_file(value))
               for key, value in options.items())


def _folds(root: Path, protocol: str, out: Path, window: int) -> list[tuple[Fold, list[Fold]]]:
    """Every outer fold with its inner folds, each checked apart from its held-out part."""
    plan = []
    for outer in build_folds(root, protocol, out / "folds", window):
        held_out = set(outer.held_out) | fold_recordings(outer)[1]
        inner = inner_folds(outer, out / "folds" / outer.name / "inner", window)
        for fold in inner:
            check_apart(fold, held_out)
        plan.append((outer, inner))
    return plan


def evaluate_nested(selection: Selection, data_root: str | os.PathLike, protocol: str,
                    out_dir: str | os.PathLike, seeds: int = 1,
                    callbacks: EvaluateCallbacks | None = None, launcher: str = "none",
                    run: RunFunction = run_candidate) -> dict[str, Any]:
    """Nested selection over ``protocol`` (see the module docstring) into ``out_dir``;
    return ``summarize`` over the outer runs of the chosen candidates, with a
    ``selection`` entry: per outer fold the inner table, the choice and its held-out
    scores. ``run`` trains and tests one run (a test passes a fake that records them)."""
    callbacks = callbacks or EvaluateCallbacks()
    distributed.start(launcher)
    with distributed.agreed_errors():
        if seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, got {seeds}")
        for candidate in selection.candidates:
            if _sets_ann_file(candidate.cfg_options or {}):
                raise ConfigError(f"candidate {candidate.name}: cfg_options may not set "
                                  "annotation files; the folds set them")
        resolved = [resolve_candidate(candidate, data_root)
                    for candidate in selection.candidates]
    candidates = [candidate for candidate, _ in resolved]
    root, out = Path(data_root), Path(out_dir)
    criterion = selection.criterion
    settings = dict(nested=dict(
        criterion=criterion.name, inner_seeds=selection.inner_seeds,
        candidates=[dict(name=c.name, **recipe_settings(c, cfg)) for c, cfg in resolved]),
        data_root=str(root.resolve()), protocol=protocol, seeds=seeds)
    window = max(window_frames(cfg) for _, cfg in resolved)

    def prepare() -> list[tuple[Fold, list[Fold]]]:  # rank 0 writes
        check_settings(out, settings)
        return _folds(root, protocol, out, window)

    plan = distributed.on_main_process(prepare)
    seconds = recording_seconds(root)
    total = sum(len(inner) * len(candidates) * selection.inner_seeds + seeds
                for _, inner in plan)
    done, inner_seconds, outer_results, folds = 0, 0.0, [], []
    for outer, inner in plan:
        jobs = [Job(fold, seed, out / "selection" / outer.name / candidate.name
                    / f"{fold.name}-seed{seed}" / "result.json", candidate, outer.name)
                for candidate in candidates for fold in inner
                for seed in range(selection.inner_seeds)]
        results = run_jobs(jobs, root, seconds, run, callbacks, launcher, done, total)
        done += len(results)
        inner_seconds += sum(r.content.get("seconds") or 0 for r in results)
        choice = choose({c.name: [r.content for r in results if r.candidate == c.name]
                         for c in candidates}, criterion)
        chosen = candidates[[c.name for c in candidates].index(choice.chosen)]
        jobs = [Job(outer, seed, out / "runs" / outer.name / f"{chosen.name}-seed{seed}"
                    / "result.json", chosen) for seed in range(seeds)]
        results = run_jobs(jobs, root, seconds, run, callbacks, launcher, done, total)
        done += len(results)
        outer_results += results
        runs = [r.content for r in results]
        folds.append(dict(
            fold=outer.name, held_out=list(outer.held_out),
            inner_folds=[fold.name for fold in inner], table=choice.table,
            means=choice.means, chosen=choice.chosen,
            scores={key: stat_of([run["scores"][key] for run in runs]) for key in SCORE_KEYS},
            fall={key: stat_of([run["fall"][key] for run in runs]) for key in FALL_KEYS}))
    summary = summarize([r.content for r in outer_results])
    summary.update(config=None, data_root=str(root), protocol=protocol, seeds=seeds,
                   epochs=None, pretrained=None, keep_head=False,
                   selection=dict(settings["nested"], folds=folds,
                                  wall_minutes=round(inner_seconds / 60, 1),
                                  higher_is_better=criterion.higher_is_better,
                                  how=how_chosen(protocol, criterion.name)))
    return summary
