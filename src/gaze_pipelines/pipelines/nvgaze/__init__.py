"""NvGaze near-eye family: sample renderer, raw -> H5, merge, reflections, train, evaluate, export."""

from gaze_pipelines.pipelines.nvgaze.pipeline import create_pipeline

__all__ = ["create_pipeline"]
