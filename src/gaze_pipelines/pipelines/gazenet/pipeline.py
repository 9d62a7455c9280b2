"""GazeNet pipelines: ``gazenet_<stage>`` for each stage, ``gazenet`` for data -> export."""

from __future__ import annotations

from kedro.pipeline import Pipeline


def create_pipelines() -> dict[str, Pipeline]:
    """Stage pipelines of the GazeNet family, by registered name."""
    return {}


def create_pipeline(**kwargs) -> Pipeline:
    """All GazeNet stages except the sample renderer."""
    stages = create_pipelines()
    return sum(
        (p for name, p in stages.items() if name != "gazenet_sample"), Pipeline([])
    )
