"""gazenet.dataset_convert parameters: base and the shipped example validate; bad values fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gaze_pipelines.hooks import ParameterError, validate_parameters
from gaze_pipelines.pipelines.gazenet.params_convert import DatasetConvertParams

REPO = Path(__file__).resolve().parents[3]


def test_base_and_example_validate():
    base = yaml.safe_load((REPO / "conf/base/parameters_gazenet.yml").read_text())
    DatasetConvertParams.model_validate(base["gazenet"]["dataset_convert"])
    example = yaml.safe_load((REPO / "conf/local/parameters_gazenet.example.yml").read_text())
    merged = {**base["gazenet"]["dataset_convert"], **example["gazenet"]["dataset_convert"]}
    p = DatasetConvertParams.model_validate(merged)
    assert p.sets == ["s400_KPI", "s466-gaze-1"] and p.is_kpi_set("s400_KPI")


def test_sets_accept_tao_style_string():
    p = DatasetConvertParams.model_validate({"data_root_path": "x", "sets": "s1 s2,s3"})
    assert p.sets == ["s1", "s2", "s3"]


def test_errors_name_key_path_and_allowed_values():
    params = {
        "gazenet": {
            "dataset_convert": {
                "data_root_path": "x",
                "unknown_flag": 1,
                "filters": {"filter_phases": ["train"]},
            }
        }
    }
    with pytest.raises(ParameterError) as err:
        validate_parameters(params, {"gazenet.dataset_convert"})
    text = str(err.value)
    assert "gazenet.dataset_convert.unknown_flag" in text
    assert "gazenet.dataset_convert.filters.filter_phases.0" in text
    assert "'training'" in text and "'kpi_testing'" in text
