"""Webcam eye-tracker family."""

from gaze_pipelines.pipelines.webcam.pipeline import create_pipeline

__all__ = ["create_pipeline"]
