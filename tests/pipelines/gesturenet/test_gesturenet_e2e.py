"""End to end on tiny data: ``kedro run`` of the sample and every GestureNet stage, then the data
stage again from the TAO JSON specs the sample wrote (a TAO user's files)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

TINY = {
    "gesturenet": {
        "sample": {
            "users": ["uid_1", "uid_2", "uid_3", "uid_4"],
            "sessions_per_user": 1,
            "frames_per_gesture": 2,
            "image_width": 96,
            "image_height": 72,
            "corrupt_annotations": 2,
        },
        "dataset_config": {"kpi_users": ["uid_4"]},
        "dataset_experiment_config": {"uid_list": {"kpi": ["uid_4"], "val_fraction": 0.34}},
        "train": {
            "model_config": {"num_layers": 6, "image_height": 32, "image_width": 32},
            "dataset_config": {"batch_size": 8},
            "train_config": {
                "top_training": {"stage_epochs": 1, "num_layers_unfreeze": 2},
                "finetuning": {"stage_epochs": 1},
            },
        },
        "inference": {
            "source": "image_dir",
            "image_dir": "data/01_raw/gesturenet/extracted/data/uid_4",
        },
        "export": {
            "int8": {"cal_batches": 2, "cal_batch_size": 4},
            "benchmark": {"repeats": 1, "warmup": 1, "samples": 8, "batch_sizes": [1, 4]},
        },
    }
}


@pytest.mark.slow
def test_gesturenet_sample_to_export(kedro_project):
    kedro_project.set_params(TINY)
    kedro_project.run("run", "--pipelines", "gesturenet_sample,gesturenet")
    p = kedro_project.path
    raw = p("data", "01_raw", "gesturenet")
    assert (raw / "original/data/uid_1/session_1/000000.png").is_file()
    assert (raw / "annotation/data/uid_4/session_1/000011.json").is_file()
    assert json.loads((raw / "specs/dataset_config.json").read_text())["kpi_users"] == ["uid_4"]

    rejects = pd.read_csv(p("data", "08_reporting", "gesturenet", "annotation_rejects.csv"))
    assert len(rejects) == 2 and rejects.reason.str.match(r"^[a-z_]+: .+").all()
    report = json.loads(p("data", "08_reporting", "run_report.json").read_text())
    assert sum(report["rejects"]["gesturenet_annotation_rejects"].values()) == 2

    data = json.loads(p("data", "05_model_input", "gesturenet", "data.json").read_text())
    assert {e["user_id"] for e in data["kpi_set"]} == {"uid_4"} and len(data["kpi_set"]) == 12
    train_users = {e["user_id"] for e in data["train_set"]}
    val_users = {e["user_id"] for e in data["validation_set"]}
    assert (
        train_users
        and val_users
        and not train_users & val_users
        and "uid_4" not in train_users | val_users
    )
    assert all(
        p(e["crop_relpath"].replace("extracted", "data/01_raw/gesturenet/extracted", 1)).is_file()
        for e in data["kpi_set"]
    )

    kpis = json.loads(p("data", "08_reporting", "gesturenet", "kpis.json").read_text())
    assert kpis["n"] == 12 and 0.0 <= kpis["macro_f1"] <= 1.0 and kpis["users"] == ["uid_4"]
    cls = pd.read_csv(p("data", "08_reporting", "gesturenet", "classification_report.csv"))
    assert list(cls["class"])[-3:] == ["macro avg", "weighted avg", "accuracy"]
    assert p("data", "08_reporting", "gesturenet", "confusion_matrix.png").stat().st_size > 1000
    history = pd.read_csv(p("data", "08_reporting", "gesturenet", "training_history.csv"))
    assert list(history.stage) == ["top_training", "finetuning"]

    lines = p("data", "07_model_output", "gesturenet", "results.txt").read_text().splitlines()
    assert len(lines) == 12
    assert all(re.fullmatch(r"\S+\.png [0-5] [a-z_]+ [01]\.\d{6}", line) for line in lines)

    export = pd.read_csv(p("data", "08_reporting", "gesturenet", "export_report.csv"))
    assert list(export.format) == ["keras", "onnx", "onnx_int8", "onnx_int8_cpu"]
    assert export.set_index("format").loc["onnx", "max_abs_diff"] < 1e-4
    for name in ("gesturenet_int8.onnx", "gesturenet_int8_cpu.onnx"):  # versioned entries
        assert kedro_project.latest("data", "06_models", "gesturenet", name).stat().st_size > 0

    # the data stage again, driven by the TAO JSON files instead of the parameter blocks
    specs = "data/01_raw/gesturenet/specs"
    kedro_project.run(
        "run",
        "--pipelines",
        "gesturenet_data",
        "--params",
        f"gesturenet.dataset_config_file={specs}/dataset_config.json,"
        f"gesturenet.dataset_experiment_config_file={specs}/dataset_experiment_config.json",
    )
    again = json.loads(p("data", "05_model_input", "gesturenet", "data.json").read_text())
    assert [e["crop_relpath"] for e in again["kpi_set"]] == [
        e["crop_relpath"] for e in data["kpi_set"]
    ]
