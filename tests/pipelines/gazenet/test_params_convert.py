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


def test_png_options_validated_with_allowed_values():
    params = {
        "gazenet": {
            "dataset_convert": {"data_root_path": "x", "png_filter": "best", "png_strategy": "z"}
        }
    }
    with pytest.raises(ParameterError) as err:
        validate_parameters(params, {"gazenet.dataset_convert"})
    text = str(err.value)
    assert "gazenet.dataset_convert.png_filter" in text and "'paeth'" in text
    assert "gazenet.dataset_convert.png_strategy" in text and "'huffman_only'" in text
    with pytest.raises(ValueError, match="png_compression"):
        DatasetConvertParams.model_validate({"data_root_path": "x", "png_compression": 10})


@pytest.mark.parametrize("png_filter", ["none", "sub", "up", "avg", "paeth", "fast", "all"])
@pytest.mark.parametrize("strategy", ["default", "huffman_only", "rle"])
def test_png_options_encode_losslessly(png_filter, strategy):
    import cv2
    import numpy as np

    from gaze_pipelines.pipelines.gazenet.nodes_data import _encode, png_params

    p = DatasetConvertParams.model_validate(
        {"data_root_path": "x", "png_filter": png_filter, "png_strategy": strategy}
    )
    rng = np.random.default_rng(0)
    img = (rng.normal(120, 20, (48, 64)).clip(0, 255)).astype(np.uint8)
    data = _encode(img, png_params(p))
    assert isinstance(data, bytes) and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), img)


def test_png_defaults_are_the_fast_ones():
    import cv2

    from gaze_pipelines.pipelines.gazenet.nodes_data import png_params

    p = DatasetConvertParams.model_validate({"data_root_path": "x"})
    assert (p.png_compression, p.png_strategy, p.png_filter) == (1, "huffman_only", "sub")
    opts = dict(zip(png_params(p)[::2], png_params(p)[1::2], strict=True))
    assert opts[cv2.IMWRITE_PNG_STRATEGY] == cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY
    assert opts[cv2.IMWRITE_PNG_FILTER] == cv2.IMWRITE_PNG_FILTER_SUB
