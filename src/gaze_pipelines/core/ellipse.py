"""Ellipses in images: fitting from region masks, projecting 3D circles, scaling, sampling.

Convention used everywhere in the project (and in NvGaze label columns): an ellipse is
``Ellipse(cx, cy, major, minor, angle)`` in pixels, where ``major >= minor`` are *full* axis
lengths (diameters, as ``cv2.fitEllipse`` returns them) and ``angle`` is the direction of the
major axis in degrees in ``[0, 180)``, measured from the image +x axis towards +y (clockwise on
screen, because image y points down). ``to_cv`` / ``from_cv`` convert to OpenCV's rotated-rect
form ``((cx, cy), (w, h), angle)``.

NvGaze region masks are colour coded (BGR order, as OpenCV reads them): pupil (0, 255, 0),
iris (0, 255, 255), eyeball/sclera (0, 217, 255). ``colour_mask`` thresholds one colour with a
margin like the original ``getMaskInRange``; ``fit_mask_ellipse`` fits the largest outer contour.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass

import cv2
import numpy as np
from skimage.measure import find_contours

PUPIL_BGR = (0, 255, 0)
IRIS_BGR = (0, 255, 255)
EYEBALL_BGR = (0, 217, 255)
SKIN_BGR = (0, 0, 255)
GLINT_BGR = (255, 255, 255)
BACKGROUND_BGR = (0, 0, 0)


@dataclass(frozen=True)
class Ellipse:
    """An image ellipse: centre (px), full axis lengths major >= minor (px), angle (deg)."""

    cx: float
    cy: float
    major: float
    minor: float
    angle: float

    def __post_init__(self) -> None:
        if self.minor > self.major:
            raise ValueError(f"minor axis {self.minor} > major axis {self.major}; use Ellipse.make")

    @staticmethod
    def make(cx: float, cy: float, a: float, b: float, angle: float) -> Ellipse:
        """Build a normalised ellipse from two full axes ``a`` (at ``angle``) and ``b``."""
        a, b, angle = float(abs(a)), float(abs(b)), float(angle)
        if b > a:
            a, b, angle = b, a, angle + 90.0
        return Ellipse(float(cx), float(cy), a, b, angle % 180.0)

    @property
    def center(self) -> tuple[float, float]:
        """Centre ``(cx, cy)``."""
        return (self.cx, self.cy)

    @property
    def area(self) -> float:
        """Area in px^2."""
        return math.pi * self.major * self.minor / 4.0

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        """``(cx, cy, major, minor, angle)``."""
        return astuple(self)


def from_cv(rect: tuple) -> Ellipse:
    """Convert OpenCV's ``((cx, cy), (w, h), angle)`` to an ``Ellipse``."""
    (cx, cy), (w, h), angle = rect
    return Ellipse.make(cx, cy, w, h, angle)


def to_cv(e: Ellipse) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Convert to OpenCV's rotated-rect form (for ``cv2.ellipse``)."""
    return ((e.cx, e.cy), (e.major, e.minor), e.angle)


def ellipse_points(e: Ellipse, n: int = 64) -> np.ndarray:
    """``n`` points on the ellipse outline, shape (n, 2)."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    ca, sa = math.cos(math.radians(e.angle)), math.sin(math.radians(e.angle))
    x = 0.5 * e.major * np.cos(t)
    y = 0.5 * e.minor * np.sin(t)
    return np.stack([e.cx + ca * x - sa * y, e.cy + sa * x + ca * y], axis=1)


def fit_points(points: np.ndarray) -> Ellipse:
    """Least-squares ellipse through >= 5 points (``cv2.fitEllipse``)."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)
    if len(pts) < 5:
        raise ValueError(f"need at least 5 points to fit an ellipse, got {len(pts)}")
    return from_cv(cv2.fitEllipse(pts))


def colour_mask(
    image_bgr: np.ndarray, colour: tuple[int, int, int], margin: int = 10
) -> np.ndarray:
    """Boolean mask of pixels within ``margin`` of ``colour`` in every channel (BGR)."""
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"region mask must be HxWx3 (BGR), got shape {img.shape}")
    diff = np.abs(img.astype(np.int16) - np.asarray(colour, dtype=np.int16))
    return np.all(diff <= margin, axis=2)


def fit_mask_ellipse(
    mask: np.ndarray, min_points: int = 5, exclude_border: bool = False
) -> Ellipse | None:
    """Fit an ellipse to the outline of the largest region of a boolean mask; ``None`` if impossible.

    The outline is traced with marching squares at level 0.5 (it runs along pixel edges, between
    inside and outside pixel centres), so a rasterised disc of radius r fits a radius of r rather
    than the r - 0.5 of pixel-centre contours. With ``exclude_border`` the outline points on the
    image border (where a region larger than the image is cut off) are left out of the fit.
    """
    m = np.asarray(mask, dtype=bool)
    if m.sum() < min_points:
        return None
    padded = np.pad(m, 1).astype(np.float32)
    contours = find_contours(padded, 0.5)
    if not contours:
        return None

    # the largest closed outline (shoelace area), in (x, y) pixel coordinates of ``mask``
    def area(c: np.ndarray) -> float:
        y, x = c[:, 0], c[:, 1]
        return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))

    contour = max(contours, key=area)
    if len(contour) < min_points:
        return None
    pts = contour[:, ::-1] - 1.0
    if exclude_border:
        h, w = m.shape
        inside = (
            (pts[:, 0] > -0.5 + 1e-6)
            & (pts[:, 0] < w - 0.5 - 1e-6)
            & (pts[:, 1] > -0.5 + 1e-6)
            & (pts[:, 1] < h - 0.5 - 1e-6)
        )
        pts = pts[inside]
        if len(pts) < min_points:
            return None
    try:
        return fit_points(pts)
    except cv2.error:
        return None


def scale_ellipse(e: Ellipse, sx: float, sy: float) -> Ellipse:
    """Exact image of an ellipse under the axis scaling ``(x, y) -> (sx x, sy y)``."""
    if sx == sy:
        return Ellipse(e.cx * sx, e.cy * sy, e.major * sx, e.minor * sy, e.angle)
    return fit_points(ellipse_points(e, 32) * np.array([sx, sy]))


def affine_ellipse(e: Ellipse, matrix: np.ndarray) -> Ellipse:
    """Exact image of an ellipse under a 2x3 affine transform."""
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
    pts = ellipse_points(e, 32)
    return fit_points(pts @ m[:, :2].T + m[:, 2])


def project_points(points: np.ndarray, focal: float, principal: tuple[float, float]) -> np.ndarray:
    """Pinhole projection of camera-frame points (x right, y down, z forward) to pixels."""
    p = np.asarray(points, dtype=np.float64)
    if np.any(p[..., 2] <= 0):
        raise ValueError("points must lie in front of the camera (z > 0)")
    return np.stack(
        [
            focal * p[..., 0] / p[..., 2] + principal[0],
            focal * p[..., 1] / p[..., 2] + principal[1],
        ],
        axis=-1,
    )


def circle_points_3d(
    center: np.ndarray, normal: np.ndarray, radius: float, n: int = 72
) -> np.ndarray:
    """``n`` points on a 3D circle of ``radius`` about ``center`` in the plane normal to ``normal``."""
    c = np.asarray(center, dtype=np.float64)
    nrm = np.asarray(normal, dtype=np.float64)
    nrm = nrm / np.linalg.norm(nrm)
    helper = np.array([1.0, 0.0, 0.0]) if abs(nrm[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(nrm, helper)
    u /= np.linalg.norm(u)
    v = np.cross(nrm, u)
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)[:, None]
    return c + radius * (np.cos(t) * u + np.sin(t) * v)


def project_circle(
    center: np.ndarray,
    normal: np.ndarray,
    radius: float,
    focal: float,
    principal: tuple[float, float],
) -> Ellipse:
    """The image ellipse of a 3D circle under a pinhole camera (a perspective conic, fitted exactly)."""
    pts = project_points(circle_points_3d(center, normal, radius), focal, principal)
    return fit_points(pts)


def ellipse_mask(e: Ellipse, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of pixel centres inside the ellipse, for an image of ``shape`` (H, W)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ca, sa = math.cos(math.radians(e.angle)), math.sin(math.radians(e.angle))
    dx, dy = xx - e.cx, yy - e.cy
    u = (ca * dx + sa * dy) / (0.5 * e.major)
    v = (-sa * dx + ca * dy) / (0.5 * max(e.minor, 1e-9))
    return u * u + v * v <= 1.0
