"""gaze_pipelines: open Kedro pipelines for gaze and gesture models."""

__version__ = "0.1.0"
