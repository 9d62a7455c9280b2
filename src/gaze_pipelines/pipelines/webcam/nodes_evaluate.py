"""Nodes of ``webcam_evaluate``: RMSE px per variant, screen error maps, histogram, table.

Errors are Euclidean distances in screen pixels. ``rmse_px`` is the root mean squared distance;
``rmse_axis_px`` is the root of the MSE over both coordinates (the reference's "pixel error",
``sqrt(F.mse_loss)``, = ``rmse_px / sqrt(2)``), reported so figures compare with its 45.1 px.
The baseline predicts the training split's mean target for every sample.

The error map interpolates the per-sample errors (nearest neighbour, as the reference) onto the
full screen grid; it is stored as float32 indexed ``[x, y]`` (shape (width, height), the
reference's ``eyetracking_errors.npy`` orientation), which ``webcam_inference`` reads.
"""

from __future__ import annotations

import logging
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.interpolate import griddata  # noqa: E402

from gaze_pipelines.core.predict import as_predictor  # noqa: E402
from gaze_pipelines.pipelines.webcam.model import variant_inputs  # noqa: E402
from gaze_pipelines.pipelines.webcam.params import validate_params  # noqa: E402
from gaze_pipelines.pipelines.webcam.training import model_inputs, split_indices  # noqa: E402

logger = logging.getLogger(__name__)


def error_stats(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """RMSE (Euclidean and per axis), mean, median and 90th percentile of the errors, in px."""
    d = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(truth, np.float64), axis=1)
    if len(d) == 0:
        return {
            k: float("nan") for k in ("rmse_px", "rmse_axis_px", "mean_px", "median_px", "p90_px")
        }
    rmse = float(np.sqrt(np.mean(d**2)))
    return {"rmse_px": rmse, "rmse_axis_px": rmse / np.sqrt(2.0), "mean_px": float(d.mean()),
            "median_px": float(np.median(d)), "p90_px": float(np.percentile(d, 90))}  # fmt: skip


def screen_error_map(
    xy: np.ndarray, errors: np.ndarray, width: int, height: int, step: int = 1
) -> np.ndarray:
    """Errors interpolated (nearest) onto the screen grid; float32 shape (width/step, height/step)."""
    xi, yi = np.meshgrid(np.arange(0, width, step), np.arange(0, height, step))
    zi = griddata(np.asarray(xy, np.float64), np.asarray(errors, np.float64), (xi, yi), "nearest")
    return zi.T.astype(np.float32)


def plot_error_map(emap: np.ndarray, xy: np.ndarray, title: str) -> Any:
    """Filled contours of an ``[x, y]`` error map (screen orientation) with the sample points."""
    w, h = emap.shape
    step = max(1, min(w, h) // 270)
    sub = emap[::step, ::step].T
    xs, ys = np.arange(0, w, step), np.arange(0, h, step)
    fig, ax = plt.subplots(figsize=(9, 5.4))
    cs = ax.contourf(xs, ys, sub, levels=12, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="error (px)")
    ax.scatter(xy[:, 0], xy[:, 1], s=3, c="white", alpha=0.5, linewidths=0)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xlabel("screen x (px)")
    ax.set_ylabel("screen y (px)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def evaluate_models(
    models: dict[str, Any],
    arrays: dict[str, np.ndarray],
    split: pd.DataFrame,
    webcam: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, np.ndarray], dict[str, Any], Any]:
    """Predictions, variant table, metrics, error maps (npy + figures) and the error histogram."""
    p = validate_params(webcam)
    e = p.evaluate
    w, h = p.screen.width, p.screen.height
    xy = np.asarray(arrays["xy"], np.float64)
    idx = split_indices(arrays, split, e.split)
    if len(idx) == 0:
        raise ValueError(f"webcam.evaluate.split = {e.split}: the split is empty")
    map_idx = split_indices(arrays, split, e.error_map_split)
    train_idx = split_indices(arrays, split, "train")
    mean_xy = xy[train_idx].mean(axis=0) if len(train_idx) else xy.mean(axis=0)
    baseline = error_stats(np.repeat(mean_xy[None], len(idx), 0), xy[idx])
    rows, preds, maps, figs, errors_by_variant = [], [], {}, {}, {}
    for variant in [v for v in ("face", "eyes", "full") if v in models] + sorted(
        set(models) - {"face", "eyes", "full"}
    ):
        model = models[variant]
        predictor = as_predictor(model)
        names = list(predictor.input_names)
        model_p = p.models.get(variant)
        if model_p is not None and set(names) != set(variant_inputs(variant, model_p)):
            logger.warning(
                "webcam_evaluate[%s]: model inputs %s differ from parameters", variant, names
            )
        both = np.union1d(idx, map_idx)
        out = predictor.predict(model_inputs(arrays, names, both))
        pred = {int(i): out[k] for k, i in enumerate(both)}
        p_eval = np.stack([pred[int(i)] for i in idx])
        stats = error_stats(p_eval, xy[idx])
        err = np.linalg.norm(p_eval - xy[idx], axis=1)
        errors_by_variant[variant] = err
        p_map = np.stack([pred[int(i)] for i in map_idx])
        err_map = np.linalg.norm(p_map - xy[map_idx], axis=1)
        maps[variant] = screen_error_map(xy[map_idx], err_map, w, h)
        figs[variant] = plot_error_map(
            maps[variant], xy[map_idx],
            f"{variant}: error over the screen ({e.error_map_split} split, RMSE "
            f"{stats['rmse_px']:.1f} px)",
        )  # fmt: skip
        rows.append({"variant": variant, "inputs": "+".join(names), "n": int(len(idx)), **stats,
                     "baseline_rmse_px": baseline["rmse_px"],
                     "ratio_to_baseline": stats["rmse_px"] / baseline["rmse_px"],
                     "params": int(model.count_params()) if hasattr(model, "count_params") else None})  # fmt: skip
        preds.append(pd.DataFrame({"variant": variant, "id": np.asarray(arrays["id"])[idx],
                                   "x": xy[idx, 0], "y": xy[idx, 1], "pred_x": p_eval[:, 0],
                                   "pred_y": p_eval[:, 1], "error_px": err}))  # fmt: skip
        logger.info("webcam_evaluate[%s]: RMSE %.1f px (baseline %.1f px, ratio %.3f)", variant,
                    stats["rmse_px"], baseline["rmse_px"], rows[-1]["ratio_to_baseline"])  # fmt: skip
    table = pd.DataFrame(rows)
    table.loc[len(table)] = {"variant": "mean_baseline", "inputs": "", "n": int(len(idx)),
                             **baseline, "baseline_rmse_px": baseline["rmse_px"],
                             "ratio_to_baseline": 1.0, "params": 0}  # fmt: skip
    metrics = {
        "split": e.split,
        "n": int(len(idx)),
        "baseline": baseline,
        "variants": {r["variant"]: {k: v for k, v in r.items() if k != "variant"} for r in rows},
        "ranking": [r["variant"] for r in sorted(rows, key=lambda r: r["rmse_px"])],
    }
    hist = _histogram(errors_by_variant, e.histogram_bins, e.split)
    return pd.concat(preds, ignore_index=True), table, metrics, maps, figs, hist


def _histogram(errors: dict[str, np.ndarray], bins: int, split: str) -> Any:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = max((float(v.max()) for v in errors.values() if len(v)), default=1.0)
    edges = np.linspace(0, top, bins + 1)
    for variant, err in errors.items():
        ax.hist(err, bins=edges, alpha=0.5, edgecolor="black", label=f"{variant} (n={len(err)})")
    ax.set_xlabel("error (px)")
    ax.set_ylabel("count")
    ax.set_title(f"Error histogram, {split} split")
    ax.legend()
    fig.tight_layout()
    return fig
