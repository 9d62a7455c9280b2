"""``gazenet_export`` end to end on tiny records, and the GazeNet export nodes."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pandas as pd
import pytest
from records_factory import make_tree, small_experiment

from gaze_pipelines.core.export import qdq_zero_points, read_interface
from gaze_pipelines.pipelines.gazenet import dataloader as dl
from gaze_pipelines.pipelines.gazenet.nodes_export import gazenet_calibration_batches
from gaze_pipelines.pipelines.gazenet.pipeline import STAGES, create_pipeline
from gaze_pipelines.pipelines.lazy import build_stages

EXPORT_TINY = {
    "int8": {"cal_batches": 2, "cal_batch_size": 8, "calibration_method": "entropy"},
    "benchmark": {"batch_sizes": [1, 4], "warmup": 1, "repeats": 3, "samples": 8},
}


def _latest(folder) -> str:
    """The file inside the newest version folder of a versioned dataset."""
    version = sorted(p for p in folder.iterdir() if p.is_dir())[-1]
    return str(version / folder.name)


def test_export_stages_are_registered_and_tensorrt_runs_by_name():
    stages = build_stages(STAGES)
    assert {"gazenet_export", "gazenet_export_tensorrt"} <= set(stages)
    outputs = stages["gazenet_export"].all_outputs()
    assert {
        "gazenet_onnx_model",
        "gazenet_onnx_int8_model",
        "gazenet_int8_calibration_ranges",
        "gazenet_export_report",
    } <= outputs
    assert "gazenet_model@keras" in stages["gazenet_export"].inputs()
    everything = create_pipeline()
    assert "gazenet_export_report" in everything.all_outputs()
    assert "gazenet_tensorrt_int8_engine" not in everything.all_outputs()


def test_calibration_batches_draw_training_frames(tmp_path):
    from gaze_pipelines.datasets.gazenet_records import GazeNetRecordsDataset

    make_tree(tmp_path, frames_per_user=6, tao_paths=False)
    experiment = small_experiment(tmp_path)
    loader = experiment["dataloader"]
    records = GazeNetRecordsDataset(
        dataset_info=loader["dataset_info"], kpiset_info=loader["kpiset_info"]
    ).load()
    train, _ = dl.select_phase(records, loader, "training")
    export = {"int8": {"cal_batches": 3, "cal_batch_size": 4, "seed": 1}}
    batches = gazenet_calibration_batches(train, experiment, export)
    assert len(batches) == 3
    assert set(batches[0]) == {
        "input_face_images",
        "input_left_images",
        "input_right_images",
        "input_facegrid",
    }
    assert batches[0]["input_face_images"].shape == (4, 32, 32, 1)
    assert batches[0]["input_left_images"].shape == (4, 24, 24, 1)
    assert batches[0]["input_facegrid"].shape == (4, 625)
    again = gazenet_calibration_batches(train, experiment, export)
    np.testing.assert_array_equal(batches[2]["input_face_images"], again[2]["input_face_images"])
    with pytest.raises(ValueError, match=r"3 x 8 = 24 training frames, the training split has 18"):
        gazenet_calibration_batches(
            train, experiment, {"int8": {"cal_batches": 3, "cal_batch_size": 8}}
        )
    with pytest.raises(ValueError, match="cal_image_dir"):
        gazenet_calibration_batches(train, experiment, {"int8": {"cal_image_dir": "imgs"}})


@pytest.mark.slow
def test_gazenet_train_export_then_evaluate_int8(kedro_project, tmp_path):
    records = make_tree(tmp_path / "records", frames_per_user=8, tao_paths=False)
    experiment = small_experiment(records)
    kedro_project.set_params(
        {
            "gazenet": {
                "experiment": experiment,
                "train": {"tensorboard_dir": None, "cache_frames": True},
                "export": EXPORT_TINY,
            }
        }
    )
    kedro_project.run("run", "--pipelines", "gazenet_train,gazenet_export")

    p = kedro_project.path
    model = onnx.load(_latest(p("data", "06_models", "gazenet", "gazenet.onnx")))
    dims = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
    }
    assert dims == {  # DeepStream's names, channels-first one-channel images, TAO's facegrid
        "input_face_images:0": ["batch", 1, 32, 32],
        "input_left_images:0": ["batch", 1, 24, 24],
        "input_right_images:0": ["batch", 1, 24, 24],
        "input_facegrid:0": ["batch", 1, 625, 1],
    }
    assert [o.name for o in model.graph.output] == ["fc_joint/concat:0"]
    assert read_interface(model).inputs[0].source == "input_face_images"

    int8 = onnx.load(_latest(p("data", "06_models", "gazenet", "gazenet_int8.onnx")))
    assert all(np.all(z == 0) for z in qdq_zero_points(int8).values())
    ranges = pd.read_csv(_latest(p("data", "06_models", "gazenet", "gazenet_int8_calibration.csv")))
    assert {"activation", "weight"} <= set(ranges["kind"]) and (ranges["zero_point"] == 0).all()
    cpu = onnx.load(_latest(p("data", "06_models", "gazenet", "gazenet_int8_cpu.onnx")))
    assert any(z.dtype == np.uint8 for z in qdq_zero_points(cpu).values())

    parity = json.loads(
        p("data", "08_reporting", "gazenet", "export", "onnx_parity.json").read_text()
    )
    assert parity["passed"] and parity["max_abs_diff"] <= parity["tolerance"]
    report = pd.read_csv(p("data", "08_reporting", "gazenet", "export_report.csv")).set_index(
        "format"
    )
    assert list(report.index) == ["keras", "onnx", "onnx_int8", "onnx_int8_cpu"]
    for col in (
        "angle_deg_mean",
        "d_xyz_mm_mean",
        "angle_deg_mean_delta_rel",
        "p50_ms_b1",
        "p95_ms_b4",
        "file_size_mb",
        "max_abs_diff",
    ):
        assert col in report.columns, col
    # FP32 ONNX gives Keras' KPIs (same KPI code, outputs equal within the parity tolerance)
    assert abs(report.loc["onnx", "angle_deg_mean_delta_rel"]) < 1e-3
    assert report.loc["onnx_int8", "file_size_mb"] < report.loc["onnx", "file_size_mb"]
    assert "| onnx_int8 |" in p("data", "08_reporting", "gazenet", "export_report.md").read_text()

    # the same KPI code on both INT8 models, through gazenet_evaluate's model_format switch
    for fmt in ("onnx_int8", "onnx_int8_cpu"):
        kedro_project.run(
            "run",
            "--pipeline",
            "gazenet_evaluate",
            "--params",
            f"gazenet.evaluate.model_format={fmt}",
        )
        kpi = json.loads(p("data", "08_reporting", "gazenet", "testing", "kpi.json").read_text())
        assert kpi["model_format"] == fmt
        assert kpi["model"]["angle_deg_mean"] == pytest.approx(
            report.loc[fmt, "angle_deg_mean"], rel=1e-6
        )
