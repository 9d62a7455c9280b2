"""``nvgaze_train`` nodes: train the padding-free network, report its curves."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.params_common import validate
from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams
from gaze_pipelines.pipelines.nvgaze.training import train_nvgaze

logger = logging.getLogger(__name__)


def train(
    train_h5: NvGazeH5,
    test_h5: NvGazeH5,
    reflections: Sequence[np.ndarray],
    params: Mapping[str, Any],
) -> tuple[keras.Model, pd.DataFrame, pd.DataFrame]:
    """Train on the merged train split (selection on the test split); history and exclusions."""
    p: NvGazeParams = validate(NvGazeParams, params, "nvgaze")
    result = train_nvgaze(
        p.train, train_h5, test_h5, reflections, archived_params=p.model_dump(mode="json")
    )
    logger.info(
        "nvgaze_train: kept epoch %s of %d, run folder %s",
        result.best_epoch,
        p.train.num_epochs,
        result.run_dir,
    )
    return result.model, result.history, result.rejects


def plot_history(history: pd.DataFrame) -> Figure:
    """Training curves: NvGaze RMSE (train / test), pupil px and gaze degrees, learning rate."""
    fig = Figure(figsize=(11, 3.6), dpi=100)
    panels = [
        ("RMSE (all outputs)", ["rmse", "val_rmse"]),
        ("pupil RMS error (px)", ["pupil_rms_px", "val_pupil_rms_px"]),
        ("gaze RMS error (deg)", ["gaze_rms_deg", "val_gaze_rms_deg"]),
        ("learning rate", ["learning_rate"]),
    ]
    panels = [(t, [c for c in cols if c in history.columns]) for t, cols in panels]
    panels = [(t, cols) for t, cols in panels if cols]
    for k, (title, cols) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for col in cols:
            ax.plot(
                history["epoch"], history[col], label="test" if col.startswith("val_") else "train"
            )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        if title == "learning rate":
            ax.set_yscale("log")
        elif len(cols) > 1:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
