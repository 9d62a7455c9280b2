"""nvgaze_tune: a tiny Ray Tune ASHA sweep of nvgaze_train on the rendered near-eye sample."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

TINY = {
    "nvgaze": {
        "sample": {"subjects": 2, "frames_per_subject": 12, "image_size": [64, 64],
                   "focal_px": 52.0, "supersample": 1},
        "data": {"output_resolution": [31, 31]},
        "merge": {"test_ratio": 0.25},
        "reflections": {"max_images": 2},
        "train": {"input_resolution": [31, 31], "strides": [2, 2, 2, 2],
                  "kernel_sizes": [3, 3, 3, 3], "output_channel_counts": [4, 4, 4, 4],
                  "rampdown_length": 1, "batch_size": 8},
    },
    "nvgaze_tune": {
        "num_samples": 2, "epochs": 2, "seed": 1,
        "search_space": {
            "train.learning_rate": {"type": "loguniform", "lower": 1.0e-4, "upper": 1.0e-2},
            "train.dropout": {"type": "choice", "values": [0.0, 0.2]},
            "train.batch_size": None,  # null drops a key searched in conf/base
            "train.instance_norm_layers": None,
            "train.input_norm": None,
        },
    },
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.tune
def test_nvgaze_tune_writes_trials_and_a_conf_local_file(kedro_project):
    kedro_project.set_params(TINY)
    kedro_project.run("run", "--pipelines", "nvgaze_sample,nvgaze_data")
    kedro_project.run("run", "--pipeline", "nvgaze_tune")
    trials = pd.read_csv(kedro_project.path("data", "08_reporting", "nvgaze", "tune_trials.csv"))
    assert len(trials) == 2 and trials["iterations"].max() == 2
    assert trials["best_val_loss"].notna().all()
    best = yaml.safe_load(kedro_project.path("data", "06_models",
                                             "nvgaze_tuned_parameters.yml").read_text())  # fmt: skip
    assert set(best["nvgaze"]["train"]) == {"learning_rate", "dropout"}
    summary = json.loads(kedro_project.path("data", "08_reporting", "nvgaze",
                                            "tune_summary.json").read_text())  # fmt: skip
    assert summary["trials"] == 2 and summary["scheduler"]["max_t"] == 2
    # Bad sweep parameters fail at start-up with their key path.
    kedro_project.set_params({"nvgaze_tune": {"search_space": {"train.lr": {"type": "normal"}}}},
                             "parameters_bad.yml")  # fmt: skip
    bad = kedro_project.run("run", "--pipeline", "nvgaze_tune", check=False)
    assert (
        bad.returncode != 0 and "nvgaze_tune.search_space.train.lr.type" in bad.stdout + bad.stderr
    )
