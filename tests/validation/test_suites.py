"""Suites see only the columns they read: same verdicts, less data hashed and shipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gaze_pipelines.validation.suites import (
    ExpectationFailure,
    SuiteRegistry,
    project_for_suites,
    suite_columns,
)

ROOT = Path(__file__).resolve().parents[2]


def _suite(*expectations: dict) -> dict:
    return {"name": "s", "meta": {"kedro_datasets": ["t"]}, "expectations": list(expectations)}


def _exp(kind: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs}


def test_columns_from_kwargs_and_row_conditions():
    suite = _suite(
        _exp("expect_column_values_to_be_between", column="a", min_value=0),
        _exp("expect_column_pair_values_a_to_be_greater_than_b", column_A="b", column_B="c"),
        _exp("expect_compound_columns_to_be_unique", column_list=["d", "e"]),
        _exp(
            "expect_column_values_to_be_between",
            column="f",
            max_value=1,
            row_condition="valid==1 and `odd name` > 0",
            condition_parser="pandas",
        ),
        _exp("expect_table_row_count_to_be_between", min_value=1),
    )
    assert suite_columns(suite) == {"a", "b", "c", "d", "e", "f", "valid", "odd name"}


@pytest.mark.parametrize(
    "exp",
    [
        _exp("expect_table_columns_to_match_set", column_set=["a"]),
        _exp("expect_table_columns_to_match_ordered_list", column_list=["a"]),
        _exp("expect_table_column_count_to_equal", value=1),
        _exp("expect_some_future_expectation", threshold=1),  # names no column: whole table
    ],
)
def test_whole_table_expectations_see_every_column(exp):
    suite = _suite(_exp("expect_column_to_exist", column="a"), exp)
    assert suite_columns(suite) is None
    df = pd.DataFrame({"a": [1], "b": [2]})
    assert project_for_suites(df, [suite]) is df


def test_projection_keeps_rows_order_and_verdicts(tmp_path):
    suite = _suite(
        _exp("expect_column_to_exist", column="missing"),
        _exp("expect_column_values_to_be_between", column="x", min_value=0),
    )
    df = pd.DataFrame(
        {"arr": [np.zeros(3)] * 3, "x": [1.0, -2.0, 3.0], "y": [1, 2, 3]}, index=[5, 6, 7]
    )
    cut = project_for_suites(df, [suite])
    assert list(cut.columns) == ["x"] and list(cut.index) == [5, 6, 7]
    (tmp_path / "s.json").write_text(json.dumps(suite))
    with pytest.raises(ExpectationFailure) as err:
        SuiteRegistry(tmp_path).validate("t", df)
    failed = {f.expectation_type: f for f in err.value.summary.failures}
    # a column the table lacks is still missing, a bad value is still found, rows still counted
    assert set(failed) == {"expect_column_to_exist", "expect_column_values_to_be_between"}
    assert failed["expect_column_values_to_be_between"].unexpected_count == 1
    assert err.value.summary.n_rows == 3


def test_shipped_gazenet_frame_suite_reads_no_array_column():
    suite = json.loads((ROOT / "conf/base/expectations/gazenet_frames.json").read_text())
    cols = suite_columns(suite)
    assert cols is not None and {"valid_theta_phi", "mid_cam_z", "image_path"} <= cols
    assert not cols & {"landmarks", "head_rotation", "norm_landmarks"}
