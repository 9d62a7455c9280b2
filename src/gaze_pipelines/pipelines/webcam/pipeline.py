"""Webcam screen-gaze pipelines: ``webcam_<stage>`` per stage, ``webcam`` for all but the sample.

- ``webcam_sample``: render a collection session and a demo clip, extract the reference's
  features (the same node a user runs on their own recording via ``webcam_features``).
- ``webcam_features``: a recorded session (frames folder or video + targets.csv) -> the
  ``positions.csv`` layout.
- ``webcam_data``: ingest the layout (rejects, expectation suite), arrays, split, density map.
- ``webcam_train``: train the face / eyes / full variants listed in ``webcam.train.variants``.
- ``webcam_evaluate``: RMSE px per variant, screen error maps (PNG + npy), histogram, table.
- ``webcam_inference``: predictions on a frames folder or a video, smoothed and drawn.
- ``webcam_tune``: Ray Tune ASHA sweep; best configuration as a conf/local parameters file.
- ``webcam_export``: ONNX / INT8 through the export core.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from gaze_pipelines.pipelines.lazy import build_stages, family_pipeline, lazy_modules

data, evaluate, export, inference, sample, train = lazy_modules(
    __package__,
    "nodes_data",
    "nodes_evaluate",
    "nodes_export",
    "nodes_inference",
    "nodes_sample",
    "nodes_train",
)

P = "params:webcam"


def features_pipeline() -> Pipeline:
    """A recorded session (frames folder or video + targets.csv) -> the positions.csv layout."""
    return Pipeline([
        node(data.extract_session_features, ["webcam_session", P],
             ["webcam_layout", "webcam_feature_rejects"], name="webcam_extract_features"),
    ])  # fmt: skip


def sample_pipeline() -> Pipeline:
    """Render a collection session and a demo clip, then extract the reference's features."""
    return Pipeline([
        node(sample.render_collection_session, P, "webcam_rendered_session",
             name="webcam_render_session"),
        node(sample.render_demo_clip, P, "webcam_demo_clip", name="webcam_render_clip"),
        node(data.extract_session_features, ["webcam_rendered_session", P],
             ["webcam_layout", "webcam_feature_rejects"], name="webcam_sample_features"),
    ])  # fmt: skip


def data_pipeline() -> Pipeline:
    """Ingest the layout (rejects, expectation suite), arrays, split, density map."""
    return Pipeline([
        node(data.ingest_layout, ["webcam_layout", P],
             ["webcam_positions", "webcam_arrays", "webcam_data_rejects"], name="webcam_ingest"),
        node(data.split_samples, ["webcam_positions", P], "webcam_split", name="webcam_split"),
        node(data.density_map, ["webcam_positions", P],
             ["webcam_density_counts", "webcam_density_plot", "webcam_density_summary"],
             name="webcam_density_map"),
    ])  # fmt: skip


def train_pipeline() -> Pipeline:
    """Train the variants listed in ``webcam.train.variants``."""
    return Pipeline([
        node(train.train_models, ["webcam_arrays", "webcam_split", P],
             ["webcam_models", "webcam_train_history", "webcam_train_summary"], name="webcam_train"),
    ])  # fmt: skip


def evaluate_pipeline() -> Pipeline:
    """RMSE px per variant, screen error maps, histogram, table."""
    return Pipeline([
        node(evaluate.evaluate_models, ["webcam_models", "webcam_arrays", "webcam_split", P],
             ["webcam_predictions", "webcam_variant_table", "webcam_metrics", "webcam_error_maps",
              "webcam_error_map_plots", "webcam_error_histogram"], name="webcam_evaluate"),
    ])  # fmt: skip


def inference_pipeline() -> Pipeline:
    """Predictions on a frames folder or a video, smoothed and drawn."""
    return Pipeline([
        node(inference.run_inference,
             ["webcam_inference_source", "webcam_models", "webcam_error_maps", P],
             ["webcam_inference_output", "webcam_inference_predictions",
              "webcam_inference_rejects"], name="webcam_inference"),
    ])  # fmt: skip


def tune_pipeline() -> Pipeline:
    """Ray Tune ASHA sweep; the best configuration as a conf/local parameters file."""
    return Pipeline([
        node(train.tune_model, ["webcam_arrays", "webcam_split", P],
             ["webcam_tune_trials", "webcam_tuned_parameters", "webcam_tune_summary"],
             name="webcam_tune"),
    ])  # fmt: skip


def export_pipeline() -> Pipeline:
    """ONNX / INT8 of the deploy variant through the export core."""
    return export.create_webcam_export()


STAGES = {
    "webcam_sample": sample_pipeline,
    "webcam_features": features_pipeline,
    "webcam_data": data_pipeline,
    "webcam_train": train_pipeline,
    "webcam_evaluate": evaluate_pipeline,
    "webcam_inference": inference_pipeline,
    "webcam_tune": tune_pipeline,
    "webcam_export": export_pipeline,
}


# stages the family pipeline ``webcam`` leaves out: run them by name
RUN_BY_NAME = ("webcam_sample", "webcam_features", "webcam_tune")


def create_pipeline(**kwargs) -> Pipeline:
    """Data to export: all webcam stages but the sample, the recording step and the sweep."""
    return family_pipeline(build_stages(STAGES), RUN_BY_NAME)
