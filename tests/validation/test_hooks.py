"""ExpectationValidationHook: suites bound to catalog entries validate tables before they are saved."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

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


def test_bound_table_validated_before_save(tmp_path):
    hook = _hook(tmp_path)
    hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [1, 2]}), None)
    with pytest.raises(ExpectationFailure, match="toy_suite"):
        hook.before_dataset_saved("toy_table", pd.DataFrame({"x": [-1, 2]}), None)
    # tables without a suite, and non-tables, are not validated
    hook.before_dataset_saved("other_table", pd.DataFrame({"x": [-1]}), None)
    hook.before_dataset_saved("toy_table", {"x": [-1]}, None)
