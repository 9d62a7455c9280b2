"""``webcam_export``: the deploy variant through the export core (ONNX, INT8 Q/DQ, report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node

from gaze_pipelines.core.export import calibration_batches, validate_export_params
from gaze_pipelines.pipelines.export import create_export_pipeline
from gaze_pipelines.pipelines.webcam.model import variant_inputs
from gaze_pipelines.pipelines.webcam.nodes_evaluate import error_stats
from gaze_pipelines.pipelines.webcam.params import validate_params
from gaze_pipelines.pipelines.webcam.training import model_inputs, split_indices

EVALUATE_INPUTS = ["webcam_arrays", "webcam_split", "params:webcam"]


def select_deploy_model(models: dict[str, Any], webcam: dict[str, Any]) -> Any:
    """The trained model of ``webcam.deploy_variant``."""
    p = validate_params(webcam)
    if p.deploy_variant not in models:
        raise ValueError(f"webcam.deploy_variant = {p.deploy_variant}: not trained "
                         f"(have {sorted(models)}; add it to webcam.train.variants)")  # fmt: skip
    return models[p.deploy_variant]


def make_calibration_batches(
    arrays: dict[str, np.ndarray], split: pd.DataFrame, webcam: dict[str, Any]
) -> list[dict[str, np.ndarray]]:
    """``cal_batches`` x ``cal_batch_size`` training samples (raw inputs) of the deploy variant."""
    p = validate_params(webcam)
    cal = validate_export_params(p.export, "webcam.export").int8
    names = variant_inputs(p.deploy_variant, p.models[p.deploy_variant])
    idx = split_indices(arrays, split, "train")
    need = cal.cal_batches * cal.cal_batch_size
    order = np.random.default_rng(cal.seed).permutation(idx)
    if 0 < len(order) < need:
        order = np.resize(order, need)
    return calibration_batches((model_inputs(arrays, names, order[:need]),), cal.cal_batches,
                               cal.cal_batch_size)  # fmt: skip


def kpis(
    predictor: Any, arrays: dict[str, np.ndarray], split: pd.DataFrame, webcam: Mapping[str, Any]
) -> dict[str, float]:
    """RMSE px (and mean / median / p90) of any predictor on the evaluation split."""
    p = validate_params(dict(webcam))
    idx = split_indices(arrays, split, p.evaluate.split)
    names = list(predictor.input_names)
    pred = predictor.predict(model_inputs(arrays, names, idx))
    return error_stats(np.asarray(pred, np.float64), np.asarray(arrays["xy"], np.float64)[idx])


def create_webcam_export() -> Pipeline:
    """Deploy-model selection, calibration batches, then the export core's nodes."""
    prep = Pipeline([
        node(select_deploy_model, ["webcam_models", "params:webcam"], "webcam_model",
             name="webcam_select_deploy_model", tags={"webcam_export"}),
        node(make_calibration_batches, ["webcam_arrays", "webcam_split", "params:webcam"],
             "webcam_calibration_batches", name="webcam_calibration_batches",
             tags={"webcam_export"}),
    ])  # fmt: skip
    return prep + create_export_pipeline("webcam", evaluate=kpis, evaluate_inputs=EVALUATE_INPUTS)
