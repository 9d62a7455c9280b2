"""Custom Kedro datasets (kedro-datasets style) for formats outside kedro-datasets."""

from gaze_pipelines.datasets.tfrecord import TFRecordDataset

__all__ = ["TFRecordDataset"]
