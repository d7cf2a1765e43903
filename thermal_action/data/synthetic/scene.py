"""Static room seen from a ceiling thermal sensor: temperature field, lens vignette,
furniture and appliances. Everything in deg C on the (40, 60) pixel grid."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage


class SceneObject(NamedTuple):
    """A static object: what it is and where (pixels, xyxy)."""

    category: str  # "object" or "furniture", as in the raw annotations
    name: str  # e.g. "water kettle", "bed", "chair", "table"
    box_xyxy: tuple[float, float, float, float]


class Scene(NamedTuple):
    """One room layout shared by the recordings of a session."""

    background_c: np.ndarray  # (H, W) deg C, before sensor noise
    objects: list[SceneObject]
    bed_xyxy: tuple[float, float, float, float]  # where 'on the bed/couch' postures happen
    floor_mask: np.ndarray  # (H, W) bool, free floor where people can stand or fall
    room_c: float  # median of background_c: the room people are warmer than
    cold_floor_mask: np.ndarray  # (H, W) bool, the free floor of the room's cold stretch


def soft_ellipse(
    height: int, width: int, cx: float, cy: float, rx: float, ry: float, soft: float = 0.8
) -> np.ndarray:
    """Soft-edged ellipse mask in 0..1."""
    yy, xx = np.mgrid[0:height, 0:width]
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return np.clip((1.0 - r) * max(rx, ry) / soft + 0.5, 0.0, 1.0)


def _rect(height: int, width: int, box: tuple[float, float, float, float]) -> np.ndarray:
    x1, y1, x2, y2 = box
    yy, xx = np.mgrid[0:height, 0:width]
    inside = (xx >= x1) & (xx < x2) & (yy >= y1) & (yy < y2)
    return ndimage.gaussian_filter(inside.astype(np.float32), 0.7)


def vignette_c(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """The wide-angle lens's circular field of view: warmer corners outside the circle and
    a bright rim at its edge, as seen in every real recording."""
    yy, xx = np.mgrid[0:height, 0:width]
    cx = (width - 1) / 2 + rng.normal(0, 0.8)
    cy = (height - 1) / 2 + rng.normal(0, 0.8)
    radius = rng.uniform(27.0, 30.0)
    r = np.hypot(xx - cx, (yy - cy) * 1.05)
    rim = rng.uniform(1.0, 2.0) * np.exp(-(((r - radius) / 1.1) ** 2))
    outside = rng.uniform(0.8, 1.6) * (r > radius)
    falloff = -0.6 * (r / radius) ** 2
    return (rim + outside + falloff).astype(np.float32)


def cold_floor_c(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """How much colder than the rest of the room a stretch of floor is (deg C, >= 0): one
    side of the room, 30-50 % of the view, 1.5-3.5 deg C colder behind a soft edge, as
    the real rooms' floors far from the heating are (people lie and sit there too)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    along = (xx - width / 2) * np.cos(direction) + (yy - height / 2) * np.sin(direction)
    edge = np.quantile(along, 1 - rng.uniform(0.3, 0.5))
    depth = rng.uniform(1.5, 3.5)
    return (depth / (1 + np.exp(-(along - edge) / 2.0))).astype(np.float32)


def make_scene(rng: np.random.Generator, height: int = 40, width: int = 60) -> Scene:
    """Random room: 17-21 deg C with smooth gradients and a colder stretch of floor, a
    bed/couch, a table, chairs and a hot appliance (40-45 deg C)."""
    room_c = rng.uniform(17.0, 21.0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    gradient = rng.normal(0, 0.015) * (xx - width / 2) + rng.normal(0, 0.02) * (yy - height / 2)
    smooth = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 6) * 8.0
    cold = cold_floor_c(height, width, rng)
    background = room_c + gradient + 0.5 * smooth + vignette_c(height, width, rng) - cold

    objects: list[SceneObject] = []
    occupied = np.zeros((height, width), bool)

    def place(w: float, h: float, margin: float = 4.0) -> tuple[float, float, float, float]:
        for _ in range(50):
            x1 = rng.uniform(margin, width - margin - w)
            y1 = rng.uniform(margin, height - margin - h)
            box = (x1, y1, x1 + w, y1 + h)
            region = occupied[int(y1) : int(np.ceil(y1 + h)), int(x1) : int(np.ceil(x1 + w))]
            if not region.any():
                occupied[int(y1) : int(np.ceil(y1 + h)), int(x1) : int(np.ceil(x1 + w))] = True
                return box
        return box

    bed = place(rng.uniform(16, 20), rng.uniform(8, 10))
    background += rng.uniform(0.3, 0.9) * _rect(height, width, bed)
    objects.append(SceneObject("furniture", str(rng.choice(["bed", "couch"])), bed))

    table = place(rng.uniform(8, 12), rng.uniform(5, 8))
    background -= rng.uniform(1.0, 2.5) * _rect(height, width, table)
    objects.append(SceneObject("furniture", "table", table))

    for _ in range(int(rng.integers(1, 4))):
        chair = place(4.0, 4.0, margin=3.0)
        cx, cy = (chair[0] + chair[2]) / 2, (chair[1] + chair[3]) / 2
        background += rng.uniform(-0.8, 1.0) * soft_ellipse(height, width, cx, cy, 2.0, 2.0)
        objects.append(SceneObject("furniture", "chair", chair))

    appliance = place(2.0, 2.0, margin=3.0)
    hot = np.zeros((height, width), np.float32)
    hot[int(appliance[1]) : int(appliance[1]) + 2, int(appliance[0]) : int(appliance[0]) + 2] = 1.0
    background += (rng.uniform(40.0, 45.0) - room_c) * ndimage.gaussian_filter(hot, 0.6)
    objects.append(
        SceneObject("object", str(rng.choice(["water kettle", "laptop", "heater"])), appliance)
    )

    floor = ~occupied
    floor[:4, :] = floor[-4:, :] = False
    floor[:, :5] = floor[:, -5:] = False
    return Scene(background.astype(np.float32), objects, bed, floor,
                 float(np.median(background)), floor & (cold > cold.max() / 2))
