"""Project pipelines: one package per model family under ``pipelines/``.

Each family package has a ``pipeline.py`` exposing ``STAGES`` (``{"<model>_<stage>": builder}``),
``RUN_BY_NAME`` (stages the family pipeline leaves out, e.g. the sample renderer) and Kedro's
``create_pipeline()`` (the family pipeline ``<model>``).
A folder without ``pipeline.py`` is skipped with a warning; an import error in a ``pipeline.py``
is raised.

Registration is selective, like Kedro's own ``find_pipelines``: when the CLI asks for named
pipelines (``kedro run --pipeline gazenet_data``), only those families are imported and only
those stages built, and the stage builders import their node modules lazily
(``pipelines.lazy``). A data conversion therefore never loads TensorFlow. ``kedro run``
without ``--pipeline``, ``kedro registry list`` and ``kedro viz`` register everything.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Collection

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


def _family_wanted(family: str, names: Collection[str] | None) -> bool:
    return names is None or any(n == family or n.startswith(f"{family}_") for n in names)


def discover_families(names: Collection[str] | None = None) -> dict[str, object]:
    """Import ``pipelines/<family>/pipeline.py`` of every family package (those ``names`` need)."""
    import gaze_pipelines.pipelines as pkg  # noqa: PLC0415

    modules = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_") or not _family_wanted(info.name, names):
            continue
        if importlib.util.find_spec(f"{pkg.__name__}.{info.name}.pipeline") is None:
            logger.warning("pipelines/%s has no pipeline.py: not registered", info.name)
            continue
        modules[info.name] = importlib.import_module(f"{pkg.__name__}.{info.name}.pipeline")
    return modules


def register_pipelines(names: Collection[str] | None = None) -> dict[str, Pipeline]:
    """Register ``<model>``, ``<model>_<stage>`` and ``__default__`` (the GazeNet sample, end to end).

    ``names`` (default: what the CLI requested, else all) limits the stages that are built.
    """
    wanted = set(names) if names is not None else requested_pipelines()
    if wanted is not None and "__default__" in wanted:
        wanted |= set(DEFAULT)
    pipelines: dict[str, Pipeline] = {}
    for family, module in discover_families(wanted).items():
        if wanted is None or family in wanted:
            stages = build_stages(module.STAGES)
            pipelines[family] = family_pipeline(stages, module.RUN_BY_NAME)
        else:
            stages = build_stages(module.STAGES, wanted)
        pipelines.update(stages)
    if wanted is None or "__default__" in wanted:
        default_parts = [pipelines[name] for name in DEFAULT if name in pipelines]
        pipelines["__default__"] = sum(default_parts, Pipeline([]))
    return pipelines
