"""Selective registration: a stage builds the same pipeline alone as in the full registry, and
``gazenet_data`` (the converter) registers without importing TensorFlow, Keras or onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from kedro.framework.project import configure_project

from gaze_pipelines.pipeline_registry import DEFAULT, register_pipelines
from gaze_pipelines.pipelines.lazy import LazyModule, build_stages

configure_project("gaze_pipelines")  # find_pipelines needs the package configured, as the CLI does
ALL = register_pipelines()


def test_full_registry_finds_every_family_with_find_pipelines():
    from kedro.framework.project import find_pipelines

    found = find_pipelines(raise_errors=True)
    families = {"gazenet", "gesturenet", "nvgaze", "webcam"}
    assert families <= set(found) and families <= set(ALL)
    for family in families:  # the registry's family pipeline is the one find_pipelines found
        assert {n.name for n in ALL[family].nodes} == {n.name for n in found[family].nodes}


@pytest.mark.parametrize("name", sorted(n for n in ALL if n != "__default__" and "_" in n), ids=str)
def test_a_stage_registered_alone_equals_the_full_registry(name):
    alone = register_pipelines({name})
    assert name in alone
    assert [n.name for n in alone[name].nodes] == [n.name for n in ALL[name].nodes]
    # nothing of another family is built
    family = name.split("_")[0]
    assert all(k.split("_")[0] == family for k in alone)


def test_family_and_default_requests():
    fam = register_pipelines({"nvgaze"})
    assert {n.name for n in fam["nvgaze"].nodes} == {n.name for n in ALL["nvgaze"].nodes}
    default = register_pipelines({"__default__"})
    assert {n.name for n in default["__default__"].nodes} == {
        n.name for n in ALL["__default__"].nodes
    }
    assert set(DEFAULT) <= set(default)


def test_unknown_name_registers_nothing_so_kedro_can_suggest():
    assert register_pipelines({"gazenet_dat"}) == {}


def test_converter_registration_imports_no_deep_learning_stack():
    code = (
        "import json, sys\n"
        "from gaze_pipelines.pipeline_registry import register_pipelines\n"
        "p = register_pipelines({'gazenet_data'})\n"
        "heavy = ['tensorflow', 'keras', 'onnxruntime', 'onnx', 'tf2onnx', 'great_expectations']\n"
        "print(json.dumps({'names': sorted(p), 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"names": ["gazenet_data"], "loaded": []}


def test_lazy_module_imports_on_first_attribute():
    lazy = LazyModule("gaze_pipelines.pipelines.lazy")
    assert lazy.build_stages is build_stages
    with pytest.raises(AttributeError):
        _ = lazy.no_such_function
    calls = []
    stages = build_stages({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, {"b"})
    assert list(stages) == ["b"] and calls == ["b"]
