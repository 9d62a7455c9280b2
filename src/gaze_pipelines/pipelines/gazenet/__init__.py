"""GazeNet family (TAO ``gazenet``): sample, data, train, evaluate, inference, export."""

from gaze_pipelines.pipelines.gazenet.pipeline import create_pipeline

__all__ = ["create_pipeline"]
