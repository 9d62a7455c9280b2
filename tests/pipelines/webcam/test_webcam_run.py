"""End to end: kedro run of webcam_sample, then every other webcam stage, on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

TINY = {
    "webcam": {
        "sample": {"n_frames": 30, "clip_frames": 4},
        "models": {v: {"face": {"filter_size": 3, "n_filters": 2, "n_convs": 1},
                       "eye": {"filter_size": 3, "n_filters": 2, "n_convs": 1},
                       "head_pos": {"filter_size": 3, "n_filters": 2, "n_convs": 1},
                       "dense_nodes": 8} for v in ("face", "eyes", "full")},
        "train": {"epochs": 1, "batch_size": 16, "deterministic": False},
        "tune": {"num_samples": 2, "epochs": 2, "max_train_samples": 12,
                 "search_space": {
                     "train.learning_rate": {"type": "loguniform", "lower": 1e-4, "upper": 1e-2},
                     "models.full.dense_nodes": {"type": "choice", "values": [4, 8]},
                     # null drops the keys conf/base searches
                     "train.batch_size": None, "models.full.face.n_filters": None,
                     "models.full.face.filter_size": None, "models.full.eye.n_filters": None,
                     "models.full.eye.n_convs": None}},
    }
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.tune
def test_webcam_sample_then_all_stages(kedro_project):
    kedro_project.set_params(TINY)
    kedro_project.run("run", "--pipeline", "webcam_sample")
    raw = kedro_project.path("data", "01_raw", "webcam")
    positions = pd.read_csv(raw / "data" / "positions.csv")
    frames = sorted((raw / "session" / "frames").iterdir())
    feature_rejects = pd.read_csv(kedro_project.path("data", "08_reporting",
                                                     "webcam_feature_rejects.csv"))  # fmt: skip
    # Every rendered frame is either a sample or a reject with a reason.
    assert len(frames) == 30 and len(positions) + len(feature_rejects) == 30
    assert list(positions.columns[:4]) == ["id", "x", "y", "head_angle"]
    assert len(positions) >= 24  # dlib finds the rendered face in (nearly) every frame
    for kind in ("face", "face_aligned", "l_eye", "r_eye", "head_pos"):
        assert len(list((raw / "data" / kind).glob("*.jpg"))) == len(positions)
    assert (raw / "clip" / "targets.csv").is_file() and not (
        raw / "clip" / "landmarks.csv"
    ).exists()

    kedro_project.run("run", "--pipeline", "webcam")
    kedro_project.run("run", "--pipeline", "webcam_tune")
    rep = kedro_project.path("data", "08_reporting")
    density = np.load(rep / "webcam_density.npy")
    assert density.sum() == len(positions)
    split = pd.read_csv(kedro_project.path("data", "05_model_input", "webcam_split.csv"))
    assert split["split"].value_counts().to_dict()["train"] == int(0.8 * len(positions))
    table = pd.read_csv(rep / "webcam_variants.csv")
    assert table["variant"].tolist() == ["face", "eyes", "full", "mean_baseline"]
    assert table["rmse_px"].map(np.isfinite).all()
    for variant in ("face", "eyes", "full"):
        emap = np.load(rep / "webcam_error_maps" / f"{variant}.npy")
        assert emap.shape == (1920, 1080)
        assert (rep / "webcam_error_maps" / f"{variant}.png").stat().st_size > 1000
        assert kedro_project.path("data", "06_models", "webcam", f"{variant}.keras").is_file()
    assert (rep / "webcam_error_histogram.png").is_file()
    inf = pd.read_csv(kedro_project.path("data", "07_model_output",
                                         "webcam_inference_predictions.csv"))  # fmt: skip
    assert len(inf) == 4 and {"x", "y", "radius_px", "target_x", "error_px"} <= set(inf.columns)
    drawn = list(
        kedro_project.path("data", "07_model_output", "webcam_inference", "frames").iterdir()
    )
    assert len(drawn) == 4
    trials = pd.read_csv(rep / "webcam_tune_trials.csv")
    assert len(trials) == 2 and trials["iterations"].max() == 2
    best = yaml.safe_load(kedro_project.path("data", "06_models", "webcam_tuned_parameters.yml")
                          .read_text())  # fmt: skip
    assert set(best["webcam"]) == {"train", "models"}
    assert best["webcam"]["models"]["full"]["dense_nodes"] in (4, 8)
    summary = json.loads((rep / "webcam_tune_summary.json").read_text())
    assert summary["trials"] == 2 and summary["scheduler"]["name"] == "ASHA"
    report = json.loads((rep / "run_report.json").read_text())
    assert report["pipeline"] == ["webcam_tune"] and "webcam_tune" in report["nodes"]
    export = pd.read_csv(rep / "webcam_export_report.csv")
    assert export["format"].tolist() == ["keras", "onnx", "onnx_int8", "onnx_int8_cpu"]
    assert export.set_index("format").loc["onnx", "max_abs_diff"] < 0.05

    # The tuned file drops into conf/local (Kedro refuses a key set twice in one environment, so
    # the test's own overrides go first) and loads with the next run's parameters; a bad value
    # elsewhere still fails at start-up with its key path.
    (kedro_project.root / "conf" / "local" / "parameters_test.yml").unlink()
    (kedro_project.root / "conf" / "local" / "parameters_webcam_tuned.yml").write_text(
        yaml.safe_dump(best))  # fmt: skip
    kedro_project.set_params({"webcam": {"data": {"split": {"train": 1.5}}}}, "parameters_bad.yml")
    bad = kedro_project.run("run", "--pipeline", "webcam_data", check=False)
    assert bad.returncode != 0
    assert "webcam.data.split.train" in bad.stdout + bad.stderr
