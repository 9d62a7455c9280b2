"""``gazenet_data`` nodes: TAO ``dataset_convert`` as small pure functions.

ingest labels + Config -> frame table -> geometry -> normalize -> filter -> split -> records.
Frame-level faults become rows of a rejects table (``stage``, ``reason`` = "code: detail");
set-level faults raise ``ConfigError`` naming the file.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from gaze_pipelines.core import crops, face_model, geometry
from gaze_pipelines.core import png as png_codec
from gaze_pipelines.core.parallel import chunks, parallel_map
from gaze_pipelines.core.progress import log_throughput, progress
from gaze_pipelines.datasets.gazenet_raw import RawSet, local_path
from gaze_pipelines.datasets.tfrecord import encode_example, serialized_table
from gaze_pipelines.pipelines.gazenet.features import GT_FEATURES, TAO_GAZE_FEATURES
from gaze_pipelines.pipelines.gazenet.params_convert import DatasetConvertParams
from gaze_pipelines.pipelines.gazenet.tao_format import (
    ConfigError,
    LabelError,
    SetConfig,
    parse_label_file,
    parse_set_config,
    target_from_filename,
)

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ["set_id", "user", "frame", "stage", "reason"]
SPLITS = ("train", "validate", "test")
PHASE_OF_SPLIT = {"train": "training", "validate": "validation", "test": "testing"}
# PnP on rigid points only (TAO refines on "expression-invariant" landmarks): eyelid and lip
# points move with gaze, blinks and speech and bias the pose. Initial solve: brows, nose, the
# four eye corners and the two mouth corners; refinement drops the mouth.
PNP_POINTS = np.r_[17:36, 36, 39, 42, 45, 48, 54]
PNP_REFINE = np.r_[17:36, 36, 39, 42, 45]
# The 38 model points exported as train/landmarks_3D: brows, nose, eyes, outer mouth 48-54.
EXPORT_3D = np.r_[17:48, 48:55]


def _reject(set_id: str, user: str, frame: str, stage: str, reason: str) -> dict[str, str]:
    return {"set_id": set_id, "user": user, "frame": frame, "stage": stage, "reason": reason}


def _rejects_frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=REJECT_COLUMNS).astype(str)


def config_for(configs: dict[str, SetConfig], set_id: str, user: str) -> SetConfig:
    """A user's calibration: ``configs["<set>/<user>"]`` when the set calibrates per user
    (MPIIFaceGaze), else the set's ``configs["<set>"]``."""
    return configs.get(f"{set_id}/{user}") or configs[set_id]


def _select_sets(raw_sets: dict[str, RawSet], p: DatasetConvertParams) -> list[RawSet]:
    if p.sets == "all":
        chosen = list(raw_sets.values())
    else:
        missing = [s for s in p.sets if s not in raw_sets]
        if missing:
            raise ConfigError(
                f"gazenet.dataset_convert.sets: {missing} not found under {p.data_root_path} "
                f"(available: {sorted(raw_sets)})"
            )
        chosen = [raw_sets[s] for s in p.sets]
    if not chosen:
        raise ConfigError(f"no sets found under {p.data_root_path} (a set is a folder with Data/)")
    return chosen


# --------------------------------------------------------------------------- 1. ingest


def ingest_labels(
    raw_sets: dict[str, RawSet], params: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, SetConfig], pd.DataFrame]:
    """Parse Config files and JSON labels of the selected sets into a label table."""
    p = DatasetConvertParams.model_validate(params)
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, str]] = []
    configs: dict[str, SetConfig] = {}
    for raw in _select_sets(raw_sets, p):
        if raw.layout == "mpiifacegaze":
            from gaze_pipelines.pipelines.gazenet.mpii import ingest_mpii_set  # noqa: PLC0415

            cfg_rows, set_rows, set_rejects = ingest_mpii_set(raw)
            configs.update(cfg_rows)
            rows += set_rows
            rejects += set_rejects
            continue
        configs[raw.set_id] = parse_set_config(raw.config, f"{raw.root}/Config")
        if not raw.frames:
            raise ConfigError(f"{raw.root}/Data: set '{raw.set_id}' has no users")
        if raw.label_folder is None:
            raise ConfigError(
                f"{raw.root}: no json_datafactory_v2/ or json_datafactory/ label folder"
            )
        seen: set[tuple[str, str]] = set()
        labelled: set[tuple[str, str]] = set()
        for fname, content in raw.label_files.items():
            stem = fname[: -len(".json")]
            prefix = f"{raw.set_id}_"
            user = stem[len(prefix) :] if stem.startswith(prefix) else stem
            where = f"{raw.label_folder}/{fname}"
            if user not in raw.frames:
                rejects.append(
                    _reject(
                        raw.set_id,
                        user,
                        "*",
                        "ingest",
                        f"unknown_user: {where} names user '{user}' with no Data/{user}/ folder",
                    )
                )
                continue
            try:
                frames, bad = parse_label_file(content, raw.label_folder)
            except LabelError as err:
                rejects.append(
                    _reject(raw.set_id, user, "*", "ingest", f"{err.code}: {where}: {err.detail}")
                )
                continue
            for name, reason in bad:
                rejects.append(
                    _reject(raw.set_id, user, PurePosixPath(name).stem, "ingest", reason)
                )
                labelled.add((user, PurePosixPath(name).name))  # already rejected: count it once
            by_base = {PurePosixPath(rel).name: path for rel, path in raw.frames[user].items()}
            for fl in frames:
                base = PurePosixPath(fl.filename).name
                frame = PurePosixPath(base).stem
                if (user, frame) in seen:
                    rejects.append(
                        _reject(
                            raw.set_id,
                            user,
                            frame,
                            "ingest",
                            f"duplicate_frame: {base} labelled more than once in {where}",
                        )
                    )
                    continue
                seen.add((user, frame))
                path = by_base.get(base)
                if path is None:
                    rejects.append(
                        _reject(
                            raw.set_id,
                            user,
                            frame,
                            "ingest",
                            f"missing_image: {where} labels {base}, not in Data/{user}/",
                        )
                    )
                    continue
                labelled.add((user, base))
                try:
                    tx, ty = target_from_filename(base)
                except LabelError as err:
                    rejects.append(
                        _reject(raw.set_id, user, frame, "ingest", f"{err.code}: {err.detail}")
                    )
                    continue
                sw, sh = configs[raw.set_id].screen_px
                if not (0 <= tx <= sw and 0 <= ty <= sh):
                    rejects.append(
                        _reject(
                            raw.set_id,
                            user,
                            frame,
                            "ingest",
                            f"target_off_screen: ({tx:.0f}, {ty:.0f}) outside {sw}x{sh}",
                        )
                    )
                    continue
                rows.append(
                    {
                        "set_id": raw.set_id,
                        "user": user,
                        "frame": frame,
                        "image_path": local_path(path),
                        "source": fl.source,
                        "target_x": tx,
                        "target_y": ty,
                        "face_x1": fl.face_box[0],
                        "face_y1": fl.face_box[1],
                        "face_x2": fl.face_box[2],
                        "face_y2": fl.face_box[3],
                        "landmarks": fl.landmarks.reshape(-1).astype(np.float64),
                        "landmarks_occ": fl.occluded.astype(np.int64),
                        "num_keypoints": fl.num_keypoints,
                        "left_eye_status": fl.left_eye_status,
                        "right_eye_status": fl.right_eye_status,
                    }
                )
        for user, images in raw.frames.items():
            for rel in images:
                if (user, PurePosixPath(rel).name) not in labelled:
                    rejects.append(
                        _reject(
                            raw.set_id,
                            user,
                            PurePosixPath(rel).stem,
                            "ingest",
                            f"unlabelled_frame: Data/{user}/{rel} has no label",
                        )
                    )
    labels = pd.DataFrame(rows)
    logger.info(
        "ingest: %d labelled frames in %d sets, %d rejects", len(labels), len(configs), len(rejects)
    )
    return labels, configs, _rejects_frame(rejects)


# --------------------------------------------------------------------------- 2. frame table


def _image_size(path: str) -> tuple[int, int] | str:
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        return "missing_image: file not found"
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a reject reason
        return f"unreadable_image: {exc.__class__.__name__}: {exc}"


def build_frame_table(
    labels: pd.DataFrame, configs: dict[str, SetConfig]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per frame with TAO's boxes, eye features and the gaze target in camera mm."""
    rejects: list[dict[str, str]] = []
    if labels.empty:
        return labels, _rejects_frame(rejects)
    sizes = [
        _image_size(p)
        for p in progress(labels["image_path"], "frame table: image headers", len(labels), "frame")
    ]
    keep = []
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "frame_width",
            "frame_height",
            "facebbx_x",
            "facebbx_y",
            "facebbx_w",
            "facebbx_h",
            "tight_facebbx_x1",
            "tight_facebbx_y1",
            "tight_facebbx_x2",
            "tight_facebbx_y2",
            "legacy_face",
            "lefteyebbx",
            "righteyebbx",
            "num_eyes_detected",
            "eye_features",
            "gaze_cam_x",
            "gaze_cam_y",
            "gaze_cam_z",
        )
    }
    modal = {
        s: Counter(
            sz
            for sz, sid in zip(sizes, labels["set_id"], strict=True)
            if sid == s and isinstance(sz, tuple)
        ).most_common(1)
        for s in labels["set_id"].unique()
    }
    for i, row in enumerate(labels.itertuples(index=False)):
        size = sizes[i]
        if isinstance(size, str):
            rejects.append(_reject(row.set_id, row.user, row.frame, "frame_table", size))
            continue
        expected = modal[row.set_id][0][0] if modal[row.set_id] else size
        if size != expected:
            rejects.append(
                _reject(
                    row.set_id,
                    row.user,
                    row.frame,
                    "frame_table",
                    f"wrong_image_size: {size[0]}x{size[1]}, the set's frames are {expected[0]}x{expected[1]}",
                )
            )
            continue
        w, h = size
        lm = np.asarray(row.landmarks).reshape(-1, 2)
        occ = np.asarray(row.landmarks_occ)
        visible = occ[:68] != 1
        pts = lm[:68][visible]
        margin = 0.1 * max(w, h)
        if (
            np.any(pts < -margin)
            or np.any(pts[:, 0] > w + margin)
            or np.any(pts[:, 1] > h + margin)
        ):
            rejects.append(
                _reject(
                    row.set_id,
                    row.user,
                    row.frame,
                    "frame_table",
                    f"landmarks_out_of_frame: visible landmarks outside {w}x{h}",
                )
            )
            continue
        if row.face_x1 >= w or row.face_y1 >= h or row.face_x2 <= 0 or row.face_y2 <= 0:
            rejects.append(
                _reject(
                    row.set_id,
                    row.user,
                    row.frame,
                    "frame_table",
                    f"face_box_out_of_frame: ({row.face_x1}, {row.face_y1}, {row.face_x2}, {row.face_y2}) vs {w}x{h}",
                )
            )
            continue
        legacy, (fx, fy, side) = crops.tao_face_box(
            row.face_x1, row.face_y1, row.face_x2, row.face_y2, w, h
        )
        reye = crops.tao_eye_box(lm[36], lm[39], legacy, w, h)
        leye = crops.tao_eye_box(lm[42], lm[45], legacy, w, h)
        cfg = config_for(configs, row.set_id, row.user)
        g = geometry.screen_to_camera(
            [[row.target_x, row.target_y]], cfg.R, cfg.T, cfg.screen_mm, cfg.screen_px
        )[0]
        use_pupils = row.num_keypoints >= 80 and bool(np.all(occ[68:76] == 0))
        for k, v in (
            ("frame_width", w),
            ("frame_height", h),
            ("facebbx_x", fx),
            ("facebbx_y", fy),
            ("facebbx_w", side),
            ("facebbx_h", side),
            ("tight_facebbx_x1", int(row.face_x1)),
            ("tight_facebbx_y1", int(row.face_y1)),
            ("tight_facebbx_x2", int(row.face_x2)),
            ("tight_facebbx_y2", int(row.face_y2)),
            ("legacy_face", np.asarray(legacy, np.float64)),
            ("lefteyebbx", np.asarray(leye, np.int64)),
            ("righteyebbx", np.asarray(reye, np.int64)),
            ("num_eyes_detected", int(-1 not in leye) + int(-1 not in reye)),
            ("eye_features", crops.eye_features(lm, use_pupils)),
            ("gaze_cam_x", g[0]),
            ("gaze_cam_y", g[1]),
            ("gaze_cam_z", g[2]),
        ):
            out[k].append(v)
        keep.append(i)
    frames = labels.iloc[keep].reset_index(drop=True)
    for k, v in out.items():
        frames[k] = v
    return frames, _rejects_frame(rejects)


# --------------------------------------------------------------------------- 3. geometry


def _invalid_reason(
    pose: geometry.HeadPose | None,
    phi_mid: float,
    theta_mid: float,
    depth: float,
    por_err: float,
    por_vec_err: float,
) -> str:
    """TAO's validity checks, first failing one (empty string when valid)."""
    if pose is None:
        return "pnp_failed"
    if abs(phi_mid) >= geometry.MAX_ABS_PHI_RAD:
        return f"gaze_yaw_out_of_range: phi {phi_mid:.2f} rad"
    if pose.reprojection_error_px > geometry.REPROJ_ERR_THRESHOLD_PX:
        return f"pnp_reprojection_error: {pose.reprojection_error_px:.1f} px"
    if not geometry.MIN_DEPTH_MM <= depth <= geometry.MAX_DEPTH_MM:
        return f"depth_out_of_range: {depth:.0f} mm"
    if np.any(np.abs(pose.pitch_yaw_roll_deg) > 90):
        return "head_pose_out_of_range"
    opposite = (phi_mid > 0 and pose.phi < -phi_mid) or (phi_mid < 0 and pose.phi > -phi_mid)
    if opposite and abs(phi_mid - pose.phi) > geometry.HP_DIFF_PHI_RAD:
        return "gaze_head_yaw_opposite"
    if abs(phi_mid - pose.phi) > 2 * geometry.HP_DIFF_PHI_RAD:
        return "gaze_head_yaw_difference"
    if abs(theta_mid - pose.theta) > geometry.HP_DIFF_THETA_RAD:
        return "gaze_head_pitch_difference"
    if (
        por_err > geometry.POR_THRESHOLD_MM
        or por_vec_err > geometry.POR_THRESHOLD_MM
        or abs(por_err - por_vec_err) > geometry.POR_CONSISTENCY_MM
    ):
        return f"por_error: {max(por_err, por_vec_err):.1f} mm"
    return ""


GEOMETRY_CHUNK = 100  # frames per geometry task


def _geometry_rows(task: tuple[pd.DataFrame, dict[str, SetConfig]]) -> list[dict[str, Any]]:
    """Worker: the geometry columns of a chunk of frames (one dict per frame, in order)."""
    frames, configs = task
    model = face_model.GENERIC_FACE_68
    face_obj = face_model.face_centre(model)
    eyes_obj = face_model.EYEBALL_CENTRES  # rows (subject's right, left)
    results: list[dict[str, Any]] = []
    for row in frames.itertuples(index=False):
        cfg = config_for(configs, row.set_id, row.user)
        lm = np.asarray(row.landmarks).reshape(-1, 2)
        occ = np.asarray(row.landmarks_occ)
        w, h = row.frame_width, row.frame_height
        valid = (
            (occ[:68] != 1)
            & (lm[:68, 0] >= 0)
            & (lm[:68, 1] >= 0)
            & (lm[:68, 0] <= w)
            & (lm[:68, 1] <= h)
        )
        sel, refine = PNP_POINTS, np.searchsorted(PNP_POINTS, PNP_REFINE)
        subset = getattr(row, "pnp_indices", None)  # a source's own point subset (MPIIFaceGaze: 6)
        if isinstance(subset, (np.ndarray, list)):
            sel, refine = np.asarray(subset, np.int64), None
        pose = geometry.solve_head_pose(
            lm[sel],
            model[sel],
            cfg.K,
            cfg.dist,
            valid[sel],
            refine_indices=refine,
        )
        target = np.array([row.gaze_cam_x, row.gaze_cam_y, row.gaze_cam_z])
        res: dict[str, Any] = {"valid_theta_phi": 0, "invalid_reason": "pnp_failed"}
        if pose is not None:
            re_cam, le_cam = pose.to_camera(eyes_obj)
            mid = (re_cam + le_cam) / 2
            face_cam = pose.to_camera(face_obj[None])[0]
            t_le, p_le = geometry.gaze_to_theta_phi(target - le_cam)
            t_re, p_re = geometry.gaze_to_theta_phi(target - re_cam)
            mid_vec = (target - mid) / np.linalg.norm(target - mid)
            t_mid, p_mid = geometry.gaze_to_theta_phi(mid_vec)
            por = geometry.intersect_screen(
                mid, geometry.theta_phi_to_gaze(t_mid, p_mid), cfg.R, cfg.T
            )
            por_vec = geometry.intersect_screen(mid, mid_vec, cfg.R, cfg.T)
            reason = _invalid_reason(
                pose,
                float(p_mid),
                float(t_mid),
                float(mid[2]),
                float(np.linalg.norm(por - target)),
                float(np.linalg.norm(por_vec - target)),
            )
            res = {
                "valid_theta_phi": int(reason == ""),
                "invalid_reason": reason,
                "hp_pitch": pose.pitch_yaw_roll_deg[0],
                "hp_yaw": pose.pitch_yaw_roll_deg[1],
                "hp_roll": pose.pitch_yaw_roll_deg[2],
                "theta": (t_le + t_re) / 2,
                "phi": (p_le + p_re) / 2,
                "theta_le": t_le,
                "phi_le": p_le,
                "theta_re": t_re,
                "phi_re": p_re,
                "theta_mid": t_mid,
                "phi_mid": p_mid,
                "head_pose_theta": pose.theta,
                "head_pose_phi": pose.phi,
                "mid_cam": mid,
                "lpc_cam": le_cam,
                "rpc_cam": re_cam,
                "face_cam": face_cam,
                "head_rotation": pose.rotation.reshape(-1),
                "head_tvec": pose.tvec,
                "reprojection_error_px": pose.reprojection_error_px,
                "landmarks_3D": pose.to_camera(model[EXPORT_3D]).reshape(-1).astype(np.float32),
            }
        results.append(res)
    return results


def compute_geometry(
    frames: pd.DataFrame, configs: dict[str, SetConfig], params: dict[str, Any] | None = None
) -> pd.DataFrame:
    """PnP head pose, eye centres, per-eye and mean theta/phi and TAO's validity flags."""
    p = DatasetConvertParams.model_validate(params) if params is not None else None
    workers, kind = (p.n_workers(), p.worker_kind) if p is not None else (1, "threads")
    t0 = time.perf_counter()
    tasks = [(frames.iloc[sl], configs) for sl in chunks(len(frames), GEOMETRY_CHUNK)]
    results = [r for part in parallel_map(_geometry_rows, tasks, workers, kind) for r in part]
    log_throughput("geometry (PnP + angles)", len(frames), time.perf_counter() - t0, "frame")
    geo = pd.DataFrame(results, index=frames.index)
    out = pd.concat([frames, geo], axis=1)
    for col in (
        "hp_pitch",
        "hp_yaw",
        "hp_roll",
        "theta",
        "phi",
        "theta_le",
        "phi_le",
        "theta_re",
        "phi_re",
        "theta_mid",
        "phi_mid",
        "head_pose_theta",
        "head_pose_phi",
        "reprojection_error_px",
    ):
        if col not in out:
            out[col] = np.nan
        out[col] = out[col].astype(float)
    n_valid = int(out["valid_theta_phi"].sum()) if len(out) else 0
    logger.info(
        "geometry: %d / %d frames with valid theta/phi; invalid by reason: %s",
        n_valid,
        len(out),
        dict(Counter(r.split(":")[0] for r in out["invalid_reason"] if r)),
    )
    return out


# --------------------------------------------------------------------------- 4. normalize


_PNG_STRATEGIES = {
    "default": cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
    "filtered": cv2.IMWRITE_PNG_STRATEGY_FILTERED,
    "huffman_only": cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
    "rle": cv2.IMWRITE_PNG_STRATEGY_RLE,
    "fixed": cv2.IMWRITE_PNG_STRATEGY_FIXED,
}
_PNG_FILTERS = {
    name: getattr(cv2, const, None)
    for name, const in (
        ("none", "IMWRITE_PNG_FILTER_NONE"),
        ("sub", "IMWRITE_PNG_FILTER_SUB"),
        ("up", "IMWRITE_PNG_FILTER_UP"),
        ("avg", "IMWRITE_PNG_FILTER_AVG"),
        ("paeth", "IMWRITE_PNG_FILTER_PAETH"),
        ("fast", "IMWRITE_PNG_FAST_FILTERS"),
        ("all", "IMWRITE_PNG_ALL_FILTERS"),
    )
}


def png_params(p: DatasetConvertParams) -> list[int]:
    """``cv2.imencode`` options from ``png_compression`` / ``png_strategy`` / ``png_filter``.

    Used with ``png_codec: opencv``. Their defaults (level 1, SUB
    filter, Huffman-only) encode the 640x480 normalized frame in ~3 ms instead of ~5 ms with
    libpng's adaptive filter (``png_filter: all``, the former output byte for byte), files ~25%
    larger; lossless either way. OpenCV < 4.10 has no ``IMWRITE_PNG_FILTER``: adaptive filter.
    """
    out = [
        cv2.IMWRITE_PNG_COMPRESSION,
        int(p.png_compression),
        cv2.IMWRITE_PNG_STRATEGY,
        _PNG_STRATEGIES[p.png_strategy],
    ]
    flt = _PNG_FILTERS.get(p.png_filter)
    if flt is not None and hasattr(cv2, "IMWRITE_PNG_FILTER"):
        out += [cv2.IMWRITE_PNG_FILTER, flt]
    return out


def _encode(img: np.ndarray, params: list[int]) -> bytes:
    """PNG bytes of ``img`` (runs in the worker threads: OpenCV releases the GIL)."""
    ok, buf = cv2.imencode(".png", img, params)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def png_encoder(p: DatasetConvertParams) -> Callable[[np.ndarray], bytes]:
    """The PNG writer ``png_codec`` selects (ISA-L for 8-bit grey, OpenCV for the rest)."""
    params = png_params(p)
    if p.png_codec == "isal":
        level = min(p.png_compression, 3)

        def encode(img: np.ndarray) -> bytes:
            if img.ndim == 2 and img.dtype == np.uint8:
                return png_codec.encode_grey_isal(img, level)
            return _encode(img, params)

        return encode
    return lambda img: _encode(img, params)


def _read_grey(path: str) -> np.ndarray | None:
    """A frame as 8-bit grey (None when missing or undecodable, as ``cv2.imread`` answers)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return png_codec.decode_grey(data)


def _norm_frame(
    row: Any, cfg: SetConfig, img: np.ndarray, p: DatasetConvertParams
) -> dict[str, Any]:
    """Zhang-Sugano normalization of one frame: full frame, face and both eyes (TAO's outputs)."""
    R = np.asarray(row.head_rotation).reshape(3, 3)
    h, w = img.shape[:2]
    face_cam = np.asarray(row.face_cam)
    le_cam, re_cam = np.asarray(row.lpc_cam), np.asarray(row.rpc_cam)
    target = np.array([row.gaze_cam_x, row.gaze_cam_y, row.gaze_cam_z])
    d = p.normalization_distance_mm
    s = p.frame_scale_factor
    full = geometry.normalization(face_cam, R, cfg.K, (w, h), 960.0 * s, d)
    face = geometry.normalization(
        face_cam, R, cfg.K, (p.face_size, p.face_size), 960.0 * p.face_size / 224, d
    )
    le = geometry.normalization(
        le_cam, R, cfg.K, (p.eye_size, p.eye_size), 960.0 * p.eye_size / 60, d
    )
    re = geometry.normalization(
        re_cam, R, cfg.K, (p.eye_size, p.eye_size), 960.0 * p.eye_size / 60, d
    )
    eye_px = geometry.project_points(np.stack([le_cam, re_cam]), cfg.K, cfg.dist)
    lm = np.asarray(row.landmarks).reshape(-1, 2)
    present = np.all(lm >= 0, axis=1)
    norm_lm = np.full_like(lm, -1.0)
    if present.any():
        norm_lm[present] = geometry.warp_points(lm[present], full, cfg.K, cfg.dist)
    ec = geometry.warp_points(eye_px, full, cfg.K, cfg.dist)
    half = 40 * s
    leye_bb = [int(ec[0, 0] - half), int(ec[0, 1] - half), int(2 * half), int(2 * half)]
    reye_bb = [int(ec[1, 0] - half), int(ec[1, 1] - half), int(2 * half), int(2 * half)]
    face_bb = [int(w / 2 - 112 * s), int(h / 2 - 112 * s), int(224 * s), int(224 * s)]
    # undistort only the part of the frame the crops read (the face: ~15% of a 640x480 frame)
    warps = [face, le, re] + ([full] if p.write_norm_frame else [])
    img_u = geometry.undistort_region(img, cfg.K, cfg.dist, warps)
    face_img = geometry.warp_image(img_u, face)
    out = {
        "images": {
            "face": face_img,
            "leye": geometry.warp_image(img_u, le),
            "reye": geometry.warp_image(img_u, re),
        },
        "norm_per_oof": round(float(np.count_nonzero(face_img == 0)) / face_img.size, 2),
        "norm_facebb": face_bb,
        "norm_leyebb": leye_bb,
        "norm_reyebb": reye_bb,
        "norm_landmarks": norm_lm.reshape(-1).astype(np.float32),
        "norm_face_cnv_mat": face.rotation.reshape(-1),
        "norm_leye_cnv_mat": le.rotation.reshape(-1),
        "norm_reye_cnv_mat": re.rotation.reshape(-1),
    }
    if p.write_norm_frame:
        out["images"]["frame"] = geometry.warp_image(img_u, full)
    # gaze (target - centre) and head z axis in each normalized camera, as (theta, phi) in one go
    rots = np.stack([face.rotation, le.rotation, re.rotation])  # (3, 3, 3)
    gaze = np.einsum("kij,kj->ki", rots, target - np.stack([face_cam, le_cam, re_cam]))
    head_z = -(rots @ R)[:, :, 2]
    theta, phi = geometry.gaze_to_theta_phi(np.concatenate([gaze, head_z]))
    for k, name in enumerate(("face", "leye", "reye")):
        out[f"norm_{name}_gaze_theta"], out[f"norm_{name}_gaze_phi"] = (
            float(theta[k]),
            float(phi[k]),
        )
        out[f"norm_{name}_hp_theta"], out[f"norm_{name}_hp_phi"] = (
            float(theta[3 + k]),
            float(phi[3 + k]),
        )
    return out


def _normalize_user(
    task: tuple[pd.DataFrame, SetConfig, DatasetConvertParams, str],
) -> tuple[list[dict], dict[str, bytes], list[dict]]:
    """Worker: read, check and normalize a chunk of one user's frames (in a forked process or a
    thread; returns rows, PNG bytes by relative path and rejects)."""
    frames, cfg, p, norm_root = task
    encode = png_encoder(p)
    rows: list[dict] = []
    images: dict[str, bytes] = {}
    rejects: list[dict] = []
    for row in frames.itertuples(index=False):
        img = _read_grey(row.image_path)
        if img is None:
            rejects.append(
                _reject(
                    row.set_id,
                    row.user,
                    row.frame,
                    "normalize",
                    f"unreadable_image: OpenCV cannot decode {row.image_path}",
                )
            )
            continue
        if (img.shape[1], img.shape[0]) != (row.frame_width, row.frame_height):
            rejects.append(
                _reject(
                    row.set_id,
                    row.user,
                    row.frame,
                    "normalize",
                    f"wrong_image_size: decoded {img.shape[1]}x{img.shape[0]}",
                )
            )
            continue
        res: dict[str, Any] = {"_index": row.Index, "norm_frame_path": ""}
        if row.valid_theta_phi:
            norm = _norm_frame(row, cfg, img, p)
            name = f"{row.frame}.png"  # frame names are unique per user; crops are PNG
            for kind, patch in norm.pop("images").items():
                images[f"{norm_root}/{kind}/{row.user}/{name}"] = encode(patch)
            res["norm_frame_path"] = f"{norm_root}/frame/{row.user}/{name}"
            res.update(norm)
        rows.append(res)
    return rows, images, rejects


NORMALIZE_CHUNK = 32  # frames per worker task: workers stay balanced, the bar moves smoothly


def normalize_frames(
    frames: pd.DataFrame, configs: dict[str, SetConfig], params: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, bytes], pd.DataFrame]:
    """Normalized face, eye and frame crops (TAO's ``<norm>_<labels>/{frame,face,leye,reye}``), in parallel."""
    p = DatasetConvertParams.model_validate(params)
    if frames.empty:
        return frames, {}, _rejects_frame([])
    frames = frames.reset_index(drop=True)
    frames.index.name = "Index"
    tasks = []
    for (set_id, user), grp in frames.groupby(["set_id", "user"], sort=True):
        cfg = config_for(configs, set_id, user)
        label_folder = grp["source"].iloc[0]
        norm_root = f"{set_id}/{p.norm_folder_name}_{label_folder}"
        grp = grp.reset_index()
        for start in range(0, len(grp), NORMALIZE_CHUNK):
            tasks.append((grp.iloc[start : start + NORMALIZE_CHUNK], cfg, p, norm_root))
    rows: list[dict] = []
    images: dict[str, bytes] = {}
    rejects: list[dict] = []
    cv2.setNumThreads(1)
    bar = functools.partial(
        progress,
        desc="normalize (read + PnP-based warps + PNG)",
        total=len(frames),
        unit="frame",
        steps=[len(t[0]) for t in tasks],  # the bar and the throughput line count frames
    )
    # forked processes take the frames' Python geometry out of the GIL (measured on 2 cores:
    # normalize 4.4-5.7 s with processes, 5.3-6.1 s with threads); PNG bytes come back
    for r, im, rj in parallel_map(_normalize_user, tasks, p.n_workers(), p.worker_kind, bar):
        rows += r
        images.update(im)
        rejects += rj
    norm = (
        pd.DataFrame(rows).set_index("_index")
        if rows
        else pd.DataFrame(index=pd.Index([], name="_index"))
    )
    kept = frames.loc[norm.index].copy()
    for col in norm.columns:
        kept[col] = norm[col]
    return kept.reset_index(drop=True), images, _rejects_frame(rejects)


# --------------------------------------------------------------------------- 5. filter + 6. split


def tao_split(users: list[str], kpi: bool) -> dict[str, list[str]]:
    """TAO's user split: ``random.seed(1)``, shuffle the sorted users, test/validate/train by ``n // 8``."""
    n = len(users)
    size = max(1, n // 8)
    if kpi:
        size = n
    state = random.getstate()
    try:
        random.seed(1)
        order = random.sample(sorted(users), n)
    finally:
        random.setstate(state)
    return {"test": order[:size], "validate": order[size : 2 * size], "train": order[2 * size :]}


def _split_of(frames: pd.DataFrame, p: DatasetConvertParams) -> pd.Series:
    split = pd.Series("", index=frames.index, dtype=object)
    for set_id, grp in frames.groupby("set_id"):
        assignment = tao_split(sorted(grp["user"].unique()), p.is_kpi_set(str(set_id)))
        for name, users in assignment.items():
            split[grp.index[grp["user"].isin(users)]] = name
    return split


def _value(frames: pd.DataFrame, feature: str) -> pd.Series:
    col = feature.split("/", 1)[-1]
    if col not in frames:
        raise ConfigError(
            f"gazenet.dataset_convert.filters.filter_info: unknown feature '{feature}' "
            f"(frame-table columns: {sorted(c for c in frames.columns if not c.startswith('_'))})"
        )
    return frames[col].astype(float)


def filter_frames(
    frames: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply ``filter_info`` bounds in the ``filter_phases`` (phase = the frame's TAO split)."""
    p = DatasetConvertParams.model_validate(params)
    f = p.filters
    if frames.empty:
        return frames, _rejects_frame([])
    split = _split_of(frames, p)
    phase = split.map(PHASE_OF_SPLIT)
    kpi = frames["set_id"].map(lambda s: p.is_kpi_set(str(s)))
    phase[kpi] = "kpi_testing"
    reasons = pd.Series("", index=frames.index, dtype=object)
    in_phase = phase.isin(f.filter_phases)
    for b in f.filter_info:
        v = _value(frames, b.feature)
        v = v.abs() if b.absolute else v
        bad = pd.Series(False, index=frames.index)
        if b.min is not None:
            bad |= v < b.min
        if b.max is not None:
            bad |= v > b.max
        bad &= in_phase & (reasons == "")
        reasons[bad] = [
            f"filtered: {b.feature}={x:.4g} outside [{b.min}, {b.max}] in {ph}"
            for x, ph in zip(v[bad], phase[bad], strict=True)
        ]
    if f.drop_invalid_theta_phi:
        bad = (frames["valid_theta_phi"] == 0) & (reasons == "")
        reasons[bad] = (
            "filtered: invalid theta/phi (" + frames.loc[bad, "invalid_reason"].astype(str) + ")"
        )
    if f.eye_status is not None:
        bad = ~(
            frames["left_eye_status"].isin(f.eye_status)
            & frames["right_eye_status"].isin(f.eye_status)
        ) & (reasons == "")
        reasons[bad] = "filtered: eye status not in " + str(f.eye_status)
    dropped = reasons != ""
    rej = frames.loc[dropped, ["set_id", "user", "frame"]].copy()
    rej["stage"] = "filter"
    rej["reason"] = reasons[dropped]
    logger.info(
        "filter: %d of %d frames removed by filter_info in phases %s",
        int(dropped.sum()),
        len(frames),
        f.filter_phases,
    )
    return frames.loc[~dropped].reset_index(drop=True), rej[REJECT_COLUMNS].astype(str).reset_index(
        drop=True
    )


def split_users(frames: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """TAO's per-set user split for the combined and joint (valid theta/phi) record sets."""
    p = DatasetConvertParams.model_validate(params)
    rows = []
    for set_id, grp in frames.groupby("set_id", sort=True):
        kpi = p.is_kpi_set(str(set_id))
        variants = {"combined": grp}
        if not kpi:
            variants["joint_combined"] = grp[grp["valid_theta_phi"] == 1]
        for variant, data in variants.items():
            users = sorted(data["user"].unique())
            assignment = tao_split(users, kpi)
            counts = data.groupby("user").size()
            for split_name in ("test", "validate", "train"):
                for order, user in enumerate(assignment[split_name]):
                    rows.append(
                        {
                            "set_id": set_id,
                            "variant": variant,
                            "split": split_name,
                            "user": user,
                            "order": order,
                            "n_frames": int(counts.get(user, 0)),
                        }
                    )
            logger.info(
                "split %s/%s: Test %s Validation %s Train %s",
                set_id,
                variant,
                assignment["test"],
                assignment["validate"],
                assignment["train"],
            )
    cols = ["set_id", "variant", "split", "user", "order", "n_frames"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- 7. records


def _scalar(v: Any, default: float = -1.0) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return default
    return v


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """One frame row -> TAO's 83 features (invalid gaze labels are -1, as TAO writes them)."""
    valid = bool(row.get("valid_theta_phi"))
    norm_ok = bool(row.get("norm_frame_path"))

    def lab(name: str) -> float:
        return float(_scalar(row.get(name))) if valid else -1.0

    def vec(name: str, i: int) -> float:
        v = row.get(name)
        return (
            float(np.asarray(v)[i])
            if valid and v is not None and not (isinstance(v, float))
            else -1.0
        )

    def nrm(name: str) -> float:
        return float(_scalar(row.get(name))) if norm_ok else -1.0

    def box(name: str) -> list[int]:
        v = row.get(name)
        return (
            [int(x) for x in v]
            if norm_ok and v is not None and not isinstance(v, float)
            else [-1] * 4
        )

    rec: dict[str, Any] = {
        "train/image_frame_name": row["image_path"],
        "train/source": row["source"],
        "train/norm_frame_path": row.get("norm_frame_path") or "",
        "label/left_eye_status": row["left_eye_status"],
        "label/right_eye_status": row["right_eye_status"],
        "train/image_frame_width": int(row["frame_width"]),
        "train/image_frame_height": int(row["frame_height"]),
        "train/num_keypoints": int(row["num_keypoints"]),
        "train/num_eyes_detected": int(row["num_eyes_detected"]),
        "train/valid_theta_phi": int(valid),
        "train/facebbx_x": int(row["facebbx_x"]),
        "train/facebbx_y": int(row["facebbx_y"]),
        "train/facebbx_w": int(row["facebbx_w"]),
        "train/facebbx_h": int(row["facebbx_h"]),
        "train/tight_facebbx_x1": int(row["tight_facebbx_x1"]),
        "train/tight_facebbx_y1": int(row["tight_facebbx_y1"]),
        "train/tight_facebbx_x2": int(row["tight_facebbx_x2"]),
        "train/tight_facebbx_y2": int(row["tight_facebbx_y2"]),
        "label/gaze_cam_x": float(row["gaze_cam_x"]),
        "label/gaze_cam_y": float(row["gaze_cam_y"]),
        "label/gaze_cam_z": float(row["gaze_cam_z"]),
        "label/gaze_screen_x": float(row["target_x"]),
        "label/gaze_screen_y": float(row["target_y"]),
        "label/hp_pitch": lab("hp_pitch"),
        "label/hp_yaw": lab("hp_yaw"),
        "label/hp_roll": lab("hp_roll"),
        "label/theta": lab("theta"),
        "label/phi": lab("phi"),
        "label/head_pose_theta": lab("head_pose_theta"),
        "label/head_pose_phi": lab("head_pose_phi"),
        "train/norm_per_oof": nrm("norm_per_oof"),
        "train/landmarks": np.asarray(row["landmarks"], np.float32),
        "train/norm_landmarks": np.asarray(row["norm_landmarks"], np.float32)
        if norm_ok
        else np.full(208, -1.0, np.float32),
        "train/eye_features": np.asarray(row["eye_features"], np.float32),
        "train/landmarks_3D": np.asarray(row["landmarks_3D"], np.float32)
        if valid
        else np.full(114, -1.0, np.float32),
        "train/landmarks_occ": np.asarray(row["landmarks_occ"], np.int64),
    }
    for e in ("le", "re", "mid"):
        rec[f"label/theta_{e}"], rec[f"label/phi_{e}"] = lab(f"theta_{e}"), lab(f"phi_{e}")
    for p_ in ("mid", "lpc", "rpc"):
        for i, c in enumerate("xyz"):
            rec[f"label/{p_}_cam_{c}"] = vec(f"{p_}_cam", i)
    for part in ("face", "leye", "reye"):
        for kind in ("gaze", "hp"):
            for a in ("theta", "phi"):
                rec[f"label/norm_{part}_{kind}_{a}"] = nrm(f"norm_{part}_{kind}_{a}")
    for name, key in (("lefteyebbx", "lefteyebbx"), ("righteyebbx", "righteyebbx")):
        v = [int(x) for x in row[key]]
        for c, x in zip("xywh", v, strict=True):
            rec[f"train/{name}_{c}"] = x
    for name in ("facebb", "leyebb", "reyebb"):
        for c, x in zip("xywh", box(f"norm_{name}"), strict=True):
            rec[f"train/norm_{name}_{c}"] = x
    return rec


def _gt_line(row: dict[str, Any], rec: dict[str, Any]) -> str:
    """A ground-truth text line in TAO's ``GtConverter`` column order."""
    path = rec["train/image_frame_name"]
    folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
    valid = bool(row.get("valid_theta_phi"))
    norm_ok = bool(row.get("norm_frame_path"))
    parts = [folder, name]
    for feat in GT_FEATURES:
        if feat in ("train/lefteyebbx_w", "train/righteyebbx_w"):
            parts.append(str(rec[feat] + rec[feat.replace("_w", "_x")]))
        elif feat in ("train/lefteyebbx_h", "train/righteyebbx_h"):
            parts.append(str(rec[feat] + rec[feat.replace("_h", "_y")]))
        elif feat.endswith("_cnv_mat"):
            v = row.get(feat.split("/", 1)[1]) if norm_ok else None
            parts.append(
                " ".join(map(str, np.asarray(v).reshape(-1)))
                if v is not None
                else " ".join(["-1.0"] * 9)
            )
        elif feat.startswith("label/face_cam_"):
            i = "xyz".index(feat[-1])
            v = row.get("face_cam")
            parts.append(
                str(float(np.asarray(v)[i]))
                if valid and v is not None and not isinstance(v, float)
                else "-1"
            )
        elif feat == "train/valid_theta_phi":
            parts.append(str(bool(rec[feat])))
        else:
            v = rec[feat]
            parts.append(" ".join(map(str, np.ravel(v))) if isinstance(v, np.ndarray) else str(v))
    return " ".join(parts) + "\n"


def build_records(
    frames: pd.DataFrame, split: pd.DataFrame, params: dict[str, Any]
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """TFRecords (per user, joint, combined, joint_combined) and GT text files in TAO's tree."""
    p = DatasetConvertParams.model_validate(params)
    records: dict[str, pd.DataFrame] = {}
    gts: dict[str, str] = {}
    t0 = time.perf_counter()
    for set_id, grp in frames.groupby("set_id", sort=True):
        base = f"{set_id}/Ground_Truth_DataFactory_{p.folder_suffix}"
        kpi = p.is_kpi_set(str(set_id))
        write_joint = not kpi and "eoc" not in str(set_id).lower()
        rows = grp.to_dict("records")
        recs = [_record(r) for r in rows]
        lines = [_gt_line(r, rec) for r, rec in zip(rows, recs, strict=True)]
        # each frame goes to up to 4 files (per user, combined, joint, joint_combined): encode once
        # (in this process: worker processes measured no faster, pickling ate the gain)
        examples = [encode_example(rec, TAO_GAZE_FEATURES) for rec in recs]
        valid = np.array([bool(r.get("valid_theta_phi")) for r in rows])
        users = np.array([r["user"] for r in rows])
        variants = [("", np.ones(len(rows), bool))] + ([("_joint", valid)] if write_joint else [])
        for suffix, mask in variants:
            for user in sorted(set(users[mask])):
                idx = np.where(mask & (users == user))[0]
                records[f"{base}/TfRecords{suffix}/{user}"] = serialized_table(
                    [examples[i] for i in idx]
                )
                gts[f"{base}/GT{suffix}/{user}"] = "".join(lines[i] for i in idx)
            variant = "combined" if suffix == "" else "joint_combined"
            sp = split[(split["set_id"] == set_id) & (split["variant"] == variant)]
            for split_name in SPLITS:
                order = sp[sp["split"] == split_name].sort_values("order")["user"].tolist()
                idx = [i for u in order for i in np.where(mask & (users == u))[0]]
                records[f"{base}/TfRecords{suffix}_combined/{split_name}"] = serialized_table(
                    [examples[i] for i in idx]
                )
                gts[f"{base}/GT{suffix}_combined/{split_name}"] = "".join(lines[i] for i in idx)
    log_throughput("records (TFRecord + GT rows)", len(frames), time.perf_counter() - t0, "frame")
    return records, gts


def frame_table_for_storage(frames: pd.DataFrame) -> pd.DataFrame:
    """The frame table as stored (parquet): vectors as flat float64 arrays, internal columns dropped."""
    out = frames.drop(columns=[c for c in ("legacy_face",) if c in frames]).copy()
    for name in ("mid_cam", "lpc_cam", "rpc_cam", "face_cam"):
        if name in out:
            vals = [
                np.asarray(v, float) if isinstance(v, (np.ndarray, list)) else np.full(3, np.nan)
                for v in out[name]
            ]
            arr = np.stack(vals) if vals else np.zeros((0, 3))
            for i, c in enumerate("xyz"):
                out[f"{name}_{c}"] = arr[:, i]
    out["facebbx_x2"] = out["facebbx_x"] + out["facebbx_w"]
    out["facebbx_y2"] = out["facebbx_y"] + out["facebbx_h"]
    out["n_visible_landmarks"] = [
        int(np.sum(np.asarray(o)[:68] == 0)) for o in out["landmarks_occ"]
    ]
    for col in out.columns:
        if out[col].dtype != object:
            continue
        values = out[col].tolist()
        if any(isinstance(v, (np.ndarray, list)) for v in values):
            out[col] = [  # flat float64 arrays: parquet list<double>, written ~2x faster than lists
                np.asarray(v, dtype=np.float64).reshape(-1)
                if isinstance(v, (np.ndarray, list))
                else None
                for v in values
            ]
    return out


def merge_rejects(*tables: pd.DataFrame) -> pd.DataFrame:
    """All stages' rejects in one table (``set_id, user, frame, stage, reason``)."""
    parts = [t for t in tables if t is not None and len(t)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REJECT_COLUMNS)
    out = out[REJECT_COLUMNS].astype(str)
    if len(out):
        counts = out["reason"].str.split(":").str[0].value_counts().to_dict()
        logger.warning("gazenet_data rejected %d rows: %s", len(out), counts)
    return out
