"""Feature extraction of the webcam eye tracker: one frame + landmarks -> the model's inputs.

Matches the reference project's detector: eye centres are the means of each eye's two corners;
``head_angle`` is the angle (degrees) of the line from the image-left eye centre to the
image-right eye centre, ``atan2(dy, dx)`` with image y pointing down (positive when the head is
tilted clockwise in the image); ``face`` and ``face_aligned`` are ``size x size`` warps scaled so
the eye centres are ``(1 - 2 x) * size`` apart and their midpoint sits at ``(0.5, y) * size``
for ``eye_position = (x, y)`` (reference: (0.35, 0.5)); ``face_aligned`` also rotates by the
head angle so the eyes sit level at the fixed positions; ``l_eye`` / ``r_eye`` are squares as
wide as the eye (corner to corner) centred on the eye centre; ``head_pos`` is a white frame with
the face box in black, resized to ``size x size`` (one channel).

Naming follows the reference: ``l_eye`` is the eye on the image's left (the subject's right eye,
68-point landmarks 36-41), ``r_eye`` the eye on the image's right (42-47).

Landmarks come from a table (any detector, or the renderer's exact landmarks) or from dlib
(HOG or CNN face detector + the 5-point shape predictor shipped by ``face-recognition-models``;
install the ``webcam`` extra). Both run offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pandas as pd

LANDMARK_COLUMNS = [
    "face_x", "face_y", "face_w", "face_h",
    "l_eye_outer_x", "l_eye_outer_y", "l_eye_inner_x", "l_eye_inner_y",
    "r_eye_inner_x", "r_eye_inner_y", "r_eye_outer_x", "r_eye_outer_y",
]  # fmt: skip


class FeatureError(ValueError):
    """A frame whose features cannot be extracted; ``code`` is the rejects reason code."""

    def __init__(self, code: str, detail: str):
        self.code = code
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True)
class FaceLandmarks:
    """What feature extraction needs: the face box and the two corners of each eye (pixels).

    ``l_eye`` rows are (outer, inner) corners of the image-left eye; ``r_eye`` rows are
    (inner, outer) corners of the image-right eye. ``face_box`` is (x, y, w, h).
    """

    face_box: np.ndarray
    l_eye: np.ndarray
    r_eye: np.ndarray

    @classmethod
    def from_68(cls, points: np.ndarray, face_box: np.ndarray | None = None) -> FaceLandmarks:
        """From 68-point landmarks (36/39 and 42/45 eye corners); box defaults to their bounds."""
        pts = np.asarray(points, np.float64).reshape(68, 2)
        if face_box is None:
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            face_box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
        return cls(np.asarray(face_box, np.float64), pts[[36, 39]], pts[[42, 45]])

    @classmethod
    def from_dlib5(cls, points: np.ndarray, face_box: np.ndarray) -> FaceLandmarks:
        """From dlib's 5-point layout: 0/1 image-right eye (outer, inner), 2/3 image-left eye."""
        pts = np.asarray(points, np.float64).reshape(5, 2)
        return cls(np.asarray(face_box, np.float64), pts[[2, 3]], pts[[1, 0]])

    @classmethod
    def from_row(cls, row: pd.Series | dict[str, Any]) -> FaceLandmarks:
        """From one row of a landmarks table (``LANDMARK_COLUMNS``)."""
        v = np.array([float(row[c]) for c in LANDMARK_COLUMNS])
        return cls(v[0:4], v[4:8].reshape(2, 2), v[8:12].reshape(2, 2))

    def to_row(self) -> dict[str, float]:
        """The landmarks as one row of a landmarks table."""
        values = np.concatenate([self.face_box, self.l_eye.ravel(), self.r_eye.ravel()])
        return {c: float(v) for c, v in zip(LANDMARK_COLUMNS, values, strict=True)}

    @property
    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(image-left, image-right) eye centres: the mean of each eye's two corners."""
        return self.l_eye.mean(axis=0), self.r_eye.mean(axis=0)

    def check(self, min_eye_width: float = 4.0) -> None:
        """Raise ``FeatureError`` for missing values, swapped eyes or eyes too small to crop."""
        values = np.concatenate([self.face_box, self.l_eye.ravel(), self.r_eye.ravel()])
        if not np.all(np.isfinite(values)):
            raise FeatureError("no_landmarks", "landmarks contain missing values")
        l_c, r_c = self.eye_centres
        if r_c[0] <= l_c[0]:
            raise FeatureError(
                "bad_landmarks", "image-right eye is not right of the image-left eye"
            )
        widths = (eye_width(self.l_eye), eye_width(self.r_eye))
        if min(widths) < min_eye_width:
            raise FeatureError(
                "eyes_too_small",
                f"eye widths {widths[0]:.1f}, {widths[1]:.1f} px < {min_eye_width}",
            )


def eye_width(corners: np.ndarray) -> float:
    """Corner-to-corner distance of one eye in pixels."""
    return float(np.linalg.norm(np.asarray(corners)[1] - np.asarray(corners)[0]))


def head_angle_deg(l_centre: np.ndarray, r_centre: np.ndarray) -> float:
    """Angle of the eye line, degrees: ``atan2(r.y - l.y, r.x - l.x)`` (image y down)."""
    d = np.asarray(r_centre, np.float64) - np.asarray(l_centre, np.float64)
    return float(math.degrees(math.atan2(d[1], d[0])))


def face_warp(
    l_centre: np.ndarray,
    r_centre: np.ndarray,
    size: int,
    eye_position: tuple[float, float] = (0.35, 0.5),
    align: bool = True,
) -> np.ndarray:
    """2x3 affine frame -> face crop; eyes end ``(1 - 2x) * size`` apart, midpoint at (0.5, y).

    With ``align`` the crop is also rotated by the head angle, so the eye centres land exactly on
    ``(x, y) * size`` and ``(1 - x, y) * size``.
    """
    l_c, r_c = np.asarray(l_centre, np.float64), np.asarray(r_centre, np.float64)
    dist = float(np.linalg.norm(r_c - l_c))
    if dist <= 0:
        raise FeatureError("bad_landmarks", "both eye centres coincide")
    scale = (1.0 - 2.0 * eye_position[0]) * size / dist
    centre = (l_c + r_c) / 2.0
    angle = head_angle_deg(l_c, r_c) if align else 0.0
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    m[0, 2] += size * 0.5 - centre[0]
    m[1, 2] += size * eye_position[1] - centre[1]
    return m


def eye_warp(corners: np.ndarray, size: int) -> np.ndarray:
    """2x3 affine frame -> eye crop: a square as wide as the eye, centred on its centre."""
    c = np.asarray(corners, np.float64)
    centre = c.mean(axis=0)
    x0, x1 = float(c[:, 0].min()), float(c[:, 0].max())
    width = max(x1 - x0, 1e-6)
    s = size / width
    return np.array([[s, 0.0, -s * x0], [0.0, s, size / 2.0 - s * centre[1]]])


def head_pos_mask(frame_shape: tuple[int, ...], face_box: np.ndarray, size: int) -> np.ndarray:
    """White frame-sized image with the face box in black, resized to ``size x size`` (uint8)."""
    h, w = int(frame_shape[0]), int(frame_shape[1])
    img = np.full((h, w), 255, np.uint8)
    x, y, bw, bh = (float(v) for v in face_box)
    p0 = (int(round(max(0.0, x))), int(round(max(0.0, y))))
    p1 = (int(round(min(w - 1.0, x + bw))), int(round(min(h - 1.0, y + bh))))
    if p1[0] >= p0[0] and p1[1] >= p0[1]:
        cv2.rectangle(img, p0, p1, 0, -1)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def to_bgr(frame: np.ndarray) -> np.ndarray:
    """Grey (H, W) / (H, W, 1) or BGR(A) frames as 3-channel BGR uint8."""
    img = np.asarray(frame)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2 or img.shape[-1] == 1:
        return cv2.cvtColor(img.reshape(img.shape[0], img.shape[1]), cv2.COLOR_GRAY2BGR)
    if img.shape[-1] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def extract_features(
    frame: np.ndarray,
    landmarks: FaceLandmarks,
    size: int = 64,
    eye_position: tuple[float, float] = (0.35, 0.5),
    min_eye_width: float = 4.0,
) -> dict[str, Any]:
    """The reference's features of one frame: 4 colour crops, the head_pos mask, head_angle."""
    landmarks.check(min_eye_width)
    img = to_bgr(frame)
    l_c, r_c = landmarks.eye_centres
    flags = {"flags": cv2.INTER_CUBIC, "borderMode": cv2.BORDER_REPLICATE}
    out: dict[str, Any] = {}
    for name, align in (("face", False), ("face_aligned", True)):
        m = face_warp(l_c, r_c, size, eye_position, align)
        out[name] = cv2.warpAffine(img, m, (size, size), **flags)
    out["l_eye"] = cv2.warpAffine(img, eye_warp(landmarks.l_eye, size), (size, size), **flags)
    out["r_eye"] = cv2.warpAffine(img, eye_warp(landmarks.r_eye, size), (size, size), **flags)
    out["head_pos"] = head_pos_mask(img.shape, landmarks.face_box, size)
    out["head_angle"] = head_angle_deg(l_c, r_c)
    return out


# ----------------------------------------------------------------------------- dlib detector


class DlibLandmarker:
    """dlib face detector (HOG, or the CNN MMOD model) + the 5-point shape predictor, offline.

    The model files come from the ``face-recognition-models`` package (``webcam`` extra).
    ``__call__`` returns one :class:`FaceLandmarks` or raises ``FeatureError`` (``no_face``,
    ``multiple_faces``).
    """

    def __init__(self, detector: str = "hog", upsample: int = 0, multiple_faces: str = "reject"):
        try:
            import dlib  # noqa: PLC0415 - optional dependency
            import face_recognition_models as frm  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "webcam.features.landmarks = dlib needs the 'webcam' extra "
                "(pip install 'gaze_pipelines[webcam]': dlib-bin, face-recognition-models), "
                f"or a landmarks.csv next to the frames: {exc}"
            ) from exc
        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', got {detector!r}")
        self._cnn = detector == "cnn"
        self._detect = (
            dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())
            if self._cnn
            else dlib.get_frontal_face_detector()
        )
        self._predict = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.upsample = upsample
        self.multiple_faces = multiple_faces

    def __call__(self, frame: np.ndarray) -> FaceLandmarks:
        """Landmarks of the one face in ``frame`` (BGR or grey uint8)."""
        img = to_bgr(frame)
        rgb = np.ascontiguousarray(img[..., ::-1])
        dets = self._detect(rgb, self.upsample)
        rects = [d.rect for d in dets] if self._cnn else list(dets)
        if not rects:
            raise FeatureError("no_face", "dlib found no face")
        if len(rects) > 1:
            if self.multiple_faces == "reject":
                raise FeatureError("multiple_faces", f"dlib found {len(rects)} faces")
            rects = [max(rects, key=lambda r: r.width() * r.height())]
        rect = rects[0]
        shape = self._predict(rgb, rect)
        pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], np.float64)
        box = np.array([rect.left(), rect.top(), rect.width(), rect.height()], np.float64)
        return FaceLandmarks.from_dlib5(pts, box)
