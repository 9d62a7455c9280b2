"""``nvgaze_evaluate`` nodes: RMS pupil error (px), gaze angle error (deg), per-sample CSV, plots.

The KPI function ``kpis(predictor, test_h5, train_h5, params)`` runs on any ``Predictor`` (Keras,
ONNX FP32 / INT8, TensorRT), so the export report compares formats with the same numbers.
The mean predictor (the training split's mean of every output) is the baseline the gaze error
is compared with.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gaze_pipelines.core.predict import as_predictor
from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.params_common import validate
from gaze_pipelines.pipelines.nvgaze.model import INPUT_NAME
from gaze_pipelines.pipelines.nvgaze.params import GAZE_ANGLES, PUPIL_CENTER, NvGazeParams
from gaze_pipelines.pipelines.nvgaze.training import prepare_arrays
from gaze_pipelines.synthetic.nvgaze import angular_error_deg

logger = logging.getLogger(__name__)


def _predict(predictor: Any, images: np.ndarray, batch_size: int) -> np.ndarray:
    pred = as_predictor(predictor)
    outs = []
    for lo in range(0, len(images), batch_size):
        batch = images[lo : lo + batch_size].astype(np.float32)
        outs.append(np.asarray(pred.predict({INPUT_NAME: batch}), dtype=np.float32))
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)


def _errors(
    outputs: list[str], truth: np.ndarray, pred: np.ndarray, prefix: str = ""
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if all(c in outputs for c in PUPIL_CENTER):
        k = [outputs.index(c) for c in PUPIL_CENTER]
        out[f"{prefix}pupil_error_px"] = np.linalg.norm(pred[:, k] - truth[:, k], axis=1)
    if all(c in outputs for c in GAZE_ANGLES):
        k = [outputs.index(c) for c in GAZE_ANGLES]
        out[f"{prefix}gaze_error_deg"] = angular_error_deg(pred[:, k], truth[:, k])
    return out


def predictions_table(
    predictor: Any, test_h5: NvGazeH5, train_h5: NvGazeH5, params: NvGazeParams
) -> pd.DataFrame:
    """One row per test sample: truth, prediction, errors, and the mean predictor's errors."""
    t = params.train
    outputs = list(t.output_description)
    test = prepare_arrays(test_h5, outputs, t.input_resolution, None, 100.0, 0, "test")
    train = prepare_arrays(train_h5, outputs, t.input_resolution, None, 100.0, 0, "train")
    if len(test) == 0:
        raise ValueError("nvgaze_evaluate: the test split has no sample with every output label")
    pred = _predict(predictor, test.images, params.evaluate.batch_size)
    if pred.shape != test.targets.shape:
        raise ValueError(
            f"model predicts {pred.shape[1:]} values per sample, outputs are {outputs}"
        )
    mean = np.nanmean(train.targets, axis=0, keepdims=True)
    baseline = np.repeat(mean, len(test), axis=0)
    labels = test_h5.labels.iloc[test.index].reset_index(drop=True)
    table = pd.DataFrame(
        {
            "source": labels.get("string_source", pd.Series([""] * len(test))).astype(str),
            "sample": test.index,
            "image": labels.get("image_L_0", pd.Series([""] * len(test))).astype(str),
        }
    )
    for k, col in enumerate(outputs):
        name = col.removeprefix("float_")
        table[f"true_{name}"] = test.targets[:, k]
        table[f"pred_{name}"] = pred[:, k]
    for key, values in {
        **_errors(outputs, test.targets, pred),
        **_errors(outputs, test.targets, baseline, "baseline_"),
    }.items():
        table[key] = values
    return table


def _rms(x: pd.Series) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else float("nan")


def summarize(table: pd.DataFrame) -> dict[str, Any]:
    """KPIs of a predictions table: pupil RMS px, gaze angle error, baseline ratio, per source."""
    m: dict[str, Any] = {"samples": len(table)}
    if "pupil_error_px" in table:
        e = table["pupil_error_px"]
        m.update(
            pupil_rms_px=_rms(e),
            pupil_mean_px=float(e.mean()),
            pupil_median_px=float(e.median()),
            pupil_p95_px=float(e.quantile(0.95)),
            baseline_pupil_rms_px=_rms(table["baseline_pupil_error_px"]),
        )
    if "gaze_error_deg" in table:
        e = table["gaze_error_deg"]
        base = float(table["baseline_gaze_error_deg"].mean())
        m.update(
            gaze_mean_deg=float(e.mean()),
            gaze_median_deg=float(e.median()),
            gaze_rms_deg=_rms(e),
            gaze_p95_deg=float(e.quantile(0.95)),
            baseline_gaze_mean_deg=base,
            gaze_improvement_over_mean_predictor=base / float(e.mean())
            if e.mean() > 0
            else float("inf"),
        )
    if table["source"].nunique() > 1:
        by = {}
        for src, part in table.groupby("source"):
            row = {"samples": len(part)}
            if "pupil_error_px" in part:
                row["pupil_rms_px"] = _rms(part["pupil_error_px"])
            if "gaze_error_deg" in part:
                row["gaze_mean_deg"] = float(part["gaze_error_deg"].mean())
            by[str(src)] = row
        m["by_source"] = by
    return m


def kpis(
    predictor: Any, test_h5: NvGazeH5, train_h5: NvGazeH5, params: Mapping[str, Any]
) -> dict[str, float]:
    """Scalar KPIs of any predictor on the test split (for the export comparison)."""
    p: NvGazeParams = validate(NvGazeParams, params, "nvgaze")
    summary = summarize(predictions_table(predictor, test_h5, train_h5, p))
    return {k: float(v) for k, v in summary.items() if isinstance(v, (int, float))}


def evaluate(
    model: Any, test_h5: NvGazeH5, train_h5: NvGazeH5, params: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-sample predictions CSV and the KPI summary of the trained model on the test split."""
    p: NvGazeParams = validate(NvGazeParams, params, "nvgaze")
    table = predictions_table(model, test_h5, train_h5, p)
    summary = summarize(table)
    parts = []
    if "pupil_rms_px" in summary:
        parts.append(
            f"pupil RMS {summary['pupil_rms_px']:.2f} px (mean predictor {summary['baseline_pupil_rms_px']:.2f})"
        )
    if "gaze_mean_deg" in summary:
        parts.append(
            f"gaze {summary['gaze_mean_deg']:.2f} deg mean angular error (mean predictor "
            f"{summary['baseline_gaze_mean_deg']:.2f}, {summary['gaze_improvement_over_mean_predictor']:.1f}x better)"
        )
    logger.info("nvgaze_evaluate on %d test samples: %s", len(table), "; ".join(parts))
    return table, summary


def plot_errors(table: pd.DataFrame, params: Mapping[str, Any]) -> Figure:
    """Error versus gaze angle: binned mean +- std against eccentricity, and a 2D error map."""
    p: NvGazeParams = validate(NvGazeParams, params, "nvgaze")
    bin_deg = p.evaluate.gaze_bin_deg
    has_gaze = "true_gaze_x_degree" in table
    fig = Figure(figsize=(12, 4), dpi=100)
    if not has_gaze:
        ax = fig.add_subplot(1, 1, 1)
        ax.hist(table.get("pupil_error_px", pd.Series(dtype=float)), bins=40)
        ax.set_xlabel("pupil error (px)")
        return fig
    gx, gy = table["true_gaze_x_degree"], table["true_gaze_y_degree"]
    ecc = np.degrees(np.arccos(np.clip(np.cos(np.radians(gx)) * np.cos(np.radians(gy)), -1, 1)))
    bins = np.arange(0, max(bin_deg, float(ecc.max()) + bin_deg), bin_deg)
    which = np.digitize(ecc, bins) - 1
    metrics = [c for c in ("gaze_error_deg", "pupil_error_px") if c in table]
    for k, col in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics) + 1, k + 1)
        ax.scatter(ecc, table[col], s=4, alpha=0.3, color="grey")
        centers, means, stds = [], [], []
        for b in range(len(bins) - 1):
            sel = which == b
            if sel.sum() >= 2:
                centers.append(bins[b] + bin_deg / 2)
                means.append(float(table[col][sel].mean()))
                stds.append(float(table[col][sel].std()))
        ax.errorbar(centers, means, yerr=stds, color="tab:blue", marker="o", capsize=3)
        base = f"baseline_{col}"
        if base in table:
            ax.axhline(
                float(table[base].mean()), color="tab:red", linestyle="--", label="mean predictor"
            )
            ax.legend(fontsize=8)
        ax.set_xlabel("gaze eccentricity (deg)")
        ax.set_ylabel(col.replace("_", " "))
        ax.grid(True, alpha=0.3)
    ax = fig.add_subplot(1, len(metrics) + 1, len(metrics) + 1)
    if "gaze_error_deg" in table:
        xb = np.arange(np.floor(gx.min() / bin_deg) * bin_deg, gx.max() + bin_deg, bin_deg)
        yb = np.arange(np.floor(gy.min() / bin_deg) * bin_deg, gy.max() + bin_deg, bin_deg)
        total, _, _ = np.histogram2d(gx, gy, bins=[xb, yb], weights=table["gaze_error_deg"])
        count, _, _ = np.histogram2d(gx, gy, bins=[xb, yb])
        with np.errstate(invalid="ignore", divide="ignore"):
            grid = total / count
        im = ax.pcolormesh(xb, yb, grid.T, cmap="viridis", shading="flat")
        fig.colorbar(im, ax=ax, label="mean gaze error (deg)")
        ax.set_xlabel("gaze x (deg)")
        ax.set_ylabel("gaze y (deg)")
        ax.set_title("gaze error map", fontsize=9)
    fig.tight_layout()
    return fig
