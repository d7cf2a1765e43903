"""People seen from above: posture footprints, scripted stories per action class, and
rendering to deg C heat on the pixel grid.

A posture is a few body parts in body coordinates (u along the body axis / facing
direction, v across it, pixels), each a flat-topped ellipse with sharp edges and a warmth
in deg C above the room; where parts overlap the warmer one shows, so a body is a broad
plateau of near-even warmth (as the real sensor shows people, 5-9 deg C above the room)
with the head a little warmer, not a round peak. Transitions blend two postures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from thermal_action.data.classes import FALL_RELATED, ON_BED
from thermal_action.data.classes import ActionClass as C
from thermal_action.data.synthetic.scene import Scene

# (u, v, sigma_u, sigma_v, amplitude deg C) per blob; 6 blobs so postures blend.
_B = 6
EDGE_POWER = 3
"""Profile of a body part, ``exp(-0.5 * r ** (2 * EDGE_POWER))`` at ``r`` sigmas from its
centre: flat on top, falling off within about a pixel (1 would be a Gaussian blob)."""


def _posture(*blobs: tuple[float, float, float, float, float]) -> np.ndarray:
    table = np.zeros((_B, 5), np.float32)
    table[:, 2:4] = 1.0
    table[: len(blobs)] = blobs
    return table


# Seen from above, each posture has its own signature: standing is compact and widest
# across the shoulders, crouching a round ball (the curved back), sitting shows two thighs
# in front of the head, kneeling two shins behind an upright (hot) torso and hands working
# in front of it, bending a long back ending in the head, leaning two arms reaching forward
# to a surface, sitting on the floor two long legs, lying the whole body with limbs spread.
# Sizes and warmth match the real people's warm regions per class (``data synth
# --compare``: about 35-60 px at half their peak, 5-6 deg C peak over the room).
POSTURES: dict[str, np.ndarray] = {
    "standing": _posture((0, 0, 1.0, 1.0, 4.8), (0, 0, 2.0, 3.4, 4.2)),
    "sitting": _posture(
        (-1.4, 0, 1.0, 1.0, 5.0),
        (-0.8, 0, 2.2, 3.0, 4.4),
        (2.8, 1.6, 2.2, 0.8, 4.0),
        (2.8, -1.6, 2.2, 0.8, 4.0),
    ),
    "lying": _posture(
        (-5.0, 0, 1.1, 1.1, 5.5),
        (-1.6, 0, 2.8, 2.0, 4.4),
        (3.9, 1.6, 2.6, 0.7, 3.8),
        (3.9, -1.6, 2.6, 0.7, 3.8),
        (-3.0, 3.4, 1.4, 0.7, 3.4),
        (-3.0, -3.4, 1.4, 0.7, 3.4),
    ),
    "leaning": _posture(
        (1.4, 0, 1.0, 1.0, 4.8), (0, 0, 2.2, 3.0, 4.2), (4.6, 1.8, 0.9, 0.7, 3.6),
        (4.6, -1.8, 0.9, 0.7, 3.6), (3.0, 1.2, 1.3, 0.6, 3.4), (3.0, -1.2, 1.3, 0.6, 3.4),
    ),
    "kneeling": _posture(
        (0, 0, 1.0, 1.0, 5.6), (0, 0, 1.9, 2.4, 5.0), (-4.4, 1.0, 2.8, 0.8, 3.8),
        (-4.4, -1.0, 2.8, 0.8, 3.8),
    ),
    "bending": _posture(
        (4.4, 0, 1.3, 1.3, 4.8), (1.8, 0, 2.6, 2.0, 4.2), (-1.0, 0, 1.6, 2.4, 4.0),
        (4.6, 1.9, 1.0, 0.6, 3.6), (4.6, -1.9, 1.0, 0.6, 3.6),
    ),
    "crouching": _posture(
        (0.8, 0, 1.0, 1.0, 4.6), (0, 0, 2.6, 2.6, 4.4), (2.6, 1.8, 1.1, 0.7, 3.8),
        (2.6, -1.8, 1.1, 0.7, 3.8),
    ),
    "floor_sitting": _posture(
        (-2.2, 0, 1.0, 1.0, 5.0), (-1.6, 0, 2.2, 3.0, 4.4), (2.8, 1.1, 3.2, 0.9, 3.8),
        (2.8, -1.1, 3.2, 0.9, 3.8),
    ),
}
POSTURES["lying_bed"] = POSTURES["lying"] * np.array([1, 1, 1, 1, 0.95], np.float32)
POSTURES["lying_bed"][0, 4] = 5.5  # the head stays out of the blanket

# Class -> posture held by its static episodes.
STATIC_POSTURE = {
    C.SITTING: "sitting",
    C.STANDING: "standing",
    C.WALKING: "standing",
    C.LYING_RISK: "lying",
    C.LYING_BED: "lying_bed",
    C.LEANING: "leaning",
    C.LOW_OTHER: "floor_sitting",
    C.KNEELING: "kneeling",
    C.BENDING: "bending",
    C.CROUCHING: "crouching",
    C.OTHER: "standing",
}


class Episode(NamedTuple):
    """One labelled stretch of a person's story, times in seconds."""

    label: int
    start_s: float
    end_s: float
    posture_from: str
    posture_to: str  # equal to posture_from for static episodes


class Person(NamedTuple):
    """A simulated person: body, story and path."""

    episodes: list[Episode]
    scale: float  # body size factor
    warmth: float  # amplitude factor
    angle: float  # body axis, radians
    path_xy: np.ndarray  # (K, 2) waypoints in pixels; walking follows them
    speed_px_s: float
    fall_shift_px: float  # how far the body centre moves along the axis in a fall


AXIS_ALIGNED_P = 0.6
"""Share of people placed off the bed whose body axis lies along the room's axes."""
FALL_ON_COLD_FLOOR_P = 0.7
"""Share of people who fall that do so on the room's cold stretch of open floor, as most
real falls (staged on the open floor, 2-3 deg C below the room) show."""

LOW_POSTURE_LABEL = {"sitting": C.SITTING, "crouching": C.CROUCHING, "kneeling": C.KNEELING}


def make_story(targets: Sequence[int], duration_s: float,
               rng: np.random.Generator) -> list[Episode]:
    """Episodes of a person whose recording focuses on the classes ``targets``.

    Segments share the duration; a change of posture between segments is a normal
    transition. A fall is followed by lying with risk and ends the story; a bed story
    starts sitting on the bed and ends lying on it.
    """
    episodes: list[Episode] = []
    t = 0.0
    posture = "standing"

    def add(label: int, length: float, posture_from: str, posture_to: str | None = None) -> None:
        nonlocal t, posture
        end = min(t + length, duration_s)
        if end > t:
            episodes.append(Episode(label, t, end, posture_from, posture_to or posture_from))
        t = end
        posture = posture_to or posture_from

    def change_to(new_posture: str) -> None:
        if new_posture != posture:
            add(C.TRANSITION_NORMAL, rng.uniform(1.5, 2.5), posture, new_posture)

    if any(target in ON_BED for target in targets):
        posture = "sitting"
        add(C.SITTING, rng.uniform(0.3, 0.5) * duration_s, "sitting")
        add(C.TRANSITION_BED, rng.uniform(2.0, 3.0), "sitting", "lying_bed")
        add(C.LYING_BED, duration_s, "lying_bed")
        return episodes

    falls = [target for target in targets if target in FALL_RELATED]
    ordinary = [target for target in targets if target not in FALL_RELATED]
    # The fall, the stillness after it and the standing before it need about two segments.
    fall_share = min(0.6, rng.uniform(1.5, 2.0) / len(targets)) if falls else 0.0
    segment_s = duration_s * (1 - fall_share) / max(len(ordinary), 1)
    posture = STATIC_POSTURE.get(ordinary[0], "standing") if ordinary else "standing"
    for number, target in enumerate(ordinary, start=1):
        segment_end = number * segment_s
        if target == C.TRANSITION_NORMAL:  # several posture changes back and forth
            low = str(rng.choice(list(LOW_POSTURE_LABEL)))
            while t < segment_end - 1.5:
                up = posture != "standing"
                add(C.TRANSITION_NORMAL, rng.uniform(1.5, 3.0), posture,
                    "standing" if up else low)
                add(C.STANDING if up else LOW_POSTURE_LABEL[low], rng.uniform(2.0, 4.0),
                    posture)
        else:
            change_to(STATIC_POSTURE[target])
            add(target, max(segment_end - t, 1.0), posture)
    if falls:
        change_to("standing")
        add(C.STANDING, rng.uniform(1.5, 3.0), "standing")
        add(C.TRANSITION_RISK, rng.uniform(1.2, 1.8), "standing", "lying")
        add(C.LYING_RISK, duration_s, "lying")
    elif t < duration_s:
        last = episodes[-1].label
        add(C.STANDING if last == C.TRANSITION_NORMAL else last, duration_s, posture)
    return episodes


def make_person(
    targets: Sequence[int],
    duration_s: float,
    scene: Scene,
    taken_xy: list[np.ndarray],
    rng: np.random.Generator,
) -> Person:
    """Place a person whose story focuses on ``targets`` away from the others."""
    episodes = make_story(targets, duration_s, rng)
    # Body size and skin/clothing warmth, calibrated on the real boxes and peak temperatures.
    scale, warmth = float(rng.uniform(1.1, 1.4)), float(rng.uniform(1.1, 1.5))
    if any(target in ON_BED for target in targets):
        x1, y1, x2, y2 = scene.bed_xyxy
        start = np.array([(x1 + x2) / 2 + rng.uniform(-1, 1), (y1 + y2) / 2 + rng.uniform(-1, 1)])
        angle = float(rng.choice([0.0, np.pi]) + rng.normal(0, 0.1))  # along the bed
    else:
        floor = scene.floor_mask
        if (any(target in FALL_RELATED for target in targets) and scene.cold_floor_mask.any()
                and rng.random() < FALL_ON_COLD_FLOOR_P):
            floor = scene.cold_floor_mask
        free = np.argwhere(floor)[:, ::-1].astype(np.float64)  # (x, y)
        for other in taken_xy:
            free = free[np.hypot(*(free - other).T) > 14]
        if not len(free):
            free = np.argwhere(scene.floor_mask)[:, ::-1].astype(np.float64)
        start = free[rng.integers(len(free))] + rng.uniform(-0.5, 0.5, 2)
        # Rooms are rectangular: most people face along a wall or a piece of furniture.
        angle = float(rng.integers(4) * np.pi / 2 + rng.normal(0, 0.25)
                      if rng.random() < AXIS_ALIGNED_P else rng.uniform(0, 2 * np.pi))
    waypoints = [start]
    if any(ep.label == C.WALKING for ep in episodes):
        floor = np.argwhere(scene.floor_mask)[:, ::-1].astype(np.float64)
        waypoints += [floor[rng.integers(len(floor))] for _ in range(12)]
    return Person(
        episodes,
        scale,
        warmth,
        angle,
        np.array(waypoints),
        float(rng.uniform(8, 14)),
        float(rng.uniform(3.0, 5.0)),
    )


def label_at(person: Person, t_s: float) -> int | None:
    """Class of the episode active at ``t_s``, None after the story ends."""
    for episode in person.episodes:
        if episode.start_s <= t_s < episode.end_s:
            return episode.label
    return None


def resting_posture_at(person: Person, t_s: float) -> str | None:
    """The posture held at ``t_s`` when the person holds one still (not walking, not in a
    transition), else None."""
    for episode in person.episodes:
        if episode.start_s <= t_s < episode.end_s:
            still = episode.posture_from == episode.posture_to and episode.label != C.WALKING
            return episode.posture_from if still else None
    return None


def blend_postures(start: np.ndarray, end: np.ndarray, progress: float) -> np.ndarray:
    """Posture ``progress`` (0..1) of the way from ``start`` to ``end`` (both (B, 5)). A
    blob present on one side only keeps its place and size and only fades in or out, so
    a limb does not grow out of the body's centre."""
    start_geometry, end_geometry = start[:, :4].copy(), end[:, :4].copy()
    start_geometry[start[:, 4] <= 0] = end[start[:, 4] <= 0, :4]
    end_geometry[end[:, 4] <= 0] = start[end[:, 4] <= 0, :4]
    blended = np.empty_like(start)
    blended[:, :4] = (1 - progress) * start_geometry + progress * end_geometry
    blended[:, 4] = (1 - progress) * start[:, 4] + progress * end[:, 4]
    return blended


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _walk_position(person: Person, distance_px: float) -> tuple[np.ndarray, float]:
    """Point and heading ``distance_px`` along the waypoint path (ping-pong at its end)."""
    points = person.path_xy
    if len(points) < 2:
        return points[0], person.angle
    legs = np.diff(points, axis=0)
    lengths = np.maximum(np.hypot(*legs.T), 1e-6)
    total = lengths.sum()
    distance_px %= 2 * total
    forward = distance_px <= total
    distance_px = distance_px if forward else 2 * total - distance_px
    index = int(np.searchsorted(np.cumsum(lengths), distance_px))
    index = min(index, len(legs) - 1)
    offset = distance_px - (np.cumsum(lengths)[index] - lengths[index])
    direction = legs[index] / lengths[index]
    heading = float(np.arctan2(direction[1], direction[0])) + (0 if forward else np.pi)
    return points[index] + direction * offset, heading


def body_state(person: Person, t_s: float) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(blobs (B, 5) in body coordinates, centre (x, y) px, body angle) at ``t_s``."""
    walked = 0.0
    centre, angle = person.path_xy[0].copy(), person.angle
    for episode in person.episodes:
        if t_s < episode.start_s:
            break
        active_end = min(t_s, episode.end_s)
        if episode.label == C.WALKING:
            walked += (active_end - episode.start_s) * person.speed_px_s
            centre, angle = _walk_position(person, walked)
        if episode.start_s <= t_s < episode.end_s:
            blobs = POSTURES[episode.posture_from].copy()
            if episode.posture_to != episode.posture_from:
                span = episode.end_s - episode.start_s
                if episode.label == C.TRANSITION_RISK:  # a fall: mostly in under a second
                    progress = _smoothstep((t_s - episode.start_s) / min(0.8, span))
                else:
                    progress = _smoothstep((t_s - episode.start_s) / span)
                blobs = blend_postures(blobs, POSTURES[episode.posture_to], progress)
                if episode.label == C.TRANSITION_RISK:
                    shift = progress * person.fall_shift_px
                    centre = centre + shift * np.array([np.cos(angle), np.sin(angle)])
            elif episode.label == C.WALKING:  # gait: arms, legs swing at ~1.8 Hz, body sways
                phase = 2 * np.pi * 1.8 * t_s
                blobs[2] = (3.2 * np.sin(phase), 1.1, 1.5, 0.9, 3.8)
                blobs[3] = (-3.2 * np.sin(phase), -1.1, 1.5, 0.9, 3.8)
                blobs[4] = (-2.4 * np.sin(phase), 3.4, 1.4, 0.8, 3.6)
                blobs[5] = (2.4 * np.sin(phase), -3.4, 1.4, 0.8, 3.6)
                blobs[:, 1] += 0.3 * np.sin(phase / 2)
            elif episode.label == C.OTHER:  # arm exercise, arms out and in at ~1 Hz
                reach = 1.5 + 4.0 * abs(np.sin(2 * np.pi * 0.8 * t_s))
                blobs[2] = (0.0, reach, 0.9, 1.8, 3.6)
                blobs[3] = (0.0, -reach, 0.9, 1.8, 3.6)
            elif episode.label == C.KNEELING:  # working with the hands in front, ~0.6 Hz
                reach = 3.0 + 1.4 * np.sin(2 * np.pi * 0.6 * t_s)
                blobs[4] = (reach, 0.6, 0.8, 0.7, 3.6)
            elif episode.label == C.BENDING:  # slow bob of the head
                blobs[0, 0] += 0.6 * np.sin(2 * np.pi * 0.4 * t_s)
            return blobs, centre, angle
        if episode.label == C.TRANSITION_RISK:
            centre = centre + person.fall_shift_px * np.array([np.cos(angle), np.sin(angle)])
    return None


def render_person(
    blobs: np.ndarray,
    centre_xy: np.ndarray,
    angle: float,
    scale: float,
    warmth: float,
    height: int,
    width: int,
    breathing: float = 0.0,
) -> np.ndarray:
    """Heat (deg C above the room) of one person on the (H, W) grid: each pixel shows the
    warmest body part over it; all blobs are evaluated in one broadcast (K, H, W) array."""
    active = np.asarray(blobs, np.float32)
    active = active[active[:, 4] > 0]
    if not len(active):
        return np.zeros((height, width), np.float32)
    yy = np.arange(height, dtype=np.float32)[None, :, None]
    xx = np.arange(width, dtype=np.float32)[None, None, :]
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    scale, gain = np.float32(scale), np.float32(warmth * (1 + breathing))
    u, v, su, sv, amplitude = (column[:, None, None] for column in active.T)
    dx = xx - np.float32(centre_xy[0]) - scale * (u * cos - v * sin)  # (K, 1, W)
    dy = yy - np.float32(centre_xy[1]) - scale * (u * sin + v * cos)  # (K, H, 1)
    du = (dx * cos + dy * sin) / (su * scale)
    dv = (dy * cos - dx * sin) / (sv * scale)
    profile = np.exp(-0.5 * (du * du + dv * dv) ** EDGE_POWER)
    return (amplitude * gain * profile).max(axis=0)


COVER_C = 1.0
"""Heat above the room (deg C) from which a body hides the surface under it completely."""


def cover(surface_c: np.ndarray, heat_c: np.ndarray, room_c: float) -> np.ndarray:
    """What the sensor sees where people's heat ``heat_c`` (H, W, deg C above the room
    ``room_c``) lies over the room's surfaces ``surface_c`` (H, W, deg C): a body is
    ``room_c + heat_c`` warm whatever it stands or lies on (as warm on a cold floor as
    anywhere), its soft edge (heat under ``COVER_C``) blends into the surface, and a
    surface warmer than the body shows through."""
    coverage = np.clip(heat_c / COVER_C, 0.0, 1.0)
    return surface_c + coverage * np.maximum(room_c + heat_c - surface_c, 0.0)


def contact_warming(surface_c: np.ndarray, heat_c: np.ndarray, room_c: float) -> np.ndarray:
    """How much warmer (H, W, deg C) a person makes the surface they rest on look, where
    their body covers it whole (heat from ``COVER_C``); 0 under their soft edge, which
    does not touch the surface."""
    warming = cover(surface_c, heat_c, room_c) - surface_c
    return np.where(heat_c >= COVER_C, warming, 0.0).astype(np.float32)
