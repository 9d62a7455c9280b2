"""End to end: ``kedro run`` nvgaze_sample -> data -> train -> evaluate -> export on tiny data."""

from __future__ import annotations

import json
import zipfile

import h5py
import pandas as pd
import pytest
import yaml

TINY = {
    "nvgaze": {
        "sample": {
            "subjects": 2,
            "frames_per_subject": 20,
            "image_size": [64, 64],
            "focal_px": 52.0,
            "supersample": 1,
            "blink_probability": 0.15,
        },
        "data": {"output_resolution": [31, 31]},
        "merge": {"test_ratio": 0.25},
        "reflections": {"max_images": 3},
        "train": {
            "input_resolution": [31, 31],
            "strides": [2, 2, 2, 2],
            "kernel_sizes": [3, 3, 3, 3],
            "output_channel_counts": [8, 8, 8, 8],
            "num_epochs": 2,
            "rampdown_length": 1,
            "batch_size": 8,
            "checkpoint_frequency": 1,
        },
        "export": {
            "int8": {"cal_batches": 2, "cal_batch_size": 4, "calibration_method": "minmax"},
            "benchmark": {"batch_sizes": [1], "repeats": 3, "warmup": 1, "samples": 8},
        },
    }
}


@pytest.mark.slow
def test_nvgaze_sample_to_export(kedro_project):
    kedro_project.set_params(TINY)
    kedro_project.run("run", "--pipelines", "nvgaze_sample,nvgaze")
    data = kedro_project.path("data")

    # raw footage in NvGaze's format, one folder per subject
    raw = sorted((data / "01_raw" / "nvgaze").iterdir())
    assert [p.name for p in raw] == ["nvgaze_sample_subject_01", "nvgaze_sample_subject_02"]
    assert (raw[0] / "footage_description.csv").is_file()
    assert zipfile.ZipFile(raw[0] / "footage_image_data.zip").namelist()

    # H5 per footage, merged split, label table that passed its suite, rejects with reasons
    for name in ("merged_train.h5", "merged_test.h5"):
        with h5py.File(data / "05_model_input" / "nvgaze" / name, "r") as h5:
            assert h5["images"].shape[1:] == (1, 1, 1, 31, 31)
            assert h5["float_pupil_x"].dtype == "float32"
    assert len(list((data / "03_primary" / "nvgaze" / "footage").glob("*.h5"))) == 2
    labels = pd.read_parquet(data / "02_intermediate" / "nvgaze" / "labels.parquet")
    assert (labels["float_pupilellipse_minor"] > 0).all()
    rejects = pd.read_csv(data / "08_reporting" / "nvgaze" / "data_rejects.csv")
    report = json.loads((data / "08_reporting" / "run_report.json").read_text())
    assert sum(report["rejects"].get("nvgaze_data_rejects", {}).values()) == len(rejects)

    # training: versioned model, history, run folder with best/latest weights and the archive
    assert list((data / "06_models" / "nvgaze" / "nvgaze.keras").iterdir())
    history = pd.read_csv(data / "08_reporting" / "nvgaze" / "train_history.csv")
    assert history["epoch"].tolist() == [1, 2] and {"val_pupil_rms_px", "learning_rate"} <= set(
        history
    )
    run = data / "06_models" / "nvgaze" / "runs"
    (folder,) = list(run.iterdir())
    assert folder.name.startswith("batch_size_8_checkpoint_frequency_1_input_resolution_31_31")
    assert (folder / "checkpoints" / "best.weights.h5").is_file()
    assert (folder / "checkpoints" / "epoch_0002.weights.h5").is_file()
    with zipfile.ZipFile(folder / f"{folder.name}_config.zip") as zf:
        archived = yaml.safe_load(zf.read("parameters.yml"))
        assert archived["train"]["num_epochs"] == 2
        assert {"version.json", "data.json", "network.txt"} <= set(zf.namelist())

    # evaluation: per-sample CSV, metrics with the baseline, plot
    metrics = json.loads((data / "08_reporting" / "nvgaze" / "metrics.json").read_text())
    preds = pd.read_csv(data / "07_model_output" / "nvgaze" / "test_predictions.csv")
    assert metrics["samples"] == len(preds) > 0
    assert {"pupil_rms_px", "gaze_mean_deg", "baseline_gaze_mean_deg"} <= set(metrics)
    assert (data / "08_reporting" / "nvgaze" / "error_vs_gaze_angle.png").stat().st_size > 0

    # export: ONNX, INT8 and the side-by-side report
    for name in ("nvgaze.onnx", "nvgaze_int8.onnx", "nvgaze_int8_cpu.onnx"):  # versioned
        assert kedro_project.latest("data", "06_models", "nvgaze", name).stat().st_size > 0
    cpu_ranges = pd.read_csv(
        kedro_project.latest("data", "06_models", "nvgaze", "nvgaze_int8_cpu_ranges.csv")
    )
    assert "uint8" in set(cpu_ranges["qtype"])
    exp = pd.read_csv(data / "08_reporting" / "nvgaze" / "export_report.csv")
    assert set(exp["format"]) == {"keras", "onnx", "onnx_int8", "onnx_int8_cpu"}

    # a bad parameter stops the run at start-up, naming the key and the valid values
    bad = kedro_project.run(
        "run",
        "--pipeline",
        "nvgaze_train",
        "--params",
        "nvgaze.train.input_resolution=30 30",
        check=False,
    )
    assert bad.returncode != 0
    assert (
        "nvgaze.train" in bad.stderr + bad.stdout
        and "valid widths near it" in bad.stderr + bad.stdout
    )
