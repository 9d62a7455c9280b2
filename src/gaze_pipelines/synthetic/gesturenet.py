"""Renderer of the embedded GestureNet sample: an articulated hand in TAO's gesture layout.

The hand is a small 3D model: a palm (rounded, tapered plate) with four three-segment fingers
and a three-segment thumb, each joint with a flexion angle and each finger with an abduction
(spread) angle, plus a forearm. It is posed (roll, pitch, yaw, scale, position), projected
orthographically and painted back to front with per-segment shading and outlines, over a
cluttered indoor or outdoor background under per-session lighting. Users differ by skin tone,
palm and finger proportions and handedness; sessions by background, location and lighting.

Six classes, as TAO GestureNet: ``thumbs_up``, ``fist``, ``stop``, ``ok``, ``two`` and
``random`` (any other hand shape: pointing, three, four, pinky, call, rock, relaxed).

Everything is deterministic: image ``(user, session, frame)`` is drawn from
``numpy.random.default_rng([seed, user, session, frame])``, independent of the order of calls.
The annotation of each frame is the TAO / Label Studio JSON (``completions[].result[]`` with a
``choices`` entry for the gesture, per-image metadata as further ``choices`` entries, and a
``rectanglelabels`` box in percent of ``original_width/height``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

GESTURES: tuple[str, ...] = ("thumbs_up", "fist", "stop", "ok", "two", "random")
RANDOM_SHAPES: tuple[str, ...] = ("point", "three", "four", "pinky", "call", "rock", "relaxed")
LOCATIONS: tuple[str, ...] = ("indoor", "outdoor")
LIGHTING: tuple[str, ...] = ("bright", "normal", "dim")

# Fingers: 0 thumb, 1 index, 2 middle, 3 ring, 4 pinky. Segment shares of the finger length.
_SEGMENT_SHARE = np.array([[0.42, 0.32, 0.26]] + [[0.46, 0.30, 0.24]] * 4)
_FINGER_BASE_X = np.array([0.46, 0.34, 0.115, -0.115, -0.33])  # palm widths, thumb side = +x
_SKIN_TONES_BGR = np.array(
    [
        (189, 205, 241),
        (160, 186, 229),
        (130, 160, 212),
        (108, 142, 198),
        (80, 110, 160),
        (60, 85, 128),
        (45, 62, 95),
    ],
    dtype=np.float64,
)
_SS = 2  # supersampling factor of the hand layer


@dataclass(frozen=True)
class HandShape:
    """Per-user hand geometry and appearance."""

    skin_bgr: tuple[float, float, float]
    palm_height: float  # in palm widths
    finger_lengths: tuple[float, float, float, float, float]  # thumb..pinky, palm widths
    finger_width: float  # palm widths
    left_handed: bool


@dataclass(frozen=True)
class HandPose:
    """Joint angles (radians) of one hand shape: ``flex`` (5, 3), ``spread`` (5,)."""

    flex: np.ndarray
    spread: np.ndarray
    thumb_abduction: float
    roll: float = 0.0  # whole-hand roll of the gesture (radians, right hand)
    ok_ring: bool = False  # index curls in the palm plane and the thumb tip meets it


@dataclass(frozen=True)
class SessionLook:
    """Per-session scene: location, lighting, background seed and colour cast."""

    location: str
    lighting: str
    background_seed: int
    gain: float
    cast_bgr: tuple[float, float, float]
    light_angle: float


@dataclass
class RenderedHand:
    """One rendered frame: BGR image, tight hand box ``(x1, y1, x2, y2)`` in pixels, metadata."""

    image: np.ndarray
    box: tuple[float, float, float, float]
    gesture: str
    metadata: dict[str, str] = field(default_factory=dict)


def user_hand(seed: int, user_index: int, left_handed_fraction: float = 0.25) -> HandShape:
    """The hand of one user (deterministic in ``seed`` and ``user_index``)."""
    rng = np.random.default_rng([seed, 7919, user_index])
    # consecutive users walk the palette in steps of 3 (coprime with 7): any few users span it
    tone = _SKIN_TONES_BGR[(3 * user_index + seed) % len(_SKIN_TONES_BGR)]
    tone = np.clip(tone * rng.uniform(0.92, 1.08, 3), 0, 255)
    base = np.array([0.80, 0.98, 1.07, 1.00, 0.80]) * rng.uniform(0.9, 1.12)
    lengths = base * rng.uniform(0.95, 1.05, 5)
    return HandShape(
        skin_bgr=tuple(float(v) for v in tone),
        palm_height=float(rng.uniform(0.95, 1.15)),
        finger_lengths=tuple(float(v) for v in lengths),
        finger_width=float(rng.uniform(0.19, 0.24)),
        left_handed=bool(rng.random() < left_handed_fraction),
    )


def session_look(
    seed: int, user_index: int, session_index: int, outdoor_fraction: float = 0.5
) -> SessionLook:
    """The scene of one recording session."""
    rng = np.random.default_rng([seed, 104729, user_index, session_index])
    location = "outdoor" if rng.random() < outdoor_fraction else "indoor"
    lighting = str(rng.choice(LIGHTING, p=[0.3, 0.45, 0.25]))
    gain = {"bright": 1.12, "normal": 0.9, "dim": 0.58}[lighting] * rng.uniform(0.93, 1.07)
    if location == "outdoor":
        cast = (rng.uniform(1.0, 1.12), rng.uniform(0.98, 1.05), rng.uniform(0.9, 1.0))
    else:
        cast = (rng.uniform(0.85, 0.98), rng.uniform(0.95, 1.02), rng.uniform(1.0, 1.12))
    return SessionLook(
        location=location,
        lighting=lighting,
        background_seed=int(rng.integers(2**31)),
        gain=float(gain),
        cast_bgr=tuple(float(c) for c in cast),
        light_angle=float(rng.uniform(0, 2 * math.pi)),
    )


def _extended(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.05, 0.06, 3).clip(-0.1, 0.3)


def _curled(rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.uniform(1.35, 1.65), rng.uniform(1.35, 1.7), rng.uniform(0.7, 1.1)])


def _thumb_folded(rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.uniform(0.5, 0.7), rng.uniform(0.55, 0.8), rng.uniform(0.2, 0.45)])


def _thumb_out(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.05, 0.05, 3).clip(-0.05, 0.2)


def gesture_pose(gesture: str, rng: np.random.Generator) -> tuple[HandPose, str]:
    """Joint angles of ``gesture`` with natural variation; returns the pose and its shape name."""
    flex = np.zeros((5, 3))
    spread = rng.normal(0.0, 0.03, 5)
    abduction = rng.uniform(0.75, 1.0)
    shape = gesture
    if gesture == "random":
        shape = str(rng.choice(RANDOM_SHAPES))
    if shape == "stop":
        flex[0] = _thumb_out(rng)
        for f in range(1, 5):
            flex[f] = _extended(rng)
        spread[1:] += np.array([0.05, 0.0, -0.05, -0.1]) * rng.uniform(0.2, 1.0)
    elif shape == "fist":
        flex[0] = _thumb_folded(rng)
        for f in range(1, 5):
            flex[f] = _curled(rng)
        abduction = rng.uniform(0.45, 0.6)
    elif shape == "thumbs_up":
        flex[0] = _thumb_out(rng)
        for f in range(1, 5):
            flex[f] = _curled(rng)
        abduction = rng.uniform(1.35, 1.6)
    elif shape == "ok":
        flex[0] = np.array([rng.uniform(0.25, 0.4), rng.uniform(0.35, 0.5), rng.uniform(0.1, 0.3)])
        flex[1] = np.array([rng.uniform(0.8, 1.0), rng.uniform(0.95, 1.2), rng.uniform(0.8, 1.0)])
        for f in range(2, 5):
            flex[f] = _extended(rng)
        spread[2:] += np.array([0.04, -0.06, -0.16]) * rng.uniform(0.6, 1.2)
        abduction = rng.uniform(0.55, 0.7)
    elif shape == "two":
        flex[0] = _thumb_folded(rng)
        flex[1], flex[2] = _extended(rng), _extended(rng)
        flex[3], flex[4] = _curled(rng), _curled(rng)
        spread[1] += rng.uniform(0.16, 0.3)
        spread[2] -= rng.uniform(0.12, 0.24)
        abduction = rng.uniform(0.45, 0.6)
    else:  # shapes of the "random" class
        up = {
            "point": (1,),
            "three": (1, 2, 3),
            "four": (1, 2, 3, 4),
            "pinky": (4,),
            "call": (4,),
            "rock": (1, 4),
            "relaxed": (),
        }[shape]
        thumb_out = shape in ("call",) or (shape in ("three", "point") and rng.random() < 0.4)
        flex[0] = _thumb_out(rng) if thumb_out else _thumb_folded(rng)
        for f in range(1, 5):
            if shape == "relaxed":
                flex[f] = np.array(
                    [rng.uniform(0.35, 0.9), rng.uniform(0.4, 1.0), rng.uniform(0.2, 0.6)]
                )
            else:
                flex[f] = _extended(rng) if f in up else _curled(rng)
        if shape == "relaxed":
            flex[0] = np.array(
                [rng.uniform(0.1, 0.4), rng.uniform(0.2, 0.5), rng.uniform(0.1, 0.3)]
            )
        spread[1:] += rng.normal(0, 0.06, 4)
        abduction = rng.uniform(1.0, 1.3) if thumb_out else rng.uniform(0.45, 0.65)
    roll = 1.45 if shape == "thumbs_up" else 0.0  # a fist seen from the side, thumb up
    pose = HandPose(
        flex=flex, spread=spread, thumb_abduction=float(abduction), roll=roll, ok_ring=shape == "ok"
    )
    return pose, shape


def _two_link(start: np.ndarray, target: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """Elbow of a planar two-link chain from ``start`` reaching towards ``target`` (bent outwards)."""
    v = target[:2] - start[:2]
    d = float(np.clip(np.linalg.norm(v), abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6))
    base = math.atan2(v[1], v[0])
    cos_a = np.clip((l1 * l1 + d * d - l2 * l2) / (2 * l1 * d), -1.0, 1.0)
    angle = base - math.acos(cos_a)  # clockwise bend: the knuckle points away from the palm
    return np.array(
        [
            start[0] + l1 * math.cos(angle),
            start[1] + l1 * math.sin(angle),
            0.5 * (start[2] + target[2]),
        ]
    )


def _rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return rz @ ry @ rx


def hand_skeleton(shape: HandShape, pose: HandPose) -> tuple[np.ndarray, list[np.ndarray]]:
    """3D palm outline (N, 3) and finger joint chains (4, 3) each, in the hand frame.

    Hand frame: palm in the z = 0 plane, wrist at y = 0, fingers towards +y, palm facing the
    camera (+z), thumb on the +x side; units are palm widths.
    """
    h = shape.palm_height
    corners = [
        (-0.4, 0.0),
        (0.38, 0.0),
        (0.5, 0.35 * h),
        (0.5, 0.92 * h),
        (0.42, h),
        (-0.42, h),
        (-0.5, 0.9 * h),
        (-0.48, 0.3 * h),
    ]
    outline = []
    pts = np.array(corners)
    for i in range(len(pts)):  # Chaikin-smoothed polygon: rounded corners
        a, b = pts[i], pts[(i + 1) % len(pts)]
        outline.extend([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b])
    palm = np.array([(x, y, 0.0) for x, y in outline])
    chains = []
    for f in range(5):
        seg = _SEGMENT_SHARE[f] * shape.finger_lengths[f]
        if f == 0:
            base = np.array([_FINGER_BASE_X[0], 0.28 * h, 0.02])
            angle0 = pose.thumb_abduction
        else:
            base = np.array([_FINGER_BASE_X[f], 0.97 * h, 0.0])
            angle0 = pose.spread[f]
        chain = [base]
        cumulative = 0.0
        for j in range(3):
            cumulative += pose.flex[f, j]
            if f == 0:  # the thumb swings across the palm and forward as it flexes
                a = angle0 - 1.25 * cumulative
                b = 0.55 * cumulative
                d = np.array([math.sin(a) * math.cos(b), math.cos(a) * math.cos(b), math.sin(b)])
            elif f == 1 and pose.ok_ring:  # the index bends towards the thumb, in the palm plane
                a = angle0 + 1.05 * cumulative
                d = np.array([math.sin(a), math.cos(a), 0.12])
            else:
                d = np.array(
                    [
                        math.sin(angle0) * math.cos(cumulative),
                        math.cos(cumulative),
                        math.sin(cumulative),
                    ]
                )
            chain.append(chain[-1] + seg[j] * d)
        chains.append(np.array(chain))
    if pose.ok_ring:  # thumb: first segment as posed, then reach the index tip
        thumb = chains[0]
        seg = _SEGMENT_SHARE[0] * shape.finger_lengths[0]
        tip = chains[1][-1] + np.array([0.0, -0.04, 0.02])
        knuckle = _two_link(thumb[1], tip, seg[1], seg[2] + 0.05)
        chains[0] = np.array([thumb[0], thumb[1], knuckle, tip])
    return palm, chains


@functools.lru_cache(maxsize=8)
def _session_background(seed: int, location: str, w: int, h: int) -> np.ndarray:
    """The cluttered scene of a session (BGR float32 0-255), read-only."""
    brng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if location == "outdoor":
        top = np.array([brng.uniform(200, 250), brng.uniform(160, 210), brng.uniform(90, 150)])
        bottom = np.array([brng.uniform(40, 90), brng.uniform(100, 160), brng.uniform(60, 110)])
    else:
        top = brng.uniform(120, 220, 3)
        bottom = top * brng.uniform(0.5, 0.9, 3)
    img = (top * (1 - yy) + bottom * yy).astype(np.float32) * np.ones((h, w, 1), np.float32)
    n_shapes = int(brng.integers(8, 20))
    for _ in range(n_shapes):
        colour = tuple(float(c) for c in brng.uniform(20, 240, 3))
        kind = brng.integers(4)
        x, y = int(brng.integers(-w // 4, w)), int(brng.integers(-h // 4, h))
        sx, sy = int(brng.integers(w // 12, w // 2)), int(brng.integers(h // 12, h // 2))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + sx, y + sy), colour, -1)
        elif kind == 1:
            cv2.ellipse(
                img, (x, y), (sx // 2, sy // 2), float(brng.uniform(0, 180)), 0, 360, colour, -1
            )
        elif kind == 2:
            cv2.line(img, (x, y), (x + sx, y + sy), colour, int(brng.integers(2, 8)))
        else:  # skin-like distractor blob
            skin = _SKIN_TONES_BGR[brng.integers(len(_SKIN_TONES_BGR))]
            cv2.ellipse(
                img,
                (x, y),
                (sx // 4 + 2, sy // 3 + 2),
                float(brng.uniform(0, 180)),
                0,
                360,
                tuple(float(c) for c in skin),
                -1,
            )
    img = cv2.GaussianBlur(img, (0, 0), float(brng.uniform(0.8, 2.0)))
    img.setflags(write=False)
    return img


def _background(rng: np.random.Generator, look: SessionLook, w: int, h: int) -> np.ndarray:
    """Background of one frame: the session scene, moved a little (hand-held camera)."""
    img = _session_background(look.background_seed, look.location, w, h)
    shift = rng.integers(-6, 7, 2)  # the camera is hand-held: the scene moves a little
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def render_hand(
    shape: HandShape,
    pose: HandPose,
    look: SessionLook,
    rng: np.random.Generator,
    width: int = 320,
    height: int = 240,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Paint one posed hand over its session background; return (BGR uint8, tight hand box)."""
    sign = -1.0 if shape.left_handed else 1.0
    roll = sign * pose.roll + rng.normal(0.0, 0.22)
    pitch, yaw = rng.normal(0.0, 0.2), rng.normal(0.0, 0.25)
    rot = _rotation(roll, pitch, yaw)
    palm, chains = hand_skeleton(shape, pose)
    arm = np.array(
        [(-0.38, 0.05, -0.05), (0.36, 0.05, -0.05), (0.32, -2.6, -0.05), (-0.34, -2.6, -0.05)]
    )
    flip = np.diag([sign, 1.0, 1.0])

    scale = rng.uniform(0.2, 0.32) * min(width, height)  # pixels per palm width
    cx = rng.uniform(0.3, 0.7) * width
    cy = rng.uniform(0.4, 0.62) * height

    W, H = width * _SS, height * _SS

    def project(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = (np.atleast_2d(p) @ flip.T) @ rot.T
        centre = np.array([0.0, 0.55 * shape.palm_height, 0.0]) @ rot.T
        xy = np.stack([cx + (q[:, 0] - centre[0]) * scale, cy - (q[:, 1] - centre[1]) * scale], 1)
        return xy * _SS, q[:, 2]

    base = np.array(shape.skin_bgr)
    light = np.array([math.cos(look.light_angle), math.sin(look.light_angle)])
    layer = np.zeros((H, W, 3), np.float32)
    mask = np.zeros((H, W), np.uint8)
    hand_mask = np.zeros((H, W), np.uint8)
    prims: list[tuple[float, str, np.ndarray, float, bool]] = []
    arm_xy, arm_z = project(arm)
    prims.append((float(arm_z.mean()) - 1.0, "poly", arm_xy, 0.88, False))
    palm_xy, palm_z = project(palm)
    prims.append((float(palm_z.mean()), "poly", palm_xy, 1.0, True))
    fw = shape.finger_width * scale * _SS
    for f, chain in enumerate(chains):
        xy, z = project(chain)
        cumulative = np.cumsum(pose.flex[f])
        for j in range(3):
            # segments facing the camera (curled) are darker; thumb slightly wider
            shade = 0.78 + 0.22 * math.cos(min(cumulative[j], math.pi / 2))
            width_px = fw * (1.15 if f == 0 else 1.0) * (1.0 - 0.08 * j)
            depth = float(z[j : j + 2].mean()) + 0.01 * j
            prims.append((depth, f"seg{width_px:.3f}", xy[j : j + 2], shade, True))
    prims.sort(key=lambda p: p[0])
    outline = tuple(float(c) for c in base * 0.55)
    for _, kind, xy, shade, is_hand in prims:
        colour = tuple(float(c) for c in np.clip(base * shade, 0, 255))
        pts = np.round(xy).astype(np.int32)
        if kind == "poly":
            cv2.fillPoly(layer, [pts], colour, lineType=cv2.LINE_AA)
            cv2.polylines(layer, [pts], True, outline, _SS, lineType=cv2.LINE_AA)
            cv2.fillPoly(mask, [pts], 255)
            if is_hand:
                cv2.fillPoly(hand_mask, [pts], 255)
        else:
            wpx = float(kind[3:])
            thick = max(2, int(round(wpx)))
            p0, p1 = tuple(int(v) for v in pts[0]), tuple(int(v) for v in pts[1])
            cv2.line(layer, p0, p1, outline, thick + 2 * _SS, lineType=cv2.LINE_AA)
            cv2.circle(layer, p1, thick // 2 + _SS, outline, -1, lineType=cv2.LINE_AA)
            cv2.line(layer, p0, p1, colour, thick, lineType=cv2.LINE_AA)
            cv2.circle(layer, p1, thick // 2, colour, -1, lineType=cv2.LINE_AA)
            cv2.circle(layer, p0, thick // 2, colour, -1, lineType=cv2.LINE_AA)
            for m in (mask, hand_mask):
                cv2.line(m, p0, p1, 255, thick + 2 * _SS)
                cv2.circle(m, p1, thick // 2 + _SS, 255, -1)
    # directional light across the hand
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    ramp = ((gx - cx * _SS) * light[0] + (gy - cy * _SS) * light[1]) / (scale * _SS * 2.5)
    layer *= np.clip(1.0 + 0.25 * ramp, 0.6, 1.35)[..., None]
    layer = cv2.resize(layer, (width, height), interpolation=cv2.INTER_AREA)
    alpha = (
        cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    )
    hand_small = cv2.resize(hand_mask, (width, height), interpolation=cv2.INTER_AREA)

    background = _background(rng, look, width, height)
    img = background * (1 - alpha[..., None]) + layer * alpha[..., None]
    img = img * look.gain * np.array(look.cast_bgr, np.float32) * rng.uniform(0.92, 1.08)
    if rng.random() < 0.2:  # motion blur
        k = int(rng.integers(3, 7))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        rot_k = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot_k, (k, k))
        kernel /= max(kernel.sum(), 1e-6)
        img = cv2.filter2D(img, -1, kernel)
    img = img + rng.normal(0, rng.uniform(1.5, 5.0), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)

    ys, xs = np.nonzero(hand_small > 96)
    if len(xs) == 0:
        box = (0.0, 0.0, 0.0, 0.0)
    else:
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    return img, box


def render_frame(
    seed: int,
    user_index: int,
    session_index: int,
    frame_index: int,
    gesture: str,
    width: int = 320,
    height: int = 240,
    left_handed_fraction: float = 0.25,
    outdoor_fraction: float = 0.5,
) -> RenderedHand:
    """Render frame ``frame_index`` of a session of one user showing ``gesture``."""
    if gesture not in GESTURES:
        raise ValueError(f"gesture must be one of {GESTURES}, got {gesture!r}")
    shape = user_hand(seed, user_index, left_handed_fraction)
    look = session_look(seed, user_index, session_index, outdoor_fraction)
    rng = np.random.default_rng([seed, user_index, session_index, frame_index])
    pose, hand_shape = gesture_pose(gesture, rng)
    image, box = render_hand(shape, pose, look, rng, width, height)
    metadata = {
        "location": look.location,
        "lighting": look.lighting,
        "handedness": "left" if shape.left_handed else "right",
        "hand_shape": hand_shape,
    }
    return RenderedHand(image=image, box=box, gesture=gesture, metadata=metadata)


def annotation_json(
    rendered: RenderedHand,
    image_ref: str,
    task_id: int,
    gesture_label: str | None = None,
) -> dict:
    """TAO / Label Studio annotation of a rendered frame (box in percent of the image size)."""
    h, w = rendered.image.shape[:2]
    x1, y1, x2, y2 = rendered.box
    result = [
        {
            "id": f"{task_id}_gesture",
            "from_name": "gesture",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": [gesture_label or rendered.gesture]},
        },
        {
            "id": f"{task_id}_bbox",
            "from_name": "bbox",
            "to_name": "image",
            "type": "rectanglelabels",
            "original_width": int(w),
            "original_height": int(h),
            "image_rotation": 0,
            "value": {
                "x": 100.0 * x1 / w,
                "y": 100.0 * y1 / h,
                "width": 100.0 * (x2 - x1) / w,
                "height": 100.0 * (y2 - y1) / h,
                "rotation": 0,
                "rectanglelabels": ["hand"],
            },
        },
    ]
    for key in ("location", "lighting"):
        if key in rendered.metadata:
            result.append(
                {
                    "id": f"{task_id}_{key}",
                    "from_name": key,
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": [rendered.metadata[key]]},
                }
            )
    return {
        "id": int(task_id),
        "data": {"image": image_ref, "handedness": rendered.metadata.get("handedness", "")},
        "completions": [{"id": int(task_id), "result": result}],
    }
