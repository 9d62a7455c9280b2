"""``nvgaze_tune``: Ray Tune ASHA sweep of NvGaze's train loop (``training.train_nvgaze``).

Each trial trains with the ``nvgaze`` parameters plus its sampled keys for ``nvgaze_tune.epochs``
epochs (ASHA's ``max_t``) in a throw-away run folder, reporting the test-split metrics after
every epoch; the best configuration is written as a ``conf/local`` parameters file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gaze_pipelines.core.tune import best_params_tree, run_sweep, sweep_summary
from gaze_pipelines.datasets.h5 import NvGazeH5
from gaze_pipelines.params_common import validate
from gaze_pipelines.pipelines.nvgaze.params import NvGazeParams
from gaze_pipelines.pipelines.nvgaze.params_tune import NvGazeTuneParams


def nvgaze_trainable(
    params: dict[str, Any], data: Mapping[str, Any], report: Callable[[dict[str, float]], None]
) -> None:
    """Ray Tune trainable: ``train_nvgaze`` for ``data['epochs']`` epochs, reporting each epoch."""
    from gaze_pipelines.pipelines.nvgaze.training import train_nvgaze  # noqa: PLC0415

    p: NvGazeParams = validate(NvGazeParams, params, "nvgaze")
    with tempfile.TemporaryDirectory(prefix="nvgaze_trial_") as run_dir:
        train = p.train.model_copy(update={
            "num_epochs": int(data["epochs"]), "run_dir": run_dir, "run_name": "trial",
            "resume": False, "checkpoint_frequency": int(data["epochs"]),
        })  # fmt: skip
        train_nvgaze(train, data["train_h5"], data["test_h5"], data["reflections"],
                     archived_params=params, report=lambda epoch, metrics: report(metrics))  # fmt: skip


def tune_nvgaze(
    train_h5: NvGazeH5,
    test_h5: NvGazeH5,
    reflections: Sequence[np.ndarray],
    nvgaze: dict[str, Any],
    tune: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """ASHA sweep over ``nvgaze_tune.search_space``; trials, best parameters, summary."""
    base = validate(NvGazeParams, nvgaze, "nvgaze").model_dump(mode="json")
    t: NvGazeTuneParams = validate(NvGazeTuneParams, tune, "nvgaze_tune")
    data = {"train_h5": train_h5, "test_h5": test_h5, "reflections": list(reflections),
            "epochs": t.epochs}  # fmt: skip
    result = run_sweep(nvgaze_trainable, data, base, t.space(), t.settings("nvgaze"))
    summary = sweep_summary(result, t, "nvgaze_tuned_parameters.yml")
    return result.trials, best_params_tree("nvgaze", result.best_config), summary
