"""Nodes of ``webcam_train`` and ``webcam_tune``."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gaze_pipelines.core.tune import best_params_tree, run_sweep, sweep_summary
from gaze_pipelines.pipelines.webcam.params import validate_params
from gaze_pipelines.pipelines.webcam.training import train_variant, tune_trainable

logger = logging.getLogger(__name__)


def train_models(
    arrays: dict[str, np.ndarray], split: pd.DataFrame, webcam: dict[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Train every variant of ``webcam.train.variants``; models, per-epoch history, summary."""
    p = validate_params(webcam)
    models, histories, summaries = {}, [], {}
    for variant in p.train.variants:
        logger.info("webcam_train: training the '%s' variant", variant)
        model, history, summary = train_variant(arrays, split, variant, p)
        models[variant] = model
        histories.append(history)
        summaries[variant] = summary
        logger.info(
            "webcam_train[%s]: best epoch %s, val RMSE %.1f px",
            variant, summary["best_epoch"], summary["best_val_rmse_px"] or float("nan"),
        )  # fmt: skip
    return models, pd.concat(histories, ignore_index=True), summaries


def tune_model(
    arrays: dict[str, np.ndarray], split: pd.DataFrame, webcam: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Ray Tune ASHA sweep of ``webcam.tune``; trials, best parameters (YAML tree), summary."""
    p = validate_params(webcam)
    t = p.tune
    base = p.model_dump(mode="json")
    base["train"]["epochs"] = t.epochs
    base["train"]["variants"] = [t.variant]
    space = t.space()
    settings = t.settings(f"webcam_{t.variant}")
    data = {"arrays": dict(arrays), "split": split, "variant": t.variant,
            "max_train_samples": t.max_train_samples}  # fmt: skip
    result = run_sweep(tune_trainable, data, base, space, settings)
    best = best_params_tree("webcam", result.best_config)
    summary = {"variant": t.variant, "best_rmse_px": _rmse_of(result.trials),
               **sweep_summary(result, t, "webcam_tuned_parameters.yml")}  # fmt: skip
    return result.trials, best, summary


def _rmse_of(trials: pd.DataFrame) -> float | None:
    col = "last_val_rmse_px"
    if col in trials.columns and len(trials):
        value = trials.iloc[0][col]
        return None if pd.isna(value) else float(value)
    return None
