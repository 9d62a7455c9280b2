"""Shared NvGaze fixtures: a tiny rendered footage folder (two subjects) on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaze_pipelines.datasets.nvgaze_footage import NvGazeFootageDataset
from gaze_pipelines.pipelines.nvgaze.nodes_data import render_sample

TINY_SAMPLE = {
    "subjects": 2,
    "frames_per_subject": 12,
    "image_size": [64, 64],
    "focal_px": 52.0,
    "supersample": 1,
    "blink_probability": 0.2,
}


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory) -> Path:
    """Two 12-frame 64x64 footage folders without ellipse labels (they must be fitted)."""
    root = tmp_path_factory.mktemp("nvgaze_raw")
    NvGazeFootageDataset(path=str(root)).save(render_sample(TINY_SAMPLE))
    return root


@pytest.fixture(scope="session")
def tiny_sample_params() -> dict:
    """The ``nvgaze.sample`` parameters of ``tiny_raw``."""
    return dict(TINY_SAMPLE)
