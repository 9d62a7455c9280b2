"""GestureNet pipelines: ``gesturenet_<stage>`` for each stage, ``gesturenet`` for data -> export."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from gaze_pipelines.pipelines.gesturenet import nodes_data as data
from gaze_pipelines.pipelines.gesturenet import nodes_sample as sample


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


def create_pipelines() -> dict[str, Pipeline]:
    """Stage pipelines of the GestureNet family, by registered name."""
    return {
        "gesturenet_sample": sample_pipeline(),
        "gesturenet_data": data_pipeline(),
    }


def create_pipeline(**kwargs) -> Pipeline:
    """All GestureNet stages except the sample renderer."""
    stages = create_pipelines()
    return sum((p for name, p in stages.items() if name != "gesturenet_sample"), Pipeline([]))
