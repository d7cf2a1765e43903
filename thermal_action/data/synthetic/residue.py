"""Heat residue: the warm patch a person leaves where they sat or lay, fading over minutes.

Real rooms show them beside the people (the real raw annotations mark 73 such boxes, warm
beds and pillows, 0.9-4.8 deg C above the room, median 1.7, measured as the 90th
percentile of the box); a detector that has never seen one takes it for a person. The
surface under a resting person warms towards a share of the person's heat; every patch
cools towards the room exponentially. Temperatures in deg C above the room, on the (H, W)
pixel grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from thermal_action.data.synthetic.scene import Scene, SceneObject, soft_ellipse

RESTING_POSTURES = frozenset({"sitting", "lying", "lying_bed", "floor_sitting", "kneeling",
                              "crouching"})
"""Postures whose body touches a surface long enough to warm it."""
VISIBLE_C = 0.8
"""Residue warmer than this above the surface under it and above the room is annotated (as
the annotators marked it)."""


class HeatResidue:
    """The residue field of one recording. ``warm_s``: time constant of a surface warming
    under a resting person; ``fade_s``: of a patch cooling (minutes); ``share``: the part of
    the person's heat the surface reaches."""

    def __init__(self, shape: tuple[int, int], rng: np.random.Generator,
                 fade_s: tuple[float, float] = (120.0, 360.0), warm_s: float = 30.0,
                 share: tuple[float, float] = (0.2, 0.4)) -> None:
        self.field_c = np.zeros(shape, np.float32)
        self.fade_s = float(rng.uniform(*fade_s))
        self.warm_s = warm_s
        self.share = float(rng.uniform(*share))

    def seed_earlier_visits(self, scene: Scene, rng: np.random.Generator,
                            probability: float = 0.7) -> None:
        """Patches left before the recording began, where someone sat or lay: body-sized or
        pillow-sized on the bed, on a chair, or on the floor, 0.8-3.5 deg C."""
        height, width = self.field_c.shape
        for _ in range(int(rng.random() < probability) + int(rng.random() < probability / 3)):
            place = rng.choice(["bed", "pillow", "chair", "floor"], p=[0.35, 0.25, 0.25, 0.15])
            if place in ("bed", "pillow"):
                x1, y1, x2, y2 = scene.bed_xyxy
            elif place == "chair" and any(o.name == "chair" for o in scene.objects):
                chairs = [o for o in scene.objects if o.name == "chair"]
                x1, y1, x2, y2 = chairs[int(rng.integers(len(chairs)))].box_xyxy
            else:
                ys, xs = np.nonzero(scene.floor_mask)
                pick = int(rng.integers(len(xs)))
                x1, y1, x2, y2 = xs[pick] - 3, ys[pick] - 3, xs[pick] + 3, ys[pick] + 3
            cx, cy = rng.uniform(x1, x2), rng.uniform(y1, y2)
            if place == "bed":
                rx, ry = (x2 - x1) * rng.uniform(0.25, 0.4), (y2 - y1) * rng.uniform(0.2, 0.35)
            else:
                rx, ry = rng.uniform(1.5, 3.0), rng.uniform(1.5, 3.0)
            patch = soft_ellipse(height, width, cx, cy, rx, ry, soft=1.5)
            self.field_c = np.maximum(self.field_c, rng.uniform(0.8, 3.5) * patch)

    def step(self, dt_s: float, resting_warming_c: list[np.ndarray]) -> None:
        """Advance ``dt_s`` seconds: every patch fades; the surface each resting person
        touches warms towards ``share`` of how much warmer (H, W, deg C) the person makes
        it look there (``people.contact_warming``), so no halo shows round them."""
        self.field_c *= np.float32(np.exp(-dt_s / self.fade_s))
        warm = np.float32(1.0 - np.exp(-dt_s / self.warm_s))
        for warming in resting_warming_c:
            target = self.share * warming
            self.field_c += warm * np.maximum(target - self.field_c, 0.0)

    def patches(self, scene: Scene, people_xyxy: list[np.ndarray]) -> list[SceneObject]:
        """The visible patches (``VISIBLE_C`` warmer than the surface under them and than
        the room, not under a person) as annotated objects, named after where they lie
        (bed, chair or floor)."""
        visible = (self.field_c > VISIBLE_C) & (
            scene.background_c + self.field_c > scene.room_c + VISIBLE_C)
        labels, count = ndimage.label(visible)
        found = []
        for index, region in enumerate(ndimage.find_objects(labels), start=1):
            if region is None or (labels[region] == index).sum() < 4:
                continue
            box = (float(region[1].start), float(region[0].start), float(region[1].stop),
                   float(region[0].stop))
            if any(_covered(box, person) for person in people_xyxy):
                continue
            found.append(SceneObject("furniture", _place_name(box, scene), box))
        return found


def _covered(box: tuple[float, float, float, float], person: np.ndarray) -> bool:
    """Whether most of ``box`` lies under the person's box (the person hides it)."""
    x1, y1 = max(box[0], person[0]), max(box[1], person[1])
    x2, y2 = min(box[2], person[2]), min(box[3], person[3])
    inter = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    return inter >= 0.5 * (box[2] - box[0]) * (box[3] - box[1])


def _place_name(box: tuple[float, float, float, float], scene: Scene) -> str:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for obj in scene.objects:
        x1, y1, x2, y2 = obj.box_xyxy
        if obj.category == "furniture" and x1 <= cx <= x2 and y1 <= cy <= y2:
            return obj.name
    return "floor"
