"""Custom Kedro datasets (kedro-datasets style) for formats outside kedro-datasets."""

from gaze_pipelines.datasets.files import AtomicTextDataset, BytesDataset
from gaze_pipelines.datasets.gazenet_raw import GazeNetRawDataset, RawSet
from gaze_pipelines.datasets.gesturenet import (
    GestureTree,
    GestureTreeDataset,
    OptionalKerasModelDataset,
    TaoSpecDataset,
)
from gaze_pipelines.datasets.h5 import NvGazeH5, NvGazeH5Dataset, ReflectionSetDataset
from gaze_pipelines.datasets.nvgaze_footage import (
    ImageFolderDataset,
    NvGazeFootageDataset,
    RawFootage,
)
from gaze_pipelines.datasets.onnx import OnnxModelDataset
from gaze_pipelines.datasets.predictor import PredictorDataset
from gaze_pipelines.datasets.tensorrt import TensorRTEngineDataset
from gaze_pipelines.datasets.tfrecord import TFRecordDataset

__all__ = [
    "AtomicTextDataset",
    "BytesDataset",
    "GazeNetRawDataset",
    "OnnxModelDataset",
    "GestureTree",
    "GestureTreeDataset",
    "OptionalKerasModelDataset",
    "TaoSpecDataset",
    "ImageFolderDataset",
    "NvGazeFootageDataset",
    "NvGazeH5",
    "NvGazeH5Dataset",
    "RawFootage",
    "ReflectionSetDataset",
    "PredictorDataset",
    "RawSet",
    "TensorRTEngineDataset",
    "TFRecordDataset",
]
