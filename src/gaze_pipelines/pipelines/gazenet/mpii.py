"""MPIIFaceGaze's native layout as a ``gazenet_data`` source.

Layout (dataset readme, Zhang et al. 2017)::

    <root>/pXX/pXX.txt                       one line per frame (below)
    <root>/pXX/dayNN/NNNN.jpg                frames (not mirrored)
    <root>/pXX/Calibration/Camera.mat        cameraMatrix (3x3), distCoeffs (1x5)
    <root>/pXX/Calibration/monitorPose.mat   rvects (Rodrigues), tvecs (mm): screen -> camera
    <root>/pXX/Calibration/screenSize.mat    width_pixel, height_pixel, width_mm, height_mm

A ``pXX.txt`` line has 28 space-separated fields: image path (relative to ``pXX/``); gaze target
on the screen (x, y px); 6 landmarks (x, y px) in the order right-eye outer corner, right-eye
inner, left-eye inner, left-eye outer, right mouth corner, left mouth corner (subject's
left/right); head pose rvec (3) and tvec (3) of MPII's 6-point face model; face centre (3, camera
mm); 3D gaze target (3, camera mm); the eye used by the evaluation subset ("left"/"right").

Mapping to the TAO frame rows (see ``nodes_data.ingest_labels``):

- The root is one set (so TAO's user split applies across participants); every participant has
  its own calibration, stored as ``configs["<set id>/<pXX>"]`` and found by
  ``nodes_data.config_for``.
- The 6 points go to their 68-point layout indices 36, 39, 42, 45, 48, 54 (occluded flag 0); the
  other points 1-68 are ``-1`` with occluded flag 1 (absent), points 69-104 are ``-1`` / ``-1``.
  Rows add ``pnp_indices`` = those 6 indices: ``compute_geometry`` solves the head pose on them
  (SQPnP + iterative refinement, see ``geometry.solve_head_pose``) instead of TAO's 51 points.
- Face box: MPII gives none. The tight box approximates the bounding box of the 68 landmarks
  (what TAO's ``face_tight_bbox`` and our sample renderer hold), scaled from the 6 points with
  the proportions of the generic face model: a square of side
  ``max(BOX_PER_EYE_SPAN * |outer eye corners|, BOX_PER_EYE_MOUTH * |eyes - mouth|)`` (about
  1.5x the eye-corner span, 2x the eye-to-mouth distance) centred ``BOX_CENTRE_ALONG`` (about
  2/3) of the way from the eye-corner midpoint to the mouth-corner midpoint. Its side is within
  10% of the squared 68-point box; under yaw the 68-point box drifts toward the far ear while
  this one stays on the eyes and mouth (IoU ~0.7 at 20 deg yaw, 0.98 frontal).
- Frames are named ``dayNN_NNNN`` (unique per participant); eye status is "open" (MPII has none).
- Screen: ``R = Rodrigues(rvects)``; MPII puts targets on the screen plane
  (``R [x, y, 0] + t``) while TAO's formula (``geometry.screen_to_camera``) adds ``R [0, 0, 1]``;
  ``T = tvecs - R[:, 2]`` makes TAO's formula give MPII's own 3D gaze target exactly.
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import PurePosixPath
from typing import Any

import cv2
import numpy as np
import scipy.io

from gaze_pipelines.core import face_model, geometry
from gaze_pipelines.datasets.gazenet_raw import RawSet, local_path
from gaze_pipelines.pipelines.gazenet.tao_format import N_FIDUCIAL, ConfigError, SetConfig

logger = logging.getLogger(__name__)

SOURCE = "mpiifacegaze"
CALIBRATION_FILES = ("Camera.mat", "monitorPose.mat", "screenSize.mat")
N_FIELDS = 28
#: 68-point layout indices of MPII's 6 landmarks, in MPII's order.
MPII_TO_68 = np.array([36, 39, 42, 45, 48, 54], np.int64)
#: Frames whose pXX.txt 3D gaze target lies farther than this from the calibration's screen
#: target are counted in a warning (not rejected: the calibration is what TAO's formula uses).
TARGET_MISMATCH_MM = 10.0


def _box_proportions() -> tuple[float, float, float]:
    model = np.asarray(face_model.GENERIC_FACE_68)[:, :2]
    eyes = model[list(MPII_TO_68[:4])].mean(axis=0)
    mouth = model[list(MPII_TO_68[4:])].mean(axis=0)
    span = float(np.linalg.norm(model[45] - model[36]))
    em = float(np.linalg.norm(mouth - eyes))
    lo, hi = model.min(axis=0), model.max(axis=0)
    centre = (lo + hi) / 2
    along = float((centre - eyes) @ (mouth - eyes) / em**2)
    return float(hi[0] - lo[0]) / span, float(hi[1] - lo[1]) / em, along


BOX_PER_EYE_SPAN, BOX_PER_EYE_MOUTH, BOX_CENTRE_ALONG = _box_proportions()


def _reject(set_id: str, user: str, frame: str, reason: str) -> dict[str, str]:
    return {"set_id": set_id, "user": user, "frame": frame, "stage": "ingest", "reason": reason}


def face_box_from_points(points: np.ndarray) -> tuple[float, float, float, float]:
    """Tight face box ``(x1, y1, x2, y2)`` from MPII's 6 points (module docstring explains it)."""
    pts = np.asarray(points, np.float64).reshape(6, 2)
    eyes, mouth = pts[:4].mean(axis=0), pts[4:].mean(axis=0)
    span = float(np.linalg.norm(pts[3] - pts[0]))
    em = float(np.linalg.norm(mouth - eyes))
    side = max(BOX_PER_EYE_SPAN * span, BOX_PER_EYE_MOUTH * em)
    cx, cy = eyes + BOX_CENTRE_ALONG * (mouth - eyes)
    return max(0.0, cx - side / 2), max(0.0, cy - side / 2), cx + side / 2, cy + side / 2


# --------------------------------------------------------------------------- calibration


def _mat(content: bytes | None, where: str) -> dict[str, Any]:
    if content is None:
        raise ConfigError(f"{where}: missing (required MPIIFaceGaze calibration file)")
    try:
        return scipy.io.loadmat(io.BytesIO(content))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a config error naming the file
        raise ConfigError(
            f"{where}: not a readable .mat file ({exc.__class__.__name__}: {exc})"
        ) from exc


def _array(mat: dict[str, Any], keys: tuple[str, ...], size: int, where: str) -> np.ndarray:
    for key in keys:
        if key in mat:
            try:
                arr = np.asarray(mat[key], np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: '{key}' is not numeric ({exc})") from exc
            if arr.size < size:
                raise ConfigError(f"{where}: '{key}' needs {size} values, found {arr.size}")
            if not np.all(np.isfinite(arr[:size])):
                raise ConfigError(f"{where}: '{key}' contains NaN or infinite values")
            return arr
    raise ConfigError(
        f"{where}: no variable '{keys[0]}' (found {sorted(k for k in mat if not k.startswith('__'))})"
    )


def parse_calibration(files: dict[str, bytes | None], where: str) -> SetConfig:
    """One participant's ``Calibration/`` (``{file name: bytes or None}``) as a :class:`SetConfig`."""
    cam_where, pose_where, size_where = (f"{where}/{n}" for n in CALIBRATION_FILES)
    cam = _mat(files.get("Camera.mat"), cam_where)
    pose = _mat(files.get("monitorPose.mat"), pose_where)
    size = _mat(files.get("screenSize.mat"), size_where)
    k_vals = _array(cam, ("cameraMatrix",), 9, cam_where)
    if k_vals.size != 9:
        raise ConfigError(f"{cam_where}: 'cameraMatrix' must be 3x3, found {k_vals.size} values")
    K = k_vals.reshape(3, 3)
    if K[0, 0] <= 0 or K[1, 1] <= 0 or not math.isclose(K[2, 2], 1.0):
        raise ConfigError(
            f"{cam_where}: camera matrix must have positive focal lengths and K[2,2] = 1"
        )
    dist = np.zeros(5)
    if "distCoeffs" in cam:
        d = _array(cam, ("distCoeffs",), 1, cam_where)
        dist[: min(5, d.size)] = d[:5]
    # The readme says "rvecs"; the files hold "rvects".
    rvec = _array(pose, ("rvects", "rvecs"), 3, pose_where)[:3]
    tvec = _array(pose, ("tvecs", "tvects"), 3, pose_where)[:3]
    R = cv2.Rodrigues(rvec.reshape(3, 1))[0]
    screen = {}
    for key in ("width_mm", "height_mm", "width_pixel", "height_pixel"):
        value = float(_array(size, (key,), 1, size_where)[0])
        if value <= 0:
            raise ConfigError(f"{size_where}: '{key}' must be positive, got {value}")
        screen[key] = value
    return SetConfig(
        K=K,
        dist=dist,
        R=R,
        T=tvec - R[:, 2],
        screen_mm=(screen["width_mm"], screen["height_mm"]),
        screen_px=(int(round(screen["width_pixel"])), int(round(screen["height_pixel"]))),
        source_files={n: f"{where}/{n}" for n in CALIBRATION_FILES},
    )


# --------------------------------------------------------------------------- labels


def _frame_name(rel: str) -> str:
    """``day01/0005.jpg`` -> ``day01_0005`` (unique per participant, usable as a file stem)."""
    path = PurePosixPath(rel)
    stem = str(path.parent / path.stem) if path.name else str(path)
    return stem.replace("/", "_").strip("_.") or "unnamed"


def _parse_line(tokens: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    """(target px (2), landmarks (6, 2), gaze target camera mm (3)) or a reject reason."""
    if len(tokens) != N_FIELDS:
        return f"bad_line: expected {N_FIELDS} fields, found {len(tokens)}"
    try:
        values = np.array([float(t) for t in tokens[1:27]], np.float64)
    except ValueError as exc:
        return f"bad_value: {exc}"
    if not np.all(np.isfinite(values)):
        return "bad_value: NaN or infinite value"
    points = values[2:14].reshape(6, 2)
    if np.any(points < 0):
        return "bad_value: negative landmark coordinate"
    return values[0:2], points, values[23:26]


def _row(
    set_id: str, user: str, frame: str, path: str, target: tuple[float, float], points: np.ndarray
) -> dict[str, Any]:
    """A label row with exactly the TAO branch's keys, plus ``pnp_indices``."""
    landmarks = np.full((N_FIDUCIAL, 2), -1.0)
    landmarks[MPII_TO_68] = points
    occ = np.full(N_FIDUCIAL, -1, np.int64)
    occ[:68] = 1
    occ[MPII_TO_68] = 0
    x1, y1, x2, y2 = face_box_from_points(points)
    return {
        "set_id": set_id, "user": user, "frame": frame, "image_path": local_path(path),
        "source": SOURCE, "target_x": float(target[0]), "target_y": float(target[1]),
        "face_x1": x1, "face_y1": y1, "face_x2": x2, "face_y2": y2,
        "landmarks": landmarks.reshape(-1), "landmarks_occ": occ, "num_keypoints": 68,
        "left_eye_status": "open", "right_eye_status": "open",
        "pnp_indices": MPII_TO_68.copy(),
    }  # fmt: skip


def ingest_mpii_set(
    raw: RawSet,
) -> tuple[dict[str, SetConfig], list[dict[str, Any]], list[dict[str, str]]]:
    """Calibration and ``pXX.txt`` labels of an MPIIFaceGaze root: per-user configs, rows, rejects."""
    users = sorted(set(raw.frames) | set(raw.extra))
    if not users:
        raise ConfigError(f"{raw.root}: MPIIFaceGaze root without pXX participant folders")
    configs: dict[str, SetConfig] = {}
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, str]] = []
    mismatched = 0
    for user in users:
        set_id = raw.set_id  # one set: TAO's user split applies across participants
        cfg = parse_calibration(raw.extra.get(user) or {}, f"{raw.root}/{user}/Calibration")
        configs[f"{raw.set_id}/{user}"] = cfg  # per-user calibration (see nodes_data.config_for)
        images = raw.frames.get(user, {})
        where = f"{user}/{user}.txt"
        content = raw.label_files.get(f"{user}.txt")
        text = content.decode("utf-8", errors="replace") if content is not None else ""
        labelled: set[str] = set()
        for n, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            rel = tokens[0].replace("\\", "/").removeprefix("./")
            frame = _frame_name(rel)
            parsed = _parse_line(tokens)
            reason = parsed if isinstance(parsed, str) else ""
            if reason:
                reason = f"{reason} ({where} line {n})"
            elif rel in labelled:
                reason = f"duplicate_frame: {rel} labelled more than once in {where}"
            elif rel not in images:
                reason = f"missing_image: {where} line {n} labels {rel}, not in {user}/"
            labelled.add(rel)
            if not reason:
                (tx, ty), points, gt = parsed
                sw, sh = cfg.screen_px
                if not (0 <= tx <= sw and 0 <= ty <= sh):
                    reason = f"target_off_screen: ({tx:.0f}, {ty:.0f}) outside {sw}x{sh}"
            if reason:
                rejects.append(_reject(set_id, user, frame, reason))
                continue
            target = geometry.screen_to_camera(
                [[tx, ty]], cfg.R, cfg.T, cfg.screen_mm, cfg.screen_px
            )
            mismatched += int(np.linalg.norm(target[0] - gt) > TARGET_MISMATCH_MM)
            rows.append(_row(set_id, user, frame, images[rel], (tx, ty), points))
        for rel in images:
            if rel not in labelled:
                missing = "" if content is not None else " (file missing)"
                reason = f"unlabelled_frame: {user}/{rel} has no line in {where}{missing}"
                rejects.append(_reject(set_id, user, _frame_name(rel), reason))
    if mismatched:
        logger.warning(
            "MPIIFaceGaze %s: %d frames' 3D gaze target (pXX.txt) is > %.0f mm from the "
            "calibration's screen target",
            raw.root,
            mismatched,
            TARGET_MISMATCH_MM,
        )
    logger.info(
        "MPIIFaceGaze %s: %d users, %d labelled frames, %d rejects",
        raw.root,
        len(users),
        len(rows),
        len(rejects),
    )
    return configs, rows, rejects
