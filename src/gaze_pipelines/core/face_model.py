"""Generic 3D face model (68 landmarks + two eyeballs) and per-user variation.

Head frame (millimetres), used by every function here:

- origin: between the eyes (midpoint of the two eyeball centres in x/y; z = 0 is roughly the
  depth of the eyelids, the corneal apex is at z = -1 and the eyeball centres at z = +11);
- x: toward the subject's LEFT (= image right for a frontal face);
- y: down;
- z: into the head (away from a camera the subject faces).

These axes are the OpenCV camera axes, so the identity rotation means "facing the camera":
``p_cam = R_head @ p_head + t_head`` with ``R_head = I`` puts the face upright and frontal, the
nose (negative z) toward the camera.

Landmarks follow the common 68-point layout (0-based): 0-16 jaw (subject's right ear -> chin ->
left ear), 17-21 right brow, 22-26 left brow, 27-30 nose bridge, 31-35 nose base, 36-41 right
eye (subject's right, image left; 36 outer corner, 39 inner corner), 42-47 left eye (42 inner,
45 outer), 48-59 outer lip (48 right corner, 54 left corner), 60-67 inner lip. Proportions
follow adult anthropometric means (inter-pupil 63 mm, eye fissure 28 mm, inner canthi 35 mm
apart, nose tip ~24 mm in front of the eye corners, mouth corners ~70 mm below the eye line,
chin ~116 mm below it, face width at the ears ~140 mm).

Eyeballs are spheres of ``EYEBALL_RADIUS`` whose centres sit 12 mm behind the corneal apex; the
optical axis goes from the eyeball centre through the pupil centre (no kappa offset). The iris
is a disc of ``IRIS_RADIUS`` whose rim lies on the eyeball sphere; the pupil is concentric.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# --- landmark index constants (0-based, 68-point layout) -------------------------------------
JAW = tuple(range(0, 17))
RIGHT_BROW = tuple(range(17, 22))
LEFT_BROW = tuple(range(22, 27))
NOSE_BRIDGE = tuple(range(27, 31))
NOSE_BASE = tuple(range(31, 36))
RIGHT_EYE = tuple(range(36, 42))  # subject's right eye, image left
LEFT_EYE = tuple(range(42, 48))  # subject's left eye, image right
OUTER_LIP = tuple(range(48, 60))
INNER_LIP = tuple(range(60, 68))
NOSE_TIP = 30
CHIN = 8
RIGHT_EYE_CORNERS = (36, 39)  # (outer, inner)
LEFT_EYE_CORNERS = (42, 45)  # (inner, outer)
MOUTH_CORNERS = (48, 54)  # (right, left)
FACE_CENTRE_INDICES = (*RIGHT_EYE_CORNERS, *LEFT_EYE_CORNERS, *MOUTH_CORNERS)

# --- eye dimensions (mm) ---------------------------------------------------------------------
EYEBALL_RADIUS = 12.0
CORNEA_RADIUS = 7.8  # radius of curvature of the cornea (informative; rendering uses the sphere)
IRIS_RADIUS = 6.0
PUPIL_RADIUS = 1.8  # default; real pupils range ~1-4 mm (``PUPIL_RADIUS_RANGE``)
PUPIL_RADIUS_RANGE = (1.2, 3.5)
INTER_PUPIL_DISTANCE = 63.0
EYEBALL_CENTRE_DEPTH = 11.0  # z of the eyeball centres; corneal apex at z = 11 - 12 = -1


def _mirror(right: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    return [(-x, y, z) for x, y, z in right]


def _build_generic_face() -> np.ndarray:
    # Jaw 0..7 (subject's right side, ear level down to the chin side), 8 chin, 9..16 mirrored.
    jaw_right = [
        (-69.0, 2.0, 62.0),
        (-68.0, 19.0, 59.0),
        (-66.0, 36.0, 55.0),
        (-62.5, 52.0, 49.0),
        (-57.0, 67.0, 41.0),
        (-49.0, 81.0, 31.0),
        (-39.0, 94.0, 19.0),
        (-24.0, 106.0, 6.0),
    ]
    chin = [(0.0, 116.0, -6.0)]
    jaw = jaw_right + chin + _mirror(jaw_right)[::-1]
    # Brows: right brow from outer (17) to inner (21); left brow inner (22) to outer (26).
    brow_right = [
        (-57.0, -12.0, 9.0),
        (-49.0, -19.0, 2.0),
        (-39.0, -22.0, -3.0),
        (-28.0, -22.0, -6.0),
        (-17.0, -19.0, -7.5),
    ]
    brow_left = _mirror(brow_right)[::-1]
    nose_bridge = [(0.0, -2.0, -8.0), (0.0, 10.0, -13.0), (0.0, 21.0, -18.5), (0.0, 33.0, -24.0)]
    nose_base = [
        (-14.0, 42.0, -8.0),
        (-7.5, 44.5, -12.5),
        (0.0, 46.0, -15.0),
        (7.5, 44.5, -12.5),
        (14.0, 42.0, -8.0),
    ]
    # Right eye (centre x = -31.5): 36 outer corner, 37/38 upper lid, 39 inner corner, 40/41 lower.
    eye_right = [
        (-45.5, 0.5, 5.0),
        (-36.0, -5.0, 1.0),
        (-26.5, -5.0, 0.5),
        (-17.5, 0.5, 2.0),
        (-26.5, 4.0, 1.0),
        (-36.0, 4.0, 1.5),
    ]
    # Left eye: 42 inner corner, 43/44 upper lid, 45 outer corner, 46/47 lower lid.
    eye_left = [
        (17.5, 0.5, 2.0),
        (26.5, -5.0, 0.5),
        (36.0, -5.0, 1.0),
        (45.5, 0.5, 5.0),
        (36.0, 4.0, 1.5),
        (26.5, 4.0, 1.0),
    ]
    outer_lip = [
        (-25.0, 70.0, -6.0),
        (-16.0, 65.0, -12.5),
        (-6.0, 62.0, -15.5),
        (0.0, 63.0, -16.0),
        (6.0, 62.0, -15.5),
        (16.0, 65.0, -12.5),
        (25.0, 70.0, -6.0),
        (16.0, 76.5, -11.5),
        (6.0, 79.5, -14.0),
        (0.0, 80.0, -14.5),
        (-6.0, 79.5, -14.0),
        (-16.0, 76.5, -11.5),
    ]
    inner_lip = [
        (-21.0, 70.0, -8.0),
        (-6.0, 68.5, -13.5),
        (0.0, 68.5, -14.0),
        (6.0, 68.5, -13.5),
        (21.0, 70.0, -8.0),
        (6.0, 71.0, -13.5),
        (0.0, 71.0, -14.0),
        (-6.0, 71.0, -13.5),
    ]
    pts = jaw + brow_right + brow_left + nose_bridge + nose_base + eye_right + eye_left
    pts += outer_lip + inner_lip
    arr = np.asarray(pts, dtype=np.float64)
    assert arr.shape == (68, 3)
    return arr


GENERIC_FACE_68: np.ndarray = _build_generic_face()
GENERIC_FACE_68.flags.writeable = False

#: Eyeball centres in the head frame, rows (right eye, left eye) = (subject's right, left).
EYEBALL_CENTRES: np.ndarray = np.array(
    [
        [-INTER_PUPIL_DISTANCE / 2, 0.0, EYEBALL_CENTRE_DEPTH],
        [INTER_PUPIL_DISTANCE / 2, 0.0, EYEBALL_CENTRE_DEPTH],
    ]
)
EYEBALL_CENTRES.flags.writeable = False


def face_centre(points: np.ndarray) -> np.ndarray:
    """TAO's face centre: mean of the 4 eye corners and 2 mouth corners (2D or 3D, any batch).

    ``points`` has shape (..., 68, D); the result has shape (..., D).
    """
    pts = np.asarray(points)
    return pts[..., list(FACE_CENTRE_INDICES), :].mean(axis=-2)


def eye_centres_from_landmarks(points: np.ndarray) -> np.ndarray:
    """Mean of each eye's 6 contour points, rows (right, left); shape (..., 2, D)."""
    pts = np.asarray(points)
    return np.stack(
        [pts[..., list(RIGHT_EYE), :].mean(axis=-2), pts[..., list(LEFT_EYE), :].mean(axis=-2)],
        axis=-2,
    )


# --- per-user variation ----------------------------------------------------------------------
@dataclass(frozen=True)
class UserShape:
    """Per-user deformation of the generic face (all factors multiplicative, 1 = generic).

    ``width``/``height``/``depth`` scale x/y/z about the origin; ``eye_spacing`` scales the
    inter-pupil distance (eye contours, brows and eyeballs move with it; the nose stays);
    ``iris_radius`` and ``eyeball_radius`` are in mm; ``pupil_radius`` is the user's mean pupil.
    """

    width: float = 1.0
    height: float = 1.0
    depth: float = 1.0
    eye_spacing: float = 1.0
    iris_radius: float = IRIS_RADIUS
    eyeball_radius: float = EYEBALL_RADIUS
    pupil_radius: float = PUPIL_RADIUS

    @classmethod
    def sample(cls, rng: np.random.Generator) -> UserShape:
        """Draw a plausible adult face deterministically from ``rng``.

        Note: PnP against the generic model cannot see these deformations; on renders of such
        faces it is off by about 1.5 degrees on average (up to ~5), as on real faces. Use
        ``UserShape()`` (the generic face) to test PnP itself.
        """
        u = rng.uniform(-1.0, 1.0, size=7)
        return cls(
            width=float(1.0 + 0.05 * u[0]),
            height=float(1.0 + 0.05 * u[1]),
            depth=float(1.0 + 0.08 * u[2]),
            eye_spacing=float(1.0 + 0.05 * u[3]),
            iris_radius=float(IRIS_RADIUS + 0.45 * u[4]),
            eyeball_radius=float(EYEBALL_RADIUS + 0.5 * u[5]),
            pupil_radius=float(2.2 + 0.6 * u[6]),
        )

    def as_dict(self) -> dict[str, float]:
        """Plain dict (for logs and labels)."""
        return asdict(self)


@dataclass(frozen=True)
class FaceGeometry:
    """A (possibly deformed) face in the head frame: 68 landmarks, eyeballs and eye radii."""

    landmarks: np.ndarray  # (68, 3) mm
    eyeball_centres: np.ndarray  # (2, 3) mm, rows (right, left)
    eyeball_radius: float = EYEBALL_RADIUS
    iris_radius: float = IRIS_RADIUS
    pupil_radius: float = PUPIL_RADIUS
    shape: UserShape = field(default_factory=UserShape)


def deform_face(shape: UserShape | None = None) -> FaceGeometry:
    """Apply ``shape`` to the generic model; ``None`` gives the generic face itself."""
    shape = shape or UserShape()
    pts = GENERIC_FACE_68.copy()
    eyes = EYEBALL_CENTRES.copy()
    # Eye spacing: shift each side's eye region in x, keeping the eye's own size.
    dx = (shape.eye_spacing - 1.0) * INTER_PUPIL_DISTANCE / 2
    for idx, sign in ((RIGHT_EYE + RIGHT_BROW, -1.0), (LEFT_EYE + LEFT_BROW, 1.0)):
        pts[list(idx), 0] += sign * dx
    eyes[:, 0] += np.array([-dx, dx])
    scale = np.array([shape.width, shape.height, shape.depth])
    pts *= scale
    # Eyeballs: keep the centre 12 mm (the radius) behind the apex of the scaled eye region.
    eyes[:, :2] *= scale[:2]
    apex_z = (EYEBALL_CENTRE_DEPTH - EYEBALL_RADIUS) * shape.depth
    eyes[:, 2] = apex_z + shape.eyeball_radius
    return FaceGeometry(
        landmarks=pts,
        eyeball_centres=eyes,
        eyeball_radius=shape.eyeball_radius,
        iris_radius=shape.iris_radius,
        pupil_radius=shape.pupil_radius,
        shape=shape,
    )
