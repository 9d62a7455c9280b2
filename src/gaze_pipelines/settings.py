"""Project settings: config loader (deep-merged parameters), hooks, session store."""

from pathlib import Path

from kedro.config import OmegaConfigLoader

from gaze_pipelines.hooks import ExpectationValidationHook, RunReportHook


class ProjectConfigLoader(OmegaConfigLoader):
    """OmegaConfigLoader that ignores ``*.example.yml`` templates shipped in ``conf/local``."""

    def _is_valid_config_path(self, path: Path) -> bool:
        """Accept yaml/json config files except the ``.example.`` templates."""
        if ".example." in Path(path).name:
            return False
        return super()._is_valid_config_path(path)


HOOKS = (ExpectationValidationHook(), RunReportHook())

CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # A user who overrides one nested key in conf/local keeps all the others.
    "merge_strategy": {"parameters": "soft"},
}
