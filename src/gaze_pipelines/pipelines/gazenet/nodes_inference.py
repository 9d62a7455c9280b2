"""``gazenet_inference`` nodes: what ``tao gazenet inference`` does.

Frames of a TAO inference-set folder (or one image) -> face and eye boxes from the JSON labels
exactly as ``gazenet_data`` builds them (TAO's face box post-processing, eye boxes from the eye
corners), or from ``gazenet.inference.face_box`` with eye boxes estimated inside it -> the model
(any format, through ``core.predict``) -> ``result.txt`` (frame, x, y, z in mm, theta, phi in
radians, TAO's inference output), a CSV, and each frame drawn with the boxes and the gaze vector
from each eye.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import cv2
import numpy as np
import pandas as pd

from gaze_pipelines.core import crops
from gaze_pipelines.core.geometry import theta_phi_to_gaze
from gaze_pipelines.core.predict import as_predictor
from gaze_pipelines.core.progress import log_throughput, progress
from gaze_pipelines.datasets.gazenet_inference import InferenceInput
from gaze_pipelines.pipelines.gazenet import dataloader as dl
from gaze_pipelines.pipelines.gazenet.params import InferenceParams, validate_section
from gaze_pipelines.pipelines.gazenet.tao_format import LabelError, parse_label_file

logger = logging.getLogger(__name__)

# eye boxes inside a tight face box (x, y, w, h), as fractions: used without landmarks
_EYE_CENTRES = {"left": (0.68, 0.40), "right": (0.32, 0.40)}
_EYE_SIZE = 0.22


def _labels_by_name(inp: InferenceInput) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    labels: dict[str, Any] = {}
    rejects: list[tuple[str, str]] = []
    for name, raw in inp.label_files.items():
        try:
            frames, bad = parse_label_file(raw, inp.label_folder or "json_datafactory_v2")
        except LabelError as err:
            rejects.append((name, f"{err.code}: {err.detail}"))
            continue
        rejects.extend(bad)
        for frame in frames:
            labels[os.path.basename(frame.filename)] = frame
    return labels, rejects


def _estimated_eyes(face: tuple[float, float, float, float]) -> dict[str, tuple[float, ...]]:
    x, y, w, h = face
    side = _EYE_SIZE * w
    return {
        eye: (x + fx * w - side / 2, y + fy * h - side / 2, side, side)
        for eye, (fx, fy) in _EYE_CENTRES.items()
    }


def _boxes_from_label(label: Any, w: int, h: int) -> tuple[tuple, tuple, tuple, str]:
    x1, y1, x2, y2 = label.face_box
    legacy, (fx, fy, side) = crops.tao_face_box(x1, y1, x2, y2, w, h)
    lm = np.asarray(label.landmarks, np.float64)
    have = len(lm) >= 46 and np.all(lm[[36, 39, 42, 45]] >= 0)
    if have:
        right = crops.tao_eye_box(lm[36], lm[39], legacy, w, h)
        left = crops.tao_eye_box(lm[42], lm[45], legacy, w, h)
        if right[2] > 0 and left[2] > 0:
            return (fx, fy, side, side), left, right, "labels"
    est = _estimated_eyes((x1, y1, x2 - x1, y2 - y1))
    return (fx, fy, side, side), est["left"], est["right"], "labels_estimated_eyes"


def locate_faces(
    inp: InferenceInput, experiment: dict[str, Any], inference_params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Face and eye boxes of every frame (labels, else the configured face box); rejects."""
    p = validate_section(inference_params, InferenceParams, "gazenet.inference")
    loader = experiment["dataloader"]
    if loader["use_head_norm"]:
        raise ValueError("inference on raw frames needs a model trained with use_head_norm: false")
    if loader["learn_delta"]:
        raise ValueError(
            "inference on raw frames needs a model trained with learn_delta: false "
            "(the head pose it adds back is not known without the data pipeline)"
        )
    labels, label_rejects = _labels_by_name(inp)
    rows, rejects = [], [{"frame": n, "reason": r} for n, r in label_rejects]
    names = list(inp.frames)[: p.max_frames] if p.max_frames else list(inp.frames)
    for name in names:
        img = inp.frames[name]()
        h, w = img.shape[:2]
        label = labels.get(os.path.basename(name))
        if label is not None:
            face, left, right, source = _boxes_from_label(label, w, h)
        elif p.face_box is not None:
            face = tuple(float(v) for v in p.face_box)
            est = _estimated_eyes(face)
            left, right, source = est["left"], est["right"], "face_box_parameter"
        else:
            rejects.append(
                {
                    "frame": name,
                    "reason": "no_face: no JSON label for this frame and "
                    "gazenet.inference.face_box is null",
                }
            )
            continue
        row = {
            "frame": name,
            "frame_path": inp.paths[name],
            "train/image_frame_name": inp.paths[name],
            "user": os.path.basename(os.path.dirname(inp.paths[name])),
            "box_source": source,
            "frame_width": w,
            "frame_height": h,
        }
        for prefix, box in (
            ("train/facebbx", face),
            ("train/lefteyebbx", left),
            ("train/righteyebbx", right),
        ):
            for c, v in zip("xywh", box, strict=True):
                row[f"{prefix}_{c}"] = float(v)
        for col in (*dl.XYZ, *dl.ANGLES, *dl.HEAD_POSE, *dl.NORM_ANGLES):
            row[col] = 0.0
        rows.append(row)
    table = pd.DataFrame(rows)
    logger.info(
        "inference: %d frames located (%s), %d rejected",
        len(table),
        table["box_source"].value_counts().to_dict() if len(table) else {},
        len(rejects),
    )
    if table.empty:
        raise ValueError(f"no frame to run on in '{inp.root}': {rejects[:3]}")
    return table, pd.DataFrame(rejects, columns=["frame", "reason"])


def run_inference(
    model: Any, rows: pd.DataFrame, experiment: dict[str, Any], inference_params: dict[str, Any]
) -> pd.DataFrame:
    """Predicted x, y, z (mm) and theta, phi (radians) per frame, with any model format."""
    p = validate_section(inference_params, InferenceParams, "gazenet.inference")
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    predictor = as_predictor(model)
    inputs, _ = dl.materialize_inputs(rows, cfg, batch_size=p.batch_size)
    start = time.perf_counter()
    out = np.concatenate(
        [
            np.asarray(predictor.predict({k: v[s : s + p.batch_size] for k, v in inputs.items()}))
            for s in range(0, len(rows), p.batch_size)
        ]
    ).reshape(len(rows), -1)
    log_throughput(
        f"gazenet inference ({p.model_format})", len(rows), time.perf_counter() - start, "frame"
    )
    labels = dl.outputs_to_labels(out, rows, cfg)
    result = rows[["frame", "frame_path", "box_source"]].copy()
    for i, c in enumerate("xyz"):
        result[f"{c}_mm"] = labels["xyz"][:, i] if labels["xyz"] is not None else np.nan
    for i, a in enumerate(("theta", "phi")):
        result[f"{a}_rad"] = (
            labels["theta_phi"][:, i] if labels["theta_phi"] is not None else np.nan
        )
    boxes = rows[
        [f"train/{b}_{c}" for b in ("facebbx", "lefteyebbx", "righteyebbx") for c in "xywh"]
    ]
    return pd.concat([result.reset_index(drop=True), boxes.reset_index(drop=True)], axis=1)


def _draw(img: np.ndarray, row: pd.Series, p: InferenceParams) -> np.ndarray:
    canvas = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img.copy()
    boxes = {
        b: [float(row[f"train/{b}_{c}"]) for c in "xywh"]
        for b in ("facebbx", "lefteyebbx", "righteyebbx")
    }
    if p.draw_boxes:
        for name, (x, y, w, h) in boxes.items():
            color = (255, 200, 0) if name == "facebbx" else (0, 200, 255)
            cv2.rectangle(canvas, (int(x), int(y)), (int(x + w), int(y + h)), color, 1)
    if np.isfinite(row["theta_rad"]) and np.isfinite(row["phi_rad"]):
        g = theta_phi_to_gaze(row["theta_rad"], row["phi_rad"])
        for name in ("lefteyebbx", "righteyebbx"):
            x, y, w, h = boxes[name]
            start = np.array([x + w / 2, y + h / 2])
            end = start + p.arrow_length_px * np.array([g[0], g[1]])
            cv2.arrowedLine(
                canvas,
                tuple(int(v) for v in start),
                tuple(int(v) for v in end),
                (0, 255, 0),
                2,
                tipLength=0.2,
            )
    text = f"theta {np.degrees(row['theta_rad']):.1f} phi {np.degrees(row['phi_rad']):.1f} deg"
    if np.isfinite(row["x_mm"]):
        text += f"  xyz {row['x_mm']:.0f} {row['y_mm']:.0f} {row['z_mm']:.0f} mm"
    cv2.putText(canvas, text, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1, cv2.LINE_AA)
    return canvas


def render_inference(
    inp: InferenceInput, results: pd.DataFrame, inference_params: dict[str, Any]
) -> tuple[dict[str, bytes], str, pd.DataFrame]:
    """Frames with boxes and gaze arrows (PNG bytes by name), ``result.txt`` text, the table."""
    p = validate_section(inference_params, InferenceParams, "gazenet.inference")
    images: dict[str, bytes] = {}
    for _, row in progress(
        results.iterrows(), desc="gazenet inference drawing", total=len(results), unit="frame"
    ):
        canvas = _draw(inp.frames[row["frame"]](), row, p)
        ok, buf = cv2.imencode(".png", canvas)
        if not ok:
            raise ValueError(f"cannot encode the drawing of {row['frame']}")
        images[os.path.splitext(row["frame"])[0]] = buf.tobytes()
    lines = [
        " ".join(
            [str(r.frame_path)]
            + [f"{v:.4f}" for v in (r.x_mm, r.y_mm, r.z_mm, r.theta_rad, r.phi_rad)]
        )
        for r in results.itertuples()
    ]
    text = "\n".join(lines) + "\n"
    return images, text, results
