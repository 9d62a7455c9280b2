"""Project pipelines: one package per model family under ``pipelines/``.

Each family package exposes Kedro's ``create_pipeline()`` (the family pipeline ``<model>``) and
its ``pipeline.py`` declares ``STAGES`` (``{"<model>_<stage>": builder}``) and ``RUN_BY_NAME``
(stages the family pipeline leaves out, e.g. the sample renderer).

A full registration (``kedro run`` without ``--pipeline``, ``kedro registry list``, ``kedro viz``)
finds the families with Kedro's ``find_pipelines`` and adds every family's stages. When the CLI
names pipelines (``kedro run --pipeline gazenet_data``), registration is selective:
``find_pipelines`` looks for a folder per requested name, and stage names are not folders, so the
families those names belong to are imported here and only the requested stages are built, with
their node modules imported lazily (``pipelines.lazy``). A data conversion therefore never loads
TensorFlow.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from gaze_pipelines.pipelines.lazy import build_stages, family_pipeline

logger = logging.getLogger(__name__)

DEFAULT = ("gazenet_sample", "gazenet_data", "gazenet_train", "gazenet_evaluate")


def requested_pipelines() -> set[str] | None:
    """The pipeline names the Kedro CLI / session asked for, or ``None`` for all of them."""
    from kedro.framework.project import pipelines  # noqa: PLC0415

    # the filter Kedro's find_pipelines reads; KedroSession.run sets it before registering
    requested = getattr(pipelines, "_requested_pipelines", None)
    return None if requested is None else set(requested)


def discover_families(names: Collection[str] | None = None) -> dict[str, object]:
    """Import ``pipelines/<family>/pipeline.py`` of every family package (those ``names`` need)."""
    import gaze_pipelines.pipelines as pkg  # noqa: PLC0415

    wanted = None if names is None else {pkg.family_of(n) for n in names}
    modules = {}
    for family in pkg.model_families():
        if wanted is not None and family not in wanted:
            continue
        if importlib.util.find_spec(f"{pkg.__name__}.{family}.pipeline") is None:
            logger.warning("pipelines/%s has no pipeline.py: not registered", family)
            continue
        modules[family] = importlib.import_module(f"{pkg.__name__}.{family}.pipeline")
    return modules


def register_pipelines(names: Collection[str] | None = None) -> dict[str, Pipeline]:
    """Register ``<model>``, ``<model>_<stage>`` and ``__default__`` (the GazeNet sample, end to end).

    ``names`` (default: what the CLI requested, else all) limits the stages that are built.
    """
    wanted = set(names) if names is not None else requested_pipelines()
    if wanted is not None and "__default__" in wanted:
        wanted |= set(DEFAULT)
    pipelines: dict[str, Pipeline] = {}
    if wanted is None:
        families = find_pipelines(raise_errors=True)  # each family's create_pipeline()
        families.pop("__default__", None)
        for family, pipe in sorted(families.items()):
            module = importlib.import_module(f"gaze_pipelines.pipelines.{family}.pipeline")
            pipelines[family] = pipe
            pipelines.update(build_stages(module.STAGES))
    else:
        for family, module in discover_families(wanted).items():
            stages = build_stages(module.STAGES, None if family in wanted else wanted)
            if family in wanted:
                pipelines[family] = family_pipeline(stages, module.RUN_BY_NAME)
            pipelines.update(stages)
    if wanted is None or "__default__" in wanted:
        default_parts = [pipelines[name] for name in DEFAULT if name in pipelines]
        pipelines["__default__"] = sum(default_parts, Pipeline([]))
    return pipelines
