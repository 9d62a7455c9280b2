"""Nodes of ``webcam_sample`` (feature extraction) and ``webcam_data`` (ingest, split, density)."""

from __future__ import annotations

import logging
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gaze_pipelines.core.progress import progress  # noqa: E402
from gaze_pipelines.datasets.webcam import IMAGE_KINDS, WebcamLayout, WebcamSession  # noqa: E402
from gaze_pipelines.pipelines.webcam.features import (  # noqa: E402
    DlibLandmarker,
    FaceLandmarks,
    FeatureError,
    extract_features,
)
from gaze_pipelines.pipelines.webcam.params import validate_params  # noqa: E402

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ["id", "frame", "reason"]


def _rejects(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=REJECT_COLUMNS).astype({"id": str, "frame": str})


# ------------------------------------------------------------------------ feature extraction


def _landmark_source(session: WebcamSession, mode: str, features: Any):
    if mode == "file" or (mode == "auto" and session.landmarks is not None):
        if session.landmarks is None:
            raise ValueError(
                f"webcam.features.landmarks = file but {session.source} has no landmarks table"
            )
        table = session.landmarks.drop_duplicates("frame", keep="first").set_index("frame")
        return lambda name, frame: FaceLandmarks.from_row(table.loc[name])
    detector = DlibLandmarker(features.detector, features.upsample, features.multiple_faces)
    return lambda name, frame: detector(frame)


def extract_session_features(
    session: WebcamSession, webcam: dict[str, Any]
) -> tuple[WebcamLayout, pd.DataFrame]:
    """Crops, head angle and ``positions.csv`` rows of every frame with a target; rejects."""
    p = validate_params(webcam)
    if session.targets is None:
        raise ValueError(
            f"session {session.source} has no targets table (frame, x, y): the screen target of "
            "each frame is the label"
        )
    targets = session.targets.drop_duplicates("frame", keep="first").set_index("frame")
    locate = _landmark_source(session, p.features.landmarks, p.features)
    f = p.features
    images: dict[str, dict[str, Any]] = {k: {} for k in IMAGE_KINDS}
    rows, rejects = [], []
    next_id = 1
    for name, frame in progress(session.iter_frames(), "webcam features", len(session), "frame"):
        if name not in targets.index:
            rejects.append({"id": "", "frame": name, "reason": "no_target: frame not in targets"})
            continue
        try:
            lm = locate(name, frame)
            feats = extract_features(frame, lm, f.image_size, f.eye_position, f.min_eye_width_px)
        except KeyError:
            rejects.append({"id": "", "frame": name, "reason": "no_landmarks: frame not in table"})
            continue
        except FeatureError as exc:
            rejects.append({"id": "", "frame": name, "reason": str(exc)})
            continue
        sid = str(next_id)
        next_id += 1
        for kind in IMAGE_KINDS:
            images[kind][sid] = feats[kind]
        t = targets.loc[name]
        rows.append({"id": int(sid), "x": float(t["x"]), "y": float(t["y"]),
                     "head_angle": round(float(feats["head_angle"]), 4), "frame": name})  # fmt: skip
    positions = pd.DataFrame(rows, columns=["id", "x", "y", "head_angle", "frame"])
    logger.info("webcam features: %d samples, %d rejected frames", len(positions), len(rejects))
    if positions.empty:
        raise ValueError(f"no frame of {session.source} gave features ({len(rejects)} rejected)")
    return WebcamLayout(positions, images), _rejects(rejects)


# ------------------------------------------------------------------------------------ ingest


def ingest_layout(
    layout: WebcamLayout, webcam: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, np.ndarray], pd.DataFrame]:
    """Check positions and crops; the clean table, the arrays of its samples and the rejects."""
    p = validate_params(webcam)
    w, h, size = p.screen.width, p.screen.height, p.features.image_size
    df = layout.positions.copy()
    missing = [c for c in ("id", "x", "y", "head_angle") if c not in df.columns]
    if missing:
        raise ValueError(f"positions.csv lacks columns {missing} (needs id, x, y, head_angle)")
    rejects: list[dict[str, Any]] = []
    keep_rows: list[int] = []
    seen: set[str] = set()
    arrays: dict[str, list[np.ndarray]] = {k: [] for k in IMAGE_KINDS}
    rows = list(df.itertuples(index=False))
    for i, row in enumerate(progress(rows, "webcam ingest", len(rows), "sample")):
        sid = str(row.id)
        frame = str(getattr(row, "frame", ""))
        reason = _position_problem(row, sid, seen, w, h)
        crops: dict[str, np.ndarray] = {}
        if reason is None:
            for kind in IMAGE_KINDS:
                if not layout.has(kind, sid):
                    reason = f"missing_image: {kind}/{sid}.jpg"
                    break
                try:
                    img = layout.read(kind, sid)
                except Exception as exc:  # noqa: BLE001 - any decode failure is a reject
                    reason = f"bad_image: {kind}/{sid}.jpg ({exc})"
                    break
                want = (size, size) if kind == "head_pos" else (size, size, 3)
                img = (
                    img if kind == "head_pos" or img.ndim == 3 else np.repeat(img[..., None], 3, -1)
                )
                if img.shape != want:
                    reason = f"bad_image: {kind}/{sid}.jpg is {img.shape}, expected {want}"
                    break
                crops[kind] = img
        seen.add(sid)
        if reason is not None:
            rejects.append({"id": sid, "frame": frame, "reason": reason})
            continue
        keep_rows.append(i)
        for kind in IMAGE_KINDS:
            arrays[kind].append(crops[kind])
    clean = df.iloc[keep_rows].copy()
    clean["id"] = clean["id"].astype(np.int64)
    for c in ("x", "y", "head_angle"):
        clean[c] = clean[c].astype(np.float64)
    out = {
        k: (np.stack(v) if v else np.zeros((0, size, size, 3), np.uint8)) for k, v in arrays.items()
    }
    out["head_pos"] = out["head_pos"].reshape(-1, size, size, 1)
    out["id"] = clean["id"].to_numpy(np.int64)
    out["xy"] = clean[["x", "y"]].to_numpy(np.float32)
    out["head_angle"] = clean["head_angle"].to_numpy(np.float32)
    positions = clean[["id", "x", "y", "head_angle"]].copy()
    positions["images_present"] = True
    positions["screen_width"] = w
    positions["screen_height"] = h
    logger.info("webcam ingest: %d samples kept, %d rejected", len(positions), len(rejects))
    if positions.empty:
        raise ValueError(
            f"no usable sample in {layout.root or 'the layout'} ({len(rejects)} rejected)"
        )
    return positions.reset_index(drop=True), out, _rejects(rejects)


def _position_problem(row: Any, sid: str, seen: set[str], w: int, h: int) -> str | None:
    if sid in seen:
        return f"duplicate_id: id {sid} appears more than once"
    try:
        x, y, angle = float(row.x), float(row.y), float(row.head_angle)
        int(row.id)
    except (TypeError, ValueError):
        return f"bad_value: id={row.id!r} x={row.x!r} y={row.y!r} head_angle={row.head_angle!r}"
    if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(angle)):
        return f"bad_value: non-finite x={x} y={y} head_angle={angle}"
    if not (0 <= x <= w and 0 <= y <= h):
        return f"outside_screen: ({x:g}, {y:g}) not in [0, {w}] x [0, {h}]"
    return None


# ------------------------------------------------------------------------------------- split


def split_samples(positions: pd.DataFrame, webcam: dict[str, Any]) -> pd.DataFrame:
    """Seeded random split: ``int(train * n)`` train, ``int(val * n)`` val, the rest test."""
    s = validate_params(webcam).data.split
    n = len(positions)
    n_train, n_val = int(n * s.train), int(n * s.val)
    order = np.random.default_rng(s.seed).permutation(n)
    labels = np.empty(n, dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_val]] = "val"
    labels[order[n_train + n_val :]] = "test"
    out = pd.DataFrame({"id": positions["id"].to_numpy(np.int64), "split": labels})
    logger.info("webcam split: %s", out["split"].value_counts().to_dict())
    return out


# ----------------------------------------------------------------------------------- density


def density_map(positions: pd.DataFrame, webcam: dict[str, Any]) -> tuple[np.ndarray, Any, dict]:
    """Samples per ``map_scale`` screen cell (indexed [x, y] as the reference), plot, coverage."""
    p = validate_params(webcam)
    scale = p.data.map_scale
    nx, ny = -(-p.screen.width // scale), -(-p.screen.height // scale)
    ix = np.clip((positions["x"].to_numpy() // scale).astype(int), 0, nx - 1)
    iy = np.clip((positions["y"].to_numpy() // scale).astype(int), 0, ny - 1)
    counts = np.zeros((nx, ny), np.int64)
    np.add.at(counts, (ix, iy), 1)
    coverage = float(np.count_nonzero(counts) / counts.size)
    fig, ax = plt.subplots(figsize=(9, 5.4))
    im = ax.imshow(counts.T, cmap="inferno", interpolation="nearest", origin="upper",
                   extent=(0, p.screen.width, p.screen.height, 0))  # fmt: skip
    fig.colorbar(im, ax=ax, label="samples per cell")
    ax.set_title(f"Samples per {scale}x{scale} px screen cell: {len(positions)} samples, "
                 f"{coverage:.1%} of cells covered")  # fmt: skip
    ax.set_xlabel("screen x (px)")
    ax.set_ylabel("screen y (px)")
    fig.tight_layout()
    summary = {"samples": int(len(positions)), "cells": int(counts.size),
               "covered_cells": int(np.count_nonzero(counts)), "coverage": coverage,
               "max_per_cell": int(counts.max()), "map_scale": scale}  # fmt: skip
    return counts, fig, summary
