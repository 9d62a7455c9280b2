"""Custom Kedro datasets (kedro-datasets style) for formats outside kedro-datasets."""

from gaze_pipelines.datasets.files import AtomicTextDataset, BytesDataset
from gaze_pipelines.datasets.gazenet_raw import GazeNetRawDataset, RawSet
from gaze_pipelines.datasets.gesturenet import GestureTree, GestureTreeDataset, TaoSpecDataset
from gaze_pipelines.datasets.tfrecord import TFRecordDataset

__all__ = ["AtomicTextDataset", "BytesDataset", "GazeNetRawDataset", "GestureTree", "GestureTreeDataset",
           "RawSet", "TaoSpecDataset", "TFRecordDataset"]
