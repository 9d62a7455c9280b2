"""NvGaze training augmentations (``DatasetPupilcenter.__getitem__``), numpy + OpenCV.

Order and ranges follow the original: an affine transform about the pupil (rotation and shift;
the pupil label moves with the image, gaze angles rotate with it as for a camera roll), per-pixel
intensity noise and a global offset (then min-max stretched to 0-255), Gaussian blur, down- then
up-scaling, a screen-blended reflection crop, and a random piecewise-linear intensity remap
(``advanced_normalization``). Each step has its own probability. Input and output images are
(H, W, C); output values are float32 grey levels (roughly 0-255: the remap may leave the range,
as the original's does in normalised space).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from gaze_pipelines.pipelines.nvgaze.params import GAZE_ANGLES, PUPIL_CENTER, AugmentationParams
from gaze_pipelines.synthetic.nvgaze import gaze_vector


def rotate_gaze(gaze_x_deg: float, gaze_y_deg: float, matrix: np.ndarray) -> tuple[float, float]:
    """Gaze angles after the image is warped by ``matrix`` (its 2x2 part taken as a camera roll)."""
    v = gaze_vector(gaze_x_deg, gaze_y_deg)
    a = np.asarray(matrix, dtype=np.float64)[:2, :2]
    scale = math.sqrt(abs(np.linalg.det(a))) or 1.0
    xy = (a / scale) @ v[:2]
    vx, vy, vz = xy[0], xy[1], v[2]
    gy = math.degrees(math.asin(float(np.clip(-vy, -1.0, 1.0))))
    gx = math.degrees(math.atan2(vx, -vz))
    return gx, gy


def screen_blend(base: np.ndarray, blend: np.ndarray, opacity: float) -> np.ndarray:
    """NvGaze's ``blendReflection``: screen blend mixed with the base at ``opacity`` (uint8)."""
    b = base.astype(np.float32) / 255.0
    r = blend.astype(np.float32) / 255.0
    screen = 1.0 - (1.0 - b) * (1.0 - r)
    return np.clip((screen * opacity + b * (1.0 - opacity)) * 255.0, 0, 255).astype(np.uint8)


def intensity_remap(img: np.ndarray, lower: float, center: float, upper: float) -> np.ndarray:
    """Piecewise-linear map 0 -> lower, 0.5 -> 0.5 + center, 1 -> 1 + upper (normalised units)."""
    x = img.astype(np.float32) / 255.0
    lo = lower + (0.5 + center - lower) * (x / 0.5)
    hi = (0.5 + center) + (0.5 + upper - center) * ((x - 0.5) / 0.5)
    return (np.where(x <= 0.5, lo, hi) * 255.0).astype(np.float32)


@dataclass
class Augmenter:
    """Applies the configured augmentations to one sample at a time."""

    params: AugmentationParams
    outputs: Sequence[str]
    valid_range: tuple[float, float]
    reflections: Sequence[np.ndarray] = ()

    def __post_init__(self) -> None:
        self._pupil_idx = [
            self.outputs.index(c) if c in self.outputs else None for c in PUPIL_CENTER
        ]
        self._gaze_idx = [self.outputs.index(c) if c in self.outputs else None for c in GAZE_ANGLES]
        self.reflections = [r for r in self.reflections if r.ndim == 2 and r.size]

    def __call__(
        self, image: np.ndarray, target: np.ndarray, pupil: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment one (H, W, C) uint8 image, its targets and its pupil position."""
        p = self.params
        img = np.ascontiguousarray(image)
        target = np.array(target, dtype=np.float32)
        if not p.enabled:
            return img.astype(np.float32), target
        if p.affine.probability and rng.random() < p.affine.probability:
            img, target = self._affine(img, target, pupil, rng)
        img = self._photometric(img, rng)
        return img, target

    # --- geometry ----------------------------------------------------------------------------

    def _affine(
        self, img: np.ndarray, target: np.ndarray, pupil: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        a = self.params.affine
        h, w = img.shape[:2]
        px, py = float(pupil[0]), float(pupil[1])
        lo, hi = self.valid_range
        matrix = None
        for _ in range(a.max_tries):
            angle = rng.uniform(-a.max_angle_deg, a.max_angle_deg)
            tx = rng.uniform(-a.max_translation, a.max_translation) * w
            ty = rng.uniform(-a.max_translation, a.max_translation) * h
            if lo * w <= px + tx < hi * w and lo * h <= py + ty < hi * h:
                matrix = cv2.getRotationMatrix2D((px, py), angle, 1.0)
                matrix[:, 2] += (tx, ty)
                break
        if matrix is None:
            return img, target
        if img.shape[2] <= 4:
            warped = cv2.warpAffine(
                img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            warped = warped.reshape(h, w, -1)
        else:
            warped = np.stack(
                [
                    cv2.warpAffine(
                        img[:, :, c],
                        matrix,
                        (w, h),
                        flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REFLECT,
                    )
                    for c in range(img.shape[2])
                ],
                axis=2,
            )
        ix, iy = self._pupil_idx
        if ix is not None:
            target[ix] = matrix[0, 0] * px + matrix[0, 1] * py + matrix[0, 2]
        if iy is not None:
            target[iy] = matrix[1, 0] * px + matrix[1, 1] * py + matrix[1, 2]
        gx, gy = self._gaze_idx
        if gx is not None and gy is not None:
            target[gx], target[gy] = rotate_gaze(float(target[gx]), float(target[gy]), matrix)
        return warped, target

    # --- photometry --------------------------------------------------------------------------

    def _photometric(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self.params
        h, w, c = img.shape
        noise = p.intensity_noise.probability and rng.random() < p.intensity_noise.probability
        offset = p.global_offset.probability and rng.random() < p.global_offset.probability
        if noise or offset:
            work = img.astype(np.int16)
            if noise:
                m = int(round(p.intensity_noise.max_noise))
                work += (
                    rng.integers(-m, m, size=work.shape, dtype=np.int16, endpoint=False) if m else 0
                )
            if offset:
                work += int(
                    math.floor(rng.uniform(-p.global_offset.max_offset, p.global_offset.max_offset))
                )
            norm = cv2.normalize(work.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX)
            img = norm.reshape(h, w, c).astype(np.uint8)
        if p.blur.probability and rng.random() < p.blur.probability:
            sigma = 0.5 + abs(rng.uniform(0.1, p.blur.max_sigma))
            img = cv2.GaussianBlur(img, (7, 7), sigma).reshape(h, w, c)
        if p.downscale.probability and rng.random() < p.downscale.probability:
            f = rng.uniform(p.downscale.min_scale, 1.0)
            small = cv2.resize(
                img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_CUBIC
            )
            img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, c)
        if (
            self.reflections
            and p.reflection.probability
            and rng.random() < p.reflection.probability
        ):
            ref = self.reflections[int(rng.integers(len(self.reflections)))]
            if ref.shape[0] < h or ref.shape[1] < w:
                k = max(h / ref.shape[0], w / ref.shape[1])
                ref = cv2.resize(ref, (math.ceil(ref.shape[1] * k), math.ceil(ref.shape[0] * k)))
            y = int(rng.integers(0, ref.shape[0] - h + 1))
            x = int(rng.integers(0, ref.shape[1] - w + 1))
            crop = ref[y : y + h, x : x + w, None]
            opacity = rng.uniform(*p.reflection.opacity)
            img = screen_blend(img, np.broadcast_to(crop, img.shape), opacity)
        out = img.astype(np.float32)
        r = p.intensity_remap
        if r.probability and rng.random() < r.probability:
            out = np.stack(
                [
                    intensity_remap(
                        img[:, :, ch],
                        rng.uniform(-r.lower, r.lower),
                        rng.uniform(-r.center, r.center),
                        rng.uniform(-r.upper, r.upper),
                    )
                    for ch in range(c)
                ],
                axis=2,
            )
        return out
