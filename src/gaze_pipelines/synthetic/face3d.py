"""Physically consistent 3D head and eye renderer (grey frames + exact labels).

A user is a deformed generic face (:mod:`gaze_pipelines.core.face_model`: 68 landmarks, two
eyeballs) with an :class:`Appearance`. A frame places the head at a pose in front of a calibrated
:class:`Camera`; both eyeballs rotate so their optical axes pass through a 3D gaze target (for
instance a pixel of a :class:`Screen`); iris and pupil are 3D circles on the eyeball, projected
with the camera (lens distortion included), so they move with gaze. Everything drawn comes from
projecting 3D points, so the returned labels (landmarks, pupils, gaze vectors, head pose) are
exact for the image.

Usage::

    camera = Camera.default(640, 480)
    screen = Screen.below_camera((598, 336), (1920, 1080))
    rng = np.random.default_rng(0)
    user = sample_user(rng, "p01-0")
    renderer = FaceRenderer(camera, seed=0)
    spec = sample_frame(rng, user, camera, screen)
    out = renderer.render(user, spec)   # out.image (480, 640) uint8, out.landmarks_2d (68, 2), ...

Conventions: camera frame in mm, x right, y down, z forward (OpenCV); head frame as in
``core/face_model.py`` (identity rotation = facing the camera); ``p_cam = R @ p_head + t``.
Eye arrays are ordered (right, left) = subject's right eye (image left), subject's left eye.
Simplifications: no kappa (visual axis = optical axis), no self-occlusion of far-side landmarks
(head yaw is kept moderate), the face is shaded as an ellipsoid seen from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from gaze_pipelines.core import face_model as fm
from gaze_pipelines.core.geometry import camera_to_screen, euler_from_rotation, screen_to_camera

EYE_STATUS_OPEN = "open"
EYE_STATUS_CLOSED = "closed"
_SHIFT = 4  # fixed-point bits for sub-pixel cv2 drawing
_ONE = 1 << _SHIFT


# --------------------------------------------------------------------------- camera, screen


@dataclass(frozen=True)
class Camera:
    """Pinhole camera with OpenCV distortion (k1, k2, p1, p2, k3) and an image size."""

    K: np.ndarray
    dist: np.ndarray
    width: int
    height: int

    @classmethod
    def default(
        cls,
        width: int = 640,
        height: int = 480,
        focal: float | None = None,
        dist: tuple[float, ...] = (-0.06, 0.04, 0.0, 0.0, 0.0),
    ) -> Camera:
        """A webcam-like camera: focal 0.95 x width (about 56 degrees across), centred."""
        f = 0.95 * width if focal is None else focal
        K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
        return cls(K=K, dist=np.asarray(dist, np.float64), width=int(width), height=int(height))

    @classmethod
    def sample(cls, rng: np.random.Generator, width: int = 640, height: int = 480) -> Camera:
        """A plausible calibrated camera (focal, principal point, mild barrel distortion)."""
        f = width * rng.uniform(0.85, 1.1)
        K = np.array(
            [
                [round(f, 2), 0.0, round(width / 2 + rng.uniform(-0.02, 0.02) * width, 3)],
                [0.0, round(f * rng.uniform(0.998, 1.002), 2), 0.0],
                [0.0, 0.0, 1.0],
            ]
        )
        K[1, 2] = round(height / 2 + rng.uniform(-0.02, 0.02) * height, 3)
        dist = np.array([rng.uniform(-0.12, -0.02), rng.uniform(0.0, 0.08), 0.0, 0.0, 0.0]).round(6)
        return cls(K=K, dist=dist, width=int(width), height=int(height))

    @property
    def focal(self) -> float:
        """Mean focal length in pixels."""
        return float((self.K[0, 0] + self.K[1, 1]) / 2)

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points (N, 3) mm -> pixels (N, 2), lens distortion included."""
        pts = np.ascontiguousarray(np.asarray(points_cam, np.float64).reshape(-1, 1, 3))
        out, _ = cv2.projectPoints(pts, _ZERO3, _ZERO3, self.K, self.dist)
        return out.reshape(-1, 2)

    def ray(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) -> unit viewing rays (N, 3) (distortion removed)."""
        px = np.asarray(pixels, np.float64).reshape(-1, 1, 2)
        und = cv2.undistortPoints(px, self.K, self.dist).reshape(-1, 2)
        rays = np.concatenate([und, np.ones((len(und), 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)


_ZERO3 = np.zeros(3)


@dataclass(frozen=True)
class Screen:
    """A screen with TAO's extrinsics: ``g_cam = R @ [x W_mm/W_px, y H_mm/H_px, 1] + T``."""

    R: np.ndarray
    T: np.ndarray
    size_mm: tuple[float, float]
    resolution: tuple[int, int]

    @classmethod
    def below_camera(
        cls,
        size_mm: tuple[float, float] = (598.0, 336.0),
        resolution: tuple[int, int] = (1920, 1080),
        camera_offset_mm: tuple[float, float, float] = (0.0, 20.0, 0.0),
        tilt_deg: float = 0.0,
    ) -> Screen:
        """Screen facing the user with the camera on top of it (a monitor with a webcam).

        ``camera_offset_mm`` is where the screen's top-edge centre is in camera coordinates
        (x right, y down, z forward); ``tilt_deg`` leans the screen back about its top edge.
        The screen's x axis (pixel columns, left to right as the user sees it) is the camera's
        -x, its y axis the camera's y, as in TAO's recorded ``R.txt`` (about diag(-1, 1, -1)).
        """
        a = np.radians(tilt_deg)
        rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        R = rx @ np.diag([-1.0, 1.0, -1.0])
        w, h = float(size_mm[0]), float(size_mm[1])
        top_left = np.array(camera_offset_mm, np.float64) + rx @ np.array([w / 2, 0.0, 0.0])
        T = top_left - R[:, 2]  # TAO's homogeneous 1 adds R[:, 2]
        return cls(R=R, T=T, size_mm=(w, h), resolution=(int(resolution[0]), int(resolution[1])))

    def pixel_to_camera(self, pixels: np.ndarray) -> np.ndarray:
        """Screen pixels (N, 2) -> camera mm (N, 3) (TAO's formula, core.geometry)."""
        return screen_to_camera(pixels, self.R, self.T, self.size_mm, self.resolution)

    def camera_to_pixel(self, points: np.ndarray) -> np.ndarray:
        """Camera mm points on the screen plane (N, 3) -> screen pixels (N, 2)."""
        return camera_to_screen(points, self.R, self.T, self.size_mm, self.resolution)

    @property
    def centre_cam(self) -> np.ndarray:
        """Centre of the screen in camera mm."""
        return self.pixel_to_camera(np.array([[r / 2 for r in self.resolution]]))[0]


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class Appearance:
    """Grey levels (0-255, before lighting) and styling of one user."""

    skin: float = 160.0
    sclera: float = 215.0
    iris: float = 80.0
    pupil: float = 18.0
    brow: float = 60.0
    lip: float = 120.0
    hair: float = 45.0
    has_hair: bool = True
    hairline_mm: float = 55.0  # hairline height above the eye line
    brow_thickness_mm: float = 3.5
    shirt: float = 90.0
    background_seed: int = 0

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Appearance:
        """A user's look: skin tone, iris darkness, brows, lips, hair, background."""
        skin = float(rng.uniform(95.0, 205.0))
        return cls(
            skin=skin,
            sclera=float(rng.uniform(200.0, 238.0)),
            iris=float(rng.uniform(25.0, 125.0)),
            pupil=float(rng.uniform(8.0, 24.0)),
            brow=float(skin * rng.uniform(0.25, 0.6)),
            lip=float(skin * rng.uniform(0.68, 0.85)),
            hair=float(rng.choice([rng.uniform(15, 70), rng.uniform(120, 200)], p=[0.8, 0.2])),
            has_hair=bool(rng.random() < 0.9),
            hairline_mm=float(rng.uniform(45.0, 70.0)),
            brow_thickness_mm=float(rng.uniform(2.5, 4.5)),
            shirt=float(rng.uniform(20.0, 230.0)),
            background_seed=int(rng.integers(0, 2**31 - 1)),
        )


@dataclass(frozen=True)
class User:
    """A subject: identifier, 3D face geometry (head frame) and appearance."""

    user_id: str
    face: fm.FaceGeometry
    look: Appearance = field(default_factory=Appearance)


def sample_user(rng: np.random.Generator, user_id: str, generic_shape: bool = False) -> User:
    """Draw a user (face shape, iris size, skin tone, ...) deterministically from ``rng``.

    ``generic_shape=True`` keeps the exact generic face (useful to test PnP against the model).
    """
    shape = fm.UserShape.sample(rng)
    if generic_shape:
        shape = fm.UserShape(
            iris_radius=shape.iris_radius,
            eyeball_radius=fm.EYEBALL_RADIUS,
            pupil_radius=shape.pupil_radius,
        )
    return User(user_id=user_id, face=fm.deform_face(shape), look=Appearance.sample(rng))


# --------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class FrameSpec:
    """Everything that defines one frame of a user (pose, target, eyes, lighting, camera noise)."""

    head_rotation: np.ndarray  # (3, 3) head -> camera
    head_translation: np.ndarray  # (3,) mm, head-frame origin in camera coordinates
    target_cam: np.ndarray  # (3,) mm, 3D gaze target
    target_px: np.ndarray | None = None  # (2,) screen pixel of the target, if on a screen
    eyes_closed: tuple[bool, bool] = (False, False)  # (right, left)
    pupil_radius: float = fm.PUPIL_RADIUS
    light_dir: np.ndarray = field(default_factory=lambda: np.array([0.3, -0.4, -0.87]))
    ambient: float = 0.45
    gain: tuple[float, float, float] = (1.0, 0.0, 0.0)  # global gain, x and y gradients
    blur_sigma: float = 0.8
    noise_sigma: float = 3.0
    noise_seed: int = 0


def rotation_from_euler(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Head-frame rotation from angles in radians: ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``.

    With the head axes of ``core.face_model``, positive pitch turns the face down, positive
    yaw turns it toward the subject's right (image left), positive roll tilts it clockwise
    in the image.
    """
    cp, sp, cy, sy, cr, sr = (
        np.cos(pitch),
        np.sin(pitch),
        np.cos(yaw),
        np.sin(yaw),
        np.cos(roll),
        np.sin(roll),
    )
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def look_rotation(position: np.ndarray, look_at: np.ndarray) -> np.ndarray:
    """Rotation of a head at ``position`` whose face (head -z) points at ``look_at``, upright."""
    z = np.asarray(position, np.float64) - np.asarray(look_at, np.float64)
    z /= np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def sample_head_pose(
    rng: np.random.Generator,
    camera: Camera,
    look_at: np.ndarray | None = None,
    distance_mm: tuple[float, float] = (400.0, 900.0),
    jitter_deg: tuple[float, float, float] = (8.0, 10.0, 6.0),
    centre_region: tuple[float, float, float, float] = (0.3, 0.7, 0.3, 0.6),
) -> tuple[np.ndarray, np.ndarray]:
    """Random head pose facing roughly ``look_at`` (default: the camera).

    The head origin is placed at a depth in ``distance_mm`` behind a random pixel of
    ``centre_region`` (x0, x1, y0, y1 as fractions of the image); its orientation faces
    ``look_at`` with Gaussian (pitch, yaw, roll) jitter of ``jitter_deg`` (clipped at 2.5 sd).
    Returns (R, t).
    """
    z = rng.uniform(*distance_mm)
    u = rng.uniform(centre_region[0], centre_region[1]) * camera.width
    v = rng.uniform(centre_region[2], centre_region[3]) * camera.height
    ray = camera.ray(np.array([[u, v]]))[0]
    t = ray * (z / ray[2])
    target = np.zeros(3) if look_at is None else np.asarray(look_at, np.float64)
    base = look_rotation(t, target)
    jit = np.radians(np.clip(rng.normal(0.0, 1.0, 3), -2.5, 2.5) * np.asarray(jitter_deg))
    return base @ rotation_from_euler(*jit), t


def sample_frame(
    rng: np.random.Generator,
    user: User,
    camera: Camera,
    screen: Screen | None = None,
    target_px: np.ndarray | None = None,
    target_cam: np.ndarray | None = None,
    closed_eye_prob: float = 0.08,
    distance_mm: tuple[float, float] = (400.0, 900.0),
    head_follow: tuple[float, float] = (0.0, 0.6),
    max_eye_rotation_deg: float = 40.0,
    margin_px: float = 8.0,
    max_tries: int = 50,
) -> FrameSpec:
    """Random frame: target (a random screen pixel unless given), head pose, eyes, lighting.

    The head faces a point between the camera and the target (fraction drawn from
    ``head_follow``), like a person glancing at a screen. Poses whose landmarks leave the image
    (with ``margin_px``) or whose eye-in-head rotation exceeds ``max_eye_rotation_deg`` are
    redrawn.
    """
    if target_cam is None:
        if screen is None:
            raise ValueError("sample_frame needs a screen, target_px or target_cam")
        if target_px is None:
            target_px = np.array(
                [rng.integers(0, screen.resolution[0]), rng.integers(0, screen.resolution[1])]
            )
        target_cam = screen.pixel_to_camera(np.asarray(target_px)[None])[0]
    target_cam = np.asarray(target_cam, np.float64)
    for _ in range(max_tries):
        a = rng.uniform(*head_follow)
        R, t = sample_head_pose(rng, camera, a * target_cam, distance_mm)
        lm = camera.project(user.face.landmarks @ R.T + t)
        inside = (
            lm.min() >= margin_px
            and lm[:, 0].max() <= camera.width - margin_px
            and lm[:, 1].max() <= camera.height - margin_px
        )
        eyes = user.face.eyeball_centres @ R.T + t
        g = target_cam - eyes
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        cos = g @ -R[:, 2]
        if inside and np.degrees(np.arccos(np.clip(cos.min(), -1, 1))) <= max_eye_rotation_deg:
            break
    closed = rng.random() < closed_eye_prob
    eyes_closed = (closed, closed)
    if closed and rng.random() < 0.15:  # a wink
        eyes_closed = (True, False) if rng.random() < 0.5 else (False, True)
    light = np.array([rng.uniform(-0.9, 0.9), rng.uniform(-0.8, 0.4), -1.0])
    lo, hi = fm.PUPIL_RADIUS_RANGE
    return FrameSpec(
        head_rotation=R,
        head_translation=t,
        target_cam=target_cam,
        target_px=None if target_px is None else np.asarray(target_px, np.float64),
        eyes_closed=eyes_closed,
        pupil_radius=float(np.clip(user.face.pupil_radius * rng.uniform(0.7, 1.35), lo, hi)),
        light_dir=light / np.linalg.norm(light),
        ambient=float(rng.uniform(0.3, 0.65)),
        gain=(
            float(rng.uniform(0.75, 1.2)),
            float(rng.uniform(-0.25, 0.25)),
            float(rng.uniform(-0.2, 0.2)),
        ),
        blur_sigma=float(rng.uniform(0.4, 1.4)),
        noise_sigma=float(rng.uniform(1.0, 5.0)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )


# --------------------------------------------------------------------------- labels


@dataclass
class RenderResult:
    """One rendered frame and its exact labels (camera mm / image pixels)."""

    image: np.ndarray  # (H, W) uint8
    landmarks_2d: np.ndarray  # (68, 2) px
    landmarks_3d: np.ndarray  # (68, 3) mm, camera frame
    head_rotation: np.ndarray  # (3, 3) head -> camera
    head_translation: np.ndarray  # (3,) mm
    head_pitch_yaw_roll_deg: np.ndarray  # (3,) TAO convention (core.geometry.euler_from_rotation)
    eyeball_centres_3d: np.ndarray  # (2, 3) (right, left)
    eyeball_centres_2d: np.ndarray  # (2, 2)
    pupil_centres_3d: np.ndarray  # (2, 3)
    pupil_centres_2d: np.ndarray  # (2, 2)
    gaze_vectors: np.ndarray  # (2, 3) unit, eyeball centre -> target
    gaze_mean: np.ndarray  # (3,) unit, normalized mean of the two eyes' vectors
    face_centre_3d: np.ndarray  # (3,) TAO face centre (eye and mouth corners)
    target_cam: np.ndarray  # (3,) mm
    target_px: np.ndarray | None  # (2,) screen pixel
    face_bbox_tight: np.ndarray  # (4,) x, y, w, h of the 68 landmarks
    face_bbox_outer: np.ndarray  # (4,) x, y, w, h including the forehead
    eye_status: tuple[str, str]  # (right, left): "open" / "closed"
    pupil_radius: float = fm.PUPIL_RADIUS


def _extra_points(face: fm.FaceGeometry, brow_mm: float = 3.5) -> dict[str, np.ndarray]:
    """Head-frame helper contours (not landmarks): skull outline, hairline, brows, neck, nose."""
    lm = face.landmarks
    s = face.shape
    half_w = abs(lm[16, 0])
    a = np.linspace(0.0, np.pi, 17)[1:-1]
    ca, sa = np.cos(a), np.sin(a)
    skull = np.stack(  # a rounded (super-elliptic) crown from the left ear over to the right
        [
            half_w * 1.04 * np.sign(ca) * np.abs(ca) ** 0.75,
            lm[16, 1] - 108.0 * s.height * sa**0.8,
            np.full_like(a, 55.0),
        ],
        axis=1,
    )
    hl = np.linspace(0.0, np.pi, 11)
    hair_h = 55.0 * s.height
    hairline = np.stack(
        [
            half_w * 0.93 * np.cos(hl),
            -22.0 * s.height - hair_h * 0.6 * np.sin(hl),
            (35.0 - 37.0 * np.sin(hl)) * s.depth,
        ],
        axis=1,
    )
    brow_r = lm[17:22]
    brow_l = lm[22:27]
    up = np.array([0.0, -1.0, 0.0])

    def brow_poly(b: np.ndarray, outer_first: bool) -> np.ndarray:
        taper = np.linspace(0.45, 1.0, 5) if outer_first else np.linspace(1.0, 0.45, 5)
        half = taper[:, None] * brow_mm / 2
        return np.concatenate([b + up * half * 0.9, (b - up * half * 1.1)[::-1]])

    neck = np.array(  # neck, then shoulders (clothing is drawn with the neck's polygon)
        [
            [lm[3, 0] * 0.75, lm[3, 1], 55.0],
            [lm[3, 0] * 0.8, lm[3, 1] + 95.0, 55.0],
            [-200.0, lm[8, 1] + 95.0, 80.0],
            [-210.0, lm[8, 1] + 400.0, 80.0],
            [210.0, lm[8, 1] + 400.0, 80.0],
            [200.0, lm[8, 1] + 95.0, 80.0],
            [lm[13, 0] * 0.8, lm[13, 1] + 95.0, 55.0],
            [lm[13, 0] * 0.75, lm[13, 1], 55.0],
        ]
    )
    nostrils = np.array(
        [
            (lm[31] + lm[32]) / 2 + [0.5, -0.8, 1.0],
            (lm[34] + lm[35]) / 2 + [-0.5, -0.8, 1.0],
        ]
    )
    nose_side = np.array(
        [
            lm[28] + [-4.0, 0.0, 4.0],
            lm[31] + [1.5, -3.0, -1.5],
            lm[28] + [4.0, 0.0, 4.0],
            lm[35] + [-1.5, -3.0, -1.5],
        ]
    )
    crease = np.concatenate([lm[36:40], lm[42:46]]) + [0.0, -3.2, -0.5]
    return {
        "skull": skull,
        "hairline": hairline,
        "brow_r": brow_poly(brow_r, outer_first=True),
        "brow_l": brow_poly(brow_l, outer_first=False),
        "neck": neck,
        "nostrils": nostrils,
        "nose_side": nose_side,
        "crease": crease,
    }


def _closed_spline(pts: np.ndarray, n: int = 6) -> np.ndarray:
    """Closed Catmull-Rom spline through (N, 2) points, n samples per segment -> (N*n, 2)."""
    p0, p1, p2, p3 = np.roll(pts, 1, 0), pts, np.roll(pts, -1, 0), np.roll(pts, -2, 0)
    t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None, None]
    out = 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )
    return out.transpose(1, 0, 2).reshape(-1, 2)


def _fx(pts: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
    """Float pixel coordinates -> fixed-point int32 for cv2 drawing with ``shift=_SHIFT``."""
    p = np.asarray(pts, np.float64)
    if origin is not None:
        p = p - origin
    return np.round(p * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _circle_points(
    centre: np.ndarray, normal: np.ndarray, up: np.ndarray, r: float, n: int
) -> np.ndarray:
    """3D circle (n, 3) of radius r about ``centre`` in the plane orthogonal to ``normal``."""
    u = np.cross(normal, up)
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return centre + r * (np.cos(a)[:, None] * u + np.sin(a)[:, None] * v)


# Eyelid landmark pairs (upper, lower) per eye, and contour orders.
_EYE_UPPER = ((37, 38), (43, 44))
_EYE_LOWER = ((41, 40), (47, 46))
_EYE_CONTOUR = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))
_IRIS_N, _PUPIL_N = 24, 14


def frame_geometry(
    user: User, spec: FrameSpec, camera: Camera, lid_follow: tuple[float, float] = (0.6, 0.25)
) -> dict:
    """All 3D and 2D geometry of a frame (no image): landmarks, eyes, gaze, boxes, contours.

    Eyelids follow vertical gaze (upper, lower lid: ``lid_follow`` x the iris's vertical
    travel in the head frame) and close on closed eyes, so eye landmarks 37, 38, 40, 41, 43, 44, 46, 47 move with the eyes.
    """
    face = user.face
    R = np.asarray(spec.head_rotation, np.float64)
    t = np.asarray(spec.head_translation, np.float64).reshape(3)
    target = np.asarray(spec.target_cam, np.float64).reshape(3)
    eyes_cam = face.eyeball_centres @ R.T + t
    g = target - eyes_cam
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    g_head = g @ R  # gaze in head coordinates
    lm_head = face.landmarks.copy()
    d_iris = np.sqrt(max(face.eyeball_radius**2 - face.iris_radius**2, 1.0))
    for e in range(2):
        dy = d_iris * g_head[e, 1]
        up, low = list(_EYE_UPPER[e]), list(_EYE_LOWER[e])
        if spec.eyes_closed[e]:
            lm_head[up, 1] = lm_head[low, 1] - 0.6
            lm_head[up, 2] = lm_head[low, 2] - 0.8
        else:
            lm_head[up, 1] += lid_follow[0] * dy
            lm_head[low, 1] += lid_follow[1] * dy
    lm_cam = lm_head @ R.T + t
    iris_c = eyes_cam + g * d_iris
    head_up = -R[:, 1]
    iris = [_circle_points(iris_c[e], g[e], head_up, face.iris_radius, _IRIS_N) for e in range(2)]
    pupil = [
        _circle_points(iris_c[e], g[e], head_up, spec.pupil_radius, _PUPIL_N) for e in range(2)
    ]
    extra = _extra_points(face, user.look.brow_thickness_mm)
    extra_cam = {k: v @ R.T + t for k, v in extra.items()}
    # One projection call for every point of the frame.
    blocks = [lm_cam, eyes_cam, iris_c, *iris, *pupil, *extra_cam.values()]
    sizes = [len(b) for b in blocks]
    proj = np.split(camera.project(np.concatenate(blocks)), np.cumsum(sizes)[:-1])
    lm2, eyes2, iris_c2, iris_r2, iris_l2, pup_r2, pup_l2 = proj[:7]
    extra2 = dict(zip(extra_cam.keys(), proj[7:], strict=True))
    x0, y0 = lm2.min(axis=0)
    x1, y1 = lm2.max(axis=0)
    tight = np.array([x0, y0, x1 - x0, y1 - y0])
    outer = np.array(
        [x0 - 0.005 * tight[2], y0 - 0.21 * tight[3], 1.01 * tight[2], 1.22 * tight[3]]
    )
    gm = g.sum(axis=0)
    return {
        "landmarks_3d": lm_cam,
        "landmarks_2d": lm2,
        "eyeball_centres_3d": eyes_cam,
        "eyeball_centres_2d": eyes2,
        "pupil_centres_3d": iris_c,
        "pupil_centres_2d": iris_c2,
        "gaze_vectors": g,
        "gaze_mean": gm / np.linalg.norm(gm),
        "face_centre_3d": fm.face_centre(lm_cam),
        "face_bbox_tight": tight,
        "face_bbox_outer": outer,
        "iris_2d": (iris_r2, iris_l2),
        "pupil_2d": (pup_r2, pup_l2),
        "extra_2d": extra2,
        "depth": float(t[2]),
    }


# --------------------------------------------------------------------------- rendering


def _background(seed: int, width: int, height: int) -> np.ndarray:
    """A room-like grey background: gradient and a few blurred blocks (uint8)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(60, 170)
    img = base + rng.uniform(-40, 40) * xs / width + rng.uniform(-40, 40) * ys / height
    img = img.astype(np.float32)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        w, h = rng.uniform(0.1, 0.6) * width, rng.uniform(0.1, 0.6) * height
        val = float(rng.uniform(30, 220))
        if rng.random() < 0.7:
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), val, -1)
        else:
            cv2.ellipse(img, (int(x0), int(y0)), (int(w / 2), int(h / 2)), 0, 0, 360, val, -1)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(2.0, 6.0)))
    return np.clip(img, 0, 255).astype(np.uint8)


class FaceRenderer:
    """Renders :class:`FrameSpec` frames of users with one camera (caches backgrounds, noise)."""

    def __init__(self, camera: Camera, seed: int = 0, max_backgrounds: int = 16):
        self.camera = camera
        h, w = camera.height, camera.width
        rng = np.random.default_rng(seed)
        self._noise = rng.standard_normal((h + 64, w + 64)).astype(np.float32)
        self._xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
        self._ys = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
        self._backgrounds: dict[int, np.ndarray] = {}
        self._max_backgrounds = max_backgrounds

    def background(self, seed: int) -> np.ndarray:
        """The cached background of an appearance seed."""
        bg = self._backgrounds.get(seed)
        if bg is None:
            if len(self._backgrounds) >= self._max_backgrounds:
                self._backgrounds.pop(next(iter(self._backgrounds)))
            bg = _background(seed, self.camera.width, self.camera.height)
            self._backgrounds[seed] = bg
        return bg

    def render(self, user: User, spec: FrameSpec) -> RenderResult:
        """Render one frame and return it with its labels."""
        geo = frame_geometry(user, spec, self.camera)
        img = self.background(user.look.background_seed).copy()
        self._draw_face(img, user, spec, geo)
        img = self._finish(img, spec)
        R = np.asarray(spec.head_rotation, np.float64)
        t = np.asarray(spec.head_translation, np.float64)
        status = tuple(EYE_STATUS_CLOSED if c else EYE_STATUS_OPEN for c in spec.eyes_closed)
        return RenderResult(
            image=img,
            landmarks_2d=geo["landmarks_2d"],
            landmarks_3d=geo["landmarks_3d"],
            head_rotation=R,
            head_translation=t,
            head_pitch_yaw_roll_deg=euler_from_rotation(R, t),
            eyeball_centres_3d=geo["eyeball_centres_3d"],
            eyeball_centres_2d=geo["eyeball_centres_2d"],
            pupil_centres_3d=geo["pupil_centres_3d"],
            pupil_centres_2d=geo["pupil_centres_2d"],
            gaze_vectors=geo["gaze_vectors"],
            gaze_mean=geo["gaze_mean"],
            face_centre_3d=geo["face_centre_3d"],
            target_cam=np.asarray(spec.target_cam, np.float64),
            target_px=spec.target_px,
            face_bbox_tight=geo["face_bbox_tight"],
            face_bbox_outer=geo["face_bbox_outer"],
            eye_status=status,  # type: ignore[arg-type]
            pupil_radius=spec.pupil_radius,
        )

    # -- drawing ----------------------------------------------------------------------------

    def _draw_face(self, img: np.ndarray, user: User, spec: FrameSpec, geo: dict) -> None:
        look = user.look
        lm = geo["landmarks_2d"]
        ex = geo["extra_2d"]
        ppm = self.camera.focal / geo["depth"]  # pixels per mm at the face
        aa = cv2.LINE_AA

        def th(mm: float) -> int:
            return max(1, int(round(mm * ppm)))

        skin = look.skin
        neck = ex["neck"]
        cv2.fillPoly(img, [_fx(neck)], look.shirt, aa, _SHIFT)
        cv2.fillPoly(img, [_fx(np.concatenate([neck[:2], neck[-2:]]))], skin * 0.7, aa, _SHIFT)
        outline = np.concatenate([lm[0:17], ex["skull"]])
        cv2.fillPoly(img, [_fx(outline)], skin, aa, _SHIFT)
        if look.has_hair:
            hair = np.concatenate([ex["skull"][::-1], ex["hairline"]])
            cv2.fillPoly(img, [_fx(hair)], look.hair, aa, _SHIFT)
        # Nose: shadow on the side away from the light, highlight along the ridge, nostrils.
        side = ex["nose_side"][:2] if spec.light_dir[0] > 0 else ex["nose_side"][2:]
        nose_shadow = np.concatenate([lm[[27]], side[:1], side[1:], lm[[30]]])
        cv2.fillPoly(img, [_fx(nose_shadow)], skin * 0.86, aa, _SHIFT)
        cv2.polylines(img, [_fx(lm[27:31])], False, min(255.0, skin * 1.1), th(1.2), aa, _SHIFT)
        cv2.polylines(img, [_fx(lm[31:36])], False, skin * 0.62, th(0.9), aa, _SHIFT)
        for c in ex["nostrils"]:
            axes = (max(1, int(2.6 * ppm * _ONE)), max(1, int(1.2 * ppm * _ONE)))
            cv2.ellipse(img, _fx(c)[0, 0].tolist(), axes, 0, 0, 360, skin * 0.35, -1, aa, _SHIFT)
        # Brows.
        cv2.fillPoly(img, [_fx(ex["brow_r"]), _fx(ex["brow_l"])], look.brow, aa, _SHIFT)
        # Mouth: lips, then the dark gap between them.
        cv2.fillPoly(img, [_fx(_closed_spline(lm[48:60], 3))], look.lip, aa, _SHIFT)
        cv2.fillPoly(img, [_fx(lm[60:68])], look.lip * 0.35, aa, _SHIFT)
        cv2.polylines(img, [_fx(lm[60:68])], True, look.lip * 0.45, th(0.6), aa, _SHIFT)
        # Eyes.
        crease = ex["crease"]
        for e in range(2):
            self._draw_eye(img, user, spec, geo, e, crease[4 * e : 4 * e + 4], ppm)
        self._shade_face(img, outline, spec)

    def _draw_eye(
        self,
        img: np.ndarray,
        user: User,
        spec: FrameSpec,
        geo: dict,
        e: int,
        crease: np.ndarray,
        ppm: float,
    ) -> None:
        look = user.look
        aa = cv2.LINE_AA
        lm = geo["landmarks_2d"]
        n = 6
        contour = _closed_spline(lm[list(_EYE_CONTOUR[e])], n)
        upper = contour[: 3 * n + 1]
        lower = np.concatenate([contour[3 * n :], contour[:1]])
        lash = max(1, int(round(0.9 * ppm)))
        crease_px = max(1, int(round(0.6 * ppm)))
        cv2.polylines(img, [_fx(crease)], False, look.skin * 0.8, crease_px, aa, _SHIFT)
        if spec.eyes_closed[e]:  # the lid bulges over the eyeball down to the lash line
            lid = np.concatenate([crease, upper[::-1]])
            cv2.fillPoly(img, [_fx(lid)], look.skin * 0.9, aa, _SHIFT)
            cv2.polylines(img, [_fx(upper)], False, look.brow * 0.45, lash, aa, _SHIFT)
            return
        x0, y0 = np.floor(contour.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(contour.max(axis=0)).astype(int) + 3
        h, w = img.shape
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        org = np.array([x0, y0], np.float64)
        roi = img[y0:y1, x0:x1]
        mask = np.zeros(roi.shape, np.uint8)
        cv2.fillPoly(mask, [_fx(contour, org)], 255, aa, _SHIFT)
        layer = np.full(roi.shape, look.sclera, np.uint8)
        iris = geo["iris_2d"][e]
        pupil = geo["pupil_2d"][e]
        cv2.fillPoly(layer, [_fx(iris, org)], look.iris, aa, _SHIFT)
        cv2.polylines(
            layer,
            [_fx(iris, org)],
            True,
            look.iris * 0.55,
            max(1, int(round(0.5 * ppm))),
            aa,
            _SHIFT,
        )
        cv2.fillPoly(layer, [_fx(pupil, org)], look.pupil, aa, _SHIFT)
        # Corneal glint: offset from the pupil centre toward the light.
        pc = geo["pupil_centres_2d"][e] - org
        r_iris_px = user.face.iris_radius * ppm
        glint = pc + np.array(spec.light_dir[:2]) * 0.45 * r_iris_px
        cv2.circle(
            layer,
            _fx(glint)[0, 0].tolist(),
            max(_ONE // 2, int(0.5 * ppm * _ONE)),
            250,
            -1,
            aa,
            _SHIFT,
        )
        # The upper lid shades the top of the eye.
        ramp = np.linspace(0.72, 1.0, roi.shape[0], dtype=np.float32)[:, None]
        m = mask.astype(np.float32) * (1.0 / 255.0)
        blended = roi * (1.0 - m) + layer * ramp * m
        roi[:] = np.clip(blended, 0, 255).astype(np.uint8)
        cv2.polylines(img, [_fx(upper)], False, look.brow * 0.4, lash, aa, _SHIFT)
        cv2.polylines(img, [_fx(lower)], False, look.skin * 0.6, max(1, lash // 2), aa, _SHIFT)

    def _shade_face(self, img: np.ndarray, outline: np.ndarray, spec: FrameSpec) -> None:
        """Lambert shading of the face as an ellipsoid seen from the camera, inside its outline."""
        h, w = img.shape
        x0, y0 = np.floor(outline.min(axis=0)).astype(int)
        x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + 1
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        ax, ay = max((x1 - x0) / 2.0, 1.0), max((y1 - y0) / 2.0, 1.0)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            return
        u = ((np.arange(x0, x1, dtype=np.float32) - cx) / ax)[None, :]
        v = ((np.arange(y0, y1, dtype=np.float32) - cy) / ay)[:, None]
        nz = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
        lx, ly, lz = (float(c) for c in spec.light_dir)
        lam = np.clip(u * lx + v * ly - nz * lz, 0.0, 1.0)
        shade = spec.ambient + (1.0 - spec.ambient) * lam
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [_fx(outline, np.array([x0, y0], np.float64))], 255, cv2.LINE_AA, _SHIFT)
        m = mask.astype(np.float32) * (1.0 / 255.0)
        factor = 1.0 + m * (shade / (0.5 * (1.0 + spec.ambient)) - 1.0)
        roi = img[y0:y1, x0:x1]
        roi[:] = np.clip(roi * factor, 0, 255).astype(np.uint8)

    def _finish(self, img: np.ndarray, spec: FrameSpec) -> np.ndarray:
        """Optics blur, global light gradient and sensor noise."""
        if spec.blur_sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), spec.blur_sigma)
        g0, gx, gy = spec.gain
        gain = (gx * self._xs + g0) + gy * self._ys
        f = cv2.multiply(img, gain, dtype=cv2.CV_32F)
        h, w = img.shape
        rng = np.random.default_rng(spec.noise_seed)
        oy, ox = int(rng.integers(0, 64)), int(rng.integers(0, 64))
        f = cv2.scaleAdd(self._noise[oy : oy + h, ox : ox + w], float(spec.noise_sigma), f)
        np.clip(f, 0, 255, out=f)
        return f.astype(np.uint8)
