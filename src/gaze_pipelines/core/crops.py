"""Face and eye boxes, facegrid and landmark eye features, as TAO computes them.

Landmark layout: the common 68 points, 0-based; 36-41 outline the subject's right eye (image
left), 42-47 the subject's left eye. TAO's "left" is the subject's left: ``lefteyebbx`` is built
from points 42 and 45, ``righteyebbx`` from 36 and 39.
"""

from __future__ import annotations

import numpy as np

RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
RIGHT_EYE_CORNERS = (36, 39)
LEFT_EYE_CORNERS = (42, 45)
MOUTH_CORNERS = (48, 54)
PUPIL_START = 68  # 104-point layout: 4 pupil outline points per eye from index 68


def tao_face_box(
    x1: float, y1: float, x2: float, y2: float, frame_w: int, frame_h: int, scale: float = 1.3
) -> tuple[tuple[float, float, float, float], tuple[int, int, int]]:
    """TAO face box post-processing: ``y1 = max(0, y1 - 0.2 h)``, then square, scaled by 1.3.

    Returns the legacy (shifted) box ``(x1, y1, x2, y2)`` and the square box ``(x, y, side)``
    kept inside the frame (TAO's ``FaceBboxStrategy.get_square_bbox``).
    """
    h = y2 - y1
    y1 = max(0.0, y1 - 0.2 * h)
    legacy = (x1, y1, x2, y2)
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    side = max(w * scale, h * scale)
    upper, lower = int(cy - side / 2), int(cy + side / 2)
    left, right = int(cx - side / 2), int(cx + side / 2)
    if left < 0:
        right += -left
        left = 0
    if right > frame_w:
        left -= right - frame_w
        right = frame_w
    if upper < 0:
        lower += -upper
        upper = 0
    if lower > frame_h:
        upper -= lower - frame_h
        lower = frame_h
    upper, lower = max(upper, 0), min(lower, frame_h)
    left, right = max(left, 0), min(right, frame_w)
    side_len = min(right - left, lower - upper)
    return legacy, (int(left), int(upper), int(side_len))


def tao_eye_box(
    corner_a: np.ndarray,
    corner_b: np.ndarray,
    legacy_face: tuple[float, float, float, float],
    frame_w: int,
    frame_h: int,
    scale: float = 1.1,
) -> tuple[int, int, int, int]:
    """TAO eye box from two eye corners: ``(x, y, w, h)`` or ``(-1, -1, -1, -1)``.

    The box spans from ``centre - width`` to ``centre + width / 1.5`` (``width`` = corner
    distance), clipped to the legacy face box, then squared with scale 1.1 inside the frame.
    """
    fx1, fy1, fx2, fy2 = legacy_face
    a = np.asarray(corner_a, np.float64) - (fx1, fy1)
    b = np.asarray(corner_b, np.float64) - (fx1, fy1)
    width = float(np.linalg.norm(a - b))
    centre = (a + b) / 2
    coords = np.stack([centre - width, centre + width / 1.5]) + (fx1, fy1)
    coords[:, 0] = np.clip(coords[:, 0], fx1, fx2)
    coords[:, 1] = np.clip(coords[:, 1], fy1, fy2)
    (x1, y1), (x2, y2) = coords
    w, h = scale * (x2 - x1), scale * (y2 - y1)
    side = max(w, h)
    cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    upper, lower = max(cy - side / 2, 0), min(cy + side / 2, frame_h)
    left, right = max(cx - side / 2, 0), min(cx + side / 2, frame_w)
    side_len = int(min(right - left, lower - upper))
    lower_i, right_i = int(upper) + side_len, int(left) + side_len
    if lower_i - upper <= 0 and right_i - left <= 0:
        return (-1, -1, -1, -1)
    return (int(left), int(upper), int(right_i - left), int(lower_i - upper))


def facegrid(
    box: tuple[float, float, float, float], frame_w: int, frame_h: int, grid: int = 25
) -> np.ndarray:
    """Binary ``grid x grid`` mask of the cells the face box ``(x, y, w, h)`` covers (Krafka 2016)."""
    x, y, w, h = (float(v) for v in box)
    sx, sy = grid / float(frame_w), grid / float(frame_h)
    gx1 = int(np.clip(np.floor(x * sx), 0, grid))
    gy1 = int(np.clip(np.floor(y * sy), 0, grid))
    gx2 = int(np.clip(np.ceil((x + w) * sx), 0, grid))
    gy2 = int(np.clip(np.ceil((y + h) * sy), 0, grid))
    mask = np.zeros((grid, grid), np.float32)
    mask[gy1:gy2, gx1:gx2] = 1.0
    return mask


def _side_features_no_pupil(eye: np.ndarray) -> np.ndarray:
    origin = eye[0]
    dist = np.linalg.norm(origin - eye[3]) or np.finfo(float).eps
    out = (eye - origin) / dist
    out[np.all(eye == -1, axis=1)] = -1.0  # absent points (MPIIFaceGaze has no eyelids) stay -1
    return out.reshape(-1)


def _side_features_pupil(eye: np.ndarray, pupil: np.ndarray) -> np.ndarray:
    zero_rows = np.where(pupil == 0)[0]
    keep = pupil
    if 0 in zero_rows or 2 in zero_rows:
        keep = np.delete(pupil, [0, 2], axis=0)
    elif 1 in zero_rows or 3 in zero_rows:
        keep = np.delete(pupil, [1, 3], axis=0)
    centre = keep.mean(axis=0)
    origin = eye[0]
    dist = np.linalg.norm(origin - eye[3]) or np.finfo(float).eps
    ratio_x = abs(eye[:, 0].max() - centre[0]) / (abs(centre[0] - eye[:, 0].min()) + 1)
    ratio_y = abs(eye[:, 1].max() - centre[1]) / (abs(centre[1] - eye[:, 1].min()) + 1)
    return np.concatenate(
        [
            ((eye - origin) / dist).reshape(-1),
            (centre - origin) / dist,
            (centre - eye).reshape(-1),
            [ratio_x, ratio_y],
        ]
    )


def eye_features(landmarks: np.ndarray, use_pupils: bool) -> np.ndarray:
    """TAO's 56 engineered eye features (subject's left eye first, then right; -1 padded).

    Without pupils: each eye's 6 outline points normalized by the first corner and the corner
    distance (12 values per eye at offsets 0 and 28). With pupils (points 68-75): 28 values per
    eye (outline, pupil centre, eye-to-pupil offsets, extent ratios).
    """
    lm = np.asarray(landmarks, np.float64).reshape(-1, 2)
    left, right = lm[LEFT_EYE], lm[RIGHT_EYE]
    if use_pupils and len(lm) >= PUPIL_START + 8:
        left_pupil = lm[PUPIL_START + 4 : PUPIL_START + 8]
        right_pupil = lm[PUPIL_START : PUPIL_START + 4]
        out = np.concatenate(
            [_side_features_pupil(left, left_pupil), _side_features_pupil(right, right_pupil)]
        )
        return out.astype(np.float32)
    out = np.full(56, -1.0)
    out[:12] = _side_features_no_pupil(left)
    out[28:40] = _side_features_no_pupil(right)
    return out.astype(np.float32)


def enlarge_box(
    box: tuple[float, float, float, float],
    ratio: float,
    square: bool,
    frame_w: int,
    frame_h: int,
) -> tuple[int, int, int, int]:
    """Crop box ``(x1, y1, x2, y2)`` from a tight box: scaled by ``ratio`` about its centre, made
    square on its longer side when ``square``, then shifted (not shrunk) to lie inside the frame;
    a box larger than the frame is reduced to the frame's shorter side (square) or clipped.

    Used by TAO GestureNet's hand crops (``convert_bbox_square``, ``bbox_enlarge_ratio``).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    w, h = (x2 - x1) * ratio, (y2 - y1) * ratio
    if square:
        w = h = min(max(w, h), float(min(frame_w, frame_h)))
    w, h = min(w, float(frame_w)), min(h, float(frame_h))
    left = min(max(cx - w / 2.0, 0.0), frame_w - w)
    top = min(max(cy - h / 2.0, 0.0), frame_h - h)
    x1i, y1i = int(round(left)), int(round(top))
    wi, hi = max(1, int(round(w))), max(1, int(round(h)))
    x1i, y1i = min(max(x1i, 0), frame_w - wi), min(max(y1i, 0), frame_h - hi)
    return x1i, y1i, x1i + wi, y1i + hi
