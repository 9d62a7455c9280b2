"""gazenet_train / evaluate / inference nodes on a tiny tree (one trained model shared)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from records_factory import dataset_info, kpiset_info, make_tree, small_experiment

from gaze_pipelines.datasets.gazenet_inference import GazeNetInferenceDataset
from gaze_pipelines.datasets.gazenet_records import GazeNetRecordsDataset
from gaze_pipelines.pipelines.gazenet import nodes_evaluate as ne
from gaze_pipelines.pipelines.gazenet import nodes_inference as ni
from gaze_pipelines.pipelines.gazenet import nodes_train as nt


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_tree(tmp_path_factory.mktemp("gztrain"), frames_per_user=4)
    records = GazeNetRecordsDataset(
        dataset_info=dataset_info(root), kpiset_info=kpiset_info(root)
    ).load()
    return root, records


def _train(data, folder, pretrained=None, **exp_over):
    root, records = data
    spec = small_experiment(root)
    spec.update(num_epoch=1, checkpoint_n_epoch=1, **exp_over)
    exp = nt.resolve_experiment(spec, None)
    train, val, _ = nt.select_training_data(records, exp)
    stats = nt.label_statistics(train, exp)
    params = {"checkpoint_root": str(folder / "ckpt"), "tensorboard_dir": str(folder / "tb")}
    return exp, nt.train_gazenet(train, val, exp, params, stats, pretrained)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run_a")
    exp, (model, hist, report) = _train(data, folder)
    return folder, exp, model, hist, report


def test_same_seed_same_metrics_and_resume(data, trained, tmp_path):
    folder, exp, model, hist, report = trained
    _, (_, hist2, _) = _train(data, tmp_path)
    np.testing.assert_array_equal(hist["loss"], hist2["loss"])
    np.testing.assert_array_equal(hist["val_logcosh"], hist2["val_logcosh"])
    assert report["total_steps"] == report["steps_per_epoch"] == 3
    assert report["selection_metric"] == "val_logcosh" and report["best_epoch"] == 1
    assert (folder / "ckpt" / "epoch_0001.weights.h5").is_file()
    assert any((folder / "tb").rglob("events.out.tfevents.*"))
    # the same run again finds its checkpoint: nothing left to train, the same kept model
    _, (again, hist3, report3) = _train(data, folder)
    assert report3["resumed_after_epoch"] == 1
    np.testing.assert_array_equal(hist3["loss"], hist["loss"])
    np.testing.assert_array_equal(
        again.get_layer("fc_joint_raw").get_weights()[0],
        model.get_layer("fc_joint_raw").get_weights()[0],
    )
    assert nt.plot_learning_rate(exp, report).axes[0].lines
    assert nt.plot_training_curves(hist).axes


def test_pretrained_model_and_frozen_blocks(data, trained, tmp_path):
    _, _, model, _, _ = trained
    spec_model = {
        "__class_name__": "GazeNetBaseModel",
        "model_parameters": {
            "dropout_rate": 0.25,
            "frozen_blocks": 3,
            "num_outputs": 5,
            "pretrained_model_path": "pre.keras",
            "regularizer_type": "l2",
            "regularizer_weight": 0.002,
            "type": "GazeNet_public",
            "use_batch_norm": True,
            "width_multiplier": 0.25,
        },
    }
    with pytest.raises(ValueError, match="was not loaded"):
        _train(data, tmp_path / "r", pretrained=None, model=spec_model)
    _, (tuned, _, report) = _train(
        data, tmp_path / "q", pretrained=model, model=spec_model, enable_visualization=True
    )
    assert "face_conv1" in report["pretrained_layers"] and "left_conv3" in report["frozen_layers"]
    assert any((tmp_path / "q" / "tb" / "visualization").glob("events.out.tfevents.*"))
    np.testing.assert_array_equal(
        tuned.get_layer("face_conv1").get_weights()[0],
        model.get_layer("face_conv1").get_weights()[0],
    )


def test_evaluation_nodes(data, trained):
    _, records = data
    _, exp, model, _, _ = trained
    params = {"mode": "kpi_testing", "batch_size": 4, "top_n_users": 1}
    rows, train_rows, _ = ne.select_evaluation_data(records, exp, params)
    pred = ne.predict_gaze(model, rows, exp, params)
    base = ne.baseline_predictions(pred, train_rows, rows, exp, params)
    report, base_report, lines, tables, figs, kpi = ne.compute_kpis(pred, base, exp, params)
    assert report.startswith("# kpi_testing:") and "Mean angular error(degrees)" in report
    assert "model / baseline angle_deg_mean" in base_report
    assert len(lines.strip().splitlines()) == len(rows) + 1
    assert set(tables) == {"buckets", "eye_status", "users", "head_pose"}
    assert {"all", "clean", "easy", "hard", "top_1_users"} <= set(tables["buckets"]["bucket"])
    assert set(figs) == {"kpi_testing_heatmap_cm.png", "kpi_testing_heatmap_deg.png"}
    assert kpi["baseline"]["angle_deg_mean"] > 0 and "angle_deg_mean" in kpi["ratio_to_baseline"]
    # the baseline predicts the training mean for every frame
    assert base["pred_theta_rad"].nunique() == 1
    assert base["pred_theta_rad"].iloc[0] == pytest.approx(
        train_rows["label/theta"].mean(), abs=1e-6
    )


def test_inference_on_an_image_with_a_face_box(data, trained):
    root, records = data
    _, exp, model, _, _ = trained
    image = records["frame_path"].iloc[0]
    inp = GazeNetInferenceDataset(path=image).load()
    row = records.iloc[0]
    params = {"face_box": [float(row[f"train/facebbx_{c}"]) for c in "xywh"], "batch_size": 2}
    with pytest.raises(ValueError, match="face_box is null"):
        ni.locate_faces(inp, exp, {})
    located, rejects = ni.locate_faces(inp, exp, params)
    assert len(located) == 1 and located["box_source"].iloc[0] == "face_box_parameter"
    result = ni.run_inference(model, located, exp, params)
    assert np.isfinite(result[["x_mm", "y_mm", "z_mm", "theta_rad", "phi_rad"]].to_numpy()).all()
    images, text, table = ni.render_inference(inp, result, params)
    assert text.split()[0] == image and len(text.split()) == 6
    drawn = cv2.imdecode(np.frombuffer(next(iter(images.values())), np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape[:2] == (120, 160)
