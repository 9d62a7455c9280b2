"""GazeNet pipelines: ``gazenet_<stage>`` for each stage, ``gazenet`` for data -> export.

Each stage has a builder below; ``create_pipelines`` registers them by name.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from gaze_pipelines.pipelines.gazenet import nodes_data as nd
from gaze_pipelines.pipelines.gazenet.nodes_sample import sample_pipeline

CONVERT = "params:gazenet.dataset_convert"


def data_pipeline() -> Pipeline:
    """``gazenet_data``: TAO dataset_convert (ingest -> frames -> geometry -> normalize -> filter -> split -> records)."""
    return pipeline(
        [
            node(nd.ingest_labels, ["gazenet_raw_sets@sets", CONVERT],
                 ["gazenet_labels", "gazenet_set_configs", "gazenet_rejects_ingest"], name="gazenet_ingest_labels"),
            node(nd.build_frame_table, ["gazenet_labels", "gazenet_set_configs"],
                 ["gazenet_frames_base", "gazenet_rejects_frame_table"], name="gazenet_build_frame_table"),
            node(nd.compute_geometry, ["gazenet_frames_base", "gazenet_set_configs"], "gazenet_frames_geometry",
                 name="gazenet_compute_geometry"),
            node(nd.normalize_frames, ["gazenet_frames_geometry", "gazenet_set_configs", CONVERT],
                 ["gazenet_frames_normalized", "gazenet_norm_images", "gazenet_rejects_normalize"],
                 name="gazenet_normalize"),
            node(nd.filter_frames, ["gazenet_frames_normalized", CONVERT],
                 ["gazenet_frames_filtered", "gazenet_rejects_filter"], name="gazenet_filter"),
            node(nd.split_users, ["gazenet_frames_filtered", CONVERT], "gazenet_split", name="gazenet_split_users"),
            node(nd.build_records, ["gazenet_frames_filtered", "gazenet_split", CONVERT],
                 ["gazenet_tfrecords", "gazenet_gt_files"], name="gazenet_build_records"),
            node(nd.frame_table_for_storage, "gazenet_frames_filtered", "gazenet_frames",
                 name="gazenet_store_frame_table"),
            node(nd.merge_rejects, ["gazenet_rejects_ingest", "gazenet_rejects_frame_table",
                                    "gazenet_rejects_normalize", "gazenet_rejects_filter"],
                 "gazenet_rejects", name="gazenet_merge_rejects"),
        ],
        tags=["gazenet", "data"],
    )


def create_pipelines() -> dict[str, Pipeline]:
    """Stage pipelines of the GazeNet family, by registered name."""
    stages = {
        "gazenet_sample": sample_pipeline(),
        "gazenet_data": data_pipeline(),
    }
    return stages


def create_pipeline(**kwargs) -> Pipeline:
    """All GazeNet stages except the sample renderer."""
    stages = create_pipelines()
    return sum((p for name, p in stages.items() if name != "gazenet_sample"), Pipeline([]))
