"""Lineage: ``kedro viz build`` produces the static site and its API lists our pipelines."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_kedro_viz_build_lists_pipelines(kedro_project):
    kedro_project.with_src()
    kedro_project.run("viz", "build")
    main = json.loads(kedro_project.path("build", "api", "main").read_text())
    ids = {p["id"] for p in main["pipelines"]}
    assert {"__default__", "gazenet_data"} <= ids
    assert (kedro_project.path("build", "index.html")).is_file()
    names = {n["name"] for n in main["nodes"]}
    assert "gazenet_frames" in names and "gazenet_rejects" in names


def test_registry_lists_gazenet_pipelines():
    from kedro.framework.project import configure_project

    from gaze_pipelines.pipeline_registry import register_pipelines

    configure_project("gaze_pipelines")
    pipes = register_pipelines()
    assert {"gazenet_data", "__default__", "gazenet"} <= set(pipes)
    node_names = [n.name for n in pipes["gazenet_data"].nodes]
    assert node_names.index("gazenet_ingest_labels") < node_names.index("gazenet_normalize")
