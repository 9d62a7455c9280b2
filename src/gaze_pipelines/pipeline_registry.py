"""Project pipelines: one package per model family under ``pipelines/``.

Each family package exposes ``create_pipeline()`` (all stages but the sample renderer) and
``create_pipelines()`` returning ``{"<model>_<stage>": Pipeline}``; both are discovered here.
"""

from __future__ import annotations

import importlib

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Register ``<model>``, ``<model>_<stage>`` and ``__default__`` (the GazeNet sample, end to end)."""
    families = find_pipelines(raise_errors=True)
    pipelines: dict[str, Pipeline] = {}
    for family, pipe in families.items():
        if family == "__default__":
            continue
        pipelines[family] = pipe
        module = importlib.import_module(f"gaze_pipelines.pipelines.{family}.pipeline")
        stages = getattr(module, "create_pipelines", None)
        if stages is not None:
            pipelines.update(stages())
    default_parts = [
        pipelines[name]
        for name in ("gazenet_sample", "gazenet_data", "gazenet_train", "gazenet_evaluate")
        if name in pipelines
    ]
    pipelines["__default__"] = sum(default_parts, Pipeline([]))
    return pipelines
