"""``gazenet_evaluate`` nodes: what ``tao gazenet evaluate -type testing|kpi_testing`` does.

The model comes from the catalog as a ``Predictor`` (Keras, ONNX, INT8 ONNX or TensorRT, chosen by
``gazenet.evaluate.model_format``); inputs are built by the same dataloader as in training (no
augmentation); the KPI maths is ``core.metrics``, the same for every format. Outputs:
``<mode>_error.txt`` (TAO's layout), ``baseline_error.txt`` (the training-mean predictor on the
same frames), per-frame prediction lines, bucket CSVs, 18x9 screen heat maps and a JSON summary.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from gaze_pipelines.core import metrics
from gaze_pipelines.core.predict import as_predictor
from gaze_pipelines.core.progress import log_throughput
from gaze_pipelines.pipelines.gazenet import dataloader as dl
from gaze_pipelines.pipelines.gazenet.params import EvaluateParams, validate_section

logger = logging.getLogger(__name__)

_MODE_PHASE = {"testing": "testing", "kpi_testing": "kpi_testing"}


def select_evaluation_data(
    records: pd.DataFrame, experiment: dict[str, Any], evaluate_params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Rows of the evaluation mode (test split or KPI folds), training rows, and rejects."""
    p = validate_section(evaluate_params, EvaluateParams, "gazenet.evaluate")
    loader = experiment["dataloader"]
    if p.mode == "kpi_testing" and not loader.get("kpiset_info"):
        raise ValueError(
            "gazenet.evaluate.mode kpi_testing needs gazenet.experiment.dataloader.kpiset_info"
        )
    rows, rejects = dl.select_phase(records, loader, _MODE_PHASE[p.mode])
    if rows.empty:
        raise ValueError(
            f"no usable {p.mode} records (files: {records.attrs.get('files')}, missing: "
            f"{records.attrs.get('missing_files')}); add_test_to={loader.get('add_test_to')!r}"
        )
    post = experiment.get("post_evaluate") or {}
    if post.get("enable_post_evaluate") and post.get("filter_users"):
        drop = set(str(post["filter_users"]).split())
        mask = rows["user"].isin(drop)
        if mask.any():
            logger.info(
                "post_evaluate.filter_users: %d frames of %s left out",
                int(mask.sum()),
                sorted(drop),
            )
            rej = dl.reject_rows(rows, mask.to_numpy(), "filtered_user: post_evaluate.filter_users")
            rejects = pd.concat([rejects, rej], ignore_index=True)
            rows = rows.loc[~mask].reset_index(drop=True)
    train, _ = dl.select_phase(records, loader, "training")
    logger.info("%s: %d frames of %d users", p.mode, len(rows), rows["user"].nunique())
    return rows, train, rejects


def _gaze_origin(df: pd.DataFrame, experiment: dict[str, Any]) -> np.ndarray:
    origin = (experiment.get("post_evaluate") or {}).get("gaze_origin", "mid_eyes")
    prefix = {"left_eye": "label/lpc_cam", "right_eye": "label/rpc_cam"}.get(
        origin, "label/mid_cam"
    )
    return df[[f"{prefix}_{c}" for c in "xyz"]].to_numpy(np.float64)


def _prediction_table(
    df: pd.DataFrame,
    truth: dict[str, Any],
    pred: dict[str, Any],
    experiment: dict[str, Any],
    projection_cm: float,
) -> pd.DataFrame:
    errors = metrics.gaze_errors(
        xyz_true=truth["xyz"],
        xyz_pred=pred["xyz"],
        theta_phi_true=truth["theta_phi"],
        theta_phi_pred=pred["theta_phi"],
        origin=_gaze_origin(df, experiment),
        projection_distance_mm=projection_cm * 10.0,
    )
    meta = pd.DataFrame(
        {
            "frame": df["train/image_frame_name"].astype(str).to_numpy(),
            "set_id": df["set_id"].to_numpy(),
            "user": df["user"].to_numpy(),
            "left_eye_status": df["label/left_eye_status"].astype(str).to_numpy(),
            "right_eye_status": df["label/right_eye_status"].astype(str).to_numpy(),
            "valid_theta_phi": df["train/valid_theta_phi"].to_numpy(),
            "hp_pitch_deg": df["label/hp_pitch"].to_numpy(),
            "hp_yaw_deg": df["label/hp_yaw"].to_numpy(),
            "screen_x": df["label/gaze_screen_x"].to_numpy(),
            "screen_y": df["label/gaze_screen_y"].to_numpy(),
        }
    )
    cols: dict[str, np.ndarray] = {}
    for kind, values in (("gt", truth), ("pred", pred)):
        if values["xyz"] is not None:
            for i, c in enumerate("xyz"):
                cols[f"{kind}_{c}_mm"] = values["xyz"][:, i]
        if values["theta_phi"] is not None:
            cols[f"{kind}_theta_rad"] = values["theta_phi"][:, 0]
            cols[f"{kind}_phi_rad"] = values["theta_phi"][:, 1]
    return pd.concat([meta, pd.DataFrame(cols), errors], axis=1)


def predict_gaze(
    model: Any, rows: pd.DataFrame, experiment: dict[str, Any], evaluate_params: dict[str, Any]
) -> pd.DataFrame:
    """Run the model (any format) on the evaluation rows: one row per frame with truth, prediction, errors."""
    p = validate_section(evaluate_params, EvaluateParams, "gazenet.evaluate")
    predictor = as_predictor(model)
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    cache = dl.build_frame_cache(rows, cfg)
    inputs, _ = dl.materialize_inputs(rows, cfg, batch_size=p.batch_size, cache=cache)
    start = time.perf_counter()
    outputs = []
    for s in range(0, len(rows), p.batch_size):
        outputs.append(
            np.asarray(predictor.predict({k: v[s : s + p.batch_size] for k, v in inputs.items()}))
        )
    out = np.concatenate(outputs).reshape(len(rows), -1)
    log_throughput(
        f"gazenet predict ({p.model_format})", len(rows), time.perf_counter() - start, "frame"
    )
    if out.shape[1] != cfg.num_outputs:
        raise ValueError(
            f"the model outputs {out.shape[1]} values per frame, the spec says {cfg.num_outputs}"
        )
    pred = dl.outputs_to_labels(out, rows, cfg)
    truth = dl.true_labels(rows, cfg)
    return _prediction_table(rows, truth, pred, experiment, p.projection_distance_cm)


def baseline_predictions(
    predictions: pd.DataFrame,
    train: pd.DataFrame,
    rows: pd.DataFrame,
    experiment: dict[str, Any],
    evaluate_params: dict[str, Any],
) -> pd.DataFrame:
    """The mean predictor: every frame predicted as the mean training label."""
    p = validate_section(evaluate_params, EvaluateParams, "gazenet.evaluate")
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    if train.empty:
        raise ValueError("the baseline needs training records (the training mean)")
    train_truth = dl.true_labels(train, cfg)
    truth = dl.true_labels(rows, cfg)
    pred: dict[str, Any] = {}
    for key in ("xyz", "theta_phi"):
        pred[key] = (
            None
            if train_truth[key] is None
            else metrics.mean_predictor(train_truth[key], len(rows))
        )
    return _prediction_table(rows, truth, pred, experiment, p.projection_distance_cm)


def _buckets(pred: pd.DataFrame, p: EvaluateParams) -> dict[str, dict[str, np.ndarray]]:
    both_open = (pred["left_eye_status"] == "open") & (pred["right_eye_status"] == "open")
    main = {
        "all": np.ones(len(pred), bool),
        "clean": (both_open & (pred["valid_theta_phi"] == 1)).to_numpy(),
        "easy": both_open.to_numpy(),
        "hard": (~both_open).to_numpy(),
    }
    angle = "angle_deg" if "angle_deg" in pred else "d_xyz_mm"
    per_user = pred.groupby("user")[angle].mean().sort_values()
    top = list(per_user.index[: p.top_n_users])
    main[f"top_{p.top_n_users}_users"] = pred["user"].isin(top).to_numpy()
    eyes: dict[str, np.ndarray] = {}
    for side in ("left", "right"):
        for status in sorted(pred[f"{side}_eye_status"].unique()):
            eyes[f"{side}_eye_{status}"] = (pred[f"{side}_eye_status"] == status).to_numpy()
    users = {str(u): (pred["user"] == u).to_numpy() for u in sorted(pred["user"].unique())}
    head: dict[str, np.ndarray] = {}
    edges = p.head_pose_edges_deg
    for axis in ("yaw", "pitch"):
        v = pred[f"hp_{axis}_deg"].abs().to_numpy()
        for lo, hi in zip(edges, edges[1:], strict=False):
            head[f"{axis}_{lo:g}-{hi:g}deg"] = (v >= lo) & (v < hi)
    return {"buckets": main, "eye_status": eyes, "users": users, "head_pose": head}


def _screen_resolution(pred: pd.DataFrame, p: EvaluateParams) -> tuple[float, float]:
    if p.screen_resolution is not None:
        return float(p.screen_resolution[0]), float(p.screen_resolution[1])
    w = max(float(pred["screen_x"].max()), 1.0)
    h = max(float(pred["screen_y"].max()), 1.0)
    return w, h


def compute_kpis(
    predictions: pd.DataFrame,
    baseline: pd.DataFrame,
    experiment: dict[str, Any],
    evaluate_params: dict[str, Any],
) -> tuple[str, str, str, dict[str, pd.DataFrame], dict[str, Any], dict[str, Any]]:
    """Error reports (model and baseline), prediction lines, bucket tables, heat maps, JSON summary."""
    p = validate_section(evaluate_params, EvaluateParams, "gazenet.evaluate")
    err_cols = [c for c in metrics.ERROR_COLUMNS if c in predictions]
    summary = metrics.summarize(predictions[err_cols])
    base = metrics.summarize(baseline[err_cols])
    report = metrics.format_error_report(summary, p.mode, p.projection_distance_cm)
    base_report = metrics.format_error_report(
        base, f"{p.mode} baseline (training-mean predictor)", p.projection_distance_cm
    )
    base_report += _ratio_lines(summary, base)

    lines = _prediction_lines(predictions)
    groups = _buckets(predictions, p)
    post = experiment.get("post_evaluate") or {}
    unavailable: list[str] = []
    if post.get("enable_post_evaluate"):
        wanted = str(post.get("buckets_to_visualize", "")).split()
        unavailable = [b for b in wanted if b not in groups["buckets"]]
        groups["buckets"] = {
            k: v for k, v in groups["buckets"].items() if k in wanted or k == "all"
        }
        if unavailable:
            logger.info("post_evaluate: buckets not in the records: %s", ", ".join(unavailable))
    tables = {
        name: metrics.bucket_summaries(predictions[err_cols], g) for name, g in groups.items()
    }

    res = _screen_resolution(predictions, p)
    xy = predictions[["screen_x", "screen_y"]].to_numpy()
    figures: dict[str, Any] = {}
    if "d_xyz_mm" in predictions:
        mean, count = metrics.screen_heatmap(
            xy, predictions["d_xyz_mm"].to_numpy() / 10.0, res, p.heatmap_grid
        )
        figures[f"{p.mode}_heatmap_cm.png"] = metrics.plot_heatmap(
            mean, count, f"{p.mode} d_xyz", "cm", res
        )
    if "angle_deg" in predictions:
        mean, count = metrics.screen_heatmap(
            xy, predictions["angle_deg"].to_numpy(), res, p.heatmap_grid
        )
        figures[f"{p.mode}_heatmap_deg.png"] = metrics.plot_heatmap(
            mean, count, f"{p.mode} angular", "degrees", res
        )

    kpi = {
        "mode": p.mode,
        "model_format": p.model_format,
        "model": metrics.kpi_json(summary),
        "baseline": metrics.kpi_json(base),
        "ratio_to_baseline": _ratios(summary, base),
        "evaluation_metric": {
            experiment["evaluation_metric"]: _evaluation_metric(predictions, experiment)
        },
        "unavailable_buckets": unavailable,
    }
    for key, value in kpi["ratio_to_baseline"].items():
        logger.info("%s: model/baseline = %.3f", key, value)
    return report, base_report, lines, tables, figures, kpi


def _ratios(summary: dict[str, float], base: dict[str, float]) -> dict[str, float]:
    out = {}
    for key in ("angle_deg_mean", "d_xyz_mm_mean", "angle_3d_deg_mean"):
        if key in summary and key in base and base[key] > 0:
            out[key] = round(summary[key] / base[key], 4)
    return out


def _ratio_lines(summary: dict[str, float], base: dict[str, float]) -> str:
    lines = []
    for key, value in _ratios(summary, base).items():
        lines.append(
            f"model / baseline {key}: {value:.4f} (model {summary[key]:.4f}, baseline {base[key]:.4f})"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def _evaluation_metric(pred: pd.DataFrame, experiment: dict[str, Any]) -> float | None:
    name = experiment["evaluation_metric"]
    if name == "angular_error":
        return float(pred["angle_deg"].mean()) if "angle_deg" in pred else None
    if name == "d_xyz":
        return float(pred["d_xyz_mm"].mean()) if "d_xyz_mm" in pred else None
    residuals = []
    for c in "xyz":
        if f"pred_{c}_mm" in pred:
            residuals.append((pred[f"pred_{c}_mm"] - pred[f"gt_{c}_mm"]).to_numpy())
    for a in ("theta", "phi"):
        if f"pred_{a}_rad" in pred:
            residuals.append((pred[f"pred_{a}_rad"] - pred[f"gt_{a}_rad"]).to_numpy())
    r = np.stack(residuals, axis=1)
    if name == "rmse":
        return float(np.sqrt(np.mean(r**2)))
    if name == "l1":
        return float(np.mean(np.abs(r)))
    return float(np.mean(np.log(np.cosh(np.clip(r, -50, 50)))))


def _prediction_lines(pred: pd.DataFrame) -> str:
    gt = [c for c in ("gt_x_mm", "gt_y_mm", "gt_z_mm", "gt_theta_rad", "gt_phi_rad") if c in pred]
    pr = [c.replace("gt_", "pred_") for c in gt]
    header = "# frame " + " ".join(gt + pr) + "  (mm, radians)"
    body = [
        " ".join([str(f)] + [f"{v:.4f}" for v in row])
        for f, row in zip(pred["frame"], pred[gt + pr].to_numpy(np.float64), strict=True)
    ]
    return "\n".join([header, *body]) + "\n"
