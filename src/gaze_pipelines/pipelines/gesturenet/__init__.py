"""GestureNet family (TAO ``gesturenet``)."""

from gaze_pipelines.pipelines.gesturenet.pipeline import create_pipeline

__all__ = ["create_pipeline"]
