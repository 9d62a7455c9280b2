"""Camera geometry shared by every model family.

Conventions (TAO / MPIIGaze): camera coordinates in millimetres, x right, y down, z forward.
A gaze vector points from the eye towards the target; ``theta = asin(-g_y)`` (pitch, up is
positive) and ``phi = atan2(-g_x, -g_z)`` (yaw); the inverse is
``g = [-cos(theta) sin(phi), -sin(theta), -cos(theta) cos(phi)]``.

Head pose comes from PnP of 2D landmarks against a generic 3D face model (EPnP, then iterative
refinement), as in TAO's ``theta_phi_calc_utils``. Normalization follows Zhang, Sugano and Bulling
(2018): a virtual camera at ``distance`` mm looks at the face (or eye) centre, its x axis aligned
with the head's x axis; ``W = K_n . S . R . K^-1`` warps the image, and gaze labels are rotated by
``R`` only (TAO's "modified" method).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

# TAO's validity thresholds (ThetaPhiCalcStrategy).
REPROJ_ERR_THRESHOLD_PX = 30.0
MIN_DEPTH_MM = 350.0
MAX_DEPTH_MM = 2500.0
MAX_ABS_PHI_RAD = 1.8
POR_THRESHOLD_MM = 50.0
POR_CONSISTENCY_MM = 3.0
HP_DIFF_THETA_RAD = np.deg2rad(90.0)
HP_DIFF_PHI_RAD = np.deg2rad(50.0)
MAX_OCCLUDED_PERCENT = 50.0
# Below this many usable points the initial PnP is SQPnP instead of EPnP.
MIN_EPNP_POINTS = 10


# --------------------------------------------------------------------------- angles


def gaze_to_theta_phi(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaze vector(s) ``(..., 3)`` to (theta, phi) in radians (vectors need not be unit length)."""
    g = np.asarray(g, dtype=np.float64)
    g = g / np.linalg.norm(g, axis=-1, keepdims=True)
    theta = np.arcsin(np.clip(-g[..., 1], -1.0, 1.0))
    phi = np.arctan2(-g[..., 0], -g[..., 2])
    return theta, phi


def theta_phi_to_gaze(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """(theta, phi) in radians to unit gaze vector(s) ``(..., 3)``."""
    theta = np.asarray(theta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    return np.stack(
        [-np.cos(theta) * np.sin(phi), -np.sin(theta), -np.cos(theta) * np.cos(phi)], axis=-1
    )


def angular_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors ``a`` and ``b`` (``(..., 3)``)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


# --------------------------------------------------------------------------- screen


def screen_to_camera(
    pixels: np.ndarray,
    R: np.ndarray,
    T: np.ndarray,
    screen_mm: tuple[float, float],
    screen_px: tuple[int, int],
) -> np.ndarray:
    """Screen target pixels ``(N, 2)`` to camera mm ``(N, 3)``, TAO's formula.

    ``g_cam = R . [x W_mm / W_px, y H_mm / H_px, 1]^T + T``; the homogeneous 1 is kept as in TAO's
    ``gaze_strategy.py``.
    """
    pixels = np.atleast_2d(np.asarray(pixels, dtype=np.float64))
    sx = screen_mm[0] / screen_px[0]
    sy = screen_mm[1] / screen_px[1]
    screen = np.stack([pixels[:, 0] * sx, pixels[:, 1] * sy, np.ones(len(pixels))], axis=1)
    return screen @ np.asarray(R, np.float64).T + np.asarray(T, np.float64).reshape(1, 3)


def camera_to_screen(
    points: np.ndarray,
    R: np.ndarray,
    T: np.ndarray,
    screen_mm: tuple[float, float],
    screen_px: tuple[int, int],
) -> np.ndarray:
    """Inverse of :func:`screen_to_camera` for points on the screen plane: camera mm -> pixels."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    screen = (points - np.asarray(T, np.float64).reshape(1, 3)) @ np.asarray(R, np.float64)
    return np.stack(
        [screen[:, 0] * screen_px[0] / screen_mm[0], screen[:, 1] * screen_px[1] / screen_mm[1]],
        axis=1,
    )


def intersect_screen(
    origin: np.ndarray, direction: np.ndarray, R: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Point of regard: where rays ``origin + t direction`` (``(..., 3)``) meet the screen plane.

    The plane has normal ``R[:, 2]`` through ``T`` (TAO's ``compute_PoR_from_gaze_vector``).
    """
    normal = np.asarray(R, np.float64)[:, 2]
    origin = np.asarray(origin, np.float64)
    direction = np.asarray(direction, np.float64)
    d = normal @ np.asarray(T, np.float64).reshape(3)
    t = (d - origin @ normal) / (direction @ normal)
    return origin + t[..., None] * direction


# --------------------------------------------------------------------------- head pose


@dataclass
class HeadPose:
    """Result of PnP: rotation (head -> camera), translation (mm), errors and angles."""

    rvec: np.ndarray
    tvec: np.ndarray
    rotation: np.ndarray
    reprojection_error_px: float
    pitch_yaw_roll_deg: np.ndarray
    theta: float
    phi: float
    n_points: int

    def to_camera(self, points_head: np.ndarray) -> np.ndarray:
        """Transform head-model points ``(N, 3)`` into camera coordinates."""
        return np.asarray(points_head, np.float64) @ self.rotation.T + self.tvec.reshape(1, 3)


def euler_from_rotation(rotation: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """TAO's head pose Euler angles (pitch, yaw, roll) in degrees, sign conventions included."""
    proj = np.hstack([rotation, np.asarray(tvec, np.float64).reshape(3, 1)])
    euler = cv2.decomposeProjectionMatrix(proj)[6].reshape(3).astype(np.float64)
    if euler[0] < -90:
        euler[0] = -(euler[0] + 180)
    elif euler[0] > 90:
        euler[0] = -(euler[0] - 180)
    euler[1] = -euler[1]
    if euler[2] < -90:
        euler[2] = -(euler[2] + 180)
    elif euler[2] > 90:
        euler[2] = -(euler[2] - 180)
    return euler


def solve_head_pose(
    landmarks_2d: np.ndarray,
    model_3d: np.ndarray,
    K: np.ndarray,
    dist: np.ndarray,
    valid: np.ndarray | None = None,
    refine_indices: np.ndarray | None = None,
) -> HeadPose | None:
    """PnP head pose: EPnP (SQPnP below ``MIN_EPNP_POINTS``) on all valid points, then iterative
    refinement.

    ``landmarks_2d`` and ``model_3d`` are matched row by row. ``valid`` masks usable landmarks
    (occluded or out of frame ones are False). ``refine_indices`` restricts the iterative step to
    expression-robust points (eyes, nose, brows), as TAO does. Returns None when fewer than half
    the points are usable or PnP fails.
    """
    pts2 = np.asarray(landmarks_2d, np.float64)
    pts3 = np.asarray(model_3d, np.float64)
    if valid is None:
        valid = np.all(np.isfinite(pts2), axis=1)
    valid = np.asarray(valid, bool)
    if 100.0 * (1 - valid.mean()) >= MAX_OCCLUDED_PERCENT or valid.sum() < 6:
        return None
    K = np.asarray(K, np.float64)
    dist = np.asarray(dist, np.float64).reshape(-1)
    # EPnP is fragile on a handful of nearly coplanar points (MPIIFaceGaze's 6 eye and mouth
    # corners: with 1 px noise its 95th-percentile rotation error is ~3x SQPnP's).
    init = cv2.SOLVEPNP_EPNP if valid.sum() >= MIN_EPNP_POINTS else cv2.SOLVEPNP_SQPNP
    ok, rvec, tvec = cv2.solvePnP(pts3[valid], pts2[valid], K, dist, flags=init)
    if not ok:
        return None
    refine = valid.copy()
    if refine_indices is not None:
        sel = np.zeros_like(valid)
        sel[np.asarray(refine_indices)] = True
        if (refine & sel).sum() >= 6:
            refine &= sel
    ok, rvec, tvec = cv2.solvePnP(
        pts3[refine],
        pts2[refine],
        K,
        dist,
        rvec=rvec,
        tvec=tvec,
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok or tvec[2, 0] <= 0:
        return None
    rotation = cv2.Rodrigues(rvec)[0]
    reproj, _ = cv2.projectPoints(pts3[refine], rvec, tvec, K, dist)
    err = float(np.mean(np.linalg.norm(reproj.reshape(-1, 2) - pts2[refine], axis=1)))
    zv = rotation[:, 2]
    theta, phi = gaze_to_theta_phi(-zv)
    return HeadPose(
        rvec=rvec.reshape(3),
        tvec=tvec.reshape(3),
        rotation=rotation,
        reprojection_error_px=err,
        pitch_yaw_roll_deg=euler_from_rotation(rotation, tvec),
        theta=float(theta),
        phi=float(phi),
        n_points=int(refine.sum()),
    )


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees of the relative rotation between rotation matrices ``a`` and ``b``."""
    rel = np.asarray(a, np.float64) @ np.asarray(b, np.float64).T
    return float(np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1.0, 1.0))))


def project_points(
    points_cam: np.ndarray, K: np.ndarray, dist: np.ndarray | None = None
) -> np.ndarray:
    """Project camera-frame points ``(N, 3)`` to pixels ``(N, 2)`` (with lens distortion)."""
    pts = np.asarray(points_cam, np.float64).reshape(-1, 1, 3)
    zero = np.zeros(3)
    d = np.zeros(5) if dist is None else np.asarray(dist, np.float64).reshape(-1)
    out, _ = cv2.projectPoints(pts, zero, zero, np.asarray(K, np.float64), d)
    return out.reshape(-1, 2)


# --------------------------------------------------------------------------- normalization


@dataclass
class NormWarp:
    """A normalization: warp matrix (image), rotation (labels), scale and the virtual camera."""

    warp: np.ndarray
    rotation: np.ndarray
    scale: np.ndarray
    camera: np.ndarray
    size: tuple[int, int]

    def rotate_gaze(self, g: np.ndarray) -> np.ndarray:
        """Rotate camera-frame gaze vector(s) into the normalized camera (rotation only)."""
        return np.asarray(g, np.float64) @ self.rotation.T

    def head_theta_phi(self, head_rotation: np.ndarray) -> tuple[float, float]:
        """Head pose (theta, phi) in the normalized camera."""
        zv = (self.rotation @ np.asarray(head_rotation, np.float64))[:, 2]
        theta, phi = gaze_to_theta_phi(-zv)
        return float(theta), float(phi)


def _cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (``np.cross`` costs ~20x more on one pair)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def _inv3(K: np.ndarray) -> np.ndarray:
    """Inverse of a camera matrix, cached by value (every warp of a frame uses the same K)."""
    return _inv3_cached(_f64_key(K)).copy()


@functools.lru_cache(maxsize=64)
def _inv3_cached(k: bytes) -> np.ndarray:
    return np.linalg.inv(np.frombuffer(k, np.float64).reshape(3, 3))


def normalization(
    centre_cam: np.ndarray,
    head_rotation: np.ndarray,
    K: np.ndarray,
    size: tuple[int, int],
    focal: float,
    distance: float = 600.0,
) -> NormWarp:
    """Zhang-Sugano normalization looking at ``centre_cam`` (mm) into a ``size`` (w, h) patch.

    ``forward = c / |c|``, ``down = forward x hRx``, ``right = down x forward``;
    ``W = K_n S R K^-1`` with ``S = diag(1, 1, distance / |c|)``.
    """
    centre = np.asarray(centre_cam, np.float64).reshape(3)
    dist_c = math.sqrt(float(centre @ centre))
    forward = centre / dist_c
    hrx = np.asarray(head_rotation, np.float64)[:, 0]
    down = _cross3(forward, hrx)
    down /= math.sqrt(float(down @ down))
    right = _cross3(down, forward)
    right /= math.sqrt(float(right @ right))
    rot = np.array([right, down, forward])
    scale = np.diag([1.0, 1.0, distance / dist_c])
    cam_n = np.array([[focal, 0, size[0] / 2.0], [0, focal, size[1] / 2.0], [0, 0, 1.0]])
    warp = cam_n @ scale @ rot @ _inv3(np.asarray(K, np.float64))
    return NormWarp(
        warp=warp, rotation=rot, scale=scale, camera=cam_n, size=(int(size[0]), int(size[1]))
    )


def undistort_image(image: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Undistort a frame once, so several warps of it share the work.

    The remap tables are cached per camera and frame size: every frame of a set reuses them
    (``cv2.undistort`` would rebuild them per call).
    """
    h, w = image.shape[:2]
    m1, m2 = _undistort_maps(_f64_key(K), _f64_key(dist), w, h)
    return image if m1 is None else cv2.remap(image, m1, m2, cv2.INTER_LINEAR)


def _f64_key(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, np.float64).tobytes()


@functools.lru_cache(maxsize=16)
def _undistort_maps(
    k: bytes, dist: bytes, width: int, height: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    K = np.frombuffer(k, np.float64).reshape(3, 3)
    d = np.frombuffer(dist, np.float64).reshape(-1)
    if not np.any(d):
        return None, None
    return cv2.initUndistortRectifyMap(K, d, None, K, (width, height), cv2.CV_16SC2)


@dataclass(frozen=True)
class FrameRegion:
    """Undistorted pixels of part of a frame: ``image[0, 0]`` is frame pixel ``offset`` (x, y)."""

    image: np.ndarray
    offset: tuple[int, int] = (0, 0)


# Extra source pixels around the sampled box: bilinear reads floor(x) + 1, and warpPerspective
# rounds coordinates to 1/32 px.
REGION_MARGIN_PX = 2


def sampled_region(
    warps: list[NormWarp], width: int, height: int, margin: int = REGION_MARGIN_PX
) -> tuple[int, int, int, int] | None:
    """Inclusive box ``(x0, y0, x1, y1)`` of the frame pixels that ``warps`` read, None if none.

    A homography maps the output rectangle back onto a convex quadrilateral whose corners are
    the preimages of the output's corner pixels (while they all lie in front of the camera), so
    their bounding box, widened by ``margin``, holds every bilinear sample. A warp whose
    preimage reaches behind the camera needs the whole frame.
    """
    corners = np.empty((len(warps), 3, 4))
    for i, nw in enumerate(warps):
        w, h = nw.size
        corners[i] = ((0.0, w - 1, 0.0, w - 1), (0.0, 0.0, h - 1, h - 1), (1.0, 1.0, 1.0, 1.0))
    src = np.linalg.solve(np.stack([nw.warp for nw in warps]), corners)  # (n, 3, 4)
    if not np.all(np.isfinite(src)) or src[:, 2].min() <= 1e-12:
        return 0, 0, width - 1, height - 1
    xs = src[:, 0] / src[:, 2]
    ys = src[:, 1] / src[:, 2]
    x0 = max(0, math.floor(xs.min()) - margin)
    y0 = max(0, math.floor(ys.min()) - margin)
    x1 = min(width - 1, math.floor(xs.max()) + 1 + margin)
    y1 = min(height - 1, math.floor(ys.max()) + 1 + margin)
    if x1 < x0 or y1 < y0:
        return None
    return x0, y0, x1, y1


def undistort_region(
    image: np.ndarray, K: np.ndarray, dist: np.ndarray, warps: list[NormWarp]
) -> FrameRegion:
    """Undistort only the part of a frame that ``warps`` sample (see :func:`sampled_region`).

    Warping the region (:func:`warp_image`) gives the crops of the whole undistorted frame: the
    same source pixels, at most 1 grey level apart where the shifted warp rounds a coordinate
    the other way. A face in a 640x480 frame needs ~15% of it: the undistortion costs that much.
    """
    h, w = image.shape[:2]
    m1, m2 = _undistort_maps(_f64_key(K), _f64_key(dist), w, h)
    if m1 is None:
        return FrameRegion(image)
    box = sampled_region(warps, w, h)
    if box is None:  # every warp looks outside the frame: all its crops are black
        return FrameRegion(np.zeros((1, 1), image.dtype), (-2, -2))
    x0, y0, x1, y1 = box
    sub = cv2.remap(
        image, m1[y0 : y1 + 1, x0 : x1 + 1], m2[y0 : y1 + 1, x0 : x1 + 1], cv2.INTER_LINEAR
    )
    return FrameRegion(sub, (x0, y0))


def warp_image(undistorted: np.ndarray | FrameRegion, norm: NormWarp) -> np.ndarray:
    """Apply a normalization warp to an undistorted frame (or a :class:`FrameRegion` of it)."""
    warp = norm.warp
    if isinstance(undistorted, FrameRegion):
        x0, y0 = undistorted.offset
        if x0 or y0:
            warp = warp @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
        undistorted = undistorted.image
    return cv2.warpPerspective(undistorted, warp, norm.size, flags=cv2.INTER_LINEAR)


def warp_points(
    points_px: np.ndarray, norm: NormWarp, K: np.ndarray, dist: np.ndarray
) -> np.ndarray:
    """Map distorted frame pixels ``(N, 2)`` into the normalized patch."""
    pts = np.asarray(points_px, np.float64).reshape(-1, 1, 2)
    K = np.asarray(K, np.float64)
    und = cv2.undistortPoints(pts, K, np.asarray(dist, np.float64).reshape(-1), P=K)
    return cv2.perspectiveTransform(und, norm.warp).reshape(-1, 2)
