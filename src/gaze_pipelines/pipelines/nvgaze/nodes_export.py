"""``nvgaze_export`` nodes around the export core: ONNX with NvGaze's graph clean-up, calibration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gaze_pipelines.core.export import calibration_batches
from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.params_common import validate
from gaze_pipelines.pipelines import export as export_core
from gaze_pipelines.pipelines.nvgaze.model import INPUT_NAME
from gaze_pipelines.pipelines.nvgaze.onnx_optimize import optimize_onnx
from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams
from gaze_pipelines.pipelines.nvgaze.training import prepare_arrays


def make_calibration_batches(
    train_h5: NvGazeH5, params: Mapping[str, Any]
) -> list[dict[str, np.ndarray]]:
    """``cal_batches`` x ``cal_batch_size`` random training images, un-augmented, as model input."""
    p: NvGazeParams = validate(NvGazeParams, params, "nvgaze")
    cal = p.export.int8
    arrays = prepare_arrays(
        train_h5,
        list(p.train.output_description),
        p.train.input_resolution,
        None,
        100.0,
        0,
        "train",
    )
    need = cal.cal_batches * cal.cal_batch_size
    order = np.random.default_rng(cal.seed).permutation(len(arrays))
    if len(order) < need:  # small sets: cycle, and let the core report the true shortfall if empty
        order = np.resize(order, need) if len(order) else order
    images = arrays.images[order[:need]].astype(np.float32)
    return calibration_batches(({INPUT_NAME: images},), cal.cal_batches, cal.cal_batch_size)


def export_onnx(model: Any, params: Mapping[str, Any]) -> Any:
    """The export core's ONNX conversion, then the exact NvGaze graph clean-up (fused norms)."""
    return optimize_onnx(export_core.export_onnx(model, params, family="nvgaze"), model)
