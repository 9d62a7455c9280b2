"""Renderer of near-eye infrared eye images in NvGaze's raw footage format.

Geometry first, appearance second. A pinhole camera (x right, y down, z forward, mm) looks at an
eyeball of radius ``R`` centred at ``(0, 0, distance) + slippage``. The eye's optical axis is
the gaze direction; the iris and pupil are coplanar discs on the plane that cuts the eyeball at
the limbus, so their outlines are circles on the sphere and project to exact ellipses. Each
pixel ray is intersected with that plane and the sphere (no corneal refraction): pupil, iris,
sclera, else skin. Eyelids are image-space curves that follow vertical gaze and close with
``blink``; glints are the specular reflections of a ring of IR LEDs around the camera on the
corneal sphere. Sensor noise, defocus blur and exposure vary per frame.

Gaze convention (labels ``float_gaze_x_degree`` / ``float_gaze_y_degree``): ``(0, 0)`` looks
straight into the camera (up to a small per-subject offset); positive x moves the pupil towards
image +x (right), positive y moves it towards image -y (up). ``gaze_vector`` converts angles to
a unit vector; ``angular_error_deg`` compares two gazes. Everything is deterministic given the
seed.

Region masks are colour coded in BGR as in NvGaze (see ``gaze_pipelines.core.ellipse``):
``regionmask_withoutskin`` shows the whole eyeball (sclera, iris, pupil) as if there were no
eyelids; ``regionmask_withskin`` paints the eyelid skin over it and marks glints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

import cv2
import numpy as np
import pandas as pd

from gaze_pipelines.core import geometry
from gaze_pipelines.core.ellipse import (
    EYEBALL_BGR,
    GLINT_BGR,
    IRIS_BGR,
    PUPIL_BGR,
    SKIN_BGR,
    Ellipse,
    project_circle,
    project_points,
)

ARCHIVE_NAME = "footage_image_data.zip"
IMAGE_COLUMN = "image_L_0"
MASK_WITHSKIN_COLUMN = "regionmask_withskin_L_0"
MASK_WITHOUTSKIN_COLUMN = "regionmask_withoutskin_L_0"

# Columns written by the analytic labeller (pupil / iris / eyeball ellipses, px).
ELLIPSE_LABELS = (
    "float_pupil_x",
    "float_pupil_y",
    "float_pupilellipse_major",
    "float_pupilellipse_minor",
    "float_pupilellipse_angle",
    "float_iris_x",
    "float_iris_y",
    "float_irisellipse_major",
    "float_irisellipse_minor",
    "float_irisellipse_angle",
    "float_eyeball_x",
    "float_eyeball_y",
    "float_eyeball_diameter",
)


def gaze_vector(gaze_x_deg: np.ndarray | float, gaze_y_deg: np.ndarray | float) -> np.ndarray:
    """Unit gaze direction(s) in the camera frame for NvGaze angles in degrees, shape (..., 3)."""
    gx = np.radians(np.asarray(gaze_x_deg, dtype=np.float64))
    gy = np.radians(np.asarray(gaze_y_deg, dtype=np.float64))
    v = np.stack([np.sin(gx) * np.cos(gy), -np.sin(gy), -np.cos(gx) * np.cos(gy)], axis=-1)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def angular_error_deg(gaze_a: np.ndarray, gaze_b: np.ndarray) -> np.ndarray:
    """Angle in degrees between gazes given as (..., 2) arrays of (x, y) angles in degrees."""
    a = gaze_vector(np.asarray(gaze_a)[..., 0], np.asarray(gaze_a)[..., 1])
    b = gaze_vector(np.asarray(gaze_b)[..., 0], np.asarray(gaze_b)[..., 1])
    return geometry.angular_error_deg(a, b)


def _rotation_xy(ax_deg: float, ay_deg: float) -> np.ndarray:
    """Rotation applying a yaw (about y) then a pitch (about x), degrees."""
    a, b = math.radians(ax_deg), math.radians(ay_deg)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return rx @ ry


@dataclass(frozen=True)
class RenderConfig:
    """Camera and sampling ranges of one rendered footage set."""

    image_size: tuple[int, int] = (256, 256)  # W, H
    focal_px: float = 210.0
    eye_distance_mm: float = 38.0
    gaze_range_deg: tuple[float, float] = (30.0, 20.0)
    pupil_diameter_mm: tuple[float, float] = (2.0, 7.0)
    slippage_sigma_mm: tuple[float, float, float] = (1.2, 1.2, 1.5)
    blink_probability: float = 0.06
    glint_count: int = 6
    noise_sigma: tuple[float, float] = (1.5, 6.0)
    blur_probability: float = 0.3
    supersample: int = 2

    def __post_init__(self) -> None:
        w, h = self.image_size
        if w < 16 or h < 16:
            raise ValueError(f"image_size must be at least 16x16, got {self.image_size}")
        if self.focal_px <= 0 or self.eye_distance_mm <= 15:
            raise ValueError("focal_px must be > 0 and eye_distance_mm > 15 (eyeball radius 12 mm)")
        lo, hi = self.pupil_diameter_mm
        if not 0 < lo <= hi < 11:
            raise ValueError(
                f"pupil_diameter_mm must satisfy 0 < min <= max < 11, got {self.pupil_diameter_mm}"
            )
        if self.supersample < 1:
            raise ValueError("supersample must be >= 1")


@dataclass(frozen=True)
class Subject:
    """Per-subject anatomy and appearance."""

    name: str
    eyeball_radius_mm: float = 12.0
    iris_radius_mm: float = 6.0
    cornea_radius_mm: float = 7.8
    gaze_offset_deg: tuple[float, float] = (0.0, 0.0)
    skin_level: float = 165.0
    sclera_level: float = 190.0
    iris_level: float = 105.0
    pupil_level: float = 22.0
    lid_open_mm: float = 5.5
    lid_low_mm: float = 5.0
    lid_tilt: float = 0.0
    texture_seed: int = 0


@dataclass(frozen=True)
class Frame:
    """Per-frame state: gaze, pupil, slippage, blink, appearance jitter."""

    gaze_x_deg: float
    gaze_y_deg: float
    pupil_diameter_mm: float
    slippage_mm: tuple[float, float, float]
    blink: float
    exposure: float = 1.0
    noise_sigma: float = 3.0
    blur_sigma: float = 0.0
    noise_seed: int = 0


@dataclass
class RenderedFrame:
    """One rendered sample: grey image, both region masks (BGR), analytic labels."""

    image: np.ndarray
    mask_withskin: np.ndarray
    mask_withoutskin: np.ndarray
    labels: dict[str, float]


@dataclass
class EyeGeometry:
    """3D geometry of one frame in the camera frame (mm)."""

    eyeball_center: np.ndarray
    gaze: np.ndarray
    iris_center: np.ndarray
    cornea_center: np.ndarray
    pupil_radius: float
    subject: Subject
    pupil: Ellipse
    iris: Ellipse
    eyeball: Ellipse
    glints: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


def make_subjects(n: int, seed: int) -> list[Subject]:
    """``n`` deterministic subjects with varied anatomy and appearance."""
    rng = np.random.default_rng(seed)
    subjects = []
    for i in range(n):
        subjects.append(
            Subject(
                name=f"subject_{i + 1:02d}",
                eyeball_radius_mm=float(rng.normal(12.0, 0.25)),
                iris_radius_mm=float(rng.normal(6.0, 0.2)),
                cornea_radius_mm=float(rng.normal(7.8, 0.15)),
                gaze_offset_deg=(float(rng.normal(0, 1.5)), float(rng.normal(0, 1.5))),
                skin_level=float(rng.uniform(140, 190)),
                sclera_level=float(rng.uniform(175, 215)),
                iris_level=float(rng.uniform(80, 135)),
                pupil_level=float(rng.uniform(10, 35)),
                lid_open_mm=float(rng.uniform(5.5, 7.5)),
                lid_low_mm=float(rng.uniform(4.8, 6.3)),
                lid_tilt=float(rng.uniform(-0.08, 0.08)),
                texture_seed=int(rng.integers(0, 2**31 - 1)),
            )
        )
    return subjects


def sample_frames(n: int, cfg: RenderConfig, seed: int) -> list[Frame]:
    """``n`` deterministic frames: gaze uniform in the range, pupil size, slippage, blinks."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        blinking = rng.random() < cfg.blink_probability
        blink = float(rng.uniform(0.4, 1.0)) if blinking else float(rng.uniform(0.0, 0.12))
        slip = tuple(float(np.clip(rng.normal(0, s), -3 * s, 3 * s)) for s in cfg.slippage_sigma_mm)
        frames.append(
            Frame(
                gaze_x_deg=float(rng.uniform(-cfg.gaze_range_deg[0], cfg.gaze_range_deg[0])),
                gaze_y_deg=float(rng.uniform(-cfg.gaze_range_deg[1], cfg.gaze_range_deg[1])),
                pupil_diameter_mm=float(rng.uniform(*cfg.pupil_diameter_mm)),
                slippage_mm=slip,  # type: ignore[arg-type]
                blink=blink,
                exposure=float(rng.uniform(0.8, 1.15)),
                noise_sigma=float(rng.uniform(*cfg.noise_sigma)),
                blur_sigma=float(rng.uniform(0.3, 1.2))
                if rng.random() < cfg.blur_probability
                else 0.0,
                noise_seed=int(rng.integers(0, 2**31 - 1)),
            )
        )
    return frames


def eye_geometry(subject: Subject, frame: Frame, cfg: RenderConfig) -> EyeGeometry:
    """3D eye of one frame and its analytic image ellipses (pupil, iris, eyeball outline)."""
    w, h = cfg.image_size
    pp = ((w - 1) / 2.0, (h - 1) / 2.0)
    f = cfg.focal_px
    center = np.array([0.0, 0.0, cfg.eye_distance_mm]) + np.asarray(
        frame.slippage_mm, dtype=np.float64
    )
    gx = frame.gaze_x_deg + subject.gaze_offset_deg[0]
    gy = frame.gaze_y_deg + subject.gaze_offset_deg[1]
    gaze = gaze_vector(gx, gy)
    R, ri = subject.eyeball_radius_mm, subject.iris_radius_mm
    iris_depth = math.sqrt(R * R - ri * ri)
    iris_center = center + gaze * iris_depth
    rp = frame.pupil_diameter_mm / 2.0
    pupil = project_circle(iris_center, gaze, rp, f, pp)
    iris = project_circle(iris_center, gaze, ri, f, pp)
    # silhouette of the eyeball sphere: the circle where the viewing cone touches it
    dist = float(np.linalg.norm(center))
    k = 1.0 - (R / dist) ** 2
    eyeball = project_circle(center * k, center / dist, R * math.sqrt(k), f, pp)
    # corneal apex 1.6 mm in front of the eyeball sphere
    cornea_center = center + gaze * (R + 1.6 - subject.cornea_radius_mm)
    glints = _glints(cornea_center, gaze, subject.cornea_radius_mm, cfg)
    return EyeGeometry(
        center, gaze, iris_center, cornea_center, rp, subject, pupil, iris, eyeball, glints
    )


def _glints(
    cornea_center: np.ndarray, gaze: np.ndarray, rc: float, cfg: RenderConfig
) -> np.ndarray:
    """Image positions of the LED reflections that land on the visible corneal cap."""
    if cfg.glint_count <= 0:
        return np.zeros((0, 2))
    w, h = cfg.image_size
    pp = ((w - 1) / 2.0, (h - 1) / 2.0)
    angles = np.linspace(0, 2 * np.pi, cfg.glint_count, endpoint=False) + np.pi / cfg.glint_count
    leds = np.stack([14.0 * np.cos(angles), 10.0 * np.sin(angles), np.zeros_like(angles)], axis=1)
    to_cam = -cornea_center / np.linalg.norm(cornea_center)
    to_led = leds - cornea_center
    to_led /= np.linalg.norm(to_led, axis=1, keepdims=True)
    normal = to_led + to_cam
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    # keep reflections within ~40 degrees of the corneal apex (the cap in front of the iris)
    keep = normal @ gaze > math.cos(math.radians(40))
    points = cornea_center + rc * normal[keep]
    if len(points) == 0:
        return np.zeros((0, 2))
    return project_points(points, cfg.focal_px, pp)


def _lid_curves(
    geo: EyeGeometry, frame: Frame, cfg: RenderConfig, xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Image y of the upper and lower lid margins at image columns ``xs``."""
    s = cfg.focal_px / geo.eyeball_center[2]  # px per mm at the eyeball centre
    ex, ey = project_points(
        geo.eyeball_center,
        cfg.focal_px,
        ((cfg.image_size[0] - 1) / 2.0, (cfg.image_size[1] - 1) / 2.0),
    )
    half_width = 14.0 * s
    t = np.clip((xs - ex) / half_width, -1.0, 1.0)
    shape = 1.0 - t * t
    sub = geo.subject
    up_gaze = frame.gaze_y_deg / 20.0  # the upper lid follows vertical gaze
    upper_open = (sub.lid_open_mm + 2.2 * up_gaze) * s
    lower_open = (sub.lid_low_mm - 0.6 * up_gaze) * s
    centre_y = ey + sub.lid_tilt * (xs - ex) + 0.8 * s
    upper = centre_y - upper_open * shape
    lower = centre_y + lower_open * shape * (0.85 + 0.15 * t)
    upper = upper + frame.blink * (lower - upper) * 0.98
    return upper, lower


@lru_cache(maxsize=32)
def _texture(
    shape: tuple[int, int], seed: int, scales: tuple[float, ...] = (24.0, 8.0, 3.0)
) -> np.ndarray:
    """Smooth zero-mean noise texture in [-1, 1] summed over blur scales (cached, read-only)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    out = np.zeros((h, w), np.float32)
    for i, sc in enumerate(scales):
        n = rng.standard_normal((h, w)).astype(np.float32)
        n = cv2.GaussianBlur(n, (0, 0), sc)
        n /= n.std() + 1e-6
        out += n / (i + 1)
    out = np.clip(out / 2.5, -1.0, 1.0)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=8)
def _rays(
    size: tuple[int, int], focal: float, scale: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit camera rays of a ``scale``x sample grid, shape (H*s, W*s, 3), and its x / y in image px."""
    w, h = size
    pp = ((w - 1) / 2.0, (h - 1) / 2.0)
    offs = (np.arange(scale) + 0.5) / scale - 0.5
    xs = (np.arange(w)[:, None] + offs[None, :]).reshape(-1)
    ys = (np.arange(h)[:, None] + offs[None, :]).reshape(-1)
    xx, yy = np.meshgrid(xs, ys)
    d = np.stack([(xx - pp[0]) / focal, (yy - pp[1]) / focal, np.ones_like(xx)], axis=-1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    for arr in (d, xs, yy):
        arr.setflags(write=False)
    return d.astype(np.float32), xs, yy.astype(np.float32)


def _classify(
    geo: EyeGeometry, frame: Frame, cfg: RenderConfig, scale: int
) -> dict[str, np.ndarray]:
    """Per-pixel ray casting on a ``scale``x grid: region ids and surface coordinates."""
    d, xs, yy = _rays(tuple(cfg.image_size), float(cfg.focal_px), scale)
    c, g, ic = geo.eyeball_center, geo.gaze, geo.iris_center
    R = geo.subject.eyeball_radius_mm
    helper = np.array([1.0, 0.0, 0.0])
    u = np.cross(g, helper)
    u /= np.linalg.norm(u)
    v = np.cross(g, u)
    # every per-ray quantity is a dot product of the ray with one of these vectors
    dots = d @ np.stack([c, g, u, v, ic], axis=1).astype(np.float32)
    dc, dg, du, dv, dic = (dots[..., k] for k in range(5))
    disc = dc * dc - float(c @ c - R * R)
    on_ball = disc > 0
    t_plane = float(ic @ g) / np.where(np.abs(dg) < 1e-9, np.float32(1e-9), dg)
    radial = np.sqrt(np.maximum(t_plane * t_plane - 2 * t_plane * dic + float(ic @ ic), 0.0))
    in_iris = on_ball & (radial <= geo.subject.iris_radius_mm) & (t_plane > 0)
    in_pupil = in_iris & (radial <= geo.pupil_radius)
    region = np.zeros(dc.shape, np.uint8)  # 0 background, 1 sclera, 2 iris, 3 pupil
    region[on_ball] = 1
    region[in_iris] = 2
    region[in_pupil] = 3
    polar = np.arctan2(t_plane * dv - float(ic @ v), t_plane * du - float(ic @ u))
    # cosine between the sphere normal at the hit and the direction to the camera
    t_sphere = dc - np.sqrt(np.maximum(disc, 0.0))
    cn = float(np.linalg.norm(c))
    facing = np.clip((cn - t_sphere * dc / cn) / R, 0.0, 1.0)
    upper, lower = _lid_curves(geo, frame, cfg, xs)
    skin = (yy < upper[None, :]) | (yy > lower[None, :])
    return {
        "region": region,
        "skin": skin,
        "radial": radial,
        "polar": polar,
        "facing": facing,
        "yy": yy,
        "upper": upper,
        "lower": lower,
    }


def render_frame(subject: Subject, frame: Frame, cfg: RenderConfig) -> RenderedFrame:
    """Render one frame: 8-bit grey image, region masks with and without skin, analytic labels."""
    geo = eye_geometry(subject, frame, cfg)
    w, h = cfg.image_size
    ss = cfg.supersample
    hi = _classify(geo, frame, cfg, ss)
    lo = hi if ss == 1 else _classify(geo, frame, cfg, 1)
    img = _shade(geo, frame, cfg, hi, ss)
    mask_without, mask_with = _masks(geo, lo, cfg)
    labels = geometry_labels(geo)
    labels["float_blink"] = float(frame.blink)
    return RenderedFrame(img, mask_with, mask_without, labels)


def _shade(
    geo: EyeGeometry, frame: Frame, cfg: RenderConfig, grid: dict[str, np.ndarray], ss: int
) -> np.ndarray:
    """Infrared-like appearance on the supersampled grid, downsampled to the image size."""
    w, h = cfg.image_size
    sub = geo.subject
    region, skin = grid["region"], grid["skin"]
    shape = region.shape
    tex = _texture(shape, sub.texture_seed, scales=(18.0 * ss, 6.0 * ss, 2.0 * ss))
    fine = _texture(shape, sub.texture_seed + 1, scales=(1.0 * ss,))
    out = np.full(shape, sub.skin_level * 0.55, np.float32)  # background (beyond the eyeball)
    sclera = region == 1
    out[sclera] = sub.sclera_level * (0.65 + 0.35 * grid["facing"][sclera]) + 6.0 * tex[sclera]
    iris = region == 2
    rnorm = grid["radial"][iris] / sub.iris_radius_mm
    striation = np.cos(grid["polar"][iris] * 37.0 + 3.0 * np.sin(grid["polar"][iris] * 5.0))
    limbal = np.clip((rnorm - 0.85) / 0.15, 0.0, 1.0)
    out[iris] = sub.iris_level * (1.0 - 0.35 * limbal) + 10.0 * striation + 5.0 * fine[iris]
    pupil = region == 3
    out[pupil] = sub.pupil_level + 3.0 * fine[pupil]
    # eyelid skin with shading, a dark lash line along the upper margin
    yy, upper = grid["yy"], grid["upper"][None, :]
    skin_val = sub.skin_level + 22.0 * tex + 6.0 * fine
    dist_up = upper - yy
    lash = np.exp(-np.clip(dist_up, 0, None) / 1.6) * (dist_up >= 0)  # grid y is in image px
    skin_val = skin_val * (1.0 - 0.55 * lash)
    fold = np.exp(-(((upper - 0.12 * h) - yy) ** 2) / (2 * 3.0**2))
    skin_val = skin_val * (1.0 - 0.2 * fold)
    out = np.where(skin, skin_val, out)
    # soft shadow of the upper lid on the eye
    shadow = np.exp(-np.clip(yy - upper, 0, None) / 4.0)
    out = np.where(skin, out, out * (1.0 - 0.35 * shadow))
    if ss > 1:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)
    # glints: bright specular spots where the LED reflection is not covered by a lid
    yy1, xx1 = np.mgrid[0:h, 0:w].astype(np.float32)
    up1, lo1 = _lid_curves(geo, frame, cfg, np.arange(w, dtype=np.float64))
    for gx, gy in geo.glints:
        ix = int(np.clip(round(gx), 0, w - 1))
        if not (0 <= gx < w and 0 <= gy < h) or not (up1[ix] < gy < lo1[ix]):
            continue
        out = np.maximum(out, 255.0 * np.exp(-((xx1 - gx) ** 2 + (yy1 - gy) ** 2) / (2 * 1.1**2)))
    # camera: vignetting, exposure, defocus, sensor noise
    r2 = ((xx1 - w / 2) / w) ** 2 + ((yy1 - h / 2) / h) ** 2
    out = out * frame.exposure * (1.0 - 0.6 * r2)
    if frame.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), frame.blur_sigma)
    rng = np.random.default_rng(frame.noise_seed)
    out = out + rng.normal(0.0, frame.noise_sigma, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _masks(
    geo: EyeGeometry, grid: dict[str, np.ndarray], cfg: RenderConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Colour-coded BGR region masks without and with eyelid skin (1x grid)."""
    region, skin = grid["region"], grid["skin"]
    w, h = cfg.image_size
    without = np.zeros((h, w, 3), np.uint8)
    without[region == 1] = EYEBALL_BGR
    without[region == 2] = IRIS_BGR
    without[region == 3] = PUPIL_BGR
    with_skin = without.copy()
    with_skin[skin] = SKIN_BGR
    for gx, gy in geo.glints:
        ix, iy = int(round(gx)), int(round(gy))
        if 0 <= ix < w and 0 <= iy < h and not skin[iy, ix]:
            cv2.circle(with_skin, (ix, iy), 1, GLINT_BGR, -1)
    return without, with_skin


def geometry_labels(geo: EyeGeometry) -> dict[str, float]:
    """Analytic NvGaze label columns of one frame (ellipses in px)."""
    p, i, e = geo.pupil, geo.iris, geo.eyeball
    return {
        "float_pupil_x": p.cx,
        "float_pupil_y": p.cy,
        "float_pupilellipse_major": p.major,
        "float_pupilellipse_minor": p.minor,
        "float_pupilellipse_angle": p.angle,
        "float_iris_x": i.cx,
        "float_iris_y": i.cy,
        "float_irisellipse_major": i.major,
        "float_irisellipse_minor": i.minor,
        "float_irisellipse_angle": i.angle,
        "float_eyeball_x": e.cx,
        "float_eyeball_y": e.cy,
        "float_eyeball_diameter": e.major,
    }


@dataclass
class Footage:
    """A rendered footage folder: its ``footage_description.csv`` table and a frame renderer.

    Frames are rendered on demand (``render(i)``), so a dataset can stream them into the zip
    archive without holding every image in memory.
    """

    name: str
    table: pd.DataFrame
    render: Callable[[int], RenderedFrame]
    archive: str = ARCHIVE_NAME

    def __len__(self) -> int:
        return len(self.table)


def frame_file_names(index: int) -> dict[str, str]:
    """Archive member names of frame ``index`` for the image and both region masks."""
    return {
        IMAGE_COLUMN: f"img_{index:06d}_L_0.png",
        MASK_WITHSKIN_COLUMN: f"regionmask_withskin_{index:06d}_L_0.png",
        MASK_WITHOUTSKIN_COLUMN: f"regionmask_withoutskin_{index:06d}_L_0.png",
    }


def render_footage(
    subject: Subject,
    n_frames: int,
    cfg: RenderConfig,
    seed: int,
    include_ellipse_labels: bool = True,
) -> Footage:
    """A footage of ``n_frames`` frames of one subject (table computed now, pixels on demand).

    With ``include_ellipse_labels=False`` the table has only what a renderer or a recording
    provides (gaze, blink, slippage, pupil size) and the ellipse columns must be fitted from
    the region masks, as for NvGaze's own synthetic footage.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    frames = sample_frames(n_frames, cfg, seed)
    rows = []
    for idx, fr in enumerate(frames):
        row: dict[str, object] = {"archive": ARCHIVE_NAME, **frame_file_names(idx)}
        row.update(
            {
                "string_eye": "L",
                "string_subject": subject.name,
                "int_frame": idx,
                "float_gaze_x_degree": fr.gaze_x_deg,
                "float_gaze_y_degree": fr.gaze_y_deg,
                "float_pupil_diameter_mm": fr.pupil_diameter_mm,
                "float_blink": fr.blink,
                "float_slippage_x": fr.slippage_mm[0],
                "float_slippage_y": fr.slippage_mm[1],
                "float_slippage_z": fr.slippage_mm[2],
            }
        )
        if include_ellipse_labels:
            row.update(geometry_labels(eye_geometry(subject, fr, cfg)))
        rows.append(row)
    table = pd.DataFrame(rows)

    def render(i: int) -> RenderedFrame:
        return render_frame(subject, frames[i], cfg)

    return Footage(name=f"nvgaze_sample_{subject.name}", table=table, render=render)


def with_gaze(frame: Frame, gaze_x_deg: float, gaze_y_deg: float) -> Frame:
    """A copy of ``frame`` looking elsewhere (for tests and demonstrations)."""
    return replace(frame, gaze_x_deg=gaze_x_deg, gaze_y_deg=gaze_y_deg)


def reflection_textures(
    n: int, size: tuple[int, int] = (320, 320), seed: int = 0
) -> list[np.ndarray]:
    """``n`` grey scenes to reflect in eyeglasses / the cornea: windows, lamps, blurred clutter.

    The fallback reflection set when no image folder is available.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    out = []
    for _ in range(n):
        img = _texture((h, w), int(rng.integers(0, 2**31 - 1)), scales=(40.0, 12.0)).copy()
        img = 90.0 + 50.0 * img
        for _ in range(int(rng.integers(1, 5))):  # bright windows with mullions
            x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
            x1 = min(w, x0 + int(rng.integers(20, w // 2)))
            y1 = min(h, y0 + int(rng.integers(20, h // 2)))
            img[y0:y1, x0:x1] = rng.uniform(180, 255)
            img[y0:y1, (x0 + x1) // 2 : (x0 + x1) // 2 + 3] *= 0.5
        for _ in range(int(rng.integers(0, 4))):  # lamps
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            yy, xx = np.mgrid[0:h, 0:w]
            img += 160.0 * np.exp(
                -((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rng.uniform(4, 20) ** 2)
            )
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), float(rng.uniform(0.5, 3.0)))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out
