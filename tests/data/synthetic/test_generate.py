"""The simulator: deterministic, in the real layout, with class-specific footprints and the
real data's artifacts."""

from __future__ import annotations

import json
from dataclasses import replace

import h5py
import numpy as np
import pytest

from thermal_action.data import ThermalActionDataset
from thermal_action.data.classes import CLASS_NAMES, FALL_RELATED
from thermal_action.data.synthetic import SynthConfig, generate_dataset
from thermal_action.data.synthetic import people as P
from thermal_action.data.synthetic.scene import make_scene
from thermal_action.data.synthetic.sensor import frame_timestamps_ms
from thermal_action.data.tools.realism import dataset_statistics
from thermal_action.data.tools.validate import validate_dataset

SMALL = SynthConfig(num_recordings=4, frames_per_recording=160, seed=3)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate_dataset(root, SMALL)
    return root


def test_layout_matches_the_real_dataset(synthetic_root):
    for path in ("annotations/train.json", "annotations/val.json",
                 "annotations/class_mapping.json", "frames/sensor_info.json",
                 "dataset_info.json"):
        assert (synthetic_root / path).is_file(), path
    recordings = sorted((synthetic_root / "frames").glob("*.h5"))
    assert len(recordings) == 4
    with h5py.File(recordings[0]) as file:
        assert file["frames"].shape == (160, 40, 60) and file["frames"].dtype == np.float32
        assert file["timestamps"].dtype == np.int64 and file["frame_seqs"].dtype == np.int64
        assert np.all(np.diff(file["timestamps"][:]) > 0)
        assert np.all(np.diff(file["frame_seqs"][:]) > 0)
        for attr in ("sensor_id", "mac_address", "frame_height", "frame_width", "total_frames",
                     "min_timestamp", "max_timestamp", "compression", "created_at"):
            assert attr in file.attrs
    raw = (synthetic_root / "raw_annotations").glob("*.jsonl")
    line = json.loads(next(raw).read_text().splitlines()[0])
    assert {"data_id", "mac_address", "annotator_id", "annotation_time", "data_time",
            "annotations"} <= set(line)
    categories = {a["category"] for a in line["annotations"]}
    assert "person" in categories and categories <= {"person", "object", "furniture"}
    person = next(a for a in line["annotations"] if a["category"] == "person")
    assert person["subcategory"] in CLASS_NAMES and len(person["bbox"]) == 4


def test_dataset_class_and_statistics_read_it_unchanged(synthetic_root):
    train = ThermalActionDataset(ann_file=str(synthetic_root / "annotations/train.json"),
                                 hdf5_root=str(synthetic_root / "frames"), pipeline=[])
    val = ThermalActionDataset(ann_file="annotations/val.json", hdf5_root="frames",
                               data_root=str(synthetic_root), pipeline=[])
    assert len(train) > 20 and len(val) > 5
    assert train[0]["imgs"].shape == (64, 40, 60, 3)
    sensors = lambda ds: {ds.get_data_info(i)["sensor_id"] for i in range(len(ds))}  # noqa: E731
    assert not sensors(train) & sensors(val)  # held out by whole recordings
    stats = dataset_statistics(synthetic_root)
    assert stats["num_recordings"] == 4
    report = validate_dataset(synthetic_root)
    assert report.ok, report.errors
    assert not [f for f in report.findings if f.code == "window-overlap"]  # split by recording


def test_same_seed_same_data_other_seed_other_data(synthetic_root, tmp_path):
    generate_dataset(tmp_path / "again", SMALL)
    generate_dataset(tmp_path / "other", replace(SMALL, seed=4))
    name = sorted((synthetic_root / "frames").glob("*.h5"))[0].name
    read = lambda root: h5py.File(root / "frames" / name)["frames"][:]  # noqa: E731
    np.testing.assert_array_equal(read(synthetic_root), read(tmp_path / "again"))
    assert (synthetic_root / "annotations/train.json").read_text() == (
        tmp_path / "again" / "annotations/train.json").read_text()
    assert not np.array_equal(read(synthetic_root), read(tmp_path / "other"))


def _footprint(label: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    scene = make_scene(rng)
    person = P.make_person([label], 20.0, scene, [], rng)
    state = P.body_state(person, 10.0)
    heat = P.render_person(*state, person.scale, person.warmth, 40, 60)
    ys, xs = np.nonzero(heat > 1.0)
    coords = np.stack([xs, ys], 1).astype(float)
    eigen = np.linalg.eigvalsh(np.cov(coords.T))
    return heat, len(xs), float(np.sqrt(eigen[1] / eigen[0]))


def test_posture_footprints_differ_as_seen_from_above():
    footprints = {label: _footprint(label) for label in (0, 1, 3, 4, 10, 12)}
    heat = {label: f[0].max() for label, f in footprints.items()}
    area = {label: f[1] for label, f in footprints.items()}
    elongation = {label: f[2] for label, f in footprints.items()}
    assert elongation[3] > 1.4 and area[3] > 1.5 * area[1]  # lying: long and larger than standing
    assert area[1] < min(area[0], area[3], area[10])  # standing: compact
    assert elongation[12] < 1.2 < elongation[1]  # crouching round, standing wide-shouldered
    assert area[0] > area[1] and elongation[10] > 1.3  # sitting: thighs; kneeling: shins
    assert heat[10] > heat[0]  # the upright kneeling torso is the hottest spot
    assert heat[4] <= heat[3] + 0.5  # blanket: bed lying no warmer than floor


def test_walking_moves_and_lying_stays():
    rng = np.random.default_rng(1)
    scene = make_scene(rng)
    walker = P.make_person([2], 20.0, scene, [], rng)
    lying = P.make_person([3], 20.0, scene, [], rng)
    walked = np.array([P.body_state(walker, t)[1] for t in np.arange(2.0, 6.01, 0.1)])
    path_px = np.hypot(*np.diff(walked, axis=0).T).sum()
    assert 8 * 4 * 0.95 < path_px < 14 * 4 * 1.05  # 8-14 px/s for 4 s
    still = [P.body_state(lying, t)[1] for t in (15.0, 19.0)]
    assert np.hypot(*(still[1] - still[0])) < 0.5


def test_fall_is_sudden_then_still():
    rng = np.random.default_rng(2)
    story = P.make_story([7], 30.0, rng)
    labels = [episode.label for episode in story]
    assert labels[-2:] == [7, 3]
    fall = story[-2]
    assert 1.0 <= fall.end_s - fall.start_s <= 2.0 and fall.posture_to == "lying"


@pytest.mark.parametrize("label", range(len(CLASS_NAMES)))
def test_every_class_has_a_story(label):
    story = P.make_story([label], 30.0, np.random.default_rng(label))
    assert label in [episode.label for episode in story]
    assert story[0].start_s == 0.0 and story[-1].end_s == pytest.approx(30.0)


def test_a_uniform_mix_covers_the_classes(tmp_path):
    summary = generate_dataset(tmp_path, SynthConfig(num_recordings=28, frames_per_recording=120,
                                                     seed=5, people_weights=(1.0,)))
    seen = set(summary.class_counts["train"]) | set(summary.class_counts["val"])
    assert len(seen) >= 12


def test_class_mix_is_honoured(tmp_path):
    weights = tuple(1.0 if c in (1, 3, 7) else 0.0 for c in range(len(CLASS_NAMES)))
    summary = generate_dataset(tmp_path, SynthConfig(num_recordings=6, frames_per_recording=160,
                                                     seed=1, class_weights=weights))
    seen = set(summary.class_counts["train"]) | set(summary.class_counts["val"])
    # stories also pass through the classes they need (posture changes, walking before a fall)
    assert seen <= {CLASS_NAMES[c] for c in (1, 2, 3, 6, 7)}


def test_story_targets_keep_bed_stories_alone_and_one_fall_per_person():
    from thermal_action.data.synthetic.generate import ClassDeck, _story_targets

    rng = np.random.default_rng(0)
    weights = tuple(1.0 if c in (3, 4, 7) else 0.0 for c in range(len(CLASS_NAMES)))
    deck = ClassDeck(weights, rng, copies=2)
    cards_before = sorted(deck._cards.tolist())
    for _ in range(30):
        targets = _story_targets(deck, 3, bed_free=True)
        if 4 in targets:
            assert targets == [4]  # a bed story holds nothing else
        else:
            assert sum(t in FALL_RELATED for t in targets) == 1  # one fall, it ends the story
    assert all(4 not in _story_targets(deck, 3, bed_free=False) for _ in range(10))
    size, sevens = len(deck._pile), deck._pile.count(7)
    deck.put_back([7, 7])  # cards a person could not take return to the pile
    assert len(deck._pile) == size + 2 and deck._pile.count(7) == sevens + 2
    assert sorted(set(cards_before)) == [3, 4, 7]


def test_short_segments_give_each_person_several_actions(tmp_path):
    config = SynthConfig(num_recordings=6, frames_per_recording=320, people_weights=(1.0,),
                         segment_windows=1.5, keyframe_every_windows=0.4, seed=2)
    summary = generate_dataset(tmp_path, config)
    per_recording = {}
    for split in ("train", "val"):
        coco = json.loads((tmp_path / "annotations" / f"{split}.json").read_text())
        sensors = {image["id"]: image["sensor_id"] for image in coco["images"]}
        for annotation in coco["annotations"]:
            per_recording.setdefault(sensors[annotation["image_id"]], set()).add(
                annotation["category_id"])
    assert len(per_recording) == 6
    assert np.mean([len(labels) for labels in per_recording.values()]) >= 3
    assert sum(summary.num_keyframes.values()) >= 6 * 5


def test_sensor_artifacts_rates(tmp_path):
    rng = np.random.default_rng(0)
    stamps = frame_timestamps_ms(20000, 160.0, 0, rng, gap_prob=0.01)
    intervals = np.diff(stamps)
    assert 120 < np.median(intervals) < 200
    assert 0.005 < (intervals > 1000).mean() < 0.03
    assert (intervals > 0).all()
    summary = generate_dataset(tmp_path, SynthConfig(num_recordings=4, frames_per_recording=300,
                                                     seed=0, glitchy_recording_prob=1.0))
    stats = dataset_statistics(summary.root)
    assert 0.05 < stats["invalid"]["frame_fraction"] < 0.16
    assert stats["invalid"]["max_pixels_in_frame"] >= 2300  # nearly whole invalid frames


def test_bad_configs_are_refused():
    with pytest.raises(ValueError):
        SynthConfig(num_recordings=1)
    with pytest.raises(ValueError):
        SynthConfig(frames_per_recording=50)
    with pytest.raises(ValueError):
        SynthConfig(class_weights=(1.0,) * 3)


def test_an_existing_dataset_is_replaced_whole_and_only_when_asked(tmp_path):
    """Issue 9: synth over an older simulated dataset left its recordings and raw files
    beside the new ones, which no split referenced."""
    from thermal_action.errors import DataError

    out = tmp_path / "sim"
    generate_dataset(out, replace(SMALL, num_recordings=4, frames_per_recording=120))
    (out / "realism").mkdir()  # what `data synth --compare` adds
    with pytest.raises(DataError, match="output folder is not empty"):
        generate_dataset(out, replace(SMALL, num_recordings=2, frames_per_recording=120))
    assert len(list((out / "frames").glob("*.h5"))) == 4
    summary = generate_dataset(out, replace(SMALL, num_recordings=2, frames_per_recording=120),
                               overwrite=True)
    assert summary.root == out
    assert len(list((out / "frames").glob("*.h5"))) == 2
    assert len(list((out / "raw_annotations").glob("*.jsonl"))) == 2
    assert not (out / "realism").exists()
    report = validate_dataset(out)
    assert report.ok and not [f for f in report.findings if f.code == "unreferenced-recording"]
    assert [p.name for p in tmp_path.iterdir()] == ["sim"]  # no staging folder left

    (out / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"did not write \(notes.txt\)"):
        generate_dataset(out, SMALL, overwrite=True)
    assert (out / "notes.txt").is_file()


def test_the_simulator_feeds_the_one_dataset_builder(synthetic_root, tmp_path):
    """Issue 10: simulated datasets are written by ``build_dataset``, like real ones: the
    same file set, a leakage-checked split by whole recordings, and `data validate` passes."""
    from thermal_action.data.tools.build import BuildOptions, build_dataset

    def files(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    rebuilt = tmp_path / "rebuilt"
    report = build_dataset(synthetic_root / "raw_annotations", synthetic_root / "frames",
                           rebuilt, BuildOptions(val_fraction=SMALL.val_fraction, seed=SMALL.seed))
    simulated = files(synthetic_root)
    tracks = [name for name in simulated if name.startswith("person_tracks/")]
    assert [name for name in simulated if name not in tracks] == files(rebuilt)
    assert sorted(tracks) == [f"person_tracks/{p.stem}.csv"
                              for p in sorted((synthetic_root / "frames").glob("*.h5"))]
    for split in ("train", "val"):
        assert (json.loads((synthetic_root / "annotations" / f"{split}.json").read_text())
                ["images"] == json.loads((rebuilt / "annotations" / f"{split}.json")
                                         .read_text())["images"])
    assert report.overlapping_windows == 0
    info = json.loads((synthetic_root / "dataset_info.json").read_text())
    assert info["generator"] == "thermal_action.data.synthetic"
    assert info["configuration"]["split"] == "recording"
    assert info["simulation"]["seed"] == SMALL.seed
    assert info["overlap"]["overlapping_windows"] == 0
    report = validate_dataset(synthetic_root)
    assert report.ok and not [f for f in report.findings if f.code in (
        "unreferenced-recording", "window-overlap")]
    train = {im["sensor_id"] for im in json.loads(
        (synthetic_root / "annotations" / "train.json").read_text())["images"]}
    val = {im["sensor_id"] for im in json.loads(
        (synthetic_root / "annotations" / "val.json").read_text())["images"]}
    assert train and val and not train & val  # whole recordings held out


def test_every_person_is_boxed_on_every_frame(synthetic_root):
    """The per-frame person tracks agree with the annotated keyframes and follow people
    between them (the ground truth of tracking metrics)."""
    from thermal_action.data.annotations import load_keyframes
    from thermal_action.data.person_tracks import read_person_tracks

    keyframes, _ = load_keyframes(synthetic_root / "annotations" / "train.json", CLASS_NAMES)
    keyframe = keyframes[0]
    rows = read_person_tracks(synthetic_root / "person_tracks" / f"{keyframe.sensor_id}.csv")
    assert rows.shape[1] == 8 and len(np.unique(rows[:, 0])) > 100  # most frames, not keyframes
    at_keyframe = rows[rows[:, 0] == keyframe.frame_idx]
    for box, object_id in zip(keyframe.boxes_xyxy, keyframe.object_ids, strict=True):
        row = at_keyframe[at_keyframe[:, 2] == object_id][0]
        np.testing.assert_allclose(row[4:], box, atol=0.01)
    with h5py.File(synthetic_root / "frames" / f"{keyframe.sensor_id}.h5") as file:
        timestamps = file["timestamps"][:]
    np.testing.assert_array_equal(rows[:, 1], timestamps[rows[:, 0].astype(int)])


def test_heat_residue_warms_under_a_resting_person_and_fades():
    from thermal_action.data.synthetic.residue import VISIBLE_C, HeatResidue

    residue = HeatResidue((40, 60), np.random.default_rng(0))
    heat = P.render_person(P.POSTURES["sitting"], np.array([30.0, 20.0]), 0.0, 1.0, 1.0, 40, 60)
    for _ in range(60):
        residue.step(1.0, [heat])  # a minute seated
    warm = residue.field_c.max()
    assert 1.0 < warm < heat.max()  # warmer than the room, cooler than the person
    scene = make_scene(np.random.default_rng(0))
    seated = np.array([24, 14, 36, 26], np.float32)
    assert residue.patches(scene, [seated]) == []  # hidden under the person
    left = residue.patches(scene, [])
    assert len(left) == 1
    x1, y1, x2, y2 = left[0].box_xyxy
    assert x1 < 30 < x2 and y1 < 20 < y2
    residue.step(600.0, [])  # ten minutes later
    assert residue.field_c.max() < 0.2 * warm
    assert residue.patches(scene, []) == [] or residue.field_c.max() > VISIBLE_C


def test_simulated_keyframes_annotate_heat_residue_as_not_a_person(tmp_path):
    """Warm patches where someone sat or lay are annotated as furniture with
    ``attribute_heat_residual: yes``, as the real annotators mark them, and are warm."""
    summary = generate_dataset(tmp_path, SynthConfig(num_recordings=4, frames_per_recording=200,
                                                     seed=3))
    found = 0
    for path in sorted((summary.root / "raw_annotations").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            residue = [a for a in entry["annotations"] if a["attribute_heat_residual"] == "yes"]
            if not residue:
                continue
            with h5py.File(summary.root / "frames" / f"{entry['data_id']}.h5") as file:
                index = int(np.searchsorted(file["timestamps"][:], entry["data_time"]))
                frame = file["frames"][index]
            for annotation in residue:
                assert annotation["category"] == "furniture"
                cx, cy, w, h = annotation["bbox"]
                x1, y1 = int((cx - w / 2) * 60), int((cy - h / 2) * 40)
                x2, y2 = int(np.ceil((cx + w / 2) * 60)), int(np.ceil((cy + h / 2) * 40))
                assert frame[y1:y2, x1:x2].max() > np.median(frame) + 0.5
                found += 1
    assert found > 0


def test_lost_packets_as_the_real_sensor_loses_them():
    from thermal_action.data.synthetic.sensor import PACKET_PX, corrupt_frame

    frame = np.arange(40 * 60, dtype=np.float32).reshape(40, 60)
    rng = np.random.default_rng(1)
    displaced = in_place = 0
    for _ in range(200):
        corrupt = corrupt_frame(frame, rng).ravel()
        invalid = corrupt < -270
        assert invalid.sum() % PACKET_PX == 0 and 0 < invalid.sum() < frame.size
        kept = ~invalid
        if np.array_equal(corrupt[kept], frame.ravel()[kept]):
            in_place += 1  # what arrived sits where it belongs
        else:  # what arrived moved up to the start, in order, and the end is unread
            arrived = corrupt[: kept.sum()]
            assert kept[: kept.sum()].all() and np.all(np.diff(arrived) > 0)
            assert set(arrived.tolist()) <= set(frame.ravel().tolist())
            displaced += 1
    assert 60 < displaced < 140 and in_place > 60
