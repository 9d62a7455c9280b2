"""GestureNet pipelines: ``gesturenet_<stage>`` for each stage, ``gesturenet`` for data -> export."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from gaze_pipelines.pipelines.lazy import LazyModule, build_stages, family_pipeline, lazy_modules

core_export = LazyModule("gaze_pipelines.pipelines.export")
data, evaluate, export, sample, train = lazy_modules(
    __package__, "nodes_data", "nodes_evaluate", "nodes_export", "nodes_sample", "nodes_train"
)

# inputs of the KPI function the export report scores every model format with
EVALUATE_INPUTS = [
    "gesturenet_data_json",
    "gesturenet_crops",
    "params:gesturenet.train",
    "params:gesturenet.evaluate",
]


def sample_pipeline() -> Pipeline:
    """Render the embedded articulated-hand sample in TAO's layout."""
    return Pipeline(
        [
            node(
                sample.render_sample,
                [
                    "params:gesturenet.sample",
                    "params:gesturenet.dataset_config",
                    "params:gesturenet.dataset_experiment_config",
                ],
                "gesturenet_raw",
                name="gesturenet_render_sample",
            )
        ]
    )


def data_pipeline() -> Pipeline:
    """TAO ``dataset_convert``: specs -> frames, rejects, crops -> splits -> data.json."""
    return Pipeline(
        [
            node(
                data.resolve_specs,
                [
                    "gesturenet_dataset_config_file",
                    "gesturenet_dataset_experiment_config_file",
                    "params:gesturenet.dataset_config",
                    "params:gesturenet.dataset_experiment_config",
                    "params:gesturenet.train.dataset_config",
                ],
                "gesturenet_specs",
                name="gesturenet_resolve_specs",
            ),
            node(
                data.effective_specs,
                "gesturenet_specs",
                "gesturenet_effective_specs",
                name="gesturenet_effective_specs",
            ),
            node(
                data.index_frames,
                ["gesturenet_raw", "gesturenet_specs"],
                ["gesturenet_frames", "gesturenet_annotation_rejects"],
                name="gesturenet_index_frames",
            ),
            node(
                data.crop_table,
                "gesturenet_frames",
                "gesturenet_crop_boxes",
                name="gesturenet_crop_table",
            ),
            node(
                data.crop_hands,
                ["gesturenet_raw", "gesturenet_frames"],
                "gesturenet_crops",
                name="gesturenet_crop_hands",
            ),
            node(
                data.split_users,
                ["gesturenet_frames", "gesturenet_specs"],
                ["gesturenet_assigned_frames", "gesturenet_split_users"],
                name="gesturenet_split_users",
            ),
            node(
                data.balance_classes,
                ["gesturenet_assigned_frames", "gesturenet_specs"],
                ["gesturenet_samples", "gesturenet_class_balance"],
                name="gesturenet_balance_classes",
            ),
            node(
                data.build_data_json,
                ["gesturenet_samples", "gesturenet_raw", "gesturenet_specs"],
                "gesturenet_data_json",
                name="gesturenet_data_json",
            ),
        ]
    )


def train_pipeline() -> Pipeline:
    """Two-stage training of the ResNet classifier on data.json."""
    return Pipeline(
        [
            node(
                train.train_gesturenet,
                [
                    "gesturenet_data_json",
                    "gesturenet_crops",
                    "params:gesturenet.train",
                    "gesturenet_weights_init",
                ],
                ["gesturenet_model", "gesturenet_training_history", "gesturenet_training_summary"],
                name="gesturenet_train",
            ),
            node(
                train.plot_training,
                "gesturenet_training_history",
                "gesturenet_training_curves",
                name="gesturenet_plot_training",
            ),
        ]
    )


def evaluate_pipeline() -> Pipeline:
    """Accuracy, per-class precision/recall/F1 and confusion matrix on a data.json split."""
    return Pipeline(
        [
            node(
                evaluate.predict_split,
                [
                    "gesturenet_model",
                    "gesturenet_data_json",
                    "gesturenet_crops",
                    "params:gesturenet.train",
                    "params:gesturenet.evaluate",
                ],
                "gesturenet_predictions",
                name="gesturenet_predict_split",
            ),
            node(
                evaluate.evaluate_predictions,
                ["gesturenet_predictions", "params:gesturenet.train", "params:gesturenet.evaluate"],
                [
                    "gesturenet_classification_report",
                    "gesturenet_confusion_matrix",
                    "gesturenet_confusion_matrix_png",
                    "gesturenet_accuracy_by_user",
                    "gesturenet_kpis",
                ],
                name="gesturenet_evaluate",
            ),
        ]
    )


def inference_pipeline() -> Pipeline:
    """TAO ``inference``: results.txt over a data.json split or an image folder."""
    return Pipeline(
        [
            node(
                evaluate.run_inference,
                [
                    "gesturenet_model",
                    "gesturenet_data_json",
                    "gesturenet_crops",
                    "gesturenet_inference_images",
                    "params:gesturenet.train",
                    "params:gesturenet.inference",
                ],
                "gesturenet_inference_results",
                name="gesturenet_inference",
            )
        ]
    )


def export_pipeline() -> Pipeline:
    """ONNX, INT8 Q/DQ calibrated on crops (cal_image_dir or train_set), side-by-side report."""
    calibration = Pipeline(
        [
            node(
                export.gesturenet_calibration,
                [
                    "gesturenet_data_json",
                    "gesturenet_crops",
                    "gesturenet_cal_images",
                    "params:gesturenet.train",
                    "params:gesturenet.export",
                ],
                "gesturenet_calibration_batches",
                name="gesturenet_calibration_batches",
                tags={"gesturenet_export"},
            )
        ]
    )
    return calibration + core_export.create_export_pipeline(
        "gesturenet",
        evaluate=evaluate.kpis_of,
        evaluate_inputs=EVALUATE_INPUTS,
    )


def export_tensorrt_pipeline() -> Pipeline:
    """FP16 / INT8 TensorRT engines from the exported models (needs TensorRT and a GPU)."""
    return core_export.create_tensorrt_export_pipeline(
        "gesturenet", evaluate=evaluate.kpis_of, evaluate_inputs=EVALUATE_INPUTS
    )


STAGES = {
    "gesturenet_sample": sample_pipeline,
    "gesturenet_data": data_pipeline,
    "gesturenet_train": train_pipeline,
    "gesturenet_evaluate": evaluate_pipeline,
    "gesturenet_inference": inference_pipeline,
    "gesturenet_export": export_pipeline,
    "gesturenet_export_tensorrt": export_tensorrt_pipeline,
}


# stages the family pipeline ``gesturenet`` leaves out: run them by name
RUN_BY_NAME = ("gesturenet_sample", "gesturenet_export_tensorrt")


def create_pipeline(**kwargs) -> Pipeline:
    """All GestureNet stages except the sample renderer and the TensorRT engines (run those by name)."""
    return family_pipeline(build_stages(STAGES), RUN_BY_NAME)
