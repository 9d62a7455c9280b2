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

from gaze_pipelines.pipelines.webcam.nodes_data import (
    density_map,
    extract_session_features,
    ingest_layout,
    split_samples,
)
from gaze_pipelines.pipelines.webcam.nodes_evaluate import evaluate_models
from gaze_pipelines.pipelines.webcam.nodes_export import create_webcam_export
from gaze_pipelines.pipelines.webcam.nodes_inference import run_inference
from gaze_pipelines.pipelines.webcam.nodes_sample import (
    render_collection_session,
    render_demo_clip,
)
from gaze_pipelines.pipelines.webcam.nodes_train import train_models, tune_model

P = "params:webcam"


def _features(session: str) -> Pipeline:
    return Pipeline([
        node(extract_session_features, [session, P], ["webcam_layout", "webcam_feature_rejects"],
             name="webcam_extract_features"),
    ])  # fmt: skip


def create_pipelines() -> dict[str, Pipeline]:
    """Stage pipelines of the webcam family, by registered name."""
    sample = Pipeline([
        node(render_collection_session, P, "webcam_rendered_session", name="webcam_render_session"),
        node(render_demo_clip, P, "webcam_demo_clip", name="webcam_render_clip"),
        node(extract_session_features, ["webcam_rendered_session", P],
             ["webcam_layout", "webcam_feature_rejects"], name="webcam_sample_features"),
    ])  # fmt: skip
    data = Pipeline([
        node(ingest_layout, ["webcam_layout", P],
             ["webcam_positions", "webcam_arrays", "webcam_data_rejects"], name="webcam_ingest"),
        node(split_samples, ["webcam_positions", P], "webcam_split", name="webcam_split"),
        node(density_map, ["webcam_positions", P],
             ["webcam_density_counts", "webcam_density_plot", "webcam_density_summary"],
             name="webcam_density_map"),
    ])  # fmt: skip
    train = Pipeline([
        node(train_models, ["webcam_arrays", "webcam_split", P],
             ["webcam_models", "webcam_train_history", "webcam_train_summary"], name="webcam_train"),
    ])  # fmt: skip
    evaluate = Pipeline([
        node(evaluate_models, ["webcam_models", "webcam_arrays", "webcam_split", P],
             ["webcam_predictions", "webcam_variant_table", "webcam_metrics", "webcam_error_maps",
              "webcam_error_map_plots", "webcam_error_histogram"], name="webcam_evaluate"),
    ])  # fmt: skip
    inference = Pipeline([
        node(run_inference, ["webcam_inference_source", "webcam_models", "webcam_error_maps", P],
             ["webcam_inference_output", "webcam_inference_predictions",
              "webcam_inference_rejects"], name="webcam_inference"),
    ])  # fmt: skip
    tune = Pipeline([
        node(tune_model, ["webcam_arrays", "webcam_split", P],
             ["webcam_tune_trials", "webcam_tuned_parameters", "webcam_tune_summary"],
             name="webcam_tune"),
    ])  # fmt: skip
    stages = {
        "webcam_sample": sample,
        "webcam_features": _features("webcam_session"),
        "webcam_data": data,
        "webcam_train": train,
        "webcam_evaluate": evaluate,
        "webcam_inference": inference,
        "webcam_tune": tune,
    }
    stages["webcam_export"] = create_webcam_export()
    return stages


def create_pipeline(**kwargs) -> Pipeline:
    """Data to export: all webcam stages but the sample, the recording step and the sweep."""
    stages = create_pipelines()
    skip = {"webcam_sample", "webcam_features", "webcam_tune"}
    return sum((p for name, p in stages.items() if name not in skip), Pipeline([]))
