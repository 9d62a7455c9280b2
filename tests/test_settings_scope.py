"""Named runs read only their families' config files, and see exactly what a full load gives them."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.project import configure_project

import gaze_pipelines.pipeline_registry as registry
from gaze_pipelines.settings import (
    CONFIG_LOADER_ARGS,
    ProjectConfigLoader,
    config_file_family,
    families_in_scope,
)

CONF = Path(__file__).resolve().parents[1] / "conf"
configure_project("gaze_pipelines")
ALL = registry.register_pipelines()


def _loader(monkeypatch, requested: set[str] | None) -> ProjectConfigLoader:
    monkeypatch.setattr(registry, "requested_pipelines", lambda: requested)
    return ProjectConfigLoader(conf_source=str(CONF), **CONFIG_LOADER_ARGS)


def _lookup(tree, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def test_file_families_and_scope(monkeypatch):
    assert config_file_family("conf/base/catalog_nvgaze_tune.yml") == "nvgaze"
    assert config_file_family("conf/local/parameters_gazenet.yml") == "gazenet"
    assert config_file_family("conf/base/parameters_gesturenet.yml") == "gesturenet"
    for other in (
        "parameters.yml",
        "catalog.yml",
        "parameters_overrides.yml",
        "parameters_mine.yml",
    ):
        assert config_file_family(other) is None  # always loaded
    for requested, scope in [
        (None, None),
        ({"gazenet_data"}, {"gazenet"}),
        ({"__default__"}, {"gazenet"}),
        ({"webcam_tune", "nvgaze"}, {"webcam", "nvgaze"}),
        ({"gazenet_data", "no_such_pipeline"}, None),  # Kedro reports the bad name in full
    ]:
        monkeypatch.setattr(registry, "requested_pipelines", lambda r=requested: r)
        assert families_in_scope() == scope


@pytest.mark.parametrize("name", sorted(n for n in ALL if n != "__default__"), ids=str)
def test_a_named_run_sees_what_the_full_config_gives_its_pipeline(monkeypatch, name):
    full = _loader(monkeypatch, None)
    full_catalog, full_params = full["catalog"], full["parameters"]
    scoped = _loader(monkeypatch, {name})
    catalog, params = scoped["catalog"], scoped["parameters"]
    family = name.split("_")[0]
    assert {k.split("_")[0] for k in params} == {family}  # nothing of another family is read
    assert len(catalog) < len(full_catalog)
    for ds in ALL[name].datasets():
        if ds.startswith("params:"):
            assert _lookup(params, ds[len("params:") :]) == _lookup(
                full_params, ds[len("params:") :]
            )
        elif ds in full_catalog:  # a catalog entry (not a memory dataset) in the full config
            assert catalog.get(ds) == full_catalog[ds], ds


def test_user_overrides_of_the_family_still_merge(monkeypatch, tmp_path):
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(CONF / "base", conf / "base")
    (conf / "local").mkdir()
    (conf / "local" / "parameters_gazenet.yml").write_text(
        "gazenet:\n  dataset_convert:\n    sets: s9\n"
    )
    (conf / "local" / "parameters_overrides.yml").write_text(
        "gazenet:\n  sample:\n    frames_per_user: 7\n"
    )
    (conf / "local" / "parameters_nvgaze.yml").write_text("nvgaze: {broken: [\n")  # never read
    monkeypatch.setattr(registry, "requested_pipelines", lambda: {"gazenet_data"})
    loader = ProjectConfigLoader(conf_source=str(conf), **CONFIG_LOADER_ARGS)
    params = loader["parameters"]
    assert params["gazenet"]["dataset_convert"]["sets"] == "s9"
    assert params["gazenet"]["dataset_convert"]["folder_suffix"]  # deep merge keeps the rest
    assert params["gazenet"]["sample"]["frames_per_user"] == 7
