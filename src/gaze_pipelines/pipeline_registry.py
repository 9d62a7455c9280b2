"""Project pipelines: one package per model family under ``pipelines/``.

Each family package has a ``pipeline.py`` exposing ``create_pipeline()`` (all stages but the
sample renderer) and ``create_pipelines()`` returning ``{"<model>_<stage>": Pipeline}``. A folder
without ``pipeline.py`` is skipped with a warning; an import error in a ``pipeline.py`` is raised.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from kedro.pipeline import Pipeline

logger = logging.getLogger(__name__)

DEFAULT = ("gazenet_sample", "gazenet_data", "gazenet_train", "gazenet_evaluate")


def discover_families() -> dict[str, object]:
    """Import ``pipelines/<family>/pipeline.py`` of every family package."""
    import gaze_pipelines.pipelines as pkg  # noqa: PLC0415

    modules = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        if importlib.util.find_spec(f"{pkg.__name__}.{info.name}.pipeline") is None:
            logger.warning("pipelines/%s has no pipeline.py: not registered", info.name)
            continue
        modules[info.name] = importlib.import_module(f"{pkg.__name__}.{info.name}.pipeline")
    return modules


def register_pipelines() -> dict[str, Pipeline]:
    """Register ``<model>``, ``<model>_<stage>`` and ``__default__`` (the GazeNet sample, end to end)."""
    pipelines: dict[str, Pipeline] = {}
    for family, module in discover_families().items():
        pipelines[family] = module.create_pipeline()
        stages = getattr(module, "create_pipelines", None)
        if stages is not None:
            pipelines.update(stages())
    default_parts = [pipelines[name] for name in DEFAULT if name in pipelines]
    pipelines["__default__"] = sum(default_parts, Pipeline([]))
    return pipelines
