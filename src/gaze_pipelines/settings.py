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
from gaze_pipelines.pipelines import family_of

_MISSING = object()
_FAMILY_FILE_KINDS = ("parameters", "catalog")


def config_file_family(path: str | Path) -> str | None:
    """The family a ``parameters_<family>[_*]`` / ``catalog_<family>[_*]`` file belongs to."""
    kind, _, rest = Path(path).stem.partition("_")
    return family_of(rest) if kind in _FAMILY_FILE_KINDS and rest else None


def families_in_scope() -> set[str] | None:
    """Families the pipelines Kedro was asked to run belong to; None = all (no names, or a name
    no family owns: Kedro then reports it with the full registry)."""
    from gaze_pipelines.pipeline_registry import DEFAULT, requested_pipelines  # noqa: PLC0415

    names = requested_pipelines()
    if not names:
        return None
    if "__default__" in names:
        names = (names - {"__default__"}) | set(DEFAULT)
    families = {family_of(n) for n in names}
    return None if None in families else families


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
    - When Kedro runs named pipelines (``kedro run --pipeline gazenet_data``), the
      ``parameters_<family>*`` and ``catalog_<family>*`` files of the other model families are
      not read (~0.3 s of start-up: YAML parsing, resolution and one ``params:`` entry per
      nested key). Files named otherwise (``parameters.yml``, a user's ``parameters_overrides.yml``)
      always load; a full run, ``kedro registry``, ``kedro viz`` and notebooks see everything.
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
        """Accept yaml/json config files except templates and other families' files (see above)."""
        if ".example." in Path(path).name:
            return False
        family = config_file_family(path)
        if family is not None:
            scope = families_in_scope()
            if scope is not None and family not in scope:
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
