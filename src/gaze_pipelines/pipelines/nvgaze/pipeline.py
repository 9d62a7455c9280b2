"""NvGaze pipelines: ``nvgaze_<stage>`` for each stage, ``nvgaze`` for data -> export.

``nvgaze_sample`` renders the embedded near-eye sample; ``nvgaze_data`` converts raw footage to
H5 (ellipses fitted from region masks), merges into train / test and builds the reflection set;
``nvgaze_train`` trains the padding-free network; ``nvgaze_evaluate`` reports pupil / gaze
errors; ``nvgaze_export`` converts to ONNX and INT8 through the export core (and
``nvgaze_export_tensorrt`` builds TensorRT engines where TensorRT and a GPU exist).
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from gaze_pipelines.pipelines.lazy import LazyModule, build_stages, family_pipeline, lazy_modules

core_export = LazyModule("gaze_pipelines.pipelines.export")
nodes_data, nodes_evaluate, nodes_export, nodes_train, nodes_tune = lazy_modules(
    __package__, "nodes_data", "nodes_evaluate", "nodes_export", "nodes_train", "nodes_tune"
)

EVALUATE_INPUTS = ["nvgaze_test_h5", "nvgaze_train_h5", "params:nvgaze"]


def sample_pipeline() -> Pipeline:
    """Render the embedded near-eye sample into NvGaze's raw footage format."""
    return Pipeline(
        [
            node(
                nodes_data.render_sample,
                inputs="params:nvgaze.sample",
                outputs="nvgaze_raw",
                name="nvgaze_render_sample",
            )
        ]
    )


def data_pipeline() -> Pipeline:
    """Raw footage -> per-footage H5 (fitted labels) -> merged train / test H5; reflection set."""
    return Pipeline(
        [
            node(
                nodes_data.convert_footages,
                inputs=["nvgaze_raw", "params:nvgaze.data"],
                outputs=["nvgaze_footage_h5", "nvgaze_labels", "nvgaze_data_rejects"],
                name="nvgaze_convert_footages",
            ),
            node(
                nodes_data.merge_h5,
                inputs=["nvgaze_footage_h5", "params:nvgaze.merge"],
                outputs=[
                    "nvgaze_train_h5",
                    "nvgaze_test_h5",
                    "nvgaze_merge_report",
                    "nvgaze_merge_rejects",
                ],
                name="nvgaze_merge_h5",
            ),
            node(
                nodes_data.build_reflection_set,
                inputs=["nvgaze_reflection_sources", "params:nvgaze.reflections"],
                outputs="nvgaze_reflections",
                name="nvgaze_build_reflection_set",
            ),
        ]
    )


def train_pipeline() -> Pipeline:
    """Train the padding-free network on the merged split; history, exclusions, curves."""
    return Pipeline(
        [
            node(
                nodes_train.train,
                inputs=["nvgaze_train_h5", "nvgaze_test_h5", "nvgaze_reflections", "params:nvgaze"],
                outputs=["nvgaze_model", "nvgaze_train_history", "nvgaze_train_rejects"],
                name="nvgaze_train_model",
            ),
            node(
                nodes_train.plot_history,
                inputs="nvgaze_train_history",
                outputs="nvgaze_training_curves",
                name="nvgaze_plot_training_curves",
            ),
        ]
    )


def evaluate_pipeline() -> Pipeline:
    """RMS pupil error (px), gaze angle error (deg) vs the mean predictor, per-sample CSV, plot."""
    return Pipeline(
        [
            node(
                nodes_evaluate.evaluate,
                inputs=["nvgaze_model", *EVALUATE_INPUTS],
                outputs=["nvgaze_predictions", "nvgaze_metrics"],
                name="nvgaze_evaluate_model",
            ),
            node(
                nodes_evaluate.plot_errors,
                inputs=["nvgaze_predictions", "params:nvgaze"],
                outputs="nvgaze_error_plot",
                name="nvgaze_plot_errors",
            ),
        ]
    )


def export_pipeline() -> Pipeline:
    """Calibration batches, then the export core: ONNX, parity, INT8 Q/DQ, format comparison."""
    calibration = Pipeline(
        [
            node(
                nodes_export.make_calibration_batches,
                inputs=["nvgaze_train_h5", "params:nvgaze"],
                outputs="nvgaze_calibration_batches",
                name="nvgaze_calibration_batches",
            )
        ]
    )
    core = core_export.create_export_pipeline(
        "nvgaze", evaluate=nodes_evaluate.kpis, evaluate_inputs=EVALUATE_INPUTS
    )
    # the core's plain conversion is replaced by conversion + NvGaze's exact graph clean-up
    converted = Pipeline(
        [
            node(
                nodes_export.export_onnx,
                inputs=["nvgaze_model", "params:nvgaze.export"],
                outputs="nvgaze_onnx_model",
                name="nvgaze_export_onnx",
                tags={"nvgaze_export"},
            )
        ]
    )
    rest = Pipeline([n for n in core.nodes if n.name != "nvgaze_export_onnx"])
    return calibration + converted + rest


def export_tensorrt_pipeline() -> Pipeline:
    """FP16 / INT8 TensorRT engines from the exported models (needs TensorRT and a GPU)."""
    return core_export.create_tensorrt_export_pipeline(
        "nvgaze", evaluate=nodes_evaluate.kpis, evaluate_inputs=EVALUATE_INPUTS
    )


def tune_pipeline() -> Pipeline:
    """Ray Tune ASHA sweep (core/tune.py); run on its own."""
    return Pipeline(
        [
            node(
                nodes_tune.tune_nvgaze,
                [
                    "nvgaze_train_h5",
                    "nvgaze_test_h5",
                    "nvgaze_reflections",
                    "params:nvgaze",
                    "params:nvgaze_tune",
                ],
                ["nvgaze_tune_trials", "nvgaze_tuned_parameters", "nvgaze_tune_summary"],
                name="nvgaze_tune",
            )
        ]
    )


STAGES = {
    "nvgaze_sample": sample_pipeline,
    "nvgaze_data": data_pipeline,
    "nvgaze_train": train_pipeline,
    "nvgaze_evaluate": evaluate_pipeline,
    "nvgaze_export": export_pipeline,
    "nvgaze_export_tensorrt": export_tensorrt_pipeline,
    "nvgaze_tune": tune_pipeline,
}


# stages the family pipeline ``nvgaze`` leaves out: run them by name
RUN_BY_NAME = ("nvgaze_sample", "nvgaze_export_tensorrt", "nvgaze_tune")


def create_pipeline(**kwargs) -> Pipeline:
    """All NvGaze stages except the sample renderer, the TensorRT engines and the sweep."""
    return family_pipeline(build_stages(STAGES), RUN_BY_NAME)
