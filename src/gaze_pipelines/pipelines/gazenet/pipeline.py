"""GazeNet pipelines: ``gazenet_<stage>`` for each stage, ``gazenet`` for data -> export.

Each stage has a builder below, listed in ``STAGES`` (the registry builds the requested ones). Node
modules are imported lazily (``pipelines.lazy``): ``gazenet_data`` never loads TensorFlow.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from gaze_pipelines.pipelines.lazy import LazyModule, build_stages, family_pipeline, lazy_modules

core_export = LazyModule("gaze_pipelines.pipelines.export")
nd, ne, nx, ni, nt, ns = lazy_modules(
    __package__,
    "nodes_data",
    "nodes_evaluate",
    "nodes_export",
    "nodes_inference",
    "nodes_train",
    "nodes_sample",
)

CONVERT = "params:gazenet.dataset_convert"
EXPERIMENT = "gazenet_experiment"  # the validated spec (parameters + spec file)
TRAIN = "params:gazenet.train"
EVALUATE = "params:gazenet.evaluate"
RECORDS = "gazenet_tfrecords@experiment"


def data_pipeline() -> Pipeline:
    """``gazenet_data``: TAO dataset_convert (ingest -> frames -> geometry -> normalize -> filter -> split -> records)."""
    return pipeline(
        [
            node(
                nd.ingest_labels,
                ["gazenet_raw_sets@sets", CONVERT],
                ["gazenet_labels", "gazenet_set_configs", "gazenet_rejects_ingest"],
                name="gazenet_ingest_labels",
            ),
            node(
                nd.build_frame_table,
                ["gazenet_labels", "gazenet_set_configs"],
                ["gazenet_frames_base", "gazenet_rejects_frame_table"],
                name="gazenet_build_frame_table",
            ),
            node(
                nd.compute_geometry,
                ["gazenet_frames_base", "gazenet_set_configs", CONVERT],
                "gazenet_frames_geometry",
                name="gazenet_compute_geometry",
            ),
            node(
                nd.normalize_frames,
                ["gazenet_frames_geometry", "gazenet_set_configs", CONVERT],
                ["gazenet_frames_normalized", "gazenet_norm_images", "gazenet_rejects_normalize"],
                name="gazenet_normalize",
            ),
            node(
                nd.filter_frames,
                ["gazenet_frames_normalized", CONVERT],
                ["gazenet_frames_filtered", "gazenet_rejects_filter"],
                name="gazenet_filter",
            ),
            node(
                nd.split_users,
                ["gazenet_frames_filtered", CONVERT],
                "gazenet_split",
                name="gazenet_split_users",
            ),
            node(
                nd.build_records,
                ["gazenet_frames_filtered", "gazenet_split", CONVERT],
                ["gazenet_tfrecords@partitions", "gazenet_gt_files"],
                name="gazenet_build_records",
            ),
            node(
                nd.frame_table_for_storage,
                "gazenet_frames_filtered",
                "gazenet_frames",
                name="gazenet_store_frame_table",
            ),
            node(
                nd.merge_rejects,
                [
                    "gazenet_rejects_ingest",
                    "gazenet_rejects_frame_table",
                    "gazenet_rejects_normalize",
                    "gazenet_rejects_filter",
                ],
                "gazenet_rejects",
                name="gazenet_merge_rejects",
            ),
        ],
        tags=["gazenet", "data"],
    )


def train_pipeline() -> Pipeline:
    """``gazenet_train``: ``tao gazenet train -e spec`` (records -> model, history, plots)."""
    return pipeline(
        [
            node(
                nt.resolve_experiment,
                ["params:gazenet.experiment", "gazenet_spec_file"],
                EXPERIMENT,
                name="gazenet_resolve_experiment",
            ),
            node(
                nt.save_experiment,
                EXPERIMENT,
                "gazenet_experiment_resolved",
                name="gazenet_save_experiment",
            ),
            node(
                nt.select_training_data,
                [RECORDS, EXPERIMENT],
                ["gazenet_train_rows", "gazenet_validation_rows", "gazenet_train_rejects"],
                name="gazenet_select_training_data",
            ),
            node(
                nt.label_statistics,
                ["gazenet_train_rows", EXPERIMENT],
                "gazenet_label_stats",
                name="gazenet_label_statistics",
            ),
            node(
                nt.train_gazenet,
                [
                    "gazenet_train_rows",
                    "gazenet_validation_rows",
                    EXPERIMENT,
                    TRAIN,
                    "gazenet_label_stats",
                    "gazenet_pretrained_model",
                ],
                ["gazenet_model@keras", "gazenet_training_history", "gazenet_training_report"],
                name="gazenet_train_model",
            ),
            node(
                nt.plot_learning_rate,
                [EXPERIMENT, "gazenet_training_report"],
                "gazenet_lr_schedule_plot",
                name="gazenet_plot_learning_rate",
            ),
            node(
                nt.plot_training_curves,
                "gazenet_training_history",
                "gazenet_training_curves_plot",
                name="gazenet_plot_training_curves",
            ),
            node(
                nt.plot_label_distribution,
                ["gazenet_train_rows", EXPERIMENT],
                "gazenet_label_distribution_plot",
                name="gazenet_plot_label_distribution",
            ),
        ],
        tags=["gazenet", "train"],
    )


def evaluate_pipeline() -> Pipeline:
    """``gazenet_evaluate``: ``tao gazenet evaluate`` (KPI reports for any model format)."""
    return pipeline(
        [
            node(
                nt.resolve_experiment,
                ["params:gazenet.experiment", "gazenet_spec_file"],
                "gazenet_experiment_eval",
                name="gazenet_resolve_experiment_eval",
            ),
            node(
                ne.select_evaluation_data,
                [RECORDS, "gazenet_experiment_eval", EVALUATE],
                ["gazenet_eval_rows", "gazenet_eval_train_rows", "gazenet_eval_rejects"],
                name="gazenet_select_evaluation_data",
            ),
            node(
                ne.predict_gaze,
                [
                    "gazenet_model@predictor",
                    "gazenet_eval_rows",
                    "gazenet_experiment_eval",
                    EVALUATE,
                ],
                "gazenet_predictions",
                name="gazenet_predict",
            ),
            node(
                ne.baseline_predictions,
                [
                    "gazenet_predictions",
                    "gazenet_eval_train_rows",
                    "gazenet_eval_rows",
                    "gazenet_experiment_eval",
                    EVALUATE,
                ],
                "gazenet_baseline_predictions",
                name="gazenet_baseline_predict",
            ),
            node(
                ne.compute_kpis,
                [
                    "gazenet_predictions",
                    "gazenet_baseline_predictions",
                    "gazenet_experiment_eval",
                    EVALUATE,
                ],
                [
                    "gazenet_kpi_error",
                    "gazenet_baseline_error",
                    "gazenet_prediction_lines",
                    "gazenet_kpi_buckets",
                    "gazenet_kpi_heatmaps",
                    "gazenet_kpi_summary",
                ],
                name="gazenet_compute_kpis",
            ),
        ],
        tags=["gazenet", "evaluate"],
    )


def inference_pipeline() -> Pipeline:
    """``gazenet_inference``: ``tao gazenet inference`` (frames -> drawn gaze, result.txt)."""
    return pipeline(
        [
            node(
                nt.resolve_experiment,
                ["params:gazenet.experiment", "gazenet_spec_file"],
                "gazenet_experiment_inference",
                name="gazenet_resolve_experiment_inference",
            ),
            node(
                ni.locate_faces,
                [
                    "gazenet_inference_input",
                    "gazenet_experiment_inference",
                    "params:gazenet.inference",
                ],
                ["gazenet_inference_rows", "gazenet_inference_rejects"],
                name="gazenet_inference_locate_faces",
            ),
            node(
                ni.run_inference,
                [
                    "gazenet_model@inference",
                    "gazenet_inference_rows",
                    "gazenet_experiment_inference",
                    "params:gazenet.inference",
                ],
                "gazenet_inference_predictions",
                name="gazenet_inference_predict",
            ),
            node(
                ni.render_inference,
                [
                    "gazenet_inference_input",
                    "gazenet_inference_predictions",
                    "params:gazenet.inference",
                ],
                ["gazenet_inference_images", "gazenet_inference_result", "gazenet_inference_table"],
                name="gazenet_inference_render",
            ),
        ],
        tags=["gazenet", "inference"],
    )


def _export_data_pipeline() -> Pipeline:
    """Test frames (KPIs), training frames (INT8 calibration) and the spec for the export."""
    return pipeline(
        [
            node(
                nt.resolve_experiment,
                ["params:gazenet.experiment", "gazenet_spec_file"],
                "gazenet_experiment_export",
                name="gazenet_resolve_experiment_export",
            ),
            node(
                ne.select_evaluation_data,
                [RECORDS, "gazenet_experiment_export", EVALUATE],
                ["gazenet_export_eval_rows", "gazenet_export_train_rows", "gazenet_export_rejects"],
                name="gazenet_select_export_data",
            ),
            node(
                nx.gazenet_calibration_batches,
                ["gazenet_export_train_rows", "gazenet_experiment_export", "params:gazenet.export"],
                "gazenet_calibration_batches",
                name="gazenet_calibration_batches",
            ),
        ],
        tags=["gazenet", "export"],
    )


def _export_args() -> dict:
    return {
        "evaluate": nx.gazenet_export_kpis,
        "evaluate_inputs": ["gazenet_export_eval_rows", "gazenet_experiment_export", EVALUATE],
        "model": "gazenet_model@keras",
    }


def export_pipeline() -> Pipeline:
    """``gazenet_export``: ONNX (DeepStream interface), INT8 Q/DQ + ranges, side-by-side report."""
    return _export_data_pipeline() + core_export.create_export_pipeline("gazenet", **_export_args())


def export_tensorrt_pipeline() -> Pipeline:
    """``gazenet_export_tensorrt``: FP16 / INT8 TensorRT engines from the exported models + report."""
    return _export_data_pipeline() + core_export.create_tensorrt_export_pipeline(
        "gazenet", **_export_args()
    )


def sample_pipeline() -> Pipeline:
    """``gazenet_sample``: render the embedded TAO-layout sample."""
    return ns.sample_pipeline()


STAGES = {
    "gazenet_sample": sample_pipeline,
    "gazenet_data": data_pipeline,
    "gazenet_train": train_pipeline,
    "gazenet_evaluate": evaluate_pipeline,
    "gazenet_export": export_pipeline,
    "gazenet_export_tensorrt": export_tensorrt_pipeline,  # needs TensorRT and a GPU
    "gazenet_inference": inference_pipeline,
}


# stages the family pipeline ``gazenet`` leaves out: run them by name
RUN_BY_NAME = ("gazenet_sample", "gazenet_export_tensorrt")


def create_pipeline(**kwargs) -> Pipeline:
    """All GazeNet stages except the sample renderer and the TensorRT engines (run those by name)."""
    return family_pipeline(build_stages(STAGES), RUN_BY_NAME)
