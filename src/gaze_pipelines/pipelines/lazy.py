"""Lazy node modules, so ``kedro run --pipeline <model>_<stage>`` imports only what that stage uses.

Every family's ``pipeline.py`` names its node modules with :func:`lazy_modules`, lists its stage
builders in ``STAGES`` (``{"<model>_<stage>": builder}``, built by :func:`build_stages`) and the
stages its family pipeline leaves out in ``RUN_BY_NAME`` (:func:`family_pipeline`). The registry
builds only the stages Kedro asked for
(``kedro run --pipeline gazenet_data`` builds ``gazenet_data``), so a data conversion never
imports TensorFlow, Keras or onnxruntime, which the training and export node modules load at
import time (about 5 s of start-up on 2 cores). Node functions are the modules' real functions:
the proxy only defers the ``import`` to the first attribute access, inside a builder.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from types import ModuleType
from typing import Any

from kedro.pipeline import Pipeline


class LazyModule:
    """A module imported on first attribute access (``nodes.train`` imports ``nodes``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module(), attr)

    def __repr__(self) -> str:
        return f"LazyModule({self._name!r})"


def lazy_modules(package: str, *names: str) -> tuple[LazyModule, ...]:
    """``LazyModule``s of ``package.<name>`` for each name (a family's node modules)."""
    return tuple(LazyModule(f"{package}.{name}") for name in names)


def build_stages(
    builders: Mapping[str, Callable[[], Pipeline]], names: Collection[str] | None = None
) -> dict[str, Pipeline]:
    """Build the stage pipelines in ``names`` (all when ``None``), in the builders' order."""
    return {name: build() for name, build in builders.items() if names is None or name in names}


def family_pipeline(stages: Mapping[str, Pipeline], run_by_name: Collection[str]) -> Pipeline:
    """The family pipeline ``<model>``: every stage except those run by name."""
    return sum((p for name, p in stages.items() if name not in run_by_name), Pipeline([]))
