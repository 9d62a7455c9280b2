"""``gazenet_export``: GazeNet through the export core (``pipelines/export.py``).

What ``tao gazenet export -t tfonnx`` with INT8 calibration did, the current way: an ONNX model
with DeepStream's interface (``gazenet.export``: names ``input_face_images:0`` ...,
``fc_joint/concat:0``, channels-first 1-channel images, the facegrid as ``(N, 1, 625, 1)``), a
symmetric QInt8 Q/DQ model calibrated on ``cal_batches`` x ``cal_batch_size`` frames drawn from
the training split (TAO's ``--batches`` / ``--batch_size``), and a report that runs
``gazenet_evaluate``'s KPI code on the Keras, ONNX and INT8 models over the same test frames.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gaze_pipelines.core import metrics
from gaze_pipelines.core.export import calibration_batches, validate_export_params
from gaze_pipelines.pipelines.gazenet import dataloader as dl
from gaze_pipelines.pipelines.gazenet.nodes_evaluate import predict_gaze

logger = logging.getLogger(__name__)

#: the KPIs the export report compares across formats (issue: within 2 % of FP32 for INT8)
EXPORT_KPIS = ("angle_deg_mean", "d_xyz_mm_mean")


def gazenet_calibration_batches(
    train_rows: pd.DataFrame, experiment: dict[str, Any], export: dict[str, Any]
) -> list[dict[str, np.ndarray]]:
    """``cal_batches`` x ``cal_batch_size`` training frames (seeded draw), as model inputs."""
    p = validate_export_params(export, "gazenet.export").int8
    if p.cal_image_dir:
        raise ValueError(
            "gazenet.export.int8.cal_image_dir: GazeNet's inputs (face, eyes, facegrid) are built "
            "from labelled frames, not from loose images; leave it null to calibrate on the "
            "training split"
        )
    need = p.cal_batches * p.cal_batch_size
    if len(train_rows) < need:
        raise ValueError(
            f"gazenet.export.int8: calibration needs cal_batches x cal_batch_size = "
            f"{p.cal_batches} x {p.cal_batch_size} = {need} training frames, the training split "
            f"has {len(train_rows)}"
        )
    order = np.random.default_rng(p.seed).permutation(len(train_rows))[:need]
    rows = train_rows.iloc[np.sort(order)].reset_index(drop=True)
    cfg = dl.LoaderConfig.from_spec(experiment["dataloader"])
    inputs, _ = dl.materialize_inputs(rows, cfg, batch_size=p.cal_batch_size)
    shuffle = np.random.default_rng(p.seed + 1).permutation(need)
    inputs = {k: v[shuffle] for k, v in inputs.items()}
    logger.info(
        "gazenet INT8 calibration: %d batches x %d frames of %d training users",
        p.cal_batches,
        p.cal_batch_size,
        rows["user"].nunique(),
    )
    return calibration_batches([inputs], p.cal_batches, p.cal_batch_size)


def gazenet_export_kpis(
    predictor: Any, rows: pd.DataFrame, experiment: dict[str, Any], evaluate_params: dict[str, Any]
) -> dict[str, float]:
    """Mean angular error (deg) and mean 3D error (mm) of ``predictor`` with the evaluate KPI code."""
    predictions = predict_gaze(predictor, rows, experiment, evaluate_params)
    columns = [c for c in metrics.ERROR_COLUMNS if c in predictions]
    summary = metrics.summarize(predictions[columns])
    missing = [k for k in EXPORT_KPIS if k not in summary]
    if missing:
        raise ValueError(
            f"the export report needs {list(EXPORT_KPIS)}; the predictions lack {missing} "
            "(num_outputs 5: x, y, z, theta, phi)"
        )
    return {k: summary[k] for k in EXPORT_KPIS}
