"""Node of ``webcam_inference``: screen points from a frames folder or a video, drawn.

As in the reference tracker: each frame's prediction joins a window of the last ``window`` (5)
predictions averaged with linear weights 1..n (the newest weighs most); the circle's radius is
the error map's value at the prediction, times ``radius_scale`` (0.75), averaged over
``radius_window_factor x window`` frames with linear weights. Unlike the reference, the windows
start empty (no pull toward (0, 0) in the first frames) and a frame without a face keeps the
last drawn point (it is listed in the rejects table).
"""

from __future__ import annotations

import logging
from collections import deque
from functools import partial
from typing import Any

import cv2
import numpy as np
import pandas as pd

from gaze_pipelines.core.predict import as_predictor
from gaze_pipelines.core.progress import progress
from gaze_pipelines.datasets.webcam import WebcamSession
from gaze_pipelines.pipelines.webcam.features import FaceLandmarks, FeatureError, extract_features
from gaze_pipelines.pipelines.webcam.nodes_data import REJECT_COLUMNS, _landmark_source
from gaze_pipelines.pipelines.webcam.params import validate_params

logger = logging.getLogger(__name__)


def weighted_average(values: list[float] | np.ndarray) -> np.ndarray:
    """Linearly weighted mean over the first axis (weights 1..n, last row weighs n)."""
    v = np.asarray(values, np.float64)
    w = np.arange(1, len(v) + 1, dtype=np.float64)
    return np.tensordot(w, v, axes=(0, 0)) / w.sum()


def map_error(error_map: np.ndarray, x: float, y: float) -> float:
    """The ``[x, y]`` error map's value at a (clamped) screen point."""
    w, h = error_map.shape
    xi = int(np.clip(x, 0, w - 1))
    yi = int(np.clip(y, 0, h - 1))
    return float(error_map[xi, yi])


class GazeSmoother:
    """The reference's running smoothing of points and of the error-map radius."""

    def __init__(self, error_map: np.ndarray, window: int = 5, radius_factor: int = 2,
                 radius_scale: float = 0.75, min_radius: float = 0.0):  # fmt: skip
        self.error_map = error_map
        self.points: deque[np.ndarray] = deque(maxlen=window)
        self.errors: deque[float] = deque(maxlen=window * radius_factor)
        self.radius_scale = radius_scale
        self.min_radius = min_radius

    def update(self, point: np.ndarray) -> tuple[np.ndarray, float]:
        """Add a raw prediction; return the smoothed point and circle radius (px)."""
        self.points.append(np.asarray(point, np.float64))
        self.errors.append(map_error(self.error_map, *point) * self.radius_scale)
        return weighted_average(list(self.points)), max(float(weighted_average(self.errors)),
                                                         self.min_radius)  # fmt: skip

    @property
    def current(self) -> tuple[np.ndarray, float] | None:
        """The last smoothed state, if any prediction arrived."""
        if not self.points:
            return None
        return weighted_average(list(self.points)), max(float(weighted_average(self.errors)),
                                                         self.min_radius)  # fmt: skip


def draw_frame(
    screen: tuple[int, int],
    scale: float,
    point: np.ndarray | None,
    radius: float,
    raw: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    inset: list[np.ndarray] | None = None,
    label: str = "",
) -> np.ndarray:
    """The screen (scaled) with the gaze circle, raw point, true target and webcam inset."""
    w, h = int(round(screen[0] * scale)), int(round(screen[1] * scale))
    img = np.full((h, w, 3), 40, np.uint8)
    if inset:
        tiles = [cv2.cvtColor(t, cv2.COLOR_GRAY2BGR) if t.ndim == 2 else t for t in inset]
        side = tiles[0].shape[0]
        grid = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:4])])
        big = cv2.resize(grid, (4 * side, 4 * side), interpolation=cv2.INTER_NEAREST)
        big = big[: min(big.shape[0], h), : min(big.shape[1], w)]
        img[: big.shape[0], : big.shape[1]] = big
    if truth is not None and np.all(np.isfinite(truth)):
        c = tuple(int(v) for v in np.asarray(truth) * scale)
        cv2.drawMarker(img, c, (60, 60, 255), cv2.MARKER_CROSS, 18, 2)
    if point is not None:
        c = tuple(int(v) for v in np.asarray(point) * scale)
        r = max(1, int(radius * scale))
        overlay = img.copy()
        cv2.circle(overlay, c, r, (255, 255, 255), -1, cv2.LINE_AA)
        img = cv2.addWeighted(overlay, 0.3, img, 0.7, 0)
        cv2.circle(img, c, r, (0, 255, 0), 3, cv2.LINE_AA)
    if raw is not None:
        cv2.circle(img, tuple(int(v) for v in np.asarray(raw) * scale), 3, (0, 200, 255), -1)
    if label:
        cv2.putText(img, label, (8, h - 10), cv2.FONT_HERSHEY_PLAIN, 1.4, (0, 255, 0), 1)
    return img


def run_inference(
    session: WebcamSession,
    models: dict[str, Any],
    error_maps: dict[str, np.ndarray],
    webcam: dict[str, Any],
) -> tuple[WebcamSession, pd.DataFrame, pd.DataFrame]:
    """Predict, smooth and draw every frame; annotated frames, predictions table, rejects."""
    p = validate_params(webcam)
    inf = p.inference
    if inf.variant not in models:
        raise ValueError(f"webcam.inference.variant = {inf.variant}: no trained model "
                         f"(have {sorted(models)}; add it to webcam.train.variants)")  # fmt: skip
    if inf.variant not in error_maps:
        raise ValueError(
            f"webcam.inference.variant = {inf.variant}: no error map, run webcam_evaluate"
        )
    emap = error_maps[inf.variant]
    emap = np.asarray(emap() if callable(emap) else emap, np.float32)
    if emap.shape != (p.screen.width, p.screen.height):
        raise ValueError(
            f"error map of '{inf.variant}' is {emap.shape}, expected "
            f"(webcam.screen.width, height) = ({p.screen.width}, {p.screen.height})"
        )
    predictor = as_predictor(models[inf.variant])
    names = list(predictor.input_names)
    f = p.features
    locate = _landmark_source(session, f.landmarks, f)
    targets = (session.targets.drop_duplicates("frame").set_index("frame")
               if session.targets is not None else None)  # fmt: skip
    smoother = GazeSmoother(emap, inf.window, inf.radius_window_factor, inf.radius_scale,
                            inf.min_radius_px)  # fmt: skip
    screen = (p.screen.width, p.screen.height)
    drawn: dict[str, Any] = {}  # lazy: each frame is drawn when the output dataset writes it
    rows, rejects = [], []
    for name, frame in progress(session.iter_frames(), "webcam inference", len(session), "frame"):
        truth = None
        if targets is not None and name in targets.index:
            truth = targets.loc[name, ["x", "y"]].to_numpy(np.float64)
        raw = None
        inset = None
        try:
            lm: FaceLandmarks = locate(name, frame)
            feats = extract_features(frame, lm, f.image_size, f.eye_position, f.min_eye_width_px)
        except (FeatureError, KeyError) as exc:
            reason = str(exc) if isinstance(exc, FeatureError) else "no_landmarks: not in table"
            rejects.append({"id": "", "frame": name, "reason": reason})
            state = smoother.current
        else:
            batch = {n: (np.array([[feats[n]]], np.float32) if n == "head_angle" else
                         feats[n].reshape(1, *feats[n].shape[:2], -1).astype(np.float32))
                     for n in names}  # fmt: skip
            raw = predictor.predict(batch)[0].astype(np.float64)
            state = smoother.update(raw)
            inset = [feats["face_aligned"], feats["head_pos"], feats["l_eye"], feats["r_eye"]]
        point, radius = state if state is not None else (None, 0.0)
        row = {"frame": name, "status": "ok" if raw is not None else "held",
               "raw_x": np.nan if raw is None else raw[0], "raw_y": np.nan if raw is None else raw[1],
               "x": np.nan if point is None else point[0], "y": np.nan if point is None else point[1],
               "radius_px": radius}  # fmt: skip
        if truth is not None:
            row.update({"target_x": truth[0], "target_y": truth[1]})
            row["error_px"] = float(np.hypot(*(point - truth))) if point is not None else np.nan
        rows.append(row)
        drawn[name] = partial(draw_frame, screen, inf.canvas_scale, point, radius, raw, truth,
                              inset if inf.show_webcam else None, f"frame {name}")  # fmt: skip
    table = pd.DataFrame(rows)
    if "error_px" in table and table["error_px"].notna().any():
        logger.info("webcam_inference: smoothed error %.1f px RMSE over %d frames",
                    float(np.sqrt(np.nanmean(table["error_px"] ** 2))), int(table["error_px"].notna().sum()))  # fmt: skip
    out = WebcamSession(drawn, fps=inf.fps,
                        source=session.source)  # fmt: skip
    rej = pd.DataFrame(rejects, columns=REJECT_COLUMNS).astype({"id": str, "frame": str})
    return out, table, rej
