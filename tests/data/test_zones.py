import json
from pathlib import Path

import numpy as np
import pytest

from thermal_action.data.zones import (
    REST_KINDS,
    Zone,
    Zones,
    draw_zones,
    furniture_proposals,
    load_zones,
    propose_zones,
    rectangle,
    still_proposals,
    write_zones,
    zones_document,
)
from thermal_action.errors import DataError

HEIGHT, WIDTH = 40, 60
VALID_YAML = """\
sensor_shape: [40, 60]      # rows, columns
zones:
  - name: bed
    kind: bed
    polygon: [[2, 3], [20, 3], [20, 12], [2, 12]]   # pixels, x right, y down
  - name: door
    kind: door
    polygon: [[55, 30], [60, 30], [60, 40], [55, 40]]
    source: drawn by hand
"""


def example_zones() -> Zones:
    return Zones([
        Zone("bed", "bed", rectangle((2, 3, 20, 12))),
        Zone("couch", "couch", np.array([[30.2, 20.1], [50.3, 20.1], [40.1, 37.9]])),
        Zone("chair", "chair", rectangle((40.7, 2.25, 45.3, 7.75))),
        Zone("door", "door", rectangle((55, 30, 60, 40)), "drawn by hand"),
    ], (HEIGHT, WIDTH))


def brute_mask(zones: Zones, kinds: tuple[str, ...]) -> np.ndarray:
    """Pixel centres inside each polygon by the sign of cross products (convex polygons)."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    for zone in zones:
        if zone.kind not in kinds:
            continue
        poly = zone.polygon_xy
        for r in range(HEIGHT):
            for c in range(WIDTH):
                x, y = c + 0.5, r + 0.5
                edges = np.roll(poly, -1, axis=0) - poly
                cross = edges[:, 0] * (y - poly[:, 1]) - edges[:, 1] * (x - poly[:, 0])
                mask[r, c] = mask[r, c] or bool(np.all(cross > 0) or np.all(cross < 0))
    return mask


def brute_share(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Sum over mask pixels of their overlap with the box, over the box's area."""
    x1, y1, x2, y2 = box
    covered = 0.0
    for r, c in zip(*np.nonzero(mask), strict=True):
        covered += (max(0.0, min(x2, c + 1) - max(x1, c))
                    * max(0.0, min(y2, r + 1) - max(y1, r)))
    return covered / ((x2 - x1) * (y2 - y1))


def test_load_valid_yaml_and_json(tmp_path):
    path = tmp_path / "zones.yaml"
    path.write_text(VALID_YAML)
    zones = load_zones(path)
    assert [(z.name, z.kind, z.source) for z in zones] == [("bed", "bed", None),
                                                          ("door", "door", "drawn by hand")]
    assert zones.frame_shape == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(next(iter(zones)).polygon_xy,
                                  [[2, 3], [20, 3], [20, 12], [2, 12]])
    as_json = tmp_path / "zones.json"
    as_json.write_text(json.dumps(dict(zones=[dict(name="b", kind="bed",
                                                   polygon=[[2, 3], [20, 3], [20, 12]])])))
    loaded = load_zones(as_json)
    assert len(loaded) == 1 and next(iter(loaded)).kind == "bed"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path, suffix):
    zones = example_zones()
    path = write_zones(zones, tmp_path / f"out{suffix}", header="a comment\nover two lines")
    loaded = load_zones(path)
    assert [(z.name, z.kind, z.source) for z in loaded] == [(z.name, z.kind, z.source)
                                                           for z in zones]
    for a, b in zip(loaded, zones, strict=True):
        np.testing.assert_allclose(a.polygon_xy, b.polygon_xy, atol=1e-3)
    assert zones_document(loaded) == zones_document(zones)
    empty = load_zones(write_zones(Zones.empty(), tmp_path / f"empty{suffix}"))
    assert len(empty) == 0


def test_mask_against_brute_force():
    zones = example_zones()
    for kinds in (REST_KINDS, ("chair",), ("door", "bed")):
        np.testing.assert_array_equal(zones.mask(kinds), brute_mask(zones, kinds))
    assert zones.mask().sum() == 18 * 9 + brute_mask(zones, ("couch",)).sum()
    assert zones.mask() is zones.mask(REST_KINDS)  # cached per kinds
    np.testing.assert_array_equal(zones.mask("chair"), zones.mask(("chair",)))


@pytest.mark.parametrize("box", [
    (2.0, 3.0, 20.0, 12.0),  # the bed exactly
    (5.25, 4.5, 9.75, 8.125),  # inside the bed, fractional
    (15.3, 8.7, 33.9, 27.2),  # bed, floor and couch
    (-4.5, -2.25, 6.5, 5.5),  # partly outside the frame (top left)
    (45.2, 30.6, 63.0, 44.0),  # partly outside (bottom right), through the couch tip
    (38.2, 21.1, 41.9, 36.6),  # inside the couch triangle's middle
    (0.0, 0.0, 60.0, 40.0),  # the whole frame
])
def test_share_in_against_brute_force(box):
    zones = example_zones()
    for kinds in (REST_KINDS, ("chair", "door")):
        expected = brute_share(zones.mask(kinds), box)
        assert zones.share_in(box, kinds) == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= zones.share_in(box) <= 1.0


def test_share_in_edges():
    zones = example_zones()
    assert zones.share_in((2, 3, 20, 12)) == pytest.approx(1.0)
    assert zones.share_in((2, 3, 2, 12)) == 0.0  # empty box
    assert zones.share_in((-10, -10, -5, -5)) == 0.0  # all outside the frame
    assert zones.share_in((1.5, 3, 2.5, 4)) == pytest.approx(0.5)  # half a pixel in


def test_zone_of():
    zones = example_zones()
    assert zones.zone_of((3, 4, 10, 10)).name == "bed"
    assert zones.zone_of((54, 31, 61, 39)).name == "door"  # any kind, partly outside
    assert zones.zone_of((15, 3, 25, 12)).name == "bed"  # exactly half
    assert zones.zone_of((14, 3, 28, 12)) is None  # less than half in the bed
    assert zones.zone_of((22, 14, 28, 18)) is None  # the floor


def test_empty_zones():
    zones = Zones.empty((HEIGHT, WIDTH))
    assert len(zones) == 0 and list(zones) == []
    assert not zones.mask().any() and zones.mask().shape == (HEIGHT, WIDTH)
    assert zones.share_in((0, 0, 10, 10)) == 0.0 and zones.zone_of((0, 0, 10, 10)) is None


def test_draw_zones_labels_inside_the_frame():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(np.zeros((HEIGHT, WIDTH)), extent=(0, WIDTH, HEIGHT, 0))
    artists = draw_zones(ax, example_zones())
    texts = [a for a in artists if hasattr(a, "get_text")]
    assert [t.get_text() for t in texts] == ["bed", "couch", "chair", "door"]
    for text in texts:
        x, y = text.get_position()
        assert 0 <= x <= WIDTH and 0 <= y <= HEIGHT
    assert len(ax.patches) == 4
    fig.canvas.draw()


def zone_yaml(polygon: str = "[[2, 3], [20, 3], [20, 12], [2, 12]]", extra: str = "",
              kind: str = "bed", name: str = "bed") -> str:
    return f"zones:\n  - name: {name}\n    kind: {kind}\n    polygon: {polygon}\n{extra}"


MALFORMED = {
    "invalid-yaml": ("zones: [\n  - name: a\n    kind: [bed\n", "invalid YAML at line"),
    "empty-file": ("# nothing yet\n", "empty file: expected a mapping"),
    "top-level-list": ("- name: bed\n", "expected a mapping with a 'zones' list"),
    "missing-zones": ("sensor_shape: [40, 60]\n", "'zones' is missing"),
    "zones-not-list": ("zones: 3\n", "'zones' is not a list"),
    "unknown-top-key": (zone_yaml() + "colour: red\n", "unknown key 'colour' (expected "
                                                       "sensor_shape, zones)"),
    "unknown-zone-key": (zone_yaml(extra="    color: red\n"),
                         "zone 1 (bed): unknown key 'color'"),
    "zone-not-mapping": ("zones:\n  - bed\n", "zone 1: expected a mapping"),
    "missing-name": ("zones:\n  - kind: bed\n    polygon: [[0, 0], [1, 0], [1, 1]]\n",
                     "zone 1: missing 'name'"),
    "empty-name": (zone_yaml(name='""'), "zone 1: 'name' must be a non-empty string"),
    "duplicate-name": (zone_yaml() + zone_yaml().removeprefix("zones:\n"),
                       "zone 2 (bed): duplicate name (zone 1 has it too)"),
    "unknown-kind": (zone_yaml(kind="sofa"), "zone 1 (bed): unknown kind 'sofa' (expected "
                                             "one of bed, couch, chair, door)"),
    "missing-kind": ("zones:\n  - name: bed\n    polygon: [[0, 0], [1, 0], [1, 1]]\n",
                     "zone 1 (bed): missing 'kind'"),
    "missing-polygon": ("zones:\n  - name: bed\n    kind: bed\n",
                        "zone 1 (bed): missing 'polygon'"),
    "polygon-not-list": (zone_yaml(polygon="12"), "zone 1 (bed): 'polygon' must be a list"),
    "two-points": (zone_yaml(polygon="[[2, 3], [20, 3]]"),
                   "zone 1 (bed): polygon has 2 point(s), needs at least 3"),
    "non-numeric-point": (zone_yaml(polygon="[[2, 3], [a, 3], [20, 12]]"),
                          "zone 1 (bed): point 2 ['a', 3] is not two finite numbers"),
    "three-coordinates": (zone_yaml(polygon="[[2, 3, 1], [20, 3], [20, 12]]"),
                          "zone 1 (bed): point 1 [2, 3, 1] is not two finite numbers"),
    "non-finite-point": (zone_yaml(polygon="[[2, 3], [.nan, 3], [20, 12]]"),
                         "zone 1 (bed): point 2 [nan, 3] is not two finite numbers"),
    "x-outside": (zone_yaml(polygon="[[2, 3], [61, 3], [20, 12]]"),
                  "zone 1 (bed): point 2 [61, 3] is outside the frame (x 0..60, y 0..40 for "
                  "40x60 pixels)"),
    "y-outside": (zone_yaml(polygon="[[2, 3], [20, 3], [20, -0.5]]"),
                  "zone 1 (bed): point 3 [20, -0.5] is outside the frame"),
    "zero-area": (zone_yaml(polygon="[[0, 0], [10, 0], [20, 0]]"),
                  "zone 1 (bed): polygon has zero area"),
    "source-not-string": (zone_yaml(extra="    source: [1]\n"),
                          "zone 1 (bed): 'source' must be a string"),
    "sensor-shape-mismatch": ("sensor_shape: [30, 60]\n" + zone_yaml(),
                              "sensor_shape is 30x60 but the frames are 40x60 pixels"),
    "sensor-shape-malformed": ("sensor_shape: [40]\n" + zone_yaml(),
                               "sensor_shape must be [rows, columns]"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_is_one_line_data_error(tmp_path, case):
    text, problem = MALFORMED[case]
    path = tmp_path / "zones.yaml"
    path.write_text(text)
    with pytest.raises(DataError) as caught:
        load_zones(path, (HEIGHT, WIDTH))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and problem in message


@pytest.mark.parametrize("case,problem", [
    ("missing", "zones file not found"),
    ("folder", "cannot read"),
    ("not-utf8", "not UTF-8 text"),
    ("invalid-json", "invalid JSON at line 2 column"),
])
def test_unreadable_file_is_one_line_data_error(tmp_path, case, problem):
    path = tmp_path / ("zones.json" if case == "invalid-json" else "zones.yaml")
    if case == "folder":
        path.mkdir()
    elif case == "not-utf8":
        path.write_bytes(b"zones: [\xff\xfe]\n")
    elif case == "invalid-json":
        path.write_text('{"zones":\n [}\n')
    with pytest.raises(DataError) as caught:
        load_zones(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and problem in message


def yolo(box_xyxy: tuple[float, float, float, float]) -> list[float]:
    x1, y1, x2, y2 = box_xyxy
    return [(x1 + x2) / 2 / WIDTH, (y1 + y2) / 2 / HEIGHT, (x2 - x1) / WIDTH,
            (y2 - y1) / HEIGHT]


def furniture(box, subcategory, object_id, residue="no", category="furniture") -> dict:
    return dict(bbox=yolo(box), category=category, subcategory=subcategory,
                attribute_obscured="0%", attribute_heat_residual=residue, object_id=object_id)


def write_raw_annotations(path: Path, frames: int = 5) -> Path:
    """Per frame: a chair (id 0) that jitters, a bed whose object id shifts as in the
    simulator, a sofa, a table, a person and a heat-residue patch alone."""
    lines = []
    for index in range(frames):
        shift = 0.5 if index == 2 else 0.0  # one frame's chair is off: the median ignores it
        annotations = [
            furniture((30 + shift * 4, 20, 36 + shift * 4, 26), "chair", 0),
            furniture((2, 3, 20, 12), "bed", 11 + index % 2),
            furniture((40, 28, 58, 36), "sofa", 5),
            furniture((24, 2, 34, 8), "table", 6),
            furniture((10, 30, 16, 34), "bed", 20, residue="yes"),
            furniture((5, 5, 8, 12), "lying_bed", 1, residue=None, category="person"),
        ]
        if index < 2:  # the bed's residue on two frames counts with the bed
            annotations.append(furniture((3, 4, 19, 11), "bed", 11 + index % 2, residue="yes"))
        lines.append(json.dumps(dict(data_id="REC_A", mac_address="02:00:00:00:00:01",
                                     annotation_time=0, data_time=1_760_000_000_000 + index,
                                     annotations=annotations)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_furniture_proposals(tmp_path):
    path = write_raw_annotations(tmp_path / "raw_annotations" / "REC_A_annotation.jsonl")
    zones = furniture_proposals(path, (HEIGHT, WIDTH))
    found = {z.name: (z.kind, z.box_xyxy, z.source) for z in zones}
    assert sorted(found) == ["bed", "chair", "couch"]
    kind, box, source = found["bed"]
    np.testing.assert_allclose(box, (2, 3, 20, 12), atol=1e-3)
    assert source == "furniture annotation, 7 frames"  # 5 plain + 2 residue of the bed
    kind, box, source = found["chair"]
    np.testing.assert_allclose(box, (30, 20, 36, 26), atol=1e-3)
    assert (kind, source) == ("chair", "furniture annotation, 5 frames")
    assert found["couch"][0] == "couch"  # from "sofa"


def test_furniture_proposals_malformed_line(tmp_path):
    path = tmp_path / "REC_A_annotation.jsonl"
    path.write_text('{"annotations": []}\n{"annotations": [\n')
    with pytest.raises(DataError, match=r"line 2: malformed JSON"):
        furniture_proposals(path)


def still_track(centre, size, seconds, jitter=0.3, start_ms=0, step_s=1.0, seed=0):
    """(timestamp_ms, box) points of a box of ``size`` (w, h) whose centre jitters."""
    rng = np.random.default_rng(seed)
    points = []
    for index in range(int(seconds / step_s) + 1):
        cx, cy = np.asarray(centre) + rng.uniform(-jitter, jitter, 2)
        w, h = size
        points.append((start_ms + index * step_s * 1000.0,
                       (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
    return points


def test_still_lying_track_is_proposed_as_bed():
    tracks = {7: still_track((40, 10), (8, 3), 120)}
    zones = still_proposals(tracks, (HEIGHT, WIDTH))
    assert [(z.name, z.kind, z.source) for z in zones] == [("bed", "bed",
                                                            "still for 120 s (track 7)")]
    x1, y1, x2, y2 = zones[0].box_xyxy
    assert 35.4 <= x1 <= 36 and 44 <= x2 <= 44.6 and 8.2 <= y1 <= 8.8 and 11.2 <= y2 <= 11.8


@pytest.mark.parametrize("case", ["round", "moving", "short", "gap"])
def test_not_proposed(case):
    if case == "round":  # still, but a round blob: sitting or standing seen from above
        track = still_track((40, 10), (4, 4), 200)
    elif case == "moving":  # lying shape, but drifting 0.1 px a second
        track = [(t, (x1 + 0.1 * t / 1000, y1, x2 + 0.1 * t / 1000, y2))
                 for t, (x1, y1, x2, y2) in still_track((20, 10), (8, 3), 200, jitter=0.0)]
    elif case == "short":
        track = still_track((40, 10), (8, 3), 50)
    else:  # 40 s, 30 s without a point, 40 s
        track = (still_track((40, 10), (8, 3), 40)
                 + still_track((40, 10), (8, 3), 40, start_ms=70_000, seed=1))
    assert still_proposals({1: track}, (HEIGHT, WIDTH)) == []


def test_still_proposals_merge_and_clip():
    tracks = {1: still_track((57, 30), (9, 3), 90),  # runs past the right edge
              2: still_track((58, 31), (3, 8), 70, start_ms=500_000, seed=2),
              3: still_track((10, 30), (8, 3), 61, seed=3)}
    zones = still_proposals(tracks, (HEIGHT, WIDTH), min_still_s=60)
    assert [(z.name, z.source) for z in zones] == [("bed", "still for 160 s (tracks 1, 2)"),
                                                   ("bed-2", "still for 61 s (track 3)")]
    assert zones[0].box_xyxy[2] == WIDTH


def test_propose_zones_keeps_annotated_beds(tmp_path):
    path = write_raw_annotations(tmp_path / "REC_A_annotation.jsonl")
    tracks = {1: still_track((11, 7.5), (9, 3), 100),  # on the annotated bed
              2: still_track((20, 33), (3, 8), 100, seed=5)}  # on the floor: a new bed
    zones = propose_zones((HEIGHT, WIDTH), path, tracks)
    assert [(z.name, z.kind, z.source) for z in zones] == [
        ("bed", "bed", "furniture annotation, 7 frames"),
        ("couch", "couch", "furniture annotation, 5 frames"),
        ("chair", "chair", "furniture annotation, 5 frames"),
        ("bed-2", "bed", "still for 100 s (track 2)"),
    ]
    assert len(propose_zones((HEIGHT, WIDTH))) == 0
