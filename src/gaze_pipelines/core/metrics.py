"""KPI maths of gaze models, on numpy arrays, independent of the model format that predicted.

- ``gaze_errors(...)``: per-sample errors: per-axis and Euclidean 3D point errors (``d_xyz``,
  ``d_xy``), the angle between true and predicted gaze vectors (from theta/phi), the angle of the
  3D points seen from the eye origin, per-axis theta/phi errors, and the distance between the two
  gaze rays at ``projection_distance`` from the origin.
- ``summarize(errors)``: mean/std/median of each error column.
- ``format_error_report(summary, ...)``: the ``<mode>_error.txt`` text in TAO's layout (cm for
  distances, degrees for angles).
- ``bucket_summaries(errors, groups)``: one summary row per bucket (all, clean, eye status,
  users, top-N users, head-pose ranges...).
- ``screen_heatmap(...)`` / ``plot_heatmap(...)``: mean error on a grid over the screen.
- ``mean_predictor(train_targets, n)``: the training-mean baseline predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gaze_pipelines.core.geometry import angular_error_deg, theta_phi_to_gaze

ERROR_COLUMNS = (
    "err_x_mm",
    "err_y_mm",
    "err_z_mm",
    "d_xyz_mm",
    "d_xy_mm",
    "angle_3d_deg",
    "angle_deg",
    "err_theta_deg",
    "err_phi_deg",
    "projected_mm",
)


def gaze_errors(
    *,
    xyz_true: np.ndarray | None = None,
    xyz_pred: np.ndarray | None = None,
    theta_phi_true: np.ndarray | None = None,
    theta_phi_pred: np.ndarray | None = None,
    origin: np.ndarray | None = None,
    projection_distance_mm: float = 1000.0,
) -> pd.DataFrame:
    """Per-sample errors (mm, degrees); columns that cannot be computed are absent.

    ``xyz_*`` are 3D points in mm ``(N, 3)``; ``theta_phi_*`` angles in radians ``(N, 2)``;
    ``origin`` the gaze origins ``(N, 3)`` (e.g. the mid-eye point) for ``angle_3d_deg``.
    """
    cols: dict[str, np.ndarray] = {}
    if xyz_true is not None and xyz_pred is not None:
        t = np.asarray(xyz_true, np.float64).reshape(-1, 3)
        p = np.asarray(xyz_pred, np.float64).reshape(-1, 3)
        d = p - t
        cols["err_x_mm"], cols["err_y_mm"], cols["err_z_mm"] = np.abs(d).T
        cols["d_xyz_mm"] = np.linalg.norm(d, axis=1)
        cols["d_xy_mm"] = np.linalg.norm(d[:, :2], axis=1)
        if origin is not None:
            o = np.asarray(origin, np.float64).reshape(-1, 3)
            cols["angle_3d_deg"] = angular_error_deg(t - o, p - o)
    if theta_phi_true is not None and theta_phi_pred is not None:
        t = np.asarray(theta_phi_true, np.float64).reshape(-1, 2)
        p = np.asarray(theta_phi_pred, np.float64).reshape(-1, 2)
        gt = theta_phi_to_gaze(t[:, 0], t[:, 1])
        gp = theta_phi_to_gaze(p[:, 0], p[:, 1])
        angle = angular_error_deg(gt, gp)
        cols["angle_deg"] = angle
        cols["err_theta_deg"] = np.degrees(np.abs(p[:, 0] - t[:, 0]))
        dphi = np.angle(np.exp(1j * (p[:, 1] - t[:, 1])))  # wrapped to [-pi, pi]
        cols["err_phi_deg"] = np.degrees(np.abs(dphi))
        cols["projected_mm"] = 2.0 * projection_distance_mm * np.sin(np.radians(angle) / 2.0)
    return pd.DataFrame(cols)


def summarize(errors: pd.DataFrame) -> dict[str, float]:
    """``<column>_mean``, ``_std``, ``_median`` of every error column, plus ``n``."""
    out: dict[str, float] = {"n": float(len(errors))}
    for col in errors.columns:
        if col not in ERROR_COLUMNS:
            continue
        v = errors[col].to_numpy(np.float64)
        v = v[np.isfinite(v)]
        out[f"{col}_mean"] = float(v.mean()) if v.size else float("nan")
        out[f"{col}_std"] = float(v.std()) if v.size else float("nan")
        out[f"{col}_median"] = float(np.median(v)) if v.size else float("nan")
    return out


def format_error_report(
    summary: Mapping[str, float], title: str = "testing", projection_distance_cm: float = 100.0
) -> str:
    """TAO's ``<mode>_error.txt`` layout: cm per axis, d_xyz, d_xy, angles in degrees."""

    def cm(key: str) -> str:
        return f"{summary[key] / 10.0:.4f}"

    lines = [f"# {title}: {int(summary.get('n', 0))} samples"]
    if "d_xyz_mm_mean" in summary:
        lines += [
            f"x, y, z error(cm): {cm('err_x_mm_mean')}, {cm('err_y_mm_mean')}, {cm('err_z_mm_mean')}",
            f"Mean d_xyz error(cm): {cm('d_xyz_mm_mean')}",
            f"Std d_xyz error(cm): {cm('d_xyz_mm_std')}",
            f"Median d_xyz error(cm): {cm('d_xyz_mm_median')}",
            f"Mean d_xy error(cm): {cm('d_xy_mm_mean')}",
            f"Std d_xy error(cm): {cm('d_xy_mm_std')}",
        ]
        if "angle_3d_deg_mean" in summary:
            lines += [
                f"Mean 3D point angular error(degrees): {summary['angle_3d_deg_mean']:.4f}",
                f"Std 3D point angular error(degrees): {summary['angle_3d_deg_std']:.4f}",
            ]
    if "angle_deg_mean" in summary:
        lines += [
            f"Mean angular error(degrees): {summary['angle_deg_mean']:.4f}",
            f"Std angular error(degrees): {summary['angle_deg_std']:.4f}",
            f"Median angular error(degrees): {summary['angle_deg_median']:.4f}",
            f"Mean theta error(degrees): {summary['err_theta_deg_mean']:.4f}",
            f"Mean phi error(degrees): {summary['err_phi_deg_mean']:.4f}",
            f"Mean projected error at {projection_distance_cm:g}cm (cm): "
            f"{summary['projected_mm_mean'] / 10.0:.4f}",
            f"Std projected error at {projection_distance_cm:g}cm (cm): "
            f"{summary['projected_mm_std'] / 10.0:.4f}",
        ]
    return "\n".join(lines) + "\n"


def bucket_summaries(errors: pd.DataFrame, groups: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per bucket: ``bucket``, ``n`` and the summary of the rows selected by its mask."""
    rows = []
    for name, mask in groups.items():
        mask = np.asarray(mask, bool)
        row = {"bucket": name, **summarize(errors.loc[mask])}
        rows.append(row)
    return pd.DataFrame(rows)


def mean_predictor(train_targets: np.ndarray, n: int) -> np.ndarray:
    """The baseline: every sample predicted as the mean training target ``(n, outputs)``."""
    mean = np.nanmean(np.asarray(train_targets, np.float64), axis=0)
    return np.tile(mean, (n, 1))


def screen_heatmap(
    screen_xy: np.ndarray,
    values: np.ndarray,
    resolution: tuple[float, float],
    grid: tuple[int, int] = (18, 9),
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` per cell of a ``grid`` (columns, rows) over the screen; and counts.

    Returns ``(mean, count)`` arrays shaped ``(rows, columns)``; empty cells are NaN.
    """
    xy = np.asarray(screen_xy, np.float64).reshape(-1, 2)
    v = np.asarray(values, np.float64).reshape(-1)
    cols, rows = int(grid[0]), int(grid[1])
    w, h = float(resolution[0]), float(resolution[1])
    ci = np.clip((xy[:, 0] / w * cols).astype(int), 0, cols - 1)
    ri = np.clip((xy[:, 1] / h * rows).astype(int), 0, rows - 1)
    total = np.zeros((rows, cols))
    count = np.zeros((rows, cols))
    ok = np.isfinite(v) & np.isfinite(xy).all(axis=1)
    np.add.at(total, (ri[ok], ci[ok]), v[ok])
    np.add.at(count, (ri[ok], ci[ok]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean, count


def plot_heatmap(
    mean: np.ndarray,
    count: np.ndarray,
    title: str,
    unit: str,
    resolution: Sequence[float] | None = None,
):
    """A matplotlib ``Figure`` of a screen heat map with the value (and count) in each cell."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    rows, cols = mean.shape
    fig = Figure(figsize=(12, 6.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    finite = mean[np.isfinite(mean)]
    vmax = float(finite.max()) if finite.size else 1.0
    im = ax.imshow(
        np.ma.masked_invalid(mean),
        cmap="viridis",
        vmin=0.0,
        vmax=vmax or 1.0,
        aspect="auto",
        interpolation="nearest",
    )
    for r in range(rows):
        for c in range(cols):
            if count[r, c] > 0:
                ax.text(
                    c,
                    r,
                    f"{mean[r, c]:.1f}\n({int(count[r, c])})",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if mean[r, c] < 0.6 * vmax else "black",
                )
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    extent = f" over {resolution[0]:g}x{resolution[1]:g} px" if resolution is not None else ""
    ax.set_title(
        f"{title}: mean error ({unit}) per cell, sample count in brackets{extent}", fontsize=10
    )
    ax.set_xlabel("screen column")
    ax.set_ylabel("screen row")
    fig.colorbar(im, ax=ax, label=unit)
    fig.tight_layout()
    return fig


def kpi_json(
    summary: Mapping[str, float], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Summary rounded for a JSON report (NaN as None)."""
    out: dict[str, Any] = {}
    for k, v in summary.items():
        out[k] = None if v is None or not np.isfinite(v) else round(float(v), 6)
    out.update(extra or {})
    return out


# --- classification KPIs (GestureNet) -----------------------------------------------------------


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts: row = true class, column = predicted class."""
    y_true = np.asarray(y_true, np.int64).reshape(-1)
    y_pred = np.asarray(y_pred, np.int64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}")
    bad = (y_true < 0) | (y_true >= n_classes) | (y_pred < 0) | (y_pred >= n_classes)
    if bad.any():
        raise ValueError(
            f"class indices must be in [0, {n_classes}), got {sorted(set(y_true[bad]) | set(y_pred[bad]))}"
        )
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def classification_report(cm: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, then ``macro avg``, ``weighted avg`` and
    ``accuracy`` rows (0/0 is reported as 0, as scikit-learn's ``zero_division=0``)."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    rows = pd.DataFrame(
        {
            "class": list(class_names),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(np.int64),
        }
    )
    total = support.sum()
    weights = support / total if total else np.zeros_like(support)
    acc = float(tp.sum() / total) if total else 0.0
    summary = pd.DataFrame(
        [
            {
                "class": "macro avg",
                "precision": precision.mean(),
                "recall": recall.mean(),
                "f1": f1.mean(),
                "support": int(total),
            },
            {
                "class": "weighted avg",
                "precision": float((precision * weights).sum()),
                "recall": float((recall * weights).sum()),
                "f1": float((f1 * weights).sum()),
                "support": int(total),
            },
            {
                "class": "accuracy",
                "precision": acc,
                "recall": acc,
                "f1": acc,
                "support": int(total),
            },
        ]
    )
    return pd.concat([rows, summary], ignore_index=True)


def plot_confusion_matrix(
    cm: np.ndarray, class_names: Sequence[str], title: str = "confusion matrix"
):
    """A matplotlib ``Figure``: row-normalized colours, counts and row percentages in the cells."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - only needed for reporting

    cm = np.asarray(cm, np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    n = len(class_names)
    fig = Figure(figsize=(1.2 * n + 2.5, 1.0 * n + 2.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    for r in range(n):
        for c in range(n):
            ax.text(
                c,
                r,
                f"{int(cm[r, c])}\n{100 * norm[r, c]:.0f}%",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if norm[r, c] > 0.6 else "black",
            )
    ax.set_xticks(range(n), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(n), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="share of the true class")
    fig.tight_layout()
    return fig
