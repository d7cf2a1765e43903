"""Pure numpy operations on thermal clips: (T, H, W) float32 arrays in deg C.

Registered wrappers in ``thermal.py`` adapt these to MMAction2's ``results`` dicts.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from thermal_action.data.sensor import INVALID_BELOW_C, invalid_mask, unreadable_mask


def repair_invalid_pixels(temps_c: np.ndarray) -> tuple[np.ndarray, float]:
    """Fill invalid pixels of a (T, H, W) clip; return the repaired clip and the invalid fraction.

    Every pixel of a frame that lost packets (``PACKET_LOSS_SHARE``) counts as invalid:
    its other readings may be displaced (unless no frame of the clip kept its packets).
    Each invalid pixel holds the last valid reading of the same pixel earlier in the clip.
    Pixels with no earlier reading take the nearest valid pixel of the same frame; a frame
    with no valid pixel at all takes the next frame's repaired values.
    Raises ``ValueError`` when the clip has no valid pixel at all.
    """
    low, high = float(temps_c.min()), float(temps_c.max())
    if low > INVALID_BELOW_C and np.isfinite(low) and np.isfinite(high):
        return temps_c.astype(np.float32, copy=False), 0.0  # the common case, two reductions
    invalid = unreadable_mask(temps_c)
    if invalid.all():  # no frame kept its packets: use the readings where they landed
        invalid = invalid_mask(temps_c)
    fraction = float(invalid.mean())
    if invalid.all():
        raise ValueError("every pixel of the clip is invalid (-273.2 or non-finite)")

    num_frames = temps_c.shape[0]
    valid = ~invalid
    frame_ids = np.arange(num_frames)[:, None, None]
    last_valid = np.maximum.accumulate(np.where(valid, frame_ids, -1), axis=0)
    held = np.take_along_axis(temps_c, last_valid.clip(min=0), axis=0)
    out = np.where(last_valid >= 0, held, np.nan).astype(np.float32)

    for t in range(num_frames):
        holes = np.isnan(out[t])
        if not holes.any():
            continue
        if holes.all():
            continue  # filled from the next frame below
        nearest = ndimage.distance_transform_edt(holes, return_distances=False, return_indices=True)
        out[t] = out[t][tuple(nearest)]
    for t in range(num_frames - 2, -1, -1):
        if np.isnan(out[t]).all():
            out[t] = out[t + 1]
    return out, fraction


def normalize_temperature(
    temps_c: np.ndarray,
    mode: str = "fixed",
    mean_c: float = 15.0,
    std_c: float = 10.0,
    min_std_c: float = 0.5,
) -> np.ndarray:
    """Standardize temperatures.

    ``fixed``: ``(t - mean_c) / std_c`` with the seed's 15 / 10 deg C.
    ``per_clip``: subtract the clip's mean and divide by its std (at least ``min_std_c``),
    which removes room-temperature offsets between sensors and seasons.
    """
    if mode == "fixed":
        return ((temps_c - mean_c) / std_c).astype(np.float32)
    if mode == "per_clip":
        std = max(float(temps_c.std()), min_std_c)
        return ((temps_c - float(temps_c.mean())) / std).astype(np.float32)
    raise ValueError(f"unknown normalization mode {mode!r}; expected 'fixed' or 'per_clip'")


def flip_clip(
    temps: np.ndarray,
    boxes_xyxy: np.ndarray | None,
    horizontal: bool,
    vertical: bool,
    transpose: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror a (T, H, W) clip and its pixel boxes; a top-down view has no preferred side.
    ``transpose`` first swaps rows and columns (a square clip only); with both flips it
    gives every quarter turn and mirror image."""
    if transpose:
        if temps.shape[1] != temps.shape[2]:
            raise ValueError(f"transpose needs square frames, got {temps.shape[1:3]}")
        temps = temps.transpose(0, 2, 1)
        if boxes_xyxy is not None:
            boxes_xyxy = boxes_xyxy[:, [1, 0, 3, 2]].copy()
    height, width = temps.shape[1:3]
    if horizontal:
        temps = temps[:, :, ::-1]
        if boxes_xyxy is not None:
            boxes_xyxy = boxes_xyxy.copy()
            boxes_xyxy[:, [0, 2]] = width - boxes_xyxy[:, [2, 0]]
    if vertical:
        temps = temps[:, ::-1, :]
        if boxes_xyxy is not None:
            boxes_xyxy = boxes_xyxy.copy()
            boxes_xyxy[:, [1, 3]] = height - boxes_xyxy[:, [3, 1]]
    return np.ascontiguousarray(temps), boxes_xyxy


def affine_clip(
    temps: np.ndarray,
    boxes_xyxy: np.ndarray | None,
    scale: float,
    shift_xy_px: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scale about the frame centre and translate by ``shift_xy_px`` pixels, replicating the
    border (the room continues past the edge); boxes follow and are clipped to the frame."""
    height, width = temps.shape[1:3]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    matrix = np.array(
        [
            [scale, 0, (1 - scale) * cx + shift_xy_px[0]],
            [0, scale, (1 - scale) * cy + shift_xy_px[1]],
        ],
        dtype=np.float64,
    )
    out = np.stack(
        [
            cv2.warpAffine(
                frame,
                matrix,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            for frame in temps
        ]
    ).astype(np.float32)
    if boxes_xyxy is not None and len(boxes_xyxy):
        x = boxes_xyxy[:, [0, 2]] * scale + matrix[0, 2]
        y = boxes_xyxy[:, [1, 3]] * scale + matrix[1, 2]
        boxes_xyxy = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1).astype(np.float32)
        boxes_xyxy[:, 0::2] = boxes_xyxy[:, 0::2].clip(0, width)
        boxes_xyxy[:, 1::2] = boxes_xyxy[:, 1::2].clip(0, height)
    return out, boxes_xyxy


def crop_around(
    temps: np.ndarray,
    centre_xy: tuple[float, float],
    size_hw: tuple[int, int],
    boxes_xyxy: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Cut a fixed ``size_hw`` (rows, columns) window centred on ``centre_xy`` pixels out of
    every frame of (T, H, W) ``temps``; parts past the frame edge replicate the border (the
    room continues). Boxes move into the window's coordinates (not clipped). Returns the
    crop, the boxes and the window's top-left corner (x, y) in frame pixels."""
    rows, cols = size_hw
    if rows < 1 or cols < 1:
        raise ValueError(f"crop size must be positive, got {size_hw}")
    x0 = int(np.floor(centre_xy[0] - cols / 2 + 0.5))
    y0 = int(np.floor(centre_xy[1] - rows / 2 + 0.5))
    height, width = temps.shape[1:3]
    pad = (
        (0, 0),
        (max(0, -y0), max(0, y0 + rows - height)),
        (max(0, -x0), max(0, x0 + cols - width)),
    )
    padded = np.pad(temps, pad, mode="edge") if any(sum(p) for p in pad) else temps
    top, left = y0 + pad[1][0], x0 + pad[2][0]
    crop = np.ascontiguousarray(padded[:, top : top + rows, left : left + cols], np.float32)
    if boxes_xyxy is not None:
        boxes_xyxy = (boxes_xyxy - np.array([x0, y0, x0, y0], np.float32)).astype(np.float32)
    return crop, boxes_xyxy, (x0, y0)


def track_centres(track: np.ndarray, frame_inds: np.ndarray) -> np.ndarray:
    """Centres (T, 2) pixels of a person at the frames ``frame_inds`` (T,), from their
    boxes at some frames: ``track`` (K, 5) rows of frame index, x1, y1, x2, y2. Linear
    between known frames; before the first and after the last, the nearest known one."""
    track = np.asarray(track, np.float64).reshape(-1, 5)
    if not len(track):
        raise ValueError("a person track needs at least one box")
    track = track[np.argsort(track[:, 0], kind="stable")]
    centres = (track[:, 1:3] + track[:, 3:5]) / 2
    frames = np.asarray(frame_inds, np.float64)
    return np.stack([np.interp(frames, track[:, 0], centres[:, 0]),
                     np.interp(frames, track[:, 0], centres[:, 1])], axis=1)


def crop_along(
    temps: np.ndarray, centres_xy: np.ndarray, size_hw: tuple[int, int], key_index: int,
    boxes_xyxy: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Like ``crop_around``, but each frame t of (T, H, W) ``temps`` is cut around its own
    centre ``centres_xy[t]`` (pixels): the window follows a moving person. Boxes (drawn on
    frame ``key_index``) and the returned origin are those of that frame's window."""
    if len(centres_xy) != len(temps):
        raise ValueError(f"{len(centres_xy)} centres for {len(temps)} frames")
    crops = [crop_around(temps[t : t + 1], tuple(centres_xy[t]), size_hw)[0][0]
             for t in range(len(temps))]
    _, boxes_xyxy, origin = crop_around(temps[key_index : key_index + 1],
                                        tuple(centres_xy[key_index]), size_hw, boxes_xyxy)
    return np.stack(crops), boxes_xyxy, origin


def dense_window_len(clip_len: int, frame_interval: int, max_shift_frames: int,
                     max_speed: float, anchor: str = "centre") -> int:
    """Frames a dense (every-frame) window centred on the keyframe needs so that
    ``temporal_indices`` never runs past it: the sparse span at the fastest speed plus the
    largest shift on either side (even, so the keyframe sits at its middle); a clip that
    ends at the keyframe (``anchor='end'``) needs its whole span before the middle."""
    if anchor == "end":
        half = int(np.ceil((clip_len - 1) * frame_interval * max_speed)) + int(max_shift_frames)
        return 2 * (half + 1)
    span = int(np.ceil(clip_len * frame_interval * max_speed)) + 2 * int(max_shift_frames) + 2
    return span + span % 2


def temporal_indices(dense_len: int, clip_len: int, frame_interval: int, shift_frames: float,
                     speed: float, anchor: str = "centre") -> np.ndarray:
    """Indices (clip_len,) into a dense window of ``dense_len`` frames centred on the
    keyframe: ``clip_len`` frames every ``frame_interval * speed`` frames, centred (with
    ``anchor='end'``: ending) ``shift_frames`` after the keyframe. Speed 1 and shift 0 pick
    exactly the frames that ``LoadThermalWindow(clip_len, frame_interval, anchor=anchor)``
    reads (the test-time clip)."""
    steps = np.arange(clip_len) - ((clip_len - 1) if anchor == "end" else clip_len / 2)
    offsets = speed * frame_interval * steps
    inds = np.round(dense_len // 2 + shift_frames + offsets).astype(np.int64)
    if inds[0] < 0 or inds[-1] >= dense_len:
        raise ValueError(f"a {dense_len}-frame window is too short for {clip_len} frames every "
                         f"{frame_interval * speed:g} frames shifted by {shift_frames:g}")
    return inds


def jitter_temperature(temps_c: np.ndarray, offset_c: float, gain: float) -> np.ndarray:
    """Simulate sensor calibration drift: scale contrast about the clip mean by ``gain`` and
    shift every pixel by ``offset_c`` deg C."""
    mean = float(temps_c.mean())
    return (mean + gain * (temps_c - mean) + offset_c).astype(np.float32)


def to_channels(frames: np.ndarray | list, num_channels: int) -> np.ndarray:
    """(T, H, W) or a list of (H, W) frames -> (T, H, W, C) float32 with the value repeated
    over ``num_channels`` (3 matches RGB-pretrained stems, 1 is the thermal-native input)."""
    clip = np.asarray(frames, dtype=np.float32)
    if clip.ndim == 4 and clip.shape[-1] == 1:
        clip = clip[..., 0]
    if clip.ndim != 3:
        raise ValueError(f"expected (T, H, W) single-channel frames, got shape {clip.shape}")
    return np.repeat(clip[..., None], num_channels, axis=-1)
