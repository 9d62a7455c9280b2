"""ExpectationValidationHook: suites bound to catalog entries, GE imported ahead of the first save."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
from kedro.pipeline import Pipeline, node

from gaze_pipelines.hooks import ExpectationValidationHook
from gaze_pipelines.validation.suites import ExpectationFailure

SUITE = {
    "name": "toy_suite",
    "meta": {"kedro_datasets": ["toy_table"]},
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0}}
    ],
}


def _hook(tmp_path) -> ExpectationValidationHook:
    suites = tmp_path / "conf" / "base" / "expectations"
    suites.mkdir(parents=True)
    (suites / "toy.json").write_text(json.dumps(SUITE))
    hook = ExpectationValidationHook()
    context = SimpleNamespace(config_loader=SimpleNamespace(conf_source=str(tmp_path / "conf")))
    hook.after_context_created(context)
    return hook


def _pipeline(output: str) -> Pipeline:
    return Pipeline([node(lambda: pd.DataFrame({"x": [1]}), None, output, name="make")])


def test_great_expectations_imported_in_background_for_bound_outputs(tmp_path):
    hook = _hook(tmp_path)
    hook.before_pipeline_run({}, _pipeline("toy_table"))
    assert hook._warm_up is not None and hook._warm_up.name == "gx-import"
    hook.after_pipeline_run()
    assert hook._warm_up is None and "great_expectations" in sys.modules
    # the bound table is validated before it is saved; a failing table stops the run
    hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [1, 2]}), None)
    with pytest.raises(ExpectationFailure, match="toy_suite"):
        hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [-1, 2]}), None)


def test_no_import_when_the_run_saves_no_bound_table(tmp_path):
    hook = _hook(tmp_path)
    hook.before_pipeline_run({}, _pipeline("other_table"))
    assert hook._warm_up is None
    hook.on_pipeline_error()  # nothing to wait for
