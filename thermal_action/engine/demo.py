"""The main job: simulate a dataset (unless one is given), train the person-centred
thermal-native model, test it on held-out recordings, and draw what it saw."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from thermal_action.data.annotations import load_keyframes
from thermal_action.data.classes import CLASS_NAMES
from thermal_action.data.synthetic import SynthConfig, cached_dataset, simulated_with
from thermal_action.data.tools.build import BuildOptions, build_dataset
from thermal_action.data.tools.folds import split_overlap_line
from thermal_action.engine.hooks import RunProgress
from thermal_action.engine.runner import test, train
from thermal_action.evaluation.report import plot_confusion_matrix, render_recording_gif
from thermal_action.inference.classifier import ClipClassifier, predict_people

DEMO_CONFIG = "slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px"
# 192 short recordings in 96 rooms, mostly one person each, every person going through
# about three actions: ~2,100 training people from ~500 distinct episodes, 48 held-out
# recordings. Many short episodes generalize far better than a few long ones.
DEMO_SYNTH = SynthConfig(num_recordings=192, frames_per_recording=320, recordings_per_session=2,
                         people_weights=(0.85, 0.15), segment_windows=1.5,
                         keyframe_every_windows=0.4, seed=0)
DEMO_EPOCHS = 24  # keeps generate + train + test + render within 10 minutes on 2 cores


class DemoResult(NamedTuple):
    """Paths and figures of one demo run."""

    out_dir: Path
    data_root: Path
    generated: bool  # True when the built-in dataset was simulated by this run
    checkpoint: Path
    metrics: dict[str, float]
    metrics_json: Path
    confusion_png: Path
    recording_gif: Path
    gif_sensor: str
    stage_seconds: dict[str, float]
    sample_unit: str  # what one scored sample is: "person" or "keyframe" (a whole-frame clip)
    overlap: dict[str, Any] | None = None  # the tested split against train (``test``'s report)
    split_note: str | None = None  # why the demo built its own split, when it did


def _gif_recording(ann_file: Path) -> tuple[str, list]:
    """The test-split recording with the most annotated keyframes, and its keyframes."""
    keyframes, _ = load_keyframes(ann_file, CLASS_NAMES)
    sensor = Counter(k.sensor_id for k in keyframes).most_common(1)[0][0]
    return sensor, [k for k in keyframes if k.sensor_id == sensor]


class DemoCallbacks(NamedTuple):
    """How a caller follows the demo: ``stage(text)`` when a stage starts, a
    ``progress(done, total)`` callback per counted stage from ``counter(name)``, and every
    training and test iteration as a ``RunProgress`` in ``run``."""

    stage: Callable[[str], None] | None = None
    counter: Callable[[str], Callable[[int, int], None]] | None = None
    run: Callable[[RunProgress], None] | None = None


class _Stages:
    """Seconds spent per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start


def run_demo(
    out_dir: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    config: str = DEMO_CONFIG,
    epochs: int | None = None,  # None: DEMO_EPOCHS
    synth: SynthConfig = DEMO_SYNTH,
    cfg_options: dict[str, Any] | None = None,
    callbacks: DemoCallbacks | None = None,
    quiet: bool = False,
) -> DemoResult:
    """Run the demo into ``out_dir``; without ``data_root`` the built-in simulated dataset
    is generated into ``out_dir/data`` (reused when one made with the same ``synth``
    settings is already there, simulated again otherwise). ``quiet`` keeps MMEngine's
    console to warnings (its log goes to ``out_dir/work``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    callbacks = callbacks or DemoCallbacks()
    stages, stage = _Stages(), callbacks.stage or (lambda text: None)
    with stages("generate"):
        root, generated = _demo_data(out, data_root, synth, callbacks)
        split_note = None
        if data_root is not None:
            root, split_note = held_out_split(root, out / "data-by-recording")
            if split_note and callbacks.stage:
                callbacks.stage(split_note)
    work_dir = out / "work"
    stage(f"training {config} (logs in {work_dir})")
    with stages("train"):
        epochs = epochs or DEMO_EPOCHS
        # The held-out split is tested once at the end; validating on it during training
        # as well would only spend time (about a minute of the budget).
        train_options = {"train_cfg.val_begin": epochs + 1, **(cfg_options or {})}
        trained = train(config, data_root=root, work_dir=work_dir, epochs=epochs,
                        cfg_options=train_options, quiet=quiet, on_progress=callbacks.run)
    # The last checkpoint, not the best on val: the held-out recordings are val and test
    # at once, so choosing by their score would flatter it.
    checkpoint = trained.last_checkpoint
    stage(f"testing {checkpoint.name} on the held-out split")
    with stages("test"):
        report = test(config, checkpoint, data_root=root, work_dir=work_dir,
                      out=out / "metrics.json", cfg_options=cfg_options, quiet=quiet,
                      on_progress=callbacks.run)
    with stages("render"):
        confusion_png, gif, sensor = _draw(out, config, checkpoint, report, callbacks)
    return DemoResult(out, root, generated, checkpoint, report["metrics"], out / "metrics.json",
                      confusion_png, gif, sensor, stages.seconds, report["sample_unit"],
                      report.get("overlap"), split_note)


def held_out_split(root: Path, by_recording: Path) -> tuple[Path, str | None]:
    """``root`` when its test split (test.json, else val.json) shares no window with
    train.json; otherwise the dataset rebuilt from its raw annotations with whole
    recordings held out, into ``by_recording``, and the sentence that says why. A leaking
    dataset without raw annotations is kept (its scores are then labelled not held out)."""
    annotations = root / "annotations"
    tested = annotations / "test.json"
    tested = tested if tested.is_file() else annotations / "val.json"
    if not (annotations / "train.json").is_file() or not tested.is_file():
        return root, None
    overlap, _, line = split_overlap_line(annotations / "train.json", tested)
    raw = root / "raw_annotations"
    if not overlap or not raw.is_dir():
        return root, None
    build_dataset(raw, root / "frames", by_recording,
                  BuildOptions(overwrite=by_recording.exists()))
    return by_recording, f"{line}; built a split by recording into {by_recording}"


def _demo_data(out: Path, data_root: str | os.PathLike | None, synth: SynthConfig,
               callbacks: DemoCallbacks) -> tuple[Path, bool]:
    """The dataset to use, and whether this run simulated it."""
    if data_root is not None:
        return Path(data_root), False
    root = out / "data"
    if simulated_with(root, synth):
        return root, False
    if callbacks.stage:
        callbacks.stage(f"simulating {synth.num_recordings} recordings into {root}")
    return root, cached_dataset(root, synth, callbacks.counter("simulate")
                                if callbacks.counter else None)


def _draw(out: Path, config: str, checkpoint: Path, report: dict,
          callbacks: DemoCallbacks) -> tuple[Path, Path, str]:
    """The confusion matrix of the test report, and a GIF of the held-out recording with
    the most keyframes, each person's prediction on their box."""
    metrics = report["metrics"]
    confusion_png = plot_confusion_matrix(
        np.asarray(report["confusion_matrix"]), CLASS_NAMES, out / "confusion_matrix.png",
        title=f"held-out {'people' if report['sample_unit'] == 'person' else 'clips'}: "
              f"top-1 {metrics['acc/top1']:.2f}, mean-class {metrics['acc/mean_class']:.2f}")
    sensor, keyframes = _gif_recording(Path(report["ann_file"]))
    hdf5_path = Path(report["hdf5_root"]) / f"{sensor}.h5"
    if callbacks.stage:
        callbacks.stage(f"rendering held-out recording {sensor}")
    predictions = predict_people(ClipClassifier(config, checkpoint), hdf5_path, keyframes)
    gif = render_recording_gif(hdf5_path, keyframes, predictions,
                               out / f"recording_{sensor}.gif")
    return confusion_png, gif, sensor
