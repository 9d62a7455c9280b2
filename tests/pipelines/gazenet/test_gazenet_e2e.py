"""End to end: ``kedro run --pipeline gazenet_train`` then ``gazenet_evaluate`` on a tiny TAO tree."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from records_factory import make_tree, small_experiment

pytestmark = pytest.mark.slow


def test_train_then_evaluate(kedro_project):
    root = make_tree(kedro_project.path("data", "03_primary", "tao_tree"), frames_per_user=4)
    experiment = small_experiment(root)
    experiment.update(num_epoch=2, checkpoint_n_epoch=1)
    # a spec file overrides the parameters key by key, as TAO's -e spec.yaml
    spec = kedro_project.path("conf", "local", "spec.yaml")
    spec.write_text(yaml.safe_dump({"dataloader": {"batch_size": 6}}))
    kedro_project.set_params(
        {
            "gazenet": {
                "experiment": experiment,
                "spec_file": str(spec),
                "train": {"tensorboard_dir": None},
                "evaluate": {"mode": "testing", "top_n_users": 1},
            }
        }
    )
    kedro_project.run("run", "--pipeline", "gazenet_train")
    models = list(
        kedro_project.path("data", "06_models", "gazenet", "gazenet.keras").glob("*/gazenet.keras")
    )
    assert len(models) == 1, "versioned model"
    report = json.loads(
        kedro_project.path("data", "08_reporting", "gazenet", "training_report.json").read_text()
    )
    assert report["batch_size"] == 6 and report["n_train"] == 12 and report["best_epoch"] in (1, 2)
    assert (
        kedro_project.path("data", "08_reporting", "gazenet", "learning_rate_schedule.png")
        .stat()
        .st_size
        > 0
    )
    history = pd.read_csv(
        kedro_project.path("data", "08_reporting", "gazenet", "training_history.csv")
    )
    assert list(history["epoch"]) == [1, 2] and "val_angular_error" in history

    kedro_project.run("run", "--pipeline", "gazenet_evaluate")
    out = kedro_project.path("data", "08_reporting", "gazenet", "testing")
    text = (out / "testing_error.txt").read_text()
    assert "x, y, z error(cm)" in text and "Mean angular error(degrees)" in text
    assert "model / baseline angle_deg_mean" in (out / "baseline_error.txt").read_text()
    assert {p.name for p in (out / "buckets").glob("*.csv")} == {
        "buckets.csv",
        "eye_status.csv",
        "users.csv",
        "head_pose.csv",
    }
    assert {p.name for p in (out / "heatmaps").glob("*.png")} == {
        "testing_heatmap_cm.png",
        "testing_heatmap_deg.png",
    }
    kpi = json.loads((out / "kpi.json").read_text())
    assert kpi["model"]["n"] == 4 and kpi["model_format"] == "keras"
    lines = (out / "testing_predictions.txt").read_text().strip().splitlines()
    assert len(lines) == 5 and lines[1].startswith("/home/someone/")
