"""Project settings: config loader (deep-merged parameters, ``${params:...}``), hooks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import OmegaConf

from gaze_pipelines.hooks import (
    BackgroundWritesHook,
    ExpectationValidationHook,
    ParameterValidationHook,
    RunReportHook,
)

_MISSING = object()


def _lookup(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


class ProjectConfigLoader(OmegaConfigLoader):
    """OmegaConfigLoader with two additions.

    - ``*.example.yml`` templates shipped in ``conf/local`` are not loaded.
    - ``${params:dotted.key}`` (or ``${params:key, default}``) in the catalog resolves to a merged
      parameter (base, then the run env, then ``--params``), so a path a user sets once as a
      parameter drives both the node that uses it and the dataset that reads or writes it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._params_cache: dict[str, Any] | None = None
        super().__init__(*args, **kwargs)
        # OmegaConf 2.4 deprecates register_new_resolver; older releases only have that one
        register = getattr(OmegaConf, "register_resolver", None) or OmegaConf.register_new_resolver
        register("params", self._param_value, replace=True)

    def __getitem__(self, key: str) -> dict[str, Any]:
        """As OmegaConfigLoader, but the merged parameters are read once per loader.

        The catalog's ``${params:...}`` and Kedro's context both ask for them; each read parses
        and merges every ``parameters*`` file again (~0.25 s of a run's start-up).
        """
        if key != "parameters" or key in self:
            return super().__getitem__(key)
        if self._params_cache is None:
            self._params_cache = super().__getitem__(key)
        return copy.deepcopy(self._params_cache)

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "parameters":
            self._params_cache = None
        super().__setitem__(key, value)

    def _is_valid_config_path(self, path: Path) -> bool:
        """Accept yaml/json config files except the ``.example.`` templates."""
        if ".example." in Path(path).name:
            return False
        return super()._is_valid_config_path(path)

    def _param_value(self, key: str, default: Any = _MISSING) -> Any:
        runtime = self.runtime_params or {}
        value = _lookup(runtime, key)
        if value is _MISSING:
            value = runtime.get(key, _MISSING)
        if value is _MISSING:
            if self._params_cache is None:
                _ = self["parameters"]  # fills the cache
            value = _lookup(self._params_cache, key)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(f"${{params:{key}}}: no parameter '{key}' in conf/ or --params")
            return default
        return value


HOOKS = (
    ParameterValidationHook(),
    ExpectationValidationHook(),
    RunReportHook(),
    BackgroundWritesHook(),
)

CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # A user who overrides one nested key in conf/local keeps all the others.
    "merge_strategy": {"parameters": "soft"},
}
